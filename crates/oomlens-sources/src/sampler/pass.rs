//! The cgroup part of a pass: usage reads where the parent moved, then full reads of what
//! needs one, in order of need, under the pass's time budget.

use std::time::Instant;

use oomlens_model::{cgroup_path, CgroupMemory, CgroupSample, Sample};

use super::{CgNode, CgState, Sampler, CHANGE_BYTES, GUARD_DROP_READ_GAP};
use crate::cgroupfs::{CgroupFs, Detail, UsageFile};
use crate::SourceError;

fn cgroup_sample(path: &str, c: CgroupMemory, t: f64) -> CgroupSample {
    CgroupSample {
        path: path.to_string(),
        usage: c.usage,
        max: c.max,
        high: c.high,
        soft_limit: c.soft_limit,
        anon: c.split.anon,
        file: c.split.file,
        shmem: c.split.shmem,
        swap: c
            .swap_current
            .or_else(|| Some(c.memsw_usage?.saturating_sub(c.usage?))),
        failcnt: c.failcnt,
        oom_kill: c.oom_kill,
        psi_some_avg10: c.pressure.map(|p| p.some_avg10),
        psi_some_total_us: c.pressure.map(|p| p.some_total_us),
        counters_t: Some(t),
    }
}

/// In the guard's profile (`risk_share`), every cgroup that moved is at risk while
/// MemAvailable is below [`super::SYSTEM_RISK_AVAILABLE`] of MemTotal.
pub(super) fn system_risk(s: &Sample, risk_share: Option<f64>) -> bool {
    match (s.mem_available, s.mem_total, risk_share) {
        (Some(a), Some(t), Some(_)) => (a as f64) < t as f64 * super::SYSTEM_RISK_AVAILABLE,
        _ => false,
    }
}

/// True when a cgroup that moved waits for its rotation turn instead of a full read now:
/// not at risk (usage under `share` of `eff_limit`, the smallest limit on its path), the
/// system not at risk, and its usage did not drop.
pub(super) fn waits(
    share: f64,
    system_risk: bool,
    dropped: bool,
    usage: Option<u64>,
    eff_limit: u64,
) -> bool {
    !system_risk && !dropped && usage.is_none_or(|u| (u as f64) < share * eff_limit as f64)
}

impl CgState {
    /// Usage `u` moved beyond [`CHANGE_BYTES`] from this full read's.
    pub(super) fn changed(&self, u: u64) -> bool {
        u.abs_diff(self.full_usage) > CHANGE_BYTES
    }

    /// A large drop (a kill freed the victim's memory, a job ended) makes the last split
    /// and process list wrong, not merely old: read them at once, at risk or not, or the
    /// window would carry the dead victim's anon and RSS forward until the cgroup next
    /// reached the risk line (seen in a restart loop's report: 32 MiB held for 5 s after
    /// the kill). An eighth of the last full read keeps small ebbs (page cache reclaimed)
    /// on the quiet cadence. A larger ebb far from the limit costs `memory.stat` (the
    /// split; not the limits: `Sampler::read_counters`), `cgroup.procs` and the `status`
    /// of new pids only (a drop read, `CgNode::drop_read`):
    /// a victim leaves `cgroup.procs` (even as a zombie: cgroup-v2.rst, "A zombie process
    /// does not appear in cgroup.procs"; v1 shares the task iterator), so its series ends,
    /// and the processes still listed keep their last read. On the test VM the root
    /// cgroup's page cache ebbed past an eighth several times a minute, and each time all
    /// of its processes were read. Not more than once per
    /// [`super::GUARD_DROP_READ_GAP`] ticks (`CgNode::drop_due`).
    pub(super) fn dropped(&self, u: u64) -> bool {
        fell_an_eighth(u, self.full_usage)
    }

    /// Its own limit in bytes as of this read (`u64::MAX`: none).
    pub(super) fn own_limit(&self) -> u64 {
        self.sample.max.and_then(|m| m.bytes()).unwrap_or(u64::MAX)
    }
}

/// True when usage `u` is below `from` by more than an eighth of it (and by more than
/// [`CHANGE_BYTES`]): a drop, where less is an ebb.
fn fell_an_eighth(u: u64, from: u64) -> bool {
    u.saturating_add(CHANGE_BYTES.max(from / 8)) < from
}

/// The row of a cgroup: its last full read with this pass's usage, or its usage alone.
pub(super) fn node_row(path: String, node: &CgNode) -> CgroupSample {
    match &node.full {
        Some(st) => CgroupSample {
            path,
            usage: node.usage.or(st.sample.usage),
            ..st.sample
        },
        None => CgroupSample {
            path,
            usage: node.usage,
            ..CgroupSample::default()
        },
    }
}

/// The per-pass working vectors of [`Sampler::sample_cgroups`], kept between passes.
#[derive(Debug, Default)]
pub(super) struct PassScratch {
    /// Per cgroup of the walk: its children's usage is read this pass.
    moved: Vec<bool>,
    /// Per cgroup of the walk: the smallest limit on its path (risk_share only). Not
    /// MemTotal at the top: usage counts page cache, so the root sits near MemTotal on any
    /// busy host; the system's risk is MemAvailable's (system_risk).
    eff_limit: Vec<u64>,
    /// The full reads wanted: (order class, waiting since, index).
    wanted: Vec<(u8, u64, usize)>,
}

impl PassScratch {
    /// Ready for a pass over `n` cgroups: none moved, no limit, nothing wanted.
    fn reset(&mut self, n: usize) {
        self.moved.clear();
        self.moved.resize(n, false);
        self.eff_limit.clear();
        self.eff_limit.resize(n, u64::MAX);
        self.wanted.clear();
    }
}

impl CgNode {
    /// True when its usage dropped (`CgState::dropped`) and no drop read was made in the
    /// last [`GUARD_DROP_READ_GAP`] ticks.
    pub(super) fn drop_due(&self, tick: u64) -> bool {
        self.dropped() && tick >= self.drop_gap_end()
    }

    /// True when its last usage read dropped from its last full read's (`CgState::dropped`).
    pub(super) fn dropped(&self) -> bool {
        match (&self.full, self.usage) {
            (Some(st), Some(u)) => st.dropped(u),
            _ => false,
        }
    }

    /// The first tick a drop read may come again.
    pub(super) fn drop_gap_end(&self) -> u64 {
        self.drop_tick.map_or(0, |t| t + GUARD_DROP_READ_GAP)
    }

    /// True when its children's usage is to be read at `tick`, its usage being `u`: it
    /// rose by more than [`CHANGE_BYTES`] from the lowest usage read since they were last
    /// read, or fell from where it stood then by more than an eighth of that (a drop, as
    /// in `CgState::dropped`: a kill without its event, a job ended), or by more than
    /// CHANGE_BYTES and `fall_gap` ticks have passed since (or they never were read). Not
    /// since its own last full read: a parent that drifted once and then stayed (page
    /// cache grown, then quiet) would otherwise have every child read every pass until its
    /// next full read, up to `GUARD_QUIET_FULL_EVERY` passes later.
    pub(super) fn kids_moved(&self, u: u64, tick: u64, fall_gap: u64) -> bool {
        let rose = u > self.kids_low.saturating_add(CHANGE_BYTES);
        let fell = self
            .kids_fall_end(u, fall_gap)
            .is_some_and(|end| end <= tick);
        rose || fell || self.kids_ref.is_none()
    }

    /// When its fall to `u` reads its children (`None`: it did not fall beyond
    /// [`CHANGE_BYTES`] from where it stood when they were last read).
    pub(super) fn kids_fall_end(&self, u: u64, fall_gap: u64) -> Option<u64> {
        let r = self.kids_ref?;
        if fell_an_eighth(u, r) {
            Some(self.kids_tick)
        } else if u.saturating_add(CHANGE_BYTES) < r {
            Some(self.kids_tick.saturating_add(fall_gap))
        } else {
            None
        }
    }

    /// Its usage `u` was read and its children's were not: the lowest since.
    pub(super) fn kids_held(&mut self, u: u64) {
        self.kids_low = self.kids_low.min(u);
    }

    /// [`CgNode::kids_moved`] for this pass's usage; when due, remembers its usage and
    /// `tick` as of the children's read.
    fn kids_due(&mut self, tick: u64, fall_gap: u64) -> bool {
        let Some(u) = self.usage else {
            self.kids_ref = None;
            return true;
        };
        let due = self.kids_moved(u, tick, fall_gap);
        if due {
            (self.kids_ref, self.kids_low, self.kids_tick) = (Some(u), u, tick);
        } else {
            self.kids_held(u);
        }
        due
    }
}

impl Sampler {
    /// The cgroup part of a pass.
    ///
    /// 1. Usage of each cgroup whose parent moved by more than [`CHANGE_BYTES`] since the
    ///    children's usage was last read (usage is hierarchical: a quiet parent means quiet
    ///    children, up to [`CHANGE_BYTES`] each way), one `pread` of a held file.
    /// 2. Full reads (every counter, `memory.stat`, `cgroup.procs`, one `status` per
    ///    process) of the cgroups that need one, in this order: never read; moved beyond
    ///    [`CHANGE_BYTES`] since their last full read (longest waiting first); due by the
    ///    [`FULL_EVERY`] rotation. After the first pass they stop at [`PASS_BUDGET`]; the
    ///    rest wait for the next pass (they keep their place) and meanwhile show their last
    ///    counters with this pass's usage (`counters_t` says when those were read).
    ///    With a `risk_share` (the guard's profile), a moved cgroup is read at once only
    ///    when at risk (usage at least that share of the smallest limit on its path; any
    ///    cgroup while MemAvailable is below
    ///    [`super::SYSTEM_RISK_AVAILABLE`] of MemTotal) or marked urgent (these before the others,
    ///    outside the budget); the others wait for their rotation turn.
    pub(super) fn sample_cgroups(
        &mut self,
        fs: &CgroupFs,
        tick: u64,
        s: &mut Sample,
    ) -> Result<(), SourceError> {
        let pass_start = Instant::now();
        // Taken first: a pass that fails leaves no rows paired with nodes.
        let prev_nodes = std::mem::take(&mut self.last_nodes);
        if self.tree.is_empty() || self.full_every == 1 {
            self.rewalk(fs)?;
        } else {
            self.relist(fs)?;
        }
        let n = self.tree.len();
        // Buffers kept from pass to pass (taken out of `self`, which the reads borrow): an
        // idle pass allocates nothing.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.reset(n);
        let PassScratch {
            moved,
            eff_limit,
            wanted,
        } = &mut scratch;
        let system_risk = system_risk(s, self.risk_share);
        for i in 0..n {
            let node = &mut self.nodes[i];
            if node.gone {
                continue;
            }
            let parent_moved = node.parent.is_none_or(|p| moved[p]);
            let never = node.full.is_none();
            if parent_moved || never || self.full_every <= 1 {
                let Some(file) = &node.usage_file else {
                    node.gone = true;
                    continue;
                };
                // The top's usage a quiet pass read this tick before falling back.
                let read = match self.top_read.take().filter(|_| i == 0) {
                    Some(u) => Some(u),
                    None => {
                        self.stats.usage_reads += 1;
                        file.read()?
                    }
                };
                match read {
                    Some(u) => {
                        node.dirty |= node.usage != Some(u);
                        node.usage = Some(u);
                    }
                    None => {
                        node.gone = true;
                        continue;
                    }
                }
            }
            let changed = match (&node.full, node.usage) {
                (Some(st), Some(u)) => st.changed(u),
                _ => false,
            };
            // kids_due first: it records the usage its children are read at.
            moved[i] = node.kids_due(tick, self.kids_fall_gap) || never;
            let own = node.full.as_ref().map_or(u64::MAX, CgState::own_limit);
            let above = node.parent.map_or(u64::MAX, |p| eff_limit[p]);
            eff_limit[i] = own.min(above);
            let urgent = std::mem::take(&mut node.urgent);
            let dropped = node.drop_due(tick);
            let wait_if = |dropped| {
                self.risk_share.is_some_and(|share| {
                    waits(share, system_risk, dropped, node.usage, eff_limit[i])
                })
            };
            let wait = wait_if(dropped);
            if changed && !wait {
                node.pending_since.get_or_insert(tick);
            }
            // Not for an event (urgent) or a first read: those read the processes.
            node.drop_read = dropped && !urgent && !never && wait_if(false);
            if never || urgent {
                wanted.push((0, 0, i));
            } else if self.full_every <= 1 {
                wanted.push((2, 0, i));
            } else if let Some(since) = node.pending_since {
                wanted.push((1, since, i));
            } else if node.next_due <= tick {
                let due = node.next_due;
                if !self.quiet_turn(i, tick, parent_moved || never)? {
                    wanted.push((2, due, i));
                }
            }
        }
        wanted.sort_unstable();
        let deadline = self
            .budget
            .filter(|_| tick > 1 && self.full_every > 1)
            .map(|b| pass_start + b);
        // In the guard's profile what is urgent or at risk (class 0 and 1) is read whatever
        // the budget: it is what an incident's record needs.
        let guard = self.risk_share.is_some();
        let keep = |class: u8| guard && class < 2;
        for (k, &(class, _, i)) in wanted.iter().enumerate() {
            if !keep(class) && deadline.is_some_and(|d| Instant::now() >= d) {
                self.stats.deferred = wanted.len() - k;
                break;
            }
            self.full_read(fs, i, tick, s)?;
        }
        self.scratch = scratch;
        self.rows(prev_nodes, s);
        self.ancestors.clear();
        if self.focus != "/" {
            let above: Vec<String> = cgroup_path::ancestors(&self.focus)
                .map(str::to_string)
                .collect();
            for a in above {
                if let Some(c) = fs.memory(&a, Detail::Counters)? {
                    self.ancestors.push(cgroup_sample(&a, c, s.mono));
                }
            }
        }
        Ok(())
    }

    /// At cgroup `i`'s rotation turn: true when the turn passes, its usage not having
    /// changed by a byte since its last full read (read now unless `usage_read` this tick),
    /// up to `quiet_full_every` ticks after that read; it is then due a rotation later. A
    /// cgroup whose usage file is gone is marked so, and its turn passes.
    fn quiet_turn(&mut self, i: usize, tick: u64, usage_read: bool) -> Result<bool, SourceError> {
        let node = &mut self.nodes[i];
        let Some(q) = self.quiet_full_every else {
            return Ok(false);
        };
        let Some(full_usage) = node.full.as_ref().map(|st| st.full_usage) else {
            return Ok(false);
        };
        if tick >= node.full_tick + q {
            return Ok(false); // the backstop: read in full
        }
        if !usage_read {
            self.stats.usage_reads += 1;
            match node.usage_file.as_ref().map(UsageFile::read).transpose()? {
                Some(Some(u)) => {
                    node.dirty |= node.usage != Some(u);
                    node.usage = Some(u);
                }
                _ => {
                    node.gone = true;
                    return Ok(true);
                }
            }
        }
        if node.usage != Some(full_usage) {
            return Ok(false);
        }
        self.stats.quiet_skips += 1;
        node.next_due = tick + self.full_every;
        Ok(true)
    }

    /// The rows of the sample (`s.cgroups`, one per cgroup not gone, in walk order) and
    /// their nodes (`pass_nodes`). While the walk kept its shape (no splice, no rewalk, no
    /// cgroup gone) the last pass's rows are updated in place where their node changed
    /// (`dirty`): a quiet tree of 10,000 cgroups then costs no copy of 10,000 rows a pass.
    /// Otherwise they are built again, each recycling an old row's path string.
    fn rows(&mut self, prev_nodes: Vec<usize>, s: &mut Sample) {
        let mut rows = std::mem::take(&mut self.last.cgroups);
        let same = self.rows_shape == self.shape
            && rows.len() == prev_nodes.len()
            && prev_nodes.iter().all(|&i| !self.nodes[i].gone);
        self.last_changed.clear();
        if same {
            for (row, &i) in rows.iter_mut().zip(&prev_nodes) {
                let node = &mut self.nodes[i];
                let dirty = std::mem::take(&mut node.dirty);
                if dirty {
                    let path = std::mem::take(&mut row.path);
                    *row = node_row(path, node);
                }
                self.last_changed.push(dirty);
            }
            s.cgroups = rows;
            self.pass_nodes = prev_nodes;
            return;
        }
        let mut recycled = rows.into_iter();
        self.pass_nodes.clear();
        for (i, (path, node)) in self.tree.iter().zip(&mut self.nodes).enumerate() {
            node.dirty = false;
            if node.gone {
                continue;
            }
            let mut p = recycled.next().map(|c| c.path).unwrap_or_default();
            p.clear();
            p.push_str(path);
            s.cgroups.push(node_row(p, node));
            self.pass_nodes.push(i);
        }
        self.last_changed.resize(s.cgroups.len(), true);
        self.rows_shape = self.shape;
    }

    /// The counters of cgroup `i` for a full read at `mono` (`None`: it is gone). A drop
    /// read reads `memory.stat`'s split alone (one file, against nine on v1): a fall in
    /// usage changes the usage (read this pass) and the split, not the limits; failures
    /// and kills have their own events, and the next full read has them all.
    fn read_counters(
        &self,
        fs: &CgroupFs,
        i: usize,
        mono: f64,
    ) -> Result<Option<CgroupSample>, SourceError> {
        let (path, node) = (&self.tree[i], &self.nodes[i]);
        if let (true, Some(st)) = (node.drop_read, &node.full) {
            if let Some(split) = fs.split(path)? {
                return Ok(Some(CgroupSample {
                    usage: node.usage.or(st.sample.usage),
                    anon: split.anon,
                    file: split.file,
                    shmem: split.shmem,
                    counters_t: Some(mono),
                    ..st.sample.clone()
                }));
            }
        }
        Ok(fs
            .memory(path, Detail::Counters)?
            .map(|c| cgroup_sample(path, c, mono)))
    }

    /// Reads cgroup `i` in full, with its processes.
    fn full_read(
        &mut self,
        fs: &CgroupFs,
        i: usize,
        tick: u64,
        s: &mut Sample,
    ) -> Result<(), SourceError> {
        self.stats.full_reads += 1;
        let path = &self.tree[i];
        let Some(sample) = self.read_counters(fs, i, s.mono)? else {
            self.nodes[i].gone = true;
            return Ok(());
        };
        let mut pids = fs.procs(path)?.unwrap_or_default();
        // cgroup.procs is sorted on v1 only (v2 lists by css_set); sorted, the lists built
        // below are in pid order, for the searches here and at the next read.
        pids.sort_unstable();
        let node = &mut self.nodes[i];
        // Set this pass, and never for a cgroup not read before.
        let drop_read = node.drop_read;
        let (was, was_memless) = node.full.as_mut().map_or_else(Default::default, |st| {
            (
                std::mem::take(&mut st.procs),
                std::mem::take(&mut st.memless),
            )
        });
        let mut procs = Vec::with_capacity(pids.len());
        let mut memless = Vec::new();
        for pid in pids {
            let had = was.binary_search_by_key(&pid, |p| p.pid).ok();
            let had_none = was_memless.binary_search(&pid).is_ok();
            if drop_read && (had.is_some() || had_none) {
                // A drop read: what was listed keeps its last read; only new pids are read.
                self.stats.procs_kept += 1;
                match had {
                    Some(k) => procs.push(was[k].clone()),
                    None => memless.push(pid),
                }
                continue;
            }
            // A kernel thread (most of a root cgroup's list) stays one; a pid reused since
            // by a process with memory has an `exe` link again, and is read.
            if had_none && self.proc.lacks_mm(pid) {
                self.stats.memless_skips += 1;
                memless.push(pid);
                continue;
            }
            match self.read_process(pid, path)? {
                Some(p) => {
                    s.processes.push(p.clone());
                    procs.push(p);
                }
                None => memless.push(pid),
            }
        }
        // Processes that left (or exited) lose their series; one that moved to a cgroup not
        // yet re-read starts a new one there.
        for p in &was {
            if procs.binary_search_by_key(&p.pid, |q| q.pid).is_err() {
                self.vanished.push(p.pid);
                self.deleted.remove(&p.pid);
            }
        }
        let node = &mut self.nodes[i];
        let first = node.full.is_none();
        node.usage = sample.usage.or(node.usage);
        node.full = Some(CgState {
            full_usage: sample.usage.unwrap_or(0),
            sample,
            procs,
            memless,
        });
        node.pending_since = None;
        node.dirty = true;
        node.procs_tick = tick;
        if drop_read {
            node.drop_tick = Some(tick);
            // The listed processes were not read: the backstop's clock (full_tick) and the
            // rotation's turn stay those of their last read.
            return Ok(());
        }
        node.full_tick = tick;
        // The first full reads are staggered over the rotation, so each later pass
        // refreshes about 1/FULL_EVERY of the tree.
        let every = self.full_every.max(1);
        node.next_due = tick + if first { 1 + i as u64 % every } else { every };
        Ok(())
    }
}
