//! Every finding `explain` can report, declared once: its stable code, its severity and what
//! it means. The analysis takes a finding's severity from here, and a test keeps the
//! README's table of codes equal to this list (like the audit rules' `RULES`).

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context.
    Info,
    /// Likely to recur or to mislead.
    Warning,
    /// Loses work now.
    Critical,
}

/// One kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingCode {
    /// Stable identifier, used in text, JSON and advice.
    pub code: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// What it means, as the README's table says it.
    pub meaning: &'static str,
}

const fn code(code: &'static str, severity: Severity, meaning: &'static str) -> FindingCode {
    FindingCode {
        code,
        severity,
        meaning,
    }
}

/// Every finding code, in the README's order.
pub const FINDINGS: &[FindingCode] = &[
    code(
        "memcg-limit-hit",
        Severity::Info,
        "a cgroup limit, not the machine, ran out",
    ),
    code(
        "restart-loop",
        Severity::Critical,
        "the same unit/container killed repeatedly: count, interval",
    ),
    code(
        "leak-to-limit",
        Severity::Critical,
        "every kill at the limit, minutes apart: a leak and its growth rate (advice: MemoryHigh below MemoryMax, RuntimeMaxSec)",
    ),
    code(
        "limit-below-working-set",
        Severity::Critical,
        "every kill at the limit seconds apart: the limit is below the steady need",
    ),
    code(
        "shmem-not-heap",
        Severity::Warning,
        "shmem dominates, or the processes' RSS is far below the cgroup's usage: tmpfs, emptyDir, /dev/shm (advice: find and bound them)",
    ),
    code(
        "kernel-memory",
        Severity::Warning,
        "slab/sockets/stacks are a large part of the cgroup",
    ),
    code(
        "largest-survived-by-adj",
        Severity::Warning,
        "the victim was not the largest process; oom_score_adj decided",
    ),
    code(
        "critical-victim",
        Severity::Critical,
        "a database, web server, sshd or container runtime died unprotected (advice: OOMScoreAdjust)",
    ),
    code(
        "subprocess-killed",
        Severity::Warning,
        "the victim was not the cgroup's first process: the container or service lives on without it",
    ),
    code(
        "no-killable-process",
        Severity::Critical,
        "the kernel found nothing to kill",
    ),
    code(
        "oom-panic",
        Severity::Critical,
        "the kernel panicked instead of killing: the whole machine went down",
    ),
    code(
        "oomd-pressure",
        Severity::Warning,
        "systemd-oomd's trigger: the pressure or swap use it acted on",
    ),
];

/// The registered finding `code`.
pub fn finding_code(code: &str) -> Option<&'static FindingCode> {
    FINDINGS.iter().find(|f| f.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        for (i, f) in FINDINGS.iter().enumerate() {
            assert!(
                FINDINGS[i + 1..].iter().all(|g| g.code != f.code),
                "{} twice",
                f.code
            );
        }
    }

    /// The README's table of finding codes is this list: the same codes, in the same order,
    /// with the same meanings; a code in one and not the other fails.
    #[test]
    fn readme_table_is_the_registry() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("| code | severity | meaning |")
            .expect("README.md has the table of finding codes");
        let rows: Vec<(String, String, String)> = readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                assert_eq!(cells.len(), 3, "README row {l:?}");
                (
                    cells[0].trim_matches('`').to_string(),
                    cells[1].to_string(),
                    cells[2].to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String, String)> = FINDINGS
            .iter()
            .map(|f| {
                (
                    f.code.to_string(),
                    format!("{:?}", f.severity).to_lowercase(),
                    f.meaning.to_string(),
                )
            })
            .collect();
        assert_eq!(rows, want);
    }
}
