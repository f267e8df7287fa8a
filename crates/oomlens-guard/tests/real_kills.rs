//! Real OOM kills in child v1 memory cgroups under our own, recorded by a running guard
//! that reads /dev/kmsg. The kernel log is shared with other containers, so records are
//! matched by cgroup path and pid; the guard samples only our own cgroup's subtree.
//! Gated by `oomlens_testkit::real_kernel` (a loud skip without root and a writable v1
//! memory hierarchy; `OOMLENS_REQUIRE_REAL_KERNEL=1` makes the skip a failure).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{records, Guard};
use oomlens_model::recorded::RecordedIncident;
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::TempDir;

const MIB: u64 = 1 << 20;

/// The cgroup of an incident's first kill.
fn victim_cgroup(r: &RecordedIncident) -> Option<String> {
    let k = r.incident.victim()?;
    k.cgroup.clone().or_else(|| r.incident.task_memcg.clone())
}

/// Records whose victim is `pid` in `cgroup`.
fn of(recs: &[RecordedIncident], cgroup: &str, pid: u32) -> Vec<RecordedIncident> {
    recs.iter()
        .filter(|r| {
            r.incident.victim().and_then(|k| k.pid) == Some(pid)
                && victim_cgroup(r).as_deref() == Some(cgroup)
        })
        .cloned()
        .collect()
}

/// Poll the store until `want` holds or `timeout` passes.
fn wait_records(
    dir: &std::path::Path,
    timeout: Duration,
    want: impl Fn(&[RecordedIncident]) -> bool,
) -> Vec<RecordedIncident> {
    let end = Instant::now() + timeout;
    loop {
        let recs = if dir.join("lock").exists() {
            records(dir)
        } else {
            Vec::new()
        };
        if want(&recs) || Instant::now() > end {
            return recs;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn killed_by_sigkill(st: Option<std::process::ExitStatus>) -> bool {
    use std::os::unix::process::ExitStatusExt;
    st.and_then(|s| s.signal()) == Some(libc::SIGKILL)
}

#[test]
fn each_real_kill_is_recorded_once_with_its_cgroup_pid_and_lines() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("guard-kills").unwrap();
    let store = dir.path().join("store");
    let g = Guard::ready_on("kmsg", &rk.own.path, &store);
    let mut killed = Vec::new();
    let mut cgroups = Vec::new();
    for i in 0..3 {
        let mut cg = MemoryCgroup::create_under(&rk.own, 32 * MIB).unwrap();
        let comm = format!("guardkill{i}");
        let p = cg
            .spawn(
                Command::new(&rk.hog)
                    .args(["--comm", &comm, "alloc", "--mib", "200", "--rate", "200"]),
            )
            .unwrap();
        let st = cg.wait_exit(p.pid, Duration::from_secs(30)).unwrap();
        assert!(killed_by_sigkill(st), "{comm}: {st:?}");
        killed.push((cg.path().to_string(), p.pid, comm));
        cgroups.push(cg);
    }
    wait_records(&store, Duration::from_secs(20), |recs| {
        killed.iter().all(|(c, p, _)| !of(recs, c, *p).is_empty())
    });
    // Give a duplicate time to show up before stopping.
    std::thread::sleep(Duration::from_secs(2));
    let lines = g.stop();
    let recs = records(&store);
    for (cgroup, pid, comm) in &killed {
        let hits = of(&recs, cgroup, *pid);
        assert_eq!(hits.len(), 1, "{cgroup} pid {pid}: {recs:#?}\n{lines:#?}");
        let r = &hits[0];
        assert_eq!(r.log_source, "kmsg");
        assert_eq!(
            r.incident.victim().and_then(|k| k.comm.as_deref()),
            Some(comm.as_str())
        );
        assert!(
            r.raw
                .iter()
                .any(|l| l.contains(&format!("Killed process {pid}"))),
            "{:#?}",
            r.raw
        );
        // Made after the guard's first walk, the cgroup is read at once for the record.
        assert_eq!(r.window.cgroups[0].path, *cgroup);
        let last = r.window.cgroups[0]
            .points
            .last()
            .expect("a point of the victim's cgroup");
        assert_eq!(last.max, Some(oomlens_model::Limit::Bytes(32 * MIB)));
        assert!(r
            .explanation_json
            .as_deref()
            .is_some_and(|j| j.contains("oomlens.")));
        // The report was read: no record of a kill without a report for this cgroup.
        let orphans = recs
            .iter()
            .filter(|r| {
                r.log_source == "counter" && r.incident.task_memcg.as_deref() == Some(cgroup)
            })
            .count();
        assert_eq!(orphans, 0, "{cgroup}");
    }
}

#[test]
fn a_killed_subprocess_is_recorded_with_sixty_seconds_of_its_cgroup_while_the_main_process_lives() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("guard-window").unwrap();
    let store = dir.path().join("store");
    let mut cg = MemoryCgroup::create_under(&rk.own, 48 * MIB).unwrap();
    let mut main = cg
        .spawn(Command::new(&rk.hog).args(["--comm", "guardmain", "hold", "--mib", "8"]))
        .unwrap();
    main.wait_line("ready", Duration::from_secs(10)).unwrap();
    let g = Guard::ready_on("kmsg", &rk.own.path, &store);
    std::thread::sleep(Duration::from_secs(66));
    // A short-lived job inside the same cgroup grows until the kernel kills it.
    let sub = cg
        .spawn(Command::new(&rk.hog).args([
            "--comm", "guardjob", "alloc", "--mib", "200", "--rate", "20",
        ]))
        .unwrap();
    let st = cg.wait_exit(sub.pid, Duration::from_secs(30)).unwrap();
    assert!(killed_by_sigkill(st), "{st:?}");
    let path = cg.path().to_string();
    let recs = wait_records(&store, Duration::from_secs(20), |recs| {
        !of(recs, &path, sub.pid).is_empty()
    });
    // The main process lives on in the cgroup.
    assert!(cg.procs().unwrap().contains(&main.pid));
    let lines = g.stop();
    let hits = of(&recs, &path, sub.pid);
    assert_eq!(hits.len(), 1, "{recs:#?}\n{lines:#?}");
    let w = &hits[0].window;
    let series = &w.cgroups[0];
    assert_eq!(series.path, path);
    let span = series.points.last().unwrap().unix - series.points.first().unwrap().unix;
    println!(
        "window of {path}: {span:.1} s, {} points",
        series.points.len()
    );
    assert!(span >= 60.0, "{span} s: {series:#?}");
    // Its usage reached the limit's neighbourhood before the kill.
    let peak = series.points.iter().filter_map(|p| p.usage).max().unwrap();
    assert!(peak >= 24 * MIB, "peak usage {peak}");
    let main_series = w
        .processes
        .iter()
        .find(|p| p.pid == main.pid)
        .expect("the main process");
    assert_eq!(main_series.comm, "guardmain");
    let main_span =
        main_series.points.last().unwrap().unix - main_series.points.first().unwrap().unix;
    assert!(main_span >= 60.0, "{main_span}");
    let job = w
        .processes
        .iter()
        .find(|p| p.pid == sub.pid)
        .expect("the killed job was sampled");
    assert_eq!(job.comm, "guardjob");
    assert!(
        job.points.iter().any(|p| p.anon.unwrap_or(0) >= 4 * MIB),
        "{job:#?}"
    );
    // The cgroup has a limit: it was watched, and its oom_control eventfd fired.
    assert!(
        hits[0]
            .signals
            .iter()
            .any(|s| s.source == "memory.oom_control" && s.cgroup == path),
        "{:#?}",
        hits[0].signals
    );
}

#[test]
fn a_kill_the_log_never_reports_is_recorded_from_the_cgroup_counter() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("guard-counted").unwrap();
    let store = dir.path().join("store");
    // The guard reads an empty file instead of the kernel log: the report never reaches it.
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let mut cg = MemoryCgroup::create_under(&rk.own, 32 * MIB).unwrap();
    let g = Guard::ready_on(log.to_str().unwrap(), &rk.own.path, &store);
    let p = cg
        .spawn(Command::new(&rk.hog).args([
            "--comm",
            "guardlost",
            "alloc",
            "--mib",
            "200",
            "--rate",
            "200",
        ]))
        .unwrap();
    let st = cg.wait_exit(p.pid, Duration::from_secs(30)).unwrap();
    assert!(killed_by_sigkill(st), "{st:?}");
    let path = cg.path().to_string();
    let counted = |recs: &[RecordedIncident]| {
        recs.iter()
            .filter(|r| {
                r.log_source == "counter" && r.incident.task_memcg.as_deref() == Some(&path)
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    // The grace for a report is 5 s.
    wait_records(&store, Duration::from_secs(20), |recs| {
        !counted(recs).is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    let lines = g.stop();
    let recs = counted(&records(&store));
    assert_eq!(recs.len(), 1, "{lines:#?}");
    let r = &recs[0];
    assert!(r.raw.is_empty());
    assert_eq!(r.incident.kills.len(), 1);
    assert_eq!(r.incident.kills[0].cgroup.as_deref(), Some(path.as_str()));
    assert_eq!(r.window.cgroups[0].path, path);
    assert!(
        r.signals
            .iter()
            .any(|s| s.cgroup == path && s.detail.contains("oom_kill=1")),
        "{:#?}",
        r.signals
    );
}
