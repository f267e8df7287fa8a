//! The three outputs of `oomlens audit`, all built from one [`Report`]:
//!
//! - text, grouped by unit or object: its effective settings with `file:line`, then its
//!   findings with the fix;
//! - JSON, schema `oomlens.audit/1`: `findings[]` (`rule`, `severity`, `target`, `file`,
//!   `line`, `message`, `fix`), `units[]` (effective settings with their origin), `objects[]`
//!   (Kubernetes workloads with QoS and per-container memory), `errors[]` (`file`, `line`,
//!   `message`) and `summary`; absent values are `null`;
//! - SARIF 2.1.0 for code-review tools: one run, the rule registry as `tool.driver.rules`,
//!   one result per finding, errors as tool execution notifications.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::finding::{Finding, Severity, RULES};
use crate::k8s::ObjectSummary;
use crate::loader::Scope;
use crate::settings::{Origin, UnitSettings, Value};
use crate::size::{human_bytes, MemoryValue};

/// The JSON schema name and version.
pub const SCHEMA: &str = "oomlens.audit/1";

/// Keys shown per unit, in this order.
pub const SHOWN_KEYS: &[&str] = &[
    "MemoryMin",
    "MemoryLow",
    "MemoryHigh",
    "MemoryMax",
    "MemorySwapMax",
    "MemoryLimit",
    "OOMScoreAdjust",
    "OOMPolicy",
    "ManagedOOMSwap",
    "ManagedOOMMemoryPressure",
    "ManagedOOMMemoryPressureLimit",
    "ManagedOOMPreference",
    "Restart",
    "RestartSec",
    "StartLimitIntervalSec",
    "StartLimitBurst",
    "RuntimeMaxSec",
    "Slice",
    "PrivateTmp",
    "Type",
    "Options",
];

/// One effective setting in JSON.
#[derive(Debug, Clone, Serialize)]
pub struct SettingOut {
    /// The value as written.
    pub value: String,
    /// Bytes, for memory settings that resolve to a number.
    pub bytes: Option<u64>,
    /// The file it came from.
    pub file: PathBuf,
    /// The line.
    pub line: u32,
}

/// One unit in JSON.
#[derive(Debug, Clone, Serialize)]
pub struct UnitOut {
    /// The unit's id.
    pub unit: String,
    /// The name asked for (differs for an alias).
    pub requested: String,
    /// `system` or `user`.
    pub scope: Scope,
    /// Masked units are not audited.
    pub masked: bool,
    /// The fragment.
    pub fragment: Option<PathBuf>,
    /// Drop-ins in applying order.
    pub dropins: Vec<PathBuf>,
    /// The slice it runs in.
    pub slice: Option<String>,
    /// Effective settings by key (only those set).
    pub settings: std::collections::BTreeMap<String, SettingOut>,
    /// `TemporaryFileSystem=` entries.
    pub temporary_file_systems: Vec<SettingOut>,
    /// Keys reset by an empty assignment (and not set again), with where.
    pub resets: std::collections::BTreeMap<String, Origin>,
}

impl UnitOut {
    /// Builds the JSON view of a unit; `ram` resolves percentages.
    pub fn new(u: &UnitSettings, ram: Option<u64>) -> UnitOut {
        let mut settings = std::collections::BTreeMap::new();
        let mut resets = std::collections::BTreeMap::new();
        for k in SHOWN_KEYS {
            if let Some(s) = u.get(k) {
                let bytes = match s.value {
                    Value::Memory(m) => m.bytes(ram),
                    _ => None,
                };
                settings.insert(
                    k.to_string(),
                    SettingOut {
                        value: s.raw.clone(),
                        bytes,
                        file: s.origin.file.clone(),
                        line: s.origin.line,
                    },
                );
            } else if let Some(o) = u.reset_at(k) {
                resets.insert(k.to_string(), o.clone());
            }
        }
        UnitOut {
            unit: u.unit.full.clone(),
            requested: u.requested.clone(),
            scope: u.scope,
            masked: u.masked,
            fragment: u.fragment.clone(),
            dropins: u.dropins.clone(),
            slice: u.slice(),
            settings,
            temporary_file_systems: u
                .list("TemporaryFileSystem")
                .iter()
                .map(|s| SettingOut {
                    value: s.raw.clone(),
                    bytes: None,
                    file: s.origin.file.clone(),
                    line: s.origin.line,
                })
                .collect(),
            resets,
        }
    }
}

/// An input that could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorOut {
    /// The file, when known.
    pub file: Option<PathBuf>,
    /// The line, when known.
    pub line: Option<u32>,
    /// The message (naming the file or unit).
    pub message: String,
}

/// Counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Units audited.
    pub units: usize,
    /// Kubernetes workloads audited.
    pub objects: usize,
    /// Manifest documents read.
    pub documents: usize,
    /// Findings.
    pub findings: usize,
    /// Findings of severity error.
    pub error: usize,
    /// Findings of severity warning.
    pub warning: usize,
    /// Findings of severity info.
    pub info: usize,
    /// Inputs that could not be audited.
    pub errors: usize,
}

/// Everything one audit found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `oomlens.audit/1`.
    pub schema: &'static str,
    /// Findings, grouped by target in input order.
    pub findings: Vec<Finding>,
    /// Units with their effective settings.
    pub units: Vec<UnitOut>,
    /// Slices the units run in.
    pub slices: Vec<UnitOut>,
    /// Kubernetes workloads.
    pub objects: Vec<ObjectSummary>,
    /// Inputs that could not be audited.
    pub errors: Vec<ErrorOut>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// Assembles a report and fills in the summary.
    pub fn new(
        findings: Vec<Finding>,
        units: Vec<UnitOut>,
        slices: Vec<UnitOut>,
        objects: Vec<ObjectSummary>,
        errors: Vec<ErrorOut>,
        documents: usize,
    ) -> Report {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let summary = Summary {
            units: units.len(),
            objects: objects.len(),
            documents,
            findings: findings.len(),
            error: count(Severity::Error),
            warning: count(Severity::Warning),
            info: count(Severity::Info),
            errors: errors.len(),
        };
        Report {
            schema: SCHEMA,
            findings,
            units,
            slices,
            objects,
            errors,
            summary,
        }
    }

    /// The highest severity found.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The JSON document, fields in declaration order.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn loc(file: &Option<PathBuf>, line: Option<u32>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}", f.display()),
        (Some(f), None) => f.display().to_string(),
        _ => String::new(),
    }
}

fn short(file: &Path) -> String {
    file.display().to_string()
}

fn write_findings(out: &mut String, fs: &[&Finding]) {
    for f in fs {
        let _ = writeln!(
            out,
            "  {:<7}  {}: {}",
            f.severity.as_str(),
            f.rule,
            f.message
        );
        let l = loc(&f.file, f.line);
        if !l.is_empty() {
            let _ = writeln!(out, "           at {l}");
        }
        let _ = writeln!(out, "           fix: {}", f.fix);
    }
}

fn write_unit(out: &mut String, u: &UnitOut, fs: &[&Finding]) {
    let alias = if u.requested != u.unit {
        format!(" (as {})", u.requested)
    } else {
        String::new()
    };
    let frag = u
        .fragment
        .as_ref()
        .map(|f| short(f))
        .unwrap_or_else(|| "no unit file".to_string());
    let _ = writeln!(out, "{}{alias}  {frag}", u.unit);
    if u.masked {
        let _ = writeln!(out, "  masked");
    }
    for d in &u.dropins {
        let _ = writeln!(out, "  drop-in {}", short(d));
    }
    if let Some(s) = &u.slice {
        if !u.settings.contains_key("Slice") {
            let _ = writeln!(out, "  Slice={s} (default)");
        }
    }
    for (k, s) in &u.settings {
        let bytes = match s.bytes {
            Some(b) if !s.value.ends_with(&human_bytes(b)) => format!(" = {}", human_bytes(b)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {k}={}{bytes}  ({}:{})",
            s.value,
            short(&s.file),
            s.line
        );
    }
    for t in &u.temporary_file_systems {
        let _ = writeln!(
            out,
            "  TemporaryFileSystem={}  ({}:{})",
            t.value,
            short(&t.file),
            t.line
        );
    }
    for (k, o) in &u.resets {
        let _ = writeln!(
            out,
            "  {k}= reset to default  ({}:{})",
            short(&o.file),
            o.line
        );
    }
    write_findings(out, fs);
    out.push('\n');
}

/// Whether a unit sets any memory-related value (shown even without findings).
fn has_memory_settings(u: &UnitOut) -> bool {
    u.settings.keys().any(|k| {
        k.starts_with("Memory")
            || k.starts_with("OOM")
            || k.starts_with("ManagedOOM")
            || k == "RuntimeMaxSec"
    }) || !u.temporary_file_systems.is_empty()
}

/// Renders the text form: units that have findings or memory settings (with `all`, every
/// unit and object), then Kubernetes objects with findings, then other targets (fstab).
pub fn to_text(r: &Report, all: bool) -> String {
    let mut out = String::new();
    let mut shown: BTreeSet<String> = BTreeSet::new();
    let for_target =
        |t: &str| -> Vec<&Finding> { r.findings.iter().filter(|f| f.target == t).collect() };
    for (u, is_slice) in r
        .units
        .iter()
        .map(|u| (u, false))
        .chain(r.slices.iter().map(|u| (u, true)))
    {
        let fs = for_target(&u.unit);
        let show = !fs.is_empty() || has_memory_settings(u) || (all && !is_slice);
        if show {
            write_unit(&mut out, u, &fs);
        }
        shown.insert(u.unit.clone());
    }
    for o in &r.objects {
        let target = match &o.namespace {
            Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
            None => format!("{}/{}", o.kind, o.name),
        };
        let fs = for_target(&target);
        if !fs.is_empty() || all {
            let _ = writeln!(
                out,
                "{target}  {}:{}  QoS {:?}",
                short(&o.file),
                o.line,
                o.qos
            );
            for c in &o.containers {
                let m = |b: Option<u64>| {
                    b.map(crate::size::human_bytes_iec)
                        .unwrap_or_else(|| "-".to_string())
                };
                let from = c
                    .limit_from
                    .as_ref()
                    .map(|f| format!(" (from {f})"))
                    .unwrap_or_default();
                let role = match c.role {
                    crate::k8s::Role::Container => "container",
                    crate::k8s::Role::Init => "init container",
                    crate::k8s::Role::Sidecar => "sidecar",
                };
                let _ = writeln!(
                    out,
                    "  {role} {:?}: memory request {}, limit {}{from}",
                    c.name,
                    m(c.memory_request),
                    m(c.memory_limit)
                );
            }
            write_findings(&mut out, &fs);
            out.push('\n');
        }
        shown.insert(target);
    }
    let mut rest: Vec<&str> = Vec::new();
    for f in &r.findings {
        if !shown.contains(&f.target) && !rest.contains(&f.target.as_str()) {
            rest.push(&f.target);
        }
    }
    for t in rest {
        let _ = writeln!(out, "{t}");
        write_findings(&mut out, &for_target(t));
        out.push('\n');
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {}", e.message);
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "{} unit{}, {} Kubernetes object{}: {} error{}, {} warning{}, {} info; {} input{} not audited",
        s.units,
        plural(s.units),
        s.objects,
        plural(s.objects),
        s.error,
        plural(s.error),
        s.warning,
        plural(s.warning),
        s.info,
        s.errors,
        plural(s.errors)
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A SARIF `artifactLocation.uri`: relative paths as relative references, absolute ones as
/// `file://` URIs, percent-encoded (RFC 3986).
pub fn sarif_uri(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut enc = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            enc.push(b as char);
        } else {
            let _ = write!(enc, "%{b:02X}");
        }
    }
    if p.is_absolute() {
        format!("file://{enc}")
    } else {
        enc.trim_start_matches("./").to_string()
    }
}

/// The SARIF 2.1.0 log.
pub fn to_sarif(r: &Report, tool_version: &str) -> Json {
    let rules: Vec<Json> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "shortDescription": {"text": rule.reason},
                "fullDescription": {"text": rule.reason},
                "help": {"text": rule.fix},
                "defaultConfiguration": {"level": rule.severity.sarif_level()},
                "properties": {"appliesTo": rule.applies_to}
            })
        })
        .collect();
    let results: Vec<Json> = r
        .findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|x| x.id == f.rule).unwrap_or(0);
            let mut location = json!({
                "logicalLocations": [{"name": f.target, "kind": "resource"}]
            });
            if let Some(file) = &f.file {
                let mut phys = json!({"artifactLocation": {"uri": sarif_uri(file)}});
                if let Some(l) = f.line {
                    phys["region"] = json!({"startLine": l.max(1)});
                }
                location["physicalLocation"] = phys;
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": f.severity.sarif_level(),
                "message": {"text": format!("{}: {}. Fix: {}.", f.target, f.message, f.fix)},
                "locations": [location]
            })
        })
        .collect();
    let notes: Vec<Json> = r
        .errors
        .iter()
        .map(|e| {
            let mut n = json!({"level": "error", "message": {"text": e.message}});
            if let Some(file) = &e.file {
                let mut phys = json!({"artifactLocation": {"uri": sarif_uri(file)}});
                if let Some(l) = e.line {
                    phys["region"] = json!({"startLine": l.max(1)});
                }
                n["locations"] = json!([{"physicalLocation": phys}]);
            }
            n
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "oomlens",
                "version": tool_version,
                "informationUri": "https://example.invalid/oomlens",
                "rules": rules
            }},
            "invocations": [{
                "executionSuccessful": r.errors.is_empty(),
                "toolExecutionNotifications": notes
            }],
            "results": results
        }]
    })
}

/// Shows a memory value for people (`512M`, `50% = 4G`).
pub fn show_memory(m: MemoryValue, ram: Option<u64>) -> String {
    match m {
        MemoryValue::Bytes(b) => human_bytes(b),
        MemoryValue::Infinity => "infinity".to_string(),
        MemoryValue::Permyriad(p) => match m.bytes(ram) {
            Some(b) => format!("{}.{:02}% = {}", p / 100, p % 100, human_bytes(b)),
            None => format!("{}.{:02}%", p / 100, p % 100),
        },
    }
}
