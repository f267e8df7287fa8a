//! Hooks: a hook gets the JSON and the environment of a real kill; a hook that hangs is
//! SIGKILLed at its timeout; a hook whose program is missing is an error logged and counted,
//! and the guard goes on.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Guard;
use oomlens_model::recorded::RecordedIncident;
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::TempDir;

const MIB: u64 = 1 << 20;

const REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/001-rhel6-2.6.32-memcg-mruby-syslog.log"
);

/// An executable script in `dir` (run by the kernel through its `#!` line: the guard itself
/// never starts a shell).
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_hook_receives_the_json_and_env_of_a_real_kill() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let dir = TempDir::new("guard-hook-kill").unwrap();
    let out = dir.mkdir("out").unwrap();
    // Each run writes its stdin and environment under its own pid (other containers'
    // kills in the shared kernel log may run the hook too).
    let hook = script(
        dir.path(),
        "hook",
        &format!(
            "cat > {o}/$$.json\ncat /proc/self/oom_score_adj > {o}/$$.adj\nenv > {o}/$$.env\nmv {o}/$$.env {o}/$$.done",
            o = out.display()
        ),
    );
    let config = dir
        .write(
            "guard.toml",
            format!(
                "[[hook]]\nname = \"record-kill\"\non = [\"memcg\"]\nargv = [\"{}\", \"an arg\"]\nenv = {{ TEAM = \"db\" }}\n",
                hook.display()
            ),
        )
        .unwrap();
    let store = dir.path().join("store");
    let mut cmd = Command::new(common::guard_bin());
    cmd.args(["--log", "kmsg", "--cgroup", &rk.own.path, "--no-metrics"])
        .arg("--state-dir")
        .arg(&store)
        .arg("--config")
        .arg(&config);
    // The guard at adj 300 (the shipped unit runs it at -1000): its hooks start at 0.
    // SAFETY: only open/write/close between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            std::fs::write("/proc/self/oom_score_adj", "300")
        });
    }
    let mut g = Guard::spawn(cmd);
    g.wait_for("ready", Duration::from_secs(30));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{}/oom_score_adj", g.pid())).unwrap(),
        "300\n"
    );

    let mut cg = MemoryCgroup::create_under(&rk.own, 32 * MIB).unwrap();
    let p = cg
        .spawn(Command::new(&rk.hog).args(["--comm", "hookvictim", "alloc", "--mib", "200"]))
        .unwrap();
    cg.wait_exit(p.pid, Duration::from_secs(30)).unwrap();

    // The run whose environment names our cgroup.
    let mut found = None;
    wait_until(
        "the hook's run for our kill",
        Duration::from_secs(30),
        || {
            for e in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()) {
                if e.extension().is_some_and(|x| x == "done") {
                    let env = std::fs::read_to_string(&e).unwrap();
                    if env.contains(&format!("OOMLENS_CGROUP={}\n", cg.path())) {
                        found = Some((e.clone(), env));
                        return true;
                    }
                }
            }
            false
        },
    );
    let (done, env) = found.unwrap();
    let vars: Vec<&str> = env.lines().collect();
    for want in [
        "OOMLENS_HOOK=record-kill".to_string(),
        "OOMLENS_KIND=memcg".to_string(),
        format!("OOMLENS_PID={}", p.pid),
        "OOMLENS_COMM=hookvictim".to_string(),
        "TEAM=db".to_string(),
    ] {
        assert!(vars.contains(&want.as_str()), "{want} not in {vars:#?}");
    }
    let id: u64 = vars
        .iter()
        .find_map(|v| v.strip_prefix("OOMLENS_INCIDENT_ID="))
        .expect("OOMLENS_INCIDENT_ID")
        .parse()
        .unwrap();
    // Nothing of the guard's own environment leaks in (cargo sets CARGO_* for the test).
    assert!(!vars.iter().any(|v| v.starts_with("CARGO")), "{vars:#?}");
    assert_eq!(
        std::fs::read_to_string(done.with_extension("adj")).unwrap(),
        "0\n",
        "a hook does not inherit the guard's oom_score_adj"
    );
    let json = std::fs::read(done.with_extension("json")).unwrap();
    let rec: RecordedIncident = serde_json::from_slice(&json).unwrap();
    let victim = rec.incident.victim().unwrap();
    assert_eq!(victim.pid, Some(p.pid));
    assert_eq!(victim.comm.as_deref(), Some("hookvictim"));
    assert_eq!(rec.incident.task_memcg.as_deref(), Some(cg.path()));
    // The same record the recorder holds under that id.
    let recs = common::records(&store);
    assert!(
        recs.iter().any(|r| r == &rec),
        "stdin is the recorded incident"
    );
    let line = g.wait_for("hook record-kill: ok", Duration::from_secs(10));
    assert!(line.ends_with("exit 0"), "{line}");
    // OOMLENS_INCIDENT_ID is the id the guard logged for this record.
    let logged = g.wait_for(&format!("recorded incident {id}: "), Duration::from_secs(5));
    assert!(
        logged.contains(&format!("pid {} in {}", p.pid, cg.path())),
        "{logged}"
    );
    g.stop();
}

#[test]
fn a_hanging_hook_is_killed_at_its_timeout_and_a_missing_one_is_counted_not_fatal() {
    let dir = TempDir::new("guard-hook-timeout").unwrap();
    let pidfile = dir.path().join("hang.pid");
    let hang = script(
        dir.path(),
        "hang",
        &format!("echo $$ > {}\nexec sleep 600", pidfile.display()),
    );
    let config = dir
        .write(
            "guard.toml",
            format!(
                "[[hook]]\nname = \"hang\"\non = [\"memcg\"]\nargv = [\"{}\"]\ntimeout = \"1s\"\n\n\
                 [[hook]]\nname = \"missing\"\non = [\"memcg\"]\nargv = [\"{}/no-such-hook\"]\n",
                hang.display(),
                dir.path().display()
            ),
        )
        .unwrap();
    std::fs::copy(REPORT, dir.path().join("kern.log")).unwrap();
    let mut cmd = Command::new(common::guard_bin());
    cmd.current_dir(dir.path())
        .args(["--log", "kern.log", "--state-dir", "store"])
        .args(["--listen", "127.0.0.1:0", "--interval", "100ms"])
        .arg("--config")
        .arg(&config);
    let started = Instant::now();
    let mut g = Guard::spawn(cmd);
    let ready = g.wait_for("metrics on ", Duration::from_secs(20));
    let addr = ready.rsplit("metrics on ").next().unwrap().to_string();
    let missing = g.wait_for("hook missing:", Duration::from_secs(20));
    assert!(
        missing.starts_with("oomlens guard: hook missing: spawn-error: No such file"),
        "{missing}"
    );
    wait_until("the hanging hook's pid", Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let line = g.wait_for("hook hang:", Duration::from_secs(10));
    assert_eq!(
        line,
        "oomlens guard: hook hang: timeout: killed at its timeout"
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "killed after {took:?}");
    // Reaped: the pid is gone (not a zombie).
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still there"
    );
    // Counted by hook and result.
    let mut body = String::new();
    wait_until("the hook counters", Duration::from_secs(5), || {
        body = scrape(&addr);
        body.contains("oomlens_hook_runs_total{hook=\"hang\",result=\"timeout\"} 1\n")
    });
    assert!(
        body.contains("oomlens_hook_runs_total{hook=\"missing\",result=\"spawn-error\"} 1\n"),
        "{body}"
    );
    // The guard goes on: it still records and stops cleanly.
    g.wait_for("recorded incident 0", Duration::from_secs(5));
    g.stop();
}
