//! The sampler's clock, injected so that tests can step time by hand.

use std::sync::{Arc, Mutex};

/// Where a sampler takes the time of a pass from.
pub trait Clock {
    /// Wall-clock time, seconds since the Unix epoch (UTC).
    fn unix(&self) -> f64;
    /// Monotonic time, seconds from a fixed origin; never goes back.
    fn mono(&self) -> f64;
}

/// The host's clocks: `CLOCK_REALTIME` and `CLOCK_MONOTONIC` (seconds since boot, so a
/// monotonic time in a record can be matched with the kernel log's timestamps).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

fn clock_seconds(id: libc::clockid_t) -> f64 {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer; both clocks exist on every Linux.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

impl Clock for SystemClock {
    fn unix(&self) -> f64 {
        clock_seconds(libc::CLOCK_REALTIME)
    }
    fn mono(&self) -> f64 {
        clock_seconds(libc::CLOCK_MONOTONIC)
    }
}

/// A clock that moves only when told to, for tests. Clones share the time, so a test keeps
/// one and hands the other to the sampler.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<Mutex<(f64, f64)>>,
}

impl ManualClock {
    /// A clock at wall-clock `unix` and monotonic `mono` seconds.
    pub fn new(unix: f64, mono: f64) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new((unix, mono))),
        }
    }

    /// Moves both times forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        now.0 += seconds;
        now.1 += seconds;
    }

    fn get(&self) -> (f64, f64) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn unix(&self) -> f64 {
        self.get().0
    }
    fn mono(&self) -> f64 {
        self.get().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::new(1_700_000_000.0, 5.0);
        let s = c.clone();
        assert_eq!((s.unix(), s.mono()), (1_700_000_000.0, 5.0));
        c.advance(1.5);
        assert_eq!((s.unix(), s.mono()), (1_700_000_001.5, 6.5));
    }

    #[test]
    fn system_clock_is_after_2020_and_monotonic() {
        let c = SystemClock;
        assert!(c.unix() > 1_577_836_800.0);
        let a = c.mono();
        assert!(c.mono() >= a);
    }
}
