//! Label cardinality caps: every label value the guard exports comes from the host (unit
//! names, pod names, cgroup paths), and a host that starts a new pod per job would otherwise
//! grow the series without bound, in the guard's memory and in Prometheus. Each owner label
//! keeps the first `values_per_label` distinct values it meets; later ones are counted under
//! [`OVERFLOW`]. Cgroups get per-cgroup series up to `cgroups` at a time.
//!
//! Values are host text (unit, pod and cgroup names): control characters in them are
//! written as `\xNN` (`crate::escape`), so that a scrape shown on a terminal cannot carry
//! escape sequences; quotes, backslashes and newlines are then escaped by the encoder.

use std::collections::HashSet;

use oomlens_model::metric_fields::OWNER_LABEL_FIELDS;

use crate::escape::escape;

/// The value a capped label takes once it has met its cap of distinct values. A leading
/// underscore cannot start a systemd unit name or a Kubernetes object name, so it never
/// collides with a real owner.
pub const OVERFLOW: &str = "_other";

/// Caps on label cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    /// Distinct values kept per owner label (unit, pod, namespace, container); later ones
    /// become [`OVERFLOW`]. The kind label is bounded by its enum and not capped.
    pub values_per_label: usize,
    /// Cgroups with per-cgroup series at a time.
    pub cgroups: usize,
    /// Characters kept of a label value; longer ones are cut (a unit or pod name is at most
    /// 256 and 253 characters long, so this only trims garbage).
    pub value_chars: usize,
}

impl Default for LabelLimits {
    /// 100 values per owner label, 100 cgroups, 256 characters. The cgroup cap is set by
    /// the guard's memory budget (its idle RSS is to stay within twice earlyoom's, about
    /// 3 MiB). Measured with a counting allocator: 10,000 cgroups with Kubernetes paths
    /// reported, 100 of them exported, hold 273 KB (series and the waiting cgroups'
    /// hashes) and encode to 107 KB of text; with 500 exported, 847 KB and 449 KB. Owner
    /// series grow only with kills, capped per label.
    fn default() -> LabelLimits {
        LabelLimits {
            values_per_label: 100,
            cgroups: 100,
            value_chars: 256,
        }
    }
}

/// The distinct owner label values seen so far, per label.
#[derive(Debug)]
pub(super) struct OwnerCaps {
    limits: LabelLimits,
    /// One set per owner label after `kind` (unit, pod, namespace, container).
    seen: Vec<HashSet<String>>,
}

impl OwnerCaps {
    pub(super) fn new(limits: LabelLimits) -> OwnerCaps {
        OwnerCaps {
            limits,
            seen: vec![HashSet::new(); OWNER_LABEL_FIELDS.len() - 1],
        }
    }

    /// The label set of an incident of `kind` whose owner's unit, pod, namespace and
    /// container are `owner`, and whether a value was folded into [`OVERFLOW`].
    pub(super) fn labels(
        &mut self,
        kind: &str,
        owner: Option<[Option<String>; 4]>,
    ) -> (Vec<(&'static str, String)>, bool) {
        let values = owner.unwrap_or_default();
        let mut folded = false;
        let mut out = Vec::with_capacity(OWNER_LABEL_FIELDS.len());
        out.push((OWNER_LABEL_FIELDS[0].name, kind.to_string()));
        for ((field, seen), value) in OWNER_LABEL_FIELDS[1..]
            .iter()
            .zip(&mut self.seen)
            .zip(values)
        {
            let cut: String = value
                .unwrap_or_default()
                .chars()
                .take(self.limits.value_chars)
                .collect();
            let mut v = escape(&cut).into_owned();
            // An empty value is the label's absence in Prometheus: never capped.
            if !v.is_empty() && !seen.contains(&v) {
                if seen.len() < self.limits.values_per_label {
                    seen.insert(v.clone());
                } else {
                    v = OVERFLOW.to_string();
                    folded = true;
                }
            }
            out.push((field.name, v));
        }
        (out, folded)
    }
}

/// Which cgroups have series, first come first served, and which wait for a free slot.
#[derive(Debug)]
pub(super) struct Cgroups {
    cap: usize,
    exported: HashSet<String>,
    /// Hashes of the paths reported while the cap was reached (8 bytes each rather than
    /// the path: the guard may watch ten thousand cgroups); bounded by what the guard
    /// watches, since it forgets a cgroup it stops watching.
    waiting: HashSet<u64>,
}

/// A fixed-key hash of a path (std's SipHash with its default keys: the same path always
/// hashes alike; a collision only miscounts `oomlens_cgroups_unexported` by one).
fn path_hash(path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

impl Cgroups {
    pub(super) fn new(cap: usize) -> Cgroups {
        Cgroups {
            cap,
            exported: HashSet::new(),
            waiting: HashSet::new(),
        }
    }

    /// True when `path` has (or now gets) series.
    pub(super) fn admit(&mut self, path: &str) -> bool {
        if self.exported.contains(path) {
            return true;
        }
        if self.exported.len() < self.cap {
            self.waiting.remove(&path_hash(path));
            self.exported.insert(path.to_string());
            return true;
        }
        self.waiting.insert(path_hash(path));
        false
    }

    /// Drops `path`; true when it had series.
    pub(super) fn forget(&mut self, path: &str) -> bool {
        self.waiting.remove(&path_hash(path));
        self.exported.remove(path)
    }

    pub(super) fn exported(&self) -> usize {
        self.exported.len()
    }

    pub(super) fn unexported(&self) -> usize {
        self.waiting.len()
    }
}
