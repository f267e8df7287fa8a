//! CLI behaviour: exit codes, error messages that name the input, escaping of untrusted
//! text, the generated man page and completions, and live-log fallbacks.

use std::path::{Path, PathBuf};

use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::first_killed_pid as killed_pid;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::oomlens;
use oomlens_testkit::run::Oomlens;

fn tmpdir(name: &str) -> TempDir {
    TempDir::new(&format!("cli-{name}")).unwrap()
}

const REPORT: &str = "[  100.000001] hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
[  100.000100] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t,task_memcg=/t,task=hog,pid=4242,uid=0\n\
[  100.000200] Memory cgroup out of memory: Killed process 4242 (hog) total-vm:70000kB, anon-rss:65000kB, file-rss:12kB, shmem-rss:0kB, UID:0 pgtables:200kB oom_score_adj:0\n";

#[test]
fn stdin_report_exits_0_and_noise_exits_1() {
    let out = oomlens!()
        .args(["explain", "--json", "-"])
        .stdin(REPORT)
        .run();
    out.code(0);
    let v = out.json();
    assert_eq!(v["incidents"][0]["kills"][0]["pid"], 4242);
    assert_eq!(v["summary"]["inputs"][0]["name"], "-");

    let d = tmpdir("noise");
    std::fs::write(
        d.join("noise.log"),
        "[ 1.0] usb 1-1: new device\n[ 2.0] EXT4-fs (vda): mounted\n",
    )
    .unwrap();
    let out = oomlens!().args(["explain"]).arg(d.join("noise.log")).run();
    out.code(1);
    out.stderr_has("no OOM incident found in");
}

#[test]
fn bad_inputs_exit_2_naming_the_input_and_print_nothing() {
    let d = tmpdir("bad");
    std::fs::write(d.join("good.log"), REPORT).unwrap();
    let missing = d.join("missing.log");
    // The good file comes first: nothing of it may be printed before the error.
    let out = oomlens!()
        .args(["explain", "--json"])
        .arg(d.join("good.log"))
        .arg(&missing)
        .run();
    out.code(2);
    assert!(
        out.stdout.is_empty(),
        "half-written output: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.stderr_has(&missing.display().to_string());

    let out = oomlens!().args(["explain"]).arg(&d).run();
    out.code(2);
    out.stderr_has("is a directory");

    let out = oomlens!()
        .args(["explain", "--since", "next tuesday", "-"])
        .run();
    out.code(2);
    out.stderr_has("--since");

    let out = oomlens!().args(["explain", "--format", "nonsense"]).run();
    out.code(2);
}

#[test]
fn unreadable_file_exits_2() {
    let d = tmpdir("unreadable");
    let p = d.join("secret.log");
    std::fs::write(&p, REPORT).unwrap();
    // root can read anything, so make the path unopenable instead: a file in place of a directory.
    let out = oomlens!().args(["explain"]).arg(p.join("child.log")).run();
    out.code(2);
    out.stderr_has("secret.log/child.log: cannot open");
}

/// A stub program that behaves like an absent or empty journalctl.
fn stub(dir: &Path, name: &str, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn live_log_falls_back_and_names_every_input_that_failed() {
    let d = tmpdir("live");
    // journalctl absent, /dev/kmsg absent, dmesg failing: exit 2 naming all three.
    let out = oomlens!()
        .args(["explain", "--journalctl"])
        .arg(d.join("no-journalctl"))
        .arg("--kmsg-path")
        .arg(d.join("no-kmsg"))
        .arg("--dmesg")
        .arg(stub(
            &d,
            "dmesg-fails",
            "echo 'dmesg: read kernel buffer failed: Operation not permitted' >&2; exit 1",
        ))
        .run();
    out.code(2);
    let e = out.stderr();
    assert!(e.contains("no-journalctl: cannot run"), "{e}");
    assert!(e.contains("no-kmsg"), "{e}");
    assert!(e.contains("Operation not permitted"), "{e}");

    // journalctl with an empty journal falls back to the kmsg device, read as kmsg records.
    let kmsg = d.join("kmsg");
    let records: String = REPORT
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let (stamp, msg) = l.split_once("] ").unwrap();
            let us = (stamp.trim_start_matches('[').trim().parse::<f64>().unwrap() * 1e6) as u64;
            format!("6,{},{us},-;{msg}\n", 100 + i)
        })
        .collect();
    std::fs::write(&kmsg, records).unwrap();
    let out = oomlens!()
        .args(["explain", "--json", "--journalctl"])
        .arg(stub(&d, "journalctl-empty", "exit 0"))
        .arg("--kmsg-path")
        .arg(&kmsg)
        .run();
    out.code(0);
    let v = out.json();
    assert_eq!(v["incidents"][0]["kills"][0]["pid"], 4242);
    assert_eq!(v["incidents"][0]["source"]["file"], "kmsg");
    assert_eq!(v["incidents"][0]["source"]["format"], "kmsg");

    // Asking for /dev/kmsg explicitly when it cannot be opened: exit 2, naming it.
    let out = oomlens!()
        .args(["explain", "--source", "kmsg", "--kmsg-path"])
        .arg(d.join("nope"))
        .run();
    out.code(2);
    out.stderr_has("nope");
}

#[test]
fn control_characters_in_comm_never_reach_the_terminal() {
    let evil = REPORT.replace("(hog)", "(ev\x1b[2Jil\x07)");
    let d = tmpdir("escape");
    std::fs::write(d.join("e.log"), evil).unwrap();
    let out = oomlens!()
        .args(["explain", "--color", "always"])
        .arg(d.join("e.log"))
        .run();
    out.code(0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ev\\x1b[2Jil\\x07"), "{text}");
    // Only our own bold on/off sequences may contain ESC.
    assert_eq!(text.matches('\x1b').count(), 2, "{text:?}");
    assert!(!text.contains('\x07'));
    let json = oomlens!()
        .args(["explain", "--json"])
        .arg(d.join("e.log"))
        .run();
    let v = json.json();
    assert_eq!(v["incidents"][0]["kills"][0]["comm"], "ev\x1b[2Jil\x07");
}

#[test]
fn man_page_and_completions_come_from_the_flag_definitions() {
    let man = oomlens!().args(["generate", "man"]).run();
    man.success();
    let man = String::from_utf8(man.stdout).unwrap();
    assert!(man.contains(".TH oomlens"), "{man}");
    for shell in ["bash", "zsh", "fish"] {
        let c = oomlens!().args(["generate", shell]).run();
        c.success();
        assert!(
            String::from_utf8_lossy(&c.stdout).contains("explain"),
            "{shell}"
        );
    }
    let help = oomlens!().args(["explain", "--help"]).run();
    let help = String::from_utf8(help.stdout).unwrap();
    let bash = String::from_utf8(oomlens!().args(["generate", "bash"]).run().stdout).unwrap();
    for flag in [
        "--json",
        "--since",
        "--until",
        "--follow",
        "--format",
        "--summary",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
        assert!(bash.contains(flag), "bash completion lacks {flag}");
    }
}

#[test]
fn since_until_select_by_wall_clock() {
    let log = "2024-05-01T10:00:00+00:00 h kernel: Out of memory: Killed process 1 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n\
               2024-05-01T12:00:00+00:00 h kernel: Out of memory: Killed process 2 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n";
    let d = tmpdir("since");
    std::fs::write(d.join("s.log"), log).unwrap();
    let out = oomlens!()
        .args([
            "explain",
            "--json",
            "--since",
            "2024-05-01T11:00:00Z",
            "--until",
            "2024-05-01T13:00:00Z",
        ])
        .arg(d.join("s.log"))
        .run();
    let v = out.json();
    let pids: Vec<_> = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kills"][0]["pid"].clone())
        .collect();
    assert_eq!(pids, vec![serde_json::Value::from(2)]);
    assert_eq!(v["summary"]["filtered_out"], 1);
}

/// Runs `oomlens` as uid/gid 65534 when we are root (setpriv), else as ourselves: either way
/// without the right to read a 0000 file.
fn unprivileged() -> Oomlens {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        Oomlens::new("setpriv").args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_oomlens"),
        ])
    } else {
        oomlens!()
    }
}

#[test]
fn no_permission_on_the_kernel_log_exits_2_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("eacces");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kmsg = d.join("kmsg");
    std::fs::write(&kmsg, "6,1,1,-;x\n").unwrap();
    std::fs::set_permissions(&kmsg, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = unprivileged()
        .args(["explain", "--source", "kmsg", "--kmsg-path"])
        .arg(&kmsg)
        .run();
    out.code(2);
    let e = out.stderr();
    assert!(
        e.contains(&kmsg.display().to_string()) && e.contains("Permission denied"),
        "{e}"
    );
    // An unreadable log file too.
    let out = unprivileged().args(["explain"]).arg(&kmsg).run();
    out.code(2);
    out.stderr_has("cannot open");
}

/// Colour only on a terminal, and never with NO_COLOR (https://no-color.org): run under a
/// pseudo-terminal made by script(1).
#[test]
fn no_color_is_honoured_on_a_terminal() {
    let d = tmpdir("color");
    let log = d.join("r.log");
    std::fs::write(&log, REPORT).unwrap();
    let run = |no_color: bool| {
        let cmd = format!(
            "{} explain {}",
            env!("CARGO_BIN_EXE_oomlens"),
            log.display()
        );
        let mut c = Oomlens::new("script").args(["-q", "-e", "-c", &cmd, "/dev/null"]);
        if no_color {
            c = c.env("NO_COLOR", "1");
        }
        c.run().success().stdout()
    };
    let coloured = run(false);
    assert!(
        coloured.contains("\x1b[1m") && coloured.contains("hog (pid 4242)"),
        "{coloured:?}"
    );
    let plain = run(true);
    assert!(
        !plain.contains('\x1b') && plain.contains("hog (pid 4242)"),
        "{plain:?}"
    );
}

/// On the live log, owners get what the host still knows (here a fake root's unit file);
/// a log file read from disk never does.
#[test]
fn live_log_owners_get_the_unit_description() {
    let d = tmpdir("liveowner");
    let root = FakeTree::new("liveowner");
    root.file(
        "etc/systemd/system/w.service",
        "[Unit]\nDescription=Queue worker\n",
    );
    let report = REPORT.replace("/t,", "/system.slice/w.service,");
    let records: String = report
        .lines()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "6,{},{},-;{}\n",
                10 + i,
                100 + i,
                l.split_once("] ").unwrap().1
            )
        })
        .collect();
    let kmsg = d.join("kmsg");
    std::fs::write(&kmsg, records).unwrap();
    let out = oomlens!()
        .args(["explain", "--json", "--source", "kmsg", "--kmsg-path"])
        .arg(&kmsg)
        .arg("--root")
        .arg(root.root())
        .run();
    out.code(0);
    let v = out.json();
    assert_eq!(v["incidents"][0]["owner"]["unit"], "w.service");
    assert_eq!(
        v["incidents"][0]["owner"]["live"]["unit_description"],
        "Queue worker"
    );
    let file = d.join("file.log");
    std::fs::write(&file, &report).unwrap();
    let out = oomlens!()
        .args(["explain", "--json", "--root"])
        .arg(root.root())
        .arg(&file)
        .run();
    let v = out.json();
    assert!(v["incidents"][0]["owner"]["live"].is_null());
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus/oom-reports")
        .join(name)
}

/// `--since -2h` / `--until -2h` as separate arguments on a real journal (three global OOM
/// kills on one Gentoo host; dated with --year 2017, so hours in the past whatever today is).
#[test]
fn relative_times_as_separate_arguments_filter_real_reports() {
    let log = corpus("016-gentoo-4.9-i686-global-journal-3kills.log");
    let run = |flag: &str| {
        let out = oomlens!()
            .args(["explain", "--json", "--year", "2017", flag, "-2h"])
            .arg(&log)
            .run();
        (out.status.code(), out.json())
    };
    let (code, v) = run("--since");
    assert_eq!(code, Some(1), "nothing in the last two hours");
    assert_eq!(v["summary"]["filtered_out"], 3);
    let (code, v) = run("--until");
    assert_eq!(code, Some(0));
    assert_eq!(v["incidents"].as_array().unwrap().len(), 3);
    assert_eq!(v["summary"]["filtered_out"], 0);

    // A negative --interval reaches top's own check instead of clap's "unexpected argument".
    let out = oomlens!().args(["top", "--once", "--interval", "-1"]).run();
    out.code(2);
    out.stderr_has("--interval must be a positive number");
}

/// Real reports of four hosts: three syslog/journal reports concatenated into one file as a
/// central log server would hold them, and a dmesg report that prints no host.
fn four_hosts(d: &Path) -> (PathBuf, PathBuf, Vec<(&'static str, u64, usize)>) {
    let parts = [
        (
            "vagrant-centos64",
            "001-rhel6-2.6.32-memcg-mruby-syslog.log",
        ),
        ("www", "014-ubuntu14.04-linode-4.0-global-syslog-mysqld.log"),
        (
            "boerne.fritz.box",
            "016-gentoo-4.9-i686-global-journal-3kills.log",
        ),
    ];
    let mut text = String::new();
    let mut hosts = Vec::new();
    for (host, name) in parts {
        let t = std::fs::read_to_string(corpus(name)).unwrap();
        // The host as the lines print it: the 4th field of `Mon dd hh:mm:ss HOST ident:`.
        assert!(t.lines().any(|l| l.split_whitespace().nth(3) == Some(host)));
        let kills = t.matches("Killed process ").count();
        hosts.push((host, killed_pid(&corpus(name)), kills));
        text.push_str(&t);
    }
    let merged = d.join("hosts.log");
    std::fs::write(&merged, text).unwrap();
    let dmesg = corpus("010-centos7-3.10-global-sysrq-manual-dmesg.log");
    (merged, dmesg, hosts)
}

#[test]
fn every_incident_carries_its_host_and_summary_groups_by_host() {
    let d = tmpdir("hosts");
    let (merged, dmesg, hosts) = four_hosts(&d);
    let out = oomlens!()
        .args(["explain", "--json", "--year", "2017"])
        .arg(&merged)
        .arg(&dmesg)
        .run();
    out.code(0);
    let v = out.json();
    let incidents = v["incidents"].as_array().unwrap();
    for (host, pid, kills) in &hosts {
        let of_host: Vec<_> = incidents.iter().filter(|i| i["host"] == *host).collect();
        assert_eq!(of_host.len(), *kills, "{host}");
        assert_eq!(of_host[0]["kills"][0]["pid"], *pid, "{host}");
    }
    let dmesg_pid = killed_pid(&dmesg);
    let hostless: Vec<_> = incidents.iter().filter(|i| i["host"].is_null()).collect();
    assert_eq!(hostless.len(), 1);
    assert_eq!(hostless[0]["kills"][0]["pid"], dmesg_pid);

    // Text: the host after the time.
    let out = oomlens!()
        .args(["explain", "--year", "2017"])
        .arg(&merged)
        .run();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("  when:") && l.ends_with(" on www")),
        "{text}"
    );

    // --summary: one group per host, sorted by name, the host-less group last.
    let out = oomlens!()
        .args(["explain", "--summary", "--year", "2017"])
        .arg(&merged)
        .arg(&dmesg)
        .run();
    out.code(0);
    let summary = String::from_utf8(out.stdout).unwrap();
    let headings: Vec<&str> = summary
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(
        headings,
        [
            "host boerne.fritz.box (3 incidents):",
            "host vagrant-centos64 (1 incident):",
            "host www (1 incident):",
            "no host (1 incident):",
        ],
        "{summary}"
    );
    let groups: Vec<&str> = summary.split("\n\n").collect();
    assert_eq!(groups.len(), 4, "{summary}");
    let mut expected: Vec<(String, u64)> = hosts
        .iter()
        .map(|(h, pid, _)| (format!("host {h} "), *pid))
        .collect();
    expected.push(("no host ".to_string(), dmesg_pid));
    for (head, pid) in expected {
        let group = groups.iter().find(|g| g.starts_with(&head)).unwrap();
        assert!(group.contains(&format!("(pid {pid}) killed")), "{group}");
        // Lines of a group are indented under its heading.
        assert!(
            group.lines().skip(1).all(|l| l.starts_with("  ")),
            "{group}"
        );
    }

    // One host only: the plain list, no heading.
    let out = oomlens!()
        .args(["explain", "--summary"])
        .arg(corpus(
            "014-ubuntu14.04-linode-4.0-global-syslog-mysqld.log",
        ))
        .run();
    let one = String::from_utf8(out.stdout).unwrap();
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(one.starts_with("global OOM: "), "{one}");
}

#[test]
fn journal_dir_errors_name_the_directory_and_print_nothing() {
    let d = tmpdir("journal-dir-errors");
    let missing = d.join("no-such-dir");
    let out = oomlens!()
        .args(["explain", "--json", "--journal-dir"])
        .arg(&missing)
        .run();
    out.code(2);
    assert!(out.stdout.is_empty());
    out.stderr_has(&format!("{}: cannot open", missing.display()));

    let file = d.join("a.journal");
    std::fs::write(&file, "").unwrap();
    let out = oomlens!()
        .args(["explain", "--journal-dir"])
        .arg(&file)
        .run();
    out.code(2);
    out.stderr_has("not a directory");

    let out = oomlens!()
        .args(["explain", "--journalctl"])
        .arg(d.join("no-journalctl"))
        .arg("--journal-dir")
        .arg(&d)
        .run();
    out.code(2);
    out.stderr_has("no-journalctl: cannot run");
}

/// `--journal-dir` on the journal files of two real QEMU guests (tests/data/journal-two-hosts,
/// see its README), with a syslog file of a third host as a FILE argument: every kill with
/// its host, the pid the guest's kernel printed, and one --summary group per host.
#[test]
fn journal_dir_of_two_real_guests_with_a_third_host_file() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/journal-two-hosts");
    let www = corpus("014-ubuntu14.04-linode-4.0-global-syslog-mysqld.log");
    let mut want: Vec<(String, u64)> = ["oomlens-host-a", "oomlens-host-b"]
        .iter()
        .map(|h| {
            (
                h.to_string(),
                killed_pid(&data.join(format!("kernel-kill-{h}.txt"))),
            )
        })
        .collect();
    want.push(("www".to_string(), killed_pid(&www)));

    let out = oomlens!()
        .args(["explain", "--json", "--journal-dir"])
        .arg(&data)
        .arg(&www)
        .run();
    out.code(0);
    let v = out.json();
    let mut got: Vec<(String, u64)> = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["host"].as_str().unwrap().to_string(),
                i["kills"][0]["pid"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    let inputs = v["summary"]["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "the file and the directory");
    // Each guest's kill is its own first: the same unit name on two hosts is no restart loop.
    for i in v["incidents"].as_array().unwrap() {
        if i["oom_memcg"] == "/system.slice/hostoom.service" {
            assert_eq!(i["source"]["format"], "journal-json");
            assert!(
                i["restart_loop"].is_null() || i["restart_loop"]["nth"] == 1,
                "{}",
                i["restart_loop"]
            );
        }
    }

    let out = oomlens!()
        .args(["explain", "--summary", "--journal-dir"])
        .arg(&data)
        .run();
    out.code(0);
    let summary = String::from_utf8(out.stdout).unwrap();
    let groups: Vec<&str> = summary.split("\n\n").collect();
    assert_eq!(groups.len(), 2, "{summary}");
    for ((host, pid), group) in want.iter().zip(&groups) {
        assert!(
            group.starts_with(&format!("host {host} (1 incident):\n")),
            "{summary}"
        );
        assert!(
            group.contains(&format!("host-hog (pid {pid}) killed")),
            "{summary}"
        );
    }
}
