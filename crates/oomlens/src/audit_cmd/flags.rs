//! The flags of `oomlens audit` and `oomlens fix`, declared once for the parser, the man
//! page and the completions.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use oomlens_audit::command;
use oomlens_audit::finding::Severity;
use oomlens_audit::size::parse_systemd_size;

/// Output forms of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// Grouped by unit or object, with the settings' files and lines.
    Text,
    /// One JSON document, schema oomlens.audit/1.
    Json,
    /// SARIF 2.1.0, for code-review tools.
    Sarif,
}

/// The lowest severity that makes `audit` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Only errors.
    Error,
    /// Warnings and errors.
    Warning,
    /// Any finding.
    Info,
    /// Never: exit 0 whatever is found (2 still on unreadable input).
    Never,
}

impl FailOn {
    /// The lowest severity that fails, `None` for never.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// Flags shared by `audit` and `fix` to find units.
#[derive(Debug, Clone, Args)]
pub struct UnitSource {
    /// Read units below this directory instead of the running system ("/").
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,
    /// User units (~/.config/systemd/user, /etc/systemd/user, …) instead of system units.
    #[arg(long)]
    pub user: bool,
    /// The user's home directory for --user, as seen below --root (default: $HOME when
    /// --root is not given).
    #[arg(long, value_name = "DIR", requires = "user")]
    pub home: Option<PathBuf>,
    /// Physical memory, e.g. 16G (resolves MemoryMax=50% and checks limits against RAM;
    /// default: MemTotal of ROOT/proc/meminfo).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub ram: Option<u64>,
    /// Add a glob pattern of critical services (unit, program, pod, container or image
    /// name); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub critical: Vec<String>,
    /// Do not use the built-in critical patterns (databases, sshd, web servers, container
    /// runtimes).
    #[arg(long)]
    pub no_default_critical: bool,
}

impl UnitSource {
    /// The library's view of these flags.
    pub fn to_source(&self) -> command::UnitSource {
        command::UnitSource {
            root: self.root.clone(),
            user: self.user,
            home: self.home.clone(),
            ram: self.ram,
            critical: self.critical.clone(),
            no_default_critical: self.no_default_critical,
        }
    }
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    parse_systemd_size(s)
}

/// `oomlens audit` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens audit                                   # every unit of this system, and /etc/fstab
  oomlens audit nginx.service postgresql@15-main.service
  oomlens audit --root /mnt/image                 # an offline tree (image, VM disk, chroot)
  oomlens audit --oom-log /var/log/kern.log       # units the log shows OOM-killed must have limits
  oomlens audit -f k8s/ -f extra.json             # Kubernetes manifests (files, dirs, \"-\")
  helm template my ./chart | oomlens audit -f - --format sarif > audit.sarif

EXIT STATUS:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  an input could not be audited (the message names it)")]
pub struct AuditArgs {
    /// Units to audit (e.g. nginx.service, postgresql@15-main.service); none: every unit
    /// file in the search path, and /etc/fstab.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
    /// Kubernetes manifests to audit: YAML or JSON files, directories (their *.yaml, *.yml,
    /// *.json), or "-" for standard input (e.g. helm template … | oomlens audit -f -).
    /// Without UNIT, --root or --user, only the manifests are audited.
    #[arg(short = 'f', long = "manifest", value_name = "FILE")]
    pub manifests: Vec<PathBuf>,
    #[command(flatten)]
    pub source: UnitSource,
    /// Output form.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Exit 1 when a finding has at least this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    /// Units that were OOM-killed: no-memory-limit applies to them; repeatable.
    #[arg(long, value_name = "UNIT")]
    pub oom_killed: Vec<String>,
    /// A kernel or journal log (any form `explain` reads): the units it shows OOM-killed
    /// count as --oom-killed; repeatable.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub oom_log: Vec<PathBuf>,
    /// Glob pattern of units that must have a memory limit (e.g. 'backup*'); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub require_limit: Vec<String>,
    /// Text output: also list units and objects without findings or memory settings.
    #[arg(long)]
    pub all: bool,
    /// Largest manifest document read, in bytes (the API server refuses over 3 MiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "3M", hide_short_help = true)]
    pub max_document_bytes: u64,
}

/// `oomlens fix` flags.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes UNIT.d/50-oomlens.conf below /etc/systemd/system (or ~/.config/systemd/user).\nMemoryHigh= is the peak plus --headroom, MemoryMax= a third above it.\n\n\
EXAMPLES:
  oomlens fix worker.service --peak 1.2G --dry-run
  oomlens fix postgresql.service --peak 8G --oom-score-adjust -900 --dry-run
  oomlens fix worker.service --apply              # peak from the live cgroup's memory.peak

EXIT STATUS:\n  0  written (or printed with --dry-run) and, with --apply, reloaded and restarted\n  2  an error (the message names the file, unit or command)"
)]
pub struct FixArgs {
    /// The unit to bound.
    #[arg(value_name = "UNIT")]
    pub unit: String,
    /// The unit's peak memory use, e.g. 1.2G (default: memory.peak of its live cgroup).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub peak: Option<u64>,
    /// Headroom above the peak for MemoryHigh=, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub headroom: u32,
    /// Write this OOMScoreAdjust= (default: -500 for a critical service without a negative value).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-1000..=1000))]
    pub oom_score_adjust: Option<i64>,
    /// Also write RuntimeMaxSec= (e.g. 1h): restarts a known leaker on schedule.
    #[arg(long, value_name = "SPAN")]
    pub runtime_max_sec: Option<String>,
    #[command(flatten)]
    pub source: UnitSource,
    /// The cgroup tree to read the live peak from, as a root directory holding sys/fs/cgroup.
    #[arg(long, value_name = "DIR", default_value = "/", hide_short_help = true)]
    pub cgroup_root: PathBuf,
    /// Print the drop-in and where it would go; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace an existing drop-in.
    #[arg(long)]
    pub force: bool,
    /// Run systemctl daemon-reload and systemctl restart UNIT after writing.
    #[arg(long, conflicts_with = "dry_run")]
    pub apply: bool,
    /// The systemctl program for --apply (with --root: a wrapper reaching that system's
    /// manager).
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "systemctl",
        hide_short_help = true
    )]
    pub systemctl: PathBuf,
}
