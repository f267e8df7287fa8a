//! The rows of `oomlens top` (schema `oomlens.top/1`): plain records derived from samples
//! and their history by `oomlens_analysis::top`, and the field table of each record, which
//! the text table, the TUI and JSON (and the metrics to come) iterate: a column or a key
//! that is not in these tables does not exist.
//!
//! The JSON document (one per tick with `top --json`):
//!
//! ```json
//! {"schema":"oomlens.top/1","t":12.0,"interval":1.0,"cgroup_version":"v1"|"v2"|null,
//!  "mem_total":…,"mem_available":…,"psi_some_avg10":…|null,
//!  "cgroups":[{"path":"/a/b","depth":1,"owner":"x.service"|null,"usage":…,"limit":…|null,
//!    "limit_name":"memory.limit_in_bytes of /a/b"|null,"anon":…,"file":…,"shmem":…,
//!    "psi_some_avg10":…|null,"oom_kill":…|null,"failcnt":…|null,"counters_t":…|null,
//!    "trend":{"class":"leak"|"sawtooth"|"steady"|"shrinking"|"warming_up","rate":…,
//!      "rate_lo":…,"rate_hi":…,"fitted_last":…,"points":…},
//!    "growth":"anon"|"file"|"shmem"|null,"growth_mount":"/dev/shm"|null,
//!    "eta":{"limit":"…","seconds":…,"seconds_lo":…,"seconds_hi":…|null}|null}],
//!  "processes":[{"pid":…,"comm":…,"cgroup":…,"rss":…,"anon":…,"file":…,"shmem":…,
//!    "swap":…,"trend":{…},"eta":{…}|null}],
//!  "mounts":[{"mount_point":…,"fstype":…,"total":…,"used":…,"avail":…,"trend":{…},"eta":{…}|null}],
//!  "deleted_open_files":[{"pid":…,"comm":…,"fd":…,"path":…,"size":…,"mount":…|null}]}
//! ```
//!
//! Sizes are bytes, rates bytes per second, times seconds since the sampler started (the
//! samples themselves carry absolute wall-clock and monotonic times).

use std::sync::LazyLock;

use serde::Serialize;

use crate::fields::{Field, Kind, Record, Unit, Value};
use crate::DeletedOpenFile;

/// What a series does (see `oomlens_analysis::trend` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Too few samples yet.
    WarmingUp,
    /// Sustained growth.
    Leak,
    /// Sustained decline.
    Shrinking,
    /// Rises and falls with no net growth.
    Sawtooth,
    /// Flat.
    Steady,
}

impl Class {
    /// The word in JSON, tables and the TUI alike (one spelling: `warming_up`).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::WarmingUp => "warming_up",
            Class::Leak => "leak",
            Class::Shrinking => "shrinking",
            Class::Sawtooth => "sawtooth",
            Class::Steady => "steady",
        }
    }
}

/// Time to the nearest limit, with its band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eta {
    /// Which limit.
    pub limit: String,
    /// Seconds at the median rate.
    pub seconds: f64,
    /// Seconds at the high rate (earliest).
    pub seconds_lo: f64,
    /// Seconds at the low rate (latest); `None` when the low rate is not positive.
    pub seconds_hi: Option<f64>,
}

/// The trend of one series as printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendOut {
    /// The class.
    pub class: Class,
    /// Median long-pair slope, bytes per second.
    pub rate: f64,
    /// 25th percentile of the slopes.
    pub rate_lo: f64,
    /// 75th percentile of the slopes.
    pub rate_hi: f64,
    /// The robust line's value at the last sample, bytes.
    pub fitted_last: f64,
    /// Samples used.
    pub points: usize,
}

/// One cgroup's row.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupRow {
    /// The cgroup path.
    pub path: String,
    /// Levels below the focus.
    pub depth: usize,
    /// The unit, pod or container it belongs to.
    pub owner: Option<String>,
    /// Usage, bytes.
    pub usage: Option<u64>,
    /// Its own nearest limit, bytes.
    pub limit: Option<u64>,
    /// Which limit that is.
    pub limit_name: Option<String>,
    /// Anonymous memory, bytes.
    pub anon: Option<u64>,
    /// Page cache without shmem, bytes.
    pub file: Option<u64>,
    /// Shmem/tmpfs, bytes.
    pub shmem: Option<u64>,
    /// PSI some avg10, percent.
    pub psi_some_avg10: Option<f64>,
    /// OOM kills so far.
    pub oom_kill: Option<u64>,
    /// v1 failcnt.
    pub failcnt: Option<u64>,
    /// When the counters other than usage were read (see `CgroupSample::counters_t`),
    /// seconds since the sampler started.
    pub counters_t: Option<f64>,
    /// The usage trend.
    pub trend: TrendOut,
    /// The part that grows fastest: `anon`, `file` or `shmem`.
    pub growth: Option<&'static str>,
    /// The tmpfs growing fastest, when shmem grows.
    pub growth_mount: Option<String>,
    /// Time to the nearest limit, for a leak.
    pub eta: Option<Eta>,
    /// The usage over the window, oldest first (the TUI's sparkline; not a field).
    pub spark: Vec<f64>,
}

/// One process's row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRow {
    /// Pid.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// Its memory cgroup.
    pub cgroup: String,
    /// Anon + file + shmem, bytes.
    pub rss: u64,
    /// `RssAnon`, bytes.
    pub anon: Option<u64>,
    /// `RssFile`, bytes.
    pub file: Option<u64>,
    /// `RssShmem`, bytes.
    pub shmem: Option<u64>,
    /// `VmSwap`, bytes.
    pub swap: Option<u64>,
    /// The RSS trend.
    pub trend: TrendOut,
    /// Time to the nearest limit of its cgroup, for a leak.
    pub eta: Option<Eta>,
}

/// One mount's row.
#[derive(Debug, Clone, PartialEq)]
pub struct MountRow {
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
    /// The trend of `used`.
    pub trend: TrendOut,
    /// Time until it is full, for a leak.
    pub eta: Option<Eta>,
}

/// The `oomlens.top/1` document.
#[derive(Debug, Clone, PartialEq)]
pub struct TopDoc {
    /// `oomlens.top/1`.
    pub schema: &'static str,
    /// Seconds since the sampler started, at the last sample.
    pub t: f64,
    /// Wall-clock time of the last sample, seconds since the Unix epoch (not in JSON:
    /// schema 1 has `t` only).
    pub unix: f64,
    /// Seconds between samples.
    pub interval: f64,
    /// `v1`, `v2`, or none.
    pub cgroup_version: Option<&'static str>,
    /// `MemTotal`, bytes.
    pub mem_total: Option<u64>,
    /// `MemAvailable`, bytes.
    pub mem_available: Option<u64>,
    /// System PSI some avg10, percent.
    pub psi_some_avg10: Option<f64>,
    /// Cgroups, in walk order.
    pub cgroups: Vec<CgroupRow>,
    /// Processes.
    pub processes: Vec<ProcessRow>,
    /// Mounts.
    pub mounts: Vec<MountRow>,
    /// Deleted-but-open files, largest first.
    pub deleted_open_files: Vec<DeletedOpenFile>,
}

/// Which processes an analysis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessScope<'a> {
    /// Every process.
    All,
    /// Those of one cgroup (the TUI's drill-down).
    Cgroup(&'a str),
    /// None (the TUI's cgroup tree).
    None,
}

fn opt_str(s: &Option<String>) -> Value<'_> {
    s.as_deref().map_or(Value::Missing, Value::Str)
}

fn opt_static(s: Option<&'static str>) -> Value<'static> {
    s.map_or(Value::Missing, Value::Str)
}

/// A row with a trend and an ETA: their fields are the same in every row type.
pub trait Trended {
    /// The trend.
    fn trend(&self) -> &TrendOut;
    /// The ETA, for a leak.
    fn eta(&self) -> Option<&Eta>;
}

/// The `trend.*` fields of a row.
fn trend_fields<R: Trended>() -> [Field<R>; 6] {
    [
        Field {
            name: "trend.class",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "What the series does: leak, sawtooth, steady, shrinking or warming_up.",
            column: Some("CLASS"),
            get: |r| Value::Str(r.trend().class.as_str()),
        },
        Field {
            name: "trend.rate",
            unit: Unit::BytesPerSecond,
            kind: Kind::Gauge,
            help: "Robust growth rate over the window (median of long-pair slopes).",
            column: Some("RATE"),
            get: |r| r.trend().rate.into(),
        },
        Field {
            name: "trend.rate_lo",
            unit: Unit::BytesPerSecond,
            kind: Kind::Gauge,
            help: "25th percentile of the slopes.",
            column: None,
            get: |r| r.trend().rate_lo.into(),
        },
        Field {
            name: "trend.rate_hi",
            unit: Unit::BytesPerSecond,
            kind: Kind::Gauge,
            help: "75th percentile of the slopes.",
            column: None,
            get: |r| r.trend().rate_hi.into(),
        },
        Field {
            name: "trend.fitted_last",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "The robust line's value at the last sample.",
            column: None,
            get: |r| r.trend().fitted_last.into(),
        },
        Field {
            name: "trend.points",
            unit: Unit::Count,
            kind: Kind::Gauge,
            help: "Samples in the window.",
            column: None,
            get: |r| (r.trend().points as u64).into(),
        },
    ]
}

/// The `eta.*` fields of a row: one JSON object, `null` when there is no ETA (see
/// [`Record::optional_objects`]).
fn eta_fields<R: Trended>() -> [Field<R>; 4] {
    [
        Field {
            name: "eta.limit",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The limit the series reaches first.",
            column: None,
            get: |r| r.eta().map_or(Value::Missing, |e| Value::Str(&e.limit)),
        },
        Field {
            name: "eta.seconds",
            unit: Unit::Seconds,
            kind: Kind::Gauge,
            help: "Time to that limit at the median rate.",
            column: Some("ETA"),
            get: |r| r.eta().map(|e| e.seconds).into(),
        },
        Field {
            name: "eta.seconds_lo",
            unit: Unit::Seconds,
            kind: Kind::Gauge,
            help: "Time to that limit at the high rate (earliest).",
            column: None,
            get: |r| r.eta().map(|e| e.seconds_lo).into(),
        },
        Field {
            name: "eta.seconds_hi",
            unit: Unit::Seconds,
            kind: Kind::Gauge,
            help:
                "Time to that limit at the low rate (latest); null when that rate is not positive.",
            column: None,
            get: |r| r.eta().and_then(|e| e.seconds_hi).into(),
        },
    ]
}

macro_rules! trended {
    ($($t:ty),*) => {$(
        impl Trended for $t {
            fn trend(&self) -> &TrendOut {
                &self.trend
            }
            fn eta(&self) -> Option<&Eta> {
                self.eta.as_ref()
            }
        }
    )*};
}
trended!(CgroupRow, ProcessRow, MountRow);

/// Fields of a cgroup row before its trend; `trend.*`, then growth, then `eta.*`.
static CGROUP_FIELDS: LazyLock<Vec<Field<CgroupRow>>> = LazyLock::new(|| {
    let mut v = vec![
        Field {
            name: "path",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The cgroup path (as in /proc/PID/cgroup).",
            column: Some("CGROUP"),
            get: |r: &CgroupRow| Value::Str(&r.path),
        },
        Field {
            name: "depth",
            unit: Unit::Count,
            kind: Kind::Info,
            help: "Levels below the focus cgroup.",
            column: None,
            get: |r: &CgroupRow| (r.depth as u64).into(),
        },
        Field {
            name: "owner",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The systemd unit, pod or container the cgroup belongs to.",
            column: Some("OWNER"),
            get: |r: &CgroupRow| opt_str(&r.owner),
        },
        Field {
            name: "usage",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "memory.current / memory.usage_in_bytes.",
            column: Some("USAGE"),
            get: |r: &CgroupRow| r.usage.into(),
        },
        Field {
            name: "limit",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help:
                "The cgroup's own nearest limit (memory.high, memory.max, memory.limit_in_bytes).",
            column: Some("LIMIT"),
            get: |r: &CgroupRow| r.limit.into(),
        },
        Field {
            name: "limit_name",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "Which file that limit comes from.",
            column: None,
            get: |r: &CgroupRow| opt_str(&r.limit_name),
        },
        Field {
            name: "anon",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Anonymous memory (memory.stat).",
            column: None,
            get: |r: &CgroupRow| r.anon.into(),
        },
        Field {
            name: "file",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Page cache without shmem (memory.stat).",
            column: None,
            get: |r: &CgroupRow| r.file.into(),
        },
        Field {
            name: "shmem",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Shmem and tmpfs pages (memory.stat).",
            column: None,
            get: |r: &CgroupRow| r.shmem.into(),
        },
        Field {
            name: "psi_some_avg10",
            unit: Unit::Percent,
            kind: Kind::Gauge,
            help: "Memory pressure: share of the last 10 s some task stalled (memory.pressure).",
            column: Some("PSI"),
            get: |r: &CgroupRow| r.psi_some_avg10.into(),
        },
        Field {
            name: "oom_kill",
            unit: Unit::Count,
            kind: Kind::Counter,
            help: "OOM kills in the cgroup so far.",
            column: None,
            get: |r: &CgroupRow| r.oom_kill.into(),
        },
        Field {
            name: "failcnt",
            unit: Unit::Count,
            kind: Kind::Counter,
            help: "v1 memory.failcnt: charges that hit the limit.",
            column: None,
            get: |r: &CgroupRow| r.failcnt.into(),
        },
        Field {
            name: "counters_t",
            unit: Unit::Seconds,
            kind: Kind::Gauge,
            help:
                "When the counters other than usage were read, seconds since the sampler started.",
            column: None,
            get: |r: &CgroupRow| r.counters_t.into(),
        },
    ];
    v.extend(trend_fields());
    v.push(Field {
        name: "growth",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "The part growing fastest: anon, file or shmem.",
        column: Some("GROWS"),
        get: |r: &CgroupRow| opt_static(r.growth),
    });
    v.push(Field {
        name: "growth_mount",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "The tmpfs growing fastest, when shmem grows.",
        column: None,
        get: |r: &CgroupRow| opt_str(&r.growth_mount),
    });
    v.extend(eta_fields());
    v
});

static PROCESS_FIELDS: LazyLock<Vec<Field<ProcessRow>>> = LazyLock::new(|| {
    let mut v = vec![
        Field {
            name: "pid",
            unit: Unit::Count,
            kind: Kind::Info,
            help: "The process id.",
            column: Some("PID"),
            get: |r: &ProcessRow| r.pid.into(),
        },
        Field {
            name: "comm",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The process name (Name: of /proc/PID/status).",
            column: Some("COMM"),
            get: |r: &ProcessRow| Value::Str(&r.comm),
        },
        Field {
            name: "cgroup",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The memory cgroup the process is in.",
            column: Some("CGROUP"),
            get: |r: &ProcessRow| Value::Str(&r.cgroup),
        },
        Field {
            name: "rss",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Resident memory: anon + file + shmem.",
            column: Some("RSS"),
            get: |r: &ProcessRow| r.rss.into(),
        },
        Field {
            name: "anon",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "RssAnon.",
            column: Some("ANON"),
            get: |r: &ProcessRow| r.anon.into(),
        },
        Field {
            name: "file",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "RssFile.",
            column: Some("FILE"),
            get: |r: &ProcessRow| r.file.into(),
        },
        Field {
            name: "shmem",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "RssShmem.",
            column: Some("SHMEM"),
            get: |r: &ProcessRow| r.shmem.into(),
        },
        Field {
            name: "swap",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "VmSwap.",
            column: None,
            get: |r: &ProcessRow| r.swap.into(),
        },
    ];
    v.extend(trend_fields());
    v.extend(eta_fields());
    v
});

static MOUNT_FIELDS: LazyLock<Vec<Field<MountRow>>> = LazyLock::new(|| {
    let mut v = vec![
        Field {
            name: "mount_point",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "Where the filesystem is mounted.",
            column: Some("MOUNT"),
            get: |r: &MountRow| Value::Str(&r.mount_point),
        },
        Field {
            name: "fstype",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The filesystem type.",
            column: Some("TYPE"),
            get: |r: &MountRow| Value::Str(&r.fstype),
        },
        Field {
            name: "total",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Size.",
            column: Some("SIZE"),
            get: |r: &MountRow| r.total.into(),
        },
        Field {
            name: "used",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Used.",
            column: Some("USED"),
            get: |r: &MountRow| r.used.into(),
        },
        Field {
            name: "avail",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Available to unprivileged writers.",
            column: None,
            get: |r: &MountRow| r.avail.into(),
        },
    ];
    v.extend(trend_fields());
    v.extend(eta_fields());
    v
});

static DELETED_FIELDS: &[Field<DeletedOpenFile>] = &[
    Field {
        name: "pid",
        unit: Unit::Count,
        kind: Kind::Info,
        help: "The process holding the file.",
        column: None,
        get: |r| r.pid.into(),
    },
    Field {
        name: "comm",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "Its name.",
        column: None,
        get: |r| Value::Str(&r.comm),
    },
    Field {
        name: "fd",
        unit: Unit::Count,
        kind: Kind::Info,
        help: "The descriptor.",
        column: None,
        get: |r| r.fd.into(),
    },
    Field {
        name: "path",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "The path the file had.",
        column: None,
        get: |r| Value::Str(&r.path),
    },
    Field {
        name: "size",
        unit: Unit::Bytes,
        kind: Kind::Gauge,
        help: "Its size: space not freed while it is open.",
        column: None,
        get: |r| r.size.into(),
    },
    Field {
        name: "mount",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "The mount it lives on.",
        column: None,
        get: |r| opt_str(&r.mount),
    },
];

/// The document's own fields; its lists follow them in JSON ([`TOP_LISTS`]).
static TOP_FIELDS: &[Field<TopDoc>] = &[
    Field {
        name: "schema",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "oomlens.top/1.",
        column: None,
        get: |r| Value::Str(r.schema),
    },
    Field {
        name: "t",
        unit: Unit::Seconds,
        kind: Kind::Gauge,
        help: "Seconds since the sampler started, at the last sample.",
        column: None,
        get: |r| r.t.into(),
    },
    Field {
        name: "interval",
        unit: Unit::Seconds,
        kind: Kind::Gauge,
        help: "Seconds between samples.",
        column: None,
        get: |r| r.interval.into(),
    },
    Field {
        name: "cgroup_version",
        unit: Unit::Text,
        kind: Kind::Info,
        help: "The memory cgroup version: v1, v2, or null without a memory cgroup hierarchy.",
        column: None,
        get: |r| opt_static(r.cgroup_version),
    },
    Field {
        name: "mem_total",
        unit: Unit::Bytes,
        kind: Kind::Gauge,
        help: "MemTotal.",
        column: Some("total"),
        get: |r| r.mem_total.into(),
    },
    Field {
        name: "mem_available",
        unit: Unit::Bytes,
        kind: Kind::Gauge,
        help: "MemAvailable.",
        column: Some("available"),
        get: |r| r.mem_available.into(),
    },
    Field {
        name: "psi_some_avg10",
        unit: Unit::Percent,
        kind: Kind::Gauge,
        help: "System memory pressure, some avg10 of /proc/pressure/memory.",
        column: Some("PSI some avg10"),
        get: |r| r.psi_some_avg10.into(),
    },
];

/// The lists of a [`TopDoc`], in JSON order after [`TOP_FIELDS`]: key and help.
pub const TOP_LISTS: &[(&str, &str)] = &[
    ("cgroups", "Cgroups, in walk order (parents first)."),
    ("processes", "Processes."),
    ("mounts", "Mounted filesystems."),
    (
        "deleted_open_files",
        "Files deleted while open, largest first.",
    ),
];

impl Record for TopDoc {
    fn fields() -> &'static [Field<Self>] {
        TOP_FIELDS
    }
}

impl Record for CgroupRow {
    fn fields() -> &'static [Field<Self>] {
        &CGROUP_FIELDS
    }
    fn optional_objects() -> &'static [&'static str] {
        &["eta"]
    }
}

impl Record for ProcessRow {
    fn fields() -> &'static [Field<Self>] {
        &PROCESS_FIELDS
    }
    fn optional_objects() -> &'static [&'static str] {
        &["eta"]
    }
}

impl Record for MountRow {
    fn fields() -> &'static [Field<Self>] {
        &MOUNT_FIELDS
    }
    fn optional_objects() -> &'static [&'static str] {
        &["eta"]
    }
}

impl Record for DeletedOpenFile {
    fn fields() -> &'static [Field<Self>] {
        DELETED_FIELDS
    }
}

/// The field of `R` named `name`; panics when there is none (a typo in a sink, caught by
/// its first test run).
pub fn field<R: Record>(name: &str) -> &'static Field<R> {
    R::fields()
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name:?} in the table"))
}

/// The column title of field `name` of `R`; panics when the field has none.
pub fn column<R: Record>(name: &str) -> &'static str {
    field::<R>(name)
        .column
        .unwrap_or_else(|| panic!("field {name:?} is no column"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<R: Record>() -> Vec<&'static str> {
        R::fields().iter().map(|f| f.name).collect()
    }

    /// Names are unique per table and the fields of a nested object adjacent (what
    /// `AsFields` needs).
    #[test]
    fn tables_are_well_formed() {
        fn check<R: Record>() {
            let n = names::<R>();
            let mut seen = std::collections::HashSet::new();
            let mut closed = std::collections::HashSet::new();
            let mut open = "";
            for name in &n {
                assert!(seen.insert(*name), "{name} twice");
                let head = name.split_once('.').map_or("", |(h, _)| h);
                if head.is_empty() {
                    closed.insert(open);
                    open = "";
                } else if head != open {
                    closed.insert(open);
                    assert!(!closed.contains(head), "{name}: object {head} split");
                    open = head;
                }
            }
            for o in R::optional_objects() {
                assert!(n.iter().any(|f| f.starts_with(&format!("{o}."))), "{o}");
            }
        }
        check::<TopDoc>();
        check::<CgroupRow>();
        check::<ProcessRow>();
        check::<MountRow>();
        check::<DeletedOpenFile>();
    }

    #[test]
    fn class_words_are_the_json_words() {
        for c in [
            Class::WarmingUp,
            Class::Leak,
            Class::Shrinking,
            Class::Sawtooth,
            Class::Steady,
        ] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }
}
