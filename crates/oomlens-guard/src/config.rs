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
//! preemptible = false        # may the guard's pre-emption signal it? default: adj >= 0
//!
//! [[preempt]]                # a pre-emption policy (oomlens_analysis::preempt::Policy)
//! cgroup = "/system.slice/batch-*.service"
//! share = 0.9
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

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config_schema::{nearest, problem_at, RawConfig};
pub use crate::config_schema::{
    Config, GuardSettings, Hook, HookOn, PreemptEntry, Problem, ProtectRule, GLOB_OPTIONS,
    HOOK_TIMEOUT_DEFAULT, HOOK_TIMEOUT_MAX, INCIDENT_KINDS, MAX_CONCURRENT_HOOKS_DEFAULT,
    RESCAN_DEFAULT,
};

/// Where the guard looks for its configuration when `--config` is not given (a missing file
/// there means no rules, not an error).
pub const DEFAULT_CONFIG: &str = "/etc/oomlens/guard.toml";

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
