//! `oomlens audit` and `oomlens fix`: flags and wiring over the `oomlens-audit` crate.
//!
//! `audit` reads systemd units below `--root` (all of them, or the ones named) and
//! Kubernetes manifests (`--manifest FILE|DIR|-`), and prints findings as text, JSON
//! (`oomlens.audit/1`) or SARIF. Exit status: 0 no finding at or above `--fail-on`, 1 such
//! findings, 2 an input could not be audited (the message names it; everything else is
//! still audited and printed).
//!
//! `fix UNIT` writes `UNIT.d/50-oomlens.conf` with MemoryHigh=/MemoryMax= from the unit's
//! peak (`--peak`, else the live cgroup's `memory.peak`), prints the commands that make it
//! take effect and runs them, without a shell, only with `--apply`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use oomlens_audit::finding::{Severity, DEFAULT_CRITICAL};
use oomlens_audit::fix::{
    apply_commands, dropin_path, plan, read_peak, render, unit_cgroup_path, write_dropin,
    FixOptions, Written,
};
use oomlens_audit::k8s::{audit_manifests, K8sContext};
use oomlens_audit::loader::{read_mem_total, Loader, ManagerDefaults, Scope};
use oomlens_audit::report::{to_sarif, to_text, ErrorOut, Report, UnitOut};
use oomlens_audit::settings::UnitSettings;
use oomlens_audit::size::{human_bytes, parse_systemd_size, parse_timespan};
use oomlens_audit::systemd_rules::SystemdContext;
use oomlens_audit::yaml::Limits;
use oomlens_audit::{audit_systemd, user_manager_oom_score_adjust};

use crate::exit::EXIT_ERROR;

/// `audit` exit status: no finding at or above `--fail-on`.
pub const EXIT_CLEAN: u8 = 0;
/// `audit` exit status: findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;

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
    fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| PathBuf::from("/"))
    }

    fn home(&self) -> Option<PathBuf> {
        self.home.clone().or_else(|| {
            if self.root.is_none() {
                std::env::var_os("HOME").map(PathBuf::from)
            } else {
                None
            }
        })
    }

    fn scope(&self) -> Scope {
        if self.user {
            Scope::User
        } else {
            Scope::System
        }
    }

    fn loader(&self) -> Loader {
        let root = self.root();
        if self.user {
            Loader::user(&root, self.home().as_deref())
        } else {
            Loader::system(&root)
        }
    }

    fn ram(&self) -> Option<u64> {
        self.ram.or_else(|| read_mem_total(&self.root()))
    }

    fn critical(&self) -> Vec<String> {
        let mut v: Vec<String> = if self.no_default_critical {
            Vec::new()
        } else {
            DEFAULT_CRITICAL.iter().map(|s| s.to_string()).collect()
        };
        v.extend(self.critical.iter().cloned());
        v
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

/// Text goes through the same escaping as explain's: unit files and manifests are
/// untrusted.
fn write_escaped(out: &mut impl Write, text: &str) -> io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", oomlens_sinks::escape::escape(line))?;
    }
    Ok(())
}

/// Reads the manifests: files, directories (sorted, recursive) and "-".
fn read_manifests(paths: &[PathBuf], errors: &mut Vec<ErrorOut>) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            match io::stdin().lock().read_to_end(&mut buf) {
                Ok(_) => files.push((p.clone(), String::from_utf8_lossy(&buf).into_owned())),
                Err(e) => errors.push(ErrorOut {
                    file: Some(p.clone()),
                    line: None,
                    message: format!("-: {e}"),
                }),
            }
            continue;
        }
        let mut list = Vec::new();
        if p.is_dir() {
            collect_dir(p, &mut list, errors);
        } else {
            list.push(p.clone());
        }
        for f in list {
            match std::fs::read(&f) {
                Ok(b) => files.push((f, String::from_utf8_lossy(&b).into_owned())),
                Err(e) => errors.push(ErrorOut {
                    file: Some(f.clone()),
                    line: None,
                    message: format!("{}: {e}", f.display()),
                }),
            }
        }
    }
    files
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<ErrorOut>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(ErrorOut {
                file: Some(dir.to_path_buf()),
                line: None,
                message: format!("{}: {e}", dir.display()),
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_dir(&e, out, errors);
        } else if e
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            out.push(e);
        }
    }
}

/// Runs `oomlens audit`.
pub fn run_audit(args: &AuditArgs) -> anyhow::Result<u8> {
    let src = &args.source;
    let ram = src.ram();
    let critical = src.critical();
    let mut errors: Vec<ErrorOut> = Vec::new();
    let mut findings = Vec::new();
    let mut units = Vec::new();
    let mut slices = Vec::new();

    let systemd_wanted =
        !args.units.is_empty() || src.root.is_some() || src.user || args.manifests.is_empty();
    if systemd_wanted {
        let root = src.root();
        if !root.is_dir() {
            bail!("{}: not a directory", root.display());
        }
        let loader = src.loader();
        let mut oom_killed = args.oom_killed.clone();
        for log in &args.oom_log {
            match units_killed_in(log) {
                Ok(units) => oom_killed.extend(units),
                Err(e) => errors.push(ErrorOut {
                    file: Some(log.clone()),
                    line: None,
                    message: format!("{}: {e}", log.display()),
                }),
            }
        }
        let ctx = SystemdContext {
            ram,
            critical: critical.clone(),
            require_limit: args.require_limit.clone(),
            oom_killed,
            defaults: ManagerDefaults::read(&root, src.scope()),
            user_manager_oom_score_adjust: if src.user {
                user_manager_oom_score_adjust(&root)
            } else {
                0
            },
        };
        let a = audit_systemd(&loader, &args.units, &ctx);
        findings.extend(a.findings);
        units = a.units.iter().map(|u| UnitOut::new(u, ram)).collect();
        slices = a.slices.iter().map(|u| UnitOut::new(u, ram)).collect();
        for e in a.errors {
            let (file, line) = e.location();
            errors.push(ErrorOut {
                file,
                line,
                message: e.to_string(),
            });
        }
    }

    let mut objects = Vec::new();
    let mut documents = 0;
    if !args.manifests.is_empty() {
        let inputs = read_manifests(&args.manifests, &mut errors);
        let k = audit_manifests(
            &inputs,
            &K8sContext {
                critical,
                limits: Limits {
                    max_document_bytes: usize::try_from(args.max_document_bytes)
                        .unwrap_or(usize::MAX),
                    ..Limits::default()
                },
            },
        );
        findings.extend(k.findings);
        objects = k.objects;
        documents = k.documents;
        for e in k.errors {
            errors.push(ErrorOut {
                file: Some(e.file.clone()),
                line: Some(e.line),
                message: e.to_string(),
            });
        }
    }

    let report = Report::new(findings, units, slices, objects, errors, documents);
    let format = if args.json {
        AuditFormat::Json
    } else {
        args.format
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match format {
        AuditFormat::Text => write_escaped(
            &mut out,
            &to_text(&report, args.all || !args.units.is_empty()),
        )?,
        AuditFormat::Json => {
            writeln!(out, "{}", report.to_json_string())?;
        }
        AuditFormat::Sarif => {
            serde_json::to_writer_pretty(&mut out, &to_sarif(&report, env!("CARGO_PKG_VERSION")))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    drop(out);
    if format != AuditFormat::Text {
        // The text form already lists them; JSON and SARIF consumers read stdout only.
        let mut err = io::stderr().lock();
        for e in &report.errors {
            let _ = writeln!(
                err,
                "oomlens: {}",
                oomlens_sinks::escape::escape(&e.message)
            );
        }
    }
    if !report.errors.is_empty() {
        return Ok(EXIT_ERROR);
    }
    let threshold = match args.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    Ok(match (threshold, report.worst()) {
        (Some(t), Some(w)) if w >= t => EXIT_FINDINGS,
        _ => EXIT_CLEAN,
    })
}

/// The units a log shows OOM-killed: the victim's memory cgroup when it ends in a unit
/// (`/system.slice/worker.service`), and systemd's own notices ("A process of this unit has
/// been killed by the OOM killer", "Failed with result 'oom-kill'", systemd-oomd kills).
fn units_killed_in(log: &Path) -> io::Result<Vec<String>> {
    use oomlens_model::NoticeKind;
    let file = std::fs::File::open(log)?;
    let opts = oomlens_parse::Options {
        file: Some(log.display().to_string()),
        ..oomlens_parse::Options::default()
    };
    let mut units: Vec<String> = Vec::new();
    oomlens_parse::parse_reader(file, opts, |inc| {
        let from_cgroup = inc
            .task_memcg
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .filter(|n| n.ends_with(".service") || n.ends_with(".scope"))
            .map(str::to_string);
        let from_notices = inc
            .notices
            .iter()
            .filter(|n| {
                matches!(
                    n.kind,
                    NoticeKind::ProcessKilledByOomKiller
                        | NoticeKind::FailedOomKill
                        | NoticeKind::OomdKilled
                )
            })
            .map(|n| n.unit.clone());
        for u in from_cgroup.into_iter().chain(from_notices) {
            if !units.contains(&u) {
                units.push(u);
            }
        }
    })?;
    Ok(units)
}

/// Runs `oomlens fix`.
pub fn run_fix(args: &FixArgs) -> anyhow::Result<u8> {
    let src = &args.source;
    let root = src.root();
    let loader = src.loader();
    let loaded = loader.load(&args.unit)?;
    if loaded.masked {
        bail!("{}: the unit is masked", args.unit);
    }
    let settings = UnitSettings::from_loaded(&loaded);
    let unit = settings.unit.full.clone();
    let (peak, peak_source) = match args.peak {
        Some(p) => (p, "given with --peak".to_string()),
        None => {
            let cg = unit_cgroup_path(&settings);
            let cg = match src.scope() {
                Scope::System => cg,
                // A user manager's units sit below user@UID.service.
                Scope::User => format!(
                    "user.slice/user-{uid}.slice/user@{uid}.service/{cg}",
                    uid = current_uid()
                ),
            };
            match read_peak(&args.cgroup_root, &cg) {
                Ok((b, file)) => (b, format!("memory.peak of {}", file.display())),
                Err(why) => {
                    return Err(oomlens_audit::AuditError::NoPeak {
                        unit: unit.clone(),
                        why,
                    }
                    .into())
                }
            }
        }
    };
    let runtime_max = args
        .runtime_max_sec
        .as_deref()
        .map(|s| parse_timespan(s).map_err(|e| anyhow!("--runtime-max-sec: {e}")))
        .transpose()?;
    let opts = FixOptions {
        headroom_percent: args.headroom,
        oom_score_adjust: args.oom_score_adjust,
        runtime_max,
        critical: src.critical(),
    };
    let p = plan(&settings, peak, &peak_source, &opts, src.ram())?;
    let text = render(&p);
    let home = src.home();
    let in_target = dropin_path(&loader.config_dir(home.as_deref()), &unit);
    let host = loader.host(&in_target);

    let stdout = io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "# {}",
        oomlens_sinks::escape::escape(&host.display().to_string())
    )?;
    write_escaped(&mut out, &text)?;
    let mut err = io::stderr().lock();
    for n in &p.notes {
        writeln!(err, "oomlens: note: {}", oomlens_sinks::escape::escape(n))?;
    }
    let commands = apply_commands(&unit, src.scope());
    let shown: Vec<String> = commands
        .iter()
        .map(|c| format!("{} {}", args.systemctl.display(), c.join(" ")))
        .collect();
    if args.dry_run {
        writeln!(
            err,
            "oomlens: dry run: nothing written; MemoryHigh={} MemoryMax={} from a peak of {}",
            human_bytes(p.memory_high),
            human_bytes(p.memory_max),
            human_bytes(peak)
        )?;
        return Ok(0);
    }
    // The default systemctl talks to this machine's manager; a tree below --root belongs to
    // another one, reachable only through a --systemctl wrapper the operator names.
    if args.apply && root != Path::new("/") && args.systemctl == Path::new("systemctl") {
        bail!(
            "--apply reloads this machine's manager, but --root {} is another system; name its systemctl with --systemctl; nothing written",
            root.display()
        );
    }
    let written = write_dropin(&host, &text, args.force)?;
    writeln!(
        err,
        "oomlens: {} {}",
        match written {
            Written::Created => "wrote",
            Written::Replaced => "replaced",
            Written::Unchanged => "unchanged:",
        },
        host.display()
    )?;
    // Read the unit again: a drop-in that sorts later may still win.
    let again = UnitSettings::from_loaded(&loader.load(&args.unit)?);
    for key in ["MemoryHigh", "MemoryMax", "OOMScoreAdjust", "RuntimeMaxSec"] {
        if let Some(s) = again.get(key) {
            if s.origin.file != host && text.contains(&format!("\n{key}=")) {
                writeln!(
                    err,
                    "oomlens: warning: {key}={} from {}:{} overrides the new drop-in",
                    oomlens_sinks::escape::escape(&s.raw),
                    s.origin.file.display(),
                    s.origin.line
                )?;
            }
        }
    }
    if !args.apply {
        writeln!(err, "oomlens: to apply: {}", shown.join(" && "))?;
        return Ok(0);
    }
    for (c, s) in commands.iter().zip(&shown) {
        writeln!(err, "oomlens: running {s}")?;
        let status = Command::new(&args.systemctl)
            .args(c)
            .status()
            .with_context(|| format!("running {s}"))?;
        if !status.success() {
            bail!("{s} failed ({status})");
        }
    }
    Ok(0)
}

fn current_uid() -> u32 {
    // /proc/self/status "Uid:" avoids a libc dependency for one number.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
