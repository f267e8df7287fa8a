//! The kubelet, kubectl and containerd: one function per wording. `kubectl describe pod`
//! and `kubectl get pod -o yaml|json` are read over many lines, so some functions only keep
//! state (the pod, container and container id last named) for the wordings after them.
//!
//! The functions are rows of `RECOGNIZERS` (recognizers.rs), tried in its order.

use std::collections::VecDeque;

use oomlens_model::{Completeness, Incident, Kill, KillEvidence, Kind, LogTime, Witness};

use crate::podstatus::PodStatus;
use crate::userspace::notices::{link_witness, memcg_names};
use crate::userspace::state::{Msg, UserAssembler};

/// Lines within which a kubelet container status gathers its exit code, container and pod.
const KUBE_WINDOW: u64 = 24;

/// A kubelet incident of one kill.
fn kubelet_incident(m: &mut Msg<'_, '_>, kill: Kill) {
    let mut inc = Incident::new(m.line, m.env.time.clone());
    inc.kind = Some(Kind::Kubelet);
    inc.completeness = Completeness::Full;
    inc.kills.push(kill);
    m.hold.push_back(inc);
}

/// State only: a `kubectl get pod -o yaml|json` document (an evicted pod when it ends),
/// `kubectl describe pod`'s `Name:` at column 0, and a `Container ID:`/`containerID:`.
pub(super) fn pod_and_describe_headers(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    if let Some(s) = u.pod.push(m.line, m.raw) {
        evicted_pod(s, m.hold);
    }
    if let Some(v) = m.raw.strip_prefix("Name:") {
        u.describe_pod = Some((v.trim().to_string(), m.line));
    }
    if let Some(id) =
        m.t.strip_prefix("Container ID:")
            .or_else(|| m.t.strip_prefix("containerID:"))
    {
        let id = id
            .trim()
            .trim_matches('"')
            .rsplit("://")
            .next()
            .unwrap_or("")
            .to_string();
        u.describe_container_id = Some((id, m.line));
    }
    false
}

/// containerd: `TaskOOM event &TaskOOM{ContainerID:<id>,…}` (≤ 1.6) or
/// `TaskOOM event container_id:\"<id>\"` (1.7+): only a witness of a kernel kill.
pub(super) fn containerd_task_oom(_: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let Some((_, r)) = m.t.split_once("TaskOOM event ") else {
        return false;
    };
    let id: String = r
        .trim_start_matches("&TaskOOM{ContainerID:")
        .trim_start_matches("container_id:")
        .trim_start_matches(['\\', '"'])
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    if id.len() >= 12 {
        let w = Witness {
            source: "containerd TaskOOM".into(),
            container_id: Some(id.clone()),
            pod: None,
            container: None,
            line: m.line,
        };
        link_witness(w, |inc| memcg_names(inc, &id), m.kernel, m.hold);
    }
    true
}

/// State only: under `Containers:` of a describe, each container is a two-space-indented
/// `name:` line.
pub(super) fn describe_containers(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let raw = m.raw;
    if matches!(raw.trim_end(), "Containers:" | "Init Containers:") {
        u.in_containers = true;
    } else if u.in_containers {
        let name = raw
            .strip_prefix("  ")
            .filter(|r| !r.starts_with(' '))
            .and_then(|r| r.trim_end().strip_suffix(':'));
        match name {
            Some(n) if !n.is_empty() && !n.contains(' ') => {
                u.describe_container = Some((n.to_string(), m.line))
            }
            _ if !raw.starts_with(' ') => u.in_containers = false,
            _ => {}
        }
    }
    false
}

/// describe `Exit Code: 137`, yaml `exitCode: 137`, json `"exitCode": 137`: added to the
/// kubelet kill just above, else kept for a status below.
pub(super) fn exit_code(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let t = m.t;
    let Some(v) = t
        .strip_prefix("Exit Code:")
        .or_else(|| t.strip_prefix("exitCode:"))
        .or_else(|| t.strip_prefix("\"exitCode\":"))
    else {
        return false;
    };
    let line = m.line;
    if let Ok(code) = v.trim().trim_end_matches(',').parse() {
        u.exit_code = Some((code, line));
        if let Some(inc) = m
            .hold
            .iter_mut()
            .rev()
            .find(|i| i.kind == Some(Kind::Kubelet))
        {
            if let Some(k) = inc.kills.last_mut() {
                if k.exit_code.is_none() && line <= inc.source.last_line + KUBE_WINDOW {
                    k.exit_code = Some(code);
                    inc.source.last_line = line;
                }
            }
        }
    }
    true
}

/// Evicted events: `… Evicted  pod/name  The node was low on resource: memory. Container
/// <c> was using <n>Ki, …` or `The node had condition: [MemoryPressure].`
pub(super) fn evicted_event(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let t = m.t;
    let Some(i) = t.find("Evicted") else {
        return false;
    };
    let msg = &t[i..];
    if !(msg.contains("low on resource: memory") || msg.contains("MemoryPressure")) {
        return false;
    }
    let pod = msg
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pod/"))
        .map(str::to_string)
        .or_else(|| u.describe_pod.as_ref().map(|(p, _)| p.clone()));
    let container = msg
        .split_once("Container ")
        .and_then(|(_, r)| r.split(' ').next())
        .map(str::to_string);
    let rss_kb = msg
        .split_once(" was using ")
        .and_then(|(_, r)| r.split([',', ' ']).next())
        .and_then(parse_kube_quantity_kib);
    let kill = Kill {
        evidence: Some(KillEvidence::Kubelet),
        comm: container.clone().or_else(|| pod.clone()),
        pod,
        container,
        rss_kb,
        reason: Some("Evicted".into()),
        time: m.env.time.clone(),
        line: m.line,
        ..Kill::default()
    };
    kubelet_incident(m, kill);
    true
}

/// kubelet's SystemOOM node event (pkg/kubelet/oom/oom_watcher_linux.go): `System OOM
/// encountered, victim process: <comm>, pid: <pid>`. A witness of the kernel's kill when
/// that is known, else a kubelet incident.
pub(super) fn system_oom(_: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let Some((_, r)) = m.t.split_once("System OOM encountered, victim process: ") else {
        return false;
    };
    let (comm, pid) = r.rsplit_once(", pid: ").unwrap_or((r, ""));
    let pid: Option<u32> = pid.trim().parse().ok();
    let w = Witness {
        source: "kubelet SystemOOM".into(),
        container_id: None,
        pod: None,
        container: None,
        line: m.line,
    };
    if link_witness(
        w,
        |inc| pid.is_some() && inc.kills.iter().any(|k| k.pid == pid),
        m.kernel,
        m.hold,
    ) {
        return true;
    }
    let kill = Kill {
        evidence: Some(KillEvidence::Kubelet),
        pid,
        comm: Some(comm.to_string()),
        reason: Some("SystemOOM".into()),
        time: m.env.time.clone(),
        line: m.line,
        ..Kill::default()
    };
    kubelet_incident(m, kill);
    true
}

/// `kubectl get pods`: NAME READY STATUS RESTARTS AGE with STATUS `OOMKilled`.
pub(super) fn get_pods_row(_: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let mut words = m.t.split_whitespace();
    let (Some(name), Some(ready), Some("OOMKilled")) = (words.next(), words.next(), words.next())
    else {
        return false;
    };
    if !ready.contains('/') {
        return false;
    }
    let kill = Kill {
        evidence: Some(KillEvidence::Kubelet),
        comm: Some(name.to_string()),
        pod: Some(name.to_string()),
        reason: Some("OOMKilled".into()),
        time: m.env.time.clone(),
        line: m.line,
        ..Kill::default()
    };
    kubelet_incident(m, kill);
    true
}

/// A container status: describe `Reason: OOMKilled`, yaml `reason: OOMKilled`, json
/// `"reason": "OOMKilled"`. Added to a `get pods` row just above, else a witness of the
/// kernel kill in the container named by the describe's `Container ID:`, else a kubelet
/// incident naming the pod and container the describe printed above it.
pub(super) fn container_status(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let t = m.t;
    let mut words = t.split_whitespace();
    let is_status = matches!(
        (words.next(), words.next(), words.next()),
        (Some("Reason:" | "reason:"), Some("OOMKilled"), None)
    ) || t.replace(' ', "").starts_with("\"reason\":\"OOMKilled\"");
    if !is_status {
        return false;
    }
    let line = m.line;
    // The same kill already reported by a `get pods` row just above: add to it.
    if let Some(inc) = m
        .hold
        .iter_mut()
        .rev()
        .find(|i| i.kind == Some(Kind::Kubelet))
    {
        if line <= inc.source.last_line + KUBE_WINDOW
            && inc
                .kills
                .last()
                .is_some_and(|k| k.reason.as_deref() == Some("OOMKilled") && k.exit_code.is_none())
        {
            inc.source.last_line = line;
            return true;
        }
    }
    let recent = |v: &Option<(String, u64)>| {
        v.as_ref()
            .filter(|(_, l)| line - l < 200)
            .map(|(s, _)| s.clone())
    };
    if let Some(id) = recent(&u.describe_container_id).filter(|i| i.len() >= 12) {
        let w = Witness {
            source: "kubelet OOMKilled".into(),
            container_id: Some(id.clone()),
            pod: recent(&u.describe_pod),
            container: recent(&u.describe_container),
            line,
        };
        if link_witness(w, |inc| memcg_names(inc, &id), m.kernel, m.hold) {
            return true;
        }
    }
    let pod = recent(&u.describe_pod);
    let container = recent(&u.describe_container);
    let kill = Kill {
        evidence: Some(KillEvidence::Kubelet),
        comm: container.clone().or_else(|| pod.clone()),
        pod,
        container,
        exit_code: u.exit_code.filter(|(_, l)| line - l <= 3).map(|(c, _)| c),
        reason: Some("OOMKilled".into()),
        time: m.env.time.clone(),
        line,
        ..Kill::default()
    };
    kubelet_incident(m, kill);
    true
}

/// A pod evicted for memory (`status.reason: Evicted` and a `status.message` about memory;
/// evictions for ephemeral-storage, disk or pids are no memory kills): one kill per container
/// the message names, with the usage it gives, else one for the pod (naming its container
/// when it had only one).
pub(super) fn evicted_pod(s: PodStatus, hold: &mut VecDeque<Incident>) {
    let Some(msg) = s.message.as_deref() else {
        return;
    };
    if s.reason.as_deref() != Some("Evicted")
        || !(msg.contains("low on resource: memory") || msg.contains("MemoryPressure"))
    {
        return;
    }
    let mut named: Vec<(Option<String>, Option<u64>)> = eviction_containers(msg)
        .into_iter()
        .map(|(c, q)| (Some(c.to_string()), q))
        .collect();
    if named.is_empty() {
        let only = match s.containers.as_slice() {
            [c] => c.name.clone(),
            _ => None,
        };
        named.push((only, None));
    }
    let mut inc = Incident::new(s.lines.0, LogTime::default());
    inc.kind = Some(Kind::Kubelet);
    inc.completeness = Completeness::Full;
    inc.source.last_line = s.lines.1;
    for (container, rss_kb) in named {
        let status = s.containers.iter().find(|c| c.name == container);
        inc.kills.push(Kill {
            evidence: Some(KillEvidence::Kubelet),
            comm: container.clone().or_else(|| s.name.clone()),
            pod: s.name.clone(),
            container,
            rss_kb,
            exit_code: status.and_then(|c| c.exit_code),
            reason: Some("Evicted".into()),
            line: s.lines.0,
            ..Kill::default()
        });
    }
    hold.push_back(inc);
}

/// Every `Container <name> was using <quantity>` of an eviction message
/// (pkg/kubelet/eviction/helpers.go containerMessageFmt, both wordings).
fn eviction_containers(msg: &str) -> Vec<(&str, Option<u64>)> {
    msg.split("Container ")
        .skip(1)
        .filter_map(|part| {
            let (name, rest) = part.split_once(" was using ")?;
            let q = rest
                .split([',', ' '])
                .next()
                .and_then(parse_kube_quantity_kib);
            (!name.contains(' ')).then_some((name, q))
        })
        .collect()
}

/// Kubernetes quantities in KiB: `5053216Ki`, `512Mi`, `1Gi`, `1e6`, `100M`.
pub(super) fn parse_kube_quantity_kib(q: &str) -> Option<u64> {
    // Plain and e-notation numbers are bytes.
    if let Ok(bytes) = q.parse::<f64>() {
        return (bytes >= 0.0).then(|| (bytes / 1024.0).round() as u64);
    }
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult: f64 = match unit {
        "" => 1.0 / 1024.0,
        "Ki" => 1.0,
        "Mi" => 1024.0,
        "Gi" => 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0,
        "k" => 1000.0 / 1024.0,
        "M" => 1e6 / 1024.0,
        "G" => 1e9 / 1024.0,
        _ => return None,
    };
    Some((n * mult).round() as u64)
}
