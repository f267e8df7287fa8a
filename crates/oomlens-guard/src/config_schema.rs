//! The configuration's types: what `[guard]`, `[[protect]]`, `[[preempt]]` and `[[hook]]`
//! hold once checked, the raw form serde reads (every value a check may refuse keeps its
//! span), and the positions problems are reported at. Re-exported by [`crate::config`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use oomlens_analysis::preempt::Policy;
use oomlens_model::Kind;
use serde::Deserialize;
use toml::Spanned;

/// The longest a hook may be given to run (`timeout`): a hook is a notification, not a job,
/// and each running hook holds one of `max-concurrent-hooks` slots.
pub const HOOK_TIMEOUT_MAX: Duration = Duration::from_secs(300);

/// A hook's timeout when the table sets none.
pub const HOOK_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// The most hooks that run at once when `[guard]` sets no `max-concurrent-hooks`.
pub const MAX_CONCURRENT_HOOKS_DEFAULT: usize = 4;

/// The full-scan period when `[guard]` sets no `rescan`.
pub const RESCAN_DEFAULT: Duration = Duration::from_secs(300);

/// A configuration, checked.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[guard]`.
    pub guard: GuardSettings,
    /// `[[protect]]`, in file order (the first rule that matches a process sets its adj).
    pub protect: Vec<ProtectRule>,
    /// `[[preempt]]`, in file order.
    pub preempt: Vec<PreemptEntry>,
    /// `[[hook]]`, in file order.
    pub hooks: Vec<Hook>,
}

/// `[guard]`: settings of the daemon itself.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    /// How many hooks may run at once; a hook due while all slots are taken waits.
    pub max_concurrent_hooks: usize,
    /// Period of the full /proc pass that applies protection rules when the proc connector
    /// cannot be used (and once at start and after each reload in any case).
    pub rescan: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            max_concurrent_hooks: MAX_CONCURRENT_HOOKS_DEFAULT,
            rescan: RESCAN_DEFAULT,
        }
    }
}

pub use oomlens_analysis::protect_rules::{ProtectRule, GLOB_OPTIONS};

/// `[[preempt]]`: one pre-emption policy with its position; the policy type, its keys and
/// its meaning belong to `oomlens_analysis::preempt`.
#[derive(Debug, Clone)]
pub struct PreemptEntry {
    /// The line of its `[[preempt]]` header.
    pub line: usize,
    /// The policy, checked ([`Policy::check`]).
    pub policy: Policy,
}

/// What a hook runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookOn {
    /// A recorded incident of this kind (`global`, `memcg`, `systemd-oomd`, ...).
    Incident(Kind),
    /// A pre-emption decision of the guard (acted or dry-run).
    Preempt,
}

/// Every kind of incident a hook can name, as written in `on`.
pub const INCIDENT_KINDS: [Kind; 8] = [
    Kind::Memcg,
    Kind::Global,
    Kind::Cpuset,
    Kind::MemoryPolicy,
    Kind::SystemdOomd,
    Kind::Earlyoom,
    Kind::Kubelet,
    Kind::SystemdNotice,
];

impl HookOn {
    /// The name written in `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookOn::Incident(k) => k.as_str(),
            HookOn::Preempt => "preempt",
        }
    }

    /// Every value `on` accepts.
    pub fn all() -> impl Iterator<Item = HookOn> {
        INCIDENT_KINDS
            .iter()
            .map(|&k| HookOn::Incident(k))
            .chain([HookOn::Preempt])
    }
}

/// `[[hook]]`: a program run when an incident of one of `on`'s kinds is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// The hook's name (logs, `oomlens_hook_runs_total{hook}`).
    pub name: String,
    /// The line of its `[[hook]]` header.
    pub line: usize,
    /// What it runs on.
    pub on: Vec<HookOn>,
    /// The program (an absolute path) and its arguments; executed directly, no shell.
    pub argv: Vec<String>,
    /// SIGKILL after this long.
    pub timeout: Duration,
    /// Extra environment variables (names not starting with `OOMLENS_`).
    pub env: BTreeMap<String, String>,
}

/// A problem at one place in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Why it is refused.
    pub message: String,
}

/// A [`Problem`] at byte offset `at` of `text`.
pub(crate) fn problem_at(text: &str, at: usize, message: String) -> Problem {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Problem {
        line,
        column: before[line_start..].chars().count() + 1,
        message,
    }
}

/// The line where `span` starts.
pub(crate) fn line_of(text: &str, span: &Range<usize>) -> usize {
    problem_at(text, span.start, String::new()).line
}

/// The valid name closest to `bad`, when close enough to be a typo or a shortened key
/// (`grace` for `grace-secs`).
pub(crate) fn nearest<'a>(bad: &str, valid: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .map(|v| (strsim::damerau_levenshtein(bad, v), v))
        .filter(|&(d, v)| {
            (d <= 2.max(v.len() / 4) && d < v.len())
                || (bad.len() >= 3 && v.starts_with(bad) && v[bad.len()..].starts_with('-'))
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, v)| v)
}

// The file as serde sees it: every value that a semantic check may refuse keeps its span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub guard: Option<RawGuard>,
    #[serde(default)]
    pub protect: Vec<Spanned<RawProtect>>,
    #[serde(default)]
    pub preempt: Vec<Spanned<Policy>>,
    #[serde(default)]
    pub hook: Vec<Spanned<RawHook>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawGuard {
    pub max_concurrent_hooks: Option<Spanned<i64>>,
    pub rescan: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawProtect {
    pub name: Spanned<String>,
    pub unit: Option<Spanned<String>>,
    pub cgroup: Option<Spanned<String>>,
    pub comm: Option<Spanned<String>>,
    pub exe: Option<Spanned<String>>,
    pub adj: Spanned<i64>,
    pub preemptible: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawHook {
    pub name: Spanned<String>,
    pub on: Spanned<Vec<Spanned<String>>>,
    pub argv: Spanned<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<String>>,
}
