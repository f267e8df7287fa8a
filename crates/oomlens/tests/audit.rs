//! `oomlens audit` and `oomlens fix` from the command line: exit codes (0 clean, 1 findings
//! at or above --fail-on, 2 input not audited), the three output forms, manifests on
//! standard input, errors that name file and line while the rest is still audited, escaping
//! of untrusted unit text, and the drop-in `fix` writes (dry run, no clobber, --force, the
//! live peak, --apply running systemctl without a shell). Fixtures are those of the
//! oomlens-audit crate (`crates/oomlens-audit/tests/data`, see its README).

use std::path::{Path, PathBuf};

use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::oomlens;
use oomlens_testkit::run::Ran;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../oomlens-audit/tests/data")
        .join(p)
}

fn tmpdir(name: &str) -> TempDir {
    TempDir::new(&format!("audit-cli-{name}")).unwrap()
}

fn text(o: &Ran) -> (String, String) {
    (o.stdout(), o.stderr())
}

fn run(args: &[&str]) -> Ran {
    oomlens!().args(args).run()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn findings_exit_1_and_fail_on_raises_the_bar() {
    let root = data("scenario-000");
    let o = run(&["audit", "--root", path(&root)]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("memory-max-without-high"), "{out}");
    assert!(out.contains("restart-loop-without-start-limit"), "{out}");
    assert!(
        out.contains("etc/systemd/system/worker-processor.service:11"),
        "file:line of MemoryMax=: {out}"
    );
    assert!(
        out.contains("MemoryMax=512M  ("),
        "effective settings with origin: {out}"
    );
    // Only warnings here: --fail-on error and never exit 0.
    assert_eq!(
        run(&["audit", "--root", path(&root), "--fail-on", "error"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["audit", "--root", path(&root), "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn clean_debian_units_exit_0() {
    let root = data("debian");
    let o = run(&[
        "audit",
        "--root",
        path(&root),
        "cron.service",
        "ssh.service",
        "sshd.service",
        "postgresql@15-main.service",
        "postgresql.service",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    // Named units are listed with their settings even without findings.
    assert!(out.contains("postgresql@15-main.service  "), "{out}");
    assert!(out.contains("OOMScoreAdjust=-900"), "{out}");
    assert!(out.contains("ssh.service (as sshd.service)"), "{out}");
}

#[test]
fn json_document_has_the_documented_shape() {
    let root = data("scenario-002");
    let o = run(&[
        "audit",
        "--json",
        "--root",
        path(&root),
        "--oom-killed",
        "postgresql.service",
        "--require-limit",
        "backup*",
    ]);
    o.code(1);
    let v = o.json();
    assert_eq!(v["schema"], "oomlens.audit/1");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 3);
    for f in findings {
        for k in [
            "rule", "severity", "target", "file", "line", "message", "fix",
        ] {
            assert!(f.get(k).is_some(), "finding lacks {k}: {f}");
        }
    }
    assert_eq!(v["summary"]["warning"], 3);
    let pg = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "postgresql.service")
        .unwrap();
    assert!(pg["fragment"]
        .as_str()
        .unwrap()
        .ends_with("etc/systemd/system/postgresql.service"));
    assert_eq!(pg["slice"], "system.slice");
    assert_eq!(pg["settings"]["Type"]["value"], "notify");
    assert_eq!(pg["settings"]["Type"]["line"], 8);
}

#[test]
fn sarif_lists_the_rules_and_locates_the_results() {
    let root = data("rules");
    let o = run(&["audit", "--format", "sarif", "--root", path(&root)]);
    o.code(1);
    let v = o.json();
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 13);
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx], id);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("file:///"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
    }
}

#[test]
fn manifests_on_stdin_like_helm_template_output() {
    let chart = std::fs::read(data("k8s/helm/ingress-nginx-4.0.15.yaml")).unwrap();
    let o = oomlens!()
        .args(["audit", "--json", "-f", "-"])
        .stdin(chart)
        .run();
    o.code(1);
    let v = o.json();
    // Only the manifests: no systemd unit of this machine was read.
    assert_eq!(v["units"].as_array().unwrap().len(), 0);
    assert_eq!(v["summary"]["documents"], 19);
    assert_eq!(v["summary"]["objects"], 3);
    assert_eq!(v["findings"][0]["file"], "-");
}

#[test]
fn broken_manifests_exit_2_naming_file_and_line_and_the_rest_is_audited() {
    let malformed = data("k8s/edge/malformed.yaml");
    let wrong = data("k8s/edge/wrong-types.yaml");
    let o = run(&[
        "audit",
        "--json",
        "-f",
        path(&malformed),
        "-f",
        path(&wrong),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains(&format!("{}:16: invalid YAML", malformed.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:18: spec.containers[0].resources.limits.memory: expected a quantity",
            wrong.display()
        )),
        "{err}"
    );
    let v = o.json();
    assert_eq!(v["errors"].as_array().unwrap().len(), 7);
    let names: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["before", "after", "fine-in-list", "fine-at-end"]
    );
    // A file that cannot be read is an error too; the readable one is still audited.
    let o = run(&[
        "audit",
        "-f",
        "/nonexistent/x.yaml",
        "-f",
        path(&data("k8s/docs/qos-pod.yaml")),
    ]);
    let (out, _) = text(&o);
    o.code(2);
    assert!(
        out.contains("error: /nonexistent/x.yaml: No such file"),
        "{out}"
    );
    assert!(out.contains("1 Kubernetes object"), "{out}");
}

#[test]
fn units_killed_in_a_log_must_have_a_limit() {
    // Scenario 002 as the kernel logged it: a global OOM kill in postgresql.service.
    let d = tmpdir("oomlog");
    let log = d.join("kern.log");
    std::fs::write(
        &log,
        "[ 5000.000001] backup-script invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0\n\
         [ 5000.000100] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/postgresql.service,task=postgres,pid=812,uid=106\n\
         [ 5000.000200] Out of memory: Killed process 812 (postgres) total-vm:9000000kB, anon-rss:6000000kB, file-rss:1200kB, shmem-rss:800000kB, UID:106 pgtables:14000kB oom_score_adj:0\n",
    )
    .unwrap();
    let root = data("scenario-002");
    let o = run(&[
        "audit",
        "--json",
        "--root",
        path(&root),
        "--oom-log",
        path(&log),
    ]);
    let v = o.json();
    let got: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        got.contains(&(
            "postgresql.service".to_string(),
            "no-memory-limit".to_string()
        )),
        "{got:?}"
    );
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["message"].as_str().unwrap().contains("was OOM-killed")));
    // An unreadable log is an error naming it.
    let o = run(&[
        "audit",
        "--root",
        path(&root),
        "--oom-log",
        "/nonexistent/kern.log",
    ]);
    o.code(2);
    assert!(text(&o).0.contains("/nonexistent/kern.log"));
}

#[test]
fn a_missing_unit_exits_2_and_the_others_are_audited() {
    let root = data("scenario-000");
    let o = run(&[
        "audit",
        "--root",
        path(&root),
        "nope.service",
        "worker-processor.service",
    ]);
    let (out, _) = text(&o);
    o.code(2);
    assert!(
        out.contains("error: nope.service: no such unit file in"),
        "{out}"
    );
    assert!(out.contains("memory-max-without-high"), "{out}");
}

#[test]
fn user_units_and_the_manager_floor() {
    let root = data("rules");
    let o = run(&[
        "audit",
        "--root",
        path(&root),
        "--user",
        "--home",
        "/home/alice",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "info only: {out}{err}");
    assert!(out.contains("user-oom-score-adjust-floor"), "{out}");
    assert_eq!(
        run(&[
            "audit",
            "--root",
            path(&root),
            "--user",
            "--home",
            "/home/alice",
            "--fail-on",
            "info"
        ])
        .status
        .code(),
        Some(1)
    );
}

#[test]
fn unit_text_is_escaped_before_the_terminal() {
    let d = tmpdir("escape");
    let unit = d.join("etc/systemd/system/evil.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(
        &unit,
        "[Service]\nExecStart=/bin/true\nMemoryMax=1\x1b[2JG\n",
    )
    .unwrap();
    let o = run(&["audit", "--root", path(&d)]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        !out.contains('\x1b'),
        "raw escape reached the terminal: {out:?}"
    );
    assert!(out.contains("\\x1b[2J"), "{out}");
}

#[test]
fn fix_writes_once_atomically_and_only_replaces_with_force() {
    let d = TempDir::copy_of("audit-cli-fix", &data("scenario-000")).unwrap();
    let dropin = d.join("etc/systemd/system/worker-processor.service.d/50-oomlens.conf");
    let base = ["fix", "worker-processor.service", "--root", path(&d)];

    let o = oomlens!()
        .args(base)
        .args(["--peak", "1228.8M", "--dry-run"])
        .run();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains("[Service]\nMemoryHigh=1536M\nMemoryMax=2048M\n"),
        "{out}"
    );
    assert!(err.contains("dry run"), "{err}");
    assert!(!dropin.exists(), "a dry run writes nothing");

    let o = oomlens!().args(base).args(["--peak", "1228.8M"]).run();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "to apply: systemctl daemon-reload && systemctl restart worker-processor.service"
        ),
        "{err}"
    );
    let first = std::fs::read_to_string(&dropin).unwrap();

    // A different drop-in is not written over without --force.
    let o = oomlens!().args(base).args(["--peak", "2G"]).run();
    let (_, err) = text(&o);
    o.code(2);
    assert!(err.contains("already exists; pass --force"), "{err}");
    assert_eq!(std::fs::read_to_string(&dropin).unwrap(), first);
    let o = oomlens!()
        .args(base)
        .args(["--peak", "2G", "--force"])
        .run();
    o.code(0);
    assert!(std::fs::read_to_string(&dropin)
        .unwrap()
        .contains("MemoryHigh=2560M"));

    // The audit now reads the drop-in: MemoryHigh= is there, from the new file.
    let o = run(&["audit", "--json", "--root", path(&d)]);
    let v = o.json();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"memory-max-without-high"), "{rules:?}");
    assert_eq!(
        v["units"][0]["settings"]["MemoryHigh"]["file"],
        path(&dropin)
    );

    // A later drop-in (systemctl edit's override.conf) still wins, and fix says so.
    let over = dropin.with_file_name("override.conf");
    std::fs::write(&over, "[Service]\nMemoryMax=600M\n").unwrap();
    let o = oomlens!()
        .args(base)
        .args(["--peak", "1G", "--force"])
        .run();
    let (_, err) = text(&o);
    assert!(
        err.contains(&format!(
            "MemoryMax=600M from {}:2 overrides the new drop-in",
            over.display()
        )),
        "{err}"
    );
}

#[test]
fn fix_reads_the_live_peak_and_applies_through_systemctl_without_a_shell() {
    let d = TempDir::copy_of("audit-cli-apply", &data("scenario-002")).unwrap();
    // A fake cgroup v2 tree with the unit's peak.
    FakeTree::at(d.join("cg"))
        .cgroup_v2("/system.slice/postgresql.service")
        .file("memory.peak", "2147483648\n");
    // A systemctl stand-in that records its arguments, one call per line.
    let log = d.join("systemctl.log");
    let stub = d.join("systemctl");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\necho >> '{}'\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Without --systemctl, --apply refuses a tree that is not this machine, writing nothing.
    let o = run(&[
        "fix",
        "postgresql.service",
        "--root",
        path(&d),
        "--cgroup-root",
        path(&d.join("cg")),
        "--apply",
    ]);
    let (_, err) = text(&o);
    o.code(2);
    assert!(err.contains("name its systemctl with --systemctl"), "{err}");
    let dropin = d.join("etc/systemd/system/postgresql.service.d/50-oomlens.conf");
    assert!(!dropin.exists());

    let o = run(&[
        "fix",
        "postgresql.service",
        "--root",
        path(&d),
        "--cgroup-root",
        path(&d.join("cg")),
        "--apply",
        "--systemctl",
        path(&stub),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("memory.peak"), "{out}");
    let written = std::fs::read_to_string(&dropin).unwrap();
    assert!(
        written.contains("MemoryHigh=2560M\nMemoryMax=3414M\nOOMScoreAdjust=-500\n"),
        "{written}"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "daemon-reload|\nrestart|postgresql.service|\n"
    );

    // No peak anywhere: an error that says what was tried.
    let o = run(&[
        "fix",
        "backup-script.service",
        "--root",
        path(&d),
        "--cgroup-root",
        path(&d.join("cg")),
    ]);
    let (_, err) = text(&o);
    o.code(2);
    assert!(
        err.contains("backup-script.service: no peak memory usage recorded")
            && err.contains("--peak"),
        "{err}"
    );
}
