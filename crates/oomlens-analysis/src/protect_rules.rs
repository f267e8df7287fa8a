//! The guard's `[[protect]]` rules as data, and the one matcher every user of them calls:
//! the guard when it writes oom_score_adj (`oomlens_guard::protect`) and when it sets
//! processes aside from pre-emption (`oomlens_guard::preempt`), and `oomlens rank --config`
//! when it shows the ranking the kernel would apply after the rules. Pure: the facts of a
//! process come in as [`ProcFacts`], read by the caller.

/// How a glob in the configuration is matched: `*` and `?` stay within one path component
/// (`/system.slice/*` is the direct children only), `**` spans components.
pub const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// `[[protect]]`: the oom_score_adj to give every process the rule matches. A rule matches a
/// process when every matcher it sets matches (at least one is set).
#[derive(Debug, Clone)]
pub struct ProtectRule {
    /// The rule's name (logs, the per-rule metric).
    pub name: String,
    /// The line of its `[[protect]]` header.
    pub line: usize,
    /// The systemd unit owning the process's cgroup (`postgresql.service`; a glob).
    pub unit: Option<glob::Pattern>,
    /// The process's memory cgroup path as in /proc/PID/cgroup (a glob).
    pub cgroup: Option<glob::Pattern>,
    /// The process's comm (a glob; the kernel keeps at most 15 bytes).
    pub comm: Option<glob::Pattern>,
    /// The process's executable, /proc/PID/exe (an absolute path glob).
    pub exe: Option<glob::Pattern>,
    /// The oom_score_adj to set, -1000..=1000.
    pub adj: i16,
    /// Whether the guard's pre-emption may signal the processes this rule matches. The
    /// config key `preemptible`; when absent, `adj >= 0`: a rule that lowers the adj asks
    /// the kernel to spare the process, and the guard honours the same wish, whether or not
    /// the adj write succeeded (without CAP_SYS_RESOURCE a negative write fails with EACCES).
    pub preemptible: bool,
}

/// What is known of one process when rules are matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcFacts {
    /// Start time, clock ticks after boot (/proc/PID/stat field 22).
    pub start: u64,
    /// comm.
    pub comm: String,
    /// /proc/PID/exe, when readable.
    pub exe: Option<String>,
    /// The memory cgroup path (the v1 memory line, else the v2 `0::` line).
    pub cgroup: Option<String>,
    /// The systemd unit owning that cgroup.
    pub unit: Option<String>,
}

impl ProtectRule {
    /// Whether every matcher the rule sets matches `p`. A matcher whose fact is unknown
    /// (`exe` unreadable, no cgroup) does not match.
    pub fn matches(&self, p: &ProcFacts) -> bool {
        let m = |pat: &Option<glob::Pattern>, v: Option<&str>| match pat {
            None => true,
            Some(pat) => v.is_some_and(|v| pat.matches_with(v, GLOB_OPTIONS)),
        };
        m(&self.comm, Some(&p.comm))
            && m(&self.exe, p.exe.as_deref())
            && m(&self.cgroup, p.cgroup.as_deref())
            && m(&self.unit, p.unit.as_deref())
    }
}

/// The first rule of `rules` that matches `p`: the rule in force for it (the first wins, as
/// for the adj written).
pub fn first_match<'r>(rules: &'r [ProtectRule], p: &ProcFacts) -> Option<&'r ProtectRule> {
    rules.iter().find(|r| r.matches(p))
}

/// The rule that shields `p` from pre-emption: the first matching rule, when it is not
/// preemptible. A later rule never shields a process an earlier one matched.
pub fn shielding<'r>(rules: &'r [ProtectRule], p: &ProcFacts) -> Option<&'r ProtectRule> {
    first_match(rules, p).filter(|r| !r.preemptible)
}

/// Which facts `rules` look at: (exe, cgroup or unit). A caller reads no file no rule needs.
pub fn needs(rules: &[ProtectRule]) -> (bool, bool) {
    (
        rules.iter().any(|r| r.exe.is_some()),
        rules.iter().any(|r| r.cgroup.is_some() || r.unit.is_some()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, comm: Option<&str>, cgroup: Option<&str>, adj: i16) -> ProtectRule {
        ProtectRule {
            name: name.into(),
            line: 1,
            unit: None,
            cgroup: cgroup.map(|c| glob::Pattern::new(c).unwrap()),
            comm: comm.map(|c| glob::Pattern::new(c).unwrap()),
            exe: None,
            adj,
            preemptible: adj >= 0,
        }
    }

    fn facts(comm: &str, cgroup: &str) -> ProcFacts {
        ProcFacts {
            comm: comm.into(),
            cgroup: Some(cgroup.into()),
            ..ProcFacts::default()
        }
    }

    #[test]
    fn every_matcher_set_must_match() {
        let r = rule("pg", Some("postgres"), Some("/system.slice/*"), -900);
        assert!(r.matches(&facts("postgres", "/system.slice/pg.service")));
        assert!(!r.matches(&facts("postgres", "/user.slice/pg.service")));
        assert!(!r.matches(&facts("postgresql", "/system.slice/pg.service")));
        // `*` stays within a component; an unknown cgroup never matches a cgroup matcher.
        assert!(!r.matches(&facts("postgres", "/system.slice/a/b")));
        let no_cg = ProcFacts {
            comm: "postgres".into(),
            ..ProcFacts::default()
        };
        assert!(!r.matches(&no_cg));
    }

    #[test]
    fn the_first_matching_rule_decides_the_shield() {
        let rules = [
            rule("batch", Some("batch-*"), None, 500),
            rule("all-in-db", None, Some("/db/**"), -900),
        ];
        // Matched by both: the first (adj 500, preemptible) is in force, so no shield.
        let p = facts("batch-7", "/db/x");
        assert_eq!(
            first_match(&rules, &p).map(|r| r.name.as_str()),
            Some("batch")
        );
        assert!(shielding(&rules, &p).is_none());
        // Only the second: shielded by it.
        let q = facts("postgres", "/db/x");
        assert_eq!(
            shielding(&rules, &q).map(|r| r.name.as_str()),
            Some("all-in-db")
        );
        // No rule: no shield.
        assert!(shielding(&rules, &facts("sh", "/")).is_none());
    }

    #[test]
    fn preemptible_overrides_the_adj_sign() {
        let mut lowered = rule("db", Some("postgres"), None, -900);
        lowered.preemptible = true;
        assert!(shielding(std::slice::from_ref(&lowered), &facts("postgres", "/")).is_none());
        let mut kept = rule("api", Some("api"), None, 0);
        kept.preemptible = false;
        assert_eq!(
            shielding(std::slice::from_ref(&kept), &facts("api", "/")).map(|r| r.adj),
            Some(0)
        );
    }

    #[test]
    fn needs_names_the_facts_the_rules_read() {
        assert_eq!(needs(&[rule("a", Some("x"), None, 1)]), (false, false));
        assert_eq!(needs(&[rule("a", None, Some("/x"), 1)]), (false, true));
    }
}
