//! The event loop: one thread, one epoll instance (rustix), no async runtime.
//!
//! Sources and what each costs:
//! - the logs ([`crate::klog`]): read when epoll reports them readable (a followed regular
//!   file, which epoll cannot watch, is woken by inotify and read at each pass); a log that
//!   brought lines and then pauses for `--report-quiet` has its parser told, so a report is
//!   closed and recorded within that long of its last line;
//! - the watch set ([`crate::watch`]): inotify, eventfds and PSI triggers; an event
//!   records a signal, re-reads that cgroup's `oom_kill`, and brings the next sampler pass
//!   forward (at most one extra pass per [`EVENT_PASS_GAP`]), so the window ends at the
//!   kill and not up to an interval before it;
//! - SIGTERM/SIGINT (stop: logs drained, open reports closed and recorded) and SIGHUP
//!   (prune the store, re-list the watch set now), through a self-pipe (signal-hook);
//! - the epoll timeout, for one sampler pass per `--interval`.
//!
//! How often each file is read (the sampler's guard profile,
//! `oomlens_sources::sampler::SamplerConfig::guard`, one pass per `--interval`):
//! `/proc/meminfo` and `/proc/pressure/memory` every pass (held open, one pread each); a
//! cgroup's usage every pass its parent moved by more than `CHANGE_BYTES` (held open, one
//! pread; the top cgroup every pass); a cgroup's other files (`memory.stat`, limits,
//! events, pressure) and its processes' `status` at once when it moved and is at risk
//! (usage at least `GUARD_RISK_SHARE` of the smallest limit on its path, or MemAvailable
//! below `SYSTEM_RISK_AVAILABLE` of MemTotal) or a watch event named it, otherwise every
//! `GUARD_FULL_EVERY` passes; directories re-listed 1/`GUARD_WALK_EVERY` per pass; no
//! mounts, no deleted-file scan. Watched cgroups' `oom_kill` is read on each of their
//! events and at each pass for [`HOT_SECONDS`] after one. Nothing is read for an idle
//! watched cgroup between passes. The window is pushed only the cgroups whose values
//! changed; the others' runs are stretched.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oomlens_analysis::explain::Explanation;
use oomlens_live::{IncidentSink, Pipeline};
use oomlens_model::recorded::{RecordedIncident, Signal, RECORDED_SCHEMA, RECORD_INCIDENT};
use oomlens_model::{CgroupSample, Incident, ProcessSample};
use oomlens_sinks::escape::escape;
use oomlens_sources::sampler::{Sampler, SamplerConfig, SystemClock};
use oomlens_store::recorder::{Options as StoreOptions, Recorder};
use rustix::event::epoll;
use rustix::fs::inotify;

use crate::args::GuardArgs;
use crate::dirs::DirWatch;
use crate::error::GuardError;
use crate::klog::{Drained, LogInput, Parsed};
use crate::outputs::Outputs;
use crate::record::{self, HostFacts, Orphans, Signals};
use crate::watch::{self, WatchSet};
use crate::window::Window;

/// At most one event-driven sampler pass per this many seconds.
pub const EVENT_PASS_GAP: f64 = 0.1;
/// After an event, a watched cgroup's `oom_kill` is re-read at each pass this long.
pub const HOT_SECONDS: f64 = 10.0;
/// Cgroups kept in the window at most.
pub const WINDOW_CGROUPS: usize = 4096;

const TOKEN_TERM: u64 = 1;
const TOKEN_HUP: u64 = 2;
const TOKEN_WATCH_INOTIFY: u64 = 3;
const TOKEN_FILE_INOTIFY: u64 = 4;
const TOKEN_METRICS: u64 = 5;
const TOKEN_DIRS: u64 = 6;
const TOKEN_LOG: u64 = 16;

/// What the guard has done so far (printed at exit; the metrics read the same).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Incidents recorded from a log report.
    pub recorded: u64,
    /// Kills recorded from a counter alone (no report came).
    pub unreported: u64,
    /// Log lines read.
    pub lines: u64,
    /// Kernel log records lost (overwritten before read).
    pub records_lost: u64,
    /// Kernel log overruns survived.
    pub overruns: u64,
    /// Sampler passes (timed and event-driven).
    pub passes: u64,
    /// Event-driven passes among them.
    pub event_passes: u64,
    /// Watch events (inotify, eventfd, PSI).
    pub watch_events: u64,
    /// Records that could not be written.
    pub write_errors: u64,
    /// systemd notices of kernel kills, read from the journal while the kernel's own
    /// reports come from /dev/kmsg: not recorded again.
    pub notices_skipped: u64,
}

/// The pipeline's sink: explained incidents wait here for their lines and window.
#[derive(Default)]
struct Explained {
    pending: Vec<(Incident, Explanation, Option<String>)>,
}

impl IncidentSink for Explained {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> std::io::Result<()> {
        let json = oomlens_sinks::json::incident_line(inc, Some(expl)).ok();
        self.pending.push((inc.clone(), expl.clone(), json));
        Ok(())
    }
}

/// The running guard.
pub struct Daemon {
    args: GuardArgs,
    ep: OwnedFd,
    recorder: Recorder,
    sampler: Option<Sampler>,
    /// The memory hierarchy, for reading a cgroup the sampler has not reached.
    cgroupfs: Option<oomlens_sources::cgroupfs::CgroupFs>,
    window: Window,
    watches: Option<WatchSet>,
    /// New and removed cgroups (inotify on the tree's directories).
    dirs: Option<DirWatch>,
    /// How many paths the walk had when the directory watches last followed it.
    dirs_followed: usize,
    inputs: Vec<LogInput>,
    data_at: Vec<Instant>,
    file_inotify: Option<OwnedFd>,
    pipeline: Pipeline<Explained>,
    parsed: Vec<Parsed>,
    signals: Signals,
    orphans: Orphans,
    host: HostFacts,
    term: UnixStream,
    hup: UnixStream,
    start: Instant,
    last_pass: f64,
    last_prune: f64,
    outputs: Outputs,
    /// `--log auto` and the journal not followed yet (see [`crate::killers`]).
    journal_pending: bool,
    /// Stop asked.
    stop: bool,
    /// What it did.
    pub stats: Stats,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn signal_pipe(signals: &[i32]) -> Result<UnixStream, GuardError> {
    let (r, w) = UnixStream::pair().map_err(GuardError::io("a signal pipe"))?;
    r.set_nonblocking(true)
        .map_err(GuardError::io("a signal pipe"))?;
    for &s in signals {
        let w = w.try_clone().map_err(GuardError::io("a signal pipe"))?;
        signal_hook::low_level::pipe::register(s, w)
            .map_err(GuardError::io(format!("registering signal {s}")))?;
    }
    Ok(r)
}

impl Daemon {
    /// Open everything `args` names; fails naming what could not be opened.
    pub fn new(args: &GuardArgs) -> Result<Daemon, GuardError> {
        validate(args)?;
        let opts = StoreOptions {
            max_bytes: args.max_bytes,
            max_age: args.max_age,
            sync: !args.no_sync,
            ..StoreOptions::default()
        };
        let mut recorder =
            Recorder::open(&args.state_dir, opts).map_err(|source| GuardError::Store {
                dir: args.state_dir.clone(),
                source,
            })?;
        let _ = recorder.prune(SystemTime::now());
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| GuardError::Io {
            what: "epoll".into(),
            source: e.into(),
        })?;
        let term = signal_pipe(&[libc::SIGTERM, libc::SIGINT])?;
        let hup = signal_pipe(&[libc::SIGHUP])?;
        add(&ep, &term, TOKEN_TERM)?;
        add(&ep, &hup, TOKEN_HUP)?;
        let mut d = Daemon {
            args: args.clone(),
            window: Window::new(
                args.window.as_secs_f64(),
                args.interval.as_secs_f64(),
                WINDOW_CGROUPS,
            ),
            ep,
            recorder,
            sampler: None,
            cgroupfs: None,
            watches: None,
            dirs: None,
            dirs_followed: 0,
            inputs: Vec::new(),
            data_at: Vec::new(),
            file_inotify: None,
            pipeline: Pipeline::new(Explained::default(), oomlens_live::Window::default())
                .enrich_from(&args.root),
            parsed: Vec::new(),
            signals: Signals::default(),
            orphans: Orphans::default(),
            host: HostFacts {
                host: read_trimmed(&args.root.join("proc/sys/kernel/hostname")),
                boot_id: read_trimmed(&args.root.join("proc/sys/kernel/random/boot_id")),
            },
            term,
            hup,
            start: Instant::now(),
            last_pass: f64::NEG_INFINITY,
            last_prune: 0.0,
            outputs: Outputs::new((!args.no_metrics).then_some(args.listen.as_str()))?,
            journal_pending: false,
            stop: false,
            stats: Stats::default(),
        };
        d.open_logs()?;
        d.open_sampler()?;
        if d.journal_pending && d.sampler.is_none() {
            d.follow_journal(); // no processes to look at: follow it, as before
        }
        if let Some(fd) = d.outputs.fd() {
            add(&d.ep, &fd, TOKEN_METRICS)?;
        }
        Ok(d)
    }

    fn mono(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn open_logs(&mut self) -> Result<(), GuardError> {
        let boot = oomlens_live::SourceOptions {
            root: self.args.root.clone(),
            ..Default::default()
        }
        .boot_time_us();
        let kmsg = self.args.root.join("dev/kmsg");
        let journalctl = PathBuf::from("journalctl");
        match self.args.log.as_str() {
            "kmsg" => self
                .inputs
                .push(LogInput::kmsg(&kmsg, boot).map_err(GuardError::Log)?),
            "journal" => self
                .inputs
                .push(LogInput::journal(&journalctl, false).map_err(GuardError::Log)?),
            "auto" => {
                self.inputs
                    .push(LogInput::kmsg(&kmsg, boot).map_err(GuardError::Log)?);
                // The userspace killers' lines: the journal is followed once one of them
                // runs as a systemd service (crate::killers; checked at passes).
                self.journal_pending = true;
            }
            file => {
                let path = Path::new(file);
                self.inputs
                    .push(LogInput::file(path).map_err(GuardError::Log)?);
                let ino =
                    inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)
                        .map_err(|e| GuardError::Io {
                        what: "inotify".into(),
                        source: e.into(),
                    })?;
                inotify::add_watch(&ino, path, inotify::WatchFlags::MODIFY).map_err(|e| {
                    GuardError::Io {
                        what: format!("watching {}", path.display()),
                        source: e.into(),
                    }
                })?;
                add(&self.ep, &ino, TOKEN_FILE_INOTIFY)?;
                self.file_inotify = Some(ino);
            }
        }
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(fd) = input.fd() {
                add(&self.ep, &fd, TOKEN_LOG + i as u64)?;
            }
        }
        self.data_at = vec![Instant::now(); self.inputs.len()];
        Ok(())
    }

    fn open_sampler(&mut self) -> Result<(), GuardError> {
        let root = self.args.root.clone();
        let layout = oomlens_sources::cgroupfs::detect(&root).map_err(|e| {
            GuardError::Sampler(oomlens_sources::sampler::SamplerError::Hierarchy {
                root: root.clone(),
                source: e,
            })
        })?;
        let Some(mem) = layout.memory else {
            return Ok(()); // no memory cgroups: logs only
        };
        self.cgroupfs = Some(oomlens_sources::cgroupfs::CgroupFs::with_hierarchy(
            mem.clone(),
            oomlens_sources::procfs::host_page_size(),
        ));
        let mut cfg =
            SamplerConfig::guard(root.clone(), oomlens_sources::procfs::host_page_size(), 256);
        cfg.focus = self.args.cgroup.clone();
        cfg.owner_label = |p| oomlens_analysis::owner::owner_of(p).label();
        self.sampler = Some(Sampler::new(cfg, Box::new(SystemClock)).map_err(GuardError::Sampler)?);
        let mut ws = WatchSet::new(
            &root,
            mem.version,
            mem.dir,
            mem.mount_root,
            self.args.psi_stall,
            self.args.psi_window,
        )
        .map_err(GuardError::io("inotify"))?;
        add(&self.ep, ws.inotify(), TOKEN_WATCH_INOTIFY)?;
        // Without PSI (kernel built without it, `psi=0`) the other sources still work.
        let _ = ws.open_system_psi(&self.ep, &root);
        self.watches = Some(ws);
        // Without inotify on the tree, the rolling re-listing still finds new cgroups.
        if let Ok(d) = DirWatch::new(crate::dirs::MAX_DIR_WATCHES) {
            add(&self.ep, d.fd(), TOKEN_DIRS)?;
            self.dirs = Some(d);
        }
        Ok(())
    }

    /// Run until SIGTERM or SIGINT.
    pub fn run(&mut self) -> Result<(), GuardError> {
        self.pass();
        self.follow_dirs();
        let (watched, psi) = self
            .watches
            .as_ref()
            .map_or((0, 0), |w| (w.len(), w.psi_open()));
        let detail = format!(
            "{} log(s), {} cgroup(s) watched, {} PSI trigger(s), metrics on {}",
            self.inputs.len(),
            watched,
            psi,
            self.outputs
                .local_addr()
                .map_or("none".to_string(), |a| a.to_string())
        );
        eprintln!("oomlens guard: ready: {detail}");
        self.outputs.ready(&detail);
        self.drain_files()?;
        let interval = self.args.interval;
        let mut next_tick = Instant::now() + interval;
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        while !self.stop {
            let now = Instant::now();
            let mut wake = next_tick;
            for (i, input) in self.inputs.iter().enumerate() {
                if input.idle_due {
                    wake = wake.min(self.data_at[i] + self.args.report_quiet);
                }
            }
            if let Some(t) = self.outputs.next_deadline() {
                wake = wake.min(t);
            }
            if self.inputs.iter().any(|i| i.more) {
                wake = now;
            }
            let timeout = rustix::event::Timespec::try_from(wake.saturating_duration_since(now))
                .unwrap_or(rustix::event::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                });
            events.clear();
            match epoll::wait(
                &self.ep,
                rustix::buffer::spare_capacity(&mut events),
                Some(&timeout),
            ) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    return Err(GuardError::Io {
                        what: "epoll_wait".into(),
                        source: e.into(),
                    })
                }
            }
            for ev in events.iter().copied() {
                let (token, flags) = (ev.data.u64(), ev.flags);
                self.dispatch(token, flags)?;
            }
            for i in 0..self.inputs.len() {
                if self.inputs[i].more {
                    self.drain(i)?;
                }
            }
            let now = Instant::now();
            for i in 0..self.inputs.len() {
                if self.inputs[i].idle_due && now >= self.data_at[i] + self.args.report_quiet {
                    self.inputs[i].idle(&mut self.parsed);
                }
            }
            if now >= next_tick {
                // A regular file gives no readiness: it is read at each pass too.
                self.drain_files()?;
                self.pass();
                self.expire_orphans();
                self.export();
                next_tick += interval;
                if next_tick < now {
                    next_tick = now + interval;
                }
            }
            self.record_parsed();
            self.outputs.poll();
        }
        self.shutdown()
    }

    fn dispatch(&mut self, token: u64, flags: epoll::EventFlags) -> Result<(), GuardError> {
        match token {
            TOKEN_TERM => {
                drain_pipe(&mut self.term);
                self.stop = true;
            }
            TOKEN_HUP => {
                drain_pipe(&mut self.hup);
                let _ = self.recorder.prune(SystemTime::now());
                self.last_pass = f64::NEG_INFINITY;
                self.pass();
            }
            TOKEN_METRICS => self.outputs.poll(),
            TOKEN_DIRS => self.dirs_changed(),
            TOKEN_WATCH_INOTIFY => {
                let fired = match &mut self.watches {
                    Some(ws) => ws.on_inotify(&self.ep),
                    None => Vec::new(),
                };
                for f in fired {
                    self.fired(f);
                }
            }
            TOKEN_FILE_INOTIFY => {
                if let Some(ino) = &self.file_inotify {
                    let mut buf = [0u8; 4096];
                    while rustix::io::read(ino, &mut buf).is_ok_and(|n| n > 0) {}
                }
                self.drain_files()?;
            }
            t if t >= TOKEN_LOG && t < TOKEN_LOG + self.inputs.len() as u64 => {
                self.drain((t - TOKEN_LOG) as usize)?;
            }
            t => {
                let fired = match (&mut self.watches, watch::source_of(t)) {
                    (Some(ws), Some(src)) => ws.on_event(&self.ep, src, flags),
                    _ => None,
                };
                if let Some(f) = fired {
                    self.fired(f);
                }
            }
        }
        Ok(())
    }

    fn drain(&mut self, i: usize) -> Result<(), GuardError> {
        let mut d = Drained::default();
        let ended = self.inputs[i]
            .drain(&mut self.parsed, &mut d)
            .map_err(GuardError::Log)?;
        if d.lines > 0 {
            self.data_at[i] = Instant::now();
        }
        self.stats.lines += d.lines;
        self.stats.records_lost += d.lost;
        self.stats.overruns += d.overruns;
        if d.lost > 0 {
            eprintln!(
                "oomlens guard: {}: {} record(s) overwritten before they could be read",
                self.inputs[i].name, d.lost
            );
        }
        if ended {
            // journalctl went away: its pipe must not wake the loop again.
            if let Some(fd) = self.inputs[i].fd() {
                let _ = epoll::delete(&self.ep, fd);
            }
            eprintln!("oomlens guard: {} ended", self.inputs[i].name);
        }
        Ok(())
    }

    fn drain_files(&mut self) -> Result<(), GuardError> {
        for i in 0..self.inputs.len() {
            if self.inputs[i].fd().is_none() {
                self.drain(i)?;
            }
        }
        Ok(())
    }

    /// A watch fired: keep the signal, count kills, sample now.
    fn fired(&mut self, f: watch::Fired) {
        self.stats.watch_events += 1;
        let mono = self.mono();
        let sig = Signal {
            unix: unix_now(),
            source: f.source.into(),
            cgroup: f.path.clone(),
            detail: f.detail,
        };
        if let Some(w) = self.watches.as_mut().and_then(|ws| {
            ws.iter_mut()
                .find(|(_, w)| *w.path == *f.path)
                .map(|(_, w)| w)
        }) {
            w.hot_until = mono + HOT_SECONDS;
        }
        if f.new_kills > 0 {
            self.orphans.counted(&f.path, f.new_kills, mono, &sig);
        }
        self.signals.push(sig);
        if let Some(s) = self.sampler.as_mut() {
            s.mark_urgent(&f.path); // its counters and processes in the next pass
        }
        if mono - self.last_pass >= EVENT_PASS_GAP {
            self.stats.event_passes += 1;
            self.pass();
        }
    }

    /// Starts following the journal for the userspace killers' lines (`--log auto`); without
    /// journalctl the guard goes on with /dev/kmsg alone, as at start.
    fn follow_journal(&mut self) {
        self.journal_pending = false;
        let Ok(j) = LogInput::journal(&PathBuf::from("journalctl"), true) else {
            return;
        };
        let token = TOKEN_LOG + self.inputs.len() as u64;
        if let Some(fd) = j.fd() {
            if let Err(e) = add(&self.ep, &fd, token) {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
                return;
            }
        }
        self.inputs.push(j);
        self.data_at.push(Instant::now());
    }

    /// Directories of the tree gained or lost a cgroup: re-list them now, so that a new
    /// cgroup is read in full (limit, processes) on the next pass.
    fn dirs_changed(&mut self) {
        let changed = match &mut self.dirs {
            Some(d) => d.changed(),
            None => return,
        };
        let Some(sampler) = self.sampler.as_mut() else {
            return;
        };
        for dir in changed {
            if let Err(e) = sampler.relist_dir(&dir) {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
            }
        }
        self.follow_dirs();
    }

    /// Watch the directories of the walk, when it changed since the last time.
    fn follow_dirs(&mut self) {
        let (Some(d), Some(sampler), Some(fs)) = (&mut self.dirs, &self.sampler, &self.cgroupfs)
        else {
            return;
        };
        let paths = sampler.paths();
        if paths.len() == self.dirs_followed {
            return;
        }
        self.dirs_followed = paths.len();
        d.follow(paths.iter().map(String::as_str), |p| fs.dir_of(p));
    }

    /// One sampler pass into the window; the watch set follows the walk.
    fn pass(&mut self) {
        // The walk of the last pass (this one's shows on the next).
        self.follow_dirs();
        let mono = self.mono();
        self.last_pass = mono;
        let Some(sampler) = self.sampler.as_mut() else {
            return;
        };
        if let Err(e) = sampler.tick() {
            eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
            return;
        }
        self.stats.passes += 1;
        let s = sampler.last();
        // Each cgroup with its processes as the sampler holds them (no per-pass grouping
        // of every process by path: that was most of an idle pass on a large tree).
        let mut procs: Vec<&ProcessSample> = Vec::new();
        for (c, ps, changed) in sampler.cgroups_with_processes() {
            if !changed && self.window.stretch(s.unix, &c.path) {
                continue; // as the last pass: its runs extended
            }
            procs.clear();
            procs.extend(ps);
            self.window.push(s.unix, c, &procs, &[]);
        }
        self.window.evict(s.unix);
        if let Some(ws) = self.watches.as_mut() {
            ws.update(&self.ep, &watch::desired(&s.cgroups, self.args.max_watched));
            let hot: Vec<usize> = ws
                .iter_mut()
                .filter(|(_, w)| w.hot_until > mono)
                .map(|(i, _)| i)
                .collect();
            for slot in hot {
                let path = ws.get_mut(slot).map(|w| w.path.to_string());
                if let (Some((n, detail)), Some(path)) = (ws.refresh(&self.ep, slot), path) {
                    if n > 0 {
                        let sig = Signal {
                            unix: unix_now(),
                            source: "oom_kill".into(),
                            cgroup: path.clone(),
                            detail,
                        };
                        self.orphans.counted(&path, n, mono, &sig);
                        self.signals.push(sig);
                    }
                }
            }
        }
        let check = (self.stats.passes - 1) % crate::killers::CHECK_EVERY_PASSES == 0;
        if self.journal_pending && check {
            let procs = self
                .sampler
                .iter()
                .flat_map(|sm| sm.cgroups_with_processes());
            let procs = procs.flat_map(|(_, ps, _)| ps);
            if let Some(pid) = crate::killers::journal_killer(procs, &self.args.root) {
                eprintln!(
                    "oomlens guard: pid {pid}, a userspace OOM killer, runs as a service: \
                     following the journal"
                );
                self.follow_journal();
            }
        }
        if mono - self.last_prune > 86_400.0 {
            self.last_prune = mono;
            let _ = self.recorder.prune(SystemTime::now());
        }
    }

    /// Explain and record what the logs completed.
    fn record_parsed(&mut self) {
        if self.parsed.is_empty() {
            return;
        }
        // The window should end at the kill: one pass now unless one just ran.
        if self.mono() - self.last_pass >= EVENT_PASS_GAP {
            self.stats.event_passes += 1;
            self.pass();
        }
        let kernel_from_kmsg = self.inputs.iter().any(|i| i.name == "kmsg");
        for p in std::mem::take(&mut self.parsed) {
            // systemd's "killed by the OOM killer" lines about a unit are its word on a kill
            // the kernel reports on /dev/kmsg, which this guard records from there. Read from
            // a journal without kernel lines, nothing can join them to that report, and each
            // would be a second incident of the same kill.
            if kernel_from_kmsg
                && p.incident.source.file.as_deref() == Some("journal")
                && p.incident.kind == Some(oomlens_model::Kind::SystemdNotice)
            {
                self.stats.notices_skipped += 1;
                continue;
            }
            self.pipeline.incident(&p.incident);
            let Some((inc, expl, json)) = self.pipeline.sink_mut().pending.pop() else {
                continue;
            };
            let source = match p.incident.source.file.as_deref() {
                Some("kmsg") => "kmsg",
                Some("journal") => "journal",
                _ => "file",
            };
            self.record(inc, &expl, json, p.raw, source);
        }
    }

    fn record(
        &mut self,
        inc: Incident,
        explanation: &Explanation,
        expl: Option<String>,
        raw: Vec<String>,
        source: &str,
    ) {
        let now = unix_now();
        let mono = self.mono();
        let mut cgroups = record::record_cgroups(&inc, &self.window);
        self.sample_unknown(&cgroups);
        // Now that unknown cgroups have their limits, the chain may stop earlier.
        if inc.oom_memcg.is_none() {
            cgroups = record::record_cgroups(&inc, &self.window);
        }
        for c in record::kill_cgroups(&inc) {
            self.orphans.reported(&c, mono);
        }
        let victim = inc.victim().and_then(|k| k.pid);
        let rec = RecordedIncident {
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: now,
            logged_unix: record::unix_of(&inc.time),
            host: self.host.host.clone(),
            boot_id: self.host.boot_id.clone(),
            guard_version: env!("CARGO_PKG_VERSION").into(),
            log_source: source.into(),
            signals: self.signals.of(&cgroups, now - record::SIGNALS_BEFORE),
            raw,
            window: record::record_window(&self.window, &cgroups, victim),
            incident: inc,
            explanation_json: expl,
        };
        let id = self.append(&rec);
        if id.is_some() {
            self.stats.recorded += 1;
        }
        self.outputs.incident(&rec.incident, explanation, id);
    }

    /// Read at once the cgroups of a record that the sampler's walk has not reached yet (made
    /// since its last re-listing of their parent): their counters and processes now, so a
    /// record never goes out without its victim's cgroup.
    fn sample_unknown(&mut self, cgroups: &[String]) {
        let Some(fs) = &self.cgroupfs else {
            return;
        };
        let proc = oomlens_sources::procfs::ProcFs::new(&self.args.root);
        let t = unix_now();
        for path in cgroups {
            if self.window.contains(path) {
                continue;
            }
            let Ok(Some(m)) = fs.memory(path, oomlens_sources::cgroupfs::Detail::Counters) else {
                continue;
            };
            let c = CgroupSample {
                path: path.clone(),
                usage: m.usage,
                max: m.max,
                high: m.high,
                soft_limit: m.soft_limit,
                anon: m.split.anon,
                file: m.split.file,
                shmem: m.split.shmem,
                swap: m
                    .swap_current
                    .or_else(|| Some(m.memsw_usage?.saturating_sub(m.usage?))),
                failcnt: m.failcnt,
                oom_kill: m.oom_kill,
                psi_some_avg10: m.pressure.map(|p| p.some_avg10),
                psi_some_total_us: m.pressure.map(|p| p.some_total_us),
                counters_t: None,
            };
            let pids = fs.procs(path).ok().flatten().unwrap_or_default();
            let procs: Vec<ProcessSample> = pids
                .into_iter()
                .filter_map(|pid| {
                    let st = proc.status_of(pid).ok()??;
                    Some(ProcessSample {
                        pid,
                        comm: st.name,
                        cgroup: path.clone(),
                        anon: st.rss_anon,
                        file: st.rss_file,
                        shmem: st.rss_shmem,
                        swap: st.vm_swap,
                    })
                })
                .collect();
            let refs: Vec<&ProcessSample> = procs.iter().collect();
            self.window.push(t, &c, &refs, &[]);
        }
    }

    fn append(&mut self, rec: &RecordedIncident) -> Option<u64> {
        let payload = match serde_json::to_vec(rec) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("oomlens guard: encoding a record: {e}");
                self.stats.write_errors += 1;
                return None;
            }
        };
        match self
            .recorder
            .append(SystemTime::now(), RECORD_INCIDENT, &payload)
        {
            Ok(id) => {
                let victim = rec.incident.victim();
                eprintln!(
                    "oomlens guard: recorded incident {id}: {} pid {} in {}",
                    escape(victim.and_then(|k| k.comm.as_deref()).unwrap_or("?")),
                    victim
                        .and_then(|k| k.pid)
                        .map_or("?".to_string(), |p| p.to_string()),
                    escape(rec.window.cgroups.first().map_or("?", |c| c.path.as_str())),
                );
                Some(id)
            }
            Err(e) => {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
                self.stats.write_errors += 1;
                None
            }
        }
    }

    fn expire_orphans(&mut self) {
        let now = self.mono();
        for (cgroup, sigs) in self.orphans.expired(now) {
            let rec = record::unreported(&cgroup, sigs, &self.window, &self.host, unix_now());
            let id = self.append(&rec);
            if id.is_some() {
                self.stats.unreported += 1;
            }
            self.outputs
                .counted_only(&cgroup, &rec.incident, id.is_some());
        }
    }

    /// The metrics of this pass: kernel log totals, host pressure, watched cgroups.
    fn export(&mut self) {
        self.outputs
            .kmsg(self.stats.records_lost, self.stats.overruns);
        let psi = self.sampler.as_ref().and_then(|s| s.last().psi_some_avg10);
        self.outputs.system_pressure(psi);
        let Some(ws) = self.watches.as_mut() else {
            return;
        };
        let window = &self.window;
        let watched: Vec<_> = ws
            .iter_mut()
            .filter_map(|(_, w)| {
                let (usage, max, high, psi) = window.gauges(&w.path)?;
                Some((w.path.to_string(), usage, max, high, psi))
            })
            .collect();
        self.outputs.cgroups(watched);
    }

    fn shutdown(&mut self) -> Result<(), GuardError> {
        self.outputs.stopping("SIGTERM or SIGINT");
        for i in 0..self.inputs.len() {
            self.drain(i)?;
            self.inputs[i].finish(&mut self.parsed);
        }
        self.record_parsed();
        let s = self.stats;
        eprintln!(
            "oomlens guard: stopped: {} incident(s) recorded, {} kill(s) without a report, \
             {} kernel log record(s) lost in {} overrun(s), {} pass(es)",
            s.recorded, s.unreported, s.records_lost, s.overruns, s.passes
        );
        Ok(())
    }
}

fn add(ep: &OwnedFd, fd: &impl AsFd, token: u64) -> Result<(), GuardError> {
    epoll::add(
        ep,
        fd,
        epoll::EventData::new_u64(token),
        epoll::EventFlags::IN,
    )
    .map_err(|e| GuardError::Io {
        what: "epoll_ctl".into(),
        source: e.into(),
    })
}

fn drain_pipe(s: &mut UnixStream) {
    let mut buf = [0u8; 64];
    while s.read(&mut buf).is_ok_and(|n| n > 0) {}
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn validate(args: &GuardArgs) -> Result<(), GuardError> {
    let bad = |flag, problem: &str| {
        Err(GuardError::Flag {
            flag,
            problem: problem.into(),
        })
    };
    if args.interval < Duration::from_millis(10) {
        return bad("interval", "must be at least 10ms");
    }
    if args.window < args.interval {
        return bad("window", "must be at least one --interval");
    }
    if !(Duration::from_millis(500)..=Duration::from_secs(10)).contains(&args.psi_window) {
        return bad("psi-window", "the kernel accepts 500ms to 10s");
    }
    if args.psi_stall.is_zero() || args.psi_stall > args.psi_window {
        return bad("psi-stall", "must be more than 0 and at most --psi-window");
    }
    if args.report_quiet > Duration::from_secs(10) {
        return bad("report-quiet", "at most 10s: reports would wait too long");
    }
    if !args.cgroup.starts_with('/') {
        return bad("cgroup", "a cgroup path starts with /");
    }
    Ok(())
}
