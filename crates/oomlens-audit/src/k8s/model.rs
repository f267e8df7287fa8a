//! The Kubernetes audit's types: workloads and their containers as the rules read them,
//! the context, the summaries and errors reported. A leaf of the `k8s` modules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::finding::Finding;
use crate::size::Quantity;
use crate::yaml::Limits;

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
    pub(crate) fn word(self) -> &'static str {
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
pub(crate) struct LimitRangeDefaults {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) line: u32,
    pub(crate) default_limit: BTreeMap<String, Quantity>,
    pub(crate) default_request: BTreeMap<String, Quantity>,
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

/// A result whose error is a line and a message.
pub(crate) type Res<T> = Result<T, (u32, String)>;
