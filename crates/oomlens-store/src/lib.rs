//! History of samples: one bounded ring of points per series (cgroup, process, mount).
//!
//! This is the in-memory half of the recorder: `oomlens top` keeps the last `window`
//! points of each series to derive rates and ETAs from, and the guard daemon will keep the
//! same rings and persist what it records: the on-disk half is [`recorder`]. Memory is
//! bounded by construction: a ring never holds more than `window` points, and a series
//! whose cgroup, process or mount is gone is dropped at the next [`Store::record`], so a
//! host whose container ids change over months does not grow the store.
//!
//! The store only keeps numbers; what they mean (trend, class, ETA) is derived on read by
//! `oomlens_analysis`.

#![deny(missing_docs)]

// The README's example is compiled and run as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub mod incidents;
pub mod recorder;

use std::collections::{HashMap, VecDeque};

use oomlens_model::Sample;

/// One point of a series: monotonic time (seconds, [`Sample::mono`]), then the values
/// [`Series::TOTAL`], [`Series::ANON`], [`Series::FILE`], [`Series::SHMEM`].
pub type Point = [f64; 5];

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The bounded ring of one series.
#[derive(Debug, Default, Clone)]
pub struct Series {
    ring: VecDeque<Point>,
    /// The record (1, 2, …) that last added a point.
    seen: u64,
}

impl Series {
    /// Index of the total in a [`Point`]: usage, RSS, or a mount's used bytes.
    pub const TOTAL: usize = 1;
    /// Index of anonymous memory in a [`Point`].
    pub const ANON: usize = 2;
    /// Index of file-backed memory (page cache, without shmem) in a [`Point`].
    pub const FILE: usize = 3;
    /// Index of shmem/tmpfs memory in a [`Point`].
    pub const SHMEM: usize = 4;

    fn push(&mut self, p: Point, cap: usize, record: u64) {
        if self.ring.len() == cap {
            self.ring.pop_front();
        }
        self.ring.push_back(p);
        self.seen = record;
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = &Point> + '_ {
        self.ring.iter()
    }

    /// How many points the ring holds.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True when the ring holds no point.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Value `k` of each point as `(time, value)`, in `buf` (reused across series so that
    /// reading the whole tree allocates once).
    pub fn points_into<'b>(&self, k: usize, buf: &'b mut Vec<(f64, f64)>) -> &'b [(f64, f64)] {
        buf.clear();
        buf.extend(self.ring.iter().map(|p| (p[0], p[k])));
        buf
    }

    /// Value `k` of each point, oldest first.
    pub fn values(&self, k: usize) -> Vec<f64> {
        self.ring.iter().map(|p| p[k]).collect()
    }
}

/// The rings of every series, each at most `window` points long.
#[derive(Debug)]
pub struct Store {
    window: usize,
    records: u64,
    cgroups: FastMap<String, Series>,
    processes: FastMap<u32, Series>,
    mounts: FastMap<String, Series>,
}

impl Store {
    /// A store keeping the last `window` points of each series (at least 2: a rate needs two).
    pub fn new(window: usize) -> Store {
        Store {
            window: window.max(2),
            records: 0,
            cgroups: FastMap::default(),
            processes: FastMap::default(),
            mounts: FastMap::default(),
        }
    }

    /// The most points a series keeps.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Adds a sample: a point to the series of each cgroup, process and mount in it.
    ///
    /// Cgroups and mounts absent from `s` are gone: their series are dropped. Processes are
    /// different, since a sampler may carry a quiet cgroup's processes over without
    /// reading them (they are then absent from `s.processes` but alive): a process's series
    /// is dropped only when the sampler says it is gone, in `vanished` (before this
    /// sample's points are added, so a pid that moved to another cgroup starts afresh).
    pub fn record(&mut self, s: &Sample, vanished: &[u32]) {
        self.records += 1;
        let (cap, rec, t) = (self.window, self.records, s.mono);
        for pid in vanished {
            self.processes.remove(pid);
        }
        let f = |v: Option<u64>| v.unwrap_or(0) as f64;
        for c in &s.cgroups {
            let p = [t, f(c.usage), f(c.anon), f(c.file), f(c.shmem)];
            // Look up by &str first: a new String per cgroup per tick shows in the bench.
            match self.cgroups.get_mut(&c.path) {
                Some(ser) => ser.push(p, cap, rec),
                None => self
                    .cgroups
                    .entry(c.path.clone())
                    .or_default()
                    .push(p, cap, rec),
            }
        }
        for p in &s.processes {
            let pt = [t, p.rss() as f64, f(p.anon), f(p.file), f(p.shmem)];
            self.processes.entry(p.pid).or_default().push(pt, cap, rec);
        }
        for m in &s.mounts {
            let pt = [t, m.used as f64, 0.0, 0.0, m.used as f64];
            self.mounts
                .entry(m.mount_point.clone())
                .or_default()
                .push(pt, cap, rec);
        }
        self.cgroups.retain(|_, v| v.seen == rec);
        self.mounts.retain(|_, v| v.seen == rec);
    }

    /// The series of a cgroup.
    pub fn cgroup(&self, path: &str) -> Option<&Series> {
        self.cgroups.get(path)
    }

    /// The series of a process.
    pub fn process(&self, pid: u32) -> Option<&Series> {
        self.processes.get(&pid)
    }

    /// The series of a mount.
    pub fn mount(&self, mount_point: &str) -> Option<&Series> {
        self.mounts.get(mount_point)
    }

    /// The series kept: cgroups, processes, mounts.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.cgroups.len(), self.processes.len(), self.mounts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::{CgroupSample, MountSample, ProcessSample};

    fn sample(mono: f64, cgroups: &[&str], pids: &[u32], mounts: &[&str]) -> Sample {
        Sample {
            mono,
            cgroups: cgroups
                .iter()
                .map(|p| CgroupSample {
                    path: p.to_string(),
                    usage: Some(mono as u64),
                    ..CgroupSample::default()
                })
                .collect(),
            processes: pids
                .iter()
                .map(|&pid| ProcessSample {
                    pid,
                    anon: Some(10),
                    ..ProcessSample::default()
                })
                .collect(),
            mounts: mounts
                .iter()
                .map(|m| MountSample {
                    mount_point: m.to_string(),
                    used: 5,
                    ..MountSample::default()
                })
                .collect(),
            ..Sample::default()
        }
    }

    #[test]
    fn rings_are_bounded_and_keep_the_newest_points() {
        let mut st = Store::new(3);
        for i in 0..10 {
            st.record(&sample(f64::from(i), &["/a"], &[7], &["/m"]), &[]);
        }
        let a = st.cgroup("/a").unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.values(Series::TOTAL), [7.0, 8.0, 9.0]);
        let mut buf = Vec::new();
        assert_eq!(
            a.points_into(0, &mut buf),
            [(7.0, 7.0), (8.0, 8.0), (9.0, 9.0)]
        );
        assert_eq!(st.process(7).unwrap().values(Series::ANON), [10.0; 3]);
        assert_eq!(st.mount("/m").unwrap().values(Series::SHMEM), [5.0; 3]);
    }

    #[test]
    fn vanished_series_are_dropped_and_carried_processes_kept() {
        let mut st = Store::new(60);
        st.record(&sample(1.0, &["/a", "/b"], &[1, 2], &["/m", "/n"]), &[]);
        // /b and /n gone; pid 2 not read this time but not gone either; pid 1 gone.
        st.record(&sample(2.0, &["/a"], &[], &["/m"]), &[1]);
        assert!(st.cgroup("/b").is_none() && st.mount("/n").is_none());
        assert!(st.process(1).is_none());
        assert_eq!(st.process(2).unwrap().len(), 1);
        assert_eq!(st.counts(), (1, 1, 1));
        // A pid gone and read again in one record (it moved) starts a new series.
        st.record(&sample(3.0, &["/a"], &[2], &["/m"]), &[2]);
        assert_eq!(st.process(2).unwrap().len(), 1);
        assert_eq!(st.cgroup("/a").unwrap().len(), 3);
    }
}
