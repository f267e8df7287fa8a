//! `oomlens rank`'s outputs: the text report and the JSON document (schema `oomlens.rank/1`).
//!
//! Every JSON key and every column of the candidate table is an entry of a field table below
//! ([`REPORT_FIELDS`], [`DOMAIN_FIELDS`], [`RANKED_FIELDS`], [`VICTIM_FIELDS`],
//! [`GROUP_KILL_FIELDS`], [`PROTECTED_FIELDS`], [`DISAGREEMENT_FIELDS`]): the JSON writer
//! serializes the tables ([`Value::with_fields`]) and the text writer takes the candidate
//! columns' titles and values from [`RANKED_FIELDS`]. A test fails when a key or a column
//! exists outside them.
//!
//! ```json
//! {"schema":"oomlens.rank/1","kernel_release":"6.18.44","page_size":4096,
//!  "cgroup_version":"v1","processes":212,"processes_vanished":0,
//!  "domains":[{"cgroup":"/a/b" | null,"kind":"memcg"|"machine","limit_bytes":…,
//!    "usage_bytes":…,"headroom_bytes":…,"total_pages":…,"adj_pages_per_point":…,
//!    "candidates":[{"pid":…,"comm":…,"points":…,"oom_score_adj":…,"rss_bytes":…,…}],
//!    "victim":{…}|null,"protected":[…],"oom_score_disagreements":[…],"notes":[…]}]}
//! ```
//!
//! `candidates` are in kill order: the first dies first. Text is escaped before it reaches a
//! terminal (comm names and cgroup paths come from other users).

use std::io::{self, Write};

use oomlens_analysis::domains::{
    Disagreement, DisagreementReason, Domain, DomainKind, GroupKill, Note, Protected, Ranked,
    Victim,
};
use oomlens_model::fields::{Field, Kind, Unit, Value};
use oomlens_model::{CgroupVersion, System};
use serde::Serialize;

use crate::escape::escape;

/// The JSON document's schema name.
pub const SCHEMA: &str = "oomlens.rank/1";

/// How many candidates the text lists per domain.
pub const TEXT_ROWS: usize = 10;

/// What `rank` prints: the domains shown and what was read to find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankReport {
    /// The kernel release of the tree read.
    pub kernel_release: Option<String>,
    /// Its page size, bytes.
    pub page_size: u64,
    /// The memory controller's cgroup version; `None` when none is mounted.
    pub cgroup_version: Option<CgroupVersion>,
    /// Processes read.
    pub processes: usize,
    /// Processes that exited while being read.
    pub processes_vanished: usize,
    /// The domains shown, most endangered first.
    pub domains: Vec<Domain>,
    /// With `--config`: each shown domain before and after the protect rules
    /// ([`crate::rank_rules`]); the domains above are then ranked after the rules.
    pub rules: Option<Vec<oomlens_analysis::rank_rules::RuleEffect>>,
}

// ---------------------------------------------------------------------------------------
// The field tables

/// A unit enum's name as serde writes it (`"adj-scale"`, `"memcg"`): the derive on the
/// analysis type stays the one spelling of each name.
fn name_of<T: Serialize>(v: &T) -> Value<'static> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Value::String(s),
        _ => Value::Missing,
    }
}

fn text(s: Option<&str>) -> Value<'_> {
    s.map_or(Value::Missing, Value::Str)
}

/// A field that is a label or a nested record, never a metric.
const fn info<R>(
    name: &'static str,
    help: &'static str,
    column: Option<&'static str>,
    get: fn(&R) -> Value<'_>,
) -> Field<R> {
    Field {
        name,
        unit: Unit::Text,
        kind: Kind::Info,
        help,
        column,
        get,
    }
}

/// A gauge.
const fn gauge<R>(
    name: &'static str,
    unit: Unit,
    help: &'static str,
    column: Option<&'static str>,
    get: fn(&R) -> Value<'_>,
) -> Field<R> {
    Field {
        name,
        unit,
        kind: Kind::Gauge,
        help,
        column,
        get,
    }
}

/// The document's top level.
pub static REPORT_FIELDS: &[Field<RankReport>] = &[
    info("schema", "The schema of this document.", None, |_| {
        Value::Str(SCHEMA)
    }),
    info(
        "kernel_release",
        "The kernel release of the tree read.",
        None,
        |r| text(r.kernel_release.as_deref()),
    ),
    gauge("page_size", Unit::Bytes, "The page size.", None, |r| {
        r.page_size.into()
    }),
    info(
        "cgroup_version",
        "v1 or v2: where the memory controller is; null when none is mounted.",
        None,
        |r| text(r.cgroup_version.map(CgroupVersion::as_str)),
    ),
    gauge("processes", Unit::Count, "Processes read.", None, |r| {
        r.processes.into()
    }),
    gauge(
        "processes_vanished",
        Unit::Count,
        "Processes that exited while being read.",
        None,
        |r| r.processes_vanished.into(),
    ),
    info(
        "domains",
        "The OOM domains shown, most endangered first.",
        None,
        |r| {
            Value::tuple(
                r.domains
                    .iter()
                    .map(|d| Value::with_fields(d, DOMAIN_FIELDS))
                    .collect(),
            )
        },
    ),
    info(
        "rules",
        "With --config: each domain's victim now and after the protect rules, and the processes they match; absent without.",
        None,
        |r| {
            r.rules
                .as_deref()
                .map_or(Value::Absent, crate::rank_rules::json_value)
        },
    ),
];

/// One OOM domain.
pub static DOMAIN_FIELDS: &[Field<Domain>] = &[
    info(
        "cgroup",
        "The memory cgroup; null for the machine.",
        None,
        |d| text(d.cgroup.as_deref()),
    ),
    info("kind", "memcg or machine.", None, |d| name_of(&d.kind)),
    gauge(
        "limit_bytes",
        Unit::Bytes,
        "The cgroup's limit, or RAM + swap for the machine.",
        None,
        |d| d.limit_bytes.into(),
    ),
    gauge("usage_bytes", Unit::Bytes, "Charged now.", None, |d| {
        d.usage_bytes.into()
    }),
    gauge(
        "headroom_bytes",
        Unit::Bytes,
        "Limit minus usage.",
        None,
        |d| d.headroom_bytes.into(),
    ),
    gauge(
        "total_pages",
        Unit::Count,
        "The pages scores are weighed against (oc->totalpages).",
        None,
        |d| d.total_pages.into(),
    ),
    gauge(
        "adj_pages_per_point",
        Unit::Count,
        "Pages one point of oom_score_adj is worth here.",
        None,
        |d| d.adj_pages_per_point.into(),
    ),
    info("candidates", "Killable tasks, in kill order.", None, |d| {
        Value::tuple(
            d.candidates
                .iter()
                .map(|c| Value::with_fields(c, RANKED_FIELDS))
                .collect(),
        )
    }),
    info(
        "victim",
        "What dies first; null when nobody can.",
        None,
        |d| {
            d.victim
                .as_ref()
                .map_or(Value::Missing, |v| Value::with_fields(v, VICTIM_FIELDS))
        },
    ),
    info("protected", "Tasks the kernel never chooses.", None, |d| {
        Value::tuple(
            d.protected
                .iter()
                .map(|p| Value::with_fields(p, PROTECTED_FIELDS))
                .collect(),
        )
    }),
    info(
        "oom_score_disagreements",
        "Tasks /proc/PID/oom_score puts at or before the true victim.",
        None,
        |d| {
            Value::tuple(
                d.oom_score_disagreements
                    .iter()
                    .map(|g| Value::with_fields(g, DISAGREEMENT_FIELDS))
                    .collect(),
            )
        },
    ),
    info(
        "notes",
        "Settings that change what an OOM here does.",
        None,
        |d| Value::tuple(d.notes.iter().map(name_of).collect()),
    ),
    gauge(
        "kernel_threads_excluded",
        Unit::Count,
        "Kernel threads left out.",
        None,
        |d| d.kernel_threads_excluded.into(),
    ),
    gauge(
        "exited_excluded",
        Unit::Count,
        "Processes without an mm (zombies) left out.",
        None,
        |d| d.exited_excluded.into(),
    ),
];

/// One candidate; the entries with a column title are the text table's columns, in order.
pub static RANKED_FIELDS: &[Field<Ranked>] = &[
    info("pid", "The pid.", Some("PID"), |c| c.pid.into()),
    info("comm", "The task name.", Some("COMM"), |c| {
        Value::Str(&c.comm)
    }),
    gauge(
        "points",
        Unit::Count,
        "oom_badness() in this domain, pages.",
        Some("POINTS"),
        |c| c.points.into(),
    ),
    gauge(
        "memory_points",
        Unit::Count,
        "The memory part: rss + swap + page-table pages.",
        None,
        |c| c.memory_points.into(),
    ),
    gauge(
        "adj_points",
        Unit::Count,
        "The oom_score_adj part: adj * (totalpages / 1000).",
        None,
        |c| c.adj_points.into(),
    ),
    gauge(
        "oom_score_adj",
        Unit::Count,
        "oom_score_adj.",
        Some("ADJ"),
        |c| c.oom_score_adj.into(),
    ),
    gauge(
        "rss_bytes",
        Unit::Bytes,
        "Resident memory.",
        Some("RSS"),
        |c| c.rss_bytes.into(),
    ),
    gauge(
        "swap_bytes",
        Unit::Bytes,
        "Swapped out.",
        Some("SWAP"),
        |c| c.swap_bytes.into(),
    ),
    gauge(
        "pgtables_bytes",
        Unit::Bytes,
        "Page tables.",
        Some("PGTABLES"),
        |c| c.pgtables_bytes.into(),
    ),
    info("cgroup", "The task's memory cgroup.", None, |c| {
        text(c.cgroup.as_deref())
    }),
    gauge(
        "oom_score",
        Unit::Count,
        "/proc/PID/oom_score as read (scaled against RAM + swap).",
        Some("OOM_SCORE"),
        |c| c.oom_score.into(),
    ),
    info(
        "deciding",
        "The largest term of the score: rss, swap, page-tables or adj.",
        Some("decided by"),
        |c| name_of(&c.deciding),
    ),
    info(
        "oom_group",
        "The cgroup memory.oom.group would kill with it.",
        None,
        |c| text(c.oom_group.as_deref()),
    ),
];

/// What dies first.
pub static VICTIM_FIELDS: &[Field<Victim>] = &[
    info("pid", "The pid.", None, |v| v.pid.into()),
    info("comm", "The task name.", None, |v| Value::Str(&v.comm)),
    gauge("points", Unit::Count, "Its points.", None, |v| {
        v.points.into()
    }),
    info("runner_up", "The next candidate's pid.", None, |v| {
        v.runner_up.into()
    }),
    gauge(
        "lead_points",
        Unit::Count,
        "Points ahead of the runner-up.",
        None,
        |v| v.lead_points.map_or(Value::Missing, Value::I64),
    ),
    gauge("lead_bytes", Unit::Bytes, "The lead in bytes.", None, |v| {
        v.lead_bytes.into()
    }),
    gauge(
        "tie",
        Unit::Flag,
        "Equal points: the kernel takes the task it visits last.",
        None,
        |v| v.tie.into(),
    ),
    gauge(
        "close_call",
        Unit::Flag,
        "The lead is within the kernel's RSS counter skew.",
        None,
        |v| v.close_call.into(),
    ),
    gauge(
        "skew_pages",
        Unit::Count,
        "The skew bound used, pages.",
        None,
        |v| v.skew_pages.into(),
    ),
    info(
        "group_kill",
        "The cgroup that dies whole with it (memory.oom.group).",
        None,
        |v| {
            v.group_kill
                .as_ref()
                .map_or(Value::Missing, |g| Value::with_fields(g, GROUP_KILL_FIELDS))
        },
    ),
];

/// A memory.oom.group kill.
pub static GROUP_KILL_FIELDS: &[Field<GroupKill>] = &[
    info("cgroup", "The cgroup killed whole.", None, |g| {
        Value::Str(&g.cgroup)
    }),
    info("pids", "Its tasks that die, victim included.", None, |g| {
        Value::tuple(g.pids.iter().map(|&p| p.into()).collect())
    }),
];

/// A task never chosen.
pub static PROTECTED_FIELDS: &[Field<Protected>] = &[
    info("pid", "The pid.", None, |p| p.pid.into()),
    info("comm", "The task name.", None, |p| Value::Str(&p.comm)),
    info("cgroup", "The task's memory cgroup.", None, |p| {
        text(p.cgroup.as_deref())
    }),
    info(
        "reason",
        "adj-min, kernel-thread, init or oom-skip.",
        None,
        |p| name_of(&p.reason),
    ),
];

/// A task oom_score ranks at or before the true victim.
pub static DISAGREEMENT_FIELDS: &[Field<Disagreement>] = &[
    info("pid", "The pid.", None, |g| g.pid.into()),
    info("comm", "The task name.", None, |g| Value::Str(&g.comm)),
    gauge("oom_score", Unit::Count, "Its oom_score.", None, |g| {
        g.oom_score.into()
    }),
    gauge(
        "victim_oom_score",
        Unit::Count,
        "The true victim's oom_score.",
        None,
        |g| g.victim_oom_score.into(),
    ),
    info("reason", "adj-scale, resolution or stale.", None, |g| {
        name_of(&g.reason)
    }),
];

// ---------------------------------------------------------------------------------------
// JSON

/// Writes the JSON document, one line.
pub fn write_json(out: &mut dyn Write, report: &RankReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Value::with_fields(report, REPORT_FIELDS))?;
    writeln!(out)
}

// ---------------------------------------------------------------------------------------
// Text

/// Writes the text report: the domains, a blank line between them. `pid` is marked with
/// `*` in the candidate tables and listed even past [`TEXT_ROWS`].
pub fn write_text(
    out: &mut dyn Write,
    report: &RankReport,
    sys: &System,
    pid: Option<u32>,
) -> io::Result<()> {
    for (i, d) in report.domains.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_domain(out, d, sys, pid)?;
    }
    Ok(())
}

/// One domain: what it is, its notes, who dies first, the candidates, the rest.
fn write_domain(out: &mut dyn Write, d: &Domain, sys: &System, pid: Option<u32>) -> io::Result<()> {
    write_heading(out, d, sys.page_size)?;
    for n in &d.notes {
        writeln!(out, "  note: {}", note_text(*n))?;
    }
    if let Some(v) = &d.victim {
        write_victim(out, d, v)?;
    }
    write_candidates(out, &d.candidates, pid)?;
    write_protected(out, &d.protected)?;
    let machine_ppp =
        (sys.machine.mem_total_bytes + sys.machine.swap_total_bytes) / sys.page_size / 1000;
    write_disagreements(out, d, machine_ppp)?;
    if d.kernel_threads_excluded + d.exited_excluded > 0 {
        writeln!(
            out,
            "  left out: {} kernel threads, {} exited processes",
            d.kernel_threads_excluded, d.exited_excluded
        )?;
    }
    Ok(())
}

/// `1.5 GiB`, `12.0 MiB`, `4 KiB`, `512 B`.
pub fn size(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    if f >= K * K * K {
        format!("{:.1} GiB", f / (K * K * K))
    } else if f >= K * K {
        format!("{:.1} MiB", f / (K * K))
    } else if f >= K {
        format!("{:.0} KiB", f / K)
    } else {
        format!("{b} B")
    }
}

/// The domain's name, its limit and usage, and what one adj point is worth.
fn write_heading(out: &mut dyn Write, d: &Domain, page: u64) -> io::Result<()> {
    match d.kind {
        DomainKind::Machine => writeln!(out, "machine (global OOM: RAM + swap)")?,
        DomainKind::Memcg => writeln!(
            out,
            "memory cgroup {}",
            escape(d.cgroup.as_deref().unwrap_or("?"))
        )?,
    }
    let fill = d
        .fill()
        .map_or(String::new(), |f| format!(" ({:.0}% used)", f * 100.0));
    writeln!(
        out,
        "  limit {}, usage {}, headroom {}{fill}",
        size(d.limit_bytes),
        d.usage_bytes.map_or("?".into(), size),
        d.headroom_bytes.map_or("?".into(), size),
    )?;
    writeln!(
        out,
        "  scored against {} pages: 1 point of oom_score_adj = {} pages ({})",
        d.total_pages,
        d.adj_pages_per_point,
        size(d.adj_pages_per_point * page)
    )
}

fn note_text(n: Note) -> &'static str {
    match n {
        Note::OomKillDisabled => {
            "oom_kill_disable is set: nobody is killed, tasks wait at the limit"
        }
        Note::UnderOom => "under_oom: tasks are waiting at the limit now",
        Note::PanicOnOom => "vm.panic_on_oom: an OOM here panics the machine",
        Note::KillsAllocatingTask => {
            "vm.oom_kill_allocating_task: the allocating task is killed instead"
        }
        Note::NotHierarchical => "use_hierarchy 0: only this cgroup's own tasks count",
        Note::NoTasks => "no visible task in this domain",
    }
}

/// Who dies first, by how much, and what dies with it.
fn write_victim(out: &mut dyn Write, d: &Domain, v: &Victim) -> io::Result<()> {
    let lead = match (v.runner_up, v.lead_points) {
        (Some(r), Some(l)) => {
            let rc = d
                .candidates
                .get(1)
                .map_or(String::new(), |c| escape(&c.comm).into_owned());
            format!(
                ", ahead of {r} ({rc}) by {l} points ({})",
                size(v.lead_bytes.unwrap_or(0))
            )
        }
        _ => ", the only candidate".into(),
    };
    writeln!(
        out,
        "  dies first: {} ({}) with {} points{lead}",
        v.pid,
        escape(&v.comm),
        v.points
    )?;
    if v.tie {
        writeln!(
            out,
            "  tie: the kernel takes the task it visits last; the order shown is approximate"
        )?;
    } else if v.close_call {
        writeln!(
            out,
            "  close call: the lead is within the kernel's RSS counter skew ({} pages)",
            v.skew_pages.unwrap_or(0)
        )?;
    }
    if let Some(g) = &v.group_kill {
        let pids: Vec<String> = g.pids.iter().map(u32::to_string).collect();
        writeln!(
            out,
            "  memory.oom.group: all of {} dies with it: {}",
            escape(&g.cgroup),
            pids.join(" ")
        )?;
    }
    Ok(())
}

/// The title of the row-number column: a position in kill order, not a field.
pub const ROW_NUMBER_TITLE: &str = "#";

/// How one column of the candidate table is laid out; its title and value come from the
/// [`RANKED_FIELDS`] entry named `field`.
struct Layout {
    field: &'static str,
    width: usize,
    left: bool,
    /// The cell opens with the one-character marker slot: `*` on the row of the pid asked
    /// about, else (and in the header) a space.
    marker: bool,
    /// The text between the previous cell (and the marker) and this one.
    gap: &'static str,
}

const fn col(field: &'static str, width: usize, left: bool, gap: &'static str) -> Layout {
    Layout {
        field,
        width,
        left,
        marker: false,
        gap,
    }
}

/// The candidate table's columns after the row number.
const LAYOUT: &[Layout] = &[
    col("pid", 8, false, " "),
    Layout {
        marker: true,
        ..col("comm", 16, true, " ")
    },
    col("points", 10, false, " "),
    col("rss_bytes", 10, false, " "),
    col("swap_bytes", 9, false, " "),
    col("pgtables_bytes", 9, false, " "),
    col("oom_score_adj", 5, false, " "),
    col("oom_score", 9, false, " "),
    col("deciding", 0, true, "  "),
];

fn field_named(name: &str) -> &'static Field<Ranked> {
    RANKED_FIELDS
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("rank layout names {name:?}, which RANKED_FIELDS lacks"))
}

/// A cell's text: sizes for bytes, `?` for a missing value, escaped text.
fn cell(f: &Field<Ranked>, v: Value<'_>) -> String {
    match v {
        Value::Missing | Value::Absent => "?".into(),
        Value::U64(b) if f.unit == Unit::Bytes => size(b),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Str(s) => escape(s).into_owned(),
        Value::String(s) => escape(&s).into_owned(),
        Value::F64(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::List(_) | Value::Record(_) => "…".into(),
    }
}

/// Appends one cell: the marker slot if the column has one, the gap, the padded text.
fn push_cell(out: &mut String, l: &Layout, marked: bool, text: &str) {
    use std::fmt::Write as _;
    if l.marker {
        out.push(if marked { '*' } else { ' ' });
    }
    out.push_str(l.gap);
    let w = l.width;
    // Writing to a String cannot fail.
    let _ = if l.left {
        write!(out, "{text:<w$}")
    } else {
        write!(out, "{text:>w$}")
    };
}

/// The first [`TEXT_ROWS`] candidates (and the wanted pid wherever it ranks) as a table.
fn write_candidates(out: &mut dyn Write, cands: &[Ranked], pid: Option<u32>) -> io::Result<()> {
    if !cands.is_empty() {
        let mut line = format!("  {ROW_NUMBER_TITLE:>3}");
        for l in LAYOUT {
            let title = field_named(l.field).column.unwrap_or(l.field);
            push_cell(&mut line, l, false, title);
        }
        writeln!(out, "{line}")?;
    }
    for (i, c) in cands.iter().enumerate() {
        let wanted = pid == Some(c.pid);
        if i >= TEXT_ROWS && !wanted {
            continue;
        }
        let mut line = format!("  {:>3}", i + 1);
        for l in LAYOUT {
            let f = field_named(l.field);
            push_cell(&mut line, l, wanted, &cell(f, (f.get)(c)));
        }
        writeln!(out, "{line}")?;
    }
    if cands.len() > TEXT_ROWS {
        writeln!(
            out,
            "  … {} more (--json lists all)",
            cands.len() - TEXT_ROWS
        )?;
    }
    Ok(())
}

fn write_protected(out: &mut dyn Write, protected: &[Protected]) -> io::Result<()> {
    if protected.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = protected
        .iter()
        .map(|p| {
            let why = name_of(&p.reason);
            let why = why.as_str().unwrap_or_default();
            format!("{} ({}, {why})", p.pid, escape(&p.comm))
        })
        .collect();
    writeln!(out, "  never killed: {}", list.join(", "))
}

/// Up to five tasks `ps --sort=-oom_score` would wrongly put first, and why.
fn write_disagreements(out: &mut dyn Write, d: &Domain, machine_ppp: u64) -> io::Result<()> {
    for g in d.oom_score_disagreements.iter().take(5) {
        let why = match g.reason {
            DisagreementReason::AdjScale => format!(
                "oom_score weighs oom_score_adj against RAM + swap ({machine_ppp} pages per point), \
                 this domain against its size ({} pages per point)",
                d.adj_pages_per_point
            ),
            DisagreementReason::Resolution => {
                "equal oom_score: its 2/3-per-mille steps of RAM + swap hide the gap".into()
            }
            DisagreementReason::Stale => "memory changed between the reads".into(),
        };
        writeln!(
            out,
            "  oom_score misleads: {} ({}) shows {} >= the victim's {}: {why}",
            g.pid,
            escape(&g.comm),
            g.oom_score,
            g.victim_oom_score
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_analysis::badness::{Term, Unkillable};
    use oomlens_model::Machine;
    use std::collections::BTreeSet;

    fn ranked(pid: u32, comm: &str, points: i64, adj: i32) -> Ranked {
        Ranked {
            pid,
            comm: comm.into(),
            points,
            memory_points: points - i64::from(adj) * 16,
            adj_points: i64::from(adj) * 16,
            oom_score_adj: adj,
            rss_bytes: 40 << 20,
            swap_bytes: 0,
            pgtables_bytes: 8192,
            cgroup: Some("/box".into()),
            oom_score: (pid != 11).then_some(693),
            deciding: Term::Rss,
            oom_group: Some("/box".into()),
        }
    }

    /// A domain in which every nested record and list is present, so every table is used.
    fn domain() -> Domain {
        Domain {
            cgroup: Some("/box".into()),
            kind: DomainKind::Memcg,
            limit_bytes: 64 << 20,
            usage_bytes: Some(50 << 20),
            headroom_bytes: Some(14 << 20),
            total_pages: 16384,
            adj_pages_per_point: 16,
            candidates: vec![
                ranked(10, "big\x1b[2J", 10240, 0),
                ranked(11, "small", 3648, -100),
            ],
            victim: Some(Victim {
                pid: 10,
                comm: "big\x1b[2J".into(),
                points: 10240,
                runner_up: Some(11),
                lead_points: Some(6592),
                lead_bytes: Some(6592 * 4096),
                tie: false,
                close_call: false,
                skew_pages: Some(384),
                group_kill: Some(GroupKill {
                    cgroup: "/box".into(),
                    pids: vec![10, 11],
                }),
            }),
            protected: vec![Protected {
                pid: 12,
                comm: "guard".into(),
                cgroup: Some("/box".into()),
                reason: Unkillable::AdjMin,
            }],
            oom_score_disagreements: vec![Disagreement {
                pid: 11,
                comm: "small".into(),
                oom_score: 741,
                victim_oom_score: 693,
                reason: DisagreementReason::AdjScale,
            }],
            notes: vec![Note::UnderOom],
            kernel_threads_excluded: 1,
            exited_excluded: 0,
        }
    }

    fn report() -> RankReport {
        RankReport {
            kernel_release: Some("6.18.44".into()),
            page_size: 4096,
            cgroup_version: Some(CgroupVersion::V1),
            processes: 5,
            processes_vanished: 0,
            domains: vec![domain()],
            rules: Some(vec![oomlens_analysis::rank_rules::RuleEffect {
                cgroup: Some("/box".into()),
                victim_now: None,
                victim_after: Some(oomlens_analysis::rank_rules::Choice {
                    pid: 10,
                    comm: "big".into(),
                    points: 10240,
                }),
                rows: vec![oomlens_analysis::rank_rules::RuleRow {
                    pid: 10,
                    comm: "big".into(),
                    rule: "batch".into(),
                    adj_now: 0,
                    adj_rule: 500,
                    points_now: None,
                    points_after: Some(10240),
                }],
            }]),
        }
    }

    fn names<R>(table: &[Field<R>]) -> BTreeSet<String> {
        table.iter().map(|f| f.name.to_string()).collect()
    }

    fn keys(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_json_key_is_a_table_entry() {
        let mut out = Vec::new();
        write_json(&mut out, &report()).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(keys(&doc), names(REPORT_FIELDS));
        let d = &doc["domains"][0];
        assert_eq!(keys(d), names(DOMAIN_FIELDS));
        for c in d["candidates"].as_array().unwrap() {
            assert_eq!(keys(c), names(RANKED_FIELDS));
        }
        assert_eq!(keys(&d["victim"]), names(VICTIM_FIELDS));
        assert_eq!(keys(&d["victim"]["group_kill"]), names(GROUP_KILL_FIELDS));
        assert_eq!(keys(&d["protected"][0]), names(PROTECTED_FIELDS));
        let rules = &doc["rules"][0];
        assert_eq!(keys(rules), names(crate::rank_rules::EFFECT_FIELDS));
        assert_eq!(
            keys(&rules["rows"][0]),
            names(crate::rank_rules::ROW_FIELDS)
        );
        assert_eq!(
            keys(&rules["victim_after"]),
            names(crate::rank_rules::CHOICE_FIELDS)
        );
        assert!(rules["victim_now"].is_null());
        assert_eq!(
            keys(&d["oom_score_disagreements"][0]),
            names(DISAGREEMENT_FIELDS)
        );
        // Values as the contract gives them (checked by hand against the domain above).
        assert_eq!(doc["schema"], "oomlens.rank/1");
        assert_eq!(doc["cgroup_version"], "v1");
        assert_eq!(d["kind"], "memcg");
        assert_eq!(d["notes"][0], "under-oom");
        assert_eq!(d["candidates"][1]["oom_score_adj"], -100);
        assert_eq!(d["candidates"][1]["oom_score"], serde_json::Value::Null);
        assert_eq!(d["candidates"][0]["deciding"], "rss");
        assert_eq!(d["candidates"][0]["comm"], "big\x1b[2J");
        assert_eq!(
            d["victim"]["group_kill"]["pids"],
            serde_json::json!([10, 11])
        );
        assert_eq!(d["protected"][0]["reason"], "adj-min");
        assert_eq!(d["oom_score_disagreements"][0]["reason"], "adj-scale");
    }

    fn system() -> System {
        System {
            page_size: 4096,
            release: Some("6.18.44".into()),
            version: CgroupVersion::V1,
            machine: Machine {
                mem_total_bytes: 1 << 30,
                ..Machine::default()
            },
            tasks: Vec::new(),
            cgroups: Vec::new(),
            global_init: Some(1),
        }
    }

    #[test]
    fn every_text_column_is_a_table_column() {
        let mut out = Vec::new();
        write_text(&mut out, &report(), &system(), Some(11)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let header = text
            .lines()
            .find(|l| l.trim_start().starts_with(ROW_NUMBER_TITLE))
            .unwrap();
        // The header is the row number, then the table's column titles in layout order.
        let mut want = vec![ROW_NUMBER_TITLE];
        for l in LAYOUT {
            let title = field_named(l.field)
                .column
                .expect("a laid-out field has a title");
            want.extend(title.split_whitespace());
        }
        assert_eq!(header.split_whitespace().collect::<Vec<_>>(), want);
        // Every field with a column title is laid out, and only those.
        let laid: BTreeSet<&str> = LAYOUT.iter().map(|l| l.field).collect();
        let with_title: BTreeSet<&str> = RANKED_FIELDS
            .iter()
            .filter(|f| f.column.is_some())
            .map(|f| f.name)
            .collect();
        assert_eq!(laid, with_title);
        // Rows: widths 3, 8, 16, 10, 10, 9, 9, 5, 9; escaped; the asked-for pid marked;
        // sizes for bytes; "?" for a missing oom_score.
        assert!(
            text.contains(
                "\n    1       10  big\\x1b[2J            10240   40.0 MiB       0 B     8 KiB     0       693  rss\n\
                 \x20   2       11* small                  3648   40.0 MiB       0 B     8 KiB  -100         ?  rss\n"
            ),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(3 << 19), "1.5 MiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
    }
}
