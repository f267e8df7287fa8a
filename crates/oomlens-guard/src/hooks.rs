//! Hooks: the `[[hook]]` programs run on incidents, without blocking the loop.
//!
//! A hook is executed directly (`execve` of its absolute `argv[0]`, never a shell), with a
//! cleared environment holding `PATH`, the table's `env` and the incident's key fields:
//! `OOMLENS_HOOK`, `OOMLENS_KIND`, `OOMLENS_PID`, `OOMLENS_COMM`, `OOMLENS_CGROUP`,
//! `OOMLENS_UNIT`, `OOMLENS_POD`, `OOMLENS_INCIDENT_ID` (those the incident has; text fields
//! escaped as on a terminal, since a comm or cgroup path is untrusted). A pre-emption
//! decision (a record of kind `oomlens-guard`) runs the hooks whose `on` holds `preempt`,
//! with `OOMLENS_KIND=oomlens-guard`, its target as `OOMLENS_PID`/`OOMLENS_COMM`/
//! `OOMLENS_CGROUP`, and `OOMLENS_POLICY` and `OOMLENS_RESULT` (`signalled`, `dry-run`, ...). Its stdin is the
//! incident's JSON in a sealed-off memfd, so a hook that never reads cannot make the guard
//! block on a full pipe. Children are reaped on SIGCHLD (a signal pipe in the loop's
//! epoll); one that outlives its `timeout` is SIGKILLed. At most `max-concurrent-hooks` run
//! at once; later runs wait in a queue (bounded: [`QUEUE_MAX`], beyond which they are
//! dropped and counted). Every outcome is logged and counted by hook and result.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use oomlens_sinks::escape::escape;

use crate::config::{Config, Hook, HookOn};

/// The most runs waiting for a slot; more are dropped (result `dropped`).
pub const QUEUE_MAX: usize = 64;

/// `PATH` in a hook's environment (the guard's own is not passed on).
pub const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a run ended: the `result` label of `oomlens_hook_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit status 0.
    Ok,
    /// Another exit status, or killed by a signal it did not get from the guard.
    Failed,
    /// Killed at its timeout.
    Timeout,
    /// Could not be started (missing program, not executable).
    SpawnError,
    /// The queue was full.
    Dropped,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::SpawnError => "spawn-error",
            Outcome::Dropped => "dropped",
        }
    }
}

/// The fields of an event a hook's environment carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookEvent {
    /// What happened: an incident kind (`global`, `memcg`, ...) or `preempt`.
    pub on: Option<HookOn>,
    /// The process killed or signalled.
    pub pid: Option<u32>,
    /// Its comm.
    pub comm: Option<String>,
    /// Its cgroup.
    pub cgroup: Option<String>,
    /// The systemd unit owning that cgroup.
    pub unit: Option<String>,
    /// The Kubernetes pod UID owning it.
    pub pod: Option<String>,
    /// The recorder's id of the record.
    pub incident_id: Option<u64>,
    /// A pre-emption decision's policy name.
    pub policy: Option<String>,
    /// A pre-emption decision's result (`signalled`, `dry-run`, `refused (...)`, ...).
    pub result: Option<String>,
}

impl HookEvent {
    /// The fields of a recorded incident (its first kill, the victim's memcg and owner).
    pub fn of_incident(inc: &oomlens_model::Incident, id: Option<u64>) -> HookEvent {
        let kill = inc.kills.first();
        let cgroup = inc.task_memcg.clone().or_else(|| inc.oom_memcg.clone());
        let owner = cgroup
            .as_deref()
            .map(oomlens_analysis::owner::owner_of)
            .unwrap_or_default();
        HookEvent {
            on: inc.kind.map(|k| match k {
                oomlens_model::Kind::OomlensGuard => HookOn::Preempt,
                k => HookOn::Incident(k),
            }),
            pid: kill.and_then(|k| k.pid),
            comm: kill.and_then(|k| k.comm.clone()),
            cgroup,
            unit: owner.unit,
            pod: owner.pod_uid,
            incident_id: id,
            policy: None,
            result: None,
        }
    }

    /// The fields of a record: [`HookEvent::of_incident`], and for a pre-emption decision
    /// its policy and result, from the record's `decision_json`.
    pub fn of_record(
        rec: &oomlens_model::recorded::RecordedIncident,
        id: Option<u64>,
    ) -> HookEvent {
        let mut ev = HookEvent::of_incident(&rec.incident, id);
        if let Some(d) = rec
            .decision_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        {
            let text = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
            ev.policy = text("policy");
            ev.result = text("result");
        }
        ev
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let text = |s: &Option<String>| s.as_deref().map(|s| escape(s).into_owned());
        [
            (
                "OOMLENS_KIND",
                self.on.map(|o| match o {
                    // The record's kind, as `oomlens incidents` shows it.
                    HookOn::Preempt => oomlens_model::Kind::OomlensGuard.as_str().to_string(),
                    HookOn::Incident(k) => k.as_str().to_string(),
                }),
            ),
            ("OOMLENS_PID", self.pid.map(|p| p.to_string())),
            ("OOMLENS_COMM", text(&self.comm)),
            ("OOMLENS_CGROUP", text(&self.cgroup)),
            ("OOMLENS_UNIT", text(&self.unit)),
            ("OOMLENS_POD", text(&self.pod)),
            (
                "OOMLENS_INCIDENT_ID",
                self.incident_id.map(|i| i.to_string()),
            ),
            ("OOMLENS_POLICY", text(&self.policy)),
            ("OOMLENS_RESULT", text(&self.result)),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
    }
}

struct Job {
    hook: Hook,
    event: HookEvent,
    json: Vec<u8>,
}

struct Running {
    hook: String,
    child: Child,
    deadline: Instant,
    killed: bool,
}

/// The configured hooks and the runs in flight.
pub struct Hooks {
    hooks: Vec<Hook>,
    max: usize,
    queue: VecDeque<Job>,
    running: Vec<Running>,
    sigchld: UnixStream,
    /// Runs by (hook, outcome), kept across reloads.
    pub counts: BTreeMap<(String, Outcome), u64>,
}

impl Hooks {
    /// The names of the hooks in force.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.hooks.iter().map(|h| h.name.as_str())
    }

    /// The hooks of `cfg`; SIGCHLD is routed to [`Hooks::fd`] from now on.
    pub fn new(cfg: &Config) -> std::io::Result<Hooks> {
        let (r, w) = UnixStream::pair()?;
        r.set_nonblocking(true)?;
        w.set_nonblocking(true)?;
        signal_hook::low_level::pipe::register(libc::SIGCHLD, w)?;
        Ok(Hooks {
            hooks: cfg.hooks.clone(),
            max: cfg.guard.max_concurrent_hooks,
            queue: VecDeque::new(),
            running: Vec::new(),
            sigchld: r,
            counts: BTreeMap::new(),
        })
    }

    /// New hooks (SIGHUP); runs in flight go on.
    pub fn reload(&mut self, cfg: &Config) {
        self.hooks = cfg.hooks.clone();
        self.max = cfg.guard.max_concurrent_hooks;
    }

    /// Readable when a child may have exited (SIGCHLD).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sigchld.as_fd()
    }

    /// Runs in flight.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The earliest timeout of a run in flight, for the loop's wake-up.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.running
            .iter()
            .filter(|r| !r.killed)
            .map(|r| r.deadline)
            .min()
    }

    /// Start (or queue) every hook whose `on` holds `event.on`, with `json` on its stdin.
    pub fn fire(&mut self, event: &HookEvent, json: &[u8]) {
        let Some(on) = event.on else { return };
        let due: Vec<Hook> = self
            .hooks
            .iter()
            .filter(|h| h.on.contains(&on))
            .cloned()
            .collect();
        for hook in due {
            if self.queue.len() >= QUEUE_MAX {
                self.done(&hook.name, Outcome::Dropped, "the queue is full".into());
                continue;
            }
            self.queue.push_back(Job {
                hook,
                event: event.clone(),
                json: json.to_vec(),
            });
        }
        self.start_queued();
    }

    /// True when no run is under way or queued ([`Hooks::tick`] does nothing).
    pub fn idle(&self) -> bool {
        self.running.is_empty() && self.queue.is_empty()
    }

    /// The loop's tick: [`Hooks::poll`] while a run is under way or queued (its timeout);
    /// nothing when none is, not even a read of the SIGCHLD pipe: epoll reports it readable
    /// (level-triggered), so an idle guard makes no `recvfrom` per loop turn.
    pub fn tick(&mut self, now: Instant) {
        if !self.idle() {
            self.poll(now);
        }
    }

    /// Reap exited children, kill those past their timeout, start queued runs. Called when
    /// [`Hooks::fd`] is readable and on the loop's tick ([`Hooks::tick`]).
    pub fn poll(&mut self, now: Instant) {
        let mut buf = [0u8; 64];
        while std::io::Read::read(&mut &self.sigchld, &mut buf).is_ok_and(|n| n > 0) {}
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            if !r.killed && now >= r.deadline {
                let _ = r.child.kill(); // SIGKILL
                r.killed = true;
            }
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let r = self.running.swap_remove(i);
                    let (outcome, why) = if r.killed {
                        (Outcome::Timeout, "killed at its timeout".to_string())
                    } else if status.success() {
                        (Outcome::Ok, "exit 0".to_string())
                    } else if let Some(s) = status.signal() {
                        (Outcome::Failed, format!("killed by signal {s}"))
                    } else {
                        (
                            Outcome::Failed,
                            format!("exit {}", status.code().unwrap_or(-1)),
                        )
                    };
                    self.done(&r.hook, outcome, why);
                }
                Ok(None) => i += 1,
                Err(e) => {
                    let r = self.running.swap_remove(i);
                    self.done(&r.hook, Outcome::Failed, format!("wait: {e}"));
                }
            }
        }
        self.start_queued();
    }

    fn start_queued(&mut self) {
        while self.running.len() < self.max {
            let Some(job) = self.queue.pop_front() else {
                return;
            };
            match spawn(&job) {
                Ok(child) => self.running.push(Running {
                    hook: job.hook.name.clone(),
                    child,
                    deadline: Instant::now() + job.hook.timeout,
                    killed: false,
                }),
                Err(e) => self.done(&job.hook.name, Outcome::SpawnError, e.to_string()),
            }
        }
    }

    fn done(&mut self, hook: &str, outcome: Outcome, why: String) {
        *self.counts.entry((hook.to_string(), outcome)).or_default() += 1;
        eprintln!(
            "oomlens guard: hook {}: {}: {}",
            escape(hook),
            outcome.as_str(),
            escape(&why)
        );
    }

    /// The totals by hook and outcome as label pairs, for the metrics.
    pub fn totals(&self) -> HashMap<(String, &'static str), u64> {
        self.counts
            .iter()
            .map(|((h, o), n)| ((h.clone(), o.as_str()), *n))
            .collect()
    }
}

/// Start one run: stdin from a memfd holding the JSON, a cleared environment.
fn spawn(job: &Job) -> std::io::Result<Child> {
    let fd = rustix::fs::memfd_create("oomlens-hook-stdin", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut stdin = File::from(fd);
    stdin.write_all(&job.json)?;
    stdin.rewind()?;
    let mut cmd = Command::new(&job.hook.argv[0]);
    cmd.args(&job.hook.argv[1..])
        .env_clear()
        .env("PATH", HOOK_PATH)
        .envs(&job.hook.env)
        .env("OOMLENS_HOOK", &job.hook.name)
        .envs(job.event.env())
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    // The guard runs with oom_score_adj -1000 (its unit), which a child inherits: a hook
    // must stay an ordinary OOM candidate, so it starts at 0 (raising needs no privilege).
    // SAFETY: only open/write/close, async-signal-safe, on a path built before the fork.
    unsafe {
        cmd.pre_exec(|| {
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
            }
            Ok(())
        });
    }
    cmd.spawn()
}
