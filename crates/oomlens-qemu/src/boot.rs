//! One guest boot for one test binary: the payload, the initramfs, QEMU, and the status.
//!
//! Both guests get the same payload: the test binary at `/oomlens-guest/test-bin` (a fixed
//! path: the host path may lie under a directory the guest mounts over, such as systemd's
//! tmpfs on /tmp when the checkout is in /tmp), the static
//! tools (`oomlens`, `oomlens-hog`, `oomlens-qemu`) in `/usr/local/bin`, and
//! `/oomlens-guest/{run,args,cwd,bin,env}`. `run` starts the binary with its arguments in
//! the directory cargo ran it from, its output on ttyS1, then reports its exit status
//! through isa-debug-exit (`oomlens-qemu exit N`: QEMU exits with `(N << 1) | 1`).
//!
//! - busybox guest: the payload is the whole initramfs; `/init` (busybox sh, PID 1) mounts
//!   proc, sysfs, devtmpfs and cgroup2 with `+memory +pids` in the root's subtree_control,
//!   then runs `run`.
//! - systemd guest: a first-stage initramfs loads virtio, mounts the cached ext4 image
//!   (opened with `-snapshot`, so the image never changes), copies the payload in and
//!   `switch_root`s to systemd, which starts `oomlens-guest.service` (it runs `run`) after
//!   multi-user.target.
//!
//! Serial ports: ttyS0 is the console (kernel messages; saved as `console.log`), ttyS1 the
//! test binary's output (copied to our stdout), ttyS2 the artifact channel (see
//! [`crate::guest::save_artifact`]), all saved under `<target>/qemu-artifacts/<binary>/`.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cpio::Archive;
use crate::provision::{BedError, Kernel, Result};

/// The guest a test binary runs in, named by the prefix of its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    /// `busybox_*`: busybox sh as PID 1, cgroup2 mounted, nothing else running.
    Busybox,
    /// `systemd_*`: Debian with systemd as PID 1, journald, dbus, udev, systemd-oomd.
    Systemd,
}

impl GuestKind {
    /// The guest a test binary asks for: `busybox_memcg-0123abcd` → busybox.
    pub fn of_binary(bin: &Path) -> Option<GuestKind> {
        let name = bin.file_name()?.to_string_lossy();
        if name.starts_with("busybox_") {
            Some(GuestKind::Busybox)
        } else if name.starts_with("systemd_") {
            Some(GuestKind::Systemd)
        } else {
            None
        }
    }

    /// `busybox` or `systemd` (also the `oomlens_qemu=` kernel argument).
    pub fn name(self) -> &'static str {
        match self {
            GuestKind::Busybox => "busybox",
            GuestKind::Systemd => "systemd",
        }
    }

    /// Guest RAM in MiB (`OOMLENS_QEMU_MEM_MIB` overrides): small, so that a global OOM
    /// comes quickly.
    pub fn memory_mib(self) -> u32 {
        if let Some(m) = std::env::var("OOMLENS_QEMU_MEM_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            return m;
        }
        match self {
            GuestKind::Busybox => 256,
            GuestKind::Systemd => 512,
        }
    }
}

/// Everything a boot needs from the host.
pub struct Bed {
    /// `qemu-system-x86_64`.
    pub qemu: PathBuf,
    /// The cached kernel.
    pub kernel: Kernel,
    /// busybox-static's binary.
    pub busybox: PathBuf,
    /// The systemd image (only for systemd guests).
    pub systemd_image: Option<PathBuf>,
    /// Static binaries copied to the guest's `/usr/local/bin`.
    pub tools: Vec<PathBuf>,
    /// Where console log and artifacts of each binary go.
    pub artifacts: PathBuf,
    /// Longest a boot may take before QEMU is killed.
    pub timeout: Duration,
}

/// How a boot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The test binary exited with this status (127 for anything above 127).
    Exited(i32),
    /// The guest stopped without reporting (kernel panic, PID 1 died): QEMU's status.
    Died(i32),
    /// Killed after [`Bed::timeout`].
    TimedOut,
}

/// The artifact directory name of a test binary: its file name without cargo's `-<hash>`.
pub fn binary_stem(bin: &Path) -> String {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem.to_string()
        }
        _ => name,
    }
}

const RUN: &str = r#"#!/bin/sh
# Runs the test binary (payload of oomlens-qemu): output to ttyS1, status to QEMU.
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
. /oomlens-guest/env
for t in /dev/ttyS1 /dev/ttyS2; do stty -F "$t" raw -echo; done
set --
while IFS= read -r a; do set -- "$@" "$a"; done < /oomlens-guest/args
cd "$(cat /oomlens-guest/cwd)" 2>/dev/null || cd /
"$(cat /oomlens-guest/bin)" "$@" > /dev/ttyS1 2>&1
rc=$?
[ "$rc" -gt 127 ] && rc=127
exec oomlens-qemu exit "$rc"
"#;

const BUSYBOX_INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo '+memory +pids' > /sys/fs/cgroup/cgroup.subtree_control
hostname oomlens-guest
exec /bin/sh /oomlens-guest/run
"#;

fn stage1_init(modules: &[String]) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in {mods}; do insmod /mod/$m || echo "stage1: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "stage1: cannot mount /dev/vda"; /payload/usr/local/bin/oomlens-qemu exit 126
fi
cp -a /payload/. /newroot/
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
"#,
        mods = modules.join(" ")
    )
}

/// Environment forwarded into the guest: `RUST_*` and `OOMLENS_*` variables.
fn guest_env() -> String {
    let mut out = String::new();
    for (k, v) in std::env::vars() {
        if (k.starts_with("RUST_") || k.starts_with("OOMLENS_"))
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            out.push_str(&format!("export {k}='{}'\n", v.replace('\'', r"'\''")));
        }
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| BedError::Failed(format!("{}: {e}", path.display())))
}

/// Where the test binary is put in the guest.
const GUEST_TEST_BIN: &str = "/oomlens-guest/test-bin";

/// Adds the payload under `prefix` ("" or "payload").
fn add_payload(
    a: &mut Archive,
    seen: &mut BTreeSet<String>,
    prefix: &str,
    bed: &Bed,
    bin: &Path,
    args: &[String],
) -> Result<()> {
    let at = |p: &str| format!("{prefix}/{}", p.trim_start_matches('/'));
    for tool in &bed.tools {
        let name = tool.file_name().unwrap().to_string_lossy();
        // The Debian package is for the systemd guest's dpkg; in the busybox guest it would
        // only take RAM (the initramfs is unpacked into the guest's 256 MiB).
        if prefix.is_empty() && name.ends_with(".deb") {
            continue;
        }
        let dest = at(&format!("usr/local/bin/{name}"));
        a.parents(&dest, seen);
        a.file(&dest, 0o755, &read(tool)?);
    }
    let dest = at(GUEST_TEST_BIN);
    a.parents(&dest, seen);
    a.file(&dest, 0o755, &read(bin)?);
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let cwd_dest = at(&cwd.to_string_lossy());
    a.parents(&format!("{cwd_dest}/x"), seen);
    let mut argv = String::new();
    for arg in args {
        argv.push_str(arg);
        argv.push('\n');
    }
    let files = [
        ("run", RUN.to_string()),
        ("args", argv),
        ("cwd", format!("{}\n", cwd.display())),
        ("bin", format!("{GUEST_TEST_BIN}\n")),
        ("env", guest_env()),
    ];
    for (name, text) in files {
        let dest = at(&format!("oomlens-guest/{name}"));
        a.parents(&dest, seen);
        a.file(&dest, 0o755, text.as_bytes());
    }
    Ok(())
}

/// Builds the initramfs for `kind` into `path`.
fn initramfs(kind: GuestKind, bed: &Bed, bin: &Path, args: &[String], path: &Path) -> Result<()> {
    let mut a = Archive::new();
    let mut seen = BTreeSet::new();
    for d in ["bin", "proc", "sys", "dev", "tmp", "root"] {
        a.dir(d);
        seen.insert(d.to_string());
    }
    a.file("bin/busybox", 0o755, &read(&bed.busybox)?);
    match kind {
        GuestKind::Busybox => {
            a.file("init", 0o755, BUSYBOX_INIT.as_bytes());
            add_payload(&mut a, &mut seen, "", bed, bin, args)?;
        }
        GuestKind::Systemd => {
            a.dir("newroot");
            a.dir("mod");
            let mut names = Vec::new();
            for m in &bed.kernel.modules {
                let name = m.file_name().unwrap().to_string_lossy().into_owned();
                a.file(&format!("mod/{name}"), 0o644, &read(m)?);
                names.push(name);
            }
            a.file("init", 0o755, stage1_init(&names).as_bytes());
            a.dir("payload");
            seen.insert("payload".into());
            add_payload(&mut a, &mut seen, "payload", bed, bin, args)?;
        }
    }
    let mut f =
        fs::File::create(path).map_err(|e| BedError::Failed(format!("{}: {e}", path.display())))?;
    a.finish(&mut f)
        .map_err(|e| BedError::Failed(format!("{}: {e}", path.display())))
}

/// Boots the guest `kind` for test binary `bin` with `args`; the binary's output goes to
/// our stdout. Returns how the boot ended.
pub fn boot(kind: GuestKind, bed: &Bed, bin: &Path, args: &[String]) -> Result<Status> {
    let out = bed.artifacts.join(binary_stem(bin));
    if out.exists() {
        fs::remove_dir_all(&out)
            .map_err(|e| BedError::Failed(format!("{}: {e}", out.display())))?;
    }
    fs::create_dir_all(&out).map_err(|e| BedError::Failed(format!("{}: {e}", out.display())))?;
    let initrd = out.join("initramfs.cpio");
    initramfs(kind, bed, bin, args, &initrd)?;
    let console = out.join("console.log");
    let channel = out.join("artifacts.bin");
    let mut cmd = Command::new(&bed.qemu);
    cmd.args([
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
    ])
    .args(["-m", &format!("{}M", kind.memory_mib()), "-smp", "2"])
    .arg("-kernel")
    .arg(&bed.kernel.vmlinuz)
    .arg("-initrd")
    .arg(&initrd)
    .args([
        "-append",
        &format!("console=ttyS0 panic=-1 quiet oomlens_qemu={}", kind.name()),
    ])
    .arg("-serial")
    .arg(format!("file:{}", console.display()))
    .args(["-serial", "stdio"])
    .arg("-serial")
    .arg(format!("file:{}", channel.display()))
    .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
    .stdin(Stdio::null());
    if kind == GuestKind::Systemd {
        let image = bed
            .systemd_image
            .as_ref()
            .ok_or_else(|| BedError::Failed("no systemd image".into()))?;
        cmd.arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", image.display()))
            .arg("-snapshot");
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| BedError::Failed(format!("cannot start {}: {e}", bed.qemu.display())))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                let rc = st.code().unwrap_or(-1);
                break if rc > 0 && rc % 2 == 1 {
                    Status::Exited((rc - 1) / 2)
                } else {
                    Status::Died(rc)
                };
            }
            Ok(None) if start.elapsed() > bed.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Status::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(BedError::Failed(format!("waiting for QEMU: {e}"))),
        }
    };
    let _ = fs::remove_file(&initrd);
    let saved = split_artifacts(&channel, &out)?;
    eprintln!(
        "oomlens-qemu: {} guest, {}: {:?} after {:.1} s; console log and {saved} artifact(s) in {}",
        kind.name(),
        binary_stem(bin),
        status,
        start.elapsed().as_secs_f64(),
        out.display()
    );
    if !matches!(status, Status::Exited(_)) {
        let text = fs::read_to_string(&console).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("oomlens-qemu: last console lines:");
        for l in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  {}", l.trim_end_matches('\r'));
        }
    }
    Ok(status)
}

/// The header the guest writes before each artifact: `OOMLENS-ARTIFACT <name> <len>\n`.
pub const ARTIFACT_MAGIC: &str = "OOMLENS-ARTIFACT";

/// Splits the ttyS2 stream into files; returns how many were saved.
fn split_artifacts(channel: &Path, out: &Path) -> Result<usize> {
    let mut data = Vec::new();
    if let Ok(mut f) = fs::File::open(channel) {
        let _ = f.read_to_end(&mut data);
    }
    let _ = fs::remove_file(channel);
    let mut rest = &data[..];
    let mut n = 0;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let mut words = header.split_whitespace();
        let (Some(ARTIFACT_MAGIC), Some(name), Some(len)) = (
            words.next(),
            words.next(),
            words.next().and_then(|l| l.parse::<usize>().ok()),
        ) else {
            break;
        };
        let body = &rest[nl + 1..];
        let take = len.min(body.len());
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        fs::write(out.join(&safe), &body[..take])
            .map_err(|e| BedError::Failed(format!("{}/{safe}: {e}", out.display())))?;
        n += 1;
        rest = &body[take..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_kind_comes_from_the_file_name() {
        let k = |p: &str| GuestKind::of_binary(Path::new(p));
        assert_eq!(
            k("/t/deps/busybox_memcg-0123456789abcdef"),
            Some(GuestKind::Busybox)
        );
        assert_eq!(
            k("/t/deps/systemd_scenarios-0123456789abcdef"),
            Some(GuestKind::Systemd)
        );
        assert_eq!(k("/t/deps/guest_suite-0123456789abcdef"), None);
    }

    #[test]
    fn stem_drops_the_cargo_hash() {
        assert_eq!(
            binary_stem(Path::new("/t/busybox_memcg-0123456789abcdef")),
            "busybox_memcg"
        );
        assert_eq!(binary_stem(Path::new("/t/busybox_memcg")), "busybox_memcg");
    }

    #[test]
    fn artifacts_are_split_by_header() {
        let dir = std::env::temp_dir().join(format!("oomlens-qemu-art-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let chan = dir.join("chan");
        fs::write(
            &chan,
            b"OOMLENS-ARTIFACT a.log 3\nabc\nOOMLENS-ARTIFACT ../b 2\nxy\n",
        )
        .unwrap();
        assert_eq!(split_artifacts(&chan, &dir).unwrap(), 2);
        assert_eq!(fs::read(dir.join("a.log")).unwrap(), b"abc");
        assert_eq!(fs::read(dir.join(".._b")).unwrap(), b"xy");
        fs::remove_dir_all(&dir).unwrap();
    }
}
