//! Test-only helpers for oomlens: a memory cgroup harness, a `/dev/kmsg` reader, renderers
//! that turn kmsg records into the other log forms, and the `oomlens-hog` allocator.
//!
//! ## What a test uses (one of each, in every test file)
//!
//! - Running a program: [`run::Oomlens`] (arguments, environment, stdin bytes) returns a
//!   [`run::Ran`] whose assertions (`code`, `success`, `stderr_has`, `json`) print the
//!   command, exit status, stderr and stdout when they fail. In the `oomlens` package's
//!   integration tests `oomlens_testkit::oomlens!()` starts one for the `oomlens` binary;
//!   other packages pass a path (e.g. [`bin_path`] for this crate's binaries).
//! - A scratch directory: [`fs::TempDir`] (removed on drop; `keep()` to look at it).
//! - A fake `/proc` + cgroupfs tree for `--root`: [`faketree::FakeTree`] (mountinfo,
//!   meminfo, pressure, v1/v2 cgroups with limit/usage/stat/procs, processes with
//!   status/cgroup/oom_score_adj). Unit tests inside other crates' `src/` use it too, as a
//!   dev-dependency: `FakeTree::new("tag")`, then one statement per cgroup or process.
//! - The real kernel: [`real_kernel`] (root, cgroup v1 memory, /dev/kmsg) or a loud SKIP.
//! - Big logs with known OOM reports: [`loggen`].
//!
//! Nothing here is used by the shipped binary. The real-kernel tests
//! (`crates/oomlens/tests/real_kernel.rs`) make the kernel's OOM killer act inside a cgroup
//! created by [`cgroup_v1::MemoryCgroup`], read what the kernel printed with [`kmsg::Kmsg`],
//! and compare it with what `oomlens explain` says.
//!
//! ## Finding `oomlens-hog`
//!
//! Cargo builds a package's binaries for that package's own integration tests only
//! (`CARGO_BIN_EXE_<name>`), and artifact dependencies are unstable, so tests in another
//! package get the hog through [`hog_path`]: `$OOMLENS_HOG` when set, else it runs
//! `cargo build -p oomlens-testkit --bin oomlens-hog --message-format=json` once per test
//! process, with the profile and target directory of the running test executable, and takes
//! the path cargo reports for the executable. The running `cargo test` has released its
//! build lock by then, so the nested build neither blocks nor rebuilds anything but the hog.

#![deny(missing_docs)]

pub mod cgroup_v1;
pub mod faketree;
pub mod fs;
pub mod incidents;
pub mod json_keys;
pub mod kmsg;
pub mod loggen;
pub mod recorded;
pub mod render;
pub mod run;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The path of an up-to-date `oomlens-hog` binary (see the crate docs for how it is found).
pub fn hog_path() -> Result<PathBuf, String> {
    static HOG: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    HOG.get_or_init(|| {
        if let Some(p) = std::env::var_os("OOMLENS_HOG") {
            return Ok(PathBuf::from(p));
        }
        build_hog()
    })
    .clone()
}

fn build_hog() -> Result<PathBuf, String> {
    build_bin("oomlens-hog")
}

/// The path of an up-to-date binary of this crate (`oomlens-loggen`, `oomlens-faketree`,
/// `oomlens-hog`), built into the calling test's own target directory and profile.
pub fn bin_path(name: &str) -> Result<PathBuf, String> {
    static BUILT: std::sync::Mutex<Vec<(String, Result<PathBuf, String>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = built.iter().find(|(n, _)| n == name) {
        return r.clone();
    }
    let r = build_bin(name);
    built.push((name.to_string(), r.clone()));
    r
}

fn build_bin(name: &str) -> Result<PathBuf, String> {
    build_target("oomlens-testkit", "--bin", name)
}

/// Builds target `name` of workspace package `package` (`kind`: `--bin` or `--example`)
/// into the calling test's own target directory and profile, and returns the executable
/// cargo reports for it. Not cached: [`bin_path`] caches this crate's binaries.
pub fn build_target(package: &str, kind: &str, name: &str) -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, kind, name])
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg(&manifest);
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // A test executable lives in <target-dir>/[<triple>/]<profile-dir>/deps/.
    if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some(name) => {
                cmd.args(["--profile", name]);
            }
        }
        if let Some(target_dir) = profile_dir
            .ancestors()
            .find(|d| d.join("CACHEDIR.TAG").is_file())
        {
            cmd.arg("--target-dir").arg(target_dir);
        }
    }
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("{cmd:?} reported no {name} executable"))
}

/// What the real-kernel tests need: the allocator and our own memory cgroup.
pub struct RealKernel {
    /// Path of the built `oomlens-hog`.
    pub hog: std::path::PathBuf,
    /// This process's memory cgroup (v1), under which test cgroups are made.
    pub own: cgroup_v1::OwnCgroup,
}

/// The real-kernel environment, checked once per test binary (stale test cgroups of dead
/// runs are swept); every real-kernel suite asks here.
///
/// Gated as the QEMU guest suite is: where root, a writable cgroup v1 memory hierarchy or
/// /dev/kmsg is missing, it returns `None` and prints a loud `SKIPPED` line with the reason
/// to the real stderr (libtest does not capture it), so the suite passes without running.
/// `OOMLENS_REQUIRE_REAL_KERNEL=1` (set by `.ci/run`, whose machine has all three) turns
/// that skip into a failure, so CI cannot pass without these tests; `OOMLENS_SKIP_REAL_KERNEL=1`
/// skips them even where they could run.
pub fn real_kernel() -> Option<&'static RealKernel> {
    use std::io::Write;
    static ENV: std::sync::OnceLock<Result<RealKernel, String>> = std::sync::OnceLock::new();
    let env = ENV.get_or_init(|| {
        let own = cgroup_v1::check_environment()?;
        cgroup_v1::sweep_stale(&own);
        let hog = hog_path()?;
        Ok(RealKernel { hog, own })
    });
    let flag = |name: &str| std::env::var_os(name).is_some_and(|v| v == "1");
    let why = match env {
        Ok(_) if flag("OOMLENS_SKIP_REAL_KERNEL") => "OOMLENS_SKIP_REAL_KERNEL=1".to_string(),
        Ok(env) => return Some(env),
        Err(why) if flag("OOMLENS_REQUIRE_REAL_KERNEL") => panic!(
            "real-kernel tests cannot run here, and OOMLENS_REQUIRE_REAL_KERNEL=1 requires them: \
             {why}. They need root, a writable cgroup v1 memory hierarchy and /dev/kmsg."
        ),
        Err(why) => format!(
            "{why} (they need root, a writable cgroup v1 memory hierarchy and /dev/kmsg; \
             OOMLENS_REQUIRE_REAL_KERNEL=1 makes this a failure)"
        ),
    };
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! SKIPPED real-kernel test: {why} !!!!!\n"
    );
    None
}

/// The pid of the first `Killed process N` line of a report file, read from the text itself so
/// that tests compare oomlens with the report, never with a number copied from its output
/// (RHEL 6 prints `Killed process 14095, UID 0, (mruby)`: the comma is not part of the pid).
pub fn first_killed_pid(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .find_map(|l| {
            l.split("Killed process ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .trim_end_matches(',')
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{}: no Killed process line", path.display()))
}
