//! The sampler passes into the window, watch events, and the directory watches that
//! follow the walk.

use std::time::SystemTime;

use oomlens_model::recorded::Signal;
use oomlens_model::ProcessSample;
use oomlens_sinks::escape::escape;

use super::{error_chain, unix_now, Daemon, EVENT_PASS_GAP, HOT_SECONDS};
use crate::watch;

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
        d.follow(paths.iter().map(String::as_str), |p| fs.dir_of(p));
    }

    /// One sampler pass into the window; the watch set follows the walk.
    pub(super) fn pass(&mut self) {
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
}
