//! Groups classified kernel lines into one incident per OOM event.
//!
//! A report runs from `invoked oom-killer` to its `Killed process` line(s), but inputs are
//! cut, filtered and interleaved, so an incident also opens on any later section (memcg
//! counters, stats, task table, `oom-kill:`, a kill line) when none is open, and a new one
//! opens when a section that starts a report arrives after the current one already killed.
//! An incident closes on the next report, after a bounded run of lines that do not belong
//! to it, or at the end of input.

use std::collections::VecDeque;

use oomlens_model::{
    AdjSource, Completeness, Incident, Invoker, Kill, KillEvidence, Kind, LogTime, MemcgCounter,
    Reap, TaskRow,
};

use crate::envelope::Envelope;
use crate::kernel::{classify, KernelLine, KilledLine};

mod sections;

/// Where a line was read: its input line number and its envelope.
#[derive(Clone, Copy)]
struct At<'e> {
    line: u64,
    env: &'e Envelope,
}

/// Lines without a report line after which an open incident that has killed is closed
/// (reaper and memory.oom.group lines come right after the kill).
const QUIET_AFTER_KILL: u32 = 64;
/// The same before the kill: a report is a few hundred lines, but a log may interleave
/// other messages (045: stall warnings in the middle of Mem-Info).
const QUIET_BEFORE_KILL: u32 = 4096;
/// The same for an incident opened by a section that other warnings print too (`Mem-Info:`).
const QUIET_UNCONFIRMED: u32 = 16;
/// After a page-allocation-failure or SysRq-m header, a `Mem-Info:` within this many lines
/// is that warning's, not an OOM report's.
const WARNING_MEMINFO_LINES: u64 = 200;
/// Task tables beyond this many rows keep only a count (bounded memory).
const MAX_TABLE_ROWS: usize = 65_536;
/// `Memory cgroup stats` entries kept.
const MAX_STAT_ENTRIES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Stats,
    MemInfo,
    Table,
}

/// An incident being read.
#[derive(Debug)]
struct Open {
    inc: Incident,
    saw_invoked: bool,
    saw_cpu: bool,
    /// The `oom-kill:` summary was read: the report's own dump_stack header came before it.
    saw_summary: bool,
    frames: u32,
    memcg_frames: u32,
    meminfo_lines: u32,
    section: Section,
    quiet: u32,
    pending_elisions: u32,
    truncated: bool,
    killed: bool,
    /// A line only an OOM report prints was seen. `Mem-Info:` and call traces alone are
    /// also printed by page-allocation-failure warnings and SysRq-m: such an incident is
    /// dropped when it closes unconfirmed.
    confirmed: bool,
    /// Input line of the selection (`Kill process … or sacrifice child`).
    selection_line: u64,
    summary_pid: Option<u32>,
    summary_task: Option<String>,
    /// The dropped end of a cut `oom-kill:` line, which its rest may still close.
    summary_cut: Option<String>,
    summary_uid: Option<u32>,
    global_oom: bool,
    /// A selection line said "Memory cgroup out of memory".
    memcg_oom: bool,
}

impl Open {
    fn new(line: u64, env: &Envelope) -> Open {
        let mut inc = Incident::new(line, env.time.clone());
        inc.host = env.host.clone();
        Open {
            inc,
            saw_invoked: false,
            saw_cpu: false,
            saw_summary: false,
            frames: 0,
            memcg_frames: 0,
            meminfo_lines: 0,
            section: Section::None,
            quiet: 0,
            pending_elisions: 0,
            truncated: false,
            killed: false,
            confirmed: false,
            selection_line: 0,
            summary_pid: None,
            summary_task: None,
            summary_cut: None,
            summary_uid: None,
            global_oom: false,
            memcg_oom: false,
        }
    }

    /// The kernel chose (or killed) its victim, or panicked: later body lines belong to
    /// something else (after a panic, its own stack dump).
    fn done(&self) -> bool {
        self.killed || self.inc.selection.is_some() || self.inc.panic.is_some()
    }

    /// A line of this report was read at `line`.
    fn attach(&mut self, line: u64) {
        self.inc.source.last_line = line;
        self.inc.elisions += self.pending_elisions;
        self.pending_elisions = 0;
        self.quiet = 0;
    }
}

/// Assembles kernel incidents from messages.
#[derive(Debug, Default)]
pub struct KernelAssembler {
    open: Option<Open>,
    /// The line of the last warning that dumps Mem-Info without an OOM.
    mem_dump_warning: Option<u64>,
    /// The last release seen and the monotonic time it was seen at (same boot check).
    last_version: Option<(String, Option<u64>, Option<String>)>,
}

impl KernelAssembler {
    /// True while an incident is open: every line must then be read.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Feed one kernel message. One assembler reads one host's lines: the parser routes each
    /// host to its own (lib.rs `kernels`), so no report here ever sees another host's line.
    ///
    /// The match only dispatches: each report section has its own function in
    /// `assemble/sections.rs`.
    pub fn push(&mut self, line: u64, env: &Envelope, msg: &str, hold: &mut VecDeque<Incident>) {
        let (in_stats, in_meminfo) = match &self.open {
            Some(o) => (o.section == Section::Stats, o.section == Section::MemInfo),
            None => (false, false),
        };
        let at = At { line, env };
        match classify(msg, in_stats, in_meminfo) {
            KernelLine::Invoked {
                comm,
                gfp_mask,
                nodemask,
                order,
                oom_score_adj,
                oom_adj,
            } => {
                let inv = Invoker {
                    comm: Some(comm.to_string()),
                    pid: None,
                    gfp_mask: gfp_mask.map(str::to_string),
                    order,
                    oom_score_adj,
                    oom_adj,
                    nodemask: nodemask.map(str::to_string),
                };
                self.invoked(at, inv, hold);
            }
            KernelLine::CpuHeader { pid, comm, version } => {
                self.cpu_header(at, pid, comm, version, hold)
            }
            KernelLine::CpusetLine {
                cpuset,
                mems_allowed,
            } => self.cpuset_line(line, cpuset, mems_allowed),
            KernelLine::Frame { name, reliable } => self.frame(line, name, reliable),
            KernelLine::Body => self.body(line),
            KernelLine::TaskIn {
                task_memcg,
                oom_memcg,
            } => self.task_in(at, task_memcg, oom_memcg, hold),
            KernelLine::Counter {
                which,
                usage_kb,
                limit_kb,
                failcnt,
            } => {
                let c = MemcgCounter {
                    usage_kb,
                    limit_kb,
                    failcnt,
                };
                self.memcg_counter(at, which, c, hold);
            }
            KernelLine::StatsHeader { cgroup, inline } => {
                self.stats_header(at, cgroup, inline, hold)
            }
            KernelLine::StatPair(k, v) => self.stat_pair(line, k, v),
            KernelLine::MemDumpWarning => self.mem_dump_warning(line, hold),
            KernelLine::MemInfoStart => self.mem_info_start(at, hold),
            KernelLine::MemInfoCounters(t) => self.mem_info_counters(line, t),
            KernelLine::Pages { what, pages } => self.pages(line, what, pages),
            KernelLine::Swap { which, kb } => self.swap(line, which, kb),
            KernelLine::TableHeader(cols) => self.table_header(at, cols, hold),
            KernelLine::TableRow(nums, name) => self.table_row(line, &nums, name),
            KernelLine::OomKill(l) => self.oom_kill_summary(at, &l, hold),
            KernelLine::Selection {
                pid,
                comm,
                sharing: true,
                ..
            } => {
                self.sharing_selection(at, pid, comm);
                // A kill of the same event: it never closes the incident.
                return;
            }
            KernelLine::Selection {
                pid, comm, score, ..
            } => self.selection(at, msg, pid, comm, score, hold),
            KernelLine::Killed(k) => self.killed(at, &k, hold),
            KernelLine::Reaped {
                pid,
                comm,
                anon,
                file,
                shmem,
            } => {
                let reap = Reap {
                    pid,
                    comm: comm.to_string(),
                    anon_rss_kb: anon,
                    file_rss_kb: file,
                    shmem_rss_kb: shmem,
                    line,
                };
                self.reaped(at, reap, hold);
            }
            KernelLine::OomGroup(cg) => self.oom_group(line, cg),
            KernelLine::ExitingVictim { .. } => self.exiting_victim(line),
            KernelLine::NoKillable => self.no_killable(at, hold),
            KernelLine::Panic(p) => self.panic(at, &p, hold),
            KernelLine::OomReason { memcg } => self.oom_reason(at, memcg, hold),
            KernelLine::SysrqOom => {}
            KernelLine::Elision => self.elision(),
            KernelLine::Other => {
                if !self.summary_rest(line, msg) {
                    self.other();
                }
            }
        }
        let close = self.open.as_ref().is_some_and(|o| {
            o.quiet
                > if !o.confirmed {
                    QUIET_UNCONFIRMED
                } else if o.done() {
                    QUIET_AFTER_KILL
                } else {
                    QUIET_BEFORE_KILL
                }
        });
        if close {
            self.close(hold);
        }
    }

    /// The rest of a cut `oom-kill:` line printed as a record of its own: pr_cont() text
    /// that another report interrupted (corpus 209: a KASAN report from vprintk_store
    /// while the task_memcg path was printed, then `,task=memcg_test_1,pid=11280,uid=0`).
    /// It closes the cut value and brings the missing keys. True when `msg` was that rest.
    fn summary_rest(&mut self, line: u64, msg: &str) -> bool {
        let t = msg.trim();
        let Some(o) = self.open.as_mut().filter(|o| !o.done()) else {
            return false;
        };
        if !t.starts_with(',') {
            return false;
        }
        let Some(cut) = o.summary_cut.take() else {
            return false;
        };
        let joined = format!("oom-kill:{cut}{t}");
        let KernelLine::OomKill(l) = classify(&joined, false, false) else {
            return false;
        };
        let s = |v: Option<&str>| v.map(str::to_string);
        for (v, slot) in [
            (l.oom_memcg, &mut o.inc.oom_memcg),
            (l.task_memcg, &mut o.inc.task_memcg),
            (l.cpuset, &mut o.inc.cpuset),
            (l.mems_allowed, &mut o.inc.mems_allowed),
            (l.task, &mut o.summary_task),
        ] {
            if v.is_some() {
                *slot = s(v);
            }
        }
        o.global_oom |= l.global_oom;
        o.summary_pid = o.summary_pid.or(l.pid);
        o.summary_uid = o.summary_uid.or(l.uid);
        o.summary_cut = s(l.cut);
        o.attach(line);
        true
    }

    /// The open incident if it has not killed yet (body lines after a kill belong elsewhere).
    fn open_before_kill(&mut self) -> Option<&mut Open> {
        self.open.as_mut().filter(|o| !o.done())
    }

    /// A line that can start a report: join the open incident unless it already killed or
    /// already has this section (`seen`), else start a new one.
    fn section_start(
        &mut self,
        line: u64,
        env: &Envelope,
        hold: &mut VecDeque<Incident>,
        seen: impl Fn(&Open) -> bool,
    ) -> &mut Open {
        let fresh = match &self.open {
            Some(o) => o.done() || seen(o),
            None => true,
        };
        if fresh {
            self.close(hold);
            self.open = Some(Open::new(line, env));
        }
        self.open.as_mut().expect("opened above")
    }

    fn learn_version(
        &mut self,
        v: &str,
        time: &LogTime,
        host: Option<&str>,
        hold: &mut VecDeque<Incident>,
    ) {
        for inc in hold
            .iter_mut()
            .filter(|i| i.kind.is_none_or(Kind::is_kernel))
        {
            if inc.kernel_version.is_none()
                && same_boot(&inc.time, time)
                && inc.host.as_deref() == host
            {
                inc.kernel_version = Some(v.to_string());
            }
        }
        self.last_version = Some((v.to_string(), time.monotonic_us, host.map(str::to_string)));
    }

    /// Close the open incident: derive its kind, completeness and fallback victim.
    pub fn close(&mut self, hold: &mut VecDeque<Incident>) {
        let Some(mut o) = self.open.take() else {
            return;
        };
        if !o.confirmed {
            return;
        }
        let inc = &mut o.inc;
        if inc.kills.is_empty() {
            if let Some(pid) = o.summary_pid {
                inc.kills.push(Kill {
                    evidence: Some(KillEvidence::OomKillLine),
                    pid: Some(pid),
                    comm: o.summary_task.clone(),
                    uid: o.summary_uid,
                    time: inc.time.clone(),
                    line: inc.source.last_line,
                    ..Kill::default()
                });
            } else if !inc.unmatched_reaps.is_empty() {
                let r = inc.unmatched_reaps.remove(0);
                inc.kills.push(Kill {
                    evidence: Some(KillEvidence::Reaper),
                    pid: Some(r.pid),
                    comm: Some(r.comm.clone()),
                    line: r.line,
                    time: inc.time.clone(),
                    reaped: Some(r),
                    ..Kill::default()
                });
            } else if let Some(s) = &inc.selection {
                inc.kills.push(Kill {
                    evidence: Some(KillEvidence::Selection),
                    pid: Some(s.pid),
                    comm: Some(s.comm.clone()),
                    score: s.score,
                    time: inc.time.clone(),
                    line: o.selection_line,
                    ..Kill::default()
                });
            }
        }
        // The victim's oom_score_adj from its task-table row when the kill line lacks it.
        if let Some(t) = &inc.task_table {
            for k in inc.kills.iter_mut().filter(|k| k.oom_score_adj.is_none()) {
                if let Some(row) = t.rows.iter().find(|r| Some(r.pid) == k.pid) {
                    if let Some(adj) = row.oom_score_adj {
                        k.oom_score_adj = Some(adj);
                        k.oom_score_adj_from = Some(AdjSource::TaskTable);
                    }
                }
            }
        }
        if let Some(k) = inc.kills.first_mut() {
            if k.cgroup.is_none() {
                k.cgroup = inc.task_memcg.clone();
            }
        }
        let kind = kind_of(&o);
        let inc = &mut o.inc;
        inc.kind = kind;
        let kill_line = inc.kills.iter().any(|k| {
            matches!(
                k.evidence,
                Some(KillEvidence::KilledLine | KillEvidence::Selection)
            )
        });
        let body = o.frames >= 3
            || o.meminfo_lines >= 3
            || inc
                .memory_stat
                .as_ref()
                .is_some_and(|s| s.entries.len() >= 3);
        let memory = inc.mem_info.is_some() || inc.memcg.is_some();
        inc.completeness = if o.saw_invoked
            && o.saw_cpu
            && o.frames >= 3
            && memory
            && kill_line
            && inc.elisions == 0
            && !o.truncated
        {
            Completeness::Full
        } else if body || inc.elisions > 0 {
            Completeness::Partial
        } else {
            Completeness::Fragment
        };
        if inc.kernel_version.is_none() {
            if let Some((v, mono, host)) = &self.last_version {
                let t = LogTime {
                    monotonic_us: *mono,
                    ..LogTime::default()
                };
                if same_boot(&t, &inc.time) && host.as_deref() == inc.host.as_deref() {
                    inc.kernel_version = Some(v.clone());
                }
            }
        }
        hold.push_back(o.inc);
    }

    /// The numeric columns (pid included) of the open report's task-table header.
    pub fn table_columns(&self) -> Option<usize> {
        let t = self.open.as_ref()?.inc.task_table.as_ref()?;
        (!t.columns.is_empty()).then(|| t.columns.iter().filter(|c| *c != "name").count())
    }

    /// The first line of the open incident, if one is open.
    pub fn open_first_line(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.inc.source.first_line)
    }

    /// The open incident, for linking systemd's notices to it.
    pub fn open_incident(&mut self) -> Option<&mut Incident> {
        self.open.as_mut().map(|o| &mut o.inc)
    }

    /// Close the open incident if it has killed (input paused: nothing more is coming soon).
    pub fn close_if_killed(&mut self, hold: &mut VecDeque<Incident>) {
        if self.open.as_ref().is_some_and(|o| o.done()) {
            self.close(hold);
        }
    }
}

/// Two log times can be of the same boot unless the kernel clock went backwards.
fn same_boot(earlier: &LogTime, later: &LogTime) -> bool {
    match (earlier.monotonic_us, later.monotonic_us) {
        (Some(a), Some(b)) => a <= b || a - b < 1_000_000,
        _ => true,
    }
}

/// The OOM's kind, strongest evidence first: what the kernel states (the constraint, the
/// `oom-kill:` line's `oom_memcg=` or `global_oom`, the kill line's "Memory cgroup out of
/// memory" or "Out of memory"), then what only one path prints (memcg counters, `Task in …
/// killed as a result of limit of …`, Mem-Info), then reliable call-trace frames.
fn kind_of(o: &Open) -> Option<Kind> {
    let inc = &o.inc;
    match inc.constraint.as_deref() {
        Some("CONSTRAINT_CPUSET") => return Some(Kind::Cpuset),
        Some("CONSTRAINT_MEMORY_POLICY") => return Some(Kind::MemoryPolicy),
        Some("CONSTRAINT_MEMCG") => return Some(Kind::Memcg),
        _ => {}
    }
    let reason = |prefix: &str| {
        inc.kills
            .iter()
            .any(|k| k.reason.as_deref().is_some_and(|r| r.starts_with(prefix)))
    };
    if o.memcg_oom || inc.oom_memcg.is_some() || reason("Memory cgroup") {
        return Some(Kind::Memcg);
    }
    if o.global_oom || reason("Out of memory") {
        return Some(Kind::Global);
    }
    if inc.memcg.is_some() || o.memcg_frames > 0 {
        return Some(Kind::Memcg);
    }
    // `Out of memory and no killable processes...` alone says nothing of the domain: the
    // kernel prints it for memcg OOMs too, and panics only for the others (mm/oom_kill.c
    // out_of_memory: "System is deadlocked on memory"), which sets global_oom above.
    if inc.constraint.is_some() || inc.mem_info.is_some() {
        return Some(Kind::Global);
    }
    if o.frames >= 3
        && inc
            .oom_path
            .iter()
            // The page allocator's slow path calls out_of_memory() only for an allocation
            // the machine (or its cpuset or mempolicy) cannot satisfy; memcg charges never
            // run through it (mm/page_alloc.c __alloc_pages_may_oom, inlined on some builds).
            .any(|f| {
                matches!(
                    f.split('.').next(),
                    Some("__alloc_pages_may_oom" | "__alloc_pages_slowpath" | "moom_callback")
                )
            })
    {
        return Some(Kind::Global);
    }
    None
}

fn kill_from_line(k: &KilledLine<'_>, env: &Envelope, line: u64) -> Kill {
    Kill {
        evidence: Some(KillEvidence::KilledLine),
        pid: Some(k.pid),
        comm: Some(k.comm.to_string()),
        uid: k.uid,
        total_vm_kb: k.total_vm,
        anon_rss_kb: k.anon,
        file_rss_kb: k.file,
        shmem_rss_kb: k.shmem,
        pgtables_kb: k.pgtables,
        oom_score_adj: k.adj,
        oom_score_adj_from: k.adj.map(|_| AdjSource::KilledLine),
        reason: k.reason.map(str::to_string),
        time: env.time.clone(),
        line,
        ..Kill::default()
    }
}

/// Map a row's numbers onto the printed header, or onto the layout every kernel shares
/// when the header was not captured (pid, uid, tgid, total_vm, rss first; oom_score_adj last).
fn task_row(columns: &[String], nums: &[i64], name: &str) -> TaskRow {
    let mut r = TaskRow {
        pid: nums[0].max(0) as u32,
        name: name.to_string(),
        ..TaskRow::default()
    };
    let u = |v: i64| u64::try_from(v).ok();
    let numeric_cols: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "name")
        .collect();
    if numeric_cols.len() == nums.len() {
        for (c, &v) in numeric_cols.iter().zip(nums) {
            match *c {
                "uid" => r.uid = u32::try_from(v).ok(),
                "tgid" => r.tgid = u32::try_from(v).ok(),
                "total_vm" => r.total_vm = u(v),
                "rss" => r.rss = u(v),
                "rss_anon" => r.rss_anon = u(v),
                "rss_file" => r.rss_file = u(v),
                "rss_shmem" => r.rss_shmem = u(v),
                "pgtables_bytes" => r.pgtables_bytes = u(v),
                "nr_ptes" => r.nr_ptes = u(v),
                "nr_pmds" => r.nr_pmds = u(v),
                "swapents" => r.swapents = u(v),
                "cpu" => r.cpu = u32::try_from(v).ok(),
                "oom_adj" => r.oom_adj = i32::try_from(v).ok(),
                "oom_score_adj" => r.oom_score_adj = i32::try_from(v).ok(),
                _ => {}
            }
        }
    } else {
        r.uid = nums.get(1).and_then(|&v| u32::try_from(v).ok());
        r.tgid = nums.get(2).and_then(|&v| u32::try_from(v).ok());
        r.total_vm = nums.get(3).and_then(|&v| u(v));
        r.rss = nums.get(4).and_then(|&v| u(v));
        r.oom_score_adj = nums.last().and_then(|&v| i32::try_from(v).ok());
    }
    r
}
