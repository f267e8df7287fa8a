//! Every key of `oomlens explain --json` is declared in the field tables
//! (`oomlens_sinks::explain_fields::EXPLAIN_TABLES`), and every declared key is written for
//! some input: explain runs on every corpus report and on generated logs of each form, and
//! each key path of its output (`incidents[].kills[].anon_rss_kb`) is looked up in the
//! tables. A key written outside the tables, a declared key no input shows, or an entry of
//! `NOT_IN_ANY_INPUT` that an input does show, fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use oomlens_sinks::explain_fields::declared_paths;
use oomlens_testkit::json_keys::json_key_paths;
use oomlens_testkit::loggen::{Corpus, Generator, LogForm, Options};
use oomlens_testkit::oomlens;

/// Declared keys that no input of this test makes oomlens write, with the reason.
const NOT_IN_ANY_INPUT: &[(&str, &str)] = &[
    (
        "incidents[].owner.live",
        "read from the live host only when explaining this machine's own log (kmsg, journal)",
    ),
    (
        "incidents[].owner.live.unit_description",
        "read from this host's unit files in live mode only",
    ),
    (
        "incidents[].owner.live.container_name",
        "read from this host's container runtime in live mode only",
    ),
    (
        "incidents[].owner.live.pod_name",
        "read from this host's kubelet directories in live mode only",
    ),
    (
        "incidents[].owner.live.pod_namespace",
        "read from this host's kubelet directories in live mode only",
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> PathBuf {
    workspace().join("tests/corpus/oom-reports")
}

/// The key paths of `oomlens explain --json <file>`.
fn explain_keys(file: &Path) -> BTreeSet<String> {
    let doc = oomlens!()
        .args(["explain", "--json"])
        .arg(file)
        .run()
        .json();
    json_key_paths(&doc)
}

/// A kernel kill in a Kubernetes container with containerd's and the kubelet's reports of
/// it: the kernel incident gets `witnesses[]`.
fn witnessed_kill() -> String {
    let id = "083afd1a06b8b612ab5d974e12200d7fd1d35be6a44f0e368179399ef6c6e84d";
    let cg = format!("/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/{id}");
    format!(
        "[    5.000000] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={cg},task_memcg={cg},task=java,pid=50624,uid=0\n\
         [    5.100000] Memory cgroup out of memory: Killed process 50624 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:969\n\
         time=\"2023-10-12T19:00:20.879932879Z\" level=info msg=\"TaskOOM event container_id:\\\"{id}\\\"\"\n\
         Name:         api-7d9f\nContainers:\n  worker:\n    Container ID:   containerd://{id}\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
    )
}

/// Corpus report 041 (a global OOM with systemd's notice) with RFC 3339 syslog times, so
/// the notice carries a UTC time.
fn notice_with_utc() -> String {
    let path = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("041-"))
        .expect("corpus report 041");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (stamp, rest) = l.split_at(15);
            let clock = stamp.strip_prefix("Apr 05 ").expect("041 is from Apr 05");
            format!("2024-04-05T{clock}.000000+00:00{rest}\n")
        })
        .collect()
}

/// Every input: each corpus report, a generated log of each form with many reports (so
/// restart loops, journal years and RFC 3339 times occur), and the two logs above.
fn inputs(tmp: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    assert!(files.len() > 80, "corpus has {} reports", files.len());
    let corpus = Corpus::load(&corpus_dir()).expect("corpus");
    for form in LogForm::ALL {
        let path = tmp.join(format!("generated-{}.log", form.as_str()));
        let opts = Options {
            form,
            size: 2 << 20,
            report_every: 32 << 10,
            ..Options::default()
        };
        let mut f = std::fs::File::create(&path).unwrap();
        Generator::new(&corpus, opts)
            .unwrap()
            .write_to(&mut f)
            .unwrap();
        files.push(path);
    }
    for (name, text) in [
        ("witnessed.log", witnessed_kill()),
        ("notice-utc.log", notice_with_utc()),
    ] {
        let path = tmp.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    files
}

#[test]
fn every_explain_json_key_is_declared_and_every_declared_key_is_written() {
    let tmp = std::env::temp_dir().join(format!("oomlens-json-keys-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let declared: BTreeSet<String> = declared_paths().into_iter().map(|(p, _)| p).collect();
    // Where each key was first seen, to name a file in a failure.
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in inputs(&tmp) {
        for key in explain_keys(&file) {
            seen.entry(key).or_insert_with(|| file.clone());
        }
    }
    std::fs::remove_dir_all(&tmp).ok();

    let undeclared: Vec<String> = seen
        .iter()
        .filter(|(k, _)| !declared.contains(*k))
        .map(|(k, f)| format!("{k} (in {})", f.display()))
        .collect();
    assert!(
        undeclared.is_empty(),
        "explain --json writes keys no field table declares:\n{}",
        undeclared.join("\n")
    );

    let excused: BTreeSet<&str> = NOT_IN_ANY_INPUT.iter().map(|(k, _)| *k).collect();
    let never: Vec<&String> = declared
        .iter()
        .filter(|k| !seen.contains_key(*k) && !excused.contains(k.as_str()))
        .collect();
    assert!(
        never.is_empty(),
        "declared keys no input writes (add an input, or list them in NOT_IN_ANY_INPUT with the reason): {never:?}"
    );
    let stale: Vec<&&str> = excused
        .iter()
        .filter(|k| seen.contains_key(**k) || !declared.contains(**k))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_IN_ANY_INPUT entries that an input writes or no table declares: {stale:?}"
    );
}
