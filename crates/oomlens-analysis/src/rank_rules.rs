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
