//! systemd guest: the Debian package end to end. `dpkg -i` the package built by
//! contrib/debian/build-deb.sh from the static binary (the test bed puts it in the payload
//! as `/usr/local/bin/oomlens.deb`), `systemctl enable --now oomlens-guard`, and check what
//! an operator would: the unit became active (so READY=1 arrived: a Type=notify unit stays
//! "activating" until then) and its watchdog never fired; its process holds the capabilities
//! its features need (CAP_KILL, CAP_IPC_LOCK, CAP_SYS_PTRACE) and has locked its pages; a unit with MemoryMax is OOM-killed
//! and the kill is in `oomlens incidents --json`, in the kills counter of /metrics and in the
//! journal under its MESSAGE_ID, with the catalog installed; a stop is clean.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use oomlens_qemu::guest::{self, unit_property};
use serde_json::Value;

const DEB: &str = "/usr/local/bin/oomlens.deb";
const UNIT: &str = "oomlens-guard.service";
/// `MEMCG_KILL.id` of crates/oomlens-sinks/src/journald.rs (and of the catalog).
const MEMCG_KILL_ID: &str = "2533ec1949184e9aab5475d348d33bfc";
/// `GUARD_STOPPED.id`.
const GUARD_STOPPED_ID: &str = "6cb993cc0e23472bb7542553f69fd256";
const HOG_UNIT: &str = "deb-hog.service";

fn run(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&guest::output(cmd)).into_owned()
}

/// `systemctl show UNIT -p P ...` as P → value.
fn show(unit: &str, props: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = Command::new("systemctl");
    cmd.args(["show", unit]);
    for p in props {
        cmd.args(["-p", p]);
    }
    run(&mut cmd)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One HTTP/1.0 GET of /metrics on the guard's default address: (status line, body).
fn scrape() -> Option<(String, String)> {
    let mut s = TcpStream::connect("127.0.0.1:10391").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// The value of the sample `name{…}` whose labels include every `k="v"` of `labels`.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix('{')?;
        let (set, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| set.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
            .then(|| value.split_whitespace().next()?.parse().ok())?
    })
}

/// Journal entries (`journalctl -o json` lines) matching `filters`.
fn journal(filters: &[&str]) -> Vec<Value> {
    String::from_utf8_lossy(&guest::journal_json(filters))
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn the_package_installs_a_guard_that_records_a_kill() {
    guest::require("systemd");
    assert!(
        Path::new(DEB).exists(),
        "{DEB} is not in the payload: the host built no package (is cargo-deb installed? \
         oomlens-qemu run prints why)"
    );
    println!("{}", run(Command::new("dpkg").args(["-i", DEB])));
    for f in [
        "/usr/bin/oomlens",
        "/usr/bin/oomlens-guard",
        "/usr/share/man/man1/oomlens.1.gz",
        "/usr/share/bash-completion/completions/oomlens",
        "/usr/lib/systemd/catalog/oomlens.catalog",
        "/etc/default/oomlens-guard",
    ] {
        assert!(Path::new(f).exists(), "the package installed no {f}");
    }
    let status = run(Command::new("dpkg").args(["-s", "oomlens"]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(
        status.contains("/etc/default/oomlens-guard"),
        "conffile: {status}"
    );
    let v = run(Command::new("/usr/bin/oomlens").arg("--version"));
    assert!(v.starts_with("oomlens "), "{v}");
    // systemd's dpkg trigger indexed the catalog: journalctl -x can explain our entries.
    let catalog = run(Command::new("journalctl").arg("--list-catalog"));
    assert!(
        catalog.contains(&format!("{MEMCG_KILL_ID} oomlens:")),
        "catalog not indexed"
    );

    run(Command::new("systemctl").args(["enable", "--now", UNIT]));
    let enabled = run(Command::new("systemctl").args(["is-enabled", UNIT]));
    assert_eq!(enabled.trim(), "enabled");
    guest::wait_for(
        "the guard to become active",
        Duration::from_secs(60),
        || unit_property(UNIT, "ActiveState") == "active",
    );
    let started = Instant::now();
    let up = show(
        UNIT,
        &[
            "Type",
            "SubState",
            "MainPID",
            "WatchdogUSec",
            "StatusText",
            "NRestarts",
        ],
    );
    println!("{UNIT}: {up:?}");
    assert_eq!(up["Type"], "notify");
    assert_eq!(up["SubState"], "running");
    assert_eq!(up["WatchdogUSec"], "30s");
    let main_pid = up["MainPID"].clone();
    // The unit runs `oomlens guard`, which execs the small daemon binary installed beside
    // it (crates/oomlens-guard/src/exec.rs; bench/README.md, idle RSS): the service's
    // process is /usr/bin/oomlens-guard, not the whole `oomlens` running the guard.
    let exe = std::fs::read_link(format!("/proc/{main_pid}/exe")).unwrap();
    assert_eq!(
        exe,
        Path::new("/usr/bin/oomlens-guard"),
        "the service's executable"
    );
    // The unit's bounding set keeps what the guard's features need (the unit's comments say
    // which), and the guard locked its pages once ready (`mlockall` needs CAP_IPC_LOCK: the
    // address space is over systemd's RLIMIT_MEMLOCK). READY=1 comes before the lock, so
    // wait for it.
    let status = |key: &str| -> String {
        let text = std::fs::read_to_string(format!("/proc/{main_pid}/status")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .trim()
            .to_string()
    };
    let cap_eff = u64::from_str_radix(&status("CapEff:"), 16).unwrap();
    // include/uapi/linux/capability.h
    for (name, bit) in [
        ("CAP_KILL", 5),
        ("CAP_IPC_LOCK", 14),
        ("CAP_SYS_PTRACE", 19),
    ] {
        assert!(
            cap_eff & (1 << bit) != 0,
            "CapEff {cap_eff:#x} lacks {name}"
        );
    }
    let vmlck_kib = || -> u64 {
        status("VmLck:")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    };
    guest::wait_for(
        "the guard to lock its pages",
        Duration::from_secs(10),
        || vmlck_kib() > 0,
    );
    println!(
        "{UNIT}: CapEff {cap_eff:#x}, VmLck {} kB, {}",
        vmlck_kib(),
        status("VmRSS:")
    );

    // The guard serves /metrics before any kill; no kill of our unit counted yet.
    guest::wait_for("/metrics to answer", Duration::from_secs(30), || {
        scrape().is_some()
    });
    let (status_line, body) = scrape().unwrap();
    assert!(status_line.contains(" 200"), "{status_line}");
    assert!(body.contains("oomlens_build_info"), "{body}");
    assert_eq!(
        sample(&body, "oomlens_kills_total", &[("unit", HOG_UNIT)]),
        None
    );

    // A unit with MemoryMax whose process allocates past it: one kernel memcg kill.
    run(Command::new("systemd-run").args([
        "--unit",
        HOG_UNIT,
        "-p",
        "MemoryMax=32M",
        "-p",
        "MemorySwapMax=0",
        "/usr/local/bin/oomlens-hog",
        "--comm",
        "deb-hog",
        "alloc",
        "--mib",
        "128",
        // 8 MiB/s: the limit is reached after about 4 s, so the guard's sampler (one pass
        // a second) has seen the unit's cgroup grow before the kill.
        "--rate",
        "8",
    ]));
    guest::wait_for("the hog to be OOM-killed", Duration::from_secs(60), || {
        unit_property(HOG_UNIT, "Result") == "oom-kill"
    });
    let hog_pid: u64 = unit_property(HOG_UNIT, "ExecMainPID").parse().unwrap();
    println!("{HOG_UNIT} (pid {hog_pid}) OOM-killed");

    // The recorder: `oomlens incidents --json` (schema oomlens.incidents/1) lists the kill
    // with samples of the minutes before it, and `explain --recorded` reads it back.
    let mut listed = Value::Null;
    guest::wait_for(
        "the incident in oomlens incidents",
        Duration::from_secs(30),
        || {
            let out = Command::new("/usr/bin/oomlens")
                .args(["incidents", "--json"])
                .output()
                .unwrap();
            listed = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            listed["incidents"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i["victim"]["pid"] == hog_pid))
        },
    );
    guest::save_artifact("incidents.json", listed.to_string().as_bytes());
    assert_eq!(listed["schema"], "oomlens.incidents/1");
    let ours: Vec<&Value> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["victim"]["pid"] == hog_pid)
        .collect();
    assert_eq!(ours.len(), 1, "recorded once: {listed}");
    let inc = ours[0];
    assert_eq!(inc["kind"], "memcg");
    assert_eq!(inc["victim"]["comm"], "deb-hog");
    assert_eq!(inc["cgroup"], format!("/system.slice/{HOG_UNIT}"));
    assert!(inc["samples"].as_u64().unwrap_or(0) > 0, "a window: {inc}");
    let id = inc["id"].to_string();
    let explained = Command::new("/usr/bin/oomlens")
        .args(["explain", "--recorded", &id, "--json"])
        .output()
        .unwrap();
    guest::save_artifact("explain-recorded.json", &explained.stdout);
    assert!(
        explained.status.success(),
        "explain --recorded {id}: {}",
        String::from_utf8_lossy(&explained.stderr)
    );

    // The counter: exactly one kill of the unit.
    let (_, body) = scrape().expect("/metrics after the kill");
    guest::save_artifact("metrics.txt", body.as_bytes());
    assert_eq!(
        sample(
            &body,
            "oomlens_kills_total",
            &[("kind", "memcg"), ("unit", HOG_UNIT)]
        ),
        Some(1.0),
        "oomlens_kills_total of {HOG_UNIT}"
    );
    // systemd's own line about the kill (read from the journal, the kernel's report from
    // /dev/kmsg) is not counted as a second kill.
    assert_eq!(
        sample(
            &body,
            "oomlens_kills_total",
            &[("kind", "systemd-notice"), ("unit", HOG_UNIT)]
        ),
        None,
        "systemd's notice counted again: {body}"
    );

    // The journal entry, found by its MESSAGE_ID, with the victim's fields.
    let pid = hog_pid.to_string();
    let mut entries = Vec::new();
    guest::wait_for("the journal entry", Duration::from_secs(30), || {
        entries = journal(&[&format!("MESSAGE_ID={MEMCG_KILL_ID}")]);
        entries.iter().any(|e| e["OOMLENS_PID"] == pid.as_str())
    });
    let e = entries
        .iter()
        .find(|e| e["OOMLENS_PID"] == pid.as_str())
        .unwrap();
    println!("journal: {e}");
    assert_eq!(e["OOMLENS_UNIT"], HOG_UNIT);
    assert_eq!(e["OOMLENS_COMM"], "deb-hog");
    assert_eq!(e["OOMLENS_CGROUP"], format!("/system.slice/{HOG_UNIT}"));
    assert_eq!(e["PRIORITY"], "3");
    assert_eq!(e["_SYSTEMD_UNIT"], UNIT, "sent by the guard's own unit");

    // Past one full watchdog period (30 s) since start: the watchdog never fired, the
    // guard never restarted.
    let left = Duration::from_secs(35).saturating_sub(started.elapsed());
    std::thread::sleep(left);
    let later = show(UNIT, &["ActiveState", "MainPID", "NRestarts", "Result"]);
    println!("{UNIT} after {:?}: {later:?}", started.elapsed());
    assert_eq!(later["ActiveState"], "active");
    assert_eq!(later["MainPID"], main_pid, "same process");
    assert_eq!(later["NRestarts"], "0");
    assert_eq!(later["Result"], "success");
    let fired = journal(&["-u", UNIT]).iter().any(|e| {
        e["MESSAGE"]
            .as_str()
            .unwrap_or("")
            .contains("Watchdog timeout")
    });
    assert!(!fired, "systemd logged a watchdog timeout for {UNIT}");

    // A clean stop: STOPPING=1, the recorder flushed, exit status success, and the
    // guard's own "stopped" entry.
    run(Command::new("systemctl").args(["stop", UNIT]));
    let stopped = show(UNIT, &["ActiveState", "Result"]);
    assert_eq!(stopped["ActiveState"], "inactive", "{stopped:?}");
    assert_eq!(stopped["Result"], "success", "{stopped:?}");
    assert!(
        !journal(&[&format!("MESSAGE_ID={GUARD_STOPPED_ID}")]).is_empty(),
        "no guard-stopped entry in the journal"
    );
}
