//! `oomlens drill`: a fire drill that proves OOM detection and alerting work on this host.
//!
//! It creates a throwaway memory cgroup, runs its own allocator in it until the kernel
//! kills it, checks that oomlens finds and explains that kill in the live kernel log
//! (matched by cgroup path and pid), and, when an `oomlens guard` runs, that the guard
//! recorded it and counted it on /metrics; then it removes everything, also on failure and
//! on Ctrl-C. Each step is timed and printed as PASS/FAIL (or `--json`, schema
//! `oomlens.drill/1`, from `oomlens_model::drill`'s field tables).
//!
//! Modules: [`cgroup`] the throwaway cgroup, [`child`] the allocator (this executable
//! started again), [`detect`] the kernel log follower, [`guard`] the guard's store and
//! metrics, [`run`] the drill's steps and its report. The flags live here so that the
//! binary only embeds [`DrillArgs`] as its `drill` subcommand and calls [`run::run`].

#![deny(missing_docs)]

pub mod cgroup;
pub mod child;
pub mod detect;
pub mod error;
pub mod guard;
pub mod oomd;
pub mod run;

use std::path::PathBuf;

pub use error::DrillError;
pub use run::run;

/// Exit status: every step passed.
pub const EXIT_PASS: u8 = 0;
/// Exit status: a step failed (detection or alerting is broken; the step says why).
pub const EXIT_FAIL: u8 = 1;
/// Exit status: the drill could not run here (no cgroup, a kind this host cannot do, not
/// safe, interrupted).
pub const EXIT_COULD_NOT_RUN: u8 = 2;

/// What to drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrillKind {
    /// A process allocates past the cgroup's memory limit and is killed.
    Memcg,
    /// A tmpfs file charged to the cgroup fills it; the explanation must name shmem/tmpfs.
    Tmpfs,
    /// Two processes; the smaller has a raised oom_score_adj and is killed instead of the
    /// larger; the explanation must say oom_score_adj chose it.
    Adj,
    /// systemd-oomd kills a transient unit for memory pressure (only where it runs).
    Oomd,
}

impl DrillKind {
    /// The name as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DrillKind::Memcg => "memcg",
            DrillKind::Tmpfs => "tmpfs",
            DrillKind::Adj => "adj",
            DrillKind::Oomd => "oomd",
        }
    }
}

/// `oomlens drill` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
STEPS:
  safe       enough free memory that the drill can never cause a machine-wide OOM
  cgroup     a throwaway memory cgroup oomlens-drill-PID-RANDOM (v2 where possible, else v1
             below this process's own cgroup) with the limit; for oomd, the name of a
             transient unit with MemoryHigh= and ManagedOOMMemoryPressure=kill
  log        the kernel log, followed from now on (--log); for oomd, the whole journal
  guard      an oomlens guard answering on --listen (skipped when there is no guard; a
             failure when --state-dir exists but nothing answers)
  allocate   the allocator (this program) moved into the cgroup before it allocates
  kill       the allocator killed by SIGKILL within --timeout
  explained  the kill found in the kernel log by cgroup path and pid, and explained
  recorded   the guard's flight recorder holds the incident
  counter    the guard's oomlens_kills_total rose
  hook       the guard's hook ran (when the guard has hooks)
  cleanup    the cgroup, its processes and mounts removed

EXAMPLES:
  oomlens drill                                   # a memcg OOM kill at 64 MiB
  oomlens drill --kind tmpfs --limit 32M          # a tmpfs fills the cgroup
  oomlens drill --kind adj --json                 # oom_score_adj picks the victim

EXIT STATUS:
  0  every step passed
  1  a step failed: detection or alerting is broken (the step says why)
  2  the drill could not run here (no cgroup, a kind this host cannot do, not safe,
     interrupted); nothing is left behind")]
pub struct DrillArgs {
    /// What to drill.
    #[arg(long, value_enum, default_value_t = DrillKind::Memcg)]
    pub kind: DrillKind,
    /// The drill cgroup's memory limit (bytes, or with K, M, G).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub limit: u64,
    /// Print one JSON document (schema oomlens.drill/1) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The kernel log to check: auto (the journal's kernel messages, else /dev/kmsg),
    /// kmsg, journal, or a FILE a forwarder appends the kernel log to.
    #[arg(long, value_name = "auto|kmsg|journal|FILE", default_value = "auto")]
    pub log: String,
    /// The guard's state directory.
    #[arg(long, value_name = "DIR", default_value = oomlens_store::incidents::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The guard's metrics address.
    #[arg(long, value_name = "ADDR", default_value = oomlens_sinks::metrics::DEFAULT_LISTEN)]
    pub listen: String,
    /// Allocate at this many MiB a second (memcg, adj, tmpfs), so that a running guard
    /// records the cgroup on its way to the limit; 0: as fast as it goes.
    #[arg(long, value_name = "MIB_PER_S", default_value = "0")]
    pub rate: u64,
    /// How long to wait for the kill, and then for each check (`30`, seconds).
    #[arg(long, value_name = "SECONDS", default_value = "30")]
    pub timeout: u64,
    /// Path of the kernel log device.
    #[arg(long, value_name = "PATH", default_value = oomlens_sources::kmsg::DEFAULT_PATH, hide = true)]
    pub kmsg_path: PathBuf,
    /// The journalctl program.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "journalctl",
        hide = true
    )]
    pub journalctl: PathBuf,
    /// Milliseconds the allocator waits before allocating (tests interrupt a drill there).
    #[arg(long, value_name = "MS", default_value = "0", hide = true)]
    pub child_delay: u64,
    /// Internal: run as the drill's allocator (MODE:MIB:DELAY_MS).
    #[arg(long, value_name = "SPEC", hide = true)]
    pub child: Option<String>,
}

/// Parses `64M`, `1G`, `512K` or plain bytes (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mul: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("{s:?}: the unit must be K, M or G")),
            };
            (&t[..i], mul)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (64M, 1G, bytes)"))?;
    let bytes = n
        .checked_mul(mul)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if bytes < 8 << 20 {
        return Err(format!(
            "{s:?} is below 8M: the allocator itself needs a few MiB"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units_and_tiny_limits_are_refused() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("16384K"), Ok(16 << 20));
        assert_eq!(parse_size("9000000"), Ok(9_000_000));
        assert!(parse_size("1M").is_err());
        assert!(parse_size("64X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
