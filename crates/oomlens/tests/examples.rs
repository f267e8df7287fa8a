//! Every example command of the documentation runs, and does what it says.
//!
//! The examples are extracted, not copied: from README.md, crates/*/README.md and
//! bench/README.md (4-space indented blocks and ```sh fences) and from the EXAMPLES section
//! of `oomlens --help` and `oomlens <command> --help`. An example is a line whose command
//! (or a `|`/`&&` part of it) starts with `oomlens`, or `cargo run --release -p oomlens --`.
//! Each one must have a case in `cases()` below, and each case an example: a new example
//! without a case, or a case whose example was removed or reworded, fails
//! `every_example_has_a_case_and_every_case_an_example`.
//!
//! A case runs the example's own words with the real binary. Where an example names a path
//! of the reader's machine (`/var/log/kern.log`, `/mnt/image`), the case replaces that word
//! with real input of this repository (the corpus of real reports, the audit fixtures, a
//! tree written by `oomlens-faketree`); where it needs a context the reader has (a unit to
//! fix), the case appends the flags that point it at a fixture (`--root`). The producer of
//! a pipeline (`helm template …`) is replaced by a file only when it cannot run here, and
//! the case says which. Examples that read this host (its kernel log, units, processes)
//! accept exit status 0 or 1 and check that the output is that command's output, never 2.
//!
//! `readme_sample_blocks_are_current`: a README block that starts with `$ oomlens …` is a
//! sample: the command runs in the workspace root and its output must be the rest of the
//! block, line for line.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::oomlens;
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// `oomlens` run in the workspace root (where the examples' relative paths point).
fn oomlens() -> Oomlens {
    oomlens!().current_dir(workspace())
}

// ---------------------------------------------------------------------------------------
// Extraction

/// An example and where it was found.
#[derive(Debug, Clone)]
struct Example {
    /// The command, whitespace collapsed, comment removed.
    command: String,
    /// `README.md:12`, `oomlens explain --help`.
    place: String,
}

/// The code lines of a markdown file with their line numbers: 4-space indented lines and
/// the lines of ```sh fences (other fences hold sample output, Rust, TOML…). Continuation
/// lines (a trailing `\`) are joined.
fn markdown_code(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut fence: Option<bool> = None; // Some(is_sh)
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            fence = match fence {
                None => Some(matches!(info.trim(), "sh" | "shell" | "bash" | "console")),
                Some(_) => None,
            };
            continue;
        }
        let code = match fence {
            Some(true) => Some(line),
            Some(false) => None,
            None => line.strip_prefix("    "),
        };
        let Some(code) = code else { continue };
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match code.trim_end().strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(code);
                out.push((start, joined));
            }
        }
    }
    out
}

/// The command of a code line when it is an oomlens example: comment cut, whitespace
/// collapsed. Sample lines (`$ oomlens …`) are not examples here.
fn example_command(line: &str) -> Option<String> {
    let code = match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    };
    let command = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let is_oomlens = command.starts_with("cargo run --release -p oomlens -- ")
        || command
            .split(['|', '&'])
            .any(|part| part.split_whitespace().next() == Some("oomlens"));
    is_oomlens.then_some(command)
}

fn doc_files() -> Vec<PathBuf> {
    let ws = workspace();
    let mut files = vec![ws.join("README.md"), ws.join("bench/README.md")];
    let mut crates: Vec<PathBuf> = std::fs::read_dir(ws.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("README.md"))
        .filter(|p| p.is_file())
        .collect();
    crates.sort();
    files.extend(crates);
    files
}

fn doc_examples() -> Vec<Example> {
    let ws = workspace();
    let mut out = Vec::new();
    for f in doc_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(&ws).unwrap().display().to_string();
        for (n, line) in markdown_code(&text) {
            if let Some(command) = example_command(&line) {
                out.push(Example {
                    command,
                    place: format!("{name}:{n}"),
                });
            }
        }
    }
    out
}

/// The commands whose `--help` is searched for EXAMPLES (every visible subcommand).
const HELP_COMMANDS: &[&[&str]] = &[
    &[],
    &["explain"],
    &["rank"],
    &["top"],
    &["audit"],
    &["fix"],
    &["incidents"],
    &["report"],
    &["drill"],
];

/// The lines of the `EXAMPLES:` section of a help text (up to the next blank line).
fn help_section(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "EXAMPLES:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn help_examples() -> Vec<Example> {
    let mut out = Vec::new();
    for cmd in HELP_COMMANDS {
        let o = oomlens().args(*cmd).arg("--help").run();
        o.success();
        let help = String::from_utf8(o.stdout).unwrap();
        let place = format!("oomlens {} --help", cmd.join(" "));
        let lines = help_section(&help);
        assert!(!lines.is_empty(), "{place} has no EXAMPLES section");
        for l in lines {
            let command = example_command(&l)
                .unwrap_or_else(|| panic!("{place}: EXAMPLES line is no oomlens command: {l}"));
            out.push(Example {
                command,
                place: place.clone(),
            });
        }
    }
    out
}

fn all_examples() -> Vec<Example> {
    let mut all = doc_examples();
    all.extend(help_examples());
    all
}

// ---------------------------------------------------------------------------------------
// Running

/// What a case does with its example.
struct Case {
    /// The example, as extracted.
    example: &'static str,
    /// Words of the example replaced by real input here: (word, replacement).
    subst: Vec<(&'static str, String)>,
    /// Flags appended to the oomlens command to point it at a fixture.
    extra: Vec<String>,
    /// The pipeline's producer replaced by this file on standard input (the producer cannot
    /// run here). `None`: a producer runs as written.
    stdin: Option<PathBuf>,
    /// How the example runs: to the end, or (TUI, --follow) checked while it runs.
    mode: Mode,
    /// Checks the result.
    check: Box<dyn Fn(&Ran)>,
}

enum Mode {
    /// Runs to the end; the exit status must be one of these.
    Exits(&'static [i32]),
    /// Runs until stdout holds `until` (or `wait` passes), must not have exited with an
    /// error by then, and is then killed.
    Stays { wait: Duration, until: &'static str },
}

/// A finished (or stopped) example.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The temporary directory the example ran in (examples write files there): held until
    /// the check has run, removed with this value.
    _dir: TempDir,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.stdout))
    }
}

fn case(example: &'static str, mode: Mode, check: impl Fn(&Ran) + 'static) -> Case {
    Case {
        example,
        subst: Vec::new(),
        extra: Vec::new(),
        stdin: None,
        mode,
        check: Box::new(check),
    }
}

impl Case {
    fn subst(mut self, word: &'static str, by: impl Into<String>) -> Case {
        self.subst.push((word, by.into()));
        self
    }
    fn extra(mut self, args: &[&str]) -> Case {
        self.extra.extend(args.iter().map(|s| s.to_string()));
        self
    }
    fn stdin(mut self, file: PathBuf) -> Case {
        self.stdin = Some(file);
        self
    }
}

/// The words of a command part with the case's substitutions.
fn words(part: &str, subst: &[(&'static str, String)]) -> Vec<String> {
    part.split_whitespace()
        .map(|w| {
            subst
                .iter()
                .find(|(from, _)| *from == w)
                .map_or_else(|| w.to_string(), |(_, to)| to.clone())
        })
        .collect()
}

/// A program of the workspace by name: oomlens itself, or a testkit binary.
fn program(name: &str) -> Oomlens {
    match name {
        "oomlens" => oomlens(),
        "oomlens-loggen" | "oomlens-faketree" => {
            Oomlens::new(oomlens_testkit::bin_path(name).expect("building the testkit binary"))
        }
        // Producers of other projects (journalctl) run as installed.
        other => Oomlens::new(other),
    }
}

/// Runs one case in a fresh directory: `&&` parts one after another (each must succeed
/// but the last), a `|` producer into the oomlens part, `> FILE` captured as stdout.
fn run_case(c: &Case) -> Ran {
    let dir = TempDir::new("examples").unwrap();
    let command = c
        .example
        .strip_prefix("cargo run --release -p oomlens -- ")
        .map(|rest| format!("oomlens {rest}"))
        .unwrap_or_else(|| c.example.to_string());
    let parts: Vec<&str> = command.split(" && ").collect();
    let (last, before) = parts.split_last().unwrap();
    for part in before {
        let (part, into) = match part.split_once(" > ") {
            Some((cmd, file)) => (cmd, Some(dir.join(file.trim()))),
            None => (*part, None),
        };
        let w = words(part, &c.subst);
        let o = program(&w[0]).args(&w[1..]).current_dir(&dir).run();
        o.success();
        if let Some(file) = into {
            std::fs::write(file, &o.stdout).unwrap();
        }
    }
    let last = last.split_once(" > ").map_or(*last, |(cmd, _file)| cmd);
    let (producer, consumer) = match last.rsplit_once(" | ") {
        Some((p, c)) => (Some(p), c),
        None => (None, last),
    };
    let w = words(consumer, &c.subst);
    let mut cmd = program(&w[0])
        .args(&w[1..])
        .args(&c.extra)
        .current_dir(&dir);
    if w[0] == "oomlens" {
        cmd = cmd.current_dir(workspace());
    }
    let mut producer_child = None;
    match (&c.stdin, producer) {
        (Some(file), _) => cmd = cmd.stdin_file(file),
        (None, Some(p)) => {
            let pw = words(p, &c.subst);
            let mut child = program(&pw[0]).args(&pw[1..]).current_dir(&dir).spawn();
            cmd = cmd.stdin_from(child.stdout.take().unwrap());
            producer_child = Some(child);
        }
        (None, None) => {}
    }
    let ran = match c.mode {
        Mode::Exits(_) => {
            let o = cmd.run();
            Ran {
                code: o.exit_code(),
                stdout: o.stdout(),
                stderr: o.stderr(),
                _dir: dir,
            }
        }
        Mode::Stays { wait, until } => stays(cmd, wait, until, dir),
    };
    if let Some(mut p) = producer_child {
        let st = p.wait().unwrap();
        let mut err = String::new();
        p.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(st.success(), "{}: producer failed: {err}", c.example);
        // The generator's summary (bytes= … incidents= …) goes to the check.
        let mut ran = ran;
        ran.stderr = format!("{err}{}", ran.stderr);
        return ran;
    }
    ran
}

/// Starts a long-running example, reads its stdout until `until` shows (or `wait` passes),
/// and kills it. It must still be running then.
fn stays(cmd: Oomlens, wait: Duration, until: &str, dir: TempDir) -> Ran {
    let mut child = cmd.spawn();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf
    });
    let start = Instant::now();
    let mut exited = None;
    while start.elapsed() < wait {
        if let Some(st) = child.try_wait().unwrap() {
            exited = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Already reaped when it exited; kill fails then, which is fine.
    let _ = child.kill();
    let _ = child.wait();
    let out = reader.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let stdout = String::from_utf8_lossy(&out).into_owned();
    assert!(
        exited.is_none(),
        "exited ({exited:?}) instead of running:\nstdout: {stdout}\nstderr: {err}"
    );
    assert!(
        stdout.contains(until),
        "nothing like {until:?} after {wait:?}:\n{stdout}\nstderr: {err}"
    );
    Ran {
        code: None,
        stdout,
        stderr: err,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------
// The cases

fn corpus(name: &str) -> String {
    workspace()
        .join("tests/corpus/oom-reports")
        .join(name)
        .display()
        .to_string()
}

fn audit_data(rel: &str) -> String {
    workspace()
        .join("crates/oomlens-audit/tests/data")
        .join(rel)
        .display()
        .to_string()
}

fn killed_pid_in(path: &str) -> u64 {
    oomlens_testkit::first_killed_pid(Path::new(path))
}

/// `explain` of this host's kernel log: 0 with incidents, or 1 with the message that names
/// what was read; never 2.
fn live_explain_text(r: &Ran) {
    match r.code {
        Some(0) => assert!(r.stdout.contains(" OOM") || r.stdout.contains("kill")),
        Some(1) => assert!(
            r.stderr.contains("no OOM incident found in"),
            "{}",
            r.stderr
        ),
        other => panic!("exit {other:?}: {}", r.stderr),
    }
}

fn live_json(r: &Ran) {
    let v = r.json();
    assert_eq!(v["schema"], "oomlens.explain/1");
    let n = v["incidents"].as_array().unwrap().len();
    assert_eq!(r.code, Some(if n > 0 { 0 } else { 1 }), "{}", r.stderr);
}

/// The audit's closing line: `N units, M Kubernetes objects: …`; returns (N, M).
fn audit_counts(r: &Ran) -> (u64, u64) {
    let last = r
        .stdout
        .lines()
        .rfind(|l| l.contains(" units, "))
        .unwrap_or_else(|| panic!("no summary line:\n{}{}", r.stdout, r.stderr));
    let nums: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// A root with `worker.service` (the unit of scenario 000, renamed as the example names
/// it) and, for --apply, its cgroup's memory.peak.
fn worker_root() -> FakeTree {
    let root = FakeTree::new("examples-worker");
    let text = std::fs::read_to_string(audit_data(
        "scenario-000/etc/systemd/system/worker-processor.service",
    ))
    .unwrap();
    root.file("etc/systemd/system/worker.service", text);
    // 400 MiB, as cgroup v2 prints memory.peak: bytes and a newline.
    root.cgroup_v2("/system.slice/worker.service")
        .file("memory.peak", format!("{}\n", 400u64 << 20));
    root
}

/// A tree written by `oomlens-faketree` (20 cgroups, 100 processes), removed on drop.
fn faketree() -> TempDir {
    let dir = TempDir::new("examples-tree").unwrap();
    program("oomlens-faketree")
        .arg(&dir)
        .args(["20", "100"])
        .run()
        .success();
    dir
}

/// Cgroup directories below a faketree's memory hierarchy (the root included).
fn tree_cgroups(dir: &Path) -> usize {
    fn walk(d: &Path) -> usize {
        1 + std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| walk(&e.path()))
            .sum::<usize>()
    }
    walk(&dir.join("sys/fs/cgroup/memory"))
}

fn explain_cases() -> Vec<Case> {
    let kern_log = corpus("053-fedora24-4.8-memcg-docker-systemd-driver-syslog.log");
    let kern_pid = killed_pid_in(&kern_log);
    let remote = workspace().join("crates/oomlens/tests/data/journal-two-hosts");
    vec![
        case(
            "cargo run --release -p oomlens -- explain",
            Mode::Exits(&[0, 1]),
            live_explain_text,
        ),
        case("oomlens explain", Mode::Exits(&[0, 1]), live_explain_text),
        // A real syslog kern.log (Fedora 24, a memcg kill in a docker container).
        case(
            "oomlens explain /var/log/kern.log",
            Mode::Exits(&[0]),
            move |r| {
                let head = r.stdout.lines().next().unwrap();
                assert!(head.starts_with("memcg OOM in docker container "), "{head}");
                assert!(head.contains(&format!("(pid {kern_pid}) killed")), "{head}");
            },
        )
        .subst("/var/log/kern.log", kern_log),
        // The producer runs for real: this host's journal, whatever it holds.
        case(
            "journalctl -k -o json | oomlens explain --json -",
            Mode::Exits(&[0, 1]),
            |r| {
                live_json(r);
                assert_eq!(r.json()["summary"]["inputs"][0]["name"], "-");
            },
        ),
        case(
            "oomlens explain --since -2h --summary",
            Mode::Exits(&[0, 1]),
            live_explain_text,
        ),
        case(
            "oomlens explain --follow",
            Mode::Stays {
                wait: Duration::from_millis(1500),
                until: "",
            },
            |r| assert!(r.stderr.is_empty(), "{}", r.stderr),
        ),
        case("oomlens generate man > oomlens.1", Mode::Exits(&[0]), |r| {
            assert!(r.stdout.contains(".TH oomlens 1"), "{}", &r.stdout[..200]);
            // Every command's section, with its flags and its examples.
            for c in ["EXPLAIN", "RANK", "TOP", "AUDIT", "FIX"] {
                assert!(r.stdout.contains(&format!(".SH \"OOMLENS {c}\"")), "{c}");
            }
            assert!(r.stdout.contains(r"\-\-journal\-dir"));
            assert!(r.stdout.contains(r"oomlens fix worker.service \-\-apply"));
        }),
        // The journal files of two QEMU guests (see tests/data/journal-two-hosts/README).
        case(
            "oomlens explain --journal-dir /var/log/journal/remote --summary",
            Mode::Exits(&[0]),
            |r| {
                for host in ["oomlens-host-a", "oomlens-host-b"] {
                    assert!(
                        r.stdout.contains(&format!("host {host} (1 incident):")),
                        "{}",
                        r.stdout
                    );
                }
            },
        )
        .subst("/var/log/journal/remote", remote.display().to_string()),
    ]
}

fn command_cases() -> Vec<Case> {
    // Moved into the --root case's check below, so it lives as long as the cases do.
    let tree = faketree();
    let tree_s = tree.display().to_string();
    let me = std::process::id().to_string();
    vec![
        case(
            "oomlens guard --check-config contrib/oomlens/guard.toml",
            Mode::Exits(&[0]),
            |r| assert!(r.stderr.is_empty() && r.stdout.is_empty(), "{}", r.stderr),
        ),
        case("oomlens rank", Mode::Exits(&[0, 1]), |r| {
            assert!(r.stdout.starts_with("machine (global OOM"), "{}", r.stdout)
        }),
        // This test's own pid: it lives on this machine, so its domains exist.
        case("oomlens rank --pid 1234", Mode::Exits(&[0, 1]), |r| {
            assert!(r.stdout.starts_with("machine (global OOM"), "{}", r.stdout)
        })
        .subst("1234", me),
        case(
            "oomlens rank --cgroup / --json",
            Mode::Exits(&[0, 1]),
            |r| {
                let v = r.json();
                assert_eq!(v["schema"], "oomlens.rank/1");
                assert_eq!(v["domains"][0]["kind"], "machine");
            },
        ),
        // The shipped example configuration in place of the installed one.
        case(
            "oomlens rank --config /etc/oomlens/guard.toml",
            Mode::Exits(&[0, 1]),
            |r| {
                assert!(r.stdout.starts_with("machine (global OOM"), "{}", r.stdout);
                assert!(
                    r.stdout
                        .contains("\nwith the protect rules of contrib/oomlens/guard.toml:\nmachine: the kernel kills "),
                    "{}",
                    r.stdout
                );
            },
        )
        .subst("/etc/oomlens/guard.toml", "contrib/oomlens/guard.toml"),
        // On a pipe (as here) one table, like --once.
        case("oomlens top", Mode::Exits(&[0]), |r| {
            assert!(r.stdout.starts_with("memory: total"), "{}", r.stdout);
            assert!(r.stdout.contains("\nCGROUP "), "{}", r.stdout);
        }),
        case("oomlens top --once", Mode::Exits(&[0]), |r| {
            let header = r.stdout.lines().nth(1).unwrap_or("");
            assert!(header.starts_with("CGROUP"), "{}", r.stdout);
        }),
        case(
            "oomlens top --json --count 5 --interval 0.5",
            Mode::Exits(&[0]),
            |r| {
                let docs: Vec<Value> = r
                    .stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(docs.len(), 5, "{}", r.stdout);
                assert!(docs.iter().all(|d| d["schema"] == "oomlens.top/1"));
            },
        ),
        case(
            "oomlens top --once --json --root /srv/snapshot",
            Mode::Exits(&[0]),
            {
                let n = tree_cgroups(&tree);
                move |r| {
                    let _alive = &tree;
                    let v = r.json();
                    assert_eq!(v["cgroup_version"], "v1");
                    assert_eq!(
                        v["cgroups"].as_array().unwrap().len(),
                        n,
                        "one row per cgroup"
                    );
                }
            },
        )
        .subst("/srv/snapshot", tree_s),
        case("oomlens help explain", Mode::Exits(&[0]), |r| {
            assert!(r.stdout.contains("EXAMPLES:") && r.stdout.contains("--journal-dir"))
        }),
    ]
}

fn audit_cases() -> Vec<Case> {
    // Moved into the --apply case's check below, so it lives as long as the cases do.
    let worker = worker_root();
    let worker_s = worker.root().display().to_string();
    let oom_log = corpus("051-centos7-3.10-memcg-systemd-service-confluence-syslog.log");
    let live_audit = |r: &Ran| {
        let (units, _) = audit_counts(r);
        assert!(units > 0, "{}", r.stdout);
    };
    vec![
        case("oomlens audit", Mode::Exits(&[0, 1]), live_audit),
        case("oomlens audit --user", Mode::Exits(&[0, 1]), move |r| {
            audit_counts(r);
        }),
        case(
            "oomlens audit nginx.service postgresql@15-main.service",
            Mode::Exits(&[0, 1]),
            |r| {
                assert_eq!(audit_counts(r), (2, 0));
                assert!(
                    r.stdout.contains("\nnginx.service ") || r.stdout.starts_with("nginx.service ")
                );
                assert!(r.stdout.contains("\npostgresql@15-main.service "));
            },
        )
        .extra(&["--root", &audit_data("debian")]),
        case("oomlens audit --root /mnt/image", Mode::Exits(&[1]), |r| {
            let (units, _) = audit_counts(r);
            assert!(units >= 10, "{}", r.stdout);
        })
        .subst("/mnt/image", audit_data("rules")),
        // A real log of a unit killed at its limit: confluence.service.
        case(
            "oomlens audit --oom-log /var/log/kern.log",
            Mode::Exits(&[0, 1]),
            live_audit,
        )
        .subst("/var/log/kern.log", oom_log),
        case(
            "oomlens audit -f k8s/ -f extra.json",
            Mode::Exits(&[1]),
            |r| {
                let (units, objects) = audit_counts(r);
                assert_eq!(units, 0);
                assert!(objects >= 16, "{}", r.stdout);
            },
        )
        .subst("k8s/", audit_data("k8s/docs/"))
        .subst("extra.json", audit_data("k8s/edge/list.json")),
        // helm is not packaged here: its output is the stored `helm template` output of the
        // ingress-nginx chart (see the audit fixtures' README).
        case(
            "helm template my ./chart | oomlens audit -f - --format sarif > audit.sarif",
            Mode::Exits(&[0, 1]),
            |r| {
                let v = r.json();
                assert_eq!(v["version"], "2.1.0");
                assert_eq!(v["runs"][0]["tool"]["driver"]["name"], "oomlens");
            },
        )
        .stdin(PathBuf::from(audit_data(
            "k8s/helm/ingress-nginx-4.0.15.yaml",
        ))),
        case(
            "oomlens fix worker.service --peak 1.2G --dry-run",
            Mode::Exits(&[0]),
            |r| {
                // 1.2G + 25% = 1536 MiB; MemoryMax a third above: 2048 MiB.
                assert!(r.stdout.contains("\nMemoryHigh=1536M\n"), "{}", r.stdout);
                assert!(r.stdout.contains("\nMemoryMax=2048M\n"), "{}", r.stdout);
            },
        )
        .extra(&["--root", &worker_s]),
        case(
            "oomlens fix postgresql.service --peak 8G --oom-score-adjust -900 --dry-run",
            Mode::Exits(&[0]),
            |r| assert!(r.stdout.contains("\nOOMScoreAdjust=-900\n"), "{}", r.stdout),
        )
        .extra(&["--root", &audit_data("scenario-002")]),
        // --apply in a copied root; `true` stands in for the systemctl of that system.
        case("oomlens fix worker.service --apply", Mode::Exits(&[0]), {
            move |r| {
                let dropin = worker
                    .root()
                    .join("etc/systemd/system/worker.service.d/50-oomlens.conf");
                let text = std::fs::read_to_string(&dropin)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", dropin.display(), r.stderr));
                // memory.peak 400 MiB + 25% = 500 MiB.
                assert!(text.contains("\nMemoryHigh=500M\n"), "{text}");
            }
        })
        .extra(&[
            "--root",
            &worker_s,
            "--cgroup-root",
            &worker_s,
            "--systemctl",
            "true",
        ]),
    ]
}

/// bench/README.md: the generator piped into explain, smaller than written (1G, 100M and
/// 50M become 4M, 8M and 4M: the property does not depend on the size).
fn bench_cases() -> Vec<Case> {
    let generated = |r: &Ran, key: &str| -> u64 {
        r.stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {}", r.stderr))
    };
    vec![
        case(
            "oomlens-loggen --size 1G --form journal --seed 7 | oomlens explain --json -",
            Mode::Exits(&[0]),
            move |r| {
                let n = r.json()["incidents"].as_array().unwrap().len() as u64;
                assert_eq!(n, generated(r, "incidents="), "{}", r.stderr);
            },
        )
        .subst("1G", "4M"),
        case(
            "oomlens-loggen --line-bytes 100M --lead-report --only 035 | oomlens explain --json -",
            Mode::Exits(&[0]),
            |r| {
                let v = r.json();
                assert_eq!(v["summary"]["inputs"][0]["long_lines"], 1, "{}", r.stderr);
                let pid = killed_pid_in(&corpus("035-qemu-6.11-global-dmesg-stress-ng-rss-columns.log"));
                assert_eq!(v["incidents"][0]["kills"][0]["pid"], pid);
            },
        )
        .subst("100M", "8M"),
        case(
            "oomlens-loggen --size 50M --manifest m.tsv -o x.log && oomlens explain --json x.log > x.json && oomlens-loggen verify --manifest m.tsv x.json",
            Mode::Exits(&[0]),
            |r| assert!(!r.stdout.is_empty()),
        )
        .subst("50M", "4M"),
    ]
}

fn cases() -> Vec<Case> {
    let mut all = explain_cases();
    all.extend(command_cases());
    all.extend(audit_cases());
    all.extend(bench_cases());
    all.extend(recorded_cases());
    all.extend(report_cases());
    all.extend(drill_cases());
    all
}

/// `oomlens report` on the store of [`recorded_cases`] (`example_store`: record 3 is a
/// `worker.service` leak of 2 MiB/s, 60 samples against 512 MiB) and on a corpus report;
/// the files it writes go to a temporary directory instead of the workspace.
fn report_cases() -> Vec<Case> {
    let store = std::sync::Arc::new(TempDir::new("examples-report-store").unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    oomlens_testkit::recorded::example_store(store.path(), now);
    let dir = store.path().display().to_string();
    let out = |name: &str| store.path().join(name).display().to_string();
    let held = || store.clone();
    let read = |path: String| move || std::fs::read_to_string(&path).unwrap();
    let kern_log = corpus("038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log");
    vec![
        case("oomlens report 3 -o incident.html", Mode::Exits(&[0]), {
            let (held, page) = (held(), read(out("incident.html")));
            move |_| {
                let _store = &held;
                let page = page();
                assert!(page.contains("<h2 class=\"headline\">memcg OOM in worker.service"));
                for chart in ["memory", "processes"] {
                    assert!(page.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
                }
            }
        })
        .subst("incident.html", out("incident.html"))
        .extra(&["--state-dir", &dir]),
        case(
            "oomlens report /var/log/kern.log -o oom.html",
            Mode::Exits(&[0]),
            {
                let page = read(out("oom.html"));
                move |_| {
                    let page = page();
                    assert!(page.contains("<h2 class=\"headline\">memcg OOM in run-u640.service"));
                    assert!(page.contains("data-chart=\"tasks\""));
                }
            },
        )
        .subst("/var/log/kern.log", kern_log)
        .subst("oom.html", out("oom.html")),
        case(
            "oomlens report 3 --format md -o incident.md",
            Mode::Exits(&[0]),
            {
                let (held, md) = (held(), read(out("incident.md")));
                move |_| {
                    let _store = &held;
                    let md = md();
                    assert!(md.starts_with("# memcg OOM in worker.service"), "{md}");
                    // 2 MiB/s is 120 MiB/min.
                    assert!(md.contains("| growth | +120.0 MiB/min (leak)"), "{md}");
                }
            },
        )
        .subst("incident.md", out("incident.md"))
        .extra(&["--state-dir", &dir]),
        case(
            "oomlens report 3 --svg memory.svg --chart memory",
            Mode::Exits(&[0]),
            {
                let (held, svg) = (held(), read(out("memory.svg")));
                move |_| {
                    let _store = &held;
                    let svg = svg();
                    assert!(svg.starts_with("<svg"), "{svg}");
                    assert!(svg.contains("victim cgroup memory before the kill"));
                }
            },
        )
        .subst("memory.svg", out("memory.svg"))
        .extra(&["--state-dir", &dir]),
        case(
            "oomlens report 0 1 2 --state-dir /srv/oomlens -o three.html",
            Mode::Exits(&[0]),
            {
                let (held, page) = (held(), read(out("three.html")));
                move |_| {
                    let _store = &held;
                    let page = page();
                    assert!(page.contains("<h1 id=\"title\">3 OOM incidents</h1>"));
                    assert!(page.contains("data-chart=\"kills\""));
                }
            },
        )
        .subst("/srv/oomlens", dir.clone())
        .subst("three.html", out("three.html")),
    ]
}

/// `oomlens drill`: a real OOM kill in a throwaway cgroup, so it passes (0) where the
/// real-kernel tests can run and cannot run (2) elsewhere. No guard is looked for: the
/// state directory does not exist and nothing listens on port 1. `crates/oomlens/tests/drill.rs`
/// checks the drill against the kernel's own records.
fn drill_cases() -> Vec<Case> {
    let no_guard = [
        "--state-dir",
        "/nonexistent/oomlens-examples",
        "--listen",
        "127.0.0.1:1",
    ];
    let verdict = |kind: &'static str, json: bool| {
        move |r: &Ran| {
            if oomlens_testkit::real_kernel().is_none() {
                assert_eq!(r.code, Some(2), "{}", r.stdout);
                return;
            }
            // The kernel prints at most 10 OOM reports per 5 s for the whole host: under
            // other tests' kills the drill may find only `Killed process`, and says so.
            if r.code == Some(1) && r.stdout.contains("rate-limited") {
                return;
            }
            assert_eq!(r.code, Some(0), "{}", r.stdout);
            if json {
                let v = r.json();
                assert_eq!(v["schema"], "oomlens.drill/1");
                assert_eq!(v["kind"], kind);
                assert_eq!(v["result"], "pass");
            } else {
                let last = r.stdout.lines().last().unwrap_or("");
                assert!(
                    last.starts_with(&format!("PASS drill {kind}: ")),
                    "{}",
                    r.stdout
                );
            }
        }
    };
    vec![
        case(
            "oomlens drill",
            Mode::Exits(&[0, 1, 2]),
            verdict("memcg", false),
        )
        .extra(&no_guard),
        case(
            "oomlens drill --kind tmpfs --limit 32M",
            Mode::Exits(&[0, 1, 2]),
            verdict("tmpfs", false),
        )
        .extra(&no_guard),
        case(
            "oomlens drill --kind adj --json",
            Mode::Exits(&[0, 1, 2]),
            verdict("adj", true),
        )
        .extra(&no_guard),
    ]
}

/// `oomlens incidents` and `explain --recorded` on a store written with the recorder
/// (`oomlens_testkit::recorded::example_store`: records 0-2 on 2026-12-01 from corpus
/// reports, record 3 a `worker.service` kill an hour ago), pointed at by `--state-dir`
/// where the example reads the default /var/lib/oomlens.
fn recorded_cases() -> Vec<Case> {
    let store = std::sync::Arc::new(TempDir::new("examples-store").unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    oomlens_testkit::recorded::example_store(store.path(), now);
    let dir = store.path().display().to_string();
    // Each case holds the store: the runner drops a case once it has run.
    let held = || store.clone();
    let ids = |r: &Ran| -> Vec<u64> {
        let v = r.json();
        assert_eq!(v["schema"], "oomlens.incidents/1");
        v["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect()
    };
    vec![
        case("oomlens incidents", Mode::Exits(&[0]), {
            let held = held();
            move |r| {
                let _store = &held;
                assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
                assert!(r.stdout.starts_with("ID  TIME (UTC)"), "{}", r.stdout);
            }
        })
        .extra(&["--state-dir", &dir]),
        case(
            "oomlens incidents --since -1d --owner worker.service",
            Mode::Exits(&[0]),
            {
                let held = held();
                move |r| {
                    let _store = &held;
                    let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
                    assert_eq!(rows.len(), 2, "{}", r.stdout);
                    assert_eq!(rows[1], "(1 of 4 incidents shown)");
                    assert!(rows[0].trim_start().starts_with("3 "), "{}", r.stdout);
                    assert!(rows[0].contains("worker.service"), "{}", r.stdout);
                }
            },
        )
        .extra(&["--state-dir", &dir]),
        case("oomlens incidents --json --limit 20", Mode::Exits(&[0]), {
            let held = held();
            move |r| {
                let _store = &held;
                assert_eq!(ids(r), [0, 1, 2, 3])
            }
        })
        .extra(&["--state-dir", &dir]),
        case(
            "oomlens incidents --state-dir /srv/oomlens",
            Mode::Exits(&[0]),
            {
                let held = held();
                move |r| {
                    let _store = &held;
                    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout)
                }
            },
        )
        .subst("/srv/oomlens", dir.clone()),
        case("oomlens explain --recorded 3", Mode::Exits(&[0]), {
            let held = held();
            move |r| {
                let _store = &held;
                assert!(
                    r.stdout.starts_with("memcg OOM in worker.service"),
                    "{}",
                    r.stdout
                );
                assert!(
                    r.stdout.contains("growth +120.0 MiB/min (leak)"),
                    "{}",
                    r.stdout
                );
            }
        })
        .extra(&["--state-dir", &dir]),
    ]
}

#[test]
fn every_example_has_a_case_and_every_case_an_example() {
    let examples = all_examples();
    // Building the cases writes their fixtures (a fake tree, a root); cheap enough.
    let cs = cases_names();
    let found: BTreeSet<&str> = examples.iter().map(|e| e.command.as_str()).collect();
    let uncovered: Vec<String> = examples
        .iter()
        .filter(|e| !cs.contains(e.command.as_str()))
        .map(|e| format!("{}: {}", e.place, e.command))
        .collect();
    assert!(
        uncovered.is_empty(),
        "examples without a case:\n{}",
        uncovered.join("\n")
    );
    let stale: Vec<&&str> = cs.iter().filter(|c| !found.contains(**c)).collect();
    assert!(stale.is_empty(), "cases whose example is gone: {stale:?}");
}

fn cases_names() -> BTreeSet<&'static str> {
    cases().iter().map(|c| c.example).collect()
}

#[test]
fn every_example_runs_and_does_what_it_says() {
    let mut failed = Vec::new();
    for c in cases() {
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ran = run_case(&c);
            if let Mode::Exits(codes) = c.mode {
                assert!(
                    ran.code.is_some_and(|code| codes.contains(&code)),
                    "exit {:?}, want one of {codes:?}\nstdout: {}\nstderr: {}",
                    ran.code,
                    ran.stdout.chars().take(2000).collect::<String>(),
                    ran.stderr
                );
            }
            (c.check)(&ran);
        }));
        let _ = writeln!(
            std::io::stderr(),
            "example {}: {} ({:?})",
            if r.is_ok() { "ok" } else { "FAILED" },
            c.example,
            t.elapsed()
        );
        if r.is_err() {
            failed.push(c.example);
        }
    }
    assert!(failed.is_empty(), "failed examples: {failed:#?}");
}

// ---------------------------------------------------------------------------------------
// Sample output blocks

/// README blocks starting with `$ oomlens …`: (line, command, expected output).
fn sample_blocks(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out: Vec<(usize, String, Vec<String>)> = Vec::new();
    let mut current: Option<(usize, String, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let code = line.strip_prefix("    ");
        match (code, current.as_mut()) {
            (Some(c), None) => {
                if let Some(cmd) = c.strip_prefix("$ ") {
                    current = Some((i + 1, cmd.to_string(), Vec::new()));
                }
            }
            (Some(c), Some(cur)) => cur.2.push(c.to_string()),
            (None, Some(_)) if line.trim().is_empty() => {
                // A blank line inside an indented block belongs to it when the block goes on.
                current.as_mut().unwrap().2.push(String::new());
            }
            (None, Some(_)) => out.push(current.take().unwrap()),
            (None, None) => {}
        }
    }
    out.extend(current);
    for b in &mut out {
        while b.2.last().is_some_and(|l| l.is_empty()) {
            b.2.pop();
        }
    }
    out
}

#[test]
fn readme_sample_blocks_are_current() {
    let text = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let blocks = sample_blocks(&text);
    assert!(
        !blocks.is_empty(),
        "README.md has no `$ oomlens` sample block"
    );
    for (line, cmd, want) in blocks {
        let w: Vec<&str> = cmd.split_whitespace().collect();
        assert_eq!(w[0], "oomlens", "README.md:{line}: {cmd}");
        let o = oomlens().args(&w[1..]).run();
        let got = String::from_utf8_lossy(&o.stdout);
        let mut got: Vec<&str> = got.lines().map(str::trim_end).collect();
        // Incident blocks end with a blank line; the README block ends with its last line.
        while got.last() == Some(&"") {
            got.pop();
        }
        let want: Vec<&str> = want.iter().map(|l| l.trim_end()).collect();
        assert_eq!(
            got, want,
            "README.md:{line}: `{cmd}` prints something else now"
        );
    }
}
