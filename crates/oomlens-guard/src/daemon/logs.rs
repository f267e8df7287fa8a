//! The logs: drained when readable (or at each pass for a followed file), the journal
//! followed once a userspace killer runs as a service.

use std::path::PathBuf;
use std::time::Instant;

use oomlens_model::{cgroup_path, CgroupVersion};
use oomlens_sinks::escape::escape;
use rustix::event::epoll;

use super::{add, error_chain, Daemon, TOKEN_LOG};
use crate::error::GuardError;
use crate::klog::{Drained, KillTail, LogInput};

impl Daemon {
    pub(super) fn drain(&mut self, i: usize) -> Result<(), GuardError> {
        let mut d = Drained::default();
        let ended = self.inputs[i]
            .drain(&mut self.parsed, &mut d)
            .map_err(GuardError::Log)?;
        if d.lines > 0 {
            self.data_at[i] = Instant::now();
        }
        self.stats.lines += d.lines;
        self.stats.records_lost += d.lost;
        self.stats.overruns += d.overruns;
        if d.lost > 0 {
            eprintln!(
                "oomlens guard: {}: {} record(s) overwritten before they could be read",
                self.inputs[i].name, d.lost
            );
        }
        if ended {
            // journalctl went away: its pipe must not wake the loop again.
            if let Some(fd) = self.inputs[i].fd() {
                let _ = epoll::delete(&self.ep, fd);
            }
            eprintln!("oomlens guard: {} ended", self.inputs[i].name);
        }
        Ok(())
    }

    /// True when log `i`'s last report line was its kill line and no `memory.oom.group`
    /// kill can follow it: the report is complete now, and waiting for the log to stay
    /// quiet (`--report-quiet`) would only delay its record (bench/README.md, kill ->
    /// recorded).
    pub(super) fn report_ended(&self, i: usize) -> bool {
        let input = &self.inputs[i];
        !input.more
            && input
                .kill_tail()
                .is_some_and(|t| !self.group_kill_possible(t))
    }

    /// Whether the kernel may kill a whole `memory.oom.group` after this kill: the group is
    /// the highest cgroup from the victim's up to the OOM domain with `memory.oom.group` 1
    /// (mm/memcontrol.c `mem_cgroup_get_oom_group`, Linux 4.19+). cgroup v1 has no such
    /// file. Anything unknown (no hierarchy, no `oom-kill:` line, a file that cannot be
    /// read) counts as possible: the report then waits for the quiet as before.
    fn group_kill_possible(&self, t: &KillTail) -> bool {
        let Some(fs) = &self.cgroupfs else {
            return true;
        };
        if fs.hierarchy().version == CgroupVersion::V1 {
            return false;
        }
        let Some(task) = t.task_memcg.as_deref() else {
            return true;
        };
        let domain = t.oom_memcg.as_deref().unwrap_or("/");
        for cg in std::iter::once(task).chain(cgroup_path::ancestors(task)) {
            let Some(dir) = fs.dir_of(cg) else {
                return true;
            };
            match std::fs::read_to_string(dir.join("memory.oom.group")) {
                Ok(v) if v.trim() == "0" => {}
                // The root cgroup has no such file (nor any group).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && cg == "/" => {}
                _ => return true,
            }
            if cg == domain {
                break;
            }
        }
        false
    }

    pub(super) fn drain_files(&mut self) -> Result<(), GuardError> {
        for i in 0..self.inputs.len() {
            if self.inputs[i].fd().is_none() {
                self.drain(i)?;
            }
        }
        Ok(())
    }

    /// Starts following the journal for the userspace killers' lines (`--log auto`); without
    /// journalctl the guard goes on with /dev/kmsg alone, as at start.
    pub(super) fn follow_journal(&mut self) {
        self.journal_pending = false;
        let Ok(j) = LogInput::journal(&PathBuf::from("journalctl"), true) else {
            return;
        };
        let token = TOKEN_LOG + self.inputs.len() as u64;
        if let Some(fd) = j.fd() {
            if let Err(e) = add(&self.ep, &fd, token) {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
                return;
            }
        }
        self.inputs.push(j);
        self.data_at.push(Instant::now());
    }
}
