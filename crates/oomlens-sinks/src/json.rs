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
        if self.count > 0 {
            self.w.write_all(b",")?;
        }
        self.w.write_all(b"\n")?;
        serde_json::to_writer(
            &mut self.w,
            &Explained {
                incident: inc,
                explanation: expl,
            },
        )?;
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

impl Serialize for Explained<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        write_fields(&mut map, self.incident, Incident::fields())?;
        if let Some(e) = self.explanation {
            write_fields(&mut map, e, EXPLANATION_FIELDS)?;
        }
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
