//! Why the kernel chose its victim: the printed task table re-scored with
//! [`crate::badness`], compared with the kill the report shows.

use oomlens_model::{Incident, Kind, TaskRow};
use serde::Serialize;

use crate::badness::{rank, Candidate, Formula, Scored, Term, Unkillable};

/// One row of the re-computed ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankRow {
    /// Pid.
    pub pid: u32,
    /// comm.
    pub comm: String,
    /// Badness points (None: never chosen, oom_score_adj -1000).
    pub points: Option<i64>,
    /// Resident pages.
    pub rss_pages: u64,
    /// Swap entries.
    pub swap_pages: u64,
    /// Page-table pages.
    pub pgtable_pages: u64,
    /// oom_score_adj.
    pub oom_score_adj: i32,
    /// The term that weighs most in the score.
    pub deciding: Term,
    /// Points as a share of the domain, in per mille (the scale of /proc/PID/oom_score).
    pub per_mille: Option<i64>,
}

/// The re-computed choice for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Size of the OOM domain in pages (`totalpages`).
    pub domain_pages: u64,
    /// Page size in KiB used for the conversion.
    pub page_kb: u64,
    /// Which kernel's formula was applied.
    pub formula: Formula,
    /// The top rows in kill order (at most five).
    pub top: Vec<RankRow>,
    /// The number of rows ranked.
    pub rows: usize,
    /// The pid the kernel chose (its selection, else its first kill).
    pub kernel_choice: Option<u32>,
    /// True when the re-computed first row is the kernel's choice.
    pub agrees: bool,
    /// Why they disagree, when they do.
    pub disagreement: Option<String>,
    /// What had to be assumed (swap headroom, page size, root approximated by uid 0).
    pub assumptions: Vec<String>,
}

/// The page size in KiB: inferred from a kill whose task-table row is printed
/// (`anon-rss + file-rss + shmem-rss` kB over `rss` pages), else 4.
pub fn page_kb(inc: &Incident) -> (u64, bool) {
    let rows = inc
        .task_table
        .as_ref()
        .map(|t| t.rows.as_slice())
        .unwrap_or(&[]);
    for k in &inc.kills {
        let (Some(pid), Some(a), Some(f)) = (k.pid, k.anon_rss_kb, k.file_rss_kb) else {
            continue;
        };
        let kb = a + f + k.shmem_rss_kb.unwrap_or(0);
        if let Some(r) = rows.iter().find(|r| r.pid == pid) {
            if let Some(pages) = r.rss.filter(|p| *p >= 256) {
                let ratio = kb as f64 / pages as f64;
                for size in [4u64, 16, 64] {
                    if (ratio - size as f64).abs() / (size as f64) < 0.1 {
                        return (size, true);
                    }
                }
            }
        }
    }
    (4, false)
}

/// The OOM domain size in pages and what had to be assumed to get it.
pub fn domain_pages(inc: &Incident, page_kb: u64) -> Option<(u64, Vec<String>)> {
    let mut notes = Vec::new();
    match inc.kind? {
        Kind::Memcg => {
            let m = inc.memcg.as_ref()?.memory?;
            let mut kb = m.limit_kb;
            // mem_cgroup_get_max(): memory.max plus the swap the memcg may still use.
            let memsw = inc.memcg.as_ref().and_then(|c| c.memsw);
            let swap = inc.memcg.as_ref().and_then(|c| c.swap);
            match (memsw, swap) {
                (Some(sw), _) if sw.limit_kb > m.limit_kb && sw.limit_kb < 1 << 50 => {
                    kb += sw.limit_kb - m.limit_kb;
                    notes.push("memory+swap limit above memory limit: swap headroom counted in full (the machine's swap size is not printed)".into());
                }
                (_, Some(s)) if s.limit_kb > 0 && s.limit_kb < 1 << 50 => {
                    kb += s.limit_kb;
                    notes.push(
                        "swap.max counted in full (the machine's swap size is not printed)".into(),
                    );
                }
                (Some(sw), _) if sw.limit_kb >= 1 << 50 => {
                    notes.push(
                        "memory+swap is unlimited: machine swap not printed, assumed none".into(),
                    );
                }
                _ => {}
            }
            Some((kb / page_kb, notes))
        }
        Kind::Global | Kind::Cpuset | Kind::MemoryPolicy => {
            let mi = inc.mem_info.as_ref()?;
            let ram = mi.pages_ram?.saturating_sub(mi.pages_reserved.unwrap_or(0));
            let swap = mi.total_swap_kb.unwrap_or(0) / page_kb;
            if inc.kind != Some(Kind::Global) {
                notes.push("the allowed nodes' memory is not printed: the whole machine is used as the domain".into());
            }
            notes.push("RAM taken as 'pages RAM' minus 'pages reserved' (totalram_pages)".into());
            Some((ram + swap, notes))
        }
        _ => None,
    }
}

fn candidate(r: &TaskRow, page_kb: u64) -> Candidate {
    let page_bytes = page_kb * 1024;
    let pgt = match r.pgtables_bytes {
        Some(b) => b / page_bytes,
        None => r.nr_ptes.unwrap_or(0) + r.nr_pmds.unwrap_or(0),
    };
    Candidate {
        pid: r.pid,
        comm: r.name.clone(),
        rss_pages: r.rss.unwrap_or(0),
        swap_pages: r.swapents.unwrap_or(0),
        pgtable_pages: pgt,
        oom_score_adj: r.oom_score_adj.unwrap_or(0),
        uid: r.uid,
        unkillable: (r.oom_score_adj == Some(-1000)).then_some(Unkillable::AdjMin),
    }
}

fn row(s: &Scored, domain: u64) -> RankRow {
    RankRow {
        pid: s.candidate.pid,
        comm: s.candidate.comm.clone(),
        points: s.points,
        rss_pages: s.candidate.rss_pages,
        swap_pages: s.candidate.swap_pages,
        pgtable_pages: s.candidate.pgtable_pages,
        oom_score_adj: s.candidate.oom_score_adj,
        deciding: s.deciding,
        per_mille: s
            .points
            .filter(|_| domain > 0)
            .map(|p| p * 1000 / domain as i64),
    }
}

/// Re-score the incident's task table. `None` when it printed no table or no domain size.
pub fn ranking(inc: &Incident) -> Option<Ranking> {
    let table = inc.task_table.as_ref().filter(|t| !t.rows.is_empty())?;
    let (page_kb, inferred) = page_kb(inc);
    let (domain, mut assumptions) = domain_pages(inc, page_kb)?;
    if !inferred {
        assumptions.push("page size assumed 4 KiB".into());
    }
    let formula = Formula::for_release(inc.kernel_version.as_deref());
    if formula.root_bonus != crate::badness::RootBonus::None {
        assumptions
            .push("root bonus applied to uid 0 (the table does not print capabilities)".into());
    }
    let cands: Vec<Candidate> = table.rows.iter().map(|r| candidate(r, page_kb)).collect();
    let scored = rank(&cands, domain, formula);
    // Before 5.3 the kernel printed its choice (`Kill process`) and then killed a child
    // or the thread group leader (`Killed process`): compare with the choice.
    // Kernels before 4.19 iterate threads, so the selection line can name a thread while the
    // table lists thread-group leaders and `Killed process` names the group: then compare
    // with the killed group.
    let killed = inc.victim().and_then(|k| k.pid);
    let in_table = |pid: Option<u32>| pid.is_some_and(|p| cands.iter().any(|c| c.pid == p));
    let kernel_choice = match inc.selection.as_ref().map(|s| s.pid) {
        Some(sel) if in_table(Some(sel)) || !in_table(killed) => Some(sel),
        _ => killed,
    };
    if let (Some(sel), Some(k)) = (inc.selection.as_ref().map(|s| s.pid), killed) {
        if sel != k && kernel_choice == killed {
            assumptions.push(format!(
                "the kernel selected task {sel} (a thread, not listed) and killed its thread group {k}"
            ));
        }
    }
    let first = scored.first().filter(|s| s.points.is_some());
    let agrees = first.is_some_and(|s| Some(s.candidate.pid) == kernel_choice);
    let disagreement = if agrees {
        None
    } else {
        Some(explain_disagreement(
            inc,
            &scored,
            kernel_choice,
            table.rows_dropped,
        ))
    };
    Some(Ranking {
        domain_pages: domain,
        page_kb,
        formula,
        top: scored.iter().take(5).map(|s| row(s, domain)).collect(),
        rows: scored.len(),
        kernel_choice,
        agrees,
        disagreement,
        assumptions,
    })
}

fn explain_disagreement(
    inc: &Incident,
    scored: &[Scored],
    choice: Option<u32>,
    dropped: u64,
) -> String {
    let Some(choice) = choice else {
        return "the report shows no kill to compare with".into();
    };
    let Some(pos) = scored.iter().position(|s| s.candidate.pid == choice) else {
        if dropped > 0 {
            return format!(
                "the victim's row is among the {dropped} rows beyond the parser's bound"
            );
        }
        if inc.completeness != oomlens_model::Completeness::Full {
            return "the victim's row is not in the printed part of the task table (the report is incomplete)".into();
        }
        return "the victim has no row in the task table (it may have been a thread whose group leader was listed)".into();
    };
    let top = &scored[0];
    let mine = &scored[pos];
    match (top.points, mine.points) {
        (Some(a), Some(b)) if a == b => "equal scores: the kernel keeps the last task it visits with the best score, and the task list can change between selection and the dump".into(),
        (Some(a), Some(b)) if (a - b).abs() * 100 <= a.abs().max(1) * 2 => format!(
            "the scores differ by {} points ({:.1}%): memory moved between the kernel's choice and the dump of the table",
            a - b,
            (a - b) as f64 * 100.0 / a.abs().max(1) as f64
        ),
        _ if inc.oom_group.is_some() => "memory.oom.group is set: the whole group was killed, so the listed kill order is not the choice".into(),
        _ => format!(
            "the table scores pid {} ({}) higher; the kernel's choice ranks #{}: rows may have been printed after memory moved, or the formula of this kernel differs",
            top.candidate.pid,
            top.candidate.comm,
            pos + 1
        ),
    }
}
