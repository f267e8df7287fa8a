//! `oomlens rank --config`'s part of the outputs: for each domain shown, the kernel's choice
//! now and after the guard's `[[protect]]` rules, and each process a rule matches with its
//! adj and badness points before and after (`oomlens_analysis::rank_rules`).
//!
//! JSON: the document's `rules` key (present only with `--config`) holds one object per
//! domain, [`EFFECT_FIELDS`], each with its `rows` ([`ROW_FIELDS`]) and choices
//! ([`CHOICE_FIELDS`]). Text: a section after the domains, columns titled from
//! [`ROW_FIELDS`]. Comm names and cgroup paths are escaped.

use std::io::{self, Write};

use oomlens_analysis::rank_rules::{Choice, RuleEffect, RuleRow};
use oomlens_model::fields::{Field, Kind, Unit, Value};

use crate::escape::escape;

const fn field<R>(
    name: &'static str,
    unit: Unit,
    help: &'static str,
    column: Option<&'static str>,
    get: fn(&R) -> Value<'_>,
) -> Field<R> {
    Field {
        name,
        unit,
        kind: if matches!(unit, Unit::Text) {
            Kind::Info
        } else {
            Kind::Gauge
        },
        help,
        column,
        get,
    }
}

/// One domain before and after the rules.
pub static EFFECT_FIELDS: &[Field<RuleEffect>] = &[
    field(
        "cgroup",
        Unit::Text,
        "The domain's memory cgroup; null for the machine.",
        None,
        |e| Value::text(e.cgroup.as_deref()),
    ),
    field(
        "victim_now",
        Unit::Text,
        "The process the kernel kills now; null when none.",
        None,
        |e| {
            e.victim_now
                .as_ref()
                .map_or(Value::Missing, |c| Value::with_fields(c, CHOICE_FIELDS))
        },
    ),
    field(
        "victim_after",
        Unit::Text,
        "The process the kernel kills once the rules' adj values are set; null when none.",
        None,
        |e| {
            e.victim_after
                .as_ref()
                .map_or(Value::Missing, |c| Value::with_fields(c, CHOICE_FIELDS))
        },
    ),
    field(
        "rows",
        Unit::Text,
        "The domain's processes a rule matches, in kill order after the rules.",
        None,
        |e| {
            Value::tuple(
                e.rows
                    .iter()
                    .map(|r| Value::with_fields(r, ROW_FIELDS))
                    .collect(),
            )
        },
    ),
];

/// A process the kernel would kill.
pub static CHOICE_FIELDS: &[Field<Choice>] = &[
    field("pid", Unit::Count, "Its pid.", None, |c| c.pid.into()),
    field("comm", Unit::Text, "Its comm.", None, |c| {
        Value::Str(&c.comm)
    }),
    field("points", Unit::Count, "Its badness points.", None, |c| {
        c.points.into()
    }),
];

/// A process a rule matches.
pub static ROW_FIELDS: &[Field<RuleRow>] = &[
    field("pid", Unit::Count, "Its pid.", Some("PID"), |r| {
        r.pid.into()
    }),
    field("comm", Unit::Text, "Its comm.", Some("COMM"), |r| {
        Value::Str(&r.comm)
    }),
    field(
        "rule",
        Unit::Text,
        "The first rule that matches it.",
        Some("RULE"),
        |r| Value::Str(&r.rule),
    ),
    field(
        "adj_now",
        Unit::Count,
        "Its oom_score_adj now.",
        Some("ADJ NOW"),
        |r| r.adj_now.into(),
    ),
    field(
        "adj_rule",
        Unit::Count,
        "The rule's oom_score_adj.",
        Some("ADJ RULE"),
        |r| r.adj_rule.into(),
    ),
    field(
        "points_now",
        Unit::Count,
        "Badness points now; null when never killed (adj -1000).",
        Some("POINTS NOW"),
        |r| r.points_now.into(),
    ),
    field(
        "points_after",
        Unit::Count,
        "Badness points after the rule; null when never killed then.",
        Some("POINTS AFTER"),
        |r| r.points_after.into(),
    ),
];

/// The `rules` value of the JSON document.
pub fn json_value(effects: &[RuleEffect]) -> Value<'_> {
    Value::tuple(
        effects
            .iter()
            .map(|e| Value::with_fields(e, EFFECT_FIELDS))
            .collect(),
    )
}

fn cell(v: Value<'_>) -> String {
    match v {
        Value::Missing | Value::Absent => "never".into(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Str(s) => escape(s).into_owned(),
        Value::String(s) => escape(&s).into_owned(),
        Value::F64(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::List(_) | Value::Record(_) => "…".into(),
    }
}

fn choice(c: Option<&Choice>) -> String {
    c.map_or("nothing".into(), |c| {
        format!("{} ({}, {} points)", c.pid, escape(&c.comm), c.points)
    })
}

/// The text section: per domain, the kernel's choice now and after the rules, and the
/// matched processes as a table.
pub fn write_text(out: &mut dyn Write, config: &str, effects: &[RuleEffect]) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "with the protect rules of {}:", escape(config))?;
    for e in effects {
        let name = match &e.cgroup {
            Some(c) => format!("memory cgroup {}", escape(c)),
            None => "machine".into(),
        };
        let (now, after) = (e.victim_now.as_ref(), e.victim_after.as_ref());
        let verb = if now.map(|c| c.pid) == after.map(|c| c.pid) {
            "still"
        } else {
            "instead"
        };
        writeln!(
            out,
            "{name}: the kernel kills {} now; after the rules, {verb} {}",
            choice(now),
            choice(after)
        )?;
        if e.rows.is_empty() {
            writeln!(out, "  no process here matches a rule")?;
            continue;
        }
        let cells: Vec<Vec<String>> = e
            .rows
            .iter()
            .map(|r| ROW_FIELDS.iter().map(|f| cell((f.get)(r))).collect())
            .collect();
        let titles: Vec<&str> = ROW_FIELDS
            .iter()
            .map(|f| f.column.unwrap_or(f.name))
            .collect();
        let widths: Vec<usize> = (0..titles.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([titles[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: Vec<&str>| {
            let mut s = String::from(" ");
            for (i, c) in row.iter().enumerate() {
                let w = widths[i];
                // Text columns (comm, rule) left, numbers right.
                if ROW_FIELDS[i].unit == Unit::Text {
                    s.push_str(&format!(" {c:<w$}"));
                } else {
                    s.push_str(&format!(" {c:>w$}"));
                }
            }
            s.trim_end().to_string()
        };
        writeln!(out, "{}", line(titles.clone()))?;
        for r in &cells {
            writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
        }
    }
    Ok(())
}
