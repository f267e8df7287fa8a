//! The driver of `bench/guard-design.sh`, for the loop-design prototypes:
//!
//! ```text
//! design_drive setup DIR N                        write DIR/cg0..cg{N-1}/memory.events
//! design_drive latency DIR N PORT COUNT GAP_MS    COUNT stamped writes, then the percentiles
//! design_drive get PORT PATH                      one HTTP GET, body to stdout
//! ```
//!
//! `latency` rewrites one watched file every GAP_MS (round-robin), each time with its
//! CLOCK_MONOTONIC time in ns on the `bench_mono_ns` line, in one `pwrite` at offset 0 of a
//! fixed-length text (one IN_MODIFY per write). The prototype under test takes its own
//! CLOCK_MONOTONIC when its handler has read the file back; the difference is the wakeup
//! latency. Afterwards it fetches the prototype's `/latencies` and prints
//! `n=COUNT p50_us=.. p99_us=.. max_us=..` (nearest-rank percentiles).

mod design_common;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use design_common::{mono_ns, watched};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["setup", dir, n] => setup(Path::new(dir), n.parse().expect("N")),
        ["latency", dir, n, port, count, gap] => latency(
            Path::new(dir),
            n.parse().expect("N"),
            port.parse().expect("PORT"),
            count.parse().expect("COUNT"),
            gap.parse().expect("GAP_MS"),
        ),
        ["get", port, path] => print!("{}", get(port.parse().expect("PORT"), path)),
        _ => {
            eprintln!(
                "usage: design_drive setup DIR N | latency DIR N PORT COUNT GAP_MS | get PORT PATH"
            );
            std::process::exit(2);
        }
    }
}

/// The file text for a stamp: memory.events' keys as cgroup v2 prints them, then the stamp,
/// zero-padded so every write has the same length.
fn text(oom_kill: u64, stamp: u64) -> String {
    format!(
        "low 0\nhigh 0\nmax 0\noom 0\noom_kill {oom_kill:010}\noom_group_kill 0\nbench_mono_ns {stamp:020}\n"
    )
}

fn setup(dir: &Path, n: usize) {
    for i in 0..n {
        let p = watched(dir, i);
        fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        fs::write(&p, text(0, 0)).expect("write");
    }
}

fn latency(dir: &Path, n: usize, port: u16, count: usize, gap_ms: u64) {
    let files: Vec<File> = (0..n)
        .map(|i| {
            OpenOptions::new()
                .write(true)
                .open(watched(dir, i))
                .expect("open")
        })
        .collect();
    for k in 0..count {
        let t = text(k as u64, mono_ns());
        files[k % n].write_at(t.as_bytes(), 0).expect("pwrite");
        std::thread::sleep(Duration::from_millis(gap_ms));
    }
    std::thread::sleep(Duration::from_millis(300));
    let body = get(port, "/latencies");
    let mut lat: Vec<u64> = body.lines().filter_map(|l| l.parse().ok()).collect();
    // Only the stamped writes count (setup wrote stamp 0, which would read as a huge
    // latency if a prototype ever saw it).
    lat.retain(|&l| l < 10_000_000_000);
    lat.sort_unstable();
    if lat.is_empty() {
        println!("n=0");
        return;
    }
    let pct =
        |p: f64| lat[(((p / 100.0) * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "n={} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        lat.len(),
        pct(50.0) as f64 / 1e3,
        pct(99.0) as f64 / 1e3,
        lat[lat.len() - 1] as f64 / 1e3
    );
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
