//! The sampler passes into the window, watch events, and the directory watches that
//! follow the walk.

use std::time::{Instant, SystemTime};

use oomlens_model::recorded::Signal;
use oomlens_model::{CgroupSample, ProcessSample};
use oomlens_sinks::escape::escape;
use oomlens_sources::sampler::{RowChange, GUARD_PRESSURE_ARMED_EVERY, GUARD_PRESSURE_EVERY};

use super::{
    error_chain, unix_now, Daemon, EVENT_PASS_GAP, EVICT_EVERY, HOT_SECONDS, PSI_REREAD_SECONDS,
};
use crate::watch;
use crate::window::Window;

impl Daemon {
    /// A watch fired: keep the signal, count kills, sample now.
    pub(super) fn fired(&mut self, f: watch::Fired) {
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
            self.hot_until = self.hot_until.max(w.hot_until);
        }
        if f.new_kills > 0 {
            self.orphans.counted(&f.path, f.new_kills, mono, &sig);
        }
        self.signals.push(sig);
        // The system's trigger: the next pass reads /proc/pressure/memory, whatever its
        // cadence (`GUARD_PRESSURE_EVERY`).
        if f.source == "psi" && f.path == "/" {
            if let Some(s) = self.sampler.as_mut() {
                s.reread_pressure();
            }
        }
        // A PSI trigger fires again every window (2 s by default) while a stall lasts: one
        // of them per PSI_REREAD_SECONDS reads the cgroup's processes and brings a pass
        // forward; the usage of every cgroup is still read each pass, and a kill brings its
        // own event (memory.events, oom_control), which always does.
        if f.source == "psi" && !self.psi_due(&f.path, mono) {
            return;
        }
        // The system's trigger names no cgroup: reading the top cgroup's own processes
        // would not follow the pressure to where it is; MemAvailable (read every pass)
        // puts every cgroup that moves at risk when memory is short.
        if f.source == "psi" && f.path == "/" && !self.watching("/") {
            return;
        }
        if let Some(s) = self.sampler.as_mut() {
            s.mark_urgent(&f.path); // its counters and processes in the next pass
        }
        if mono - self.last_pass >= EVENT_PASS_GAP {
            self.stats.event_passes += 1;
            self.pass();
        }
    }

    /// True when the watch set holds `path` (its own triggers and events).
    fn watching(&mut self, path: &str) -> bool {
        self.watches
            .as_mut()
            .is_some_and(|ws| ws.iter_mut().any(|(_, w)| *w.path == *path))
    }

    /// True when a PSI event of `path` may read it in full now (the last one that did is
    /// [`PSI_REREAD_SECONDS`] old); remembers it then.
    fn psi_due(&mut self, path: &str, mono: f64) -> bool {
        if self
            .psi_read
            .get(path)
            .is_some_and(|&t| mono - t < PSI_REREAD_SECONDS)
        {
            return false;
        }
        // Bounded by the watched cgroups (and `/`): forget the stale ones as it grows.
        if self.psi_read.len() > 2 * self.args.max_watched + 1 {
            self.psi_read.retain(|_, t| mono - *t < PSI_REREAD_SECONDS);
        }
        self.psi_read.insert(path.to_string(), mono);
        true
    }

    /// Directories of the tree gained or lost a cgroup: re-list them now, so that a new
    /// cgroup is read in full (limit, processes) on the next pass.
    pub(super) fn dirs_changed(&mut self) {
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
    pub(super) fn follow_dirs(&mut self) {
        let (Some(d), Some(sampler), Some(fs)) = (&mut self.dirs, &self.sampler, &self.cgroupfs)
        else {
            return;
        };
        let paths = sampler.paths();
        if paths.len() == self.dirs_followed {
            return;
        }
        self.dirs_followed = paths.len();
        let added: Vec<String> = d
            .follow(paths.iter().map(String::as_str), |p| fs.dir_of(p))
            .into_iter()
            .map(str::to_string)
            .collect();
        // Watched directories are re-listed on their events, not in the sampler's rotation.
        if let Some(sampler) = self.sampler.as_mut() {
            sampler.watch_dirs(added.iter().map(String::as_str), true);
        }
    }

    /// The system's pressure file is read at the slower cadence while the guard's own
    /// trigger on it is open (it fires at the threshold), at the faster one otherwise.
    pub(super) fn pressure_cadence(&mut self) {
        let armed = self
            .watches
            .as_ref()
            .is_some_and(watch::WatchSet::system_psi_armed);
        if let Some(s) = self.sampler.as_mut() {
            s.set_pressure_every(match armed {
                true => GUARD_PRESSURE_ARMED_EVERY,
                false => GUARD_PRESSURE_EVERY,
            });
        }
    }

    /// One sampler pass into the window; the watch set follows the walk.
    pub(super) fn pass(&mut self) {
        // The walk of the last pass (this one's shows on the next).
        self.follow_dirs();
        if self.sample(self.mono()) {
            self.after_sample();
        }
    }

    /// The sampler's pass at monotonic `mono`: true when it read one (`sampler.last()`
    /// has it).
    fn sample(&mut self, mono: f64) -> bool {
        self.last_pass = mono;
        let Some(sampler) = self.sampler.as_mut() else {
            return false;
        };
        if let Err(e) = sampler.tick() {
            eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
            return false;
        }
        self.stats.passes += 1;
        true
    }

    /// A timed pass on a wake that brought nothing else, when the loop found nothing but
    /// the pass due before the next one (`Daemon::run`: no event, deadline, log data,
    /// pre-emption, protection, hook, orphan or scrape). It makes the same pass, and
    /// when the sampler's pass was quiet it does only what [`Daemon::after_sample`] would
    /// have done then: the top row into the window. False, with nothing done, when this
    /// pass is one of those that do more (the walk to follow, a watch hot, the sweep, the
    /// journal check, the store's prune). See `bench/README.md`, "ninth pass".
    pub(super) fn lean_pass(&mut self, now: Instant) -> bool {
        // The loop's clock read of this wake (one read fewer).
        let mono = now.saturating_duration_since(self.start).as_secs_f64();
        let next = self.stats.passes + 1;
        let Some(sampler) = self.sampler.as_ref() else {
            return false;
        };
        if mono < self.hot_until
            || sweep_due(next)
            || self.journal_check_due(next)
            || self.prune_due(mono)
            || sampler.paths().len() != self.dirs_followed
            || sampler.last().cgroups.len() < 2
        {
            return false;
        }
        if !self.sample(mono) {
            return true;
        }
        let Some(sampler) = self.sampler.as_ref() else {
            return true;
        };
        let Some((c, procs, change)) = sampler.quiet_top() else {
            self.after_sample(); // a general pass after all: any row may have changed
            return true;
        };
        let unix = sampler.last().unix;
        self.window.pass(unix);
        push_row(&mut self.window, unix, c, procs, change);
        true
    }

    /// True when pass number `pass` looks for a userspace killer run as a service.
    fn journal_check_due(&self, pass: u64) -> bool {
        self.journal_pending && (pass - 1) % crate::killers::CHECK_EVERY_PASSES == 0
    }

    /// True when a pass at monotonic `mono` prunes the store (daily).
    fn prune_due(&self, mono: f64) -> bool {
        mono - self.last_prune > 86_400.0
    }

    /// What follows a sampler pass: the changed rows into the window, the watch set,
    /// the journal check, the store's prune.
    fn after_sample(&mut self) {
        let mono = self.last_pass;
        let Some(sampler) = self.sampler.as_mut() else {
            return;
        };
        let s = sampler.last();
        // Each cgroup with its processes as the sampler holds them (no per-pass grouping
        // of every process by path: that was most of an idle pass on a large tree). Only
        // rows that changed are pushed; the others' rings follow the pass clock, so an idle
        // cgroup costs no lookup per pass.
        self.window.pass(s.unix);
        let mut all_changed = true;
        for (c, ps, change) in sampler.cgroups_with_processes() {
            all_changed &= push_row(&mut self.window, s.unix, c, ps, change);
        }
        if all_changed {
            // Rows rebuilt (the walk changed): every cgroup was pushed, those not are gone.
            self.window.unfollow_unseen();
        }
        // Quiet rings hold one point and changed ones are evicted as they are pushed: the
        // sweep over every ring (for points aged out of a quiet ring's processes, and
        // rings of cgroups gone) runs once per EVICT_EVERY passes.
        let sweep = sweep_due(self.stats.passes);
        if all_changed || sweep {
            self.window.evict(s.unix);
        }
        // Which cgroups are watched depends on the walk and the limits, which change only
        // with the rows' shape or a full read; once per EVICT_EVERY passes anyway, to retry
        // watches that could not be opened.
        let resync = all_changed || sampler.stats().full_reads > 0 || sweep;
        if let Some(ws) = self.watches.as_mut() {
            if resync {
                ws.update(&self.ep, &watch::desired(&s.cgroups, self.args.max_watched));
            }
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
        if self.journal_check_due(self.stats.passes) {
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
        if self.prune_due(mono) {
            self.last_prune = mono;
            let _ = self.recorder.prune(SystemTime::now());
        }
    }
}

/// True when pass number `pass` sweeps every ring of the window and resyncs the watch set.
fn sweep_due(pass: u64) -> bool {
    pass % EVICT_EVERY == 0
}

/// One row of a pass into the window as its change asks: nothing, its counters (its
/// processes' runs extended), or the row with its processes. False when nothing changed.
fn push_row(
    window: &mut Window,
    unix: f64,
    c: &CgroupSample,
    procs: &[ProcessSample],
    change: RowChange,
) -> bool {
    match change {
        RowChange::None => return false,
        RowChange::Counters if window.push_counters(unix, c) => {}
        _ => window.push(unix, c, procs, &[]),
    }
    true
}
