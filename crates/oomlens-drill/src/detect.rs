//! The detection half of the drill: the live kernel log followed from before the allocator
//! starts, through the same pipeline as `oomlens explain --follow` (parse, explain), on a
//! thread. The drill then asks for the incident that killed its own pid in its own cgroup:
//! the log is shared with other cgroups and containers, so "the latest OOM" proves nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oomlens_analysis::explain::Explanation;
use oomlens_live::follow::{open_follow, Follow, JournalFollower, StreamFollower};
use oomlens_live::{IncidentSink, Pipeline, SourceKind, SourceOptions, Window};
use oomlens_model::Incident;
use oomlens_parse::{Clock, Format, Options, Parser};

use crate::cgroup::NAME_PREFIX;
use crate::child::COMM;

/// Which kernel log the drill reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogChoice {
    /// The journal's kernel messages when it has any, else /dev/kmsg.
    Auto,
    /// /dev/kmsg (at the given path).
    Kmsg,
    /// `journalctl -k -f`.
    Journal,
    /// A file another program appends the kernel log to (a forwarder), from its end.
    File(PathBuf),
}

impl LogChoice {
    /// `auto`, `kmsg`, `journal`, or a file path.
    pub fn parse(s: &str) -> LogChoice {
        match s {
            "auto" => LogChoice::Auto,
            "kmsg" => LogChoice::Kmsg,
            "journal" => LogChoice::Journal,
            path => LogChoice::File(path.into()),
        }
    }
}

/// An incident of a drill cgroup, as explained.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The incident.
    pub incident: Incident,
    /// Its explanation.
    pub explanation: Explanation,
}

impl Seen {
    /// Whether it reports the kill of `pid` in `cgroup` (kernel form).
    pub fn kills(&self, cgroup: &str, pid: u32) -> bool {
        self.incident.task_memcg.as_deref() == Some(cgroup)
            && self.incident.kills.iter().any(|k| k.pid == Some(pid))
    }

    /// The finding codes of its explanation.
    pub fn codes(&self) -> Vec<&'static str> {
        self.explanation.findings.iter().map(|f| f.code).collect()
    }
}

/// Keeps the incidents of drill cgroups (named [`NAME_PREFIX`]…); others are dropped at
/// once, so a busy shared log costs no memory.
struct Collect {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl IncidentSink for Collect {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> std::io::Result<()> {
        let ours = |p: &Option<String>| p.as_deref().is_some_and(|p| p.contains(NAME_PREFIX));
        // A lone `Killed process N (oomlens-drill)` line (the report rate-limited) names
        // no cgroup: kept by the allocator's comm.
        let comm = COMM.to_str().unwrap_or_default();
        let drill_comm = inc.kills.iter().any(|k| k.comm.as_deref() == Some(comm));
        if ours(&inc.task_memcg) || ours(&inc.oom_memcg) || drill_comm {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(Seen {
                    incident: inc.clone(),
                    explanation: expl.clone(),
                });
            }
        }
        Ok(())
    }

    fn stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A follower chosen at run time.
struct Boxed(Box<dyn Follow + Send>);

impl Follow for Boxed {
    fn next(
        &mut self,
        wait: Duration,
        line: &mut dyn FnMut(&[u8]),
    ) -> Result<oomlens_live::Step, oomlens_live::LiveError> {
        self.0.next(wait, line)
    }

    fn records_lost(&self) -> u64 {
        self.0.records_lost()
    }

    fn overruns(&self) -> u64 {
        self.0.overruns()
    }
}

/// The kernel log followed on a thread.
pub struct LogWatch {
    /// What is read (`kmsg`, `journal`, or the file).
    pub name: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// How often the follower wakes to check for a stop, and the pause after which the parser
/// closes the report it holds.
const TICK: Duration = Duration::from_millis(200);

impl LogWatch {
    /// Opens the log (at its end: only what is logged from now on) and starts following it.
    /// `userspace`: the whole journal (systemd-oomd's kills), not only the kernel's
    /// messages. The error says which log could not be opened and why.
    pub fn start(
        choice: &LogChoice,
        kmsg_path: &Path,
        journalctl: &Path,
        userspace: bool,
    ) -> Result<LogWatch, String> {
        let (name, src, format): (String, Box<dyn Follow + Send>, Format) = match choice {
            LogChoice::Auto | LogChoice::Journal if userspace => {
                let f = JournalFollower::spawn(journalctl, false)
                    .map_err(|e| format!("the journal is unreadable: {e}"))?;
                ("journal".to_string(), Box::new(f), Format::JournalJson)
            }
            LogChoice::File(path) => {
                let mut f = std::fs::File::open(path)
                    .map_err(|e| format!("cannot read the kernel log {}: {e}", path.display()))?;
                use std::io::Seek;
                f.seek(std::io::SeekFrom::End(0))
                    .map_err(|e| format!("cannot read the kernel log {}: {e}", path.display()))?;
                let name = path.display().to_string();
                let src = StreamFollower::growing_file(f, &name);
                (name, Box::new(src), Format::Auto)
            }
            other => {
                let opts = SourceOptions {
                    kind: match other {
                        LogChoice::Kmsg => SourceKind::Kmsg,
                        LogChoice::Journal => SourceKind::Journal,
                        _ => SourceKind::Auto,
                    },
                    kmsg_path: kmsg_path.to_path_buf(),
                    journalctl: journalctl.to_path_buf(),
                    ..SourceOptions::default()
                };
                let f = open_follow(&opts).map_err(|e| format!("kernel log unreadable: {e}"))?;
                let (name, format) = (f.name().to_string(), f.format());
                (name, Box::new(f), format)
            }
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sink = Collect {
            seen: seen.clone(),
            stop: stop.clone(),
        };
        let file = name.clone();
        let thread = std::thread::spawn(move || {
            let mut src = Boxed(src);
            let mut parser = Parser::new(Options {
                format: (format != Format::Auto).then_some(format),
                clock: Clock::default(),
                file: Some(file),
            });
            let mut p = Pipeline::new(sink, Window::default());
            p.follow(&mut src, &mut parser, TICK)
                .map_err(|e| e.to_string())
        });
        Ok(LogWatch {
            name,
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Waits up to `timeout` for the report of `pid`'s kill in `cgroup`. The error says what
    /// was seen instead (nothing, or the follower's failure).
    pub fn wait_for(
        &mut self,
        cgroup: &str,
        pid: u32,
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> Result<Seen, String> {
        let mut lone = false;
        let found = self.wait_until(timeout, interrupted, |s| {
            // mm/oom_kill.c prints the report (and its `oom-kill:` summary) only within
            // `oom_rs`, 10 reports per 5 s for the whole host; `Killed process` always.
            lone |= s.incident.task_memcg.is_none()
                && s.incident.kills.iter().any(|k| k.pid == Some(pid));
            s.kills(cgroup, pid) || lone
        });
        match found {
            Ok(_) if lone => Err(format!(
                "the kernel printed only `Killed process {pid}`: its OOM report was \
                 rate-limited (mm/oom_kill.c: at most 10 reports per 5 s for the whole host), \
                 so the log names no cgroup and nothing can be explained; run the drill again"
            )),
            Ok(s) => Ok(s),
            Err(why) => Err(format!(
                "{why}: no report of the kill of pid {pid} in {cgroup}"
            )),
        }
    }

    /// Waits up to `timeout` for an incident that `want` accepts.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        interrupted: &AtomicBool,
        mut want: impl FnMut(&Seen) -> bool,
    ) -> Result<Seen, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self
                .seen
                .lock()
                .ok()
                .and_then(|v| v.iter().find(|s| want(s)).cloned())
            {
                return Ok(s);
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let why = match self.thread.take().map(|t| t.join()) {
                    Some(Ok(Err(e))) => format!("reading {} failed: {e}", self.name),
                    _ => format!("{} ended", self.name),
                };
                return Err(why);
            }
            if interrupted.load(Ordering::Relaxed) {
                return Err("interrupted".into());
            }
            if Instant::now() >= deadline {
                return Err(format!("{} in {:.0} s", self.name, timeout.as_secs_f64()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A report cut by the kernel's rate limit to its `Killed process` line: the drill's
    /// pid is recognised (by the allocator's comm) and the failure says why.
    #[test]
    fn a_lone_killed_process_line_is_reported_as_rate_limited() {
        let dir = std::env::temp_dir().join(format!("oomlens-drill-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("kern.log");
        std::fs::write(&log, "").unwrap();
        let mut w = LogWatch::start(
            &LogChoice::File(log.clone()),
            Path::new("/dev/null"),
            Path::new("journalctl"),
            false,
        )
        .unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(
            f,
            "[55109.242922] Memory cgroup out of memory: Killed process 22233 (oomlens-drill) \
             total-vm:11540kB, anon-rss:1408kB, file-rss:4044kB, shmem-rss:0kB, UID:0 \
             pgtables:60kB oom_score_adj:0"
        )
        .unwrap();
        let stop = AtomicBool::new(false);
        let e = w
            .wait_for("/a/oomlens-drill-1-x", 22233, Duration::from_secs(5), &stop)
            .unwrap_err();
        assert!(e.contains("rate-limited"), "{e}");
        assert!(e.contains("Killed process 22233"), "{e}");
        let e = w
            .wait_for(
                "/a/oomlens-drill-1-x",
                4242,
                Duration::from_millis(300),
                &stop,
            )
            .unwrap_err();
        assert!(e.contains("no report of the kill of pid 4242"), "{e}");
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
