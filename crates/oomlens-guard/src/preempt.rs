//! Pre-emption in the guard: the cgroups the `[[preempt]]` policies match, their usage
//! thresholds as events, the decision (`oomlens_analysis::preempt::decide`) and the action
//! (`oomlens_act`), all driven from the daemon's epoll loop by a few calls.
//!
//! Why events: a leak of 500 MiB/s crosses the last 10% of a 1 GiB limit in 0.2 s; one pass
//! a second is too slow. On cgroup v1 each matched cgroup gets a usage threshold
//! (`cgroup.event_control` = `<eventfd> <fd of memory.usage_in_bytes> <share × limit>`,
//! Documentation/admin-guide/cgroup-v1/memory.rst, "Memory thresholds"): the kernel signals the
//! eventfd when usage crosses it (checked on charge, mm/memcontrol-v1.c
//! `mem_cgroup_threshold`, every 128 page events), and the event is handled at once: the
//! cgroup's processes read then and compared with a sample 1 to 3 s older (or their start) to
//! find the fastest-growing. On v2, [`crate::preempt_v2`] wakes it between passes (a fast poll of
//! `memory.current` near the threshold, `memory.events` high/max, PSI triggers).
//!
//! Per pass, each matched cgroup's usage and limit are read (files held open, one pread each)
//! and its processes' `stat` and `statm`: only cgroups a policy names, so the cost is the
//! configuration's. A process with no earlier sample (started since the last pass) grows at
//! its RSS over its age.
//!
//! A kill in progress holds the target's pidfd in the epoll set (EPOLLIN at exit) and its
//! SIGKILL deadline in [`Preempter::next_deadline`].
//!
//! Protected processes, never candidates: those whose first matching `[[protect]]` rule is
//! not preemptible (`oomlens_analysis::protect_rules::shielding`, the matcher the adj writer
//! uses; a rule protects whether or not its adj write succeeded), and those at
//! oom_score_adj -1000 (the kernel spares them too). Both are worked out once per process
//! (pid and start time) and again at each pass, not on a threshold's wake-up: the matcher
//! needs only the comm read with `stat` anyway, the cgroup (the matched one) and, when a
//! rule names one, the exe; the adj costs one read per process per pass.
//!
//! SIGHUP ([`Preempter::reload`]): the new policies and rules apply at once: the cgroups are
//! matched again, thresholds re-armed at the new share (the old eventfd closed, which ends
//! its registration), cgroups no policy matches any more dropped. A kill in progress goes on
//! under the grace period it started with. Each cgroup keeps a stable id in its epoll
//! tokens, so a reload that reorders the matched cgroups never sends an event to another.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oomlens_act::{ActError, Expected, Guard, Kill, Procfs, Target};
use oomlens_analysis::preempt::{
    decide, Candidate, CgroupPoint, Decision, Inputs, Policy, State, Target as Chosen, Verdict,
};
use oomlens_analysis::protect_rules::{self, ProcFacts, ProtectRule};
use oomlens_model::CgroupVersion;
use rustix::event::epoll;

/// Epoll tokens of the usage thresholds: this in the high half, the cgroup's id below.
pub const TOKEN_THRESHOLD: u64 = 3 << 32;
/// Epoll tokens of the pidfds of kills in progress: this in the high half, the kill's id.
pub const TOKEN_PIDFD: u64 = 4 << 32;
/// Cgroup samples kept per matched cgroup (the pressure and forecast triggers look back
/// this far).
const HISTORY: usize = 64;
/// A process's growth is measured over at least this many seconds where its samples allow.
/// A paced leaker allocates in bursts (`oomlens-hog --rate`: 1 MiB, then a sleep); two
/// decisions within one of its sleeps saw it not growing, every candidate at 0, and the
/// fallback took the largest, the main process (1 run in 240 of the systemd guest's
/// innocent-sibling bench).
const GROWTH_SPAN_MIN: f64 = 1.0;
/// ... and from a base at most this old when a newer one is at least [`GROWTH_SPAN_MIN`] old,
/// so that growth that stopped long ago does not count.
const GROWTH_SPAN_MAX: f64 = 3.0;
/// The (t, rss) a process's growth at `now` is measured from: the newest earlier sample at
/// least [`GROWTH_SPAN_MIN`] old, else the oldest (a process sampled only in the last second).
fn growth_base(hist: &[(f64, u64)], now: f64) -> Option<(f64, u64)> {
    hist.iter()
        .rev()
        .find(|p| now - p.0 >= GROWTH_SPAN_MIN)
        .or(hist.first())
        .copied()
}

/// `hist` with the sample (now, rss) added, and what [`growth_base`] can no longer need
/// dropped: samples older than [`GROWTH_SPAN_MAX`] but the newest at least
/// [`GROWTH_SPAN_MIN`] old.
fn push_sample(hist: &[(f64, u64)], now: f64, rss: u64) -> Vec<(f64, u64)> {
    let keep_from = hist
        .iter()
        .rposition(|p| now - p.0 >= GROWTH_SPAN_MIN)
        .map_or(0, |i| {
            let first_recent = hist.iter().position(|p| now - p.0 <= GROWTH_SPAN_MAX);
            first_recent.map_or(i, |r| r.min(i))
        });
    let mut out = hist[keep_from..].to_vec();
    out.push((now, rss));
    out
}

/// Matched cgroups are looked for again every this many passes (and at start).
const RESCAN_EVERY: u64 = 10;

/// Whether an epoll token is ours.
pub fn owns(token: u64) -> bool {
    matches!(token >> 32, 3 | 4) || crate::preempt_v2::owns(token)
}

/// One decision to record and report, with its outcome.
#[derive(Debug, Clone)]
pub struct Made {
    /// The policy's name.
    pub policy: String,
    /// The cgroup.
    pub cgroup: String,
    /// The decision and its numbers.
    pub decision: Decision,
    /// `dry-run`, `signalled`, `killed-cgroup`, or `refused (why)` / `failed (why)`.
    pub result: String,
    /// What woke the decision: `threshold` (v1 eventfd), `pass`, `event`.
    pub trigger: &'static str,
    /// Seconds from the wake-up (eventfd read) to the signal sent.
    pub latency: Option<f64>,
    /// `CLOCK_MONOTONIC` seconds when the signal was sent (what a test compares with the
    /// target's own clock).
    pub signalled_mono: Option<f64>,
    /// The processes of the cgroup set aside as protected, with why.
    pub protected: Vec<Protected>,
}

/// A process set aside as protected, and why (recorded with the decision).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Protected {
    /// Pid.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// The `[[protect]]` rule that shields it, or `None` for oom_score_adj -1000.
    pub rule: Option<String>,
}

/// The last sample of one process and what protects it.
struct Sample {
    t: f64,
    rss: u64,
    /// Earlier (t, rss) samples, oldest first: those of the last [`GROWTH_SPAN_MAX`] s and
    /// the newest one at least [`GROWTH_SPAN_MIN`] old ([`growth_base`] picks from them).
    hist: Vec<(f64, u64)>,
    start: u64,
    /// The comm the shield was worked out with (a rename is matched again).
    comm: String,
    /// The rule set ([`Preempter::rules_gen`]) `shield` was worked out under.
    gen: u64,
    shield: Option<Protected>,
}

struct Matched {
    /// Stable across rescans and reloads: the epoll token's low half, a kill's cgroup.
    id: u64,
    path: String,
    dir: PathBuf,
    policy: usize,
    usage: File,
    limit: Option<u64>,
    threshold: Option<(OwnedFd, File, u64)>,
    history: Vec<CgroupPoint>,
    /// Over the threshold with no process that may be signalled, and said so.
    refused: bool,
    /// The last sample of each process.
    procs: HashMap<u32, Sample>,
    state: State,
}

struct Running {
    /// The [`Matched::id`].
    cgroup: u64,
    kill: Kill,
}

/// The pre-emption state of the guard.
pub struct Preempter {
    policies: Vec<Policy>,
    rules: Vec<ProtectRule>,
    /// Bumped when `rules` change: cached shields of another generation are stale.
    rules_gen: u64,
    next_cgroup: u64,
    procfs: Procfs,
    mem_dir: PathBuf,
    mount_root: String,
    version: CgroupVersion,
    own_pid: u32,
    dry_run: bool,
    matched: Vec<Matched>,
    running: Vec<Running>,
    next_id: u64,
    passes: u64,
    page: u64,
    tick: f64,
    boot_offset: f64,
    /// Decisions to record, taken by the daemon.
    pub made: Vec<Made>,
    /// v2: what wakes the decision between passes (`crate::preempt_v2`).
    pub v2: Option<crate::preempt_v2::V2Events>,
}

fn read_u64(f: &File) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = f.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

fn read_limit(dir: &Path, version: CgroupVersion) -> Option<u64> {
    let file = match version {
        CgroupVersion::V1 => "memory.limit_in_bytes",
        CgroupVersion::V2 => "memory.max",
    };
    read_bytes(dir, file)
}

/// v2 `memory.high`; `None` on v1 or when it is `max`.
fn read_high(dir: &Path, version: CgroupVersion) -> Option<u64> {
    match version {
        CgroupVersion::V1 => None,
        CgroupVersion::V2 => read_bytes(dir, "memory.high"),
    }
}

/// `some avg10` of the cgroup's `memory.pressure` (v2; PSI, Documentation/accounting/psi.rst).
/// On v1 the cgroup has no PSI file of its own: `None`, and a pressure trigger never holds.
fn read_psi(dir: &Path, version: CgroupVersion) -> Option<f64> {
    if version != CgroupVersion::V2 {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("memory.pressure")).ok()?;
    let some = text.lines().find(|l| l.starts_with("some "))?;
    some.split_whitespace()
        .find_map(|w| w.strip_prefix("avg10="))?
        .parse()
        .ok()
}

fn read_bytes(dir: &Path, file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let v: u64 = text.trim().parse().ok()?;
    // v1 prints the page counter maximum (PAGE_COUNTER_MAX × page size) when unlimited.
    (v < 1 << 62).then_some(v)
}

fn clock(id: rustix::time::ClockId) -> f64 {
    let t = rustix::time::clock_gettime(id);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

impl Preempter {
    /// For `policies` (already checked) on the memory hierarchy at `mem_dir`; `dry_run`
    /// forces every policy's dry run (`--dry-run`). The protection rules are set with
    /// [`Preempter::set_rules`] (none until then).
    pub fn new(
        policies: Vec<Policy>,
        root: &Path,
        mem_dir: PathBuf,
        mount_root: String,
        version: CgroupVersion,
        dry_run: bool,
    ) -> Preempter {
        // SAFETY: sysconf has no preconditions.
        let (page, hz) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        Preempter {
            policies,
            rules: Vec::new(),
            rules_gen: 0,
            next_cgroup: 0,
            procfs: Procfs::new(root.join("proc")),
            mem_dir,
            mount_root,
            version,
            own_pid: std::process::id(),
            dry_run,
            matched: Vec::new(),
            running: Vec::new(),
            next_id: 0,
            passes: 0,
            page: page.max(1) as u64,
            tick: 1.0 / hz.max(1) as f64,
            // Start times count from boot (CLOCK_BOOTTIME); decisions use CLOCK_MONOTONIC.
            boot_offset: clock(rustix::time::ClockId::Boottime)
                - clock(rustix::time::ClockId::Monotonic),
            made: Vec::new(),
            v2: None,
        }
    }

    /// Policies held.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// No policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// True when a pass, [`Preempter::advance`] and the loop's collection of what was done
    /// have nothing to act on: no policy, no match, no kill under way, nothing made.
    pub fn idle(&self) -> bool {
        self.policies.is_empty()
            && self.matched.is_empty()
            && self.running.is_empty()
            && self.made.is_empty()
    }

    /// The `[[protect]]` rules whose non-preemptible matches are never candidates.
    pub fn set_rules(&mut self, rules: Vec<ProtectRule>) {
        self.rules = rules;
        self.rules_gen += 1;
    }

    /// SIGHUP with a configuration that loaded: its policies and rules apply from now on
    /// (see the module doc). Returns how many cgroups the policies match now.
    pub fn reload(
        &mut self,
        ep: &OwnedFd,
        policies: Vec<Policy>,
        rules: Vec<ProtectRule>,
    ) -> usize {
        self.policies = policies;
        self.set_rules(rules);
        self.rescan(ep);
        self.matched.len()
    }

    fn slot_of(&self, id: u64) -> Option<usize> {
        self.matched.iter().position(|m| m.id == id)
    }

    fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let rel = path.strip_prefix(self.mount_root.trim_end_matches('/'))?;
        Some(self.mem_dir.join(rel.trim_start_matches('/')))
    }

    /// Finds the cgroups the policies match (first policy wins), keeping those already held.
    fn rescan(&mut self, ep: &OwnedFd) {
        let mut found: Vec<(String, usize)> = Vec::new();
        for (i, p) in self.policies.iter().enumerate() {
            let prefix = p.literal_prefix();
            let Some(dir) = self.dir_of(&prefix) else {
                continue;
            };
            let mut stack = vec![(prefix.trim_end_matches('/').to_string(), dir)];
            while let Some((path, dir)) = stack.pop() {
                let shown = if path.is_empty() {
                    "/".to_string()
                } else {
                    path.clone()
                };
                if p.matches_cgroup(&shown) && !found.iter().any(|f| f.0 == shown) {
                    found.push((shown, i));
                }
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let name = e.file_name().to_string_lossy().into_owned();
                        stack.push((format!("{path}/{name}"), e.path()));
                    }
                }
            }
        }
        self.matched.retain(|m| {
            let keep = found.iter().any(|f| f.0 == m.path);
            if !keep {
                eprintln!(
                    "oomlens guard: preempt: {} no longer matched: its threshold closed",
                    oomlens_sinks::escape::escape(&m.path)
                );
            }
            keep
        });
        for (path, policy) in found {
            if let Some(m) = self.matched.iter_mut().find(|m| m.path == path) {
                // A reload may give it another policy (or move its policy's index).
                m.policy = policy;
                continue;
            }
            let Some(dir) = self.dir_of(&path) else {
                continue;
            };
            let usage_file = match self.version {
                CgroupVersion::V1 => "memory.usage_in_bytes",
                CgroupVersion::V2 => "memory.current",
            };
            let Ok(usage) = File::open(dir.join(usage_file)) else {
                continue;
            };
            let limit = read_limit(&dir, self.version);
            self.next_cgroup += 1;
            self.matched.push(Matched {
                id: self.next_cgroup,
                path,
                dir,
                policy,
                usage,
                limit,
                threshold: None,
                history: Vec::new(),
                procs: HashMap::new(),
                state: State::default(),
                refused: false,
            });
        }
        for slot in 0..self.matched.len() {
            self.arm(ep, slot);
        }
        if self.version == CgroupVersion::V2 && self.v2.is_none() {
            self.v2 = crate::preempt_v2::V2Events::new(ep).ok();
        }
        if let Some(v2) = self.v2.as_mut() {
            v2.sync(
                ep,
                self.matched
                    .iter()
                    .map(|m| (m.path.as_str(), m.dir.as_path())),
            );
        }
    }

    /// v1: registers (again, when the limit changed) the usage threshold at share × limit.
    fn arm(&mut self, ep: &OwnedFd, slot: usize) {
        if self.version != CgroupVersion::V1 {
            return;
        }
        let m = &mut self.matched[slot];
        let p = &self.policies[m.policy];
        let Some(bytes) = m.limit.map(|l| (l as f64 * p.share) as u64) else {
            return;
        };
        if m.threshold.as_ref().is_some_and(|t| t.2 == bytes) {
            return;
        }
        let arm = || -> std::io::Result<(OwnedFd, File)> {
            let efd = rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::NONBLOCK | rustix::event::EventfdFlags::CLOEXEC,
            )?;
            let usage = File::open(m.dir.join("memory.usage_in_bytes"))?;
            std::fs::write(
                m.dir.join("cgroup.event_control"),
                format!("{} {} {bytes}", efd.as_raw_fd(), usage.as_raw_fd()),
            )?;
            epoll::add(
                ep,
                &efd,
                epoll::EventData::new_u64(TOKEN_THRESHOLD | m.id),
                epoll::EventFlags::IN,
            )?;
            Ok((efd, usage))
        };
        match arm() {
            Ok((efd, usage)) => {
                // Replacing the old eventfd closes it: the kernel drops that registration
                // (memcg_event_wake on EPOLLHUP, mm/memcontrol-v1.c).
                m.threshold = Some((efd, usage, bytes));
                eprintln!(
                    "oomlens guard: preempt: {} armed at {bytes} bytes (share {} of limit {}), policy {}",
                    oomlens_sinks::escape::escape(&m.path),
                    p.share,
                    m.limit.unwrap_or(0),
                    oomlens_sinks::escape::escape(p.display_name()),
                );
            }
            Err(e) => eprintln!(
                "oomlens guard: preempt: {}: arming the threshold: {e}",
                oomlens_sinks::escape::escape(&m.path)
            ),
        }
    }

    /// A sampler pass: rescans now and then, samples each matched cgroup, decides.
    pub fn on_pass(&mut self, ep: &OwnedFd) {
        if self.policies.is_empty() && self.matched.is_empty() {
            return; // no policy: an idle pass touches nothing here (a reload rescans)
        }
        if self.passes % RESCAN_EVERY == 0 {
            self.rescan(ep);
        }
        self.passes += 1;
        for slot in 0..self.matched.len() {
            self.evaluate(ep, slot, "pass", None);
        }
    }

    /// An epoll event on one of our tokens.
    pub fn on_event(&mut self, ep: &OwnedFd, token: u64) {
        let woke = Instant::now();
        let id = token & 0xffff_ffff;
        if token >> 32 == TOKEN_THRESHOLD >> 32 {
            let Some(idx) = self.slot_of(id) else { return };
            if let Some((efd, _, _)) = self.matched[idx].threshold.as_ref() {
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(efd, &mut buf);
                self.evaluate(ep, idx, "threshold", Some(woke));
            }
        } else if crate::preempt_v2::owns(token) {
            for w in self
                .v2
                .as_mut()
                .map_or(Vec::new(), |v2| v2.on_event(ep, token))
            {
                if let Some(slot) = self.matched.iter().position(|m| m.path == w.path) {
                    self.evaluate(ep, slot, w.source, Some(woke));
                }
            }
        } else {
            self.advance(ep, woke);
        }
    }

    /// When [`Preempter::advance`] is due without an event (a SIGKILL deadline).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.running.iter().filter_map(|r| r.kill.deadline()).min()
    }

    /// Moves the kills in progress on: exits seen, SIGKILL at deadlines.
    pub fn advance(&mut self, ep: &OwnedFd, now: Instant) {
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let step = r.kill.advance(now);
            if matches!(step, Ok(oomlens_act::Step::Exited) | Err(_)) {
                let r = self.running.swap_remove(i);
                let _ = epoll::delete(ep, r.kill.as_fd());
                if let Some(w) = self
                    .matched
                    .iter_mut()
                    .find(|m| m.id == r.cgroup)
                    .and_then(|m| m.state.waiting.as_mut())
                {
                    w.exited = true;
                }
            } else {
                i += 1;
            }
        }
    }

    /// The cgroup's processes now, each with what protects it: worked out again when `fresh`
    /// (a pass) or for a process not seen under the current rules, else taken from the last
    /// sample (a threshold's wake-up reads only `stat` and `statm` of each process).
    fn sample_processes(
        &self,
        m: &Matched,
        now: f64,
        fresh: bool,
    ) -> Vec<(Candidate, Option<Protected>)> {
        let Ok(text) = std::fs::read_to_string(m.dir.join("cgroup.procs")) else {
            return Vec::new();
        };
        let (rules_exe, _) = protect_rules::needs(&self.rules);
        // A `prefer` pattern with a `/` is matched against the exe at every decision.
        let prefer_exe = self.policies[m.policy]
            .prefer
            .iter()
            .any(|p| p.contains('/'));
        // Every process listed is in this cgroup: the rules' cgroup and unit are its.
        let unit = oomlens_analysis::owner::owner_of(&m.path).unit;
        let mut out = Vec::new();
        for pid in text.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
            let base = self.procfs.root().join(pid.to_string());
            let Ok(stat_text) = std::fs::read_to_string(base.join("stat")) else {
                continue;
            };
            let Some(stat) = oomlens_act::StatFields::parse(&stat_text) else {
                continue;
            };
            let comm = stat_text
                .split_once('(')
                .and_then(|(_, r)| r.rsplit_once(')'))
                .map_or(String::new(), |(c, _)| c.to_string());
            let rss = std::fs::read_to_string(base.join("statm"))
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map_or(0, |pages| pages * self.page);
            let last = m.procs.get(&pid).filter(|s| s.start == stat.start_time);
            let cached = last.filter(|s| !fresh && s.gen == self.rules_gen && s.comm == comm);
            let exe = (prefer_exe || (rules_exe && cached.is_none()))
                .then(|| std::fs::read_link(base.join("exe")).ok())
                .flatten()
                .map(|p| p.to_string_lossy().into_owned());
            let shield = match cached {
                Some(s) => s.shield.clone(),
                None => self.shield(
                    pid,
                    &base,
                    ProcFacts {
                        start: stat.start_time,
                        comm: comm.clone(),
                        exe: exe.clone(),
                        cgroup: Some(m.path.clone()),
                        unit: unit.clone(),
                    },
                ),
            };
            let earlier = match last {
                Some(s) => growth_base(&s.hist, now).unwrap_or((s.t, s.rss)),
                // New since the last sample: it grew from nothing since it started.
                None => (stat.start_time as f64 * self.tick - self.boot_offset, 0),
            };
            let mut series = vec![(earlier.0, earlier.1)];
            if now > earlier.0 {
                series.push((now, rss));
            } else {
                series[0] = (now, rss);
            }
            out.push((
                Candidate {
                    pid,
                    start_time: stat.start_time,
                    comm,
                    exe,
                    kernel_thread: stat.kernel_thread(),
                    rss: series,
                },
                shield,
            ));
        }
        out
    }

    /// What protects one process: the rule that shields it, else oom_score_adj -1000 (the
    /// kernel never kills it either; one read).
    fn shield(&self, pid: u32, base: &Path, facts: ProcFacts) -> Option<Protected> {
        let rule = match protect_rules::shielding(&self.rules, &facts) {
            Some(r) => Some(r.name.clone()),
            None => {
                let adj = std::fs::read_to_string(base.join("oom_score_adj")).ok()?;
                (adj.trim() == "-1000").then_some(None)?
            }
        };
        Some(Protected {
            pid,
            comm: facts.comm,
            rule,
        })
    }

    fn evaluate(
        &mut self,
        ep: &OwnedFd,
        slot: usize,
        trigger: &'static str,
        woke: Option<Instant>,
    ) {
        let now = clock(rustix::time::ClockId::Monotonic);
        let m = &self.matched[slot];
        let Some(usage) = read_u64(&m.usage) else {
            return;
        };
        let limit = if trigger == "pass" {
            read_limit(&m.dir, self.version)
        } else {
            m.limit
        };
        let high = read_high(&m.dir, self.version);
        let psi = read_psi(&m.dir, self.version);
        let (procs, shields): (Vec<Candidate>, Vec<Option<Protected>>) = self
            .sample_processes(m, now, trigger == "pass")
            .into_iter()
            .unzip();
        let gen = self.rules_gen;
        let m = &mut self.matched[slot];
        m.limit = limit;
        m.history.push(CgroupPoint {
            t: now,
            usage,
            limit,
            high,
            psi_some_avg10: psi,
        });
        if m.history.len() > HISTORY {
            m.history.remove(0);
        }
        m.procs = procs
            .iter()
            .zip(&shields)
            .map(|(c, shield)| {
                let s = Sample {
                    t: now,
                    rss: c.rss_now(),
                    hist: push_sample(
                        m.procs
                            .get(&c.pid)
                            .filter(|o| o.start == c.start_time)
                            .map_or(&[][..], |o| &o.hist),
                        now,
                        c.rss_now(),
                    ),
                    start: c.start_time,
                    comm: c.comm.clone(),
                    gen,
                    shield: shield.clone(),
                };
                (c.pid, s)
            })
            .collect();
        let protected_by: Vec<Protected> = shields.into_iter().flatten().collect();
        let protected: Vec<u32> = protected_by.iter().map(|p| p.pid).collect();
        let policy = &self.policies[m.policy];
        let mut p = policy.clone();
        p.dry_run |= self.dry_run;
        let guard = [self.own_pid];
        let decision = decide(&Inputs {
            policy: &p,
            cgroup: &m.history,
            processes: &procs,
            protected: &protected,
            guard: &guard,
            state: m.state,
        });
        m.state = m.state.after(&decision);
        if let Some(v2) = self.v2.as_mut() {
            v2.sampled(&m.path, usage, decision.numbers.threshold);
        }
        let target = match &decision.verdict {
            Verdict::Act(t) => t.clone(),
            Verdict::Settled { .. } => return self.evaluate(ep, slot, trigger, woke),
            // Said once per crossing (again after usage went below the threshold), so a
            // cgroup of protected processes does not fill the log at every pass.
            Verdict::NoCandidate if !m.refused => {
                m.refused = true;
                eprintln!("{}", refusal_line(&m.path, &decision, &protected_by));
                return;
            }
            Verdict::Below => {
                m.refused = false;
                return;
            }
            _ => return,
        };
        let (result, latency) = self.act(ep, slot, &target, &protected, woke);
        let signalled_mono = (result == "signalled" || result == "killed-cgroup")
            .then(|| clock(rustix::time::ClockId::Monotonic));
        let m = &self.matched[slot];
        self.made.push(Made {
            policy: self.policies[m.policy].display_name().to_string(),
            cgroup: m.path.clone(),
            decision,
            result,
            trigger,
            latency,
            signalled_mono,
            protected: protected_by,
        });
        if slot < self.matched.len() {
            self.arm(ep, slot);
        }
    }

    fn act(
        &mut self,
        ep: &OwnedFd,
        slot: usize,
        t: &Chosen,
        protected: &[u32],
        woke: Option<Instant>,
    ) -> (String, Option<f64>) {
        if t.dry_run {
            return ("dry-run".into(), None);
        }
        let m = &self.matched[slot];
        let guard = Guard {
            own_pid: self.own_pid,
            protected,
        };
        if t.whole_cgroup {
            return match oomlens_act::kill_cgroup(&self.procfs, &m.dir, &m.path, &guard) {
                Ok(_) => (
                    "killed-cgroup".into(),
                    woke.map(|w| w.elapsed().as_secs_f64()),
                ),
                Err(e) => (outcome(&e), None),
            };
        }
        let want = Expected {
            pid: t.pid,
            start_time: t.start_time,
            cgroup: &m.path,
        };
        let target = match Target::open(&self.procfs, &want, &guard) {
            Ok(t) => t,
            Err(e) => return (outcome(&e), None),
        };
        let grace = Duration::try_from_secs_f64(t.grace_secs).unwrap_or_default();
        match Kill::start(target, grace, Instant::now()) {
            Ok(kill) => {
                let latency =
                    woke.map(|w| kill.signalled_at.saturating_duration_since(w).as_secs_f64());
                let id = self.next_id;
                self.next_id += 1;
                let _ = epoll::add(
                    ep,
                    kill.as_fd(),
                    epoll::EventData::new_u64(TOKEN_PIDFD | id),
                    epoll::EventFlags::IN,
                );
                self.running.push(Running {
                    cgroup: self.matched[slot].id,
                    kill,
                });
                ("signalled".into(), latency)
            }
            Err(e) => (outcome(&e), None),
        }
    }
}

/// One line on stderr per decision that acted (or would have, dry run): the guard's own
/// journal/log line, read back by `oomlens explain` like any other killer's
/// (`oomlens-parse`, `userspace/guard.rs`). Untrusted text (comm, cgroup, policy name)
/// escaped. Form:
///
/// `oomlens guard: OOM preempt pid PID (COMM) in CGROUP: result R, signal S, usage B, threshold B,
/// line B, rss B, growth B/s, chosen-by C, trigger T[, latency-ms L], policy NAME`
pub fn log_line(m: &Made) -> Option<String> {
    use oomlens_analysis::preempt::ChosenBy;
    use oomlens_sinks::escape::escape;
    let Verdict::Act(t) = &m.decision.verdict else {
        return None;
    };
    let n = &m.decision.numbers;
    let signal = if t.dry_run {
        "none"
    } else if t.whole_cgroup || t.grace_secs == 0.0 {
        "SIGKILL"
    } else {
        "SIGTERM"
    };
    let chosen = match t.chosen_by {
        ChosenBy::FastestGrowing => "fastest-growing".to_string(),
        ChosenBy::Largest => "largest".to_string(),
        ChosenBy::Prefer(i) => format!("prefer-{i}"),
    };
    let latency = m
        .latency
        .map_or(String::new(), |l| format!(", latency-ms {:.3}", l * 1e3));
    Some(format!(
        "oomlens guard: OOM preempt pid {} ({}) in {}: result {}, signal {signal}, usage {}, threshold {}, line {}, rss {}, growth {:.0}, chosen-by {chosen}, trigger {}{latency}, policy {}",
        t.pid,
        escape(&t.comm),
        escape(&m.cgroup),
        escape(&m.result),
        n.usage,
        n.threshold.unwrap_or(0),
        n.line.unwrap_or(0),
        t.rss,
        t.growth,
        m.trigger,
        escape(&m.policy),
    ))
}

/// The line logged when a cgroup is over its threshold and every process in it is set aside
/// (PID 1, the guard, kernel threads, protected, empty): the numbers, and each protected
/// process with its rule. Untrusted text escaped.
pub fn refusal_line(cgroup: &str, d: &Decision, protected: &[Protected]) -> String {
    use oomlens_sinks::escape::escape;
    let n = &d.numbers;
    let e = &n.excluded;
    let list: Vec<String> = protected
        .iter()
        .map(|p| {
            let why = p
                .rule
                .as_deref()
                .map_or("oom_score_adj -1000".to_string(), |r| {
                    format!("rule {}", escape(r))
                });
            format!("{} ({}, {why})", p.pid, escape(&p.comm))
        })
        .collect();
    format!(
        "oomlens guard: preempt: {}: usage {} over the threshold {}, and no process may be signalled: {} processes, set aside: init {}, guard {}, kernel threads {}, protected {}, empty {}; protected: {}",
        escape(cgroup),
        n.usage,
        n.threshold.unwrap_or(0),
        n.processes,
        e.init,
        e.guard,
        e.kernel_threads,
        e.protected,
        e.empty,
        if list.is_empty() { "none".to_string() } else { list.join(", ") },
    )
}

/// The metric's `action` label of a decision: `sigterm`, `sigkill`, `kill-cgroup`, or `none`
/// for a dry run.
pub fn action_of(m: &Made) -> &'static str {
    match &m.decision.verdict {
        Verdict::Act(t) if t.dry_run => "none",
        Verdict::Act(t) if t.whole_cgroup => "kill-cgroup",
        Verdict::Act(t) if t.grace_secs == 0.0 => "sigkill",
        Verdict::Act(_) => "sigterm",
        _ => "none",
    }
}

impl Made {
    /// What the record keeps beside the parsed line (`decision_json`): the policy, cgroup,
    /// result, trigger, latency and the decision with its numbers.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "policy": self.policy,
            "cgroup": self.cgroup,
            "result": self.result,
            "trigger": self.trigger,
            "latency_secs": self.latency,
            "signalled_mono": self.signalled_mono,
            "protected": self.protected,
            "decision": self.decision,
        })
        .to_string()
    }
}

fn outcome(e: &ActError) -> String {
    match e {
        ActError::Refused(r) => format!("refused ({r})"),
        e => format!("failed ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Growth is measured from the newest sample at least 1 s old, so two decisions 50 ms
    /// apart (within one sleep of a paced leaker) never measure it over those 50 ms alone;
    /// a process sampled only in the last second is measured from its oldest sample (a
    /// young main process that stopped growing does not look like a leaker).
    #[test]
    fn growth_is_measured_over_at_least_a_second() {
        let mib = 1u64 << 20;
        let mut h = Vec::new();
        for (t, rss) in [(10.0, mib), (11.0, 5 * mib), (11.45, 9 * mib)] {
            h = push_sample(&h, t, rss);
        }
        // At 11.5: the newest sample at least 1 s old is 10.0's.
        assert_eq!(growth_base(&h, 11.5), Some((10.0, mib)));
        // At 12.2: 11.0's.
        assert_eq!(growth_base(&h, 12.2), Some((11.0, 5 * mib)));
        // Samples older than 3 s are dropped but the newest at least 1 s old is kept.
        let h2 = push_sample(&h, 15.0, 9 * mib);
        assert_eq!(h2, vec![(11.45, 9 * mib), (15.0, 9 * mib)]);
        // Only recent samples: the oldest.
        let young = push_sample(&push_sample(&[], 20.0, 80 * mib), 20.6, 80 * mib);
        assert_eq!(growth_base(&young, 20.65), Some((20.0, 80 * mib)));
        assert_eq!(growth_base(&[], 1.0), None);
        // The paced leaker read twice within one sleep: 4 MiB/s over 1.5 s, not 0.
        let c = Candidate {
            pid: 2,
            start_time: 0,
            comm: "leak".into(),
            exe: None,
            kernel_thread: false,
            rss: vec![growth_base(&h, 11.5).unwrap(), (11.5, 5 * mib)],
        };
        assert!((c.growth() - (4 * mib) as f64 / 1.5).abs() < 1.0);
    }
}
