//! The Kubernetes rules: one function per rule, run by [`audit_workload`] in the order of
//! [`WORKLOAD_RULES`]; the QoS class and the runtime settings they read.

use std::collections::BTreeMap;

use crate::finding::{glob_match, Finding};
use crate::k8s::model::{Amount, Container, K8sContext, Qos, Workload};
use crate::size::{human_bytes_iec as human_bytes, parse_go_memlimit, parse_jvm_size, MIB};

/// The pod's QoS class, as `GetPodQOS`: pod-level resources when set, else the sums over
/// all containers; only cpu and memory count, zero amounts are ignored.
pub fn qos(w: &Workload) -> Qos {
    let milli = |a: &Option<Amount>| -> Option<u128> {
        a.as_ref()
            .map(|a| a.quantity.ceil_milli())
            .filter(|m| *m > 0)
    };
    if let Some((req, lim)) = &w.pod_resources {
        let (rm, rc, lm, lc) = (
            milli(&req.memory),
            milli(&req.cpu),
            milli(&lim.memory),
            milli(&lim.cpu),
        );
        if [rm, rc, lm, lc].iter().any(Option::is_some) {
            let same = |r: Option<u128>, l: Option<u128>| r.is_none() || r == l;
            let g = lm.is_some() && lc.is_some() && same(rm, lm) && same(rc, lc);
            return if g { Qos::Guaranteed } else { Qos::Burstable };
        }
    }
    let mut requests: BTreeMap<&str, u128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, u128> = BTreeMap::new();
    let mut guaranteed = true;
    for c in &w.containers {
        for (name, a) in [("memory", &c.requests.memory), ("cpu", &c.requests.cpu)] {
            if let Some(m) = milli(a) {
                let e = requests.entry(name).or_default();
                *e = e.saturating_add(m);
            }
        }
        let mut found = 0;
        for (name, a) in [("memory", &c.limits.memory), ("cpu", &c.limits.cpu)] {
            if let Some(m) = milli(a) {
                found += 1;
                let e = limits.entry(name).or_default();
                *e = e.saturating_add(m);
            }
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Qos::BestEffort;
    }
    if guaranteed && requests.iter().any(|(n, r)| limits.get(n) != Some(r)) {
        guaranteed = false;
    }
    if guaranteed && requests.len() == limits.len() {
        Qos::Guaranteed
    } else {
        Qos::Burstable
    }
}

/// The first critical pattern a workload matches: priority class, object, container or
/// image name.
pub fn critical_match(w: &Workload, patterns: &[String]) -> Option<String> {
    if let Some(pc) = &w.priority_class {
        if pc == "system-cluster-critical" || pc == "system-node-critical" {
            return Some(format!("priorityClassName {pc}"));
        }
    }
    let mut names = vec![("object", w.name.clone())];
    for c in &w.containers {
        names.push(("container", c.name.clone()));
        if let Some(img) = &c.image {
            names.push(("image", image_base(img)));
        }
    }
    for p in patterns {
        for (what, n) in &names {
            if glob_match(p, n) {
                return Some(format!("{what} {n} matches {p:?}"));
            }
        }
    }
    None
}

/// `registry/org/postgres:16@sha256:…` → `postgres`.
fn image_base(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last).to_string()
}

/// Runtime memory settings found in a container.
#[derive(Debug, Clone, PartialEq)]
enum Runtime {
    JvmHeap(u64, String),
    JvmPercent(f64, String),
    NodeOldSpace(u64, String),
    GoMemLimit(Option<u64>, String),
    GoWithoutLimit(String),
}

/// The runtime memory settings of a container, in the order they apply.
fn runtime_settings(c: &Container) -> Vec<Runtime> {
    let mut out = Vec::new();
    // JVM: later flags win; _JAVA_OPTIONS is read last by the launcher.
    let mut sources: Vec<(String, &str)> = Vec::new();
    for e in &c.env {
        if e.name != "_JAVA_OPTIONS" {
            if let Some(v) = &e.value {
                sources.push((format!("env {}", e.name), v));
            }
        }
    }
    for a in &c.argv {
        sources.push(("command".to_string(), a));
    }
    for e in &c.env {
        if e.name == "_JAVA_OPTIONS" {
            if let Some(v) = &e.value {
                sources.push((format!("env {}", e.name), v));
            }
        }
    }
    let mut heap: Option<Runtime> = None;
    let mut percent: Option<Runtime> = None;
    let mut node: Option<Runtime> = None;
    for (src, text) in &sources {
        for tok in text.split_whitespace() {
            let tok = tok.trim_matches(['"', '\'']);
            if let Some(v) = tok
                .strip_prefix("-Xmx")
                .or_else(|| tok.strip_prefix("-XX:MaxHeapSize="))
            {
                if let Some(b) = parse_jvm_size(v) {
                    heap = Some(Runtime::JvmHeap(b, format!("{tok} ({src})")));
                }
            } else if let Some(v) = tok.strip_prefix("-XX:MaxRAMPercentage=") {
                if let Ok(p) = v.parse::<f64>() {
                    percent = Some(Runtime::JvmPercent(p, format!("{tok} ({src})")));
                }
            } else if let Some(v) = tok
                .strip_prefix("--max-old-space-size=")
                .or_else(|| tok.strip_prefix("--max_old_space_size="))
            {
                if let Ok(mb) = v.parse::<u64>() {
                    node = Some(Runtime::NodeOldSpace(
                        mb.saturating_mul(MIB),
                        format!("{tok} ({src})"),
                    ));
                }
            }
        }
    }
    // -Xmx takes precedence over MaxRAMPercentage.
    out.extend(heap.or(percent));
    out.extend(node);
    let go_env = c.env.iter().find(|e| {
        matches!(
            e.name.as_str(),
            "GOGC" | "GOMAXPROCS" | "GODEBUG" | "GOTRACEBACK"
        )
    });
    match c.env.iter().find(|e| e.name == "GOMEMLIMIT") {
        Some(e) => match (&e.value, &e.resource_field) {
            (Some(v), _) => {
                if let Ok(l) = parse_go_memlimit(v) {
                    out.push(Runtime::GoMemLimit(l, format!("GOMEMLIMIT={v}")));
                }
            }
            (None, Some(_)) => {} // from the limit itself via resourceFieldRef
            _ => {}
        },
        None => {
            if let Some(g) = go_env {
                out.push(Runtime::GoWithoutLimit(g.name.clone()));
            }
        }
    }
    out
}

/// What a workload rule reads: the workload (after defaulting) and what is derived from it.
pub struct WorkloadInput<'a> {
    /// The workload.
    pub w: &'a Workload,
    /// The audit's context.
    pub ctx: &'a K8sContext,
    /// `Kind/namespace/name`.
    pub target: String,
    /// Its QoS class.
    pub class: Qos,
    /// The pod-level memory limit, when set.
    pub pod_limit: Option<u64>,
}

impl WorkloadInput<'_> {
    /// A finding's place: the workload's file at `line`.
    fn at(&self, line: u32) -> Option<(std::path::PathBuf, u32)> {
        Some((self.w.file.clone(), line))
    }
}

/// One Kubernetes rule: its id in [`crate::finding::RULES`] and its function.
pub struct WorkloadRule {
    /// The rule's id (every finding the function pushes is of this rule).
    pub id: &'static str,
    /// Pushes the rule's findings for one workload.
    pub check: fn(&WorkloadInput<'_>, &mut Vec<Finding>),
}

/// The rules [`audit_workload`] runs, in the order their findings are listed. Adding a
/// Kubernetes rule is one entry in `RULES` and one here.
pub const WORKLOAD_RULES: &[WorkloadRule] = &[
    WorkloadRule {
        id: "no-memory-limit",
        check: no_memory_limit,
    },
    WorkloadRule {
        id: "besteffort-pod",
        check: besteffort_pod,
    },
    WorkloadRule {
        id: "burstable-critical-pod",
        check: burstable_critical_pod,
    },
    WorkloadRule {
        id: "emptydir-memory-without-sizelimit",
        check: emptydir_memory_without_sizelimit,
    },
    WorkloadRule {
        id: "runtime-heap-above-limit",
        check: runtime_heap_above_limit,
    },
];

/// Runs every Kubernetes rule on one workload (after defaulting).
pub fn audit_workload(w: &Workload, ctx: &K8sContext) -> Vec<Finding> {
    let input = WorkloadInput {
        w,
        ctx,
        target: w.target(),
        class: qos(w),
        pod_limit: w
            .pod_resources
            .as_ref()
            .and_then(|(_, l)| l.memory.as_ref())
            .map(|a| a.quantity.ceil_u64()),
    };
    let mut out = Vec::new();
    for r in WORKLOAD_RULES {
        (r.check)(&input, &mut out);
    }
    out
}

/// Containers without a memory limit (and no pod-level one).
fn no_memory_limit(i: &WorkloadInput<'_>, out: &mut Vec<Finding>) {
    for c in &i.w.containers {
        // A zero limit counts as none, as in the QoS computation.
        let unlimited = c
            .limits
            .memory
            .as_ref()
            .is_none_or(|a| a.quantity.is_zero());
        if unlimited && i.pod_limit.is_none_or(|l| l == 0) {
            let req = c
                .requests
                .memory
                .as_ref()
                .map(|r| format!(" (request {})", r.quantity))
                .unwrap_or_default();
            out.push(Finding::new(
                "no-memory-limit",
                &i.target,
                i.at(c.line),
                format!("{} {:?} has no memory limit{req}: it can use the node's memory until the kernel or the kubelet kills something", c.role.word(), c.name),
                format!("set resources.limits.memory on {} {:?} (from its observed peak plus headroom)", c.role.word(), c.name),
            ));
        }
    }
}

/// A BestEffort pod.
fn besteffort_pod(i: &WorkloadInput<'_>, out: &mut Vec<Finding>) {
    if i.class != Qos::BestEffort {
        return;
    }
    let target = &i.target;
    out.push(Finding::new(
        "besteffort-pod",
        target,
        i.at(i.w.line),
        format!("{target} is BestEffort (no container has cpu or memory requests or limits): its pods get oom_score_adj 1000 and are evicted first"),
        "set resources.requests and resources.limits for memory and cpu on every container".to_string(),
    ));
}

/// A critical pod in the Burstable class.
fn burstable_critical_pod(i: &WorkloadInput<'_>, out: &mut Vec<Finding>) {
    if i.class != Qos::Burstable {
        return;
    }
    let Some(why) = critical_match(i.w, &i.ctx.critical) else {
        return;
    };
    let target = &i.target;
    out.push(Finding::new(
        "burstable-critical-pod",
        target,
        i.at(i.w.line),
        format!("{target} looks critical ({why}) but is Burstable: under node memory pressure it is OOM-killed and evicted before Guaranteed pods"),
        "make it Guaranteed: in every container set requests equal to limits for both memory and cpu".to_string(),
    ));
}

/// A memory-backed emptyDir without sizeLimit.
fn emptydir_memory_without_sizelimit(i: &WorkloadInput<'_>, out: &mut Vec<Finding>) {
    for v in &i.w.memory_volumes {
        if v.size_limit.is_none() {
            let mounts: Vec<String> = i.w.containers.iter().map(|c| c.name.clone()).collect();
            out.push(Finding::new(
                "emptydir-memory-without-sizelimit",
                &i.target,
                i.at(v.line),
                format!("emptyDir {:?} is memory-backed (tmpfs) without sizeLimit: files written there count as memory of the container that writes them ({}) and are only freed when deleted", v.name, mounts.join(", ")),
                format!("set emptyDir.sizeLimit on volume {:?} well below the container memory limit", v.name),
            ));
        }
    }
}

/// Whether a runtime setting does not fit the container's `limit`, with the message and
/// the fix.
fn runtime_problem(r: &Runtime, c: &Container, limit: u64) -> (bool, String, String) {
    let lim_s = human_bytes(limit);
    match r {
        Runtime::JvmHeap(b, src) => (
            *b >= limit,
            format!("{} {:?}: JVM heap {} ({src}) is at or above the memory limit {lim_s}; heap plus metaspace, threads and buffers cannot fit", c.role.word(), c.name, human_bytes(*b)),
            format!("set -Xmx at most {} (75% of the limit) or use -XX:MaxRAMPercentage=75", human_bytes(limit / 4 * 3)),
        ),
        Runtime::JvmPercent(p, src) => (
            *p >= 100.0,
            format!("{} {:?}: {src} lets the JVM heap take {p}% of the {lim_s} limit, leaving nothing for the rest of the JVM", c.role.word(), c.name),
            "use -XX:MaxRAMPercentage=75 or lower".to_string(),
        ),
        Runtime::NodeOldSpace(b, src) => (
            *b >= limit,
            format!("{} {:?}: Node's old space {} ({src}) is at or above the memory limit {lim_s}", c.role.word(), c.name, human_bytes(*b)),
            format!("set --max-old-space-size={} (75% of the limit, in MiB)", limit / 4 * 3 / MIB),
        ),
        Runtime::GoMemLimit(l, src) => (
            l.is_some_and(|l| l > limit),
            format!("{} {:?}: {src} is above the memory limit {lim_s}; the Go GC will not work harder before the kernel kills", c.role.word(), c.name),
            format!("set GOMEMLIMIT={}MiB (90% of the limit) or take it from limits.memory with resourceFieldRef", limit / 10 * 9 / MIB),
        ),
        Runtime::GoWithoutLimit(var) => (
            true,
            format!("{} {:?} configures the Go runtime ({var} is set) but not GOMEMLIMIT: the GC does not know about the {lim_s} limit", c.role.word(), c.name),
            format!("set GOMEMLIMIT={}MiB (90% of the limit), or from limits.memory with valueFrom.resourceFieldRef", limit / 10 * 9 / MIB),
        ),
    }
}

/// A runtime (JVM, Node, Go) sized at or above the container's memory limit.
fn runtime_heap_above_limit(i: &WorkloadInput<'_>, out: &mut Vec<Finding>) {
    for c in &i.w.containers {
        let Some(limit) = c
            .limits
            .memory
            .as_ref()
            .map(|a| a.quantity.ceil_u64())
            .or(i.pod_limit)
            .filter(|l| *l > 0)
        else {
            continue;
        };
        for r in runtime_settings(c) {
            let (bad, msg, fix) = runtime_problem(&r, c, limit);
            if bad {
                out.push(Finding::new(
                    "runtime-heap-above-limit",
                    &i.target,
                    i.at(c.line),
                    msg,
                    fix,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WORKLOAD_RULES;
    use crate::finding::RULES;

    #[test]
    fn the_workload_table_runs_every_kubernetes_rule_of_the_registry_once() {
        for r in WORKLOAD_RULES {
            let reg = RULES.iter().find(|x| x.id == r.id);
            assert!(
                reg.is_some_and(|x| x.applies_to.contains("kubernetes")),
                "{} is not a Kubernetes rule of RULES",
                r.id
            );
            assert_eq!(WORKLOAD_RULES.iter().filter(|x| x.id == r.id).count(), 1);
        }
        for r in RULES.iter().filter(|r| r.applies_to.contains("kubernetes")) {
            assert!(
                WORKLOAD_RULES.iter().any(|x| x.id == r.id),
                "{} has no function in WORKLOAD_RULES",
                r.id
            );
        }
    }
}
