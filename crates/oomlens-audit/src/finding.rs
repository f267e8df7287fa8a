//! Findings and the rule registry: every rule's stable id, severity, one-sentence reason and
//! fix, declared once in [`RULES`]. Text, JSON and SARIF output, the README table and the
//! tests all read this list.

use std::path::PathBuf;

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not wrong by itself.
    Info,
    /// Likely to turn a memory problem into an outage.
    Warning,
    /// The setting does not do what it says, or guarantees a kill.
    Error,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The SARIF `level`.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A rule of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, used in output, `--fail-on` and SARIF.
    pub id: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// What it checks: `systemd`, `kubernetes` or both.
    pub applies_to: &'static str,
    /// Why it matters, in one sentence.
    pub reason: &'static str,
    /// The general fix; each finding carries a concrete one.
    pub fix: &'static str,
}

/// Every rule, in a stable order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "memory-max-without-high",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "With MemoryMax= alone the kernel kills at the limit with no throttling before it, so a slow leak ends in a SIGKILL instead of a slowdown someone can notice.",
        fix: "Set MemoryHigh= below MemoryMax= (about 75% of it) so the kernel reclaims and throttles first.",
    },
    Rule {
        id: "high-not-below-max",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "MemoryHigh= at or above MemoryMax= never throttles: the OOM killer fires first.",
        fix: "Lower MemoryHigh= below MemoryMax= (about 75% of it).",
    },
    Rule {
        id: "high-too-close-to-max",
        severity: Severity::Info,
        applies_to: "systemd",
        reason: "MemoryHigh= within 10% of MemoryMax= leaves almost no room between throttling and the kill.",
        fix: "Leave a real gap: MemoryHigh= about 75% of MemoryMax=.",
    },
    Rule {
        id: "critical-without-oom-score-adjust",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "A database, sshd, web server or container runtime with the default OOMScoreAdjust= is a likely victim of the global OOM killer because it is big.",
        fix: "Set OOMScoreAdjust= to a negative value (e.g. -500) in a drop-in.",
    },
    Rule {
        id: "no-memory-limit",
        severity: Severity::Warning,
        applies_to: "systemd, kubernetes",
        reason: "A unit that was OOM-killed or is meant to be bounded, or a container, without a memory limit can take the whole machine or node with it.",
        fix: "Set MemoryHigh=/MemoryMax= (systemd) or resources.limits.memory (Kubernetes) from the observed peak plus headroom.",
    },
    Rule {
        id: "deprecated-memory-limit",
        severity: Severity::Info,
        applies_to: "systemd",
        reason: "MemoryLimit= is the cgroup-v1 name: it is deprecated and ignored as soon as any MemoryHigh=/MemoryMax=/MemoryMin=/MemoryLow=/MemorySwapMax= is set.",
        fix: "Replace MemoryLimit= with MemoryMax= (and add MemoryHigh=).",
    },
    Rule {
        id: "limit-above-ram",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "A memory limit above physical RAM never triggers: the global OOM killer acts first and may pick another process.",
        fix: "Set the limit below physical memory.",
    },
    Rule {
        id: "slice-overcommitted",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "When a slice's members may use more than the slice allows, the slice's own OOM kill picks a victim among all of them before any member reaches its limit; protections above the slice's limit cannot all hold.",
        fix: "Raise the slice's MemoryMax= or lower its members' limits and MemoryMin=/MemoryLow=.",
    },
    Rule {
        id: "restart-loop-without-start-limit",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "A capped service restarted after every OOM kill, with a start limit that cannot trip (default 5 starts in 10 s, or disabled), repeats the kill forever and drops in-flight work each time.",
        fix: "Set StartLimitIntervalSec= and StartLimitBurst= in [Unit] to cover the time it takes to reach the limit, and fix the leak (RuntimeMaxSec= as a stopgap).",
    },
    Rule {
        id: "tmpfs-without-size",
        severity: Severity::Warning,
        applies_to: "systemd",
        reason: "A tmpfs without size= may fill half of RAM with pages that cannot be reclaimed without swap and are charged to whoever writes them.",
        fix: "Add size= (e.g. size=512M or size=10%) to the mount options.",
    },
    Rule {
        id: "user-oom-score-adjust-floor",
        severity: Severity::Info,
        applies_to: "systemd",
        reason: "A user manager is unprivileged and cannot set OOMScoreAdjust= below its own value, so a lower value in a user unit is silently ignored.",
        fix: "Run the service as a system unit with User=, or accept the manager's value.",
    },
    Rule {
        id: "invalid-memory-setting",
        severity: Severity::Error,
        applies_to: "systemd",
        reason: "systemd ignores a memory or restart setting it cannot parse and keeps the previous value, so the intended limit is not there.",
        fix: "Write the value in systemd's syntax (e.g. 512M, 1.5G, 50%, infinity; K/M/G upper case, no B suffix).",
    },
    Rule {
        id: "besteffort-pod",
        severity: Severity::Warning,
        applies_to: "kubernetes",
        reason: "A pod without any requests or limits is BestEffort: oom_score_adj 1000, the first evicted and the first killed under node memory pressure.",
        fix: "Set resources.requests (and limits) for memory and cpu on every container.",
    },
    Rule {
        id: "burstable-critical-pod",
        severity: Severity::Warning,
        applies_to: "kubernetes",
        reason: "A critical pod in the Burstable QoS class is killed and evicted before Guaranteed pods when the node runs short of memory.",
        fix: "Make it Guaranteed: requests equal to limits for memory and cpu in every container.",
    },
    Rule {
        id: "emptydir-memory-without-sizelimit",
        severity: Severity::Warning,
        applies_to: "kubernetes",
        reason: "An emptyDir with medium: Memory is a tmpfs whose files count as the container's memory; without sizeLimit a file that is never deleted ends in an OOM kill.",
        fix: "Set emptyDir.sizeLimit well below the container's memory limit, or use disk.",
    },
    Rule {
        id: "runtime-heap-above-limit",
        severity: Severity::Error,
        applies_to: "kubernetes",
        reason: "A runtime told it may use as much memory as the container limit or more (JVM -Xmx or MaxRAMPercentage, Node --max-old-space-size, GOMEMLIMIT) grows into the kernel's OOM kill; a Go program without GOMEMLIMIT does not see the limit at all.",
        fix: "Size the runtime below the limit: heap at most about 75% of the limit for the JVM and Node, GOMEMLIMIT at about 90%.",
    },
];

/// The rule of an id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// What it is about: a unit name, or `Kind/namespace/name` for Kubernetes.
    pub target: String,
    /// The file that holds (or should hold) the setting.
    pub file: Option<PathBuf>,
    /// The line in that file.
    pub line: Option<u32>,
    /// What is wrong here, with the values.
    pub message: String,
    /// What to change here.
    pub fix: String,
}

impl Finding {
    /// A finding of a registered rule.
    ///
    /// # Panics
    /// When `rule` is not in [`RULES`] (a programming error caught by the tests).
    pub fn new(
        rule_id: &'static str,
        target: impl Into<String>,
        at: Option<(PathBuf, u32)>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        let r = rule(rule_id).unwrap_or_else(|| panic!("rule {rule_id} is not registered"));
        let (file, line) = match at {
            Some((f, l)) => (Some(f), Some(l)),
            None => (None, None),
        };
        Finding {
            rule: r.id,
            severity: r.severity,
            target: target.into(),
            file,
            line,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Shell-style glob match (`*`, `?`), used for the critical and require-limit lists.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The default patterns of services that must survive an OOM: databases, sshd, web
/// servers and container runtimes. Matched against a unit's name (without instance and
/// type), the programs it runs, and for Kubernetes the object, container and image names.
pub const DEFAULT_CRITICAL: &[&str] = &[
    "postgres*",
    "mysql*",
    "mariadb*",
    "mongo*",
    "redis*",
    "valkey*",
    "etcd*",
    "elasticsearch*",
    "opensearch*",
    "clickhouse*",
    "cassandra*",
    "influxd*",
    "sshd",
    "ssh",
    "nginx*",
    "apache2*",
    "httpd*",
    "caddy*",
    "haproxy*",
    "envoy*",
    "traefik*",
    "containerd*",
    "docker*",
    "dockerd",
    "crio*",
    "cri-o*",
    "kubelet*",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_ids_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id
            );
            assert!(r.reason.ends_with('.') && r.fix.ends_with('.'), "{}", r.id);
        }
        // The ids the issue asks for.
        for id in [
            "memory-max-without-high",
            "high-not-below-max",
            "high-too-close-to-max",
            "critical-without-oom-score-adjust",
            "no-memory-limit",
            "deprecated-memory-limit",
            "limit-above-ram",
            "slice-overcommitted",
            "restart-loop-without-start-limit",
            "tmpfs-without-size",
            "user-oom-score-adjust-floor",
            "besteffort-pod",
            "burstable-critical-pod",
            "emptydir-memory-without-sizelimit",
            "runtime-heap-above-limit",
        ] {
            assert!(rule(id).is_some(), "{id} missing");
        }
    }

    #[test]
    fn readme_lists_every_rule_with_its_severity() {
        let readme = include_str!("../README.md");
        for r in RULES {
            let row = format!("| `{}` | {} |", r.id, r.severity.as_str());
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("postgres*", "postgresql"));
        assert!(glob_match("ssh", "ssh"));
        assert!(!glob_match("ssh", "sshd"));
        assert!(glob_match("*backup*", "nightly-backup-job"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
    }
}
