//! Samples for `oomlens top`: the raw counters of each cgroup, process and mount at one tick.
//!
//! Only what the kernel printed is stored (bytes, cumulated microseconds); rates, trends and
//! ETAs are derived on read by `oomlens_analysis::trend` from a series of samples. A counter
//! a kernel or cgroup version does not have is `None`.

use serde::{Deserialize, Serialize};

use crate::Limit;

/// One cgroup at one tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupSample {
    /// The cgroup path as in `/proc/PID/cgroup`.
    pub path: String,
    /// `memory.current` / `memory.usage_in_bytes`.
    pub usage: Option<u64>,
    /// `memory.max` / `memory.limit_in_bytes`.
    pub max: Option<Limit>,
    /// v2 `memory.high`.
    pub high: Option<Limit>,
    /// v1 `memory.soft_limit_in_bytes`.
    pub soft_limit: Option<Limit>,
    /// `memory.stat` anon.
    pub anon: Option<u64>,
    /// `memory.stat` file (without shmem).
    pub file: Option<u64>,
    /// `memory.stat` shmem.
    pub shmem: Option<u64>,
    /// v2 `memory.swap.current`, or v1 memsw usage minus usage.
    pub swap: Option<u64>,
    /// v1 `memory.failcnt`.
    pub failcnt: Option<u64>,
    /// `oom_kill` events so far.
    pub oom_kill: Option<u64>,
    /// PSI `some avg10` of `memory.pressure`, percent.
    pub psi_some_avg10: Option<f64>,
    /// PSI `some total`, microseconds.
    pub psi_some_total_us: Option<u64>,
    /// When every field but `usage` was read: the [`Sample::mono`] of the pass that read
    /// them (seconds). `top` reads usage each tick and the rest when it moved or its turn
    /// came; `None` before the first such read.
    #[serde(default)]
    pub counters_t: Option<f64>,
}

/// One process at one tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Pid.
    pub pid: u32,
    /// `Name:` of status.
    pub comm: String,
    /// The memory cgroup it is in.
    pub cgroup: String,
    /// `RssAnon`, bytes.
    pub anon: Option<u64>,
    /// `RssFile`, bytes.
    pub file: Option<u64>,
    /// `RssShmem`, bytes.
    pub shmem: Option<u64>,
    /// `VmSwap`, bytes.
    pub swap: Option<u64>,
}

impl ProcessSample {
    /// anon + file + shmem (VmRSS).
    pub fn rss(&self) -> u64 {
        self.anon.unwrap_or(0) + self.file.unwrap_or(0) + self.shmem.unwrap_or(0)
    }
}

/// One mounted filesystem at one tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSample {
    /// Mount point.
    pub mount_point: String,
    /// Filesystem type.
    pub fstype: String,
    /// Size, bytes.
    pub total: u64,
    /// Used, bytes.
    pub used: u64,
    /// Available to unprivileged writers, bytes.
    pub avail: u64,
}

/// A file deleted while still open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedOpenFile {
    /// The holder.
    pub pid: u32,
    /// The holder's comm.
    pub comm: String,
    /// The descriptor.
    pub fd: u32,
    /// The path it had.
    pub path: String,
    /// Size, bytes.
    pub size: u64,
    /// The mount it lives on, when known.
    pub mount: Option<String>,
}

/// Everything sampled at one tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Wall-clock time of the pass, seconds since the Unix epoch (UTC): when it happened,
    /// meaningful in a record read later (at an OOM, on another host).
    pub unix: f64,
    /// Monotonic time of the pass, seconds (`CLOCK_MONOTONIC`: since boot, not counting
    /// suspend; never steps back when the wall clock is set). Rates and trends use it.
    pub mono: f64,
    /// `MemTotal`, bytes.
    pub mem_total: Option<u64>,
    /// `MemAvailable`, bytes.
    pub mem_available: Option<u64>,
    /// System `/proc/pressure/memory` some avg10, percent.
    pub psi_some_avg10: Option<f64>,
    /// Cgroups, parents before children.
    pub cgroups: Vec<CgroupSample>,
    /// Processes read at this tick (a sampler may re-read the processes of a quiet cgroup
    /// less often than every tick).
    pub processes: Vec<ProcessSample>,
    /// Mounts.
    pub mounts: Vec<MountSample>,
}
