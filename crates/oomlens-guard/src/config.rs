//! The guard's TOML configuration: `/etc/oomlens/guard.toml` when it exists, or
//! `--config FILE`.
//!
//! ```toml
//! [guard]
//! max-concurrent-hooks = 4   # hooks running at once; more wait for a slot
//! rescan = "5m"              # full /proc pass when the proc connector is unavailable
//!
//! [[protect]]                # oom_score_adj for the processes a rule matches
//! name = "postgres"
//! unit = "postgresql@*.service"   # and/or cgroup, comm, exe (globs; all given must match)
//! adj = -900
//!
//! [[preempt]]                # a pre-emption policy (oomlens_analysis::preempt)
//!
//! [[hook]]                   # a program run on incidents of these kinds, without a shell
//! name = "page"
//! on = ["global", "memcg", "preempt"]
//! argv = ["/usr/local/bin/page-oncall", "--oom"]
//! timeout = "10s"
//! env = { TEAM = "db" }
//! ```
//!
//! Parsing is two steps: serde through `toml` (syntax, types, unknown keys), then the checks
//! serde cannot make ([`crate::config_check`]: ranges, globs, paths, duplicates, conflicts).
//! Every problem is reported as `FILE:LINE:COLUMN: why`, the position taken from the span
//! `toml` keeps for each value ([`toml::Spanned`]); semantic checks report every problem
//! found, a syntax error stops at the first.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oomlens_model::Kind;
use serde::Deserialize;
use toml::Spanned;

/// Where the guard looks for its configuration when `--config` is not given (a missing file
/// there means no rules, not an error).
pub const DEFAULT_CONFIG: &str = "/etc/oomlens/guard.toml";

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
}

/// `[[preempt]]`: one pre-emption policy, kept as its TOML table with its position; the
/// policy type and its meaning belong to `oomlens_analysis::preempt`.
#[derive(Debug, Clone)]
pub struct PreemptEntry {
    /// The line of its `[[preempt]]` header.
    pub line: usize,
    /// The table as written.
    pub table: toml::Table,
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

/// Problems of one file, each printed as `FILE:LINE:COLUMN: why` on a line of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The file.
    pub path: PathBuf,
    /// At least one problem, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                p.message
            )?;
        }
        Ok(())
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file was read and is not a valid configuration.
    #[error("{0}")]
    Invalid(Problems),
}

/// Read and check the configuration in `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Read the configuration to use: `explicit` (`--config`) must exist; without it
/// [`DEFAULT_CONFIG`] under `root` is read when it exists, else the empty configuration.
pub fn load_default(explicit: Option<&Path>, root: &Path) -> Result<Config, ConfigError> {
    if let Some(p) = explicit {
        return load(p);
    }
    let p = root.join(DEFAULT_CONFIG.trim_start_matches('/'));
    if p.exists() {
        load(&p)
    } else {
        Ok(Config::default())
    }
}

/// Check the configuration `text`, read from `path` (named in the messages).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let invalid = |problems| {
        ConfigError::Invalid(Problems {
            path: path.to_owned(),
            problems,
        })
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        invalid(vec![problem_at(text, at, toml_message(e.message()))])
    })?;
    let mut cfg = crate::config_check::check(text, raw).map_err(invalid)?;
    cfg.path = path.to_owned();
    Ok(cfg)
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

/// The line of byte offset `at`.
pub(crate) fn line_of(text: &str, span: &Range<usize>) -> usize {
    problem_at(text, span.start, String::new()).line
}

/// toml's message on one line; serde's "unknown field" and "unknown variant" get the
/// nearest valid name.
fn toml_message(msg: &str) -> String {
    let msg = msg.trim().replace('\n', "; ");
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        let Some(rest) = msg.strip_prefix(prefix) else {
            continue;
        };
        let Some((bad, tail)) = rest.split_once('`') else {
            continue;
        };
        let valid: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        return match nearest(bad, valid.iter().copied()) {
            Some(near) => format!("unknown {what} `{bad}`, did you mean `{near}`?"),
            None if valid.is_empty() => format!("unknown {what} `{bad}`"),
            None => format!(
                "unknown {what} `{bad}`, expected one of {}",
                valid
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    msg
}

/// The valid name closest to `bad`, when close enough to be a typo.
pub(crate) fn nearest<'a>(bad: &str, valid: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .map(|v| (strsim::damerau_levenshtein(bad, v), v))
        .filter(|&(d, v)| d <= 2.max(v.len() / 4) && d < v.len())
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
    pub preempt: Vec<Spanned<toml::Table>>,
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
