//! The output fields of an incident's explanation (`owner`, `ranking`, `findings`,
//! `advice`, `restart_loop`) and of the document's `summary`, declared once. The
//! explanation's types live in `oomlens-analysis`, which knows nothing of outputs, so their
//! tables live here; the incident's own tables are `oomlens_model::incident_fields`.
//!
//! [`EXPLAIN_TABLES`] lists every table of the `oomlens.explain/1` document with the JSON
//! path it is written at: the docs' field list is generated from it and a test checks every
//! key of the JSON against it.

use oomlens_analysis::badness::{RootBonus, Term};
use oomlens_analysis::explain::{Advice, Evidence, Explanation, Finding, LoopInfo, Severity};
use oomlens_analysis::owner::Owner;
use oomlens_analysis::victim::{RankRow, Ranking};
use oomlens_model::fields::{Field, Kind as K, Record, Unit as U, Value as V};
use oomlens_model::{
    Incident, Kill, LogTime, MemInfo, MemcgCounter, MemcgCounters, MemoryStat, Notice, OomdTrigger,
    Reap, Selection, StatEntry, TaskRow, TaskTable, Witness,
};

const fn text<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Text, K::Info, help, get)
}

const fn nested<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Record, K::Info, help, get)
}

const fn num<R>(name: &'static str, unit: U, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, unit, K::Gauge, help, get)
}

const fn id<R>(name: &'static str, help: &'static str, get: fn(&R) -> V<'_>) -> Field<R> {
    Field::new(name, U::Count, K::Info, help, get)
}

/// The fields an explanation adds to its incident's object.
pub static EXPLANATION_FIELDS: &[Field<Explanation>] = &[
    nested(
        "owner",
        "Who owns the victim's cgroup, read from its path, else null (see `owner`).",
        |e| {
            e.owner
                .as_ref()
                .map_or(V::Missing, |o| V::with_fields(o, OWNER_FIELDS))
        },
    ),
    nested(
        "ranking",
        "The kernel's choice re-computed from the task table, else null (see `ranking`).",
        |e| {
            e.ranking
                .as_ref()
                .map_or(V::Missing, |r| V::with_fields(r, RANKING_FIELDS))
        },
    ),
    nested(
        "findings",
        "Conclusions, most severe first (see `findings[]`).",
        |e| V::list(&e.findings, |f| V::with_fields(f, FINDING_FIELDS)),
    ),
    nested(
        "advice",
        "Changes to make, each answering a finding (see `advice[]`).",
        |e| V::list(&e.advice, |a| V::with_fields(a, ADVICE_FIELDS)),
    ),
    nested(
        "restart_loop",
        "The restart loop this kill belongs to, else null (see `restart_loop`).",
        |e| {
            e.restart_loop
                .as_ref()
                .map_or(V::Missing, |l| V::with_fields(l, LOOP_FIELDS))
        },
    ),
];

/// The fields of `owner`.
pub static OWNER_FIELDS: &[Field<Owner>] = &[
    text(
        "unit",
        "The innermost systemd unit that is not a slice (`foo.service`, `session-2.scope`).",
        |o| V::text(o.unit.as_deref()),
    ),
    text(
        "slice",
        "The innermost slice (`system.slice`, `app.slice`).",
        |o| V::text(o.slice.as_deref()),
    ),
    id("user_uid", "The uid of a `user-UID.slice` / `user@UID.service`.", |o| o.user_uid.into()),
    text(
        "session",
        "The login session number of `session-N.scope`.",
        |o| V::text(o.session.as_deref()),
    ),
    text("pod_uid", "Kubernetes pod UID.", |o| V::text(o.pod_uid.as_deref())),
    text(
        "qos_class",
        "Kubernetes QoS class: Guaranteed, Burstable, BestEffort.",
        |o| V::text(o.qos_class.as_deref()),
    ),
    text("container_id", "The container id.", |o| V::text(o.container_id.as_deref())),
    text(
        "runtime",
        "The runtime that named the container: docker, containerd, crio, podman, lxc.",
        |o| V::text(o.runtime.as_deref()),
    ),
    text(
        "live.unit_description",
        "`Description=` of the systemd unit, read from this host when explaining its own log; left out otherwise, `live` too when all its keys are.",
        |o| absent_unless(o.live.unit_description.as_deref()),
    ),
    text(
        "live.container_name",
        "The container's name, read from this host's container runtime; left out when unknown.",
        |o| absent_unless(o.live.container_name.as_deref()),
    ),
    text(
        "live.pod_name",
        "The pod's name, read from this host's kubelet directories; left out when unknown.",
        |o| absent_unless(o.live.pod_name.as_deref()),
    ),
    text(
        "live.pod_namespace",
        "The pod's namespace, read from this host's kubelet directories; left out when unknown.",
        |o| absent_unless(o.live.pod_namespace.as_deref()),
    ),
];

fn absent_unless(s: Option<&str>) -> V<'_> {
    s.map_or(V::Absent, V::Str)
}

/// The fields of `ranking`.
pub static RANKING_FIELDS: &[Field<Ranking>] = &[
    num(
        "domain_pages",
        U::Pages,
        "Size of the OOM domain (the kernel's `totalpages`).",
        |r| r.domain_pages.into(),
    ),
    num(
        "page_kb",
        U::KiB,
        "Page size used for the conversion.",
        |r| r.page_kb.into(),
    ),
    text(
        "formula.root_bonus",
        "How root tasks were favoured in that kernel's formula: none, adj30, three-percent.",
        |r| V::Str(root_bonus_name(r.formula.root_bonus)),
    ),
    Field::new(
        "formula.floor_one",
        U::Flag,
        K::Info,
        "Eligible tasks score at least 1 (before 5.9).",
        |r| r.formula.floor_one.into(),
    ),
    Field::new(
        "formula.per_mille",
        U::Flag,
        K::Info,
        "Scores in per mille of the domain (2.6.36–3.9).",
        |r| r.formula.per_mille.into(),
    ),
    nested(
        "top",
        "The top rows in kill order, at most five (see `ranking.top[]`).",
        |r| V::list(&r.top, |row| V::with_fields(row, RANK_ROW_FIELDS)),
    ),
    id("rows", "The number of rows ranked.", |r| r.rows.into()),
    id(
        "kernel_choice",
        "The pid the kernel chose (its selection, else its first kill).",
        |r| r.kernel_choice.into(),
    ),
    Field::new(
        "agrees",
        U::Flag,
        K::Info,
        "True when the re-computed first row is the kernel's choice.",
        |r| r.agrees.into(),
    ),
    text("disagreement", "Why they disagree, when they do.", |r| {
        V::text(r.disagreement.as_deref())
    }),
    Field::new(
        "assumptions",
        U::Text,
        K::Info,
        "What had to be assumed (swap headroom, page size, root approximated by uid 0).",
        |r| V::strs(&r.assumptions),
    ),
];

/// The fields of `ranking.top[]`.
pub static RANK_ROW_FIELDS: &[Field<RankRow>] = &[
    id("pid", "Pid.", |r| r.pid.into()),
    text("comm", "comm.", |r| V::Str(&r.comm)),
    num(
        "points",
        U::Count,
        "Badness points; null: never chosen (oom_score_adj -1000).",
        |r| r.points.into(),
    ),
    num::<RankRow>("rss_pages", U::Pages, "Resident pages.", |r| {
        r.rss_pages.into()
    })
    .column("rss"),
    num::<RankRow>("swap_pages", U::Pages, "Swap entries.", |r| {
        r.swap_pages.into()
    })
    .column("swap"),
    num::<RankRow>("pgtable_pages", U::Pages, "Page-table pages.", |r| {
        r.pgtable_pages.into()
    })
    .column("pgtables"),
    id::<RankRow>("oom_score_adj", "oom_score_adj.", |r| {
        r.oom_score_adj.into()
    })
    .column("adj"),
    text(
        "deciding",
        "The term that weighs most in the score: rss, swap, page-tables, adj.",
        |r| V::Str(term_name(r.deciding)),
    ),
    num(
        "per_mille",
        U::Count,
        "Points as a share of the domain, in per mille (the scale of /proc/PID/oom_score).",
        |r| r.per_mille.into(),
    ),
];

/// The fields of `findings[]`.
pub static FINDING_FIELDS: &[Field<Finding>] = &[
    text(
        "code",
        "Stable identifier; the codes are listed in the README.",
        |f| V::Str(f.code),
    ),
    text("severity", "info, warning or critical.", |f| {
        V::Str(severity_name(f.severity))
    }),
    text("message", "One sentence.", |f| V::Str(&f.message)),
    nested(
        "evidence",
        "The numbers it was derived from (see `findings[].evidence[]`).",
        |f| V::list(&f.evidence, |e| V::with_fields(e, EVIDENCE_FIELDS)),
    ),
];

/// The fields of `findings[].evidence[]`.
pub static EVIDENCE_FIELDS: &[Field<Evidence>] = &[
    text("name", "What was measured.", |e| V::Str(e.name)),
    num("value", U::Count, "Its value, in `unit`.", |e| {
        e.value.into()
    }),
    text("unit", "Its unit (KiB, pages, s, %, kills, …).", |e| {
        V::Str(e.unit)
    }),
];

/// The fields of `advice[]`.
pub static ADVICE_FIELDS: &[Field<Advice>] = &[
    text("finding", "The finding code it answers.", |a| {
        V::Str(a.finding)
    }),
    text("reason", "Why, in one sentence.", |a| V::Str(&a.reason)),
    text(
        "target",
        "Where it goes (a drop-in path, a manifest field), when known.",
        |a| V::text(a.target.as_deref()),
    ),
    text("snippet", "The text to copy.", |a| V::Str(&a.snippet)),
];

/// The fields of `restart_loop`.
pub static LOOP_FIELDS: &[Field<LoopInfo>] = &[
    text(
        "key",
        "The owner the kills share (unit, container, or cgroup).",
        |l| V::Str(&l.key),
    ),
    id(
        "nth",
        "This is the n-th kill of that owner in the input.",
        |l| l.nth.into(),
    ),
    num(
        "in_last_hour",
        U::Count,
        "Kills of the owner within the hour before this one, this one included.",
        |l| l.in_last_hour.into(),
    ),
    num(
        "mean_interval_s",
        U::Seconds,
        "Mean seconds between consecutive kills, when times are known.",
        |l| l.mean_interval_s.into(),
    ),
    num(
        "victim_kb",
        U::KiB,
        "Victim size (anon + file + shmem) of each kill so far, oldest first (the last 16).",
        |l| V::list(&l.victim_kb, |v| V::U64(*v)),
    ),
];

/// What was read from one input (`summary.inputs[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSummary {
    /// The input's name.
    pub name: String,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that were not valid UTF-8 and were decoded lossily.
    pub decoded_lines: u64,
    /// Lines longer than the reader's bound, cut.
    pub long_lines: u64,
    /// Incidents found in it.
    pub incidents: u64,
}

static INPUT_SUMMARY_FIELDS: &[Field<InputSummary>] = &[
    text(
        "name",
        "The input's name: a path, `-`, `kmsg` or `journal`.",
        |s| V::Str(&s.name),
    ),
    Field::new("bytes", U::Bytes, K::Counter, "Bytes read.", |s| {
        s.bytes.into()
    }),
    Field::new("lines", U::Count, K::Counter, "Lines read.", |s| {
        s.lines.into()
    }),
    Field::new(
        "decoded_lines",
        U::Count,
        K::Counter,
        "Lines that were not valid UTF-8 and were decoded lossily.",
        |s| s.decoded_lines.into(),
    ),
    Field::new(
        "long_lines",
        U::Count,
        K::Counter,
        "Lines longer than the reader's bound, cut.",
        |s| s.long_lines.into(),
    ),
    Field::new(
        "incidents",
        U::Count,
        K::Counter,
        "Incidents found in the input.",
        |s| s.incidents.into(),
    ),
];

impl Record for InputSummary {
    fn fields() -> &'static [Field<Self>] {
        INPUT_SUMMARY_FIELDS
    }
}

/// The document's `summary` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// One entry per input, in the order read.
    pub inputs: Vec<InputSummary>,
    /// Incidents written.
    pub incidents: u64,
    /// Incidents left out by --since/--until.
    pub filtered_out: u64,
    /// Incidents kept although they carry no wall-clock time to filter on.
    pub untimed: u64,
    /// /dev/kmsg records overwritten before they were read.
    pub kmsg_records_lost: u64,
    /// Warnings, as printed on standard error.
    pub warnings: Vec<String>,
}

static SUMMARY_FIELDS: &[Field<Summary>] = &[
    nested(
        "inputs",
        "One entry per input, in the order read (see `summary.inputs[]`).",
        |s| V::records(&s.inputs),
    ),
    Field::new(
        "incidents",
        U::Count,
        K::Counter,
        "Incidents written.",
        |s| s.incidents.into(),
    ),
    Field::new(
        "filtered_out",
        U::Count,
        K::Counter,
        "Incidents left out by --since/--until.",
        |s| s.filtered_out.into(),
    ),
    Field::new(
        "untimed",
        U::Count,
        K::Counter,
        "Incidents kept although they carry no wall-clock time to filter on.",
        |s| s.untimed.into(),
    ),
    Field::new(
        "kmsg_records_lost",
        U::Count,
        K::Counter,
        "/dev/kmsg records overwritten before they were read.",
        |s| s.kmsg_records_lost.into(),
    ),
    Field::new(
        "warnings",
        U::Text,
        K::Info,
        "Warnings, as printed on standard error.",
        |s| V::strs(&s.warnings),
    ),
];

impl Record for Summary {
    fn fields() -> &'static [Field<Self>] {
        SUMMARY_FIELDS
    }
}

/// One table of the document: the JSON paths its records are written at (`[]` marks the
/// items of a list) and its fields' names, units, kinds and help.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The JSON paths of the records (`incidents[]`, `incidents[].kills[]`, `summary`): a
    /// record type can be written in several places.
    pub paths: &'static [&'static str],
    /// Each field: name, unit, kind, help.
    pub fields: fn() -> Vec<FieldDoc>,
}

/// What the docs and the key test need of one field, whatever its record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDoc {
    /// The key (dotted for a nested object).
    pub name: &'static str,
    /// Its unit.
    pub unit: U,
    /// Gauge, counter or info.
    pub kind: K,
    /// The help text.
    pub help: &'static str,
}

fn docs<R: ?Sized>(fields: &[Field<R>]) -> Vec<FieldDoc> {
    fields
        .iter()
        .map(|f| FieldDoc {
            name: f.name,
            unit: f.unit,
            kind: f.kind,
            help: f.help,
        })
        .collect()
}

/// The document's own keys: `schema`, `incidents` and `summary`.
pub fn document_fields() -> Vec<FieldDoc> {
    let key = |name, unit, help| FieldDoc {
        name,
        unit,
        kind: K::Info,
        help,
    };
    vec![
        key(
            "schema",
            U::Text,
            "`oomlens.explain/1`: the document's schema and version.",
        ),
        key(
            "incidents",
            U::Record,
            "The incidents, in input order, each with its explanation (see `incidents[]`).",
        ),
        key("summary", U::Record, "What was read (see `summary`)."),
    ]
}

/// Every table of the `oomlens.explain/1` document, with the path its records are written
/// at. An incident's object holds the incident's fields followed by its explanation's.
pub static EXPLAIN_TABLES: &[Table] = &[
    Table {
        paths: &[""],
        fields: document_fields,
    },
    Table {
        paths: &["incidents[]"],
        fields: || docs(Incident::fields()),
    },
    Table {
        paths: &["incidents[]"],
        fields: || docs(EXPLANATION_FIELDS),
    },
    Table {
        paths: &["incidents[].kills[]"],
        fields: || docs(Kill::fields()),
    },
    Table {
        paths: &[
            "incidents[].kills[].reaped",
            "incidents[].unmatched_reaps[]",
        ],
        fields: || docs(Reap::fields()),
    },
    Table {
        paths: &[
            "incidents[].time",
            "incidents[].kills[].time",
            "incidents[].notices[].time",
        ],
        fields: || docs(LogTime::fields()),
    },
    Table {
        paths: &["incidents[].memcg"],
        fields: || docs(MemcgCounters::fields()),
    },
    Table {
        paths: &[
            "incidents[].memcg.memory",
            "incidents[].memcg.memsw",
            "incidents[].memcg.kmem",
            "incidents[].memcg.swap",
        ],
        fields: || docs(MemcgCounter::fields()),
    },
    Table {
        paths: &["incidents[].memory_stat"],
        fields: || docs(MemoryStat::fields()),
    },
    Table {
        paths: &["incidents[].memory_stat.entries[]"],
        fields: || docs(StatEntry::fields()),
    },
    Table {
        paths: &["incidents[].mem_info"],
        fields: || docs(MemInfo::fields()),
    },
    Table {
        paths: &["incidents[].task_table"],
        fields: || docs(TaskTable::fields()),
    },
    Table {
        paths: &["incidents[].task_table.rows[]"],
        fields: || docs(TaskRow::fields()),
    },
    Table {
        paths: &["incidents[].selection"],
        fields: || docs(Selection::fields()),
    },
    Table {
        paths: &["incidents[].oomd_trigger"],
        fields: || docs(OomdTrigger::fields()),
    },
    Table {
        paths: &["incidents[].notices[]"],
        fields: || docs(Notice::fields()),
    },
    Table {
        paths: &["incidents[].witnesses[]"],
        fields: || docs(Witness::fields()),
    },
    Table {
        paths: &["incidents[].owner"],
        fields: || docs(OWNER_FIELDS),
    },
    Table {
        paths: &["incidents[].ranking"],
        fields: || docs(RANKING_FIELDS),
    },
    Table {
        paths: &["incidents[].ranking.top[]"],
        fields: || docs(RANK_ROW_FIELDS),
    },
    Table {
        paths: &["incidents[].findings[]"],
        fields: || docs(FINDING_FIELDS),
    },
    Table {
        paths: &["incidents[].findings[].evidence[]"],
        fields: || docs(EVIDENCE_FIELDS),
    },
    Table {
        paths: &["incidents[].advice[]"],
        fields: || docs(ADVICE_FIELDS),
    },
    Table {
        paths: &["incidents[].restart_loop"],
        fields: || docs(LOOP_FIELDS),
    },
    Table {
        paths: &["summary"],
        fields: || docs(Summary::fields()),
    },
    Table {
        paths: &["summary.inputs[]"],
        fields: || docs(InputSummary::fields()),
    },
];

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn term_name(t: Term) -> &'static str {
    match t {
        Term::Rss => "rss",
        Term::Swap => "swap",
        Term::PageTables => "page-tables",
        Term::Adj => "adj",
    }
}

fn root_bonus_name(b: RootBonus) -> &'static str {
    match b {
        RootBonus::None => "none",
        RootBonus::Adj30 => "adj30",
        RootBonus::ThreePercent => "three-percent",
    }
}

/// Every key path the tables declare, in the form of `oomlens_testkit::json_key_paths`:
/// object keys joined with `.`, the items of a list under `[]`
/// (`incidents[].kills[].anon_rss_kb`), each with the field that declares it.
pub fn declared_paths() -> Vec<(String, FieldDoc)> {
    let mut out = Vec::new();
    for t in EXPLAIN_TABLES {
        for f in (t.fields)() {
            for p in t.paths {
                let mut path = if p.is_empty() {
                    String::new()
                } else {
                    format!("{p}.")
                };
                // A dotted name is a path of its own: every object on the way is a key too.
                for (i, part) in f.name.split('.').enumerate() {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(part);
                    out.push((path.clone(), f));
                }
            }
        }
    }
    out
}

fn unit_name(u: U) -> &'static str {
    match u {
        U::Bytes => "bytes",
        U::Seconds => "seconds",
        U::BytesPerSecond => "bytes/s",
        U::Percent => "%",
        U::Ratio => "ratio",
        U::Count => "count",
        U::Text => "text",
        U::Flag => "flag",
        U::KiB => "KiB",
        U::Pages => "pages",
        U::Microseconds => "µs",
        U::Record => "object",
    }
}

fn kind_name(k: K) -> &'static str {
    match k {
        K::Gauge => "gauge",
        K::Counter => "counter",
        K::Info => "info",
    }
}

/// The field list of `docs/explain-json.md`, made from [`EXPLAIN_TABLES`]: one section per
/// table, headed by the paths its records are written at, one row per field.
pub fn markdown() -> String {
    let mut out = String::new();
    for t in EXPLAIN_TABLES {
        let paths: Vec<String> = t
            .paths
            .iter()
            .map(|p| {
                if p.is_empty() {
                    "the document".to_string()
                } else {
                    format!("`{p}`")
                }
            })
            .collect();
        out.push_str(&format!("### {}\n\n", paths.join(", ")));
        out.push_str("| key | unit | kind | meaning |\n|---|---|---|---|\n");
        for f in (t.fields)() {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                f.name,
                unit_name(f.unit),
                kind_name(f.kind),
                f.help
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field list in docs/explain-json.md is the registry: regenerate it with
    /// `markdown()` (this test prints it) when a table changes.
    #[test]
    fn docs_field_list_is_the_registry() {
        let doc = include_str!("../../../docs/explain-json.md");
        let begin = "<!-- fields: generated from EXPLAIN_TABLES, checked by a test -->\n";
        let start = doc
            .find(begin)
            .expect("docs/explain-json.md has the field list")
            + begin.len();
        let end = start
            + doc[start..]
                .find("<!-- fields end -->")
                .expect("end marker");
        let want = markdown();
        assert!(
            doc[start..end] == want,
            "docs/explain-json.md's field list differs from the tables; the list is:\n{want}"
        );
    }

    #[test]
    fn no_help_text_breaks_the_markdown_table() {
        for t in EXPLAIN_TABLES {
            for f in (t.fields)() {
                assert!(
                    !f.help.contains('|') && !f.help.contains('\n'),
                    "{}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn names_are_unique_within_an_object() {
        for t in EXPLAIN_TABLES {
            let names: Vec<&str> = (t.fields)().iter().map(|f| f.name).collect();
            for (i, n) in names.iter().enumerate() {
                assert!(!names[i + 1..].contains(n), "{n} twice in {:?}", t.paths);
            }
        }
        // The incident and its explanation share one object.
        let incident: Vec<&str> = Incident::fields().iter().map(|f| f.name).collect();
        for f in EXPLANATION_FIELDS {
            assert!(!incident.contains(&f.name), "{} in both", f.name);
        }
    }

    /// Every field whose value is a record or a list of records has the table of those
    /// records listed at its path, so the docs describe every object.
    #[test]
    fn every_nested_record_has_its_table() {
        let paths: Vec<&str> = EXPLAIN_TABLES
            .iter()
            .flat_map(|t| t.paths.iter().copied())
            .collect();
        for t in EXPLAIN_TABLES {
            for f in (t.fields)().iter().filter(|f| f.unit == U::Record) {
                for p in t.paths {
                    let at = if p.is_empty() {
                        f.name.to_string()
                    } else {
                        format!("{p}.{}", f.name)
                    };
                    assert!(
                        paths.contains(&at.as_str()) || paths.contains(&format!("{at}[]").as_str()),
                        "no table for {at}"
                    );
                }
            }
        }
    }

    /// The enum names written here are the ones serde wrote before the tables existed.
    #[test]
    fn enum_names_are_the_serde_names() {
        let serde = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for s in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(severity_name(s), serde(serde_json::to_value(s).unwrap()));
        }
        for t in [Term::Rss, Term::Swap, Term::PageTables, Term::Adj] {
            assert_eq!(term_name(t), serde(serde_json::to_value(t).unwrap()));
        }
        for b in [RootBonus::None, RootBonus::Adj30, RootBonus::ThreePercent] {
            assert_eq!(root_bonus_name(b), serde(serde_json::to_value(b).unwrap()));
        }
    }
}
