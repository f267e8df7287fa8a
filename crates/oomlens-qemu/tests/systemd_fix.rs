//! systemd guest (systemd 252 as PID 1, cgroup v2): `oomlens fix UNIT --apply` writes the
//! drop-in, reloads and restarts the unit, and systemd, the kernel's cgroup and the main
//! process all carry the new MemoryHigh=/MemoryMax=/OOMScoreAdjust=.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use oomlens_qemu::guest::{self, unit_property};
use oomlens_testkit::run::{Oomlens, Ran};
use serde_json::Value;

/// `oomlens ARGS` (the guest's static binary), whatever its exit status.
fn oomlens(args: &[&str]) -> Ran {
    let out = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .args(args)
        .run();
    // audit --json is long: its findings are printed by the test.
    if args.first() == Some(&"audit") {
        println!(
            "$ {}\n-> {}\nstderr:\n{}",
            out.command,
            guest::describe(out.status),
            out.stderr()
        );
    } else {
        println!("{out}");
    }
    out
}

fn systemctl(args: &[&str]) {
    guest::output(Command::new("systemctl").args(args));
}

/// `systemctl show UNIT -p P ...` as P → value.
fn show(unit: &str, props: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = Command::new("systemctl");
    cmd.args(["show", unit]);
    for p in props {
        cmd.args(["-p", p]);
    }
    String::from_utf8_lossy(&guest::output(&mut cmd))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const DROPIN: &str = "/etc/systemd/system/probe.service.d/50-oomlens.conf";

/// The fix author's sequence: probe.service (sleep, MemoryMax=512M), fixed with a peak of
/// 1228.8M: MemoryHigh = 1228.8M + 25% = 1536 MiB, MemoryMax = 4/3 of that = 2048 MiB.
#[test]
fn fix_apply_reaches_systemd_the_cgroup_and_the_process() {
    guest::require("systemd");
    let t0 = Instant::now();
    let help = String::from_utf8_lossy(&oomlens(&["fix", "--help"]).stdout).into_owned();
    for flag in ["--peak", "--oom-score-adjust", "--apply", "--force"] {
        assert!(help.contains(flag), "fix --help names {flag}");
    }
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep in the image");
    std::fs::write(
        "/etc/systemd/system/probe.service",
        format!("[Service]\nExecStart={sleep} infinity\nMemoryMax=512M\nRestart=always\n"),
    )
    .unwrap();
    systemctl(&["daemon-reload"]);
    systemctl(&["start", "probe.service"]);
    let before = show(
        "probe.service",
        &["MemoryHigh", "MemoryMax", "OOMScoreAdjust", "MainPID"],
    );
    println!("before: {before:?}");
    assert_eq!(before["MemoryMax"], (512u64 << 20).to_string());

    let out = oomlens(&[
        "fix",
        "probe.service",
        "--peak",
        "1228.8M",
        "--oom-score-adjust",
        "-500",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(0), "fix --apply");
    let dropin = std::fs::read_to_string(DROPIN).expect("the drop-in");
    println!("{DROPIN}:\n{dropin}");

    let after = show(
        "probe.service",
        &[
            "MemoryHigh",
            "MemoryMax",
            "OOMScoreAdjust",
            "DropInPaths",
            "MainPID",
            "ActiveState",
        ],
    );
    println!("after: {after:?}");
    assert_eq!(after["MemoryHigh"], "1610612736");
    assert_eq!(after["MemoryMax"], "2147483648");
    assert_eq!(after["OOMScoreAdjust"], "-500");
    assert!(
        after["DropInPaths"].split_whitespace().any(|p| p == DROPIN),
        "DropInPaths {}",
        after["DropInPaths"]
    );
    assert_eq!(after["ActiveState"], "active");
    let cg = "/sys/fs/cgroup/system.slice/probe.service";
    let high = std::fs::read_to_string(format!("{cg}/memory.high")).unwrap();
    let max = std::fs::read_to_string(format!("{cg}/memory.max")).unwrap();
    let main_pid = &after["MainPID"];
    assert_ne!(main_pid, "0");
    assert_ne!(main_pid, &before["MainPID"], "restarted");
    let adj = std::fs::read_to_string(format!("/proc/{main_pid}/oom_score_adj")).unwrap();
    println!(
        "{cg}: memory.high {} memory.max {}; MainPID {main_pid} (was {}) oom_score_adj {}",
        high.trim(),
        max.trim(),
        before["MainPID"],
        adj.trim()
    );
    assert_eq!(high.trim(), "1610612736");
    assert_eq!(max.trim(), "2147483648");
    assert_eq!(adj.trim(), "-500");

    // Again, same plan: the drop-in already says exactly this; nothing to replace.
    let same = oomlens(&[
        "fix",
        "probe.service",
        "--peak",
        "1228.8M",
        "--oom-score-adjust",
        "-500",
    ]);
    // Again with another plan and no --force: refused, exit 2, the drop-in kept.
    let other = oomlens(&[
        "fix",
        "probe.service",
        "--peak",
        "1G",
        "--oom-score-adjust",
        "-500",
        "--apply",
    ]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "an identical drop-in is unchanged"
    );
    assert!(String::from_utf8_lossy(&same.stderr).contains("unchanged"));
    assert_eq!(
        other.status.code(),
        Some(2),
        "a different drop-in needs --force"
    );
    assert!(String::from_utf8_lossy(&other.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(DROPIN).unwrap(), dropin, "kept");
    assert_eq!(unit_property("probe.service", "MemoryHigh"), "1610612736");
    systemctl(&["stop", "probe.service"]);
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}

/// Scenario 000 and its fix: leaky.service (MemoryMax=40M, no MemoryHigh=) is OOM-killed in
/// a restart loop; audit names memory-max-without-high; fix with the observed peak gives it
/// a MemoryHigh=.
#[test]
fn scenario_000_audit_then_fix() {
    guest::require("systemd");
    let t0 = Instant::now();
    guest::install_unit(
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
    systemctl(&["start", "leaky.service"]);
    let mut peak = 0u64;
    let mut restarts = 0;
    guest::wait_for(
        "2 restarts of leaky.service",
        Duration::from_secs(90),
        || {
            if let Ok(p) =
                std::fs::read_to_string("/sys/fs/cgroup/system.slice/leaky.service/memory.peak")
            {
                peak = peak.max(p.trim().parse().unwrap_or(0));
            }
            restarts = unit_property("leaky.service", "NRestarts")
                .parse::<u32>()
                .unwrap_or(0);
            restarts >= 2
        },
    );
    systemctl(&["stop", "leaky.service"]);
    let t_loop = t0.elapsed().as_secs_f64();
    println!("leaky.service: NRestarts={restarts} after {t_loop:.1} s; memory.peak seen {peak}");
    assert!(peak > 30 << 20, "peak {peak} near MemoryMax=40M");

    let rule_hits = |out: &Ran| -> usize {
        let doc: Value = serde_json::from_slice(&out.stdout).expect("audit JSON");
        assert_eq!(doc["schema"], "oomlens.audit/1");
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .inspect(|f| println!("finding {} {}: {}", f["rule"], f["target"], f["message"]))
            .filter(|f| f["rule"] == "memory-max-without-high" && f["target"] == "leaky.service")
            .count()
    };
    let out = oomlens(&["audit", "--json", "leaky.service"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "audit ran");
    assert_eq!(
        rule_hits(&out),
        1,
        "memory-max-without-high for leaky.service"
    );

    let peak_arg = peak.to_string();
    let out = oomlens(&["fix", "leaky.service", "--peak", &peak_arg, "--apply"]);
    assert_eq!(out.status.code(), Some(0));
    let high = unit_property("leaky.service", "MemoryHigh");
    let max = unit_property("leaky.service", "MemoryMax");
    systemctl(&["stop", "leaky.service"]);
    println!("after fix: MemoryHigh={high} MemoryMax={max}");
    assert_ne!(high, "infinity");
    let high: u64 = high.parse().expect("MemoryHigh in bytes");
    assert!(high >= peak + peak / 4, "MemoryHigh {high} >= peak + 25%");
    let out = oomlens(&["audit", "--json", "leaky.service"]);
    assert_eq!(rule_hits(&out), 0, "fixed");
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}
