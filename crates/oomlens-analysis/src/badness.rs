//! The kernel's choice of OOM victim, written once for every input: a printed task table
//! (`explain`) and live /proc data (`rank`).
//!
//! mm/oom_kill.c, `oom_badness()` since 4.19 (commit bbbe48029720 era; unchanged in 6.x):
//!
//! ```c
//! if (oom_unkillable_task(p)) return LONG_MIN;               // kernel threads, init
//! adj = p->signal->oom_score_adj;
//! if (adj == OOM_SCORE_ADJ_MIN || MMF_OOM_SKIP || in_vfork(p)) return LONG_MIN;
//! points = get_mm_rss(mm) + get_mm_counter(mm, MM_SWAPENTS) + mm_pgtables_bytes(mm) / PAGE_SIZE;
//! adj *= totalpages / 1000;
//! points += adj;
//! ```
//!
//! and `oom_evaluate_task()`: `if (points == LONG_MIN || points < oc->chosen_points) goto next;`
//! so among equal scores the task visited **last** wins. Tasks are visited in the order the
//! report prints them (`dump_tasks` walks the same list), so row order breaks ties.
//!
//! Older kernels differ in three ways ([`Formula`]): the sum used `nr_ptes` (+ `nr_pmds`
//! from 4.0) pages; root (CAP_SYS_ADMIN) tasks got a bonus, first `adj -= 30` before
//! normalization (2.6.36–4.5), then `points -= points * 3 / 100` (4.6–4.16), removed in 4.17
//! (d46078b28889, "mm, oom: remove 3% bonus for CAP_SYS_ADMIN processes"); and until 5.8 an
//! eligible task scored at least 1 (`return points > 0 ? points : 1;`), which 5.9 dropped
//! (9066e5cfb73c, "mm, oom: make the calculation of oom badness more accurate"), letting
//! negative scores order tasks with negative oom_score_adj. Version boundaries of the root
//! bonus are from the kernel history as far as it could be checked; the task tables do not
//! print capabilities, so root is approximated by uid 0.
//!
//! `totalpages` is the OOM domain: the memcg's limit for a memcg OOM
//! (`mem_cgroup_get_max()`: memory.max, plus swap headroom where swap is accounted), or
//! RAM + swap for a global one (`totalram_pages() + total_swap_pages`).

use serde::Serialize;

/// Why a task cannot be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unkillable {
    /// oom_score_adj is -1000 (OOM_SCORE_ADJ_MIN).
    AdjMin,
    /// A kernel thread (no mm).
    KernelThread,
    /// The global init (pid 1 of the namespace the kernel sees).
    Init,
    /// Already an OOM victim being reaped (MMF_OOM_SKIP).
    OomSkip,
}

/// One task as the badness function sees it, in the kernel's visiting order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The pid (tgid).
    pub pid: u32,
    /// The comm.
    pub comm: String,
    /// Resident pages: anon + file + shmem.
    pub rss_pages: u64,
    /// Swapped-out pages (swap entries).
    pub swap_pages: u64,
    /// Page-table pages (`pgtables_bytes / PAGE_SIZE`, or `nr_ptes + nr_pmds` before 4.15).
    pub pgtable_pages: u64,
    /// oom_score_adj, -1000..=1000.
    pub oom_score_adj: i32,
    /// The task's uid, when known (pre-4.17 root bonus approximation).
    pub uid: Option<u32>,
    /// Why the kernel would skip it, if it would.
    pub unkillable: Option<Unkillable>,
}

/// How root tasks were favoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootBonus {
    /// No bonus (4.17+).
    None,
    /// `adj -= 30` before normalization (2.6.36–4.5).
    Adj30,
    /// `points -= points * 3 / 100` (4.6–4.16).
    ThreePercent,
}

/// Which kernel's formula to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Formula {
    /// The root bonus of that era.
    pub root_bonus: RootBonus,
    /// Eligible tasks score at least 1 (before 5.9).
    pub floor_one: bool,
    /// 2.6.36–3.9 (and RHEL 6's backport): scores in per mille of the domain, capped at 1000
    /// (a7f638f999ff, "mm, oom: normalize oom scores to oom_score_adj scale only for
    /// userspace", moved the kernel to pages in 3.10).
    pub per_mille: bool,
}

impl Formula {
    /// 5.9 and later.
    pub const MODERN: Formula = Formula {
        root_bonus: RootBonus::None,
        floor_one: false,
        per_mille: false,
    };

    /// The formula for a kernel release string (`5.15.0-1088-azure`); modern when unknown.
    pub fn for_release(release: Option<&str>) -> Formula {
        let Some(r) = release else {
            return Formula::MODERN;
        };
        let mut it = r
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let major: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let minor: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let v = (major, minor);
        // RHEL 7's 3.10 carries the 4.6 "base root bonus on current usage" change: in the
        // corpus report of 3.10.0-693.el7 (sysrq OOM) the kernel chose a root task of 4253
        // pages over a uid-999 task of 3075 pages, which only the 3% form explains.
        let rhel7 = r.contains(".el7");
        let root_bonus = if v < (4, 6) && !rhel7 {
            RootBonus::Adj30
        } else if v < (4, 17) {
            RootBonus::ThreePercent
        } else {
            RootBonus::None
        };
        Formula {
            root_bonus,
            floor_one: v < (5, 9),
            per_mille: v < (3, 10),
        }
    }
}

/// Which term of the score decided a candidate's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Term {
    /// Resident memory.
    Rss,
    /// Swap entries.
    Swap,
    /// Page tables.
    PageTables,
    /// oom_score_adj.
    Adj,
}

/// A candidate with its score, in kill order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    /// The candidate.
    pub candidate: Candidate,
    /// The badness, or `None` when the kernel would skip the task.
    pub points: Option<i64>,
    /// The memory part: rss + swap + page tables (after the legacy root bonus).
    pub memory_points: i64,
    /// The oom_score_adj part: `adj * (totalpages / 1000)`.
    pub adj_points: i64,
    /// The largest term (by absolute value) of the score.
    pub deciding: Term,
}

/// `oom_badness()`: the score of one task in a domain of `total_pages`, or `None` for
/// tasks the kernel never kills (LONG_MIN).
pub fn badness(c: &Candidate, total_pages: u64, formula: Formula) -> Option<i64> {
    score(c, total_pages, formula).points
}

fn score(c: &Candidate, total_pages: u64, formula: Formula) -> Scored {
    let root = c.uid == Some(0);
    let mut memory = (c.rss_pages + c.swap_pages + c.pgtable_pages) as i64;
    let mut adj = c.oom_score_adj as i64;
    match formula.root_bonus {
        RootBonus::ThreePercent if root => memory -= memory * 3 / 100,
        RootBonus::Adj30 if root => adj -= 30,
        _ => {}
    }
    let skip = c.unkillable.is_some() || c.oom_score_adj <= -1000;
    let (adj_points, mut points) = if formula.per_mille {
        // points = mem * 1000 / totalpages; root -30; + adj; clamp to 1..=1000.
        let mem = memory * 1000 / total_pages.max(1) as i64;
        memory = mem;
        (adj, (mem + adj).min(1000))
    } else {
        let a = adj * (total_pages / 1000) as i64;
        (a, memory + a)
    };
    if formula.floor_one && points <= 0 {
        points = 1;
    }
    let terms = [
        (Term::Rss, c.rss_pages as i64),
        (Term::Swap, c.swap_pages as i64),
        (Term::PageTables, c.pgtable_pages as i64),
        (Term::Adj, adj_points.abs()),
    ];
    let deciding = terms
        .iter()
        .max_by_key(|(_, v)| *v)
        .map(|(t, _)| *t)
        .unwrap_or(Term::Rss);
    Scored {
        candidate: c.clone(),
        points: (!skip).then_some(points),
        memory_points: memory,
        adj_points,
        deciding,
    }
}

/// Every candidate scored, in the order the kernel would kill them: the first is the
/// victim. Ties go to the task visited later (`oom_evaluate_task` replaces on `>=`).
/// Tasks the kernel skips come last, in their visiting order.
pub fn rank(cands: &[Candidate], total_pages: u64, formula: Formula) -> Vec<Scored> {
    let mut scored: Vec<(usize, Scored)> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| (i, score(c, total_pages, formula)))
        .collect();
    scored.sort_by(|(ia, a), (ib, b)| match (a.points, b.points) {
        (Some(pa), Some(pb)) => pb.cmp(&pa).then(ib.cmp(ia)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ia.cmp(ib),
    });
    scored.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cand(pid: u32, rss: u64, adj: i32) -> Candidate {
        Candidate {
            pid,
            comm: format!("p{pid}"),
            rss_pages: rss,
            swap_pages: 0,
            pgtable_pages: 0,
            oom_score_adj: adj,
            uid: Some(1000),
            unkillable: None,
        }
    }

    /// The kernel's selection loop, transcribed: visit in order, keep the last task whose
    /// points are >= the best so far (oom_evaluate_task), LONG_MIN for skipped tasks.
    fn reference_victim(cands: &[Candidate], total: u64) -> Option<u32> {
        let mut chosen: Option<u32> = None;
        let mut chosen_points = i64::MIN;
        for c in cands {
            let points = if c.unkillable.is_some() || c.oom_score_adj == -1000 {
                i64::MIN
            } else {
                let mut p = (c.rss_pages + c.swap_pages + c.pgtable_pages) as i64;
                let adj = c.oom_score_adj as i64 * (total / 1000) as i64;
                p += adj;
                p
            };
            if points == i64::MIN || points < chosen_points {
                continue;
            }
            chosen = Some(c.pid);
            chosen_points = points;
        }
        chosen
    }

    #[test]
    fn adj_outweighs_size_in_a_small_domain() {
        // 64 MiB memcg = 16384 pages: adj 900 adds 900*16 = 14400 points.
        let big = cand(1, 10_000, 0);
        let small = cand(2, 2_000, 900);
        let r = rank(&[big, small], 16_384, Formula::MODERN);
        assert_eq!(r[0].candidate.pid, 2);
        assert_eq!(r[0].points, Some(2_000 + 14_400));
        assert_eq!(r[0].deciding, Term::Adj);
    }

    #[test]
    fn ties_go_to_the_later_task_and_min_adj_is_never_chosen() {
        let r = rank(
            &[cand(1, 500, 0), cand(2, 500, 0), cand(3, 9_999, -1000)],
            1000,
            Formula::MODERN,
        );
        let order: Vec<u32> = r.iter().map(|s| s.candidate.pid).collect();
        assert_eq!(order, [2, 1, 3]);
        assert_eq!(r[2].points, None);
    }

    #[test]
    fn older_formulas_favour_root_and_floor_at_one() {
        let mut root = cand(1, 1000, 0);
        root.uid = Some(0);
        let v3 = Formula::for_release(Some("3.13.0-43-generic"));
        let el7 = Formula::for_release(Some("3.10.0-693.el7.x86_64"));
        assert_eq!(el7.root_bonus, RootBonus::ThreePercent);
        let v4 = Formula::for_release(Some("4.9.24-coreos"));
        let v418 = Formula::for_release(Some("4.18.0-147.el8"));
        assert_eq!(
            (v3.root_bonus, v4.root_bonus, v418.root_bonus),
            (RootBonus::Adj30, RootBonus::ThreePercent, RootBonus::None)
        );
        assert!(v418.floor_one && !Formula::for_release(Some("6.18.44")).floor_one);
        assert_eq!(badness(&root, 100_000, v4), Some(970));
        assert_eq!(badness(&root, 10_000, v3), Some(1000 - 30 * 10));
        assert_eq!(badness(&root, 1_000_000, v3), Some(1)); // floored
        assert_eq!(badness(&cand(2, 10, -500), 100_000, v418), Some(1));
        assert_eq!(
            badness(&cand(2, 10, -500), 100_000, Formula::MODERN),
            Some(10 - 50_000)
        );
        let rhel6 = Formula::for_release(Some("2.6.32-358.23.2.el6.x86_64"));
        assert!(rhel6.per_mille);
        // 677 pages of a 2-page domain is capped at 1000 per mille; root loses 30 per mille.
        assert_eq!(badness(&cand(1, 677, 0), 2, rhel6), Some(1000));
        assert_eq!(badness(&root, 10_000, rhel6), Some(100 - 30));
    }

    proptest! {
        #[test]
        fn rank_agrees_with_the_kernels_loop(
            rows in proptest::collection::vec((0u64..5_000_000, 0u64..100_000, 0u64..5_000, -1000i32..=1000, any::<bool>()), 1..40),
            total in 1u64..50_000_000,
        ) {
            let cands: Vec<Candidate> = rows.iter().enumerate().map(|(i, &(rss, swap, pgt, adj, kthread))| Candidate {
                pid: i as u32 + 1,
                comm: String::new(),
                rss_pages: rss,
                swap_pages: swap,
                pgtable_pages: pgt,
                oom_score_adj: adj,
                uid: None,
                unkillable: (kthread && i % 7 == 0).then_some(Unkillable::KernelThread),
            }).collect();
            let ranked = rank(&cands, total, Formula::MODERN);
            let victim = ranked.first().filter(|s| s.points.is_some()).map(|s| s.candidate.pid);
            prop_assert_eq!(victim, reference_victim(&cands, total));
            // Kill order is by points, descending.
            let pts: Vec<i64> = ranked.iter().filter_map(|s| s.points).collect();
            prop_assert!(pts.windows(2).all(|w| w[0] >= w[1]));
        }
    }
}
