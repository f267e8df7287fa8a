//! `oomlens top`'s outputs: the plain table and the `oomlens.top/1` JSON document. Both
//! iterate the field tables of `oomlens_model::top`: a table's column titles are the
//! fields' `column`, JSON keys are the fields' names ([`AsFields`]), so neither can name a
//! field the registry does not have.
//!
//! Sizes are binary units in text, bytes in JSON; untrusted text (comm, paths, owners) is
//! escaped before a terminal sees it.

use std::io::{self, Write};

use oomlens_model::fields::{AsFields, Field, Record, Unit, Value};
use oomlens_model::top::{
    column, field, CgroupRow, Eta, MountRow, ProcessRow, TopDoc, Trended, TOP_LISTS,
};
use oomlens_model::DeletedOpenFile;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::escape::escape;
use crate::text::human_bytes;

/// A size or `-`.
pub fn size(b: Option<u64>) -> String {
    b.map_or_else(|| "-".into(), human_bytes)
}

/// `+1.0 MiB/s`.
pub fn rate_text(r: f64) -> String {
    if r.abs() < 1.0 {
        return "0".into();
    }
    let sign = if r < 0.0 { "-" } else { "+" };
    format!("{sign}{}/s", human_bytes(r.abs() as u64))
}

/// `36s (33s-40s)`.
pub fn eta_text(e: Option<&Eta>) -> String {
    let Some(e) = e else { return "-".into() };
    let d = |s: f64| {
        if s >= 86400.0 {
            format!("{:.1}d", s / 86400.0)
        } else if s >= 3600.0 {
            format!("{:.1}h", s / 3600.0)
        } else if s >= 120.0 {
            format!("{:.0}m", s / 60.0)
        } else {
            format!("{s:.0}s")
        }
    };
    match e.seconds_hi {
        Some(hi) => format!("{} ({}-{})", d(e.seconds), d(e.seconds_lo), d(hi)),
        None => format!("{} ({}-?)", d(e.seconds), d(e.seconds_lo)),
    }
}

/// A percentage with `decimals` decimals, or `-`.
pub fn percent_text(p: Option<f64>, decimals: usize) -> String {
    p.map_or("-".into(), |p| format!("{p:.decimals$}%"))
}

/// The text of one field of a row as the table and the TUI show it, by its unit: sizes in
/// binary units, rates signed per second, percents with one decimal, text escaped, a
/// missing size or number `-`, missing text empty. The ETA column shows the whole band.
pub fn cell<R: Trended>(r: &R, f: &Field<R>) -> String {
    if f.name == "eta.seconds" {
        return eta_text(r.eta());
    }
    match ((f.get)(r), f.unit) {
        (Value::Missing, Unit::Text) => String::new(),
        (Value::Missing, _) => "-".into(),
        (Value::U64(b), Unit::Bytes) => human_bytes(b),
        (Value::F64(v), Unit::BytesPerSecond) => rate_text(v),
        (Value::F64(v), Unit::Percent) => percent_text(Some(v), 1),
        (v, _) => match v.as_str() {
            Some(s) => escape(s).into_owned(),
            None => match v {
                Value::U64(n) => n.to_string(),
                Value::F64(x) => x.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => String::new(),
            },
        },
    }
}

/// The `GROWS` text of a cgroup: `anon`, `shmem (/dev/shm)`, or `-`.
fn grows_text(c: &CgroupRow) -> String {
    match (&c.growth, &c.growth_mount) {
        (Some(g), Some(m)) => format!("{g} ({})", escape(m)),
        (Some(g), None) => g.to_string(),
        _ => "-".into(),
    }
}

/// One column of the text table: a field, its width, its alignment.
struct Col {
    name: &'static str,
    width: usize,
    left: bool,
}

const fn col(name: &'static str, width: usize, left: bool) -> Col {
    Col { name, width, left }
}

const CGROUP_COLS: &[Col] = &[
    col("path", 44, true),
    col("usage", 10, false),
    col("limit", 10, false),
    col("trend.rate", 12, false),
    col("trend.class", 10, true),
    col("growth", 6, true),
    col("eta.seconds", 22, true),
    col("psi_some_avg10", 6, false),
    col("owner", 0, true),
];

const PROCESS_COLS: &[Col] = &[
    col("pid", 8, false),
    col("comm", 16, true),
    col("rss", 10, false),
    col("anon", 10, false),
    col("file", 10, false),
    col("shmem", 10, false),
    col("trend.rate", 12, false),
    col("trend.class", 10, true),
    col("eta.seconds", 22, true),
    col("cgroup", 0, true),
];

const MOUNT_COLS: &[Col] = &[
    col("mount_point", 32, true),
    col("fstype", 8, true),
    col("used", 10, false),
    col("total", 10, false),
    col("trend.rate", 12, false),
    col("trend.class", 10, true),
    col("eta.seconds", 0, true),
];

/// One line: each text padded to its column; the last column unpadded, after `last_sep`.
fn line(out: &mut dyn Write, cols: &[Col], texts: &[String], last_sep: &str) -> io::Result<()> {
    let mut s = String::new();
    for (k, (c, t)) in cols.iter().zip(texts).enumerate() {
        if k + 1 == cols.len() {
            s.push_str(last_sep);
            s.push_str(t);
        } else {
            if k > 0 {
                s.push(' ');
            }
            match c.left {
                true => s.push_str(&format!("{t:<w$}", w = c.width)),
                false => s.push_str(&format!("{t:>w$}", w = c.width)),
            }
        }
    }
    writeln!(out, "{s}")
}

/// The header and rows of one table of `R`; `special` formats the cells that are not one
/// field's value alone.
fn table<'r, R: Record + Trended>(
    out: &mut dyn Write,
    cols: &[Col],
    last_sep: &str,
    rows: impl Iterator<Item = &'r R>,
    special: impl Fn(&R, &str) -> Option<String>,
) -> io::Result<()> {
    let titles: Vec<String> = cols
        .iter()
        .map(|c| column::<R>(c.name).to_string())
        .collect();
    line(out, cols, &titles, last_sep)?;
    let fields: Vec<&Field<R>> = cols.iter().map(|c| field::<R>(c.name)).collect();
    for r in rows {
        let texts: Vec<String> = fields
            .iter()
            .map(|f| special(r, f.name).unwrap_or_else(|| cell(r, f)))
            .collect();
        line(out, cols, &texts, last_sep)?;
    }
    Ok(())
}

/// The memory line over the tables: `memory: total …, available …, PSI some avg10 …`.
fn memory_line(out: &mut dyn Write, doc: &TopDoc) -> io::Result<()> {
    let t = |n| column::<TopDoc>(n);
    writeln!(
        out,
        "memory: {} {}, {} {}, {} {}",
        t("mem_total"),
        size(doc.mem_total),
        t("mem_available"),
        size(doc.mem_available),
        t("psi_some_avg10"),
        percent_text(doc.psi_some_avg10, 2)
    )
}

fn deleted_lines(out: &mut dyn Write, files: &[DeletedOpenFile]) -> io::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "deleted but still open:")?;
    for d in files {
        writeln!(
            out,
            "  {} held by pid {} ({}) fd {}: {}{}",
            escape(&d.path),
            d.pid,
            escape(&d.comm),
            d.fd,
            human_bytes(d.size),
            d.mount
                .as_deref()
                .map(|m| format!(" on {}", escape(m)))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// The plain table: memory, cgroups (indented by depth), the 20 largest processes, mounts,
/// and the deleted-but-open files.
pub fn write_table(out: &mut dyn Write, doc: &TopDoc) -> io::Result<()> {
    memory_line(out, doc)?;
    table(
        out,
        CGROUP_COLS,
        "  ",
        doc.cgroups.iter(),
        |c: &CgroupRow, name| match name {
            "path" => Some(format!("{}{}", "  ".repeat(c.depth), escape(&c.path))),
            "growth" => Some(grows_text(c)),
            _ => None,
        },
    )?;
    writeln!(out)?;
    let mut procs: Vec<&ProcessRow> = doc.processes.iter().collect();
    procs.sort_by_key(|p| std::cmp::Reverse(p.rss));
    table(
        out,
        PROCESS_COLS,
        " ",
        procs.into_iter().take(20),
        |_, _| None,
    )?;
    writeln!(out)?;
    table(out, MOUNT_COLS, " ", doc.mounts.iter(), |_, _| None)?;
    deleted_lines(out, &doc.deleted_open_files)
}

/// A list of records as a JSON array of their field tables.
struct Rows<'a, R: Record>(&'a [R]);

impl<R: Record> Serialize for Rows<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&AsFields(r))?;
        }
        seq.end()
    }
}

/// The `oomlens.top/1` document: the document's fields, then its lists ([`TOP_LISTS`]).
pub struct TopJson<'a>(pub &'a TopDoc);

impl Serialize for TopJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let doc = self.0;
        let mut map = s.serialize_map(None)?;
        for f in TopDoc::fields() {
            map.serialize_entry(f.name, &(f.get)(doc))?;
        }
        for (name, _) in TOP_LISTS {
            match *name {
                "cgroups" => map.serialize_entry(name, &Rows(&doc.cgroups))?,
                "processes" => map.serialize_entry(name, &Rows(&doc.processes))?,
                "mounts" => map.serialize_entry(name, &Rows::<MountRow>(&doc.mounts))?,
                "deleted_open_files" => {
                    map.serialize_entry(name, &Rows(&doc.deleted_open_files))?
                }
                other => unreachable!("TOP_LISTS names {other:?}, which TopJson does not write"),
            }
        }
        map.end()
    }
}

/// One JSON document on one line.
pub fn write_json(out: &mut dyn Write, doc: &TopDoc) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &TopJson(doc))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_and_rate_texts() {
        let e = Eta {
            limit: "x".into(),
            seconds: 36.4,
            seconds_lo: 33.0,
            seconds_hi: None,
        };
        assert_eq!(eta_text(Some(&e)), "36s (33s-?)");
        let e = Eta {
            seconds: 7200.0,
            seconds_hi: Some(90000.0),
            ..e
        };
        assert_eq!(eta_text(Some(&e)), "2.0h (33s-1.0d)");
        assert_eq!(eta_text(None), "-");
        assert_eq!(rate_text(0.5), "0");
        assert_eq!(rate_text(-2048.0), "-2.0 KiB/s");
        assert_eq!(rate_text(1048576.0), "+1.0 MiB/s");
    }
}
