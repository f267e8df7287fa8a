//! Kubernetes manifests: workloads found in YAML/JSON streams (multi-document, `List`
//! objects, `helm template` output), their pod specs checked against the memory rules.
//!
//! Kinds read: `Pod`, `PodTemplate`, `Deployment`, `StatefulSet`, `DaemonSet`,
//! `ReplicaSet`, `ReplicationController`, `Job`, `CronJob`, plus `LimitRange` (its container
//! defaults fill in missing limits, as the LimitRanger admission plugin does) and any
//! `*List` with `items`. Containers include init containers and sidecars (init containers
//! with `restartPolicy: Always`); ephemeral containers are left out, as the QoS class does.
//!
//! Before the rules run, each container gets what the API server would give it: requests
//! default to limits (`SetDefaults_Container`), then a namespace's LimitRange fills missing
//! limits and requests (`default`, else `max`; `defaultRequest`, else `default`). The QoS
//! class is computed as `GetPodQOS` (`pkg/apis/core/helper/qos/qos.go`) does: only cpu and
//! memory count, requests and limits summed over all containers.
//!
//! A document or object that cannot be read (malformed YAML, a field of the wrong type, a
//! bad quantity) becomes a [`ManifestError`] with its file and line; the other documents and
//! objects are still audited.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::finding::{glob_match, Finding};
use crate::size::{
    human_bytes_iec as human_bytes, parse_go_memlimit, parse_jvm_size, parse_quantity, Quantity,
    MIB,
};
use crate::yaml::{parse_stream, Limits, Node, Value};

/// A document or object that could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestError {
    /// The file (`-` for standard input).
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// What the Kubernetes rules need besides the manifests.
#[derive(Debug, Clone, Default)]
pub struct K8sContext {
    /// Glob patterns of critical workloads (object, container or image name).
    pub critical: Vec<String>,
    /// Limits for one document.
    pub limits: Limits,
}

/// QoS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Qos {
    /// Requests equal limits for cpu and memory everywhere.
    Guaranteed,
    /// Anything between.
    Burstable,
    /// No requests or limits at all.
    BestEffort,
}

/// Where a container sits in the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `spec.containers[]`.
    Container,
    /// `spec.initContainers[]`.
    Init,
    /// An init container with `restartPolicy: Always`.
    Sidecar,
}

impl Role {
    fn word(self) -> &'static str {
        match self {
            Role::Container => "container",
            Role::Init => "init container",
            Role::Sidecar => "sidecar container",
        }
    }
}

/// A resource amount and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// The quantity.
    pub quantity: Quantity,
    /// Line in the manifest (of the LimitRange when defaulted from one).
    pub line: u32,
    /// `Some(name)` when a LimitRange supplied it; `Some("request from limit")` when the
    /// request was defaulted from the limit.
    pub from: Option<String>,
}

/// cpu and memory of requests or limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Memory.
    pub memory: Option<Amount>,
    /// CPU.
    pub cpu: Option<Amount>,
}

/// An environment variable of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// Name.
    pub name: String,
    /// Literal value, `None` for `valueFrom`.
    pub value: Option<String>,
    /// `valueFrom.resourceFieldRef.resource` when set (e.g. `limits.memory`).
    pub resource_field: Option<String>,
}

/// One container of a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// Line of the container's entry.
    pub line: u32,
    /// Regular, init or sidecar.
    pub role: Role,
    /// `image`.
    pub image: Option<String>,
    /// `command` then `args`.
    pub argv: Vec<String>,
    /// `env`.
    pub env: Vec<Env>,
    /// `resources.requests` (after defaulting).
    pub requests: Resources,
    /// `resources.limits` (after defaulting).
    pub limits: Resources,
}

/// A memory-backed emptyDir volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryVolume {
    /// Volume name.
    pub name: String,
    /// Line of the volume entry.
    pub line: u32,
    /// `sizeLimit`.
    pub size_limit: Option<Quantity>,
}

/// A workload read from a manifest.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `kind`.
    pub kind: String,
    /// `metadata.name` (or `generateName`).
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// The file.
    pub file: PathBuf,
    /// Line of the object.
    pub line: u32,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// All containers (regular, init, sidecar).
    pub containers: Vec<Container>,
    /// Pod-level `spec.resources` (Kubernetes 1.32+), when set.
    pub pod_resources: Option<(Resources, Resources)>,
    /// Memory-backed emptyDirs.
    pub memory_volumes: Vec<MemoryVolume>,
}

impl Workload {
    /// `Kind/name` or `Kind/namespace/name`.
    pub fn target(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// A LimitRange's container defaults.
#[derive(Debug, Clone)]
struct LimitRangeDefaults {
    name: String,
    namespace: Option<String>,
    line: u32,
    default_limit: BTreeMap<String, Quantity>,
    default_request: BTreeMap<String, Quantity>,
}

/// The summary of one workload for JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectSummary {
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// Line of the object.
    pub line: u32,
    /// QoS class of its pods.
    pub qos: Qos,
    /// Its containers.
    pub containers: Vec<ContainerSummary>,
}

/// One container in [`ObjectSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct ContainerSummary {
    /// `name`.
    pub name: String,
    /// Regular, init or sidecar.
    pub role: Role,
    /// Memory request in bytes.
    pub memory_request: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit: Option<u64>,
    /// The LimitRange the limit came from.
    pub limit_from: Option<String>,
}

/// The result of auditing manifests.
#[derive(Debug, Clone, Default)]
pub struct K8sAudit {
    /// Workloads read, in input order.
    pub objects: Vec<ObjectSummary>,
    /// Findings, in input order.
    pub findings: Vec<Finding>,
    /// Documents or objects that could not be audited.
    pub errors: Vec<ManifestError>,
    /// Documents read (including those with errors).
    pub documents: usize,
}

type Res<T> = Result<T, (u32, String)>;

fn want_map<'a>(n: &'a Node, path: &str) -> Res<&'a [(Node, Node)]> {
    match &n.value {
        Value::Map(m) => Ok(m),
        _ => Err((
            n.line,
            format!("{path}: expected a mapping, found {}", n.type_name()),
        )),
    }
}

fn want_seq<'a>(n: &'a Node, path: &str) -> Res<&'a [Node]> {
    match &n.value {
        Value::Seq(s) => Ok(s),
        _ => Err((
            n.line,
            format!("{path}: expected a list, found {}", n.type_name()),
        )),
    }
}

/// A string field: like the API server's JSON decoder, a number or boolean is refused.
fn want_str<'a>(n: &'a Node, path: &str) -> Res<&'a str> {
    match &n.value {
        Value::Str { text, .. } if n.type_name() == "a string" => Ok(text),
        _ => Err((
            n.line,
            format!("{path}: expected a string, found {}", n.type_name()),
        )),
    }
}

/// An optional field: absent and `null` are both `None`.
fn field<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.get(key).filter(|v| !v.is_null())
}

fn opt_str(n: &Node, key: &str, path: &str) -> Res<Option<String>> {
    field(n, key)
        .map(|v| want_str(v, &format!("{path}.{key}")).map(str::to_string))
        .transpose()
}

fn quantity(n: &Node, path: &str) -> Res<Quantity> {
    let text = match &n.value {
        Value::Str { text, .. } => text.as_str(),
        _ => {
            return Err((
                n.line,
                format!(
                    "{path}: expected a quantity (e.g. 512Mi), found {}",
                    n.type_name()
                ),
            ))
        }
    };
    let q = parse_quantity(text).map_err(|e| (n.line, format!("{path}: {e}")))?;
    if q.negative && !q.is_zero() {
        return Err((n.line, format!("{path}: {text:?} must not be negative")));
    }
    Ok(q)
}

fn resources(n: Option<&Node>, path: &str) -> Res<(Resources, Resources)> {
    let mut req = Resources::default();
    let mut lim = Resources::default();
    let Some(n) = n else {
        return Ok((req, lim));
    };
    want_map(n, path)?;
    for (key, out) in [("requests", &mut req), ("limits", &mut lim)] {
        let Some(m) = field(n, key) else { continue };
        let p = format!("{path}.{key}");
        for (k, v) in want_map(m, &p)? {
            let Some(name) = k.as_str() else { continue };
            if name != "memory" && name != "cpu" {
                continue;
            }
            if v.is_null() {
                continue;
            }
            let q = quantity(v, &format!("{p}.{name}"))?;
            let a = Some(Amount {
                quantity: q,
                line: v.line,
                from: None,
            });
            if name == "memory" {
                out.memory = a;
            } else {
                out.cpu = a;
            }
        }
    }
    Ok((req, lim))
}

fn container(n: &Node, role: Role, path: &str) -> Res<Container> {
    want_map(n, path)?;
    let name = opt_str(n, "name", path)?.unwrap_or_else(|| "(unnamed)".to_string());
    let image = opt_str(n, "image", path)?;
    let mut argv = Vec::new();
    for key in ["command", "args"] {
        if let Some(list) = field(n, key) {
            let p = format!("{path}.{key}");
            for item in want_seq(list, &p)? {
                argv.push(want_str(item, &p)?.to_string());
            }
        }
    }
    let mut env = Vec::new();
    if let Some(list) = field(n, "env") {
        let p = format!("{path}.env");
        for item in want_seq(list, &p)? {
            want_map(item, &p)?;
            let Some(en) = opt_str(item, "name", &p)? else {
                continue;
            };
            let value = opt_str(item, "value", &p)?;
            let resource_field = field(item, "valueFrom")
                .and_then(|v| field(v, "resourceFieldRef"))
                .and_then(|r| field(r, "resource"))
                .and_then(|r| r.as_str())
                .map(str::to_string);
            env.push(Env {
                name: en,
                value,
                resource_field,
            });
        }
    }
    let role =
        if role == Role::Init && opt_str(n, "restartPolicy", path)?.as_deref() == Some("Always") {
            Role::Sidecar
        } else {
            role
        };
    let (requests, limits) = resources(field(n, "resources"), &format!("{path}.resources"))?;
    Ok(Container {
        name,
        line: n.line,
        role,
        image,
        argv,
        env,
        requests,
        limits,
    })
}

/// The pod spec of a workload object, with the path used in messages.
fn pod_spec<'a>(obj: &'a Node, kind: &str) -> Res<Option<(&'a Node, &'static str)>> {
    let path: &[&str] = match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return Ok(None),
    };
    let name: &'static str = match kind {
        "Pod" => "spec",
        "PodTemplate" => "template.spec",
        "CronJob" => "spec.jobTemplate.spec.template.spec",
        _ => "spec.template.spec",
    };
    let mut cur = obj;
    let mut walked = String::new();
    for p in path {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(p);
        want_map(
            cur,
            if walked.contains('.') {
                &walked
            } else {
                "object"
            },
        )?;
        match field(cur, p) {
            Some(next) => cur = next,
            None => return Err((cur.line, format!("{walked} is missing"))),
        }
    }
    want_map(cur, name)?;
    Ok(Some((cur, name)))
}

fn workload(obj: &Node, kind: &str, file: &Path) -> Res<Option<Workload>> {
    let Some((spec, sp)) = pod_spec(obj, kind)? else {
        return Ok(None);
    };
    let meta = field(obj, "metadata");
    if let Some(m) = meta {
        want_map(m, "metadata")?;
    }
    let name = meta
        .map(|m| -> Res<Option<String>> {
            Ok(opt_str(m, "name", "metadata")?.or(opt_str(m, "generateName", "metadata")?))
        })
        .transpose()?
        .flatten()
        .unwrap_or_else(|| "(unnamed)".to_string());
    let namespace = meta
        .map(|m| opt_str(m, "namespace", "metadata"))
        .transpose()?
        .flatten();
    let mut containers = Vec::new();
    for (key, role) in [
        ("initContainers", Role::Init),
        ("containers", Role::Container),
    ] {
        if let Some(list) = field(spec, key) {
            let p = format!("{sp}.{key}");
            for (i, c) in want_seq(list, &p)?.iter().enumerate() {
                containers.push(container(c, role, &format!("{p}[{i}]"))?);
            }
        }
    }
    if !containers.iter().any(|c| c.role == Role::Container) {
        return Err((spec.line, format!("{sp}.containers is missing or empty")));
    }
    let pod_resources = match field(spec, "resources") {
        Some(r) => Some(resources(Some(r), &format!("{sp}.resources"))?),
        None => None,
    };
    let mut memory_volumes = Vec::new();
    if let Some(vols) = field(spec, "volumes") {
        let p = format!("{sp}.volumes");
        for v in want_seq(vols, &p)? {
            want_map(v, &p)?;
            let Some(ed) = field(v, "emptyDir") else {
                continue;
            };
            want_map(ed, &format!("{p}.emptyDir"))?;
            if opt_str(ed, "medium", &p)?.as_deref() != Some("Memory") {
                continue;
            }
            let size_limit = field(ed, "sizeLimit")
                .map(|s| quantity(s, &format!("{p}.emptyDir.sizeLimit")))
                .transpose()?;
            memory_volumes.push(MemoryVolume {
                name: opt_str(v, "name", &p)?.unwrap_or_default(),
                line: v.line,
                size_limit,
            });
        }
    }
    Ok(Some(Workload {
        kind: kind.to_string(),
        name,
        namespace,
        file: file.to_path_buf(),
        line: obj.line,
        priority_class: opt_str(spec, "priorityClassName", sp)?,
        containers,
        pod_resources,
        memory_volumes,
    }))
}

fn limit_range(obj: &Node) -> Res<LimitRangeDefaults> {
    let meta = field(obj, "metadata");
    let name = meta
        .map(|m| opt_str(m, "name", "metadata"))
        .transpose()?
        .flatten()
        .unwrap_or_default();
    let namespace = meta
        .map(|m| opt_str(m, "namespace", "metadata"))
        .transpose()?
        .flatten();
    let mut lr = LimitRangeDefaults {
        name,
        namespace,
        line: obj.line,
        default_limit: BTreeMap::new(),
        default_request: BTreeMap::new(),
    };
    let Some(spec) = field(obj, "spec") else {
        return Ok(lr);
    };
    want_map(spec, "spec")?;
    let Some(limits) = field(spec, "limits") else {
        return Ok(lr);
    };
    for item in want_seq(limits, "spec.limits")? {
        want_map(item, "spec.limits[]")?;
        if opt_str(item, "type", "spec.limits[]")?.as_deref() != Some("Container") {
            continue;
        }
        let read = |key: &str| -> Res<BTreeMap<String, Quantity>> {
            let mut m = BTreeMap::new();
            if let Some(v) = field(item, key) {
                for (k, q) in want_map(v, &format!("spec.limits[].{key}"))? {
                    if let Some(k) = k.as_str() {
                        if k == "memory" || k == "cpu" {
                            m.insert(
                                k.to_string(),
                                quantity(q, &format!("spec.limits[].{key}.{k}"))?,
                            );
                        }
                    }
                }
            }
            Ok(m)
        };
        let max = read("max")?;
        let mut default = read("default")?;
        let mut default_request = read("defaultRequest")?;
        // SetDefaults_LimitRangeItem: default from max, defaultRequest from default.
        for (k, v) in &max {
            default.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &default {
            default_request
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        lr.default_limit.extend(default);
        lr.default_request.extend(default_request);
    }
    Ok(lr)
}

/// Flattens `List` objects; returns `(object node, kind)` pairs, or errors for objects
/// whose `kind` is not a string.
fn objects<'a>(root: &'a Node, out: &mut Vec<Res<(&'a Node, String)>>) {
    let Value::Map(_) = root.value else {
        out.push(Err((
            root.line,
            format!(
                "expected a Kubernetes object (a mapping), found {}",
                root.type_name()
            ),
        )));
        return;
    };
    let kind = match field(root, "kind") {
        None => return, // not a Kubernetes object (e.g. a values file): nothing to audit
        Some(k) => match want_str(k, "kind") {
            Ok(k) => k.to_string(),
            Err(e) => {
                out.push(Err(e));
                return;
            }
        },
    };
    if kind == "List" || (kind.ends_with("List") && field(root, "items").is_some()) {
        if let Some(items) = field(root, "items") {
            match want_seq(items, "items") {
                Ok(list) => {
                    for it in list {
                        objects(it, out);
                    }
                }
                Err(e) => out.push(Err(e)),
            }
        }
        return;
    }
    out.push(Ok((root, kind)));
}

/// Applies the API server's defaulting and LimitRange defaults to a workload's containers.
fn apply_defaults(w: &mut Workload, ranges: &[LimitRangeDefaults]) {
    for c in &mut w.containers {
        // SetDefaults_Container: a missing request takes the limit.
        for (req, lim) in [
            (&mut c.requests.memory, &c.limits.memory),
            (&mut c.requests.cpu, &c.limits.cpu),
        ] {
            if req.is_none() {
                if let Some(l) = lim {
                    *req = Some(Amount {
                        from: Some("request from limit".to_string()),
                        ..l.clone()
                    });
                }
            }
        }
        let Some(lr) = ranges.iter().find(|r| r.namespace == w.namespace) else {
            continue;
        };
        for (res, lim, req) in [
            ("memory", &mut c.limits.memory, &mut c.requests.memory),
            ("cpu", &mut c.limits.cpu, &mut c.requests.cpu),
        ] {
            if lim.is_none() {
                if let Some(q) = lr.default_limit.get(res) {
                    *lim = Some(Amount {
                        quantity: q.clone(),
                        line: lr.line,
                        from: Some(format!("LimitRange/{}", lr.name)),
                    });
                }
            }
            if req.is_none() {
                if let Some(q) = lr.default_request.get(res) {
                    *req = Some(Amount {
                        quantity: q.clone(),
                        line: lr.line,
                        from: Some(format!("LimitRange/{}", lr.name)),
                    });
                }
            }
        }
    }
}

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

/// Runs every Kubernetes rule on one workload (after defaulting).
pub fn audit_workload(w: &Workload, ctx: &K8sContext) -> Vec<Finding> {
    let mut out = Vec::new();
    let target = w.target();
    let at = |line: u32| Some((w.file.clone(), line));
    let class = qos(w);
    let pod_limit = w
        .pod_resources
        .as_ref()
        .and_then(|(_, l)| l.memory.as_ref())
        .map(|a| a.quantity.ceil_u64());

    for c in &w.containers {
        // A zero limit counts as none, as in the QoS computation.
        let unlimited = c
            .limits
            .memory
            .as_ref()
            .is_none_or(|a| a.quantity.is_zero());
        if unlimited && pod_limit.is_none_or(|l| l == 0) {
            let req = c
                .requests
                .memory
                .as_ref()
                .map(|r| format!(" (request {})", r.quantity))
                .unwrap_or_default();
            out.push(Finding::new(
                "no-memory-limit",
                &target,
                at(c.line),
                format!("{} {:?} has no memory limit{req}: it can use the node's memory until the kernel or the kubelet kills something", c.role.word(), c.name),
                format!("set resources.limits.memory on {} {:?} (from its observed peak plus headroom)", c.role.word(), c.name),
            ));
        }
    }

    if class == Qos::BestEffort {
        out.push(Finding::new(
            "besteffort-pod",
            &target,
            at(w.line),
            format!("{target} is BestEffort (no container has cpu or memory requests or limits): its pods get oom_score_adj 1000 and are evicted first"),
            "set resources.requests and resources.limits for memory and cpu on every container".to_string(),
        ));
    }
    if class == Qos::Burstable {
        if let Some(why) = critical_match(w, &ctx.critical) {
            out.push(Finding::new(
                "burstable-critical-pod",
                &target,
                at(w.line),
                format!("{target} looks critical ({why}) but is Burstable: under node memory pressure it is OOM-killed and evicted before Guaranteed pods"),
                "make it Guaranteed: in every container set requests equal to limits for both memory and cpu".to_string(),
            ));
        }
    }

    for v in &w.memory_volumes {
        if v.size_limit.is_none() {
            let mounts: Vec<String> = w.containers.iter().map(|c| c.name.clone()).collect();
            out.push(Finding::new(
                "emptydir-memory-without-sizelimit",
                &target,
                at(v.line),
                format!("emptyDir {:?} is memory-backed (tmpfs) without sizeLimit: files written there count as memory of the container that writes them ({}) and are only freed when deleted", v.name, mounts.join(", ")),
                format!("set emptyDir.sizeLimit on volume {:?} well below the container memory limit", v.name),
            ));
        }
    }

    for c in &w.containers {
        let Some(limit) = c
            .limits
            .memory
            .as_ref()
            .map(|a| a.quantity.ceil_u64())
            .or(pod_limit)
            .filter(|l| *l > 0)
        else {
            continue;
        };
        let lim_s = human_bytes(limit);
        for r in runtime_settings(c) {
            let (bad, msg, fix) = match &r {
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
            };
            if bad {
                out.push(Finding::new(
                    "runtime-heap-above-limit",
                    &target,
                    at(c.line),
                    msg,
                    fix,
                ));
            }
        }
    }
    out
}

/// Audits manifest texts: `(file name, text)` pairs, `-` naming standard input.
pub fn audit_manifests(inputs: &[(PathBuf, String)], ctx: &K8sContext) -> K8sAudit {
    let mut audit = K8sAudit::default();
    let mut parsed = Vec::new();
    for (file, text) in inputs {
        let docs = parse_stream(text, &ctx.limits);
        audit.documents += docs.len();
        parsed.push((file, docs));
    }
    let err = |file: &Path, (line, message): (u32, String)| ManifestError {
        file: file.to_path_buf(),
        line,
        message,
    };
    // LimitRanges first: they apply to workloads in any file.
    let mut ranges = Vec::new();
    let mut work: Vec<(PathBuf, Res<Workload>)> = Vec::new();
    for (file, docs) in &parsed {
        for d in docs {
            let doc = match d {
                Ok(doc) => doc,
                Err(e) => {
                    audit.errors.push(ManifestError {
                        file: file.to_path_buf(),
                        line: e.line,
                        message: match e.column {
                            Some(c) => format!("invalid YAML at column {c}: {}", e.message),
                            None => e.message.clone(),
                        },
                    });
                    continue;
                }
            };
            let Some(root) = &doc.root else { continue };
            let mut objs = Vec::new();
            objects(root, &mut objs);
            for o in objs {
                match o {
                    Err(e) => audit.errors.push(err(file, e)),
                    Ok((node, kind)) if kind == "LimitRange" => match limit_range(node) {
                        Ok(lr) => ranges.push(lr),
                        Err(e) => audit.errors.push(err(file, e)),
                    },
                    Ok((node, kind)) => match workload(node, &kind, file) {
                        Ok(Some(w)) => work.push((file.to_path_buf(), Ok(w))),
                        Ok(None) => {}
                        Err(e) => work.push((file.to_path_buf(), Err(e))),
                    },
                }
            }
        }
    }
    for (file, w) in work {
        let mut w = match w {
            Ok(w) => w,
            Err(e) => {
                audit.errors.push(err(&file, e));
                continue;
            }
        };
        apply_defaults(&mut w, &ranges);
        audit.findings.extend(audit_workload(&w, ctx));
        audit.objects.push(ObjectSummary {
            kind: w.kind.clone(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            file: w.file.clone(),
            line: w.line,
            qos: qos(&w),
            containers: w
                .containers
                .iter()
                .map(|c| ContainerSummary {
                    name: c.name.clone(),
                    role: c.role,
                    memory_request: c.requests.memory.as_ref().map(|a| a.quantity.ceil_u64()),
                    memory_limit: c.limits.memory.as_ref().map(|a| a.quantity.ceil_u64()),
                    limit_from: c.limits.memory.as_ref().and_then(|a| a.from.clone()),
                })
                .collect(),
        });
    }
    audit
        .errors
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    audit
}
