//! What a guest needs from Debian, installed or downloaded once and cached:
//!
//! - `qemu-system-x86_64`: from bookworm-backports on bookworm (a plain install takes 7.2
//!   and removes an installed qemu-utils 10.x), from the release itself elsewhere. With
//!   `debootstrap` (systemd guest only) it is all that is installed on the host: the
//!   initramfs is written in Rust, so no cpio.
//! - the Debian cloud kernel (`linux-image-cloud-amd64`'s current dependency) and
//!   `busybox-static`: `apt-get download` + `dpkg-deb -x`, never installed. The cloud kernel
//!   has the 8250 console, MEMCG, PSI, DEVTMPFS and EXT4 built in; virtio is modules.
//! - the systemd image: `debootstrap --variant=minbase` of this release with systemd as
//!   PID 1, udev, dbus and systemd-oomd, made into a raw ext4 image with `mkfs.ext4 -d`.
//!
//! Everything lands in the cache directory (`<target>/qemu-cache` unless
//! `OOMLENS_QEMU_CACHE` says otherwise) under names that say what they hold, written to a
//! temporary name first and renamed, so an interrupted run never leaves half an entry.
//! A `flock` on `<cache>/.lock` keeps two runs from provisioning at the same time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why the test bed could not be set up.
#[derive(Debug)]
pub enum BedError {
    /// QEMU is missing and cannot be installed here: the suite is skipped, loudly.
    Unavailable(String),
    /// Anything else: the suite fails.
    Failed(String),
}

impl std::fmt::Display for BedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BedError::Unavailable(m) => write!(f, "QEMU unavailable: {m}"),
            BedError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BedError {}

/// Shorthand for the test bed's results.
pub type Result<T> = std::result::Result<T, BedError>;

fn failed(msg: impl Into<String>) -> BedError {
    BedError::Failed(msg.into())
}

/// The virtio modules the systemd guest's first stage loads, in load order.
pub const VIRTIO_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
];

/// Packages debootstrap adds to minbase for the systemd guest. Without udev, serial-getty
/// waits 90 s for its device; without dbus, `systemd-run` cannot reach PID 1.
pub const SYSTEMD_PACKAGES: &str = "systemd-sysv,udev,dbus,systemd-oomd";

/// Runs a command, returning its stdout; the error names the command and shows stderr.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first executable called `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `VERSION_CODENAME` of /etc/os-release (`bookworm`).
pub fn codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The Debian mirror apt already uses (deb822 `URIs:` or a classic `deb` line).
pub fn mirror() -> Option<String> {
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list.d/debian.sources") {
        if let Some(uri) = text
            .lines()
            .find_map(|l| l.strip_prefix("URIs:"))
            .and_then(|v| v.split_whitespace().next())
        {
            return Some(uri.to_string());
        }
    }
    let text = fs::read_to_string("/etc/apt/sources.list").ok()?;
    text.lines()
        .map(str::split_whitespace)
        .find_map(|mut w| (w.next() == Some("deb")).then(|| w.find(|x| x.contains("://")))?)
        .map(str::to_string)
}

/// An exclusive lock on the cache, held until dropped (the file is kept only to hold it).
pub struct CacheLock(#[allow(dead_code)] fs::File);

impl CacheLock {
    /// Waits for the lock on `<dir>/.lock`.
    pub fn acquire(dir: &Path) -> Result<CacheLock> {
        fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let f = fs::File::create(dir.join(".lock"))
            .map_err(|e| failed(format!("{}/.lock: {e}", dir.display())))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) } != 0 {
            return Err(failed(format!(
                "flock {}/.lock: {}",
                dir.display(),
                std::io::Error::last_os_error()
            )));
        }
        Ok(CacheLock(f))
    }
}

fn apt_get() -> Command {
    let mut c = Command::new("apt-get");
    c.env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// The QEMU binary, installing it from Debian when it is missing. `Unavailable` when it is
/// missing and cannot be installed (not root, no apt, the package cannot be had).
pub fn ensure_qemu() -> Result<PathBuf> {
    if let Some(q) = which("qemu-system-x86_64") {
        return Ok(q);
    }
    if which("apt-get").is_none() {
        return Err(BedError::Unavailable(
            "qemu-system-x86_64 is not installed and there is no apt-get to install it".into(),
        ));
    }
    if !is_root() {
        return Err(BedError::Unavailable(
            "qemu-system-x86_64 is not installed and installing it needs root".into(),
        ));
    }
    eprintln!("oomlens-qemu: installing qemu-system-x86 from Debian");
    let unavailable = |e: BedError| BedError::Unavailable(e.to_string());
    let mut target_release = None;
    if codename().as_deref() == Some("bookworm") {
        add_backports().map_err(unavailable)?;
        target_release = Some("bookworm-backports");
    }
    run(apt_get().args(["update", "-qq"])).map_err(unavailable)?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    if let Some(t) = target_release {
        install.extend(["-t", t]);
    }
    install.push("qemu-system-x86");
    // Never remove anything (bookworm's own 7.2 would remove an installed qemu-utils 10.x).
    let plan = run(apt_get().arg("-s").args(&install)).map_err(unavailable)?;
    if let Some(remv) = plan.lines().find(|l| l.starts_with("Remv ")) {
        return Err(BedError::Unavailable(format!(
            "installing qemu-system-x86 would remove a package ({remv}); install it by hand"
        )));
    }
    run(apt_get().args(&install)).map_err(unavailable)?;
    which("qemu-system-x86_64").ok_or_else(|| {
        BedError::Unavailable("qemu-system-x86 installed but qemu-system-x86_64 not found".into())
    })
}

/// Adds bookworm-backports on the mirror apt already uses, unless some source has it.
fn add_backports() -> Result<()> {
    let dir = Path::new("/etc/apt/sources.list.d");
    let has = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .chain([PathBuf::from("/etc/apt/sources.list")])
        .any(|p| {
            fs::read_to_string(p)
                .map(|t| t.contains("bookworm-backports"))
                .unwrap_or(false)
        });
    if has {
        return Ok(());
    }
    let mirror = mirror().ok_or_else(|| failed("no Debian mirror found in apt's sources"))?;
    let text = format!(
        "Types: deb\nURIs: {mirror}\nSuites: bookworm-backports\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    fs::write(dir.join("bookworm-backports.sources"), text)
        .map_err(|e| failed(format!("writing bookworm-backports.sources: {e}")))
}

/// Installs a host tool from `package` when `program` is missing.
pub fn ensure_tool(program: &str, package: &str) -> Result<PathBuf> {
    if let Some(p) = which(program) {
        return Ok(p);
    }
    if !is_root() {
        return Err(failed(format!(
            "{program} is missing (package {package}); installing it needs root"
        )));
    }
    eprintln!("oomlens-qemu: installing {package}");
    run(apt_get().args(["install", "-y", "-qq", "--no-install-recommends", package])).or_else(
        |_| {
            run(apt_get().args(["update", "-qq"]))?;
            run(apt_get().args(["install", "-y", "-qq", "--no-install-recommends", package]))
        },
    )?;
    which(program).ok_or_else(|| failed(format!("{package} installed but {program} not found")))
}

/// The cached kernel: `vmlinuz`, the virtio modules and the package it came from.
pub struct Kernel {
    /// The bzImage.
    pub vmlinuz: PathBuf,
    /// `VIRTIO_MODULES`, same order.
    pub modules: Vec<PathBuf>,
    /// `linux-image-6.1.0-56-cloud-amd64_6.1.192-2`.
    pub package: String,
}

/// The cache directory's entries.
pub struct Cache {
    /// Its root.
    pub dir: PathBuf,
}

impl Cache {
    /// The cache at `dir`.
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    /// Downloads `pkg` (or takes it from `work`) and extracts it into `work/<name>`.
    fn download(&self, work: &Path, pkg: &str, into: &str) -> Result<String> {
        run(Command::new("apt-get")
            .args(["download", "-qq", pkg])
            .current_dir(work))
        .or_else(|_| {
            if is_root() {
                run(apt_get().args(["update", "-qq"]))?;
            }
            run(Command::new("apt-get")
                .args(["download", "-qq", pkg])
                .current_dir(work))
        })?;
        let deb = fs::read_dir(work)
            .map_err(|e| failed(format!("{}: {e}", work.display())))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
            .ok_or_else(|| {
                failed(format!(
                    "apt-get download {pkg}: no .deb in {}",
                    work.display()
                ))
            })?;
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(work.join(&deb))
            .arg(work.join(into)))?;
        Ok(deb.trim_end_matches(".deb").replace("%3a", ":"))
    }

    /// The cloud kernel, downloaded once.
    pub fn kernel(&self) -> Result<Kernel> {
        let dir = self.dir.join("kernel");
        let done = |dir: &Path| -> Result<Kernel> {
            Ok(Kernel {
                vmlinuz: dir.join("vmlinuz"),
                modules: VIRTIO_MODULES
                    .iter()
                    .map(|m| dir.join("modules").join(Path::new(m).file_name().unwrap()))
                    .collect(),
                package: fs::read_to_string(dir.join("package"))
                    .map_err(|e| failed(format!("{}/package: {e}", dir.display())))?
                    .trim()
                    .to_string(),
            })
        };
        if dir.join("package").exists() {
            return done(&dir);
        }
        eprintln!("oomlens-qemu: downloading the Debian cloud kernel");
        let deps = run(Command::new("apt-cache").args(["depends", "linux-image-cloud-amd64"]))?;
        let kpkg = deps
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|p| p.starts_with("linux-image-"))
            .ok_or_else(|| {
                failed(format!(
                    "linux-image-cloud-amd64 depends on no kernel:\n{deps}"
                ))
            })?
            .to_string();
        let work = fresh_dir(&self.dir.join("kernel.tmp"))?;
        let package = self.download(&work, &kpkg, "x")?;
        let tmp = fresh_dir(&work.join("out"))?;
        let boot = work.join("x/boot");
        let vmlinuz = fs::read_dir(&boot)
            .map_err(|e| failed(format!("{}: {e}", boot.display())))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .ok_or_else(|| failed(format!("no vmlinuz-* in {kpkg}")))?;
        copy(&vmlinuz, &tmp.join("vmlinuz"))?;
        let modroot = fs::read_dir(work.join("x/lib/modules"))
            .map_err(|e| failed(format!("{kpkg}: lib/modules: {e}")))?
            .flatten()
            .map(|e| e.path().join("kernel"))
            .next()
            .ok_or_else(|| failed(format!("{kpkg}: no lib/modules/*/kernel")))?;
        fs::create_dir_all(tmp.join("modules")).map_err(|e| failed(e.to_string()))?;
        for m in VIRTIO_MODULES {
            let src = modroot.join(m);
            copy(&src, &tmp.join("modules").join(src.file_name().unwrap()))?;
        }
        fs::write(tmp.join("package"), format!("{package}\n"))
            .map_err(|e| failed(e.to_string()))?;
        rename(&tmp, &dir)?;
        let _ = fs::remove_dir_all(&work);
        done(&dir)
    }

    /// busybox-static's binary, downloaded once.
    pub fn busybox(&self) -> Result<PathBuf> {
        let path = self.dir.join("busybox");
        if path.exists() {
            return Ok(path);
        }
        eprintln!("oomlens-qemu: downloading busybox-static");
        let work = fresh_dir(&self.dir.join("busybox.tmp"))?;
        self.download(&work, "busybox-static", "x")?;
        let tmp = work.join("busybox");
        copy(&work.join("x/bin/busybox"), &tmp)?;
        rename(&tmp, &path)?;
        let _ = fs::remove_dir_all(&work);
        Ok(path)
    }

    /// The systemd image, built once per recipe (the file name carries the recipe's hash,
    /// so a changed recipe builds a new image).
    pub fn systemd_image(&self) -> Result<PathBuf> {
        let release = codename().unwrap_or_else(|| "bookworm".into());
        let recipe = format!(
            "{release}\n{SYSTEMD_PACKAGES}\n{GUEST_UNIT}\n{JOURNALD_CONF}\n{MASKED:?}\n{FSTAB}"
        );
        let path = self.dir.join(format!(
            "systemd-{release}-{:016x}.img",
            fnv1a(recipe.as_bytes())
        ));
        if path.exists() {
            return Ok(path);
        }
        if !is_root() {
            return Err(failed(
                "building the systemd image (debootstrap) needs root",
            ));
        }
        ensure_tool("debootstrap", "debootstrap")?;
        ensure_tool("mkfs.ext4", "e2fsprogs")?;
        let mirror = mirror().ok_or_else(|| failed("no Debian mirror found in apt's sources"))?;
        eprintln!("oomlens-qemu: debootstrap {release} for the systemd guest (about a minute)");
        let root = fresh_dir(&self.dir.join("systemd-root.tmp"))?;
        run(Command::new("debootstrap")
            .args([
                "--variant=minbase",
                &format!("--include={SYSTEMD_PACKAGES}"),
            ])
            .arg(&release)
            .arg(&root)
            .arg(&mirror))?;
        customize(&root)?;
        let tmp = self.dir.join("systemd.img.tmp");
        let _ = fs::remove_file(&tmp);
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "oomlens-guest", "-d"])
            .arg(&root)
            .arg(&tmp)
            .arg("1G"))?;
        rename(&tmp, &path)?;
        let _ = fs::remove_dir_all(&root);
        // Older images of other recipes are of no further use.
        for e in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("systemd-") && n.ends_with(".img") && e.path() != path {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(path)
    }
}

/// The unit that runs the test binary once the system is up. `/oomlens-guest/run` comes
/// with each boot's payload, so changing it needs no new image.
pub const GUEST_UNIT: &str = "\
[Unit]
Description=oomlens guest test binary
After=multi-user.target

[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/sh /oomlens-guest/run
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
";

/// journald: volatile, no rate limit (an OOM report is about 80 kernel records at once).
pub const JOURNALD_CONF: &str = "\
[Journal]
Storage=volatile
RateLimitIntervalSec=0
ForwardToConsole=no
";

/// Units masked in the image: gettys (nobody logs in; a getty on ttyS0 would write into
/// the kernel log file). systemd-oomd stays enabled as its package leaves it: it acts only
/// on units with `ManagedOOM…=` settings.
pub const MASKED: &[&str] = &[
    "serial-getty@ttyS0.service",
    "getty@tty1.service",
    "getty.target",
];

const FSTAB: &str = "/dev/vda / ext4 rw 0 1\n";

fn customize(root: &Path) -> Result<()> {
    let w = |rel: &str, text: &str| -> Result<()> {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).map_err(|e| failed(e.to_string()))?;
        fs::write(&p, text).map_err(|e| failed(format!("{}: {e}", p.display())))
    };
    let link = |target: &str, rel: &str| -> Result<()> {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).map_err(|e| failed(e.to_string()))?;
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).map_err(|e| failed(format!("{}: {e}", p.display())))
    };
    w("etc/fstab", FSTAB)?;
    w("etc/hostname", "oomlens-guest\n")?;
    w("etc/systemd/system/oomlens-guest.service", GUEST_UNIT)?;
    link(
        "/etc/systemd/system/oomlens-guest.service",
        "etc/systemd/system/multi-user.target.wants/oomlens-guest.service",
    )?;
    w("etc/systemd/journald.conf.d/oomlens.conf", JOURNALD_CONF)?;
    for unit in MASKED {
        link("/dev/null", &format!("etc/systemd/system/{unit}"))?;
    }
    // A login is never needed; an empty machine-id is filled at first boot.
    w("etc/machine-id", "")?;
    fs::create_dir_all(root.join("oomlens-guest")).map_err(|e| failed(e.to_string()))?;
    // apt's downloaded .debs are of no use in the image.
    let _ = fs::remove_dir_all(root.join("var/cache/apt/archives"));
    Ok(())
}

/// 64-bit FNV-1a: a hash that stays the same across Rust releases.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn fresh_dir(p: &Path) -> Result<PathBuf> {
    if p.exists() {
        fs::remove_dir_all(p).map_err(|e| failed(format!("{}: {e}", p.display())))?;
    }
    fs::create_dir_all(p).map_err(|e| failed(format!("{}: {e}", p.display())))?;
    Ok(p.to_path_buf())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| failed(format!("copy {} -> {}: {e}", from.display(), to.display())))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| {
        failed(format!(
            "rename {} -> {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

/// Writes `text` to `path` and makes it executable.
pub fn write_exec(path: &Path, text: &str) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| failed(format!("{}: {e}", path.display())))
}
