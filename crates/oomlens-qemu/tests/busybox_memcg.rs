//! busybox guest, cgroup v2: memcg OOM kills provoked under memory.max, counted by the
//! kernel in memory.events, and checked against `oomlens explain --json` of the guest's
//! own kernel log (a /dev/kmsg dump, live `--source kmsg`, and busybox `dmesg`).

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use oomlens_qemu::guest::{self, incidents, incidents_killing, kills, Cgroup, Hog};
use serde_json::Value;

const KILL_WAIT: Duration = Duration::from_secs(60);

/// Runs `oomlens-hog --comm COMM alloc --mib 128` in `cg` and expects SIGKILL.
fn oom_kill_in(cg: &Cgroup, comm: &str) -> u32 {
    let mut hog = Hog::spawn(Some(cg), &["--comm", comm, "alloc", "--mib", "128"]);
    let st = hog.wait(KILL_WAIT);
    assert_eq!(st.signal(), Some(9), "{comm}: {}", guest::describe(st));
    hog.pid
}

/// (kind, pid, comm, oom_memcg, task_memcg) of every kill of the incidents in `cgroups`.
fn kill_facts(doc: &Value, cgroups: &[&str]) -> BTreeSet<String> {
    incidents(doc)
        .iter()
        .filter(|i| cgroups.iter().any(|c| i["task_memcg"] == *c))
        .flat_map(|i| {
            kills(i).into_iter().map(move |(pid, comm)| {
                format!(
                    "{} {pid} {comm} {} {}",
                    i["kind"], i["oom_memcg"], i["task_memcg"]
                )
            })
        })
        .collect()
}

/// One memcg OOM in each of three cgroups (one nested under a limited parent): each kill is
/// one `oom_kill` in memory.events and exactly one incident with the victim's pid, comm
/// and v2 cgroup paths — the same from all three ways of reading the kernel log.
#[test]
fn memcg_kills_match_memory_events_one_to_one() {
    guest::require("busybox");
    let m1 = Cgroup::create("/m1");
    let m2 = Cgroup::create("/m2");
    let nest = Cgroup::create("/nest");
    let child = Cgroup::create("/nest/child");
    for limited in [&m1, &m2, &nest] {
        limited.set("memory.max", "32M");
        limited.set("memory.swap.max", "0");
    }
    // (cgroup the process runs in, cgroup whose limit is hit, comm)
    let cases = [
        (&m1, &m1, "m1-hog"),
        (&m2, &m2, "m2-hog"),
        (&child, &nest, "nest-hog"),
    ];
    let mut victims = Vec::new();
    for (cg, limit, comm) in cases {
        let pid = oom_kill_in(cg, comm);
        println!(
            "{comm}: pid {pid} killed; {} memory.events {:?}",
            cg.path,
            cg.events()
        );
        victims.push((pid, comm, limit.path.clone(), cg.path.clone()));
    }
    println!("/nest memory.events {:?}", nest.events());
    // The kernel's counts: one OOM event at the limited cgroup, one kill at the victim's.
    for (cg, limit, _) in cases {
        assert_eq!(cg.events()["oom_kill"], 1, "{} oom_kill", cg.path);
        assert_eq!(limit.events()["oom"], 1, "{} oom", limit.path);
    }
    assert_eq!(
        child.events()["oom"],
        0,
        "the OOM event is counted where the limit is"
    );

    let doc = guest::explain_log("kmsg.txt", &guest::kmsg());
    let ours = ["/m1", "/m2", "/nest/child"];
    let total_kills: u64 = [&m1, &m2, &child]
        .iter()
        .map(|c| c.events()["oom_kill"])
        .sum();
    let ours_incidents = incidents(&doc)
        .iter()
        .filter(|i| ours.iter().any(|c| i["task_memcg"] == *c))
        .count();
    assert_eq!(
        ours_incidents as u64, total_kills,
        "one incident per oom_kill"
    );
    for (pid, comm, oom_memcg, task_memcg) in &victims {
        let found = incidents_killing(&doc, *pid);
        assert_eq!(found.len(), 1, "incidents killing {pid} ({comm})");
        let inc = found[0];
        assert_eq!(inc["kind"], "memcg");
        assert_eq!(inc["completeness"], "full");
        assert_eq!(inc["constraint"], "CONSTRAINT_MEMCG");
        assert_eq!(inc["oom_memcg"], *oom_memcg);
        assert_eq!(inc["task_memcg"], *task_memcg);
        assert_eq!(kills(inc), vec![(*pid as u64, comm.to_string())]);
        assert_eq!(inc["kills"][0]["oom_score_adj"], 0);
        assert_eq!(inc["memcg"]["memory"]["limit_kb"], 32 * 1024);
        assert_eq!(inc["invoker"]["comm"], *comm);
        assert!(inc["kernel_version"]
            .as_str()
            .is_some_and(|v| v.contains("cloud-amd64")));
    }

    // The same kills through the live reader and through busybox dmesg.
    let from_kmsg = kill_facts(&doc, &ours);
    let live = guest::explain("live-kmsg", &["--source", "kmsg"]);
    assert_eq!(kill_facts(&live, &ours), from_kmsg, "--source kmsg");
    let dmesg = guest::output(&mut Command::new("dmesg"));
    let from_dmesg = guest::explain_log("dmesg.txt", &dmesg);
    assert_eq!(kill_facts(&from_dmesg, &ours), from_kmsg, "busybox dmesg");
}

/// memory.oom.group=1: one OOM event kills every process of the cgroup; the report prints
/// several `Killed process` lines, which are one incident with several kills.
#[test]
fn oom_group_kills_every_process_in_one_incident() {
    guest::require("busybox");
    let grp = Cgroup::create("/grp");
    grp.set("memory.max", "64M");
    grp.set("memory.swap.max", "0");
    grp.set("memory.oom.group", "1");
    let mut holders: Vec<Hog> = (1..=3)
        .map(|n| {
            let comm = format!("grp-hold-{n}");
            let mut h = Hog::spawn(Some(&grp), &["--comm", &comm, "hold", "--mib", "8"]);
            h.wait_ready();
            h
        })
        .collect();
    let mut alloc = Hog::spawn(
        Some(&grp),
        &["--comm", "grp-alloc", "alloc", "--mib", "128"],
    );
    let mut pids = BTreeSet::new();
    for h in holders.iter_mut().chain([&mut alloc]) {
        let st = h.wait(KILL_WAIT);
        assert_eq!(
            st.signal(),
            Some(9),
            "pid {}: {}",
            h.pid,
            guest::describe(st)
        );
        pids.insert(h.pid as u64);
    }
    let events = grp.events();
    let doc = guest::explain_log("kmsg-oom-group.txt", &guest::kmsg());
    let found = incidents_killing(&doc, alloc.pid);
    println!("/grp memory.events {events:?}; killed {pids:?}");
    assert_eq!(found.len(), 1, "one incident for the group kill");
    let inc = found[0];
    println!("kills {:?} oom_group {}", kills(inc), inc["oom_group"]);
    assert_eq!(events["oom"], 1);
    assert_eq!(events["oom_group_kill"], 1);
    // 6.1 kills the chosen victim first, then every member of the group, the victim
    // included again (oom_kill_memcg_member does not skip it) unless it has already exited
    // and lost its mm by then: 4 or 5 `Killed process` lines, oom_kill 4 or 5, 4 processes.
    assert!(
        (4..=5).contains(&events["oom_kill"]),
        "oom_kill {}",
        events["oom_kill"]
    );
    assert_eq!(inc["kind"], "memcg");
    assert_eq!(inc["oom_group"], "/grp");
    let killed: BTreeSet<u64> = kills(inc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(killed, pids, "every process of /grp, in one incident");
    assert_eq!(
        kills(inc).len(),
        4,
        "the victim's second line is the same kill"
    );
    // The kernel chooses the largest (the allocator) and then kills the rest.
    assert_eq!(kills(inc)[0].0, alloc.pid as u64);
    for pid in &pids {
        assert_eq!(
            incidents_killing(&doc, *pid as u32).len(),
            1,
            "pid {pid} in one incident only"
        );
    }
}

/// oom_score_adj -1000 protects the largest process; -500 ranks a larger process below a
/// smaller one with 0. The kernel's actual victim is the smallest of the three, and
/// explain's re-computed ranking agrees with it.
#[test]
fn negative_oom_score_adj_protects_and_ranks_lower() {
    guest::require("busybox");
    let cg = Cgroup::create("/adj");
    cg.set("memory.max", "64M");
    cg.set("memory.swap.max", "0");
    let mut protected = Hog::spawn(
        Some(&cg),
        &[
            "--oom-score-adj",
            "-1000",
            "--comm",
            "adj-protected",
            "hold",
            "--mib",
            "28",
        ],
    );
    protected.wait_ready();
    let mut minus500 = Hog::spawn(
        Some(&cg),
        &[
            "--oom-score-adj",
            "-500",
            "--comm",
            "adj-minus500",
            "hold",
            "--mib",
            "20",
        ],
    );
    minus500.wait_ready();
    let mut zero = Hog::spawn(Some(&cg), &["--comm", "adj-zero", "alloc", "--mib", "128"]);
    let st = zero.wait(KILL_WAIT);
    assert_eq!(st.signal(), Some(9), "adj-zero: {}", guest::describe(st));
    assert!(protected.alive(), "the -1000 process must survive");
    assert!(minus500.alive(), "the -500 process must survive");
    let events = cg.events();
    println!(
        "/adj memory.events {events:?}; victim {} (adj-zero); survivors {} (-1000), {} (-500)",
        zero.pid, protected.pid, minus500.pid
    );
    assert_eq!(events["oom_kill"], 1);

    let doc = guest::explain_log("kmsg-adj.txt", &guest::kmsg());
    let found = incidents_killing(&doc, zero.pid);
    assert_eq!(found.len(), 1);
    let inc = found[0];
    assert_eq!(kills(inc), vec![(zero.pid as u64, "adj-zero".to_string())]);
    assert_eq!(inc["kills"][0]["oom_score_adj"], 0);
    let rows = inc["task_table"]["rows"].as_array().expect("task table");
    let row = |pid: u32| {
        rows.iter()
            .find(|r| r["pid"] == pid)
            .unwrap_or_else(|| panic!("pid {pid} in the task table"))
    };
    let rss = |pid: u32| row(pid)["rss"].as_u64().unwrap();
    println!(
        "task table rss pages: -1000 {} / -500 {} / 0 (victim) {}",
        rss(protected.pid),
        rss(minus500.pid),
        rss(zero.pid)
    );
    assert_eq!(row(protected.pid)["oom_score_adj"], -1000);
    assert_eq!(row(minus500.pid)["oom_score_adj"], -500);
    assert!(rss(protected.pid) > rss(zero.pid) && rss(minus500.pid) > rss(zero.pid));
    let ranking = &inc["ranking"];
    println!("ranking {ranking}");
    assert_eq!(ranking["kernel_choice"], zero.pid);
    assert_eq!(ranking["agrees"], true);
    let top = ranking["top"].as_array().unwrap();
    let order: Vec<u64> = top.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    assert_eq!(
        order,
        vec![zero.pid as u64, minus500.pid as u64, protected.pid as u64],
        "ranked: victim, then -500, then -1000"
    );
    assert!(
        top[2]["points"].is_null(),
        "-1000 is never chosen: {}",
        top[2]
    );
}
