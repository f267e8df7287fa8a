//! `oomlens rank --config FILE`: the ranking the kernel would apply once the guard's
//! `[[protect]]` rules have set their oom_score_adj, on a fake /proc tree shaped like
//! scenario 002 (a big PostgreSQL service and a smaller batch job on a 1 GiB machine,
//! nothing configured). Without `--config` the kernel picks postgres; with the shipped
//! example configuration (contrib/oomlens/guard.toml: postgres -900 by unit, batch workers
//! +500 by cgroup, sshd -1000 by comm and exe) the batch job.
//!
//! Points by hand (oom_badness: RSS + swap + page-table pages, plus adj × total pages /
//! 1000; 1 GiB, no swap: 262,144 pages, 262 pages per adj point):
//! - postgres, 600 MiB: 153,600 now; -900 → 153,600 − 235,800 = −82,200;
//! - batch-job, 300 MiB: 76,800 now; +500 → 76,800 + 131,000 = 207,800;
//! - sshd, 10 MiB: 2,560 now; -1000 → never killed.

use oomlens_testkit::faketree::{FakeTree, Status};
use oomlens_testkit::oomlens;
use std::path::PathBuf;

const PG: &str = "/system.slice/postgresql@16-main.service";
const BATCH: &str = "/system.slice/batch-nightly.service";
const SSH: &str = "/system.slice/ssh.service";

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contrib/oomlens/guard.toml")
}

/// A user process (or a kernel thread when `memcg` is empty) with `anon_kb` of anon memory.
fn proc(t: &FakeTree, pid: u32, comm: &str, memcg: &str, anon_kb: u64) {
    let kthread = memcg.is_empty();
    let status = if kthread {
        Status::kernel_thread(comm)
    } else {
        Status::new(comm).user_thread().anon_kib(anon_kb).pte_kib(0)
    };
    t.process(pid)
        .status(&status.threads(1).omit("State"))
        .file(
            "stat",
            format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {pid} 0 0"),
        )
        .oom_score(0)
        .oom_score_adj(0)
        .cgroup(&format!(
            "4:memory:{}\n0::/\n",
            if kthread { "/" } else { memcg }
        ))
        .comm(comm);
}

fn tree() -> FakeTree {
    let t = FakeTree::new("rank-config");
    t.mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
        .meminfo(1_048_576, 100_000, 100_000)
        .file("proc/sys/kernel/osrelease", "6.18.44-test\n")
        .file("proc/stat", "cpu 1\ncpu0 1\ncpu1 1\n");
    proc(&t, 1, "systemd", "/init.scope", 4096);
    proc(&t, 2, "kthreadd", "", 0);
    proc(&t, 100, "postgres", PG, 600 * 1024);
    proc(&t, 200, "batch-job", BATCH, 300 * 1024);
    proc(&t, 300, "sshd", SSH, 10 * 1024);
    // The sshd rule also names the exe: the link is read only because a rule needs it.
    std::os::unix::fs::symlink("/usr/sbin/sshd", t.root().join("proc/300/exe")).unwrap();
    t.cgroup_v1("").limit(None).usage(950 << 20);
    for cg in ["/init.scope", "/system.slice", PG, BATCH, SSH] {
        t.cgroup_v1(cg).limit(None).usage(1 << 20);
    }
    t
}

fn rank_json(t: &FakeTree, config: bool) -> serde_json::Value {
    let mut cmd = oomlens!()
        .args(["rank", "--json", "--page-size", "4096", "--root"])
        .arg(t.root());
    if config {
        cmd = cmd.arg("--config").arg(example());
    }
    let ran = cmd.run();
    ran.code(0);
    ran.json()
}

#[test]
fn without_config_the_kernel_picks_postgres_with_it_the_batch_job() {
    let t = tree();
    let now = rank_json(&t, false);
    let machine = &now["domains"][0];
    assert!(machine["cgroup"].is_null(), "{now}");
    assert_eq!(machine["victim"]["pid"], 100, "{now}");
    assert_eq!(machine["victim"]["points"], 153_600);
    assert!(now.get("rules").is_none(), "no rules key without --config");

    let after = rank_json(&t, true);
    let machine = &after["domains"][0];
    assert_eq!(machine["victim"]["pid"], 200, "{after}");
    assert_eq!(machine["victim"]["points"], 207_800);
    // sshd is never killed once its rule applies.
    assert!(
        machine["protected"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == 300 && p["reason"] == "adj-min"),
        "{machine}"
    );
    let effect = &after["rules"][0];
    assert!(effect["cgroup"].is_null());
    assert_eq!(effect["victim_now"]["pid"], 100);
    assert_eq!(effect["victim_now"]["comm"], "postgres");
    assert_eq!(effect["victim_after"]["pid"], 200);
    let rows: Vec<(u64, &str, i64, i64, serde_json::Value, serde_json::Value)> = effect["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["pid"].as_u64().unwrap(),
                r["rule"].as_str().unwrap(),
                r["adj_now"].as_i64().unwrap(),
                r["adj_rule"].as_i64().unwrap(),
                r["points_now"].clone(),
                r["points_after"].clone(),
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        rows,
        [
            (200, "batch-workers", 0, 500, json!(76_800), json!(207_800)),
            (100, "postgres", 0, -900, json!(153_600), json!(-82_200)),
            (300, "sshd", 0, -1000, json!(2_560), json!(null)),
        ]
    );
}

#[test]
fn the_text_names_both_choices_and_a_bad_config_is_an_error() {
    let t = tree();
    let ran = oomlens!()
        .args(["rank", "--page-size", "4096", "--root"])
        .arg(t.root())
        .arg("--config")
        .arg(example())
        .run();
    ran.code(0);
    let out = ran.stdout();
    assert!(out.starts_with("machine (global OOM"), "{out}");
    assert!(
        out.contains(
            "machine: the kernel kills 100 (postgres, 153600 points) now; after the rules, instead 200 (batch-job, 207800 points)"
        ),
        "{out}"
    );
    assert!(
        out.contains("\n  PID COMM      RULE          ADJ NOW ADJ RULE POINTS NOW POINTS AFTER\n  200 batch-job batch-workers       0      500      76800       207800\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  300 sshd      sshd                0    -1000       2560        never\n"),
        "{out}"
    );
    let dir = oomlens_testkit::fs::TempDir::new("rank-config-bad").unwrap();
    let bad = dir.path().join("g.toml");
    std::fs::write(
        &bad,
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -1001\n",
    )
    .unwrap();
    let ran = oomlens!()
        .args(["rank", "--root"])
        .arg(t.root())
        .arg("--config")
        .arg(&bad)
        .run();
    ran.code(2);
    ran.stderr_has("g.toml:4:7: adj -1001 is out of range");
}
