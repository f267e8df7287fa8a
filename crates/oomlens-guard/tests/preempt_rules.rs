//! Pre-emption joined with the rest of the configuration, on the real kernel (v1 child
//! memory cgroups under ours, as `preempt_sibling.rs`): a `[[protect]]` rule keeps its
//! processes out of the guard's reach (whether or not its adj write succeeded: here a
//! negative adj cannot be written), `on = ["preempt"]` hooks get the decision, and SIGHUP
//! adds, changes and removes policies.
//!
//! Sizes: limit 128 MiB, a steady 80 MiB main process, a leaker allocating up to 200 MiB.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Guard;
use oomlens_testkit::cgroup_v1::{MemoryCgroup, Proc};
use oomlens_testkit::fs::TempDir;

const MIB: u64 = 1 << 20;
const LIMIT: u64 = 128 * MIB;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// The threshold the guard arms at, computed as the kernel is told it.
fn threshold(share: f64) -> u64 {
    (LIMIT as f64 * share) as u64
}

fn main_process(rk: &oomlens_testkit::RealKernel, cg: &mut MemoryCgroup) -> Proc {
    let mut main = cg
        .spawn(Command::new(&rk.hog).args(["--comm", "sibmain", "hold", "--mib", "80"]))
        .unwrap();
    main.wait_line("ready", Duration::from_secs(30)).unwrap();
    main
}

fn leaker(rk: &oomlens_testkit::RealKernel, cg: &mut MemoryCgroup) -> Proc {
    cg.spawn(Command::new(&rk.hog).args([
        "--comm",
        "sibleak",
        "alloc",
        "--mib",
        "200",
        "--rate",
        "50",
        "--sleep",
        "--stamp-term",
    ]))
    .unwrap()
}

fn guard(dir: &Path, rk: &oomlens_testkit::RealKernel, config: &Path) -> Guard {
    let log = dir.join("empty.log");
    std::fs::write(&log, "").unwrap();
    let store = dir.join("store");
    let mut g = Guard::start(&[
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
    ]);
    g.wait_for("ready", Duration::from_secs(30));
    // Two passes: the main process is sampled before the leak starts.
    std::thread::sleep(Duration::from_millis(300));
    g
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The guard's eventfds (`/proc/PID/fd` links to `anon_inode:[eventfd]`).
fn eventfds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .is_ok_and(|l| l.to_string_lossy() == "anon_inode:[eventfd]")
        })
        .count()
}

fn hup(g: &Guard) {
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(g.pid() as i32, libc::SIGHUP) }, 0);
}

/// Waits for the `n`-th line (1-based) holding `needle`.
fn wait_nth(g: &mut Guard, needle: &str, n: usize) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let hits: Vec<String> = g
            .lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect();
        if hits.len() >= n {
            return hits[n - 1].clone();
        }
        assert!(
            Instant::now() < end,
            "no {n}th {needle:?}: {:#?}",
            g.lines()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The fastest-growing process matches a `[[protect]]` rule with a negative adj (which this
/// container cannot even write): the guard never signals it and takes the other process;
/// the decision names the protected pid and its rule, and a `preempt` hook gets the
/// decision's record on stdin and its fields in the environment. When the leaker, alone,
/// crosses the threshold again (rate limit 0.5 s), the guard refuses and says why; the kernel
/// then kills it.
#[test]
fn a_protected_leaker_is_never_preempted_and_the_hook_gets_the_decision() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("preempt-rules").unwrap();
    let out = dir.path().join("hook-out");
    let hook = dir.path().join("hook");
    // Run directly by the guard (execve of its path); the interpreter line is the kernel's.
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat > {0}.stdin\nenv > {0}.env.tmp\nmv {0}.env.tmp {0}.env\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cg = MemoryCgroup::create_under(&rk.own, LIMIT).unwrap();
    let config = dir.path().join("guard.toml");
    std::fs::write(
        &config,
        format!(
            "[[protect]]\nname = \"leaker\"\ncomm = \"sibleak\"\ncgroup = \"{cg}\"\nadj = -500\n\n\
             [[preempt]]\nname = \"sib\"\ncgroup = \"{cg}\"\nshare = 0.8\ngrace-secs = 2.0\n\
             rate-limit-secs = 0.5\n\n\
             [[hook]]\nname = \"capture\"\non = [\"preempt\"]\nargv = [\"{hook}\"]\n",
            cg = cg.path(),
            hook = hook.display()
        ),
    )
    .unwrap();
    let main = main_process(rk, &mut cg);
    let g = guard(dir.path(), rk, &config);
    let mut leak = leaker(rk, &mut cg);
    // The guard signals the main process (the only candidate left); the kernel then kills
    // the leaker when it reaches the limit alone.
    wait_until("a process to be stopped", Duration::from_secs(30), || {
        !alive(main.pid) || !alive(leak.pid)
    });
    wait_until("the leaker's end", Duration::from_secs(30), || {
        !alive(leak.pid)
    });
    let env_file = out.with_extension("env");
    wait_until("the hook's output", Duration::from_secs(10), || {
        env_file.exists()
    });
    let _ = leak.wait_line("sigterm", Duration::from_millis(200));
    let lines = g.lines();
    let lines = {
        drop(g);
        lines
    };
    assert!(
        !leak.seen.iter().any(|l| l.starts_with("sigterm")),
        "the protected leaker got SIGTERM: {:?}",
        leak.seen
    );
    let line = lines
        .iter()
        .find(|l| l.starts_with("oomlens guard: OOM preempt pid "))
        .unwrap_or_else(|| panic!("no decision: {lines:#?}"));
    assert!(
        line.starts_with(&format!(
            "oomlens guard: OOM preempt pid {} (sibmain) in {}: result signalled, signal SIGTERM,",
            main.pid,
            cg.path()
        )),
        "{line}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with(&format!("oomlens guard: OOM preempt pid {} ", leak.pid))),
        "{lines:#?}"
    );
    // Alone over the threshold again: refused, with the protected pid and its rule.
    let refusal = lines
        .iter()
        .find(|l| l.contains("and no process may be signalled"))
        .unwrap_or_else(|| panic!("no refusal: {lines:#?}"));
    assert!(
        refusal.starts_with(&format!("oomlens guard: preempt: {}: usage ", cg.path()))
            && refusal.ends_with(&format!(
                "1 processes, set aside: init 0, guard 0, kernel threads 0, protected 1, empty 0; protected: {} (sibleak, rule leaker)",
                leak.pid
            )),
        "{refusal}"
    );
    // The rule's adj write: refused here (no CAP_SYS_RESOURCE), or done where it can be.
    if let Some(w) = lines.iter().find(|l| l.contains("protect: leaker: pid")) {
        eprintln!("the adj write: {w}");
    }
    // The record: the protected process and its rule with the numbers.
    let recs = common::records(&dir.path().join("store"));
    let r = recs
        .iter()
        .find(|r| r.incident.kind == Some(oomlens_model::Kind::OomlensGuard))
        .expect("a pre-emption record");
    let dj = r.decision_json.as_deref().expect("decision_json");
    let d: serde_json::Value = serde_json::from_str(dj).unwrap();
    assert_eq!(d["decision"]["verdict"]["pid"], main.pid);
    assert_eq!(d["decision"]["numbers"]["excluded"]["protected"], 1, "{d}");
    assert_eq!(
        d["protected"],
        serde_json::json!([{"pid": leak.pid, "comm": "sibleak", "rule": "leaker"}]),
        "{d}"
    );
    // The hook: stdin is that record, the environment its fields.
    let stdin: oomlens_model::recorded::RecordedIncident =
        serde_json::from_slice(&std::fs::read(out.with_extension("stdin")).unwrap()).unwrap();
    assert_eq!(stdin.decision_json.as_deref(), Some(dj));
    assert_eq!(stdin.incident.victim().and_then(|k| k.pid), Some(main.pid));
    let env = std::fs::read_to_string(&env_file).unwrap();
    let var = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    assert_eq!(var("OOMLENS_HOOK").as_deref(), Some("capture"));
    assert_eq!(var("OOMLENS_KIND").as_deref(), Some("oomlens-guard"));
    assert_eq!(var("OOMLENS_PID"), Some(main.pid.to_string()));
    assert_eq!(var("OOMLENS_COMM").as_deref(), Some("sibmain"));
    assert_eq!(var("OOMLENS_CGROUP").as_deref(), Some(cg.path()));
    assert_eq!(var("OOMLENS_POLICY").as_deref(), Some("sib"));
    assert_eq!(var("OOMLENS_RESULT").as_deref(), Some("signalled"));
    assert!(
        var("OOMLENS_INCIDENT_ID").is_some_and(|v| v.parse::<u64>().is_ok()),
        "{env}"
    );
}

/// SIGHUP brings the first policy, changes its share (a new threshold, the old eventfd
/// closed), keeps it through a bad file, and the leaker is then pre-empted at the new share;
/// a file without the policy closes its threshold.
#[test]
fn sighup_adds_changes_keeps_and_removes_a_policy() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("preempt-reload").unwrap();
    let mut cg = MemoryCgroup::create_under(&rk.own, LIMIT).unwrap();
    let config = dir.path().join("guard.toml");
    let cg_path = cg.path().to_string();
    let policy = |share: f64| {
        format!(
            "[[preempt]]\nname = \"sib\"\ncgroup = \"{cg_path}\"\nshare = {share}\ngrace-secs = 2.0\n"
        )
    };
    std::fs::write(&config, "[guard]\nrescan = \"5m\"\n").unwrap();
    let main = main_process(rk, &mut cg);
    let mut g = guard(dir.path(), rk, &config);
    let base = eventfds(g.pid());
    let armed = |share: f64| format!("armed at {} bytes", threshold(share));

    std::fs::write(&config, policy(0.9)).unwrap();
    hup(&g);
    wait_nth(&mut g, &armed(0.9), 1);
    assert_eq!(eventfds(g.pid()), base + 1);

    std::fs::write(&config, policy(0.8)).unwrap();
    hup(&g);
    wait_nth(&mut g, &armed(0.8), 1);
    // The 0.9 threshold's eventfd is closed, not leaked.
    assert_eq!(eventfds(g.pid()), base + 1);

    std::fs::write(&config, "[[preempt]]\ncgroup = \"/x\"\nshare = 2\n").unwrap();
    hup(&g);
    wait_nth(&mut g, "reload refused", 1);

    let mut leak = leaker(rk, &mut cg);
    leak.wait_line("sigterm", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("the leaker was not stopped ({e}): {:#?}", g.lines()));
    assert!(alive(main.pid), "the main process died");
    let line = wait_nth(&mut g, "oomlens guard: OOM preempt pid ", 1);
    assert!(
        line.contains(&format!(
            "pid {} (sibleak) in {}: result signalled, signal SIGTERM,",
            leak.pid,
            cg.path()
        )) && line.contains(&format!(", threshold {}, ", threshold(0.8))),
        "{line}"
    );

    std::fs::write(&config, "[guard]\nrescan = \"5m\"\n").unwrap();
    hup(&g);
    wait_nth(&mut g, "no longer matched: its threshold closed", 1);
    assert_eq!(eventfds(g.pid()), base);
    let lines = g.stop();
    // Two policies' thresholds armed in all (0.9 and 0.8): the refused file armed nothing.
    assert_eq!(
        lines.iter().filter(|l| l.contains(" armed at ")).count(),
        2,
        "{lines:#?}"
    );
}
