//! The guard serves /metrics from its loop: after recording a report (corpus 001, a memcg
//! kill of mruby, pid 14095) it counts the incident, its kill and the record, and exports
//! the watched cgroup's usage and limit as the fake tree sets them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Guard;
use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/001-rhel6-2.6.32-memcg-mruby-syslog.log"
);

fn get(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn value(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn metrics_count_the_recorded_kill_and_export_the_watched_cgroup() {
    let dir = TempDir::new("guard-metrics").unwrap();
    let log = dir.path().join("kern.log");
    std::fs::copy(REPORT, &log).unwrap();
    let tree = FakeTree::new("guard-metrics-tree");
    tree.mount_v1_memory().meminfo(1 << 20, 1 << 19, 1 << 19);
    tree.cgroup_v1("").limit(None).usage(100 << 20);
    tree.cgroup_v1("/app")
        .limit(Some(64 << 20))
        .usage(40 << 20)
        .file(
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        );
    let store = dir.path().join("store");
    let mut cmd = std::process::Command::new(common::guard_bin());
    cmd.args(["--listen", "127.0.0.1:0", "--interval", "100ms", "--log"])
        .arg(&log)
        .arg("--state-dir")
        .arg(&store)
        .arg("--root")
        .arg(tree.root());
    let mut g = Guard::spawn(cmd);
    let ready = g.wait_for("metrics on ", Duration::from_secs(20));
    let addr = ready
        .rsplit("metrics on ")
        .next()
        .unwrap()
        .trim()
        .to_string();
    g.wait_for("recorded incident 0", Duration::from_secs(20));
    let end = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let resp = get(&addr);
        if resp.contains("oomlens_cgroup_memory_max_bytes") || Instant::now() > end {
            break resp;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    g.stop();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("application/openmetrics-text"), "{body}");
    assert_eq!(
        value(&body, "oomlens_incidents_recorded_total "),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "oomlens_incidents_total{"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(value(&body, "oomlens_kills_total{"), Some(1.0), "{body}");
    assert_eq!(
        value(&body, "oomlens_cgroup_memory_max_bytes{cgroup=\"/app\"}"),
        Some((64u64 << 20) as f64),
        "{body}"
    );
    assert_eq!(
        value(&body, "oomlens_cgroup_memory_usage_bytes{cgroup=\"/app\"}"),
        Some((40u64 << 20) as f64),
        "{body}"
    );
}
