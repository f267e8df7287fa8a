//! `oomlens incidents` and `oomlens explain --recorded ID` on stores built with the
//! recorder (`oomlens_testkit::recorded`): incidents of real corpus reports, each with a
//! hand-made leak window (100 MiB + 2 MiB/s against 512 MiB, 60 samples), so the numbers
//! the timeline prints are checked against arithmetic done here, not against the program.

use std::collections::BTreeSet;

use oomlens_model::recorded_fields::{incidents_key_paths, recording_key_paths};
use oomlens_sinks::explain_fields::declared_paths;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::json_keys::json_key_paths;
use oomlens_testkit::oomlens;
use oomlens_testkit::recorded::{
    append, append_raw, leak_window, parse_corpus, record, sample_store, MIB,
};

fn store(tag: &str) -> TempDir {
    let dir = TempDir::new(tag).unwrap();
    sample_store(dir.path());
    dir
}

#[test]
fn incidents_lists_every_record_oldest_first_with_its_victim_and_window() {
    let dir = store("rec-list");
    let ran = oomlens!()
        .args(["incidents", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success();
    let out = ran.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for t in [
        "ID",
        "TIME (UTC)",
        "KIND",
        "PID",
        "COMM",
        "LIMIT",
        "WINDOW",
        "OWNER",
        "CGROUP",
    ] {
        assert!(lines[0].contains(t), "{t}: {}", lines[0]);
    }
    // Record 0 is report 038 at 2026-12-01 10:00 UTC, 60 samples 1 s apart: 59 s kept.
    assert!(
        lines[1]
            .trim_start()
            .starts_with("0  2026-12-01T10:00:00Z  memcg"),
        "{out}"
    );
    assert!(lines[1].contains("512.0 MiB"), "{out}");
    assert!(lines[1].contains("59s"), "{out}");
    assert!(
        lines[2].trim_start().starts_with("1  2026-12-01T11:00:00Z"),
        "{out}"
    );
    assert!(lines[2].contains("confluence.service"), "{out}");
    assert!(
        lines[3].trim_start().starts_with("2  2026-12-01T12:00:00Z"),
        "{out}"
    );
}

#[test]
fn incidents_filters_by_time_owner_and_count() {
    let dir = store("rec-filter");
    let ids = |args: &[&str]| -> Vec<u64> {
        let doc = oomlens!()
            .args(["incidents", "--json", "--state-dir"])
            .arg(dir.path())
            .args(args)
            .run()
            .json();
        doc["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&[]), [0, 1, 2]);
    assert_eq!(ids(&["--since", "2026-12-01T10:30:00Z"]), [1, 2]);
    assert_eq!(ids(&["--owner", "confluence.service"]), [1]);
    assert_eq!(ids(&["--limit", "2"]), [1, 2]);
    assert_eq!(ids(&["--owner", "nothing.service"]), Vec::<u64>::new());
}

#[test]
fn an_empty_store_says_so_and_a_missing_one_is_an_error() {
    let dir = TempDir::new("rec-empty").unwrap();
    let ran = oomlens!()
        .args(["incidents", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success().stdout_has("no incident recorded in");
    let missing = dir.path().join("nope");
    oomlens!()
        .args(["incidents", "--state-dir"])
        .arg(&missing)
        .run()
        .code(2)
        .stderr_has("no such state directory")
        .stderr_has(&missing.display().to_string());
    oomlens!()
        .args(["explain", "--recorded", "0", "--state-dir"])
        .arg(&missing)
        .run()
        .code(2)
        .stderr_has("no such state directory");
    oomlens!()
        .args(["explain", "--recorded", "9", "--state-dir"])
        .arg(dir.path())
        .run()
        .code(2)
        .stderr_has("no record 9");
}

#[test]
fn a_corrupt_record_and_a_torn_tail_are_skipped_and_counted() {
    let dir = TempDir::new("rec-corrupt").unwrap();
    let recs = sample_store(dir.path());
    // A record of another schema major version, one that is not JSON, then a good one.
    let mut v2 = serde_json::to_value(&recs[0]).unwrap();
    v2["schema"] = "oomlens.recorded/2".into();
    append_raw(
        dir.path(),
        &[
            (1, 1_764_600_000.0, serde_json::to_vec(&v2).unwrap()),
            (1, 1_764_600_001.0, b"{not json".to_vec()),
        ],
    );
    append(dir.path(), &recs[1..2]);
    // A torn tail: half a frame header at the end of the segment.
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "oomrec"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(b"OOMR\x01\x00");
    std::fs::write(&seg, bytes).unwrap();
    let ran = oomlens!()
        .args(["incidents", "--json", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success();
    let doc = ran.json();
    let ids: Vec<u64> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2, 5]);
    assert_eq!(doc["skipped"], 2);
    assert_eq!(doc["torn_bytes"], 6);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("record 3 has schema \\\"oomlens.recorded/2\\\""),
        "{warnings}"
    );
    assert!(warnings.contains("record 4 does not decode"), "{warnings}");
    // The record of another major version is refused by explain, naming file and id.
    oomlens!()
        .args(["explain", "--recorded", "3", "--state-dir"])
        .arg(dir.path())
        .run()
        .code(2)
        .stderr_has(&seg.display().to_string())
        .stderr_has("record 3 has schema \"oomlens.recorded/2\"; this oomlens reads oomlens.recorded/1.x only");
    // The text form warns on stderr and still lists the rest.
    oomlens!()
        .args(["incidents", "--state-dir"])
        .arg(dir.path())
        .run()
        .success()
        .stderr_has("record 4 does not decode")
        .stderr_has("6 bytes of an unfinished record");
}

/// The timeline of record 1 (report 051) checked by hand: usage 100 + 2·i MiB at
/// kill − 60 + i s, i = 0‥59, limit 512 MiB.
#[test]
fn explain_recorded_prints_the_incident_and_its_timeline() {
    let dir = store("rec-explain");
    let ran = oomlens!()
        .args(["explain", "--recorded", "1", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success();
    let out = ran.stdout();
    // The usual explain block first (the same as explaining the report file).
    let (inc, _) = parse_corpus("051-centos7-3.10-memcg-systemd-service-confluence-syslog.log")
        .into_iter()
        .next()
        .unwrap();
    let comm = inc.victim().unwrap().comm.clone().unwrap();
    assert!(out.lines().next().unwrap().contains(&comm), "{out}");
    assert!(
        out.contains("recorded by oomlens guard 0.1.0 on testhost from kmsg"),
        "{out}"
    );
    // start −60 s at 100 MiB; end = peak −1 s at 100 + 2·59 = 218 MiB.
    assert!(out.contains("  start    -60.0s  100.0 MiB"), "{out}");
    assert!(out.contains("  end       -1.0s  218.0 MiB"), "{out}");
    assert!(out.contains("  peak      -1.0s  218.0 MiB"), "{out}");
    // 2 MiB/s = 120 MiB/min; (512 − 218) / 2 = 147 s after −1 s: +146 s = +2m26s.
    assert!(
        out.contains("growth +120.0 MiB/min (leak); at that rate the limit is reached at +2m26s"),
        "{out}"
    );
    // The last row: 218/512 = 42.6 %.
    assert!(out.contains("-1.0s  218.0 MiB  42.6%"), "{out}");
    // anon = usage − 10 MiB: 90 MiB at the start, 208 MiB at the end.
    assert!(
        out.contains("  start  -60.0s   90.0 MiB   10.0 MiB        0 B"),
        "{out}"
    );
    assert!(
        out.contains("  end     -1.0s  208.0 MiB   10.0 MiB        0 B"),
        "{out}"
    );
    // The victim's RSS grew from 90 to 208 MiB: +118 MiB.
    assert!(out.contains("90.0 MiB  208.0 MiB  +118.0 MiB"), "{out}");
    assert!(out.contains("-0.5s  memory.events"), "{out}");

    let doc = oomlens!()
        .args(["explain", "--json", "--recorded", "1", "--state-dir"])
        .arg(dir.path())
        .run()
        .json();
    assert_eq!(doc["schema"], "oomlens.explain/1");
    let r = &doc["incidents"][0]["recording"];
    assert_eq!(r["start"]["usage"], 100 * MIB);
    assert_eq!(r["end"]["usage"], 218 * MIB);
    assert_eq!(r["growth"]["rate"], 2.0 * MIB as f64);
    assert_eq!(r["growth"]["limit_at"], 146.0);
    assert_eq!(r["series"].as_array().unwrap().len(), 60);
    assert_eq!(r["rows"].as_array().unwrap().len(), 11);
    assert_eq!(doc["summary"]["incidents"], 1);
}

/// Every key the two JSON outputs write is declared in the field tables, and every
/// declared key is written by the sample store.
#[test]
fn json_keys_are_all_declared() {
    let dir = store("rec-keys");
    let doc = oomlens!()
        .args(["incidents", "--json", "--state-dir"])
        .arg(dir.path())
        .run()
        .json();
    let written = json_key_paths(&doc);
    let declared: BTreeSet<String> = incidents_key_paths().into_iter().collect();
    assert_eq!(written, declared);

    let doc = oomlens!()
        .args(["explain", "--json", "--recorded", "0", "--state-dir"])
        .arg(dir.path())
        .run()
        .json();
    let written: BTreeSet<String> = json_key_paths(&doc)
        .into_iter()
        .filter_map(|k| k.strip_prefix("incidents[].").map(str::to_string))
        .filter(|k| k.starts_with("recording"))
        .collect();
    let declared: BTreeSet<String> = recording_key_paths().into_iter().collect();
    assert_eq!(written, declared);
    // The rest of the incident object is explain's, declared in its own tables.
    let explain_declared: BTreeSet<String> = declared_paths().into_iter().map(|(p, _)| p).collect();
    for k in json_key_paths(&doc) {
        if !k.starts_with("incidents[].recording") {
            assert!(explain_declared.contains(&k), "{k} not declared");
        }
    }
}

#[test]
fn control_characters_of_a_comm_are_escaped() {
    let dir = TempDir::new("rec-escape").unwrap();
    let (mut inc, raw) =
        parse_corpus("051-centos7-3.10-memcg-systemd-service-confluence-syslog.log")
            .into_iter()
            .next()
            .unwrap();
    let evil = "x\x1b]0;pwned\x07\x1b[2J";
    let cg = inc
        .victim()
        .unwrap()
        .cgroup
        .clone()
        .unwrap_or("/evil".into());
    for k in &mut inc.kills {
        k.comm = Some(evil.into());
    }
    let kill = 1_764_583_200.0;
    let window = leak_window(&cg, kill, 10, 100, 2, 512, 42, evil);
    append(dir.path(), &[record(inc, raw, kill, window)]);
    for args in [&["incidents"][..], &["explain", "--recorded", "0"]] {
        let ran = oomlens!()
            .args(args)
            .arg("--state-dir")
            .arg(dir.path())
            .run();
        ran.success();
        let out = ran.stdout();
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("x\\x1b]0;pwned\\x07\\x1b[2J"), "{out}");
    }
}

/// `--state-dir` of explain belongs to `--recorded`: alone, or with log files, it is refused
/// rather than silently ignored; `--recorded` does not mix with files or --follow.
#[test]
fn explain_state_dir_needs_recorded_and_recorded_takes_no_files() {
    oomlens!()
        .args(["explain", "--state-dir", "/x"])
        .run()
        .code(2)
        .stderr_has("--recorded <ID>");
    oomlens!()
        .args(["explain", "--state-dir", "/x", "some.log"])
        .run()
        .code(2)
        .stderr_has("cannot be used with");
    for extra in [&["some.log"][..], &["--follow"], &["--summary"]] {
        oomlens!()
            .args(["explain", "--recorded", "1"])
            .args(extra)
            .run()
            .code(2)
            .stderr_has("cannot be used with");
    }
}

/// A kill the guard saw only in a cgroup's counter (no log report: no kind, pid or comm,
/// no logged time) lists and explains, with its window timed from the record time.
#[test]
fn a_counter_only_record_lists_and_explains() {
    let dir = TempDir::new("rec-counter").unwrap();
    let cg = "/system.slice/batch.service";
    let mut inc = oomlens_model::Incident::new(0, Default::default());
    inc.task_memcg = Some(cg.into());
    inc.kills.push(oomlens_model::Kill {
        cgroup: Some(cg.into()),
        ..Default::default()
    });
    let kill = 1_796_119_200.0;
    let mut rec = record(
        inc,
        vec![],
        kill,
        leak_window(cg, kill, 10, 100, 2, 512, 9, "b"),
    );
    rec.logged_unix = None;
    rec.log_source = "counter".into();
    append(dir.path(), &[rec]);
    let ran = oomlens!()
        .args(["incidents", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success();
    let row = ran.stdout().lines().nth(1).unwrap().to_string();
    // No kind, pid or comm: "-"; the owner from the cgroup path; 10 samples: 9 s kept.
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "0",
            "2026-12-01T10:00:00Z",
            "-",
            "-",
            "-",
            "512.0",
            "MiB",
            "9s",
            "batch.service",
            cg
        ]
    );
    let ran = oomlens!()
        .args(["explain", "--recorded", "0", "--state-dir"])
        .arg(dir.path())
        .run();
    ran.success();
    // The record time (kill + 0.25 s) is the zero: the last sample was at kill − 1 s.
    ran.stdout_has("from counter")
        .stdout_has("  end       -1.2s  118.0 MiB");
}
