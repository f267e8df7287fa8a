//! OOM domains: where the kernel's OOM killer can run, and whom it would kill there, from a
//! snapshot of processes and memory cgroups. Pure: [`build`] takes data, returns data.
//!
//! ## Domains
//!
//! A domain is a set of tasks the OOM killer chooses among and the page count their scores
//! are weighed against (`oc->totalpages`):
//!
//! - **the machine** (global OOM): every process; `totalpages = totalram_pages() +
//!   total_swap_pages` (mm/oom_kill.c `constrained_alloc`), i.e. `MemTotal + SwapTotal`.
//! - **every memory cgroup with a finite limit** (memcg OOM): the processes of the cgroup and
//!   of all its descendants (`mem_cgroup_scan_tasks`, which walks `mem_cgroup_iter` in
//!   pre-order), so a process belongs to every limited ancestor's domain. On v1 before 5.11 a
//!   cgroup with `memory.use_hierarchy` 0 only covers its own tasks (`mem_cgroup_iter` returns
//!   just the root then); 5.11 made hierarchy mandatory. `totalpages` is
//!   `mem_cgroup_get_max()` (mm/memcontrol.c, 5.10+ form, mirrored by [`memcg_total_pages`]):
//!
//!   ```c
//!   max = memcg->memory.max;
//!   if (do_memsw_account()) {                  /* v1 */
//!       if (mem_cgroup_swappiness(memcg))
//!           max += min(memcg->memsw.max - max, total_swap_pages);
//!   } else if (mem_cgroup_swappiness(memcg))   /* v2 */
//!       max += min(memcg->swap.max, total_swap_pages);
//!   ```
//!
//!   4.19–5.9 computed `min(max + min(swap.max, total_swap_pages), memsw.max)`, and before
//!   4.19 (`mem_cgroup_get_limit`) `min(limit + total_swap_pages, memsw.limit)`: the same
//!   number whenever there is no swap or v1's swap limits are the defaults.
//!
//! ## Candidates and order
//!
//! Each task of a domain is scored by [`crate::badness`] (`oom_badness()`), in the order the
//! kernel visits them, so ties go to the task visited later (`oom_evaluate_task` keeps a task
//! whose points are `>=` the best). Visiting order is approximated: cgroups in pre-order with
//! siblings by name (the kernel: by creation), tasks by start time, then pid (the kernel:
//! by joining the cgroup; `for_each_process` walks creation order). It only matters for
//! exact ties, which are flagged ([`Victim::tie`]).
//!
//! Excluded: kernel threads and the global init (`oom_unkillable_task`), and processes
//! without an mm (zombies: `find_lock_task_mm` fails). Tasks with oom_score_adj -1000 and
//! init are listed as [`Protected`]. Not visible from /proc, hence not modelled: a task
//! already being killed (`tsk_is_oom_victim` makes the kernel wait instead of choosing),
//! `MMF_OOM_SKIP`, `in_vfork`, and `oom_task_origin` (swapoff/KSM callers score LONG_MAX).
//!
//! ## Group kills, disabled killers, panics
//!
//! - v2 `memory.oom.group` (4.19+, `mem_cgroup_get_oom_group`): from the victim's cgroup up to
//!   the domain's (the root for the machine), the highest cgroup with the flag dies whole,
//!   every task but those with adj -1000 and init ([`GroupKill`]).
//! - v1 `memory.oom_control` `oom_kill_disable 1`: a memcg OOM kills nobody; faulting tasks
//!   wait at the limit (`memcg1_oom_prepare`). Noted, order still shown.
//! - `vm.panic_on_oom` 1 panics on a global OOM, 2 on any OOM (`check_panic_on_oom`);
//!   `vm.oom_kill_allocating_task` makes a global OOM kill the allocating task instead.
//!
//! ## /proc/PID/oom_score
//!
//! `proc_oom_score()` in fs/proc/base.c scores every task against the whole machine:
//! `(1000 + oom_badness(task, totalpages) * 1000 / totalpages) * 2 / 3` with
//! `totalpages = totalram_pages() + total_swap_pages` (5.9+; before:
//! `oom_badness(…) * 1000 / totalpages`). In a memcg domain, oom_score_adj is worth
//! `limit/1000` pages per point, not `(RAM + swap)/1000`, so `ps --sort=-oom_score` can
//! name the wrong victim ([`Disagreement`]).
//!
//! ## Close calls
//!
//! From 6.2 (f1a7941243c1, "mm: convert mm's rss stats into percpu_counter") `oom_badness`
//! reads RSS counters approximately (`percpu_counter_read_positive`: each CPU may hold up to
//! `percpu_counter_batch = max(32, 2 * nr_cpus)` pages unfolded per counter), while
//! /proc/PID/status sums them exactly since 82241a83cd15 ("mm: fix the inaccurate memory
//! statistics issue for users", 2025). Before 6.2 each thread
//! cached up to 64 events per counter (`SPLIT_RSS_COUNTING`). A lead smaller than that skew
//! for the two leading tasks is a [`Victim::close_call`].

use oomlens_model::cgroup_path::{is_within, parent};
pub use oomlens_model::{CgroupMemory, CgroupVersion, Limit, Machine, System, Task};
use serde::Serialize;

use crate::badness::{self, Candidate, Formula, Term, Unkillable};

/// A domain's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainKind {
    /// A global OOM.
    Machine,
    /// A memory cgroup at its limit.
    Memcg,
}

/// Something about a domain worth telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Note {
    /// v1 `oom_kill_disable`: nobody is killed; tasks wait at the limit.
    OomKillDisabled,
    /// v1 `under_oom`: tasks are waiting at the limit now.
    UnderOom,
    /// `vm.panic_on_oom` makes an OOM here panic the machine.
    PanicOnOom,
    /// `vm.oom_kill_allocating_task`: a global OOM kills the allocating task.
    KillsAllocatingTask,
    /// v1 `use_hierarchy` 0: only this cgroup's own tasks are in the domain.
    NotHierarchical,
    /// No visible task in the domain.
    NoTasks,
}

/// One candidate, in kill order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked {
    /// The pid.
    pub pid: u32,
    /// The comm.
    pub comm: String,
    /// `oom_badness()` in this domain.
    pub points: i64,
    /// rss + swap + page-table pages.
    pub memory_points: i64,
    /// `oom_score_adj * (totalpages / 1000)`.
    pub adj_points: i64,
    /// oom_score_adj.
    pub oom_score_adj: i32,
    /// Resident bytes.
    pub rss_bytes: u64,
    /// Swap bytes.
    pub swap_bytes: u64,
    /// Page-table bytes.
    pub pgtables_bytes: u64,
    /// The task's memory cgroup.
    pub cgroup: Option<String>,
    /// /proc/PID/oom_score as read.
    pub oom_score: Option<u64>,
    /// The largest term of the score.
    pub deciding: Term,
    /// The cgroup that memory.oom.group would kill with it, if any.
    pub oom_group: Option<String>,
}

/// A task the kernel will not choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protected {
    /// The pid.
    pub pid: u32,
    /// The comm.
    pub comm: String,
    /// The task's memory cgroup.
    pub cgroup: Option<String>,
    /// Why.
    pub reason: Unkillable,
}

/// Everything that dies with a victim through memory.oom.group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupKill {
    /// The cgroup killed whole.
    pub cgroup: String,
    /// Its tasks that die (all but adj -1000 and init), victim included.
    pub pids: Vec<u32>,
}

/// What dies first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Victim {
    /// The pid.
    pub pid: u32,
    /// The comm.
    pub comm: String,
    /// Its points.
    pub points: i64,
    /// The next candidate.
    pub runner_up: Option<u32>,
    /// Points ahead of the runner-up (pages).
    pub lead_points: Option<i64>,
    /// The lead in bytes (points are pages).
    pub lead_bytes: Option<u64>,
    /// Equal points: the kernel takes the task it visits last, which is approximated here.
    pub tie: bool,
    /// The lead is within the kernel's RSS counter skew ([`rss_skew_pages`]).
    pub close_call: bool,
    /// The skew bound used, pages.
    pub skew_pages: Option<u64>,
    /// The whole cgroup that dies with it (memory.oom.group).
    pub group_kill: Option<GroupKill>,
}

/// Why /proc/PID/oom_score ranks a task at or above the true victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisagreementReason {
    /// oom_score weighs oom_score_adj per 1000 of RAM + swap; this domain per 1000 of its size.
    AdjScale,
    /// Both show the same oom_score: its resolution (2/3 per mille of RAM + swap) hides the gap.
    Resolution,
    /// Neither: the values moved between reads.
    Stale,
}

/// A task that `ps --sort=-oom_score` would put at or before the true victim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// The task.
    pub pid: u32,
    /// Its comm.
    pub comm: String,
    /// Its oom_score.
    pub oom_score: u64,
    /// The true victim's oom_score.
    pub victim_oom_score: u64,
    /// Why.
    pub reason: DisagreementReason,
}

/// One OOM domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// The cgroup path, `None` for the machine.
    pub cgroup: Option<String>,
    /// Machine or memcg.
    pub kind: DomainKind,
    /// The memory limit (memcg), or RAM + swap (machine), bytes.
    pub limit_bytes: u64,
    /// Charged now (memcg), or RAM + swap in use (machine), bytes.
    pub usage_bytes: Option<u64>,
    /// `limit_bytes - usage_bytes`.
    pub headroom_bytes: Option<u64>,
    /// `oc->totalpages`.
    pub total_pages: u64,
    /// Pages one point of oom_score_adj is worth (`totalpages / 1000`).
    pub adj_pages_per_point: u64,
    /// Killable tasks, in kill order.
    pub candidates: Vec<Ranked>,
    /// What dies first.
    pub victim: Option<Victim>,
    /// Tasks never chosen.
    pub protected: Vec<Protected>,
    /// Where oom_score disagrees with the true order.
    pub oom_score_disagreements: Vec<Disagreement>,
    /// Notes.
    pub notes: Vec<Note>,
    /// Kernel threads left out.
    pub kernel_threads_excluded: usize,
    /// Processes without an mm (zombies) left out.
    pub exited_excluded: usize,
}

impl Domain {
    /// `usage / limit`, for ordering by danger.
    pub fn fill(&self) -> Option<f64> {
        let u = self.usage_bytes?;
        (self.limit_bytes > 0).then(|| u as f64 / self.limit_bytes as f64)
    }
}

/// `PAGE_COUNTER_MAX` for a page size: `LONG_MAX / PAGE_SIZE`.
fn page_counter_max(page_size: u64) -> u64 {
    i64::MAX as u64 / page_size.max(1)
}

fn limit_pages(l: Limit, page_size: u64) -> u64 {
    match l {
        Limit::Bytes(b) => (b / page_size.max(1)).min(page_counter_max(page_size)),
        Limit::Max => page_counter_max(page_size),
    }
}

/// `mem_cgroup_get_max()` (5.10+ form, see the module docs) in pages.
pub fn memcg_total_pages(
    cg: &CgroupMemory,
    version: CgroupVersion,
    machine: &Machine,
    page_size: u64,
) -> u64 {
    let max = limit_pages(cg.limit(), page_size);
    let total_swap = machine.swap_total_bytes / page_size.max(1);
    let swappiness = match version {
        CgroupVersion::V1 => cg.swappiness.or(machine.vm_swappiness),
        CgroupVersion::V2 => machine.vm_swappiness,
    }
    .unwrap_or(60);
    if swappiness == 0 {
        return max;
    }
    let swap = match (version, cg.memsw_limit) {
        (CgroupVersion::V1, Some(memsw)) => limit_pages(memsw, page_size).saturating_sub(max),
        // v1 without swap accounting takes the v2 branch with swap.max at its default.
        (CgroupVersion::V1, None) => page_counter_max(page_size),
        (CgroupVersion::V2, _) => limit_pages(cg.swap_max.unwrap_or(Limit::Max), page_size),
    };
    max.saturating_add(swap.min(total_swap))
}

/// `(major, minor)` of a release string.
fn version_of(release: &str) -> (u32, u32) {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// How far apart the kernel's view of two tasks' RSS can be from exact sums, in pages:
/// two tasks × three counters × the per-counter error (see the module docs). `None` when
/// the release or CPU count is unknown.
pub fn rss_skew_pages(release: Option<&str>, cpus: Option<u32>, threads: u32) -> Option<u64> {
    let v = version_of(release?);
    if v >= (6, 2) {
        let cpus = u64::from(cpus?);
        Some(2 * 3 * cpus * (2 * cpus).max(32))
    } else {
        Some(2 * 3 * 64 * u64::from(threads.max(1)))
    }
}

struct Ctx<'a> {
    sys: &'a System,
    formula: Formula,
}

impl Ctx<'_> {
    fn cgroup(&self, path: &str) -> Option<&CgroupMemory> {
        self.sys.cgroups.iter().find(|c| c.path == path)
    }

    /// Does domain cgroup `d` cover tasks of cgroup `t`?
    fn covers(&self, d: &str, t: &str) -> bool {
        if !is_within(t, d) {
            return false;
        }
        if self.sys.version == CgroupVersion::V2 {
            return true;
        }
        // v1: charges reach `d` only if every cgroup from `d` down to t's parent is
        // hierarchical (a child links to its parent's counter only if the parent has
        // use_hierarchy; mem_cgroup_css_alloc).
        let mut p = t;
        while p != d {
            let Some(up) = parent(p) else { return false };
            if self.cgroup(up).and_then(|c| c.use_hierarchy) == Some(false) {
                return false;
            }
            p = up;
        }
        true
    }

    /// `mem_cgroup_get_oom_group()`: the highest cgroup with oom.group from `memcg` up to
    /// `domain` (the root for the machine). v2 only; never for the root cgroup.
    fn oom_group(&self, memcg: Option<&str>, domain: Option<&str>) -> Option<String> {
        if self.sys.version != CgroupVersion::V2 {
            return None;
        }
        let memcg = memcg?;
        if memcg == "/" {
            return None;
        }
        let domain = domain.unwrap_or("/");
        if !is_within(memcg, domain) {
            return None;
        }
        let mut found = None;
        let mut p = Some(memcg);
        while let Some(cur) = p {
            if self.cgroup(cur).is_some_and(CgroupMemory::kills_as_group) {
                found = Some(cur.to_string());
            }
            if cur == domain {
                break;
            }
            p = parent(cur);
        }
        found
    }

    fn candidate(&self, t: &Task) -> Candidate {
        let page = self.sys.page_size.max(1);
        let unkillable = if self.sys.global_init == Some(t.pid) {
            Some(Unkillable::Init)
        } else if t.oom_score_adj <= -1000 {
            Some(Unkillable::AdjMin)
        } else {
            None
        };
        Candidate {
            pid: t.pid,
            comm: t.comm.clone(),
            rss_pages: t.rss_bytes / page,
            swap_pages: t.swap_bytes / page,
            pgtable_pages: t.pgtables_bytes / page,
            oom_score_adj: t.oom_score_adj,
            uid: t.uid,
            unkillable,
        }
    }

    fn domain(
        &self,
        cgroup: Option<&CgroupMemory>,
        total_pages: u64,
        limit_bytes: u64,
        usage_bytes: Option<u64>,
    ) -> Domain {
        let path = cgroup.map(|c| c.path.as_str());
        let mut members: Vec<&Task> = self
            .sys
            .tasks
            .iter()
            .filter(|t| match path {
                None => true,
                Some(d) => t.memcg.as_deref().is_some_and(|m| self.covers(d, m)),
            })
            .collect();
        let kthreads = members.iter().filter(|t| t.kernel_thread).count();
        let exited = members
            .iter()
            .filter(|t| !t.kernel_thread && !t.has_mm)
            .count();
        members.retain(|t| !t.kernel_thread && t.has_mm);
        // The kernel's visiting order (approximated; see the module docs).
        members.sort_by(|a, b| {
            let key = |t: &Task| -> (Vec<String>, u64, u32) {
                let comps = match (path, t.memcg.as_deref()) {
                    (Some(_), Some(m)) => m
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                (comps, t.start_time, t.pid)
            };
            key(a).cmp(&key(b))
        });
        let cands: Vec<Candidate> = members.iter().map(|t| self.candidate(t)).collect();
        let ranked = badness::rank(&cands, total_pages, self.formula);
        let by_pid = |pid: u32| members.iter().find(|t| t.pid == pid).copied();
        let mut candidates = Vec::new();
        let mut protected = Vec::new();
        for s in &ranked {
            let t = by_pid(s.candidate.pid).expect("ranked from members");
            match (s.points, s.candidate.unkillable) {
                (Some(points), _) => candidates.push(Ranked {
                    pid: t.pid,
                    comm: t.comm.clone(),
                    points,
                    memory_points: s.memory_points,
                    adj_points: s.adj_points,
                    oom_score_adj: t.oom_score_adj,
                    rss_bytes: t.rss_bytes,
                    swap_bytes: t.swap_bytes,
                    pgtables_bytes: t.pgtables_bytes,
                    cgroup: t.memcg.clone(),
                    oom_score: t.oom_score,
                    deciding: s.deciding,
                    oom_group: self.oom_group(t.memcg.as_deref(), path),
                }),
                (None, reason) => protected.push(Protected {
                    pid: t.pid,
                    comm: t.comm.clone(),
                    cgroup: t.memcg.clone(),
                    reason: reason.unwrap_or(Unkillable::AdjMin),
                }),
            }
        }
        let victim = self.victim(&candidates, &members);
        let oom_score_disagreements = self.disagreements(&candidates, path.is_some());
        let mut notes = Vec::new();
        let m = &self.sys.machine;
        match cgroup {
            Some(c) => {
                if c.oom_kill_disable() {
                    notes.push(Note::OomKillDisabled);
                }
                if c.under_oom() {
                    notes.push(Note::UnderOom);
                }
                if self.sys.version == CgroupVersion::V1 && c.use_hierarchy == Some(false) {
                    notes.push(Note::NotHierarchical);
                }
                if m.panic_on_oom == Some(2) {
                    notes.push(Note::PanicOnOom);
                }
            }
            None => {
                if m.panic_on_oom.is_some_and(|p| p != 0) {
                    notes.push(Note::PanicOnOom);
                }
                if m.oom_kill_allocating_task == Some(true) {
                    notes.push(Note::KillsAllocatingTask);
                }
            }
        }
        if members.is_empty() {
            notes.push(Note::NoTasks);
        }
        Domain {
            cgroup: path.map(str::to_string),
            kind: if path.is_some() {
                DomainKind::Memcg
            } else {
                DomainKind::Machine
            },
            limit_bytes,
            usage_bytes,
            headroom_bytes: usage_bytes.map(|u| limit_bytes.saturating_sub(u)),
            total_pages,
            adj_pages_per_point: total_pages / 1000,
            candidates,
            victim,
            protected,
            oom_score_disagreements,
            notes,
            kernel_threads_excluded: kthreads,
            exited_excluded: exited,
        }
    }

    fn victim(&self, cands: &[Ranked], members: &[&Task]) -> Option<Victim> {
        let first = cands.first()?;
        let second = cands.get(1);
        let lead = second.map(|s| first.points - s.points);
        let threads = |pid: u32| {
            members
                .iter()
                .find(|t| t.pid == pid)
                .map_or(1, |t| t.threads)
        };
        let skew = rss_skew_pages(
            self.sys.release.as_deref(),
            self.sys.machine.online_cpus,
            threads(first.pid).max(second.map_or(1, |s| threads(s.pid))),
        );
        let group_kill = first.oom_group.as_ref().map(|g| GroupKill {
            cgroup: g.clone(),
            pids: members
                .iter()
                .filter(|t| {
                    t.memcg.as_deref().is_some_and(|m| is_within(m, g))
                        && t.oom_score_adj > -1000
                        && self.sys.global_init != Some(t.pid)
                })
                .map(|t| t.pid)
                .collect(),
        });
        Some(Victim {
            pid: first.pid,
            comm: first.comm.clone(),
            points: first.points,
            runner_up: second.map(|s| s.pid),
            lead_points: lead,
            lead_bytes: lead.map(|l| l.max(0) as u64 * self.sys.page_size),
            tie: lead == Some(0),
            close_call: match (lead, skew) {
                (Some(l), Some(s)) => l.unsigned_abs() <= s,
                _ => false,
            },
            skew_pages: skew,
            group_kill,
        })
    }

    fn disagreements(&self, cands: &[Ranked], memcg: bool) -> Vec<Disagreement> {
        let Some(victim) = cands.first() else {
            return Vec::new();
        };
        let Some(v_score) = victim.oom_score else {
            return Vec::new();
        };
        let machine_pages = self.machine_pages();
        let machine_points = |r: &Ranked| {
            let t = self.sys.tasks.iter().find(|t| t.pid == r.pid);
            t.and_then(|t| badness::badness(&self.candidate(t), machine_pages, self.formula))
        };
        let v_machine = machine_points(victim);
        cands[1..]
            .iter()
            .filter_map(|c| {
                let score = c.oom_score?;
                if score < v_score {
                    return None;
                }
                let c_machine = machine_points(c);
                let reason = if memcg && c_machine >= v_machine {
                    DisagreementReason::AdjScale
                } else if score == v_score {
                    DisagreementReason::Resolution
                } else {
                    DisagreementReason::Stale
                };
                Some(Disagreement {
                    pid: c.pid,
                    comm: c.comm.clone(),
                    oom_score: score,
                    victim_oom_score: v_score,
                    reason,
                })
            })
            .collect()
    }

    fn machine_pages(&self) -> u64 {
        let m = &self.sys.machine;
        (m.mem_total_bytes + m.swap_total_bytes) / self.sys.page_size.max(1)
    }
}

/// The OOM domains of a snapshot, most endangered first (highest `usage / limit`; domains
/// whose usage is unknown last): every cgroup with a finite limit (the root cgroup never
/// limits), then the machine.
pub fn build(sys: &System) -> Vec<Domain> {
    let ctx = Ctx {
        sys,
        formula: Formula::for_release(sys.release.as_deref()),
    };
    let page = sys.page_size.max(1);
    let mut out: Vec<Domain> = sys
        .cgroups
        .iter()
        .filter(|c| c.path != "/" && matches!(c.limit(), Limit::Bytes(_)))
        .map(|c| {
            let Limit::Bytes(limit) = c.limit() else {
                unreachable!("filtered")
            };
            let total = memcg_total_pages(c, sys.version, &sys.machine, page);
            ctx.domain(Some(c), total, limit, c.usage)
        })
        .collect();
    let m = &sys.machine;
    let limit = m.mem_total_bytes + m.swap_total_bytes;
    let free = m.mem_available_bytes.unwrap_or(m.mem_free_bytes) + m.swap_free_bytes;
    out.push(ctx.domain(
        None,
        ctx.machine_pages(),
        limit,
        Some(limit.saturating_sub(free)),
    ));
    out.sort_by(|a, b| {
        let fa = a.fill().unwrap_or(-1.0);
        let fb = b.fill().unwrap_or(-1.0);
        fb.total_cmp(&fa)
            .then(a.headroom_bytes.cmp(&b.headroom_bytes))
            .then(a.cgroup.cmp(&b.cgroup))
    });
    out
}

/// The domain of cgroup `path` when it has a limit; otherwise every domain that contains it
/// (the machine and its limited ancestors), in the order given.
pub fn of_cgroup<'a>(domains: &'a [Domain], path: &str) -> Vec<&'a Domain> {
    if let Some(d) = domains.iter().find(|d| d.cgroup.as_deref() == Some(path)) {
        return vec![d];
    }
    domains
        .iter()
        .filter(|d| d.cgroup.as_deref().is_none_or(|dc| is_within(path, dc)))
        .collect()
}

/// The domains a task belongs to (the machine and every limited cgroup covering it), in the
/// order given.
pub fn containing(domains: &[Domain], pid: u32) -> Vec<&Domain> {
    domains
        .iter()
        .filter(|d| {
            d.kind == DomainKind::Machine
                || d.candidates.iter().any(|c| c.pid == pid)
                || d.protected.iter().any(|c| c.pid == pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::OomControl;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;
    const PAGE: u64 = 4096;

    fn task(pid: u32, memcg: &str, rss_mib: u64, adj: i32) -> Task {
        Task {
            pid,
            comm: format!("t{pid}"),
            uid: Some(1000),
            rss_bytes: rss_mib * MIB,
            swap_bytes: 0,
            pgtables_bytes: 0,
            oom_score_adj: adj,
            oom_score: None,
            memcg: Some(memcg.into()),
            kernel_thread: false,
            has_mm: true,
            start_time: u64::from(pid),
            threads: 1,
        }
    }

    fn cg(path: &str, limit: Limit) -> CgroupMemory {
        CgroupMemory {
            max: Some(limit),
            usage: Some(0),
            use_hierarchy: Some(true),
            ..CgroupMemory::empty(path, CgroupVersion::V1)
        }
    }

    fn machine(mem_mib: u64, swap_mib: u64) -> Machine {
        Machine {
            mem_total_bytes: mem_mib * MIB,
            mem_available_bytes: Some(mem_mib * MIB / 2),
            mem_free_bytes: mem_mib * MIB / 2,
            swap_total_bytes: swap_mib * MIB,
            swap_free_bytes: swap_mib * MIB,
            vm_swappiness: Some(60),
            panic_on_oom: Some(0),
            oom_kill_allocating_task: Some(false),
            online_cpus: Some(2),
        }
    }

    fn sys(version: CgroupVersion, tasks: Vec<Task>, cgroups: Vec<CgroupMemory>) -> System {
        System {
            page_size: PAGE,
            release: Some("6.18.44".into()),
            version,
            machine: machine(24 * 1024, 0),
            tasks,
            cgroups,
            global_init: Some(1),
        }
    }

    fn find<'a>(ds: &'a [Domain], path: Option<&str>) -> &'a Domain {
        ds.iter()
            .find(|d| d.cgroup.as_deref() == path)
            .unwrap_or_else(|| panic!("no domain {path:?}"))
    }

    #[test]
    fn a_cgroups_own_domain_or_those_containing_it() {
        let s = sys(
            CgroupVersion::V2,
            vec![task(10, "/a/b", 8, 0), task(11, "/c", 8, 0)],
            vec![
                cg("/", Limit::Max),
                cg("/a", Limit::Bytes(64 * MIB)),
                cg("/a/b", Limit::Max),
                cg("/c", Limit::Bytes(32 * MIB)),
            ],
        );
        let all = build(&s);
        let names = |ds: Vec<&Domain>| -> Vec<Option<String>> {
            let mut v: Vec<_> = ds.iter().map(|d| d.cgroup.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(names(of_cgroup(&all, "/a")), [Some("/a".to_string())]);
        assert_eq!(
            names(of_cgroup(&all, "/a/b")),
            [None, Some("/a".to_string())]
        );
        // `/ab` is not below `/a`: only the machine contains it.
        assert_eq!(names(of_cgroup(&all, "/ab")), [None]);
        assert_eq!(names(of_cgroup(&all, "/")), [None]);
    }

    #[test]
    fn hierarchical_membership_and_domain_pages() {
        let mut a = cg("/a", Limit::Bytes(64 * MIB));
        a.usage = Some(60 * MIB);
        let s = sys(
            CgroupVersion::V1,
            vec![
                task(1, "/", 5, 0),
                task(10, "/a", 30, 0),
                task(11, "/a/b", 10, 900),
                task(12, "/c", 100, 0),
            ],
            vec![
                cg("/", Limit::Max),
                a,
                cg("/a/b", Limit::Max),
                cg("/c", Limit::Max),
            ],
        );
        let ds = build(&s);
        assert_eq!(ds.len(), 2, "only /a is limited, plus the machine");
        assert_eq!(ds[0].cgroup.as_deref(), Some("/a"), "93% full comes first");
        let a = &ds[0];
        assert_eq!(a.total_pages, 16384);
        assert_eq!(a.adj_pages_per_point, 16);
        assert_eq!(a.headroom_bytes, Some(4 * MIB));
        // 10 MiB + 900 * 16 pages beats 30 MiB.
        let order: Vec<u32> = a.candidates.iter().map(|c| c.pid).collect();
        assert_eq!(order, [11, 10]);
        let v = a.victim.as_ref().unwrap();
        assert_eq!(v.lead_points, Some(2560 + 14400 - 7680));
        assert_eq!(v.lead_bytes, Some((2560 + 14400 - 7680) * PAGE));
        assert!(!v.tie && !v.close_call);
        let m = find(&ds, None);
        assert_eq!(m.kind, DomainKind::Machine);
        assert_eq!(m.protected.len(), 1, "init");
        assert_eq!(m.protected[0].reason, Unkillable::Init);
        // Machine-wide, adj 900 is worth 900 * 6291 pages: 11 first too.
        assert_eq!(m.candidates[0].pid, 11);
    }

    #[test]
    fn use_hierarchy_zero_keeps_children_out() {
        let mut a = cg("/a", Limit::Bytes(64 * MIB));
        a.use_hierarchy = Some(false);
        let s = sys(
            CgroupVersion::V1,
            vec![task(10, "/a", 5, 0), task(11, "/a/b", 50, 0)],
            vec![a, cg("/a/b", Limit::Max)],
        );
        let ds = build(&s);
        let a = find(&ds, Some("/a"));
        assert_eq!(a.candidates.len(), 1);
        assert!(a.notes.contains(&Note::NotHierarchical));
    }

    #[test]
    fn oom_group_kills_the_highest_flagged_cgroup_within_the_domain() {
        let mut pod = cg("/k/pod", Limit::Bytes(100 * MIB));
        pod.oom_group = Some(true);
        let mut c1 = cg("/k/pod/c1", Limit::Max);
        c1.oom_group = Some(true);
        let mut k = cg("/k", Limit::Bytes(1000 * MIB));
        k.oom_group = Some(false);
        let s = sys(
            CgroupVersion::V2,
            vec![
                task(10, "/k/pod/c1", 50, 0),
                task(11, "/k/pod/c2", 10, 0),
                task(12, "/k/pod/c2", 10, -1000),
                task(13, "/k/other", 5, 0),
            ],
            vec![
                k,
                pod,
                c1,
                cg("/k/pod/c2", Limit::Max),
                cg("/k/other", Limit::Max),
            ],
        );
        let ds = build(&s);
        for d in [Some("/k"), Some("/k/pod"), None] {
            let v = find(&ds, d).victim.as_ref().unwrap();
            assert_eq!(v.pid, 10);
            let g = v.group_kill.as_ref().unwrap();
            assert_eq!(g.cgroup, "/k/pod", "{d:?}");
            assert_eq!(g.pids, [10, 11], "-1000 survives");
        }
        // v1 has no oom.group.
        let mut v1 = s.clone();
        v1.version = CgroupVersion::V1;
        assert!(build(&v1)
            .iter()
            .all(|d| d.victim.as_ref().is_none_or(|v| v.group_kill.is_none())));
    }

    #[test]
    fn excluded_protected_and_notes() {
        let mut a = cg("/a", Limit::Bytes(64 * MIB));
        a.oom_control = Some(OomControl {
            oom_kill_disable: true,
            under_oom: true,
            oom_kill: None,
        });
        let mut k = task(2, "/", 0, 0);
        k.kernel_thread = true;
        k.has_mm = false;
        let mut z = task(20, "/a", 0, 0);
        z.has_mm = false;
        let mut s = sys(
            CgroupVersion::V1,
            vec![k, task(1, "/", 5, 0), task(10, "/a", 5, -1000), z],
            vec![a],
        );
        s.machine.panic_on_oom = Some(2);
        let ds = build(&s);
        let a = find(&ds, Some("/a"));
        assert!(a.candidates.is_empty() && a.victim.is_none());
        assert_eq!(a.protected[0].reason, Unkillable::AdjMin);
        assert_eq!(a.exited_excluded, 1);
        assert!(a.notes.contains(&Note::OomKillDisabled));
        assert!(a.notes.contains(&Note::UnderOom));
        assert!(a.notes.contains(&Note::PanicOnOom));
        let m = find(&ds, None);
        assert_eq!(m.kernel_threads_excluded, 1);
        assert!(m.notes.contains(&Note::PanicOnOom));
    }

    #[test]
    fn oom_score_disagrees_in_a_small_memcg() {
        // The reproduction of issue 6: a big adj-0 task dies in the memcg although a smaller
        // one with a high adj shows the higher oom_score (computed against 24 GiB).
        let mut big = task(10, "/a", 40, 0);
        big.oom_score = Some(667 + 1);
        let mut small = task(11, "/a", 8, 100);
        small.oom_score = Some(667 + 67);
        let s = sys(
            CgroupVersion::V1,
            vec![big, small],
            vec![cg("/a", Limit::Bytes(64 * MIB))],
        );
        let ds = build(&s);
        let a = find(&ds, Some("/a"));
        assert_eq!(a.victim.as_ref().unwrap().pid, 10);
        assert_eq!(a.oom_score_disagreements.len(), 1);
        let d = &a.oom_score_disagreements[0];
        assert_eq!((d.pid, d.reason), (11, DisagreementReason::AdjScale));
        // The machine agrees with oom_score.
        let m = find(&ds, None);
        assert_eq!(m.victim.as_ref().unwrap().pid, 11);
        assert!(m.oom_score_disagreements.is_empty());
    }

    #[test]
    fn close_calls_and_ties() {
        let s = sys(
            CgroupVersion::V1,
            vec![task(10, "/a", 20, 0), task(11, "/a", 20, 0)],
            vec![cg("/a", Limit::Bytes(64 * MIB))],
        );
        let v = find(&build(&s), Some("/a")).victim.clone().unwrap();
        assert!(v.tie && v.close_call);
        assert_eq!(v.pid, 11, "the later visited task wins a tie");
        assert_eq!(v.skew_pages, Some(2 * 3 * 2 * 32));
        assert_eq!(
            rss_skew_pages(Some("5.15.0"), None, 4),
            Some(2 * 3 * 64 * 4)
        );
        assert_eq!(rss_skew_pages(Some("6.8.0"), None, 4), None);
    }

    #[test]
    fn memcg_total_pages_follows_mem_cgroup_get_max() {
        let m = machine(1024, 100);
        let mut c = cg("/a", Limit::Bytes(64 * MIB));
        // v1 with memsw: swap headroom is memsw - mem, capped by total swap.
        c.memsw_limit = Some(Limit::Bytes(96 * MIB));
        assert_eq!(memcg_total_pages(&c, CgroupVersion::V1, &m, PAGE), 96 * 256);
        c.memsw_limit = Some(Limit::Max);
        assert_eq!(
            memcg_total_pages(&c, CgroupVersion::V1, &m, PAGE),
            164 * 256
        );
        c.swappiness = Some(0);
        assert_eq!(memcg_total_pages(&c, CgroupVersion::V1, &m, PAGE), 64 * 256);
        // v2: swap.max, capped by total swap; vm.swappiness decides.
        let mut c = cg("/a", Limit::Bytes(64 * MIB));
        c.swap_max = Some(Limit::Bytes(10 * MIB));
        assert_eq!(memcg_total_pages(&c, CgroupVersion::V2, &m, PAGE), 74 * 256);
        let no_swap = machine(1024, 0);
        assert_eq!(
            memcg_total_pages(&c, CgroupVersion::V2, &no_swap, PAGE),
            64 * 256
        );
    }

    // -----------------------------------------------------------------------------------
    // A reference written from the kernel source, independent of the code above.

    /// mm/oom_kill.c `oom_badness()` (5.9+): LONG_MIN for unkillable tasks.
    fn ref_oom_badness(t: &Task, init: Option<u32>, totalpages: u64) -> i64 {
        // oom_unkillable_task(): is_global_init(p) || p->flags & PF_KTHREAD
        if init == Some(t.pid) || t.kernel_thread {
            return i64::MIN;
        }
        // find_lock_task_mm() fails without an mm.
        if !t.has_mm {
            return i64::MIN;
        }
        let adj = t.oom_score_adj as i64;
        if adj == -1000 {
            return i64::MIN;
        }
        let points = (t.rss_bytes / PAGE + t.swap_bytes / PAGE + t.pgtables_bytes / PAGE) as i64;
        points + adj * (totalpages / 1000) as i64
    }

    /// mm/memcontrol.c `mem_cgroup_get_max()` (5.10+).
    fn ref_get_max(c: &CgroupMemory, v2: bool, swap_pages: u64, vm_swappiness: u64) -> u64 {
        let pcm = i64::MAX as u64 / PAGE;
        let pages = |l: Limit| match l {
            Limit::Bytes(b) => (b / PAGE).min(pcm),
            Limit::Max => pcm,
        };
        let mut max = pages(c.limit());
        if !v2 {
            let swappiness = c.swappiness.unwrap_or(vm_swappiness);
            if swappiness != 0 {
                let memsw = c.memsw_limit.map_or(pcm, pages);
                let swap = memsw - max.min(memsw);
                max += swap.min(swap_pages);
            }
        } else if vm_swappiness != 0 {
            max += pages(c.swap_max.unwrap_or(Limit::Max)).min(swap_pages);
        }
        max
    }

    /// The tasks `mem_cgroup_scan_tasks(memcg)` visits, in order: `mem_cgroup_iter` walks
    /// the subtree in pre-order (children by creation, here by name), or only `memcg`
    /// itself when it is not hierarchical; each cgroup's own tasks in joining order.
    fn ref_scan<'a>(s: &'a System, root: &str) -> Vec<&'a Task> {
        let mut out = Vec::new();
        let hierarchical = s.version == CgroupVersion::V2
            || s.cgroups
                .iter()
                .find(|c| c.path == root)
                .and_then(|c| c.use_hierarchy)
                != Some(false);
        fn visit<'a>(s: &'a System, cg: &str, deep: bool, out: &mut Vec<&'a Task>) {
            let mut own: Vec<&Task> = s
                .tasks
                .iter()
                .filter(|t| t.memcg.as_deref() == Some(cg))
                .collect();
            own.sort_by_key(|t| (t.start_time, t.pid));
            out.extend(own);
            if !deep {
                return;
            }
            let mut kids: Vec<&str> = s
                .cgroups
                .iter()
                .map(|c| c.path.as_str())
                .filter(|p| {
                    let prefix = if cg == "/" {
                        "/".to_string()
                    } else {
                        format!("{cg}/")
                    };
                    p.len() > prefix.len()
                        && p.starts_with(&prefix)
                        && !p[prefix.len()..].contains('/')
                })
                .collect();
            kids.sort();
            for k in kids {
                visit(s, k, deep, out);
            }
        }
        visit(s, root, hierarchical, &mut out);
        out
    }

    /// `select_bad_process()` + `oom_evaluate_task()`.
    fn ref_select(tasks: &[&Task], init: Option<u32>, totalpages: u64) -> Option<u32> {
        let mut chosen = None;
        let mut chosen_points = i64::MIN;
        for t in tasks {
            // oom_evaluate_task: if (oom_unkillable_task(task)) goto next;
            if init == Some(t.pid) || t.kernel_thread {
                continue;
            }
            let points = ref_oom_badness(t, init, totalpages);
            if points == i64::MIN || points < chosen_points {
                continue;
            }
            chosen = Some(t.pid);
            chosen_points = points;
        }
        chosen
    }

    /// `mem_cgroup_get_oom_group()`.
    fn ref_oom_group(s: &System, victim: &Task, domain: &str) -> Option<String> {
        if s.version != CgroupVersion::V2 {
            return None;
        }
        let mut memcg = victim.memcg.clone()?;
        if memcg == "/" {
            return None;
        }
        if !(domain == "/" || memcg == domain || memcg.starts_with(&format!("{domain}/"))) {
            return None;
        }
        let mut group = None;
        loop {
            if s.cgroups
                .iter()
                .any(|c| c.path == memcg && c.kills_as_group())
            {
                group = Some(memcg.clone());
            }
            if memcg == domain || memcg == "/" {
                break;
            }
            memcg = match memcg.rfind('/') {
                Some(0) => "/".into(),
                Some(i) => memcg[..i].into(),
                None => break,
            };
        }
        group
    }

    /// A random cgroup tree (paths over a small alphabet, depth ≤ 3) with tasks.
    fn arb_system() -> impl Strategy<Value = System> {
        let path = proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..=3)
            .prop_map(|c| format!("/{}", c.join("/")));
        let limit = prop_oneof![
            3 => Just(Limit::Max),
            2 => (1u64..2048).prop_map(|m| Limit::Bytes(m * MIB)),
            1 => (1u64..1_000_000).prop_map(|b| Limit::Bytes(b * 4096 + 17)),
        ];
        let cg = (
            path.clone(),
            limit.clone(),
            any::<bool>(),
            proptest::option::of(limit.clone()),
            proptest::option::of(0u64..3),
            any::<bool>(),
            0u64..4096,
        );
        let task = (
            path,
            0u64..600_000,
            0u64..20_000,
            0u64..2_000,
            prop_oneof![3 => -999i32..=1000, 1 => Just(-1000), 1 => Just(0), 1 => Just(1000)],
            0u8..20,
            0u64..50,
        );
        (
            proptest::collection::vec(cg, 0..12),
            proptest::collection::vec(task, 1..30),
            any::<bool>(),
            prop_oneof![Just(0u64), 1u64..4096],
            0u64..3,
            proptest::option::of(-1i64..3),
        )
            .prop_map(|(cgs, tasks, v2, swap_mib, vm_sw, rel)| {
                let version = if v2 {
                    CgroupVersion::V2
                } else {
                    CgroupVersion::V1
                };
                let mut cgroups: Vec<CgroupMemory> = Vec::new();
                for (p, limit, group, swap, swappiness, hier, usage) in cgs {
                    if p == "/" || cgroups.iter().any(|c| c.path == p) {
                        continue;
                    }
                    cgroups.push(CgroupMemory {
                        max: Some(limit),
                        usage: Some(usage * MIB),
                        memsw_limit: if v2 { None } else { swap },
                        swap_max: if v2 { swap } else { None },
                        swappiness: if v2 { None } else { swappiness.map(|s| s * 30) },
                        use_hierarchy: if v2 { None } else { Some(hier) },
                        oom_group: Some(v2 && group),
                        ..CgroupMemory::empty(&p, version)
                    });
                }
                // Every task's cgroup exists.
                for (p, ..) in &tasks {
                    if p != "/" && !cgroups.iter().any(|c| &c.path == p) {
                        cgroups.push(CgroupMemory {
                            max: Some(Limit::Max),
                            use_hierarchy: if v2 { None } else { Some(true) },
                            oom_group: Some(false),
                            ..CgroupMemory::empty(p, version)
                        });
                    }
                }
                // Every ancestor exists, and v1 children inherit use_hierarchy = 1
                // (mem_cgroup_hierarchy_write refuses to change it under a hierarchical parent).
                let mut i = 0;
                while i < cgroups.len() {
                    let p = cgroups[i].path.clone();
                    if let Some(up) = parent(&p).filter(|u| *u != "/") {
                        if !cgroups.iter().any(|c| c.path == up) {
                            let mut c = cgroups[i].clone();
                            c.path = up.to_string();
                            c.max = Some(Limit::Max);
                            cgroups.push(c);
                        }
                    }
                    i += 1;
                }
                cgroups.sort_by(|a, b| a.path.cmp(&b.path));
                for i in 0..cgroups.len() {
                    let p = cgroups[i].path.clone();
                    let up = parent(&p).unwrap_or("/").to_string();
                    let parent_hier = cgroups
                        .iter()
                        .find(|c| c.path == up)
                        .and_then(|c| c.use_hierarchy);
                    if parent_hier == Some(true) {
                        cgroups[i].use_hierarchy = Some(true);
                    }
                }
                let tasks: Vec<Task> = tasks
                    .into_iter()
                    .enumerate()
                    .map(|(i, (p, rss, swap, pgt, adj, kind, start))| {
                        let pid = i as u32 + 1;
                        let kernel_thread = kind == 0;
                        Task {
                            pid,
                            comm: format!("t{pid}"),
                            uid: None,
                            rss_bytes: if kernel_thread {
                                0
                            } else {
                                rss * PAGE + kind as u64
                            },
                            swap_bytes: swap * PAGE,
                            pgtables_bytes: pgt * PAGE,
                            oom_score_adj: adj,
                            oom_score: None,
                            memcg: Some(if kernel_thread { "/".into() } else { p }),
                            kernel_thread,
                            has_mm: !kernel_thread && kind != 1,
                            start_time: start,
                            threads: 1,
                        }
                    })
                    .collect();
                let mut m = machine(4096, swap_mib);
                m.vm_swappiness = Some(vm_sw * 30);
                System {
                    page_size: PAGE,
                    release: Some("6.18.44".into()),
                    version,
                    machine: m,
                    tasks,
                    cgroups,
                    global_init: rel.map(|_| 1),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Every domain's victim, candidate set, scores, size and group kill agree with the
        /// kernel's code paths transcribed above.
        #[test]
        fn domains_agree_with_the_kernel(s in arb_system()) {
            let ds = build(&s);
            let swap_pages = s.machine.swap_total_bytes / PAGE;
            let vm_sw = s.machine.vm_swappiness.unwrap();
            let limited: Vec<&CgroupMemory> = s.cgroups.iter().filter(|c| matches!(c.limit(), Limit::Bytes(_))).collect();
            prop_assert_eq!(ds.len(), limited.len() + 1);
            let mut checked = vec![(None, (s.machine.mem_total_bytes + s.machine.swap_total_bytes) / PAGE)];
            for c in &limited {
                checked.push((Some(c.path.clone()), ref_get_max(c, s.version == CgroupVersion::V2, swap_pages, vm_sw)));
            }
            for (path, total) in checked {
                let d = ds.iter().find(|d| d.cgroup == path).expect("domain");
                prop_assert_eq!(d.total_pages, total, "{:?}", path);
                let tasks: Vec<&Task> = match &path {
                    None => {
                        let mut all: Vec<&Task> = s.tasks.iter().collect();
                        all.sort_by_key(|t| (t.start_time, t.pid));
                        all
                    }
                    Some(p) => ref_scan(&s, p),
                };
                let want = ref_select(&tasks, s.global_init, total);
                prop_assert_eq!(d.victim.as_ref().map(|v| v.pid), want, "{:?}", path);
                // Candidates: exactly the tasks with a score, in descending points, each the
                // kernel's score.
                let mut want_set: Vec<u32> = tasks.iter().filter(|t| ref_oom_badness(t, s.global_init, total) != i64::MIN).map(|t| t.pid).collect();
                let mut got_set: Vec<u32> = d.candidates.iter().map(|c| c.pid).collect();
                for c in &d.candidates {
                    let t = s.tasks.iter().find(|t| t.pid == c.pid).unwrap();
                    prop_assert_eq!(c.points, ref_oom_badness(t, s.global_init, total));
                }
                prop_assert!(d.candidates.windows(2).all(|w| w[0].points >= w[1].points));
                want_set.sort_unstable();
                got_set.sort_unstable();
                prop_assert_eq!(got_set, want_set, "{:?}", path);
                if let Some(v) = &d.victim {
                    let t = s.tasks.iter().find(|t| t.pid == v.pid).unwrap();
                    let g = ref_oom_group(&s, t, path.as_deref().unwrap_or("/"));
                    prop_assert_eq!(v.group_kill.as_ref().map(|g| g.cgroup.clone()), g);
                }
            }
        }
    }
}
