//! The flags of `oomlens guard`, declared once: the binary embeds [`GuardArgs`] as its
//! `guard` subcommand (so its doc comments are `--help` and the man page), and the test
//! binary `oomlens-guard` parses the same struct.

use std::path::PathBuf;
use std::time::Duration;

/// The default store directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/oomlens";

/// The default metrics address (loopback only: the endpoint has no authentication).
pub const DEFAULT_LISTEN: &str = oomlens_sinks::metrics::DEFAULT_LISTEN;

/// Exit status: stopped by SIGTERM or SIGINT after flushing the recorder.
pub const EXIT_STOPPED: u8 = 0;

/// Exit status: the guard could not start or a source failed for good (the message says
/// which file or program).
pub const EXIT_ERROR: u8 = 2;

/// `oomlens guard`: record every OOM kill with the minutes before it.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
SOURCES:
  The kernel log (--log), memory.events and memory.events.local of watched cgroup v2
  cgroups (inotify), memory.oom_control of watched v1 cgroups (cgroup.event_control and an
  eventfd), PSI triggers on /proc/pressure/memory and on each watched cgroup's
  memory.pressure, and one sampler pass per --interval that feeds the in-RAM window only.
  Watched: every cgroup with a memory limit of its own and the leaves below it, at most
  --max-watched.

EXAMPLES:
  oomlens guard --state-dir rec --log kern.log --no-metrics   # follow a forwarded log file

EXIT STATUS:
  0  stopped by SIGTERM or SIGINT (the recorder holds every incident seen);
     with --check-config: the file is valid
  2  an error at start (store, log, cgroup tree, configuration) or a log source that failed
     for good; with --check-config: the file is invalid (each problem on stderr)")]
pub struct GuardArgs {
    /// The flight recorder's directory (created if missing; one writer at a time).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// How much history is kept in RAM and written with each incident (`90s`, `10m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub window: Duration,
    /// Time between two sampler passes (`1s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Address of the Prometheus /metrics endpoint.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Serve no /metrics endpoint.
    #[arg(long)]
    pub no_metrics: bool,
    /// The root of the /proc and /sys trees to read (a copy or a fake tree).
    #[arg(long, value_name = "DIR", default_value = "/", value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,
    /// Only this memory cgroup and its descendants are sampled and watched (the path as in
    /// /proc/PID/cgroup); kernel reports of other cgroups are still recorded.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub cgroup: String,
    /// The kernel log: `auto` (/dev/kmsg for kernel reports, plus the journal for
    /// systemd-oomd, earlyoom and kubelet lines once one of them runs as a systemd service,
    /// looked for every 60 passes, when journalctl works), `kmsg`, `journal`
    /// (everything from the journal), or a FILE followed as it grows (`tail -f`).
    #[arg(long, value_name = "auto|kmsg|journal|FILE", default_value = "auto")]
    pub log: String,
    /// Delete the oldest recorder segments while the store is larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value = "268435456")]
    pub max_bytes: u64,
    /// Delete recorder segments older than this (`90d`, `12h`).
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
    pub max_age: Duration,
    /// At most this many cgroups get inotify, eventfd and PSI watches.
    #[arg(long, value_name = "N", default_value = "256")]
    pub max_watched: usize,
    /// PSI trigger window (500ms to 10s; some kernels accept only whole multiples of 2s).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub psi_window: Duration,
    /// PSI trigger: stall time within --psi-window that fires it.
    #[arg(long, value_name = "DURATION", default_value = "150ms", value_parser = parse_duration)]
    pub psi_stall: Duration,
    /// A kernel log that brought a report's kill line and then stays quiet this long has
    /// finished that report: it is recorded then. Longer waits for the member kills of a
    /// `memory.oom.group` kill printed slowly (an emulated machine); shorter records sooner.
    #[arg(long, value_name = "DURATION", default_value = "5ms", value_parser = parse_duration)]
    pub report_quiet: Duration,
    /// Do not fdatasync each record (tests and benchmarks only: a kernel crash may then
    /// lose the last records).
    #[arg(long, hide = true)]
    pub no_sync: bool,
    /// The configuration: protection rules, pre-emption policies, hooks (TOML). Without
    /// it, /etc/oomlens/guard.toml is read when it exists. SIGHUP reads it again; a file
    /// that is no longer valid is refused and the running configuration kept.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// Check FILE as a configuration, print every problem as FILE:LINE:COLUMN: why, and
    /// exit (0 valid, 2 invalid) without starting the guard.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub check_config: Option<PathBuf>,
    /// Pre-emption policies decide and record, but never signal.
    #[arg(long)]
    pub dry_run: bool,
}

/// `500ms`, `2s`, `10m`, `1h`, `90d`, or a bare number of seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (say 500ms, 2s, 10m, 1h or 90d)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h or d)")),
    };
    Duration::try_from_secs_f64(n * scale).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_each_unit_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_duration("10 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("m").unwrap_err().contains("not a duration"));
    }
}
