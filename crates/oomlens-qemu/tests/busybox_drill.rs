//! busybox guest, cgroup v2: `oomlens drill` passes for memcg, tmpfs and adj, with the
//! drill cgroup below the root (`memory.max`), checked against the guest's own kernel log;
//! with a guard running it also sees the kill recorded and counted; systemd-oomd (no
//! systemd here) exits 2 with the reason; nothing is left behind.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use oomlens_qemu::guest;
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

fn drill(args: &[&str]) -> (Option<i32>, Value) {
    let r = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .arg("drill")
        .args(args)
        .args(["--json", "--limit", "32M"])
        .timeout(Duration::from_secs(120))
        .run();
    println!("{r}");
    // Each drill's report is kept as an artifact: drill-<args>.json.
    guest::save_artifact(
        &format!("drill-{}.json", args.join("_").replace('/', "")),
        &r.stdout,
    );
    let v: Value = serde_json::from_slice(&r.stdout).expect("one JSON document");
    assert_eq!(v["schema"], "oomlens.drill/1");
    (r.exit_code(), v)
}

fn result_of<'a>(v: &'a Value, name: &str) -> &'a Value {
    let s = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name);
    &s.unwrap_or_else(|| panic!("no step {name}: {v}"))["result"]
}

/// No drill cgroup is left below the root and no allocator runs.
fn nothing_left() {
    let left: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("oomlens-drill-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let allocators = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains("drill\0--child"))
        .count();
    assert_eq!(allocators, 0, "allocators left");
}

#[test]
fn every_kind_passes_on_cgroup_v2_and_oomd_exits_2() {
    guest::require("busybox");
    for (kind, finding) in [
        ("memcg", "memcg-limit-hit"),
        ("tmpfs", "shmem-not-heap"),
        ("adj", "largest-survived-by-adj"),
    ] {
        let (code, v) = drill(&["--kind", kind, "--state-dir", "/nonexistent"]);
        assert_eq!(code, Some(0), "{kind}: {v:#}");
        assert_eq!(v["cgroup_version"], "v2");
        let cgroup = v["cgroup"].as_str().unwrap();
        assert!(cgroup.starts_with("/oomlens-drill-"), "{cgroup}");
        let pid = v["victim_pid"].as_u64().unwrap();
        // The guest's own kernel log, read by this test: the kill of that pid there.
        let kills = guest::kernel_kills(&guest::kmsg());
        let (summary, _) = kills
            .iter()
            .find(|(_, lines)| {
                lines
                    .iter()
                    .any(|l| guest::killed_pid(l) == Some(pid as u32))
            })
            .unwrap_or_else(|| panic!("no Killed process {pid} in the guest's log"));
        println!("{kind}: {summary}");
        assert_eq!(guest::summary_field(summary, "task_memcg"), Some(cgroup));
        let explained = &v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "explained")
            .unwrap()["detail"];
        assert!(explained.as_str().unwrap().contains(finding), "{explained}");
        nothing_left();
    }
    let (code, v) = drill(&["--kind", "oomd"]);
    assert_eq!(code, Some(2), "{v:#}");
    assert_eq!(result_of(&v, "safe"), "error");
    nothing_left();
}

#[test]
fn a_running_guard_records_and_counts_the_drill() {
    guest::require("busybox");
    guest::sh("ip link set lo up");
    let mut g = guest::tool("oomlens")
        .args(["guard", "--log", "kmsg", "--state-dir", "/tmp/drill-store"])
        .args(["--listen", "127.0.0.1:10391"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create("/tmp/drill-guard.err").unwrap())
        .spawn()
        .unwrap();
    guest::wait_for("the guard's ready line", Duration::from_secs(60), || {
        std::fs::read_to_string("/tmp/drill-guard.err")
            .unwrap_or_default()
            .contains("ready")
    });
    let (code, v) = drill(&["--state-dir", "/tmp/drill-store"]);
    let _ = g.kill();
    let _ = g.wait();
    assert_eq!(code, Some(0), "{v:#}");
    for step in ["guard", "recorded", "counter"] {
        assert_eq!(result_of(&v, step), "pass", "{step}: {v:#}");
    }
    // Stopped, its store left: FAIL.
    let (code, v) = drill(&["--state-dir", "/tmp/drill-store"]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(result_of(&v, "guard"), "fail");
    nothing_left();
}
