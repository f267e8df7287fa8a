//! The drill's steps in order, each timed, and its report: printed step by step as text, or
//! as one `oomlens.drill/1` document. Whatever happens (a failed step, an error, SIGINT or
//! SIGTERM) the cgroup, its processes and the allocator's mounts are removed before the
//! report ends: the cgroup and the processes are owned by values whose drop removes them,
//! and the signals only set a flag that every wait checks.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oomlens_model::drill::{DrillReport, DrillStep, Outcome};
use oomlens_model::fields::AsFields;
use oomlens_model::CgroupVersion;
use oomlens_sinks::escape::escape;

use crate::cgroup::{placement, random_suffix, DrillCgroup, NAME_PREFIX};
use crate::child::{self, Mode, Spec};
use crate::detect::{LogChoice, LogWatch, Seen};
use crate::guard::{GuardAt, Presence};
use crate::oomd::{self, OomdUnit};
use crate::{DrillArgs, DrillError, DrillKind, EXIT_COULD_NOT_RUN, EXIT_FAIL, EXIT_PASS};

/// Runs `oomlens drill` (or, with the hidden `--child`, the allocator) and returns the exit
/// status. Only writing the report can fail.
pub fn run(args: &DrillArgs) -> std::io::Result<u8> {
    if let Some(spec) = &args.child {
        return Ok(match Spec::parse(spec) {
            Ok(spec) => child::run(spec).clamp(0, 255) as u8,
            Err(e) => {
                eprintln!("oomlens drill: {}", escape(&e.to_string()));
                EXIT_COULD_NOT_RUN
            }
        });
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())?;
    }
    let mut drill = Drill::new(args, interrupted);
    drill.run_steps();
    let report = drill.finish();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &AsFields(&report))?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} drill {}: {} ({} steps, {:.2} s)",
            report.outcome.label(),
            report.kind,
            match report.outcome {
                Outcome::Pass => "oomlens detected and explained the kill",
                Outcome::Fail => "detection or alerting is broken, see the FAIL steps",
                _ => "the drill could not run here",
            },
            report.steps.len(),
            report.seconds
        )?;
    }
    out.flush()?;
    Ok(report.exit_code)
}

/// A drill in progress.
struct Drill<'a> {
    args: &'a DrillArgs,
    interrupted: Arc<AtomicBool>,
    started: Instant,
    steps: Vec<DrillStep>,
    cgroup: Option<DrillCgroup>,
    /// The oomd drill's transient unit and its cgroup.
    unit: Option<OomdUnit>,
    unit_cgroup: Option<String>,
    unit_name: Option<String>,
    watch: Option<LogWatch>,
    guard: Option<Presence>,
    /// The guard's hook runs (ok, other) before the kill; `None` without hooks.
    hooks_before: Option<(f64, f64)>,
    /// The allocator meant to be killed, and for `adj` the larger one meant to survive.
    victim: Option<Child>,
    survivor: Option<Child>,
    victim_pid: Option<u32>,
    /// Set when a step could not be tried (exit 2).
    could_not_run: bool,
}

/// What a step found.
type Found = (Outcome, String);

impl<'a> Drill<'a> {
    fn new(args: &'a DrillArgs, interrupted: Arc<AtomicBool>) -> Drill<'a> {
        Drill {
            args,
            interrupted,
            started: Instant::now(),
            steps: Vec::new(),
            cgroup: None,
            unit: None,
            unit_cgroup: None,
            unit_name: None,
            watch: None,
            guard: None,
            hooks_before: None,
            victim: None,
            survivor: None,
            victim_pid: None,
            could_not_run: false,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.args.timeout.max(1))
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    /// Runs one step, times it, records it and prints it (text mode). Returns whether it
    /// passed (or was skipped).
    fn step(&mut self, name: &'static str, f: impl FnOnce(&mut Self) -> Found) -> bool {
        let t = Instant::now();
        let (outcome, detail) = f(self);
        if outcome == Outcome::Error {
            self.could_not_run = true;
        }
        let step = DrillStep {
            name,
            outcome,
            seconds: t.elapsed().as_secs_f64(),
            detail,
        };
        if !self.args.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{:<5} {:<9} {:>7.3} s  {}",
                step.outcome.label(),
                step.name,
                step.seconds,
                escape(&step.detail)
            );
            let _ = out.flush();
        }
        self.steps.push(step);
        matches!(outcome, Outcome::Pass | Outcome::Skip)
    }

    /// Stops with an error step when a signal arrived.
    fn check_interrupt(&mut self) -> bool {
        if self.steps.last().is_some_and(|s| s.name == "interrupted") {
            return true;
        }
        if self.interrupted() {
            self.step("interrupted", |_| {
                (Outcome::Error, DrillError::Interrupted.to_string())
            });
            return true;
        }
        false
    }

    fn run_steps(&mut self) {
        // A step that fails because a signal arrived is followed by the `interrupted` step.
        let ok = self.step("safe", |d| match d.safe() {
            Ok(s) => (Outcome::Pass, s),
            Err(e) => (Outcome::Error, e.to_string()),
        });
        if !ok || self.check_interrupt() || !self.step("cgroup", |d| d.create_cgroup()) {
            return;
        }
        self.step("log", |d| d.open_log());
        self.step("guard", |d| d.find_guard());
        if self.check_interrupt()
            || !self.step("allocate", |d| d.allocate())
            || !self.step("kill", |d| d.wait_kill())
        {
            self.check_interrupt();
            return;
        }
        self.step("explained", |d| d.explained());
        if self.check_interrupt() {
            return;
        }
        self.guard_steps();
        self.check_interrupt();
    }

    fn finish(mut self) -> DrillReport {
        self.step("cleanup", |d| d.cleanup());
        let outcome = if self.could_not_run {
            Outcome::Error
        } else if self.steps.iter().any(|s| s.outcome == Outcome::Fail) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let exit_code = match outcome {
            Outcome::Pass | Outcome::Skip => EXIT_PASS,
            Outcome::Fail => EXIT_FAIL,
            Outcome::Error => EXIT_COULD_NOT_RUN,
        };
        DrillReport {
            kind: self.args.kind.as_str(),
            outcome,
            exit_code,
            limit: self.args.limit,
            cgroup: self.target_cgroup(),
            cgroup_version: match (&self.cgroup, &self.unit_cgroup) {
                (Some(c), _) => Some(match c.version() {
                    CgroupVersion::V1 => "v1",
                    CgroupVersion::V2 => "v2",
                }),
                (None, Some(_)) => Some("v2"),
                (None, None) => None,
            },
            victim_pid: self.victim_pid,
            seconds: self.started.elapsed().as_secs_f64(),
            steps: std::mem::take(&mut self.steps),
        }
    }

    /// Enough memory for the drill: MemAvailable at least four times the limit, and every
    /// limited ancestor of the drill cgroup with room for twice the limit, so that neither
    /// the machine nor an enclosing cgroup can run out because of the drill.
    fn safe(&mut self) -> Result<String, DrillError> {
        if self.args.kind == DrillKind::Oomd {
            oomd::available()?;
        }
        let meminfo =
            std::fs::read_to_string("/proc/meminfo").map_err(|source| DrillError::Read {
                path: "/proc/meminfo".into(),
                source,
            })?;
        let available = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| DrillError::Unsafe {
                reason: "/proc/meminfo has no MemAvailable".into(),
            })?;
        let limit = self.args.limit;
        if available < 4 * limit {
            return Err(DrillError::Unsafe {
                reason: format!(
                    "MemAvailable is {} MiB, less than 4 x the {} MiB limit: choose a smaller --limit",
                    available >> 20,
                    limit >> 20
                ),
            });
        }
        let at = placement()?;
        let tightest = ancestors_headroom(&at);
        if let Some((path, room)) = &tightest {
            if *room < 2 * limit {
                return Err(DrillError::Unsafe {
                    reason: format!(
                        "{path} has only {} MiB left below its own limit, less than 2 x the {} MiB limit",
                        room >> 20,
                        limit >> 20
                    ),
                });
            }
        }
        Ok(format!(
            "MemAvailable {} MiB >= 4 x limit {} MiB{}",
            available >> 20,
            limit >> 20,
            tightest.map_or(String::new(), |(p, room)| format!(
                "; tightest enclosing cgroup {p} has {} MiB left",
                room >> 20
            ))
        ))
    }

    fn create_cgroup(&mut self) -> Found {
        if self.args.kind == DrillKind::Oomd {
            // systemd creates the unit's cgroup when the allocate step starts it.
            let name = format!(
                "{NAME_PREFIX}{}-{}.service",
                std::process::id(),
                random_suffix()
            );
            let detail = format!(
                "transient unit {name}: MemoryHigh={} MiB, no swap, \
                 ManagedOOMMemoryPressure=kill at 1%",
                self.args.limit >> 20
            );
            self.unit_name = Some(name);
            return (Outcome::Pass, detail);
        }
        match placement().and_then(|at| DrillCgroup::create(&at, self.args.limit)) {
            Ok(cg) => {
                let detail = format!(
                    "{} ({}), memory limit {} MiB",
                    cg.path(),
                    match cg.version() {
                        CgroupVersion::V1 => "cgroup v1",
                        CgroupVersion::V2 => "cgroup v2",
                    },
                    self.args.limit >> 20
                );
                self.cgroup = Some(cg);
                (Outcome::Pass, detail)
            }
            Err(e) => (Outcome::Error, e.to_string()),
        }
    }

    fn open_log(&mut self) -> Found {
        let choice = LogChoice::parse(&self.args.log);
        // systemd-oomd's kills are in the journal, not the kernel log.
        let userspace = self.args.kind == DrillKind::Oomd;
        match LogWatch::start(
            &choice,
            &self.args.kmsg_path,
            &self.args.journalctl,
            userspace,
        ) {
            Ok(w) => {
                let detail = format!("following {} from now on", w.name);
                self.watch = Some(w);
                (Outcome::Pass, detail)
            }
            Err(e) => (Outcome::Fail, e),
        }
    }

    /// The cgroup the victim lived in: the drill cgroup, or the oomd drill's unit.
    fn target_cgroup(&self) -> Option<String> {
        match &self.cgroup {
            Some(c) => Some(c.path().to_string()),
            None => self.unit_cgroup.clone(),
        }
    }

    /// The oomd drill's allocate step: the transient unit, its cgroup and main pid.
    fn start_unit(&mut self) -> Found {
        let Some(name) = self.unit_name.clone() else {
            return (Outcome::Error, "no unit name".into());
        };
        let cap = 3 * (self.args.limit >> 20);
        let unit = match OomdUnit::start(&name, self.args.limit, cap) {
            Ok(u) => u,
            Err(e) => return (Outcome::Error, e.to_string()),
        };
        let (cgroup, pid) = (unit.cgroup(), unit.main_pid());
        self.unit = Some(unit);
        self.victim_pid = pid;
        match cgroup {
            Some(cg) => {
                let detail = format!(
                    "{name} (pid {}) allocates above MemoryHigh in {cg}",
                    pid.map_or("?".into(), |p| p.to_string())
                );
                self.unit_cgroup = Some(cg);
                (Outcome::Pass, detail)
            }
            None => (
                Outcome::Fail,
                format!("{name} has no cgroup: it did not start"),
            ),
        }
    }

    fn guard_at(&self) -> GuardAt {
        GuardAt {
            state_dir: self.args.state_dir.clone(),
            listen: self.args.listen.clone(),
        }
    }

    fn find_guard(&mut self) -> Found {
        let at = self.guard_at();
        let p = at.presence();
        if matches!(p, Presence::Running { .. }) {
            self.hooks_before = at.hooks().ok().flatten();
        }
        let found = match &p {
            Presence::Absent(why) => (Outcome::Skip, why.clone()),
            Presence::Stopped(why) => (Outcome::Fail, format!("guard stopped: {why}")),
            Presence::Running { kills } => (
                Outcome::Pass,
                format!(
                    "guard answers on {}: {} {kills}",
                    self.args.listen,
                    crate::guard::kills_metric()
                ),
            ),
        };
        self.guard = Some(p);
        found
    }

    fn allocate(&mut self) -> Found {
        if self.args.kind == DrillKind::Oomd {
            return self.start_unit();
        }
        let Some(cg) = &self.cgroup else {
            return (Outcome::Error, "no cgroup".into());
        };
        let limit_mib = self.args.limit >> 20;
        // The cap stops an allocator whose limit did not act long before the machine
        // notices: `safe` checked that four times the limit is available.
        let cap = 3 * limit_mib;
        let delay_ms = self.args.child_delay;
        let procs = cg.procs_file();
        let spawn = |mode, mib, adj| {
            child::spawn(
                Spec {
                    mode,
                    mib,
                    delay_ms,
                    // The larger process of `adj` holds; only the one that grows is paced.
                    rate: if mode == Mode::Hold {
                        0
                    } else {
                        self.args.rate
                    },
                },
                &procs,
                adj,
            )
        };
        let mut extra = String::new();
        if self.args.kind == DrillKind::Adj {
            // The larger process: 60 % of the limit, oom_score_adj 0. It is ready before
            // the smaller one starts, so the OOM comes while both are in the cgroup.
            let hold = limit_mib * 6 / 10;
            let mut big = match spawn(Mode::Hold, hold, None) {
                Ok(c) => c,
                Err(e) => return (Outcome::Error, e.to_string()),
            };
            let pid = big.id();
            let ready = wait_ready(&mut big, self.timeout(), &self.interrupted);
            self.survivor = Some(big);
            if let Err(why) = ready {
                return (
                    Outcome::Fail,
                    format!("the larger allocator (pid {pid}) {why}"),
                );
            }
            extra = format!("; pid {pid} holds {hold} MiB with oom_score_adj 0");
        }
        let (mode, adj) = match self.args.kind {
            DrillKind::Tmpfs => (Mode::Tmpfs, None),
            DrillKind::Adj => (Mode::Alloc, Some(1000)),
            _ => (Mode::Alloc, None),
        };
        match spawn(mode, cap, adj) {
            Ok(c) => {
                let pid = c.id();
                self.victim_pid = Some(pid);
                self.victim = Some(c);
                let what = match mode {
                    Mode::Tmpfs => "writes a file on a private tmpfs",
                    _ => "allocates anonymous memory",
                };
                let adj = adj.map_or(String::new(), |a| format!(" with oom_score_adj {a}"));
                (
                    Outcome::Pass,
                    format!("pid {pid}{adj} {what} in {}{extra}", cg.path()),
                )
            }
            Err(e) => (Outcome::Error, e.to_string()),
        }
    }

    fn wait_kill(&mut self) -> Found {
        if let Some(unit) = &self.unit {
            // systemd-oomd acts only after the pressure lasted its duration (30 s by default).
            let timeout = self.timeout().max(Duration::from_secs(150));
            return match unit.wait_ended(timeout, &self.interrupted) {
                Ok(r) if r == "oom-kill" => (
                    Outcome::Pass,
                    format!("{} ended with Result=oom-kill", unit.name),
                ),
                Ok(r) => (
                    Outcome::Fail,
                    format!("{} ended with Result={r}", unit.name),
                ),
                Err(e) => (Outcome::Fail, format!("{} {e}", unit.name)),
            };
        }
        let timeout = self.timeout();
        let Some(c) = self.victim.as_mut() else {
            return (Outcome::Error, "no allocator".into());
        };
        let pid = c.id();
        let t = Instant::now();
        let status = match wait_exit(c, timeout, &self.interrupted) {
            Ok(st) => st,
            Err(why) => return (Outcome::Fail, format!("pid {pid} {why}")),
        };
        use std::os::unix::process::ExitStatusExt;
        let kills = self
            .cgroup
            .as_ref()
            .and_then(|c| c.oom_kills())
            .map_or(String::new(), |n| {
                format!("; the cgroup's oom_kill counter is {n}")
            });
        if status.signal() != Some(libc::SIGKILL) {
            let why = match status.code() {
                Some(child::EXIT_CAP) => "reached its cap: the limit did not act".to_string(),
                Some(child::EXIT_ALLOC_FAILED) => "could not allocate (see its message)".into(),
                _ => format!("ended with {status}"),
            };
            return (
                Outcome::Fail,
                format!("pid {pid} was not killed: {why}{kills}"),
            );
        }
        if let Some(big) = self.survivor.as_mut() {
            if let Ok(Some(st)) = big.try_wait() {
                return (
                    Outcome::Fail,
                    format!("the larger process (pid {}) died too: {st}", big.id()),
                );
            }
        }
        (
            Outcome::Pass,
            format!(
                "pid {pid} killed by SIGKILL {:.2} s after it started{kills}",
                t.elapsed().as_secs_f64()
            ),
        )
    }

    fn explained(&mut self) -> Found {
        if let Some(cgroup) = self.unit_cgroup.clone() {
            let timeout = self.timeout().min(Duration::from_secs(15));
            let Some(watch) = self.watch.as_mut() else {
                return (
                    Outcome::Fail,
                    "the journal could not be read (see the log step)".into(),
                );
            };
            let oomd = |s: &Seen| {
                s.incident.kind == Some(oomlens_model::Kind::SystemdOomd)
                    && s.incident.task_memcg.as_deref() == Some(cgroup.as_str())
            };
            return match watch.wait_until(timeout, &self.interrupted, oomd) {
                Ok(seen) => judge(self.args.kind, &seen, None),
                Err(why) => (
                    Outcome::Fail,
                    format!("{why}: no systemd-oomd report of the kill of {cgroup}"),
                ),
            };
        }
        let (Some(cg), Some(pid)) = (&self.cgroup, self.victim_pid) else {
            return (Outcome::Error, "nothing was killed".into());
        };
        let path = cg.path().to_string();
        let timeout = self.timeout().min(Duration::from_secs(15));
        let Some(watch) = self.watch.as_mut() else {
            return (
                Outcome::Fail,
                "the kernel log could not be read (see the log step)".into(),
            );
        };
        match watch.wait_for(&path, pid, timeout, &self.interrupted) {
            Ok(seen) => judge(self.args.kind, &seen, self.survivor.as_ref().map(Child::id)),
            Err(why) => (Outcome::Fail, why),
        }
    }

    fn guard_steps(&mut self) {
        let Some(path) = self.target_cgroup() else {
            return;
        };
        // systemd-oomd kills a cgroup: its record need not name a pid.
        let pid = self.victim_pid.filter(|_| self.unit.is_none());
        let at = self.guard_at();
        let timeout = self.timeout().min(Duration::from_secs(15));
        match self.guard.clone() {
            Some(Presence::Running { kills }) => {
                let flag = self.interrupted.clone();
                self.step("recorded", |_| {
                    match at.wait_recorded(&path, pid, timeout, &flag) {
                        Ok(s) => (Outcome::Pass, s),
                        Err(e) => (Outcome::Fail, e),
                    }
                });
                self.step("counter", |_| {
                    match at.wait_counter(kills, timeout, &flag) {
                        Ok(s) => (Outcome::Pass, s),
                        Err(e) => (Outcome::Fail, e),
                    }
                });
                let hooks = self.hooks_before;
                self.step("hook", |_| match hooks {
                    Some(before) => match at.wait_hook(before, timeout, &flag) {
                        Ok(s) => (Outcome::Pass, s),
                        Err(e) => (Outcome::Fail, e),
                    },
                    None => (
                        Outcome::Skip,
                        format!(
                            "the guard exports no {}: no [[hook]] configured, or a guard \
                             without hooks",
                            crate::guard::HOOK_RUNS_METRIC
                        ),
                    ),
                });
            }
            Some(Presence::Stopped(why)) => {
                self.step("recorded", |_| {
                    (Outcome::Fail, format!("nothing recorded the kill: {why}"))
                });
            }
            _ => {}
        }
    }

    fn cleanup(&mut self) -> Found {
        let mut notes = Vec::new();
        if let Some(unit) = self.unit.as_mut() {
            match unit.stop() {
                Ok(s) => notes.push(s),
                Err(e) => return (Outcome::Fail, e),
            }
        }
        for c in [self.victim.as_mut(), self.survivor.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.watch = None;
        match self.cgroup.as_mut().map(DrillCgroup::remove) {
            Some(Ok(s)) => notes.push(s),
            Some(Err(e)) => return (Outcome::Fail, e),
            None if notes.is_empty() => notes.push("nothing to remove".into()),
            None => {}
        }
        (Outcome::Pass, notes.join("; "))
    }
}

/// Whether the incident found explains the drill's kill as it should.
fn judge(kind: DrillKind, seen: &Seen, survivor: Option<u32>) -> Found {
    let inc = &seen.incident;
    let headline = oomlens_sinks::text::headline(inc, Some(&seen.explanation));
    let codes = seen.codes();
    let need = match kind {
        DrillKind::Tmpfs => Some("shmem-not-heap"),
        DrillKind::Adj => Some("largest-survived-by-adj"),
        DrillKind::Oomd => Some("oomd-pressure"),
        DrillKind::Memcg => None,
    };
    let line = inc.source.first_line;
    let base = format!(
        "{headline} [{}; {} line {line}]",
        codes.join(", "),
        inc.source.file.as_deref().unwrap_or("log")
    );
    if let Some(code) = need {
        if !codes.contains(&code) {
            return (
                Outcome::Fail,
                format!("the explanation lacks the {code} finding: {base}"),
            );
        }
    }
    if let (DrillKind::Adj, Some(big)) = (kind, survivor) {
        if inc.kills.iter().any(|k| k.pid == Some(big)) {
            return (
                Outcome::Fail,
                format!("the larger pid {big} was killed: {base}"),
            );
        }
    }
    (Outcome::Pass, base)
}

/// Waits for a child's exit, polling so that a signal to the drill is noticed.
fn wait_exit(
    c: &mut Child,
    timeout: Duration,
    interrupted: &AtomicBool,
) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match c.try_wait() {
            Ok(Some(st)) => return Ok(st),
            Ok(None) => {}
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
        if interrupted.load(Ordering::Relaxed) {
            return Err("was still running when the drill was interrupted".into());
        }
        if Instant::now() >= deadline {
            return Err(format!("was not killed within {} s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for a `hold` allocator's `ready` line.
fn wait_ready(
    c: &mut Child,
    timeout: Duration,
    interrupted: &Arc<AtomicBool>,
) -> Result<(), String> {
    let out = c.stdout.take().ok_or("has no standard output")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let r = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(r.map(|_| line));
    });
    let deadline = Instant::now() + timeout;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(l)) if l.trim() == "ready" => return Ok(()),
            Ok(_) => return Err("ended before it held its memory".into()),
            Err(_) if interrupted.load(Ordering::Relaxed) => return Err("interrupted".into()),
            Err(_) if Instant::now() >= deadline => return Err("was not ready in time".into()),
            Err(_) => {}
        }
    }
}

/// The smallest room left below a limit among the drill cgroup's future ancestors, with
/// that ancestor's path; `None` when none has a limit.
fn ancestors_headroom(at: &crate::cgroup::Placement) -> Option<(String, u64)> {
    let (limit_file, usage_file) = match at.hierarchy.version {
        CgroupVersion::V1 => ("memory.limit_in_bytes", "memory.usage_in_bytes"),
        CgroupVersion::V2 => ("memory.max", "memory.current"),
    };
    let mut path = at.parent.clone();
    let mut tightest: Option<(String, u64)> = None;
    loop {
        let dir = at.hierarchy.dir.join(path.trim_start_matches('/'));
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        // "max" (v2) and v1's page-counter maximum do not parse or are huge: no limit.
        if let (Some(limit), Some(usage)) = (read(limit_file), read(usage_file)) {
            if limit < 1 << 60 {
                let room = limit.saturating_sub(usage);
                if tightest.as_ref().is_none_or(|(_, r)| room < *r) {
                    tightest = Some((path.clone(), room));
                }
            }
        }
        if path == "/" || path.is_empty() {
            return tightest;
        }
        path = match path.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => path[..i].to_string(),
        };
    }
}
