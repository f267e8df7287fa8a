//! The output fields of an incident and of every record inside it, declared once: the
//! `incidents[]` objects of `oomlens explain --json` are written from these tables (see
//! [`crate::fields::AsFields`]), the docs' field list is generated from them, and a test
//! fails when the JSON holds a key they do not declare.
//!
//! The tables keep the order and the names of the `oomlens.explain/1` contract; the serde
//! derives on the model types do not decide it. Enum values are written with the names
//! below (`kind_name`, ...), which are part of the contract too.

use crate::fields::{Field, Kind as K, Record, Unit as U, Value as V};
use crate::{
    AdjSource, Incident, Kill, KillEvidence, LogTime, MemInfo, MemcgCounter, MemcgCounters,
    MemoryStat, Notice, NoticeKind, OomdTrigger, Reap, Selection, StatEntry, StatUnit, TaskRow,
    TaskTable, Witness,
};

/// Text that names or describes something.
const fn text<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Text, K::Info, help, get)
}

/// A nested object or a list of them.
const fn nested<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Record, K::Info, help, get)
}

/// A value of `unit` that goes up and down.
const fn gauge<R>(
    name: &'static str,
    unit: U,
    help: &'static str,
    get: fn(&R) -> V<'_>,
) -> Field<R> {
    Field::new(name, unit, K::Gauge, help, get)
}

/// A number that identifies or counts something once (a pid, a line): a label, not a metric.
const fn id<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Count, K::Info, help, get)
}

fn invoker_text(i: &Incident, f: fn(&crate::Invoker) -> Option<&str>) -> V<'_> {
    V::text(i.invoker.as_ref().and_then(f))
}

fn invoker_num<T: Into<V<'static>>>(i: &Incident, f: fn(&crate::Invoker) -> Option<T>) -> V<'_> {
    i.invoker.as_ref().and_then(f).into()
}

static INCIDENT_FIELDS: &[Field<Incident>] = &[
    text(
        "kind",
        "Which killer acted, and for kernel OOMs in which domain: memcg, global, cpuset, memory-policy, systemd-oomd, earlyoom, kubelet, systemd-notice, oomlens-guard; null when the report was cut off before it said.",
        |i| V::text(i.kind.map(kind_name)),
    ),
    text(
        "completeness",
        "How much of the report the input held: full, partial or fragment.",
        |i| V::Str(i.completeness.as_str()),
    ),
    text(
        "kernel_version",
        "The kernel release from the `CPU: … Comm: …` line.",
        |i| V::text(i.kernel_version.as_deref()),
    ),
    text(
        "constraint",
        "`constraint=` as printed (CONSTRAINT_MEMCG, …).",
        |i| V::text(i.constraint.as_deref()),
    ),
    text(
        "oom_memcg",
        "The memcg whose limit was hit (kernel), or the cgroup under pressure (systemd-oomd).",
        |i| V::text(i.oom_memcg.as_deref()),
    ),
    text(
        "task_memcg",
        "The victim's memcg (kernel), or the killed cgroup (systemd-oomd).",
        |i| V::text(i.task_memcg.as_deref()),
    ),
    text(
        "invoker.comm",
        "The comm of the task whose allocation invoked the OOM killer.",
        |i| invoker_text(i, |v| v.comm.as_deref()),
    ),
    id(
        "invoker.pid",
        "Its pid (thread id), from the `CPU: … PID: N` line.",
        |i| invoker_num(i, |v| v.pid),
    ),
    text(
        "invoker.gfp_mask",
        "`gfp_mask=` verbatim, with its (FLAGS) where printed.",
        |i| invoker_text(i, |v| v.gfp_mask.as_deref()),
    ),
    id(
        "invoker.order",
        "The allocation order: 2^order pages were requested.",
        |i| invoker_num(i, |v| v.order),
    ),
    id(
        "invoker.oom_score_adj",
        "The invoker's own oom_score_adj (not the victim's).",
        |i| invoker_num(i, |v| v.oom_score_adj),
    ),
    id(
        "invoker.oom_adj",
        "The legacy `oom_adj=` printed by 2.6.32 kernels.",
        |i| invoker_num(i, |v| v.oom_adj),
    ),
    text(
        "invoker.nodemask",
        "`nodemask=` when printed in the invoked line.",
        |i| invoker_text(i, |v| v.nodemask.as_deref()),
    ),
    nested(
        "kills",
        "Every process (or cgroup) killed, in order (see `kills[]`).",
        |i| V::records(&i.kills),
    ),
    text(
        "source.file",
        "The input's name: a path, `-` for standard input, `kmsg` or `journal` for a live log.",
        |i| V::text(i.source.file.as_deref()),
    ),
    id(
        "source.first_line",
        "First input line (1-based) of the incident.",
        |i| i.source.first_line.into(),
    ),
    id(
        "source.last_line",
        "Last input line (1-based) of the incident.",
        |i| i.source.last_line.into(),
    ),
    text(
        "source.format",
        "The log form: kmsg, dmesg, dmesg-x, dmesg-T, dmesg-iso, journal-short, journal-monotonic, journal-json, syslog, syslog-or-journal, prefixed or bare.",
        |i| V::text(i.source.format.as_deref()),
    ),
    nested(
        "time",
        "When the incident's first line was logged (see `time`).",
        |i| V::record(&i.time),
    ),
    text("host", "The host name, where the log form carries one.", |i| V::text(i.host.as_deref())),
    text("nodemask", "`nodemask=` of the `oom-kill:` line.", |i| V::text(i.nodemask.as_deref())),
    text("cpuset", "`cpuset=`: the invoker's cpuset cgroup.", |i| V::text(i.cpuset.as_deref())),
    text("mems_allowed", "`mems_allowed=`.", |i| V::text(i.mems_allowed.as_deref())),
    Field::new(
        "oom_path",
        U::Text,
        K::Info,
        "Call-trace frames that name the OOM path (mem_cgroup_out_of_memory, pagefault_out_of_memory, …).",
        |i| V::strs(&i.oom_path),
    ),
    nested(
        "memcg",
        "The memcg counter lines (memcg OOMs), else null (see `memcg`).",
        |i| V::optional(i.memcg.as_ref()),
    ),
    nested(
        "memory_stat",
        "The first `Memory cgroup stats` block (the OOM memcg's own), else null.",
        |i| V::optional(i.memory_stat.as_ref()),
    ),
    nested(
        "mem_info",
        "The machine-wide `Mem-Info:` summary (global OOMs), else null.",
        |i| V::optional(i.mem_info.as_ref()),
    ),
    nested("task_table", "The task table, else null.", |i| V::optional(i.task_table.as_ref())),
    nested(
        "selection",
        "The kernel's `Kill process N (comm) score S or sacrifice child` line (before 4.19), else null.",
        |i| V::optional(i.selection.as_ref()),
    ),
    text(
        "oom_group",
        "The memcg of `Tasks in <memcg> are going to be killed due to memory.oom.group set`.",
        |i| V::text(i.oom_group.as_deref()),
    ),
    nested(
        "unmatched_reaps",
        "oom_reaper lines that matched no kill of this incident.",
        |i| V::records(&i.unmatched_reaps),
    ),
    Field::new(
        "no_killable_processes",
        U::Flag,
        K::Info,
        "The kernel found no process it was allowed to kill.",
        |i| i.no_killable_processes.into(),
    ),
    text(
        "panic",
        "The text after `Kernel panic - not syncing: ` when the kernel panicked instead of killing; the key is left out otherwise.",
        |i| i.panic.as_deref().map_or(V::Absent, V::Str),
    ),
    nested(
        "oomd_trigger",
        "Why systemd-oomd acted, else null.",
        |i| V::optional(i.oomd_trigger.as_ref()),
    ),
    nested(
        "notices",
        "systemd's messages about the unit the victim belonged to.",
        |i| V::records(&i.notices),
    ),
    nested(
        "witnesses",
        "Other components' reports of the same kill (kubelet, container runtime).",
        |i| V::records(&i.witnesses),
    ),
    id(
        "elisions",
        "Lines of the report that an author or pager elided (`...`, `(...snipped...)`).",
        |i| i.elisions.into(),
    ),
];

impl Record for Incident {
    fn fields() -> &'static [Field<Self>] {
        INCIDENT_FIELDS
    }
}

static KILL_FIELDS: &[Field<Kill>] = &[
    id("pid", "The killed pid.", |k| k.pid.into()),
    text(
        "comm",
        "The killed task's comm (for the kubelet: the container, else the pod).",
        |k| V::text(k.comm.as_deref()),
    ),
    id("uid", "The task's uid.", |k| k.uid.into()),
    gauge(
        "anon_rss_kb",
        U::KiB,
        "`anon-rss` at kill time.",
        |k: &Kill| k.anon_rss_kb.into(),
    )
    .column("anon"),
    gauge(
        "file_rss_kb",
        U::KiB,
        "`file-rss` at kill time.",
        |k: &Kill| k.file_rss_kb.into(),
    )
    .column("file"),
    gauge(
        "shmem_rss_kb",
        U::KiB,
        "`shmem-rss` at kill time (printed from about 4.6).",
        |k: &Kill| k.shmem_rss_kb.into(),
    )
    .column("shmem"),
    gauge("total_vm_kb", U::KiB, "`total-vm`.", |k| k.total_vm_kb.into()),
    gauge("pgtables_kb", U::KiB, "`pgtables`.", |k| k.pgtables_kb.into()),
    id(
        "oom_score_adj",
        "The victim's oom_score_adj.",
        |k: &Kill| k.oom_score_adj.into(),
    )
    .column("oom_score_adj"),
    text(
        "oom_score_adj_from",
        "Where oom_score_adj was read: killed-line or task-table.",
        |k| V::text(k.oom_score_adj_from.map(adj_source_name)),
    ),
    text(
        "evidence",
        "Which line the kill was read from: killed-line, oom-kill-line, reaper, selection, systemd-oomd, earlyoom, kubelet, oomlens-guard.",
        |k| V::text(k.evidence.map(evidence_name)),
    ),
    text(
        "reason",
        "The message prefix the killer printed (`Out of memory`, `Memory cgroup out of memory`, …).",
        |k| V::text(k.reason.as_deref()),
    ),
    text(
        "signal",
        "The signal sent when not SIGKILL (earlyoom's SIGTERM).",
        |k| V::text(k.signal.as_deref()),
    ),
    text(
        "cgroup",
        "The cgroup killed (systemd-oomd) or the victim's memcg.",
        |k| V::text(k.cgroup.as_deref()),
    ),
    text(
        "pod",
        "Kubernetes pod (`namespace/name` or `name`) for kubelet kills.",
        |k| V::text(k.pod.as_deref()),
    ),
    text(
        "container",
        "Kubernetes container for kubelet kills.",
        |k| V::text(k.container.as_deref()),
    ),
    id(
        "exit_code",
        "Container exit code where reported (137 = SIGKILL).",
        |k: &Kill| k.exit_code.into(),
    )
    .column("exit code"),
    id(
        "score",
        "The killer's own score for the victim (earlyoom badness/oom_score, kernel score).",
        |k| k.score.into(),
    ),
    gauge(
        "rss_kb",
        U::KiB,
        "Resident memory the killer reported (earlyoom VmRSS, kubelet usage).",
        |k: &Kill| k.rss_kb.into(),
    )
    .column("rss"),
    text(
        "outcome",
        "The killer's follow-up (`kill failed: Timer expired`, `exited after 0.100 seconds`).",
        |k: &Kill| V::text(k.outcome.as_deref()),
    )
    .column(""),
    id(
        "killed_again",
        "How many more times the same report killed this pid (an oom.group scan that found the victim still holding its memory killed and counted it again); 0 otherwise.",
        |k| Some(k.killed_again).into(),
    ),
    nested(
        "reaped",
        "What the oom_reaper freed afterwards, else null (see `unmatched_reaps[]`).",
        |k| V::optional(k.reaped.as_ref()),
    ),
    id("line", "Input line of the kill.", |k| k.line.into()),
    nested("time", "When the kill was logged (see `time`).", |k| V::record(&k.time)),
];

impl Record for Kill {
    fn fields() -> &'static [Field<Self>] {
        KILL_FIELDS
    }
}

static REAP_FIELDS: &[Field<Reap>] = &[
    id("pid", "The reaped pid.", |r| r.pid.into()),
    text("comm", "Its comm.", |r| V::Str(&r.comm)),
    gauge("anon_rss_kb", U::KiB, "anon-rss left after reaping.", |r| {
        r.anon_rss_kb.into()
    }),
    gauge("file_rss_kb", U::KiB, "file-rss left after reaping.", |r| {
        r.file_rss_kb.into()
    }),
    gauge(
        "shmem_rss_kb",
        U::KiB,
        "shmem-rss left after reaping.",
        |r| r.shmem_rss_kb.into(),
    ),
    id("line", "Input line of the reaper message.", |r| {
        r.line.into()
    }),
];

impl Record for Reap {
    fn fields() -> &'static [Field<Self>] {
        REAP_FIELDS
    }
}

static LOG_TIME_FIELDS: &[Field<LogTime>] = &[
    gauge(
        "monotonic_us",
        U::Microseconds,
        "Time since boot on the kernel's clock; left out when not printed.",
        |t| t.monotonic_us.map_or(V::Absent, V::U64),
    ),
    text(
        "local",
        "Wall-clock time as printed, without a zone, ISO 8601; left out when not printed.",
        |t| t.local.as_deref().map_or(V::Absent, V::Str),
    ),
    Field::new(
        "year_inferred",
        U::Flag,
        K::Info,
        "Present (true) only when the log did not print the year and it was inferred.",
        |t| if t.year_inferred { V::Bool(true) } else { V::Absent },
    ),
    text(
        "utc",
        "The absolute instant, RFC 3339 in UTC, when the log carried one or the boot time of a live log was known; left out otherwise.",
        |t| t.utc.as_deref().map_or(V::Absent, V::Str),
    ),
];

impl Record for LogTime {
    fn fields() -> &'static [Field<Self>] {
        LOG_TIME_FIELDS
    }
}

static MEMCG_COUNTERS_FIELDS: &[Field<MemcgCounters>] = &[
    nested(
        "memory",
        "The `memory:` line (v1 and v2), else null.",
        |m| V::optional(m.memory.as_ref()),
    ),
    nested(
        "memsw",
        "The `memory+swap:` line (v1 with swap accounting), else null.",
        |m| V::optional(m.memsw.as_ref()),
    ),
    nested("kmem", "The `kmem:` line (v1), else null.", |m| {
        V::optional(m.kmem.as_ref())
    }),
    nested("swap", "The `swap:` line (v2), else null.", |m| {
        V::optional(m.swap.as_ref())
    }),
];

impl Record for MemcgCounters {
    fn fields() -> &'static [Field<Self>] {
        MEMCG_COUNTERS_FIELDS
    }
}

static MEMCG_COUNTER_FIELDS: &[Field<MemcgCounter>] = &[
    gauge("usage_kb", U::KiB, "Charged memory.", |c: &MemcgCounter| {
        c.usage_kb.into()
    })
    .column("usage"),
    gauge(
        "limit_kb",
        U::KiB,
        "The limit (the page-rounded maximum when unlimited).",
        |c: &MemcgCounter| c.limit_kb.into(),
    )
    .column("limit"),
    Field::new(
        "failcnt",
        U::Count,
        K::Counter,
        "How often the limit was hit.",
        |c: &MemcgCounter| c.failcnt.into(),
    )
    .column("failcnt"),
];

impl Record for MemcgCounter {
    fn fields() -> &'static [Field<Self>] {
        MEMCG_COUNTER_FIELDS
    }
}

static MEMORY_STAT_FIELDS: &[Field<MemoryStat>] = &[
    text("cgroup", "The cgroup the block describes.", |m| {
        V::text(m.cgroup.as_deref())
    }),
    nested("entries", "Every `key value` pair in print order.", |m| {
        V::records(&m.entries)
    }),
];

impl Record for MemoryStat {
    fn fields() -> &'static [Field<Self>] {
        MEMORY_STAT_FIELDS
    }
}

static STAT_ENTRY_FIELDS: &[Field<StatEntry>] = &[
    text(
        "key",
        "The key as printed (rss, total_shmem, anon, file, …).",
        |e| V::Str(&e.key),
    ),
    gauge(
        "value",
        U::Count,
        "The number as printed, in `unit`.",
        |e| e.value.into(),
    ),
    text(
        "unit",
        "kib (cgroup v1 `rss:1024KB`) or plain (cgroup v2 bytes, or a count).",
        |e| V::Str(stat_unit_name(e.unit)),
    ),
];

impl Record for StatEntry {
    fn fields() -> &'static [Field<Self>] {
        STAT_ENTRY_FIELDS
    }
}

static MEM_INFO_FIELDS: &[Field<MemInfo>] = &[
    gauge(
        "counters",
        U::Pages,
        "The `key:pages` counters of the `Mem-Info:` block, each a [name, pages] pair, in print order.",
        |m| V::list(&m.counters, |(k, v)| V::tuple(vec![V::Str(k), V::U64(*v)])),
    ),
    gauge("pages_ram", U::Pages, "`N pages RAM`.", |m| m.pages_ram.into()),
    gauge("pages_reserved", U::Pages, "`N pages reserved`.", |m| m.pages_reserved.into()),
    gauge("total_swap_kb", U::KiB, "`Total swap = NkB`.", |m| m.total_swap_kb.into()),
    gauge("free_swap_kb", U::KiB, "`Free swap = NkB`.", |m| m.free_swap_kb.into()),
    gauge("pagecache_pages", U::Pages, "`N total pagecache pages`.", |m| m.pagecache_pages.into()),
];

impl Record for MemInfo {
    fn fields() -> &'static [Field<Self>] {
        MEM_INFO_FIELDS
    }
}

static TASK_TABLE_FIELDS: &[Field<TaskTable>] = &[
    Field::new(
        "columns",
        U::Text,
        K::Info,
        "Column names as printed in the table's header, in order.",
        |t| V::strs(&t.columns),
    ),
    nested(
        "rows",
        "The rows, in print order (see `task_table.rows[]`).",
        |t| V::records(&t.rows),
    ),
    Field::new(
        "rows_dropped",
        U::Count,
        K::Info,
        "Rows dropped because the table exceeded the parser's bound.",
        |t| t.rows_dropped.into(),
    ),
];

impl Record for TaskTable {
    fn fields() -> &'static [Field<Self>] {
        TASK_TABLE_FIELDS
    }
}

static TASK_ROW_FIELDS: &[Field<TaskRow>] = &[
    id(
        "pid",
        "`pid` (the tgid of the thread group in newer kernels).",
        |r| r.pid.into(),
    ),
    id("uid", "`uid`.", |r| r.uid.into()),
    id("tgid", "`tgid`.", |r| r.tgid.into()),
    gauge("total_vm", U::Pages, "`total_vm`.", |r| r.total_vm.into()),
    gauge("rss", U::Pages, "`rss` (anon + file + shmem).", |r| {
        r.rss.into()
    }),
    gauge("rss_anon", U::Pages, "`rss_anon` (6.8+).", |r| {
        r.rss_anon.into()
    }),
    gauge("rss_file", U::Pages, "`rss_file` (6.8+).", |r| {
        r.rss_file.into()
    }),
    gauge("rss_shmem", U::Pages, "`rss_shmem` (6.8+).", |r| {
        r.rss_shmem.into()
    }),
    gauge(
        "pgtables_bytes",
        U::Bytes,
        "`pgtables_bytes` (4.15+).",
        |r| r.pgtables_bytes.into(),
    ),
    gauge(
        "nr_ptes",
        U::Pages,
        "`nr_ptes` (before 4.15): pages of page tables.",
        |r| r.nr_ptes.into(),
    ),
    gauge(
        "nr_pmds",
        U::Pages,
        "`nr_pmds` (4.0–4.14): pages of page middle directories.",
        |r| r.nr_pmds.into(),
    ),
    gauge("swapents", U::Pages, "`swapents`.", |r| r.swapents.into()),
    id("cpu", "`cpu` (2.6.32).", |r| r.cpu.into()),
    id("oom_adj", "`oom_adj` (2.6.32).", |r| r.oom_adj.into()),
    id("oom_score_adj", "`oom_score_adj`.", |r| {
        r.oom_score_adj.into()
    }),
    text("name", "`name`: the comm, may contain spaces.", |r| {
        V::Str(&r.name)
    }),
];

impl Record for TaskRow {
    fn fields() -> &'static [Field<Self>] {
        TASK_ROW_FIELDS
    }
}

static SELECTION_FIELDS: &[Field<Selection>] = &[
    id("pid", "The selected pid.", |s| s.pid.into()),
    text("comm", "Its comm.", |s| V::Str(&s.comm)),
    id(
        "score",
        "The printed badness score (per mille before 4.19).",
        |s| s.score.into(),
    ),
];

impl Record for Selection {
    fn fields() -> &'static [Field<Self>] {
        SELECTION_FIELDS
    }
}

static OOMD_TRIGGER_FIELDS: &[Field<OomdTrigger>] = &[
    text("reason", "pressure or swap.", |t| V::Str(&t.reason)),
    text(
        "monitored_cgroup",
        "The cgroup whose pressure (or the machine whose swap) crossed the limit.",
        |t| V::text(t.monitored_cgroup.as_deref()),
    ),
    text("value", "The measured value as printed (`51.07%`).", |t| {
        V::text(t.value.as_deref())
    }),
    text(
        "limit",
        "The configured limit as printed (`50.00%`).",
        |t| V::text(t.limit.as_deref()),
    ),
    text(
        "duration",
        "How long pressure stayed above it, as printed (`20s`).",
        |t| V::text(t.duration.as_deref()),
    ),
];

impl Record for OomdTrigger {
    fn fields() -> &'static [Field<Self>] {
        OOMD_TRIGGER_FIELDS
    }
}

static NOTICE_FIELDS: &[Field<Notice>] = &[
    text(
        "kind",
        "What systemd said: process-killed-by-oom-killer, failed-oom-kill, oomd-killed, main-process-killed, scheduled-restart.",
        |n| V::Str(notice_kind_name(n.kind)),
    ),
    text("unit", "The unit name.", |n| V::Str(&n.unit)),
    id("manager_pid", "The manager's pid (1 for the system manager).", |n| n.manager_pid.into()),
    id("count", "A number in the message: processes killed, restart counter.", |n| n.count.into()),
    nested("time", "When it was logged (see `time`).", |n| V::record(&n.time)),
    id("line", "Input line.", |n| n.line.into()),
];

impl Record for Notice {
    fn fields() -> &'static [Field<Self>] {
        NOTICE_FIELDS
    }
}

static WITNESS_FIELDS: &[Field<Witness>] = &[
    text(
        "source",
        "Who said it: kubelet SystemOOM, kubelet OOMKilled, containerd TaskOOM.",
        |w| V::Str(&w.source),
    ),
    text("container_id", "The container id it named.", |w| {
        V::text(w.container_id.as_deref())
    }),
    text("pod", "The pod it named.", |w| V::text(w.pod.as_deref())),
    text("container", "The container it named.", |w| {
        V::text(w.container.as_deref())
    }),
    id("line", "Input line.", |w| w.line.into()),
];

impl Record for Witness {
    fn fields() -> &'static [Field<Self>] {
        WITNESS_FIELDS
    }
}

/// The contract's name of an incident kind.
pub fn kind_name(k: crate::Kind) -> &'static str {
    k.as_str()
}

/// The contract's name of a kill's evidence.
pub fn evidence_name(e: KillEvidence) -> &'static str {
    match e {
        KillEvidence::KilledLine => "killed-line",
        KillEvidence::OomKillLine => "oom-kill-line",
        KillEvidence::Reaper => "reaper",
        KillEvidence::Selection => "selection",
        KillEvidence::SystemdOomd => "systemd-oomd",
        KillEvidence::Earlyoom => "earlyoom",
        KillEvidence::Kubelet => "kubelet",
        KillEvidence::OomlensGuard => "oomlens-guard",
    }
}

fn adj_source_name(a: AdjSource) -> &'static str {
    match a {
        AdjSource::KilledLine => "killed-line",
        AdjSource::TaskTable => "task-table",
    }
}

fn stat_unit_name(u: StatUnit) -> &'static str {
    match u {
        StatUnit::Kib => "kib",
        StatUnit::Plain => "plain",
    }
}

fn notice_kind_name(k: NoticeKind) -> &'static str {
    match k {
        NoticeKind::ProcessKilledByOomKiller => "process-killed-by-oom-killer",
        NoticeKind::FailedOomKill => "failed-oom-kill",
        NoticeKind::OomdKilled => "oomd-killed",
        NoticeKind::MainProcessKilled => "main-process-killed",
        NoticeKind::ScheduledRestart => "scheduled-restart",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names written here are the ones the serde derives wrote before the tables
    /// existed (and other users of the derives still write): the contract did not change.
    #[test]
    fn enum_names_are_the_serde_names() {
        let serde = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for e in [
            KillEvidence::KilledLine,
            KillEvidence::OomKillLine,
            KillEvidence::Reaper,
            KillEvidence::Selection,
            KillEvidence::SystemdOomd,
            KillEvidence::Earlyoom,
            KillEvidence::Kubelet,
            KillEvidence::OomlensGuard,
        ] {
            assert_eq!(evidence_name(e), serde(serde_json::to_value(e).unwrap()));
        }
        for a in [AdjSource::KilledLine, AdjSource::TaskTable] {
            assert_eq!(adj_source_name(a), serde(serde_json::to_value(a).unwrap()));
        }
        for u in [StatUnit::Kib, StatUnit::Plain] {
            assert_eq!(stat_unit_name(u), serde(serde_json::to_value(u).unwrap()));
        }
        for n in [
            NoticeKind::ProcessKilledByOomKiller,
            NoticeKind::FailedOomKill,
            NoticeKind::OomdKilled,
            NoticeKind::MainProcessKilled,
            NoticeKind::ScheduledRestart,
        ] {
            assert_eq!(notice_kind_name(n), serde(serde_json::to_value(n).unwrap()));
        }
        for k in [
            crate::Kind::Memcg,
            crate::Kind::Global,
            crate::Kind::Cpuset,
            crate::Kind::MemoryPolicy,
            crate::Kind::SystemdOomd,
            crate::Kind::Earlyoom,
            crate::Kind::Kubelet,
            crate::Kind::SystemdNotice,
            crate::Kind::OomlensGuard,
        ] {
            assert_eq!(kind_name(k), serde(serde_json::to_value(k).unwrap()));
        }
    }

    #[test]
    fn log_time_leaves_out_what_was_not_printed() {
        let t = LogTime {
            monotonic_us: Some(5),
            ..LogTime::default()
        };
        let json = serde_json::to_string(&crate::fields::AsFields(&t)).unwrap();
        assert_eq!(json, r#"{"monotonic_us":5}"#);
        let t = LogTime {
            year_inferred: true,
            local: Some("2024-01-02T03:04:05".into()),
            ..LogTime::default()
        };
        let json = serde_json::to_string(&crate::fields::AsFields(&t)).unwrap();
        assert_eq!(
            json,
            r#"{"local":"2024-01-02T03:04:05","year_inferred":true}"#
        );
    }
}
