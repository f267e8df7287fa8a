//! Reading manifests: workloads, LimitRanges and `*List` items from parsed YAML nodes,
//! and the defaults the API server would give each container.

use std::collections::BTreeMap;
use std::path::Path;

use crate::k8s::model::{
    Amount, Container, Env, LimitRangeDefaults, MemoryVolume, Res, Resources, Role, Workload,
};
use crate::size::{parse_quantity, Quantity};
use crate::yaml::{Node, Value};

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

pub(crate) fn workload(obj: &Node, kind: &str, file: &Path) -> Res<Option<Workload>> {
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

pub(crate) fn limit_range(obj: &Node) -> Res<LimitRangeDefaults> {
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
pub(crate) fn objects<'a>(root: &'a Node, out: &mut Vec<Res<(&'a Node, String)>>) {
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
pub(crate) fn apply_defaults(w: &mut Workload, ranges: &[LimitRangeDefaults]) {
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
