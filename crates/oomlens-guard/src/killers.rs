//! Whether `--log auto` follows the journal: only while a userspace OOM killer that writes
//! its kills there runs on this host. A `journalctl -f` child costs more resident memory
//! than the guard itself (about 7 MiB against 5, bench/README.md), to read lines that
//! only systemd-oomd, earlyoom or kubelet write; the kernel's reports come from /dev/kmsg.
//!
//! A killer logs to the journal when systemd runs it: a unit's stdout and stderr go to
//! the journal (systemd-oomd is always a unit; earlyoom and kubelet are, as packaged).
//! One started by hand writes to its terminal or a file, which the journal never sees.
//! The check looks at the processes the sampler already holds (no /proc scan of its own)
//! and reads `/proc/PID/cgroup` of a process with a killer's name only.

use std::path::Path;

use oomlens_model::ProcessSample;

/// The `comm` of the userspace killers whose journal lines the parser knows.
pub const KILLERS: [&str; 3] = ["systemd-oomd", "earlyoom", "kubelet"];

/// The check runs at the first sampler pass, then once per this many passes (a killer
/// started later is followed within this many passes; its kills before that are missed).
pub const CHECK_EVERY_PASSES: u64 = 60;

/// The pid of a running killer that logs to the journal: its comm is one of [`KILLERS`]
/// and its `/proc/PID/cgroup` (below `root`) names a systemd service.
pub fn journal_killer<'a>(
    procs: impl IntoIterator<Item = &'a ProcessSample>,
    root: &Path,
) -> Option<u32> {
    procs
        .into_iter()
        .filter(|p| KILLERS.contains(&p.comm.as_str()))
        .find(|p| {
            std::fs::read_to_string(root.join(format!("proc/{}/cgroup", p.pid)))
                .is_ok_and(|t| t.lines().any(|l| l.trim_end().ends_with(".service")))
        })
        .map(|p| p.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_killer_run_by_systemd_counts() {
        let t = oomlens_testkit::faketree::FakeTree::new("guard-killers");
        t.process(10).cgroup("0::/system.slice/earlyoom.service\n");
        t.process(11)
            .cgroup("0::/user.slice/user-0.slice/session-1.scope\n");
        t.process(12)
            .cgroup("12:memory:/\n1:name=systemd:/system.slice/ssh.service\n");
        let p = |pid: u32, comm: &str| ProcessSample {
            pid,
            comm: comm.into(),
            ..ProcessSample::default()
        };
        let hand = [p(11, "earlyoom"), p(12, "sshd")];
        assert_eq!(
            journal_killer(&hand, t.root()),
            None,
            "by hand; not a killer"
        );
        let unit = [p(11, "earlyoom"), p(12, "sshd"), p(10, "earlyoom")];
        assert_eq!(journal_killer(&unit, t.root()), Some(10));
        let gone = [p(13, "systemd-oomd")];
        assert_eq!(
            journal_killer(&gone, t.root()),
            None,
            "exited: no cgroup file"
        );
    }
}
