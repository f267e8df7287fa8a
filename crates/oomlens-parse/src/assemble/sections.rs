//! One function per report section: what each classified kernel line adds to the open
//! incident, or which incident it opens. `KernelAssembler::push` only dispatches here.
//!
//! A line that can start a report goes through `section_start` (join the open incident
//! unless it already killed or already has this section); a line that only continues a
//! report goes through `open_before_kill` and is dropped when no report is open.

use std::collections::VecDeque;

use oomlens_model::{
    Incident, Invoker, Kill, KillEvidence, MemInfo, MemcgCounter, MemcgCounters, MemoryStat, Reap,
    Selection, StatEntry, StatUnit, TaskTable,
};

use super::{
    kill_from_line, task_row, At, KernelAssembler, Open, Section, MAX_STAT_ENTRIES, MAX_TABLE_ROWS,
    WARNING_MEMINFO_LINES,
};
use crate::kernel::{memcg_frame, oom_path_frame, KilledLine, OomKillLine, OomPanic};

/// The report header: `invoked oom-killer`, the dump_stack CPU line, the cpuset line, the
/// call trace and the other body lines before the memory sections.
impl KernelAssembler {
    pub(super) fn invoked(&mut self, at: At<'_>, inv: Invoker, hold: &mut VecDeque<Incident>) {
        self.close(hold);
        let mut o = Open::new(at.line, at.env);
        o.saw_invoked = true;
        o.confirmed = true;
        o.inc.invoker = Some(inv);
        self.open = Some(o);
    }

    pub(super) fn cpu_header(
        &mut self,
        at: At<'_>,
        pid: u32,
        comm: &str,
        version: Option<&str>,
        hold: &mut VecDeque<Incident>,
    ) {
        if let Some(v) = version {
            self.learn_version(v, &at.env.time, at.env.host.as_deref(), hold);
        }
        if let Some(o) = self.open.as_mut() {
            // dump_header() prints dump_stack() before the summary; a header after
            // it is another report's printed inside this one (corpus 209: KASAN
            // reporting from vprintk_store while the oom-kill line was printed).
            if !o.done() && !o.saw_cpu && !o.saw_summary {
                o.saw_cpu = true;
                o.inc.kernel_version = version.map(str::to_string);
                let inv = o.inc.invoker.get_or_insert_with(Invoker::default);
                if inv.comm.is_none() {
                    inv.comm = Some(comm.to_string());
                }
                inv.pid = Some(pid);
                o.attach(at.line);
            }
        }
    }

    pub(super) fn cpuset_line(&mut self, line: u64, cpuset: &str, mems_allowed: &str) {
        if let Some(o) = self.open_before_kill() {
            o.inc.cpuset.get_or_insert_with(|| cpuset.to_string());
            o.inc
                .mems_allowed
                .get_or_insert_with(|| mems_allowed.to_string());
            o.attach(line);
        }
    }

    pub(super) fn frame(&mut self, line: u64, f: &str, reliable: bool) {
        if let Some(o) = self.open_before_kill() {
            o.frames += 1;
            if reliable && memcg_frame(f) {
                o.memcg_frames += 1;
            }
            if reliable
                && oom_path_frame(f)
                && o.inc.oom_path.len() < 16
                && !o.inc.oom_path.iter().any(|p| p == f)
            {
                o.inc.oom_path.push(f.to_string());
            }
            o.attach(line);
        }
    }

    pub(super) fn body(&mut self, line: u64) {
        if let Some(o) = self.open_before_kill() {
            if o.section == Section::MemInfo {
                o.meminfo_lines += 1;
            }
            o.attach(line);
        }
    }
}

/// The memory cgroup sections: `Task in … killed as a result of limit of …`, the
/// `memory:`/`memory+swap:`/`kmem:`/`swap:` counters and `Memory cgroup stats for …`.
impl KernelAssembler {
    pub(super) fn task_in(
        &mut self,
        at: At<'_>,
        task_memcg: &str,
        oom_memcg: &str,
        hold: &mut VecDeque<Incident>,
    ) {
        let o = self.section_start(at.line, at.env, hold, |o| {
            o.inc.task_memcg.is_some() || o.inc.memcg.is_some()
        });
        o.inc.task_memcg = Some(task_memcg.to_string());
        o.inc.oom_memcg = Some(oom_memcg.to_string());
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn memcg_counter(
        &mut self,
        at: At<'_>,
        which: &str,
        c: MemcgCounter,
        hold: &mut VecDeque<Incident>,
    ) {
        let starts_report = which == "memory";
        let o = self.section_start(at.line, at.env, hold, |o| {
            starts_report && o.inc.memcg.as_ref().is_some_and(|m| m.memory.is_some())
        });
        let m = o.inc.memcg.get_or_insert_with(MemcgCounters::default);
        match which {
            "memory" => m.memory = Some(c),
            "memory+swap" => m.memsw = Some(c),
            "kmem" => m.kmem = Some(c),
            _ => m.swap = Some(c),
        }
        o.section = Section::None;
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn stats_header(
        &mut self,
        at: At<'_>,
        cgroup: &str,
        inline: &str,
        hold: &mut VecDeque<Incident>,
    ) {
        let o = self.section_start(at.line, at.env, hold, |_| false);
        if o.inc.memory_stat.is_none() {
            let mut st = MemoryStat {
                cgroup: Some(cgroup.to_string()),
                entries: vec![],
            };
            for tok in inline.split_ascii_whitespace() {
                match tok
                    .split_once(':')
                    .and_then(|(k, v)| Some((k, v.strip_suffix("KB")?.parse().ok()?)))
                {
                    Some((k, v)) if st.entries.len() < MAX_STAT_ENTRIES => {
                        st.entries.push(StatEntry {
                            key: k.to_string(),
                            value: v,
                            unit: StatUnit::Kib,
                        })
                    }
                    Some(_) => {}
                    // A pair cut short: the line was cut at a terminal's width.
                    None => o.truncated = true,
                }
            }
            o.inc.memory_stat = Some(st);
            o.section = if inline.is_empty() {
                Section::Stats
            } else {
                Section::None
            };
        } else {
            // Later blocks describe child memcgs; only the OOM memcg's own is kept.
            o.section = Section::None;
        }
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn stat_pair(&mut self, line: u64, k: &str, v: u64) {
        if let Some(o) = self.open_before_kill() {
            if let Some(st) = o.inc.memory_stat.as_mut() {
                if st.entries.len() < MAX_STAT_ENTRIES {
                    st.entries.push(StatEntry {
                        key: k.to_string(),
                        value: v,
                        unit: StatUnit::Plain,
                    });
                }
            }
            o.attach(line);
        }
    }
}

/// The Mem-Info block: its start, its `key:pages` counters, the page and swap totals, and
/// the warnings that dump Mem-Info without an OOM.
impl KernelAssembler {
    pub(super) fn mem_dump_warning(&mut self, line: u64, hold: &mut VecDeque<Incident>) {
        // A new event: an incident that no OOM line confirmed ends here.
        if self.open.as_ref().is_some_and(|o| !o.confirmed) {
            self.close(hold);
        }
        self.mem_dump_warning = Some(line);
    }

    pub(super) fn mem_info_start(&mut self, at: At<'_>, hold: &mut VecDeque<Incident>) {
        if self.open.is_none()
            && self
                .mem_dump_warning
                .is_some_and(|w| at.line <= w + WARNING_MEMINFO_LINES)
        {
            // That warning's own Mem-Info, not an OOM report's.
            return;
        }
        let o = self.section_start(at.line, at.env, hold, |o| o.inc.mem_info.is_some());
        o.inc.mem_info.get_or_insert_with(MemInfo::default);
        o.section = Section::MemInfo;
        o.attach(at.line);
    }

    pub(super) fn mem_info_counters(&mut self, line: u64, t: &str) {
        if let Some(o) = self.open_before_kill() {
            let mi = o.inc.mem_info.get_or_insert_with(MemInfo::default);
            for tok in t.split_ascii_whitespace() {
                if let Some((k, v)) = tok.split_once(':') {
                    if let Ok(v) = v.parse() {
                        if mi.counters.len() < 64 {
                            mi.counters.push((k.to_string(), v));
                        }
                    }
                }
            }
            o.meminfo_lines += 1;
            o.attach(line);
        }
    }

    pub(super) fn pages(&mut self, line: u64, what: &str, pages: u64) {
        if let Some(o) = self.open_before_kill() {
            let mi = o.inc.mem_info.get_or_insert_with(MemInfo::default);
            match what {
                "RAM" => mi.pages_ram = Some(pages),
                "reserved" => mi.pages_reserved = Some(pages),
                _ => mi.pagecache_pages = Some(pages),
            }
            o.meminfo_lines += 1;
            o.attach(line);
        }
    }

    pub(super) fn swap(&mut self, line: u64, which: &str, kb: u64) {
        if let Some(o) = self.open_before_kill() {
            let mi = o.inc.mem_info.get_or_insert_with(MemInfo::default);
            if which == "Free" {
                mi.free_swap_kb = Some(kb);
            } else {
                mi.total_swap_kb = Some(kb);
            }
            o.meminfo_lines += 1;
            o.attach(line);
        }
    }
}

/// The task table: its header and its rows.
impl KernelAssembler {
    pub(super) fn table_header(
        &mut self,
        at: At<'_>,
        cols: Option<Vec<&str>>,
        hold: &mut VecDeque<Incident>,
    ) {
        let o = self.section_start(at.line, at.env, hold, |o| {
            o.inc
                .task_table
                .as_ref()
                .is_some_and(|t| !t.rows.is_empty())
        });
        let t = o.inc.task_table.get_or_insert_with(TaskTable::default);
        if let Some(cols) = cols {
            t.columns = cols.into_iter().map(str::to_string).collect();
        }
        o.section = Section::Table;
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn table_row(&mut self, line: u64, nums: &[i64], name: &str) {
        if let Some(o) = self.open_before_kill() {
            let t = o.inc.task_table.get_or_insert_with(TaskTable::default);
            if t.rows.len() < MAX_TABLE_ROWS {
                t.rows.push(task_row(&t.columns, nums, name));
            } else {
                t.rows_dropped += 1;
            }
            o.attach(line);
        }
    }
}

/// The verdict: the `oom-kill:` summary, the selection line (`Out of memory: Kill
/// process …`), the kill line, the reaper, `memory.oom.group`, and the OOMs that end
/// without a kill (no killable process, panic, a selection cut before its pid).
impl KernelAssembler {
    pub(super) fn oom_kill_summary(
        &mut self,
        at: At<'_>,
        l: &OomKillLine<'_>,
        hold: &mut VecDeque<Incident>,
    ) {
        // The kernel prints `oom-kill:` before `Killed process` (mm/oom_kill.c:
        // dump_oom_summary() runs before __oom_kill_process()); after a Killed line
        // for the same pid and with no summary yet, it is that kill's own summary
        // read in reverse order (`journalctl -r`, pasted newest first), not a new OOM.
        let late_summary = l.pid.is_some()
            && self.open.as_ref().is_some_and(|o| {
                o.summary_pid.is_none() && o.inc.kills.iter().any(|k| k.pid == l.pid)
            });
        let o = if late_summary {
            self.open.as_mut().expect("checked above")
        } else {
            self.section_start(at.line, at.env, hold, |o| o.summary_pid.is_some())
        };
        let s = |v: Option<&str>| v.map(str::to_string);
        o.inc.constraint = s(l.constraint);
        o.inc.nodemask = s(l.nodemask);
        if l.cpuset.is_some() {
            o.inc.cpuset = s(l.cpuset);
        }
        if l.mems_allowed.is_some() {
            o.inc.mems_allowed = s(l.mems_allowed);
        }
        if l.oom_memcg.is_some() {
            o.inc.oom_memcg = s(l.oom_memcg);
        }
        if l.task_memcg.is_some() {
            o.inc.task_memcg = s(l.task_memcg);
        }
        o.global_oom |= l.global_oom;
        o.summary_pid = l.pid;
        o.summary_task = s(l.task);
        o.summary_uid = l.uid;
        o.saw_summary = true;
        o.summary_cut = s(l.cut);
        o.section = Section::None;
        o.confirmed = true;
        o.attach(at.line);
    }

    /// `Kill process N (comm) sharing same memory`: another kill of the open event.
    pub(super) fn sharing_selection(&mut self, at: At<'_>, pid: u32, comm: &str) {
        if let Some(o) = self.open.as_mut() {
            if !o.inc.kills.iter().any(|k| k.pid == Some(pid)) {
                o.inc.kills.push(Kill {
                    evidence: Some(KillEvidence::Selection),
                    pid: Some(pid),
                    comm: Some(comm.to_string()),
                    time: at.env.time.clone(),
                    line: at.line,
                    ..Kill::default()
                });
            }
            o.attach(at.line);
        }
    }

    pub(super) fn selection(
        &mut self,
        at: At<'_>,
        msg: &str,
        pid: u32,
        comm: &str,
        score: Option<i64>,
        hold: &mut VecDeque<Incident>,
    ) {
        let reason = msg
            .trim_start()
            .split("Kill process")
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(':');
        let o = self.section_start(at.line, at.env, hold, |o| o.inc.selection.is_some());
        o.inc.selection = Some(Selection {
            pid,
            comm: comm.to_string(),
            score,
        });
        if !reason.is_empty() && o.inc.kills.is_empty() {
            o.summary_task.get_or_insert_with(|| comm.to_string());
        }
        if reason.starts_with("Memory cgroup") {
            o.memcg_oom = true;
        } else if reason.starts_with("Out of memory") {
            o.global_oom = true;
        }
        o.section = Section::None;
        o.confirmed = true;
        o.selection_line = at.line;
        o.attach(at.line);
    }

    pub(super) fn killed(&mut self, at: At<'_>, k: &KilledLine<'_>, hold: &mut VecDeque<Incident>) {
        let same_event = self.open.as_ref().is_some_and(|o| {
            !o.killed
                || o.inc.oom_group.is_some()
                || o.inc.kills.iter().any(|x| x.pid == Some(k.pid))
        });
        if !same_event {
            self.close(hold);
        }
        if self.open.is_none() {
            self.open = Some(Open::new(at.line, at.env));
        }
        let o = self.open.as_mut().expect("opened above");
        let group = o.inc.oom_group.is_some();
        match o
            .inc
            .kills
            .iter_mut()
            .find(|x| x.pid == Some(k.pid) && x.evidence == Some(KillEvidence::KilledLine))
        {
            // The oom.group scan reached the victim while it still had its mm: the kernel
            // killed and counted it again (mm/oom_kill.c: oom_kill_memcg_member →
            // __oom_kill_process, which bumps memory.events oom_kill per call).
            Some(x) if group => x.killed_again += 1,
            // The same line twice outside a group kill: a repeated log line, one kill.
            Some(_) => {}
            None => {
                o.inc.kills.retain(|x| x.pid != Some(k.pid));
                o.inc.kills.push(kill_from_line(k, at.env, at.line));
            }
        }
        o.killed = true;
        o.confirmed = true;
        o.section = Section::None;
        o.attach(at.line);
    }

    pub(super) fn reaped(&mut self, at: At<'_>, reap: Reap, hold: &mut VecDeque<Incident>) {
        let pid = reap.pid;
        // The kill it belongs to may be in the open incident or one just closed.
        let target = self
            .open
            .iter_mut()
            .map(|o| &mut o.inc)
            .chain(hold.iter_mut().rev())
            .find_map(|inc| inc.kills.iter_mut().find(|k| k.pid == Some(pid)));
        if let Some(kill) = target {
            kill.reaped = Some(reap);
            if let Some(o) = self.open.as_mut() {
                if o.inc.kills.iter().any(|k| k.pid == Some(pid)) {
                    o.attach(at.line);
                }
            }
        } else if let Some(o) = self.open.as_mut() {
            o.inc.unmatched_reaps.push(reap);
            o.attach(at.line);
        } else {
            // Only the reaper's line survived (the report was rate-limited).
            let mut o = Open::new(at.line, at.env);
            o.inc.unmatched_reaps.push(reap);
            o.killed = true;
            o.confirmed = true;
            self.open = Some(o);
        }
    }

    pub(super) fn oom_group(&mut self, line: u64, cg: &str) {
        if let Some(o) = self.open.as_mut() {
            o.inc.oom_group = Some(cg.to_string());
            o.attach(line);
        }
    }

    /// A group member skipped because it is already exiting: the group kill goes on, so
    /// the report stays open (a line that closed it split one oom.group kill in two).
    pub(super) fn exiting_victim(&mut self, line: u64) {
        if let Some(o) = self.open.as_mut() {
            o.attach(line);
        }
    }

    pub(super) fn no_killable(&mut self, at: At<'_>, hold: &mut VecDeque<Incident>) {
        let o = self.section_start(at.line, at.env, hold, |_| false);
        o.inc.no_killable_processes = true;
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn panic(&mut self, at: At<'_>, p: &OomPanic<'_>, hold: &mut VecDeque<Incident>) {
        let o = self.section_start(at.line, at.env, hold, |o| o.inc.panic.is_some());
        o.inc.panic = Some(p.reason.to_string());
        o.inc.no_killable_processes |= p.no_killable;
        o.global_oom |= p.global;
        o.confirmed = true;
        o.attach(at.line);
    }

    pub(super) fn oom_reason(&mut self, at: At<'_>, memcg: bool, hold: &mut VecDeque<Incident>) {
        let o = self.section_start(at.line, at.env, hold, |_| false);
        if memcg {
            o.memcg_oom = true;
        } else {
            o.global_oom = true;
        }
        o.truncated = true;
        o.confirmed = true;
        o.attach(at.line);
    }
}

/// Lines that are no part of a report: elisions and anything else, which count towards
/// closing the open incident.
impl KernelAssembler {
    pub(super) fn elision(&mut self) {
        if let Some(o) = self.open.as_mut() {
            o.pending_elisions += 1;
            o.quiet += 1;
        }
    }

    pub(super) fn other(&mut self) {
        if let Some(o) = self.open.as_mut() {
            o.quiet += 1;
            if o.section == Section::Stats || o.section == Section::MemInfo {
                o.section = Section::None;
            }
        }
    }
}
