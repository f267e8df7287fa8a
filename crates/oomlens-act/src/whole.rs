//! Killing a whole cgroup, only where the policy says `whole-cgroup = true`.

use std::path::Path;

use crate::target::{Expected, Guard, Target};
use crate::{ActError, Procfs, Refusal};

/// How a whole cgroup was killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WholeKill {
    /// `cgroup.kill` (cgroup v2, Linux 5.14): the kernel kills every process atomically,
    /// including ones forked meanwhile.
    CgroupKill {
        /// The processes listed just before.
        pids: Vec<u32>,
    },
    /// No `cgroup.kill` (v1): each process of `cgroup.procs` through its own checked pidfd.
    EachProcess {
        /// The processes signalled.
        pids: Vec<u32>,
    },
}

/// Kills every process of the cgroup at `dir` (`cgroup` as /proc/PID/cgroup names it).
///
/// Refused as a whole when any process in it is refused (PID 1, the guard or its child, a
/// kernel thread, a protected pid): `cgroup.kill` cannot spare one.
pub fn kill_cgroup(
    procfs: &Procfs,
    dir: &Path,
    cgroup: &str,
    guard: &Guard<'_>,
) -> Result<WholeKill, ActError> {
    let procs_path = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&procs_path)
        .map_err(|e| ActError::io(procs_path.clone(), e, None))?;
    let mut pids: Vec<(u32, u64)> = Vec::new();
    for pid in text.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        let stat = match procfs.stat(pid) {
            Ok(s) => s,
            Err(ActError::Gone(_)) => continue,
            Err(e) => return Err(e),
        };
        if let Some(r) = guard.refuse(pid, &stat) {
            return Err(r.into());
        }
        pids.push((pid, stat.start_time));
    }
    let kill_file = dir.join("cgroup.kill");
    if kill_file.exists() {
        std::fs::write(&kill_file, "1").map_err(|e| ActError::io(kill_file, e, None))?;
        return Ok(WholeKill::CgroupKill {
            pids: pids.iter().map(|p| p.0).collect(),
        });
    }
    let mut done = Vec::new();
    for (pid, start_time) in pids {
        let want = Expected {
            pid,
            start_time,
            cgroup,
        };
        match Target::open(procfs, &want, guard) {
            Ok(t) => match t.signal(rustix::process::Signal::KILL) {
                Ok(()) => {
                    let _ = t.mrelease();
                    done.push(pid);
                }
                Err(ActError::Gone(_)) => {}
                Err(e) => return Err(e),
            },
            Err(ActError::Gone(_)) | Err(ActError::Refused(Refusal::Reused { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(WholeKill::EachProcess { pids: done })
}
