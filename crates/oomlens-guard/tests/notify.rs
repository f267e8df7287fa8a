//! Under systemd (Type=notify) the guard says READY=1 once its first pass is done, pings
//! the watchdog at half WATCHDOG_USEC, has locked its pages (VmLck > 0), and says
//! STOPPING=1 on SIGTERM. The notify socket is a datagram socket of the test; the guard
//! follows an empty file and a fake tree.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::Guard;
use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;

fn messages(sock: &UnixDatagram, until: Instant) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        if let Ok(n) = sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    out
}

#[test]
fn ready_after_the_first_pass_watchdog_at_half_the_interval_and_stopping_on_sigterm() {
    let dir = TempDir::new("guard-notify").unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let tree = FakeTree::new("guard-notify-tree");
    tree.mount_v1_memory().meminfo(1 << 20, 1 << 19, 1 << 19);
    tree.cgroup_v1("").limit(None).usage(1 << 20);
    let mut cmd = std::process::Command::new(common::guard_bin());
    cmd.args(["--no-metrics", "--log"])
        .arg(&log)
        .arg("--state-dir")
        .arg(dir.path().join("store"))
        .arg("--root")
        .arg(tree.root())
        .env("NOTIFY_SOCKET", &sock_path)
        // 400 ms: a ping every 200 ms.
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID");
    let g = Guard::spawn(cmd);
    let got = messages(&sock, Instant::now() + Duration::from_millis(1500));
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "{got:?}");
    assert!(
        got.iter()
            .any(|m| m.starts_with("STATUS=") && m.contains("log(s)")),
        "{got:?}"
    );
    let pings = got.iter().filter(|m| *m == "WATCHDOG=1").count();
    // 1.5 s at one ping per 200 ms, less start-up: about 7.
    assert!((4..=9).contains(&pings), "{pings} pings: {got:?}");
    // Ready, and its pages locked (`mlockall` after the start-up shed; root here, so
    // CAP_IPC_LOCK): a guard must not page its own code in while memory is short.
    let status = std::fs::read_to_string(format!("/proc/{}/status", g.pid())).unwrap();
    let vmlck: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(vmlck > 0, "VmLck {vmlck} kB:\n{status}");
    g.stop();
    let after = messages(&sock, Instant::now() + Duration::from_millis(200));
    assert!(after.iter().any(|m| m == "STOPPING=1"), "{after:?}");
}
