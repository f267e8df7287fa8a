//! From an incident to a recorder record: the window of its cgroups, the signals seen
//! just before, and the kills the kernel counted but the log never reported.
//!
//! # Kills without a report
//!
//! A rise of `oom_kill` in a watched cgroup (v2 `memory.events.local`, v1
//! `memory.oom_control`) is a kill the kernel made. Each rise waits [`ORPHAN_GRACE`] for
//! a recorded report whose victim is in that cgroup; a report recorded first waits as long
//! for its rise. A rise left without a report (the kernel log was overrun, unreadable, or
//! rate-limited) is recorded anyway, flagged so: its `log_source` is `counter` (no log
//! carried it), `raw` is empty, and its incident is a `fragment` holding one kill per
//! counted kill with only the cgroup known, beside the signal that counted it and the
//! window. `oomlens incidents` shows it as a kill without a report rather than losing it.

use std::collections::VecDeque;

use oomlens_model::recorded::{RecordedIncident, RecordedWindow, Signal, RECORDED_SCHEMA};
use oomlens_model::{Incident, Kill, LogTime};

use crate::window::Window;

/// How long a counter rise waits for its report, and a report for its rise (seconds).
pub const ORPHAN_GRACE: f64 = 5.0;
/// Signals kept for the records (the last minute's, at most this many).
pub const SIGNALS_KEPT: usize = 256;
/// Signals of the seconds before an incident that go into its record.
pub const SIGNALS_BEFORE: f64 = 60.0;
/// Processes per record at most (the victim's always among them when it was sampled).
pub const PROCESSES_KEPT: usize = 16;

/// What the guard knows of the host, written into every record.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Host name.
    pub host: Option<String>,
    /// Boot id.
    pub boot_id: Option<String>,
}

/// Recent signals.
#[derive(Debug, Default)]
pub struct Signals {
    ring: VecDeque<Signal>,
}

impl Signals {
    /// Keep one.
    pub fn push(&mut self, s: Signal) {
        if self.ring.len() >= SIGNALS_KEPT {
            self.ring.pop_front();
        }
        self.ring.push_back(s);
    }

    /// Those of `cgroups` (and the system-wide `/`) since `since`.
    pub fn of(&self, cgroups: &[String], since: f64) -> Vec<Signal> {
        self.ring
            .iter()
            .filter(|s| s.unix >= since && (s.cgroup == "/" || cgroups.contains(&s.cgroup)))
            .cloned()
            .collect()
    }
}

/// Kills counted by a cgroup's counter, and kills reported by a log, each waiting for the
/// other.
#[derive(Debug, Default)]
pub struct Orphans {
    /// (cgroup, monotonic time seen, the signal that counted it).
    counted: VecDeque<(String, f64, Signal)>,
    /// (cgroup, monotonic time recorded).
    reported: VecDeque<(String, f64)>,
    /// Kills recorded without a report so far.
    pub recorded: u64,
}

impl Orphans {
    /// True when nothing is held: no kill counted and waiting for its report, no report
    /// remembered ([`Orphans::expired`] would then change nothing).
    pub fn is_empty(&self) -> bool {
        self.counted.is_empty() && self.reported.is_empty()
    }

    /// `n` kills counted in `cgroup` at monotonic `now`.
    pub fn counted(&mut self, cgroup: &str, n: u64, now: f64, sig: &Signal) {
        for _ in 0..n {
            match self.reported.iter().position(|(c, _)| c == cgroup) {
                Some(i) => {
                    self.reported.remove(i);
                }
                None => self
                    .counted
                    .push_back((cgroup.to_string(), now, sig.clone())),
            }
        }
    }

    /// A report recorded with a kill in `cgroup` at monotonic `now` ([`ANY_CGROUP`]: the
    /// report did not say where; it then matches the oldest counted kill anywhere).
    pub fn reported(&mut self, cgroup: &str, now: f64) {
        match self
            .counted
            .iter()
            .position(|(c, _, _)| c == cgroup || cgroup == ANY_CGROUP)
        {
            Some(i) => {
                self.counted.remove(i);
            }
            None => self.reported.push_back((cgroup.to_string(), now)),
        }
    }

    /// Counted kills whose grace ran out at `now`, grouped by cgroup; reports whose grace
    /// ran out are forgotten (their cgroup was not watched).
    pub fn expired(&mut self, now: f64) -> Vec<(String, Vec<Signal>)> {
        self.reported.retain(|(_, t)| now - t < ORPHAN_GRACE);
        let mut out: Vec<(String, Vec<Signal>)> = Vec::new();
        while self
            .counted
            .front()
            .is_some_and(|(_, t, _)| now - t >= ORPHAN_GRACE)
        {
            let (c, _, s) = self.counted.pop_front().expect("checked above");
            match out.iter_mut().find(|(p, _)| *p == c) {
                Some((_, v)) => v.push(s),
                None => out.push((c, vec![s])),
            }
        }
        self.recorded += out.iter().map(|(_, v)| v.len() as u64).sum::<u64>();
        out
    }
}

/// Stands for the cgroup of a kill whose report does not name one.
pub const ANY_CGROUP: &str = "*";

/// The cgroup of each kill of an incident as the kernel counts them: its own, else the
/// task memcg, else the OOM memcg, else [`ANY_CGROUP`] (old kernels print no `oom-kill:`
/// line). A pid an oom.group scan killed again comes once more per extra kill, as
/// `memory.events` `oom_kill` counts it.
pub fn kill_cgroups(inc: &Incident) -> Vec<String> {
    inc.kills
        .iter()
        .flat_map(|k| {
            let c = k
                .cgroup
                .clone()
                .or_else(|| inc.task_memcg.clone())
                .or_else(|| inc.oom_memcg.clone())
                .unwrap_or_else(|| ANY_CGROUP.to_string());
            std::iter::repeat_n(c, 1 + k.killed_again as usize)
        })
        .collect()
}

/// The cgroups of the record: the victim's, its ancestors up to the OOM memcg (or up to
/// the first with a limit), and the OOM memcg when it is not an ancestor.
pub fn record_cgroups(inc: &Incident, window: &Window) -> Vec<String> {
    let victim = inc
        .victim()
        .and_then(|k| k.cgroup.clone())
        .or_else(|| inc.task_memcg.clone());
    let stop = inc.oom_memcg.clone();
    let mut out = Vec::new();
    if let Some(v) = victim {
        let mut p = v;
        loop {
            out.push(p.clone());
            let limited = matches!(window.last_limit(&p), Some(oomlens_model::Limit::Bytes(_)));
            if stop.as_deref() == Some(p.as_str()) || (stop.is_none() && limited) || p == "/" {
                break;
            }
            p = match p.rsplit_once('/') {
                Some(("", _)) => "/".into(),
                Some((parent, _)) => parent.into(),
                None => break,
            };
            if p == "/" && stop.as_deref() != Some("/") {
                break;
            }
        }
    }
    if let Some(s) = stop {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The window of `cgroups` with their largest processes (the victim's pid kept first).
pub fn record_window(
    window: &Window,
    cgroups: &[String],
    victim_pid: Option<u32>,
) -> RecordedWindow {
    let (seconds, interval) = window.shape();
    let mut processes: Vec<_> = cgroups.iter().flat_map(|c| window.processes(c)).collect();
    let peak = |s: &oomlens_model::recorded::ProcessSeries| {
        s.points
            .iter()
            .map(|p| p.anon.unwrap_or(0) + p.file.unwrap_or(0) + p.shmem.unwrap_or(0))
            .max()
            .unwrap_or(0)
    };
    processes.sort_by_key(|s| (Some(s.pid) != victim_pid, std::cmp::Reverse(peak(s))));
    processes.truncate(PROCESSES_KEPT);
    RecordedWindow {
        seconds,
        interval,
        cgroups: cgroups.iter().filter_map(|c| window.series(c)).collect(),
        processes,
    }
}

/// Unix seconds of an RFC 3339 time.
pub fn unix_of(t: &LogTime) -> Option<f64> {
    let ts: jiff::Timestamp = t.utc.as_deref()?.parse().ok()?;
    Some(ts.as_microsecond() as f64 / 1e6)
}

/// The record of kills counted in `cgroup` that no log reported.
pub fn unreported(
    cgroup: &str,
    signals: Vec<Signal>,
    window: &Window,
    host: &HostFacts,
    now_unix: f64,
) -> RecordedIncident {
    let mut inc = Incident::new(0, LogTime::default());
    inc.task_memcg = Some(cgroup.to_string());
    for _ in &signals {
        inc.kills.push(Kill {
            cgroup: Some(cgroup.to_string()),
            ..Kill::default()
        });
    }
    let cgroups = record_cgroups(&inc, window);
    RecordedIncident {
        decision_json: None,
        schema: RECORDED_SCHEMA.into(),
        recorded_unix: now_unix,
        logged_unix: None,
        host: host.host.clone(),
        boot_id: host.boot_id.clone(),
        guard_version: env!("CARGO_PKG_VERSION").into(),
        log_source: "counter".into(),
        signals,
        raw: Vec::new(),
        incident: inc,
        explanation_json: None,
        window: record_window(window, &cgroups, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(c: &str) -> Signal {
        Signal {
            unix: 1.0,
            source: "memory.oom_control".into(),
            cgroup: c.into(),
            detail: "oom_kill=1".into(),
        }
    }

    #[test]
    fn a_counted_kill_with_a_report_either_side_is_not_an_orphan() {
        let mut o = Orphans::default();
        o.counted("/a", 1, 10.0, &sig("/a"));
        o.reported("/a", 10.2);
        o.reported("/b", 11.0);
        o.counted("/b", 1, 11.1, &sig("/b"));
        // A report that names no cgroup matches a counted kill anywhere.
        o.counted("/c", 1, 12.0, &sig("/c"));
        o.reported(ANY_CGROUP, 12.5);
        assert!(o.expired(100.0).is_empty());
        assert_eq!(o.recorded, 0);
    }

    #[test]
    fn a_counted_kill_without_a_report_expires_after_the_grace_once() {
        let mut o = Orphans::default();
        o.counted("/a", 2, 10.0, &sig("/a"));
        o.reported("/a", 10.5);
        assert!(o.expired(10.0 + ORPHAN_GRACE - 0.1).is_empty());
        let e = o.expired(10.0 + ORPHAN_GRACE);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].0.as_str(), e[0].1.len()), ("/a", 1));
        assert!(o.expired(1000.0).is_empty());
        assert_eq!(o.recorded, 1);
    }

    /// An oom.group kill that reached its victim twice: `memory.events` counts 5 kills of
    /// 4 processes, and the report's kills answer all 5 (CI once recorded the 5th as a kill
    /// without a report).
    #[test]
    fn a_victim_killed_again_by_its_group_answers_two_counted_kills() {
        let mut inc = Incident::new(0, LogTime::default());
        inc.task_memcg = Some("/grp".into());
        for (pid, again) in [(104, 1), (102, 0), (103, 0), (105, 0)] {
            inc.kills.push(Kill {
                pid: Some(pid),
                killed_again: again,
                ..Kill::default()
            });
        }
        let cgroups = kill_cgroups(&inc);
        assert_eq!(cgroups, vec!["/grp"; 5]);
        let mut o = Orphans::default();
        o.counted("/grp", 5, 10.0, &sig("/grp"));
        for c in &cgroups {
            o.reported(c, 10.1);
        }
        assert!(o.expired(100.0).is_empty());
        assert_eq!(o.recorded, 0);
    }

    #[test]
    fn the_record_covers_the_victim_up_to_the_oom_memcg() {
        let w = Window::new(60.0, 1.0, 8);
        let mut inc = Incident::new(0, LogTime::default());
        inc.oom_memcg = Some("/app".into());
        inc.kills.push(Kill {
            cgroup: Some("/app/web/w1".into()),
            ..Kill::default()
        });
        assert_eq!(
            record_cgroups(&inc, &w),
            ["/app/web/w1", "/app/web", "/app"]
        );
        inc.oom_memcg = Some("/other".into());
        let got = record_cgroups(&inc, &w);
        assert_eq!(got.first().map(String::as_str), Some("/app/web/w1"));
        assert_eq!(got.last().map(String::as_str), Some("/other"));
        assert!(!got.contains(&"/".to_string()));
    }
}
