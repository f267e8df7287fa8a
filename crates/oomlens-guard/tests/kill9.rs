//! kill -9 of the guard at random points while it writes, over a hundred times: the store
//! always opens, every record in it reads and decodes, record ids stay contiguous, every
//! record the guard reported as written (its `recorded incident ID` line, printed after the
//! append returned) is there with the same victim, and at most one record more than it
//! reported (the one in flight) — so a kill loses at most the last record.
//!
//! The guard follows a generated log (oomlens-testkit's generator: kernel noise with real
//! corpus reports every few KiB) from its start, so it records continuously; each run
//! starts again on the same store (repairing a torn tail if the kill left one). The
//! /proc and /sys tree is a fake one, so the test needs no privileges.

mod common;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use oomlens_store::recorder::Reader;
use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::loggen::{Corpus, Generator, LogForm, Options, Rng};

const KILLS: usize = 110;

/// (id, victim pid) of each `recorded incident ID: COMM pid PID in CGROUP` line.
fn acknowledged(stderr: &str) -> Vec<(u64, Option<u32>)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("oomlens guard: recorded incident ")?;
            let (id, rest) = rest.split_once(':')?;
            let pid = rest.split(" pid ").nth(1)?.split_whitespace().next()?;
            Some((id.parse().ok()?, pid.parse().ok()))
        })
        .collect()
}

#[test]
fn kill_9_at_random_points_never_loses_more_than_the_record_in_flight() {
    let dir = TempDir::new("guard-kill9").unwrap();
    let corpus = Corpus::load_default().unwrap();
    let mut gen = Generator::new(
        &corpus,
        Options {
            form: LogForm::Dmesg,
            size: 6 << 20,
            report_every: 12 << 10,
            seed: 9,
            ..Options::default()
        },
    )
    .unwrap();
    let log = dir.path().join("kern.log");
    std::io::copy(&mut gen, &mut File::create(&log).unwrap()).unwrap();
    let first_victim = gen.stats().inserted[0].victim_pid;
    assert!(gen.stats().reports > 300, "{:?}", gen.stats().reports);

    let tree = FakeTree::new("guard-kill9-tree");
    tree.mount_v1_memory().meminfo(1 << 20, 1 << 19, 1 << 19);
    tree.cgroup_v1("").limit(None).usage(1 << 20);

    let store = dir.path().join("store");
    let mut rng = Rng::new(14);
    let (mut total, mut runs_writing, mut max_in_run) = (0u64, 0usize, 0usize);
    for run in 0..KILLS {
        let err_path = dir.path().join(format!("stderr-{run}"));
        let mut child = Command::new(common::guard_bin())
            .args(["--no-metrics", "--interval", "100ms", "--log"])
            .arg(&log)
            .arg("--state-dir")
            .arg(&store)
            .arg("--root")
            .arg(tree.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.range(20, 400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let stderr = std::fs::read_to_string(&err_path).unwrap();
        let acked = acknowledged(&stderr);

        let reader = Reader::open(&store).unwrap_or_else(|e| panic!("run {run}: {e}"));
        let mut ids = Vec::new();
        let mut pids = std::collections::HashMap::new();
        for rec in reader.iter() {
            let rec = rec.unwrap_or_else(|e| panic!("run {run}: a damaged record: {e}"));
            let inc: oomlens_model::recorded::RecordedIncident =
                serde_json::from_slice(&rec.payload)
                    .unwrap_or_else(|e| panic!("run {run}: record {}: {e}", rec.id));
            if rec.id >= total {
                pids.insert(rec.id, inc.incident.victim().and_then(|k| k.pid));
            }
            ids.push(rec.id);
        }
        let expect_ids: Vec<u64> = (0..ids.len() as u64).collect();
        assert_eq!(ids, expect_ids, "run {run}: ids must stay contiguous");
        let new = ids.len() as u64 - total;
        let k = acked.len() as u64;
        assert!(
            new == k || new == k + 1,
            "run {run}: {k} record(s) acknowledged, {new} in the store:\n{stderr}"
        );
        for (i, (id, pid)) in acked.iter().enumerate() {
            assert_eq!(*id, total + i as u64, "run {run}: {stderr}");
            assert_eq!(pids.get(id), Some(pid), "run {run}: record {id}");
        }
        // Each run reads the log from its start: its first record is the first report.
        if new > 0 {
            assert_eq!(pids[&total], first_victim, "run {run}");
            runs_writing += 1;
        }
        max_in_run = max_in_run.max(new as usize);
        total = ids.len() as u64;
    }
    println!(
        "{KILLS} kills, {runs_writing} while writing, {total} records, up to {max_in_run} per run"
    );
    assert!(
        runs_writing >= KILLS / 2,
        "too few kills landed while writing"
    );
}
