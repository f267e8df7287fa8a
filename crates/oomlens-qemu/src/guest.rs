//! Helpers for tests that run inside a guest (`tests/busybox_*.rs`, `tests/systemd_*.rs`):
//! cgroup v2 set-up, the memory hog, the kernel log, `oomlens explain --json`, the journal,
//! and artifacts sent back to the host.
//!
//! Everything here panics with a message naming what failed: these are test helpers.
//! Tests in one binary share one guest and run one at a time (the runner passes
//! `--test-threads=1`), so each uses its own cgroup names and matches kernel reports by
//! pid and cgroup path, as on a shared host.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::boot::ARTIFACT_MAGIC;

/// Where the cgroup v2 hierarchy is mounted in both guests.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Where the static tools are (`oomlens`, `oomlens-hog`, `oomlens-qemu`).
pub const TOOLS: &str = "/usr/local/bin";

/// The guest this process runs in (`busybox`, `systemd`), from `oomlens_qemu=` on the
/// kernel command line; `None` on any other machine.
pub fn kind() -> Option<String> {
    let cmdline = fs::read_to_string("/proc/cmdline").ok()?;
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("oomlens_qemu="))
        .map(str::to_string)
}

/// Panics unless this runs in the guest `kind`: guest tests provoke real OOM kills and must
/// never run on a developer's host. Call it first in every guest test.
pub fn require(kind: &str) {
    match self::kind() {
        Some(k) if k == kind => {}
        other => panic!(
            "this test runs only inside the {kind} guest of oomlens-qemu (here: {other:?}); \
             run it with `cargo run -p oomlens-qemu -- run`"
        ),
    }
}

/// A tool of the payload by name (`oomlens`, `oomlens-hog`).
pub fn tool(name: &str) -> Command {
    Command::new(Path::new(TOOLS).join(name))
}

/// A cgroup v2 directory made for a test.
pub struct Cgroup {
    /// Its path as the kernel prints it (`/t1`, `/nest/child`).
    pub path: String,
    dir: PathBuf,
}

impl Cgroup {
    /// Creates `path` (`/a/b`) and the cgroups above it, enabling the memory controller on
    /// the way down. An existing empty cgroup of that name is removed first.
    pub fn create(path: &str) -> Cgroup {
        let rel = path.trim_matches('/');
        assert!(!rel.is_empty(), "cgroup path {path:?}");
        let mut dir = PathBuf::from(CGROUP_ROOT);
        let parts: Vec<&str> = rel.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let ctl = dir.join("cgroup.subtree_control");
            let enabled = fs::read_to_string(&ctl).unwrap_or_default();
            if !enabled.split_whitespace().any(|c| c == "memory") {
                write(&ctl, "+memory");
            }
            dir.push(part);
            if i + 1 == parts.len() && dir.exists() {
                remove_tree(&dir);
            }
            if !dir.exists() {
                fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            }
        }
        Cgroup {
            path: format!("/{rel}"),
            dir,
        }
    }

    /// A cgroup someone else made and owns (a systemd unit's `/system.slice/x.service`):
    /// nothing is created or removed, so processes can be started into it with
    /// [`Cgroup::enter`] while systemd keeps managing it.
    pub fn existing(path: &str) -> Cgroup {
        let rel = path.trim_matches('/');
        let dir = Path::new(CGROUP_ROOT).join(rel);
        assert!(dir.is_dir(), "no cgroup {}", dir.display());
        Cgroup {
            path: format!("/{rel}"),
            dir,
        }
    }

    /// The cgroup's directory under [`CGROUP_ROOT`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes an interface file (`memory.max`, `memory.oom.group`, ...).
    pub fn set(&self, file: &str, value: &str) {
        write(&self.dir.join(file), value);
    }

    /// Reads an interface file.
    pub fn get(&self, file: &str) -> String {
        let p = self.dir.join(file);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// `memory.events` as key → count (`oom`, `oom_kill`, `max`, `high`, `low`, ...).
    pub fn events(&self) -> BTreeMap<String, u64> {
        flat_keyed(&self.get("memory.events"))
    }

    /// Makes `cmd` start inside this cgroup (its child writes `0` to `cgroup.procs`
    /// between fork and exec, so no byte is charged elsewhere).
    pub fn enter(&self, cmd: &mut Command) {
        let procs =
            std::ffi::CString::new(self.dir.join("cgroup.procs").into_os_string().into_vec())
                .expect("cgroup path without NUL");
        // SAFETY: between fork and exec the closure only calls open/write/close on a path
        // built before the fork: no allocation, no lock.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
    }

    /// The pids in `cgroup.procs`.
    pub fn procs(&self) -> Vec<u32> {
        self.get("cgroup.procs")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path());
            }
        }
    }
    fs::remove_dir(dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
}

fn write(path: &Path, value: &str) {
    // One write(2), checked: a buffered shell `echo` can hide EACCES/EINVAL.
    fs::write(path, value)
        .unwrap_or_else(|e| panic!("writing {value:?} to {}: {e}", path.display()));
}

/// Parses a flat-keyed cgroup file (`key value` per line).
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A running `oomlens-hog`.
pub struct Hog {
    /// The process.
    pub child: Child,
    /// Its pid.
    pub pid: u32,
    out: BufReader<ChildStdout>,
}

impl Hog {
    /// Starts `oomlens-hog ARGS` (in `cgroup` if given) and waits for its `start` line.
    /// See `crates/oomlens-testkit/src/bin/oomlens-hog.rs` for the arguments.
    pub fn spawn(cgroup: Option<&Cgroup>, args: &[&str]) -> Hog {
        let mut cmd = tool("oomlens-hog");
        cmd.args(args).stdout(Stdio::piped()).stdin(Stdio::null());
        if let Some(cg) = cgroup {
            cg.enter(&mut cmd);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("oomlens-hog {args:?}: {e}"));
        let pid = child.id();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut hog = Hog { child, pid, out };
        hog.wait_line("start");
        hog
    }

    fn wait_line(&mut self, word: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.out.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let st = self.child.wait().map(describe).unwrap_or_default();
                panic!("oomlens-hog {} ended before '{word}': {st}", self.pid);
            }
            if line.starts_with(word) {
                return;
            }
        }
    }

    /// Waits until it holds all of its memory (`ready` line).
    pub fn wait_ready(&mut self) {
        self.wait_line("ready");
    }

    /// Waits for it to end, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            assert!(
                start.elapsed() < timeout,
                "oomlens-hog {} still running after {timeout:?}",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while it runs (a zombie counts as ended: we are its parent and reap it).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `exit N` or `signal N`.
pub fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => format!("{st:?}"),
    }
}

/// The whole kernel log as `/dev/kmsg` records (`prio,seq,usec,flags;message`, one per line,
/// continuation lines starting with a space), read from the first record still buffered.
pub fn kmsg() -> Vec<u8> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .expect("open /dev/kmsg");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // EPIPE: records were overwritten; the next read continues with the oldest left.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) => panic!("reading /dev/kmsg: {e}"),
        }
    }
    out
}

/// Runs a shell command line, asserts success, returns stdout.
pub fn sh(script: &str) -> String {
    let out = Command::new("/bin/sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("sh -c {script:?}: {e}"));
    assert!(
        out.status.success(),
        "sh -c {script:?}: {}\nstdout: {}\nstderr: {}",
        describe(out.status),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a program, asserts success, returns stdout as bytes.
pub fn output(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstderr: {}",
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

static CHANNEL: Mutex<()> = Mutex::new(());

/// Sends `bytes` to the host, which saves them as
/// `<target>/qemu-artifacts/<test binary>/<name>` (name: letters, digits, `.-_`).
/// Guest logs fed to oomlens are saved this way, so that a mis-parse can be replayed.
pub fn save_artifact(name: &str, bytes: &[u8]) {
    let _guard = CHANNEL.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open("/dev/ttyS2")
        .expect("open /dev/ttyS2 (artifact channel)");
    f.write_all(format!("{ARTIFACT_MAGIC} {name} {}\n", bytes.len()).as_bytes())
        .and_then(|_| f.write_all(bytes))
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.flush())
        .expect("writing to /dev/ttyS2");
}

/// `oomlens explain --json ARGS`: asserts exit status 0 (incidents found), saves stdout as
/// artifact `<name>.json`, returns the document.
pub fn explain(name: &str, args: &[&str]) -> Value {
    let out = tool("oomlens")
        .arg("explain")
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running oomlens");
    save_artifact(&format!("{name}.json"), &out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "oomlens explain --json {args:?}: {}\nstderr: {}",
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oomlens explain --json {args:?}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(doc["schema"], "oomlens.explain/1");
    doc
}

/// Saves `log` as artifact `name`, writes it to `/tmp/<name>`, and explains that file.
pub fn explain_log(name: &str, log: &[u8]) -> Value {
    save_artifact(name, log);
    let path = format!("/tmp/{name}");
    fs::write(&path, log).unwrap_or_else(|e| panic!("{path}: {e}"));
    explain(name, &[&path])
}

/// The incidents of an explain document.
pub fn incidents(doc: &Value) -> &[Value] {
    doc["incidents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The kills of an incident as (pid, comm).
pub fn kills(inc: &Value) -> Vec<(u64, String)> {
    inc["kills"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|k| {
            (
                k["pid"].as_u64().unwrap_or(0),
                k["comm"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The incidents that killed `pid`.
pub fn incidents_killing(doc: &Value, pid: u32) -> Vec<&Value> {
    incidents(doc)
        .iter()
        .filter(|i| kills(i).iter().any(|(p, _)| *p == pid as u64))
        .collect()
}

/// Polls `done` every 100 ms until it is true; panics after `timeout` naming `what`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Seconds since the guest booted.
pub fn uptime() -> f64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// systemd guest: `systemctl show UNIT -p PROP --value`.
pub fn unit_property(unit: &str, prop: &str) -> String {
    String::from_utf8_lossy(&output(
        Command::new("systemctl").args(["show", unit, "-p", prop, "--value"]),
    ))
    .trim()
    .to_string()
}

/// systemd guest: writes `/etc/systemd/system/<unit>` and reloads systemd.
pub fn install_unit(unit: &str, text: &str) {
    let path = format!("/etc/systemd/system/{unit}");
    fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    output(Command::new("systemctl").arg("daemon-reload"));
}

/// systemd guest: the journal as `journalctl -o json` (everything, or `extra` filters),
/// after asking journald to take in everything queued.
pub fn journal_json(extra: &[&str]) -> Vec<u8> {
    let _ = Command::new("journalctl").arg("--sync").status();
    output(
        Command::new("journalctl")
            .args(["-o", "json", "--no-pager"])
            .args(extra),
    )
}

/// `oomlens rank --json ARGS`: asserts exit 0 (a victim found), saves the output as artifact
/// `<name>.json`, returns the document.
pub fn rank(name: &str, args: &[&str]) -> Value {
    let out = output(tool("oomlens").args(["rank", "--json"]).args(args));
    save_artifact(&format!("{name}.json"), &out);
    let doc: Value =
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("rank {args:?}: not JSON ({e})"));
    assert_eq!(doc["schema"], "oomlens.rank/1");
    doc
}

/// The `oom-kill:` summaries of a /dev/kmsg dump, each with the `Killed process` lines
/// that follow it up to the next summary (group kills print several), in log order.
pub fn kernel_kills(kmsg: &[u8]) -> Vec<(String, Vec<String>)> {
    let text = String::from_utf8_lossy(kmsg);
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for m in text
        .lines()
        .filter_map(|l| l.split_once(';').map(|(_, m)| m))
    {
        if m.starts_with("oom-kill:") {
            out.push((m.to_string(), Vec::new()));
        } else if m.contains("Killed process") {
            if let Some(last) = out.last_mut() {
                last.1.push(m.to_string());
            }
        }
    }
    out
}

/// `key=value` of an `oom-kill:` line.
pub fn summary_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim_start_matches("oom-kill:")
        .split(',')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

/// The pid of `... Killed process N (comm) ...`.
pub fn killed_pid(line: &str) -> Option<u32> {
    line.split("Killed process ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
