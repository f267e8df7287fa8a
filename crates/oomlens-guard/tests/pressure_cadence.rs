//! How often the guard reads the system's `/proc/pressure/memory`: every 10 s while its own
//! PSI trigger on that file is open (the trigger fires at the threshold and has it read at
//! once), every 2 s without one. The ready line says which; the open files say whether the
//! trigger is there.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Guard;
use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;

/// True when `pid` holds `/proc/pressure/memory` open for writing: a PSI trigger (the
/// sampler's own copy of the file is read-only).
fn holds_system_trigger(pid: u32) -> bool {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    fds.filter_map(Result::ok).any(|e| {
        let link = std::fs::read_link(e.path()).ok();
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        link.as_deref() == Some(Path::new("/proc/pressure/memory"))
            && flags & libc::O_ACCMODE as u32 == libc::O_RDWR as u32
    })
}

/// A guard reading an empty kernel log, its store in a temporary directory (kept alive
/// by the caller), with `extra` arguments.
fn start(tag: &str, extra: &[&str]) -> (TempDir, Guard) {
    let dir = TempDir::new(tag).unwrap();
    let log = dir.path().join("kern.log");
    std::fs::write(&log, "").unwrap();
    let store = dir.path().join("store");
    let mut args = vec![
        "--log",
        log.to_str().unwrap(),
        "--state-dir",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let g = Guard::start(&args);
    (dir, g)
}

/// Under a fake root no trigger can be armed (its pressure file is a plain file): 2 s.
#[test]
fn without_a_system_trigger_pressure_is_read_every_two_seconds() {
    let tree = FakeTree::new("guard-psi-cadence");
    tree.mount_v1_memory()
        .meminfo(1 << 20, 1 << 19, 1 << 19)
        .memory_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    tree.cgroup_v1("").limit(None).usage(100 << 20);
    let (_dir, mut g) = start("guard-psi-fake", &["--root", tree.root().to_str().unwrap()]);
    let ready = g.wait_for("ready", Duration::from_secs(20));
    assert!(!holds_system_trigger(g.pid()));
    g.stop();
    assert!(
        ready.contains(", 0 PSI trigger(s), system pressure read every 2 s,"),
        "{ready}"
    );
}

/// On this kernel, as root, the trigger is armed: 10 s.
#[test]
fn with_the_system_trigger_armed_pressure_is_read_every_ten_seconds() {
    let Some(_rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let (_dir, mut g) = start("guard-psi-real", &[]);
    let ready = g.wait_for("ready", Duration::from_secs(30));
    let armed = holds_system_trigger(g.pid());
    g.stop();
    assert!(armed, "no trigger on /proc/pressure/memory: {ready}");
    assert!(
        ready.contains("system pressure read every 10 s,"),
        "{ready}"
    );
}
