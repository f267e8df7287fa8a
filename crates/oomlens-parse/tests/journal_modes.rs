//! One real OOM kill read back through every `journalctl -o MODE` of systemd 252: the files
//! in data/journal-modes/ are the artifacts of the QEMU systemd-guest test
//! crates/oomlens-qemu/tests/systemd_journal_modes.rs (`k-MODE.txt`: `journalctl -k`,
//! `all-MODE.txt`: every unit's lines), copied unchanged. Every mode must give the same
//! incident, auto-detected and with its `--format`.
//!
//! The expected values were read off the kernel's own lines (k-short.txt):
//! `oom-kill:constraint=CONSTRAINT_MEMCG,…,oom_memcg=/system.slice/modes.service,
//! task_memcg=/system.slice/modes.service,task=modes-hog,pid=194,uid=0` and
//! `Memory cgroup out of memory: Killed process 194 (modes-hog) total-vm:34608kB,
//! anon-rss:32644kB, file-rss:1212kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0`,
//! and systemd's three lines about modes.service in all-short.txt.

use oomlens_model::{Incident, Kind, NoticeKind};
use oomlens_parse::{parse_bytes, Format, Options};

/// Each mode, the `source.format` it is named by, and its `--format`.
const MODES: &[(&str, &str, Format)] = &[
    ("short", "journal-short", Format::Journal),
    ("short-full", "journal-short-full", Format::Journal),
    ("short-iso", "journal-short", Format::Journal),
    ("short-iso-precise", "journal-short", Format::Journal),
    ("short-precise", "journal-short", Format::Journal),
    ("short-monotonic", "journal-monotonic", Format::Journal),
    ("short-unix", "journal-short-unix", Format::Journal),
    ("with-unit", "journal-short-full", Format::Journal),
    ("verbose", "journal-verbose", Format::JournalVerbose),
    ("export", "journal-export", Format::JournalExport),
    ("json", "journal-json", Format::JournalJson),
    (
        "json-pretty",
        "journal-json-pretty",
        Format::JournalJsonPretty,
    ),
    ("json-sse", "journal-json-sse", Format::JournalJson),
    ("json-seq", "journal-json-seq", Format::JournalJson),
    ("cat", "bare", Format::Bare),
];

fn read(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/journal-modes")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The one incident of the file, checked field by field.
fn check(name: &str, incs: &[Incident], format: &str, notices: &[NoticeKind]) {
    assert_eq!(incs.len(), 1, "{name}: {incs:#?}");
    let inc = &incs[0];
    assert_eq!(inc.kind, Some(Kind::Memcg), "{name}");
    assert_eq!(inc.source.format.as_deref(), Some(format), "{name}");
    let cg = Some("/system.slice/modes.service");
    assert_eq!(inc.oom_memcg.as_deref(), cg, "{name}");
    assert_eq!(inc.task_memcg.as_deref(), cg, "{name}");
    assert_eq!(
        inc.kernel_version.as_deref(),
        Some("6.1.0-57-cloud-amd64"),
        "{name}"
    );
    assert_eq!(inc.kills.len(), 1, "{name}");
    let k = &inc.kills[0];
    assert_eq!(
        (k.pid, k.comm.as_deref()),
        (Some(194), Some("modes-hog")),
        "{name}"
    );
    assert_eq!(
        (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb),
        (Some(32644), Some(1212), Some(0)),
        "{name}"
    );
    // The multi-line memory.stat record arrives whole in every mode.
    let stat = inc.memory_stat.as_ref().expect("memory.stat");
    assert_eq!(stat.bytes("anon"), Some(33431552), "{name}");
    let kinds: Vec<NoticeKind> = inc.notices.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, notices, "{name}");
    assert!(
        inc.notices.iter().all(|n| n.unit == "modes.service"),
        "{name}"
    );
}

#[test]
fn every_journalctl_mode_gives_the_same_incident() {
    let systemd = [
        NoticeKind::ProcessKilledByOomKiller,
        NoticeKind::MainProcessKilled,
        NoticeKind::FailedOomKill,
    ];
    let mut checked = 0;
    for (mode, format, flag) in MODES {
        for (scope, notices) in [("k", &[][..]), ("all", &systemd[..])] {
            let name = format!("{scope}-{mode}.txt");
            let log = read(&name);
            let auto = parse_bytes(&log, Options::default());
            check(&name, &auto, format, notices);
            let forced = Options {
                format: Some(*flag),
                ..Options::default()
            };
            let named = parse_bytes(&log, forced);
            check(
                &format!("{name} --format {}", flag.name()),
                &named,
                format,
                notices,
            );
            // Time and source aside, auto-detection and --format agree on everything.
            let strip = |i: &Incident| {
                let mut i = i.clone();
                i.source = Default::default();
                i.time = Default::default();
                i
            };
            assert_eq!(strip(&auto[0]), strip(&named[0]), "{name}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * MODES.len());
}

/// Instants: every stamped mode places the kill at the same second (the cat form has none).
#[test]
fn stamped_modes_agree_on_the_kill_time() {
    for (mode, _, _) in MODES.iter().filter(|(m, _, _)| *m != "cat") {
        let name = format!("k-{mode}.txt");
        let inc = parse_bytes(&read(&name), Options::default()).remove(0);
        let t = &inc.kills[0].time;
        let utc = t.utc.as_deref().unwrap_or("");
        let local = t.local.as_deref().unwrap_or("");
        let mono = t.monotonic_us.unwrap_or(0);
        assert!(
            utc.starts_with("2026-12-02T16:54:00")
                || local.starts_with("2026-12-02T16:54:00")
                || local.starts_with("1970-12-02T16:54:00")
                || (30_000_000..31_000_000).contains(&mono),
            "{name}: {t:?}"
        );
    }
}
