//! Every flag, declared once: `--help`, the man page and the shell completions are all
//! generated from these definitions (`oomlens generate …`).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use oomlens_parse::Format;

/// `--format` takes the parser's own format names, so the two lists cannot drift apart.
fn format_parser() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(Format::ALL.iter().map(|(name, _)| *name))
        .map(|name| Format::from_name(&name).expect("a listed format name"))
}

/// The value of `--since`/`--until`. They take "-2h" (two hours ago), so they accept values
/// starting with a hyphen; a following flag (`--since --json`) is then taken as the value, and
/// is refused here with a message that says the time is missing. The time itself is parsed
/// later (`oomlens_live::Instant::parse`), relative to when the command runs.
fn time_value(s: &str) -> Result<String, String> {
    if s.starts_with("--") {
        return Err(format!(
            "the time is missing (got {s:?}); use 2024-05-01 10:00, RFC 3339, or -2h"
        ));
    }
    Ok(s.to_string())
}

/// Explain Linux out-of-memory kills: who was killed, by which killer, why, and where.
#[derive(Debug, Parser)]
#[command(
    name = "oomlens",
    version,
    after_help = "\
EXAMPLES:
  oomlens explain                                 # who was killed for memory, and why
  oomlens rank                                    # who the kernel kills next
  oomlens top                                     # live memory per cgroup
  oomlens audit                                   # unsafe memory settings of this system
  oomlens generate man > oomlens.1                # also: bash, zsh, fish, powershell, elvish
  oomlens help explain                            # a command's flags and examples

EXIT STATUS:
  0  incidents found
  1  no incident found
  2  an error occurred (the message names the input)"
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// When to use colour: auto honours NO_COLOR and uses colour only on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find and explain OOM kills in kernel, systemd-oomd, earlyoom, kubelet and systemd logs.
    ///
    /// Reads the given files ("-" for standard input), or with none this host's kernel log:
    /// the journal when journalctl has kernel messages, else /dev/kmsg, else dmesg.
    Explain(ExplainArgs),
    /// Who the kernel's OOM killer would kill next, in each OOM domain (the machine and every
    /// memory cgroup with a limit), most endangered first.
    Rank(oomlens_live::rank_cmd::RankArgs),
    /// Live memory per cgroup and process: growth rate, leak or sawtooth, time left to the
    /// nearest limit, tmpfs and disk fill, deleted-but-open files. A TUI on a terminal; a
    /// plain table with --once or on a pipe; --json for schema oomlens.top/1.
    Top(crate::top_cmd::TopArgs),
    /// Find memory settings in systemd units and Kubernetes manifests that turn a leak or a
    /// spike into an outage: limits without throttling, unprotected databases, restart loops,
    /// unsized tmpfs, BestEffort pods, heaps larger than their container.
    Audit(crate::audit_cmd::AuditArgs),
    /// Write a drop-in bounding a unit's memory from its observed peak (MemoryHigh=,
    /// MemoryMax=, OOMScoreAdjust= for critical services), and apply it with --apply.
    Fix(crate::audit_cmd::FixArgs),
    /// Record every OOM kill with the minutes before it: a daemon reading the kernel log,
    /// cgroup events and PSI triggers, keeping a window of samples in RAM and writing each
    /// incident to the flight recorder.
    Guard(oomlens_guard::GuardArgs),
    /// List the incidents `oomlens guard` recorded, with the minutes before each.
    Incidents(oomlens_live::recorded_cmd::IncidentsArgs),
    /// Write an incident report to share: one self-contained HTML page with charts, or
    /// Markdown for a ticket, from recorded incident IDs or log files.
    Report(oomlens_live::report_cmd::ReportArgs),
    /// A fire drill: a controlled OOM kill in a throwaway cgroup, then checks that oomlens
    /// explains it and the guard recorded and counted it; PASS/FAIL per step.
    Drill(oomlens_drill::DrillArgs),
    /// Print the man page or a shell completion script.
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[arg(value_enum)]
        what: Generate,
    },
}

/// What `generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// roff man page.
    Man,
    /// bash completions.
    Bash,
    /// zsh completions.
    Zsh,
    /// fish completions.
    Fish,
    /// PowerShell completions.
    Powershell,
    /// elvish completions.
    Elvish,
}

/// Live kernel-log sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiveSource {
    /// The journal if it has kernel messages, else /dev/kmsg, else dmesg.
    Auto,
    /// journalctl -k.
    Journal,
    /// /dev/kmsg.
    Kmsg,
    /// The dmesg command.
    Dmesg,
}

/// `oomlens explain` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens explain                                 # this host's kernel log
  oomlens explain /var/log/kern.log               # files; \"-\" reads standard input
  journalctl -k -o json | oomlens explain --json -
  oomlens explain --since -2h --summary           # the last two hours, one line each
  oomlens explain --journal-dir /var/log/journal/remote --summary   # many hosts' journals
  oomlens explain --follow                        # new incidents as they happen

EXIT STATUS:
  0  incidents found
  1  no incident found
  2  an error occurred (the message names the input)")]
pub struct ExplainArgs {
    /// Log files to read; "-" reads standard input. None: this host's kernel log.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
    /// Print one JSON document (schema oomlens.explain/1) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print one line per incident.
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,
    /// The input form; by default detected for every line: kmsg (raw /dev/kmsg records),
    /// dmesg ([uptime] stamps, also -x), dmesg-t (wall-clock stamps), journal (journalctl
    /// short forms, short-unix, short-full, with-unit), journal-json (journalctl -o json,
    /// json-sse, json-seq), journal-json-pretty, journal-verbose, journal-export (journalctl
    /// -o json-pretty, verbose, export; detected from the input's first bytes), syslog
    /// (classic and RFC 3339), bare (also journalctl -o cat).
    #[arg(long, value_name = "FORM", default_value = "auto", value_parser = format_parser())]
    pub format: Format,
    /// Only incidents at or after this time ("2024-05-01 10:00", RFC 3339, or "-2h" for two
    /// hours ago; s, m, h and d count back from now).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = time_value)]
    pub since: Option<String>,
    /// Only incidents before this time (same forms as --since).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = time_value)]
    pub until: Option<String>,
    /// Read a directory of journal files: DIR/*.journal (systemd-journal-remote writes
    /// remote-HOST.journal) or DIR/MACHINE-ID/*.journal (a copy of /var/log/journal), as
    /// `journalctl -D DIR -o json` gives them; all entries, every boot, every host.
    /// Repeatable, and combines with FILE arguments.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub journal_dir: Vec<PathBuf>,
    /// Keep reading /dev/kmsg and report new incidents as they happen.
    #[arg(long, short = 'f', conflicts_with_all = ["files", "journal_dir"])]
    pub follow: bool,
    /// The year of logs that do not print one (journal short form, syslog); default: this year.
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i16>,
    /// Which live kernel log to read when no FILE is given.
    #[arg(long, value_enum, default_value_t = LiveSource::Auto)]
    pub source: LiveSource,
    /// Path of the kernel log device.
    #[arg(long, value_name = "PATH", default_value = oomlens_sources::kmsg::DEFAULT_PATH, hide_short_help = true)]
    pub kmsg_path: PathBuf,
    /// The journalctl program (for the live journal and --journal-dir).
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "journalctl",
        hide_short_help = true
    )]
    pub journalctl: PathBuf,
    /// The dmesg program.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "dmesg",
        hide_short_help = true
    )]
    pub dmesg: PathBuf,
    /// The root of the host's /proc (for the boot time).
    #[arg(long, value_name = "DIR", default_value = oomlens_sources::procfs::DEFAULT_ROOT, hide_short_help = true)]
    pub root: PathBuf,
    #[command(flatten)]
    pub recorded: oomlens_live::recorded_cmd::RecordedArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flag_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    fn explain(args: &[&str]) -> Result<ExplainArgs, clap::Error> {
        let argv = ["oomlens", "explain"].iter().chain(args).copied();
        match Cli::try_parse_from(argv)?.command {
            Command::Explain(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// `--since -2h` as two arguments: the README's own example once failed with
    /// "unexpected argument '-2' found".
    #[test]
    fn relative_times_may_start_with_a_hyphen() {
        let a = explain(&["--since", "-2h", "--summary"]).unwrap();
        assert_eq!(a.since.as_deref(), Some("-2h"));
        assert!(a.summary);
        let a = explain(&["--until", "-30m", "--since", "-1d", "x.log"]).unwrap();
        assert_eq!(a.until.as_deref(), Some("-30m"));
        assert_eq!(a.since.as_deref(), Some("-1d"));
        assert_eq!(a.files, [PathBuf::from("x.log")]);
        // The = form keeps working.
        assert_eq!(
            explain(&["--since=-2h"]).unwrap().since.as_deref(),
            Some("-2h")
        );
    }

    /// A flag where the time should be is refused, naming the missing time, instead of
    /// being swallowed as the value.
    #[test]
    fn a_flag_is_not_taken_for_a_missing_time() {
        let e = explain(&["--since", "--json"]).unwrap_err().to_string();
        assert!(e.contains("the time is missing"), "{e}");
        assert!(e.contains("--since"), "{e}");
    }

    #[test]
    fn negative_numbers_reach_their_flags() {
        let cli = Cli::try_parse_from(["oomlens", "top", "--interval", "-1"]).unwrap();
        let Command::Top(t) = cli.command else {
            panic!("not top")
        };
        assert_eq!(t.interval, -1.0);
        let cli =
            Cli::try_parse_from(["oomlens", "fix", "db.service", "--oom-score-adjust", "-900"])
                .unwrap();
        let Command::Fix(f) = cli.command else {
            panic!("not fix")
        };
        assert_eq!(f.oom_score_adjust, Some(-900));
        // Out of the kernel's range: refused by the value parser, not taken for a flag.
        let e = Cli::try_parse_from(["oomlens", "fix", "db", "--oom-score-adjust", "-1001"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("-1001"), "{e}");
    }

    #[test]
    fn journal_dir_is_repeatable_and_combines_with_files() {
        let a = explain(&["--journal-dir", "a", "--journal-dir", "b", "x.log"]).unwrap();
        assert_eq!(a.journal_dir, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(a.files, [PathBuf::from("x.log")]);
        assert!(explain(&["--follow", "--journal-dir", "a"]).is_err());
    }

    #[test]
    fn follow_conflicts_with_files() {
        let r = Cli::try_parse_from(["oomlens", "explain", "--follow", "a.log"]);
        assert!(r.is_err());
    }
}
