//! systemd itself as the oracle: `systemd-analyze verify` loads a unit in a test-mode
//! manager, and with `SYSTEMD_LOG_LEVEL=debug` prints the loaded unit (fragment, drop-ins in
//! applying order, and the effective values). With `SYSTEMD_UNIT_PATH` set to a fixture
//! tree's search path, it loads the tree as this crate's loader does; the two must agree on
//! every file and value. This works offline, without systemd as PID 1.
//!
//! Needs `systemd-analyze` (Debian package `systemd`); without it the test says so loudly
//! and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::systemd::{dump, one, systemd_analyze, verify};
use oomlens_audit::loader::Loader;
use oomlens_audit::settings::UnitSettings;
use oomlens_audit::size::{parse_timespan, MemoryValue, Span};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

/// The dump of one unit: key → values, in order.
fn systemd_dump(bin: &Path, loader: &Loader, unit: &str) -> BTreeMap<String, Vec<String>> {
    let text = verify(bin, loader, unit);
    let map = dump(&text, unit);
    assert!(
        !map.is_empty(),
        "no dump of {unit} from systemd-analyze:\n{text}"
    );
    map
}

fn check(bin: &Path, tree: &str, unit: &str) {
    let root = data(tree);
    let loader = Loader::system(&root);
    let ours = UnitSettings::from_loaded(&loader.load(unit).unwrap());
    let theirs = systemd_dump(bin, &loader, unit);
    let ctx = format!("{tree}: {unit}");

    assert_eq!(
        one(&theirs, "Fragment Path").map(PathBuf::from),
        ours.fragment.clone(),
        "{ctx}: fragment"
    );
    let their_dropins: Vec<PathBuf> = theirs
        .get("DropIn Path")
        .map(|v| v.iter().map(PathBuf::from).collect())
        .unwrap_or_default();
    assert_eq!(
        their_dropins, ours.dropins,
        "{ctx}: drop-ins and their order"
    );

    for key in [
        "MemoryMin",
        "MemoryLow",
        "MemoryHigh",
        "MemoryMax",
        "MemorySwapMax",
        "MemoryLimit",
    ] {
        let theirs: u64 = one(&theirs, key)
            .unwrap_or_else(|| panic!("{ctx}: systemd printed no {key}"))
            .parse()
            .unwrap();
        let default = if matches!(key, "MemoryMin" | "MemoryLow") {
            0
        } else {
            u64::MAX
        };
        let ours = match ours.memory(key) {
            None | Some(MemoryValue::Infinity) => default,
            Some(m) => m.bytes(None).expect("no percentages in oracle fixtures"),
        };
        assert_eq!(ours, theirs, "{ctx}: {key}");
    }
    let their_adj = one(&theirs, "OOMScoreAdjust").map(|v| v.parse::<i64>().unwrap());
    assert_eq!(
        ours.int("OOMScoreAdjust"),
        their_adj,
        "{ctx}: OOMScoreAdjust"
    );
    if unit.ends_with(".service") {
        assert_eq!(
            Some(ours.restart()),
            one(&theirs, "Restart"),
            "{ctx}: Restart"
        );
        let span = |k: &str, d: Span| {
            (
                ours.span(k).unwrap_or(d),
                parse_timespan(one(&theirs, k).unwrap()).unwrap(),
            )
        };
        let (a, b) = span("RestartSec", Span::Usec(100_000));
        assert_eq!(a, b, "{ctx}: RestartSec");
        let (a, b) = span("RuntimeMaxSec", Span::Infinity);
        assert_eq!(a, b, "{ctx}: RuntimeMaxSec");
        assert_eq!(
            ours.oom_policy(),
            one(&theirs, "OOMPolicy").unwrap(),
            "{ctx}: OOMPolicy"
        );
        let tfs: Vec<String> = ours
            .list("TemporaryFileSystem")
            .iter()
            .flat_map(|s| {
                s.raw
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let their_tfs = theirs
            .get("TemporaryFileSystem")
            .cloned()
            .unwrap_or_default();
        assert_eq!(tfs, their_tfs, "{ctx}: TemporaryFileSystem");
        if let Some(s) = one(&theirs, "Slice") {
            assert_eq!(ours.slice().as_deref(), Some(s), "{ctx}: Slice");
        }
    }
}

#[test]
fn loader_agrees_with_systemd_analyze() {
    let Some(bin) = systemd_analyze() else {
        eprintln!(
            "\n!!!!! SKIPPED loader_agrees_with_systemd_analyze: systemd-analyze not found \
             (apt-get install systemd) !!!!!\n"
        );
        return;
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "dropins",
            &[
                "app.service",
                "app-worker.service",
                "job@fast.service",
                "job@slow.service",
            ],
        ),
        ("scenario-000", &["worker-processor.service"]),
        (
            "scenario-002",
            &["postgresql.service", "backup-script.service"],
        ),
        (
            "rules",
            &[
                "bad-high.service",
                "close.service",
                "typo.service",
                "legacy.service",
                "legacy-ignored.service",
                "looping.service",
                "job-a.service",
                "builder.service",
                "mysql.service",
                "batch.slice",
            ],
        ),
        (
            "debian",
            &[
                "cron.service",
                "nginx.service",
                "postgresql.service",
                "postgresql@15-main.service",
                "redis-server.service",
                "ssh.service",
                "user@1000.service",
                "user@0.service",
            ],
        ),
    ];
    let mut n = 0;
    for (tree, units) in cases {
        for u in *units {
            check(&bin, tree, u);
            n += 1;
        }
    }
    eprintln!("{n} units agree with systemd-analyze");
}
