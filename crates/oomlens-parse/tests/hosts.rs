//! Several hosts in one input (a journal directory of several machines, a central syslog):
//! one host's report never swallows nor drops another host's.

use std::path::PathBuf;

use oomlens_parse::{parse_bytes, Options};

fn corpus(prefix: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports");
    let p = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap();
    std::fs::read_to_string(p).unwrap()
}

/// (host, victim pids, task-table rows) of each incident.
fn digest(text: &str) -> Vec<(Option<String>, Vec<Option<u32>>, usize)> {
    parse_bytes(text.as_bytes(), Options::default())
        .into_iter()
        .map(|i| {
            (
                i.host.clone(),
                i.kills.iter().map(|k| k.pid).collect(),
                i.task_table.as_ref().map_or(0, |t| t.rows.len()),
            )
        })
        .collect()
}

/// Two real syslog reports of two machines (a RHEL 6 memcg kill on `vagrant-centos64`, an
/// Ubuntu 14.04 global kill on `www`), their lines interleaved one by one as a log server
/// receiving from both at once would store them (the interleaving is ours; every line is
/// real). Each host's incident must be what that host's report alone gives.
#[test]
fn interleaved_reports_of_two_hosts_are_both_whole() {
    let a = corpus("001-");
    let b = corpus("014-");
    let (alone_a, alone_b) = (digest(&a), digest(&b));
    assert_eq!(alone_a.len(), 1);
    assert_eq!(alone_b.len(), 1);
    assert_eq!(alone_a[0].0.as_deref(), Some("vagrant-centos64"));
    assert_eq!(alone_b[0].0.as_deref(), Some("www"));
    assert!(
        alone_a[0].2 > 0 && alone_b[0].2 > 0,
        "both print a task table"
    );

    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut mixed = String::new();
    for i in 0..la.len().max(lb.len()) {
        for l in [la.get(i), lb.get(i)].into_iter().flatten() {
            mixed.push_str(l);
            mixed.push('\n');
        }
    }
    let mut got = digest(&mixed);
    got.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, [alone_a[0].clone(), alone_b[0].clone()]);

    // One after the other, the second host's report is not lost to the first one's.
    let seq = digest(&format!("{a}{b}"));
    assert_eq!(seq, [alone_a[0].clone(), alone_b[0].clone()]);
}
