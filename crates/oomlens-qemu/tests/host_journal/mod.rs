//! One systemd guest of the multi-host journal test (`systemd_host_a.rs`,
//! `systemd_host_b.rs`): the guest takes its own hostname, a unit under MemoryMax= is
//! OOM-killed for real, and the guest's journal files are saved as artifacts. After both
//! guests ran, `tests/guest_suite.rs` puts the two journals into one directory on the host
//! and checks `oomlens explain --journal-dir`: both kills, each with its guest's hostname.
//!
//! Artifacts (`<target>/qemu-artifacts/systemd_host_X/`):
//! - `hostname`, `machine-id`: the guest's;
//! - `kernel-kill.txt`: the kernel's own `oom-kill:` and `Killed process` lines of the unit,
//!   from /dev/kmsg (what the host check compares the pid with);
//! - `journal-N.journal`: the archived files of /run/log/journal/MACHINE-ID/ after
//!   `journalctl --rotate` (journald is volatile in the guest), byte for byte;
//! - `journal-dir.json`: `oomlens explain --journal-dir /run/log/journal --json` in the guest.

use std::process::Command;
use std::time::Duration;

use oomlens_qemu::guest::{self, install_unit, unit_property};

/// The unit that is killed; its cgroup is `/system.slice/<UNIT>`.
pub const UNIT: &str = "hostoom.service";

/// Runs the whole guest side for `hostname`.
pub fn run(hostname: &str) {
    guest::require("systemd");
    set_hostname(hostname);
    let pid = provoke_kill();
    let files = save_journal();
    assert!(!files.is_empty(), "no journal file in /run/log/journal");

    // The same check as on the host, with the guest's own journalctl, on the live directory.
    let doc = guest::explain("journal-dir", &["--journal-dir", "/run/log/journal"]);
    let ours = guest::incidents_killing(&doc, pid);
    assert_eq!(ours.len(), 1, "one incident kills pid {pid}");
    assert_eq!(ours[0]["host"], hostname);
    assert_eq!(ours[0]["oom_memcg"], format!("/system.slice/{UNIT}"));
}

/// sethostname() through /proc, then waits until journald stamps new entries with it
/// (journald watches /proc/sys/kernel/hostname and re-reads it on change; systemd
/// src/journal/journald-server.c, server_open_hostname / dispatch_hostname_change).
fn set_hostname(hostname: &str) {
    std::fs::write("/proc/sys/kernel/hostname", hostname).expect("set the hostname");
    std::fs::write("/etc/hostname", format!("{hostname}\n")).expect("/etc/hostname");
    guest::save_artifact("hostname", hostname.as_bytes());
    let machine_id = std::fs::read_to_string("/etc/machine-id").expect("/etc/machine-id");
    guest::save_artifact("machine-id", machine_id.trim().as_bytes());
    let marker = format!("oomlens-hostname-{hostname}");
    guest::wait_for(
        "journald to stamp entries with the new hostname",
        Duration::from_secs(30),
        || {
            guest::output(Command::new("logger").args(["-t", "oomlens-marker", &marker]));
            let j = guest::journal_json(&["-t", "oomlens-marker"]);
            String::from_utf8_lossy(&j).lines().any(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .is_ok_and(|v| v["MESSAGE"] == marker.as_str() && v["_HOSTNAME"] == hostname)
            })
        },
    );
}

/// Starts a unit that allocates past its MemoryMax=; returns the pid the kernel killed, read
/// from the kernel's own `Killed process` line in /dev/kmsg.
fn provoke_kill() -> u32 {
    install_unit(
        UNIT,
        "[Unit]\n\
         Description=allocates past its limit (multi-host journal test)\n\
         [Service]\n\
         ExecStart=/usr/local/bin/oomlens-hog --comm host-hog alloc --mib 256 --rate 64\n\
         MemoryMax=32M\n\
         MemorySwapMax=0\n",
    );
    guest::output(Command::new("systemctl").args(["start", UNIT]));
    guest::wait_for(
        "the unit to fail with Result=oom-kill",
        Duration::from_secs(90),
        || unit_property(UNIT, "Result") == "oom-kill",
    );
    let kmsg = guest::kmsg();
    let cg = format!("/system.slice/{UNIT}");
    let kills: Vec<(String, Vec<String>)> = guest::kernel_kills(&kmsg)
        .into_iter()
        .filter(|(summary, _)| guest::summary_field(summary, "oom_memcg") == Some(cg.as_str()))
        .collect();
    let text: String = kills
        .iter()
        .flat_map(|(s, k)| std::iter::once(s.clone()).chain(k.iter().cloned()))
        .map(|l| l + "\n")
        .collect();
    guest::save_artifact("kernel-kill.txt", text.as_bytes());
    assert_eq!(kills.len(), 1, "one kernel OOM kill in {cg}:\n{text}");
    let pid = kills[0]
        .1
        .first()
        .and_then(|l| guest::killed_pid(l))
        .expect("the kernel's Killed process line");
    println!("{UNIT}: the kernel killed pid {pid}");
    pid
}

/// `journalctl --sync` then `--rotate`: the active files are archived
/// (`system@SEQNUM-ID-….journal`, complete and offline) and journald starts new, empty ones.
/// The archived files of /run/log/journal/MACHINE-ID/ are saved as `journal-N.journal`; the
/// new active `system.journal` holds nothing yet but 1.2 MB of preallocated hash tables.
fn save_journal() -> Vec<String> {
    guest::output(Command::new("journalctl").arg("--sync"));
    guest::output(Command::new("journalctl").arg("--rotate"));
    let mut files = Vec::new();
    for dir in std::fs::read_dir("/run/log/journal").expect("/run/log/journal") {
        let dir = dir.unwrap().path();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "journal"))
            .filter(|p| p.file_name().is_some_and(|n| n != "system.journal"))
            .collect();
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = format!("journal-{}.journal", files.len());
            println!("{} ({} bytes) -> {name}", p.display(), bytes.len());
            guest::save_artifact(&name, &bytes);
            files.push(name);
        }
    }
    files
}
