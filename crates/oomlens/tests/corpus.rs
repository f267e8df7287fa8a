//! Table-driven test over the real OOM reports in tests/corpus/oom-reports: every file
//! is run through `oomlens explain --json` and every MANIFEST.tsv column is compared with
//! the JSON contract. All mismatches are listed before the test fails.

use std::path::PathBuf;

use oomlens_testkit::oomlens;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OOMLENS_CORPUS") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports")
}

/// Manifest value → expected JSON value: `?` (not printed) and `-` (not applicable) are null.
fn expect(v: &str) -> Value {
    match v {
        "?" | "-" => Value::Null,
        _ => match v.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(v),
        },
    }
}

/// The manifest's log_format vocabulary against our finer `source.format`.
fn format_matches(manifest: &str, ours: &str) -> bool {
    match manifest {
        "dmesg" => ours == "dmesg",
        "dmesg-T" => ours == "dmesg-T",
        "journal-short" | "syslog" => ours == manifest || ours == "syslog-or-journal",
        "other" => matches!(
            ours,
            "kmsg"
                | "bare"
                | "dmesg-x"
                | "journal-monotonic"
                | "prefixed"
                | "journal-json"
                | "dmesg-iso"
                | "dmesg-raw"
                | "console"
                | "vmware-guest"
                // journalctl's other output modes (envelope.rs, records.rs)
                | "journal-short-unix"
                | "journal-short-full"
                | "journal-json-sse"
                | "journal-json-seq"
                | "journal-json-pretty"
                | "journal-verbose"
                | "journal-export"
        ),
        _ => false,
    }
}

/// Columns the reader gets wrong on purpose, each with why: the manifest stays the truth
/// about the text, and a gap that closes fails the test until it is removed from here.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    (
        "224-",
        "completeness",
        "the excerpt starts inside Mem-Info with its `Mem-Info:` line cut off; while no \
         report is open the reader skips lines that hold no trigger, so it keeps only the \
         table header and the panic",
    ),
    (
        "235-",
        "completeness",
        "the victim's task rows stand above the selection line with their header cut off: \
         skipped for the same reason",
    ),
    (
        "235-",
        "oom_score_adj",
        "the adj is only on that skipped task row",
    ),
];

#[test]
fn every_corpus_file_matches_its_manifest_row() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set OOMLENS_CORPUS to the corpus directory)",
            dir.display()
        )
    });
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let mut failures = Vec::new();
    let mut files = 0;
    let mut checks = 0;
    for row in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = row.split('\t').collect();
        let file = f[col("file")];
        files += 1;
        // Ran::json names the command (with the file) and its stderr when this is no JSON.
        let out = oomlens!()
            .args(["explain", "--json"])
            .arg(dir.join(file))
            .run();
        let doc = out.json();
        assert_eq!(doc["schema"], "oomlens.explain/1");
        let incidents = doc["incidents"].as_array().expect("incidents");
        let kind = f[col("kind")];
        let mut check = |what: &str, got: &Value, want: Value| {
            checks += 1;
            let known = KNOWN_GAPS
                .iter()
                .any(|(f, col, _)| file.starts_with(f) && *col == what);
            match (*got == want, known) {
                (true, false) | (false, true) => {}
                (false, false) => failures.push(format!("{file}: {what}: got {got}, want {want}")),
                (true, true) => failures.push(format!(
                    "{file}: {what}: the known gap is closed; remove it from KNOWN_GAPS"
                )),
            }
        };
        if kind == "negative" {
            check(
                "incident count",
                &Value::from(incidents.len()),
                Value::from(0),
            );
            check("exit code", &Value::from(out.status.code()), Value::from(1));
            continue;
        }
        check("exit code", &Value::from(out.status.code()), Value::from(0));
        let Some(primary) = incidents
            .iter()
            .find(|i| !i["kills"].as_array().unwrap().is_empty())
            .or(incidents.first())
        else {
            failures.push(format!("{file}: no incident"));
            continue;
        };
        let victim = &primary["kills"][0];
        check("kind", &primary["kind"], expect(kind));
        check(
            "completeness",
            &primary["completeness"],
            expect(f[col("completeness")]),
        );
        check(
            "kernel_version",
            &primary["kernel_version"],
            expect(f[col("kernel_version")]),
        );
        check(
            "constraint",
            &primary["constraint"],
            expect(f[col("constraint")]),
        );
        check(
            "oom_memcg",
            &primary["oom_memcg"],
            expect(f[col("oom_memcg")]),
        );
        check(
            "task_memcg",
            &primary["task_memcg"],
            expect(f[col("task_memcg")]),
        );
        check("victim_pid", &victim["pid"], expect(f[col("victim_pid")]));
        // The victim_comm column of kubelet rows holds the container, or the pod without one.
        let comm = f[col("victim_comm")];
        check(
            "victim_comm",
            &victim["comm"],
            if comm == "?" || comm == "-" {
                Value::Null
            } else {
                Value::from(comm)
            },
        );
        check(
            "anon_rss_kb",
            &victim["anon_rss_kb"],
            expect(f[col("anon_rss_kb")]),
        );
        check(
            "file_rss_kb",
            &victim["file_rss_kb"],
            expect(f[col("file_rss_kb")]),
        );
        check(
            "shmem_rss_kb",
            &victim["shmem_rss_kb"],
            expect(f[col("shmem_rss_kb")]),
        );
        check(
            "oom_score_adj",
            &victim["oom_score_adj"],
            expect(f[col("oom_score_adj")]),
        );
        let inv = f[col("invoker_comm")];
        check(
            "invoker_comm",
            &primary["invoker"]["comm"],
            if inv == "?" || inv == "-" {
                Value::Null
            } else {
                Value::from(inv)
            },
        );
        let gfp = f[col("gfp_mask")];
        check(
            "gfp_mask",
            &primary["invoker"]["gfp_mask"],
            if gfp == "?" || gfp == "-" {
                Value::Null
            } else {
                Value::from(gfp)
            },
        );
        check(
            "order",
            &primary["invoker"]["order"],
            expect(f[col("order")]),
        );
        let kills: usize = incidents
            .iter()
            .map(|i| i["kills"].as_array().unwrap().len())
            .sum();
        check(
            "number_of_kills_in_file",
            &Value::from(kills),
            expect(f[col("number_of_kills_in_file")]),
        );
        let fmt = primary["source"]["format"].as_str().unwrap_or("");
        checks += 1;
        if !format_matches(f[col("log_format")], fmt) {
            failures.push(format!(
                "{file}: log_format: got {fmt}, want {}",
                f[col("log_format")]
            ));
        }
    }
    eprintln!(
        "corpus: {files} files, {checks} checks, {} mismatches",
        failures.len()
    );
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(files >= 40, "only {files} corpus files");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
