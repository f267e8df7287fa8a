//! Userspace killers and witnesses: systemd-oomd, earlyoom, the kubelet, and systemd's
//! unit notices (which are linked to the kernel incident they describe).
//!
//! Wordings (see docs/log-formats.md for sources):
//! - systemd-oomd (src/oom/oomd.c): `Killed <cg> due to memory pressure for <cg> being
//!   <v>% > <l>% for > <t> with reclaim activity`, `Killed <cg> due to memory used (…) / total
//!   (…) and swap used (…) / total (…) being more than <l>%`, and since v254 `Marked <cg> for
//!   killing due to …` preceded by `oomd attempting to kill <pid> with <SIG>`;
//! - earlyoom: `sending SIGTERM to process <pid> uid <uid> "<comm>": oom_score <n>, VmRSS <n>
//!   MiB[, cmdline "…"]` (1.7+), `sending SIGTERM to process <pid> uid <uid> "<comm>": badness
//!   <n>, VmRSS <n> MiB` (1.6), `killing process <pid> "<comm>" with signal <n>: badness <n>,
//!   VmRSS <n> MiB` (1.2–1.3); then `kill failed: …`, `process <pid> exited after <s> seconds`,
//!   `escalating to SIGKILL after …`;
//! - systemd (PID 1 and user managers, src/core/unit.c, service.c): `<unit>: A process of this
//!   unit has been killed by the OOM killer.`, `<unit>: Failed with result 'oom-kill'.`,
//!   `<unit>: systemd-oomd killed <n> process(es) in this unit.`, `<unit>: Main process exited,
//!   code=killed, status=9/KILL`, `<unit>: Scheduled restart job, restart counter is at <n>.`;
//! - kubelet / kubectl: `Evicted` events (`The node was low on resource: memory. Container <c>
//!   was using <n>Ki, which exceeds its request of <m>.`, `The node had condition:
//!   [MemoryPressure].`), `kubectl describe` container states (`Reason: OOMKilled`, `Exit Code:
//!   137`), `kubectl get pods` rows with STATUS `OOMKilled`, `-o yaml/json` statuses
//!   (`reason: OOMKilled`, `exitCode: 137`).

use std::collections::VecDeque;

use oomlens_model::{
    Completeness, Incident, Kill, KillEvidence, Kind, LogTime, Notice, NoticeKind, OomdTrigger,
    Witness,
};

use crate::assemble::KernelAssembler;
use crate::envelope::Envelope;
use crate::podstatus::{PodDoc, PodStatus};

/// Lines within which a kubelet container status gathers its exit code, container and pod.
const KUBE_WINDOW: u64 = 24;

/// Lines within which systemd-oomd's `attempting to kill` lines, PID 1's notices and the
/// summary line (`Killed`, `Marked`, `Failed to kill any`) of one action arrive.
const OOMD_WINDOW: u64 = 64;

/// One systemd-oomd action being read: the processes it named, and PID 1's notices that
/// arrived before its summary line.
#[derive(Debug)]
struct OomdPending {
    pids: Vec<u32>,
    notices: Vec<Notice>,
    first_line: u64,
    last_line: u64,
    time: LogTime,
    host: Option<String>,
}

impl OomdPending {
    fn new(line: u64, env: &Envelope) -> OomdPending {
        OomdPending {
            pids: Vec::new(),
            notices: Vec::new(),
            first_line: line,
            last_line: line,
            time: env.time.clone(),
            host: env.host.clone(),
        }
    }
}

/// State of the userspace recognizers.
#[derive(Debug, Default)]
pub struct UserAssembler {
    /// Processes from `oomd attempting to kill <pid>` waiting for their summary line.
    oomd: Option<OomdPending>,
    /// The last debug `Memory pressure for …` line of systemd-oomd and its line.
    oomd_trigger: Option<(OomdTrigger, u64)>,
    /// Last `Name:` of a `kubectl describe pod` and its line.
    describe_pod: Option<(String, u64)>,
    /// The container name seen in a describe's `Containers:` block and its line.
    describe_container: Option<(String, u64)>,
    /// The last `Container ID:` of a describe, without its `runtime://` scheme.
    describe_container_id: Option<(String, u64)>,
    /// Inside the `Containers:` section of a describe.
    in_containers: bool,
    /// The last exit code seen (describe `Exit Code:` or yaml `exitCode:`) and its line.
    exit_code: Option<(i32, u64)>,
    /// A `kubectl get pod -o yaml|json` document being read.
    pod: PodDoc,
    /// systemd-oomd's `Killed <cgroup>` cut before its ` due to …` (a wrapped paste): its
    /// line, envelope and text, waiting for the rest on the next line.
    oomd_cut: Option<(u64, Envelope, String)>,
}

impl UserAssembler {
    /// True while a `kubectl describe` is being read: its container headers hold no trigger.
    pub fn wants_every_line(&self, line: u64) -> bool {
        self.describe_pod
            .as_ref()
            .is_some_and(|(_, l)| line < l + 200)
            // `Failed to kill any cgroup…` holds no trigger.
            || self.oomd.as_ref().is_some_and(|p| line <= p.last_line + OOMD_WINDOW)
            || self.pod.is_open()
            || self.oomd_cut.is_some()
    }

    /// Feed one message that is not the kernel's.
    pub fn push(
        &mut self,
        line: u64,
        env: &Envelope,
        msg: &str,
        kernel: &mut KernelAssembler,
        hold: &mut VecDeque<Incident>,
    ) {
        let t = msg.trim();
        if t.is_empty() {
            return;
        }
        if let Some((cut_line, cut_env, cut)) = self.oomd_cut.take() {
            if t.starts_with("due to ") || t.starts_with("for killing due to ") {
                let whole = format!("{cut} {t}");
                self.oomd(cut_line, &cut_env, &whole, hold);
                return;
            }
            self.oomd_cut_alone(cut_line, &cut_env, &cut, hold);
        }
        if self
            .oomd
            .as_ref()
            .is_some_and(|p| line > p.last_line + OOMD_WINDOW)
        {
            self.flush_oomd(hold);
        }
        let ident = env.ident.as_deref();
        if ident.is_none_or(|i| i.starts_with("systemd-oomd")) && self.oomd(line, env, t, hold) {
            return;
        }
        if ident.is_none_or(|i| i == "systemd" || i.starts_with("systemd[")) {
            if let Some(n) = notice(line, env, t) {
                // PID 1 reports systemd-oomd's kills between its `attempting to kill` lines and
                // its summary line: keep them for that incident unless they name another.
                match self.oomd.as_mut() {
                    Some(p)
                        if n.kind != NoticeKind::ScheduledRestart
                            && !notice_has_target(&n, kernel, hold) =>
                    {
                        p.last_line = line;
                        p.notices.push(n);
                    }
                    _ => link_notice(n, kernel, hold),
                }
                return;
            }
        }
        // systemd prints `Killing process N (comm) with signal SIGKILL.` when stopping units.
        let foreign = ident.is_some_and(|i| i == "kernel" || i.starts_with("systemd"));
        if !foreign && self.earlyoom(line, env, t, hold) {
            return;
        }
        self.kubelet(line, env, msg, kernel, hold);
    }

    fn oomd(&mut self, line: u64, env: &Envelope, t: &str, hold: &mut VecDeque<Incident>) -> bool {
        if let Some(pid) = oomd_attempt(t) {
            let p = self.oomd.get_or_insert_with(|| OomdPending::new(line, env));
            if !p.pids.contains(&pid) && p.pids.len() < 64 {
                p.pids.push(pid);
            }
            p.last_line = line;
            return true;
        }
        if let Some(trig) = oomd_pressure(t) {
            // Debug level: the pressure that made systemd-oomd act, before its kills.
            self.oomd_trigger = Some((trig, line));
            return true;
        }
        if let Some((trig, outcome)) = oomd_failed(t) {
            // Printed when no cgroup was killed whole, though `attempting to kill` lines
            // may show processes that died (systemd PR #22032): those are kills.
            if let Some(mut p) = self.oomd.take() {
                p.last_line = line;
                self.push_oomd(p, trig, None, Some(outcome), hold);
            }
            return true;
        }
        let Some((killed, trig)) = oomd_killed(t) else {
            if oomd_killed_cut(t).is_some() {
                self.oomd_cut = Some((line, env.clone(), t.to_string()));
                return true;
            }
            return false;
        };
        let p = self
            .oomd
            .take()
            .unwrap_or_else(|| OomdPending::new(line, env));
        self.push_oomd(p, trig, Some(killed), None, hold);
        if let Some(inc) = hold.back_mut() {
            inc.source.last_line = line;
        }
        true
    }

    /// The incident of one systemd-oomd action: one kill per process it named (each once),
    /// or one for the killed cgroup when debug logging did not name them.
    fn push_oomd(
        &mut self,
        p: OomdPending,
        trig: OomdTrigger,
        killed: Option<&str>,
        outcome: Option<&str>,
        hold: &mut VecDeque<Incident>,
    ) {
        let mut inc = Incident::new(p.first_line, p.time.clone());
        inc.kind = Some(Kind::SystemdOomd);
        inc.completeness = Completeness::Full;
        inc.host = p.host.clone();
        // The debug `Memory pressure for …` line has the numbers a failure line lacks.
        let trig = match self.oomd_trigger.take() {
            Some((t, l))
                if l + OOMD_WINDOW >= p.first_line
                    && trig.value.is_none()
                    && t.monitored_cgroup == trig.monitored_cgroup =>
            {
                t
            }
            _ => trig,
        };
        inc.oom_memcg = trig.monitored_cgroup.clone();
        inc.task_memcg = killed.map(str::to_string);
        let pids: Vec<Option<u32>> = if p.pids.is_empty() {
            vec![None]
        } else {
            p.pids.iter().copied().map(Some).collect()
        };
        for pid in pids {
            inc.kills.push(Kill {
                evidence: Some(KillEvidence::SystemdOomd),
                pid,
                cgroup: killed.map(str::to_string),
                outcome: outcome.map(str::to_string),
                time: p.time.clone(),
                line: p.first_line,
                ..Kill::default()
            });
        }
        inc.source.last_line = p.last_line;
        for n in p.notices {
            inc.source.last_line = inc.source.last_line.max(n.line);
            inc.notices.push(n);
        }
        inc.oomd_trigger = Some(trig);
        hold.push_back(inc);
    }

    /// A cut `Killed <cgroup>` whose ` due to …` never came: the cgroup is known, why is not.
    fn oomd_cut_alone(
        &mut self,
        line: u64,
        env: &Envelope,
        cut: &str,
        hold: &mut VecDeque<Incident>,
    ) {
        let Some(killed) = oomd_killed_cut(cut) else {
            return;
        };
        let p = self
            .oomd
            .take()
            .unwrap_or_else(|| OomdPending::new(line, env));
        let trig = OomdTrigger {
            reason: "unknown".into(),
            ..OomdTrigger::default()
        };
        self.push_oomd(p, trig, Some(killed), None, hold);
    }

    /// `attempting to kill` lines that no summary line followed: still systemd-oomd's kills.
    fn flush_oomd(&mut self, hold: &mut VecDeque<Incident>) {
        if let Some(p) = self.oomd.take() {
            let trig = OomdTrigger {
                reason: "unknown".into(),
                ..OomdTrigger::default()
            };
            self.push_oomd(p, trig, None, None, hold);
        }
    }

    /// End of input: pending systemd-oomd kills become an incident.
    pub fn finish(&mut self, hold: &mut VecDeque<Incident>) {
        if let Some((line, env, cut)) = self.oomd_cut.take() {
            self.oomd_cut_alone(line, &env, &cut, hold);
        }
        self.flush_oomd(hold);
        if let Some(s) = self.pod.finish() {
            evicted_pod(s, hold);
        }
    }

    fn earlyoom(
        &mut self,
        line: u64,
        env: &Envelope,
        t: &str,
        hold: &mut VecDeque<Incident>,
    ) -> bool {
        if let Some(k) = earlyoom_kill(t) {
            let mut inc = Incident::new(line, env.time.clone());
            inc.kind = Some(Kind::Earlyoom);
            inc.completeness = Completeness::Full;
            inc.host = env.host.clone();
            let mut k = k;
            k.time = env.time.clone();
            k.line = line;
            inc.kills.push(k);
            hold.push_back(inc);
            return true;
        }
        let outcome = if t.starts_with("kill failed: ")
            || t.starts_with("kill() failed: ")
            || t.starts_with("Could not kill process")
            || t.starts_with("escalating to SIGKILL")
            || t.starts_with("process exited after ")
        {
            Some((None, t))
        } else if let Some(r) = t.strip_prefix("process ") {
            let (pid, rest) = r.split_once(' ').unwrap_or((r, ""));
            if rest.starts_with("exited after ") || rest.starts_with("did not exit") {
                Some((pid.parse::<u32>().ok(), t))
            } else {
                None
            }
        } else {
            None
        };
        let Some((pid, text)) = outcome else {
            return false;
        };
        if let Some(inc) = hold
            .iter_mut()
            .rev()
            .find(|i| i.kind == Some(Kind::Earlyoom))
        {
            if let Some(k) = inc.kills.last_mut() {
                if pid.is_none() || k.pid == pid {
                    k.outcome = Some(text.to_string());
                    inc.source.last_line = line;
                }
            }
        }
        true
    }

    fn kubelet(
        &mut self,
        line: u64,
        env: &Envelope,
        raw: &str,
        kernel: &mut KernelAssembler,
        hold: &mut VecDeque<Incident>,
    ) {
        let t = raw.trim();
        if let Some(s) = self.pod.push(line, raw) {
            evicted_pod(s, hold);
        }
        // kubectl describe pod: `Name:  pod` at column 0, then under `Containers:` each
        // container as a two-space-indented `name:` line.
        if let Some(v) = raw.strip_prefix("Name:") {
            self.describe_pod = Some((v.trim().to_string(), line));
        }
        if let Some(id) = t
            .strip_prefix("Container ID:")
            .or_else(|| t.strip_prefix("containerID:"))
        {
            let id = id
                .trim()
                .trim_matches('"')
                .rsplit("://")
                .next()
                .unwrap_or("")
                .to_string();
            self.describe_container_id = Some((id, line));
        }
        // containerd: `TaskOOM event &TaskOOM{ContainerID:<id>,…}` (≤ 1.6) or
        // `TaskOOM event container_id:\"<id>\"` (1.7+): only a witness of a kernel kill.
        if let Some((_, r)) = t.split_once("TaskOOM event ") {
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
                    line,
                };
                link_witness(w, |inc| memcg_names(inc, &id), kernel, hold);
            }
            return;
        }
        if matches!(raw.trim_end(), "Containers:" | "Init Containers:") {
            self.in_containers = true;
        } else if self.in_containers {
            let name = raw
                .strip_prefix("  ")
                .filter(|r| !r.starts_with(' '))
                .and_then(|r| r.trim_end().strip_suffix(':'));
            match name {
                Some(n) if !n.is_empty() && !n.contains(' ') => {
                    self.describe_container = Some((n.to_string(), line))
                }
                _ if !raw.starts_with(' ') => self.in_containers = false,
                _ => {}
            }
        }
        if let Some(v) = t
            .strip_prefix("Exit Code:")
            .or_else(|| t.strip_prefix("exitCode:"))
            .or_else(|| t.strip_prefix("\"exitCode\":"))
        {
            if let Ok(code) = v.trim().trim_end_matches(',').parse() {
                self.exit_code = Some((code, line));
                if let Some(inc) = hold
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
            return;
        }
        // Evicted events: `… Evicted  pod/name  The node was low on resource: memory. …`
        if let Some(i) = t.find("Evicted") {
            let msg = &t[i..];
            if msg.contains("low on resource: memory") || msg.contains("MemoryPressure") {
                let pod = t[i..]
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("pod/"))
                    .map(str::to_string)
                    .or_else(|| self.describe_pod.as_ref().map(|(p, _)| p.clone()));
                let container = msg
                    .split_once("Container ")
                    .and_then(|(_, r)| r.split(' ').next())
                    .map(str::to_string);
                let rss_kb = msg
                    .split_once(" was using ")
                    .and_then(|(_, r)| r.split([',', ' ']).next())
                    .and_then(parse_kube_quantity_kib);
                let mut inc = Incident::new(line, env.time.clone());
                inc.kind = Some(Kind::Kubelet);
                inc.completeness = Completeness::Full;
                inc.kills.push(Kill {
                    evidence: Some(KillEvidence::Kubelet),
                    comm: container.clone().or_else(|| pod.clone()),
                    pod,
                    container,
                    rss_kb,
                    reason: Some("Evicted".into()),
                    time: env.time.clone(),
                    line,
                    ..Kill::default()
                });
                hold.push_back(inc);
                return;
            }
        }
        // kubelet's SystemOOM node event (pkg/kubelet/oom/oom_watcher_linux.go).
        if let Some((_, r)) = t.split_once("System OOM encountered, victim process: ") {
            let (comm, pid) = r.rsplit_once(", pid: ").unwrap_or((r, ""));
            let pid: Option<u32> = pid.trim().parse().ok();
            let w = Witness {
                source: "kubelet SystemOOM".into(),
                container_id: None,
                pod: None,
                container: None,
                line,
            };
            if link_witness(
                w,
                |inc| pid.is_some() && inc.kills.iter().any(|k| k.pid == pid),
                kernel,
                hold,
            ) {
                return;
            }
            let mut inc = Incident::new(line, env.time.clone());
            inc.kind = Some(Kind::Kubelet);
            inc.completeness = Completeness::Full;
            inc.kills.push(Kill {
                evidence: Some(KillEvidence::Kubelet),
                pid,
                comm: Some(comm.to_string()),
                reason: Some("SystemOOM".into()),
                time: env.time.clone(),
                line,
                ..Kill::default()
            });
            hold.push_back(inc);
            return;
        }
        // `kubectl get pods`: NAME READY STATUS RESTARTS AGE with STATUS OOMKilled.
        let words: Vec<&str> = t.split_whitespace().collect();
        if words.len() >= 3 && words[2] == "OOMKilled" && words[1].contains('/') {
            let mut inc = Incident::new(line, env.time.clone());
            inc.kind = Some(Kind::Kubelet);
            inc.completeness = Completeness::Full;
            inc.kills.push(Kill {
                evidence: Some(KillEvidence::Kubelet),
                comm: Some(words[0].to_string()),
                pod: Some(words[0].to_string()),
                reason: Some("OOMKilled".into()),
                time: env.time.clone(),
                line,
                ..Kill::default()
            });
            hold.push_back(inc);
            return;
        }
        // Container status: describe `Reason: OOMKilled`, yaml `reason: OOMKilled`, json `"reason": "OOMKilled"`.
        let is_status = matches!(
            words.as_slice(),
            ["Reason:", "OOMKilled"] | ["reason:", "OOMKilled"]
        ) || t.replace(' ', "").starts_with("\"reason\":\"OOMKilled\"");
        if !is_status {
            return;
        }
        // The same kill already reported by a `get pods` row just above: add to it.
        if let Some(inc) = hold
            .iter_mut()
            .rev()
            .find(|i| i.kind == Some(Kind::Kubelet))
        {
            if line <= inc.source.last_line + KUBE_WINDOW
                && inc.kills.last().is_some_and(|k| {
                    k.reason.as_deref() == Some("OOMKilled") && k.exit_code.is_none()
                })
            {
                inc.source.last_line = line;
                return;
            }
        }
        let recent = |v: &Option<(String, u64)>| {
            v.as_ref()
                .filter(|(_, l)| line - l < 200)
                .map(|(s, _)| s.clone())
        };
        if let Some(id) = recent(&self.describe_container_id).filter(|i| i.len() >= 12) {
            let w = Witness {
                source: "kubelet OOMKilled".into(),
                container_id: Some(id.clone()),
                pod: recent(&self.describe_pod),
                container: recent(&self.describe_container),
                line,
            };
            if link_witness(w, |inc| memcg_names(inc, &id), kernel, hold) {
                return;
            }
        }
        let mut inc = Incident::new(line, env.time.clone());
        inc.kind = Some(Kind::Kubelet);
        inc.completeness = Completeness::Full;
        let pod = recent(&self.describe_pod);
        let container = recent(&self.describe_container);
        inc.kills.push(Kill {
            evidence: Some(KillEvidence::Kubelet),
            comm: container.clone().or_else(|| pod.clone()),
            pod,
            container,
            exit_code: self
                .exit_code
                .filter(|(_, l)| line - l <= 3)
                .map(|(c, _)| c),
            reason: Some("OOMKilled".into()),
            time: env.time.clone(),
            line,
            ..Kill::default()
        });
        hold.push_back(inc);
    }
}

/// A pod evicted for memory (`status.reason: Evicted` and a `status.message` about memory;
/// evictions for ephemeral-storage, disk or pids are no memory kills): one kill per container
/// the message names, with the usage it gives, else one for the pod (naming its container
/// when it had only one).
fn evicted_pod(s: PodStatus, hold: &mut VecDeque<Incident>) {
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
fn parse_kube_quantity_kib(q: &str) -> Option<u64> {
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

/// An earlyoom kill line of any generation (docs/log-formats.md §3.2):
/// - v1.3+: `sending SIGTERM to process 1 [uid 0] "name": badness|oom_score N[, oom_score_adj N], VmRSS N MiB[, cmdline "…"]`
/// - 2019 builds: `killing process 1 "name" with signal 15: badness N, VmRSS N MiB`
/// - v1.2: `Killing process 'name' with signal 15, pid: 1, badness: N, VmRSS: N MiB`
/// - v1.1: `Killing process: name, pid: 1, badness: N, VmRSS: N MiB`
/// - v0.x: `Killing process 1 (name)`; v1.0: `Killing process 1 name`
fn earlyoom_kill(t: &str) -> Option<Kill> {
    let mut k = Kill {
        evidence: Some(KillEvidence::Earlyoom),
        ..Kill::default()
    };
    if let Some(r) = t.strip_prefix("sending ") {
        let (sig, r) = r.split_once(" to process ")?;
        if !sig.starts_with("SIG") {
            return None;
        }
        k.signal = Some(sig.to_string());
        let (pid, r) = r.split_once(' ')?;
        k.pid = Some(pid.parse().ok()?);
        let r = match r.strip_prefix("uid ") {
            Some(r) => {
                let (uid, r) = r.split_once(' ')?;
                k.uid = uid.parse().ok();
                r
            }
            None => r,
        };
        let r = r.strip_prefix('"')?;
        let end = r.find("\": ").or_else(|| r.rfind('"'))?;
        k.comm = Some(r[..end].to_string());
        stats(&mut k, &r[end..]);
        return Some(k);
    }
    if let Some(r) = t.strip_prefix("Killing process: ") {
        // v1.1: the name comes first and may hold ", "; pid is the last `, pid: `.
        let (name, rest) = r.rsplit_once(", pid: ")?;
        k.comm = Some(name.to_string());
        k.pid = Some(rest.split(',').next()?.trim().parse().ok()?);
        stats(&mut k, rest);
        return Some(k);
    }
    if let Some(r) = t.strip_prefix("Killing process '") {
        // v1.2
        let (name, rest) = r.rsplit_once("' with signal ")?;
        k.comm = Some(name.to_string());
        k.signal = rest.split(',').next().map(signal_name);
        k.pid = Some(
            rest.split_once("pid: ")?
                .1
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()?,
        );
        stats(&mut k, rest);
        return Some(k);
    }
    let r = t
        .strip_prefix("killing process ")
        .or_else(|| t.strip_prefix("Killing process "))?;
    let (pid, r) = r.split_once(' ').unwrap_or((r, ""));
    k.pid = Some(pid.parse().ok()?);
    if let Some(q) = r.strip_prefix('"') {
        let end = q
            .find("\" with signal ")
            .or_else(|| q.find("\": "))
            .or_else(|| q.rfind('"'))?;
        k.comm = Some(q[..end].to_string());
        let tail = &q[end..];
        if let Some((_, s)) = tail.split_once("with signal ") {
            k.signal = s.split(':').next().map(signal_name);
        }
        stats(&mut k, tail);
    } else if let Some(q) = r.strip_prefix('(').and_then(|q| q.strip_suffix(')')) {
        k.comm = Some(q.to_string()); // v0.x
    } else if !r.is_empty() && !r.contains(' ') {
        k.comm = Some(r.to_string()); // v1.0
    } else {
        return None;
    }
    Some(k)
}

fn signal_name(s: &str) -> String {
    match s.trim() {
        "15" => "SIGTERM".to_string(),
        "9" => "SIGKILL".to_string(),
        other => other.to_string(),
    }
}

/// `badness N` / `oom_score N`, `VmRSS N MiB`.
fn stats(k: &mut Kill, tail: &str) {
    for key in ["badness ", "oom_score ", "badness: "] {
        if let Some((_, r)) = tail.split_once(key) {
            k.score = r.split([',', ' ']).next().and_then(|s| s.parse().ok());
        }
    }
    if let Some((_, r)) = tail.split_once("oom_score_adj ") {
        k.oom_score_adj = r.split([',', ' ']).next().and_then(|s| s.parse().ok());
    }
    if let Some((_, r)) = tail
        .split_once("VmRSS ")
        .or_else(|| tail.split_once("VmRSS: "))
    {
        let mut it = r.split([',', ' ']);
        let n: Option<u64> = it.next().and_then(|s| s.parse().ok());
        k.rss_kb = match it.next() {
            Some("MiB") => n.map(|n| n * 1024),
            Some("KiB") | Some("kB") => n,
            _ => None,
        };
    }
}

/// `oomd attempting to kill <pid> with <SIG>` (src/oom/oomd-util.c log_kill, LOG_DEBUG;
/// signal_to_string() gives `KILL`, not `SIGKILL`).
fn oomd_attempt(t: &str) -> Option<u32> {
    let rest = t.strip_prefix("oomd attempting to kill ")?;
    rest.split(' ').next()?.parse().ok()
}

/// systemd-oomd's debug `Memory pressure for <cg> is <v>% > <l>% for > <t> with reclaim
/// activity` (src/oom/oomd-manager.c).
fn oomd_pressure(t: &str) -> Option<OomdTrigger> {
    let r = t.strip_prefix("Memory pressure for ")?;
    let (cg, r) = r.split_once(" is ")?;
    let mut it = r.split(' ');
    let value = it.next()?.to_string();
    let _gt = it.next();
    let limit = it.next()?.to_string();
    let duration = r
        .split_once(" for > ")
        .and_then(|(_, d)| d.split(' ').next())
        .map(str::to_string);
    Some(OomdTrigger {
        reason: "pressure".into(),
        monitored_cgroup: Some(cg.to_string()),
        value: Some(value),
        limit: Some(limit),
        duration,
    })
}

/// `Failed to kill any cgroup(s) under <cg> based on pressure: <err>` (v247–v250 spelling),
/// `Failed to kill any cgroups under <cg> based on pressure: <err>`, `Failed to kill any
/// cgroups based on swap: <err>` (src/oom/oomd-manager.c): the trigger and the line itself.
fn oomd_failed(t: &str) -> Option<(OomdTrigger, &str)> {
    let r = t
        .strip_prefix("Failed to kill any cgroup(s) ")
        .or_else(|| t.strip_prefix("Failed to kill any cgroups "))?;
    let mut trig = OomdTrigger::default();
    if let Some(r) = r.strip_prefix("under ") {
        let (cg, _) = r.split_once(" based on pressure")?;
        trig.reason = "pressure".into();
        trig.monitored_cgroup = Some(cg.to_string());
    } else if r.starts_with("based on swap") {
        trig.reason = "swap".into();
    } else {
        return None;
    }
    Some((trig, t))
}

/// `Killed <cg> due to …` (v247–v259) or `Marked <cg> for killing due to …` (v260+): the
/// killed cgroup and why.
/// `Killed <cg>` or `Marked <cg>` and nothing after the path: the summary line cut where a
/// terminal or paste wrapped it (corpus 227, continued on an indented line by `due to …`).
fn oomd_killed_cut(t: &str) -> Option<&str> {
    let cg = t
        .strip_prefix("Killed ")
        .or_else(|| t.strip_prefix("Marked "))?;
    (cg.starts_with('/') && !cg.contains(' ')).then_some(cg)
}

fn oomd_killed(t: &str) -> Option<(&str, OomdTrigger)> {
    let (killed, rest) = if let Some(r) = t.strip_prefix("Killed ") {
        r.split_once(" due to ")?
    } else {
        t.strip_prefix("Marked ")?
            .split_once(" for killing due to ")?
    };
    if !killed.starts_with('/') {
        return None;
    }
    let mut trig = OomdTrigger::default();
    if let Some(r) = rest.strip_prefix("memory pressure for ") {
        // `<cg> being 51.07% > 50.00% for > 20s with reclaim activity`
        trig.reason = "pressure".into();
        if let Some((cg, r)) = r.split_once(" being ") {
            trig.monitored_cgroup = Some(cg.to_string());
            let mut it = r.split(' ');
            trig.value = it.next().map(str::to_string);
            let _gt = it.next();
            trig.limit = it.next().map(str::to_string);
            if let Some((_, d)) = r.split_once(" for > ") {
                trig.duration = d.split(' ').next().map(str::to_string);
            }
        }
    } else if rest.contains("swap used") {
        trig.reason = "swap".into();
        trig.value = rest
            .split_once("swap used ")
            .map(|(_, v)| v.split(" being").next().unwrap_or(v).to_string());
        trig.limit = rest
            .rsplit_once("being more than ")
            .map(|(_, l)| l.trim_end_matches('.').to_string());
    } else {
        trig.reason = rest.to_string();
    }
    Some((killed, trig))
}

/// A systemd unit notice.
fn notice(line: u64, env: &Envelope, t: &str) -> Option<Notice> {
    // journalctl may put a documentation link glyph before the unit: `[🡕] foo.service: …`.
    let t = match t.strip_prefix('[') {
        Some(r) if r.find("] ").is_some_and(|i| i <= 8) => &r[r.find("] ").unwrap_or(0) + 2..],
        _ => t,
    };
    let (unit, rest) = t.split_once(": ")?;
    if unit.contains(' ') || !unit.contains('.') {
        return None;
    }
    let mut count = None;
    let kind = if rest.starts_with("A process of this unit has been killed by the OOM killer") {
        NoticeKind::ProcessKilledByOomKiller
    } else if rest.starts_with("Failed with result 'oom-kill'") {
        NoticeKind::FailedOomKill
    } else if let Some(r) = rest.strip_prefix("systemd-oomd killed ") {
        count = r.split(' ').next().and_then(|n| n.parse().ok());
        NoticeKind::OomdKilled
    } else if rest.starts_with("Main process exited, code=killed, status=9/KILL") {
        NoticeKind::MainProcessKilled
    } else if let Some(r) = rest.strip_prefix("Scheduled restart job, restart counter is at ") {
        count = r.trim_end_matches('.').parse().ok();
        NoticeKind::ScheduledRestart
    } else {
        return None;
    };
    Some(Notice {
        kind,
        unit: unit.to_string(),
        manager_pid: env.pid,
        count,
        time: env.time.clone(),
        line,
    })
}

/// True when the incident's memcg paths name container `id`.
fn memcg_names(inc: &Incident, id: &str) -> bool {
    // An open kernel incident has no kind yet (it is derived when it closes): match on paths.
    [&inc.task_memcg, &inc.oom_memcg]
        .into_iter()
        .flatten()
        .any(|cg| cg.contains(id))
}

/// Attach a witness to the kernel incident `matches` picks (open, then held, newest first).
fn link_witness(
    w: Witness,
    matches: impl Fn(&Incident) -> bool,
    kernel: &mut KernelAssembler,
    hold: &mut VecDeque<Incident>,
) -> bool {
    if let Some(inc) = kernel.open_incident().filter(|i| matches(i)) {
        inc.witnesses.push(w);
        return true;
    }
    if let Some(inc) = hold.iter_mut().rev().find(|i| matches(i)) {
        inc.source.last_line = inc.source.last_line.max(w.line);
        inc.witnesses.push(w);
        return true;
    }
    false
}

/// The unit a cgroup path ends in: `/system.slice/foo.service` → `foo.service`.
fn cgroup_unit(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Attach a notice to the incident it speaks of (open kernel incident, then held ones,
/// newest first); a kill notice with no incident becomes a `systemd-notice` incident.
/// True when the incident's cgroups name the notice's unit (or lie under its slice: a
/// slice's notice counts the kills of every cgroup below it, its memory.events being
/// hierarchical).
fn notice_matches(n: &Notice, inc: &Incident) -> bool {
    let slice = n.unit.ends_with(".slice");
    let under = |cg: &str| slice && cg.split('/').any(|c| c == n.unit);
    [&inc.task_memcg, &inc.oom_memcg]
        .into_iter()
        .flatten()
        .any(|cg| cgroup_unit(cg) == n.unit || under(cg))
        || inc.kills.iter().any(|k| {
            k.cgroup
                .as_deref()
                .is_some_and(|c| cgroup_unit(c) == n.unit || under(c))
        })
}

/// True when an open or held incident is the notice's.
fn notice_has_target(n: &Notice, kernel: &mut KernelAssembler, hold: &VecDeque<Incident>) -> bool {
    kernel.open_incident().is_some_and(|i| notice_matches(n, i))
        || hold.iter().any(|i| notice_matches(n, i))
}

fn link_notice(n: Notice, kernel: &mut KernelAssembler, hold: &mut VecDeque<Incident>) {
    let slice = n.unit.ends_with(".slice");
    let matches = |inc: &Incident| notice_matches(&n, inc);
    if let Some(inc) = kernel.open_incident().filter(|i| matches(i)) {
        inc.notices.push(n);
        return;
    }
    if let Some(inc) = hold.iter_mut().rev().find(|i| matches(i)) {
        inc.source.last_line = inc.source.last_line.max(n.line);
        inc.notices.push(n);
        return;
    }
    // A second notice of the same event (`…killed by the OOM killer` then `Failed with result`).
    if let Some(inc) = hold.iter_mut().rev().find(|i| {
        i.kind == Some(Kind::SystemdNotice)
            && i.notices.iter().any(|x| x.unit == n.unit)
            && n.line <= i.source.last_line + 8
    }) {
        inc.source.last_line = n.line;
        inc.notices.push(n);
        return;
    }
    // systemd repeats a slice's cumulative OOM count after a daemon-reload with no new kill
    // (systemd 252, seen in the QEMU guest): a slice's notice alone is no incident.
    if !slice
        && matches!(
            n.kind,
            NoticeKind::ProcessKilledByOomKiller | NoticeKind::FailedOomKill
        )
    {
        let mut inc = Incident::new(n.line, n.time.clone());
        inc.kind = Some(Kind::SystemdNotice);
        inc.completeness = Completeness::Fragment;
        inc.kills.push(Kill {
            cgroup: Some(n.unit.clone()),
            comm: None,
            time: n.time.clone(),
            line: n.line,
            ..Kill::default()
        });
        inc.notices.push(n);
        hold.push_back(inc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_bytes, Options};

    fn parse(s: &str) -> Vec<Incident> {
        parse_bytes(s.as_bytes(), Options::default())
    }

    #[test]
    fn oomd_marked_wording_takes_the_attempted_pid_and_unit_notice() {
        let incs = parse(
            "[ 77.7] systemd-oomd[659]: oomd attempting to kill 407 with SIGKILL\n\
             [ 77.8] systemd-oomd[659]: Marked /system.slice/a.service for killing due to memory used (22369452032) / total (24681861120) and swap used (8589910016) / total (8589930496) being more than 90.00%\n\
             [ 77.9] systemd[1]: a.service: systemd-oomd killed some process(es) in this unit.\n",
        );
        assert_eq!(incs.len(), 1);
        let i = &incs[0];
        assert_eq!(i.kind, Some(Kind::SystemdOomd));
        assert_eq!(i.kills[0].pid, Some(407));
        assert_eq!(i.task_memcg.as_deref(), Some("/system.slice/a.service"));
        let t = i.oomd_trigger.as_ref().unwrap();
        assert_eq!(
            (t.reason.as_str(), t.limit.as_deref()),
            ("swap", Some("90.00%"))
        );
        assert_eq!(i.notices.len(), 1);
        assert_eq!(i.notices[0].count, None);
    }

    /// Corpus 227 (a pasted journal): the summary line broken before ` due to`, its rest on
    /// an indented line.
    #[test]
    fn oomd_summary_wrapped_before_due_to() {
        let cut = "Jul 05 17:33:19 systemd-oomd[1599]: Killed /user.slice/user-1000.slice/user@1000.service/app.slice/overdeck-tmux-server.service\n";
        let rest = "  due to memory pressure for /user.slice/user-1000.slice/user@1000.service being 56.11% > 50.00% for > 20s with reclaim activity\n";
        let incs = parse(&format!("{cut}{rest}"));
        assert_eq!(incs.len(), 1);
        let t = incs[0].oomd_trigger.as_ref().unwrap();
        assert_eq!(t.reason, "pressure");
        assert_eq!(t.value.as_deref(), Some("56.11%"));
        assert_eq!(
            incs[0].task_memcg.as_deref(),
            Some("/user.slice/user-1000.slice/user@1000.service/app.slice/overdeck-tmux-server.service")
        );
        // Followed by something else (synthetic), the killed cgroup is still a kill; why is
        // unknown.
        let other = "  (the rest of this line was lost)\n";
        let incs = parse(&format!("{cut}{other}{rest}"));
        assert_eq!(incs[0].kind, Some(Kind::SystemdOomd));
        assert_eq!(incs[0].oomd_trigger.as_ref().unwrap().reason, "unknown");
        assert_eq!(incs[0].kills.len(), 1);
    }

    #[test]
    fn pid1_notices_link_to_the_kernel_incident_or_stand_alone() {
        let kernel = "Apr 05 08:24:14 h kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/w.service,task_memcg=/system.slice/w.service,task=python3,pid=14832,uid=0\n\
                      Apr 05 08:24:14 h kernel: Memory cgroup out of memory: Killed process 14832 (python3) total-vm:1kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";
        let notices = "Apr 05 08:24:14 h systemd[1]: w.service: A process of this unit has been killed by the OOM killer.\n\
                       Apr 05 08:24:14 h systemd[1]: w.service: Main process exited, code=killed, status=9/KILL\n\
                       Apr 05 08:24:14 h systemd[1]: w.service: Failed with result 'oom-kill'.\n\
                       Apr 05 08:24:19 h systemd[1]: w.service: Scheduled restart job, restart counter is at 6.\n";
        let incs = parse(&format!("{kernel}{notices}"));
        assert_eq!(incs.len(), 1);
        assert_eq!(incs[0].notices.len(), 4);
        assert_eq!(incs[0].notices[3].count, Some(6));
        // Without the kernel report the notices make one systemd-notice incident.
        let incs = parse(notices);
        assert_eq!(incs.len(), 1);
        assert_eq!(incs[0].kind, Some(Kind::SystemdNotice));
        assert_eq!(incs[0].kills[0].cgroup.as_deref(), Some("w.service"));
        // systemd stopping a unit is not an earlyoom kill.
        assert!(parse(
            "Apr 05 08:24:14 h systemd[1]: Killing process 2234090 (zsh) with signal SIGKILL.\n"
        )
        .is_empty());
    }

    #[test]
    fn earlyoom_outcomes_attach_to_their_kill() {
        let incs = parse(
            "earlyoom[1]: sending SIGTERM to process 696 uid 1001 \"ipfs\": badness 757, VmRSS 637 MiB\n\
             earlyoom[1]: escalating to SIGKILL after 0.500 seconds\n\
             earlyoom[1]: process 696 exited after 0.600 seconds\n",
        );
        assert_eq!(incs.len(), 1);
        assert_eq!(
            incs[0].kills[0].outcome.as_deref(),
            Some("process 696 exited after 0.600 seconds")
        );
    }

    #[test]
    fn kubelet_and_containerd_reports_link_to_the_kernel_kill() {
        let id = "083afd1a06b8b612ab5d974e12200d7fd1d35be6a44f0e368179399ef6c6e84d";
        let kernel = format!(
            "[ 5.0] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/{id},task_memcg=/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/{id},task=java,pid=50624,uid=0\n\
             [ 5.1] Memory cgroup out of memory: Killed process 50624 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:969\n"
        );
        let others = format!(
            "time=\"2023-10-12T19:00:20.879932879Z\" level=info msg=\"TaskOOM event container_id:\\\"{id}\\\"\"\n\
             Name:         api-7d9f\nContainers:\n  worker:\n    Container ID:   containerd://{id}\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
        );
        let incs = parse(&format!("{kernel}{others}"));
        assert_eq!(incs.len(), 1, "{incs:#?}");
        let sources: Vec<&str> = incs[0]
            .witnesses
            .iter()
            .map(|w| w.source.as_str())
            .collect();
        assert_eq!(sources, ["containerd TaskOOM", "kubelet OOMKilled"]);
        assert_eq!(incs[0].witnesses[1].container.as_deref(), Some("worker"));
        // Alone, the describe status is its own kubelet incident.
        assert_eq!(parse(&others)[0].kind, Some(Kind::Kubelet));
        let sys = "[ 9.0] Out of memory: Killed process 98756 (runc:[2:INIT]) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB\n\
                   Warning  SystemOOM  2m32s  kubelet, node1  System OOM encountered, victim process: runc:[2:INIT], pid: 98756\n";
        let incs = parse(sys);
        assert_eq!((incs.len(), incs[0].witnesses.len()), (1, 1));
    }

    #[test]
    fn describe_names_the_pod_and_container() {
        let incs = parse(
            "Name:         api-7d9f\nNamespace:    prod\nContainers:\n  sidecar:\n    State:  Running\n  worker:\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n",
        );
        assert_eq!(incs.len(), 1);
        let k = &incs[0].kills[0];
        assert_eq!(
            (
                k.pod.as_deref(),
                k.container.as_deref(),
                k.comm.as_deref(),
                k.exit_code
            ),
            (Some("api-7d9f"), Some("worker"), Some("worker"), Some(137))
        );
    }

    #[test]
    fn kubelet_forms() {
        let incs = parse("Warning  SystemOOM  2m32s  kubelet, node1  System OOM encountered, victim process: runc:[2:INIT], pid: 98756\n");
        assert_eq!(
            (incs[0].kills[0].pid, incs[0].kills[0].comm.as_deref()),
            (Some(98756), Some("runc:[2:INIT]"))
        );
        let incs = parse("Warning  Evicted  6m5s  kubelet  The node was low on resource: memory. Container hog was using 166088Ki, request is 10Mi, has larger consumption of memory. \n");
        assert_eq!(incs[0].kills[0].container.as_deref(), Some("hog"));
        assert_eq!(incs[0].kills[0].rss_kb, Some(166088));
    }

    #[test]
    fn earlyoom_generations() {
        let k = earlyoom_kill(r#"sending SIGTERM to process 1024668 uid 1000 "Web Content": oom_score 823, VmRSS 79 MiB, cmdline "/usr/lib/firefox/firefox -contentproc""#).unwrap();
        assert_eq!(
            (k.pid, k.uid, k.comm.as_deref(), k.score, k.rss_kb),
            (
                Some(1024668),
                Some(1000),
                Some("Web Content"),
                Some(823),
                Some(79 * 1024)
            )
        );
        let k = earlyoom_kill(
            r#"killing process 27541 "bash" with signal 15: badness 550, VmRSS 7609 MiB"#,
        )
        .unwrap();
        assert_eq!(
            (k.pid, k.comm.as_deref(), k.signal.as_deref(), k.score),
            (Some(27541), Some("bash"), Some("SIGTERM"), Some(550))
        );
        assert!(earlyoom_kill("sending the report").is_none());
        let k = earlyoom_kill(r#"sending SIGKILL to process 7 uid 0 "a b": oom_score 900, oom_score_adj 300, VmRSS 12 MiB, cmdline "x""#).unwrap();
        assert_eq!(
            (
                k.signal.as_deref(),
                k.comm.as_deref(),
                k.oom_score_adj,
                k.rss_kb
            ),
            (Some("SIGKILL"), Some("a b"), Some(300), Some(12 * 1024))
        );
        let k =
            earlyoom_kill("sending SIGTERM to process 696 \"ipfs\": badness 757, VmRSS 637 MiB")
                .unwrap();
        assert_eq!(
            (k.pid, k.uid, k.comm.as_deref()),
            (Some(696), None, Some("ipfs"))
        );
        let k = earlyoom_kill("Killing process 'tracker, miner' with signal 15, pid: 4411, badness: 640, VmRSS: 2048 MiB").unwrap();
        assert_eq!(
            (
                k.pid,
                k.comm.as_deref(),
                k.signal.as_deref(),
                k.score,
                k.rss_kb
            ),
            (
                Some(4411),
                Some("tracker, miner"),
                Some("SIGTERM"),
                Some(640),
                Some(2048 * 1024)
            )
        );
        let k = earlyoom_kill("Killing process: firefox, pid: 1234, badness: 800, VmRSS: 3000 MiB")
            .unwrap();
        assert_eq!(
            (k.pid, k.comm.as_deref(), k.score),
            (Some(1234), Some("firefox"), Some(800))
        );
        let k = earlyoom_kill("Killing process 1234 (firefox)").unwrap();
        assert_eq!((k.pid, k.comm.as_deref()), (Some(1234), Some("firefox")));
        let k = earlyoom_kill("Killing process 1234 firefox").unwrap();
        assert_eq!(k.comm.as_deref(), Some("firefox"));
        assert!(earlyoom_kill("Killing process 2234090 (zsh) with signal SIGKILL.").is_none());
    }

    #[test]
    fn oomd_debug_and_failure_wordings() {
        // systemd PR #22032's journal (tests/data/reported/SOURCES.md).
        assert_eq!(
            oomd_attempt("oomd attempting to kill 113 with KILL"),
            Some(113)
        );
        let (t, line) = oomd_failed("Failed to kill any cgroup(s) under /user.slice/a.slice based on pressure: No such device").unwrap();
        assert_eq!(
            (t.reason.as_str(), t.monitored_cgroup.as_deref()),
            ("pressure", Some("/user.slice/a.slice"))
        );
        assert!(line.ends_with("No such device"));
        // systemd issue #31573's title (v255): the swap wording.
        let (t, _) =
            oomd_failed("Failed to kill any cgroups based on swap: Invalid argument").unwrap();
        assert_eq!((t.reason.as_str(), t.monitored_cgroup), ("swap", None));
        assert!(oomd_failed("Failed to kill any process").is_none());
    }

    #[test]
    fn kube_quantities() {
        assert_eq!(parse_kube_quantity_kib("5053216Ki"), Some(5053216));
        assert_eq!(parse_kube_quantity_kib("512Mi"), Some(524288));
        assert_eq!(parse_kube_quantity_kib("1e6"), Some(977));
        assert_eq!(parse_kube_quantity_kib("0"), Some(0));
    }
}
