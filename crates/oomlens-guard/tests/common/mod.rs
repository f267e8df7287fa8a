//! Shared by the guard's integration tests: start the guard binary, watch its stderr, read
//! back what it recorded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oomlens_model::recorded::{RecordedIncident, RECORD_INCIDENT};
use oomlens_store::recorder::Reader;

/// The guard binary of this crate.
pub fn guard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_oomlens-guard"))
}

/// A running guard with its stderr collected.
pub struct Guard {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Guard {
    /// Start the guard on `log` (`kmsg` or a file), watching the subtree `cgroup`, writing
    /// to `store`, and wait until it is ready.
    pub fn ready_on(log: &str, cgroup: &str, store: &std::path::Path) -> Guard {
        let mut g = Guard::start(&[
            "--log",
            log,
            "--cgroup",
            cgroup,
            "--state-dir",
            store.to_str().expect("a UTF-8 store path"),
        ]);
        g.wait_for("ready", Duration::from_secs(30));
        g
    }

    /// Start the guard with `args` (no metrics endpoint).
    pub fn start(args: &[&str]) -> Guard {
        let mut cmd = Command::new(guard_bin());
        cmd.args(args).arg("--no-metrics");
        Guard::spawn(cmd)
    }

    /// Start `cmd` (the guard with its arguments) with stderr collected.
    pub fn spawn(mut cmd: Command) -> Guard {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oomlens-guard");
        let err = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let s = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                match line {
                    Ok(l) => s.lock().unwrap().push(l),
                    Err(_) => break,
                }
            }
        });
        Guard { child, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait until a stderr line contains `needle`; panics with the whole stderr if not.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("guard exited ({st}) before {needle:?}: {:#?}", self.lines());
            }
            assert!(
                Instant::now() < end,
                "no {needle:?} from the guard within {timeout:?}: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, wait, and check it exited 0.
    pub fn stop(mut self) -> Vec<String> {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().unwrap();
        // The stderr thread ends with the pipe.
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.lines();
        assert!(st.success(), "guard exited {st}: {lines:#?}");
        lines
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every record of the store, decoded; panics on any damaged record or payload.
pub fn records(dir: &Path) -> Vec<RecordedIncident> {
    let r = Reader::open(dir).expect("the store opens");
    r.iter()
        .map(|rec| {
            let rec = rec.expect("every record reads");
            assert_eq!(rec.kind, RECORD_INCIDENT);
            serde_json::from_slice(&rec.payload).expect("every payload decodes")
        })
        .collect()
}

/// CPU time (user + system) of `pid`, seconds, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the comm's closing parenthesis: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}
