//! Outputs of the flight recorder's readers: the table and the `oomlens.incidents/1`
//! document of `oomlens incidents`, and the timeline `oomlens explain --recorded ID` prints
//! after the incident (its JSON is the `recording` object, [`crate::json::JsonWriter::incident_with`]).
//!
//! Column titles and JSON keys come from the field tables of
//! `oomlens_model::recorded_fields`; cells are formatted by the field's unit (sizes in
//! binary units, seconds relative to the kill signed). Every string from the store (comm,
//! cgroup paths, owners, signal details) was written by other users' processes or read
//! from the kernel, and is escaped before a terminal sees it.

use std::io::{self, Write};

use oomlens_model::fields::{AsFields, Field, Record, Unit, Value};
use oomlens_model::recorded_fields::{IncidentRow, IncidentsDoc, Recording};
use oomlens_model::top::field;

use crate::escape::escape;
use crate::text::human_bytes;

/// Seconds relative to the kill: `-12.0s`, `+3.5s`, `-4m05s` past two minutes.
pub fn relative_text(t: f64) -> String {
    let sign = if t < 0.0 { "-" } else { "+" };
    let a = t.abs();
    if a >= 120.0 {
        let s = a.round() as u64;
        format!("{sign}{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{sign}{a:.1}s")
    }
}

/// A rate in MiB per minute: `+120.0 MiB/min`.
pub fn mib_per_min(rate: f64) -> String {
    format!("{:+.1} MiB/min", rate * 60.0 / (1024.0 * 1024.0))
}

/// The text of one field's value: by unit, text escaped, missing `-`.
fn cell<R: Record>(r: &R, f: &Field<R>) -> String {
    match ((f.get)(r), f.unit) {
        (Value::Missing | Value::Absent, _) => "-".into(),
        (Value::U64(b), Unit::Bytes) => human_bytes(b),
        (Value::I64(b), Unit::Bytes) => {
            let sign = if b < 0 { "-" } else { "+" };
            format!("{sign}{}", human_bytes(b.unsigned_abs()))
        }
        (Value::F64(v), Unit::Percent) => format!("{v:.1}%"),
        (Value::F64(v), Unit::Seconds) if f.name == "window_seconds" => format!("{v:.0}s"),
        (Value::F64(v), Unit::Seconds) => relative_text(v),
        (v, _) => match v {
            Value::U64(n) => n.to_string(),
            Value::I64(n) => n.to_string(),
            Value::F64(x) => x.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other
                .as_str()
                .map(|s| escape(s).into_owned())
                .unwrap_or_default(),
        },
    }
}

/// A table of `rows` with the fields `names` of `R` as columns (titles from the table),
/// each column as wide as its widest cell, the last one unpadded; `indent` before each line.
fn table<R: Record>(
    out: &mut dyn Write,
    indent: &str,
    names: &[&str],
    rows: &[R],
) -> io::Result<()> {
    let fields: Vec<&Field<R>> = names.iter().map(|n| field::<R>(n)).collect();
    let mut lines: Vec<Vec<String>> = vec![fields
        .iter()
        .map(|f| f.column.unwrap_or(f.name).to_string())
        .collect()];
    lines.extend(
        rows.iter()
            .map(|r| fields.iter().map(|f| cell(r, f)).collect()),
    );
    let widths: Vec<usize> = (0..fields.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for l in &lines {
        let mut s = String::from(indent);
        for (c, text) in l.iter().enumerate() {
            if c + 1 == l.len() {
                s.push_str(text);
            } else {
                let left = matches!(fields[c].unit, Unit::Text);
                match left {
                    true => s.push_str(&format!("{text:<w$}  ", w = widths[c])),
                    false => s.push_str(&format!("{text:>w$}  ", w = widths[c])),
                }
            }
        }
        writeln!(out, "{}", s.trim_end())?;
    }
    Ok(())
}

/// The columns of `oomlens incidents`, in order (the cgroup, the longest, last).
pub const INCIDENT_COLUMNS: &[&str] = &[
    "id",
    "time_utc",
    "kind",
    "victim.pid",
    "victim.comm",
    "limit",
    "window_seconds",
    "owner",
    "cgroup",
];

/// `oomlens incidents`: the table, then a line on what was skipped. An empty store says so.
pub fn write_incidents(out: &mut dyn Write, doc: &IncidentsDoc) -> io::Result<()> {
    if doc.rows.is_empty() {
        let what = if doc.total == 0 {
            "no incident recorded"
        } else {
            "no recorded incident matches"
        };
        writeln!(out, "{what} in {}", escape(&doc.state_dir))?;
    } else {
        table::<IncidentRow>(out, "", INCIDENT_COLUMNS, &doc.rows)?;
    }
    if doc.rows.len() < doc.total {
        writeln!(out, "({} of {} incidents shown)", doc.rows.len(), doc.total)?;
    }
    Ok(())
}

/// `oomlens incidents --json`: one `oomlens.incidents/1` document.
pub fn write_incidents_json(out: &mut dyn Write, doc: &IncidentsDoc) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &AsFields(doc))?;
    writeln!(out)
}

/// `explain --recorded`'s timeline, after the incident block.
pub fn write_timeline(out: &mut dyn Write, r: &Recording) -> io::Result<()> {
    let size = |b: Option<u64>| b.map_or_else(|| "-".into(), human_bytes);
    writeln!(
        out,
        "recorded window (record {}): usage of {}, limit {}, {} samples every {}s of a {:.0}s window",
        r.id,
        r.cgroup.as_deref().map_or("no cgroup sampled".into(), escape),
        size(r.limit),
        r.samples,
        r.interval,
        r.window_seconds
    )?;
    if r.samples == 0 || r.start.is_none() {
        writeln!(out, "  no usage sample was kept before the kill")?;
    } else {
        writeln!(out, "  times are relative to the kill")?;
        table(out, "  ", &["t", "usage", "percent"], &r.rows)?;
        for (name, at) in [("start", r.start), ("end", r.end), ("peak", r.peak)] {
            let at = at.expect("usage samples exist");
            writeln!(
                out,
                "  {name:<5} {:>9}  {}",
                relative_text(at.t),
                human_bytes(at.usage)
            )?;
        }
    }
    if let Some(g) = &r.growth {
        let eta = match g.limit_at {
            Some(t) => format!(
                "; at that rate the limit is reached at {}",
                relative_text(t)
            ),
            None => String::new(),
        };
        writeln!(out, "  growth {} ({}){eta}", mib_per_min(g.rate), g.class)?;
    }
    if let (Some(a), Some(b)) = (r.split_start, r.split_end) {
        writeln!(out, "  split          anon       file      shmem")?;
        for (name, s) in [("start", a), ("end", b)] {
            writeln!(
                out,
                "  {name:<5} {:>7} {:>10} {:>10} {:>10}",
                relative_text(s.t),
                size(s.anon),
                size(s.file),
                size(s.shmem)
            )?;
        }
    }
    if !r.processes.is_empty() {
        writeln!(out, "top processes:")?;
        let cols = [
            "pid",
            "rss_start",
            "rss_end",
            "growth",
            "last_seen",
            "comm",
            "cgroup",
        ];
        table(out, "  ", &cols, &r.processes)?;
    }
    if !r.signals.is_empty() {
        writeln!(out, "signals:")?;
        table(out, "  ", &["t", "source", "cgroup", "detail"], &r.signals)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::recorded_fields::{ProcessGrowth, SignalRow};

    #[test]
    fn relative_times_read_as_before_and_after_the_kill() {
        assert_eq!(relative_text(-12.04), "-12.0s");
        assert_eq!(relative_text(3.5), "+3.5s");
        assert_eq!(relative_text(-245.0), "-4m05s");
        assert_eq!(mib_per_min(2.0 * 1024.0 * 1024.0), "+120.0 MiB/min");
    }

    #[test]
    fn untrusted_text_is_escaped_in_every_table() {
        let doc = IncidentsDoc {
            state_dir: "/s".into(),
            total: 1,
            rows: vec![IncidentRow {
                comm: Some("ev\x1b[2Jil".into()),
                cgroup: Some("/a\nb".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        write_incidents(&mut out, &doc).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("ev\\x1b[2Jil"), "{text}");
        assert!(text.contains("/a\\x0ab"), "{text}");
        assert!(!text.contains('\x1b'));
        let rec = Recording {
            processes: vec![ProcessGrowth {
                comm: "\x07bell".into(),
                ..Default::default()
            }],
            signals: vec![SignalRow {
                detail: "x\x1b]0;t\x07".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        write_timeline(&mut out, &rec).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\\x07bell"), "{text}");
        assert!(text.contains("x\\x1b]0;t\\x07"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'));
    }
}
