//! systemd guest (systemd 252, journald): one real OOM kill in a unit with MemoryMax=, read
//! back through every `journalctl -o MODE` output mode, kernel lines alone (`-k`) and mixed
//! with other units' lines. Every mode must explain the same incident: kind, victim pid and
//! comm, anon/file/shmem rss, oom_memcg/task_memcg and number of kills. Only time and source
//! fields may differ between modes.
//!
//! Each output is saved as an artifact (`k-MODE.txt`, `all-MODE.txt`); they are the real
//! journalctl output kept in crates/oomlens-parse/tests/data/journal-modes/ for the host test.

use std::process::Command;
use std::time::Duration;

use oomlens_qemu::guest::{self, incidents, install_unit, unit_property};
use serde_json::Value;

/// Every `-o` mode of systemd 252's journalctl (src/shared/output-mode.c: short-delta only
/// came with 255).
const MODES: &[&str] = &[
    "short",
    "short-full",
    "short-iso",
    "short-iso-precise",
    "short-precise",
    "short-monotonic",
    "short-unix",
    "with-unit",
    "verbose",
    "export",
    "json",
    "json-pretty",
    "json-sse",
    "json-seq",
    "cat",
];

/// The fields every mode must agree on, as text for a readable diff.
fn essence(inc: &Value) -> String {
    let kills: Vec<String> = inc["kills"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|k| {
            format!(
                "pid={} comm={} anon={} file={} shmem={}",
                k["pid"], k["comm"], k["anon_rss_kb"], k["file_rss_kb"], k["shmem_rss_kb"]
            )
        })
        .collect();
    format!(
        "kind={} oom_memcg={} task_memcg={} kills={} [{}]",
        inc["kind"],
        inc["oom_memcg"],
        inc["task_memcg"],
        kills.len(),
        kills.join("; ")
    )
}

#[test]
fn every_journalctl_mode_explains_the_same_kill() {
    guest::require("systemd");
    let _ = Command::new("journalctl").arg("--sync").status();
    // Seconds since the epoch, one second back: `--since @T` keeps the outputs to this test.
    let since = format!(
        "@{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 1
    );
    install_unit(
        "modes.service",
        "[Unit]\nDescription=hog for the journalctl modes test\n[Service]\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm modes-hog alloc --mib 256 --rate 64 --sleep\n\
         MemoryMax=32M\nMemorySwapMax=0\n",
    );
    guest::output(Command::new("systemctl").args(["start", "modes.service"]));
    guest::wait_for(
        "modes.service to be OOM-killed",
        Duration::from_secs(90),
        || unit_property("modes.service", "Result") == "oom-kill",
    );
    let pid: u64 = unit_property("modes.service", "ExecMainPID")
        .parse()
        .unwrap();
    let events = std::fs::read_to_string("/sys/fs/cgroup/system.slice/memory.events").unwrap();
    println!("modes.service pid {pid}; system.slice memory.events:\n{events}");
    let _ = Command::new("journalctl").arg("--sync").status();

    // Every output is saved before any is explained, so that a failing mode still leaves
    // all of them behind.
    let mut logs: Vec<(String, Vec<u8>)> = Vec::new();
    for scope in ["k", "all"] {
        for mode in MODES {
            let mut cmd = Command::new("journalctl");
            cmd.args(["--no-pager", "--since", &since, "-o", mode]);
            if scope == "k" {
                cmd.arg("-k");
            }
            let out = guest::output(&mut cmd);
            let name = format!("{scope}-{mode}.txt");
            guest::save_artifact(&name, &out);
            logs.push((name, out));
        }
    }
    let mut seen: Vec<(String, String, Vec<String>)> = Vec::new();
    for (name, out) in logs {
        let path = format!("/tmp/{name}");
        std::fs::write(&path, &out).unwrap();
        let doc = guest::explain(&name, &[&path]);
        let ours: Vec<&Value> = incidents(&doc)
            .iter()
            .filter(|i| i["oom_memcg"] == "/system.slice/modes.service")
            .collect();
        let formats: Vec<&Value> = ours.iter().map(|i| &i["source"]["format"]).collect();
        let e: Vec<String> = ours.iter().map(|i| essence(i)).collect();
        let notices: Vec<String> = ours
            .iter()
            .flat_map(|i| i["notices"].as_array().cloned().unwrap_or_default())
            .map(|n| format!("{}:{}", n["unit"], n["kind"]))
            .collect();
        println!(
            "{name}: {} bytes, formats {formats:?}: {e:?}, notices {notices:?}",
            out.len()
        );
        seen.push((name, e.join(" | "), notices));
    }
    let want = format!(
        "kind=\"memcg\" oom_memcg=\"/system.slice/modes.service\" \
         task_memcg=\"/system.slice/modes.service\" kills=1 [pid={pid} comm=\"modes-hog\""
    );
    // systemd's own lines about the unit (in the all-units outputs only) are linked to the
    // kill in every mode too: the same notices as in `-o json`.
    let json_notices = &seen
        .iter()
        .find(|(n, _, _)| n == "all-json.txt")
        .expect("all-json.txt")
        .2;
    assert!(!json_notices.is_empty(), "no systemd notice in -o json");
    for (name, e, notices) in &seen {
        assert!(e.starts_with(&want), "{name}: {e}\nwant {want}…");
        assert_eq!(e, &seen[0].1, "{name} differs from {}", seen[0].0);
        if name.starts_with("all-") {
            assert_eq!(notices, json_notices, "{name}");
        } else {
            assert!(notices.is_empty(), "{name}: {notices:?}");
        }
    }
}
