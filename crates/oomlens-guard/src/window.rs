//! The in-RAM window: per cgroup, its memory counters and its largest processes over the
//! last `--window`, written out with each incident.
//!
//! Compact by construction: a point is a fixed-size struct of integers (no `String`, no
//! map per point); absent values are a sentinel, not an `Option`; a comm is kept inline in
//! 16 bytes (the kernel's `TASK_COMM_LEN`); each cgroup path is held once, as the key of
//! its ring. A sample equal to the one before (an idle cgroup, an idle process) does not
//! add a point: it stretches the last point's end time (`t1`), so an idle cgroup costs one
//! point however long the window. An idle cgroup costs nothing per pass either: after a
//! push its ring *follows* the window's pass clock ([`Window::pass`]), its last runs
//! ending at the latest pass until the next push or [`Window::unfollow_unseen`] (readers
//! see them so; they are written out at the next push or eviction). Bounded: points older than the window are evicted at
//! each push, each ring also has a hard cap on its length, cgroups not seen for a whole
//! window are dropped, and at most `max_cgroups` cgroups are kept (later ones are counted
//! in [`Window::refused`], not stored).

use std::collections::VecDeque;

use oomlens_model::recorded::{CgroupPoint, CgroupSeries, ProcessPoint, ProcessSeries};
use oomlens_model::{CgroupSample, Limit, ProcessSample};

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// An absent value.
const NONE: u64 = u64::MAX;
/// A limit of `max` (unlimited).
const UNLIMITED: u64 = u64::MAX - 1;
/// Processes kept per cgroup per pass, largest resident set first.
pub const TOP_PROCESSES: usize = 5;

/// One cgroup's values at one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CgVals {
    usage: u64,
    anon: u64,
    file: u64,
    shmem: u64,
    swap: u64,
    max: u64,
    high: u64,
    oom_kill: u64,
    /// `some avg10` × 100, rounded (percent with two decimals), or [`NONE`].
    psi: u64,
}

/// A run of equal values from `t0` to `t1` (Unix seconds).
#[derive(Debug, Clone, Copy)]
struct CgPt {
    t0: f64,
    t1: f64,
    v: CgVals,
}

/// A run of equal values of one process.
#[derive(Debug, Clone, Copy)]
struct ProcPt {
    t0: f64,
    t1: f64,
    pid: u32,
    comm: [u8; 16],
    anon: u64,
    file: u64,
    shmem: u64,
    swap: u64,
}

#[derive(Debug, Default)]
struct Ring {
    points: VecDeque<CgPt>,
    procs: VecDeque<ProcPt>,
    last_seen: f64,
    /// Its cgroup is unchanged since its last push: its last runs reach the latest pass.
    follows: bool,
}

impl Ring {
    /// Writes out the runs a following ring has been extending: its last point and the
    /// process runs that ended with it now end at `upto` (as a push of the same values
    /// at each pass up to `upto` would have made them).
    fn settle(&mut self, upto: f64) {
        if !self.follows {
            return;
        }
        let Some(last) = self.points.back_mut() else {
            return;
        };
        if upto <= last.t1 {
            return;
        }
        let old = std::mem::replace(&mut last.t1, upto);
        // The last push's processes are among the last few runs (as push looks for them).
        for q in self.procs.iter_mut().rev().take(4 * TOP_PROCESSES) {
            if q.t1 == old {
                q.t1 = upto;
            }
        }
        self.last_seen = self.last_seen.max(upto);
    }
}

/// The window of every sampled cgroup.
#[derive(Debug)]
pub struct Window {
    span: f64,
    interval: f64,
    max_points: usize,
    max_cgroups: usize,
    rings: FastMap<Box<str>, Ring>,
    refused: u64,
    /// The latest pass ([`Window::pass`]) and the one before.
    now: f64,
    prev: f64,
    /// [`Window::push`]'s ordering of a cgroup's processes, kept between pushes.
    order: Vec<(std::cmp::Reverse<u64>, usize)>,
}

fn opt(v: Option<u64>) -> u64 {
    v.unwrap_or(NONE)
}

fn back(v: u64) -> Option<u64> {
    (v != NONE).then_some(v)
}

fn limit(l: Option<Limit>) -> u64 {
    match l {
        Some(Limit::Bytes(b)) => b.min(UNLIMITED - 1),
        Some(Limit::Max) => UNLIMITED,
        None => NONE,
    }
}

fn limit_back(v: u64) -> Option<Limit> {
    match v {
        NONE => None,
        UNLIMITED => Some(Limit::Max),
        b => Some(Limit::Bytes(b)),
    }
}

fn cg_vals(c: &CgroupSample) -> CgVals {
    CgVals {
        usage: opt(c.usage),
        anon: opt(c.anon),
        file: opt(c.file),
        shmem: opt(c.shmem),
        swap: opt(c.swap),
        max: limit(c.max),
        high: limit(c.high),
        oom_kill: opt(c.oom_kill),
        psi: c
            .psi_some_avg10
            .map_or(NONE, |p| (p * 100.0).round().max(0.0) as u64),
    }
}

fn comm16(s: &str) -> [u8; 16] {
    let mut c = [0u8; 16];
    let b = s.as_bytes();
    let n = b.len().min(16);
    c[..n].copy_from_slice(&b[..n]);
    c
}

fn comm_str(c: &[u8; 16]) -> String {
    let n = c.iter().position(|&b| b == 0).unwrap_or(16);
    String::from_utf8_lossy(&c[..n]).into_owned()
}

impl Window {
    /// A window of `span` seconds sampled every `interval` seconds, of at most
    /// `max_cgroups` cgroups.
    pub fn new(span: f64, interval: f64, max_cgroups: usize) -> Window {
        // Event-driven passes may come between timed ones: twice the timed count, plus slack.
        let per_span = (span / interval.max(0.001)).ceil() as usize;
        Window {
            span,
            interval,
            max_points: per_span.saturating_mul(2).saturating_add(16),
            max_cgroups,
            rings: FastMap::default(),
            refused: 0,
            now: f64::NEG_INFINITY,
            prev: f64::NEG_INFINITY,
            order: Vec::new(),
        }
    }

    /// Cgroups not stored because `max_cgroups` were already kept.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Cgroups kept.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// True when no cgroup is kept.
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// Points kept (cgroup points, process points): what the window costs.
    pub fn points(&self) -> (usize, usize) {
        self.rings
            .values()
            .fold((0, 0), |(c, p), r| (c + r.points.len(), p + r.procs.len()))
    }

    fn ring(&mut self, path: &str, t: f64) -> Option<&mut Ring> {
        if !self.rings.contains_key(path) {
            if self.rings.len() >= self.max_cgroups {
                self.refused += 1;
                return None;
            }
            self.rings.insert(path.into(), Ring::default());
        }
        let r = self.rings.get_mut(path)?;
        r.last_seen = t;
        Some(r)
    }

    /// A sampler pass at `t`: every following ring's runs now reach `t` (its cgroup was in
    /// this pass and unchanged). Call it before the pass's pushes.
    pub fn pass(&mut self, t: f64) {
        if t > self.now {
            self.prev = self.now;
            self.now = t;
        }
    }

    /// After a pass that pushed every cgroup it had (the sampler rebuilt its rows): the
    /// rings not pushed in it (cgroups gone) stop following, their runs ending at the pass
    /// before.
    pub fn unfollow_unseen(&mut self) {
        let (now, prev) = (self.now, self.prev);
        for r in self.rings.values_mut() {
            if r.follows && r.last_seen < now {
                r.settle(prev);
                r.follows = false;
            }
        }
    }

    /// The end of a run ending at `t1` in `r`: the latest pass for the last runs of a
    /// following ring.
    fn end(&self, r: &Ring, t1: f64) -> f64 {
        match r.points.back() {
            Some(last) if r.follows && t1 == last.t1 => t1.max(self.now),
            _ => t1,
        }
    }

    /// Add one pass of one cgroup at Unix time `t`, with its processes (the
    /// [`TOP_PROCESSES`] largest are kept, and any pid in `pinned`).
    pub fn push<P: std::borrow::Borrow<ProcessSample>>(
        &mut self,
        t: f64,
        c: &CgroupSample,
        procs: &[P],
        pinned: &[u32],
    ) {
        let (span, max_points) = (self.span, self.max_points);
        // A following ring was unchanged up to the pass before this one (a push between
        // passes, at an incident: up to the latest pass).
        let upto = if t > self.now { self.now } else { self.prev };
        let mut order = std::mem::take(&mut self.order);
        let Some(r) = self.ring(&c.path, t) else {
            self.order = order; // refused: the buffer stays for the next push
            return;
        };
        r.settle(upto);
        r.follows = true;
        let v = cg_vals(c);
        match r.points.back_mut() {
            Some(last) if last.v == v && t >= last.t1 => last.t1 = t,
            _ => r.points.push_back(CgPt { t0: t, t1: t, v }),
        }
        // Largest first, ties in the order given; without pinned pids only the top few
        // are ordered. Kept between pushes: a pass allocates nothing here.
        order.clear();
        order.extend(
            procs
                .iter()
                .enumerate()
                .map(|(i, p)| (std::cmp::Reverse(p.borrow().rss()), i)),
        );
        if pinned.is_empty() && order.len() > TOP_PROCESSES {
            order.select_nth_unstable(TOP_PROCESSES - 1);
            order.truncate(TOP_PROCESSES);
        }
        order.sort_unstable(); // the keys are distinct (index): the stable order
        let keep = order
            .iter()
            .enumerate()
            .filter(|(k, &(_, i))| *k < TOP_PROCESSES || pinned.contains(&procs[i].borrow().pid))
            .map(|(_, &(_, i))| procs[i].borrow());
        for p in keep {
            let pt = ProcPt {
                t0: t,
                t1: t,
                pid: p.pid,
                comm: comm16(&p.comm),
                anon: opt(p.anon),
                file: opt(p.file),
                shmem: opt(p.shmem),
                swap: opt(p.swap),
            };
            // The same pid's last run is among the last few points (a pass adds at most
            // TOP_PROCESSES plus the pinned ones).
            let same = r
                .procs
                .iter_mut()
                .rev()
                .take(4 * TOP_PROCESSES)
                .find(|q| q.pid == pt.pid);
            match same {
                Some(q)
                    if (q.comm, q.anon, q.file, q.shmem, q.swap)
                        == (pt.comm, pt.anon, pt.file, pt.shmem, pt.swap)
                        && t >= q.t1 =>
                {
                    q.t1 = t
                }
                _ => r.procs.push_back(pt),
            }
        }
        evict(r, t - span, max_points);
        self.order = order;
    }

    /// Add one pass of one cgroup at Unix time `t` whose processes are those of its last
    /// push, unchanged (the sampler did not read them again: [`RowChange::Counters`]):
    /// the counters as [`Window::push`] adds them, and the last push's process runs
    /// stretched to `t`, as a push of the same processes would, without ordering them
    /// again (on a real host the top cgroup's usage moves at nearly every pass, and
    /// ordering its many processes for the same answer was most of an idle pass's push).
    /// False, and nothing added, when the cgroup has no ring with a point yet: push it
    /// with its processes.
    ///
    /// [`RowChange::Counters`]: oomlens_sources::sampler::RowChange::Counters
    pub fn push_counters(&mut self, t: f64, c: &CgroupSample) -> bool {
        let (span, max_points) = (self.span, self.max_points);
        let upto = if t > self.now { self.now } else { self.prev };
        let Some(r) = self
            .rings
            .get_mut(&*c.path)
            .filter(|r| !r.points.is_empty())
        else {
            return false;
        };
        r.last_seen = t;
        r.settle(upto);
        r.follows = true;
        let v = cg_vals(c);
        // The runs the last push left open end with the last point (settled above).
        let ended = r.points.back().map_or(f64::NAN, |p| p.t1);
        match r.points.back_mut() {
            Some(last) if last.v == v && t >= last.t1 => last.t1 = t,
            _ => r.points.push_back(CgPt { t0: t, t1: t, v }),
        }
        if t >= ended {
            for q in r.procs.iter_mut().rev().take(4 * TOP_PROCESSES) {
                if q.t1 == ended {
                    q.t1 = t;
                }
            }
        }
        evict(r, t - span, max_points);
        true
    }

    /// Drop what is older than the window at `now`, and cgroups not seen within it
    /// (following rings are seen at the latest pass).
    pub fn evict(&mut self, now: f64) {
        let (oldest, max_points, latest) = (now - self.span, self.max_points, self.now);
        self.rings.retain(|_, r| {
            r.settle(latest);
            evict(r, oldest, max_points);
            r.last_seen >= oldest
        });
    }

    /// What the metrics need of a cgroup: its usage over the window `(unix, bytes)`, and
    /// its latest limit, `memory.high` (bytes, `None` when unlimited) and PSI some avg10.
    #[allow(clippy::type_complexity)]
    pub fn gauges(
        &self,
        path: &str,
    ) -> Option<(Vec<(f64, f64)>, Option<u64>, Option<u64>, Option<f64>)> {
        let r = self.rings.get(path)?;
        let mut usage = Vec::with_capacity(r.points.len() * 2);
        for p in r.points.iter().filter(|p| p.v.usage != NONE) {
            usage.push((p.t0, p.v.usage as f64));
            let t1 = self.end(r, p.t1);
            if t1 > p.t0 {
                usage.push((t1, p.v.usage as f64));
            }
        }
        let last = r.points.back()?.v;
        let bytes = |v: u64| (v != NONE && v != UNLIMITED).then_some(v);
        Some((
            usage,
            bytes(last.max),
            bytes(last.high),
            back(last.psi).map(|x| x as f64 / 100.0),
        ))
    }

    /// True when `path` has a ring.
    pub fn contains(&self, path: &str) -> bool {
        self.rings.contains_key(path)
    }

    /// One cgroup's series (a run of equal values shows as its first and last point).
    pub fn series(&self, path: &str) -> Option<CgroupSeries> {
        let r = self.rings.get(path)?;
        let mut points = Vec::with_capacity(r.points.len() * 2);
        for p in &r.points {
            let point = |unix| CgroupPoint {
                unix,
                usage: back(p.v.usage),
                anon: back(p.v.anon),
                file: back(p.v.file),
                shmem: back(p.v.shmem),
                swap: back(p.v.swap),
                max: limit_back(p.v.max),
                high: limit_back(p.v.high),
                oom_kill: back(p.v.oom_kill),
                psi_some_avg10: back(p.v.psi).map(|x| x as f64 / 100.0),
            };
            points.push(point(p.t0));
            let t1 = self.end(r, p.t1);
            if t1 > p.t0 {
                points.push(point(t1));
            }
        }
        Some(CgroupSeries {
            path: path.to_string(),
            points,
        })
    }

    /// The processes seen in `path`, one series per pid, oldest first.
    pub fn processes(&self, path: &str) -> Vec<ProcessSeries> {
        let Some(r) = self.rings.get(path) else {
            return Vec::new();
        };
        let mut out: Vec<ProcessSeries> = Vec::new();
        for p in &r.procs {
            let i = match out.iter().position(|s| s.pid == p.pid) {
                Some(i) => i,
                None => {
                    out.push(ProcessSeries {
                        pid: p.pid,
                        comm: comm_str(&p.comm),
                        cgroup: path.to_string(),
                        points: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let point = |unix| ProcessPoint {
                unix,
                anon: back(p.anon),
                file: back(p.file),
                shmem: back(p.shmem),
                swap: back(p.swap),
            };
            out[i].points.push(point(p.t0));
            let t1 = self.end(r, p.t1);
            if t1 > p.t0 {
                out[i].points.push(point(t1));
            }
        }
        out
    }

    /// The window's length and interval, seconds.
    pub fn shape(&self) -> (f64, f64) {
        (self.span, self.interval)
    }

    /// The latest usage and limit of a cgroup.
    pub fn last_limit(&self, path: &str) -> Option<Limit> {
        limit_back(self.rings.get(path)?.points.back()?.v.max)
    }
}

/// Drop points that ended before `oldest`, then the oldest beyond `max_points`.
fn evict(r: &mut Ring, oldest: f64, max_points: usize) {
    while r
        .points
        .front()
        .is_some_and(|p| p.t1 < oldest || r.points.len() > max_points)
    {
        r.points.pop_front();
    }
    let max_procs = max_points * (TOP_PROCESSES + 1);
    while r
        .procs
        .front()
        .is_some_and(|p| p.t1 < oldest || r.procs.len() > max_procs)
    {
        r.procs.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_PROCS: &[&ProcessSample] = &[];

    fn cg(path: &str, usage: u64) -> CgroupSample {
        CgroupSample {
            path: path.into(),
            usage: Some(usage),
            max: Some(Limit::Bytes(1 << 30)),
            psi_some_avg10: Some(1.25),
            ..Default::default()
        }
    }

    fn proc(pid: u32, comm: &str, anon: u64) -> ProcessSample {
        ProcessSample {
            pid,
            comm: comm.into(),
            cgroup: "/a".into(),
            anon: Some(anon),
            file: Some(0),
            shmem: None,
            swap: None,
        }
    }

    #[test]
    fn an_idle_cgroup_costs_one_point_and_shows_the_whole_run() {
        let mut w = Window::new(600.0, 1.0, 10);
        let p = proc(7, "idle", 4096);
        for t in 0..300 {
            w.push(1000.0 + t as f64, &cg("/a", 100), &[&p], &[]);
        }
        assert_eq!(w.points(), (1, 1));
        let s = w.series("/a").unwrap();
        assert_eq!(s.points.len(), 2);
        assert_eq!((s.points[0].unix, s.points[1].unix), (1000.0, 1299.0));
        assert_eq!(s.points[1].usage, Some(100));
        assert_eq!(s.points[1].max, Some(Limit::Bytes(1 << 30)));
        assert_eq!(s.points[1].psi_some_avg10, Some(1.25));
        let procs = w.processes("/a");
        assert_eq!(procs.len(), 1);
        assert_eq!((procs[0].pid, procs[0].comm.as_str()), (7, "idle"));
        assert_eq!(procs[0].points.len(), 2);
    }

    /// Passes that push nothing (the cgroup unchanged) give the series, processes and
    /// points that pushing the same values at each pass gives, before and after the next
    /// change, at an incident between passes, and once the cgroup is gone
    /// (`unfollow_unseen` after a pass that pushed every other cgroup).
    #[test]
    fn following_equals_pushing_the_same_values() {
        let (mut pushed, mut followed) = (Window::new(60.0, 1.0, 10), Window::new(60.0, 1.0, 10));
        let ps: Vec<ProcessSample> = (1..=7).map(|i| proc(i, "p", i as u64 * 4096)).collect();
        let all: Vec<&ProcessSample> = ps.iter().collect();
        let fewer: Vec<&ProcessSample> = ps[..6].iter().collect();
        let same = |a: &Window, b: &Window, what: &str| {
            assert_eq!(a.series("/a"), b.series("/a"), "{what}");
            assert_eq!(a.processes("/a"), b.processes("/a"), "{what}");
            assert_eq!(a.gauges("/a"), b.gauges("/a"), "{what}");
        };
        for w in [&mut pushed, &mut followed] {
            w.pass(1.0);
            w.push(1.0, &cg("/a", 1), &all, &[]);
            w.pass(2.0);
            w.push(2.0, &cg("/a", 2), &fewer, &[]);
        }
        for t in 3..40 {
            pushed.pass(t as f64);
            pushed.push(t as f64, &cg("/a", 2), &fewer, &[]);
            followed.pass(t as f64);
        }
        same(&pushed, &followed, "quiet");
        let last = followed.series("/a").unwrap().points.last().unwrap().unix;
        assert_eq!(last, 39.0, "the run reaches the latest pass");
        // An incident between passes pushes a cgroup the window has: as of the last pass.
        for w in [&mut pushed, &mut followed] {
            w.pass(40.0);
            w.push(40.0, &cg("/a", 3), &fewer, &[]);
            w.push(40.5, &cg("/b", 1), NO_PROCS, &[]);
        }
        same(&pushed, &followed, "changed");
        for w in [&mut pushed, &mut followed] {
            w.pass(41.0);
            w.push(41.0, &cg("/b", 1), NO_PROCS, &[]); // every row there is: /a is gone
            w.unfollow_unseen();
            w.pass(42.0);
            w.push(42.0, &cg("/b", 1), NO_PROCS, &[]);
        }
        same(&pushed, &followed, "gone");
        let end = followed.series("/a").unwrap().points.last().unwrap().unix;
        assert_eq!(end, 40.0, "a gone cgroup's run ends where it was last seen");
        followed.evict(42.0);
        pushed.evict(42.0);
        assert_eq!(pushed.points(), followed.points());
        same(&pushed, &followed, "evicted");
    }

    /// A counters-only push (processes as last pushed) gives what pushing those same
    /// processes again gives, over a long random run of idle passes, usage moves, process
    /// changes, equal values and evictions; a cgroup without a ring is refused.
    #[test]
    fn a_counters_push_equals_pushing_the_same_processes() {
        let mut fresh = Window::new(30.0, 1.0, 10);
        assert!(!fresh.push_counters(1.0, &cg("/a", 1)), "no ring yet");
        assert!(fresh.is_empty());
        let (mut pushed, mut counted) = (Window::new(30.0, 1.0, 10), Window::new(30.0, 1.0, 10));
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut procs: Vec<ProcessSample> = (1..=7).map(|i| proc(i, "p", i as u64)).collect();
        let mut usage = 1;
        for step in 1..400u32 {
            let t = f64::from(step);
            pushed.pass(t);
            counted.pass(t);
            let r = next() % 10;
            if r < 4 {
                continue; // an idle pass: nothing pushed to either
            }
            if r < 8 {
                usage += next() % 2; // equal values now and then
            } else {
                let k = (next() % 7) as usize;
                procs[k].anon = Some(next() % 16);
            }
            let refs: Vec<&ProcessSample> = procs.iter().collect();
            pushed.push(t, &cg("/a", usage), &refs, &[]);
            if r >= 8 || !counted.push_counters(t, &cg("/a", usage)) {
                counted.push(t, &cg("/a", usage), &refs, &[]);
            }
            assert_eq!(pushed.series("/a"), counted.series("/a"), "step {step}");
            assert_eq!(
                pushed.processes("/a"),
                counted.processes("/a"),
                "step {step}"
            );
            assert_eq!(pushed.points(), counted.points(), "step {step}");
            if step % 50 == 0 {
                pushed.evict(t);
                counted.evict(t);
            }
        }
    }

    #[test]
    fn points_older_than_the_window_are_evicted_and_the_ring_is_capped() {
        let mut w = Window::new(10.0, 1.0, 10);
        for t in 0..100 {
            w.push(t as f64, &cg("/a", t), NO_PROCS, &[]);
        }
        let s = w.series("/a").unwrap();
        // Points ending before 99 - 10 are gone: 89..=99 remain.
        assert_eq!(s.points.first().unwrap().unix, 89.0);
        assert_eq!(s.points.len(), 11);
        // Event passes between timed ones: the hard cap holds however dense they come.
        for i in 0..1000 {
            w.push(99.0 + i as f64 * 0.001, &cg("/a", 1000 + i), NO_PROCS, &[]);
        }
        assert!(w.points().0 <= 10 * 2 + 16, "{:?}", w.points());
        // A cgroup not seen for a whole window is dropped.
        w.evict(200.0);
        assert!(w.is_empty());
    }

    #[test]
    fn only_the_largest_processes_and_pinned_pids_are_kept_and_cgroups_are_capped() {
        let mut w = Window::new(60.0, 1.0, 2);
        let ps: Vec<ProcessSample> = (1..=8).map(|i| proc(i, "p", i as u64 * 4096)).collect();
        let refs: Vec<&ProcessSample> = ps.iter().collect();
        w.push(1.0, &cg("/a", 1), &refs, &[1]);
        let mut pids: Vec<u32> = w.processes("/a").iter().map(|s| s.pid).collect();
        pids.sort();
        assert_eq!(pids, [1, 4, 5, 6, 7, 8]);
        w.push(1.0, &cg("/b", 1), NO_PROCS, &[]);
        w.push(1.0, &cg("/c", 1), NO_PROCS, &[]);
        assert_eq!((w.len(), w.refused()), (2, 1));
        assert!(w.series("/c").is_none());
    }

    /// Without pinned pids the top few are selected, not the whole list sorted: the same
    /// processes as a stable sort by size, ties going to the one listed first.
    #[test]
    fn the_largest_are_kept_ties_to_the_first_listed() {
        let sizes = [3u64, 9, 9, 1, 7, 9, 2, 7, 7, 5];
        let ps: Vec<ProcessSample> = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| proc(i as u32 + 1, "p", s * 4096))
            .collect();
        let refs: Vec<&ProcessSample> = ps.iter().collect();
        let mut want = refs.clone();
        want.sort_by_key(|p| std::cmp::Reverse(p.rss()));
        let mut want: Vec<u32> = want[..TOP_PROCESSES].iter().map(|p| p.pid).collect();
        want.sort();
        assert_eq!(want, [2, 3, 5, 6, 8], "9, 9, 9, then the first two 7s");
        let mut w = Window::new(60.0, 1.0, 2);
        w.push(1.0, &cg("/a", 1), &refs, &[]);
        let mut pids: Vec<u32> = w.processes("/a").iter().map(|s| s.pid).collect();
        pids.sort();
        assert_eq!(pids, want);
    }

    #[test]
    fn a_point_is_small() {
        // The compactness the idle-RSS budget relies on: no heap per point.
        assert!(std::mem::size_of::<CgPt>() <= 96);
        assert!(std::mem::size_of::<ProcPt>() <= 72);
        let long = "a-comm-longer-than-sixteen";
        assert_eq!(comm_str(&comm16(long)), &long[..16]);
        assert_eq!(limit_back(limit(Some(Limit::Max))), Some(Limit::Max));
        assert_eq!(limit_back(limit(None)), None);
    }
}
