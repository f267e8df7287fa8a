//! The systemd side on fixture trees (`tests/data/`, see its README): real Debian unit
//! files, the trees rebuilding scenarios 000 and 002, drop-in precedence, and one tree where
//! every other systemd rule fires exactly where expected.

use std::path::{Path, PathBuf};

use oomlens_audit::finding::DEFAULT_CRITICAL;
use oomlens_audit::loader::{Loader, ManagerDefaults, Scope};
use oomlens_audit::settings::{UnitSettings, Value};
use oomlens_audit::size::{MemoryValue, Span};
use oomlens_audit::systemd_rules::SystemdContext;
use oomlens_audit::{audit_systemd, user_manager_oom_score_adjust, SystemdAudit};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn ctx() -> SystemdContext {
    SystemdContext {
        critical: DEFAULT_CRITICAL.iter().map(|s| s.to_string()).collect(),
        ..SystemdContext::default()
    }
}

fn pairs(a: &SystemdAudit) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = a
        .findings
        .iter()
        .map(|f| (f.target.clone(), f.rule.to_string()))
        .collect();
    v.sort();
    v
}

fn expect(a: &SystemdAudit, want: &[(&str, &str)]) {
    let mut want: Vec<(String, String)> = want
        .iter()
        .map(|(t, r)| (t.to_string(), r.to_string()))
        .collect();
    want.sort();
    let got = pairs(a);
    assert_eq!(
        got, want,
        "findings: {:#?}\nerrors: {:?}",
        a.findings, a.errors
    );
}

fn load(root: &Path, name: &str) -> UnitSettings {
    UnitSettings::from_loaded(&Loader::system(root).load(name).unwrap())
}

#[test]
fn debian_units_only_flag_unprotected_servers() {
    let root = data("debian");
    let a = audit_systemd(&Loader::system(&root), &[], &ctx());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    // nginx and redis ship without OOMScoreAdjust=; postgresql@ has -900, sshd protects
    // itself, postgresql.service is a oneshot wrapper, cron is no critical service.
    expect(
        &a,
        &[
            ("nginx.service", "critical-without-oom-score-adjust"),
            ("redis-server.service", "critical-without-oom-score-adjust"),
            ("redis-server@.service", "critical-without-oom-score-adjust"),
        ],
    );
    let names: Vec<&str> = a.units.iter().map(|u| u.unit.full.as_str()).collect();
    for n in [
        "cron.service",
        "nginx.service",
        "postgresql.service",
        "postgresql@.service",
        "ssh.service",
        "ssh.socket",
        "user.slice",
    ] {
        assert!(names.contains(&n), "{n} not audited: {names:?}");
    }
    // Aliases are not audited twice.
    assert!(!names.contains(&"redis.service") && !names.contains(&"sshd.service"));
}

#[test]
fn debian_instances_and_aliases_resolve_like_systemd() {
    let root = data("debian");
    let l = Loader::system(&root);
    // An instance takes its template's file and the template's drop-ins.
    let pg = UnitSettings::from_loaded(&l.load("postgresql@15-main.service").unwrap());
    assert_eq!(
        pg.fragment.as_deref(),
        Some(
            root.join("lib/systemd/system/postgresql@.service")
                .as_path()
        )
    );
    assert_eq!(pg.int("OOMScoreAdjust"), Some(-900));
    assert_eq!(pg.slice().as_deref(), Some("system-postgresql.slice"));
    let a = audit_systemd(&l, &["postgresql@15-main.service".to_string()], &ctx());
    expect(&a, &[]);
    // An absolute alias symlink inside the tree resolves inside the tree.
    let redis = l.load("redis.service").unwrap();
    assert_eq!(redis.id.full, "redis-server.service");
    assert_eq!(
        redis.fragment.as_ref().unwrap().path,
        root.join("lib/systemd/system/redis-server.service")
    );
    let a = audit_systemd(&l, &["sshd.service".to_string()], &ctx());
    expect(&a, &[]);
    // user@1000.service: template file, template drop-in; user@0 has its own drop-in dir.
    let u = l.load("user@0.service").unwrap();
    let d: Vec<String> = u
        .dropins
        .iter()
        .map(|f| f.path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        d,
        vec!["lib/systemd/system/user@0.service.d/10-login-barrier.conf"],
        "same-named template drop-in is hidden by the instance's"
    );
    assert_eq!(user_manager_oom_score_adjust(&root), 100);
    let s = UnitSettings::from_loaded(&l.load("user@1000.service").unwrap());
    assert_eq!(s.slice().as_deref(), Some("user-1000.slice"));
}

#[test]
fn scenario_000_worker_without_memory_high_in_a_restart_loop() {
    let root = data("scenario-000");
    let a = audit_systemd(&Loader::system(&root), &[], &ctx());
    expect(
        &a,
        &[
            ("worker-processor.service", "memory-max-without-high"),
            (
                "worker-processor.service",
                "restart-loop-without-start-limit",
            ),
        ],
    );
    let f = &a.findings[0];
    assert_eq!(
        f.file.as_deref(),
        Some(
            root.join("etc/systemd/system/worker-processor.service")
                .as_path()
        )
    );
    assert_eq!(f.line, Some(11), "MemoryMax= is on line 11");
    assert!(f.fix.contains("MemoryHigh=384M"), "{}", f.fix);
    let loop_f = a
        .findings
        .iter()
        .find(|f| f.rule == "restart-loop-without-start-limit")
        .unwrap();
    assert_eq!(loop_f.line, Some(10), "Restart= is on line 10");
    assert!(
        loop_f.message.contains("5 starts in 10s"),
        "{}",
        loop_f.message
    );
}

#[test]
fn scenario_002_postgres_unprotected_and_batch_job_unbounded() {
    let root = data("scenario-002");
    let l = Loader::system(&root);
    expect(
        &audit_systemd(&l, &[], &ctx()),
        &[("postgresql.service", "critical-without-oom-score-adjust")],
    );
    let c = SystemdContext {
        oom_killed: vec!["postgresql.service".into()],
        require_limit: vec!["backup*".into()],
        ..ctx()
    };
    let a = audit_systemd(&l, &[], &c);
    expect(
        &a,
        &[
            ("backup-script.service", "no-memory-limit"),
            ("postgresql.service", "critical-without-oom-score-adjust"),
            ("postgresql.service", "no-memory-limit"),
        ],
    );
    let pg = a
        .findings
        .iter()
        .find(|f| f.rule == "critical-without-oom-score-adjust")
        .unwrap();
    assert!(pg.message.contains("postgres"), "{}", pg.message);
    assert_eq!(pg.line, Some(7), "points at [Service]");
}

#[test]
fn dropins_apply_in_systemd_order() {
    let root = data("dropins");
    let app = load(&root, "app.service");
    let rel = |p: &Path| p.strip_prefix(&root).unwrap().display().to_string();
    assert_eq!(
        app.dropins.iter().map(|p| rel(p)).collect::<Vec<_>>(),
        vec![
            "lib/systemd/system/service.d/05-all-services.conf",
            "etc/systemd/system/app.service.d/10-vendor.conf",
            "run/systemd/system/app.service.d/20-runtime.conf",
            "etc/systemd/system/app.service.d/30-local.conf",
            "etc/systemd/system/app.service.d/40-masked.conf",
        ]
    );
    // A drop-in overrides the main file; /etc beats /lib for the same drop-in name.
    let max = app.get("MemoryMax").unwrap();
    assert_eq!(max.value, Value::Memory(MemoryValue::Bytes(3 << 30)));
    assert_eq!(
        rel(&max.origin.file),
        "etc/systemd/system/app.service.d/10-vendor.conf"
    );
    assert_eq!(max.origin.line, 3);
    // An empty assignment resets the value set by the main file.
    assert!(app.get("MemoryHigh").is_none());
    let reset = app.reset_at("MemoryHigh").unwrap();
    assert_eq!(
        rel(&reset.file),
        "run/systemd/system/app.service.d/20-runtime.conf"
    );
    // The type-wide service.d applies after the unit file.
    assert_eq!(app.int("OOMScoreAdjust"), Some(50));
    // An empty assignment clears a list.
    let tfs: Vec<&str> = app
        .list("TemporaryFileSystem")
        .iter()
        .map(|s| s.raw.as_str())
        .collect();
    assert_eq!(tfs, vec!["/var/tmp/app:size=64M"]);
    // The /dev/null drop-in hides the vendor file of the same name.
    assert!(app.get("MemorySwapMax").is_none());

    // Dash prefixes: app-.service.d applies to app-worker.service; within one directory the
    // unit's own .d wins over the prefix's for the same file name.
    let w = load(&root, "app-worker.service");
    assert_eq!(w.memory("MemoryMax"), Some(MemoryValue::Bytes(300 << 20)));
    assert_eq!(w.memory("MemoryHigh"), Some(MemoryValue::Bytes(200 << 20)));

    // Templates: template drop-ins apply to every instance, instance drop-ins to one.
    let fast = load(&root, "job@fast.service");
    assert_eq!(
        fast.memory("MemoryMax"),
        Some(MemoryValue::Bytes(200 << 20))
    );
    assert_eq!(
        fast.memory("MemoryHigh"),
        Some(MemoryValue::Bytes(150 << 20))
    );
    let slow = load(&root, "job@slow.service");
    assert_eq!(
        slow.memory("MemoryMax"),
        Some(MemoryValue::Bytes(100 << 20))
    );
    assert_eq!(
        slow.memory("MemoryHigh"),
        Some(MemoryValue::Bytes(80 << 20))
    );

    // A unit masked by /dev/null in /etc is masked, whatever /lib has.
    let gone = load(&root, "gone.service");
    assert!(gone.masked && gone.get("MemoryMax").is_none());
    let a = audit_systemd(
        &Loader::system(&root),
        &["gone.service".to_string()],
        &ctx(),
    );
    assert!(a.findings.is_empty());
}

#[test]
fn every_other_systemd_rule_fires_where_expected() {
    let root = data("rules");
    let c = SystemdContext {
        ram: oomlens_audit::loader::read_mem_total(&root),
        defaults: ManagerDefaults::read(&root, Scope::System),
        ..ctx()
    };
    assert_eq!(c.ram, Some(8 << 30));
    let a = audit_systemd(&Loader::system(&root), &[], &c);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    expect(
        &a,
        &[
            ("bad-high.service", "high-not-below-max"),
            ("batch.slice", "slice-overcommitted"),
            ("builder.service", "tmpfs-without-size"),
            ("close.service", "high-too-close-to-max"),
            ("fstab:/dev/shm", "tmpfs-without-size"),
            ("huge.service", "limit-above-ram"),
            ("huge.service", "limit-above-ram"),
            ("legacy-ignored.service", "deprecated-memory-limit"),
            ("legacy.service", "deprecated-memory-limit"),
            ("looping.service", "restart-loop-without-start-limit"),
            ("mysql.service", "critical-without-oom-score-adjust"),
            ("scratch.mount", "tmpfs-without-size"),
            ("typo.service", "invalid-memory-setting"),
        ],
    );
    let by = |t: &str, r: &str| {
        a.findings
            .iter()
            .find(|f| f.target == t && f.rule == r)
            .unwrap()
            .clone()
    };
    let typo = by("typo.service", "invalid-memory-setting");
    assert_eq!(typo.line, Some(4));
    assert!(typo.message.contains("512MB"), "{}", typo.message);
    assert!(by("builder.service", "tmpfs-without-size")
        .message
        .contains("/var/build"));
    assert!(!by("builder.service", "tmpfs-without-size")
        .message
        .contains("/var/cache"));
    assert_eq!(by("fstab:/dev/shm", "tmpfs-without-size").line, Some(3));
    assert!(by("legacy-ignored.service", "deprecated-memory-limit")
        .message
        .contains("ignored"));
    let slice = by("batch.slice", "slice-overcommitted");
    assert!(slice.message.contains("1.5G"), "{}", slice.message);
    let looping = by("looping.service", "restart-loop-without-start-limit");
    assert!(
        looping.message.contains("can never trip"),
        "{}",
        looping.message
    );
    // 50% of the tree's 8G is resolved, and is no finding.
    let half = load(&root, "half.service");
    assert_eq!(half.memory_bytes("MemoryMax", c.ram), Some(4 << 30));
    assert_eq!(
        load(&root, "bounded.service").span("StartLimitIntervalSec"),
        Some(Span::Usec(3_600_000_000))
    );
}

#[test]
fn user_units_cannot_lower_oom_score_adjust_below_the_manager() {
    let root = data("rules");
    let c = SystemdContext {
        user_manager_oom_score_adjust: user_manager_oom_score_adjust(&root),
        ..ctx()
    };
    assert_eq!(c.user_manager_oom_score_adjust, 100);
    let l = Loader::user(&root, Some(Path::new("/home/alice")));
    assert_eq!(
        l.search_path()[0],
        PathBuf::from("/home/alice/.config/systemd/user")
    );
    let a = audit_systemd(&l, &[], &c);
    expect(&a, &[("agent.service", "user-oom-score-adjust-floor")]);
    assert_eq!(a.units.len(), 2);
    assert!(a
        .units
        .iter()
        .all(|u| u.scope == Scope::User && u.slice().is_none()));
}

#[test]
fn missing_units_are_errors_naming_the_unit_and_the_others_still_audited() {
    let root = data("scenario-000");
    let a = audit_systemd(
        &Loader::system(&root),
        &[
            "nope.service".to_string(),
            "worker-processor.service".to_string(),
            "bad name".to_string(),
        ],
        &ctx(),
    );
    assert_eq!(a.errors.len(), 2);
    let e0 = a.errors[0].to_string();
    assert!(e0.starts_with("nope.service: no such unit file in"), "{e0}");
    assert!(a.errors[1].to_string().contains("\"bad name\""));
    assert_eq!(a.findings.len(), 2);
}
