//! The guard's Prometheus metrics, declared as field tables: every metric family the guard
//! exports (`oomlens-sinks`' `metrics` module) takes its name, unit, type and help from an
//! entry here, and its name from [`Field::metric_name`]. A test in the sink fails when the
//! encoded text holds a family that [`metric_families`] does not list.
//!
//! Names follow Prometheus naming practice: base units (bytes, seconds, ratios 0–1), `_total`
//! on counters, `_info` on the build info, one `oomlens_` prefix; per-cgroup gauges carry
//! `oomlens_cgroup_` and a `cgroup` label.
//!
//! The accessors read plain records ([`GuardTotals`], [`CgroupGauges`], [`SystemPressure`],
//! [`OwnerLabels`]) so that the same tables can also describe the totals elsewhere (a
//! service status line) without a metrics library.

use crate::fields::{Field, Kind as K, Unit as U, Value as V};

/// The prefix of every guard-wide metric.
pub const PREFIX: &str = "oomlens";

/// The prefix of the per-cgroup gauges ([`CGROUP_GAUGE_FIELDS`]).
pub const CGROUP_PREFIX: &str = "oomlens_cgroup";

/// The label that names a cgroup on the per-cgroup gauges: its path below the cgroup root
/// (`/system.slice/foo.service`).
pub const CGROUP_LABEL: &str = "cgroup";

/// The build-info gauge: `oomlens_build_info{…} 1`, labels from
/// [`BUILD_INFO_LABEL_FIELDS`].
pub const BUILD_INFO_METRIC: &str = "oomlens_build_info";

/// The guard's running totals since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GuardTotals {
    /// Processes (or cgroups, for systemd-oomd) killed, over all incidents.
    pub kills: u64,
    /// Incidents seen.
    pub incidents: u64,
    /// Incidents written to the flight recorder.
    pub incidents_recorded: u64,
    /// Incidents the flight recorder failed to write.
    pub record_failures: u64,
    /// Kernel log records overwritten in the kernel's ring before the guard read them.
    pub kmsg_records_lost: u64,
    /// Times reading /dev/kmsg reported an overrun (EPIPE).
    pub kmsg_overruns: u64,
    /// Incidents at least one of whose owner labels was folded into the overflow value
    /// because the label had reached its cap of distinct values.
    pub label_overflows: u64,
}

/// The counters labelled by [`OWNER_LABEL_FIELDS`]: one series per owner and kind. The
/// accessor reads the sum over all series.
pub static OWNER_COUNTER_FIELDS: &[Field<GuardTotals>] = &[
    Field::new(
        "kills",
        U::Count,
        K::Counter,
        "Processes killed by an OOM killer (kernel, systemd-oomd, earlyoom), once per killed process: an oom.group kill of four tasks counts four.",
        |t| V::U64(t.kills),
    ),
    Field::new(
        "incidents",
        U::Count,
        K::Counter,
        "Memory incidents seen (one kernel OOM event with all its kills, or one act of a userspace killer).",
        |t| V::U64(t.incidents),
    ),
];

/// The guard's own counters, without labels.
pub static GUARD_COUNTER_FIELDS: &[Field<GuardTotals>] = &[
    Field::new(
        "incidents_recorded",
        U::Count,
        K::Counter,
        "Incidents written to the flight recorder.",
        |t| V::U64(t.incidents_recorded),
    ),
    Field::new(
        "record_failures",
        U::Count,
        K::Counter,
        "Incidents the flight recorder failed to write.",
        |t| V::U64(t.record_failures),
    ),
    Field::new(
        "kmsg_records_lost",
        U::Count,
        K::Counter,
        "Kernel log records overwritten in the kernel's ring buffer before the guard read them.",
        |t| V::U64(t.kmsg_records_lost),
    ),
    Field::new(
        "kmsg_overruns",
        U::Count,
        K::Counter,
        "Times reading /dev/kmsg reported an overrun (EPIPE); each is survived.",
        |t| V::U64(t.kmsg_overruns),
    ),
    Field::new(
        "label_overflows",
        U::Count,
        K::Counter,
        "Incidents counted with an owner label folded into the overflow value _other because that label had reached its cap of distinct values.",
        |t| V::U64(t.label_overflows),
    ),
];

/// The guard's pre-emption actions since it started (one per decision that acted or, dry
/// run, would have).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GuardActions {
    /// Decisions counted.
    pub actions: u64,
}

/// The labels of [`ACTION_COUNTER_FIELDS`]: `action` (`sigterm`, `sigkill`, `kill-cgroup`,
/// `none` for a dry run) and `result` (`signalled`, `killed-cgroup`, `dry-run`, `refused`,
/// `failed`): both from fixed sets, so the series stay few.
pub const ACTION_LABELS: [&str; 2] = ["action", "result"];

/// `oomlens_guard_actions_total{action,result}`.
pub static ACTION_COUNTER_FIELDS: &[Field<GuardActions>] = &[Field::new(
    "guard_actions",
    U::Count,
    K::Counter,
    "Pre-emption decisions of the guard's [[preempt]] policies that acted or, dry run, would have: by action (sigterm, sigkill, kill-cgroup, none) and result (signalled, killed-cgroup, dry-run, refused, failed).",
    |t| V::U64(t.actions),
)];

/// The owner labels of the kill and incident counters, capped per label.
#[derive(Debug, Default, Clone, PartialEq, Eq, Hash)]
pub struct OwnerLabels {
    /// The incident's kind (`memcg`, `global`, `systemd-oomd`, …; `unknown` when cut off).
    pub kind: String,
    /// The systemd unit, empty when none.
    pub unit: String,
    /// The pod's name (or UID when the name is not known), empty when none.
    pub pod: String,
    /// The pod's namespace, empty when not known.
    pub namespace: String,
    /// The container's name (or its short id), empty when none.
    pub container: String,
}

/// The label names and values of [`OwnerLabels`], in label order.
pub static OWNER_LABEL_FIELDS: &[Field<OwnerLabels>] = &[
    Field::new(
        "kind",
        U::Text,
        K::Info,
        "The incident's kind: memcg, global, cpuset, memory-policy, systemd-oomd, earlyoom, kubelet, systemd-notice, oomlens-guard or unknown.",
        |l| V::Str(&l.kind),
    ),
    Field::new(
        "unit",
        U::Text,
        K::Info,
        "The systemd unit that owns the victim's cgroup.",
        |l| V::Str(&l.unit),
    ),
    Field::new(
        "pod",
        U::Text,
        K::Info,
        "The Kubernetes pod (name, else UID) that owns the victim's cgroup.",
        |l| V::Str(&l.pod),
    ),
    Field::new(
        "namespace",
        U::Text,
        K::Info,
        "The pod's namespace.",
        |l| V::Str(&l.namespace),
    ),
    Field::new(
        "container",
        U::Text,
        K::Info,
        "The container (name, else the first 12 characters of its id).",
        |l| V::Str(&l.container),
    ),
];

/// One watched cgroup's memory, as last sampled.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CgroupGauges {
    /// `memory.current` (v2) or `memory.usage_in_bytes` (v1).
    pub usage_bytes: Option<u64>,
    /// The hard limit (`memory.max`, v1 `memory.limit_in_bytes`); `None` when unlimited.
    pub max_bytes: Option<u64>,
    /// `memory.high`; `None` when unlimited or v1.
    pub high_bytes: Option<u64>,
    /// Seconds until usage reaches the limit at the current trend; `None` when not growing
    /// or unlimited.
    pub seconds_to_limit: Option<f64>,
    /// The cgroup's `memory.pressure` `some avg10` as a ratio (the kernel's percent / 100).
    pub pressure_some_avg10: Option<f64>,
}

/// The per-cgroup gauges, under [`CGROUP_PREFIX`] with the [`CGROUP_LABEL`] label. A value
/// that is `None` leaves its series out.
pub static CGROUP_GAUGE_FIELDS: &[Field<CgroupGauges>] = &[
    Field::new(
        "memory_usage",
        U::Bytes,
        K::Gauge,
        "Memory charged to the cgroup (memory.current).",
        |g| g.usage_bytes.into(),
    ),
    Field::new(
        "memory_max",
        U::Bytes,
        K::Gauge,
        "The cgroup's hard memory limit (memory.max); absent when unlimited.",
        |g| g.max_bytes.into(),
    ),
    Field::new(
        "memory_high",
        U::Bytes,
        K::Gauge,
        "The cgroup's throttling limit (memory.high); absent when unlimited.",
        |g| g.high_bytes.into(),
    ),
    Field::new(
        "memory_time_to_limit",
        U::Seconds,
        K::Gauge,
        "Seconds until usage reaches memory.max at the current growth; absent when not growing or unlimited.",
        |g| g.seconds_to_limit.into(),
    ),
    Field::new(
        "memory_pressure_some_avg10",
        U::Ratio,
        K::Gauge,
        "Share of the last 10 s in which some task of the cgroup stalled on memory (memory.pressure some avg10, 0 to 1).",
        |g| g.pressure_some_avg10.into(),
    ),
];

/// The host's memory pressure (`/proc/pressure/memory`), as ratios 0–1.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SystemPressure {
    /// `some avg10` / 100.
    pub some_avg10: Option<f64>,
    /// `full avg10` / 100.
    pub full_avg10: Option<f64>,
}

/// The host-wide gauges, under [`PREFIX`].
pub static SYSTEM_GAUGE_FIELDS: &[Field<SystemPressure>] = &[
    Field::new(
        "memory_pressure_some_avg10",
        U::Ratio,
        K::Gauge,
        "Share of the last 10 s in which some task stalled on memory (/proc/pressure/memory some avg10, 0 to 1).",
        |p| p.some_avg10.into(),
    ),
    Field::new(
        "memory_pressure_full_avg10",
        U::Ratio,
        K::Gauge,
        "Share of the last 10 s in which all non-idle tasks stalled on memory (/proc/pressure/memory full avg10, 0 to 1).",
        |p| p.full_avg10.into(),
    ),
];

/// How many watched cgroups have series and how many were left out by the cap.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CgroupExport {
    /// Cgroups with series.
    pub exported: u64,
    /// Cgroups reported but left without series because the cap was reached.
    pub unexported: u64,
}

/// Gauges about the per-cgroup export itself, under [`PREFIX`].
pub static CGROUP_EXPORT_FIELDS: &[Field<CgroupExport>] = &[
    Field::new(
        "cgroups_exported",
        U::Count,
        K::Gauge,
        "Watched cgroups with oomlens_cgroup_* series.",
        |c| V::U64(c.exported),
    ),
    Field::new(
        "cgroups_unexported",
        U::Count,
        K::Gauge,
        "Watched cgroups left without series because the cap on exported cgroups was reached.",
        |c| V::U64(c.unexported),
    ),
];

/// What `oomlens_build_info` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The oomlens version.
    pub version: &'static str,
    /// The flight recorder's record schema (`oomlens.recorded/1`).
    pub recorded_schema: &'static str,
}

impl BuildInfo {
    /// This build's info.
    pub fn current() -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            recorded_schema: crate::recorded::RECORDED_SCHEMA,
        }
    }
}

/// The labels of `oomlens_build_info`.
pub static BUILD_INFO_LABEL_FIELDS: &[Field<BuildInfo>] = &[
    Field::new("version", U::Text, K::Info, "The oomlens version.", |b| {
        V::Str(b.version)
    }),
    Field::new(
        "recorded_schema",
        U::Text,
        K::Info,
        "The schema of the incident records the guard writes.",
        |b| V::Str(b.recorded_schema),
    ),
];

/// One count of what the guard's configuration made it do, under two labels.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConfiguredCount {
    /// Runs or writes so far.
    pub count: u64,
}

/// Index of `oomlens_protect_writes_total` in [`CONFIGURED_COUNTER_FIELDS`].
pub const CONFIGURED_PROTECT: usize = 0;
/// Index of `oomlens_hook_runs_total` in [`CONFIGURED_COUNTER_FIELDS`].
pub const CONFIGURED_HOOKS: usize = 1;

/// Counters of the guard's configured actions, each labelled by the configured item's
/// name and a result: `(field, [name label, result label])`.
pub static CONFIGURED_COUNTER_FIELDS: &[(Field<ConfiguredCount>, [&str; 2])] = &[
    (
        Field::new(
            "protect_writes",
            U::Count,
            K::Counter,
            "oom_score_adj writes by [[protect]] rule and result (applied, failed).",
            |c| V::U64(c.count),
        ),
        ["rule", "result"],
    ),
    (
        Field::new(
            "hook_runs",
            U::Count,
            K::Counter,
            "Hook runs by [[hook]] name and result (ok, failed, timeout, spawn-error, dropped).",
            |c| V::U64(c.count),
        ),
        ["hook", "result"],
    ),
];

/// The help text of `oomlens_build_info`.
pub const BUILD_INFO_HELP: &str =
    "The running oomlens: its version and the record schema it writes; always 1.";

/// Every sample name the guard exports, counters with `_total`: what the tables above
/// declare. A family in the encoded text that is not listed here is a bug.
pub fn metric_families() -> Vec<String> {
    fn names<R>(prefix: &'static str, fields: &'static [Field<R>]) -> impl Iterator<Item = String> {
        fields.iter().filter_map(move |f| f.metric_name(prefix))
    }
    names(PREFIX, OWNER_COUNTER_FIELDS)
        .chain(names(PREFIX, GUARD_COUNTER_FIELDS))
        .chain(names(PREFIX, ACTION_COUNTER_FIELDS))
        .chain(names(CGROUP_PREFIX, CGROUP_GAUGE_FIELDS))
        .chain(names(PREFIX, SYSTEM_GAUGE_FIELDS))
        .chain(names(PREFIX, CGROUP_EXPORT_FIELDS))
        .chain(
            CONFIGURED_COUNTER_FIELDS
                .iter()
                .filter_map(|(f, _)| f.metric_name(PREFIX)),
        )
        .chain(std::iter::once(BUILD_INFO_METRIC.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_practice() {
        assert_eq!(
            metric_families(),
            [
                "oomlens_kills_total",
                "oomlens_incidents_total",
                "oomlens_incidents_recorded_total",
                "oomlens_record_failures_total",
                "oomlens_kmsg_records_lost_total",
                "oomlens_kmsg_overruns_total",
                "oomlens_label_overflows_total",
                "oomlens_guard_actions_total",
                "oomlens_cgroup_memory_usage_bytes",
                "oomlens_cgroup_memory_max_bytes",
                "oomlens_cgroup_memory_high_bytes",
                "oomlens_cgroup_memory_time_to_limit_seconds",
                "oomlens_cgroup_memory_pressure_some_avg10_ratio",
                "oomlens_memory_pressure_some_avg10_ratio",
                "oomlens_memory_pressure_full_avg10_ratio",
                "oomlens_cgroups_exported",
                "oomlens_cgroups_unexported",
                "oomlens_protect_writes_total",
                "oomlens_hook_runs_total",
                "oomlens_build_info",
            ]
        );
    }

    #[test]
    fn labels_are_text_and_never_metrics() {
        for f in OWNER_LABEL_FIELDS {
            assert_eq!((f.unit, f.kind), (U::Text, K::Info), "{}", f.name);
            assert_eq!(f.metric_name(PREFIX), None);
        }
        let l = OwnerLabels {
            kind: "memcg".into(),
            unit: "a.service".into(),
            ..OwnerLabels::default()
        };
        let values: Vec<_> = OWNER_LABEL_FIELDS
            .iter()
            .map(|f| (f.get)(&l).as_str().map(str::to_string))
            .collect();
        assert_eq!(
            values,
            [
                Some("memcg".into()),
                Some("a.service".into()),
                Some(String::new()),
                Some(String::new()),
                Some(String::new())
            ]
        );
    }
}
