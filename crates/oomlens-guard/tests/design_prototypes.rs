//! The loop-design prototypes (`examples/design_*`, measured by `bench/guard-design.sh`) do
//! the same work, and the driver's numbers count every write: both see each stamped write
//! exactly once, and both 1 s read passes see the last value written to every file.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use oomlens_testkit::fs::TempDir;

/// N watched files, WRITES writes: write k goes to file k % N with oom_kill = k.
const N: usize = 8;
const WRITES: usize = 40;

/// Builds the example into the test's own target directory and profile.
fn example(name: &str) -> PathBuf {
    oomlens_testkit::build_target("oomlens-guard", "--example", name).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    Some(resp.split_once("\r\n\r\n")?.1.to_string())
}

fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn both_designs_see_every_write_once_and_read_every_file() {
    let drive = example("design_drive");
    // oom_kill of each file after the last write to it: the last k with k % N == i.
    let expected_sum: u64 = (WRITES - N..WRITES).map(|k| k as u64).sum();
    for design in ["design_epoll", "design_tokio"] {
        let bin = example(design);
        let dir = TempDir::new(design).expect("temp dir");
        let d = dir.to_str().unwrap();
        let st = Command::new(&drive)
            .args(["setup", d, &N.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let port = free_port();
        let _p = Killed(
            Command::new(&bin)
                .args([d, &N.to_string(), &port.to_string()])
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let before = loop {
            if let Some(b) = get(port, "/metrics") {
                break b;
            }
            assert!(Instant::now() < deadline, "{design} never answered");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(metric(&before, "design_inotify_events_total"), 0);

        let out = Command::new(&drive)
            .args(["latency", d, &N.to_string(), &port.to_string()])
            .args([&WRITES.to_string(), "5"])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && line.starts_with(&format!("n={WRITES} ")),
            "{design}: {line}"
        );
        let p99: f64 = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("p99_us="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{design}: {line}"));
        // Loose: a handler seconds late would mean an event was missed and only the next
        // one delivered it.
        assert!(p99 > 0.0 && p99 < 1e6, "{design}: {line}");

        // The 1 s pass re-reads every file: after the next one, the sum of the last values.
        std::thread::sleep(Duration::from_millis(1300));
        let after = get(port, "/metrics").unwrap();
        assert_eq!(
            metric(&after, "design_inotify_events_total"),
            WRITES as u64,
            "{design}"
        );
        assert!(metric(&after, "design_passes_total") >= 1, "{design}");
        assert_eq!(metric(&after, "design_oom_kill"), expected_sum, "{design}");
    }
}
