//! Provokes one memory-cgroup OOM kill and prints the kernel's report as raw `/dev/kmsg`
//! records: the fixture `crates/oomlens-parse/tests/data/real/kmsg-memcg-anon-*.txt` was
//! made with it.
//!
//! ```text
//! cargo run -p oomlens-testkit --example capture-memcg-oom > report.txt
//! ```
//!
//! Needs root and a writable cgroup v1 memory hierarchy. A 64 MiB cgroup is created under
//! our own, `oomlens-hog alloc --mib 100 --rate 200` runs in it until the kernel kills it,
//! and only the records of that report (matched by cgroup path and pid) are printed.

use std::process::Command;
use std::time::Duration;

use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::kmsg::{self, Kmsg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hog = oomlens_testkit::hog_path()?;
    let mut log = Kmsg::open_at_end()?;
    let mut cg = MemoryCgroup::create(64 << 20)?;
    let mut p = cg.spawn(Command::new(hog).args(["alloc", "--mib", "100", "--rate", "200"]))?;
    let status = cg.wait_exit(p.pid, Duration::from_secs(10))?;
    let pid = p.pid;
    eprintln!("hog {pid} exited: {status:?}; lines {:?}", p.drain());
    // The reaper line, when there is one, comes up to 2 s after the kill (OOM_REAPER_DELAY).
    let kills = log.wait_for_kills(
        cg.path(),
        Duration::from_secs(5),
        Duration::from_millis(2500),
    )?;
    let [kill] = kills.as_slice() else {
        return Err(format!("expected one kill in {}, got {kills:#?}", cg.path()).into());
    };
    if kill.oom_kill.pid != p.pid {
        return Err(format!(
            "the kernel killed {} instead of {}",
            kill.oom_kill.pid, p.pid
        )
        .into());
    }
    let report = kmsg::extract_report(&log.records, kill, true)
        .ok_or("the report is incomplete or interleaved with foreign records")?;
    print!("{}", kmsg::records_to_text(&report));
    eprintln!(
        "cgroup {}; {} records; overruns {}",
        cg.path(),
        report.len(),
        log.overruns
    );
    Ok(())
}
