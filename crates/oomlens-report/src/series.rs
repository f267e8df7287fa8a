//! Chart data from a [`Report`]: pure functions, sizes in MiB and times in seconds relative
//! to the report's last kill (the common axis of several kills of one owner).
//!
//! Text that ends up in a chart (comm, cgroup paths, owners) is escaped with the sinks'
//! terminal escaping first: control characters cannot go into SVG text, and the SVG
//! backend escapes the XML specials itself.

use oomlens_analysis::timeline::recording;
use oomlens_analysis::victim::page_kb;
use oomlens_model::recorded::{CgroupPoint, ProcessPoint, RecordedIncident};
use oomlens_model::Incident;
use oomlens_sinks::escape::escape;

use crate::{Report, ReportIncident};

const MIB: f64 = 1024.0 * 1024.0;

/// Bars in the task chart at most (the largest processes).
pub const TASK_BARS: usize = 12;

/// Processes in the process chart at most (those of the timeline's top list).
pub const PROCESS_LINES: usize = oomlens_analysis::timeline::TOP_PROCESSES;

/// One sample of a cgroup's memory, stacked anon, file, shmem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemPoint {
    /// Seconds relative to the report's last kill.
    pub t: f64,
    /// `memory.stat` anon, MiB.
    pub anon: f64,
    /// file (without shmem), MiB.
    pub file: f64,
    /// shmem, MiB.
    pub shmem: f64,
}

/// One recording of the memory chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryRecording {
    /// The cgroup followed (escaped).
    pub cgroup: String,
    /// Its kill, seconds relative to the report's last kill.
    pub kill_t: f64,
    /// The stacked samples (those that carry a split).
    pub stack: Vec<MemPoint>,
    /// Usage where no split was read (drawn as a line).
    pub usage: Vec<(f64, f64)>,
    /// The limit over time, MiB.
    pub max: Vec<(f64, f64)>,
    /// `memory.high` over time, MiB.
    pub high: Vec<(f64, f64)>,
    /// The forecast: the window's robust growth rate through the last sample, to where it
    /// meets the limit (or to the kill).
    pub forecast: Option<[(f64, f64); 2]>,
}

/// One process's RSS over time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessLine {
    /// `comm (pid N)`, escaped.
    pub label: String,
    /// The victim of its incident.
    pub victim: bool,
    /// (t, MiB).
    pub points: Vec<(f64, f64)>,
}

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Its label (escaped).
    pub label: String,
    /// MiB.
    pub mib: f64,
    /// Drawn in the victim's colour.
    pub highlight: bool,
}

/// One kill on the common axis.
#[derive(Debug, Clone, PartialEq)]
pub struct KillPoint {
    /// Seconds relative to the last kill.
    pub t: f64,
    /// The victim's RSS at the kill (anon + file + shmem), MiB.
    pub mib: f64,
    /// Its owner (escaped), the legend's series.
    pub owner: String,
}

/// The report's time zero: its last kill, Unix seconds (0 when no incident has a time).
pub fn zero(report: &Report) -> f64 {
    report
        .incidents
        .iter()
        .filter_map(|i| i.unix)
        .fold(None, |m: Option<f64>, u| Some(m.map_or(u, |m| m.max(u))))
        .unwrap_or(0.0)
}

fn mib(b: u64) -> f64 {
    b as f64 / MIB
}

fn kill_unix(rec: &RecordedIncident) -> f64 {
    rec.logged_unix.unwrap_or(rec.recorded_unix)
}

/// The memory chart: every recording of the report on one axis. The windows of kills a
/// few minutes apart overlap (each holds the minutes before its kill, the previous kill
/// among them): each recording is drawn from the previous kill on.
pub fn memory(report: &Report) -> Vec<MemoryRecording> {
    let zero = zero(report);
    let mut out: Vec<MemoryRecording> = report
        .incidents
        .iter()
        .filter_map(|i| i.recorded.as_ref())
        .filter_map(|(id, rec)| memory_of(*id, rec, zero))
        .collect();
    out.sort_by(|a, b| a.kill_t.total_cmp(&b.kill_t));
    for i in 1..out.len() {
        let after = out[i - 1].kill_t;
        let r = &mut out[i];
        r.stack.retain(|p| p.t > after);
        for v in [&mut r.usage, &mut r.max, &mut r.high] {
            v.retain(|p| p.0 > after);
        }
        if let Some(f) = &mut r.forecast {
            if f[0].0 < after && f[1].0 > f[0].0 {
                let y = f[0].1 + (f[1].1 - f[0].1) * (after - f[0].0) / (f[1].0 - f[0].0);
                f[0] = (after, y);
            }
        }
    }
    out.retain(|r| !r.stack.is_empty() || !r.usage.is_empty());
    out
}

fn memory_of(id: u64, rec: &RecordedIncident, zero: f64) -> Option<MemoryRecording> {
    let timeline = recording(id, rec);
    let path = timeline.cgroup.as_deref()?;
    let series = rec.window.cgroups.iter().find(|s| s.path == path)?;
    let at = |p: &CgroupPoint| p.unix - zero;
    let mut out = MemoryRecording {
        cgroup: escape(path).into_owned(),
        kill_t: kill_unix(rec) - zero,
        ..MemoryRecording::default()
    };
    for p in &series.points {
        // The guard reads usage every pass but the anon/file/shmem split only near the
        // limit, after a large drop, or on its slow rotation (crates/oomlens-sources
        // sampler): the split is the last one read. Usage is drawn as its own line over the
        // stack, so a stack that lags the usage shows as such, never as fresh numbers.
        if let Some(u) = p.usage {
            out.usage.push((at(p), mib(u)));
        }
        if p.anon.is_some() || p.file.is_some() || p.shmem.is_some() {
            out.stack.push(MemPoint {
                t: at(p),
                anon: mib(p.anon.unwrap_or(0)),
                file: mib(p.file.unwrap_or(0)),
                shmem: mib(p.shmem.unwrap_or(0)),
            });
        }
        if let Some(m) = p.max.and_then(|m| m.bytes()) {
            out.max.push((at(p), mib(m)));
        }
        if let Some(h) = p.high.and_then(|h| h.bytes()) {
            out.high.push((at(p), mib(h)));
        }
    }
    if out.stack.is_empty() && out.usage.is_empty() {
        return None;
    }
    if let (Some(g), Some(start), Some(end)) = (&timeline.growth, timeline.start, timeline.end) {
        // Times of the timeline are relative to this incident's kill.
        let shift = out.kill_t;
        let span = end.t - start.t;
        let to = match g.limit_at {
            Some(l) if l <= end.t + span => l,
            _ => end.t.max(0.0),
        };
        let y = |t: f64| mib(end.usage) + g.rate * (t - end.t) / MIB;
        out.forecast = Some([(start.t + shift, y(start.t)), (to + shift, y(to))]);
    }
    Some(out)
}

fn rss(p: &ProcessPoint) -> Option<u64> {
    match (p.anon, p.file, p.shmem) {
        (None, None, None) => None,
        (a, f, s) => Some(a.unwrap_or(0) + f.unwrap_or(0) + s.unwrap_or(0)),
    }
}

/// The process chart: the top processes of each recording (the timeline's choice), RSS
/// over time; a process in several recordings (overlapping windows) is one line.
pub fn processes(report: &Report) -> Vec<ProcessLine> {
    let zero = zero(report);
    let mut out: Vec<(u32, ProcessLine)> = Vec::new();
    for (id, rec) in report.incidents.iter().filter_map(|i| i.recorded.as_ref()) {
        let top = recording(*id, rec).processes;
        for g in top.iter().take(PROCESS_LINES) {
            let Some(s) = rec.window.processes.iter().find(|s| s.pid == g.pid) else {
                continue;
            };
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| rss(p).map(|r| (p.unix - zero, mib(r))))
                .collect();
            if points.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(pid, _)| *pid == s.pid) {
                Some((_, line)) => {
                    line.victim |= g.victim;
                    line.points.extend(points);
                    line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    line.points.dedup_by(|a, b| a.0 == b.0);
                }
                None => out.push((
                    s.pid,
                    ProcessLine {
                        label: format!("{} (pid {})", escape(&s.comm), s.pid),
                        victim: g.victim,
                        points,
                    },
                )),
            }
        }
    }
    out.into_iter().map(|(_, l)| l).collect()
}

/// The task table of `inc` as bars: the [`TASK_BARS`] largest by RSS, the victim marked.
pub fn tasks(inc: &Incident) -> Vec<Bar> {
    let Some(table) = inc.task_table.as_ref() else {
        return Vec::new();
    };
    let (kb, _) = page_kb(inc);
    let victim = inc.victim().and_then(|k| k.pid);
    let mut bars: Vec<(u64, Bar)> = table
        .rows
        .iter()
        .filter_map(|r| {
            let pages = r.rss.or_else(|| {
                let parts = [r.rss_anon, r.rss_file, r.rss_shmem];
                parts
                    .iter()
                    .any(Option::is_some)
                    .then(|| parts.iter().flatten().sum())
            })?;
            let bytes = pages * kb * 1024;
            let highlight = victim == Some(r.pid) || victim == r.tgid;
            let label = format!("{} ({})", escape(&r.name), r.pid);
            Some((
                bytes,
                Bar {
                    label,
                    mib: mib(bytes),
                    highlight,
                },
            ))
        })
        .collect();
    bars.sort_by_key(|b| std::cmp::Reverse(b.0));
    bars.into_iter().take(TASK_BARS).map(|(_, b)| b).collect()
}

/// memory.stat keys shown, by what they mean: v2 name first, then v1's hierarchical
/// (`total_*`, the whole subtree, which the OOM report prints for v1) and local names.
pub const STAT_PARTS: &[(&str, &[&str])] = &[
    ("anon", &["anon", "total_rss", "rss"]),
    ("file (page cache)", &["file", "total_cache", "cache"]),
    ("shmem", &["shmem", "total_shmem"]),
    ("kernel", &["kernel"]),
    ("slab", &["slab"]),
    ("kernel stacks", &["kernel_stack"]),
    ("page tables", &["pagetables"]),
    ("sockets", &["sock"]),
    ("swap", &["total_swap", "swap"]),
];

/// memory.stat of `inc` as bars (the keys of [`STAT_PARTS`] the report printed).
pub fn stat(inc: &Incident) -> Vec<Bar> {
    let Some(st) = inc.memory_stat.as_ref() else {
        return Vec::new();
    };
    STAT_PARTS
        .iter()
        .filter_map(|(label, keys)| {
            let b = keys.iter().find_map(|k| st.bytes(k))?;
            Some(Bar {
                label: (*label).to_string(),
                mib: mib(b),
                highlight: false,
            })
        })
        .collect()
}

/// The victim's RSS at its kill, bytes (anon + file + shmem as the kill line printed).
pub fn victim_bytes(inc: &Incident) -> Option<u64> {
    let k = inc.victim()?;
    match (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb, k.rss_kb) {
        (None, None, None, None) => None,
        (None, None, None, Some(r)) => Some(r * 1024),
        (a, f, s, _) => Some((a.unwrap_or(0) + f.unwrap_or(0) + s.unwrap_or(0)) * 1024),
    }
}

/// The owner label of an incident (escaped), or its cgroup, or `the machine`.
pub fn owner_label(i: &ReportIncident) -> String {
    let owner = i.explanation.owner.as_ref().and_then(|o| o.label());
    let inc = &i.incident;
    let cg = inc
        .victim()
        .and_then(|k| k.cgroup.clone())
        .or_else(|| inc.task_memcg.clone())
        .or_else(|| inc.oom_memcg.clone());
    match owner.or(cg) {
        Some(o) => escape(&o).into_owned(),
        None => "the machine".into(),
    }
}

/// The kills chart: every incident with a time, when there are two or more.
pub fn kills(report: &Report) -> Vec<KillPoint> {
    let zero = zero(report);
    let points: Vec<KillPoint> = report
        .incidents
        .iter()
        .filter_map(|i| {
            Some(KillPoint {
                t: i.unix? - zero,
                mib: victim_bytes(&i.incident).map_or(0.0, mib),
                owner: owner_label(i),
            })
        })
        .collect();
    if points.len() < 2 {
        return Vec::new();
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_analysis::explain::Explanation;
    use oomlens_model::recorded::{
        CgroupSeries, ProcessSeries, RecordedIncident, RecordedWindow, RECORDED_SCHEMA,
    };
    use oomlens_model::{Limit, StatEntry, StatUnit, TaskRow, TaskTable};

    const MB: u64 = 1 << 20;

    /// A kill at `kill` (Unix s) of pid `pid` in /job (limit 64 MiB): 20 samples 1 s apart
    /// before it, anon growing 2 MiB/s from 10 MiB, file 4 MiB, shmem 1 MiB; the process
    /// `pid` holds the anon part.
    fn recorded(kill: f64, pid: u32) -> ReportIncident {
        let mut inc = Incident::new(0, Default::default());
        inc.oom_memcg = Some("/job".into());
        inc.kills.push(oomlens_model::Kill {
            pid: Some(pid),
            ..Default::default()
        });
        let at = |i: u64| kill - 20.0 + i as f64;
        let points = (0..20)
            .map(|i| CgroupPoint {
                unix: at(i),
                usage: Some((15 + 2 * i) * MB),
                anon: Some((10 + 2 * i) * MB),
                file: Some(4 * MB),
                shmem: Some(MB),
                max: Some(Limit::Bytes(64 * MB)),
                ..Default::default()
            })
            .collect();
        let proc_points = (0..20)
            .map(|i| ProcessPoint {
                unix: at(i),
                anon: Some((10 + 2 * i) * MB),
                ..Default::default()
            })
            .collect();
        let rec = RecordedIncident {
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: kill + 0.5,
            logged_unix: Some(kill),
            host: None,
            boot_id: None,
            guard_version: "0".into(),
            log_source: "kmsg".into(),
            signals: vec![],
            raw: vec![],
            incident: inc.clone(),
            explanation_json: None,
            decision_json: None,
            window: RecordedWindow {
                seconds: 600.0,
                interval: 1.0,
                cgroups: vec![CgroupSeries {
                    path: "/job".into(),
                    points,
                }],
                processes: vec![ProcessSeries {
                    pid,
                    comm: "job".into(),
                    cgroup: "/job".into(),
                    points: proc_points,
                }],
            },
        };
        ReportIncident {
            incident: inc,
            explanation: Explanation {
                owner: None,
                ranking: None,
                findings: vec![],
                advice: vec![],
                restart_loop: None,
            },
            raw: vec![],
            origin: "test".into(),
            unix: Some(kill),
            recorded: Some((0, Box::new(rec))),
        }
    }

    #[test]
    fn one_recording_is_stacked_with_its_limit_and_forecast_relative_to_the_kill() {
        let report = Report {
            incidents: vec![recorded(1000.0, 7)],
        };
        let m = memory(&report);
        assert_eq!(m.len(), 1);
        let r = &m[0];
        assert_eq!(r.kill_t, 0.0);
        assert_eq!(r.stack.len(), 20);
        // The first sample: 20 s before the kill, anon 10, file 4, shmem 1 MiB.
        assert_eq!(
            r.stack[0],
            MemPoint {
                t: -20.0,
                anon: 10.0,
                file: 4.0,
                shmem: 1.0
            }
        );
        assert_eq!(r.max[0], (-20.0, 64.0));
        // Usage grows 2 MiB/s: 15 MiB at -20 s, 53 MiB at -1 s; at that rate it meets
        // 64 MiB 5.5 s later, at +4.5 s, within one window span of the last sample.
        let [a, b] = r.forecast.unwrap();
        assert!(
            (a.0 + 20.0).abs() < 1e-9 && (a.1 - 15.0).abs() < 1e-6,
            "{a:?}"
        );
        assert!(
            (b.0 - 4.5).abs() < 1e-6 && (b.1 - 64.0).abs() < 1e-6,
            "{b:?}"
        );
    }

    #[test]
    fn a_restart_loop_is_drawn_from_each_previous_kill_on_with_one_line_per_process() {
        // Kills at 1000 and 1010: the second window (990-1009) overlaps the first kill.
        let mut second = recorded(1010.0, 8);
        // The second record also sampled pid 7 (the first victim) before its kill.
        let first = recorded(1000.0, 7);
        let (_, rec) = second.recorded.as_mut().unwrap();
        let (_, first_rec) = first.recorded.as_ref().unwrap();
        rec.window
            .processes
            .push(first_rec.window.processes[0].clone());
        let report = Report {
            incidents: vec![first, second],
        };
        let m = memory(&report);
        // Times relative to the last kill (1010): the first kill at -10 s.
        assert_eq!(m[0].kill_t, -10.0);
        assert_eq!(m[1].kill_t, 0.0);
        // The second's samples at 990..1009 are kept from after 1000 on: 1001..1009.
        let ts: Vec<f64> = m[1].stack.iter().map(|p| p.t).collect();
        assert_eq!(ts, (1..10).map(|i| i as f64 - 10.0).collect::<Vec<_>>());
        assert!(m[1].forecast.unwrap()[0].0 >= -10.0);
        // Pid 7 is one line (both windows), marked as the victim; pid 8 another.
        let p = processes(&report);
        let labels: Vec<(&str, bool, usize)> = p
            .iter()
            .map(|l| (l.label.as_str(), l.victim, l.points.len()))
            .collect();
        assert_eq!(
            labels,
            [("job (pid 7)", true, 20), ("job (pid 8)", true, 20)]
        );
        // The kills chart: both, 10 s apart, victim sizes unknown (no kill line sizes).
        let k = kills(&report);
        let ts: Vec<f64> = k.iter().map(|k| k.t).collect();
        assert_eq!(ts, [-10.0, 0.0]);
    }

    fn row(pid: u32, rss: u64, name: &str) -> TaskRow {
        TaskRow {
            pid,
            tgid: Some(pid),
            rss: Some(rss),
            name: name.into(),
            ..TaskRow::default()
        }
    }

    #[test]
    fn task_bars_are_the_largest_first_with_the_victim_marked_and_names_escaped() {
        let mut inc = Incident::new(0, Default::default());
        inc.task_table = Some(TaskTable {
            columns: vec![],
            rows: vec![
                row(1, 256, "small"),
                row(2, 2560, "big\x1b"),
                row(3, 512, "mid"),
            ],
            rows_dropped: 0,
        });
        inc.kills.push(oomlens_model::Kill {
            pid: Some(3),
            ..Default::default()
        });
        let bars = tasks(&inc);
        // 4 KiB pages: 2560 pages = 10 MiB, 512 = 2 MiB, 256 = 1 MiB.
        let got: Vec<(&str, f64, bool)> = bars
            .iter()
            .map(|b| (b.label.as_str(), b.mib, b.highlight))
            .collect();
        assert_eq!(
            got,
            [
                ("big\\x1b (2)", 10.0, false),
                ("mid (3)", 2.0, true),
                ("small (1)", 1.0, false)
            ]
        );
    }

    #[test]
    fn stat_bars_take_v1_total_keys_and_v2_keys() {
        let mut inc = Incident::new(0, Default::default());
        inc.memory_stat = Some(oomlens_model::MemoryStat {
            cgroup: None,
            entries: vec![
                StatEntry {
                    key: "total_rss".into(),
                    value: 2048,
                    unit: StatUnit::Kib,
                },
                StatEntry {
                    key: "total_cache".into(),
                    value: 1024,
                    unit: StatUnit::Kib,
                },
                StatEntry {
                    key: "sock".into(),
                    value: 1 << 20,
                    unit: StatUnit::Plain,
                },
            ],
        });
        let got: Vec<(String, f64)> = stat(&inc).into_iter().map(|b| (b.label, b.mib)).collect();
        assert_eq!(
            got,
            [
                ("anon".into(), 2.0),
                ("file (page cache)".into(), 1.0),
                ("sockets".into(), 1.0)
            ]
        );
    }
}
