//! The `oomlens.explain/1` JSON document, written incrementally.
//!
//! ```text
//! {"schema":"oomlens.explain/1","incidents":[{"kind":…,"completeness":…,"kernel_version":…,
//!  "constraint":…,"oom_memcg":…,"task_memcg":…,"invoker":{"comm":…,"pid":…,"gfp_mask":…,
//!  "order":…},"kills":[{"pid":…,"comm":…,"anon_rss_kb":…,"file_rss_kb":…,"shmem_rss_kb":…,
//!  "oom_score_adj":…}],"source":{"file":…,"first_line":…,"last_line":…}, …}], "summary":{…}}
//! ```
//!
//! The keys above are a contract: they are never renamed; new keys may be added. Values a
//! report did not print are `null`. Every key is declared in a field table
//! (`oomlens_model::incident_fields`, [`crate::explain_fields`]), not by the model's serde
//! derives, so the model can change without changing the contract; `docs/explain-json.md`
//! lists them all. Incidents are written as they arrive, so memory does not grow with the
//! number of incidents.

use std::io::{self, Write};

use oomlens_analysis::explain::Explanation;
use oomlens_model::fields::{write_fields, AsFields, Record};
use oomlens_model::Incident;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::explain_fields::{Summary, EXPLANATION_FIELDS};

/// The schema name and version of `oomlens explain --json`.
pub const EXPLAIN_SCHEMA: &str = "oomlens.explain/1";

/// Writes one `oomlens.explain/1` document, an incident at a time.
pub struct JsonWriter<W: Write> {
    w: W,
    count: u64,
}

impl<W: Write> JsonWriter<W> {
    /// Start the document.
    pub fn begin(mut w: W) -> io::Result<JsonWriter<W>> {
        write!(w, "{{\"schema\":\"{EXPLAIN_SCHEMA}\",\"incidents\":[")?;
        Ok(JsonWriter { w, count: 0 })
    }

    /// Append an incident with its explanation (keys `owner`, `ranking`, `findings`,
    /// `advice`, `restart_loop`).
    pub fn incident(&mut self, inc: &Incident, expl: Option<&Explanation>) -> io::Result<()> {
        self.incident_with(inc, expl, None::<(&str, &())>)
    }

    /// Append an incident with its explanation and, in the same object, one more key
    /// (`explain --recorded`'s `recording`).
    pub fn incident_with<X: Serialize>(
        &mut self,
        inc: &Incident,
        expl: Option<&Explanation>,
        extra: Option<(&str, &X)>,
    ) -> io::Result<()> {
        if self.count > 0 {
            self.w.write_all(b",")?;
        }
        self.w.write_all(b"\n")?;
        let explained = Explained {
            incident: inc,
            explanation: expl,
        };
        match extra {
            None => serde_json::to_writer(&mut self.w, &explained)?,
            Some((key, x)) => serde_json::to_writer(&mut self.w, &With(explained, key, x))?,
        }
        self.count += 1;
        Ok(())
    }

    /// Close the document with a summary object (inputs read, lines lost, warnings).
    pub fn finish(mut self, summary: &Summary) -> io::Result<W> {
        self.w.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut self.w, &AsFields(summary))?;
        self.w.write_all(b"}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// An incident with its explanation's keys beside its own, in one object.
struct Explained<'a> {
    incident: &'a Incident,
    explanation: Option<&'a Explanation>,
}

impl Explained<'_> {
    fn entries<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        write_fields(map, self.incident, Incident::fields())?;
        if let Some(e) = self.explanation {
            write_fields(map, e, EXPLANATION_FIELDS)?;
        }
        Ok(())
    }
}

impl Serialize for Explained<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.entries(&mut map)?;
        map.end()
    }
}

/// An [`Explained`] object with one more key.
struct With<'a, X>(Explained<'a>, &'a str, &'a X);

impl<X: Serialize> Serialize for With<'_, X> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.0.entries(&mut map)?;
        map.serialize_entry(self.1, self.2)?;
        map.end()
    }
}

/// One incident as a single JSON line (`--follow --json`), with the schema name.
pub fn incident_line(inc: &Incident, expl: Option<&Explanation>) -> serde_json::Result<String> {
    struct Line<'a>(Explained<'a>);
    impl Serialize for Line<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("schema", INCIDENT_LINE_SCHEMA)?;
            map.serialize_entry("incident", &self.0)?;
            map.end()
        }
    }
    serde_json::to_string(&Line(Explained {
        incident: inc,
        explanation: expl,
    }))
}

/// The schema name and version of one `--follow --json` line.
pub const INCIDENT_LINE_SCHEMA: &str = "oomlens.explain.incident/1";

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_analysis::explain::Explainer;

    fn incidents() -> Vec<Incident> {
        let report = "[  100.000000] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/w.service,task_memcg=/system.slice/w.service,task=w,pid=7,uid=0\n\
                      [  100.100000] Memory cgroup out of memory: Killed process 7 (w) total-vm:1kB, anon-rss:1024kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:-5\n";
        oomlens_parse::parse_bytes(report.as_bytes(), oomlens_parse::Options::default())
    }

    /// A `--follow --json` line holds the same incident object as the document does.
    #[test]
    fn follow_line_and_document_write_the_same_incident() {
        let incs = incidents();
        assert_eq!(incs.len(), 1);
        let expl = Explainer::new().explain(&incs[0]);
        let mut w = JsonWriter::begin(Vec::new()).unwrap();
        w.incident(&incs[0], Some(&expl)).unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&w.finish(&Summary::default()).unwrap()).unwrap();
        let line: serde_json::Value =
            serde_json::from_str(&incident_line(&incs[0], Some(&expl)).unwrap()).unwrap();
        assert_eq!(line["schema"], INCIDENT_LINE_SCHEMA);
        assert_eq!(line["incident"], doc["incidents"][0]);
        assert_eq!(doc["schema"], EXPLAIN_SCHEMA);
        let inc = &doc["incidents"][0];
        assert_eq!(inc["kills"][0]["oom_score_adj"], -5);
        assert_eq!(inc["kills"][0]["anon_rss_kb"], 1024);
        assert_eq!(inc["owner"]["unit"], "w.service");
        assert_eq!(
            inc["time"],
            serde_json::json!({"monotonic_us": 100_000_000})
        );
        assert_eq!(doc["summary"]["inputs"], serde_json::json!([]));
    }

    /// Without an explanation, the incident object has the incident's keys only.
    #[test]
    fn no_explanation_no_explanation_keys() {
        let incs = incidents();
        let line: serde_json::Value =
            serde_json::from_str(&incident_line(&incs[0], None).unwrap()).unwrap();
        let keys: Vec<&String> = line["incident"].as_object().unwrap().keys().collect();
        // serde_json's map sorts its keys.
        let mut want: Vec<&str> = Incident::fields()
            .iter()
            .map(|f| f.name.split('.').next().unwrap())
            .filter(|n| *n != "panic")
            .collect();
        want.sort();
        want.dedup();
        assert_eq!(keys, want);
    }
}
