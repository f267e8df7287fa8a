//! The `oomlens.explain/1` incident objects of one corpus report of each kind, pinned with
//! insta: the JSON contract (keys, their order, enum names, nulls and left-out keys) shows
//! up as a snapshot diff when it changes. The snapshots were checked against the output of
//! the binary before the field tables existed (`oomlens explain --json --year 2024`, run in
//! the corpus directory): identical incident lines.

mod common;

use oomlens_sinks::explain_fields::Summary;
use oomlens_sinks::json::JsonWriter;

fn render(file: &str) -> String {
    let mut w = JsonWriter::begin(Vec::new()).unwrap();
    for (inc, e) in common::explained(file) {
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
