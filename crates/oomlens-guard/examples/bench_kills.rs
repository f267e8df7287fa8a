//! Kill → incident recorded latency of a running guard, for `bench/guard.sh`:
//!
//! ```text
//! bench_kills STATE_DIR HOG COUNT [LIMIT_MIB]     default limit 32 MiB
//! ```
//!
//! COUNT times: a fresh child v1 memory cgroup under our own (oomlens-testkit's
//! `MemoryCgroup`, limit LIMIT_MIB), `HOG alloc --mib 2×LIMIT` inside it, killed by the
//! kernel's memcg OOM killer. For each kill:
//! - the kernel's time: the µs timestamp of the `Killed process PID ` record on /dev/kmsg
//!   (read by us, matched by the hog's pid: the log is shared with other containers);
//! - the guard's time: `recorded_unix` of the record in STATE_DIR (kind RECORD_INCIDENT)
//!   whose incident killed that pid (polled every 2 ms through the recorder's reader). The
//!   guard stamps it when it starts building the record, before encoding and fdatasync;
//!   `seen` below covers the whole path.
//!
//! Clocks: the kmsg timestamp is the kernel's `local_clock()`, which drifts from
//! CLOCK_MONOTONIC (NTP slews the latter, not the former: here 100–190 ms apart after 15 h
//! of uptime, found by this bench's order check). So the two are tied at start by probes:
//! a marker record written to /dev/kmsg between two CLOCK_MONOTONIC reads and read back
//! with its kernel timestamp (the tightest of 20), then put on the Unix clock with the
//! offset CLOCK_REALTIME − CLOCK_MONOTONIC (the read of CLOCK_REALTIME bracketed by two
//! CLOCK_MONOTONIC reads, the tightest of 20 tries). A sanity bound is printed: the kill
//! record's time must come before our own CLOCK_MONOTONIC after reaping the hog
//! (`reap_gap_ms` per kill, `clock_order_violations` in the summary).
//!
//! Output: one line per kill (`kill N pid=.. latency_ms=.. seen_ms=..`), then
//! `kills=N recorded=N p50_ms=.. p99_ms=.. max_ms=.. seen_p50_ms=.. seen_p99_ms=..`, where
//! `seen` is when this program found the record in the store (an upper bound that includes
//! its polling), both from the kernel's time. Exit 1 if any kill was not recorded in 10 s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oomlens_model::recorded::{RecordedIncident, RECORD_INCIDENT};
use oomlens_store::recorder::Reader;
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::kmsg::Kmsg;
use rustix::time::{clock_gettime, ClockId};

fn ns(id: ClockId) -> i128 {
    let t = clock_gettime(id);
    t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC in ns, and the uncertainty (half the bracket) in ns.
fn realtime_offset() -> (i128, i128) {
    (0..20)
        .map(|_| {
            let a = ns(ClockId::Monotonic);
            let r = ns(ClockId::Realtime);
            let b = ns(ClockId::Monotonic);
            (r - (a + b) / 2, (b - a) / 2)
        })
        .min_by_key(|&(_, half)| half)
        .expect("20 tries")
}

/// kmsg's clock − CLOCK_MONOTONIC in ns and the uncertainty in ns: a marker written to
/// /dev/kmsg between two CLOCK_MONOTONIC reads is stamped by printk in between. Five
/// probes: writes to /dev/kmsg are rate-limited (`printk_devkmsg`, a burst of 10).
fn kmsg_offset(kmsg: &mut Kmsg) -> (i128, i128) {
    use std::io::Write;
    let mut dev = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .expect("open /dev/kmsg for writing");
    (0..5)
        .filter_map(|k| {
            let marker = format!("oomlens bench_kills clock probe {} {k}", std::process::id());
            let from = kmsg.records.len();
            let a = ns(ClockId::Monotonic);
            dev.write_all(format!("{marker}\n").as_bytes()).ok()?;
            let b = ns(ClockId::Monotonic);
            let i = kmsg
                .wait_for(from, Duration::from_secs(2), |r| {
                    r.message.contains(&marker)
                })
                .expect("read /dev/kmsg")?;
            let t = kmsg.records[i].usec as i128 * 1000;
            // µs resolution: half a µs more either way.
            Some((t - (a + b) / 2, (b - a) / 2 + 500))
        })
        .min_by_key(|&(_, half)| half)
        .expect("a clock probe came back from /dev/kmsg")
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 {
        eprintln!("usage: bench_kills STATE_DIR HOG COUNT [LIMIT_MIB]");
        std::process::exit(2);
    }
    let state = PathBuf::from(&a[0]);
    let hog = PathBuf::from(&a[1]);
    let count: usize = a[2].parse().expect("COUNT");
    let limit_mib: u64 = a.get(3).map_or(32, |s| s.parse().expect("LIMIT_MIB"));
    let (offset, half) = realtime_offset();
    println!("clock offset realtime-monotonic {offset} ns (±{half} ns)");

    let mut kmsg = Kmsg::open_at_end().expect("open /dev/kmsg");
    let (kmsg_off, kmsg_half) = kmsg_offset(&mut kmsg);
    println!("clock offset kmsg-monotonic {kmsg_off} ns (±{kmsg_half} ns)");
    let mut lat = Vec::new();
    let mut seen = Vec::new();
    let mut missing = 0;
    let mut order_violations = 0;
    for k in 0..count {
        let mut cg = MemoryCgroup::create(limit_mib << 20).expect("create memory cgroup");
        let mut cmd = Command::new(&hog);
        cmd.args(["alloc", "--mib", &(2 * limit_mib).to_string()]);
        let p = cg.spawn(&mut cmd).expect("spawn hog");
        let exited = cg.wait_exit(p.pid, Duration::from_secs(30)).expect("wait");
        let reaped_mono = ns(ClockId::Monotonic);
        if exited.is_none() {
            eprintln!("kill {k}: pid {} not killed within 30 s", p.pid);
            missing += 1;
            continue;
        }
        let needle = format!("Killed process {} ", p.pid);
        let from = kmsg.records.len();
        let Some(i) = kmsg
            .wait_for(from.saturating_sub(200), Duration::from_secs(5), |r| {
                r.message.contains(&needle)
            })
            .expect("read /dev/kmsg")
        else {
            eprintln!("kill {k}: no `{needle}` record on /dev/kmsg");
            missing += 1;
            continue;
        };
        let kill_mono = kmsg.records[i].usec as i128 * 1000 - kmsg_off;
        if kill_mono > reaped_mono {
            order_violations += 1;
        }
        let kill_unix = kill_mono + offset;
        match await_record(&state, p.pid, Duration::from_secs(10)) {
            Some(recorded_unix) => {
                let seen_ms = (ns(ClockId::Monotonic) - kill_mono) as f64 / 1e6;
                let l = (recorded_unix * 1e9) as i128 - kill_unix;
                let l_ms = l as f64 / 1e6;
                let reap_gap_ms = (reaped_mono - kill_mono) as f64 / 1e6;
                println!(
                    "kill {k} pid={} latency_ms={l_ms:.3} seen_ms={seen_ms:.3} reap_gap_ms={reap_gap_ms:.3}",
                    p.pid
                );
                lat.push(l_ms);
                seen.push(seen_ms);
            }
            None => {
                eprintln!("kill {k}: pid {} not recorded within 10 s", p.pid);
                missing += 1;
            }
        }
        drop(cg);
    }
    let pct = |v: &mut Vec<f64>, p: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(f64::total_cmp);
        v[(((p / 100.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };
    println!(
        "kills={count} recorded={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} seen_p50_ms={:.3} seen_p99_ms={:.3} clock_order_violations={order_violations}",
        lat.len(),
        pct(&mut lat, 50.0),
        pct(&mut lat, 99.0),
        pct(&mut lat, 100.0),
        pct(&mut seen, 50.0),
        pct(&mut seen, 99.0),
    );
    if missing > 0 {
        std::process::exit(1);
    }
}

/// Polls the store until a recorded incident killed `pid`; its `recorded_unix`.
fn await_record(state: &Path, pid: u32, timeout: Duration) -> Option<f64> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(reader) = Reader::open(state) {
            // Newest first: the record sought is at or near the end.
            let ids: Vec<_> = reader
                .list()
                .filter(|&(_, _, kind)| kind == RECORD_INCIDENT)
                .map(|(id, _, _)| id)
                .collect();
            for id in ids.into_iter().rev().take(8) {
                let Ok(rec) = reader.get(id) else { continue };
                let Ok(inc) = serde_json::from_slice::<RecordedIncident>(&rec.payload) else {
                    continue;
                };
                if inc.incident.kills.iter().any(|k| k.pid == Some(pid)) {
                    return Some(inc.recorded_unix);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}
