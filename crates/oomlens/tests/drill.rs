//! `oomlens drill` on the real kernel (cgroup v1 here): every kind this host can do passes,
//! with no guard, with a guard running and with a guard stopped; broken detection (the
//! kernel log unreadable, a log file that never gets the report) fails with the reason; a
//! kind the host cannot do (systemd-oomd without systemd) exits 2; and after every run, a
//! pass, a failure or a SIGINT in the middle, no drill cgroup, process or mount is left.
//!
//! What the drill says is checked against the kernel, not against itself: the victim's
//! `oom-kill:` and `Killed process` records are read from `/dev/kmsg` by this test (by
//! cgroup path and pid), and the guard's store through `oomlens incidents --json`.
//!
//! Gate: `oomlens_testkit::real_kernel` (root, a writable v1 memory cgroup, /dev/kmsg), as
//! every real-kernel suite; one test at a time (one lock).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oomlens_testkit::fs::TempDir;
use oomlens_testkit::kmsg::{find_kills, Kmsg};
use oomlens_testkit::oomlens;
use oomlens_testkit::real_kernel;
use oomlens_testkit::run::Ran;
use serde_json::Value;

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `oomlens drill ARGS --json`, with the guard looked for in `state_dir` and on `listen`.
/// The kernel prints at most 10 OOM reports per 5 s for the whole host (mm/oom_kill.c
/// `oom_rs`), shared with every other test and container here: a drill whose report was
/// cut to its `Killed process` line says so and fails; it is run once more after 6 s.
fn drill(args: &[&str], state_dir: &Path, listen: &str) -> (Ran, Value) {
    let (r, v) = drill_once(args, state_dir, listen);
    let limited =
        v["steps"].as_array().unwrap().iter().any(|s| {
            s["result"] == "fail" && s["detail"].as_str().unwrap().contains("rate-limited")
        });
    if !limited {
        return (r, v);
    }
    eprintln!("the kernel rate-limited the drill's OOM report; running it again: {v}");
    std::thread::sleep(Duration::from_secs(6));
    drill_once(args, state_dir, listen)
}

fn drill_once(args: &[&str], state_dir: &Path, listen: &str) -> (Ran, Value) {
    let r = oomlens!()
        .arg("drill")
        .args(args)
        .args(["--json", "--state-dir"])
        .arg(state_dir)
        .args(["--listen", listen])
        .timeout(Duration::from_secs(120))
        .run();
    let v: Value = serde_json::from_slice(&r.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{}", r.command, r.stdout()));
    assert_eq!(v["schema"], "oomlens.drill/1");
    (r, v)
}

fn step<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {v}"))
}

fn outcomes(v: &Value) -> Vec<(String, String)> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The drill cgroup's directory from the kernel path in the report.
fn cgroup_dir(path: &str) -> PathBuf {
    let own = &real_kernel().unwrap().own;
    let rest = path
        .strip_prefix(own.path.as_str())
        .unwrap_or_else(|| panic!("{path} is not below our own cgroup {}", own.path));
    own.dir.join(rest.trim_start_matches('/'))
}

/// Nothing of the drill is left: no cgroup directory named oomlens-drill-<its pid>-…
/// below ours, no allocator process, no tmpfs mount of the drill.
fn assert_nothing_left(drill_pid: Option<u32>) {
    let own = &real_kernel().unwrap().own;
    let stale: Vec<String> = std::fs::read_dir(&own.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| match drill_pid {
            Some(p) => n.starts_with(&format!("oomlens-drill-{p}-")),
            None => n.starts_with("oomlens-drill-"),
        })
        .collect();
    assert!(stale.is_empty(), "drill cgroups left: {stale:?}");
    let allocators: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("drill --child"))
        .collect();
    assert!(allocators.is_empty(), "allocators left: {allocators:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("oomlens-drill"),
        "a drill mount is visible"
    );
}

/// The kernel's own record of the victim: its `oom-kill:` line names the drill cgroup and
/// the pid, and its `Killed process` line follows. Returns the victim's oom_score_adj.
fn kernel_killed(kmsg: &mut Kmsg, cgroup: &str, pid: u64) -> i32 {
    let kills = kmsg
        .wait_for_kills(cgroup, Duration::from_secs(10), Duration::from_millis(200))
        .unwrap();
    assert_eq!(kills.len(), 1, "one kill in {cgroup}: {kills:?}");
    assert_eq!(u64::from(kills[0].oom_kill.pid), pid);
    let killed = kills[0].killed.as_ref().expect("its Killed process line");
    assert_eq!(u64::from(killed.pid), pid);
    assert_eq!(find_kills(&kmsg.records, cgroup).len(), 1);
    killed.oom_score_adj
}

/// Every kind this host can do passes without a guard; the kernel's log agrees on the
/// victim, and the explanation carries the kind's finding.
#[test]
fn memcg_tmpfs_and_adj_drills_pass_and_leave_nothing() {
    let Some(_) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    let none = tmp.join("no-guard");
    let listen = format!("127.0.0.1:{}", free_port());
    for (kind, finding, adj) in [
        ("memcg", "memcg-limit-hit", 0),
        ("tmpfs", "shmem-not-heap", 0),
        ("adj", "largest-survived-by-adj", 1000),
    ] {
        let mut kmsg = Kmsg::open_at_end().unwrap();
        let (r, v) = drill(&["--kind", kind, "--limit", "48M"], &none, &listen);
        assert_eq!(r.exit_code(), Some(0), "{kind}: {v:#}\n{}", r.stderr());
        assert_eq!(v["result"], "pass");
        assert_eq!(v["kind"], kind);
        assert_eq!(v["limit"], 48 << 20);
        assert_eq!(v["cgroup_version"], "v1");
        let names: Vec<String> = outcomes(&v).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "safe",
                "cgroup",
                "log",
                "guard",
                "allocate",
                "kill",
                "explained",
                "cleanup"
            ]
        );
        assert_eq!(step(&v, "guard")["result"], "skip");
        let cgroup = v["cgroup"].as_str().unwrap();
        let pid = v["victim_pid"].as_u64().unwrap();
        assert_eq!(kernel_killed(&mut kmsg, cgroup, pid), adj, "{kind}");
        let explained = step(&v, "explained")["detail"].as_str().unwrap();
        assert!(explained.contains(finding), "{kind}: {explained}");
        assert!(explained.contains(&format!("(pid {pid})")), "{explained}");
        assert!(
            explained.contains("oomlens-drill"),
            "the victim's comm: {explained}"
        );
        assert!(!cgroup_dir(cgroup).exists());
        assert_nothing_left(None);
    }
}

/// The text form: one line per step with PASS/SKIP, the overall line last.
#[test]
fn text_output_has_a_line_per_step_and_the_verdict() {
    let Some(_) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    let run = || {
        oomlens!()
            .args(["drill", "--limit", "32M", "--state-dir"])
            .arg(tmp.join("none"))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .run()
    };
    let mut r = run();
    if r.exit_code() == Some(1) && r.stdout().contains("rate-limited") {
        // The host's OOM reports are rate-limited (see `drill`): once more.
        std::thread::sleep(Duration::from_secs(6));
        r = run();
    }
    assert_eq!(r.exit_code(), Some(0), "{}", r.stdout());
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 9, "{out}");
    assert!(lines[0].starts_with("PASS  safe "), "{out}");
    assert!(lines[3].starts_with("SKIP  guard "), "{out}");
    assert!(lines[5].starts_with("PASS  kill "), "{out}");
    assert!(lines[8].starts_with("PASS drill memcg: "), "{out}");
}

/// systemd-oomd cannot run here (PID 1 is not systemd): exit 2 with the reason, and
/// nothing was created.
#[test]
fn oomd_without_systemd_exits_2_with_the_reason() {
    let Some(_) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    let (r, v) = drill(&["--kind", "oomd"], &tmp.join("none"), "127.0.0.1:1");
    assert_eq!(r.exit_code(), Some(2));
    assert_eq!(v["result"], "error");
    assert!(v["cgroup"].is_null());
    let why = step(&v, "safe")["detail"].as_str().unwrap();
    assert!(why.contains("systemd-oomd is not running"), "{why}");
}

/// The kernel log cannot be read (a device path that does not exist) or never gets the
/// report (a file nobody writes): FAIL with the reason, the kill still happened, and
/// everything is removed.
#[test]
fn broken_kernel_log_fails_with_the_reason() {
    let Some(_) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    let none = tmp.join("none");
    let (r, v) = drill(
        &["--log", "kmsg", "--kmsg-path", "/nonexistent/kmsg"],
        &none,
        "127.0.0.1:1",
    );
    assert_eq!(r.exit_code(), Some(1), "{v:#}");
    assert_eq!(v["result"], "fail");
    let log = step(&v, "log");
    assert_eq!(log["result"], "fail");
    assert!(
        log["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/kmsg"),
        "{log}"
    );
    assert_eq!(step(&v, "kill")["result"], "pass");
    assert_eq!(step(&v, "explained")["result"], "fail");
    assert_eq!(step(&v, "cleanup")["result"], "pass");
    assert_nothing_left(None);

    let file = tmp.join("kern.log");
    std::fs::write(&file, "").unwrap();
    let (r, v) = drill(
        &["--log", file.to_str().unwrap(), "--timeout", "3"],
        &none,
        "127.0.0.1:1",
    );
    assert_eq!(r.exit_code(), Some(1), "{v:#}");
    assert_eq!(step(&v, "log")["result"], "pass");
    let ex = step(&v, "explained");
    assert_eq!(ex["result"], "fail");
    let pid = v["victim_pid"].as_u64().unwrap();
    assert!(
        ex["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("no report of the kill of pid {pid}")),
        "{ex}"
    );
    assert_nothing_left(None);
}

/// A guard (`oomlens guard`, its own store and port, watching our subtree): the drill
/// finds it, and the guard recorded the kill (checked again with `oomlens incidents`) and
/// its kill counter rose. Then the same guard stopped, its state directory left: FAIL.
#[test]
fn guard_running_passes_and_guard_stopped_fails() {
    let Some(rk) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    let store = tmp.join("store");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut guard = start_guard(&store, &listen, &rk.own.path);
    let (r, v) = drill(&["--limit", "32M"], &store, &listen);
    let _ = guard.kill();
    let _ = guard.wait();
    assert_eq!(r.exit_code(), Some(0), "{v:#}");
    let got: Vec<(String, String)> = outcomes(&v);
    let want = [
        ("safe", "pass"),
        ("cgroup", "pass"),
        ("log", "pass"),
        ("guard", "pass"),
        ("allocate", "pass"),
        ("kill", "pass"),
        ("explained", "pass"),
        ("recorded", "pass"),
        ("counter", "pass"),
        ("hook", "skip"),
        ("cleanup", "pass"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "{v:#}");
    let counter = step(&v, "counter")["detail"].as_str().unwrap();
    // Other containers' OOM kills are counted too (the kernel log is shared): only the rise
    // is certain.
    let nums: Vec<f64> = counter
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(counter.starts_with("oomlens_kills_total "), "{counter}");
    assert!(nums.len() >= 2 && nums[1] >= nums[0] + 1.0, "{counter}");
    let pid = v["victim_pid"].as_u64().unwrap();
    let listed = oomlens!()
        .args(["incidents", "--json", "--state-dir"])
        .arg(&store)
        .run();
    let list = listed.json();
    let rows = list["incidents"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|i| i["victim"]["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not in {list:#}"));
    assert_eq!(row["cgroup"], v["cgroup"]);
    let recorded = step(&v, "recorded")["detail"].as_str().unwrap();
    assert!(
        recorded.contains(&format!("record {}", row["id"])),
        "{recorded}"
    );
    assert_nothing_left(None);

    // The guard is gone, its store stays: the drill must fail, saying so.
    let (r, v) = drill(&["--limit", "32M"], &store, &listen);
    assert_eq!(r.exit_code(), Some(1), "{v:#}");
    let g = step(&v, "guard");
    assert_eq!(g["result"], "fail");
    assert!(
        g["detail"].as_str().unwrap().starts_with("guard stopped:"),
        "{g}"
    );
    assert_eq!(step(&v, "recorded")["result"], "fail");
    assert_eq!(step(&v, "explained")["result"], "pass");
    assert_nothing_left(None);
}

/// A guard whose config has a `[[hook]]` on memcg kills: the drill's hook step sees the
/// hook run (`oomlens_hook_runs_total{result="ok"}` rises on the guard's /metrics), and the
/// hook itself ran: it wrote the victim's pid, from its environment, to a file.
#[test]
fn a_guard_hook_is_checked_by_the_drill() {
    let Some(rk) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill-hook").unwrap();
    let store = tmp.join("store");
    let ran = tmp.join("hook-ran");
    let config = tmp.join("guard.toml");
    std::fs::write(
        &config,
        format!(
            "[[hook]]\nname = \"drill-hook\"\non = [\"memcg\"]\nargv = [\"/bin/sh\", \"-c\", \"echo $OOMLENS_PID > {}\"]\ntimeout = \"5s\"\n",
            ran.display()
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut guard = start_guard_with(
        &store,
        &listen,
        &rk.own.path,
        &[Path::new("--config"), &config],
    );
    let (r, v) = drill(&["--limit", "32M"], &store, &listen);
    let _ = guard.kill();
    let _ = guard.wait();
    assert_eq!(r.exit_code(), Some(0), "{v:#}");
    let hook = step(&v, "hook");
    assert_eq!(hook["result"], "pass", "{v:#}");
    assert!(
        hook["detail"].as_str().unwrap().contains("result=\"ok\""),
        "{hook}"
    );
    // The hook ran (the step saw an ok run): its file names a victim's pid, from the
    // hook's environment. Other containers' memcg kills run it too (the kernel log is
    // shared), so the file may hold another victim's pid than the drill's.
    let text = std::fs::read_to_string(&ran).unwrap();
    assert!(text.trim().parse::<u32>().is_ok(), "{text:?}");
    assert_nothing_left(None);
}

fn start_guard(store: &Path, listen: &str, cgroup: &str) -> Child {
    start_guard_with(store, listen, cgroup, &[])
}

/// [`start_guard`] with more flags (`--config FILE`).
fn start_guard_with(store: &Path, listen: &str, cgroup: &str, extra: &[&Path]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oomlens"))
        .args([
            "guard", "--log", "kmsg", "--cgroup", cgroup, "--listen", listen,
        ])
        .arg("--state-dir")
        .arg(store)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) if l.contains("ready") => return child,
            Ok(_) => {}
            Err(_) if Instant::now() > deadline => panic!("the guard did not get ready"),
            Err(_) => {}
        }
    }
}

/// SIGINT while the allocator (delayed, so it is alive) waits in the cgroup: the drill
/// removes the cgroup and its process and exits 2, saying it was interrupted.
#[test]
fn sigint_in_the_middle_removes_everything() {
    let Some(_) = real_kernel() else { return };
    let _l = lock();
    let tmp = TempDir::new("drill").unwrap();
    for kind in ["memcg", "adj", "tmpfs"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oomlens"))
            .args([
                "drill",
                "--kind",
                kind,
                "--child-delay",
                "20000",
                "--listen",
            ])
            .arg("127.0.0.1:1")
            .arg("--state-dir")
            .arg(tmp.join("none"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let drill_pid = child.id();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        let mut cgroup = None;
        // Wait for the allocate step (adj: its larger process is then holding, not ready),
        // or for the kill step's wait when the allocator is delayed.
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            text.push_str(&line);
            if line.starts_with("PASS  cgroup") {
                cgroup = line.split_whitespace().nth(4).map(str::to_string);
            }
            if line.starts_with("SKIP  guard") {
                break;
            }
            line.clear();
        }
        let cgroup = cgroup.unwrap_or_else(|| panic!("no cgroup line: {text}"));
        let dir = cgroup_dir(&cgroup);
        // Let the allocator(s) start and enter the cgroup.
        let deadline = Instant::now() + Duration::from_secs(10);
        while procs(&dir).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let inside = procs(&dir);
        assert!(!inside.is_empty(), "{kind}: nothing in {}", dir.display());
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(drill_pid as i32, libc::SIGINT) }, 0);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        text.push_str(&rest);
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(2), "{kind}: {text}");
        assert!(text.contains("ERROR interrupted"), "{kind}: {text}");
        assert!(text.contains("PASS  cleanup"), "{kind}: {text}");
        assert!(!dir.exists(), "{kind}: {} left", dir.display());
        for pid in inside {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "{kind}: pid {pid} left"
            );
        }
        assert_nothing_left(Some(drill_pid));
    }
}

fn procs(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}
