//! oomlens-audit: finds memory settings that turn a leak or a spike into an outage, in
//! systemd units and Kubernetes manifests, and writes the systemd fix.
//!
//! | module | job |
//! |---|---|
//! | [`unit`] | unit names and the unit-file syntax |
//! | [`loader`] | search paths, fragments, aliases, templates and drop-ins below a root (I/O) |
//! | [`settings`] | a unit's effective settings with the file:line of each |
//! | [`systemd_rules`] | the systemd rules (pure) |
//! | [`yaml`] | YAML/JSON streams as line-numbered trees, with size limits |
//! | [`k8s`] | workloads, QoS, LimitRange defaults and the Kubernetes rules |
//! | [`size`] | sizes, spans and quantities parsed as systemd, Kubernetes, the JVM and Go do |
//! | [`finding`] | the rule registry and findings |
//! | [`report`] | the text, JSON (`oomlens.audit/1`) and SARIF outputs |
//! | [`fix`] | the drop-in `oomlens fix` writes, the live peak, the atomic write |
//!
//! Rules are pure functions over already-read settings; reading files is the loader's and
//! the caller's job, so tests feed rules plain values and trees in temporary directories.

#![deny(missing_docs)]

pub mod command;
pub mod finding;
pub mod fix;
pub mod k8s;
pub mod loader;
pub mod report;
pub mod settings;
pub mod size;
pub mod systemd_rules;
pub mod unit;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use finding::Finding;
use loader::{host_path, Loader};
use settings::UnitSettings;
use systemd_rules::{audit_fstab, audit_slice, audit_unit, SystemdContext};
use unit::parent_slice;

/// Why something could not be audited or fixed. Every variant names its file or unit.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid unit name.
    #[error("{problem}")]
    UnitName {
        /// The name given.
        name: String,
        /// Why it is not one.
        problem: String,
    },
    /// No unit file of that name in the search path.
    #[error("{name}: no such unit file in {}", search_path.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    UnitNotFound {
        /// The unit.
        name: String,
        /// The directories searched, on this machine.
        search_path: Vec<PathBuf>,
    },
    /// A manifest document or object that cannot be read.
    #[error("{}:{line}: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The drop-in exists and `--force` was not given.
    #[error("{}: already exists; pass --force to replace it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// No peak memory figure could be read for a unit.
    #[error("{unit}: no peak memory usage recorded ({why}); pass --peak BYTES")]
    NoPeak {
        /// The unit.
        unit: String,
        /// What was tried.
        why: String,
    },
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// The root to read units below is not a directory.
    #[error("{}: not a directory", path.display())]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
    /// A command could not be started.
    #[error("running {shown}")]
    Command {
        /// The command line as shown to the operator.
        shown: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("{shown} failed ({status})")]
    CommandFailed {
        /// The command line as shown to the operator.
        shown: String,
        /// Its exit status.
        status: String,
    },
}

impl AuditError {
    /// The file and line the error is about, when it has them.
    pub fn location(&self) -> (Option<PathBuf>, Option<u32>) {
        match self {
            AuditError::Io { path, .. } | AuditError::Exists { path } => (Some(path.clone()), None),
            AuditError::Manifest { path, line, .. } => (Some(path.clone()), Some(*line)),
            _ => (None, None),
        }
    }
}

/// The systemd part of an audit.
#[derive(Debug, Default)]
pub struct SystemdAudit {
    /// Units audited, in order.
    pub units: Vec<UnitSettings>,
    /// Slices the units sit in (loaded to show and check their limits).
    pub slices: Vec<UnitSettings>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Units that could not be loaded.
    pub errors: Vec<AuditError>,
}

/// Unit types whose settings the rules read.
const AUDITED_TYPES: [&str; 6] = ["service", "slice", "mount", "socket", "swap", "scope"];

/// Loads and audits units. With `names` empty, every unit file of an audited type in the
/// search path (templates included), and `/etc/fstab` below the root.
pub fn audit_systemd(loader: &Loader, names: &[String], ctx: &SystemdContext) -> SystemdAudit {
    let mut audit = SystemdAudit::default();
    let all = names.is_empty();
    let list: Vec<String> = if all {
        loader
            .unit_names()
            .into_iter()
            .filter(|n| {
                unit::UnitName::parse(n).is_ok_and(|u| AUDITED_TYPES.contains(&u.kind.as_str()))
            })
            .collect()
    } else {
        names.to_vec()
    };
    for n in &list {
        match loader.load(n) {
            Ok(u) => audit.units.push(UnitSettings::from_loaded(&u)),
            Err(e) => audit.errors.push(e),
        }
    }
    // Slices: every slice a unit sits in, and their parents, once.
    let mut slices: BTreeMap<String, UnitSettings> = BTreeMap::new();
    for u in &audit.units {
        if u.unit.kind == "slice" {
            slices.insert(u.unit.full.clone(), u.clone());
        }
    }
    let mut wanted: Vec<String> = audit.units.iter().filter_map(|u| u.slice()).collect();
    while let Some(s) = wanted.pop() {
        if slices.contains_key(&s) {
            continue;
        }
        if let Ok(l) = loader.load(&s) {
            let st = UnitSettings::from_loaded(&l);
            if let Some(p) = parent_slice(&s) {
                wanted.push(p);
            }
            slices.insert(s, st);
        }
    }
    let chain = |u: &UnitSettings| -> Vec<&UnitSettings> {
        let mut v = Vec::new();
        let mut cur = if u.unit.kind == "slice" {
            parent_slice(&u.unit.full)
        } else {
            u.slice()
        };
        while let Some(s) = cur {
            if let Some(st) = slices.get(&s) {
                v.push(st);
            }
            cur = parent_slice(&s);
        }
        v
    };
    for u in &audit.units {
        audit.findings.extend(audit_unit(u, &chain(u), ctx));
    }
    for (name, s) in &slices {
        let mut members: Vec<&UnitSettings> = audit
            .units
            .iter()
            .filter(|u| u.unit.kind != "slice" && u.slice().as_deref() == Some(name.as_str()))
            .collect();
        members.extend(
            slices
                .values()
                .filter(|c| parent_slice(&c.unit.full).as_deref() == Some(name.as_str())),
        );
        audit.findings.extend(audit_slice(s, &members, ctx));
        if !audit.units.iter().any(|u| &u.unit.full == name) {
            audit.slices.push(s.clone());
        }
    }
    if all && loader.scope() == loader::Scope::System {
        let fstab = host_path(loader.root(), Path::new("/etc/fstab"));
        if let Ok(text) = std::fs::read_to_string(&fstab) {
            audit.findings.extend(audit_fstab(&fstab, &text));
        }
    }
    audit
}

/// The `OOMScoreAdjust=` of `user@.service` below `root` (the value user managers run
/// with, 0 when unset or not found).
pub fn user_manager_oom_score_adjust(root: &Path) -> i64 {
    Loader::system(root)
        .load("user@.service")
        .ok()
        .map(|u| UnitSettings::from_loaded(&u))
        .and_then(|s| s.int("OOMScoreAdjust"))
        .unwrap_or(0)
}
