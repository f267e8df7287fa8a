//! systemd guest (systemd 252 as PID 1, journald, cgroup v2): the shared scenarios end to
//! end, checked from the guest's own journal through `oomlens explain --json`.
//!
//! - 000: a leaking service under MemoryMax with Restart=always is OOM-killed in a loop.
//! - 002: a postgres stand-in protected by OOMScoreAdjust=-900 survives a global OOM; the
//!   hog dies.

use std::time::Duration;

use oomlens_qemu::guest::{self, incidents, install_unit, kills, unit_property};
use serde_json::Value;

fn notices_of<'a>(inc: &'a Value, kind: &str) -> Vec<&'a Value> {
    inc["notices"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|n| n["kind"] == kind)
        .collect()
}

/// How many journal entries (`journalctl -o json` lines) have exactly this MESSAGE.
fn journal_messages(journal: &[u8], text: &str) -> usize {
    journal
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter(|e| e["MESSAGE"] == text)
        .count()
}

/// `/sys/fs/cgroup/system.slice/memory.events`: hierarchical, so it keeps counting the
/// kills of a service whose own cgroup is removed and re-created at each restart.
fn system_slice_events() -> std::collections::BTreeMap<String, u64> {
    guest::flat_keyed(
        &std::fs::read_to_string("/sys/fs/cgroup/system.slice/memory.events").unwrap(),
    )
}

/// Scenario 000: `leaky.service` grows to its MemoryMax, is killed, restarts, again.
#[test]
fn scenario_000_leaking_service_restart_loop() {
    guest::require("systemd");
    install_unit(
        "leaky.service",
        "[Unit]\n\
         Description=leaking worker (scenario 000)\n\
         StartLimitIntervalSec=0\n\
         [Service]\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm leaky-worker alloc --mib 256 --rate 64 --sleep\n\
         MemoryMax=40M\n\
         MemorySwapMax=0\n\
         Restart=always\n\
         RestartSec=500ms\n",
    );
    let slice_kills = || system_slice_events()["oom_kill"];
    let kills_before = slice_kills();
    guest::output(std::process::Command::new("systemctl").args(["start", "leaky.service"]));
    let mut restarts = 0;
    guest::wait_for(
        "3 restarts of leaky.service",
        Duration::from_secs(90),
        || {
            restarts = unit_property("leaky.service", "NRestarts")
                .parse::<u32>()
                .unwrap_or(0);
            restarts >= 3
        },
    );
    guest::output(std::process::Command::new("systemctl").args(["stop", "leaky.service"]));
    let killed = slice_kills() - kills_before;
    println!(
        "leaky.service: NRestarts={restarts} before stop, Result={}; /system.slice memory.events oom_kill +{killed}",
        unit_property("leaky.service", "Result")
    );

    let journal = guest::journal_json(&[]);
    let doc = guest::explain_log("journal-000.json", &journal);
    let ours: Vec<&Value> = incidents(&doc)
        .iter()
        .filter(|i| i["oom_memcg"] == "/system.slice/leaky.service")
        .collect();
    for i in &ours {
        println!(
            "incident kind={} kills={:?} task_memcg={} notices={}",
            i["kind"],
            kills(i),
            i["task_memcg"],
            serde_json::to_string(&i["notices"]).unwrap()
        );
        println!("restart_loop={} owner={}", i["restart_loop"], i["owner"]);
    }
    assert!(
        ours.len() >= 3,
        "want >= 3 memcg incidents of leaky.service, got {}",
        ours.len()
    );
    assert_eq!(ours.len() as u64, killed, "one incident per oom_kill");
    // Every systemd notice about the unit is linked to a kernel incident: none stands alone.
    let alone = incidents(&doc)
        .iter()
        .filter(|i| i["kind"] == "systemd-notice")
        .filter(|i| {
            i["notices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["unit"] == "leaky.service")
        })
        .count();
    assert_eq!(alone, 0, "unlinked systemd notices for leaky.service");
    let last = ours.last().unwrap();
    assert_eq!(
        last["restart_loop"]["key"], "leaky.service",
        "the loop is named"
    );
    assert_eq!(last["restart_loop"]["nth"], ours.len());
    for (n, i) in ours.iter().enumerate() {
        assert_eq!(i["kind"], "memcg");
        assert_eq!(i["task_memcg"], "/system.slice/leaky.service");
        assert_eq!(kills(i).len(), 1);
        assert_eq!(kills(i)[0].1, "leaky-worker");
        assert_eq!(i["owner"]["unit"], "leaky.service");
        assert_eq!(
            notices_of(i, "main-process-killed").len(),
            1,
            "incident {n}"
        );
    }
    // systemd 252 does not say "killed by the OOM killer" / "Failed with result 'oom-kill'"
    // for every kill of a restart loop (for some it says "Failed with result 'signal'"):
    // every such message it did write must be linked to one incident, the first kill's
    // always is.
    for (kind, text) in [
        (
            "process-killed-by-oom-killer",
            "leaky.service: A process of this unit has been killed by the OOM killer.",
        ),
        (
            "failed-oom-kill",
            "leaky.service: Failed with result 'oom-kill'.",
        ),
    ] {
        let said = journal_messages(&journal, text);
        let linked: usize = ours.iter().map(|i| notices_of(i, kind).len()).sum();
        println!("{kind}: systemd said it {said} time(s), linked {linked}");
        assert_eq!(linked, said, "{kind}");
        assert_eq!(
            notices_of(ours[0], kind).len(),
            1,
            "{kind} of the first kill"
        );
    }
    // Every kill but possibly the last (stopped before its restart) has its restart notice.
    let counters: Vec<u64> = ours
        .iter()
        .flat_map(|i| notices_of(i, "scheduled-restart"))
        .filter_map(|n| n["count"].as_u64())
        .collect();
    assert!(counters.len() >= 3, "restart counters {counters:?}");
    assert_eq!(counters[..3], [1, 2, 3], "restart counters {counters:?}");

    let kdoc = guest::explain_log(
        "journal-k-000.txt",
        &guest::output(std::process::Command::new("journalctl").args(["-k", "--no-pager"])),
    );
    let kernel_ours = incidents(&kdoc)
        .iter()
        .filter(|i| i["oom_memcg"] == "/system.slice/leaky.service" && i["kind"] == "memcg")
        .count();
    assert_eq!(
        kernel_ours,
        ours.len(),
        "journalctl -k and -o json disagree"
    );
}

/// Scenario 002: a global OOM; `postgres.service` (OOMScoreAdjust=-900, the largest
/// process) survives, `hog.service` is killed.
#[test]
fn scenario_002_protected_postgres_survives_global_oom() {
    guest::require("systemd");
    install_unit(
        "postgres.service",
        "[Unit]\nDescription=postgres stand-in (scenario 002)\n[Service]\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm postgres hold --mib 220\n\
         OOMScoreAdjust=-900\n",
    );
    install_unit(
        "hog.service",
        "[Unit]\nDescription=batch hog (scenario 002)\n[Service]\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm batch-hog alloc --mib 2048 --rate 100\n",
    );
    guest::output(std::process::Command::new("systemctl").args(["start", "postgres.service"]));
    let pg_pid = unit_property("postgres.service", "MainPID");
    guest::wait_for(
        "postgres to hold its memory",
        Duration::from_secs(60),
        || {
            let rss = std::fs::read_to_string(format!("/proc/{pg_pid}/status")).unwrap_or_default();
            rss.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .is_some_and(|kb| kb >= 220 * 1024)
        },
    );
    guest::output(std::process::Command::new("systemctl").args(["start", "hog.service"]));
    guest::wait_for("hog.service to end", Duration::from_secs(120), || {
        unit_property("hog.service", "ActiveState") != "active"
    });
    let hog_pid: u64 = unit_property("hog.service", "ExecMainPID").parse().unwrap();
    println!(
        "hog.service Result={} ExecMainPID={hog_pid}; postgres.service ActiveState={} MainPID={} (was {pg_pid}) NRestarts={}",
        unit_property("hog.service", "Result"),
        unit_property("postgres.service", "ActiveState"),
        unit_property("postgres.service", "MainPID"),
        unit_property("postgres.service", "NRestarts"),
    );
    assert_eq!(unit_property("hog.service", "Result"), "oom-kill");
    assert_eq!(unit_property("postgres.service", "ActiveState"), "active");
    assert_eq!(unit_property("postgres.service", "MainPID"), pg_pid);

    let doc = guest::explain_log("journal-002.json", &guest::journal_json(&[]));
    let global: Vec<&Value> = incidents(&doc)
        .iter()
        .filter(|i| i["kind"] == "global")
        .collect();
    for i in &global {
        println!(
            "global incident kills={:?} task_memcg={} ranking={}",
            kills(i),
            i["task_memcg"],
            i["ranking"]
        );
        println!("notices={}", i["notices"]);
    }
    assert_eq!(global.len(), 1, "one global OOM");
    let inc = global[0];
    assert_eq!(kills(inc), vec![(hog_pid, "batch-hog".to_string())]);
    assert_eq!(inc["task_memcg"], "/system.slice/hog.service");
    assert_eq!(inc["owner"]["unit"], "hog.service");
    assert_eq!(notices_of(inc, "process-killed-by-oom-killer").len(), 1);
    let ranking = &inc["ranking"];
    assert_eq!(ranking["kernel_choice"].as_u64(), Some(hog_pid));
    assert_eq!(ranking["agrees"], true, "ranking {ranking}");
    let pg: u64 = pg_pid.parse().unwrap();
    let rows = inc["task_table"]["rows"].as_array().expect("task table");
    let pg_row = rows
        .iter()
        .find(|r| r["pid"] == pg)
        .expect("postgres in the task table");
    let hog_row = rows
        .iter()
        .find(|r| r["pid"] == hog_pid)
        .expect("hog in the task table");
    assert_eq!(pg_row["oom_score_adj"], -900);
    assert!(
        pg_row["rss"].as_u64() > hog_row["rss"].as_u64(),
        "postgres should be the larger process: {pg_row} vs {hog_row}"
    );
}
