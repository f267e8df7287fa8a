//! The innocent-sibling scenario on the real kernel (v1 child memory cgroups under ours): a
//! limited cgroup holds a big steady main process and a smaller one that leaks at 10, 50 or
//! 500 MiB/s. The kernel alone kills the main process (it is the largest); with the guard and a
//! `[[preempt]]` policy on the cgroup, the leaker gets SIGTERM before the kernel's OOM killer
//! acts and the main process survives.
//!
//! Sizes: limit 128 MiB, main 80 MiB, the leaker up to 200 MiB; the policy arms at 0.8 of the
//! limit (102.4 MiB, the leaker at about 20 MiB), the kernel's OOM comes with the leaker at
//! about 46 MiB, when it is still smaller than the main process.
//!
//! Each test runs `OOMLENS_PREEMPT_RUNS` runs per rate (default 3, to keep the suite's time;
//! `bench/preempt.sh` runs 20). The `#[ignore]`d `table` prints one JSON line per run for the
//! bench (`OOMLENS_PREEMPT_MODE`: kernel, guard, earlyoom or nohang).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Guard;
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::TempDir;

const MIB: u64 = 1 << 20;
const LIMIT_MIB: u64 = 128;
const MAIN_MIB: u64 = 80;
const SHARE: f64 = 0.8;

/// What one run ended with.
#[derive(Debug)]
struct Outcome {
    main_survived: bool,
    /// The leaker's SIGTERM handler ran (the guard or a userspace killer's TERM).
    leaker_terminated: bool,
    /// The cgroup's `oom_kill` count (kernel kills in it).
    kernel_kills: u64,
    /// CLOCK_MONOTONIC ms from the start of the MiB during which the cgroup's usage crossed
    /// the policy's threshold (read by the leaker after each MiB) to its SIGTERM handler: an
    /// upper bound of threshold crossed -> signal received (by at most one MiB's fill).
    crossed_to_sigterm_ms: Option<f64>,
    /// CLOCK_MONOTONIC ms from the same crossing to the guard's pidfd_send_signal (its
    /// record's `signalled_mono`): threshold crossed -> signal sent.
    crossed_to_sent_ms: Option<f64>,
    /// The guard printed its pre-emption line.
    guard_line: bool,
    /// The guard's own measure: eventfd read -> signal sent, ms (`None` when a pass saw
    /// the crossing first).
    guard_latency_ms: Option<f64>,
    /// With a peer killer: it was still running at the end of the run (else its column
    /// would mean nothing).
    peer_alive: Option<bool>,
}

fn runs() -> usize {
    std::env::var("OOMLENS_PREEMPT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn oom_kills(cg: &MemoryCgroup) -> u64 {
    cg.read("memory.oom_control")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        .unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// A userspace killer other than the guard, as pid 1 of its own pid namespace (`unshare
/// --pid --fork --mount-proc`): it sees only the processes of the run, which are started into
/// that namespace with `nsenter`, and never the rest of the machine. It reads the host's
/// /proc/meminfo, not the cgroup's limit. Returns the `unshare` child and the peer's host pid.
fn peer(mode: &str) -> Option<(Peer, u32)> {
    let argv: Vec<&str> = match mode {
        "earlyoom" => vec!["earlyoom", "-r", "0"],
        "nohang" => vec!["nohang", "--monitor", "--config", "/etc/nohang/nohang.conf"],
        _ => return None,
    };
    let child = Peer(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(argv)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the peer killer"),
    );
    let children = format!("/proc/{0}/task/{0}/children", child.0.id());
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            // Let it start (nohang, in Python, takes a while).
            std::thread::sleep(Duration::from_millis(1500));
            return Some((child, pid));
        }
        assert!(Instant::now() < end, "{mode} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The peer's `unshare`; killed (and with it the namespace's pid 1, so every process of the
/// namespace) and reaped on drop.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hog ARGS`, or `nsenter -t NS -p -- hog ARGS` into a peer's pid namespace.
fn hog(rk: &oomlens_testkit::RealKernel, ns: Option<u32>, args: &[&str]) -> Command {
    match ns {
        None => {
            let mut c = Command::new(&rk.hog);
            c.args(args);
            c
        }
        Some(pid) => {
            let mut c = Command::new("nsenter");
            c.args(["-t", &pid.to_string(), "-p", "--"])
                .arg(&rk.hog)
                .args(args);
            c
        }
    }
}

fn one_run(rk: &oomlens_testkit::RealKernel, mode: &str, rate: u64, dir: &Path) -> Outcome {
    let mut cg = MemoryCgroup::create_under(&rk.own, LIMIT_MIB * MIB).unwrap();
    let other = peer(mode);
    let ns = other.as_ref().map(|o| o.1);
    let mut main = cg
        .spawn(&mut hog(
            rk,
            ns,
            &["--comm", "sibmain", "hold", "--mib", &MAIN_MIB.to_string()],
        ))
        .unwrap();
    main.wait_line("ready", Duration::from_secs(30)).unwrap();
    let mut guard = None;
    let store = dir.join("store");
    if mode.starts_with("guard") {
        let config = dir.join("guard.toml");
        std::fs::write(
            &config,
            format!(
                "[[preempt]]\ncgroup = \"{}\"\nshare = {SHARE}\ngrace-secs = 2.0\n",
                cg.path()
            ),
        )
        .unwrap();
        let log = dir.join("empty.log");
        std::fs::write(&log, "").unwrap();
        let args = [
            "--log",
            log.to_str().unwrap(),
            "--cgroup",
            &rk.own.path,
            "--state-dir",
            store.to_str().unwrap(),
            "--interval",
            "100ms",
            "--config",
            config.to_str().unwrap(),
            "--no-metrics",
        ];
        // guard-fifo (bench only): the guard under SCHED_FIFO, to tell its own wake-up
        // delay on a loaded machine from the rest.
        let mut cmd = if mode == "guard-fifo" {
            let mut c = Command::new("chrt");
            c.args(["-f", "50"]).arg(common::guard_bin());
            c
        } else {
            Command::new(common::guard_bin())
        };
        cmd.args(args);
        if mode == "guard-dry-run" {
            cmd.arg("--dry-run");
        }
        let mut g = Guard::spawn(cmd);
        g.wait_for("ready", Duration::from_secs(30));
        // Two passes: the main process is sampled (its baseline) before the leak starts.
        std::thread::sleep(Duration::from_millis(300));
        guard = Some(g);
    }
    let threshold = ((LIMIT_MIB * MIB) as f64 * SHARE) as u64;
    let stamp = format!(
        "{}:{threshold}",
        cg.dir().join("memory.usage_in_bytes").display()
    );
    let mut leak = cg
        .spawn(&mut hog(
            rk,
            ns,
            &[
                "--comm",
                "sibleak",
                "alloc",
                "--mib",
                "200",
                "--rate",
                &rate.to_string(),
                "--sleep",
                "--stamp-usage",
                &stamp,
                "--stamp-term",
            ],
        ))
        .unwrap();
    // The leaker ends one way or another: TERM (handler), or the kernel's SIGKILL; or the
    // main process dies first and the leaker then holds its 200 MiB.
    let end = Instant::now() + Duration::from_secs(200 / rate + 30);
    loop {
        if leak.seen.iter().any(|l| l.starts_with("sigterm"))
            || !alive(leak.pid)
            || !alive(main.pid)
        {
            break;
        }
        let _ = leak.wait_line("sigterm", Duration::from_millis(20));
        assert!(Instant::now() < end, "run did not end: {:?}", leak.seen);
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = leak.wait_line("sigterm", Duration::from_millis(1));
    let words = |p: &str| -> Vec<u64> {
        leak.seen
            .iter()
            .find_map(|l| l.strip_prefix(p))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // The crossing: printed after its MiB, or (SIGTERM came within that MiB) the MiB in flight.
    let term_words = words("sigterm ");
    let term = term_words.first().copied();
    let crossed = words("crossed ")
        .first()
        .copied()
        .or(term_words.get(1).copied());
    let mut dry_run_seen = false;
    let (mut line_seen, mut dry_line) = (false, false);
    let guard_latency_ms = guard.take().and_then(|g| {
        let lines = g.stop();
        lines.iter().find_map(|l| {
            let l = l.strip_prefix("oomlens guard: OOM preempt pid ")?;
            eprintln!("the guard's line: oomlens guard: OOM preempt pid {l}");
            line_seen = true;
            if mode == "guard-dry-run" {
                assert!(l.contains(": result dry-run, signal none,"), "{l}");
                dry_line = true;
                return None;
            }
            assert!(
                l.starts_with(&format!(
                    "{} (sibleak) in {}: result signalled, signal SIGTERM,",
                    leak.pid,
                    cg.path()
                )),
                "{l}"
            );
            // `oomlens explain` reads the guard's real line as a killer's.
            let full = format!("oomlens guard: OOM preempt pid {l}\n");
            let incs = oomlens_parse::parse_bytes(full.as_bytes(), Default::default());
            assert_eq!(incs.len(), 1, "{full}");
            let k = &incs[0].kills[0];
            assert_eq!(incs[0].kind, Some(oomlens_model::Kind::OomlensGuard));
            assert_eq!(
                (
                    k.pid,
                    k.comm.as_deref(),
                    k.cgroup.as_deref(),
                    k.signal.as_deref()
                ),
                (
                    Some(leak.pid),
                    Some("sibleak"),
                    Some(cg.path()),
                    Some("SIGTERM")
                )
            );
            assert_eq!(k.outcome.as_deref(), Some("signalled"));
            // No latency when a pass saw the crossing before the threshold's eventfd.
            let ms = l.split_once(", latency-ms ")?.1.split(',').next()?;
            ms.parse::<f64>().ok()
        })
    });
    let mut sent_mono = None;
    if dry_line {
        // --dry-run: the decision is recorded, nothing was signalled.
        let recs = common::records(&store);
        let r = recs
            .iter()
            .find(|r| r.incident.kind == Some(oomlens_model::Kind::OomlensGuard))
            .expect("a dry-run record");
        let d: serde_json::Value =
            serde_json::from_str(r.decision_json.as_deref().unwrap()).unwrap();
        assert_eq!(d["result"], "dry-run");
        assert_eq!(d["decision"]["verdict"]["pid"], leak.pid);
        assert!(d["signalled_mono"].is_null());
        dry_run_seen = true;
    } else if line_seen {
        // The decision is an incident of its own kind in the recorder, with its numbers.
        let recs = common::records(&store);
        let r = recs
            .iter()
            .find(|r| r.incident.kind == Some(oomlens_model::Kind::OomlensGuard))
            .expect("a pre-emption record");
        assert_eq!(r.log_source, "oomlens-guard");
        assert_eq!(r.incident.victim().and_then(|k| k.pid), Some(leak.pid));
        let d: serde_json::Value =
            serde_json::from_str(r.decision_json.as_deref().expect("decision_json")).unwrap();
        assert_eq!(d["result"], "signalled");
        assert_eq!(d["decision"]["verdict"]["verdict"], "act");
        assert_eq!(d["decision"]["verdict"]["pid"], leak.pid);
        let n = &d["decision"]["numbers"];
        assert!(
            n["usage"].as_u64().unwrap() >= n["threshold"].as_u64().unwrap(),
            "{d}"
        );
        assert_eq!(n["line"].as_u64(), Some(LIMIT_MIB * MIB));
        sent_mono = d["signalled_mono"].as_f64();
    }
    let main_survived = alive(main.pid);
    let peer_alive = other.as_ref().map(|(_, pid)| alive(*pid));
    // Only now: the namespace's processes die with its pid 1.
    drop(other);
    assert!(
        mode != "guard-dry-run" || dry_run_seen,
        "no dry-run decision"
    );
    Outcome {
        main_survived,
        leaker_terminated: term.is_some(),
        kernel_kills: oom_kills(&cg),
        crossed_to_sigterm_ms: crossed.zip(term).map(|(c, t)| (t as f64 - c as f64) / 1e6),
        crossed_to_sent_ms: crossed
            .zip(sent_mono)
            .map(|(c, s)| s * 1e3 - c as f64 / 1e6),
        guard_line: line_seen,
        guard_latency_ms,
        peer_alive,
    }
}

fn scenario(rate: u64) {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("preempt-sibling").unwrap();
    // The kernel alone: the main process, the largest, is killed.
    let k = one_run(rk, "kernel", rate, dir.path());
    assert!(
        !k.main_survived && k.kernel_kills >= 1 && !k.leaker_terminated,
        "{k:?}"
    );
    let n = runs();
    let mut survived = 0;
    for i in 0..n {
        let run = dir.path().join(format!("run{i}"));
        std::fs::create_dir_all(&run).unwrap();
        let o = one_run(rk, "guard", rate, &run);
        eprintln!("{rate} MiB/s run {i}: {o:?}");
        assert!(
            o.leaker_terminated,
            "the guard did not stop the leaker: {o:?}"
        );
        assert!(o.guard_line, "no guard line: {o:?}");
        if o.main_survived && o.kernel_kills == 0 {
            survived += 1;
        }
    }
    // >= 19 of 20 in the bench; here every run of the few.
    assert_eq!(
        survived, n,
        "main survived {survived} of {n} runs at {rate} MiB/s"
    );
}

/// `--dry-run`: the guard decides on the leaker and records the decision, and never
/// signals: the kernel then kills the main process as without it.
#[test]
fn dry_run_decides_and_records_but_never_signals() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("preempt-dry-run").unwrap();
    let o = one_run(rk, "guard-dry-run", 50, dir.path());
    assert!(!o.leaker_terminated, "{o:?}");
    assert!(!o.main_survived && o.kernel_kills >= 1, "{o:?}");
}

#[test]
fn leaking_10_mib_per_second() {
    scenario(10);
}

#[test]
fn leaking_50_mib_per_second() {
    scenario(50);
}

#[test]
fn leaking_500_mib_per_second() {
    scenario(500);
}

/// For `bench/preempt.sh`: one JSON line per run on stdout.
#[test]
#[ignore]
fn table() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mode = std::env::var("OOMLENS_PREEMPT_MODE").unwrap_or_else(|_| "guard".into());
    let rates: Vec<u64> = std::env::var("OOMLENS_PREEMPT_RATES")
        .unwrap_or_else(|_| "10,50,500".into())
        .split(',')
        .map(|r| r.parse().unwrap())
        .collect();
    let dir = TempDir::new("preempt-table").unwrap();
    for rate in rates {
        for i in 0..runs() {
            let run = dir.path().join(format!("{rate}-{i}"));
            std::fs::create_dir_all(&run).unwrap();
            let o = one_run(rk, &mode, rate, &run);
            println!(
                "{{\"mode\":\"{mode}\",\"rate\":{rate},\"run\":{i},\"main_survived\":{},\"leaker_terminated\":{},\"kernel_kills\":{},\"crossed_to_sigterm_ms\":{},\"crossed_to_sent_ms\":{},\"guard_latency_ms\":{},\"peer_alive\":{}}}",
                o.main_survived,
                o.leaker_terminated,
                o.kernel_kills,
                o.crossed_to_sigterm_ms.map_or("null".into(), |v| v.to_string()),
                o.crossed_to_sent_ms.map_or("null".into(), |v| v.to_string()),
                o.guard_latency_ms.map_or("null".into(), |v| v.to_string()),
                o.peer_alive.map_or("null".into(), |v| v.to_string()),
            );
        }
    }
}
