//! Prometheus' own tool checks what oomlens ships for it: `promtool check rules` and
//! `promtool test rules` on `contrib/prometheus/` (the alert rules, their unit tests, and
//! the comparison with the common rules), `promtool check config` on the example
//! configuration, and `promtool check metrics` on the text a `GuardMetrics` encodes.
//!
//! Needs `promtool` (Debian package `prometheus`). Without it each test prints a loud
//! `SKIPPED` line and passes; `OOMLENS_REQUIRE_REAL_KERNEL=1` (set by `.ci/run`, which
//! installs the package) makes that a failure.

use std::io::Write;
use std::path::{Path, PathBuf};

use oomlens_analysis::explanation::Explanation;
use oomlens_analysis::owner::Owner;
use oomlens_model::metric_fields::CgroupGauges;
use oomlens_model::{Incident, Kill, Kind, LogTime};
use oomlens_sinks::metrics::{GuardMetrics, LabelLimits, DEFAULT_LISTEN};
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::run::Oomlens;

fn contrib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/prometheus")
}

/// `promtool` from PATH, or `None` after saying SKIPPED (a failure under
/// `OOMLENS_REQUIRE_REAL_KERNEL=1`).
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = "promtool is not installed (Debian package `prometheus`)";
        if std::env::var_os("OOMLENS_REQUIRE_REAL_KERNEL").is_some_and(|v| v == "1") {
            panic!("{why}, and OOMLENS_REQUIRE_REAL_KERNEL=1 requires the promtool tests");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED promtool test: {why} !!!!!\n"
        );
    }
    found
}

/// The `- alert:` and `- record:` names of a rules file, read from its text.
fn rule_names(path: &Path, kind: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let key = format!("- {kind}: ");
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(&key))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn rules_pass_promtool_check_rules() {
    let Some(promtool) = promtool() else { return };
    for file in ["oomlens.rules.yml", "tests/common.rules.yml"] {
        let path = contrib().join(file);
        let count = rule_names(&path, "alert").len() + rule_names(&path, "record").len();
        let out = Oomlens::new(&promtool)
            .args(["check", "rules"])
            .arg(&path)
            .run();
        out.success();
        // promtool counts the rules it parsed: all of those the text declares.
        out.stdout_has(&format!("SUCCESS: {count} rules found"));
    }
}

#[test]
fn example_config_passes_promtool_check_config_and_scrapes_the_default_address() {
    let config = contrib().join("prometheus.yml");
    let text = std::fs::read_to_string(&config).unwrap();
    // The target is where the guard listens unless told otherwise, under the job name the
    // rules select.
    assert!(
        text.contains(&format!("targets: [\"{DEFAULT_LISTEN}\"]")),
        "{text}"
    );
    assert!(text.contains("job_name: oomlens\n"), "{text}");
    let Some(promtool) = promtool() else { return };
    let out = Oomlens::new(&promtool)
        .args(["check", "config"])
        .arg(&config)
        .run();
    out.success();
    out.stdout_has("SUCCESS: 1 rule files found");
}

#[test]
fn rule_unit_tests_pass_promtool_test_rules() {
    let Some(promtool) = promtool() else { return };
    let tests = ["tests/oomlens.test.yml", "tests/compare.test.yml"];
    let out = Oomlens::new(&promtool)
        .args(["test", "rules"])
        .args(tests.iter().map(|t| contrib().join(t)))
        .run();
    out.success();
    assert_eq!(
        out.stdout().matches("  SUCCESS").count(),
        tests.len(),
        "{}",
        out.stdout()
    );
}

#[test]
fn every_alert_has_a_firing_and_a_silent_test() {
    let rules = contrib().join("oomlens.rules.yml");
    let tests = std::fs::read_to_string(contrib().join("tests/oomlens.test.yml")).unwrap()
        + &std::fs::read_to_string(contrib().join("tests/compare.test.yml")).unwrap();
    let alerts = rule_names(&rules, "alert");
    assert!(alerts.len() >= 9, "{alerts:?}");
    for a in alerts {
        let head = format!("alertname: {a}\n        exp_alerts:");
        let fires = format!("{head}\n          - exp_labels:");
        let silent = format!("{head} []");
        assert!(tests.contains(&fires), "no test in which {a} fires");
        assert!(tests.contains(&silent), "no test in which {a} stays silent");
    }
}

#[test]
fn a_wrong_expectation_fails_promtool_test_rules() {
    // The check can fail: a kill expected where the counter never rose.
    let Some(promtool) = promtool() else { return };
    let dir = TempDir::new("promtool-wrong").unwrap();
    let rules = contrib().join("oomlens.rules.yml");
    let test = format!(
        r#"rule_files: ["{}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'oomlens_kills_total{{job="oomlens", instance="h:10391", kind="memcg", unit="a.service"}}'
        values: '2x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: OomlensOomKill
        exp_alerts:
          - exp_labels: {{severity: warning, job: oomlens, instance: "h:10391", kind: memcg, unit: a.service}}
"#,
        rules.display()
    );
    let path = dir.write("wrong.test.yml", test).unwrap();
    let out = Oomlens::new(&promtool)
        .args(["test", "rules"])
        .arg(&path)
        .run();
    assert_eq!(out.exit_code(), Some(1), "{}", out.stdout());
    out.stderr_has("FAILED");
}

fn incident(kind: Kind, kills: usize) -> Incident {
    let mut inc = Incident::new(1, LogTime::default());
    inc.kind = Some(kind);
    inc.kills = vec![Kill::default(); kills];
    inc
}

fn explained(unit: &str) -> Explanation {
    Explanation {
        owner: Some(Owner {
            unit: Some(unit.into()),
            ..Owner::default()
        }),
        ranking: None,
        findings: Vec::new(),
        advice: Vec::new(),
        restart_loop: None,
    }
}

#[test]
fn guard_metrics_text_passes_promtool_check_metrics() {
    let Some(promtool) = promtool() else { return };
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.incident(&incident(Kind::Memcg, 3), &explained("batch.service"));
    m.incident(&incident(Kind::SystemdOomd, 1), &explained("web.service"));
    m.incident_recorded();
    m.record_failed();
    m.kmsg(12, 1);
    m.cgroup(
        "/system.slice/batch.service",
        &CgroupGauges {
            usage_bytes: Some(300 << 20),
            max_bytes: Some(512 << 20),
            high_bytes: Some(400 << 20),
            seconds_to_limit: Some(420.5),
            pressure_some_avg10: Some(0.12),
        },
    );
    m.system_pressure(0.03, 0.01);
    // promtool 2.42 parses the classic text format only; the guard serves it to clients
    // that ask for text/plain, from the same families (the OpenMetrics text is checked by
    // parsing it back in the unit tests).
    let mut text = String::new();
    m.encode_prometheus_text(&mut text).unwrap();
    assert!(
        text.contains("# TYPE oomlens_kills_total counter\n"),
        "{text}"
    );
    let out = Oomlens::new(&promtool)
        .args(["check", "metrics"])
        .stdin(text.clone())
        .run();
    assert_eq!(
        out.exit_code(),
        Some(0),
        "promtool check metrics: {}{}\n{text}",
        out.stdout(),
        out.stderr()
    );
    assert_eq!(out.stdout() + &out.stderr(), "", "lint findings");

    // The check can fail: the same text with a counter that breaks the naming rules.
    let bad = text.clone()
        + "# HELP oomlens_bad_milliseconds x.\n# TYPE oomlens_bad_milliseconds counter\noomlens_bad_milliseconds 1\n";
    let out = Oomlens::new(&promtool)
        .args(["check", "metrics"])
        .stdin(bad)
        .run();
    assert_ne!(out.exit_code(), Some(0));
    assert!(
        (out.stdout() + &out.stderr()).contains("oomlens_bad_milliseconds"),
        "{}",
        out.stderr()
    );
}
