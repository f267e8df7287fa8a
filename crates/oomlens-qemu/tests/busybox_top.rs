//! busybox guest, cgroup v2: `oomlens top --once --json --cgroup PATH` (schema oomlens.top/1)
//! read live against what the kernel counts: memory.high throttling (usage, the high limit,
//! PSI) and memory.events oom_kill, the latter matched one to one with `oomlens explain
//! --json` of the guest's kernel log.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use oomlens_qemu::guest::{self, incidents, kills, Cgroup, Hog};
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// `oomlens top --once --json ARGS`: asserts exit 0, saves the document as artifact
/// `<name>.json`, returns it.
fn top(name: &str, args: &[&str]) -> Value {
    let ran = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .args(["top", "--once", "--json"])
        .args(args)
        .run();
    ran.success();
    let out = ran.stdout;
    guest::save_artifact(&format!("{name}.json"), &out);
    let doc: Value =
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("top {args:?}: not JSON ({e})"));
    assert_eq!(doc["schema"], "oomlens.top/1");
    assert_eq!(doc["cgroup_version"], "v2");
    doc
}

/// The row of `path` in a top document.
fn row<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["cgroups"]
        .as_array()
        .expect("cgroups")
        .iter()
        .find(|c| c["path"] == path)
        .unwrap_or_else(|| panic!("no row for {path} in {doc}"))
}

/// `some ... total=N` of a memory.pressure file.
fn psi_some_total(text: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with("some "))
        .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("total=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no some total in {text:?}"))
}

/// `some avg10=X` of a memory.pressure file.
fn psi_some_avg10(text: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with("some "))
        .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("avg10=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no some avg10 in {text:?}"))
}

/// /h: memory.high 16 MiB, no swap. An 18 MiB allocator is throttled above memory.high
/// (reclaim and the over-high sleep), never OOM-killed. top shows /h at or above 16 MiB,
/// its limit as memory.high = 16 MiB, and memory pressure.
#[test]
fn top_sees_memory_high_throttling() {
    guest::require("busybox");
    let t0 = Instant::now();
    let h = Cgroup::create("/h");
    h.set("memory.high", "16M");
    h.set("memory.swap.max", "0");
    let mut hog = Hog::spawn(
        Some(&h),
        &["--comm", "high-hog", "alloc", "--mib", "18", "--sleep"],
    );
    let current = || h.get("memory.current").trim().parse::<u64>().unwrap();
    guest::wait_for(
        "/h at 16 MiB, over memory.high",
        Duration::from_secs(60),
        || current() >= 15 * MIB && h.events()["high"] > 0,
    );
    let t_high = t0.elapsed().as_secs_f64();
    // PSI averages are recomputed every 2 s: wait for the kernel's avg10 to show the stall.
    guest::wait_for(
        "/h memory.pressure some avg10 > 0",
        Duration::from_secs(20),
        || psi_some_avg10(&h.get("memory.pressure")) > 0.0,
    );
    let t_psi = t0.elapsed().as_secs_f64();
    let doc = top(
        "top-h",
        &["--cgroup", "/h", "--interval", "0.5", "--samples", "3"],
    );
    let t_top = t0.elapsed().as_secs_f64();
    let events = h.events();
    let pressure = h.get("memory.pressure");
    let r = row(&doc, "/h");
    println!(
        "over high after {t_high:.1} s, PSI avg10 > 0 at {t_psi:.1} s, top done at {t_top:.1} s; hog alive {}; \
         /h memory.current {} memory.events {events:?}; memory.pressure {:?}",
        hog.alive(),
        current(),
        pressure.trim()
    );
    println!(
        "top /h: usage {} limit {} ({}) psi_some_avg10 {} oom_kill {} anon {} trend {}",
        r["usage"],
        r["limit"],
        r["limit_name"],
        r["psi_some_avg10"],
        r["oom_kill"],
        r["anon"],
        r["trend"]
    );
    assert!(hog.alive(), "memory.high never kills");
    assert!(events["high"] > 0, "memory.events high {events:?}");
    assert_eq!(events["oom_kill"], 0);
    assert_eq!(events["oom"], 0);
    let usage = r["usage"].as_u64().expect("usage");
    assert!(
        usage >= 15 * MIB,
        "usage {usage} at or above ~16 MiB (memory.high)"
    );
    assert!(usage <= 19 * MIB, "usage {usage}: 18 MiB and a little");
    assert_eq!(r["limit"], 16 * MIB, "the high limit");
    assert_eq!(r["limit_name"], "memory.high of /h");
    assert_eq!(r["oom_kill"], 0);
    assert!(
        psi_some_total(&pressure) > 0,
        "memory.pressure {pressure:?}"
    );
    let avg10 = r["psi_some_avg10"].as_f64().expect("psi_some_avg10 for /h");
    assert!(avg10 > 0.0, "top's psi_some_avg10 for /h: {avg10}");
    hog.kill();
}

/// /e: memory.max 32 MiB, no swap. Two allocators, one after the other, are OOM-killed.
/// top reports oom_kill 2 for /e; explain finds exactly 2 incidents in /e, killing them.
#[test]
fn top_oom_kill_counter_matches_explain() {
    guest::require("busybox");
    let t0 = Instant::now();
    let e = Cgroup::create("/e");
    e.set("memory.max", "32M");
    e.set("memory.swap.max", "0");
    let mut pids = BTreeSet::new();
    for n in 1..=2 {
        let comm = format!("e-hog-{n}");
        let mut hog = Hog::spawn(Some(&e), &["--comm", &comm, "alloc", "--mib", "128"]);
        let st = hog.wait(Duration::from_secs(120));
        assert_eq!(st.signal(), Some(9), "{comm}: {}", guest::describe(st));
        pids.insert(hog.pid as u64);
    }
    let t_kills = t0.elapsed().as_secs_f64();
    let events = e.events();
    let doc = top(
        "top-e",
        &["--cgroup", "/e", "--interval", "0.2", "--samples", "1"],
    );
    let r = row(&doc, "/e");
    let log = guest::kmsg();
    let ex = guest::explain_log("kmsg-top-e.txt", &log);
    let ours: Vec<&Value> = incidents(&ex)
        .iter()
        .filter(|i| i["task_memcg"] == "/e")
        .collect();
    println!(
        "2 kills after {t_kills:.1} s; /e memory.events {events:?}; top /e oom_kill {} usage {} \
         limit {} ({}); explain: {} incident(s) in /e: {:?}",
        r["oom_kill"],
        r["usage"],
        r["limit"],
        r["limit_name"],
        ours.len(),
        ours.iter().map(|i| kills(i)).collect::<Vec<_>>()
    );
    assert_eq!(events["oom_kill"], 2);
    assert_eq!(r["oom_kill"], 2, "top's oom_kill for /e");
    assert_eq!(r["limit"], 32 * MIB);
    assert_eq!(r["limit_name"], "memory.max of /e");
    assert_eq!(ours.len(), 2, "exactly 2 incidents with task_memcg /e");
    let killed: BTreeSet<u64> = ours
        .iter()
        .flat_map(|i| kills(i).into_iter().map(|k| k.0))
        .collect();
    assert_eq!(killed, pids, "the two hogs");
    for i in &ours {
        assert_eq!(kills(i).len(), 1);
        assert_eq!(i["kind"], "memcg");
        assert_eq!(i["oom_memcg"], "/e");
    }
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}
