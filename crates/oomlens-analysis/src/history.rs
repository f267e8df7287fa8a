//! Each owner's earlier kills, bounded so that a daemon explaining incidents for months
//! keeps a fixed amount of memory although container ids and pod names change with every
//! restart.
//!
//! What the restart-loop findings read of an owner's past (see `explain::restart_findings`):
//! the number of its kills (`nth`), the times of its last [`KEEP_TIMES`] kills (kills in the
//! last hour, mean interval) and the victim sizes of its last [`KEEP_SIZES`] kills (leak or
//! low limit). That is all an owner keeps. Owners are forgotten:
//!
//! * when their newest kill is more than [`FORGET_AFTER_S`] older than the latest time seen on
//!   the same host and clock (incident time, never the wall clock of the machine running
//!   oomlens), or, for a newest kill that printed no usable time, when more than
//!   [`FORGET_AFTER_KILLS`] kills of any owner have been tracked since;
//! * when [`MAX_OWNERS`] owners are tracked and a new one comes: the owner whose newest kill
//!   came first in the input goes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use oomlens_model::{Incident, LogTime};

use crate::explanation::LoopInfo;

/// Times of this many last kills are kept per owner: `in_last_hour` and the mean interval
/// are computed over them (unchanged from the unbounded history: this was already its
/// per-owner window).
pub const KEEP_TIMES: usize = 64;
/// Victim sizes of this many last kills are kept per owner (`LoopInfo::victim_kb`).
pub const KEEP_SIZES: usize = 16;

/// An owner with no kill for this long (incident time) is forgotten: its next kill starts a
/// new count. Not one hour, although `in_last_hour` looks back one hour only: a leak that
/// takes hours to reach the limit shows as kills hours apart (`leak-to-limit` has no upper
/// bound on the interval), and a nightly job killed every night is a loop worth naming.
/// A week keeps a daily loop with room to spare; kills further apart are not a loop.
pub const FORGET_AFTER_S: f64 = 7.0 * 24.0 * 3600.0;

/// For a newest kill without a usable time (a log that printed none): forgotten after this
/// many kills of any owner have been tracked since, input order standing in for time.
pub const FORGET_AFTER_KILLS: u64 = 65_536;

/// Owners tracked at most. A loop is lost only when this many other owners are killed
/// between two of its kills, far more than the distinct workloads one daemon's machines
/// kill between two kills of a looping one. An owner with all [`KEEP_TIMES`] times takes
/// about 2 KiB with its keys: 4096 of them, each killed 70 times, measured 7.6 MiB of RSS
/// (`VmRSS`) over an empty history.
pub const MAX_OWNERS: usize = 4096;

/// The clock a time was read from: times are compared only with times of the same clock
/// (a monotonic time since boot is not comparable with a wall-clock time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    Utc,
    Local,
    Monotonic,
}

/// An incident's time in seconds on its clock, the most absolute clock first.
fn stamped(t: &LogTime) -> Option<(Clock, f64)> {
    if let Some(u) = t
        .utc
        .as_deref()
        .and_then(|u| u.parse::<jiff::Timestamp>().ok())
    {
        return Some((Clock::Utc, u.as_microsecond() as f64 / 1e6));
    }
    if let Some(l) = t
        .local
        .as_deref()
        .and_then(|l| l.parse::<jiff::civil::DateTime>().ok())
    {
        return l
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| (Clock::Local, z.timestamp().as_microsecond() as f64 / 1e6));
    }
    t.monotonic_us.map(|us| (Clock::Monotonic, us as f64 / 1e6))
}

/// The latest time seen on each clock of one host: "now" for aging that host's owners.
/// The latest in input order, not the largest, so that a reboot (monotonic time starting
/// again) or an older file read after a newer one does not make fresh owners look old.
#[derive(Debug, Default, Clone, Copy)]
struct HostClocks([Option<f64>; 3]);

impl HostClocks {
    fn get(&self, c: Clock) -> Option<f64> {
        self.0[c as usize]
    }
    fn set(&mut self, c: Clock, t: f64) {
        self.0[c as usize] = Some(t);
    }
}

/// One owner's past.
#[derive(Debug)]
struct Past {
    times: VecDeque<Option<f64>>,
    sizes: VecDeque<u64>,
    count: usize,
    /// Input position of the newest kill (its key in `Histories::by_age`).
    seq: u64,
    /// Time and clock of the newest kill, when it printed a usable one.
    last: Option<(Clock, f64)>,
}

type Key = (Option<String>, String);

/// Kills per (host, owner): the same unit name on two machines is two workloads.
#[derive(Debug)]
pub(crate) struct Histories {
    owners: HashMap<Key, Past>,
    /// Owners by the input position of their newest kill, oldest first.
    by_age: BTreeMap<u64, Key>,
    clocks: HashMap<Option<String>, HostClocks>,
    /// Kills tracked so far.
    seq: u64,
    cap: usize,
}

impl Default for Histories {
    fn default() -> Histories {
        Histories::with_cap(MAX_OWNERS)
    }
}

impl Histories {
    pub(crate) fn with_cap(cap: usize) -> Histories {
        Histories {
            owners: HashMap::new(),
            by_age: BTreeMap::new(),
            clocks: HashMap::new(),
            seq: 0,
            cap: cap.max(1),
        }
    }

    /// Owners tracked now.
    pub(crate) fn len(&self) -> usize {
        self.owners.len()
    }

    /// True when `p`'s newest kill is too old to be continued by a kill at `now` (a time
    /// on `p`'s host) or at input position `seq`.
    fn stale(p: &Past, now: Option<f64>, seq: u64) -> bool {
        match p.last {
            Some((_, t)) => now.is_some_and(|n| n - t > FORGET_AFTER_S),
            None => seq - p.seq > FORGET_AFTER_KILLS,
        }
    }

    /// Forget every owner too old for its host's latest time; done every `cap` kills, so
    /// that it costs O(1) per kill. Only frees memory: `track` applies the same rule to the
    /// owner it is given, so for input in time order nothing depends on when this runs.
    fn sweep(&mut self) {
        let (clocks, seq) = (&self.clocks, self.seq);
        let by_age = &mut self.by_age;
        self.owners.retain(|(host, _), p| {
            let now = p
                .last
                .and_then(|(c, _)| clocks.get(host).and_then(|h| h.get(c)));
            let keep = !Self::stale(p, now, seq);
            if !keep {
                by_age.remove(&p.seq);
            }
            keep
        });
        let hosts: HashSet<&Option<String>> = self.owners.keys().map(|(h, _)| h).collect();
        self.clocks.retain(|h, _| hosts.contains(h));
    }

    /// The past of `key` on `host` as of a kill at `now`: forgotten first if too old, a
    /// fresh one (evicting the oldest owner when full) if unknown.
    fn past(&mut self, key: Key, now: Option<(Clock, f64)>) -> &mut Past {
        let seq = self.seq;
        if let Some(p) = self.owners.get(&key) {
            let now_same_clock = now.filter(|(c, _)| p.last.is_some_and(|(pc, _)| pc == *c));
            if Self::stale(p, now_same_clock.map(|(_, t)| t), seq) {
                self.by_age.remove(&p.seq);
                self.owners.remove(&key);
            }
        }
        if !self.owners.contains_key(&key) {
            while self.owners.len() >= self.cap {
                let Some((_, oldest)) = self.by_age.pop_first() else {
                    break;
                };
                self.owners.remove(&oldest);
            }
        }
        let p = self.owners.entry(key.clone()).or_insert_with(|| Past {
            times: VecDeque::new(),
            sizes: VecDeque::new(),
            count: 0,
            seq,
            last: None,
        });
        self.by_age.remove(&p.seq);
        self.by_age.insert(seq, key);
        p.seq = seq;
        p.last = now;
        p
    }

    /// Record a kill of `key` (victim size `kb`) and return the loop it belongs to, if it is
    /// not the owner's first.
    pub(crate) fn track(
        &mut self,
        key: String,
        inc: &Incident,
        kb: Option<u64>,
    ) -> Option<LoopInfo> {
        self.seq += 1;
        if self.seq % self.cap as u64 == 0 {
            self.sweep();
        }
        let now = stamped(&inc.time);
        if let Some((c, t)) = now {
            match self.clocks.get_mut(&inc.host) {
                Some(h) => h.set(c, t),
                None => {
                    let mut h = HostClocks::default();
                    h.set(c, t);
                    self.clocks.insert(inc.host.clone(), h);
                }
            }
        }
        let h = self.past((inc.host.clone(), key.clone()), now);
        h.count += 1;
        // Dropped before pushing, so that the buffers never grow past their window.
        if h.times.len() == KEEP_TIMES {
            h.times.pop_front();
        }
        h.times.push_back(now.map(|(_, t)| t));
        if let Some(kb) = kb {
            if h.sizes.len() == KEEP_SIZES {
                h.sizes.pop_front();
            }
            h.sizes.push_back(kb);
        }
        if h.count < 2 {
            return None;
        }
        Some(loop_info(key, h))
    }
}

/// What the findings read of an owner's past, as of its newest kill.
fn loop_info(key: String, h: &Past) -> LoopInfo {
    let now = h.times.back().copied().flatten();
    let in_last_hour = match now {
        Some(n) => h
            .times
            .iter()
            .filter(|t| t.is_some_and(|t| n - t <= 3600.0 && t <= n))
            .count(),
        None => h.times.len(),
    };
    let known: Vec<f64> = h.times.iter().flatten().copied().collect();
    let mean_interval_s =
        (known.len() >= 2).then(|| (known[known.len() - 1] - known[0]) / (known.len() - 1) as f64);
    LoopInfo {
        key,
        nth: h.count,
        in_last_hour,
        mean_interval_s,
        victim_kb: h.sizes.iter().copied().collect(),
    }
}
