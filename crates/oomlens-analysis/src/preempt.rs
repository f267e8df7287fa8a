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
    /// Glob over the cgroup path as in `/proc/PID/cgroup` (`/batch/job-*`), matched as the
    /// config's other globs are ([`GLOB_OPTIONS`]: `*` and `?` stay within one component,
    /// `**` spans components). Only processes in the matching cgroup itself are candidates,
    /// never those of its children or siblings.
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

/// How the policy's globs match: `*` and `?` do not cross a `/` (as the guard config's
/// other globs; the one definition is the protection rules').
pub use crate::protect_rules::GLOB_OPTIONS;

impl Policy {
    /// The name shown in logs and metrics: [`Policy::name`] or the cgroup glob.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.cgroup)
    }

    /// Whether the policy's glob matches the cgroup `path` (false for a bad glob, which
    /// [`Policy::check`] reports).
    pub fn matches_cgroup(&self, path: &str) -> bool {
        glob::Pattern::new(&self.cgroup).is_ok_and(|g| g.matches_with(path, GLOB_OPTIONS))
    }

    /// The directory below which every cgroup the glob can match lies: its components
    /// before the first one with a wildcard (`/batch/job-*` -> `/batch`).
    pub fn literal_prefix(&self) -> String {
        let mut out = String::new();
        for c in self.cgroup.split('/').filter(|c| !c.is_empty()) {
            if c.contains(['*', '?', '[']) {
                break;
            }
            out.push('/');
            out.push_str(c);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
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
        assert_eq!(p.literal_prefix(), "/a");
        let p = one("[[preempt]]\ncgroup = \"/batch/job-*/x\"\n").unwrap();
        assert_eq!(p.literal_prefix(), "/batch");
        assert!(p.matches_cgroup("/batch/job-1/x"));
        assert!(!p.matches_cgroup("/batch/job-1/y/x"));
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

// ---------------------------------------------------------------------------------------
// The decision.
// ---------------------------------------------------------------------------------------

/// One sample of the cgroup, oldest first in [`Inputs::cgroup`]; the last one is "now".
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CgroupPoint {
    /// `CLOCK_MONOTONIC` seconds.
    pub t: f64,
    /// `memory.usage_in_bytes` / `memory.current`.
    pub usage: u64,
    /// The hard limit in bytes, `None` when unlimited.
    pub limit: Option<u64>,
    /// v2 `memory.high` in bytes, `None` when unlimited or v1.
    pub high: Option<u64>,
    /// PSI `some avg10` of the cgroup's `memory.pressure`, percent.
    pub psi_some_avg10: Option<f64>,
}

/// One process of the cgroup, as sampled.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Candidate {
    /// Pid.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat` (clock ticks since boot): with the pid, the identity the
    /// signaller checks again on the pidfd before it signals.
    pub start_time: u64,
    /// `comm`.
    pub comm: String,
    /// `/proc/PID/exe`'s target, when readable.
    pub exe: Option<String>,
    /// `PF_KTHREAD` in the flags of `/proc/PID/stat`.
    pub kernel_thread: bool,
    /// RSS in bytes at sample times (`(t, bytes)`, oldest first); the last is the current.
    pub rss: Vec<(f64, u64)>,
}

impl Candidate {
    /// The last RSS sampled, bytes.
    pub fn rss_now(&self) -> u64 {
        self.rss.last().map_or(0, |p| p.1)
    }

    /// Growth in bytes per second between the first and the last RSS sample; 0 with fewer
    /// than two samples or no time between them. Not a robust fit on purpose: on an event
    /// the series is two points, the last at-risk sample and the read made on the event.
    pub fn growth(&self) -> f64 {
        match (self.rss.first(), self.rss.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 as f64 - a.1 as f64) / (b.0 - a.0),
            _ => 0.0,
        }
    }
}

/// What the caller keeps per cgroup between decisions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    /// When the last action (or dry-run decision to act) was taken, monotonic seconds.
    pub last_action: Option<f64>,
    /// Set by an action, cleared by [`decide`]'s caller when the decision says settled.
    pub waiting: Option<Waiting>,
}

/// After an action: waiting for the memory to be freed before judging again (earlyoom
/// issue #309: a second kill while the first victim's memory was still being freed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// When the action was taken.
    pub since: f64,
    /// The target's pid.
    pub pid: u32,
    /// The cgroup's usage at the action.
    pub usage_before: u64,
    /// The target's RSS at the action.
    pub target_rss: u64,
    /// The target has exited (its pidfd polled readable). Set by the signaller.
    pub exited: bool,
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The policy that matched the cgroup.
    pub policy: &'a Policy,
    /// The cgroup's recent samples, oldest first, non-empty; the last is now.
    pub cgroup: &'a [CgroupPoint],
    /// Its processes (those whose memory cgroup is this cgroup itself).
    pub processes: &'a [Candidate],
    /// Pids protected by the config's rules (never signalled).
    pub protected: &'a [u32],
    /// The guard's own pid and those of its children (hooks): never signalled.
    pub guard: &'a [u32],
    /// The per-cgroup state.
    pub state: State,
}

/// The numbers a decision was made on: recorded with it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Numbers {
    /// Monotonic seconds of the last sample.
    pub t: f64,
    /// Usage then, bytes.
    pub usage: u64,
    /// The line's bytes (limit or high), `None` when unlimited.
    pub line: Option<u64>,
    /// `share × line`, bytes.
    pub threshold: Option<u64>,
    /// PSI some avg10 at the last sample.
    pub psi_some_avg10: Option<f64>,
    /// Seconds the pressure has held at or above the trigger's level (with a pressure
    /// trigger).
    pub pressure_held_secs: Option<f64>,
    /// Usage growth, bytes per second (robust fit over the samples; with a forecast trigger).
    pub usage_rate: Option<f64>,
    /// Forecast seconds to the hard limit (with a forecast trigger and a leak seen).
    pub eta_secs: Option<f64>,
    /// Processes looked at.
    pub processes: usize,
    /// Of those, never candidates: PID 1, the guard, kernel threads, protected.
    pub excluded: Excluded,
}

/// Processes set aside before choosing, by why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Excluded {
    /// PID 1.
    pub init: usize,
    /// The guard or its children.
    pub guard: usize,
    /// Kernel threads.
    pub kernel_threads: usize,
    /// Protected by a rule.
    pub protected: usize,
    /// No RSS (exited, zombie).
    pub empty: usize,
}

/// Why the target was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    /// It grew fastest.
    FastestGrowing,
    /// It is the largest (by policy, or no process grew).
    Largest,
    /// It matched `prefer[index]`.
    Prefer(usize),
}

/// The process to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Pid.
    pub pid: u32,
    /// Its start time as sampled: the signaller refuses a process whose start time differs.
    pub start_time: u64,
    /// Comm (untrusted text: escape before a terminal).
    pub comm: String,
    /// RSS at the last sample, bytes.
    pub rss: u64,
    /// RSS growth, bytes per second.
    pub growth: f64,
    /// Why this one.
    pub chosen_by: ChosenBy,
    /// Kill the whole cgroup rather than this process (the policy's `whole-cgroup`).
    pub whole_cgroup: bool,
    /// Seconds from SIGTERM to SIGKILL.
    pub grace_secs: f64,
    /// Only record, do not signal.
    pub dry_run: bool,
}

/// What to do, and why not when nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The line is unlimited: nothing to protect against.
    NoLine,
    /// Usage under the share of the line.
    Below,
    /// Armed, but no trigger holds.
    NotTriggered,
    /// An action was taken less than the rate limit ago.
    RateLimited {
        /// Monotonic seconds when the next action may come.
        until: f64,
    },
    /// Still waiting for the last target's memory to be freed.
    Settling {
        /// The last target.
        pid: u32,
    },
    /// The wait after the last action is over (memory freed or `settle-secs` passed); the
    /// caller clears [`State::waiting`] and asks again.
    Settled {
        /// The last target.
        pid: u32,
        /// Whether memory was seen freed (false: the wait timed out).
        freed: bool,
    },
    /// Triggered, but every process is excluded.
    NoCandidate,
    /// Stop this process.
    Act(Target),
}

/// A verdict and the numbers it was made on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// On what.
    pub numbers: Numbers,
}

/// The trend settings for the forecast: a short window (the trigger must fire within
/// seconds of a fast leak), at least 3 points over 1 s and 1 MiB of growth.
const FORECAST_TREND: crate::trend::TrendConfig = crate::trend::TrendConfig {
    min_points: 3,
    min_span: 1.0,
    min_growth_bytes: 1024.0 * 1024.0,
};

/// Decides, for one cgroup, whether to stop a process now and which. Pure.
///
/// Order: the line and its share; the wait after the last action (memory freed: the target
/// exited and usage fell by half of its RSS, or usage fell under the threshold; else until
/// `settle-secs`); the rate limit; the triggers; then the choice among the processes that
/// are not PID 1, the guard, kernel threads, protected or empty.
pub fn decide(inp: &Inputs<'_>) -> Decision {
    let p = inp.policy;
    let now = inp.cgroup.last().copied().unwrap_or_default();
    let line = match p.line {
        Line::Limit => now.limit,
        Line::High => now.high,
    };
    let threshold = line.map(|l| (l as f64 * p.share) as u64);
    let mut numbers = Numbers {
        t: now.t,
        usage: now.usage,
        line,
        threshold,
        psi_some_avg10: now.psi_some_avg10,
        processes: inp.processes.len(),
        ..Numbers::default()
    };
    let done = |verdict, numbers| Decision { verdict, numbers };
    let Some(threshold) = threshold else {
        return done(Verdict::NoLine, numbers);
    };
    if let Some(w) = inp.state.waiting {
        let freed =
            (w.exited && now.usage + w.target_rss / 2 <= w.usage_before) || now.usage < threshold;
        if freed || now.t - w.since >= p.settle_secs {
            return done(Verdict::Settled { pid: w.pid, freed }, numbers);
        }
        return done(Verdict::Settling { pid: w.pid }, numbers);
    }
    if now.usage < threshold {
        return done(Verdict::Below, numbers);
    }
    if let Some(last) = inp.state.last_action {
        if now.t - last < p.rate_limit_secs {
            let until = last + p.rate_limit_secs;
            return done(Verdict::RateLimited { until }, numbers);
        }
    }
    if !triggered(inp, &mut numbers) {
        return done(Verdict::NotTriggered, numbers);
    }
    let candidates = eligible(inp, &mut numbers.excluded);
    match choose(p, &candidates) {
        None => done(Verdict::NoCandidate, numbers),
        Some((c, chosen_by)) => {
            let target = Target {
                pid: c.pid,
                start_time: c.start_time,
                comm: c.comm.clone(),
                rss: c.rss_now(),
                growth: c.growth(),
                chosen_by,
                whole_cgroup: p.whole_cgroup,
                grace_secs: p.grace_secs,
                dry_run: p.dry_run,
            };
            done(Verdict::Act(target), numbers)
        }
    }
}

/// Whether a trigger holds (any of them); with none configured, being armed is enough.
/// Fills the trigger numbers.
fn triggered(inp: &Inputs<'_>, numbers: &mut Numbers) -> bool {
    let p = inp.policy;
    let now = numbers.t;
    let mut any = p.pressure.is_none() && p.forecast.is_none();
    if let Some(tr) = p.pressure {
        // The earliest time from which every sample is at or above the level.
        let mut since = None;
        for s in inp.cgroup.iter().rev() {
            match s.psi_some_avg10 {
                Some(v) if v >= tr.level => since = Some(s.t),
                _ => break,
            }
        }
        let held = since.map(|s| now - s);
        numbers.pressure_held_secs = held;
        any |= held.is_some_and(|h| h >= tr.duration_secs);
    }
    if let Some(tr) = p.forecast {
        let pts: Vec<(f64, f64)> = inp.cgroup.iter().map(|s| (s.t, s.usage as f64)).collect();
        let t = crate::trend::trend(&pts, &FORECAST_TREND);
        numbers.usage_rate = Some(t.rate);
        let limit = inp.cgroup.last().and_then(|s| s.limit.or(s.high));
        if let (crate::trend::Class::Leak, Some(limit)) = (t.class, limit) {
            let eta = (limit as f64 - numbers.usage as f64).max(0.0) / t.rate;
            numbers.eta_secs = Some(eta);
            any |= eta < tr.within_secs;
        }
    }
    any
}

/// The processes that may be signalled; counts the others by reason.
fn eligible<'a>(inp: &Inputs<'a>, ex: &mut Excluded) -> Vec<&'a Candidate> {
    inp.processes
        .iter()
        .filter(|c| {
            let why = if c.pid == 1 {
                &mut ex.init
            } else if inp.guard.contains(&c.pid) {
                &mut ex.guard
            } else if c.kernel_thread {
                &mut ex.kernel_threads
            } else if inp.protected.contains(&c.pid) {
                &mut ex.protected
            } else if c.rss_now() == 0 {
                &mut ex.empty
            } else {
                return true;
            };
            *why += 1;
            false
        })
        .collect()
}

/// The choice among eligible processes.
fn choose<'a>(p: &Policy, cands: &[&'a Candidate]) -> Option<(&'a Candidate, ChosenBy)> {
    let largest = |set: &[&'a Candidate]| {
        set.iter()
            .copied()
            .max_by_key(|c| (c.rss_now(), std::cmp::Reverse(c.pid)))
    };
    // Fastest-growing; when nothing grew, the largest.
    let fastest = |set: &[&'a Candidate]| {
        let best = set.iter().copied().max_by(|a, b| {
            a.growth()
                .total_cmp(&b.growth())
                .then(a.rss_now().cmp(&b.rss_now()))
                .then(b.pid.cmp(&a.pid))
        })?;
        if best.growth() > 0.0 {
            Some((best, ChosenBy::FastestGrowing))
        } else {
            largest(set).map(|c| (c, ChosenBy::Largest))
        }
    };
    match p.choose {
        Choice::Largest => largest(cands).map(|c| (c, ChosenBy::Largest)),
        Choice::FastestGrowing => fastest(cands),
        Choice::Prefer => {
            for (i, pat) in p.prefer.iter().enumerate() {
                let Ok(g) = glob::Pattern::new(pat) else {
                    continue;
                };
                let by_exe = pat.contains('/');
                let hits: Vec<&Candidate> = cands
                    .iter()
                    .copied()
                    .filter(|c| {
                        g.matches(&c.comm)
                            || (by_exe
                                && c.exe
                                    .as_deref()
                                    .is_some_and(|e| g.matches_with(e, GLOB_OPTIONS)))
                    })
                    .collect();
                if let Some((c, _)) = fastest(&hits) {
                    return Some((c, ChosenBy::Prefer(i)));
                }
            }
            fastest(cands)
        }
    }
}

impl State {
    /// The state after `decision`: an act starts the wait and the rate limit; settled ends
    /// the wait. `usage` is the cgroup's usage at the decision.
    pub fn after(self, decision: &Decision) -> State {
        match &decision.verdict {
            Verdict::Act(t) => State {
                last_action: Some(decision.numbers.t),
                waiting: Some(Waiting {
                    since: decision.numbers.t,
                    pid: t.pid,
                    usage_before: decision.numbers.usage,
                    target_rss: t.rss,
                    exited: false,
                }),
            },
            Verdict::Settled { .. } => State {
                waiting: None,
                ..self
            },
            _ => self,
        }
    }
}
