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
//! Only for the real `/`: `sysinfo(2)` describes the running kernel, not a fake tree's files.

/// The longest a pass carries the last `/proc/meminfo` values, in seconds.
pub const MEMINFO_EVERY_SECONDS: f64 = 10.0;

/// The free RAM (bytes) and monotonic time of the last `/proc/meminfo` read.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemGate {
    last: Option<(u64, f64)>,
}

impl MemGate {
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

    /// The running kernel's figures are sane.
    #[test]
    fn sysinfo_gives_free_below_total() {
        let (free, total) = free_total().unwrap();
        assert!(total > 0 && free <= total, "{free} of {total}");
    }
}
