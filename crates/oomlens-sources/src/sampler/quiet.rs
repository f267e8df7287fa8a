//! The quiet pass of the guard's profile. When no cgroup is due anything before a known
//! tick and the top cgroup's usage stays within [`CHANGE_BYTES`](super::CHANGE_BYTES) of
//! both references that [`Sampler::sample_cgroups`] compares it with (or fell below the
//! children's, within [`super::GUARD_KIDS_FALL_GAP`] of their last read), a full cgroup
//! pass would read that one usage file and change nothing else: no child's usage (the top
//! did not move), no full read (none due, none pending, none urgent), no re-listing
//! (every directory is watched). The quiet pass makes that one read and updates that one
//! row, and the rest of the walk is not touched at all.
//!
//! Why a second path for the same result: an idle guard's pass is mostly cold cache misses
//! (bench/README.md: ~560 cache lines touched per pass against earlyoom's ~260, at about
//! the same instruction count), and the general pass walks every node, the scratch
//! vectors, the rows and the listing cursor to find nothing to do. Any doubt falls back to
//! the general pass: it takes the usage just read and decides as it always did.

use oomlens_model::Sample;

use super::{pass, Sampler};
use crate::SourceError;

/// What lets the next passes be quiet, set after a general pass that left nothing waiting.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quiet {
    /// The first tick at which some cgroup is due its rotation turn.
    until_tick: u64,
    /// The top cgroup's row in `last.cgroups`.
    pub(super) row: usize,
    /// The system was at risk ([`super::SYSTEM_RISK_AVAILABLE`]) at that pass: a pass
    /// where that flips decides every cgroup's wait again.
    system_risk: bool,
    /// `last_changed` has been cleared by a quiet pass (all false but the top's row).
    clean: bool,
}

impl Sampler {
    /// After a general pass (`self.last` is its sample): arms the quiet pass when nothing of
    /// the walk waits for a tick, else disarms it.
    pub(super) fn arm_quiet(&mut self) {
        self.quiet = self.quiet_state();
    }

    fn quiet_state(&self) -> Option<Quiet> {
        let guard = self.quiet_allowed && self.risk_share.is_some() && self.full_every > 1;
        if !guard || self.mounts || self.deleted_files || self.stats.deferred > 0 {
            return None;
        }
        // Below a focus, its ancestors are read every pass (their limits): not quiet.
        if self.focus != "/" {
            return None;
        }
        self.nodes.first()?.usage_file.as_ref()?;
        let mut until_tick = u64::MAX;
        for node in &self.nodes {
            let waiting = node.gone || node.urgent || node.pending_since.is_some();
            if waiting || node.full.is_none() || !node.dir_watched {
                return None;
            }
            until_tick = until_tick.min(node.next_due);
            // A drop held back by the gap is read when it ends (the general pass decides;
            // the top's usage, read by the quiet pass, is checked there).
            if node.drop_gap_end() > self.tick && node.dropped() {
                until_tick = until_tick.min(node.drop_gap_end());
            }
            // So is a fall held back from its children (the top's too: the quiet pass
            // checks it, but the general pass decides every node's alike).
            let fall_end = node
                .usage
                .and_then(|u| node.kids_fall_end(u, self.kids_fall_gap));
            if let Some(end) = fall_end {
                until_tick = until_tick.min(end.max(self.tick + 1));
            }
        }
        let row = self.last_nodes.iter().position(|&i| i == 0)?;
        Some(Quiet {
            until_tick,
            row,
            system_risk: pass::system_risk(&self.last, self.risk_share),
            clean: false,
        })
    }

    /// Makes this tick's pass a quiet one when it may be: true when done (`self.last` then
    /// holds it, with `s`'s time, memory and pressure), false when the general pass must
    /// run (after a usage read, it takes that one: `top_read`).
    pub(super) fn quiet_pass(&mut self, tick: u64, s: &Sample) -> Result<bool, SourceError> {
        let Some(mut q) = self.quiet.filter(|q| tick < q.until_tick) else {
            return Ok(false);
        };
        let Some(share) = self.risk_share else {
            return Ok(false);
        };
        if pass::system_risk(s, self.risk_share) != q.system_risk {
            return Ok(false);
        }
        let top = &mut self.nodes[0];
        let (Some(file), Some(st)) = (&top.usage_file, &top.full) else {
            return Ok(false);
        };
        self.stats.usage_reads += 1;
        let Some(u) = file.read()? else {
            return Ok(false); // gone: the general pass finds it so
        };
        let kids_moved = top.kids_moved(u, tick, self.kids_fall_gap);
        // As the general pass decides the top: a move beyond CHANGE_BYTES that does not
        // wait (at risk, or a drop, which never waits) is pending a full read now.
        let dropped = st.dropped(u) && tick >= top.drop_gap_end();
        let wait = pass::waits(share, q.system_risk, dropped, Some(u), st.own_limit());
        if kids_moved || (st.changed(u) && !wait) {
            self.top_read = Some(u);
            self.stats.quiet_fallback = true;
            return Ok(false);
        }
        let dirty = top.usage != Some(u);
        top.usage = Some(u);
        top.kids_held(u);
        top.dirty = false;
        if dirty {
            self.last.cgroups[q.row].usage = Some(u);
        }
        if !q.clean {
            self.last_changed.fill(false);
            q.clean = true;
        }
        self.last_changed[q.row] = dirty;
        self.quiet = Some(q);
        self.stats.quiet_pass = true;
        self.last.unix = s.unix;
        self.last.mono = s.mono;
        self.last.mem_total = s.mem_total;
        self.last.mem_available = s.mem_available;
        self.last.psi_some_avg10 = s.psi_some_avg10;
        self.last.processes.clear();
        Ok(true)
    }
}
