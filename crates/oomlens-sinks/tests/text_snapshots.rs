//! The human output of one corpus report of each kind, reviewed and pinned with insta.
//! A change to wording or layout shows up as a snapshot diff to review.

mod common;

use oomlens_sinks::text::{write_incident, TextStyle};

fn render(file: &str) -> String {
    let mut out = Vec::new();
    for (inc, e) in common::explained(file) {
        write_incident(&mut out, &inc, Some(&e), TextStyle::default()).unwrap();
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap()
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
