//! The service files oomlens ships, checked by the tools that will read them:
//! `contrib/systemd/oomlens-guard.service` by `systemd-analyze verify` and by `oomlens
//! audit`; `contrib/kubernetes/oomlens-guard.yaml` against the Kubernetes API's JSON schema
//! for `apps/v1` DaemonSet (vendored in `tests/kubernetes-schema`, origin in its README)
//! and by `oomlens audit -f`. Deliberately broken copies show that each check can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use oomlens_audit::yaml::{parse_stream, Limits, Node, Value};
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::oomlens;
use serde_json::json;

const UNIT: &str = "oomlens-guard.service";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(workspace().join(rel)).unwrap()
}

/// A root for `systemd-analyze verify --root`: the host's systemd units (the unit pulls in
/// sysinit.target, multi-user.target, ...), `unit_text` as the installed unit, and an
/// executable standing in for /usr/bin/oomlens (verify checks that ExecStart= exists).
fn unit_root(unit_text: &str) -> TempDir {
    let root = TempDir::new("unit-root").unwrap();
    root.mkdir("usr/lib/systemd").unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(root.path().join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(cp.success(), "copying /usr/lib/systemd/system");
    root.write(format!("etc/systemd/system/{UNIT}"), unit_text)
        .unwrap();
    let bin = root
        .write("usr/bin/oomlens", "#!/bin/sh\nexit 0\n")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // ExecReload= runs `kill` (procps), found on systemd's search path.
    let kill = root.write("usr/bin/kill", "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&kill, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// `systemd-analyze verify` of the unit in `root`: (success, stderr).
fn verify(root: &TempDir) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .arg(format!("--root={}", root.path().display()))
        .arg(format!("/etc/systemd/system/{UNIT}"))
        .output()
        .expect("systemd-analyze (systemd) is installed on the test machines");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let unit = read("contrib/systemd/oomlens-guard.service");
    let (ok, stderr) = verify(&unit_root(&unit));
    assert!(ok && stderr.is_empty(), "systemd-analyze verify: {stderr}");
    // verify exits 0 on an unknown key or a bad value and only warns: the empty stderr
    // above is what catches those, as a broken copy shows.
    let broken = unit
        .replace("MemoryHigh=12M", "MemoryHihg=12M")
        .replace("WatchdogSec=30s", "WatchdogSec=banana");
    let (_, stderr) = verify(&unit_root(&broken));
    assert!(stderr.contains("Unknown key 'MemoryHihg'"), "{stderr}");
    assert!(stderr.contains("banana"), "{stderr}");
}

#[test]
fn the_unit_has_what_the_service_needs() {
    let unit = read("contrib/systemd/oomlens-guard.service");
    let settings: Vec<&str> = unit
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for want in [
        "Type=notify",
        "ExecStart=/usr/bin/oomlens guard $OOMLENS_GUARD_OPTS",
        "EnvironmentFile=-/etc/default/oomlens-guard",
        "OOMScoreAdjust=-1000",
        "StateDirectory=oomlens",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "Restart=on-failure",
        "CapabilityBoundingSet=CAP_SYSLOG CAP_DAC_OVERRIDE CAP_SYS_RESOURCE CAP_NET_ADMIN \
         CAP_IPC_LOCK CAP_KILL CAP_SYS_PTRACE",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "ExecReload=kill -HUP $MAINPID",
        "DeviceAllow=/dev/kmsg r",
        "ReadWritePaths=/sys/fs/cgroup",
    ] {
        assert!(settings.contains(&want), "{UNIT} lacks {want}");
    }
    // Settings that would hide /dev/kmsg from the guard.
    for never in ["ProtectKernelLogs=yes", "PrivateDevices=yes"] {
        assert!(!settings.contains(&never), "{UNIT} has {never}");
    }
    // The example config names the variable the unit expands.
    let default = read("contrib/systemd/oomlens-guard.default");
    assert!(default
        .lines()
        .any(|l| l.starts_with("OOMLENS_GUARD_OPTS=")));
}

#[test]
fn oomlens_audit_finds_nothing_in_the_unit() {
    let root = unit_root(&read("contrib/systemd/oomlens-guard.service"));
    let ran = oomlens!()
        .args(["audit", "--json", "--ram", "4G", "--root"])
        .arg(root.path())
        .arg(UNIT)
        .run();
    ran.code(0);
    let doc: serde_json::Value = serde_json::from_str(&ran.stdout()).unwrap();
    assert_eq!(doc["findings"], json!([]), "{ran}");
    let unit = &doc["units"][0];
    assert_eq!(unit["unit"], UNIT, "{ran}");
    assert_eq!(unit["settings"]["MemoryMax"]["bytes"], 16 << 20);
    assert_eq!(unit["settings"]["MemoryHigh"]["bytes"], 12 << 20);
}

#[test]
fn oomlens_audit_finds_nothing_in_the_daemonset() {
    let ran = oomlens!()
        .args(["audit", "--json", "-f"])
        .arg(workspace().join("contrib/kubernetes/"))
        .run();
    ran.code(0);
    let doc: serde_json::Value = serde_json::from_str(&ran.stdout()).unwrap();
    assert_eq!(doc["findings"], json!([]), "{ran}");
    assert!(ran.stdout().contains("oomlens-guard"), "{ran}");
}

/// A YAML node as the JSON the API server would decode: plain scalars that are numbers
/// become numbers (Kubernetes reads YAML with the YAML 1.1/1.2 core types), the rest text.
fn to_json(n: &Node) -> serde_json::Value {
    match &n.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Str { text, plain: true } if text.parse::<i64>().is_ok() => {
            json!(text.parse::<i64>().unwrap())
        }
        Value::Str { text, plain: true }
            if text.parse::<f64>().is_ok_and(f64::is_finite)
                && text.bytes().any(|b| b.is_ascii_digit()) =>
        {
            json!(text.parse::<f64>().unwrap())
        }
        Value::Str { text, .. } => json!(text),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(pairs) => serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

fn daemonset_json(yaml: &str) -> serde_json::Value {
    let docs = parse_stream(yaml, &Limits::default());
    assert_eq!(docs.len(), 1, "one document: the DaemonSet");
    let doc = docs.into_iter().next().unwrap().unwrap();
    to_json(&doc.root.unwrap())
}

/// Schema errors of `instance` as `path: message` lines.
fn schema_errors(instance: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(&read(
        "tests/kubernetes-schema/v1.32.2-standalone-strict/daemonset-apps-v1.json",
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_daemonset_validates_against_the_kubernetes_schema() {
    let yaml = read("contrib/kubernetes/oomlens-guard.yaml");
    let ds = daemonset_json(&yaml);
    assert_eq!(ds["kind"], "DaemonSet");
    assert_eq!(schema_errors(&ds), Vec::<String>::new());
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true);
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    let c = &pod["containers"][0];
    assert_eq!(
        c["resources"]["requests"], c["resources"]["limits"],
        "Guaranteed QoS"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/metrics");
    let paths: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["hostPath"]["path"].as_str().unwrap())
        .collect();
    for want in ["/dev/kmsg", "/sys/fs/cgroup", "/var/lib/oomlens", "/proc"] {
        assert!(paths.contains(&want), "no hostPath {want}: {paths:?}");
    }

    // An unknown field (a typo) and a wrong type: the strict schema refuses both.
    let unknown = yaml.replace("hostPID: true", "hostPID: true\n      hostPid: true");
    let errs = schema_errors(&daemonset_json(&unknown));
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/spec/template/spec:") && e.contains("hostPid")),
        "{errs:?}"
    );
    let wrong_type = yaml.replace("containerPort: 10391", "containerPort: metrics-port");
    let errs = schema_errors(&daemonset_json(&wrong_type));
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/spec/template/spec/containers/0/ports/0/containerPort")),
        "{errs:?}"
    );
}

/// `dpkg-deb ARGS`: stdout, asserting success.
fn dpkg_deb(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("dpkg-deb").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// contrib/debian/build-deb.sh packages the binary under test (with cargo-deb, which .ci/run
/// installs): every file lands where Debian expects it, the unit and the catalog unchanged,
/// /etc/default/oomlens-guard and the example /etc/oomlens/guard.toml.example conffiles, and
/// the unit enabled and started on install.
/// The QEMU guest test systemd_guard_deb installs the same package and runs it.
#[test]
fn the_debian_package_holds_what_it_should() {
    let exe = Path::new(env!("CARGO_BIN_EXE_oomlens"));
    let profile_dir = exe.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        p => p,
    };
    let out = TempDir::new("deb").unwrap();
    let deb = out.path().join("oomlens.deb");
    let built = Command::new(workspace().join("contrib/debian/build-deb.sh"))
        .args(["--no-build", "--profile", profile, "--fast", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "build-deb.sh (is cargo-deb installed? `cargo install cargo-deb --locked`): {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let d = deb.as_os_str();
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    assert_eq!(dpkg_deb(&[os("-f"), d, os("Package")]).trim(), "oomlens");
    assert_eq!(
        dpkg_deb(&[os("-f"), d, os("Version")]).trim(),
        format!("{}-1", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        dpkg_deb(&[os("-I"), d, os("conffiles")]).trim(),
        "/etc/default/oomlens-guard\n/etc/oomlens/guard.toml.example"
    );
    let postinst = dpkg_deb(&[os("-I"), d, os("postinst")]);
    assert!(postinst.contains("deb-systemd-helper enable oomlens-guard.service"));
    assert!(postinst.contains("deb-systemd-invoke $_dh_action oomlens-guard.service"));

    let root = out.path().join("root");
    dpkg_deb(&[os("-x"), d, root.as_os_str()]);
    let same = |installed: &str, source: &str| {
        assert_eq!(
            std::fs::read(root.join(installed)).unwrap(),
            std::fs::read(workspace().join(source)).unwrap(),
            "{installed} is not {source}"
        );
    };
    same(
        "usr/lib/systemd/system/oomlens-guard.service",
        "contrib/systemd/oomlens-guard.service",
    );
    same(
        "usr/lib/systemd/catalog/oomlens.catalog",
        "contrib/systemd/oomlens.catalog",
    );
    same(
        "etc/default/oomlens-guard",
        "contrib/systemd/oomlens-guard.default",
    );
    same(
        "etc/oomlens/guard.toml.example",
        "contrib/oomlens/guard.toml",
    );
    assert_eq!(
        std::fs::read(root.join("usr/bin/oomlens")).unwrap(),
        std::fs::read(exe).unwrap(),
        "the packaged binary is the one under test"
    );
    // The man page and completions were generated from this binary's flags.
    let man = Command::new("gzip")
        .args(["-dc"])
        .arg(root.join("usr/share/man/man1/oomlens.1.gz"))
        .output()
        .unwrap();
    let man = String::from_utf8(man.stdout).unwrap();
    assert!(
        man.lines()
            .any(|l| l == format!(".TH oomlens 1  \"oomlens {}\" ", env!("CARGO_PKG_VERSION"))),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(
        man.contains("explain"),
        "the man page lists the subcommands"
    );
    for (file, needle) in [
        (
            "usr/share/bash-completion/completions/oomlens",
            "_oomlens()",
        ),
        (
            "usr/share/zsh/vendor-completions/_oomlens",
            "#compdef oomlens",
        ),
        (
            "usr/share/fish/vendor_completions.d/oomlens.fish",
            "complete -c oomlens",
        ),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains(needle), "{file} lacks {needle}");
        assert!(text.contains("explain"), "{file} completes the subcommands");
    }
}
