//! What `oomlens guard` writes to its flight recorder for one incident, and what
//! `oomlens incidents` and `oomlens explain --recorded ID` read back.
//!
//! One incident is one recorder record (kind [`RECORD_INCIDENT`]): the payload is this
//! struct as JSON (the recorder compresses and checksums it). Raw facts are stored — the
//! report's own log lines, the parsed incident, the samples of the minutes before — so that
//! a later oomlens can explain an old record again; the explanation the guard made at the
//! time (with its restart-loop history, which a re-read cannot rebuild) is kept beside them.
//!
//! The schema is versioned by [`RECORDED_SCHEMA`]: a reader refuses a major version it does
//! not know and ignores fields it does not know (serde's default), so a minor addition does
//! not break old readers.

use serde::{Deserialize, Serialize};

use crate::{Incident, Limit};

/// The payload schema, `oomlens.recorded/<major>`.
pub const RECORDED_SCHEMA: &str = "oomlens.recorded/1";

/// Recorder record kind of a [`RecordedIncident`].
pub const RECORD_INCIDENT: u16 = 1;

/// One incident as the guard recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedIncident {
    /// [`RECORDED_SCHEMA`].
    pub schema: String,
    /// When the guard wrote the record: seconds since the Unix epoch (UTC).
    pub recorded_unix: f64,
    /// When the kernel (or the killer) logged the incident's first line, converted to the
    /// Unix clock where the log's own clock allows it (kmsg: boot time + monotonic µs).
    #[serde(default)]
    pub logged_unix: Option<f64>,
    /// The host's name.
    #[serde(default)]
    pub host: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`: which boot the pids and monotonic times belong to.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The guard's version (`CARGO_PKG_VERSION`).
    pub guard_version: String,
    /// The log the report was read from (`kmsg`, `journal`, ...).
    pub log_source: String,
    /// What else the guard saw of it, in the order seen (memory.events changes, PSI
    /// triggers, the v1 oom_control eventfd).
    #[serde(default)]
    pub signals: Vec<Signal>,
    /// The report's log lines as read (control characters kept; escape before printing).
    pub raw: Vec<String>,
    /// The parsed incident.
    pub incident: Incident,
    /// `oomlens explain --json` of this incident as the guard wrote it (schema
    /// `oomlens.explain/…`), a JSON document kept as text: it carries what only the guard
    /// knew at the time (the restart-loop history, the owner's unit or pod state).
    #[serde(default)]
    pub explanation_json: Option<String>,
    /// The minutes before.
    pub window: RecordedWindow,
    /// For a guard pre-emption (kind `oomlens-guard`): the decision with the numbers it was
    /// made on, the policy, the result and the latency, as JSON text (the guard's
    /// `oomlens_analysis::preempt::Decision` and its outcome). Added in 1.x: absent in
    /// older records.
    #[serde(default)]
    pub decision_json: Option<String>,
}

/// One event the guard saw besides the log report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// When it was seen, Unix seconds.
    pub unix: f64,
    /// What: `memory.events`, `memory.events.local`, `memory.oom_control`, `psi`.
    pub source: String,
    /// The cgroup it came from (`/` for the system-wide PSI file).
    pub cgroup: String,
    /// What changed, as `key=value` pairs in the file's own words (`oom_kill=3`,
    /// `some avg10=42.0`).
    pub detail: String,
}

/// The samples of the minutes before an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedWindow {
    /// The window's length the guard keeps, seconds (what was asked; a younger guard or
    /// cgroup has less).
    pub seconds: f64,
    /// Seconds between samples the guard aimed at.
    pub interval: f64,
    /// The victim's cgroup first, then its ancestors up to the one whose limit was hit (and
    /// the OOM memcg when that is not an ancestor).
    pub cgroups: Vec<CgroupSeries>,
    /// The largest processes of those cgroups over the window, the victim among them when
    /// it was ever sampled.
    pub processes: Vec<ProcessSeries>,
}

/// One cgroup's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupSeries {
    /// The cgroup path as in `/proc/PID/cgroup`.
    pub path: String,
    /// The samples.
    pub points: Vec<CgroupPoint>,
}

/// One sample of one cgroup. Fields the guard did not read at that tick are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CgroupPoint {
    /// Unix seconds.
    pub unix: f64,
    /// `memory.current` / `memory.usage_in_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<u64>,
    /// `memory.stat` anon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon: Option<u64>,
    /// `memory.stat` file (without shmem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<u64>,
    /// `memory.stat` shmem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shmem: Option<u64>,
    /// Swap in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<u64>,
    /// `memory.max` / `memory.limit_in_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Limit>,
    /// v2 `memory.high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Limit>,
    /// `oom_kill` events so far (v2 memory.events, v1 memory.oom_control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill: Option<u64>,
    /// PSI `some avg10` of the cgroup's `memory.pressure`, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi_some_avg10: Option<f64>,
}

/// One process's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSeries {
    /// Pid (of [`RecordedIncident::boot_id`]'s boot).
    pub pid: u32,
    /// `Name:` of status.
    pub comm: String,
    /// Its memory cgroup.
    pub cgroup: String,
    /// The samples.
    pub points: Vec<ProcessPoint>,
}

/// One sample of one process, bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessPoint {
    /// Unix seconds.
    pub unix: f64,
    /// `RssAnon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon: Option<u64>,
    /// `RssFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<u64>,
    /// `RssShmem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shmem: Option<u64>,
    /// `VmSwap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<u64>,
}

/// Why a payload is not a record this oomlens can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaMismatch {
    /// The schema string is not `oomlens.recorded/<n>`.
    NotRecorded(String),
    /// A major version this oomlens does not know.
    Major(String),
}

impl RecordedIncident {
    /// Check the schema string: the same major version, any minor addition.
    pub fn check_schema(schema: &str) -> Result<(), SchemaMismatch> {
        let Some(version) = schema.strip_prefix("oomlens.recorded/") else {
            return Err(SchemaMismatch::NotRecorded(schema.to_string()));
        };
        let ours = RECORDED_SCHEMA.rsplit('/').next().unwrap_or_default();
        match version.split('.').next() {
            Some(major) if major == ours => Ok(()),
            _ => Err(SchemaMismatch::Major(schema.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_major_version_is_readable_and_another_is_not() {
        assert_eq!(RecordedIncident::check_schema(RECORDED_SCHEMA), Ok(()));
        assert_eq!(
            RecordedIncident::check_schema("oomlens.recorded/1.3"),
            Ok(())
        );
        assert_eq!(
            RecordedIncident::check_schema("oomlens.recorded/2"),
            Err(SchemaMismatch::Major("oomlens.recorded/2".into()))
        );
        assert_eq!(
            RecordedIncident::check_schema("oomlens.top/1"),
            Err(SchemaMismatch::NotRecorded("oomlens.top/1".into()))
        );
    }

    #[test]
    fn a_record_round_trips_through_json_and_unknown_fields_are_ignored() {
        let rec = RecordedIncident {
            decision_json: None,
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: 1_700_000_000.5,
            logged_unix: Some(1_700_000_000.25),
            host: Some("h".into()),
            boot_id: None,
            guard_version: "0.1.0".into(),
            log_source: "kmsg".into(),
            signals: vec![Signal {
                unix: 1.0,
                source: "memory.events".into(),
                cgroup: "/a".into(),
                detail: "oom_kill=1".into(),
            }],
            raw: vec!["Memory cgroup out of memory: Killed process 1 (x)".into()],
            incident: Incident::new(0, Default::default()),
            explanation_json: None,
            window: RecordedWindow {
                seconds: 600.0,
                interval: 1.0,
                cgroups: vec![CgroupSeries {
                    path: "/a".into(),
                    points: vec![CgroupPoint {
                        unix: 1.0,
                        usage: Some(4096),
                        max: Some(Limit::Bytes(8192)),
                        ..Default::default()
                    }],
                }],
                processes: vec![],
            },
        };
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            serde_json::from_str::<RecordedIncident>(&json).unwrap(),
            rec
        );
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["added_in_1_1"] = serde_json::json!([1, 2]);
        let back: RecordedIncident = serde_json::from_value(value).unwrap();
        assert_eq!(back, rec);
    }
}
