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
//!
//! Modules: `model` (the types), `read` (nodes to workloads, defaulting), `rules` (one
//! function per rule, run in the order of [`WORKLOAD_RULES`]).

use std::path::{Path, PathBuf};

use crate::yaml::parse_stream;

mod model;
mod read;
mod rules;

pub use model::{
    Amount, Container, ContainerSummary, Env, K8sAudit, K8sContext, ManifestError, MemoryVolume,
    ObjectSummary, Qos, Resources, Role, Workload,
};
pub use rules::{audit_workload, critical_match, qos, WorkloadInput, WorkloadRule, WORKLOAD_RULES};

use model::Res;
use read::{apply_defaults, limit_range, objects, workload};

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
