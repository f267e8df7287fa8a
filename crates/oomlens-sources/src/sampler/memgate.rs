//! When a pass on the real host reads `/proc/meminfo` again. Formatting it is the kernel's
//! largest share of an idle pass (`seq_printf` of ~55 lines: 17 % of a pass in
//! bench/README.md's profile), while `sysinfo(2)` gives free RAM from a few counters.
//! MemAvailable is read again when free RAM moved by more than 1/64 of RAM since the last
//! read, when free RAM is under 1/8 of RAM (near the guard's "MemAvailable < 10 %" risk
//! test MemAvailable can fall while free RAM stays at the watermarks, page cache being
//! reclaimed for anonymous memory: read every pass there), and at least every
//! [`MEMINFO_EVERY_SECONDS`]. A pass that does not read it carries the last values, as a
//! cgroup not read at a pass keeps its last usage.
//!
//! `sysinfo(2)` itself is not free either (`si_meminfo` walks the block devices for
//! `bufferram`): it is called again only once free RAM could have fallen to the 1/8 line
//! at [`FILL_BYTES_PER_SECOND`], earlyoom's assumed fastest fill rate (its `sleep_time_ms`,
//! main.c, sleeps for the same reason), less one pass of slack. Meanwhile a move of 1/64
//! of RAM shows at that next call, or within [`MEMINFO_EVERY_SECONDS`].
//!
//! Only for the real `/`: `sysinfo(2)` describes the running kernel, not a fake tree's files.

/// The longest a pass carries the last `/proc/meminfo` values, in seconds.
pub const MEMINFO_EVERY_SECONDS: f64 = 10.0;

/// The fastest RAM is assumed to fill: earlyoom's `mem_fill_rate`, 6000 MiB/s ("seen with
/// `stress -m 4 --vm-bytes 4G`").
pub const FILL_BYTES_PER_SECOND: f64 = 6000.0 * 1048576.0;

/// The free RAM (bytes) and monotonic time of the last `/proc/meminfo` read, and when
/// `sysinfo(2)` is due again.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemGate {
    last: Option<(u64, f64)>,
    next_sysinfo: f64,
    /// Free RAM as of this pass's `sysinfo(2)`, when it made one.
    free_now: Option<u64>,
}

/// How long after a `sysinfo(2)` that saw `free` of `total` bytes free the next one is
/// due: the time RAM takes to fall to the 1/8 line at [`FILL_BYTES_PER_SECOND`], less one
/// second (a pass at 1 s intervals); 0 (every pass) near or under the line.
pub fn sysinfo_gap(free: u64, total: u64) -> f64 {
    let headroom = free.saturating_sub(total / 8) as f64;
    (headroom / FILL_BYTES_PER_SECOND - 1.0).clamp(0.0, MEMINFO_EVERY_SECONDS)
}

impl MemGate {
    /// At a pass at `mono`: whether it reads `/proc/meminfo`. Calls `sysinfo(2)` when due
    /// ([`sysinfo_gap`]) or when meminfo is stale; a failed call reads meminfo.
    pub fn pass(&mut self, mono: f64) -> bool {
        self.free_now = None;
        let stale = self
            .last
            .is_none_or(|(_, at)| mono - at >= MEMINFO_EVERY_SECONDS);
        if !stale && mono < self.next_sysinfo {
            return false;
        }
        let Some((free, total)) = free_total() else {
            return true;
        };
        self.next_sysinfo = mono + sysinfo_gap(free, total);
        self.free_now = Some(free);
        stale || self.due(free, total, mono)
    }

    /// This pass, at `mono`, read meminfo.
    pub fn read_now(&mut self, mono: f64) {
        if let Some(free) = self.free_now {
            self.read_at(free, mono);
        }
    }

    /// Whether a pass at `mono` with `free` of `total` bytes of RAM free reads meminfo.
    pub fn due(&self, free: u64, total: u64, mono: f64) -> bool {
        let Some((was, at)) = self.last else {
            return true;
        };
        free < total / 8 || free.abs_diff(was) > total / 64 || mono - at >= MEMINFO_EVERY_SECONDS
    }

    /// A pass at `mono` read meminfo while `free` bytes were free.
    pub fn read_at(&mut self, free: u64, mono: f64) {
        self.last = Some((free, mono));
    }
}

/// Free and total RAM in bytes from `sysinfo(2)`.
pub fn free_total() -> Option<(u64, u64)> {
    // SAFETY: sysinfo fills the struct it is given; zeroed is a valid initial value.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a sysinfo struct.
    if unsafe { libc::sysinfo(&mut si) } != 0 {
        return None;
    }
    let unit = u64::from(si.mem_unit.max(1));
    // c_ulong: 64 bits here, 32 on 32-bit targets (widening either way).
    Some((
        (si.freeram as u64).saturating_mul(unit),
        (si.totalram as u64).saturating_mul(unit),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// 16 GiB: a move over 256 MiB, free under 2 GiB, or 10 s reads again; else not.
    #[test]
    fn meminfo_is_read_when_free_ram_moved_is_low_or_stale() {
        let total = 16 * GIB;
        let mut g = MemGate::default();
        assert!(g.due(8 * GIB, total, 0.0), "first pass");
        g.read_at(8 * GIB, 0.0);
        assert!(
            !g.due(8 * GIB + 200 * (1 << 20), total, 1.0),
            "moved 200 MiB"
        );
        assert!(
            g.due(8 * GIB - 300 * (1 << 20), total, 1.0),
            "moved 300 MiB"
        );
        assert!(!g.due(8 * GIB, total, 9.9));
        assert!(g.due(8 * GIB, total, 10.0), "10 s");
        g.read_at(GIB, 1.0);
        assert!(g.due(GIB, total, 2.0), "under 1/8 free: every pass");
    }

    /// 16 GiB with 14 free: 12 GiB above the 2 GiB line, about 2 s at 6000 MiB/s, less the
    /// pass: one second. At or under the line, or with nearly all of it free on a small
    /// machine: every pass (0); never more than the meminfo cap.
    #[test]
    fn sysinfo_waits_as_long_as_ram_cannot_fill() {
        let total = 16 * GIB;
        let gap = sysinfo_gap(14 * GIB, total);
        assert!((gap - (12.0 * 1024.0 / 6000.0 - 1.0)).abs() < 1e-9, "{gap}");
        assert_eq!(sysinfo_gap(2 * GIB, total), 0.0);
        assert_eq!(sysinfo_gap(GIB, total), 0.0);
        assert_eq!(sysinfo_gap(3 * GIB, 4 * GIB), 0.0);
        assert_eq!(sysinfo_gap(1 << 50, 1 << 51), MEMINFO_EVERY_SECONDS);
    }

    /// On this machine: the first pass reads meminfo; the next passes do not call
    /// sysinfo before its gap, and meminfo is read again by the cap at the latest.
    #[test]
    fn passes_follow_the_gap_and_the_cap() {
        let mut g = MemGate::default();
        assert!(g.pass(0.0), "first pass");
        g.read_now(0.0);
        let next = g.next_sysinfo;
        let (free, total) = free_total().unwrap();
        assert!((next - sysinfo_gap(free, total)).abs() < 0.5, "{next}");
        if next > 1.0 {
            assert!(
                !g.pass(0.5) && g.free_now.is_none(),
                "no sysinfo before the gap"
            );
        }
        assert!(g.pass(MEMINFO_EVERY_SECONDS), "the cap");
        assert!(g.free_now.is_some(), "a stale read brings its sysinfo");
    }

    /// The running kernel's figures are sane.
    #[test]
    fn sysinfo_gives_free_below_total() {
        let (free, total) = free_total().unwrap();
        assert!(total > 0 && free <= total, "{free} of {total}");
    }
}
