//! busybox guest, 256 MiB of RAM, no swap: a global OOM (no cgroup limit anywhere).

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use oomlens_qemu::guest::{self, flat_keyed, incidents, incidents_killing, kills, Cgroup, Hog};

fn vmstat_oom_kill() -> u64 {
    flat_keyed(&std::fs::read_to_string("/proc/vmstat").unwrap())["oom_kill"]
}

/// A hog in an unlimited cgroup exhausts the machine: the kernel's global OOM killer takes
/// it, not a larger bystander with oom_score_adj -500; explain reports kind `global`, the
/// victim's v2 cgroup, and a ranking of the whole machine that agrees with the kernel.
#[test]
fn global_oom_is_kind_global_and_ranked_over_the_machine() {
    guest::require("busybox");
    let before = vmstat_oom_kill();
    let cg = Cgroup::create("/glob");
    let mut bystander = Hog::spawn(
        Some(&cg),
        &[
            "--oom-score-adj",
            "-500",
            "--comm",
            "glob-bystander",
            "hold",
            "--mib",
            "96",
        ],
    );
    bystander.wait_ready();
    let mut hog = Hog::spawn(
        Some(&cg),
        &["--comm", "global-hog", "alloc", "--mib", "1024"],
    );
    let st = hog.wait(Duration::from_secs(120));
    assert_eq!(st.signal(), Some(9), "global-hog: {}", guest::describe(st));
    assert!(bystander.alive(), "the -500 bystander must survive");
    let events = cg.events();
    let kills_counted = vmstat_oom_kill() - before;
    println!(
        "global-hog pid {} killed; /glob memory.events {events:?}; /proc/vmstat oom_kill +{kills_counted}",
        hog.pid
    );
    assert_eq!(kills_counted, 1);
    assert_eq!(events["oom"], 0, "a global OOM is no memcg OOM event");
    assert_eq!(
        events["oom_kill"], 1,
        "but the kill is counted in the victim's memcg"
    );

    let doc = guest::explain_log("kmsg-global.txt", &guest::kmsg());
    let global: Vec<_> = incidents(&doc)
        .iter()
        .filter(|i| i["kind"] == "global")
        .collect();
    assert_eq!(global.len() as u64, kills_counted);
    let found = incidents_killing(&doc, hog.pid);
    assert_eq!(found.len(), 1);
    let inc = found[0];
    assert_eq!(inc["kind"], "global");
    assert_eq!(inc["constraint"], "CONSTRAINT_NONE");
    assert_eq!(inc["task_memcg"], "/glob");
    assert_eq!(kills(inc), vec![(hog.pid as u64, "global-hog".to_string())]);
    assert!(
        inc["mem_info"]["pages_ram"].as_u64().is_some(),
        "Mem-Info parsed"
    );
    let rows = inc["task_table"]["rows"].as_array().expect("task table");
    let rss = |pid: u32| {
        rows.iter()
            .find(|r| r["pid"] == pid)
            .and_then(|r| r["rss"].as_u64())
            .unwrap_or_else(|| panic!("pid {pid} in the task table"))
    };
    println!(
        "task table rss pages: bystander (-500) {} / victim {}; ranking {}",
        rss(bystander.pid),
        rss(hog.pid),
        inc["ranking"]
    );
    assert!(
        rss(bystander.pid) > rss(hog.pid),
        "the bystander is the larger process"
    );
    assert_eq!(inc["ranking"]["kernel_choice"], hog.pid);
    assert_eq!(inc["ranking"]["agrees"], true);
}
