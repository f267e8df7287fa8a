//! `oomlens top`'s analysis, derived on read: from the last sample and the history of each
//! series, the rows of a [`TopDoc`] with rates, classes, the part that grows, the nearest
//! limit and the time left to it. Pure: samples and rings in, rows out; no I/O.
//!
//! Work is spent where it shows: the anon/file/shmem split and the limits are looked at only
//! for series that leak (no other class has an ETA or a growth part), and processes only in
//! the scope the caller asks for.

use std::collections::HashMap;

use oomlens_model::top::{CgroupRow, MountRow, ProcessRow, TopDoc, TrendOut};
use oomlens_model::{
    cgroup_path, CgroupSample, CgroupVersion, DeletedOpenFile, Limit, ProcessSample, Sample,
};
use oomlens_store::{Series, Store};

use crate::trend::{self, Class, LimitRef, Trend, TrendConfig};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl From<Trend> for TrendOut {
    fn from(t: Trend) -> Self {
        TrendOut {
            class: t.class,
            rate: t.rate,
            rate_lo: t.rate_lo,
            rate_hi: t.rate_hi,
            fitted_last: t.fitted_last,
            points: t.points,
        }
    }
}

/// What one analysis reads: the sampler's last pass and the store's history.
pub struct TopInput<'a> {
    /// The last sample.
    pub sample: &'a Sample,
    /// The focus's ancestors (for their limits).
    pub ancestors: &'a [CgroupSample],
    /// The processes to report (the caller's scope).
    pub processes: Vec<&'a ProcessSample>,
    /// The history of every series.
    pub store: &'a Store,
    /// The focus cgroup (depths count from it).
    pub focus: &'a str,
    /// The memory cgroup version sampled.
    pub version: Option<CgroupVersion>,
    /// The monotonic time the sampler started at (`t` counts from it).
    pub started: f64,
    /// The owner label of a cgroup path.
    pub owner: &'a dyn Fn(&str) -> Option<String>,
    /// Deleted-but-open files, largest first.
    pub deleted: Vec<DeletedOpenFile>,
}

/// The nearest limit of a cgroup, its own first: v2 `memory.high`, `memory.max`, v1
/// `memory.limit_in_bytes`.
pub fn own_limit(c: &CgroupSample, v: Option<CgroupVersion>) -> Option<(u64, String)> {
    let (max_name, high) = match v {
        Some(CgroupVersion::V2) => ("memory.max", c.high.and_then(Limit::bytes)),
        _ => ("memory.limit_in_bytes", None),
    };
    let max = c.max.and_then(Limit::bytes);
    match (high, max) {
        (Some(h), Some(m)) if h < m => Some((h, format!("memory.high of {}", c.path))),
        (Some(h), None) => Some((h, format!("memory.high of {}", c.path))),
        (_, Some(m)) => Some((m, format!("{max_name} of {}", c.path))),
        (None, None) => None,
    }
}

/// Every limit a cgroup's growth runs into, with the headroom left: its own (from its
/// fitted value) and its ancestors' (from their usage); the machine's available memory
/// when no cgroup has a limit.
pub fn limits_for(
    c: &CgroupSample,
    fitted: f64,
    by_path: &FastMap<&str, &CgroupSample>,
    s: &Sample,
    v: Option<CgroupVersion>,
) -> Vec<LimitRef> {
    let mut out = Vec::new();
    let (high_name, max_name) = match v {
        Some(CgroupVersion::V2) => ("memory.high", "memory.max"),
        _ => ("", "memory.limit_in_bytes"),
    };
    let mut push = |cg: &CgroupSample, base: f64| {
        if v == Some(CgroupVersion::V2) {
            if let Some(h) = cg.high.and_then(Limit::bytes) {
                out.push(LimitRef {
                    name: format!("{high_name} of {}", cg.path),
                    headroom: h as f64 - base,
                });
            }
        }
        if let Some(m) = cg.max.and_then(Limit::bytes) {
            // At the hard limit the kernel reclaims page cache before it kills
            // (mem_cgroup_out_of_memory runs only when try_charge's reclaim fails), so clean
            // cache is room too; shmem/tmpfs pages are not (no swap to move them to).
            let reclaimable = cg.file.unwrap_or(0).saturating_sub(cg.shmem.unwrap_or(0)) as f64;
            out.push(LimitRef {
                name: format!("{max_name} of {}", cg.path),
                headroom: m as f64 - (base - reclaimable).max(0.0),
            });
        }
    };
    push(c, fitted);
    for a in cgroup_path::ancestors(&c.path) {
        if let Some(ac) = by_path.get(a) {
            push(ac, ac.usage.unwrap_or(0) as f64);
        }
    }
    if out.is_empty() {
        if let Some(avail) = s.mem_available {
            out.push(LimitRef {
                name: "MemTotal (MemAvailable left)".into(),
                headroom: avail as f64,
            });
        }
    }
    out
}

/// The rows of each mount, with the time until it is full.
fn mount_rows(s: &Sample, store: &Store, cfg: &TrendConfig) -> Vec<MountRow> {
    let empty = Series::default();
    let mut buf = Vec::new();
    s.mounts
        .iter()
        .map(|m| {
            let ser = store.mount(&m.mount_point).unwrap_or(&empty);
            let tr = trend::trend(ser.points_into(Series::TOTAL, &mut buf), cfg);
            let eta = trend::eta(
                &tr,
                &[LimitRef {
                    name: format!("size of {}", m.mount_point),
                    headroom: (m.total as f64 - tr.fitted_last)
                        .min(m.avail as f64 + m.used as f64 - tr.fitted_last),
                }],
            );
            MountRow {
                mount_point: m.mount_point.clone(),
                fstype: m.fstype.clone(),
                total: m.total,
                used: m.used,
                avail: m.avail,
                trend: tr.into(),
                eta,
            }
        })
        .collect()
}

/// The rows of each cgroup: trend, and for a leak the growing part and the ETA.
fn cgroup_rows(
    inp: &TopInput<'_>,
    by_path: &FastMap<&str, &CgroupSample>,
    growing_tmpfs: Option<&str>,
    cfg: &TrendConfig,
) -> Vec<CgroupRow> {
    let (s, v) = (inp.sample, inp.version);
    let empty = Series::default();
    let mut buf = Vec::with_capacity(inp.store.window());
    let mut rows = Vec::with_capacity(s.cgroups.len());
    for c in &s.cgroups {
        let ser = inp.store.cgroup(&c.path).unwrap_or(&empty);
        let tr = trend::trend(ser.points_into(Series::TOTAL, &mut buf), cfg);
        let (growth, eta) = if tr.class == Class::Leak {
            let parts = [
                (
                    "anon",
                    trend::trend(ser.points_into(Series::ANON, &mut buf), cfg),
                ),
                (
                    "file",
                    trend::trend(ser.points_into(Series::FILE, &mut buf), cfg),
                ),
                (
                    "shmem",
                    trend::trend(ser.points_into(Series::SHMEM, &mut buf), cfg),
                ),
            ];
            let limits = limits_for(c, tr.fitted_last, by_path, s, v);
            (trend::dominant_part(&parts), trend::eta(&tr, &limits))
        } else {
            (None, None)
        };
        let own = own_limit(c, v);
        rows.push(CgroupRow {
            path: c.path.clone(),
            depth: cgroup_path::depth_below(&c.path, inp.focus),
            owner: (inp.owner)(&c.path),
            usage: c.usage,
            limit: own.as_ref().map(|o| o.0),
            limit_name: own.map(|o| o.1),
            anon: c.anon,
            file: c.file,
            shmem: c.shmem,
            psi_some_avg10: c.psi_some_avg10,
            oom_kill: c.oom_kill,
            failcnt: c.failcnt,
            counters_t: c.counters_t.map(|t| t - inp.started),
            trend: tr.into(),
            growth,
            growth_mount: (growth == Some("shmem"))
                .then(|| growing_tmpfs.map(str::to_string))
                .flatten(),
            eta,
            spark: ser.values(Series::TOTAL),
        });
    }
    rows
}

/// The rows of the processes asked for; a leaking process's growth fills its cgroup's
/// headroom (from the cgroup's fitted value).
fn process_rows(
    inp: &TopInput<'_>,
    by_path: &FastMap<&str, &CgroupSample>,
    cfg: &TrendConfig,
) -> Vec<ProcessRow> {
    let empty = Series::default();
    let mut buf = Vec::with_capacity(inp.store.window());
    let mut rows = Vec::with_capacity(inp.processes.len());
    for p in &inp.processes {
        let ser = inp.store.process(p.pid).unwrap_or(&empty);
        let tr = trend::trend(ser.points_into(Series::TOTAL, &mut buf), cfg);
        let eta = if tr.class == Class::Leak {
            by_path.get(p.cgroup.as_str()).and_then(|c| {
                let fitted = inp.store.cgroup(&c.path).map_or(0.0, |ser| {
                    trend::trend(ser.points_into(Series::TOTAL, &mut buf), cfg).fitted_last
                });
                trend::eta(
                    &tr,
                    &limits_for(c, fitted, by_path, inp.sample, inp.version),
                )
            })
        } else {
            None
        };
        rows.push(ProcessRow {
            pid: p.pid,
            comm: p.comm.clone(),
            cgroup: p.cgroup.clone(),
            rss: p.rss(),
            anon: p.anon,
            file: p.file,
            shmem: p.shmem,
            swap: p.swap,
            trend: tr.into(),
            eta,
        });
    }
    rows
}

/// Rates, classes and ETAs for the last sample.
pub fn analyse(inp: TopInput<'_>, interval: f64) -> TopDoc {
    let s = inp.sample;
    let cfg = TrendConfig::default();
    let mut by_path: FastMap<&str, &CgroupSample> = FastMap::default();
    for c in inp.ancestors.iter().chain(&s.cgroups) {
        by_path.insert(c.path.as_str(), c);
    }
    let mounts = mount_rows(s, inp.store, &cfg);
    // The tmpfs growing fastest answers for shmem growth.
    let growing_tmpfs = mounts
        .iter()
        .filter(|m| m.fstype == "tmpfs" || m.fstype == "ramfs")
        .filter(|m| m.trend.class == Class::Leak)
        .max_by(|a, b| a.trend.rate.total_cmp(&b.trend.rate))
        .map(|m| m.mount_point.as_str());
    let cgroups = cgroup_rows(&inp, &by_path, growing_tmpfs, &cfg);
    let processes = process_rows(&inp, &by_path, &cfg);
    TopDoc {
        schema: "oomlens.top/1",
        t: s.mono - inp.started,
        unix: s.unix,
        interval,
        cgroup_version: inp.version.map(|v| match v {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }),
        mem_total: s.mem_total,
        mem_available: s.mem_available,
        psi_some_avg10: s.psi_some_avg10,
        cgroups,
        processes,
        mounts,
        deleted_open_files: inp.deleted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::top::ProcessRow;

    fn cg(path: &str, usage: u64, max: Option<u64>, high: Option<u64>) -> CgroupSample {
        CgroupSample {
            path: path.into(),
            usage: Some(usage),
            max: max.map(Limit::Bytes),
            high: high.map(Limit::Bytes),
            file: Some(0),
            shmem: Some(0),
            ..CgroupSample::default()
        }
    }

    #[test]
    fn own_limit_prefers_a_lower_high_on_v2_only() {
        let c = cg("/a", 1, Some(100), Some(50));
        assert_eq!(
            own_limit(&c, Some(CgroupVersion::V2)),
            Some((50, "memory.high of /a".into()))
        );
        assert_eq!(
            own_limit(&c, Some(CgroupVersion::V1)),
            Some((100, "memory.limit_in_bytes of /a".into()))
        );
        assert_eq!(own_limit(&cg("/a", 1, None, None), None), None);
    }

    /// A process leaking 1 MiB/s in `/a` (limit 64 MiB, its usage 40 MiB at 1 MiB/s too)
    /// reaches that limit in 24 s; `t` and `counters_t` count from the sampler's start.
    #[test]
    fn a_leaking_process_gets_its_cgroups_eta() {
        let mut store = Store::new(60);
        let mut last = Sample::default();
        for i in 0..12u64 {
            last = Sample {
                unix: 1e9 + i as f64,
                mono: 100.0 + i as f64,
                mem_available: Some(1 << 30),
                cgroups: vec![CgroupSample {
                    counters_t: Some(100.0 + i as f64),
                    ..cg("/a", (29 + i) << 20, Some(64 << 20), None)
                }],
                processes: vec![ProcessSample {
                    pid: 7,
                    cgroup: "/a".into(),
                    anon: Some((10 + i) << 20),
                    ..ProcessSample::default()
                }],
                ..Sample::default()
            };
            store.record(&last, &[]);
        }
        let doc = analyse(
            TopInput {
                sample: &last,
                ancestors: &[],
                processes: last.processes.iter().collect(),
                store: &store,
                focus: "/",
                version: Some(CgroupVersion::V1),
                started: 100.0 - 1.0,
                owner: &|_| Some("x.service".into()),
                deleted: Vec::new(),
            },
            1.0,
        );
        assert_eq!((doc.t, doc.unix), (12.0, 1e9 + 11.0));
        let c = &doc.cgroups[0];
        assert_eq!(c.counters_t, Some(12.0));
        assert_eq!(c.owner.as_deref(), Some("x.service"));
        assert_eq!(c.trend.class, Class::Leak);
        assert_eq!(c.spark.len(), 12);
        let p: &ProcessRow = &doc.processes[0];
        let eta = p.eta.as_ref().unwrap();
        assert_eq!(eta.limit, "memory.limit_in_bytes of /a");
        assert!((eta.seconds - 24.0).abs() < 1e-9, "{eta:?}");
    }
}
