//! `oomlens rank --config`: the ranking the kernel would apply once the guard's `[[protect]]`
//! rules have set their oom_score_adj, beside the ranking now. Pure: the snapshot is copied
//! with each matched process's adj replaced by its rule's (the first matching rule, as the
//! guard writes it: [`crate::protect_rules::first_match`]), and both are ranked by
//! [`crate::domains::build`], the kernel's badness function.

use std::collections::BTreeMap;

use oomlens_model::{System, Task};
use serde::Serialize;

use crate::domains::{self, Domain};
use crate::protect_rules::{first_match, ProcFacts, ProtectRule};

/// A process a rule matches, in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    /// Pid.
    pub pid: u32,
    /// Comm (untrusted text).
    pub comm: String,
    /// The rule's name.
    pub rule: String,
    /// oom_score_adj now.
    pub adj_now: i32,
    /// The rule's oom_score_adj.
    pub adj_rule: i32,
    /// Badness points now; `None` when the kernel never kills it (adj -1000).
    pub points_now: Option<i64>,
    /// Badness points after the rule; `None` when never killed then.
    pub points_after: Option<i64>,
}

/// A process the kernel would kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// Pid.
    pub pid: u32,
    /// Comm (untrusted text).
    pub comm: String,
    /// Its badness points.
    pub points: i64,
}

/// One OOM domain before and after the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleEffect {
    /// The domain's memory cgroup; `None` for the machine.
    pub cgroup: Option<String>,
    /// The kernel's choice now.
    pub victim_now: Option<Choice>,
    /// The kernel's choice after the rules.
    pub victim_after: Option<Choice>,
    /// The processes of the domain a rule matches, in the domain's kill order after the
    /// rules (the never-killed last).
    pub rows: Vec<RuleRow>,
}

/// The processes the rules match: pid -> (rule name, rule adj).
pub type Matched = BTreeMap<u32, (String, i32)>;

/// `sys` with each process a rule matches at its rule's adj, and which processes those are.
/// `facts` gives what a rule looks at for a task (its exe is read by the caller). Kernel
/// threads are left alone, as the guard leaves them.
pub fn apply(
    sys: &System,
    rules: &[ProtectRule],
    facts: impl Fn(&Task) -> ProcFacts,
) -> (System, Matched) {
    let mut after = sys.clone();
    let mut matched = Matched::new();
    for t in after.tasks.iter_mut().filter(|t| !t.kernel_thread) {
        if let Some(r) = first_match(rules, &facts(t)) {
            matched.insert(t.pid, (r.name.clone(), i32::from(r.adj)));
            t.oom_score_adj = i32::from(r.adj);
        }
    }
    (after, matched)
}

/// The effect of the rules on each of `shown` (domains of `after`, the ranking with the
/// rules), compared with the same domain of `now` (the ranking without).
pub fn effects(
    now: &[Domain],
    shown: &[&Domain],
    sys_now: &System,
    matched: &Matched,
) -> Vec<RuleEffect> {
    let choice = |d: &Domain| {
        d.victim.as_ref().map(|v| Choice {
            pid: v.pid,
            comm: v.comm.clone(),
            points: v.points,
        })
    };
    let points = |d: Option<&Domain>, pid: u32| {
        d?.candidates
            .iter()
            .find(|c| c.pid == pid)
            .map(|c| c.points)
    };
    shown
        .iter()
        .map(|after| {
            let before = now.iter().find(|d| d.cgroup == after.cgroup);
            // Kill order after the rules, then the processes never killed after them.
            let order = after
                .candidates
                .iter()
                .map(|c| c.pid)
                .chain(after.protected.iter().map(|p| p.pid));
            let rows = order
                .filter_map(|pid| {
                    let (rule, adj_rule) = matched.get(&pid)?;
                    let task = sys_now.tasks.iter().find(|t| t.pid == pid)?;
                    Some(RuleRow {
                        pid,
                        comm: task.comm.clone(),
                        rule: rule.clone(),
                        adj_now: task.oom_score_adj,
                        adj_rule: *adj_rule,
                        points_now: points(before, pid),
                        points_after: points(Some(after), pid),
                    })
                })
                .collect();
            RuleEffect {
                cgroup: after.cgroup.clone(),
                victim_now: before.and_then(choice),
                victim_after: choice(after),
                rows,
            }
        })
        .collect()
}

/// Both rankings of `sys`: the domains now, and with the rules (`after`, its domains, what
/// matched).
pub fn rank_with(
    sys: &System,
    rules: &[ProtectRule],
    facts: impl Fn(&Task) -> ProcFacts,
) -> (Vec<Domain>, System, Vec<Domain>, Matched) {
    let now = domains::build(sys);
    let (after, matched) = apply(sys, rules, facts);
    let after_domains = domains::build(&after);
    (now, after, after_domains, matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::{CgroupMemory, CgroupVersion, Limit, Machine};

    const MIB: u64 = 1 << 20;

    /// pid, rule, the rule's adj, points now and after.
    type Row<'a> = (u32, &'a str, i32, Option<i64>, Option<i64>);

    fn task(pid: u32, comm: &str, rss_mib: u64) -> Task {
        Task {
            pid,
            comm: comm.into(),
            uid: Some(0),
            rss_bytes: rss_mib * MIB,
            swap_bytes: 0,
            pgtables_bytes: 0,
            oom_score_adj: 0,
            oom_score: None,
            memcg: Some("/box".into()),
            kernel_thread: false,
            has_mm: true,
            start_time: u64::from(pid),
            threads: 1,
        }
    }

    fn rule(name: &str, comm: &str, adj: i16) -> ProtectRule {
        ProtectRule {
            name: name.into(),
            line: 1,
            unit: None,
            cgroup: None,
            comm: Some(glob::Pattern::new(comm).unwrap()),
            exe: None,
            adj,
            preemptible: adj >= 0,
        }
    }

    /// A 100 MiB memcg (25,600 pages, 25 pages per adj point) with a 60 MiB db and a
    /// 30 MiB batch job on a 4 GiB machine.
    fn system() -> System {
        System {
            page_size: 4096,
            release: Some("6.18.44".into()),
            version: CgroupVersion::V1,
            machine: Machine {
                mem_total_bytes: 4096 * MIB,
                ..Machine::default()
            },
            tasks: vec![task(10, "db", 60), task(11, "batch", 30)],
            cgroups: vec![CgroupMemory {
                max: Some(Limit::Bytes(100 * MIB)),
                usage: Some(90 * MIB),
                use_hierarchy: Some(true),
                ..CgroupMemory::empty("/box", CgroupVersion::V1)
            }],
            global_init: None,
        }
    }

    #[test]
    fn the_rules_move_the_kill_and_each_row_says_by_how_much() {
        let sys = system();
        let rules = [rule("db", "db", -500), rule("batch", "batch", 300)];
        let facts = |t: &Task| ProcFacts {
            comm: t.comm.clone(),
            cgroup: t.memcg.clone(),
            ..ProcFacts::default()
        };
        let (now, after, after_domains, matched) = rank_with(&sys, &rules, facts);
        assert_eq!(after.tasks[0].oom_score_adj, -500);
        assert_eq!(
            sys.tasks[0].oom_score_adj, 0,
            "the snapshot itself is not changed"
        );
        let boxed: Vec<&Domain> = after_domains
            .iter()
            .filter(|d| d.cgroup.as_deref() == Some("/box"))
            .collect();
        assert_eq!(boxed[0].adj_pages_per_point, 25);
        let e = &effects(&now, &boxed, &sys, &matched)[0];
        // db: 15,360 pages now, 15,360 - 500 × 25 = 2,860 after; batch: 7,680, then
        // 7,680 + 300 × 25 = 15,180.
        assert_eq!(
            e.victim_now.as_ref().map(|c| (c.pid, c.points)),
            Some((10, 15_360))
        );
        assert_eq!(
            e.victim_after.as_ref().map(|c| (c.pid, c.points)),
            Some((11, 15_180))
        );
        let rows: Vec<Row<'_>> = e
            .rows
            .iter()
            .map(|r| {
                (
                    r.pid,
                    r.rule.as_str(),
                    r.adj_rule,
                    r.points_now,
                    r.points_after,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (11, "batch", 300, Some(7_680), Some(15_180)),
                (10, "db", -500, Some(15_360), Some(2_860)),
            ]
        );
    }

    #[test]
    fn no_rule_matches_nothing_changes() {
        let sys = system();
        let (after, matched) = apply(&sys, &[rule("x", "nginx", 900)], |t| ProcFacts {
            comm: t.comm.clone(),
            ..ProcFacts::default()
        });
        assert!(matched.is_empty());
        assert_eq!(after, sys);
    }
}
