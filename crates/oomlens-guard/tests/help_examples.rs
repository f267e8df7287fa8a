//! Every example of `oomlens guard --help` runs: each `oomlens guard ARGS` line of the
//! EXAMPLES section is run as `oomlens-guard ARGS` (the same flags) in a fresh directory
//! holding a `kern.log` with a real report (corpus 001: mruby, pid 14095), and must record
//! that report.

mod common;

use std::time::Duration;

use clap::CommandFactory;
use common::{records, Guard};
use oomlens_testkit::fs::TempDir;

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: oomlens_guard::GuardArgs,
}

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/001-rhel6-2.6.32-memcg-mruby-syslog.log"
);

fn examples() -> Vec<Vec<String>> {
    let help = Cli::command().render_long_help().to_string();
    let section = help.split("EXAMPLES:").nth(1).expect("an EXAMPLES section");
    section
        .lines()
        .take_while(|l| !l.starts_with("EXIT STATUS"))
        .filter_map(|l| l.trim().strip_prefix("oomlens guard"))
        .map(|rest| {
            let cmd = rest.split('#').next().unwrap_or_default();
            cmd.split_whitespace().map(str::to_string).collect()
        })
        .collect()
}

#[test]
fn every_help_example_runs_and_records_the_report() {
    let ex = examples();
    assert!(!ex.is_empty());
    for args in ex {
        let dir = TempDir::new("guard-example").unwrap();
        std::fs::copy(REPORT, dir.path().join("kern.log")).unwrap();
        let mut child = std::process::Command::new(common::guard_bin());
        child.current_dir(dir.path()).args(&args);
        let mut g = Guard::spawn(child);
        g.wait_for("recorded incident 0", Duration::from_secs(20));
        g.stop();
        let state = args
            .iter()
            .position(|a| a == "--state-dir")
            .map(|i| dir.path().join(&args[i + 1]))
            .expect("the examples name their store");
        let recs = records(&state);
        assert_eq!(recs.len(), 1, "{args:?}");
        assert_eq!(recs[0].incident.victim().and_then(|k| k.pid), Some(14095));
    }
}
