//! The timeline of a recorded incident: what the samples the guard kept before a kill say
//! (`oomlens explain --recorded ID`). Pure: a [`RecordedIncident`] in, a [`Recording`] out.
//!
//! - The cgroup followed is the one whose limit was hit (the incident's `oom_memcg`) when
//!   the guard sampled it, else the first sampled cgroup with a byte limit, else the
//!   victim's: usage is only meaningful against the limit of the same cgroup.
//! - Every time is relative to the kill: the time the report was logged, or, when the log
//!   gave none, the time the guard recorded it.
//! - The growth rate is [`crate::trend::trend`]'s robust rate (median of the slopes of
//!   sample pairs at least half the window apart): a GC sawtooth or one spike does not move
//!   it. The limit is reached, at that rate, where the fitted line meets it:
//!   `t_last + (limit - fitted_last) / rate`.

use oomlens_model::recorded::{CgroupPoint, CgroupSeries, ProcessSeries, RecordedIncident};
use oomlens_model::recorded_fields::{
    Growth, ProcessGrowth, Recording, SeriesPoint, SignalRow, Split, TimelineRow, UsageAt,
};

use crate::trend::{trend, TrendConfig};

/// Rows of the timeline table: the window cut in this many parts (one row per tenth, plus
/// the first sample).
pub const TIMELINE_PARTS: usize = 10;

/// How many processes the timeline lists.
pub const TOP_PROCESSES: usize = 5;

/// The timeline of record `id`.
pub fn recording(id: u64, rec: &RecordedIncident) -> Recording {
    let kill = rec.logged_unix.unwrap_or(rec.recorded_unix);
    let rel = |unix: f64| unix - kill;
    let followed = followed(rec);
    let points: Vec<&CgroupPoint> = followed.map_or_else(Vec::new, |s| s.points.iter().collect());
    let usage: Vec<(f64, u64)> = points
        .iter()
        .filter_map(|p| p.usage.map(|u| (rel(p.unix), u)))
        .collect();
    let limit = limit_of(rec, &points);
    let at = |(t, usage): (f64, u64)| UsageAt { t, usage };
    let peak = usage
        .iter()
        .copied()
        .reduce(|best, p| if p.1 > best.1 { p } else { best });
    let split_of = |p: &&CgroupPoint| {
        (p.anon.is_some() || p.file.is_some() || p.shmem.is_some()).then(|| Split {
            t: rel(p.unix),
            anon: p.anon,
            file: p.file,
            shmem: p.shmem,
        })
    };
    Recording {
        id,
        kill_unix: kill,
        cgroup: followed.map(|s| s.path.clone()),
        limit,
        window_seconds: rec.window.seconds,
        interval: rec.window.interval,
        samples: points.len(),
        start: usage.first().copied().map(at),
        end: usage.last().copied().map(at),
        peak: peak.map(at),
        growth: growth(&usage, limit),
        split_start: points.iter().find_map(split_of),
        split_end: points.iter().rev().find_map(split_of),
        rows: rows(&usage, limit),
        processes: processes(rec, kill),
        signals: signals(rec, kill),
        series: points
            .iter()
            .map(|p| SeriesPoint {
                t: rel(p.unix),
                usage: p.usage,
                anon: p.anon,
                file: p.file,
                shmem: p.shmem,
            })
            .collect(),
    }
}

/// What `oomlens incidents` shows of a window, without the growth analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// The cgroup followed (see the module doc).
    pub cgroup: Option<String>,
    /// Its limit at the last sample (else the report's), bytes.
    pub limit: Option<u64>,
    /// Seconds from its first to its last usage sample.
    pub kept_seconds: f64,
    /// Its samples.
    pub samples: usize,
}

/// The summary of `rec`'s window: the same cgroup, limit and samples as [`recording`],
/// without fitting a trend (a listing reads every record).
pub fn window_summary(rec: &RecordedIncident) -> WindowSummary {
    let followed = followed(rec);
    let points: Vec<&CgroupPoint> = followed.map_or_else(Vec::new, |s| s.points.iter().collect());
    let mut usage_times = points.iter().filter(|p| p.usage.is_some()).map(|p| p.unix);
    let first = usage_times.next();
    let last = usage_times.next_back().or(first);
    WindowSummary {
        cgroup: followed.map(|s| s.path.clone()),
        limit: limit_of(rec, &points),
        kept_seconds: first.zip(last).map_or(0.0, |(a, b)| b - a),
        samples: points.len(),
    }
}

fn limit_of(rec: &RecordedIncident, points: &[&CgroupPoint]) -> Option<u64> {
    points
        .iter()
        .rev()
        .find_map(|p| p.max.and_then(|m| m.bytes()))
        .or_else(|| {
            // The report's own counter of the OOM memcg, when the guard never sampled it.
            let c = rec.incident.memcg.as_ref()?.memory.as_ref()?;
            Some(c.limit_kb * 1024)
        })
}

/// The series of the cgroup whose limit was hit, see the module doc.
fn followed(rec: &RecordedIncident) -> Option<&CgroupSeries> {
    let cgroups = &rec.window.cgroups;
    let has_limit = |s: &&CgroupSeries| {
        s.points
            .iter()
            .any(|p| p.max.and_then(|m| m.bytes()).is_some())
    };
    rec.incident
        .oom_memcg
        .as_deref()
        .and_then(|m| cgroups.iter().find(|s| s.path == m))
        .or_else(|| cgroups.iter().find(has_limit))
        .or_else(|| cgroups.first())
}

fn growth(usage: &[(f64, u64)], limit: Option<u64>) -> Option<Growth> {
    if usage.len() < 2 {
        return None;
    }
    let pts: Vec<(f64, f64)> = usage.iter().map(|&(t, u)| (t, u as f64)).collect();
    let tr = trend(&pts, &TrendConfig::default());
    let t_last = pts[pts.len() - 1].0;
    let limit_at = match limit {
        Some(l) if tr.rate > 0.0 => Some(t_last + (l as f64 - tr.fitted_last) / tr.rate),
        _ => None,
    };
    Some(Growth {
        rate: tr.rate,
        class: tr.class.as_str().to_string(),
        limit_at,
    })
}

/// The sample at or just before each tenth of the window (each sample once).
fn rows(usage: &[(f64, u64)], limit: Option<u64>) -> Vec<TimelineRow> {
    let (Some(first), Some(last)) = (usage.first(), usage.last()) else {
        return Vec::new();
    };
    let span = last.0 - first.0;
    let mut out: Vec<TimelineRow> = Vec::new();
    let mut taken = None;
    for k in 0..=TIMELINE_PARTS {
        let target = first.0 + span * k as f64 / TIMELINE_PARTS as f64;
        // A little slack so that float rounding of `target` does not skip a sample on it.
        let i = usage
            .partition_point(|p| p.0 <= target + 1e-6)
            .saturating_sub(1);
        if taken == Some(i) {
            continue;
        }
        taken = Some(i);
        let (t, u) = usage[i];
        out.push(TimelineRow {
            t,
            usage: Some(u),
            percent: limit
                .filter(|&l| l > 0)
                .map(|l| u as f64 * 100.0 / l as f64),
        });
    }
    out
}

fn rss(p: &oomlens_model::recorded::ProcessPoint) -> Option<u64> {
    match (p.anon, p.file, p.shmem) {
        (None, None, None) => None,
        (a, f, s) => Some(a.unwrap_or(0) + f.unwrap_or(0) + s.unwrap_or(0)),
    }
}

fn processes(rec: &RecordedIncident, kill: f64) -> Vec<ProcessGrowth> {
    let victim = rec.incident.victim().and_then(|k| k.pid);
    let mut out: Vec<ProcessGrowth> = rec
        .window
        .processes
        .iter()
        .map(|s: &ProcessSeries| {
            let first = s.points.iter().find_map(rss);
            let last = s.points.iter().rev().find_map(|p| rss(p).map(|r| (p, r)));
            ProcessGrowth {
                pid: s.pid,
                comm: s.comm.clone(),
                cgroup: s.cgroup.clone(),
                victim: victim == Some(s.pid),
                rss_start: first,
                rss_end: last.map(|(_, r)| r),
                growth: first.zip(last).map(|(a, (_, b))| b as i64 - a as i64),
                last_seen: last.map(|(p, _)| p.unix - kill),
            }
        })
        .collect();
    out.sort_by(|a, b| b.rss_end.cmp(&a.rss_end).then(a.pid.cmp(&b.pid)));
    out.truncate(TOP_PROCESSES);
    out
}

fn signals(rec: &RecordedIncident, kill: f64) -> Vec<SignalRow> {
    let mut out: Vec<SignalRow> = rec
        .signals
        .iter()
        .map(|s| SignalRow {
            t: s.unix - kill,
            source: s.source.clone(),
            cgroup: s.cgroup.clone(),
            detail: s.detail.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::recorded::{ProcessPoint, RecordedWindow, Signal, RECORDED_SCHEMA};
    use oomlens_model::{Incident, Limit};

    const MIB: u64 = 1024 * 1024;

    /// A cgroup limited to 1 GiB growing by exactly 2 MiB per second from 100 MiB, sampled
    /// every second for 60 s before the kill at t = 1000 (the last sample at 999).
    fn window_record() -> RecordedIncident {
        let mut inc = Incident::new(0, Default::default());
        inc.oom_memcg = Some("/job".into());
        let points = (0..60)
            .map(|i| CgroupPoint {
                unix: 940.0 + i as f64,
                usage: Some(100 * MIB + 2 * MIB * i),
                anon: Some(90 * MIB + 2 * MIB * i),
                file: Some(10 * MIB),
                shmem: Some(0),
                max: Some(Limit::Bytes(1024 * MIB)),
                ..Default::default()
            })
            .collect();
        RecordedIncident {
            decision_json: None,
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: 1000.5,
            logged_unix: Some(1000.0),
            host: None,
            boot_id: None,
            guard_version: "0".into(),
            log_source: "kmsg".into(),
            signals: vec![
                Signal {
                    unix: 999.5,
                    source: "memory.events".into(),
                    cgroup: "/job".into(),
                    detail: "oom_kill=1".into(),
                },
                Signal {
                    unix: 990.0,
                    source: "psi".into(),
                    cgroup: "/job".into(),
                    detail: "some avg10=42.0".into(),
                },
            ],
            raw: vec![],
            incident: inc,
            explanation_json: None,
            window: RecordedWindow {
                seconds: 600.0,
                interval: 1.0,
                cgroups: vec![
                    CgroupSeries {
                        path: "/job/child".into(),
                        points: vec![],
                    },
                    CgroupSeries {
                        path: "/job".into(),
                        points,
                    },
                ],
                processes: vec![
                    ProcessSeries {
                        pid: 7,
                        comm: "small".into(),
                        cgroup: "/job".into(),
                        points: vec![ProcessPoint {
                            unix: 950.0,
                            anon: Some(MIB),
                            ..Default::default()
                        }],
                    },
                    ProcessSeries {
                        pid: 9,
                        comm: "big".into(),
                        cgroup: "/job".into(),
                        points: vec![
                            ProcessPoint {
                                unix: 940.0,
                                anon: Some(80 * MIB),
                                file: Some(4 * MIB),
                                ..Default::default()
                            },
                            ProcessPoint {
                                unix: 999.0,
                                anon: Some(200 * MIB),
                                file: Some(4 * MIB),
                                shmem: Some(MIB),
                                ..Default::default()
                            },
                        ],
                    },
                ],
            },
        }
    }

    /// Numbers worked out by hand from the window above.
    #[test]
    fn timeline_of_a_linear_leak_matches_the_hand_computed_numbers() {
        let r = recording(3, &window_record());
        assert_eq!(
            r.cgroup.as_deref(),
            Some("/job"),
            "the oom_memcg is followed"
        );
        assert_eq!(r.limit, Some(1024 * MIB));
        assert_eq!(r.samples, 60);
        // Start: 940 - 1000 = -60 s, 100 MiB; end: -1 s, 100 + 2*59 = 218 MiB = peak.
        assert_eq!(r.start.unwrap().t, -60.0);
        assert_eq!(r.start.unwrap().usage, 100 * MIB);
        assert_eq!(r.end.unwrap().t, -1.0);
        assert_eq!(r.end.unwrap().usage, 218 * MIB);
        assert_eq!(r.peak, r.end);
        // 2 MiB/s = 120 MiB/min.
        let g = r.growth.unwrap();
        assert!((g.rate - 2.0 * MIB as f64).abs() < 1e-6, "{}", g.rate);
        assert_eq!(g.class, "leak");
        // From 218 MiB at -1 s, 1024 - 218 = 806 MiB at 2 MiB/s = 403 s: at +402 s.
        assert!(
            (g.limit_at.unwrap() - 402.0).abs() < 1e-6,
            "{:?}",
            g.limit_at
        );
        // The span is 59 s: tenths at -60, -54.1, -48.2, … -6.9, -1; the sample at or before each.
        let ts: Vec<f64> = r.rows.iter().map(|row| row.t).collect();
        assert_eq!(
            ts,
            [-60.0, -55.0, -49.0, -43.0, -37.0, -31.0, -25.0, -19.0, -13.0, -7.0, -1.0]
        );
        // The last row: 218 MiB of 1024 MiB = 21.2890625 %.
        let last = r.rows.last().unwrap();
        assert!((last.percent.unwrap() - 21.2890625).abs() < 1e-9);
        assert_eq!(r.split_start.unwrap().anon, Some(90 * MIB));
        assert_eq!(r.split_end.unwrap().anon, Some(208 * MIB));
        assert_eq!(r.split_end.unwrap().file, Some(10 * MIB));
        // big: 84 MiB -> 205 MiB, +121 MiB; first by end RSS.
        assert_eq!(r.processes[0].pid, 9);
        assert_eq!(r.processes[0].rss_start, Some(84 * MIB));
        assert_eq!(r.processes[0].rss_end, Some(205 * MIB));
        assert_eq!(r.processes[0].growth, Some(121 * MIB as i64));
        assert_eq!(r.processes[0].last_seen, Some(-1.0));
        assert_eq!(r.processes[1].growth, Some(0));
        // Signals in time order, relative to the kill.
        let sig: Vec<(f64, &str)> = r.signals.iter().map(|s| (s.t, s.source.as_str())).collect();
        assert_eq!(sig, [(-10.0, "psi"), (-0.5, "memory.events")]);
        assert_eq!(r.series.len(), 60);
    }

    #[test]
    fn the_summary_agrees_with_the_timeline() {
        let rec = window_record();
        let r = recording(0, &rec);
        let s = window_summary(&rec);
        assert_eq!(s.cgroup, r.cgroup);
        assert_eq!(s.limit, Some(1024 * MIB));
        assert_eq!(s.kept_seconds, 59.0);
        assert_eq!(s.samples, 60);
    }

    #[test]
    fn without_a_logged_time_the_record_time_is_the_zero() {
        let mut rec = window_record();
        rec.logged_unix = None;
        let r = recording(0, &rec);
        assert_eq!(r.start.unwrap().t, -60.5);
    }

    #[test]
    fn a_window_without_samples_has_no_numbers() {
        let mut rec = window_record();
        rec.window = RecordedWindow::default();
        let r = recording(0, &rec);
        assert_eq!(r.cgroup, None);
        assert_eq!(r.start, None);
        assert_eq!(r.growth, None);
        assert!(r.rows.is_empty());
    }
}
