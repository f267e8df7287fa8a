//! A daemon explaining incidents for months: a million kills, each of a container never
//! seen before (a new container id per restart), among them four units that keep being
//! killed. The explainer's owner history must stay within its cap, its memory flat, and
//! the steady units' loops must still be reported right at the end.
//!
//! The incidents are synthetic (built in code, not parsed from a log): what is tested is
//! the history's bookkeeping, which reads only the owner, host, time and victim size.
//!
//! This file holds one test so that the process's RSS is this test's alone.

use std::time::Instant;

use oomlens_analysis::explain::{Explainer, Explanation, MAX_OWNERS};
use oomlens_testkit::incidents::memcg_kill as kill;

const N: u64 = 1_000_000;

/// The steady units: name, kill period and offset in incidents (one incident a second).
/// Periods and offsets are chosen so that no two units share an incident (each pair's
/// offsets differ modulo the gcd of their periods: 100 or 1000).
const LEAKY: (&str, u64, u64) = ("leaky.service", 1000, 1);
const BATCH: (&str, u64, u64) = ("batch.service", 700, 2);
/// Killed every 4000 incidents: fewer than 4096 other owners between two kills, so it
/// stays in the history.
const RARE: (&str, u64, u64) = ("rare.service", 4000, 3);
/// Killed every 5000 incidents: more than 4096 other owners between two kills, so the cap
/// has evicted it each time: its loop is lost, by design of the bound.
const TOO_RARE: (&str, u64, u64) = ("too-rare.service", 5000, 4);

fn unit_at(i: u64) -> Option<&'static str> {
    [LEAKY, BATCH, RARE, TOO_RARE]
        .into_iter()
        .find(|(_, p, o)| i % p == *o)
        .map(|(u, _, _)| u)
}

/// Kills of a unit with this period and offset among incidents 0..N.
fn kills_of((_, p, o): (&str, u64, u64)) -> usize {
    ((N - 1 - o) / p + 1) as usize
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn codes(e: &Explanation) -> Vec<&'static str> {
    e.findings.iter().map(|f| f.code).collect()
}

#[test]
fn a_million_new_containers_stay_within_the_cap_and_steady_loops_are_reported() {
    let start = Instant::now();
    let mut ex = Explainer::new();
    let mut last = std::collections::HashMap::new();
    let mut rss = Vec::new();
    let mut max_owners = 0;
    for i in 0..N {
        let e = match unit_at(i) {
            Some(u) => {
                // batch's victims vary in size: a loop, but neither a leak nor a low limit.
                let mib = if u == BATCH.0 {
                    100 + (i / BATCH.1 % 5) * 100
                } else {
                    508
                };
                let e = ex.explain(&kill("steady", format!("/system.slice/{u}"), i, mib));
                if u == TOO_RARE.0 {
                    assert!(e.restart_loop.is_none(), "{i}: {:?}", e.restart_loop);
                }
                last.insert(u, e);
                continue;
            }
            None => {
                let cg = format!(
                    "/kubepods/burstable/pod{:08x}-a45c-44e7-b9bf-e3b9360bedba/{i:064x}",
                    i / 3
                );
                ex.explain(&kill(&format!("node-{}", i % 50), cg, i, 508))
            }
        };
        assert!(e.restart_loop.is_none(), "{i}: {:?}", e.restart_loop);
        max_owners = max_owners.max(ex.tracked_owners());
        assert!(ex.tracked_owners() <= MAX_OWNERS, "{i}");
        if [10_000, 100_000, N - 1].contains(&i) {
            rss.push(rss_kib());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "VmRSS after 10k, 100k, 1M incidents: {rss:?} KiB; {secs:.1} s; at most {max_owners} owners"
    );
    assert_eq!(max_owners, MAX_OWNERS);
    // Flat: the history is full after about 4100 incidents; what follows only replaces
    // owners. 4 MiB of slack for the allocator's own bookkeeping.
    assert!(rss[2] <= rss[1] + 4096, "{rss:?}");
    assert!(rss[1] <= rss[0] + 4096, "{rss:?}");

    // leaky: killed at 1, 1001, ..., 999001 at 508 of 512 MiB. Within the hour before
    // 999001 s: 999001, 998001, 997001, 996001. Growth: 508 MiB per 1000 s = 30.48 MiB/min.
    let e = &last[LEAKY.0];
    let l = e.restart_loop.as_ref().unwrap();
    assert_eq!(kills_of(LEAKY), 1000);
    assert_eq!(
        (l.key.as_str(), l.nth, l.in_last_hour, l.mean_interval_s),
        ("leaky.service", 1000, 4, Some(1000.0))
    );
    assert_eq!(l.victim_kb, [508 * 1024; 16]);
    let leak = e.findings.iter().find(|f| f.code == "leak-to-limit");
    let rate = leak
        .unwrap()
        .evidence
        .iter()
        .find(|v| v.name == "growth rate");
    assert!(
        (rate.unwrap().value / 1024.0 - 30.48).abs() < 1e-6,
        "{rate:?}"
    );
    assert!(codes(e).contains(&"restart-loop"), "{:?}", codes(e));

    // batch: killed at 2, 702, ..., 999602 (1429 kills); within the hour before the last:
    // 999602 down to 996102, six kills.
    let e = &last[BATCH.0];
    let l = e.restart_loop.as_ref().unwrap();
    assert_eq!(kills_of(BATCH), 1429);
    assert_eq!(
        (l.nth, l.in_last_hour, l.mean_interval_s),
        (1429, 6, Some(700.0))
    );
    let c = codes(e);
    assert!(
        c.contains(&"restart-loop")
            && !c.contains(&"leak-to-limit")
            && !c.contains(&"limit-below-working-set"),
        "{c:?}"
    );

    // rare: killed at 3, 4003, ..., 996003 (250 kills), alone in its hour.
    let l = last[RARE.0].restart_loop.as_ref().unwrap();
    assert_eq!(kills_of(RARE), 250);
    assert_eq!(
        (l.nth, l.in_last_hour, l.mean_interval_s),
        (250, 1, Some(4000.0))
    );
    assert!(last[TOO_RARE.0].restart_loop.is_none());
    assert!(secs < 60.0, "{secs} s");
}
