//! One memory cgroup as its control files show it: the limit type, the cgroup version and
//! what one read of a cgroup's `memory.*` files yields. `oomlens-sources` fills these in
//! (v1 and v2 in one shape, what a version lacks is `None`); `top`, `rank` and the analysis
//! read them. Before, the sources, the analysis and the samples each had their own copy.

use serde::{Deserialize, Serialize};

/// A memory limit: bytes, or none ("max"; v1's page counter maximum).
///
/// Serialized as `{"bytes": N}` or `"max"` (the form `top --json` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// At most this many bytes.
    Bytes(u64),
    /// Unlimited.
    Max,
}

impl Limit {
    /// The bytes, `None` for max.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Limit::Bytes(b) => Some(b),
            Limit::Max => None,
        }
    }
}

/// Which cgroup version holds the memory controller. Serialized as `"v1"` / `"v2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupVersion {
    /// The legacy hierarchy: a v1 mount with `-o memory`.
    V1,
    /// The unified hierarchy, cgroup2.
    V2,
}

impl CgroupVersion {
    /// `"v1"` or `"v2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// `memory.oom_control` (v1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomControl {
    /// The OOM killer is off for this cgroup: tasks wait at the limit instead.
    pub oom_kill_disable: bool,
    /// The cgroup is at its limit and waiting for memory now.
    pub under_oom: bool,
    /// Kills in this cgroup so far (4.13+).
    pub oom_kill: Option<u64>,
}

/// `memory.events` (v2): event counters since the cgroup was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEvents {
    /// Reclaimed under memory.low protection.
    pub low: u64,
    /// Throttled above memory.high.
    pub high: u64,
    /// Hit memory.max.
    pub max: u64,
    /// OOM situations.
    pub oom: u64,
    /// Processes killed by the OOM killer.
    pub oom_kill: u64,
    /// Group kills (memory.oom.group; 5.17+).
    pub oom_group_kill: Option<u64>,
}

/// `memory.pressure` / `/proc/pressure/memory` (Documentation/accounting/psi.rst): the
/// share of wall time in which some (or all) tasks stalled on memory, averaged over 10 s,
/// and the cumulated stall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    /// `some avg10`, percent.
    pub some_avg10: f64,
    /// `some total`, microseconds.
    pub some_total_us: u64,
    /// `full avg10`, percent; `None` where the kernel prints no `full` line.
    pub full_avg10: Option<f64>,
    /// `full total`, microseconds.
    pub full_total_us: Option<u64>,
}

/// The `memory.stat` keys usage is split by. v2: `anon`, `file`, `shmem`; v1 (with
/// hierarchy): `total_rss`, `total_cache`, `total_shmem`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatSplit {
    /// Anonymous memory, bytes.
    pub anon: Option<u64>,
    /// Page cache excluding shmem, bytes.
    pub file: Option<u64>,
    /// tmpfs/shm pages, bytes.
    pub shmem: Option<u64>,
}

/// One read of a memory cgroup's control files, both versions in one shape; what the
/// version lacks, or what was not asked for, is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CgroupMemory {
    /// The path as in `/proc/PID/cgroup`.
    pub path: String,
    /// v1 or v2.
    pub version: CgroupVersion,
    /// v2: the memory controller is enabled here (`memory.max` exists; a cgroup whose
    /// parent does not enable `memory` in `cgroup.subtree_control` has no `memory.*` files).
    /// Always true in v1.
    pub controller_enabled: bool,
    /// v2 `memory.current`, v1 `memory.usage_in_bytes`.
    pub usage: Option<u64>,
    /// v2 `memory.max`, v1 `memory.limit_in_bytes`. The v2 root cgroup has none.
    pub max: Option<Limit>,
    /// v2 `memory.high`.
    pub high: Option<Limit>,
    /// v2 `memory.low`.
    pub low: Option<u64>,
    /// v2 `memory.min`.
    pub min: Option<u64>,
    /// v2 `memory.peak` (5.19+), v1 `memory.max_usage_in_bytes`.
    pub peak: Option<u64>,
    /// v2 `memory.swap.current`.
    pub swap_current: Option<u64>,
    /// v2 `memory.swap.max`.
    pub swap_max: Option<Limit>,
    /// v1 `memory.soft_limit_in_bytes`.
    pub soft_limit: Option<Limit>,
    /// v1 `memory.memsw.usage_in_bytes` (memory + swap).
    pub memsw_usage: Option<u64>,
    /// v1 `memory.memsw.limit_in_bytes` (memory + swap); `None` without swap accounting.
    pub memsw_limit: Option<Limit>,
    /// v1 `memory.failcnt`.
    pub failcnt: Option<u64>,
    /// anon/file/shmem from `memory.stat`.
    pub split: StatSplit,
    /// `memory.pressure` (v2 only).
    pub pressure: Option<Pressure>,
    /// The `oom_kill` count of either version: v2 `memory.events`, v1 `memory.oom_control`
    /// (4.13+). Kept apart from the two files' structs because `top` samples it from both.
    pub oom_kill: Option<u64>,
    /// v1 `memory.oom_control`.
    pub oom_control: Option<OomControl>,
    /// v2 `memory.events`.
    pub events: Option<MemoryEvents>,
    /// v1 `memory.use_hierarchy` (settings: read on a full read only).
    pub use_hierarchy: Option<bool>,
    /// v1 `memory.swappiness` (settings: read on a full read only).
    pub swappiness: Option<u64>,
    /// v2 `memory.oom.group` (settings: read on a full read only).
    pub oom_group: Option<bool>,
}

impl CgroupMemory {
    /// The memory limit: [`Limit::Max`] where none was read (the v2 root, a v2 cgroup
    /// without the controller).
    pub fn limit(&self) -> Limit {
        self.max.unwrap_or(Limit::Max)
    }

    /// v1 `oom_kill_disable`: the OOM killer is off here.
    pub fn oom_kill_disable(&self) -> bool {
        self.oom_control.is_some_and(|o| o.oom_kill_disable)
    }

    /// v1 `under_oom`: tasks wait at the limit now.
    pub fn under_oom(&self) -> bool {
        self.oom_control.is_some_and(|o| o.under_oom)
    }

    /// v2 `memory.oom.group` is 1: an OOM kill here takes the whole cgroup.
    pub fn kills_as_group(&self) -> bool {
        self.oom_group == Some(true)
    }

    /// A cgroup of `version` at `path` with nothing read yet.
    pub fn empty(path: &str, version: CgroupVersion) -> CgroupMemory {
        CgroupMemory {
            path: path.to_string(),
            version,
            controller_enabled: version == CgroupVersion::V1,
            usage: None,
            max: None,
            high: None,
            low: None,
            min: None,
            peak: None,
            swap_current: None,
            swap_max: None,
            soft_limit: None,
            memsw_usage: None,
            memsw_limit: None,
            failcnt: None,
            split: StatSplit::default(),
            pressure: None,
            oom_kill: None,
            oom_control: None,
            events: None,
            use_hierarchy: None,
            swappiness: None,
            oom_group: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_of_limit_and_version() {
        // `top --json` prints limits in this form; rank prints the version with as_str.
        assert_eq!(
            serde_json::to_string(&Limit::Bytes(4096)).unwrap(),
            r#"{"bytes":4096}"#
        );
        assert_eq!(serde_json::to_string(&Limit::Max).unwrap(), r#""max""#);
        for v in [CgroupVersion::V1, CgroupVersion::V2] {
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.as_str())
            );
        }
        assert_eq!(CgroupVersion::V1.as_str(), "v1");
    }

    #[test]
    fn oom_view_of_a_cgroup_read() {
        let mut m = CgroupMemory::empty("/a", CgroupVersion::V2);
        assert!(!m.controller_enabled);
        assert_eq!(m.limit(), Limit::Max, "no memory.max read: unlimited");
        assert!(!m.oom_kill_disable() && !m.under_oom() && !m.kills_as_group());
        m.max = Some(Limit::Bytes(1 << 20));
        m.oom_group = Some(true);
        m.oom_control = Some(OomControl {
            oom_kill_disable: true,
            under_oom: false,
            oom_kill: Some(1),
        });
        assert_eq!(m.limit(), Limit::Bytes(1 << 20));
        assert!(m.oom_kill_disable() && !m.under_oom() && m.kills_as_group());
        assert!(CgroupMemory::empty("/", CgroupVersion::V1).controller_enabled);
    }
}
