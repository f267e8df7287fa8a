//! `GuardMetrics` driven by sequences of calls; the encoded text is parsed back and its
//! samples checked by name, labels and value.

use std::collections::BTreeMap;

use oomlens_analysis::explanation::Explanation;
use oomlens_analysis::owner::Owner;
use oomlens_model::metric_fields::{
    metric_families, CgroupGauges, CONFIGURED_HOOKS, CONFIGURED_PROTECT,
};
use oomlens_model::{Incident, Kill, Kind, LogTime};

use super::{GuardMetrics, LabelLimits, OVERFLOW};

/// One sample of the text: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses OpenMetrics sample lines (the subset `prometheus-client` writes: quoted label
/// values with `\\`, `\"` and `\n` escapes).
pub(super) fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (head, value) = line.rsplit_once(' ').expect("sample has a value");
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels close");
                (name.to_string(), parse_labels(body))
            }
        };
        out.push(Sample {
            name,
            labels,
            value: value.parse().expect("value is a number"),
        });
    }
    out
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {key} is quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

fn text(m: &GuardMetrics) -> String {
    let mut s = String::new();
    m.encode(&mut s).unwrap();
    s
}

/// The value of the one sample named `name` whose labels include `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<_> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(hits.len() <= 1, "{name} {want:?} matches {hits:?}");
    hits.first().map(|s| s.value)
}

fn incident(kind: Kind, kills: usize, oom_group: bool) -> Incident {
    let mut inc = Incident::new(1, LogTime::default());
    inc.kind = Some(kind);
    inc.kills = (0..kills)
        .map(|i| Kill {
            pid: Some(100 + i as u32),
            ..Kill::default()
        })
        .collect();
    if oom_group {
        inc.oom_group = Some("/kubepods/pod1".into());
    }
    inc
}

fn explained(owner: Option<Owner>) -> Explanation {
    Explanation {
        owner,
        ranking: None,
        findings: Vec::new(),
        advice: Vec::new(),
        restart_loop: None,
    }
}

fn unit(name: &str) -> Option<Owner> {
    Some(Owner {
        unit: Some(name.into()),
        ..Owner::default()
    })
}

fn pod(name: &str, ns: &str, container: &str) -> Option<Owner> {
    let mut o = Owner {
        pod_uid: Some("6b1a2f3e-0000-4000-8000-000000000001".into()),
        container_id: Some("3e5e5e".repeat(10) + "abcd"),
        ..Owner::default()
    };
    o.live.pod_name = Some(name.into());
    o.live.pod_namespace = Some(ns.into());
    if !container.is_empty() {
        o.live.container_name = Some(container.into());
    }
    Some(o)
}

#[test]
fn kills_count_once_per_killed_process_incidents_once_per_incident() {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.incident(
        &incident(Kind::Memcg, 1, false),
        &explained(unit("a.service")),
    );
    // memory.oom.group: one incident, four tasks killed.
    m.incident(
        &incident(Kind::Memcg, 4, true),
        &explained(pod("web-1", "shop", "app")),
    );
    m.incident(
        &incident(Kind::Memcg, 1, false),
        &explained(unit("a.service")),
    );
    // No owner, nothing killed (the kernel found nothing to kill).
    m.incident(&incident(Kind::Global, 0, false), &explained(None));
    let s = parse(&text(&m));
    let a = [("kind", "memcg"), ("unit", "a.service")];
    assert_eq!(value(&s, "oomlens_kills_total", &a), Some(2.0));
    assert_eq!(value(&s, "oomlens_incidents_total", &a), Some(2.0));
    let p = [
        ("kind", "memcg"),
        ("pod", "web-1"),
        ("namespace", "shop"),
        ("container", "app"),
        ("unit", ""),
    ];
    assert_eq!(value(&s, "oomlens_kills_total", &p), Some(4.0));
    assert_eq!(value(&s, "oomlens_incidents_total", &p), Some(1.0));
    let g = [("kind", "global"), ("unit", ""), ("pod", "")];
    assert_eq!(value(&s, "oomlens_kills_total", &g), Some(0.0));
    assert_eq!(value(&s, "oomlens_incidents_total", &g), Some(1.0));
    let total: f64 = s
        .iter()
        .filter(|x| x.name == "oomlens_kills_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(total, 6.0);
    assert_eq!((m.totals().kills, m.totals().incidents), (6, 4));
}

#[test]
fn unknown_container_name_falls_back_to_the_short_id() {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.incident(
        &incident(Kind::Memcg, 1, false),
        &explained(pod("web-1", "shop", "")),
    );
    let s = parse(&text(&m));
    let want = [("container", "3e5e5e3e5e5e")];
    assert_eq!(value(&s, "oomlens_kills_total", &want), Some(1.0));
}

#[test]
fn owner_values_over_the_cap_are_counted_under_the_overflow_value() {
    let limits = LabelLimits {
        values_per_label: 2,
        ..LabelLimits::default()
    };
    let mut m = GuardMetrics::new(limits);
    for u in [
        "a.service",
        "b.service",
        "c.service",
        "d.service",
        "a.service",
    ] {
        m.incident(&incident(Kind::Memcg, 1, false), &explained(unit(u)));
    }
    let s = parse(&text(&m));
    let kills = |u| value(&s, "oomlens_kills_total", &[("unit", u)]);
    assert_eq!(kills("a.service"), Some(2.0));
    assert_eq!(kills("b.service"), Some(1.0));
    assert_eq!(kills("c.service"), None);
    assert_eq!(kills("d.service"), None);
    assert_eq!(kills(OVERFLOW), Some(2.0));
    assert_eq!(value(&s, "oomlens_label_overflows_total", &[]), Some(2.0));
    let units: Vec<_> = s
        .iter()
        .filter(|x| x.name == "oomlens_kills_total")
        .map(|x| x.labels["unit"].clone())
        .collect();
    assert_eq!(units.len(), 3, "{units:?}");
}

#[test]
fn label_values_are_cut_and_escaped() {
    let limits = LabelLimits {
        value_chars: 12,
        ..LabelLimits::default()
    };
    let mut m = GuardMetrics::new(limits);
    // Cut to 12 characters: x " y LF z \ . s e r v i; the line feed becomes the four
    // characters \x0a, then the encoder escapes the quote and the backslashes.
    m.incident(
        &incident(Kind::Memcg, 1, false),
        &explained(unit("x\"y\nz\\.service-long")),
    );
    m.cgroup("/a\x1b[31m.scope", &gauges(1, None));
    let t = text(&m);
    assert!(t.contains(r#"unit="x\"y\\x0az\\.servi""#), "{t}");
    assert!(!t.contains('\x1b'), "{t}");
    let s = parse(&t);
    assert_eq!(
        value(&s, "oomlens_kills_total", &[("unit", "x\"y\\x0az\\.servi")]),
        Some(1.0)
    );
    let c = [("cgroup", "/a\\x1b[31m.scope")];
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_usage_bytes", &c),
        Some(1.0)
    );
    m.forget_cgroup("/a\x1b[31m.scope");
    let s = parse(&text(&m));
    assert_eq!(value(&s, "oomlens_cgroup_memory_usage_bytes", &c), None);
}

fn gauges(usage: u64, max: Option<u64>) -> CgroupGauges {
    CgroupGauges {
        usage_bytes: Some(usage),
        max_bytes: max,
        high_bytes: None,
        seconds_to_limit: max.map(|_| 600.0),
        pressure_some_avg10: Some(0.25),
    }
}

#[test]
fn cgroup_gauges_follow_calls_and_forgotten_cgroups_disappear() {
    let limits = LabelLimits {
        cgroups: 2,
        ..LabelLimits::default()
    };
    let mut m = GuardMetrics::new(limits);
    m.cgroup("/a.slice/x.service", &gauges(100 << 20, Some(512 << 20)));
    m.cgroup("/b.service", &gauges(5, None));
    m.cgroup("/c.service", &gauges(7, None));
    let s = parse(&text(&m));
    let x = [("cgroup", "/a.slice/x.service")];
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_usage_bytes", &x),
        Some((100 << 20) as f64)
    );
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_max_bytes", &x),
        Some((512 << 20) as f64)
    );
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_time_to_limit_seconds", &x),
        Some(600.0)
    );
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_pressure_some_avg10_ratio", &x),
        Some(0.25)
    );
    // Unlimited: no max, no time to limit, no high.
    let b = [("cgroup", "/b.service")];
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_usage_bytes", &b),
        Some(5.0)
    );
    assert_eq!(value(&s, "oomlens_cgroup_memory_max_bytes", &b), None);
    assert_eq!(value(&s, "oomlens_cgroup_memory_high_bytes", &b), None);
    // Over the cap of two: counted, not exported.
    let c = [("cgroup", "/c.service")];
    assert_eq!(value(&s, "oomlens_cgroup_memory_usage_bytes", &c), None);
    assert_eq!(value(&s, "oomlens_cgroups_exported", &[]), Some(2.0));
    assert_eq!(value(&s, "oomlens_cgroups_unexported", &[]), Some(1.0));

    // The limit is lifted: its series go.
    m.cgroup("/a.slice/x.service", &gauges(100 << 20, None));
    let s = parse(&text(&m));
    assert_eq!(value(&s, "oomlens_cgroup_memory_max_bytes", &x), None);
    assert!(value(&s, "oomlens_cgroup_memory_usage_bytes", &x).is_some());

    // Forgotten: every series of the cgroup goes, and the waiting one takes the slot.
    m.forget_cgroup("/a.slice/x.service");
    m.cgroup("/c.service", &gauges(7, None));
    let s = parse(&text(&m));
    assert!(
        !s.iter()
            .any(|x| x.labels.get("cgroup").map(String::as_str) == Some("/a.slice/x.service")),
        "{s:?}"
    );
    assert_eq!(
        value(&s, "oomlens_cgroup_memory_usage_bytes", &c),
        Some(7.0)
    );
    assert_eq!(value(&s, "oomlens_cgroups_exported", &[]), Some(2.0));
    assert_eq!(value(&s, "oomlens_cgroups_unexported", &[]), Some(0.0));
}

#[test]
fn recorder_and_kmsg_counters_take_running_totals() {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.incident_recorded();
    m.incident_recorded();
    m.record_failed();
    m.kmsg(3, 1);
    m.kmsg(10, 2);
    // The reader started over (reopened /dev/kmsg): its totals restart from 0.
    m.kmsg(4, 1);
    let s = parse(&text(&m));
    assert_eq!(
        value(&s, "oomlens_incidents_recorded_total", &[]),
        Some(2.0)
    );
    assert_eq!(value(&s, "oomlens_record_failures_total", &[]), Some(1.0));
    assert_eq!(
        value(&s, "oomlens_kmsg_records_lost_total", &[]),
        Some(14.0)
    );
    assert_eq!(value(&s, "oomlens_kmsg_overruns_total", &[]), Some(3.0));
}

#[test]
fn system_pressure_is_a_ratio_and_unknown_leaves_it_out() {
    let mut m = GuardMetrics::new(LabelLimits::default());
    let s = parse(&text(&m));
    assert_eq!(
        value(&s, "oomlens_memory_pressure_some_avg10_ratio", &[]),
        None
    );
    m.system_pressure(0.125, 0.0625);
    let s = parse(&text(&m));
    assert_eq!(
        value(&s, "oomlens_memory_pressure_some_avg10_ratio", &[]),
        Some(0.125)
    );
    assert_eq!(
        value(&s, "oomlens_memory_pressure_full_avg10_ratio", &[]),
        Some(0.0625)
    );
    m.system_pressure(0.5, f64::NAN);
    let s = parse(&text(&m));
    assert_eq!(
        value(&s, "oomlens_memory_pressure_full_avg10_ratio", &[]),
        None
    );
}

/// A `GuardMetrics` with every family holding at least one sample.
pub(super) fn filled() -> GuardMetrics {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.incident(
        &incident(Kind::Memcg, 2, true),
        &explained(pod("web-1", "shop", "app")),
    );
    m.incident(
        &incident(Kind::SystemdOomd, 1, false),
        &explained(unit("b.service")),
    );
    m.incident_recorded();
    m.record_failed();
    m.kmsg(1, 1);
    m.cgroup(
        "/system.slice/b.service",
        &CgroupGauges {
            high_bytes: Some(1 << 30),
            ..gauges(1 << 20, Some(2 << 30))
        },
    );
    m.system_pressure(0.01, 0.0);
    m.configured(CONFIGURED_PROTECT, [("postgres", "applied", 2)]);
    m.configured(CONFIGURED_HOOKS, [("page", "timeout", 1)]);
    m.action("sigterm", "signalled");
    m.action("none", "refused (pid 1 is never signalled)");
    m
}

#[test]
fn configured_counters_take_running_totals_by_name_and_result() {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.configured(
        CONFIGURED_PROTECT,
        [("pg", "applied", 2), ("pg", "failed", 1)],
    );
    m.configured(CONFIGURED_PROTECT, [("pg", "applied", 5)]);
    m.configured(
        CONFIGURED_HOOKS,
        [("pa\x1bge", "ok", 3), ("pa\x1bge", "ok", 1)],
    );
    let s = parse(&text(&m));
    let w = "oomlens_protect_writes_total";
    assert_eq!(
        value(&s, w, &[("rule", "pg"), ("result", "applied")]),
        Some(5.0)
    );
    assert_eq!(
        value(&s, w, &[("rule", "pg"), ("result", "failed")]),
        Some(1.0)
    );
    // A name is escaped; a lower total than the series holds is not a decrease.
    let h = "oomlens_hook_runs_total";
    assert_eq!(
        value(&s, h, &[("hook", "pa\\x1bge"), ("result", "ok")]),
        Some(3.0)
    );
}

#[test]
fn every_family_is_declared_in_the_tables_and_every_declared_one_is_written() {
    let t = text(&filled());
    assert!(t.ends_with("# EOF\n"), "{t}");
    let declared = metric_families();
    let mut written: Vec<String> = parse(&t).into_iter().map(|s| s.name).collect();
    written.dedup();
    for name in &written {
        assert!(declared.contains(name), "{name} is not in metric_fields");
    }
    for name in &declared {
        assert!(
            written.contains(name),
            "{name} is declared but not written:\n{t}"
        );
    }
    // A pre-emption's result label is cut to its fixed word.
    assert!(
        t.contains("oomlens_guard_actions_total{action=\"sigterm\",result=\"signalled\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("oomlens_guard_actions_total{action=\"none\",result=\"refused\"} 1\n"),
        "{t}"
    );
    // HELP comes from the table, with one full stop.
    assert!(
        t.contains("# HELP oomlens_kmsg_records_lost Kernel log records overwritten in the kernel's ring buffer before the guard read them.\n"),
        "{t}"
    );
    assert!(
        t.contains("# UNIT oomlens_cgroup_memory_usage_bytes bytes\n"),
        "{t}"
    );
    let info = parse(&t)
        .into_iter()
        .find(|s| s.name == "oomlens_build_info")
        .unwrap();
    assert_eq!(info.value, 1.0);
    assert_eq!(info.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info.labels["recorded_schema"], "oomlens.recorded/1");
}

/// The metric list in contrib/prometheus/README.md is the tables: regenerate it with
/// `markdown()` (this test prints it) when a table changes.
#[test]
fn readme_metric_list_is_the_tables() {
    let doc = include_str!("../../../../contrib/prometheus/README.md");
    let begin =
        "<!-- metrics: generated from oomlens_model::metric_fields, checked by a test -->\n";
    let start = doc.find(begin).expect("the README has the metric list") + begin.len();
    let end = start
        + doc[start..]
            .find("<!-- metrics end -->")
            .expect("end marker");
    let want = super::markdown();
    assert!(
        doc[start..end] == want,
        "contrib/prometheus/README.md's metric list differs from the tables; the list is:\n{want}"
    );
    // What the README says of the defaults is what the code has.
    let url = format!("http://{}/metrics", super::DEFAULT_LISTEN);
    assert!(doc.contains(&url), "{url}");
    let cap = format!("at most {} cgroups", LabelLimits::default().cgroups);
    assert!(doc.contains(&cap), "{cap}");
    // Every family the guard writes has its row.
    for name in metric_families() {
        assert!(want.contains(&format!("| `{name}` |")), "{name}");
    }
}
