//! What `oomlens incidents` and `oomlens explain --recorded ID` print about the flight
//! recorder's incidents ([`crate::recorded`]): plain records and the field table of each.
//! The text tables take their column titles from these tables and JSON its keys
//! ([`AsFields`](crate::fields::AsFields)): a key or column not declared here does not exist.
//!
//! `oomlens incidents --json` (schema [`INCIDENTS_SCHEMA`]):
//!
//! ```json
//! {"schema":"oomlens.incidents/1","state_dir":"/var/lib/oomlens","total":3,"shown":2,
//!  "skipped":0,"torn_bytes":0,
//!  "incidents":[{"id":0,"time":1764733973.5,"time_utc":"2026-12-03T03:52:53.5Z",
//!    "host":…|null,"kind":"memcg"|…|null,"victim":{"pid":…|null,"comm":…|null},
//!    "cgroup":…|null,"owner":…|null,"limit":…|null,"window_seconds":…,"samples":…}],
//!  "warnings":["…"]}
//! ```
//!
//! `oomlens explain --recorded ID --json` adds a `recording` object ([`Recording`]) to the
//! incident: the cgroup whose usage is followed, start/end/peak, the growth rate and the
//! time at which that rate reaches the limit, the anon/file/shmem split at start and end,
//! a row per tenth of the window, the top processes and the signals, and the whole series.
//! Times there are seconds relative to the kill (negative: before it); sizes bytes; rates
//! bytes per second.

use crate::fields::{Field, Kind, Record, Unit, Value};

/// Schema of `oomlens incidents --json`.
pub const INCIDENTS_SCHEMA: &str = "oomlens.incidents/1";

/// One recorded incident, one row of `oomlens incidents`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentRow {
    /// Record id (what `explain --recorded` takes).
    pub id: u64,
    /// When the kill was logged (else when it was recorded), Unix seconds.
    pub time: f64,
    /// The same time, RFC 3339 UTC.
    pub time_utc: String,
    /// The host.
    pub host: Option<String>,
    /// The incident's kind (`memcg`, `global`, `oomd`, …).
    pub kind: Option<String>,
    /// The victim's pid.
    pub pid: Option<u32>,
    /// The victim's comm.
    pub comm: Option<String>,
    /// The victim's memory cgroup.
    pub cgroup: Option<String>,
    /// Its unit, pod or container.
    pub owner: Option<String>,
    /// The limit that was hit, bytes.
    pub limit: Option<u64>,
    /// Seconds of samples kept before the kill (first to last sample of the followed cgroup).
    pub window_seconds: f64,
    /// Samples of the followed cgroup.
    pub samples: usize,
}

/// The document of `oomlens incidents --json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentsDoc {
    /// The store directory read.
    pub state_dir: String,
    /// Incidents in the store that could be read.
    pub total: usize,
    /// Records skipped: damaged, undecodable or of another schema major version.
    pub skipped: usize,
    /// Bytes of a torn tail (a write cut short, or in progress), skipped.
    pub torn_bytes: u64,
    /// The rows shown (after --since, --owner, --limit), oldest first.
    pub rows: Vec<IncidentRow>,
    /// What was skipped and why, one line each.
    pub warnings: Vec<String>,
}

/// Usage at one moment of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageAt {
    /// Seconds relative to the kill.
    pub t: f64,
    /// Usage, bytes.
    pub usage: u64,
}

/// The anon/file/shmem split of one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Split {
    /// Seconds relative to the kill.
    pub t: f64,
    /// `memory.stat` anon, bytes.
    pub anon: Option<u64>,
    /// `memory.stat` file, bytes.
    pub file: Option<u64>,
    /// `memory.stat` shmem, bytes.
    pub shmem: Option<u64>,
}

/// Growth of the followed cgroup's usage over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Growth {
    /// Robust rate (median of long-pair slopes, `oomlens_analysis::trend`), bytes/s.
    pub rate: f64,
    /// The trend class (`leak`, `steady`, …).
    pub class: String,
    /// Seconds relative to the kill at which the fitted line reaches the limit at that
    /// rate; `None` without a limit or with no growth.
    pub limit_at: Option<f64>,
}

/// One row of the timeline table: the sample at (or just before) a tenth of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimelineRow {
    /// Seconds relative to the kill.
    pub t: f64,
    /// Usage, bytes.
    pub usage: Option<u64>,
    /// Usage as a percentage of the limit.
    pub percent: Option<f64>,
}

/// One sample of the followed cgroup, for the JSON series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeriesPoint {
    /// Seconds relative to the kill.
    pub t: f64,
    /// Usage, bytes.
    pub usage: Option<u64>,
    /// anon, bytes.
    pub anon: Option<u64>,
    /// file, bytes.
    pub file: Option<u64>,
    /// shmem, bytes.
    pub shmem: Option<u64>,
}

/// One process's memory over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessGrowth {
    /// Pid.
    pub pid: u32,
    /// comm.
    pub comm: String,
    /// Its memory cgroup.
    pub cgroup: String,
    /// True for the process the kill named.
    pub victim: bool,
    /// RSS (anon + file + shmem) at its first sample, bytes.
    pub rss_start: Option<u64>,
    /// RSS at its last sample, bytes.
    pub rss_end: Option<u64>,
    /// `rss_end - rss_start`, bytes (negative: it shrank).
    pub growth: Option<i64>,
    /// Seconds relative to the kill of its last sample.
    pub last_seen: Option<f64>,
}

/// One signal the guard saw, timed relative to the kill.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalRow {
    /// Seconds relative to the kill.
    pub t: f64,
    /// `memory.events`, `psi`, …
    pub source: String,
    /// The cgroup it came from.
    pub cgroup: String,
    /// What changed.
    pub detail: String,
}

/// The recorded window of one incident, as `explain --recorded` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// Record id.
    pub id: u64,
    /// The kill's time (logged, else recorded), Unix seconds: the zero of every `t`.
    pub kill_unix: f64,
    /// The cgroup followed: the one whose limit was hit when it was sampled, else the
    /// victim's.
    pub cgroup: Option<String>,
    /// Its limit at the last sample, bytes.
    pub limit: Option<u64>,
    /// The window the guard keeps, seconds.
    pub window_seconds: f64,
    /// Seconds between samples the guard aimed at.
    pub interval: f64,
    /// Samples of the followed cgroup.
    pub samples: usize,
    /// First sample.
    pub start: Option<UsageAt>,
    /// Last sample.
    pub end: Option<UsageAt>,
    /// Highest usage (its first occurrence).
    pub peak: Option<UsageAt>,
    /// Growth over the window.
    pub growth: Option<Growth>,
    /// Split at the first sample that has one.
    pub split_start: Option<Split>,
    /// Split at the last sample that has one.
    pub split_end: Option<Split>,
    /// One row per tenth of the window.
    pub rows: Vec<TimelineRow>,
    /// The largest processes at their last sample, largest first.
    pub processes: Vec<ProcessGrowth>,
    /// Signals, in time order.
    pub signals: Vec<SignalRow>,
    /// Every sample of the followed cgroup.
    pub series: Vec<SeriesPoint>,
}

fn opt_str(s: &Option<String>) -> Value<'_> {
    Value::text(s.as_deref())
}

static ROW_FIELDS: &[Field<IncidentRow>] = &[
    Field::<IncidentRow>::new("id", Unit::Count, Kind::Info, "Record id.", |r| r.id.into())
        .column("ID"),
    Field::<IncidentRow>::new(
        "time",
        Unit::Seconds,
        Kind::Info,
        "When the kill was logged (else recorded), Unix seconds.",
        |r| r.time.into(),
    ),
    Field::<IncidentRow>::new(
        "time_utc",
        Unit::Text,
        Kind::Info,
        "The same, RFC 3339 UTC.",
        |r| Value::Str(&r.time_utc),
    )
    .column("TIME (UTC)"),
    Field::<IncidentRow>::new("host", Unit::Text, Kind::Info, "The host.", |r| {
        opt_str(&r.host)
    }),
    Field::<IncidentRow>::new("kind", Unit::Text, Kind::Info, "Incident kind.", |r| {
        opt_str(&r.kind)
    })
    .column("KIND"),
    Field::<IncidentRow>::new("victim.pid", Unit::Count, Kind::Info, "Victim pid.", |r| {
        r.pid.into()
    })
    .column("PID"),
    Field::<IncidentRow>::new("victim.comm", Unit::Text, Kind::Info, "Victim comm.", |r| {
        opt_str(&r.comm)
    })
    .column("COMM"),
    Field::<IncidentRow>::new(
        "cgroup",
        Unit::Text,
        Kind::Info,
        "Victim memory cgroup.",
        |r| opt_str(&r.cgroup),
    )
    .column("CGROUP"),
    Field::<IncidentRow>::new(
        "owner",
        Unit::Text,
        Kind::Info,
        "Unit, pod or container.",
        |r| opt_str(&r.owner),
    )
    .column("OWNER"),
    Field::<IncidentRow>::new(
        "limit",
        Unit::Bytes,
        Kind::Gauge,
        "The limit hit, bytes.",
        |r| r.limit.into(),
    )
    .column("LIMIT"),
    Field::<IncidentRow>::new(
        "window_seconds",
        Unit::Seconds,
        Kind::Gauge,
        "Seconds of samples kept before the kill.",
        |r| r.window_seconds.into(),
    )
    .column("WINDOW"),
    Field::<IncidentRow>::new(
        "samples",
        Unit::Count,
        Kind::Gauge,
        "Samples of the followed cgroup.",
        |r| r.samples.into(),
    ),
];

static DOC_FIELDS: &[Field<IncidentsDoc>] = &[
    Field::<IncidentsDoc>::new(
        "schema",
        Unit::Text,
        Kind::Info,
        "oomlens.incidents/1.",
        |_| Value::Str(INCIDENTS_SCHEMA),
    ),
    Field::<IncidentsDoc>::new("state_dir", Unit::Text, Kind::Info, "Store read.", |r| {
        Value::Str(&r.state_dir)
    }),
    Field::<IncidentsDoc>::new(
        "total",
        Unit::Count,
        Kind::Gauge,
        "Readable incidents.",
        |r| r.total.into(),
    ),
    Field::<IncidentsDoc>::new(
        "shown",
        Unit::Count,
        Kind::Gauge,
        "Incidents listed.",
        |r| r.rows.len().into(),
    ),
    Field::<IncidentsDoc>::new(
        "skipped",
        Unit::Count,
        Kind::Gauge,
        "Records skipped.",
        |r| r.skipped.into(),
    ),
    Field::<IncidentsDoc>::new(
        "torn_bytes",
        Unit::Bytes,
        Kind::Gauge,
        "Torn tail skipped.",
        |r| r.torn_bytes.into(),
    ),
    Field::<IncidentsDoc>::new(
        "incidents",
        Unit::Record,
        Kind::Info,
        "Incidents, oldest first.",
        |r| Value::records(&r.rows),
    ),
    Field::<IncidentsDoc>::new(
        "warnings",
        Unit::Text,
        Kind::Info,
        "Skipped records.",
        |r| Value::strs(&r.warnings),
    ),
];

fn at_t(u: &Option<UsageAt>) -> Value<'static> {
    u.map(|u| u.t).into()
}

fn at_usage(u: &Option<UsageAt>) -> Value<'static> {
    u.map(|u| u.usage).into()
}

fn split<'a>(s: &'a Option<Split>, part: fn(&Split) -> Option<u64>) -> Value<'a> {
    s.as_ref().and_then(part).into()
}

static RECORDING_FIELDS: &[Field<Recording>] = &[
    Field::<Recording>::new("id", Unit::Count, Kind::Info, "Record id.", |r| r.id.into()),
    Field::<Recording>::new(
        "kill_unix",
        Unit::Seconds,
        Kind::Info,
        "The kill's time, Unix seconds; every t is relative to it.",
        |r| r.kill_unix.into(),
    ),
    Field::<Recording>::new(
        "cgroup",
        Unit::Text,
        Kind::Info,
        "The cgroup followed.",
        |r| opt_str(&r.cgroup),
    ),
    Field::<Recording>::new(
        "limit",
        Unit::Bytes,
        Kind::Gauge,
        "Its limit, bytes.",
        |r| r.limit.into(),
    ),
    Field::<Recording>::new(
        "window_seconds",
        Unit::Seconds,
        Kind::Gauge,
        "Window the guard keeps.",
        |r| r.window_seconds.into(),
    ),
    Field::<Recording>::new(
        "interval",
        Unit::Seconds,
        Kind::Gauge,
        "Sampling interval.",
        |r| r.interval.into(),
    ),
    Field::<Recording>::new("samples", Unit::Count, Kind::Gauge, "Samples kept.", |r| {
        r.samples.into()
    }),
    Field::<Recording>::new(
        "start.t",
        Unit::Seconds,
        Kind::Gauge,
        "First sample.",
        |r| at_t(&r.start),
    ),
    Field::<Recording>::new("start.usage", Unit::Bytes, Kind::Gauge, "Its usage.", |r| {
        at_usage(&r.start)
    }),
    Field::<Recording>::new("end.t", Unit::Seconds, Kind::Gauge, "Last sample.", |r| {
        at_t(&r.end)
    }),
    Field::<Recording>::new("end.usage", Unit::Bytes, Kind::Gauge, "Its usage.", |r| {
        at_usage(&r.end)
    }),
    Field::<Recording>::new(
        "peak.t",
        Unit::Seconds,
        Kind::Gauge,
        "Highest usage.",
        |r| at_t(&r.peak),
    ),
    Field::<Recording>::new("peak.usage", Unit::Bytes, Kind::Gauge, "Its usage.", |r| {
        at_usage(&r.peak)
    }),
    Field::<Recording>::new(
        "growth.rate",
        Unit::BytesPerSecond,
        Kind::Gauge,
        "Robust growth rate.",
        |r| r.growth.as_ref().map(|g| g.rate).into(),
    ),
    Field::<Recording>::new(
        "growth.class",
        Unit::Text,
        Kind::Info,
        "Trend class.",
        |r| Value::text(r.growth.as_ref().map(|g| g.class.as_str())),
    ),
    Field::<Recording>::new(
        "growth.limit_at",
        Unit::Seconds,
        Kind::Gauge,
        "When that rate reaches the limit, relative to the kill.",
        |r| r.growth.as_ref().and_then(|g| g.limit_at).into(),
    ),
    Field::<Recording>::new(
        "split_start.t",
        Unit::Seconds,
        Kind::Gauge,
        "Split time.",
        |r| r.split_start.map(|s| s.t).into(),
    ),
    Field::<Recording>::new("split_start.anon", Unit::Bytes, Kind::Gauge, "anon.", |r| {
        split(&r.split_start, |s| s.anon)
    }),
    Field::<Recording>::new("split_start.file", Unit::Bytes, Kind::Gauge, "file.", |r| {
        split(&r.split_start, |s| s.file)
    }),
    Field::<Recording>::new(
        "split_start.shmem",
        Unit::Bytes,
        Kind::Gauge,
        "shmem.",
        |r| split(&r.split_start, |s| s.shmem),
    ),
    Field::<Recording>::new(
        "split_end.t",
        Unit::Seconds,
        Kind::Gauge,
        "Split time.",
        |r| r.split_end.map(|s| s.t).into(),
    ),
    Field::<Recording>::new("split_end.anon", Unit::Bytes, Kind::Gauge, "anon.", |r| {
        split(&r.split_end, |s| s.anon)
    }),
    Field::<Recording>::new("split_end.file", Unit::Bytes, Kind::Gauge, "file.", |r| {
        split(&r.split_end, |s| s.file)
    }),
    Field::<Recording>::new("split_end.shmem", Unit::Bytes, Kind::Gauge, "shmem.", |r| {
        split(&r.split_end, |s| s.shmem)
    }),
    Field::<Recording>::new(
        "rows",
        Unit::Record,
        Kind::Info,
        "One sample per tenth of the window.",
        |r| Value::records(&r.rows),
    ),
    Field::<Recording>::new(
        "processes",
        Unit::Record,
        Kind::Info,
        "Largest processes.",
        |r| Value::records(&r.processes),
    ),
    Field::<Recording>::new(
        "signals",
        Unit::Record,
        Kind::Info,
        "Signals in time order.",
        |r| Value::records(&r.signals),
    ),
    Field::<Recording>::new("series", Unit::Record, Kind::Info, "Every sample.", |r| {
        Value::records(&r.series)
    }),
];

static TIMELINE_ROW_FIELDS: &[Field<TimelineRow>] = &[
    Field::<TimelineRow>::new(
        "t",
        Unit::Seconds,
        Kind::Gauge,
        "Relative to the kill.",
        |r| r.t.into(),
    )
    .column("T"),
    Field::<TimelineRow>::new("usage", Unit::Bytes, Kind::Gauge, "Usage.", |r| {
        r.usage.into()
    })
    .column("USAGE"),
    Field::<TimelineRow>::new(
        "percent",
        Unit::Percent,
        Kind::Gauge,
        "Of the limit.",
        |r| r.percent.into(),
    )
    .column("% LIMIT"),
];

static SERIES_FIELDS: &[Field<SeriesPoint>] = &[
    Field::<SeriesPoint>::new(
        "t",
        Unit::Seconds,
        Kind::Gauge,
        "Relative to the kill.",
        |r| r.t.into(),
    ),
    Field::<SeriesPoint>::new("usage", Unit::Bytes, Kind::Gauge, "Usage.", |r| {
        r.usage.into()
    }),
    Field::<SeriesPoint>::new("anon", Unit::Bytes, Kind::Gauge, "anon.", |r| r.anon.into()),
    Field::<SeriesPoint>::new("file", Unit::Bytes, Kind::Gauge, "file.", |r| r.file.into()),
    Field::<SeriesPoint>::new("shmem", Unit::Bytes, Kind::Gauge, "shmem.", |r| {
        r.shmem.into()
    }),
];

static PROCESS_FIELDS: &[Field<ProcessGrowth>] = &[
    Field::<ProcessGrowth>::new("pid", Unit::Count, Kind::Info, "Pid.", |r| r.pid.into())
        .column("PID"),
    Field::<ProcessGrowth>::new("comm", Unit::Text, Kind::Info, "comm.", |r| {
        Value::Str(&r.comm)
    })
    .column("COMM"),
    Field::<ProcessGrowth>::new("cgroup", Unit::Text, Kind::Info, "Memory cgroup.", |r| {
        Value::Str(&r.cgroup)
    })
    .column("CGROUP"),
    Field::<ProcessGrowth>::new(
        "victim",
        Unit::Flag,
        Kind::Info,
        "The kill's victim.",
        |r| r.victim.into(),
    ),
    Field::<ProcessGrowth>::new(
        "rss_start",
        Unit::Bytes,
        Kind::Gauge,
        "RSS at first sample.",
        |r| r.rss_start.into(),
    )
    .column("RSS START"),
    Field::<ProcessGrowth>::new(
        "rss_end",
        Unit::Bytes,
        Kind::Gauge,
        "RSS at last sample.",
        |r| r.rss_end.into(),
    )
    .column("RSS END"),
    Field::<ProcessGrowth>::new(
        "growth",
        Unit::Bytes,
        Kind::Gauge,
        "End minus start.",
        |r| r.growth.map_or(Value::Missing, Value::I64),
    )
    .column("GROWTH"),
    Field::<ProcessGrowth>::new(
        "last_seen",
        Unit::Seconds,
        Kind::Gauge,
        "Last sample.",
        |r| r.last_seen.into(),
    )
    .column("LAST SEEN"),
];

static SIGNAL_FIELDS: &[Field<SignalRow>] = &[
    Field::<SignalRow>::new(
        "t",
        Unit::Seconds,
        Kind::Gauge,
        "Relative to the kill.",
        |r| r.t.into(),
    )
    .column("T"),
    Field::<SignalRow>::new("source", Unit::Text, Kind::Info, "What was seen.", |r| {
        Value::Str(&r.source)
    })
    .column("SOURCE"),
    Field::<SignalRow>::new("cgroup", Unit::Text, Kind::Info, "Where.", |r| {
        Value::Str(&r.cgroup)
    })
    .column("CGROUP"),
    Field::<SignalRow>::new("detail", Unit::Text, Kind::Info, "What changed.", |r| {
        Value::Str(&r.detail)
    })
    .column("DETAIL"),
];

macro_rules! record {
    ($($t:ty => $table:expr, $optional:expr;)*) => {$(
        impl Record for $t {
            fn fields() -> &'static [Field<Self>] {
                $table
            }
            fn optional_objects() -> &'static [&'static str] {
                $optional
            }
        }
    )*};
}

record! {
    IncidentRow => ROW_FIELDS, &[];
    IncidentsDoc => DOC_FIELDS, &[];
    Recording => RECORDING_FIELDS, &["start", "end", "peak", "growth", "split_start", "split_end"];
    TimelineRow => TIMELINE_ROW_FIELDS, &[];
    SeriesPoint => SERIES_FIELDS, &[];
    ProcessGrowth => PROCESS_FIELDS, &[];
    SignalRow => SIGNAL_FIELDS, &[];
}

/// Every JSON key path of `oomlens incidents --json` (`incidents[].victim.pid`), from the
/// tables: what a test checks the output against.
pub fn incidents_key_paths() -> Vec<String> {
    let mut out = paths::<IncidentsDoc>("");
    out.extend(paths::<IncidentRow>("incidents[]."));
    out
}

/// Every key path of the `recording` object (`recording.rows[].t`).
pub fn recording_key_paths() -> Vec<String> {
    let mut out = vec!["recording".to_string()];
    out.extend(paths::<Recording>("recording."));
    out.extend(paths::<TimelineRow>("recording.rows[]."));
    out.extend(paths::<ProcessGrowth>("recording.processes[]."));
    out.extend(paths::<SignalRow>("recording.signals[]."));
    out.extend(paths::<SeriesPoint>("recording.series[]."));
    out
}

/// The key paths of `R`'s table under `prefix`, with the parents of dotted names.
fn paths<R: Record>(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in R::fields() {
        let mut acc = String::new();
        for part in f.name.split('.') {
            if !acc.is_empty() {
                acc.push('.');
            }
            acc.push_str(part);
            let p = format!("{prefix}{acc}");
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::AsFields;

    #[test]
    fn an_incidents_document_has_the_declared_keys_only() {
        let doc = IncidentsDoc {
            state_dir: "/s".into(),
            total: 1,
            rows: vec![IncidentRow {
                id: 7,
                pid: Some(42),
                comm: Some("w".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(AsFields(&doc)).unwrap();
        assert_eq!(v["schema"], INCIDENTS_SCHEMA);
        assert_eq!(v["shown"], 1);
        assert_eq!(v["incidents"][0]["victim"]["pid"], 42);
        assert_eq!(v["incidents"][0]["victim"]["comm"], "w");
        let keys = incidents_key_paths();
        assert!(keys.contains(&"incidents[].victim.pid".to_string()));
        assert!(keys.contains(&"incidents[].victim".to_string()));
    }

    /// Names unique per table, the fields of a nested object adjacent (what `AsFields`
    /// needs), every optional object declared.
    #[test]
    fn tables_are_well_formed() {
        fn check<R: Record>() {
            let mut seen = std::collections::HashSet::new();
            let mut heads: Vec<&str> = Vec::new();
            for f in R::fields() {
                assert!(seen.insert(f.name), "{} twice", f.name);
                if let Some((head, _)) = f.name.split_once('.') {
                    if heads.last() != Some(&head) {
                        assert!(!heads.contains(&head), "object {head} split");
                        heads.push(head);
                    }
                } else {
                    heads.push("");
                }
            }
            for o in R::optional_objects() {
                assert!(heads.contains(o), "{o}");
            }
        }
        check::<IncidentRow>();
        check::<IncidentsDoc>();
        check::<Recording>();
        check::<TimelineRow>();
        check::<SeriesPoint>();
        check::<ProcessGrowth>();
        check::<SignalRow>();
    }

    #[test]
    fn an_empty_recording_writes_null_objects() {
        let v = serde_json::to_value(AsFields(&Recording::default())).unwrap();
        assert!(v["start"].is_null(), "{v}");
        assert!(v["growth"].is_null(), "{v}");
        assert_eq!(v["rows"], serde_json::json!([]));
    }
}
