//! The budgeted sampler behind `oomlens top` (and the guard daemon to come): one pass per
//! [`Sampler::tick`] reads the memory cgroup tree (or the subtree of a focus, plus the
//! focus's ancestors for their limits), the processes of each cgroup (`cgroup.procs`, then
//! one `status` each), the mounts and, in a rolling scan ([`DELETED_ROUND`]), the
//! deleted-but-open files, and returns an `oomlens_model::Sample` of raw counters stamped
//! with wall-clock and monotonic time from an injected [`Clock`].
//!
//! A pass costs what changed, not what the tree holds: usage files are held open (up to a
//! descriptor budget the caller passes in) and read with one `pread`; a cgroup is read in
//! full only when its usage moved ([`CHANGE_BYTES`]) or its turn came ([`FULL_EVERY`]);
//! full reads after the first pass stop at a time budget ([`PASS_BUDGET`]); directories are
//! re-listed a slice per pass ([`WALK_EVERY`]).
//!
//! The sampler keeps no history: the caller records each sample (and the pids whose
//! series end, [`Sampler::vanished`]) in an `oomlens_store::Store`.
//!
//! Files: `tree.rs` (walk, re-listing, splicing), `pass.rs` (usage and full reads under the
//! budget), `quiet.rs` (the guard's one-read pass when nothing moved or is due),
//! `memgate.rs` (when /proc/meminfo is read again), `held.rs` (files held open),
//! `deleted.rs` (the deleted-file scan), `clock.rs`.

mod clock;
mod deleted;
mod held;
mod memgate;
mod pass;
mod quiet;
mod tree;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use oomlens_model::{
    CgroupSample, CgroupVersion, DeletedOpenFile, MountSample, ProcessSample, Sample,
};

use crate::cgroupfs::{CgroupFs, UsageFile};
use crate::mounts;
use crate::procfs::ProcFs;
use crate::SourceError;

pub use clock::{Clock, ManualClock, SystemClock};

/// The rolling deleted-file scan covers every process in this many passes (a readlink per
/// fd of every process is the costliest read there is)...
pub const DELETED_ROUND: usize = 10;

/// ...looking at no more than this many processes per pass.
pub const DELETED_PER_PASS: usize = 500;

/// Full reads of a pass after the first stop after this much wall-clock time (a pass is
/// single-threaded, so its CPU time is at most that); what is left waits for the next pass.
pub const PASS_BUDGET: Duration = Duration::from_millis(25);

/// A cgroup whose usage moved by more than this since its last full read is read in full
/// (all counters, `memory.stat`, its processes); one that did not keeps its last values and
/// costs one read (`memory.current` / `memory.usage_in_bytes`), and when its parent did not
/// move either (usage is hierarchical), not even that.
pub const CHANGE_BYTES: u64 = 64 * 1024;

/// Every cgroup is read in full at least every this many ticks anyway (staggered, so each
/// tick refreshes 1/FULL_EVERY of the tree): moves that cancel out inside a parent, and
/// processes that came or went in a quiet cgroup, show within this many ticks.
pub const FULL_EVERY: u64 = 60;

/// Every directory of the cgroup tree is listed again within this many ticks, 1/WALK_EVERY
/// of them per tick (new and removed cgroups show within it).
pub const WALK_EVERY: u64 = 30;

/// The guard's profile ([`SamplerConfig::guard`]): a quiet cgroup's counters and processes
/// are read at least every this many ticks (5 minutes at one tick a second)...
pub const GUARD_FULL_EVERY: u64 = 300;

/// ...unless its usage has not changed at all since its last full read: then its turn
/// passes (one usage `pread` says so), up to this many ticks after that read (an hour at
/// one tick a second). What can be missed meanwhile: a process that came or went, or a
/// limit that changed, without moving the cgroup's usage by a single byte; an event
/// naming the cgroup ([`Sampler::mark_urgent`]) or any move brings the full read sooner...
pub const GUARD_QUIET_FULL_EVERY: u64 = 3600;

/// ...its directories re-listed within this many ticks (those the caller watches with
/// inotify, [`Sampler::watch_dirs`], not at all)...
pub const GUARD_WALK_EVERY: u64 = 60;

/// ...and a cgroup whose usage moved is read in full at once only when at risk: its usage
/// at least this share of its effective limit (the smallest of its own and its
/// ancestors'; not MemTotal, which usage, page cache included, nears on any busy host).
pub const GUARD_RISK_SHARE: f64 = 0.5;

/// ...and a cgroup whose usage dropped by an eighth (a drop read, its `memory.stat`
/// and processes list: see `CgState::dropped`) is read so at most once per this many ticks;
/// a drop within that waits until it ends. A kill's drop comes with its own event
/// ([`Sampler::mark_urgent`]), which does not wait: what waits is a cgroup whose page
/// cache or jobs ebb again and again (the test VM's root cgroup: a drop read, 60 pids
/// listed, every 20 to 40 s, a quarter of a millisecond each).
pub const GUARD_DROP_READ_GAP: u64 = 30;

/// ...and a cgroup whose usage fell by more than [`CHANGE_BYTES`] has its children's usage
/// read again at most once per this many ticks; a rise from the lowest point since they
/// were read is seen at once. What waits is a parent ebbing pass after pass (page cache
/// reclaimed under no pressure: the test VM's container lost ~6 MB/s of page cache for
/// minutes, and each step below CHANGE_BYTES cost a general pass, 13 a minute, against the
/// quiet pass's one read). A child growing under a parent that falls faster (a sibling
/// ebbing more) shows at the gap's end, as one growing under a flat parent shows at its
/// rotation turn: usage is hierarchical, and only the net move is seen from above.
pub const GUARD_KIDS_FALL_GAP: u64 = 30;

/// The guard's profile reads the system's `some avg10` (`/proc/pressure/memory`) once per
/// this many seconds, not every tick: the kernel recomputes the averages every 2 s
/// (`PSI_FREQ`, kernel/sched/psi.c), so a read every second repeats the last value half
/// the time, and formatting the file plus parsing it was a quarter of an idle pass. The
/// system's PSI trigger (the guard's) has it read at the next tick whatever its turn.
pub const GUARD_PRESSURE_EVERY: f64 = 2.0;

/// ...and once per this many seconds while the caller holds a PSI trigger on that file
/// ([`Sampler::set_pressure_every`]): below the trigger's threshold (150 ms of stall in
/// 2 s by default, 7.5 %) `avg10`, an average over 10 s, has little left to show between
/// two reads 10 s apart, and at the threshold the trigger has it read at the next tick,
/// then again at each of its events (one per trigger window while the stall lasts). One
/// read is about 20 µs of kernel time (`psi_show`), a sixth of an idle guard's second.
pub const GUARD_PRESSURE_ARMED_EVERY: f64 = 10.0;

/// In the guard's profile every cgroup that moved is at risk while MemAvailable is below
/// this share of MemTotal (a system-wide OOM may take a process of any cgroup).
pub const SYSTEM_RISK_AVAILABLE: f64 = 0.1;

/// Why a sampler could not be made or a pass not be read.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// The mount table below the root could not be read.
    #[error("detecting the memory cgroup hierarchy below {}", root.display())]
    Hierarchy {
        /// The root of the tree.
        root: PathBuf,
        /// What failed.
        #[source]
        source: SourceError,
    },
    /// The focus cgroup does not exist.
    #[error("no memory cgroup {focus:?} below {}", root.display())]
    NoCgroup {
        /// The root of the tree.
        root: PathBuf,
        /// The cgroup path asked for.
        focus: String,
    },
    /// A file of the pass could not be read (the error names it).
    #[error(transparent)]
    Read(#[from] SourceError),
}

/// What a sampler reads and how much it may spend.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// The root of the /proc and /sys trees (`/`, a copy, or a fake tree).
    pub root: PathBuf,
    /// Only this memory cgroup and its descendants (`/`: all).
    pub focus: String,
    /// The page size of the machine the tree comes from.
    pub page_size: u64,
    /// How many usage files may be held open: the caller's open-file limit less what it
    /// keeps for everything else (the sampler never changes the limit itself).
    pub hold_files: usize,
    /// Every cgroup is read in full at least every this many ticks (1: every tick, no
    /// change-driven skipping).
    pub full_every: u64,
    /// Wall-clock budget of the full reads of a pass after the first (`None`: no limit).
    pub budget: Option<Duration>,
    /// The owner label of a cgroup path (unit, pod, container), worked out once per cgroup
    /// (the caller passes `oomlens_analysis::owner`'s; sources do not import analysis).
    pub owner_label: fn(&str) -> Option<String>,
    /// Every directory is re-listed within this many ticks.
    pub walk_every: u64,
    /// `None`: a cgroup whose usage moved beyond [`CHANGE_BYTES`] is read in full (counters
    /// and processes) at once. `Some(share)`: only when it is also at risk (usage at least
    /// `share` of its effective limit, see [`GUARD_RISK_SHARE`]); the others wait for
    /// their `full_every` turn, their usage still read each tick their parent moved.
    pub risk_share: Option<f64>,
    /// `Some(q)`: a cgroup due by the `full_every` rotation whose usage equals its last
    /// full read's is not read in full, unless that read is `q` ticks old (see
    /// [`GUARD_QUIET_FULL_EVERY`]). `None`: the rotation reads it regardless.
    pub quiet_full_every: Option<u64>,
    /// Read the mounts (`statfs` of each) every tick.
    pub mounts: bool,
    /// Run the rolling deleted-but-open file scan.
    pub deleted_files: bool,
    /// `/proc/pressure/memory` is read at most once per this many seconds (0: every tick);
    /// a tick between carries the last value. See [`GUARD_PRESSURE_EVERY`].
    pub pressure_every: f64,
}

impl SamplerConfig {
    /// The defaults: the whole tree, [`FULL_EVERY`], [`PASS_BUDGET`], no owner labels.
    pub fn new(root: PathBuf, page_size: u64, hold_files: usize) -> SamplerConfig {
        SamplerConfig {
            root,
            focus: "/".into(),
            page_size,
            hold_files,
            full_every: FULL_EVERY,
            budget: Some(PASS_BUDGET),
            owner_label: |_| None,
            walk_every: WALK_EVERY,
            risk_share: None,
            quiet_full_every: None,
            mounts: true,
            deleted_files: true,
            pressure_every: 0.0,
        }
    }

    /// The guard's profile: what its recorder needs at the cost of an idle daemon.
    ///
    /// Cadence, per kind of read (one tick per `--interval`):
    /// - `/proc/meminfo`: every tick, or on the real `/` when sysinfo(2)'s free RAM says
    ///   so (see `memgate`);
    /// - `/proc/pressure/memory`: every [`GUARD_PRESSURE_EVERY`] seconds
    ///   ([`GUARD_PRESSURE_ARMED_EVERY`] once the caller, holding a trigger on it, says so
    ///   with [`Sampler::set_pressure_every`]), and at the tick after
    ///   [`Sampler::reread_pressure`] (the system's PSI trigger fired);
    /// - a cgroup's usage (one `pread` of a held file): every tick its parent moved beyond
    ///   [`CHANGE_BYTES`] since the tick its children's usage was last read (the focus:
    ///   every tick);
    /// - a cgroup's other counters, `cgroup.procs` and its processes' `status`: at once
    ///   when it moved and is at risk ([`GUARD_RISK_SHARE`], [`SYSTEM_RISK_AVAILABLE`]) or
    ///   was named by [`Sampler::mark_urgent`]; otherwise every [`GUARD_FULL_EVERY`] ticks,
    ///   staggered, when its usage changed since its last full read (one `pread` at its
    ///   turn says so), and every [`GUARD_QUIET_FULL_EVERY`] ticks when it did not;
    ///   after a drop by more than an eighth (`CgState::dropped`) its counters and
    ///   `cgroup.procs` at once, and the `status` of pids not listed before only (those
    ///   that left end their series; [`PassStats::procs_kept`]);
    /// - a process without an address space (a kernel thread) at a full read: one
    ///   `readlink` of `/proc/PID/exe` while it still has none, no `status`
    ///   ([`PassStats::memless_skips`]);
    /// - directories: 1/[`GUARD_WALK_EVERY`] of them re-listed per tick, skipping those
    ///   the caller watches ([`Sampler::watch_dirs`]);
    /// - mounts and deleted-but-open files: never.
    pub fn guard(root: PathBuf, page_size: u64, hold_files: usize) -> SamplerConfig {
        SamplerConfig {
            full_every: GUARD_FULL_EVERY,
            walk_every: GUARD_WALK_EVERY,
            risk_share: Some(GUARD_RISK_SHARE),
            quiet_full_every: Some(GUARD_QUIET_FULL_EVERY),
            mounts: false,
            deleted_files: false,
            pressure_every: GUARD_PRESSURE_EVERY,
            ..SamplerConfig::new(root, page_size, hold_files)
        }
    }
}

/// What one pass read.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassStats {
    /// Usage files read.
    pub usage_reads: usize,
    /// Cgroups read in full (all counters and, but for [`PassStats::procs_kept`], their
    /// processes).
    pub full_reads: usize,
    /// Cgroups that were due for a full read but left for a later pass by the budget.
    pub deferred: usize,
    /// Processes whose `/proc/PID/fd` was scanned for deleted files.
    pub fd_scans: usize,
    /// Cgroup directories re-listed.
    pub listings: usize,
    /// Rotation turns passed because the cgroup's usage had not changed at all.
    pub quiet_skips: usize,
    /// The pass was a quiet one: the top cgroup's usage only (see `quiet`).
    pub quiet_pass: bool,
    /// A quiet pass was tried and fell back to the general one.
    pub quiet_fallback: bool,
    /// Processes of full reads known to have no address space and still without one: no
    /// `status` read.
    pub memless_skips: usize,
    /// Processes (with memory or without) that drop reads kept from their last read, still
    /// listed: no `status` read (see `pass::CgState::dropped`).
    pub procs_kept: usize,
}

/// What changed in a row of the last pass, against the pass before
/// ([`Sampler::cgroups_with_processes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    /// Nothing: the row and its processes are those of the pass before.
    None,
    /// The row's counters (a usage read); its processes are those of the pass before
    /// (not read this pass: they are the same values, not merely old ones).
    Counters,
    /// Its processes were read this pass (and the row may have changed too).
    Processes,
}

impl RowChange {
    /// True when anything changed.
    pub fn any(self) -> bool {
        self != RowChange::None
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One cgroup of the walk, kept across ticks.
#[derive(Debug, Default)]
struct CgNode {
    /// The index of its parent in the walk (`None` for the focus).
    parent: Option<usize>,
    /// `None` when the path lies outside the mount.
    usage_file: Option<UsageFile>,
    /// The last usage read.
    usage: Option<u64>,
    /// The last full read.
    full: Option<CgState>,
    /// The tick from which it is due for a full read anyway.
    next_due: u64,
    /// The tick its usage first moved beyond [`CHANGE_BYTES`] without a full read since.
    pending_since: Option<u64>,
    /// Its files vanished: it was removed.
    gone: bool,
    /// Named by [`Sampler::mark_urgent`]: read in full next tick, before the budget.
    urgent: bool,
    /// This pass wants it read only because its usage dropped (it would wait otherwise): a
    /// drop read, its usage, `memory.stat` and `cgroup.procs`, the `status` of new pids only.
    drop_read: bool,
    /// The tick of its last drop read ([`GUARD_DROP_READ_GAP`]).
    drop_tick: Option<u64>,
    /// Its row changed since the rows were last written (usage or a full read).
    dirty: bool,
    /// The caller watches its directory (inotify): the rolling re-listing skips it.
    dir_watched: bool,
    /// The tick of its last full read.
    full_tick: u64,
    /// The tick its process list was last read (a full read or a drop read).
    procs_tick: u64,
    /// Its usage when its children's usage was last read (`None`: never): they are read
    /// again once it moved by more than [`CHANGE_BYTES`] from this (a fall: not before
    /// `kids_tick` plus the sampler's `kids_fall_gap`; see [`GUARD_KIDS_FALL_GAP`])...
    kids_ref: Option<u64>,
    /// ...or rose by more than that from the lowest usage read since (at most `kids_ref`).
    kids_low: u64,
    /// The tick its children's usage was last read.
    kids_tick: u64,
}

/// What the last full read of a cgroup found.
#[derive(Debug, Clone)]
struct CgState {
    sample: CgroupSample,
    /// Its usage then.
    full_usage: u64,
    /// Its processes with memory, by pid.
    procs: Vec<ProcessSample>,
    /// The pids of `cgroup.procs` that had no address space (kernel threads, zombies), by
    /// pid: at the next full read each costs one `readlink` instead of a `status` read
    /// while it still has none ([`ProcFs::lacks_mm`]).
    memless: Vec<u32>,
}

/// Samples a tree at each [`Sampler::tick`].
pub struct Sampler {
    root: PathBuf,
    proc: ProcFs,
    /// Shared, not cloned per pass (a clone copied its paths: an allocation per pass).
    cgfs: Option<std::sync::Arc<CgroupFs>>,
    focus: String,
    clock: Box<dyn Clock + Send>,
    /// The monotonic time the sampler was made at.
    start: f64,
    tick: u64,
    /// The last sample.
    last: Sample,
    /// Pids whose series end with the last pass.
    vanished: Vec<u32>,
    /// Ancestors of the focus (for their limits), last tick.
    ancestors: Vec<CgroupSample>,
    /// Deleted-but-open files per pid, from the rolling scan.
    deleted: BTreeMap<u32, Vec<DeletedOpenFile>>,
    /// Where the rolling deleted-file scan goes on: a cgroup of the walk, a process in it.
    deleted_cursor: (usize, usize),
    /// The cgroup paths of the last walk (depth first) and, aligned, their state.
    tree: Vec<String>,
    nodes: Vec<CgNode>,
    full_every: u64,
    budget: Option<Duration>,
    /// Usage files that may still be held open (see [`UsageFile`]).
    hold_left: usize,
    stats: PassStats,
    owner_label: fn(&str) -> Option<String>,
    /// Owner labels of the cgroups of the walk.
    owners: FastMap<String, Option<String>>,
    /// Where the rolling re-listing of directories goes on (an index of the walk).
    list_cursor: usize,
    walk_every: u64,
    risk_share: Option<f64>,
    /// How long a cgroup's fall waits before its children are read again (the guard's
    /// profile: [`GUARD_KIDS_FALL_GAP`]; 0 otherwise, every move reads them).
    kids_fall_gap: u64,
    quiet_full_every: Option<u64>,
    mounts: bool,
    deleted_files: bool,
    /// The node of each row of `last.cgroups`, and of the pass under way.
    last_nodes: Vec<usize>,
    pass_nodes: Vec<usize>,
    /// Aligned with `last.cgroups`: the row changed in the last pass (all, when rebuilt).
    last_changed: Vec<bool>,
    /// Bumped whenever the walk changes (splice, rewalk); `rows_shape`: its value when the
    /// rows were last built.
    shape: u64,
    rows_shape: u64,
    /// `proc/meminfo` and `proc/pressure/memory`, read every tick.
    meminfo: held::HeldText,
    pressure: held::HeldText,
    /// On the real `/` only: when meminfo is read again ([`memgate`]); `None` reads it
    /// every pass.
    memgate: Option<memgate::MemGate>,
    /// MemTotal and MemAvailable of the last read, carried by a pass that skips it.
    mem: (Option<u64>, Option<u64>),
    /// The cgroup part's working vectors, kept between passes.
    scratch: pass::PassScratch,
    /// [`SamplerConfig::pressure_every`].
    pressure_every: f64,
    /// The system's `some avg10` as last read, and when (`None`: read at the next tick).
    psi: (Option<f64>, Option<f64>),
    /// Set when the next passes may be quiet ones (see `quiet`).
    quiet: Option<quiet::Quiet>,
    /// False only in the tests that hold the general pass up against the quiet one.
    quiet_allowed: bool,
    /// The top cgroup's usage as a quiet pass read it before falling back: the general
    /// pass of the same tick takes it instead of a second read.
    top_read: Option<u64>,
}

impl Sampler {
    /// A sampler of the tree `cfg` describes, its passes timed by `clock`.
    pub fn new(cfg: SamplerConfig, clock: Box<dyn Clock + Send>) -> Result<Sampler, SamplerError> {
        let root = cfg.root;
        let cgfs =
            CgroupFs::new(&root, cfg.page_size).map_err(|source| SamplerError::Hierarchy {
                root: root.clone(),
                source,
            })?;
        if let Some(fs) = &cgfs {
            if fs.dir_of(&cfg.focus).is_none_or(|d| !d.is_dir()) {
                return Err(SamplerError::NoCgroup {
                    root,
                    focus: cfg.focus,
                });
            }
        }
        let meminfo = held::HeldText::open(&root.join("proc/meminfo"));
        let memgate = (root == std::path::Path::new("/")).then(memgate::MemGate::default);
        let pressure = held::HeldText::open(&root.join("proc/pressure/memory"));
        Ok(Sampler {
            proc: ProcFs::new(&root),
            root,
            cgfs: cgfs.map(std::sync::Arc::new),
            focus: cfg.focus,
            start: clock.mono(),
            clock,
            tick: 0,
            last: Sample::default(),
            vanished: Vec::new(),
            ancestors: Vec::new(),
            deleted: BTreeMap::new(),
            deleted_cursor: (0, 0),
            tree: Vec::new(),
            nodes: Vec::new(),
            full_every: cfg.full_every.max(1),
            budget: cfg.budget,
            hold_left: cfg.hold_files,
            stats: PassStats::default(),
            owner_label: cfg.owner_label,
            owners: FastMap::default(),
            list_cursor: 0,
            walk_every: cfg.walk_every.max(1),
            risk_share: cfg.risk_share,
            kids_fall_gap: match cfg.risk_share {
                Some(_) => GUARD_KIDS_FALL_GAP,
                None => 0,
            },
            quiet_full_every: cfg.quiet_full_every,
            mounts: cfg.mounts,
            deleted_files: cfg.deleted_files,
            last_nodes: Vec::new(),
            pass_nodes: Vec::new(),
            last_changed: Vec::new(),
            shape: 0,
            rows_shape: u64::MAX,
            meminfo,
            pressure,
            memgate,
            mem: (None, None),
            scratch: pass::PassScratch::default(),
            pressure_every: cfg.pressure_every,
            psi: (None, None),
            quiet: None,
            quiet_allowed: true,
            top_read: None,
        })
    }

    /// The last sample (empty before the first tick). Its `processes` are those read by
    /// the last pass; [`Sampler::processes`] has every process known.
    pub fn last(&self) -> &Sample {
        &self.last
    }

    /// The pids whose series end with the last pass: their process exited, left a cgroup
    /// read again, or their cgroup was removed. Pass them to `oomlens_store::Store::record`.
    pub fn vanished(&self) -> &[u32] {
        &self.vanished
    }

    /// The focus's ancestors as of the last pass (counters only, for their limits).
    pub fn ancestors(&self) -> &[CgroupSample] {
        &self.ancestors
    }

    /// The focus cgroup (`/` for the whole tree).
    pub fn focus(&self) -> &str {
        &self.focus
    }

    /// The monotonic time the sampler was made at (seconds, as [`Sample::mono`]).
    pub fn started(&self) -> f64 {
        self.start
    }

    /// What the last pass read.
    pub fn stats(&self) -> PassStats {
        self.stats
    }

    /// Every process known: read this tick, or carried over from the last full read of its
    /// (quiet) cgroup.
    pub fn processes(&self) -> Vec<&ProcessSample> {
        if self.cgfs.is_none() {
            return self.last.processes.iter().collect();
        }
        let mut v: Vec<&ProcessSample> = self
            .nodes
            .iter()
            .filter(|n| !n.gone)
            .filter_map(|n| n.full.as_ref())
            .flat_map(|st| st.procs.iter())
            .collect();
        v.sort_by_key(|p| p.pid);
        v
    }

    /// The processes of one cgroup (as [`Sampler::processes`]).
    pub fn processes_of(&self, path: &str) -> Vec<&ProcessSample> {
        if self.cgfs.is_none() {
            return self
                .last
                .processes
                .iter()
                .filter(|p| p.cgroup == path)
                .collect();
        }
        let Some(i) = self.tree.iter().position(|p| p == path) else {
            return Vec::new();
        };
        let n = &self.nodes[i];
        n.full
            .iter()
            .filter(|_| !n.gone)
            .flat_map(|st| st.procs.iter())
            .collect()
    }

    /// Each cgroup of the last sample with its processes (as [`Sampler::processes_of`]) and
    /// what of it changed in the last pass ([`RowChange`]: a consumer that keeps runs of
    /// equal values may just extend its last runs where nothing, or only the counters,
    /// did), in walk order, without collecting, sorting or hashing every process (as
    /// [`Sampler::processes`] and a grouping by path would, each pass). Nothing without a
    /// memory cgroup hierarchy.
    pub fn cgroups_with_processes(
        &self,
    ) -> impl Iterator<Item = (&CgroupSample, &[ProcessSample], RowChange)> {
        self.last
            .cgroups
            .iter()
            .zip(&self.last_nodes)
            .zip(&self.last_changed)
            .map(|((c, &i), &changed)| self.row_of(c, i, changed))
    }

    /// After a quiet pass ([`PassStats::quiet_pass`]), the one row it may have changed (the
    /// top cgroup's), as [`Sampler::cgroups_with_processes`] gives it; every other row's
    /// change is then [`RowChange::None`]. `None` after a general pass: that one may have
    /// changed any row.
    pub fn quiet_top(&self) -> Option<(&CgroupSample, &[ProcessSample], RowChange)> {
        let q = self.quiet.filter(|_| self.stats.quiet_pass)?;
        let c = self.last.cgroups.get(q.row)?;
        Some(self.row_of(c, 0, self.last_changed[q.row]))
    }

    /// One row of the last sample: node `i`'s processes and what of it changed.
    fn row_of<'a>(
        &'a self,
        c: &'a CgroupSample,
        i: usize,
        changed: bool,
    ) -> (&'a CgroupSample, &'a [ProcessSample], RowChange) {
        // A pass that fails leaves `last_nodes` empty (taken at its start), so the
        // pairs always come from one pass.
        debug_assert_eq!(self.tree[i], c.path);
        let node = &self.nodes[i];
        let change = match (changed, node.procs_tick == self.tick) {
            (false, _) => RowChange::None,
            (true, false) => RowChange::Counters,
            (true, true) => RowChange::Processes,
        };
        let procs = node.full.as_ref();
        (c, procs.map_or(&[][..], |st| &st.procs[..]), change)
    }

    /// The unit, pod or container a cgroup belongs to (worked out once per cgroup).
    pub fn owner_label(&self, path: &str) -> Option<String> {
        match self.owners.get(path) {
            Some(o) => o.clone(),
            None => (self.owner_label)(path),
        }
    }

    /// Reads `/proc/pressure/memory` every `seconds` from now on (see
    /// [`SamplerConfig::pressure_every`], [`GUARD_PRESSURE_ARMED_EVERY`]).
    pub fn set_pressure_every(&mut self, seconds: f64) {
        self.pressure_every = seconds;
    }

    /// How often `/proc/pressure/memory` is read, in seconds (0: every tick).
    pub fn pressure_every(&self) -> f64 {
        self.pressure_every
    }

    /// Has the next tick read `/proc/pressure/memory` whatever its cadence: the system's
    /// PSI trigger fired.
    pub fn reread_pressure(&mut self) {
        self.psi.1 = None;
    }

    /// True when this tick, at `mono`, reads `/proc/pressure/memory` (see
    /// [`SamplerConfig::pressure_every`]).
    fn pressure_due(&self, mono: f64) -> bool {
        // Half a pass early is on time: passes (1 s apart) drift by a few ms, and a pass at
        // 1.999 s must not put the read off to 3 s.
        self.psi
            .1
            .is_none_or(|at| mono - at >= self.pressure_every - 0.5)
    }

    /// `some avg10` of `/proc/pressure/memory` now (`None`: a kernel without PSI).
    fn read_pressure(&mut self) -> Result<Option<f64>, SamplerError> {
        let Some(text) = self.pressure.read_bytes()? else {
            return Ok(None);
        };
        if let Some(v) = crate::formats::pressure_some_avg10(text) {
            return Ok(Some(v));
        }
        let text = std::str::from_utf8(text).unwrap_or("");
        let p = crate::formats::parse_pressure(text)
            .map_err(|p| crate::files::format_err(self.pressure.path(), p))?;
        Ok(Some(p.some_avg10))
    }

    /// Has the next tick read cgroup `path` in full (counters and processes) whatever its
    /// usage did and before the pass's budget counts: for a cgroup an event named (a limit
    /// hit, a pressure trigger). False when the walk does not hold it (yet).
    pub fn mark_urgent(&mut self, path: &str) -> bool {
        match self.tree.iter().position(|p| p == path) {
            Some(i) if !self.nodes[i].gone => {
                self.quiet = None;
                self.nodes[i].urgent = true;
                true
            }
            _ => false,
        }
    }

    /// Lists the children of `dir` now and splices in what changed (new cgroups walked and
    /// marked urgent, so the next pass reads them in full; removed ones forgotten), instead
    /// of waiting for its turn in the rolling re-listing: the guard calls it when inotify
    /// says a directory of the tree gained or lost a child. True when something changed;
    /// false for a path outside the walk.
    pub fn relist_dir(&mut self, dir: &str) -> Result<bool, SamplerError> {
        let Some(fs) = self.cgfs.clone() else {
            return Ok(false);
        };
        let Some(i) = self.tree.iter().position(|p| p == dir) else {
            return Ok(false);
        };
        let names = match fs.children(dir)? {
            Some(names) => names,
            None => return Ok(false), // gone: its parent's listing takes it out
        };
        if names.iter().map(String::as_str).eq(self.child_names(i)) {
            return Ok(false);
        }
        self.quiet = None;
        // Only this directory's subtree changes: what it held before tells the new cgroups.
        let known: std::collections::HashSet<String> =
            self.tree[i..self.subtree_end(i)].iter().cloned().collect();
        self.splice(&fs, dir, &names)?;
        let Some(i) = self.tree.iter().position(|p| p == dir) else {
            return Ok(true);
        };
        for j in i..self.subtree_end(i) {
            if !known.contains(&self.tree[j]) {
                self.nodes[j].urgent = true;
            }
        }
        Ok(true)
    }

    /// Tells that the caller watches the directories of the cgroups `paths` for new and
    /// removed children (inotify `IN_CREATE`/`IN_DELETE`, calling [`Sampler::relist_dir`]
    /// on each), or no longer does (`watched` false, e.g. after the caller's event queue
    /// overflowed): the rolling re-listing skips watched directories. A cgroup removed and
    /// made again under the same name starts unwatched. Returns how many paths of the walk
    /// were marked (others are ignored).
    pub fn watch_dirs<'a>(
        &mut self,
        paths: impl IntoIterator<Item = &'a str>,
        watched: bool,
    ) -> usize {
        self.quiet = None;
        let want: std::collections::HashSet<&str> = paths.into_iter().collect();
        let mut n = 0;
        for (p, node) in self.tree.iter().zip(&mut self.nodes) {
            if want.contains(p.as_str()) {
                node.dir_watched = watched;
                n += 1;
            }
        }
        n
    }

    /// The cgroup paths of the walk, parents before children.
    pub fn paths(&self) -> &[String] {
        &self.tree
    }

    /// The memory cgroup version sampled (`None`: no memory cgroup hierarchy mounted).
    pub fn version(&self) -> Option<CgroupVersion> {
        self.cgfs.as_ref().map(|f| f.hierarchy().version)
    }

    /// Reads one sample pass; [`Sampler::last`] has it afterwards.
    pub fn tick(&mut self) -> Result<(), SamplerError> {
        self.tick += 1;
        self.stats = PassStats::default();
        self.vanished.clear();
        let tick = self.tick;
        let mono = self.clock.mono();
        let due = self.memgate.as_mut().is_none_or(|g| g.pass(mono));
        if due {
            self.mem = match self.meminfo.read_bytes() {
                Ok(Some(text)) => match crate::formats::meminfo_head(text) {
                    Some((total, available)) => (Some(total), Some(available)),
                    None => {
                        let text = std::str::from_utf8(text).unwrap_or("");
                        let m = crate::procfs::parse_meminfo(text).ok();
                        (m.map(|m| m.mem_total), m.and_then(|m| m.mem_available))
                    }
                },
                _ => (None, None),
            };
            if let Some(g) = self.memgate.as_mut() {
                g.read_now(mono);
            }
        }
        let psi = if self.pressure_due(mono) {
            let psi = self.read_pressure()?;
            self.psi = (psi, Some(mono));
            psi
        } else {
            self.psi.0
        };
        let mut s = Sample {
            unix: self.clock.unix(),
            mono,
            mem_total: self.mem.0,
            mem_available: self.mem.1,
            psi_some_avg10: psi,
            ..Sample::default()
        };
        // Only this tick's quiet pass sets it, for this tick's general pass.
        self.top_read = None;
        if self.quiet_pass(tick, &s)? {
            return Ok(());
        }
        self.quiet = None;
        if let Some(fs) = self.cgfs.clone() {
            self.sample_cgroups(&fs, tick, &mut s)?;
        } else {
            for pid in self.proc.pids()? {
                if let Some(p) = self.read_process(pid, "")? {
                    s.processes.push(p);
                }
            }
            // Every process is read every pass: those not read are gone.
            let now: std::collections::HashSet<u32> = s.processes.iter().map(|p| p.pid).collect();
            self.vanished.extend(
                self.last
                    .processes
                    .iter()
                    .map(|p| p.pid)
                    .filter(|p| !now.contains(p)),
            );
        }
        if self.mounts {
            for m in mounts::mounts(&self.root)? {
                s.mounts.push(MountSample {
                    mount_point: m.mount_point,
                    fstype: m.fstype,
                    total: m.total,
                    used: m.used,
                    avail: m.avail,
                });
            }
        }
        self.last = s;
        std::mem::swap(&mut self.last_nodes, &mut self.pass_nodes);
        if self.deleted_files {
            self.scan_deleted(tick == 1)?;
        }
        self.arm_quiet();
        Ok(())
    }

    fn read_process(&self, pid: u32, cgroup: &str) -> Result<Option<ProcessSample>, SourceError> {
        let Some(st) = self.proc.status_of(pid)? else {
            return Ok(None);
        };
        if st.vm_rss.is_none() {
            return Ok(None); // kernel threads and zombies hold no memory of their own
        }
        Ok(Some(ProcessSample {
            pid,
            comm: st.name,
            cgroup: cgroup.to_string(),
            anon: st.rss_anon,
            file: st.rss_file,
            shmem: st.rss_shmem,
            swap: st.vm_swap,
        }))
    }

    /// Deleted-but-open files, largest first.
    pub fn deleted(&self) -> Vec<DeletedOpenFile> {
        let mut out: Vec<DeletedOpenFile> = self.deleted.values().flatten().cloned().collect();
        out.sort_by(|a, b| b.size.cmp(&a.size).then(a.pid.cmp(&b.pid)));
        out
    }
}

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod memless_tests;
#[cfg(test)]
mod quiet_tests;
#[cfg(test)]
mod tests;
