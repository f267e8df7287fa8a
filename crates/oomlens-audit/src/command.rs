//! What `oomlens audit` and `oomlens fix` do, without their flags: where units are read
//! from, the manifests and OOM logs read, the report put together and written, and the
//! drop-in a fix writes. The binary maps its flags onto these types and prints.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use oomlens_model::NoticeKind;

use crate::error::AuditError;
use crate::finding::{Severity, DEFAULT_CRITICAL};
use crate::fix::{dropin_path, plan, read_peak, render, unit_cgroup_path, FixOptions, FixPlan};
use crate::k8s::{audit_manifests, K8sContext};
use crate::loader::{read_mem_total, Loader, ManagerDefaults, Scope};
use crate::report::{to_sarif, to_text, ErrorOut, Report, UnitOut};
use crate::settings::UnitSettings;
use crate::systemd::{audit_systemd, user_manager_oom_score_adjust};
use crate::systemd_rules::SystemdContext;
use crate::yaml::Limits;

/// Where units are read from, and what counts as critical (shared by audit and fix).
#[derive(Debug, Clone, Default)]
pub struct UnitSource {
    /// The tree units are read below (`None`: the running system, "/").
    pub root: Option<PathBuf>,
    /// User units instead of system units.
    pub user: bool,
    /// The user's home for user units, as seen below the root.
    pub home: Option<PathBuf>,
    /// Physical memory in bytes (default: MemTotal below the root).
    pub ram: Option<u64>,
    /// Extra critical patterns.
    pub critical: Vec<String>,
    /// Leave out [`DEFAULT_CRITICAL`].
    pub no_default_critical: bool,
}

impl UnitSource {
    /// The root, "/" by default.
    pub fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| PathBuf::from("/"))
    }

    /// The home directory for user units: the one given, else `$HOME` on the running system.
    pub fn home(&self) -> Option<PathBuf> {
        self.home.clone().or_else(|| {
            if self.root.is_none() {
                std::env::var_os("HOME").map(PathBuf::from)
            } else {
                None
            }
        })
    }

    /// System or user units.
    pub fn scope(&self) -> Scope {
        if self.user {
            Scope::User
        } else {
            Scope::System
        }
    }

    /// A loader for the units.
    pub fn loader(&self) -> Loader {
        let root = self.root();
        if self.user {
            Loader::user(&root, self.home().as_deref())
        } else {
            Loader::system(&root)
        }
    }

    /// Physical memory: given, else MemTotal below the root.
    pub fn ram(&self) -> Option<u64> {
        self.ram.or_else(|| read_mem_total(&self.root()))
    }

    /// The critical patterns: the defaults (unless left out) and the extra ones.
    pub fn critical(&self) -> Vec<String> {
        let mut v: Vec<String> = if self.no_default_critical {
            Vec::new()
        } else {
            DEFAULT_CRITICAL.iter().map(|s| s.to_string()).collect()
        };
        v.extend(self.critical.iter().cloned());
        v
    }
}

/// What to audit.
#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    /// Units to audit; none: every unit file, and /etc/fstab.
    pub units: Vec<String>,
    /// Manifest files, directories or "-" (standard input).
    pub manifests: Vec<PathBuf>,
    /// Where units are read from.
    pub source: UnitSource,
    /// Units known to have been OOM-killed.
    pub oom_killed: Vec<String>,
    /// Logs whose OOM-killed units count as `oom_killed`.
    pub oom_logs: Vec<PathBuf>,
    /// Patterns of units that must have a memory limit.
    pub require_limit: Vec<String>,
    /// Largest manifest document read, bytes.
    pub max_document_bytes: u64,
}

/// An error of one input that does not stop the audit.
fn input_error(file: &Path, e: impl std::fmt::Display) -> ErrorOut {
    ErrorOut {
        file: Some(file.to_path_buf()),
        line: None,
        message: format!("{}: {e}", file.display()),
    }
}

/// Runs an audit: systemd units unless only manifests were asked for, then the manifests.
/// Inputs that cannot be read are listed in the report's errors; only a root that is not a
/// directory stops it.
pub fn audit(req: &AuditRequest) -> Result<Report, AuditError> {
    let src = &req.source;
    let ram = src.ram();
    let critical = src.critical();
    let mut errors: Vec<ErrorOut> = Vec::new();
    let mut findings = Vec::new();
    let (mut units, mut slices) = (Vec::new(), Vec::new());
    if !req.units.is_empty() || src.root.is_some() || src.user || req.manifests.is_empty() {
        let root = src.root();
        if !root.is_dir() {
            return Err(AuditError::NotADirectory { path: root });
        }
        let mut oom_killed = req.oom_killed.clone();
        for log in &req.oom_logs {
            match units_killed_in(log) {
                Ok(units) => oom_killed.extend(units),
                Err(e) => errors.push(input_error(log, e)),
            }
        }
        let ctx = SystemdContext {
            ram,
            critical: critical.clone(),
            require_limit: req.require_limit.clone(),
            oom_killed,
            defaults: ManagerDefaults::read(&root, src.scope()),
            user_manager_oom_score_adjust: if src.user {
                user_manager_oom_score_adjust(&root)
            } else {
                0
            },
        };
        let a = audit_systemd(&src.loader(), &req.units, &ctx);
        findings.extend(a.findings);
        units = a.units.iter().map(|u| UnitOut::new(u, ram)).collect();
        slices = a.slices.iter().map(|u| UnitOut::new(u, ram)).collect();
        for e in a.errors {
            let (file, line) = e.location();
            let message = e.to_string();
            errors.push(ErrorOut {
                file,
                line,
                message,
            });
        }
    }
    let mut objects = Vec::new();
    let mut documents = 0;
    if !req.manifests.is_empty() {
        let inputs = read_manifests(&req.manifests, &mut errors);
        let limits = Limits {
            max_document_bytes: usize::try_from(req.max_document_bytes).unwrap_or(usize::MAX),
            ..Limits::default()
        };
        let k = audit_manifests(&inputs, &K8sContext { critical, limits });
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
    Ok(Report::new(
        findings, units, slices, objects, errors, documents,
    ))
}

/// Output forms of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportForm {
    /// Grouped by unit or object; `all` also lists those without findings or settings.
    Text {
        /// List every unit and object.
        all: bool,
    },
    /// One JSON document, schema oomlens.audit/1.
    Json,
    /// SARIF 2.1.0 (`version` is the tool's).
    Sarif {
        /// The tool version written into the SARIF run.
        version: &'static str,
    },
}

/// Writes a report. Text passes through `escape` line by line (unit files and manifests
/// are untrusted and may hold control characters).
pub fn write_report(
    out: &mut impl Write,
    report: &Report,
    form: ReportForm,
    escape: impl Fn(&str) -> Cow<'_, str>,
) -> io::Result<()> {
    match form {
        ReportForm::Text { all } => {
            for line in to_text(report, all).lines() {
                writeln!(out, "{}", escape(line))?;
            }
        }
        ReportForm::Json => writeln!(out, "{}", report.to_json_string())?,
        ReportForm::Sarif { version } => {
            serde_json::to_writer_pretty(&mut *out, &to_sarif(report, version))?;
            writeln!(out)?;
        }
    }
    out.flush()
}

/// True when a finding has at least severity `threshold` (never with `None`).
pub fn fails(report: &Report, threshold: Option<Severity>) -> bool {
    matches!((threshold, report.worst()), (Some(t), Some(w)) if w >= t)
}

/// Reads the manifests: files, directories (sorted, recursive) and "-".
pub fn read_manifests(paths: &[PathBuf], errors: &mut Vec<ErrorOut>) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            match io::stdin().lock().read_to_end(&mut buf) {
                Ok(_) => files.push((p.clone(), String::from_utf8_lossy(&buf).into_owned())),
                Err(e) => errors.push(input_error(p, e)),
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
                Err(e) => errors.push(input_error(&f, e)),
            }
        }
    }
    files
}

/// The `*.yaml`, `*.yml` and `*.json` files below `dir`, sorted, recursively.
fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<ErrorOut>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(input_error(dir, e));
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

/// The units a log shows OOM-killed: the victim's memory cgroup when it ends in a unit
/// (`/system.slice/worker.service`), and systemd's own notices ("A process of this unit has
/// been killed by the OOM killer", "Failed with result 'oom-kill'", systemd-oomd kills).
pub fn units_killed_in(log: &Path) -> io::Result<Vec<String>> {
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

/// A fix worked out and rendered, not yet written.
#[derive(Debug)]
pub struct PreparedFix {
    /// The unit's full name.
    pub unit: String,
    /// The settings.
    pub plan: FixPlan,
    /// The drop-in's text.
    pub text: String,
    /// Where the drop-in goes, on this machine (below the root).
    pub host: PathBuf,
}

/// Loads `unit`, finds its peak (`peak`, else memory.peak of its live cgroup below
/// `cgroup_root`) and works out the drop-in.
pub fn prepare_fix(
    src: &UnitSource,
    unit: &str,
    peak: Option<u64>,
    cgroup_root: &Path,
    opts: &FixOptions,
) -> Result<PreparedFix, AuditError> {
    let loader = src.loader();
    let loaded = loader.load(unit)?;
    if loaded.masked {
        return Err(AuditError::Usage(format!("{unit}: the unit is masked")));
    }
    let settings = UnitSettings::from_loaded(&loaded);
    let name = settings.unit.full.clone();
    let (peak, peak_source) = match peak {
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
            match read_peak(cgroup_root, &cg) {
                Ok((b, file)) => (b, format!("memory.peak of {}", file.display())),
                Err(why) => return Err(AuditError::NoPeak { unit: name, why }),
            }
        }
    };
    let p = plan(&settings, peak, &peak_source, opts, src.ram())?;
    let text = render(&p);
    let host = loader.host(&dropin_path(
        &loader.config_dir(src.home().as_deref()),
        &name,
    ));
    Ok(PreparedFix {
        unit: name,
        plan: p,
        text,
        host,
    })
}

/// A setting the new drop-in writes that another file still overrides.
#[derive(Debug)]
pub struct Overridden {
    /// The key.
    pub key: &'static str,
    /// The value in force.
    pub raw: String,
    /// Where it is set.
    pub file: PathBuf,
    /// The line.
    pub line: u32,
}

/// After writing: the settings of `fix` that a drop-in sorting later still overrides.
pub fn overridden(
    src: &UnitSource,
    unit: &str,
    fix: &PreparedFix,
) -> Result<Vec<Overridden>, AuditError> {
    let again = UnitSettings::from_loaded(&src.loader().load(unit)?);
    let mut out = Vec::new();
    for key in ["MemoryHigh", "MemoryMax", "OOMScoreAdjust", "RuntimeMaxSec"] {
        if let Some(s) = again.get(key) {
            if s.origin.file != fix.host && fix.text.contains(&format!("\n{key}=")) {
                out.push(Overridden {
                    key,
                    raw: s.raw.clone(),
                    file: s.origin.file.clone(),
                    line: s.origin.line,
                });
            }
        }
    }
    Ok(out)
}

/// Runs `program args` (no shell) and fails unless it succeeds; `shown` names it in errors.
pub fn run_command(program: &Path, args: &[String], shown: &str) -> Result<(), AuditError> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|source| AuditError::Command {
            shown: shown.to_string(),
            source,
        })?;
    if !status.success() {
        return Err(AuditError::CommandFailed {
            shown: shown.to_string(),
            status: status.to_string(),
        });
    }
    Ok(())
}

/// This process's uid, from /proc/self/status (avoids a libc dependency for one number).
fn current_uid() -> u32 {
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
