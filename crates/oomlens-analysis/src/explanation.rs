//! What an explanation holds: findings with their evidence, advice and the restart loop, as
//! plain data. Kept apart from the explainer (`explain.rs`) so that the finding registry and
//! the restart history can name these types without importing the explainer that uses them.

use serde::Serialize;

use crate::finding_codes::{finding_code, Severity};
use crate::owner::Owner;
use crate::victim::Ranking;

/// A number a finding rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What was measured.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// Its unit (`KiB`, `pages`, `s`, `%`, `kills`, ...).
    pub unit: &'static str,
}

/// One conclusion about an incident, with a stable code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable identifier, one of [`crate::finding_codes::FINDINGS`].
    pub code: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One sentence.
    pub message: String,
    /// The numbers it was derived from.
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// A finding of the registered `code` ([`crate::finding_codes::FINDINGS`]), which gives
    /// its severity.
    pub(crate) fn new(code: &'static str, message: String, evidence: Vec<Evidence>) -> Finding {
        let registered =
            finding_code(code).unwrap_or_else(|| panic!("finding code {code} is not in FINDINGS"));
        Finding {
            code,
            severity: registered.severity,
            message,
            evidence,
        }
    }
}

/// A concrete change, copyable as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// The finding it answers.
    pub finding: &'static str,
    /// Why, in one sentence.
    pub reason: String,
    /// Where it goes (a drop-in path, a manifest field), when known.
    pub target: Option<String>,
    /// The text to copy.
    pub snippet: String,
}

/// A restart loop seen up to and including this incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopInfo {
    /// The owner the kills share (unit, container, or cgroup).
    pub key: String,
    /// This is the n-th kill of that owner in the input.
    pub nth: usize,
    /// Kills of the owner within the hour before this one (this one included).
    pub in_last_hour: usize,
    /// Mean seconds between consecutive kills, when times are known.
    pub mean_interval_s: Option<f64>,
    /// Victim size (anon + file + shmem KiB) of each kill so far, oldest first (last 16).
    pub victim_kb: Vec<u64>,
}

/// Everything explained about one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Who owns the victim's cgroup.
    pub owner: Option<Owner>,
    /// The re-computed ranking, when a task table was printed.
    pub ranking: Option<Ranking>,
    /// Conclusions.
    pub findings: Vec<Finding>,
    /// Changes to make.
    pub advice: Vec<Advice>,
    /// The restart loop this kill belongs to, if any.
    pub restart_loop: Option<LoopInfo>,
}
