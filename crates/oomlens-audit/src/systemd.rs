//! The systemd audit: loads the units asked for (or every one), their slices and
//! /etc/fstab, and runs the unit, slice and fstab rules over them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::AuditError;
use crate::finding::Finding;
use crate::loader::{self, host_path, Loader};
use crate::settings::UnitSettings;
use crate::systemd_rules::{audit_fstab, audit_slice, audit_unit, SystemdContext};
use crate::unit::{self, parent_slice};

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
