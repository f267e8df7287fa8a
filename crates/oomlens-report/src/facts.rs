//! The text of a report's incident sections, shared by the HTML and Markdown writers:
//! headline, owner, facts, why this victim, what filled the memory, findings, advice, the
//! recorded window, raw lines. Strings here are not escaped for any output form (the
//! headline's control characters already are); each writer escapes every string it writes.

use oomlens_analysis::finding_codes::Severity;
use oomlens_analysis::timeline::recording;
use oomlens_model::Incident;
use oomlens_sinks::recorded::{mib_per_min, relative_text};
use oomlens_sinks::text::{headline, human_bytes, human_kb};

use crate::series;
use crate::ReportIncident;

/// Label and value.
pub type Row = (&'static str, String);

/// The "why this victim" table: the kernel's badness recomputed.
#[derive(Debug, Clone, PartialEq)]
pub struct Why {
    /// Whether it agrees with the kernel's choice, and the formula.
    pub verdict: String,
    /// One row per ranked process, cells in the order of [`WHY_COLUMNS`].
    pub rows: Vec<Vec<String>>,
}

/// The columns of [`Why::rows`].
pub const WHY_COLUMNS: [&str; 9] = [
    "#",
    "process",
    "pid",
    "points",
    "rss (pages)",
    "swap (pages)",
    "page tables (pages)",
    "oom_score_adj",
    "decided by",
];

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    /// `critical`, `warning`, `info`.
    pub severity: &'static str,
    /// Its stable code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq)]
pub struct AdviceRow {
    /// Why.
    pub reason: String,
    /// What to edit, where known.
    pub target: Option<String>,
    /// The snippet (lines).
    pub snippet: String,
}

/// Everything a writer shows of one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The headline, as `explain` prints it.
    pub headline: String,
    /// Where the incident came from.
    pub origin: String,
    /// Who owned the victim: unit, pod, container, cgroup.
    pub owner: Vec<Row>,
    /// When, where, the memcg counter, each kill, the invoker.
    pub facts: Vec<Row>,
    /// Why this victim, when the report printed a task table.
    pub why: Option<Why>,
    /// What filled the memory.
    pub filled: Vec<Row>,
    /// What the recording says (growth, time to the limit), when recorded.
    pub recorded: Vec<Row>,
    /// Findings.
    pub findings: Vec<FindingRow>,
    /// Advice.
    pub advice: Vec<AdviceRow>,
    /// The raw report lines.
    pub raw: Vec<String>,
}

fn kill_text(k: &oomlens_model::Kill) -> String {
    let who = match (k.comm.as_deref(), k.pid) {
        (Some(c), Some(p)) => format!("{c} (pid {p})"),
        (Some(c), None) => c.to_string(),
        (None, Some(p)) => format!("pid {p}"),
        // systemd-oomd kills a whole cgroup.
        (None, None) => k.cgroup.clone().unwrap_or_else(|| "?".into()),
    };
    let mut parts = vec![who];
    for (name, v) in [
        ("anon", k.anon_rss_kb),
        ("file", k.file_rss_kb),
        ("shmem", k.shmem_rss_kb),
    ] {
        if let Some(kb) = v {
            parts.push(format!("{name} {}", human_kb(kb)));
        }
    }
    if let Some(adj) = k.oom_score_adj {
        parts.push(format!("oom_score_adj {adj}"));
    }
    parts.join(", ")
}

fn owner_rows(i: &ReportIncident) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(o) = &i.explanation.owner {
        let fields: [(&'static str, Option<String>); 8] = [
            ("owner", o.label()),
            ("unit", o.unit.clone()),
            ("slice", o.slice.clone()),
            ("session", o.session.clone()),
            ("pod", o.pod_uid.clone()),
            ("QoS class", o.qos_class.clone()),
            ("container", o.container_id.clone()),
            ("runtime", o.runtime.clone()),
        ];
        rows.extend(fields.into_iter().filter_map(|(k, v)| Some((k, v?))));
    }
    let inc = &i.incident;
    if let Some(cg) = inc.task_memcg.as_deref().or(inc.oom_memcg.as_deref()) {
        rows.push(("cgroup", cg.to_string()));
    }
    if let Some(m) = inc
        .oom_memcg
        .as_deref()
        .filter(|m| Some(*m) != inc.task_memcg.as_deref())
    {
        rows.push(("limited cgroup", m.to_string()));
    }
    if rows.is_empty() {
        rows.push(("owner", "the machine (no cgroup in the report)".into()));
    }
    rows
}

fn fact_rows(inc: &Incident) -> Vec<Row> {
    let mut rows = Vec::new();
    let when = inc
        .time
        .utc
        .clone()
        .or_else(|| inc.time.local.clone())
        .or_else(|| {
            inc.time
                .monotonic_us
                .map(|us| format!("{:.6} s after boot", us as f64 / 1e6))
        });
    if let Some(w) = when {
        rows.push(("when", w));
    }
    if let Some(h) = &inc.host {
        rows.push(("host", h.clone()));
    }
    if let Some(k) = inc.kind {
        rows.push(("killer", k.as_str().to_string()));
    }
    if let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) {
        rows.push((
            "memcg",
            format!(
                "usage {} of limit {} (failcnt {})",
                human_kb(m.usage_kb),
                human_kb(m.limit_kb),
                m.failcnt
            ),
        ));
    }
    for k in &inc.kills {
        rows.push(("killed", kill_text(k)));
    }
    if let Some(inv) = &inc.invoker {
        if inv.comm.is_some() || inv.gfp_mask.is_some() {
            let mut s = inv.comm.clone().unwrap_or_else(|| "?".into());
            if let Some(p) = inv.pid {
                s.push_str(&format!(" (pid {p})"));
            }
            if let Some(g) = &inv.gfp_mask {
                s.push_str(&format!(" gfp_mask={g}"));
            }
            if let Some(o) = inv.order {
                s.push_str(&format!(" order={o}"));
            }
            if let Some(c) = &inc.constraint {
                s.push_str(&format!(" {c}"));
            }
            rows.push(("invoker", s));
        }
    }
    if let Some(t) = &inc.oomd_trigger {
        let v = |s: &Option<String>| s.clone().unwrap_or_else(|| "?".into());
        rows.push((
            "trigger",
            format!(
                "{} {} > {} for {}",
                t.reason,
                v(&t.value),
                v(&t.limit),
                v(&t.duration)
            ),
        ));
    }
    rows.push((
        "report",
        format!(
            "{} ({}{})",
            inc.source.format.as_deref().unwrap_or("log"),
            inc.completeness.as_str(),
            inc.kernel_version
                .as_deref()
                .map(|v| format!(", kernel {v}"))
                .unwrap_or_default()
        ),
    ));
    rows
}

fn why(i: &ReportIncident) -> Option<Why> {
    let r = i.explanation.ranking.as_ref()?;
    let verdict = format!(
        "badness = rss + swap + page tables + oom_score_adj x {} pages / 1000; {}",
        r.domain_pages,
        if r.agrees {
            "the kernel's choice, recomputed".to_string()
        } else {
            format!(
                "differs from the kernel's choice: {}",
                r.disagreement.as_deref().unwrap_or("?")
            )
        }
    );
    let rows = r
        .top
        .iter()
        .enumerate()
        .map(|(n, row)| {
            vec![
                (n + 1).to_string(),
                row.comm.clone(),
                row.pid.to_string(),
                row.points.map_or("never".into(), |p| p.to_string()),
                row.rss_pages.to_string(),
                row.swap_pages.to_string(),
                row.pgtable_pages.to_string(),
                row.oom_score_adj.to_string(),
                format!("{:?}", row.deciding),
            ]
        })
        .collect();
    Some(Why { verdict, rows })
}

fn filled(inc: &Incident) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    if let Some(b) = series::victim_bytes(inc) {
        rows.push(("victim RSS", human_bytes(b)));
    }
    if let Some(st) = inc.memory_stat.as_ref() {
        for (label, keys) in series::STAT_PARTS {
            if let Some((key, b)) = keys.iter().find_map(|k| Some((k, st.bytes(k)?))) {
                rows.push((label, format!("{} (memory.stat {key})", human_bytes(b))));
            }
        }
    }
    rows
}

fn recorded_rows(i: &ReportIncident) -> Vec<Row> {
    let Some((id, rec)) = &i.recorded else {
        return Vec::new();
    };
    let r = recording(*id, rec);
    let mut rows = vec![(
        "window",
        format!(
            "{} samples of {} every {}s (a {:.0}s window)",
            r.samples,
            r.cgroup.as_deref().unwrap_or("no cgroup"),
            r.interval,
            r.window_seconds
        ),
    )];
    if let Some(l) = r.limit {
        rows.push(("limit", human_bytes(l)));
    }
    for (name, at) in [("start", r.start), ("peak", r.peak), ("end", r.end)] {
        if let Some(at) = at {
            rows.push((
                name,
                format!("{} at {}", human_bytes(at.usage), relative_text(at.t)),
            ));
        }
    }
    if let Some(g) = &r.growth {
        let eta = g
            .limit_at
            .map(|t| {
                format!(
                    "; at that rate the limit is reached at {}",
                    relative_text(t)
                )
            })
            .unwrap_or_default();
        rows.push((
            "growth",
            format!("{} ({}){eta}", mib_per_min(g.rate), g.class),
        ));
    }
    for s in &r.signals {
        rows.push((
            "signal",
            format!(
                "{} {} {} {}",
                relative_text(s.t),
                s.source,
                s.cgroup,
                s.detail
            ),
        ));
    }
    rows
}

/// The section of one incident.
pub fn section(i: &ReportIncident) -> Section {
    let e = &i.explanation;
    Section {
        headline: headline(&i.incident, Some(e)),
        origin: i.origin.clone(),
        owner: owner_rows(i),
        facts: fact_rows(&i.incident),
        why: why(i),
        filled: filled(&i.incident),
        recorded: recorded_rows(i),
        findings: e
            .findings
            .iter()
            .map(|f| FindingRow {
                severity: match f.severity {
                    Severity::Critical => "critical",
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                },
                code: f.code,
                message: f.message.clone(),
            })
            .collect(),
        advice: e
            .advice
            .iter()
            .map(|a| AdviceRow {
                reason: a.reason.clone(),
                target: a.target.clone(),
                snippet: a.snippet.clone(),
            })
            .collect(),
        raw: i.raw.clone(),
    }
}

/// The report's title: the last incident's headline, or with several incidents of one
/// owner, how many kills of it.
pub fn title(report: &crate::Report) -> String {
    let Some(last) = report.incidents.last() else {
        return "no incident".into();
    };
    let n = report.incidents.len();
    if n == 1 {
        return headline(&last.incident, Some(&last.explanation));
    }
    let owners: Vec<String> = report.incidents.iter().map(series::owner_label).collect();
    if owners.iter().all(|o| *o == owners[0]) {
        format!("{n} OOM kills in {}", owners[0])
    } else {
        format!("{n} OOM incidents")
    }
}
