//! One memory incident: an OOM event and the kills it caused, from any killer.

use serde::{Deserialize, Serialize};

use crate::LogTime;

/// Which killer acted, and for kernel OOMs, in which domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A memory cgroup hit its limit (whatever `constraint=` says; some 4.19-era kernels
    /// print `CONSTRAINT_NONE` for memcg OOMs).
    Memcg,
    /// The whole machine ran out of memory.
    Global,
    /// The allocation was restricted to a cpuset's memory nodes.
    Cpuset,
    /// Also a kernel OOM: the allocation was restricted by a mempolicy (`CONSTRAINT_MEMORY_POLICY`).
    MemoryPolicy,
    /// systemd-oomd killed a cgroup for pressure or swap use.
    SystemdOomd,
    /// earlyoom sent a signal to a process.
    Earlyoom,
    /// The kubelet evicted a pod or reported a container as OOMKilled.
    Kubelet,
    /// Only systemd (PID 1) said a unit's process was killed by the OOM killer.
    SystemdNotice,
    /// oomlens guard pre-empted a process (a `[[preempt]]` policy; with `--dry-run`, only
    /// decided to).
    OomlensGuard,
}

impl Kind {
    /// The name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Memcg => "memcg",
            Kind::Global => "global",
            Kind::Cpuset => "cpuset",
            Kind::MemoryPolicy => "memory-policy",
            Kind::SystemdOomd => "systemd-oomd",
            Kind::Earlyoom => "earlyoom",
            Kind::Kubelet => "kubelet",
            Kind::SystemdNotice => "systemd-notice",
            Kind::OomlensGuard => "oomlens-guard",
        }
    }

    /// True for OOM events of the kernel's own killer.
    pub fn is_kernel(self) -> bool {
        matches!(
            self,
            Kind::Memcg | Kind::Global | Kind::Cpuset | Kind::MemoryPolicy
        )
    }
}

/// How much of a report the input held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Completeness {
    /// The report from its first line to the kill.
    Full,
    /// Most of a report, but its header or part of its middle is missing or elided.
    Partial,
    /// A few key lines only.
    Fragment,
}

impl Completeness {
    /// The name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Completeness::Full => "full",
            Completeness::Partial => "partial",
            Completeness::Fragment => "fragment",
        }
    }
}

/// Where in the input an incident was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpan {
    /// The input's name: a path, `-` for standard input, `kmsg` or `journal` for a live log.
    pub file: Option<String>,
    /// First input line (1-based) that belongs to the incident.
    pub first_line: u64,
    /// Last input line (1-based) that belongs to the incident.
    pub last_line: u64,
    /// The log form: `kmsg`, `dmesg`, `dmesg-x`, `dmesg-T`, `dmesg-iso`, `journal-short`,
    /// `journal-monotonic`, `journal-json`, `syslog`, `syslog-or-journal` (the two write the
    /// same layout and nothing in the input told them apart), `prefixed` or `bare`.
    pub format: Option<String>,
}

/// The task whose allocation failed and woke the OOM killer
/// (`<comm> invoked oom-killer: gfp_mask=…, order=N, oom_score_adj=N`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoker {
    /// The invoking task's comm.
    pub comm: Option<String>,
    /// Its pid (thread id), from the `CPU: … PID: N Comm: …` line.
    pub pid: Option<u32>,
    /// `gfp_mask=` verbatim, with its `(FLAGS)` where printed: `0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)`.
    pub gfp_mask: Option<String>,
    /// The allocation order (`order=N`): 2^N pages were requested.
    pub order: Option<u32>,
    /// The invoker's own oom_score_adj (not the victim's).
    pub oom_score_adj: Option<i32>,
    /// The legacy `oom_adj=` printed by 2.6.32 kernels.
    pub oom_adj: Option<i32>,
    /// `nodemask=` when printed in the invoked line.
    pub nodemask: Option<String>,
}

/// One `usage NkB, limit NkB, failcnt N` line of a memcg report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcgCounter {
    /// Charged memory, KiB.
    pub usage_kb: u64,
    /// The limit, KiB (the kernel prints the page-rounded maximum when unlimited).
    pub limit_kb: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// The counter lines of a memcg OOM report (mm/memcontrol.c, `mem_cgroup_print_oom_meminfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcgCounters {
    /// `memory:` (v1 and v2).
    pub memory: Option<MemcgCounter>,
    /// `memory+swap:` (v1 with swap accounting).
    pub memsw: Option<MemcgCounter>,
    /// `kmem:` (v1).
    pub kmem: Option<MemcgCounter>,
    /// `swap:` (v2).
    pub swap: Option<MemcgCounter>,
}

/// The unit in which a `Memory cgroup stats` block printed its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatUnit {
    /// cgroup v1 form `rss:1024KB`.
    Kib,
    /// cgroup v2 form `anon 1048576` (bytes), or a count (`pgfault`).
    Plain,
}

/// A `Memory cgroup stats for <path>` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStat {
    /// The cgroup the block describes.
    pub cgroup: Option<String>,
    /// Every `key value` pair in print order.
    pub entries: Vec<StatEntry>,
}

/// One key of a `Memory cgroup stats` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEntry {
    /// The key as printed (`rss`, `total_shmem`, `anon`, `file`, ...).
    pub key: String,
    /// The number as printed.
    pub value: u64,
    /// The unit it was printed in.
    pub unit: StatUnit,
}

impl MemoryStat {
    /// The value of `key` in bytes where it is a size: v1 values are printed in KiB, v2 sizes in bytes.
    pub fn bytes(&self, key: &str) -> Option<u64> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| match e.unit {
                StatUnit::Kib => e.value.saturating_mul(1024),
                StatUnit::Plain => e.value,
            })
    }
}

/// The machine-wide summary of a global OOM report (`Mem-Info:` and the lines after it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemInfo {
    /// The `key:pages` counters of the `Mem-Info:` block (`active_anon`, `shmem`, `free`, ...), in pages.
    pub counters: Vec<(String, u64)>,
    /// `N pages RAM`.
    pub pages_ram: Option<u64>,
    /// `N pages reserved`.
    pub pages_reserved: Option<u64>,
    /// `Total swap = NkB`.
    pub total_swap_kb: Option<u64>,
    /// `Free swap  = NkB`.
    pub free_swap_kb: Option<u64>,
    /// `N total pagecache pages`.
    pub pagecache_pages: Option<u64>,
}

impl MemInfo {
    /// A `Mem-Info:` counter by name, in pages.
    pub fn counter(&self, key: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }
}

/// One row of the `Tasks state (memory values in pages)` table, as printed. Which columns
/// exist depends on the kernel version; absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    /// `pid` (the tgid of the thread group in newer kernels).
    pub pid: u32,
    /// `uid`.
    pub uid: Option<u32>,
    /// `tgid`.
    pub tgid: Option<u32>,
    /// `total_vm`, pages.
    pub total_vm: Option<u64>,
    /// `rss`, pages (anon + file + shmem).
    pub rss: Option<u64>,
    /// `rss_anon`, pages (6.8+).
    pub rss_anon: Option<u64>,
    /// `rss_file`, pages (6.8+).
    pub rss_file: Option<u64>,
    /// `rss_shmem`, pages (6.8+).
    pub rss_shmem: Option<u64>,
    /// `pgtables_bytes` (4.15+), bytes.
    pub pgtables_bytes: Option<u64>,
    /// `nr_ptes` (before 4.15), pages of page tables.
    pub nr_ptes: Option<u64>,
    /// `nr_pmds` (4.0–4.14), pages of page middle directories.
    pub nr_pmds: Option<u64>,
    /// `swapents`, pages.
    pub swapents: Option<u64>,
    /// `cpu` (2.6.32).
    pub cpu: Option<u32>,
    /// `oom_adj` (2.6.32).
    pub oom_adj: Option<i32>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// `name`: the comm, may contain spaces.
    pub name: String,
}

/// The task table of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTable {
    /// Column names as printed in the header, in order.
    pub columns: Vec<String>,
    /// The rows, in print order.
    pub rows: Vec<TaskRow>,
    /// Rows dropped because the table exceeded the parser's bound.
    pub rows_dropped: u64,
}

/// The kernel's choice before it killed: `Kill process N (comm) score S or sacrifice child`
/// (before 4.19; the killed task can be a child or a different thread group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The selected pid.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// The printed badness score (per mille before 4.19).
    pub score: Option<i64>,
}

/// Which printed line a kill was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillEvidence {
    /// A `Killed process N (comm) …` line.
    KilledLine,
    /// Only the `oom-kill:…,task=…,pid=…` summary line.
    OomKillLine,
    /// Only an `oom_reaper: reaped process …` line.
    Reaper,
    /// Only the `Kill process N (comm) score S or sacrifice child` selection line.
    Selection,
    /// A systemd-oomd log line.
    SystemdOomd,
    /// An earlyoom log line.
    Earlyoom,
    /// A kubelet event or container status.
    Kubelet,
    /// An oomlens guard pre-emption line.
    OomlensGuard,
}

/// Where a kill's `oom_score_adj` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdjSource {
    /// `oom_score_adj:N` at the end of the `Killed process` line (5.x+).
    KilledLine,
    /// The victim's row in the task table.
    TaskTable,
}

/// What the oom_reaper freed (`oom_reaper: reaped process N (comm), now anon-rss:…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reap {
    /// The reaped pid.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// anon-rss left after reaping, KiB.
    pub anon_rss_kb: Option<u64>,
    /// file-rss left after reaping, KiB.
    pub file_rss_kb: Option<u64>,
    /// shmem-rss left after reaping, KiB.
    pub shmem_rss_kb: Option<u64>,
    /// Input line of the reaper message.
    pub line: u64,
}

/// One process (or, for systemd-oomd and the kubelet, one cgroup/container) that was killed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    /// Which line this kill was read from.
    pub evidence: Option<KillEvidence>,
    /// The killed pid.
    pub pid: Option<u32>,
    /// The killed task's comm (for the kubelet: the container, else the pod).
    pub comm: Option<String>,
    /// The task's uid.
    pub uid: Option<u32>,
    /// `total-vm`, KiB.
    pub total_vm_kb: Option<u64>,
    /// `anon-rss` at kill time, KiB.
    pub anon_rss_kb: Option<u64>,
    /// `file-rss` at kill time, KiB.
    pub file_rss_kb: Option<u64>,
    /// `shmem-rss` at kill time, KiB (printed from about 4.6).
    pub shmem_rss_kb: Option<u64>,
    /// `pgtables`, KiB.
    pub pgtables_kb: Option<u64>,
    /// The victim's oom_score_adj.
    pub oom_score_adj: Option<i32>,
    /// Where `oom_score_adj` was read.
    pub oom_score_adj_from: Option<AdjSource>,
    /// The message prefix the kernel printed (`Out of memory`, `Memory cgroup out of memory`, ...).
    pub reason: Option<String>,
    /// The signal sent when not SIGKILL (earlyoom's SIGTERM).
    pub signal: Option<String>,
    /// The cgroup killed (systemd-oomd) or the victim's memcg.
    pub cgroup: Option<String>,
    /// Kubernetes pod (`namespace/name` or `name`) for kubelet kills.
    pub pod: Option<String>,
    /// Kubernetes container for kubelet kills.
    pub container: Option<String>,
    /// Container exit code where reported (137 = SIGKILL).
    pub exit_code: Option<i32>,
    /// The killer's own score for the victim (earlyoom `badness`/`oom_score`, kernel `score`).
    pub score: Option<i64>,
    /// Resident memory the killer reported, KiB (earlyoom `VmRSS`, kubelet usage).
    pub rss_kb: Option<u64>,
    /// The killer's follow-up (`kill failed: Timer expired`, `exited after 0.100 seconds`).
    pub outcome: Option<String>,
    /// What the oom_reaper freed afterwards.
    pub reaped: Option<Reap>,
    /// How many more times the same report killed this pid: an oom.group scan that found
    /// the victim still holding its mm kills (and counts in `memory.events` `oom_kill`) it
    /// again. 0 for every other kill.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub killed_again: u32,
    /// When the kill was logged.
    pub time: LogTime,
    /// Input line of the kill.
    pub line: u64,
}

/// Why systemd-oomd acted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomdTrigger {
    /// `pressure` or `swap`.
    pub reason: String,
    /// The cgroup whose pressure (or the machine whose swap) crossed the limit.
    pub monitored_cgroup: Option<String>,
    /// The measured value (`51.07%`).
    pub value: Option<String>,
    /// The configured limit (`50.00%`).
    pub limit: Option<String>,
    /// How long pressure stayed above it (`20s`).
    pub duration: Option<String>,
}

/// What PID 1 (systemd) said about a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// `A process of this unit has been killed by the OOM killer.`
    ProcessKilledByOomKiller,
    /// `Failed with result 'oom-kill'.`
    FailedOomKill,
    /// `systemd-oomd killed N process(es) in this unit.`
    OomdKilled,
    /// `Main process exited, code=killed, status=9/KILL`
    MainProcessKilled,
    /// `Scheduled restart job, restart counter is at N.`
    ScheduledRestart,
}

/// A systemd (PID 1 or user manager) message about a unit, linked to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What was said.
    pub kind: NoticeKind,
    /// The unit name (`worker-processor.service`).
    pub unit: String,
    /// The manager's pid (1 for the system manager).
    pub manager_pid: Option<u32>,
    /// A number in the message: processes killed, restart counter.
    pub count: Option<u64>,
    /// When it was logged.
    pub time: LogTime,
    /// Input line.
    pub line: u64,
}

/// Another component's report of the same kill (kubelet, container runtime), linked to the
/// kernel incident it describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// Who said it: `kubelet SystemOOM`, `kubelet OOMKilled`, `containerd TaskOOM`.
    pub source: String,
    /// The container id it named, if any.
    pub container_id: Option<String>,
    /// The pod it named, if any.
    pub pod: Option<String>,
    /// The container it named, if any.
    pub container: Option<String>,
    /// Input line.
    pub line: u64,
}

/// One memory incident: a kernel OOM event with its kills, or one act of a userspace killer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Which killer, in which domain; `None` when a report was cut off before it said.
    pub kind: Option<Kind>,
    /// How much of the report the input held.
    pub completeness: Completeness,
    /// The kernel release from the `CPU: … Comm: … <release> #…` line.
    pub kernel_version: Option<String>,
    /// The host name, where the log form carries one.
    pub host: Option<String>,
    /// `constraint=` as printed (`CONSTRAINT_MEMCG`, ...).
    pub constraint: Option<String>,
    /// The memcg whose limit was hit (kernel), or the cgroup under pressure (systemd-oomd).
    pub oom_memcg: Option<String>,
    /// The victim's memcg (kernel), or the killed cgroup (systemd-oomd).
    pub task_memcg: Option<String>,
    /// `nodemask=` of the `oom-kill:` line.
    pub nodemask: Option<String>,
    /// `cpuset=` (the invoker's cpuset cgroup).
    pub cpuset: Option<String>,
    /// `mems_allowed=`.
    pub mems_allowed: Option<String>,
    /// The task that invoked the OOM killer.
    pub invoker: Option<Invoker>,
    /// Call-trace frames that name the OOM path (`mem_cgroup_out_of_memory`, `pagefault_out_of_memory`, ...).
    pub oom_path: Vec<String>,
    /// The memcg counters (memcg OOMs).
    pub memcg: Option<MemcgCounters>,
    /// The first `Memory cgroup stats` block (the OOM memcg's own).
    pub memory_stat: Option<MemoryStat>,
    /// The global memory summary.
    pub mem_info: Option<MemInfo>,
    /// The task table.
    pub task_table: Option<TaskTable>,
    /// The kernel's selection line (before 4.19).
    pub selection: Option<Selection>,
    /// `Tasks in <memcg> are going to be killed due to memory.oom.group set`.
    pub oom_group: Option<String>,
    /// Every process (or cgroup) killed, in order.
    pub kills: Vec<Kill>,
    /// oom_reaper lines that matched no kill of this incident.
    pub unmatched_reaps: Vec<Reap>,
    /// `Out of memory and no killable processes...`: the kernel found nothing to kill.
    pub no_killable_processes: bool,
    /// The kernel panicked instead of killing: the text after `Kernel panic - not syncing: `
    /// (`Out of memory: system-wide panic_on_oom is enabled`, `System is deadlocked on memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    /// Why systemd-oomd acted.
    pub oomd_trigger: Option<OomdTrigger>,
    /// systemd's messages about the unit the victim belonged to.
    pub notices: Vec<Notice>,
    /// Other components' reports of the same kill.
    pub witnesses: Vec<Witness>,
    /// Lines of the report that an author or pager elided (`...`, `(...snipped...)`).
    pub elisions: u32,
    /// When the incident's first line was logged.
    pub time: LogTime,
    /// Where it was read.
    pub source: SourceSpan,
}

impl Incident {
    /// An empty incident that starts at `line`.
    pub fn new(line: u64, time: LogTime) -> Incident {
        Incident {
            kind: None,
            completeness: Completeness::Fragment,
            kernel_version: None,
            host: None,
            constraint: None,
            oom_memcg: None,
            task_memcg: None,
            nodemask: None,
            cpuset: None,
            mems_allowed: None,
            invoker: None,
            oom_path: Vec::new(),
            memcg: None,
            memory_stat: None,
            mem_info: None,
            task_table: None,
            selection: None,
            oom_group: None,
            kills: Vec::new(),
            unmatched_reaps: Vec::new(),
            no_killable_processes: false,
            panic: None,
            oomd_trigger: None,
            notices: Vec::new(),
            witnesses: Vec::new(),
            elisions: 0,
            time,
            source: SourceSpan {
                file: None,
                first_line: line,
                last_line: line,
                format: None,
            },
        }
    }

    /// The first killed process: the one operators call "the victim".
    pub fn victim(&self) -> Option<&Kill> {
        self.kills.first()
    }
}

/// serde's skip test for counts that are almost always 0.
fn is_zero(n: &u32) -> bool {
    *n == 0
}
