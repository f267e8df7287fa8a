//! Measures the on-disk recorder: append latency and throughput (synced and not), read
//! throughput, and bytes on disk per record against the raw payload.
//!
//! `cargo run --release -p oomlens-store --example recorder_bench -- DIR PAYLOAD.json [N]`
//! DIR must not exist (it is created, then deleted). Each record is PAYLOAD (for
//! example `oomlens explain --json` of one report) and, as a second case, PAYLOAD
//! followed by a synthetic 10-minute window of one cgroup's 1-second samples, the size
//! the guard will record.

use std::time::{Duration, Instant, UNIX_EPOCH};

use oomlens_store::recorder::{Options, Reader, Recorder};

/// 600 one-second samples of one cgroup as JSON, values drifting like a slow leak.
fn window(base: &[u8]) -> Vec<u8> {
    let mut s = String::from("{\"incident\":");
    s.push_str(std::str::from_utf8(base).expect("UTF-8 payload"));
    s.push_str(",\"window\":[");
    for i in 0..600u64 {
        let usage = 3_000_000_000 + i * 1_700_000 + (i * 7919 % 1000) * 4096;
        let anon = usage * 7 / 10 + (i * 104_729 % 977) * 4096;
        let file = usage - anon;
        let psi = (i * i) % 1000;
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"t\":{},\"usage\":{usage},\"anon\":{anon},\"file\":{file},\"shmem\":0,\
             \"limit\":4294967296,\"high\":null,\"psi_some_avg10\":{}.{:02}}}",
            1_764_633_600 + i,
            psi / 100,
            psi % 100
        ));
    }
    s.push_str("]}");
    s.into_bytes()
}

fn run(dir: &std::path::Path, name: &str, payload: &[u8], n: u64, sync: bool) {
    let opts = Options {
        sync,
        max_bytes: u64::MAX,
        ..Options::default()
    };
    let mut rec = Recorder::open(dir, opts).expect("open");
    let mut lat = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_633_600 + i);
        let t0 = Instant::now();
        rec.append(t, 1, payload).expect("append");
        lat.push(t0.elapsed());
    }
    let took = start.elapsed();
    let disk = rec.size();
    drop(rec);
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    let start = Instant::now();
    let reader = Reader::open(dir).expect("reader");
    let mut bytes = 0;
    for r in reader.iter() {
        bytes += r.expect("record").payload.len();
    }
    let read = start.elapsed();
    assert_eq!(bytes as u64, payload.len() as u64 * n);
    let mb = |b: f64, d: Duration| b / d.as_secs_f64() / 1e6;
    println!(
        "{name}: sync={sync} n={n} raw={} B/record disk={} B/record ({:.1}%) | append {:.0}/s {:.1} MB/s raw, p50 {:?} p99 {:?} | read {:.0}/s {:.1} MB/s raw",
        payload.len(),
        disk / n,
        100.0 * disk as f64 / (payload.len() as u64 * n) as f64,
        n as f64 / took.as_secs_f64(),
        mb((payload.len() as u64 * n) as f64, took),
        pct(50),
        pct(99),
        n as f64 / read.as_secs_f64(),
        mb(bytes as f64, read),
    );
    std::fs::remove_dir_all(dir).expect("clean up");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, payload, rest @ ..] = &args[..] else {
        eprintln!("usage: recorder_bench DIR PAYLOAD [N]");
        std::process::exit(2);
    };
    let n: u64 = rest.first().map_or(2000, |s| s.parse().expect("N"));
    let dir = std::path::Path::new(dir);
    assert!(
        !dir.exists(),
        "{} exists; give a new directory",
        dir.display()
    );
    let base = std::fs::read(payload).expect("payload");
    let win = window(&base);
    for (name, p) in [("explain", &base), ("explain+window", &win)] {
        run(dir, name, p, n / 10, true);
        run(dir, name, p, n, false);
    }
}
