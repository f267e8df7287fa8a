//! oomlens's QEMU test bed: real cgroup v2 and systemd OOM kills, in guests booted from a
//! Debian cloud kernel under `qemu-system-x86_64 -accel tcg`.
//!
//! - [`provision`]: QEMU, kernel, busybox and the systemd image from Debian, cached.
//! - [`boot`]: one guest boot per test binary; the binary's status comes back through
//!   isa-debug-exit.
//! - [`guest`]: helpers for the tests that run inside (`tests/busybox_*.rs`,
//!   `tests/systemd_*.rs`).
//! - this module: the paths and the two steps `oomlens-qemu run` chains: provision, build
//!   the static binaries, run `cargo test` with `oomlens-qemu runner` as the cargo runner.
//!
//! README.md beside Cargo.toml says how to run it and how to add a guest test.

pub mod boot;
pub mod cpio;
pub mod guest;
pub mod provision;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use provision::{BedError, Cache, CacheLock, Result};

/// The target triple guest binaries are built for (static, `+crt-static`).
pub const GUEST_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The RUSTFLAGS of guest binaries. `--target` keeps them off build scripts and
/// proc-macros, which cannot be static. Debug info is stripped: the busybox guest unpacks
/// its whole payload into a tmpfs of half its 256 MiB, and the static `oomlens` with line
/// tables (50 MB) no longer fit beside the test binaries (9.7 MB without them).
pub const GUEST_RUSTFLAGS: &str = "-C target-feature=+crt-static -C strip=debuginfo";

/// The static tools every guest gets in `/usr/local/bin`: (package, binary).
pub const GUEST_TOOLS: &[(&str, &str)] = &[
    ("oomlens", "oomlens"),
    // `oomlens guard` execs it from beside `oomlens`; packaged in the .deb too.
    ("oomlens-guard", "oomlens-guard"),
    ("oomlens-testkit", "oomlens-hog"),
    ("oomlens-qemu", "oomlens-qemu"),
];

/// The Debian package of the static `oomlens` (contrib/debian/build-deb.sh), put beside the
/// tools and so into the guest's `/usr/local/bin`, for `tests/systemd_guard_deb.rs`.
pub const GUEST_DEB: &str = "oomlens.deb";

/// Exit status of `oomlens-qemu run` when QEMU cannot be had (the suite was skipped).
pub const EXIT_SKIPPED: i32 = 77;

/// Where things are.
pub struct Paths {
    /// The workspace root.
    pub workspace: PathBuf,
    /// cargo's target directory.
    pub target: PathBuf,
    /// Downloads and images (`OOMLENS_QEMU_CACHE`, else `<target>/qemu-cache`).
    pub cache: PathBuf,
    /// Console logs and artifacts per test binary (`<target>/qemu-artifacts`).
    pub artifacts: PathBuf,
}

impl Paths {
    /// The paths for a target directory.
    pub fn new(target: PathBuf) -> Paths {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("crates/oomlens-qemu has a workspace two levels up")
            .to_path_buf();
        let cache = std::env::var_os("OOMLENS_QEMU_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("qemu-cache"));
        Paths {
            workspace,
            artifacts: target.join("qemu-artifacts"),
            cache,
            target,
        }
    }

    /// Static guest binaries: `<target>/x86_64-unknown-linux-gnu/release`.
    pub fn guest_bin_dir(&self) -> PathBuf {
        self.target.join(GUEST_TARGET).join("release")
    }
}

/// The cargo that runs us (cargo sets `CARGO` for `cargo run` and tests), else `cargo`.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // CARGO_ENCODED_RUSTFLAGS would win over our RUSTFLAGS.
    c.env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

/// Provisions QEMU, the kernel, busybox and (if `systemd`) the systemd image, under the
/// cache lock. `Unavailable` only when QEMU cannot be installed.
pub fn provision(
    paths: &Paths,
    systemd: bool,
) -> Result<(PathBuf, provision::Kernel, PathBuf, Option<PathBuf>)> {
    let _lock = CacheLock::acquire(&paths.cache)?;
    let qemu = provision::ensure_qemu()?;
    let cache = Cache::new(paths.cache.clone());
    let kernel = cache.kernel()?;
    let busybox = cache.busybox()?;
    let image = if systemd {
        Some(cache.systemd_image()?)
    } else {
        None
    };
    Ok((qemu, kernel, busybox, image))
}

/// Builds the static guest tools (`GUEST_TOOLS`) with `cargo build --release --target`.
pub fn build_tools(paths: &Paths) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", GUEST_TARGET, "--bins"])
        .current_dir(&paths.workspace)
        .env("CARGO_TARGET_DIR", &paths.target)
        .env("RUSTFLAGS", GUEST_RUSTFLAGS);
    for (pkg, _) in GUEST_TOOLS {
        cmd.args(["-p", pkg]);
    }
    let st = cmd
        .status()
        .map_err(|e| BedError::Failed(format!("{cmd:?}: {e}")))?;
    if !st.success() {
        return Err(BedError::Failed(format!(
            "building the static guest tools failed: {cmd:?}"
        )));
    }
    Ok(())
}

/// Packages the static `oomlens` as [`GUEST_DEB`] beside it with cargo-deb, through
/// contrib/debian/build-deb.sh. Without cargo-deb (`cargo install cargo-deb --locked`;
/// .ci/run installs it) nothing is built and this says so: only the package test then
/// fails, naming the missing file.
pub fn build_deb(paths: &Paths) -> Result<()> {
    if !cargo()
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("oomlens-qemu: cargo-deb is not installed: no {GUEST_DEB} for the guest");
        return Ok(());
    }
    let out = paths
        .target
        .join(GUEST_TARGET)
        .join("release")
        .join(GUEST_DEB);
    let mut cmd = Command::new(paths.workspace.join("contrib/debian/build-deb.sh"));
    cmd.args(["--target", GUEST_TARGET, "--no-build", "--output"])
        .arg(&out)
        .current_dir(&paths.workspace)
        .env("CARGO_TARGET_DIR", &paths.target);
    let st = cmd
        .status()
        .map_err(|e| BedError::Failed(format!("{cmd:?}: {e}")))?;
    if !st.success() {
        return Err(BedError::Failed(format!(
            "building {GUEST_DEB} failed: {cmd:?}"
        )));
    }
    Ok(())
}

/// The `cargo test` that runs the guest test binaries, each in its guest, with `runner`
/// (this program's path) as the cargo runner. `tests`: `--test` names or globs (default:
/// every `busybox_*` and `systemd_*`); `test_args`: passed to the test binaries.
pub fn guest_cargo_test(
    paths: &Paths,
    runner: &Path,
    tests: &[String],
    test_args: &[String],
) -> Command {
    let mut cmd = cargo();
    cmd.args(["test", "--release", "--target", GUEST_TARGET])
        .args(["-p", "oomlens-qemu", "--features", "guest"])
        .current_dir(&paths.workspace)
        .env("CARGO_TARGET_DIR", &paths.target)
        .env("RUSTFLAGS", GUEST_RUSTFLAGS)
        .env(
            format!(
                "CARGO_TARGET_{}_RUNNER",
                GUEST_TARGET.to_uppercase().replace('-', "_")
            ),
            format!("{} runner", runner.display()),
        );
    let default = ["busybox_*".to_string(), "systemd_*".to_string()];
    for t in if tests.is_empty() {
        &default[..]
    } else {
        tests
    } {
        cmd.args(["--test", t]);
    }
    if !test_args.is_empty() {
        cmd.arg("--").args(test_args);
    }
    cmd
}

/// The per-boot time limit (`OOMLENS_QEMU_TIMEOUT_SECS`, default 300 s).
pub fn boot_timeout() -> Duration {
    Duration::from_secs(
        std::env::var("OOMLENS_QEMU_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    )
}
