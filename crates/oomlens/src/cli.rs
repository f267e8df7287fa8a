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

/// Exit status when the command found what it looks for.
pub const EXIT_FOUND: u8 = 0;
/// Exit status when it ran cleanly and found nothing.
pub const EXIT_NOTHING: u8 = 1;
/// Exit status on any error (bad input, unreadable log, bad flag).
pub const EXIT_ERROR: u8 = 2;

/// Explain Linux out-of-memory kills: who was killed, by which killer, why, and where.
#[derive(Debug, Parser)]
#[command(
    name = "oomlens",
    version,
    after_help = "EXIT STATUS:\n  0  incidents found\n  1  no incident found\n  2  an error occurred (the message names the input)"
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
    Rank(crate::rank_cmd::RankArgs),
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
    /// Only incidents at or after this time ("2024-05-01 10:00", RFC 3339, or "-2h" for two hours ago).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only incidents before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep reading /dev/kmsg and report new incidents as they happen.
    #[arg(long, short = 'f', conflicts_with = "files")]
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
    /// The journalctl program.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flag_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn follow_conflicts_with_files() {
        let r = Cli::try_parse_from(["oomlens", "explain", "--follow", "a.log"]);
        assert!(r.is_err());
    }
}
