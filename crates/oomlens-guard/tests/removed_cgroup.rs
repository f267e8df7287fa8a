//! A watched cgroup with a PSI trigger on its cgroup2 `memory.pressure` is removed while
//! the guard runs: the guard closes the trigger (a level-triggered epoll that ignored
//! EPOLLERR would spin at 100% CPU), uses next to no CPU afterwards, and keeps recording.
//! Gated by `oomlens_testkit::real_kernel`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{cpu_seconds, records, Guard};
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::TempDir;

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/001-rhel6-2.6.32-memcg-mruby-syslog.log"
);

/// The guard's open files that lie below `dir`.
fn fds_below(pid: u32, dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    rd.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn a_removed_cgroup_closes_its_psi_trigger_costs_no_cpu_and_recording_goes_on() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let cg = MemoryCgroup::create_under(&rk.own, 64 << 20).unwrap();
    // The cgroup2 twin where the v1 cgroup's pressure is read.
    let unified = Path::new("/sys/fs/cgroup/unified").join(cg.path().trim_start_matches('/'));
    let mut made = Vec::new();
    for a in unified.ancestors().collect::<Vec<_>>().into_iter().rev() {
        if a.starts_with("/sys/fs/cgroup/unified") && !a.exists() {
            std::fs::create_dir(a).unwrap();
            made.push(a.to_path_buf());
        }
    }
    assert!(
        unified.join("memory.pressure").exists(),
        "this kernel has no per-cgroup PSI at {}",
        unified.display()
    );
    let dir = TempDir::new("guard-removed").unwrap();
    let log = dir.path().join("kern.log");
    std::fs::write(&log, "").unwrap();
    let store = dir.path().join("store");
    let mut g = Guard::ready_on(log.to_str().unwrap(), &rk.own.path, &store);
    let pid = g.pid();
    assert!(
        wait_until(Duration::from_secs(10), || !fds_below(pid, &unified)
            .is_empty()),
        "the guard holds no PSI trigger on {}: {:#?}",
        unified.display(),
        g.lines()
    );

    // Only the cgroup2 twin goes: the v1 cgroup (and its eventfd watch) stays, so what
    // closes the trigger is its EPOLLERR, not the end of the whole watch.
    for d in made.iter().rev() {
        std::fs::remove_dir(d).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(5), || fds_below(pid, &unified)
            .is_empty()),
        "the trigger of the removed cgroup is still open: {:?}",
        fds_below(pid, &unified)
    );
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_seconds(pid) - before;
    println!("guard CPU over 5 s after the removal: {used:.3} s");
    // A spinning loop would use about 5 s; one sampler pass per second costs a few ms.
    assert!(used <= 0.25, "{used} s of CPU in 5 s");

    drop(cg); // SIGKILLs what is left (nothing) and removes the v1 directory

    // Still running and recording.
    let report = std::fs::read(REPORT).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &report))
        .unwrap();
    g.wait_for("recorded incident 0", Duration::from_secs(10));
    g.stop();
    let recs = records(&store);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].incident.victim().and_then(|k| k.pid), Some(14095));
}
