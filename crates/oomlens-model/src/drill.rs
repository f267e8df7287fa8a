//! What `oomlens drill` reports: each step of a fire drill (a throwaway memory cgroup, a
//! controlled OOM kill in it, and the checks that oomlens and the guard saw it) with its
//! outcome and time, and the field tables its text and JSON are written from.
//!
//! `oomlens drill --json` (schema [`DRILL_SCHEMA`]):
//!
//! ```json
//! {"schema":"oomlens.drill/1","kind":"memcg","result":"pass","exit_code":0,
//!  "limit":67108864,"cgroup":"/process_api/…/oomlens-drill-812-k3f9q2"|null,
//!  "cgroup_version":"v1"|"v2"|null,"victim_pid":4242|null,"seconds":1.32,
//!  "steps":[{"name":"safe","result":"pass","seconds":0.001,"detail":"…"}]}
//! ```

use crate::fields::{Field, Kind, Record, Unit, Value};

/// Schema of `oomlens drill --json`.
pub const DRILL_SCHEMA: &str = "oomlens.drill/1";

/// The outcome of one step, or of the whole drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it should.
    Pass,
    /// It did not: detection or alerting is broken (the detail says why).
    Fail,
    /// Not applicable here (no guard runs, no hook configured); the detail says why.
    Skip,
    /// It could not be tried on this host (no cgroup could be created, a kind the host
    /// cannot do, interrupted).
    Error,
}

impl Outcome {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }

    /// The word shown in the text output.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
            Outcome::Error => "ERROR",
        }
    }
}

/// One step of a drill.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillStep {
    /// The step's short name (`safe`, `cgroup`, `kill`, `explained`, …).
    pub name: &'static str,
    /// How it went.
    pub outcome: Outcome,
    /// How long it took, seconds.
    pub seconds: f64,
    /// What it found, or why it failed (may hold cgroup paths and comms: escape before a
    /// terminal).
    pub detail: String,
}

/// A whole drill.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillReport {
    /// `memcg`, `tmpfs`, `adj` or `oomd`.
    pub kind: &'static str,
    /// The overall outcome: `Error` if it could not run, else `Fail` if any step failed.
    pub outcome: Outcome,
    /// The exit status: 0 pass, 1 fail, 2 could not run.
    pub exit_code: u8,
    /// The drill cgroup's memory limit, bytes.
    pub limit: u64,
    /// The throwaway cgroup, as the kernel prints it, once created.
    pub cgroup: Option<String>,
    /// `v1` or `v2`, once the cgroup is created.
    pub cgroup_version: Option<&'static str>,
    /// The process that was to be killed.
    pub victim_pid: Option<u32>,
    /// Wall time of the whole drill, seconds.
    pub seconds: f64,
    /// The steps, in order.
    pub steps: Vec<DrillStep>,
}

/// The fields of one step.
pub static DRILL_STEP_FIELDS: &[Field<DrillStep>] = &[
    Field::new(
        "name",
        Unit::Text,
        Kind::Info,
        "The step.",
        |s: &DrillStep| Value::Str(s.name),
    )
    .column("step"),
    Field::new(
        "result",
        Unit::Text,
        Kind::Info,
        "pass, fail, skip (does not apply here) or error (could not be tried).",
        |s: &DrillStep| Value::Str(s.outcome.as_str()),
    )
    .column("result"),
    Field::new(
        "seconds",
        Unit::Seconds,
        Kind::Gauge,
        "How long the step took.",
        |s: &DrillStep| Value::F64(s.seconds),
    )
    .column("time"),
    Field::new(
        "detail",
        Unit::Text,
        Kind::Info,
        "What the step found, or why it failed.",
        |s: &DrillStep| Value::Str(&s.detail),
    )
    .column("detail"),
];

/// The fields of `oomlens drill --json`.
pub static DRILL_FIELDS: &[Field<DrillReport>] = &[
    Field::new("schema", Unit::Text, Kind::Info, "The schema.", |_| {
        Value::Str(DRILL_SCHEMA)
    }),
    Field::new(
        "kind",
        Unit::Text,
        Kind::Info,
        "The drill: memcg, tmpfs, adj or oomd.",
        |r| Value::Str(r.kind),
    ),
    Field::new(
        "result",
        Unit::Text,
        Kind::Info,
        "pass, fail (a step failed) or error (the drill could not run).",
        |r| Value::Str(r.outcome.as_str()),
    ),
    Field::new(
        "exit_code",
        Unit::Count,
        Kind::Info,
        "The exit status: 0 pass, 1 fail, 2 could not run.",
        |r| Value::U64(r.exit_code.into()),
    ),
    Field::new(
        "limit",
        Unit::Bytes,
        Kind::Gauge,
        "The drill cgroup's memory limit.",
        |r| Value::U64(r.limit),
    ),
    Field::new(
        "cgroup",
        Unit::Text,
        Kind::Info,
        "The throwaway cgroup as the kernel prints it; null before it was created.",
        |r| Value::text(r.cgroup.as_deref()),
    ),
    Field::new("cgroup_version", Unit::Text, Kind::Info, "v1 or v2.", |r| {
        Value::text(r.cgroup_version)
    }),
    Field::new(
        "victim_pid",
        Unit::Count,
        Kind::Info,
        "The process meant to be killed.",
        |r| r.victim_pid.into(),
    ),
    Field::new(
        "seconds",
        Unit::Seconds,
        Kind::Gauge,
        "Wall time of the whole drill.",
        |r| Value::F64(r.seconds),
    ),
    Field::new(
        "steps",
        Unit::Record,
        Kind::Info,
        "Each step in order.",
        |r| Value::records(&r.steps),
    ),
];

impl Record for DrillStep {
    fn fields() -> &'static [Field<Self>] {
        DRILL_STEP_FIELDS
    }
}

impl Record for DrillReport {
    fn fields() -> &'static [Field<Self>] {
        DRILL_FIELDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::AsFields;

    #[test]
    fn the_json_has_exactly_the_declared_keys() {
        let r = DrillReport {
            kind: "memcg",
            outcome: Outcome::Fail,
            exit_code: 1,
            limit: 64 << 20,
            cgroup: Some("/a/oomlens-drill-1-x".into()),
            cgroup_version: Some("v1"),
            victim_pid: None,
            seconds: 1.5,
            steps: vec![DrillStep {
                name: "explained",
                outcome: Outcome::Fail,
                seconds: 10.0,
                detail: "no report".into(),
            }],
        };
        let v = serde_json::to_value(AsFields(&r)).unwrap();
        assert_eq!(v["schema"], "oomlens.drill/1");
        assert_eq!(v["result"], "fail");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["limit"], 67108864);
        assert!(v["victim_pid"].is_null());
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let declared: Vec<&str> = DRILL_FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(keys.len(), declared.len());
        assert!(declared.iter().all(|k| keys.contains(k)));
        let step = &v["steps"][0];
        assert_eq!(step["name"], "explained");
        assert_eq!(step["result"], "fail");
        assert_eq!(step["seconds"], 10.0);
        assert_eq!(step["detail"], "no report");
    }
}
