//! Human-readable incident blocks for a terminal.
//!
//! Every string that came from a log (comm, cgroup paths, units, hosts) goes through
//! [`escape`] before it is written.
//!
//! A record's fields shown with a label (a kill's sizes, the memcg counters, the terms of a
//! ranked row's badness) are read through the record's field table, the one the JSON is
//! written from: the label is the field's column title and the unit decides the format, so
//! text and JSON cannot name or read a field differently.

use std::io::{self, Write};

use oomlens_analysis::explain::{Explanation, Severity};
use oomlens_analysis::victim::Ranking;
use oomlens_model::fields::{Field, Record, Unit, Value};
use oomlens_model::{Incident, Kill, KillEvidence, Kind, MemcgCounter};

use crate::escape::escape;
use crate::explain_fields::RANK_ROW_FIELDS;

/// Text output options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// Bold headlines (off when NO_COLOR is set or output is no terminal).
    pub color: bool,
}

/// KiB as a human size.
pub fn human_kb(kb: u64) -> String {
    human_bytes(kb.saturating_mul(1024))
}

/// Bytes as a human size, binary units.
pub fn human_bytes(b: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn opt(s: Option<&str>) -> String {
    s.map(|s| escape(s).into_owned())
        .unwrap_or_else(|| "?".into())
}

fn who(k: &Kill) -> String {
    match (k.comm.as_deref(), k.pid) {
        (Some(c), Some(p)) => format!("{} (pid {p})", escape(c)),
        (Some(c), None) => escape(c).into_owned(),
        (None, Some(p)) => format!("pid {p}"),
        (None, None) => k
            .cgroup
            .as_deref()
            .map(|c| escape(c).into_owned())
            .unwrap_or_else(|| "?".into()),
    }
}

/// The one-line headline of an incident, with what its explanation adds (owner, limit,
/// how many kills of the same workload this hour).
pub fn headline(inc: &Incident, expl: Option<&Explanation>) -> String {
    let owner = expl.and_then(|e| e.owner.as_ref()).and_then(|o| o.label());
    let place = |fallback: Option<&str>| match &owner {
        Some(o) => escape(o).into_owned(),
        None => opt(fallback),
    };
    let domain = match inc.kind {
        Some(Kind::Memcg) => format!("memcg OOM in {}", place(inc.oom_memcg.as_deref())),
        Some(Kind::Global) => "global OOM".to_string(),
        Some(Kind::Cpuset) => format!("cpuset OOM (cpuset {})", opt(inc.cpuset.as_deref())),
        Some(Kind::MemoryPolicy) => "mempolicy OOM".to_string(),
        Some(Kind::SystemdOomd) => {
            format!("systemd-oomd kill in {}", place(inc.task_memcg.as_deref()))
        }
        Some(Kind::Earlyoom) => "earlyoom kill".to_string(),
        Some(Kind::Kubelet) => "kubelet".to_string(),
        Some(Kind::SystemdNotice) => "systemd reports an OOM kill".to_string(),
        Some(Kind::OomlensGuard) => {
            format!(
                "oomlens guard pre-emption in {}",
                place(inc.task_memcg.as_deref())
            )
        }
        None => "OOM report".to_string(),
    };
    let Some(v) = inc.victim() else {
        return format!("{domain}: no kill in the input");
    };
    let verb = match inc.kind {
        Some(Kind::Earlyoom | Kind::OomlensGuard) => {
            format!("sent {}", v.signal.as_deref().unwrap_or("a signal"))
        }
        Some(Kind::Kubelet) => v.reason.as_deref().unwrap_or("killed").to_string(),
        _ => "killed".to_string(),
    };
    let mut s = format!("{domain}: {} {verb}", who(v));
    if inc.kind == Some(Kind::Memcg) {
        if let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) {
            s.push_str(&format!(" at {} limit", human_kb(m.limit_kb)));
        }
    }
    if inc.kills.len() > 1 {
        s.push_str(&format!(" (+{} more)", inc.kills.len() - 1));
    }
    if let Some(l) = expl.and_then(|e| e.restart_loop.as_ref()) {
        s.push_str(&format!(", {} kill this hour", ordinal(l.in_last_hour)));
    }
    s
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Write one incident block: headline, facts, why, what filled the memory, findings, advice.
pub fn write_incident(
    w: &mut impl Write,
    inc: &Incident,
    expl: Option<&Explanation>,
    style: TextStyle,
) -> io::Result<()> {
    let head = headline(inc, expl);
    if style.color {
        writeln!(w, "\x1b[1m{head}\x1b[0m")?;
    } else {
        writeln!(w, "{head}")?;
    }
    let when = inc
        .time
        .utc
        .as_deref()
        .or(inc.time.local.as_deref())
        .map(str::to_string)
        .or_else(|| {
            inc.time
                .monotonic_us
                .map(|us| format!("{:.6} s after boot", us as f64 / 1e6))
        });
    match (when, &inc.host) {
        (Some(when), Some(h)) => writeln!(w, "  when:     {when} on {}", escape(h))?,
        (Some(when), None) => writeln!(w, "  when:     {when}")?,
        // A log with a host but no usable time still says where it happened.
        (None, Some(h)) => writeln!(w, "  host:     {}", escape(h))?,
        (None, None) => {}
    }
    if let Some(cg) = inc.task_memcg.as_deref().or(inc.oom_memcg.as_deref()) {
        writeln!(w, "  cgroup:   {}", escape(cg))?;
    }
    if let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) {
        writeln!(w, "  memcg:    {}", memcg_line(&m))?;
    }
    for k in &inc.kills {
        let sizes = kill_sizes(k);
        let sep = if sizes.is_empty() { "" } else { " " };
        let note = match k.evidence {
            Some(KillEvidence::Selection) => " (chosen; its Killed line is not in the input)",
            Some(KillEvidence::OomKillLine) => {
                " (from the oom-kill: summary; no Killed line in the input)"
            }
            Some(KillEvidence::Reaper) => " (only the oom_reaper line survived)",
            _ => "",
        };
        writeln!(w, "  killed:   {}{sep}{sizes}{note}", who(k))?;
    }
    if let Some(inv) = &inc.invoker {
        if inv.comm.is_some() || inv.gfp_mask.is_some() {
            let pid = inv.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            writeln!(
                w,
                "  invoker:  {}{pid} gfp_mask={} order={}{}",
                opt(inv.comm.as_deref()),
                opt(inv.gfp_mask.as_deref()),
                inv.order
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "?".into()),
                inc.constraint
                    .as_deref()
                    .map(|c| format!(" {}", escape(c)))
                    .unwrap_or_default()
            )?;
        }
    }
    if let Some(t) = &inc.oomd_trigger {
        writeln!(
            w,
            "  trigger:  {} {} > {} for {}",
            escape(&t.reason),
            opt(t.value.as_deref()),
            opt(t.limit.as_deref()),
            opt(t.duration.as_deref())
        )?;
    }
    for n in &inc.notices {
        writeln!(w, "  systemd:  {}: {}", escape(&n.unit), notice_text(n))?;
    }
    if let Some(r) = expl.and_then(|e| e.ranking.as_ref()) {
        write_ranking(w, r)?;
    }
    if let Some(fill) = what_filled(inc) {
        writeln!(w, "  filled:   {fill}")?;
    }
    if let Some(e) = expl {
        for f in &e.findings {
            let mark = match f.severity {
                Severity::Critical => "!!",
                Severity::Warning => "! ",
                Severity::Info => "  ",
            };
            writeln!(w, "  {mark} {} [{}]", escape(&f.message), f.code)?;
        }
        for a in &e.advice {
            writeln!(w, "  -> {}", escape(&a.reason))?;
            if let Some(t) = &a.target {
                writeln!(w, "     # {}", escape(t))?;
            }
            for line in a.snippet.lines() {
                writeln!(w, "     {}", escape(line))?;
            }
        }
    }
    let file = inc.source.file.as_deref().unwrap_or("-");
    writeln!(
        w,
        "  source:   {}:{}-{} ({}{})",
        escape(file),
        inc.source.first_line,
        inc.source.last_line,
        inc.completeness.as_str(),
        inc.kernel_version
            .as_deref()
            .map(|v| format!(", kernel {}", escape(v)))
            .unwrap_or_default()
    )?;
    Ok(())
}

/// The kill's fields shown after its name, in this order; each is labelled with its
/// table's column title and formatted by its unit.
const KILL_DETAILS: &[&str] = &[
    "anon_rss_kb",
    "file_rss_kb",
    "shmem_rss_kb",
    "rss_kb",
    "oom_score_adj",
    "exit_code",
    "outcome",
];

fn kill_sizes(k: &Kill) -> String {
    KILL_DETAILS
        .iter()
        .filter_map(|name| labelled(Kill::fields(), k, name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The field `name` of `fields`; a name the table does not declare is a bug here, caught
/// by `text_fields_are_declared`.
fn declared<R>(fields: &'static [Field<R>], name: &str) -> &'static Field<R> {
    fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("text shows {name}, which no field table declares"))
}

/// `"<column title> <value>"` for the field `name` of `r`, `None` when it has no value.
fn labelled<R>(fields: &'static [Field<R>], r: &R, name: &str) -> Option<String> {
    let f = declared(fields, name);
    let value = shown(f.unit, &(f.get)(r))?;
    Some(match f.column {
        Some("") | None => value,
        Some(title) => format!("{title} {value}"),
    })
}

/// A value as text: sizes human-readable, text escaped; `None` when missing.
fn shown(unit: Unit, v: &Value<'_>) -> Option<String> {
    Some(match (unit, v) {
        (Unit::KiB, Value::U64(kb)) => human_kb(*kb),
        (Unit::Bytes, Value::U64(b)) => human_bytes(*b),
        (_, Value::U64(n)) => n.to_string(),
        (_, Value::I64(n)) => n.to_string(),
        (_, Value::F64(n)) => n.to_string(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Str(s)) => escape(s).into_owned(),
        (_, Value::String(s)) => escape(s).into_owned(),
        (_, Value::Missing | Value::Absent | Value::Record(_) | Value::List(_)) => return None,
    })
}

/// The terms of a ranked row's badness, each shown by its column title: `rss 10 + swap 0 +
/// pgtables 2 + adj 0` (pages, the adj as printed).
const RANK_TERMS: &[&str] = &["rss_pages", "swap_pages", "pgtable_pages", "oom_score_adj"];

/// The memcg `memory:` line's fields, each by its table's column title:
/// `usage 1.0 GiB of limit 1.0 GiB (failcnt 3)`.
fn memcg_line(m: &MemcgCounter) -> String {
    let fields = MemcgCounter::fields();
    let part = |name| labelled(fields, m, name).unwrap_or_default();
    format!(
        "{} of {} ({})",
        part("usage_kb"),
        part("limit_kb"),
        part("failcnt")
    )
}

fn notice_text(n: &oomlens_model::Notice) -> String {
    use oomlens_model::NoticeKind as N;
    match n.kind {
        N::ProcessKilledByOomKiller => "a process was killed by the OOM killer".into(),
        N::FailedOomKill => "failed with result 'oom-kill'".into(),
        N::OomdKilled => format!(
            "systemd-oomd killed {} process(es)",
            n.count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "some".into())
        ),
        N::MainProcessKilled => "main process killed (SIGKILL)".into(),
        N::ScheduledRestart => format!("restart scheduled, counter {}", n.count.unwrap_or(0)),
    }
}

fn write_ranking(w: &mut impl Write, r: &Ranking) -> io::Result<()> {
    let verdict = if r.agrees {
        "the kernel's choice, recomputed".to_string()
    } else {
        format!(
            "differs from the kernel's choice: {}",
            r.disagreement.as_deref().unwrap_or("?")
        )
    };
    writeln!(
        w,
        "  why:      badness = rss + swap + page tables + oom_score_adj x {} pages/1000; {verdict}",
        r.domain_pages
    )?;
    for (i, row) in r.top.iter().enumerate() {
        let points = row
            .points
            .map(|p| p.to_string())
            .unwrap_or_else(|| "never".into());
        let lead = match (i, row.points, r.top.get(1).and_then(|n| n.points)) {
            (0, Some(a), Some(b)) => format!(", leads by {}", a - b),
            _ => String::new(),
        };
        writeln!(
            w,
            "            #{} {} (pid {}): {points} points = {}; decided by {:?}{lead}",
            i + 1,
            escape(&row.comm),
            row.pid,
            RANK_TERMS
                .iter()
                .filter_map(|name| labelled(RANK_ROW_FIELDS, row, name))
                .collect::<Vec<_>>()
                .join(" + "),
            row.deciding
        )?;
    }
    if !r.assumptions.is_empty() {
        writeln!(
            w,
            "            (assumed: {})",
            escape(&r.assumptions.join("; "))
        )?;
    }
    Ok(())
}

/// Where the memory was: the victim's anon/file/shmem, and the cgroup's memory.stat split.
fn what_filled(inc: &Incident) -> Option<String> {
    let st = inc.memory_stat.as_ref()?;
    let mut parts = Vec::new();
    for (label, keys) in [
        ("anon", &["total_rss", "rss", "anon"][..]),
        ("page cache", &["total_cache", "cache", "file"][..]),
        ("shmem", &["total_shmem", "shmem"][..]),
        ("kernel", &["kernel", "slab"][..]),
    ] {
        if let Some(b) = keys.iter().find_map(|k| st.bytes(k)) {
            parts.push(format!("{label} {}", human_bytes(b)));
        }
    }
    (!parts.is_empty()).then(|| format!("cgroup memory.stat: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_declared() {
        for name in KILL_DETAILS {
            assert!(declared(Kill::fields(), name).column.is_some(), "{name}");
        }
        for name in RANK_TERMS {
            assert!(declared(RANK_ROW_FIELDS, name).column.is_some(), "{name}");
        }
        for name in ["usage_kb", "limit_kb", "failcnt"] {
            assert!(
                declared(MemcgCounter::fields(), name).column.is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn kill_details_are_labelled_by_their_column_and_formatted_by_their_unit() {
        let k = Kill {
            anon_rss_kb: Some(2048),
            shmem_rss_kb: Some(0),
            oom_score_adj: Some(-998),
            exit_code: Some(137),
            outcome: Some("exited\x1b".into()),
            ..Kill::default()
        };
        assert_eq!(
            kill_sizes(&k),
            "anon 2.0 MiB, shmem 0 B, oom_score_adj -998, exit code 137, exited\\x1b"
        );
        let m = MemcgCounter {
            usage_kb: 1024,
            limit_kb: 1 << 20,
            failcnt: 3,
        };
        assert_eq!(memcg_line(&m), "usage 1.0 MiB of limit 1.0 GiB (failcnt 3)");
    }
}
