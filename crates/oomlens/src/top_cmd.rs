//! `oomlens top`: live memory per cgroup and process, with trend, leak detection and the time
//! left to the nearest limit.
//!
//! A [`Sampler`] reads the memory cgroup tree (or the subtree of `--cgroup`, plus its
//! ancestors for their limits), the processes of each cgroup (`cgroup.procs`, then one
//! `status` each), the tmpfs and disk mounts and, in a rolling scan ([`DELETED_ROUND`]),
//! the deleted-but-open files. Each tick becomes an `oomlens_model::Sample` of raw counters; per
//! series (cgroup, pid, mount) only a ring of the last `--window` points is kept, so a tick
//! costs what the tree costs, never what the history costs. Rates, classes and ETAs are
//! derived on read by `oomlens_analysis::trend` ([`analyse`]).
//!
//! Outputs: the TUI (`top_cmd::tui`) on a terminal; a plain table with `--once` or when
//! stdout is no terminal; `--json`, one document per tick (JSON Lines; with `--once`, one
//! document after `--samples` ticks):
//!
//! ```json
//! {"schema":"oomlens.top/1","t":12.0,"interval":1.0,"cgroup_version":"v1"|"v2"|null,
//!  "mem_total":…,"mem_available":…,"psi_some_avg10":…|null,
//!  "cgroups":[{"path":"/a/b","depth":1,"owner":"x.service"|null,"usage":…,"limit":…|null,
//!    "limit_name":"memory.limit_in_bytes of /a/b"|null,"anon":…,"file":…,"shmem":…,
//!    "psi_some_avg10":…|null,"oom_kill":…|null,"failcnt":…|null,"counters_t":…|null,
//!    "trend":{"class":"leak"|"sawtooth"|"steady"|"shrinking"|"warming_up","rate":…,
//!      "rate_lo":…,"rate_hi":…,"fitted_last":…,"points":…},
//!    "growth":"anon"|"file"|"shmem"|null,"growth_mount":"/dev/shm"|null,
//!    "eta":{"limit":"…","seconds":…,"seconds_lo":…,"seconds_hi":…|null}|null}],
//!  "processes":[{"pid":…,"comm":…,"cgroup":…,"rss":…,"anon":…,"file":…,"shmem":…,
//!    "swap":…,"trend":{…},"eta":{…}|null}],
//!  "mounts":[{"mount_point":…,"fstype":…,"total":…,"used":…,"avail":…,"trend":{…},"eta":{…}|null}],
//!  "deleted_open_files":[{"pid":…,"comm":…,"fd":…,"path":…,"size":…,"mount":…|null}]}
//! ```
//!
//! Sizes are bytes, rates bytes per second, times seconds since the sampler started. Exit
//! status: 0, or 2 on errors.

mod tui;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use oomlens_analysis::owner::owner_of;
use oomlens_analysis::trend::{self, Class, Eta, LimitRef, Trend, TrendConfig};
use oomlens_model::{CgroupSample, DeletedOpenFile, MemLimit, MountSample, ProcessSample, Sample};
use oomlens_sinks::escape::escape;
use oomlens_sinks::text::human_bytes;
use oomlens_sources::cgroupfs::{CgroupFs, Limit, MemoryCounters, MemoryVersion, UsageFile};
use oomlens_sources::mounts;
use oomlens_sources::procfs::{self, ProcFs};
use serde::Serialize;

/// The rolling deleted-file scan covers every process in this many passes (a readlink per
/// fd of every process is the costliest read there is)...
pub const DELETED_ROUND: usize = 10;

/// ...looking at no more than this many processes per pass.
pub const DELETED_PER_PASS: usize = 500;

/// Full reads of a pass after the first stop after this much wall-clock time (a pass is
/// single-threaded, so its CPU time is at most that); what is left waits for the next pass.
pub const PASS_BUDGET: Duration = Duration::from_millis(25);

/// Usage files are held open up to the open-file limit less this many.
pub const FDS_KEPT_FREE: usize = 1024;

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

/// `oomlens top` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens top                                     # the TUI on a terminal, a table on a pipe
  oomlens top --once                              # one table after three samples
  oomlens top --json --count 5 --interval 0.5     # one JSON document per tick
  oomlens top --once --json --root /srv/snapshot  # a copied or fake /proc and /sys tree

EXIT STATUS:
  0  done (--once, --count, or q / Ctrl-C in the TUI)
  2  an error occurred (the message names the file)")]
pub struct TopArgs {
    /// Print one plain table (or with --json one document) after --samples ticks, then exit.
    #[arg(long)]
    pub once: bool,
    /// Print JSON (schema oomlens.top/1): one document per tick, or one with --once.
    #[arg(long)]
    pub json: bool,
    /// Seconds between samples.
    // A negative number reaches the positive-number check in `run` instead of being taken
    // for a flag ("unexpected argument '-1'").
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "1",
        allow_negative_numbers = true
    )]
    pub interval: f64,
    /// Only this memory cgroup and its descendants (the path as in /proc/PID/cgroup).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// The root of the /proc and /sys trees to read (a copy or a fake tree).
    #[arg(long, value_name = "DIR", default_value = procfs::DEFAULT_ROOT, value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,
    /// Ticks sampled before --once prints (rates need at least two).
    #[arg(long, value_name = "N", default_value = "3")]
    pub samples: usize,
    /// Stop after this many ticks (JSON stream and table modes).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Samples kept per series: the trend's window.
    #[arg(long, value_name = "N", default_value = "60")]
    pub window: usize,
    /// The page size of the machine the tree comes from; default: this host's.
    #[arg(long, value_name = "BYTES", hide_short_help = true)]
    pub page_size: Option<u64>,
    /// Benchmark: run this many sample passes as fast as possible and print the CPU time
    /// per pass to stderr.
    #[arg(long, value_name = "N", hide = true)]
    pub bench_passes: Option<u32>,
    /// Benchmark: seconds between the starts of passes (0: back to back).
    #[arg(long, value_name = "SECONDS", hide = true, default_value = "0")]
    pub bench_pace: f64,
    /// Read every cgroup and process in full on every tick (no change-driven skipping).
    #[arg(long, hide_short_help = true)]
    pub full: bool,
}

// ---------------------------------------------------------------------------------------
// Sampler

/// One point of a series: time, total, anon, file, shmem.
type Point = [f64; 5];

#[derive(Debug, Default)]
struct Series {
    ring: VecDeque<Point>,
    seen: u64,
}

impl Series {
    fn push(&mut self, p: Point, cap: usize, tick: u64) {
        if self.ring.len() == cap {
            self.ring.pop_front();
        }
        self.ring.push_back(p);
        self.seen = tick;
    }

    /// Series `k` of the ring as `(t, value)` points, in `buf` (reused across series).
    fn points_into<'b>(&self, k: usize, buf: &'b mut Vec<(f64, f64)>) -> &'b [(f64, f64)] {
        buf.clear();
        buf.extend(self.ring.iter().map(|p| (p[0], p[k])));
        buf
    }
}

/// Samples a tree at each [`Sampler::tick`], keeping a bounded ring per series.
pub struct Sampler {
    root: PathBuf,
    proc: ProcFs,
    cgfs: Option<CgroupFs>,
    focus: String,
    window: usize,
    start: Instant,
    tick: u64,
    cg: FastMap<String, Series>,
    pid: FastMap<u32, Series>,
    mnt: FastMap<String, Series>,
    /// The last sample.
    pub last: Sample,
    /// Ancestors of the focus (for their limits), last tick.
    ancestors: Vec<CgroupSample>,
    /// Deleted-but-open files per pid, from the rolling scan.
    deleted: BTreeMap<u32, Vec<DeletedOpenFile>>,
    /// Where the rolling deleted-file scan goes on: a cgroup of the walk, a process in it.
    deleted_cursor: (usize, usize),
    /// A fixed clock for tests: tick n is at n × this many seconds.
    fixed_dt: Option<f64>,
    /// The cgroup paths of the last walk (depth first) and, aligned, their state.
    tree: Vec<String>,
    nodes: Vec<CgNode>,
    /// Every cgroup is read in full at least every this many ticks (1: every tick).
    full_every: u64,
    /// Wall-clock budget of the full reads of a pass after the first (`None`: no limit).
    budget: Option<Duration>,
    /// Usage files that may still be held open (see [`UsageFile`]).
    hold_left: usize,
    /// What the last pass did (for the benchmark and tests).
    pub stats: PassStats,
    /// Owner labels of the cgroups of the walk.
    owners: FastMap<String, Option<String>>,
    /// Where the rolling re-listing of directories goes on (an index of the walk).
    list_cursor: usize,
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What one pass read.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassStats {
    /// Usage files read.
    pub usage_reads: usize,
    /// Cgroups read in full (all counters and their processes).
    pub full_reads: usize,
    /// Cgroups that were due for a full read but left for a later pass by the budget.
    pub deferred: usize,
    /// Processes whose `/proc/PID/fd` was scanned for deleted files.
    pub fd_scans: usize,
    /// Cgroup directories re-listed (see `relist`).
    pub listings: usize,
}

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
}

/// What the last full read of a cgroup found.
#[derive(Debug, Clone)]
struct CgState {
    sample: CgroupSample,
    /// Its usage then.
    full_usage: u64,
    procs: Vec<ProcessSample>,
}

fn to_limit(l: Limit) -> MemLimit {
    match l {
        Limit::Bytes(b) => MemLimit::Bytes(b),
        Limit::Max => MemLimit::Max,
    }
}

fn cgroup_sample(path: &str, c: MemoryCounters, t: f64) -> CgroupSample {
    CgroupSample {
        path: path.to_string(),
        usage: c.usage,
        max: c.max.map(to_limit),
        high: c.high.map(to_limit),
        soft_limit: c.soft_limit.map(to_limit),
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

/// The last component of a cgroup path.
fn child_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// True when cgroup `path` lies below `ancestor` (at any depth).
fn is_below(ancestor: &str, path: &str) -> bool {
    ancestor == "/" && path != "/"
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn ancestors_of(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = path.trim_end_matches('/');
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        out.push(if p.is_empty() {
            "/".into()
        } else {
            p.to_string()
        });
        if p.is_empty() {
            break;
        }
    }
    out
}

/// The soft limit of open files raised to the hard one; returns the soft limit then.
fn raise_nofile() -> usize {
    // SAFETY: an all-zero rlimit is valid; getrlimit fills it.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `rl` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    if rl.rlim_cur < rl.rlim_max {
        let want = libc::rlimit {
            rlim_cur: rl.rlim_max,
            rlim_max: rl.rlim_max,
        };
        // SAFETY: `want` is a valid rlimit; raising the soft limit up to the hard one
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX)
}

impl Sampler {
    /// A sampler of the tree below `root`, focused on `focus` (a cgroup path, `/` for all).
    pub fn new(
        root: PathBuf,
        focus: Option<&str>,
        window: usize,
        page_size: u64,
    ) -> anyhow::Result<Sampler> {
        let cgfs = CgroupFs::new(&root, page_size).with_context(|| {
            format!(
                "detecting the memory cgroup hierarchy below {}",
                root.display()
            )
        })?;
        let focus = focus.unwrap_or("/").to_string();
        if let Some(fs) = &cgfs {
            if fs.dir_of(&focus).is_none_or(|d| !d.is_dir()) {
                anyhow::bail!("no memory cgroup {focus:?} below {}", root.display());
            }
        }
        Ok(Sampler {
            proc: ProcFs::new(&root),
            root,
            cgfs,
            focus,
            window: window.max(2),
            start: Instant::now(),
            tick: 0,
            cg: FastMap::default(),
            pid: FastMap::default(),
            mnt: FastMap::default(),
            last: Sample::default(),
            ancestors: Vec::new(),
            deleted: BTreeMap::new(),
            deleted_cursor: (0, 0),
            fixed_dt: None,
            tree: Vec::new(),
            nodes: Vec::new(),
            full_every: FULL_EVERY,
            budget: Some(PASS_BUDGET),
            hold_left: raise_nofile().saturating_sub(FDS_KEPT_FREE),
            stats: PassStats::default(),
            owners: FastMap::default(),
            list_cursor: 0,
        })
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

    /// The unit, pod or container a cgroup belongs to (worked out once per cgroup).
    pub fn owner_label(&self, path: &str) -> Option<String> {
        match self.owners.get(path) {
            Some(o) => o.clone(),
            None => owner_of(path).label(),
        }
    }

    /// The memory cgroup version sampled.
    pub fn version(&self) -> Option<MemoryVersion> {
        self.cgfs.as_ref().map(|f| f.hierarchy().version)
    }

    /// Reads one sample pass and records it.
    pub fn tick(&mut self) -> anyhow::Result<()> {
        self.tick += 1;
        self.stats = PassStats::default();
        let tick = self.tick;
        let t = match self.fixed_dt {
            Some(dt) => tick as f64 * dt,
            None => self.start.elapsed().as_secs_f64(),
        };
        let meminfo = self.proc.meminfo().ok();
        let mut s = Sample {
            t,
            mem_total: meminfo.map(|m| m.mem_total),
            mem_available: meminfo.and_then(|m| m.mem_available),
            psi_some_avg10: self.proc.pressure_memory()?.map(|p| p.some_avg10),
            ..Sample::default()
        };
        if self.cgfs.is_some() {
            self.sample_cgroups(tick, &mut s)?;
        } else {
            for pid in self.proc.pids()? {
                if let Some(p) = self.read_process(pid, "")? {
                    s.processes.push(p);
                }
            }
        }
        for m in mounts::mounts(&self.root)? {
            s.mounts.push(MountSample {
                mount_point: m.mount_point,
                fstype: m.fstype,
                total: m.total,
                used: m.used,
                avail: m.avail,
            });
        }
        let cap = self.window;
        let f = |v: Option<u64>| v.unwrap_or(0) as f64;
        for c in &s.cgroups {
            let p = [t, f(c.usage), f(c.anon), f(c.file), f(c.shmem)];
            match self.cg.get_mut(&c.path) {
                Some(ser) => ser.push(p, cap, tick),
                None => self
                    .cg
                    .entry(c.path.clone())
                    .or_default()
                    .push(p, cap, tick),
            }
        }
        // Processes read this tick add a point; those carried over from an earlier full
        // read of a quiet cgroup keep their series as it is.
        for p in &s.processes {
            let pt = [t, p.rss() as f64, f(p.anon), f(p.file), f(p.shmem)];
            self.pid.entry(p.pid).or_default().push(pt, cap, tick);
        }
        if self.cgfs.is_none() {
            self.pid.retain(|_, v| v.seen == tick);
        }
        for m in &s.mounts {
            let pt = [t, m.used as f64, 0.0, 0.0, m.used as f64];
            self.mnt
                .entry(m.mount_point.clone())
                .or_default()
                .push(pt, cap, tick);
        }
        // Vanished cgroups and mounts take their history with them (processes: when their
        // cgroup's next full read no longer lists them, see `full_read`).
        self.cg.retain(|_, v| v.seen == tick);
        self.mnt.retain(|_, v| v.seen == tick);
        self.last = s;
        self.scan_deleted(tick == 1)?;
        Ok(())
    }

    fn read_process(&self, pid: u32, cgroup: &str) -> anyhow::Result<Option<ProcessSample>> {
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

    /// Walks the whole tree and carries each known cgroup's state over by path (the first
    /// pass, `--full`, and while the focus is missing).
    fn rewalk(&mut self, fs: &CgroupFs) -> anyhow::Result<()> {
        let tree = fs.walk(&self.focus)?;
        let mut old: FastMap<String, CgNode> = std::mem::take(&mut self.tree)
            .into_iter()
            .zip(std::mem::take(&mut self.nodes))
            .collect();
        let mut nodes = Vec::with_capacity(tree.len());
        for path in &tree {
            // A cgroup removed and made again under the same name starts afresh.
            let node = match old.remove(path) {
                Some(n) if !n.gone => n,
                Some(n) => {
                    self.forget(path, n);
                    self.new_node(fs, path)
                }
                None => self.new_node(fs, path),
            };
            nodes.push(node);
        }
        // Removed cgroups: their files close, their processes' series go.
        for (path, n) in old {
            self.forget(&path, n);
        }
        self.tree = tree;
        self.nodes = nodes;
        self.link_parents();
        Ok(())
    }

    /// Re-lists the next 1/[`WALK_EVERY`] of the walk's directories (round robin) and
    /// splices in what changed, so that a pass pays a slice of a walk instead of every
    /// [`WALK_EVERY`]th pass paying all of it: a cgroup made or removed anywhere is seen
    /// within [`WALK_EVERY`] passes either way.
    fn relist(&mut self, fs: &CgroupFs) -> anyhow::Result<()> {
        let n = self.tree.len();
        let mut changed: Vec<(String, Option<Vec<String>>)> = Vec::new();
        for _ in 0..n.div_ceil(WALK_EVERY as usize) {
            let i = self.list_cursor % n;
            self.list_cursor = i + 1;
            if self.nodes[i].gone && i > 0 {
                continue; // its parent's listing says whether it is back
            }
            self.stats.listings += 1;
            let now = fs.children(&self.tree[i])?;
            let same = now
                .as_ref()
                .is_some_and(|names| names.iter().map(String::as_str).eq(self.child_names(i)));
            if !same {
                changed.push((self.tree[i].clone(), now));
            }
        }
        for (dir, now) in changed {
            match now {
                Some(names) => self.splice(fs, &dir, &names)?,
                None if dir == self.focus => self.rewalk(fs)?,
                None => {} // removed: its parent's listing takes it out
            }
        }
        Ok(())
    }

    /// One past the last index of the subtree of `i`: in depth-first order a subtree is a
    /// run, and the first node after it has its parent before `i`.
    fn subtree_end(&self, i: usize) -> usize {
        (i + 1..self.nodes.len())
            .find(|&j| self.nodes[j].parent.is_none_or(|p| p < i))
            .unwrap_or(self.nodes.len())
    }

    /// The names of the children of `i`, in walk (name) order; `""` (no directory's name)
    /// for a child that is gone, so that the listing differs whether or not it was made again.
    fn child_names(&self, i: usize) -> impl Iterator<Item = &str> {
        (i + 1..self.subtree_end(i))
            .filter(move |&j| self.nodes[j].parent == Some(i))
            .map(|j| match self.nodes[j].gone {
                true => "",
                false => child_name(&self.tree[j]),
            })
    }

    /// Replaces the children of `dir` by `names` (sorted): kept children keep their
    /// subtrees and state, new ones are walked, removed (or removed and made again) ones
    /// are forgotten with their subtrees.
    fn splice(&mut self, fs: &CgroupFs, dir: &str, names: &[String]) -> anyhow::Result<()> {
        // An earlier splice of this pass may have taken it out.
        let Some(i) = self.tree.iter().position(|p| p == dir) else {
            return Ok(());
        };
        let end = self.subtree_end(i);
        // The old children, each with its subtree, in name order.
        let mut old: Vec<(String, Vec<(String, CgNode)>)> = Vec::new();
        let drained: Vec<(String, CgNode)> = self
            .tree
            .drain(i + 1..end)
            .zip(self.nodes.drain(i + 1..end))
            .collect();
        for (p, n) in drained {
            if n.parent == Some(i) {
                old.push((child_name(&p).to_string(), Vec::new()));
            }
            old.last_mut().expect("a child first").1.push((p, n));
        }
        let mut paths = Vec::new();
        let mut nodes = Vec::new();
        let mut old = old.into_iter().peekable();
        let mut names = names.iter().peekable();
        loop {
            let order = match (old.peek(), names.peek()) {
                (None, None) => break,
                (Some((o, _)), Some(n)) => o.as_str().cmp(n.as_str()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
            };
            if order != Ordering::Greater {
                let (_, run) = old.next().expect("peeked");
                if order == Ordering::Equal && !run[0].1.gone {
                    names.next();
                    for (p, n) in run {
                        paths.push(p);
                        nodes.push(n);
                    }
                    continue;
                }
                // Removed, or removed and made again (then walked below as new).
                for (p, n) in run {
                    self.forget(&p, n);
                }
                if order == Ordering::Less {
                    continue;
                }
            }
            let name = names.next().expect("peeked");
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            // Gone again before this walk: nothing to add.
            for p in fs.walk(&path)? {
                nodes.push(self.new_node(fs, &p));
                paths.push(p);
            }
        }
        self.tree.splice(i + 1..i + 1, paths);
        self.nodes.splice(i + 1..i + 1, nodes);
        self.link_parents();
        Ok(())
    }

    /// Sets every node's parent index from the paths (depth-first order: a parent is the
    /// nearest earlier path it is a prefix of).
    fn link_parents(&mut self) {
        let mut stack: Vec<usize> = Vec::new();
        for j in 0..self.tree.len() {
            while let Some(&top) = stack.last() {
                if is_below(&self.tree[top], &self.tree[j]) {
                    break;
                }
                stack.pop();
            }
            self.nodes[j].parent = stack.last().copied();
            stack.push(j);
        }
    }

    /// A node for a cgroup first seen: its usage file (held while descriptors last) and
    /// its owner label.
    fn new_node(&mut self, fs: &CgroupFs, path: &str) -> CgNode {
        let hold = self.hold_left > 0;
        let usage_file = fs.usage_file(path, hold);
        if usage_file.as_ref().is_some_and(UsageFile::is_held) {
            self.hold_left -= 1;
        }
        self.owners
            .entry(path.to_string())
            .or_insert_with(|| owner_of(path).label());
        CgNode {
            usage_file,
            ..CgNode::default()
        }
    }

    /// Drops a removed cgroup: its held file closes, its processes' series and its owner
    /// label go.
    fn forget(&mut self, path: &str, n: CgNode) {
        if n.usage_file.as_ref().is_some_and(UsageFile::is_held) {
            self.hold_left += 1;
        }
        for p in n.full.iter().flat_map(|st| &st.procs) {
            self.pid.remove(&p.pid);
            self.deleted.remove(&p.pid);
        }
        self.owners.remove(path);
    }

    /// The cgroup part of a pass.
    ///
    /// 1. Usage of each cgroup whose parent moved (usage is hierarchical: a quiet parent
    ///    means quiet children, up to [`CHANGE_BYTES`] each way), one `pread` of a held file.
    /// 2. Full reads (every counter, `memory.stat`, `cgroup.procs`, one `status` per
    ///    process) of the cgroups that need one, in this order: never read; moved beyond
    ///    [`CHANGE_BYTES`] since their last full read (longest waiting first); due by the
    ///    [`FULL_EVERY`] rotation. After the first pass they stop at [`PASS_BUDGET`]; the
    ///    rest wait for the next pass (they keep their place) and meanwhile show their last
    ///    counters with this pass's usage (`counters_t` says when those were read).
    fn sample_cgroups(&mut self, tick: u64, s: &mut Sample) -> anyhow::Result<()> {
        let pass_start = Instant::now();
        let fs = self.cgfs.clone().expect("called with a hierarchy");
        if self.tree.is_empty() || self.full_every == 1 {
            self.rewalk(&fs)?;
        } else {
            self.relist(&fs)?;
        }
        let n = self.tree.len();
        let mut moved = vec![false; n];
        // (order class, waiting since, index)
        let mut wanted: Vec<(u8, u64, usize)> = Vec::new();
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
                self.stats.usage_reads += 1;
                match file.read()? {
                    Some(u) => node.usage = Some(u),
                    None => {
                        node.gone = true;
                        continue;
                    }
                }
            }
            let changed = match (&node.full, node.usage) {
                (Some(st), Some(u)) => u.abs_diff(st.full_usage) > CHANGE_BYTES,
                _ => false,
            };
            if changed {
                node.pending_since.get_or_insert(tick);
            }
            moved[i] = never || changed;
            if never {
                wanted.push((0, 0, i));
            } else if self.full_every <= 1 {
                wanted.push((2, 0, i));
            } else if let Some(since) = node.pending_since {
                wanted.push((1, since, i));
            } else if node.next_due <= tick {
                wanted.push((2, node.next_due, i));
            }
        }
        wanted.sort_unstable();
        let deadline = self
            .budget
            .filter(|_| tick > 1 && self.full_every > 1)
            .map(|b| pass_start + b);
        for (k, &(_, _, i)) in wanted.iter().enumerate() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.stats.deferred = wanted.len() - k;
                break;
            }
            self.full_read(&fs, i, tick, s)?;
        }
        for (path, node) in self.tree.iter().zip(&self.nodes) {
            if node.gone {
                continue;
            }
            s.cgroups.push(match &node.full {
                Some(st) => CgroupSample {
                    usage: node.usage.or(st.sample.usage),
                    ..st.sample.clone()
                },
                None => CgroupSample {
                    path: path.clone(),
                    usage: node.usage,
                    ..CgroupSample::default()
                },
            });
        }
        self.ancestors.clear();
        if self.focus != "/" {
            for a in ancestors_of(&self.focus) {
                if let Some(c) = fs.counters(&a)? {
                    self.ancestors.push(cgroup_sample(&a, c, s.t));
                }
            }
        }
        Ok(())
    }

    /// Reads cgroup `i` in full, with its processes.
    fn full_read(
        &mut self,
        fs: &CgroupFs,
        i: usize,
        tick: u64,
        s: &mut Sample,
    ) -> anyhow::Result<()> {
        self.stats.full_reads += 1;
        let path = &self.tree[i];
        let Some(c) = fs.counters(path)? else {
            self.nodes[i].gone = true;
            return Ok(());
        };
        let mut procs = Vec::new();
        for pid in fs.procs(path)?.unwrap_or_default() {
            if let Some(p) = self.read_process(pid, path)? {
                s.processes.push(p.clone());
                procs.push(p);
            }
        }
        let sample = cgroup_sample(path, c, s.t);
        let node = &mut self.nodes[i];
        let first = node.full.is_none();
        if let Some(old) = node.full.take() {
            // Processes that left (or exited) lose their series; one that moved to a
            // cgroup not yet re-read starts a new one there.
            for p in old.procs {
                if procs.binary_search_by_key(&p.pid, |q| q.pid).is_err() {
                    self.pid.remove(&p.pid);
                    self.deleted.remove(&p.pid);
                }
            }
        }
        let node = &mut self.nodes[i];
        node.usage = sample.usage.or(node.usage);
        node.full = Some(CgState {
            full_usage: sample.usage.unwrap_or(0),
            sample,
            procs,
        });
        node.pending_since = None;
        // The first full reads are staggered over the rotation, so each later pass
        // refreshes about 1/FULL_EVERY of the tree.
        let every = self.full_every.max(1);
        node.next_due = tick + if first { 1 + i as u64 % every } else { every };
        Ok(())
    }

    /// The rolling scan for deleted-but-open files: each pass looks at the next
    /// 1/[`DELETED_ROUND`] of the processes in pid order, at most [`DELETED_PER_PASS`]
    /// (all of them on the first pass), so a round takes [`DELETED_ROUND`] passes, or
    /// `processes / DELETED_PER_PASS` on hosts with more processes.
    fn scan_deleted(&mut self, all: bool) -> anyhow::Result<()> {
        let mounts: Vec<mounts::MountUsage> = self
            .last
            .mounts
            .iter()
            .map(|m| mounts::MountUsage {
                mount_point: m.mount_point.clone(),
                fstype: m.fstype.clone(),
                total: m.total,
                used: m.used,
                avail: m.avail,
            })
            .collect();
        // The processes in groups (per cgroup, in walk order); the cursor is a place in them.
        let groups: Vec<&[ProcessSample]> = if self.cgfs.is_none() {
            vec![&self.last.processes[..]]
        } else {
            self.nodes
                .iter()
                .map(|n| match (&n.full, n.gone) {
                    (Some(st), false) => &st.procs[..],
                    _ => &[][..],
                })
                .collect()
        };
        let total: usize = groups.iter().map(|g| g.len()).sum();
        if total == 0 {
            self.deleted.clear();
            return Ok(());
        }
        let take = if all {
            total
        } else {
            total.div_ceil(DELETED_ROUND).clamp(1, DELETED_PER_PASS)
        };
        let (mut g, mut k) = self.deleted_cursor;
        if g >= groups.len() {
            (g, k) = (0, 0);
        }
        let mut found_any: Vec<(u32, Vec<DeletedOpenFile>)> = Vec::new();
        let mut done = 0;
        while done < take {
            if k >= groups[g].len() {
                (g, k) = ((g + 1) % groups.len(), 0);
                continue;
            }
            let p = &groups[g][k];
            k += 1;
            done += 1;
            let found: Vec<DeletedOpenFile> = mounts::deleted_files(&self.proc, p.pid)?
                .into_iter()
                .map(|d| DeletedOpenFile {
                    pid: d.pid,
                    comm: p.comm.clone(),
                    fd: d.fd,
                    mount: mounts::mount_of(&d.path, &mounts).map(|m| m.mount_point.clone()),
                    path: d.path,
                    size: d.size,
                })
                .collect();
            found_any.push((p.pid, found));
        }
        self.deleted_cursor = (g, k);
        self.stats.fd_scans += done;
        for (pid, found) in found_any {
            if found.is_empty() {
                self.deleted.remove(&pid);
            } else {
                self.deleted.insert(pid, found);
            }
        }
        if self.cgfs.is_none() {
            let live: std::collections::BTreeSet<u32> =
                self.last.processes.iter().map(|p| p.pid).collect();
            self.deleted.retain(|pid, _| live.contains(pid));
        }
        Ok(())
    }

    /// Deleted-but-open files, largest first.
    pub fn deleted(&self) -> Vec<DeletedOpenFile> {
        let mut out: Vec<DeletedOpenFile> = self.deleted.values().flatten().cloned().collect();
        out.sort_by(|a, b| b.size.cmp(&a.size).then(a.pid.cmp(&b.pid)));
        out
    }
}

// ---------------------------------------------------------------------------------------
// Analysis: derived on read

/// The trend of one series as printed.
#[derive(Debug, Clone, Serialize)]
pub struct TrendOut {
    class: Class,
    rate: f64,
    rate_lo: f64,
    rate_hi: f64,
    fitted_last: f64,
    points: usize,
}

impl From<Trend> for TrendOut {
    fn from(t: Trend) -> Self {
        TrendOut {
            class: t.class,
            rate: t.rate,
            rate_lo: t.rate_lo,
            rate_hi: t.rate_hi,
            fitted_last: t.fitted_last,
            points: t.points,
        }
    }
}

/// One cgroup's row.
#[derive(Debug, Clone, Serialize)]
pub struct CgroupRow {
    path: String,
    depth: usize,
    owner: Option<String>,
    usage: Option<u64>,
    limit: Option<u64>,
    limit_name: Option<String>,
    anon: Option<u64>,
    file: Option<u64>,
    shmem: Option<u64>,
    psi_some_avg10: Option<f64>,
    oom_kill: Option<u64>,
    failcnt: Option<u64>,
    /// When the counters other than usage were read (see `CgroupSample::counters_t`).
    counters_t: Option<f64>,
    trend: TrendOut,
    growth: Option<&'static str>,
    growth_mount: Option<String>,
    eta: Option<Eta>,
    #[serde(skip)]
    spark: Vec<f64>,
}

/// One process's row.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessRow {
    pid: u32,
    comm: String,
    cgroup: String,
    rss: u64,
    anon: Option<u64>,
    file: Option<u64>,
    shmem: Option<u64>,
    swap: Option<u64>,
    trend: TrendOut,
    eta: Option<Eta>,
}

/// One mount's row.
#[derive(Debug, Clone, Serialize)]
pub struct MountRow {
    mount_point: String,
    fstype: String,
    total: u64,
    used: u64,
    avail: u64,
    trend: TrendOut,
    eta: Option<Eta>,
}

/// The `oomlens.top/1` document.
#[derive(Debug, Clone, Serialize)]
pub struct TopDoc {
    schema: &'static str,
    t: f64,
    interval: f64,
    cgroup_version: Option<&'static str>,
    mem_total: Option<u64>,
    mem_available: Option<u64>,
    psi_some_avg10: Option<f64>,
    cgroups: Vec<CgroupRow>,
    processes: Vec<ProcessRow>,
    mounts: Vec<MountRow>,
    deleted_open_files: Vec<DeletedOpenFile>,
}

fn depth(path: &str, focus: &str) -> usize {
    let comps = |p: &str| p.split('/').filter(|c| !c.is_empty()).count();
    comps(path).saturating_sub(comps(focus))
}

/// The nearest limit of a cgroup, its own first: v2 `memory.high`, `memory.max`, v1
/// `memory.limit_in_bytes`.
fn own_limit(c: &CgroupSample, v: Option<MemoryVersion>) -> Option<(u64, String)> {
    let (max_name, high) = match v {
        Some(MemoryVersion::V2) => ("memory.max", c.high.and_then(MemLimit::bytes)),
        _ => ("memory.limit_in_bytes", None),
    };
    let max = c.max.and_then(MemLimit::bytes);
    match (high, max) {
        (Some(h), Some(m)) if h < m => Some((h, format!("memory.high of {}", c.path))),
        (Some(h), None) => Some((h, format!("memory.high of {}", c.path))),
        (_, Some(m)) => Some((m, format!("{max_name} of {}", c.path))),
        (None, None) => None,
    }
}

fn limits_for(
    c: &CgroupSample,
    fitted: f64,
    by_path: &FastMap<&str, &CgroupSample>,
    s: &Sample,
    v: Option<MemoryVersion>,
) -> Vec<LimitRef> {
    let mut out = Vec::new();
    let (high_name, max_name) = match v {
        Some(MemoryVersion::V2) => ("memory.high", "memory.max"),
        _ => ("", "memory.limit_in_bytes"),
    };
    let mut push = |cg: &CgroupSample, base: f64| {
        if v == Some(MemoryVersion::V2) {
            if let Some(h) = cg.high.and_then(MemLimit::bytes) {
                out.push(LimitRef {
                    name: format!("{high_name} of {}", cg.path),
                    headroom: h as f64 - base,
                });
            }
        }
        if let Some(m) = cg.max.and_then(MemLimit::bytes) {
            // At the hard limit the kernel reclaims page cache before it kills
            // (mem_cgroup_out_of_memory runs only when try_charge's reclaim fails), so clean
            // cache is room too; shmem/tmpfs pages are not (no swap to move them to).
            let reclaimable = cg.file.unwrap_or(0).saturating_sub(cg.shmem.unwrap_or(0)) as f64;
            out.push(LimitRef {
                name: format!("{max_name} of {}", cg.path),
                headroom: m as f64 - (base - reclaimable).max(0.0),
            });
        }
    };
    push(c, fitted);
    for a in ancestors_of(&c.path) {
        if let Some(ac) = by_path.get(a.as_str()) {
            push(ac, ac.usage.unwrap_or(0) as f64);
        }
    }
    if out.is_empty() {
        if let Some(avail) = s.mem_available {
            out.push(LimitRef {
                name: "MemTotal (MemAvailable left)".into(),
                headroom: avail as f64,
            });
        }
    }
    out
}

/// Which processes [`analyse_for`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessScope<'a> {
    /// Every process.
    All,
    /// Those of one cgroup (the TUI's drill-down).
    Cgroup(&'a str),
    /// None (the TUI's cgroup tree).
    None,
}

/// Rates, classes and ETAs for the sampler's last tick, every process included.
pub fn analyse(sm: &Sampler, interval: f64) -> TopDoc {
    analyse_for(sm, interval, ProcessScope::All)
}

/// [`analyse`] with only the processes of `scope`. Work is spent where it shows: the
/// anon/file/shmem split and the limits are looked at only for series that leak (no other
/// class has an ETA or a growth part).
pub fn analyse_for(sm: &Sampler, interval: f64, scope: ProcessScope<'_>) -> TopDoc {
    let s = &sm.last;
    let cfg = TrendConfig::default();
    let v = sm.version();
    let mut by_path: FastMap<&str, &CgroupSample> = FastMap::default();
    for c in sm.ancestors.iter().chain(&s.cgroups) {
        by_path.insert(c.path.as_str(), c);
    }
    let empty = Series::default();
    let mut mounts_out = Vec::new();
    for m in &s.mounts {
        let ser = sm.mnt.get(&m.mount_point).unwrap_or(&empty);
        let tr = trend::trend(ser.points_into(1, &mut Vec::new()), &cfg);
        let eta = trend::eta(
            &tr,
            &[LimitRef {
                name: format!("size of {}", m.mount_point),
                headroom: (m.total as f64 - tr.fitted_last)
                    .min(m.avail as f64 + m.used as f64 - tr.fitted_last),
            }],
        );
        mounts_out.push(MountRow {
            mount_point: m.mount_point.clone(),
            fstype: m.fstype.clone(),
            total: m.total,
            used: m.used,
            avail: m.avail,
            trend: tr.into(),
            eta,
        });
    }
    // The tmpfs growing fastest answers for shmem growth.
    let growing_tmpfs = mounts_out
        .iter()
        .filter(|m| m.fstype == "tmpfs" || m.fstype == "ramfs")
        .filter(|m| m.trend.class == Class::Leak)
        .max_by(|a, b| a.trend.rate.total_cmp(&b.trend.rate))
        .map(|m| m.mount_point.clone());
    let mut cgroups = Vec::new();
    let mut buf = Vec::with_capacity(sm.window);
    for c in &s.cgroups {
        let ser = sm.cg.get(&c.path).unwrap_or(&empty);
        let tr = trend::trend(ser.points_into(1, &mut buf), &cfg);
        let (growth, eta) = if tr.class == Class::Leak {
            let parts = [
                ("anon", trend::trend(ser.points_into(2, &mut buf), &cfg)),
                ("file", trend::trend(ser.points_into(3, &mut buf), &cfg)),
                ("shmem", trend::trend(ser.points_into(4, &mut buf), &cfg)),
            ];
            let limits = limits_for(c, tr.fitted_last, &by_path, s, v);
            (trend::dominant_part(&parts), trend::eta(&tr, &limits))
        } else {
            (None, None)
        };
        let own = own_limit(c, v);
        cgroups.push(CgroupRow {
            path: c.path.clone(),
            depth: depth(&c.path, &sm.focus),
            owner: sm.owner_label(&c.path),
            usage: c.usage,
            limit: own.as_ref().map(|o| o.0),
            limit_name: own.map(|o| o.1),
            anon: c.anon,
            file: c.file,
            shmem: c.shmem,
            psi_some_avg10: c.psi_some_avg10,
            oom_kill: c.oom_kill,
            failcnt: c.failcnt,
            counters_t: c.counters_t,
            trend: tr.into(),
            growth,
            growth_mount: (growth == Some("shmem"))
                .then(|| growing_tmpfs.clone())
                .flatten(),
            eta,
            spark: ser.ring.iter().map(|p| p[1]).collect(),
        });
    }
    let mut processes = Vec::new();
    let procs: Vec<&ProcessSample> = match scope {
        ProcessScope::All => sm.processes(),
        ProcessScope::Cgroup(path) => sm.processes_of(path),
        ProcessScope::None => Vec::new(),
    };
    for p in procs {
        let ser = sm.pid.get(&p.pid).unwrap_or(&empty);
        let tr = trend::trend(ser.points_into(1, &mut buf), &cfg);
        // A process's growth fills its cgroup's headroom (from the cgroup's fitted value).
        let eta = if tr.class == Class::Leak {
            by_path.get(p.cgroup.as_str()).and_then(|c| {
                let fitted = sm.cg.get(&c.path).map_or(0.0, |ser| {
                    trend::trend(ser.points_into(1, &mut buf), &cfg).fitted_last
                });
                trend::eta(&tr, &limits_for(c, fitted, &by_path, s, v))
            })
        } else {
            None
        };
        processes.push(ProcessRow {
            pid: p.pid,
            comm: p.comm.clone(),
            cgroup: p.cgroup.clone(),
            rss: p.rss(),
            anon: p.anon,
            file: p.file,
            shmem: p.shmem,
            swap: p.swap,
            trend: tr.into(),
            eta,
        });
    }
    TopDoc {
        schema: "oomlens.top/1",
        t: s.t,
        interval,
        cgroup_version: v.map(|v| match v {
            MemoryVersion::V1 => "v1",
            MemoryVersion::V2 => "v2",
        }),
        mem_total: s.mem_total,
        mem_available: s.mem_available,
        psi_some_avg10: s.psi_some_avg10,
        cgroups,
        processes,
        mounts: mounts_out,
        deleted_open_files: sm.deleted(),
    }
}

// ---------------------------------------------------------------------------------------
// Text

fn size(b: Option<u64>) -> String {
    b.map_or_else(|| "-".into(), human_bytes)
}

/// `+1.0 MiB/s`.
pub fn rate_text(r: f64) -> String {
    if r.abs() < 1.0 {
        return "0".into();
    }
    let sign = if r < 0.0 { "-" } else { "+" };
    format!("{sign}{}/s", human_bytes(r.abs() as u64))
}

/// `36s (33s–40s)`.
pub fn eta_text(e: Option<&Eta>) -> String {
    let Some(e) = e else { return "-".into() };
    let d = |s: f64| {
        if s >= 86400.0 {
            format!("{:.1}d", s / 86400.0)
        } else if s >= 3600.0 {
            format!("{:.1}h", s / 3600.0)
        } else if s >= 120.0 {
            format!("{:.0}m", s / 60.0)
        } else {
            format!("{s:.0}s")
        }
    };
    match e.seconds_hi {
        Some(hi) => format!("{} ({}-{})", d(e.seconds), d(e.seconds_lo), d(hi)),
        None => format!("{} ({}-?)", d(e.seconds), d(e.seconds_lo)),
    }
}

fn write_table(out: &mut dyn Write, doc: &TopDoc) -> io::Result<()> {
    writeln!(
        out,
        "memory: total {}, available {}, PSI some avg10 {}",
        size(doc.mem_total),
        size(doc.mem_available),
        doc.psi_some_avg10
            .map_or("-".into(), |p| format!("{p:.2}%"))
    )?;
    writeln!(
        out,
        "{:<44} {:>10} {:>10} {:>12} {:<10} {:<6} {:<22} {:>6}  OWNER",
        "CGROUP", "USAGE", "LIMIT", "RATE", "CLASS", "GROWS", "ETA", "PSI"
    )?;
    for c in &doc.cgroups {
        let name = format!("{}{}", "  ".repeat(c.depth), escape(&c.path));
        let grows = match (&c.growth, &c.growth_mount) {
            (Some(g), Some(m)) => format!("{g} ({})", escape(m)),
            (Some(g), None) => g.to_string(),
            _ => "-".into(),
        };
        writeln!(
            out,
            "{:<44} {:>10} {:>10} {:>12} {:<10} {:<6} {:<22} {:>6}  {}",
            name,
            size(c.usage),
            size(c.limit),
            rate_text(c.trend.rate),
            c.trend.class.as_str(),
            grows,
            eta_text(c.eta.as_ref()),
            c.psi_some_avg10.map_or("-".into(), |p| format!("{p:.1}%")),
            c.owner.as_deref().map(escape).unwrap_or_default()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:>8} {:<16} {:>10} {:>10} {:>10} {:>10} {:>12} {:<10} {:<22} CGROUP",
        "PID", "COMM", "RSS", "ANON", "FILE", "SHMEM", "RATE", "CLASS", "ETA"
    )?;
    let mut procs: Vec<&ProcessRow> = doc.processes.iter().collect();
    procs.sort_by_key(|p| std::cmp::Reverse(p.rss));
    for p in procs.iter().take(20) {
        writeln!(
            out,
            "{:>8} {:<16} {:>10} {:>10} {:>10} {:>10} {:>12} {:<10} {:<22} {}",
            p.pid,
            escape(&p.comm),
            human_bytes(p.rss),
            size(p.anon),
            size(p.file),
            size(p.shmem),
            rate_text(p.trend.rate),
            p.trend.class.as_str(),
            eta_text(p.eta.as_ref()),
            escape(&p.cgroup)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<32} {:<8} {:>10} {:>10} {:>12} {:<10} ETA",
        "MOUNT", "TYPE", "USED", "SIZE", "RATE", "CLASS"
    )?;
    for m in &doc.mounts {
        writeln!(
            out,
            "{:<32} {:<8} {:>10} {:>10} {:>12} {:<10} {}",
            escape(&m.mount_point),
            m.fstype,
            human_bytes(m.used),
            human_bytes(m.total),
            rate_text(m.trend.rate),
            m.trend.class.as_str(),
            eta_text(m.eta.as_ref())
        )?;
    }
    if !doc.deleted_open_files.is_empty() {
        writeln!(out)?;
        writeln!(out, "deleted but still open:")?;
        for d in &doc.deleted_open_files {
            writeln!(
                out,
                "  {} held by pid {} ({}) fd {}: {}{}",
                escape(&d.path),
                d.pid,
                escape(&d.comm),
                d.fd,
                human_bytes(d.size),
                d.mount
                    .as_deref()
                    .map(|m| format!(" on {}", escape(m)))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Running

/// CPU time of this process, user and system (CLOCK_PROCESS_CPUTIME_ID: nanoseconds).
fn cpu_time() -> Duration {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `--bench-passes N`: N passes (paced by `--bench-pace`), each followed by the analysis
/// the TUI's cgroup tree runs per tick; prints CPU per pass (first, mean and worst of the
/// rest), per analysis, what the passes read, and one analysis with every process (what
/// `--json` runs per tick), on stderr.
fn bench(sm: &mut Sampler, n: u32, args: &TopArgs) -> anyhow::Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pace = Duration::from_secs_f64(args.bench_pace.max(0.0));
    let mut next = Instant::now();
    let (mut first, mut first_wall, mut sum, mut worst, mut analysis, mut wall) =
        (0.0, 0.0, 0.0, 0.0f64, 0.0, 0.0);
    let (mut usage, mut full, mut deferred, mut fds, mut lists) = (0, 0, 0, 0, 0);
    let mut doc = None;
    for k in 0..n {
        let (c0, w0) = (cpu_time(), Instant::now());
        sm.tick()?;
        let (pass, pass_wall) = (ms(cpu_time() - c0), ms(w0.elapsed()));
        // What the TUI's cgroup tree analyses per tick.
        let c1 = cpu_time();
        doc = Some(analyse_for(sm, args.interval, ProcessScope::None));
        let a = ms(cpu_time() - c1);
        if k == 0 {
            (first, first_wall) = (pass, pass_wall);
        } else {
            sum += pass;
            wall += pass_wall;
            worst = worst.max(pass);
            analysis += a;
            usage += sm.stats.usage_reads;
            full += sm.stats.full_reads;
            deferred += sm.stats.deferred;
            fds += sm.stats.fd_scans;
            lists += sm.stats.listings;
        }
        next += pace;
        if let Some(rest) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        } else {
            next = Instant::now();
        }
    }
    let tree_doc = doc.expect("n >= 2");
    let c = cpu_time();
    let doc = analyse(sm, args.interval);
    let all = ms(cpu_time() - c);
    let rest = f64::from(n - 1);
    let per = |x: usize| x as f64 / rest;
    eprintln!(
        "passes {n} cgroups {} processes {} first_cpu_ms {first:.2} first_wall_ms {first_wall:.2} \
         cpu_ms_per_pass {:.2} wall_ms_per_pass {:.2} max_cpu_ms {worst:.2} analyse_cpu_ms {:.2} \
         usage_reads {:.0} full_reads {:.1} deferred {:.1} fd_scans {:.0} listings {:.0} \
         analyse_all_cpu_ms {all:.2}",
        tree_doc.cgroups.len(),
        doc.processes.len(),
        sum / rest,
        wall / rest,
        analysis / rest,
        per(usage),
        per(full),
        per(deferred),
        per(fds),
        per(lists),
    );
    Ok(())
}

/// Runs `oomlens top`.
pub fn run(args: &TopArgs) -> anyhow::Result<u8> {
    if !(args.interval > 0.0 && args.interval.is_finite()) {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    let page = args.page_size.unwrap_or_else(procfs::host_page_size);
    let mut sm = Sampler::new(args.root.clone(), args.cgroup.as_deref(), args.window, page)?;
    if args.full {
        sm.full_every = 1;
    }
    if let Some(n) = args.bench_passes {
        return bench(&mut sm, n.max(2), args).map(|_| 0);
    }
    let interval = Duration::from_secs_f64(args.interval);
    let tty = io::stdout().is_terminal();
    if !args.once && !args.json && tty {
        return tui::run(sm, interval, args.interval).map(|_| 0);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut next = Instant::now();
    let mut ticks = 0u64;
    loop {
        sm.tick()?;
        ticks += 1;
        let done_once = args.once && ticks >= args.samples.max(1) as u64;
        let stream = !args.once && args.json;
        if stream || done_once || (!args.once && !args.json && ticks >= args.samples.max(1) as u64)
        {
            let doc = analyse(&sm, args.interval);
            if args.json {
                serde_json::to_writer(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                write_table(&mut out, &doc)?;
            }
            out.flush()?;
            // A plain table on a pipe is one table: like --once.
            if done_once || !args.json {
                return Ok(0);
            }
        }
        if args.count.is_some_and(|c| ticks >= c) {
            return Ok(0);
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A fake v1 tree: `/` (no limit), `/svc` (64 MiB), `/svc/leaky` (48 MiB) with one
    /// process, `/svc/idle`.
    fn fake(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("oomlens-top-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let w = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            "proc/self/mountinfo",
            "30 1 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        );
        w(
            "proc/meminfo",
            "MemTotal: 1048576 kB\nMemFree: 524288 kB\nMemAvailable: 786432 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
        );
        w("proc/pressure/memory", "some avg10=0.50 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n");
        let cg = |rel: &str, limit: u64, pids: &str| {
            let d = format!("sys/fs/cgroup/memory{rel}");
            w(&format!("{d}/memory.limit_in_bytes"), &format!("{limit}\n"));
            w(&format!("{d}/memory.usage_in_bytes"), "1048576\n");
            w(
                &format!("{d}/memory.stat"),
                "total_rss 1048576\ntotal_cache 0\ntotal_shmem 0\n",
            );
            w(&format!("{d}/cgroup.procs"), pids);
        };
        cg("", 9223372036854771712, "");
        cg("/svc", 64 << 20, "");
        cg("/svc/leaky", 48 << 20, "4242\n");
        cg("/svc/idle", 9223372036854771712, "");
        w(
            "proc/4242/status",
            "Name:\tleaky\nState:\tS (sleeping)\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmRSS:\t1024 kB\nRssAnon:\t1024 kB\nRssFile:\t0 kB\nRssShmem:\t0 kB\nVmSwap:\t0 kB\n",
        );
        root
    }

    /// Sets a cgroup's usage (and anon) and, as the kernel's hierarchical usage does, its
    /// ancestors' to 1 MiB (their own) plus that.
    fn set_usage(root: &Path, rel: &str, bytes: u64) {
        let write = |rel: &str, bytes: u64| {
            let d = root.join(format!("sys/fs/cgroup/memory{rel}"));
            std::fs::write(d.join("memory.usage_in_bytes"), format!("{bytes}\n")).unwrap();
            std::fs::write(
                d.join("memory.stat"),
                format!("total_rss {bytes}\ntotal_cache 0\ntotal_shmem 0\n"),
            )
            .unwrap();
        };
        write(rel, bytes);
        for a in ancestors_of(rel) {
            write(if a == "/" { "" } else { &a }, bytes + (1 << 20));
        }
    }

    /// The JSON contract on a fake tree whose `/svc/leaky` grows 1 MiB per (fixed) second:
    /// a leak, named anon, with an ETA to its own limit.
    #[test]
    fn json_snapshot_of_a_leak_on_a_fake_tree() {
        let root = fake("json");
        let mut sm = Sampler::new(root.clone(), None, 60, 4096).unwrap();
        sm.fixed_dt = Some(1.0);
        for i in 0..12u64 {
            set_usage(&root, "/svc/leaky", (8 + i) << 20);
            sm.tick().unwrap();
        }
        let doc = analyse(&sm, 1.0);
        let leaky = doc.cgroups.iter().find(|c| c.path == "/svc/leaky").unwrap();
        assert_eq!(leaky.trend.class, Class::Leak);
        assert_eq!(leaky.growth, Some("anon"));
        let eta = leaky.eta.as_ref().unwrap();
        assert_eq!(eta.limit, "memory.limit_in_bytes of /svc/leaky");
        assert!((eta.seconds - 29.0).abs() < 0.01, "{eta:?}");
        // Mounts come from the host's statvfs of nothing: none in this tree.
        let mut v = serde_json::to_value(&doc).unwrap();
        v["mounts"] = serde_json::json!([]);
        insta::assert_json_snapshot!("top_fake_leak", v);
        let mut text = Vec::new();
        write_table(&mut text, &doc).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("/svc/leaky") && text.contains("leak") && text.contains("29s"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn focus_reads_ancestor_limits_and_rejects_unknown() {
        let root = fake("focus");
        assert!(Sampler::new(root.clone(), Some("/nope"), 60, 4096).is_err());
        let mut sm = Sampler::new(root.clone(), Some("/svc/idle"), 60, 4096).unwrap();
        sm.fixed_dt = Some(1.0);
        for i in 0..10u64 {
            set_usage(&root, "/svc/idle", (1 + i) << 20);
            set_usage(&root, "/svc", (40 + i) << 20);
            sm.tick().unwrap();
        }
        let doc = analyse(&sm, 1.0);
        assert_eq!(doc.cgroups.len(), 1);
        let e = doc.cgroups[0].eta.as_ref().unwrap();
        // /svc/idle has no limit: /svc's 64 MiB with 49 MiB used is nearest, 15 s away.
        assert_eq!(e.limit, "memory.limit_in_bytes of /svc");
        assert!((e.seconds - 15.0).abs() < 0.5, "{e:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn rings_are_bounded_and_vanished_series_dropped() {
        let root = fake("ring");
        let mut sm = Sampler::new(root.clone(), None, 5, 4096).unwrap();
        sm.full_every = 1;
        for _ in 0..12 {
            sm.tick().unwrap();
        }
        assert!(sm.cg.values().all(|s| s.ring.len() == 5));
        assert_eq!(sm.pid[&4242].ring.len(), 5);
        std::fs::remove_dir_all(root.join("proc/4242")).unwrap();
        std::fs::remove_dir_all(root.join("sys/fs/cgroup/memory/svc/idle")).unwrap();
        sm.tick().unwrap();
        assert!(!sm.pid.contains_key(&4242));
        assert!(!sm.cg.contains_key("/svc/idle"));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A quiet cgroup costs one read per tick at most; a move of its usage beyond
    /// CHANGE_BYTES, or its turn every FULL_EVERY ticks, brings a full read.
    #[test]
    fn quiet_cgroups_are_read_in_full_only_when_they_move() {
        let root = fake("quiet");
        let mut sm = Sampler::new(root.clone(), None, 60, 4096).unwrap();
        sm.full_every = 1000;
        sm.tick().unwrap();
        let stat = root.join("sys/fs/cgroup/memory/svc/leaky/memory.stat");
        std::fs::write(&stat, "total_rss 7\ntotal_cache 0\ntotal_shmem 0\n").unwrap();
        sm.tick().unwrap();
        let leaky = |sm: &Sampler| {
            sm.last
                .cgroups
                .iter()
                .find(|c| c.path == "/svc/leaky")
                .unwrap()
                .anon
        };
        assert_eq!(leaky(&sm), Some(1048576), "not re-read: usage did not move");
        assert!(sm.last.processes.is_empty(), "no process re-read");
        assert_eq!(sm.processes().len(), 1, "but still known");
        set_usage(&root, "/svc/leaky", 2 << 20);
        sm.tick().unwrap();
        assert_eq!(leaky(&sm), Some(2 << 20));
        assert_eq!(sm.last.processes.len(), 1, "re-read with its cgroup");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// With the pass budget spent, moved cgroups keep their last counters (with this
    /// pass's usage; `counters_t` tells how old the rest is) and wait, in the order they
    /// moved, for a pass with budget left.
    #[test]
    fn budget_defers_full_reads_in_arrival_order() {
        let root = fake("budget");
        let mut sm = Sampler::new(root.clone(), None, 60, 4096).unwrap();
        sm.fixed_dt = Some(1.0);
        sm.full_every = 1000;
        sm.tick().unwrap();
        let row = |sm: &Sampler, path: &str| {
            sm.last
                .cgroups
                .iter()
                .find(|c| c.path == path)
                .cloned()
                .unwrap()
        };
        sm.budget = Some(Duration::ZERO);
        set_usage(&root, "/svc/leaky", 3 << 20);
        sm.tick().unwrap();
        assert_eq!(sm.stats.full_reads, 0);
        assert_eq!(sm.stats.deferred, 3, "/, /svc and /svc/leaky moved");
        let leaky = row(&sm, "/svc/leaky");
        assert_eq!(leaky.usage, Some(3 << 20), "usage is this pass's");
        assert_eq!(
            leaky.anon,
            Some(1 << 20),
            "the split is the last full read's"
        );
        assert_eq!(leaky.counters_t, Some(1.0));
        // The waiting cgroups come before any that moves later.
        set_usage(&root, "/svc/idle", 5 << 20);
        sm.tick().unwrap();
        let mut wanted: Vec<_> = sm
            .tree
            .iter()
            .zip(&sm.nodes)
            .filter_map(|(p, n)| Some((n.pending_since?, p.as_str())))
            .collect();
        wanted.sort();
        assert_eq!(
            wanted,
            [(2, "/"), (2, "/svc"), (2, "/svc/leaky"), (3, "/svc/idle")]
        );
        sm.budget = None;
        sm.tick().unwrap();
        assert_eq!((sm.stats.full_reads, sm.stats.deferred), (4, 0));
        let leaky = row(&sm, "/svc/leaky");
        assert_eq!((leaky.anon, leaky.counters_t), (Some(3 << 20), Some(4.0)));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// The tree is re-listed a slice per tick: within WALK_EVERY ticks it is the walk of
    /// the directory tree as it is now (new subtrees in, removed ones out, a cgroup removed
    /// and made again read afresh), kept cgroups keep their series, and held files go back.
    #[test]
    fn relisting_follows_made_and_removed_cgroups_a_slice_per_tick() {
        let root = fake("relist");
        let cgdir = |rel: &str| root.join(format!("sys/fs/cgroup/memory{rel}"));
        let make = |rel: &str, usage: u64| {
            let d = cgdir(rel);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("memory.usage_in_bytes"), format!("{usage}\n")).unwrap();
            std::fs::write(d.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
            std::fs::write(d.join("memory.stat"), "total_rss 0\n").unwrap();
            std::fs::write(d.join("cgroup.procs"), "").unwrap();
        };
        for k in 0..60 {
            make(&format!("/svc/k{k:02}"), 1 << 20);
        }
        make("/svc-x", 1 << 20);
        let mut sm = Sampler::new(root.clone(), None, 100, 4096).unwrap();
        let held_at_start = sm.hold_left;
        sm.fixed_dt = Some(1.0);
        sm.tick().unwrap();
        let n0 = sm.tree.len();
        assert_eq!(n0, 65);
        let fs = sm.cgfs.clone().unwrap();
        assert_eq!(sm.tree, fs.walk("/").unwrap());

        make("/svc/new", 2 << 20);
        make("/svc/new/deep", 3 << 20);
        make("/zz", 1 << 20);
        std::fs::remove_dir_all(cgdir("/svc/idle")).unwrap();
        std::fs::remove_dir_all(cgdir("/svc/k07")).unwrap();
        let per_tick = n0.div_ceil(WALK_EVERY as usize);
        for _ in 0..WALK_EVERY {
            sm.tick().unwrap();
            assert!(sm.stats.listings <= per_tick + 1, "{}", sm.stats.listings);
        }
        assert_eq!(sm.tree, fs.walk("/").unwrap());
        assert_eq!(sm.tree.len(), n0 + 3 - 2);
        let mut check = sm.tree.clone();
        check.sort();
        check.dedup();
        assert_eq!(check.len(), sm.tree.len(), "no path twice");
        for (path, node) in sm.tree.iter().zip(&sm.nodes) {
            let parent = node.parent.map(|p| sm.tree[p].as_str());
            let want = match path.rfind('/') {
                _ if path == "/" => None,
                Some(0) => Some("/"),
                Some(k) => Some(&path[..k]),
                None => unreachable!(),
            };
            assert_eq!(parent, want, "parent of {path}");
        }
        let usage = |p: &str| {
            sm.last
                .cgroups
                .iter()
                .find(|c| c.path == p)
                .and_then(|c| c.usage)
        };
        assert_eq!(usage("/svc/new/deep"), Some(3 << 20));
        assert_eq!(usage("/zz"), Some(1 << 20));
        assert_eq!(usage("/svc/idle"), None);
        assert!(!sm.owners.contains_key("/svc/idle"));
        assert!(sm.owners.contains_key("/svc/new/deep"));
        // Kept cgroups kept their history (a point per tick since the first), and their
        // processes theirs (a point per full read of the quiet cgroup).
        assert_eq!(sm.cg["/svc/leaky"].ring.len(), 1 + WALK_EVERY as usize);
        assert!(sm.pid.contains_key(&4242));
        let held = sm
            .nodes
            .iter()
            .filter(|n| n.usage_file.as_ref().is_some_and(UsageFile::is_held))
            .count();
        assert_eq!(
            held + sm.hold_left,
            held_at_start,
            "removed files went back"
        );

        // Alone, /svc/k10 removed and made again: on cgroupfs its held file then reads
        // ENODEV (the node is gone) while its parent lists the same names; a fake tree
        // cannot do that, so the test marks it.
        let k10 = sm.tree.iter().position(|p| p == "/svc/k10").unwrap();
        sm.nodes[k10].gone = true;
        std::fs::write(cgdir("/svc/k10").join("memory.usage_in_bytes"), "7340032\n").unwrap();
        for _ in 0..WALK_EVERY {
            sm.tick().unwrap();
        }
        let k10 = sm.last.cgroups.iter().find(|c| c.path == "/svc/k10");
        assert_eq!(k10.and_then(|c| c.usage), Some(7 << 20), "read afresh");
        assert_eq!(sm.tree, fs.walk("/").unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn ancestors_and_depth() {
        assert_eq!(ancestors_of("/a/b/c"), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors_of("/"), Vec::<String>::new());
        assert_eq!(depth("/a/b", "/"), 2);
        assert_eq!(depth("/a/b", "/a"), 1);
        assert_eq!(depth("/a", "/a"), 0);
    }
}
