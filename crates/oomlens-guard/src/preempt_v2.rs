//! When the pre-emption decision runs on cgroup v2, between the sampler's passes.
//!
//! v2 has no usage-threshold eventfd (v1's `cgroup.event_control` is gone), so three sources
//! stand in for it, each per cgroup a `[[preempt]]` policy matches, all in the daemon's one
//! epoll set (tokens [`TOKEN_V2`] and [`TOKEN_V2_PSI`], claimed by `crate::preempt::owns`):
//!
//! - **an adaptive poll of `memory.current`** (one pread of an fd held open), on one timerfd:
//!   the interval is the headroom to the policy's threshold (share × line) over a worst-case
//!   fill rate ([`FILL_RATE`], 1 GiB/s), clamped to [`MIN_POLL`]–[`MAX_POLL`]
//!   ([`poll_interval`]). A cgroup more than a second of worst-case fill away is not polled
//!   (the pass reads it); one at the threshold already is not polled either (the crossing was
//!   decided on; the pass and the events below follow it). The crossing (below -> at or
//!   above the threshold) runs the decision at once. This is the source that catches a leak
//!   against `memory.max` in time. Measured in the busybox guest (no swap, anon memory, the
//!   kernel alone; `bench/preempt-v2.sh`, bench/README.md): the first `max` event and the
//!   first PSI stall came 0 to 106 ms before the OOM kill, the crossing of 0.8 x memory.max
//!   265 to 2,623 ms before it; with the guard, the poll woke all 60 decisions.
//! - **`memory.events`** (inotify IN_MODIFY; the kernel notifies at most every 20 ms,
//!   `CGROUP_FILE_NOTIFY_MIN_INTV` in kernel/cgroup/cgroup.c): a rise of `high` (usage over
//!   `memory.high`, the line of `line = "high"`) or `max` (usage at `memory.max`, reclaim
//!   under way) runs the decision.
//! - **a PSI trigger** on the cgroup's `memory.pressure` (`some 50000 500000`: 50 ms of
//!   stall within a 500 ms window, the shortest window the kernel takes,
//!   Documentation/accounting/psi.rst): what a policy's `pressure` trigger needs between
//!   passes. EPOLLERR (the cgroup was removed; kernfs reports a drained file that way) closes
//!   the trigger at once: a level-triggered epoll that kept it would spin.
//!
//! An event-driven decision (memory.events, PSI) other than the crossing runs at most once per
//! [`EVENT_GAP`] per cgroup: while usage stays over `memory.high` its event fires every 20 ms,
//! and each decision reads the cgroup's processes.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{epoll, poll, PollFd, PollFlags};
use rustix::fs::inotify;
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

/// Epoll token of the inotify instance (low half 0) and of the poll timer (low half 1).
pub const TOKEN_V2: u64 = 5 << 32;
const TOKEN_V2_TIMER: u64 = TOKEN_V2 | 1;
/// Epoll tokens of the PSI triggers: this in the high half, the entry's slot below.
pub const TOKEN_V2_PSI: u64 = 6 << 32;

/// The fill rate the poll assumes, bytes per second: 1 GiB/s, twice the fastest leak the
/// innocent-sibling scenario runs (500 MiB/s). A leak this fast from a usage `h` bytes under
/// the threshold reaches it no sooner than the next read.
pub const FILL_RATE: f64 = (1u64 << 30) as f64;
/// The shortest poll interval (a leak faster than [`FILL_RATE`] overshoots the threshold by
/// at most this much of its fill).
pub const MIN_POLL: Duration = Duration::from_millis(5);
/// The longest poll interval: farther than this from the threshold, the pass (one a second by
/// default) is soon enough.
pub const MAX_POLL: Duration = Duration::from_secs(1);
/// Least time between two event-driven decisions on one cgroup (the crossing excepted).
pub const EVENT_GAP: Duration = Duration::from_millis(100);
/// The PSI trigger of each matched cgroup: `some <stall µs> <window µs>`.
pub const PSI_TRIGGER: &str = "some 50000 500000\n";

/// Whether an epoll token is one of this module's.
pub fn owns(token: u64) -> bool {
    matches!(token >> 32, 5 | 6)
}

/// The poll interval for a cgroup whose usage is `usage` bytes and whose policy acts at
/// `threshold` bytes: `None` at or above the threshold (decided on already) or when even a
/// [`FILL_RATE`] leak needs more than [`MAX_POLL`] to get there (the pass reads it first).
pub fn poll_interval(usage: u64, threshold: u64) -> Option<Duration> {
    let headroom = threshold.checked_sub(usage).filter(|&h| h > 0)?;
    let secs = headroom as f64 / FILL_RATE;
    if secs >= MAX_POLL.as_secs_f64() {
        return None;
    }
    Some(Duration::from_secs_f64(secs).max(MIN_POLL))
}

/// A cgroup to decide on now, and what woke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// The cgroup path (as `crate::preempt` holds it).
    pub path: String,
    /// `poll` (the threshold crossed), `memory.events` or `psi`.
    pub source: &'static str,
}

/// Counts of what happened, for tests and the bench.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct V2Stats {
    /// `memory.current` reads by the poll.
    pub polls: u64,
    /// Crossings the poll found.
    pub crossings: u64,
    /// `memory.events` changes read.
    pub events: u64,
    /// PSI trigger events.
    pub psi_events: u64,
    /// PSI triggers closed because their cgroup went away.
    pub psi_closed: u64,
}

struct Entry {
    path: String,
    current: File,
    /// Its `memory.events`.
    events: PathBuf,
    wd: Option<i32>,
    psi: Option<File>,
    /// `high` and `max` of `memory.events` at the last read.
    counts: (u64, u64),
    threshold: Option<u64>,
    /// Usage was at or above the threshold at the last read.
    above: bool,
    next_poll: Option<Instant>,
    last_event_decision: Option<Instant>,
}

/// The v2 event sources of the matched cgroups.
pub struct V2Events {
    inotify: OwnedFd,
    timer: OwnedFd,
    entries: Vec<Option<Entry>>,
    by_wd: HashMap<i32, usize>,
    armed: Option<Instant>,
    /// What happened so far.
    pub stats: V2Stats,
}

fn read_current(f: &File) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = f.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// `high` and `max` of a `memory.events` text.
fn high_and_max(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for l in text.lines() {
        match l.split_once(' ') {
            Some(("high", v)) => out.0 = v.trim().parse().unwrap_or(0),
            Some(("max", v)) => out.1 = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    out
}

/// `CGROUP2_SUPER_MAGIC` (include/uapi/linux/magic.h).
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// Opens `memory.pressure` and writes the trigger, only on cgroup2: under a fake `--root`
/// the same path is a plain file, and the trigger would overwrite the numbers in it.
fn open_trigger(path: &Path) -> std::io::Result<File> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if rustix::fs::fstatfs(&f)?.f_type as u64 != CGROUP2_SUPER_MAGIC {
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    f.write_all(PSI_TRIGGER.as_bytes())?;
    Ok(f)
}

impl V2Events {
    /// The inotify instance and the poll timer, both added to `ep`.
    pub fn new(ep: &OwnedFd) -> std::io::Result<V2Events> {
        let inotify =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        let timer = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        let data = epoll::EventData::new_u64;
        epoll::add(ep, &inotify, data(TOKEN_V2), epoll::EventFlags::IN)?;
        epoll::add(ep, &timer, data(TOKEN_V2_TIMER), epoll::EventFlags::IN)?;
        Ok(V2Events {
            inotify,
            timer,
            entries: Vec::new(),
            by_wd: HashMap::new(),
            armed: None,
            stats: V2Stats::default(),
        })
    }

    /// Cgroups followed now.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// None followed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// PSI triggers open now.
    pub fn psi_open(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .filter(|e| e.psi.is_some())
            .count()
    }

    /// Follow exactly `cgroups` (path, directory): new ones get their sources, those no
    /// longer matched lose theirs.
    pub fn sync<'a>(
        &mut self,
        ep: &OwnedFd,
        cgroups: impl IntoIterator<Item = (&'a str, &'a Path)>,
    ) {
        let want: Vec<(&str, &Path)> = cgroups.into_iter().collect();
        for slot in 0..self.entries.len() {
            let keep = self.entries[slot]
                .as_ref()
                .is_some_and(|e| want.iter().any(|w| w.0 == e.path));
            if !keep {
                self.close(ep, slot);
            }
        }
        for (path, dir) in want {
            if self.entries.iter().flatten().any(|e| e.path == path) {
                continue;
            }
            let _ = self.open(ep, path, dir);
        }
    }

    fn open(&mut self, ep: &OwnedFd, path: &str, dir: &Path) -> std::io::Result<()> {
        let current = File::open(dir.join("memory.current"))?;
        let slot = self
            .entries
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.entries.len());
        let events = dir.join("memory.events");
        let wd = inotify::add_watch(&self.inotify, &events, inotify::WatchFlags::MODIFY).ok();
        if let Some(wd) = wd {
            self.by_wd.insert(wd, slot);
        }
        let psi = open_trigger(&dir.join("memory.pressure")).ok().filter(|f| {
            epoll::add(
                ep,
                f,
                epoll::EventData::new_u64(TOKEN_V2_PSI | slot as u64),
                epoll::EventFlags::PRI,
            )
            .is_ok()
        });
        let counts = std::fs::read_to_string(&events)
            .map(|t| high_and_max(&t))
            .unwrap_or_default();
        let e = Entry {
            path: path.to_string(),
            current,
            events,
            wd,
            psi,
            counts,
            threshold: None,
            above: false,
            next_poll: None,
            last_event_decision: None,
        };
        if slot == self.entries.len() {
            self.entries.push(Some(e));
        } else {
            self.entries[slot] = Some(e);
        }
        Ok(())
    }

    fn close(&mut self, ep: &OwnedFd, slot: usize) {
        let Some(e) = self.entries.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Some(wd) = e.wd {
            self.by_wd.remove(&wd);
            // Fails when the kernel dropped it already (IN_IGNORED after a removal).
            let _ = inotify::remove_watch(&self.inotify, wd);
        }
        if let Some(f) = &e.psi {
            let _ = epoll::delete(ep, f);
        }
    }

    /// A decision on `path` was made on `usage` with the policy's `threshold` (share × line,
    /// `None` when the line is unlimited): schedule its next poll.
    pub fn sampled(&mut self, path: &str, usage: u64, threshold: Option<u64>) {
        let Some(e) = self.entries.iter_mut().flatten().find(|e| e.path == path) else {
            return;
        };
        e.threshold = threshold;
        e.above = threshold.is_some_and(|t| usage >= t);
        e.next_poll = threshold
            .and_then(|t| poll_interval(usage, t))
            .map(|d| Instant::now() + d);
        self.rearm();
    }

    /// Sets the timer to the earliest poll due (or disarms it).
    fn rearm(&mut self) {
        let next = self
            .entries
            .iter()
            .flatten()
            .filter_map(|e| e.next_poll)
            .min();
        if next == self.armed {
            return;
        }
        self.armed = next;
        let value = match next {
            // A zero it_value disarms: an overdue poll is set 1 ns ahead instead.
            Some(t) => {
                let d = t
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                Timespec {
                    tv_sec: d.as_secs() as _,
                    tv_nsec: d.subsec_nanos() as _,
                }
            }
            None => Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let _ = timerfd_settime(
            &self.timer,
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: zero,
                it_value: value,
            },
        );
    }

    /// An epoll event on one of this module's tokens: the cgroups to decide on now.
    pub fn on_event(&mut self, ep: &OwnedFd, token: u64) -> Vec<Wake> {
        let now = Instant::now();
        let mut out = Vec::new();
        if token == TOKEN_V2_TIMER {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.timer, &mut buf);
            self.armed = None;
            self.poll_due(now, &mut out);
            self.rearm();
        } else if token == TOKEN_V2 {
            for slot in self.events_changed() {
                self.event(slot, "memory.events", now, &mut out);
            }
        } else if token >> 32 == TOKEN_V2_PSI >> 32 {
            let slot = (token & 0xffff_ffff) as usize;
            let Some(f) = self
                .entries
                .get_mut(slot)
                .and_then(|e| e.as_mut())
                .and_then(|e| e.psi.as_ref())
            else {
                return out;
            };
            let mut fds = [PollFd::new(f, PollFlags::PRI)];
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let _ = poll(&mut fds, Some(&zero));
            let revents = fds[0].revents();
            if revents.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL) {
                if let Some(f) = self.entries[slot].as_mut().and_then(|e| e.psi.take()) {
                    let _ = epoll::delete(ep, f.as_fd());
                    self.stats.psi_closed += 1;
                }
                return out;
            }
            self.stats.psi_events += 1;
            self.event(slot, "psi", now, &mut out);
        }
        out
    }

    /// Reads the polls due: a crossing wakes its cgroup; the others are scheduled again.
    fn poll_due(&mut self, now: Instant, out: &mut Vec<Wake>) {
        for e in self.entries.iter_mut().flatten() {
            if e.next_poll.is_none_or(|t| t > now) {
                continue;
            }
            e.next_poll = None;
            let (Some(usage), Some(threshold)) = (read_current(&e.current), e.threshold) else {
                continue;
            };
            self.stats.polls += 1;
            if usage >= threshold {
                e.above = true;
                self.stats.crossings += 1;
                out.push(Wake {
                    path: e.path.clone(),
                    source: "poll",
                });
            } else {
                e.above = false;
                e.next_poll = poll_interval(usage, threshold).map(|d| now + d);
            }
        }
    }

    /// The slots whose `memory.events` `high` or `max` rose.
    fn events_changed(&mut self) -> Vec<usize> {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut changed: Vec<usize> = Vec::new();
        let mut ignored = Vec::new();
        {
            let mut r = inotify::Reader::new(&self.inotify, &mut buf);
            while let Ok(ev) = r.next() {
                if ev.events().contains(inotify::ReadFlags::IGNORED) {
                    ignored.push(ev.wd());
                } else if let Some(&slot) = self.by_wd.get(&ev.wd()) {
                    if !changed.contains(&slot) {
                        changed.push(slot);
                    }
                }
            }
        }
        for wd in ignored {
            if let Some(slot) = self.by_wd.remove(&wd) {
                if let Some(e) = self.entries.get_mut(slot).and_then(|e| e.as_mut()) {
                    e.wd = None;
                }
            }
        }
        changed.retain(|&slot| {
            let Some(e) = self.entries.get_mut(slot).and_then(|e| e.as_mut()) else {
                return false;
            };
            self.stats.events += 1;
            let Ok(text) = std::fs::read_to_string(&e.events) else {
                return false;
            };
            let now = high_and_max(&text);
            let rose = now.0 > e.counts.0 || now.1 > e.counts.1;
            e.counts = now;
            rose
        });
        changed
    }

    /// An event on `slot`: decide now if it crosses the threshold or the last event-driven
    /// decision is [`EVENT_GAP`] old.
    fn event(&mut self, slot: usize, source: &'static str, now: Instant, out: &mut Vec<Wake>) {
        let Some(e) = self.entries.get_mut(slot).and_then(|e| e.as_mut()) else {
            return;
        };
        let usage = read_current(&e.current);
        let crossing = !e.above && e.threshold.zip(usage).is_some_and(|(t, u)| u >= t);
        let due = e
            .last_event_decision
            .is_none_or(|t| now.saturating_duration_since(t) >= EVENT_GAP);
        if crossing || due {
            e.last_event_decision = Some(now);
            out.push(Wake {
                path: e.path.clone(),
                source,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_poll_interval_is_the_headroom_over_a_gibibyte_a_second_clamped() {
        let t = 100 * MIB;
        // 10 MiB under the threshold: 10 MiB at 1 GiB/s is 9.77 ms.
        let d = poll_interval(90 * MIB, t).unwrap();
        assert!((d.as_secs_f64() - 10.0 / 1024.0).abs() < 1e-6, "{d:?}");
        // The nearer, the shorter, down to 5 ms.
        assert!(poll_interval(95 * MIB, t).unwrap() < d);
        assert_eq!(poll_interval(t - 1, t), Some(MIN_POLL));
        assert_eq!(poll_interval(t - 4 * MIB, t), Some(MIN_POLL));
        assert!(poll_interval(t - 6 * MIB, t).unwrap() > MIN_POLL);
        // At or over the threshold: decided on, not polled.
        assert_eq!(poll_interval(t, t), None);
        assert_eq!(poll_interval(t + MIB, t), None);
        // A second or more of 1 GiB/s away: the pass reads it.
        let g = 1 << 30;
        assert_eq!(poll_interval(0, g), None);
        assert!(poll_interval(1, g).unwrap() < MAX_POLL);
        assert_eq!(poll_interval(MIB, 10 * g), None);
    }

    #[test]
    fn the_scenario_cgroup_is_polled_every_twenty_milliseconds_at_rest() {
        // memory.max 128 MiB, share 0.8, the main process at 80 MiB: 22.4 MiB of headroom.
        let t = (128.0 * MIB as f64 * 0.8) as u64;
        let d = poll_interval(80 * MIB, t).unwrap();
        assert!(
            d > Duration::from_millis(21) && d < Duration::from_millis(22),
            "{d:?}"
        );
    }

    #[test]
    fn high_and_max_are_read_from_memory_events() {
        let text = "low 0\nhigh 17\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(high_and_max(text), (17, 3));
        assert_eq!(high_and_max(""), (0, 0));
        assert_eq!(high_and_max("high x\nmax 2\n"), (0, 2));
    }

    /// A fake cgroup directory: `memory.current`, `memory.events`, `memory.pressure`.
    fn fake(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("preempt-v2-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.current"), format!("{}\n", 50 * MIB)).unwrap();
        std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\n").unwrap();
        std::fs::write(dir.join("memory.pressure"), PRESSURE).unwrap();
        dir
    }

    const PRESSURE: &str = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

    fn epoll() -> OwnedFd {
        epoll::create(epoll::CreateFlags::CLOEXEC).unwrap()
    }

    /// The tokens epoll reports within `ms`.
    fn ready(ep: &OwnedFd, ms: i64) -> Vec<u64> {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(8);
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: ms * 1_000_000,
        };
        epoll::wait(
            ep,
            rustix::buffer::spare_capacity(&mut events),
            Some(&timeout),
        )
        .unwrap();
        events.iter().map(|e| e.data.u64()).collect()
    }

    #[test]
    fn the_poll_wakes_the_cgroup_once_when_usage_crosses_the_threshold() {
        let dir = fake("poll");
        let ep = epoll();
        let mut v2 = V2Events::new(&ep).unwrap();
        v2.sync(&ep, [("/a", dir.as_path())]);
        assert_eq!(v2.len(), 1);
        // A plain file is no PSI trigger, and is left as it was.
        assert_eq!(v2.psi_open(), 0);
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.pressure")).unwrap(),
            PRESSURE
        );
        // Nothing to poll before a decision gave the threshold: the timer stays disarmed.
        assert!(ready(&ep, 20).is_empty());
        // 90 of 100 MiB: polled in 9.8 ms, the timerfd readable in the epoll set then.
        let t0 = Instant::now();
        v2.sampled("/a", 90 * MIB, Some(100 * MIB));
        std::fs::write(dir.join("memory.current"), format!("{}\n", 95 * MIB)).unwrap();
        assert_eq!(ready(&ep, 500), [TOKEN_V2_TIMER]);
        assert!(
            t0.elapsed() >= Duration::from_micros(9700),
            "{:?}",
            t0.elapsed()
        );
        assert!(v2.on_event(&ep, TOKEN_V2_TIMER).is_empty());
        assert_eq!(v2.stats.polls, 1);
        std::fs::write(dir.join("memory.current"), format!("{}\n", 101 * MIB)).unwrap();
        std::thread::sleep(Duration::from_millis(6));
        let woke = v2.on_event(&ep, TOKEN_V2_TIMER);
        assert_eq!(
            woke,
            [Wake {
                path: "/a".into(),
                source: "poll"
            }]
        );
        assert_eq!(v2.stats.crossings, 1);
        // Over the threshold it is not polled again: the crossing was decided on.
        std::thread::sleep(Duration::from_millis(10));
        assert!(v2.on_event(&ep, TOKEN_V2_TIMER).is_empty());
        assert_eq!(v2.stats.polls, 2);
        // Unmatched: its sources close.
        v2.sync(&ep, []);
        assert!(v2.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rise_of_high_or_max_in_memory_events_wakes_the_cgroup_at_most_once_per_gap() {
        let dir = fake("events");
        let ep = epoll();
        let mut v2 = V2Events::new(&ep).unwrap();
        v2.sync(&ep, [("/b", dir.as_path())]);
        v2.sampled("/b", 80 * MIB, Some(100 * MIB));
        let events = dir.join("memory.events");
        std::fs::write(&events, "low 0\nhigh 3\nmax 0\noom 0\n").unwrap();
        // The inotify instance is in the epoll set.
        assert!(ready(&ep, 500).contains(&TOKEN_V2));
        let first = Instant::now();
        let woke = v2.on_event(&ep, TOKEN_V2);
        assert_eq!(
            woke,
            [Wake {
                path: "/b".into(),
                source: "memory.events"
            }]
        );
        // A change that is not a rise of high or max (low) wakes nothing.
        std::fs::write(&events, "low 1\nhigh 3\nmax 0\noom 0\n").unwrap();
        assert!(v2.on_event(&ep, TOKEN_V2).is_empty());
        // A rise within EVENT_GAP of the last event-driven decision waits for the next.
        std::fs::write(&events, "low 1\nhigh 3\nmax 1\noom 0\n").unwrap();
        let woke = v2.on_event(&ep, TOKEN_V2);
        // (On a machine so loaded that the gap is over already, the rise wakes it.)
        assert_eq!(
            woke.len(),
            usize::from(first.elapsed() >= EVENT_GAP),
            "{woke:?}"
        );
        std::thread::sleep(EVENT_GAP);
        std::fs::write(&events, "low 1\nhigh 4\nmax 1\noom 0\n").unwrap();
        assert_eq!(v2.on_event(&ep, TOKEN_V2).len(), 1);
        assert_eq!(v2.stats.events, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_are_claimed() {
        assert!(owns(TOKEN_V2) && owns(TOKEN_V2_TIMER) && owns(TOKEN_V2_PSI | 9));
        assert!(!owns(3 << 32) && !owns(4 << 32) && !owns(7));
    }
}
