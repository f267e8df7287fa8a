//! Pre-emption: when a cgroup nears its line, pick one process *in that cgroup* to stop before
//! the kernel's OOM killer picks one (the kernel takes the largest, often the healthy main
//! process and not the one growing).
//!
//! [`Policy`] is one `[[preempt]]` table of the guard's TOML config (kebab-case keys, every
//! key but `cgroup` optional). The config crate deserializes into it; new keys only ever come
//! with serde defaults, so a config written for this version keeps its meaning.
//!
//! ```toml
//! [[preempt]]
//! cgroup = "/batch/*"          # glob over the cgroup path as in /proc/PID/cgroup
//! line = "limit"               # or "high" (v2 memory.high)
//! share = 0.9                  # arm at 90% of the line
//! pressure = { level = 20.0, duration-secs = 2.0 }   # some avg10 >= 20% for 2 s
//! forecast = { within-secs = 10.0 }                  # the limit less than 10 s away
//! choose = "prefer"           # default "fastest-growing"; or "largest"
//! prefer = ["batch-*", "/usr/bin/worker"]         # with "prefer": first match first
//! grace-secs = 5.0             # SIGTERM, then SIGKILL after this
//! rate-limit-secs = 30.0       # at most one action per cgroup in this time
//! whole-cgroup = false         # true: kill the whole cgroup (cgroup.kill / memory.oom.group)
//! dry-run = false              # true: decide and record, never signal
//! ```

use serde::{Deserialize, Serialize};

/// One pre-emption policy: which cgroups, when to act, whom to stop and how.
///
/// Semantics: the policy *arms* when a matching cgroup's usage reaches [`Policy::share`] of its
/// [`Policy::line`]. Armed, it acts when any configured trigger holds ([`Policy::pressure`],
/// [`Policy::forecast`]); with neither configured, reaching the share is the trigger (this is
/// what an event-driven threshold — v1 usage eventfd, v2 `memory.events` high — serves fastest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Policy {
    /// A name for logs, metrics and the record; the cgroup glob when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Glob (`*`, `?`, `[..]`, as the `glob` crate's `Pattern`) over the cgroup path as in
    /// `/proc/PID/cgroup` (`/batch/job-*`). Only processes in the matching cgroup itself are
    /// candidates, never those of its children or siblings.
    pub cgroup: String,
    /// The line the share is taken of.
    #[serde(default)]
    pub line: Line,
    /// Share of the line at which the policy arms, in (0, 1]. Default 0.9.
    #[serde(default = "default_share")]
    pub share: f64,
    /// Act when pressure stays high.
    #[serde(default)]
    pub pressure: Option<PressureTrigger>,
    /// Act when the forecast time to the limit is short.
    #[serde(default)]
    pub forecast: Option<ForecastTrigger>,
    /// Whom to stop.
    #[serde(default)]
    pub choose: Choice,
    /// With `choose = "prefer"`: patterns, first preferred, each a glob matched against the
    /// comm and, when it contains a `/`, against the executable's path. Processes that match
    /// no pattern are chosen (fastest-growing first) only when none matches.
    #[serde(default)]
    pub prefer: Vec<String>,
    /// Seconds between SIGTERM and SIGKILL. 0 sends SIGKILL at once. Default 5.
    #[serde(default = "default_grace")]
    pub grace_secs: f64,
    /// Least seconds between two actions on one cgroup. Default 30.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_secs: f64,
    /// Longest wait, seconds, for memory to be freed after an action before judging the
    /// cgroup again anyway. Default 10.
    #[serde(default = "default_settle")]
    pub settle_secs: f64,
    /// Kill every process of the cgroup (`cgroup.kill` on v2, or all of `cgroup.procs` where
    /// the cgroup has `memory.oom.group` set) instead of one. Default false.
    #[serde(default)]
    pub whole_cgroup: bool,
    /// Decide and record, never signal. Default false (the guard's `--dry-run` forces it).
    #[serde(default)]
    pub dry_run: bool,
}

/// Which line the share is of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Line {
    /// The hard limit: v1 `memory.limit_in_bytes`, v2 `memory.max`.
    #[default]
    Limit,
    /// v2 `memory.high`.
    High,
}

/// Pressure above a level for a duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PressureTrigger {
    /// PSI `some avg10` of the cgroup's `memory.pressure`, percent (0–100).
    pub level: f64,
    /// Seconds the level must hold (every sample in that span at or above it). Default 0.
    #[serde(default)]
    pub duration_secs: f64,
}

/// The forecast time to the limit under a bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ForecastTrigger {
    /// Act when the usage's growth would reach the limit in fewer seconds than this.
    pub within_secs: f64,
}

/// How the target is chosen among the cgroup's processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    /// The process whose RSS grew fastest over the recent samples (ties: the larger).
    #[default]
    FastestGrowing,
    /// The process with the largest RSS (what the kernel would take, minus adj).
    Largest,
    /// The first [`Policy::prefer`] pattern that matches a process; among its matches the
    /// fastest-growing.
    Prefer,
}

fn default_share() -> f64 {
    0.9
}
fn default_grace() -> f64 {
    5.0
}
fn default_rate_limit() -> f64 {
    30.0
}
fn default_settle() -> f64 {
    10.0
}

impl Policy {
    /// The name shown in logs and metrics: [`Policy::name`] or the cgroup glob.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.cgroup)
    }
}

/// A policy that deserialized but cannot work; the config reader adds file:line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// `share` outside (0, 1].
    #[error("share must be above 0 and at most 1, not {0}")]
    Share(f64),
    /// A glob that does not compile.
    #[error("bad glob {pattern:?} in `{key}`: {why}")]
    Glob {
        /// `cgroup` or `prefer`.
        key: &'static str,
        /// The pattern.
        pattern: String,
        /// The glob crate's reason.
        why: String,
    },
    /// A duration that is negative, not finite or (for the rate limit) zero.
    #[error("`{key}` must be a finite number of seconds{}, not {value}", if *.zero_ok { " >= 0" } else { " > 0" })]
    Seconds {
        /// The key.
        key: &'static str,
        /// Its value.
        value: f64,
        /// Whether 0 is allowed.
        zero_ok: bool,
    },
    /// `pressure.level` outside [0, 100].
    #[error("pressure level is a percentage (0 to 100), not {0}")]
    PressureLevel(f64),
    /// `choose = "prefer"` with an empty `prefer`, or `prefer` without `choose = "prefer"`.
    #[error("{0}")]
    Prefer(&'static str),
}

impl Policy {
    /// Checks what serde cannot: ranges, globs, the prefer list. The first problem found.
    pub fn check(&self) -> Result<(), PolicyError> {
        if !(self.share > 0.0 && self.share <= 1.0) {
            return Err(PolicyError::Share(self.share));
        }
        let glob = |key, pattern: &str| {
            glob::Pattern::new(pattern)
                .map(drop)
                .map_err(|e| PolicyError::Glob {
                    key,
                    pattern: pattern.to_owned(),
                    why: e.msg.to_owned(),
                })
        };
        glob("cgroup", &self.cgroup)?;
        for p in &self.prefer {
            glob("prefer", p)?;
        }
        let secs = |key, value: f64, zero_ok: bool| {
            let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0));
            if ok {
                Ok(())
            } else {
                Err(PolicyError::Seconds {
                    key,
                    value,
                    zero_ok,
                })
            }
        };
        secs("grace-secs", self.grace_secs, true)?;
        secs("rate-limit-secs", self.rate_limit_secs, false)?;
        secs("settle-secs", self.settle_secs, true)?;
        if let Some(p) = self.pressure {
            if !(0.0..=100.0).contains(&p.level) {
                return Err(PolicyError::PressureLevel(p.level));
            }
            secs("pressure.duration-secs", p.duration_secs, true)?;
        }
        if let Some(f) = self.forecast {
            secs("forecast.within-secs", f.within_secs, false)?;
        }
        match (self.choose, self.prefer.is_empty()) {
            (Choice::Prefer, true) => Err(PolicyError::Prefer(
                "choose = \"prefer\" needs a non-empty `prefer` list",
            )),
            (Choice::FastestGrowing | Choice::Largest, false) => Err(PolicyError::Prefer(
                "`prefer` is used only with choose = \"prefer\"",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    /// The module doc's example, taken from this file's `//!` toml block.
    fn example() -> String {
        let src = include_str!("preempt.rs");
        let start = src.find("//! ```toml\n").unwrap() + "//! ```toml\n".len();
        let end = start + src[start..].find("//! ```\n").unwrap();
        src[start..end]
            .lines()
            .map(|l| l.strip_prefix("//!").unwrap().trim_start())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[derive(Deserialize)]
    struct File {
        preempt: Vec<Policy>,
    }

    fn one(text: &str) -> Result<Policy, toml::de::Error> {
        toml::from_str::<File>(text).map(|mut f| f.preempt.remove(0))
    }

    #[test]
    fn the_documented_example_reads_as_written() {
        let p = one(&example()).unwrap();
        assert_eq!(p.cgroup, "/batch/*");
        assert_eq!(p.line, Line::Limit);
        assert_eq!(p.share, 0.9);
        assert_eq!(
            p.pressure,
            Some(PressureTrigger {
                level: 20.0,
                duration_secs: 2.0
            })
        );
        assert_eq!(p.forecast, Some(ForecastTrigger { within_secs: 10.0 }));
        assert_eq!(p.choose, Choice::Prefer);
        assert_eq!(p.prefer, ["batch-*", "/usr/bin/worker"]);
        assert_eq!((p.grace_secs, p.rate_limit_secs), (5.0, 30.0));
        assert!(!p.whole_cgroup && !p.dry_run);
        assert_eq!(p.check(), Ok(()));
    }

    #[test]
    fn only_the_cgroup_is_required_and_defaults_are_documented_ones() {
        let p = one("[[preempt]]\ncgroup = \"/a\"\n").unwrap();
        assert_eq!(p.line, Line::Limit);
        assert_eq!(p.share, 0.9);
        assert_eq!(p.choose, Choice::FastestGrowing);
        assert_eq!(p.pressure, None);
        assert_eq!(p.forecast, None);
        assert_eq!(
            (p.grace_secs, p.rate_limit_secs, p.settle_secs),
            (5.0, 30.0, 10.0)
        );
        assert_eq!(p.display_name(), "/a");
        let e = one("[[preempt]]\nline = \"high\"\n").unwrap_err();
        assert!(e.message().contains("missing field `cgroup`"), "{e}");
    }

    #[test]
    fn unknown_keys_and_values_are_refused() {
        let e = one("[[preempt]]\ncgroup = \"/a\"\ngrace = 3\n").unwrap_err();
        assert!(e.message().contains("unknown field `grace`"), "{e}");
        let e = one("[[preempt]]\ncgroup = \"/a\"\nchoose = \"oldest\"\n").unwrap_err();
        assert!(e.message().contains("unknown variant `oldest`"), "{e}");
        let e = one("[[preempt]]\ncgroup = \"/a\"\npressure = { level = 5, window = 1 }\n")
            .unwrap_err();
        assert!(e.message().contains("unknown field `window`"), "{e}");
    }

    #[test]
    fn check_names_each_semantic_problem() {
        let base = one("[[preempt]]\ncgroup = \"/a\"\n").unwrap();
        let cases: Vec<(Policy, &str)> = vec![
            (
                Policy {
                    share: 1.5,
                    ..base.clone()
                },
                "share must be above 0 and at most 1, not 1.5",
            ),
            (
                Policy {
                    cgroup: "/a/[".into(),
                    ..base.clone()
                },
                "bad glob \"/a/[\" in `cgroup`: invalid range pattern",
            ),
            (
                Policy {
                    rate_limit_secs: 0.0,
                    ..base.clone()
                },
                "`rate-limit-secs` must be a finite number of seconds > 0, not 0",
            ),
            (
                Policy {
                    grace_secs: -1.0,
                    ..base.clone()
                },
                "`grace-secs` must be a finite number of seconds >= 0, not -1",
            ),
            (
                Policy {
                    pressure: Some(PressureTrigger {
                        level: 120.0,
                        duration_secs: 0.0,
                    }),
                    ..base.clone()
                },
                "pressure level is a percentage (0 to 100), not 120",
            ),
            (
                Policy {
                    choose: Choice::Prefer,
                    ..base.clone()
                },
                "choose = \"prefer\" needs a non-empty `prefer` list",
            ),
            (
                Policy {
                    prefer: vec!["x".into()],
                    ..base.clone()
                },
                "`prefer` is used only with choose = \"prefer\"",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(p.check().unwrap_err().to_string(), want);
        }
    }
}
