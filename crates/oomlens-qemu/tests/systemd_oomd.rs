//! systemd guest: systemd-oomd (bookworm's separate package, enabled as installed) kills a
//! service for memory pressure; the kill is parsed from the guest's own journal.
//!
//! Not in the CI guest suite (tests/guest_suite.rs): in about one run of three here
//! systemd-oomd never killed within 150 s although the slice's pressure was above its limit;
//! the others kill in 13-20 s. Run it with `oomlens-qemu run --test systemd_oomd`.

use std::process::Command;
use std::time::{Duration, Instant};

use oomlens_qemu::guest::{self, incidents, install_unit, unit_property};
use serde_json::Value;

/// `oomtest.slice` has ManagedOOMMemoryPressure=kill at 20 % for 2 s; `pressure.service`
/// in it grows past MemoryHigh without swap, so the kernel throttles it and its pressure
/// climbs. It keeps allocating (4 MiB/s, throttled; 400 MiB would take 100 s unthrottled):
/// a hog that finished early would let the pressure fall before systemd-oomd acts.
/// systemd-oomd kills the service (~13-20 s of guest time when this was written);
/// explain shows a `systemd-oomd` incident with its trigger and PID 1's notices linked.
#[test]
fn systemd_oomd_pressure_kill_is_parsed_from_the_journal() {
    guest::require("systemd");
    std::fs::create_dir_all("/etc/systemd/oomd.conf.d").unwrap();
    std::fs::write(
        "/etc/systemd/oomd.conf.d/oomlens.conf",
        "[OOM]\nDefaultMemoryPressureDurationSec=2s\n",
    )
    .unwrap();
    install_unit(
        "oomtest.slice",
        "[Slice]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=20%\n",
    );
    install_unit(
        "pressure.service",
        "[Unit]\nDescription=memory.high-throttled hog\n[Service]\nSlice=oomtest.slice\n\
         MemoryHigh=24M\nMemorySwapMax=0\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm pressure-hog alloc --mib 400 --rate 4 --sleep\n",
    );
    guest::output(Command::new("systemctl").args(["restart", "systemd-oomd.service"]));
    guest::output(Command::new("systemctl").args(["start", "pressure.service"]));
    let start = Instant::now();
    guest::wait_for(
        "systemd-oomd to kill pressure.service",
        Duration::from_secs(150),
        || unit_property("pressure.service", "ActiveState") != "active",
    );
    let pressure =
        std::fs::read_to_string("/sys/fs/cgroup/oomtest.slice/memory.pressure").unwrap_or_default();
    println!(
        "pressure.service ended after {:.1} s: Result={}; /oomtest.slice memory.pressure: {}",
        start.elapsed().as_secs_f64(),
        unit_property("pressure.service", "Result"),
        pressure.replace('\n', " | ")
    );
    assert_eq!(unit_property("pressure.service", "Result"), "oom-kill");

    let doc = guest::explain_log("journal-oomd.json", &guest::journal_json(&[]));
    let oomd: Vec<&Value> = incidents(&doc)
        .iter()
        .filter(|i| i["kind"] == "systemd-oomd")
        .collect();
    for i in &oomd {
        println!(
            "oomd incident task_memcg={} trigger={} kills={} notices={}",
            i["task_memcg"], i["oomd_trigger"], i["kills"], i["notices"]
        );
    }
    assert_eq!(oomd.len(), 1);
    let inc = oomd[0];
    assert_eq!(inc["task_memcg"], "/oomtest.slice/pressure.service");
    let t = &inc["oomd_trigger"];
    assert_eq!(t["reason"], "pressure");
    assert_eq!(t["monitored_cgroup"], "/oomtest.slice");
    assert_eq!(t["limit"], "20.00%");
    assert_eq!(t["duration"], "2s");
    let value: f64 = t["value"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(value > 20.0, "pressure {value}% above the limit");
    let notice = |kind: &str| {
        inc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == kind && n["unit"] == "pressure.service")
    };
    assert!(
        notice("oomd-killed"),
        "'systemd-oomd killed 1 process(es)' linked"
    );
    assert!(
        notice("failed-oom-kill"),
        "'Failed with result oom-kill' linked"
    );
    assert!(
        incidents(&doc)
            .iter()
            .all(|i| i["kind"] != "memcg" && i["kind"] != "global"),
        "no kernel OOM: only systemd-oomd acted"
    );
}
