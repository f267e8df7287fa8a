//! The event loop: one thread, one epoll instance (rustix), no async runtime.
//!
//! Sources and what each costs:
//! - the logs ([`crate::klog`]): read when epoll reports them readable (a followed regular
//!   file, which epoll cannot watch, is woken by inotify and read at each pass); a log that
//!   brought lines and then pauses for `--report-quiet` has its parser told, so a report is
//!   closed and recorded within that long of its last line; a report whose kill line was
//!   read and after which no `memory.oom.group` kill can come (cgroup v1; v2 with no group
//!   on the victim's path) is closed as soon as the log has nothing more to read;
//! - the watch set ([`crate::watch`]): inotify, eventfds and PSI triggers; an event
//!   records a signal, re-reads that cgroup's `oom_kill`, and brings the next sampler pass
//!   forward (at most one extra pass per [`EVENT_PASS_GAP`]), so the window ends at the
//!   kill and not up to an interval before it;
//! - SIGTERM/SIGINT (stop: logs drained, open reports closed and recorded) and SIGHUP
//!   (prune the store, re-list the watch set now), through a self-pipe (signal-hook);
//! - the epoll timeout, for one sampler pass per `--interval`. A wake by the timeout
//!   alone, when the last full turn found nothing else with work before the next deadline
//!   (`Daemon::turn_state`), is a lean turn: the pass and nothing else of the loop
//!   (`Daemon::lean_pass`; on an idle host, the sampler's quiet pass and one row into the
//!   window), which `lean_tests` holds to the full turn's result.
//!
//! How often each file is read (the sampler's guard profile,
//! `oomlens_sources::sampler::SamplerConfig::guard`, one pass per `--interval`):
//! `/proc/pressure/memory` every 10 s while the system's PSI trigger is armed (2 s without
//! it) and at the pass after the trigger fired, `/proc/meminfo` when `sysinfo(2)` says so or
//! every 10 s (held open, one pread each; see the sampler's `GUARD_PRESSURE_ARMED_EVERY`
//! and `memgate`); a
//! cgroup's usage every pass its parent rose by more than `CHANGE_BYTES` from its lowest
//! read since the pass that last read its children's usage, or fell by an eighth from
//! where it stood then; a smaller fall beyond `CHANGE_BYTES` reads them at most once per
//! `GUARD_KIDS_FALL_GAP` passes (held open, one pread; the top cgroup every pass,
//! and nothing else when nothing moved or is due: the sampler's quiet pass);
//! a cgroup's other files (`memory.stat`, limits, events, pressure) and its processes'
//! `status` at once when it moved and is at risk
//! (usage at least `GUARD_RISK_SHARE` of the smallest limit on its path, or MemAvailable
//! below `SYSTEM_RISK_AVAILABLE` of MemTotal) or a watch event named it (a PSI event at
//! most once per [`PSI_REREAD_SECONDS`]), otherwise at its turn every `GUARD_FULL_EVERY`
//! passes if its usage changed at all since its last full read, every
//! `GUARD_QUIET_FULL_EVERY` if not; a drop by an eighth since its last full read reads
//! its `memory.stat` and `cgroup.procs` (the `status` of new pids only) at most once per
//! `GUARD_DROP_READ_GAP` passes; directories watched by inotify ([`crate::dirs`], up to
//! a quarter of `max_user_watches`) are re-listed on their events, the others
//! 1/`GUARD_WALK_EVERY` per pass; no mounts, no deleted-file scan. Watched cgroups'
//! `oom_kill` is read on each of their events and at each pass for [`HOT_SECONDS`] after
//! one. Nothing is read for an idle watched cgroup between passes. The window is pushed
//! only the cgroups whose values changed, and their counters alone when their processes
//! were not read again (`Window::push_counters`); the others' rings follow the pass clock. The
//! metrics' gauges are computed when scraped.
//!
//! Files: this one holds the loop ([`Daemon::run`]: epoll, dispatch by token, the timed
//! pass, stop); [`start`] opens the sources, [`logs`] reads the logs, [`sampling`] runs the
//! sampler passes and follows watch events and new directories, [`incidents`] explains and
//! records, [`export`] fills the metrics. A new source or action is a new module here with
//! a call from the loop.

mod export;
mod incidents;
#[cfg(test)]
mod lean_tests;
mod logs;
mod preempting;
mod resident;
mod sampling;
mod start;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oomlens_live::Pipeline;
use oomlens_sources::sampler::Sampler;
use oomlens_store::recorder::Recorder;
use rustix::event::epoll;

use crate::args::GuardArgs;
use crate::config_live;
use crate::dirs::DirWatch;
use crate::error::GuardError;
use crate::klog::{LogInput, Parsed};
use crate::outputs::Outputs;
use crate::record::{HostFacts, Orphans, Signals};
use crate::watch::{self, WatchSet};
use crate::window::Window;
use incidents::Explained;

/// At most one event-driven sampler pass per this many seconds.
pub const EVENT_PASS_GAP: f64 = 0.1;
/// After an event, a watched cgroup's `oom_kill` is re-read at each pass this long.
pub const HOT_SECONDS: f64 = 10.0;
/// A cgroup's PSI events read it in full (counters, processes) and bring a pass forward
/// at most once per this many seconds (its usage is read every pass regardless).
pub const PSI_REREAD_SECONDS: f64 = 10.0;
/// The window's sweep over every ring runs once per this many passes.
pub const EVICT_EVERY: u64 = 60;
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
    /// Timed passes made alone on their wake (`Daemon::lean_pass`) among them.
    pub lean_passes: u64,
    /// Watch events (inotify, eventfd, PSI).
    pub watch_events: u64,
    /// Records that could not be written.
    pub write_errors: u64,
    /// systemd notices of kernel kills, read from the journal while the kernel's own
    /// reports come from /dev/kmsg: not recorded again.
    pub notices_skipped: u64,
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
    /// When a PSI event last read each cgroup in full (see [`PSI_REREAD_SECONDS`]).
    psi_read: std::collections::HashMap<String, f64>,
    /// (passes, kernel records lost, overruns) when the gauges were last exported.
    exported: Option<(u64, u64, u64)>,
    /// Stop asked.
    stop: bool,
    /// The latest `hot_until` any watch was given (a lean pass waits for it to pass).
    hot_until: f64,
    /// The configuration in force: protection rules, hooks.
    live: config_live::Live,
    /// What it did.
    pub stats: Stats,
    /// The `[[preempt]]` policies at work (`crate::preempt`), when any.
    preempt: Option<crate::preempt::Preempter>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Daemon {
    fn mono(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Run until SIGTERM or SIGINT.
    pub fn run(&mut self) -> Result<(), GuardError> {
        self.pass();
        self.follow_dirs();
        let (watched, psi) = self
            .watches
            .as_ref()
            .map_or((0, 0), |w| (w.len(), w.psi_open()));
        let pressure_every = self.sampler.as_ref().map(|s| s.pressure_every());
        // "metrics on ADDR" stays last: scripts and tests take the address from the end.
        let detail = format!(
            "{} log(s), {} cgroup(s) watched, {} PSI trigger(s), system pressure read \
             every {}, metrics on {}",
            self.inputs.len(),
            watched,
            psi,
            pressure_every.map_or("-".to_string(), |s| format!("{s} s")),
            self.outputs
                .local_addr()
                .map_or("none".to_string(), |a| a.to_string()),
        );
        eprintln!("oomlens guard: ready: {detail}");
        self.outputs.ready(&detail);
        self.drain_files()?;
        // Start-up is over: what only it ran need not stay resident, and what stays (and
        // what an incident faults in later) must not be paged out (see `resident`).
        resident::shed();
        if let Err(e) = resident::lock() {
            eprintln!("oomlens guard: mlockall failed, pages may be swapped or dropped: {e}");
        }
        let interval = self.args.interval;
        let mut next_tick = Instant::now() + interval;
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        // What the last full turn left (`Daemon::turn_state`): only such a turn changes it.
        let mut held: Option<(Option<Instant>, bool)> = None;
        // A lean turn's clock read, for the next turn's timeout (its pass took microseconds
        // and the ticks stay on their grid: the wake is that much late at most).
        let mut lean_now: Option<Instant> = None;
        while !self.stop {
            let now = lean_now.take().unwrap_or_else(Instant::now);
            let (others, lean) = *held.get_or_insert_with(|| self.turn_state(now));
            let wake = others.map_or(next_tick, |t| t.min(next_tick));
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
            let mut now = Instant::now();
            // A timed wake with nothing else due before the next one: the pass alone.
            if lean
                && events.is_empty()
                && now >= next_tick
                && others.is_none_or(|t| now + interval < t)
                && self.lean_pass(now)
            {
                self.stats.lean_passes += 1;
                next_tick += interval;
                if next_tick < now {
                    next_tick = now + interval;
                }
                lean_now = Some(now);
                continue;
            }
            held = None;
            self.live.tick(now);
            for i in 0..self.inputs.len() {
                let quiet = now >= self.data_at[i] + self.args.report_quiet;
                if self.inputs[i].idle_due && (quiet || self.report_ended(i)) {
                    self.inputs[i].idle(&mut self.parsed);
                }
            }
            if now >= next_tick {
                // A regular file gives no readiness: it is read at each pass too.
                self.drain_files()?;
                self.pass();
                if let Some(p) = self.preempt.as_mut() {
                    p.on_pass(&self.ep);
                }
                self.expire_orphans();
                self.outputs.ping_watchdog_within(interval);
                next_tick += interval;
                if next_tick < now {
                    next_tick = now + interval;
                }
                now = Instant::now(); // after the pass (one clock read per wake otherwise)
            }
            if let Some(p) = self.preempt.as_mut() {
                p.advance(&self.ep, now);
            }
            self.record_preemptions();
            self.record_parsed();
            if self.outputs.serving() {
                self.export(); // a scrape under way: answered with this pass's values
                self.outputs.poll();
            } else if self.outputs.responder_due(now) {
                self.outputs.poll();
            } else {
                // Nothing for the responder: a new connection wakes the loop itself
                // (TOKEN_METRICS), so its zero-timeout poll is not paid at every pass.
                self.outputs.ping_watchdog();
            }
        }
        self.shutdown()
    }

    /// Before a full turn's wait: when the loop must wake for anything but the pass (a
    /// log's report to close, the watchdog, a scrape's or a hook's deadline, a kill under
    /// way; now when a log has more to read), and whether a timed wake before that may be a
    /// lean pass ([`Daemon::lean_pass`]): true when the turn's other steps are sure to do
    /// nothing until an event comes (no log read at each pass, no parsed report waiting,
    /// no pre-emption, protection, hook or orphaned kill at work, no scrape open). Only a
    /// full turn changes any of these, so a lean one keeps what the last full one found.
    fn turn_state(&self, now: Instant) -> (Option<Instant>, bool) {
        let mut wake: Option<Instant> = None;
        let mut at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        for (i, input) in self.inputs.iter().enumerate() {
            if input.idle_due {
                at(self.data_at[i] + self.args.report_quiet);
            }
            if input.more {
                at(now);
            }
        }
        let deadlines = [
            self.outputs.next_deadline(),
            self.live.next_deadline(),
            self.preempt.as_ref().and_then(|p| p.next_deadline()),
        ];
        deadlines.into_iter().flatten().for_each(at);
        let lean = self.sampler.is_some()
            && self.inputs.iter().all(|i| i.fd().is_some())
            && self.parsed.is_empty()
            && self.preempt.as_ref().is_none_or(|p| p.idle())
            && self.live.idle()
            && self.orphans.is_empty()
            && !self.outputs.serving();
        (wake, lean)
    }

    fn dispatch(&mut self, token: u64, flags: epoll::EventFlags) -> Result<(), GuardError> {
        match token {
            TOKEN_TERM => {
                drain_pipe(&mut self.term);
                self.stop = true;
            }
            TOKEN_HUP => {
                drain_pipe(&mut self.hup);
                self.reload_config();
                let _ = self.recorder.prune(SystemTime::now());
                self.last_pass = f64::NEG_INFINITY;
                self.pass();
            }
            // The gauges are worked out when scraped, not at each pass.
            TOKEN_METRICS => {
                self.export();
                self.outputs.poll();
            }
            t @ (config_live::TOKEN_PROTECT | config_live::TOKEN_HOOKS) => self.live.ready(t),
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
            t if crate::preempt::owns(t) => {
                if let Some(p) = self.preempt.as_mut() {
                    p.on_event(&self.ep, t);
                }
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
                } else if t == watch::TOKEN_PSI_SYSTEM {
                    self.pressure_cadence(); // the trigger may have been closed
                }
            }
        }
        Ok(())
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
             {} kernel log record(s) lost in {} overrun(s), {} pass(es) ({} lean)",
            s.recorded, s.unreported, s.records_lost, s.overruns, s.passes, s.lean_passes
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
