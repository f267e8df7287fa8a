//! The `oomlens.explain/1` incident objects of one corpus report of each kind, pinned with
//! insta: the JSON contract (keys, their order, enum names, nulls and left-out keys) shows
//! up as a snapshot diff when it changes. The snapshots were checked against the output of
//! the binary before the field tables existed (`oomlens explain --json --year 2024`, run in
//! the corpus directory): identical incident lines.

use std::path::PathBuf;

use oomlens_analysis::explain::Explainer;
use oomlens_parse::{parse_bytes, Options};
use oomlens_sinks::explain_fields::Summary;
use oomlens_sinks::json::JsonWriter;

fn render(file: &str) -> String {
    let dir = std::env::var_os("OOMLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports")
        });
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(file))
        .unwrap_or_else(|| panic!("no corpus file {file}*"));
    let opts = Options {
        file: Some(path.file_name().unwrap().to_string_lossy().into_owned()),
        clock: oomlens_parse::Clock {
            reference_year: Some(2024),
            boot_time_us: None,
        },
        ..Options::default()
    };
    let mut w = JsonWriter::begin(Vec::new()).unwrap();
    let mut ex = Explainer::new();
    for inc in parse_bytes(&std::fs::read(&path).unwrap(), opts) {
        let e = ex.explain(&inc);
        w.incident(&inc, Some(&e)).unwrap();
    }
    let doc = String::from_utf8(w.finish(&Summary::default()).unwrap()).unwrap();
    // One incident per line between the document's first and last line.
    let lines: Vec<&str> = doc.lines().collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.trim_end_matches(','))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn memcg_systemd_service() {
    insta::assert_snapshot!(render("051-"));
}

#[test]
fn memcg_kubepods_shmem() {
    insta::assert_snapshot!(render("018-"));
}

#[test]
fn global_sysrq_innocent_victim() {
    insta::assert_snapshot!(render("010-"));
}

#[test]
fn cpuset() {
    insta::assert_snapshot!(render("021-"));
}

#[test]
fn global_with_systemd_notice() {
    insta::assert_snapshot!(render("041-"));
}

#[test]
fn systemd_oomd() {
    insta::assert_snapshot!(render("100-"));
}

#[test]
fn earlyoom() {
    insta::assert_snapshot!(render("106-"));
}

#[test]
fn kubelet() {
    insta::assert_snapshot!(render("110-"));
}

#[test]
fn partial_report_without_killed_line() {
    insta::assert_snapshot!(render("045-"));
}
