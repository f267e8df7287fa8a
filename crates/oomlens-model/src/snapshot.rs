//! A snapshot of processes and memory cgroups, as `oomlens rank` reads it below a root
//! (`oomlens_sources::snapshot`) and `oomlens_analysis::domains` builds OOM domains from.
//! Raw facts only: sizes in bytes as the kernel printed them, the page size as a value.

use crate::{CgroupMemory, CgroupVersion};

/// One process as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The pid (tgid).
    pub pid: u32,
    /// The comm.
    pub comm: String,
    /// The real uid.
    pub uid: Option<u32>,
    /// `RssAnon` + `RssFile` + `RssShmem` (what `get_mm_rss` counts), bytes.
    pub rss_bytes: u64,
    /// `VmSwap`, bytes.
    pub swap_bytes: u64,
    /// `VmPTE`, bytes.
    pub pgtables_bytes: u64,
    /// oom_score_adj.
    pub oom_score_adj: i32,
    /// `/proc/PID/oom_score` as read.
    pub oom_score: Option<u64>,
    /// The memory cgroup path (v1 `memory` line or v2 `0::` line).
    pub memcg: Option<String>,
    /// A kernel thread.
    pub kernel_thread: bool,
    /// Has an address space (false for zombies).
    pub has_mm: bool,
    /// Creation order key (start time in ticks).
    pub start_time: u64,
    /// Threads in the process.
    pub threads: u32,
}

/// Machine-wide memory and OOM settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Machine {
    /// `MemTotal`, bytes.
    pub mem_total_bytes: u64,
    /// `MemAvailable`, bytes.
    pub mem_available_bytes: Option<u64>,
    /// `MemFree`, bytes.
    pub mem_free_bytes: u64,
    /// `SwapTotal`, bytes.
    pub swap_total_bytes: u64,
    /// `SwapFree`, bytes.
    pub swap_free_bytes: u64,
    /// `vm.swappiness`.
    pub vm_swappiness: Option<u64>,
    /// `vm.panic_on_oom`.
    pub panic_on_oom: Option<i64>,
    /// `vm.oom_kill_allocating_task`.
    pub oom_kill_allocating_task: Option<bool>,
    /// Online CPUs (for the RSS counter skew).
    pub online_cpus: Option<u32>,
}

/// Everything `oomlens_analysis::domains::build` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// The page size in bytes.
    pub page_size: u64,
    /// The kernel release (`6.18.44-…`), for the badness formula and the skew bound.
    pub release: Option<String>,
    /// Where the memory controller is.
    pub version: CgroupVersion,
    /// Machine-wide values.
    pub machine: Machine,
    /// Every process.
    pub tasks: Vec<Task>,
    /// Every memory cgroup read (limited or not; ancestors are needed for hierarchy and
    /// oom.group).
    pub cgroups: Vec<CgroupMemory>,
    /// The pid of the kernel's global init as seen here (`Some(1)` when this /proc is the
    /// initial pid namespace), `None` when not visible.
    pub global_init: Option<u32>,
}

/// A [`System`] as read from a root, with what the read could not see.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// What was read.
    pub system: System,
    /// Processes that exited while being read (skipped).
    pub vanished: usize,
    /// The memory controller's cgroup version; `None` when no memory hierarchy is mounted
    /// (then [`System::version`] is a stand-in, v2, and no cgroup was read).
    pub memcg_version: Option<CgroupVersion>,
}
