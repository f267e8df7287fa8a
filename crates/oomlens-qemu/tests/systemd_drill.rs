//! systemd guest (systemd 252, cgroup v2, journald): `oomlens drill` passes for memcg,
//! tmpfs and adj with the kernel log read from the journal (`--log auto` picks it), the
//! drill cgroup below the root next to systemd's slices, and nothing left behind; and for
//! oomd: systemd-oomd kills the drill's transient unit for memory pressure, the drill finds
//! the kill in the journal, explained with `oomd-pressure`, and stops and resets the unit.
//! That test shortens systemd-oomd's DefaultMemoryPressureDurationSec to 2 s (systemd 252
//! has no per-unit duration) to keep guest time small; the drill itself changes no
//! configuration. (Before the allocator kept page cache for reclaim to scan, systemd-oomd
//! never acted in one run of two; since, 4 runs of 4 passed, killing in about 5 s.)

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use oomlens_qemu::guest::{self, unit_property};
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

fn drill(args: &[&str]) -> (Option<i32>, Value) {
    let r = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .arg("drill")
        .args(args)
        .args(["--json", "--limit", "32M", "--state-dir", "/nonexistent"])
        .timeout(Duration::from_secs(180))
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

fn step<'a>(v: &'a Value, name: &str) -> &'a Value {
    let s = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name);
    s.unwrap_or_else(|| panic!("no step {name}: {v}"))
}

#[test]
fn memcg_tmpfs_and_adj_pass_reading_the_journal() {
    guest::require("systemd");
    for (kind, finding) in [
        ("memcg", "memcg-limit-hit"),
        ("tmpfs", "shmem-not-heap"),
        ("adj", "largest-survived-by-adj"),
    ] {
        let (code, v) = drill(&["--kind", kind]);
        assert_eq!(code, Some(0), "{kind}: {v:#}");
        assert_eq!(v["cgroup_version"], "v2");
        let log = step(&v, "log")["detail"].as_str().unwrap();
        assert!(log.contains("journal"), "{log}");
        let pid = v["victim_pid"].as_u64().unwrap();
        let cgroup = v["cgroup"].as_str().unwrap();
        // The guest's own kernel log, read by this test.
        let kills = guest::kernel_kills(&guest::kmsg());
        let (summary, _) = kills
            .iter()
            .find(|(_, lines)| {
                lines
                    .iter()
                    .any(|l| guest::killed_pid(l) == Some(pid as u32))
            })
            .unwrap_or_else(|| panic!("no Killed process {pid} in the guest's log"));
        assert_eq!(guest::summary_field(summary, "task_memcg"), Some(cgroup));
        let explained = step(&v, "explained")["detail"].as_str().unwrap();
        assert!(explained.contains(finding), "{kind}: {explained}");
        assert!(!Path::new("/sys/fs/cgroup").join(&cgroup[1..]).exists());
    }
}

#[test]
fn oomd_kills_the_drill_unit_and_the_drill_passes() {
    guest::require("systemd");
    std::fs::create_dir_all("/etc/systemd/oomd.conf.d").unwrap();
    std::fs::write(
        "/etc/systemd/oomd.conf.d/oomlens.conf",
        "[OOM]\nDefaultMemoryPressureDurationSec=2s\n",
    )
    .unwrap();
    guest::output(Command::new("systemctl").args(["restart", "systemd-oomd.service"]));
    let r = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .args(["drill", "--kind", "oomd", "--json", "--limit", "24M"])
        .args(["--state-dir", "/nonexistent", "--timeout", "150"])
        .timeout(Duration::from_secs(300))
        .run();
    println!("{r}");
    guest::save_artifact("drill-oomd.json", &r.stdout);
    let v: Value = serde_json::from_slice(&r.stdout).expect("one JSON document");
    assert_eq!(r.exit_code(), Some(0), "{v:#}");
    assert_eq!(v["result"], "pass");
    let cgroup = v["cgroup"].as_str().unwrap();
    assert!(
        cgroup.starts_with("/system.slice/oomlens-drill-"),
        "{cgroup}"
    );
    let unit = cgroup.rsplit('/').next().unwrap();
    // Stopped and reset: systemd no longer knows a failed unit of that name.
    assert_eq!(unit_property(unit, "LoadState"), "not-found");
    assert!(!Path::new("/sys/fs/cgroup").join(&cgroup[1..]).exists());
}
