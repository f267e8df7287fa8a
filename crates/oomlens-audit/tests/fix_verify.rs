//! Drop-ins written by `fix` are checked by systemd itself: `systemd-analyze verify` loads
//! the unit with the drop-in in a copy of the fixture tree and must (1) print no warning
//! about the drop-in and (2) read exactly the values the plan meant — the offline
//! counterpart of `systemctl show -p MemoryHigh -p MemoryMax -p OOMScoreAdjust`. A
//! deliberately broken drop-in shows that the check can fail.
//!
//! Needs `systemd-analyze` (Debian package `systemd`); without it the test says so loudly
//! and passes.

use std::path::{Path, PathBuf};

mod common;

use common::systemd::{dump, one, systemd_analyze, verify};
use oomlens_audit::finding::DEFAULT_CRITICAL;
use oomlens_audit::fix::{dropin_path, plan, render, write_dropin, FixOptions, FixPlan, Written};
use oomlens_audit::loader::Loader;
use oomlens_audit::settings::UnitSettings;
use oomlens_audit::size::{Span, MIB};
use oomlens_testkit::fs::TempDir;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

/// A copy of the fixture tree `tree`, removed on drop.
fn scratch(tree: &str) -> TempDir {
    TempDir::copy_of("fix-verify", &data(tree)).unwrap()
}

fn dump_value(text: &str, unit: &str, key: &str) -> Option<String> {
    one(&dump(text, unit), key).map(str::to_string)
}

/// Lines of systemd's output that complain about `file`.
fn complaints(text: &str, file: &Path) -> Vec<String> {
    let name = file.display().to_string();
    text.lines()
        .filter(|l| l.contains(&name) && !l.contains("DropIn Path:"))
        .map(str::to_string)
        .collect()
}

fn fix_and_verify(bin: &Path, tree: &str, unit: &str, peak: u64, opts: &FixOptions) -> FixPlan {
    let root = scratch(tree);
    let loader = Loader::system(&root);
    let u = UnitSettings::from_loaded(&loader.load(unit).unwrap());
    let p = plan(&u, peak, "test peak", opts, None).unwrap();
    let target = loader.host(&dropin_path(&loader.config_dir(None), unit));
    assert_eq!(
        write_dropin(&target, &render(&p), false).unwrap(),
        Written::Created
    );

    let loader = Loader::system(&root);
    let text = verify(bin, &loader, unit);
    assert!(
        text.contains(&format!("DropIn Path: {}", target.display())),
        "{tree}/{unit}: systemd did not load the drop-in:\n{text}"
    );
    let bad = complaints(&text, &target);
    assert!(
        bad.is_empty(),
        "{tree}/{unit}: systemd complains about the drop-in: {bad:#?}"
    );
    assert_eq!(
        dump_value(&text, unit, "MemoryHigh"),
        Some(p.memory_high.to_string()),
        "{tree}/{unit}: MemoryHigh"
    );
    assert_eq!(
        dump_value(&text, unit, "MemoryMax"),
        Some(p.memory_max.to_string()),
        "{tree}/{unit}: MemoryMax"
    );
    assert_eq!(
        dump_value(&text, unit, "OOMScoreAdjust"),
        p.oom_score_adjust
            .or(u.int("OOMScoreAdjust"))
            .map(|a| a.to_string()),
        "{tree}/{unit}: OOMScoreAdjust"
    );
    if let Some(r) = p.runtime_max {
        let got = dump_value(&text, unit, "RuntimeMaxSec").unwrap();
        assert_eq!(oomlens_audit::size::parse_timespan(&got).unwrap(), r);
    }
    // And this crate reads the drop-in back the same way.
    let again = UnitSettings::from_loaded(&loader.load(unit).unwrap());
    assert_eq!(again.memory_bytes("MemoryHigh", None), Some(p.memory_high));
    p
}

#[test]
fn generated_dropins_pass_systemd_analyze_verify() {
    let Some(bin) = systemd_analyze() else {
        eprintln!(
            "\n!!!!! SKIPPED generated_dropins_pass_systemd_analyze_verify: systemd-analyze \
             not found (apt-get install systemd) !!!!!\n"
        );
        return;
    };
    let critical: Vec<String> = DEFAULT_CRITICAL.iter().map(|s| s.to_string()).collect();
    let opts = FixOptions {
        critical: critical.clone(),
        ..FixOptions::default()
    };
    // Scenario 000: the peak the operator saw gives the scenario's own 1536M/2G.
    let p = fix_and_verify(
        &bin,
        "scenario-000",
        "worker-processor.service",
        1228 * MIB + 819 * 1024,
        &opts,
    );
    assert_eq!((p.memory_high, p.memory_max), (1536 * MIB, 2048 * MIB));
    // Scenario 002: postgres gets OOMScoreAdjust=-500 as well.
    let p = fix_and_verify(&bin, "scenario-002", "postgresql.service", 3 << 30, &opts);
    assert_eq!(p.oom_score_adjust, Some(-500));
    // A real Debian unit, with RuntimeMaxSec= asked for.
    let with_runtime = FixOptions {
        runtime_max: Some(Span::Usec(3_600_000_000)),
        ..opts.clone()
    };
    fix_and_verify(&bin, "debian", "nginx.service", 300 * MIB, &with_runtime);
    // An instance of a template, and a slice ([Slice] section, no OOMScoreAdjust=).
    fix_and_verify(&bin, "debian", "postgresql@15-main.service", 2 << 30, &opts);
    let p = fix_and_verify(&bin, "rules", "batch.slice", 1 << 30, &opts);
    assert_eq!((p.section, p.oom_score_adjust), ("Slice", None));
}

#[test]
fn a_broken_dropin_is_caught_by_the_same_check() {
    let Some(bin) = systemd_analyze() else {
        eprintln!("\n!!!!! SKIPPED a_broken_dropin_is_caught_by_the_same_check: no systemd-analyze !!!!!\n");
        return;
    };
    let root = scratch("scenario-000");
    let loader = Loader::system(&root);
    let target = loader.host(&dropin_path(
        &loader.config_dir(None),
        "worker-processor.service",
    ));
    write_dropin(&target, "[Service]\nMemoryHihg=1G\nMemoryMax=2GB\n", false).unwrap();
    let text = verify(&bin, &Loader::system(&root), "worker-processor.service");
    let bad = complaints(&text, &target);
    assert!(
        bad.len() >= 2,
        "systemd should warn about both lines: {bad:#?}\n{text}"
    );
}
