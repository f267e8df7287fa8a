//! systemd guest: scenario 002 with and without the guard's protection rule.
//!
//! `pgsim.service` (a postgres stand-in holding 260 MiB, oom_score_adj 0) and a batch job
//! that grows until the 512 MiB guest runs out of memory:
//! - without the guard, the kernel kills the service, the larger process;
//! - with `oomlens guard` and a `[[protect]]` rule (adj -900 for the unit, set again on the
//!   restarted service's exec through the proc connector), the batch job dies and the service
//!   survives.
//!
//! In both phases `oomlens rank --json`, run while the batch job grows, names first the
//! process the kernel then kills. One boot; a global OOM per phase.

use std::process::{Command, Stdio};
use std::time::Duration;

use oomlens_qemu::guest::{self, install_unit, kernel_kills, killed_pid, unit_property};

const PG_MIB: u64 = 260;
const CONFIG: &str = "/tmp/guard.toml";
const GUARD_ERR: &str = "/tmp/guard.err";

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn start(unit: &str) -> String {
    guest::output(Command::new("systemctl").args(["start", unit]));
    unit_property(unit, "MainPID")
}

/// Start the batch job, let it grow to 40 MiB, and return its pid and the pid that
/// `oomlens rank` names first for the machine at that moment.
fn batch_and_rank(phase: &str, mib: u32) -> (String, u64) {
    let _ = Command::new("systemctl")
        .args(["reset-failed", "batch-job.service"])
        .status();
    install_unit(
        "batch-job.service",
        &format!(
            "[Unit]\nDescription=batch job (scenario 002)\n[Service]\n\
             ExecStart=/usr/local/bin/oomlens-hog --comm batch-job alloc --mib {mib} --rate 40\n"
        ),
    );
    let pid = start("batch-job.service");
    guest::wait_for("the batch job at 40 MiB", Duration::from_secs(60), || {
        rss_kib(&pid) >= 40 * 1024
    });
    let doc = guest::rank(&format!("rank-{phase}"), &["--cgroup", "/"]);
    let first = doc["domains"][0]["candidates"][0]["pid"]
        .as_u64()
        .expect("a first candidate");
    (pid, first)
}

/// The pids the kernel killed after `from` bytes of the kmsg dump.
fn killed_since(from: usize) -> Vec<u32> {
    let k = guest::kmsg();
    kernel_kills(&k[from.min(k.len())..])
        .iter()
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| killed_pid(l)))
        .collect()
}

#[test]
fn scenario_002_the_guard_protects_the_service_and_the_batch_job_dies() {
    guest::require("systemd");
    install_unit(
        "pgsim.service",
        &format!(
            "[Unit]\nDescription=postgres stand-in (scenario 002)\n[Service]\n\
             ExecStart=/usr/local/bin/oomlens-hog --comm postgres hold --mib {PG_MIB}\n"
        ),
    );

    // Phase 1, no guard: the kernel kills the larger process, the service.
    let pg = start("pgsim.service");
    guest::wait_for("pgsim to hold its memory", Duration::from_secs(60), || {
        rss_kib(&pg) >= PG_MIB * 1024
    });
    let mark = guest::kmsg().len();
    // 320 MiB: more than fits beside the service, little enough to finish once it is gone.
    let (batch, ranked) = batch_and_rank("unguarded", 320);
    println!("phase 1: pgsim {pg}, batch {batch}, rank names {ranked}");
    guest::wait_for("pgsim to be killed", Duration::from_secs(120), || {
        unit_property("pgsim.service", "ActiveState") != "active"
    });
    assert_eq!(unit_property("pgsim.service", "Result"), "oom-kill");
    let killed = killed_since(mark);
    assert_eq!(
        killed.first().map(u32::to_string),
        Some(pg.clone()),
        "{killed:?}"
    );
    assert_eq!(
        ranked.to_string(),
        pg,
        "rank named the process the kernel killed"
    );
    guest::wait_for("the batch job to finish", Duration::from_secs(120), || {
        unit_property("batch-job.service", "ActiveState") != "active"
    });
    assert_eq!(unit_property("batch-job.service", "Result"), "success");
    guest::save_artifact("kmsg-unguarded.txt", &guest::kmsg());

    // Phase 2, the guard with a rule for the unit.
    std::fs::write(
        CONFIG,
        "[[protect]]\nname = \"postgres\"\nunit = \"pgsim.service\"\nadj = -900\n\n\
         [[protect]]\nname = \"batch\"\ncomm = \"batch-job\"\nadj = 300\n",
    )
    .unwrap();
    let err = std::fs::File::create(GUARD_ERR).unwrap();
    let mut guard = guest::tool("oomlens")
        .args([
            "guard",
            "--config",
            CONFIG,
            "--state-dir",
            "/tmp/guard-store",
        ])
        .args(["--no-metrics", "--log", "kmsg"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(GUARD_ERR).unwrap_or_default();
    guest::wait_for("the guard to be ready", Duration::from_secs(60), || {
        log().contains("ready")
    });
    assert!(
        log().contains("new processes seen by the proc connector"),
        "{}",
        log()
    );
    // The service restarts after the guard: its exec is an event, the rule applies.
    let pg = start("pgsim.service");
    guest::wait_for(
        "the rule on the restarted service",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(format!("/proc/{pg}/oom_score_adj"))
                .is_ok_and(|a| a.trim() == "-900")
        },
    );
    guest::wait_for("pgsim to hold its memory", Duration::from_secs(60), || {
        rss_kib(&pg) >= PG_MIB * 1024
    });
    let mark = guest::kmsg().len();
    let (batch, ranked) = batch_and_rank("guarded", 2048);
    println!("phase 2: pgsim {pg}, batch {batch}, rank names {ranked}");
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{batch}/oom_score_adj"))
            .map(|s| s.trim().to_string())
            .ok(),
        Some("300".to_string()),
        "the batch rule"
    );
    guest::wait_for(
        "the batch job to be killed",
        Duration::from_secs(120),
        || unit_property("batch-job.service", "ActiveState") != "active",
    );
    assert_eq!(unit_property("batch-job.service", "Result"), "oom-kill");
    assert_eq!(unit_property("pgsim.service", "ActiveState"), "active");
    assert_eq!(
        unit_property("pgsim.service", "MainPID"),
        pg,
        "the service survived"
    );
    let killed = killed_since(mark);
    assert_eq!(
        killed.first().map(u32::to_string),
        Some(batch.clone()),
        "{killed:?}"
    );
    assert_eq!(
        ranked.to_string(),
        batch,
        "rank named the process the kernel killed"
    );
    guest::save_artifact("kmsg-guarded.txt", &guest::kmsg());
    guest::save_artifact("guard.err", log().as_bytes());
    let l = log();
    // The write may come at systemd's rename of the forked child (a comm event, comm
    // `(lens-hog)`), already in the unit's cgroup, before its exec: adj is kept across exec.
    let applied = format!("oomlens guard: protect: postgres: pid {pg} (");
    assert!(
        l.lines()
            .any(|x| x.starts_with(&applied) && x.ends_with("oom_score_adj 0 -> -900")),
        "{l}"
    );
    let _ = guard.kill();
    let _ = guard.wait();
}
