//! The explanation of an incident: who owned the victim, why the kernel chose it, what
//! filled the memory, whether it is part of a restart loop, and what to change.
//!
//! Every finding carries the numbers it was derived from (`evidence`); advice is given only
//! for a finding, and a limit is never advised up without evidence of growth or of a
//! steady need.

use oomlens_model::{Incident, Kind, StatUnit};

pub use crate::explanation::{Advice, Evidence, Explanation, Finding, LoopInfo};
pub use crate::finding_codes::Severity;
use crate::history::Histories;
pub use crate::history::MAX_OWNERS;
use crate::owner::{owner_of, Owner};
use crate::victim::{page_kb, ranking, Ranking};

fn ev(name: &'static str, value: impl Into<f64>, unit: &'static str) -> Evidence {
    Evidence {
        name,
        value: value.into(),
        unit,
    }
}

/// Kills of the same size at the limit that come at least this far apart are read as a leak
/// growing back to the limit after each restart; closer kills as a working set that exceeds
/// the limit as soon as the workload runs (a restarted service reloads in seconds). Assumes
/// the workload is restarted right after each kill, as `Restart=` and Kubernetes do.
const LEAK_MIN_INTERVAL_S: f64 = 10.0;

/// Process names of services whose death takes data or access with it.
pub const CRITICAL_COMMS: &[&str] = &[
    "postgres",
    "postmaster",
    "mysqld",
    "mariadbd",
    "mongod",
    "redis-server",
    "etcd",
    "nginx",
    "httpd",
    "apache2",
    "sshd",
    "haproxy",
    "containerd",
    "dockerd",
    "kubelet",
    "systemd-journal",
    "memcached",
    "rabbitmq-server",
    "beam.smp",
];

/// Explains incidents one after another, remembering each owner's earlier kills so that
/// restart loops are found while streaming.
///
/// The memory this takes is bounded, whatever the input's length, so that a daemon can
/// explain incidents for months while container ids and pod names change with every
/// restart (see `history.rs` for the reasons behind each number):
///
/// * per (host, owner) it keeps the number of kills, the times of the last 64 and the victim
///   sizes of the last 16: exactly what the `restart-loop`, `leak-to-limit` and
///   `limit-below-working-set` findings read;
/// * an owner whose newest kill is more than a week older than the latest incident time seen
///   on the same host and clock is forgotten, so its next kill counts as its first; time is
///   the incidents' own, never the clock of the machine running oomlens. A newest kill that
///   printed no usable time is aged by input order instead: forgotten after 65536 further
///   kills of any owner;
/// * at most [`MAX_OWNERS`] (4096) owners are kept; when a new one comes to a full history,
///   the owner whose newest kill came first in the input is forgotten. A loop is therefore
///   lost only if 4096 other owners are killed between two of its kills.
///
/// The whole history stays under 8 MiB (about 2 KiB per owner at most).
#[derive(Debug, Default)]
pub struct Explainer {
    history: Histories,
}

/// The key kills of the same workload share.
fn loop_key(inc: &Incident, owner: &Owner) -> Option<String> {
    if let Some(c) = &owner.container_id {
        return Some(format!("container {c}"));
    }
    if let Some(u) = &owner.unit {
        return Some(u.clone());
    }
    let k = inc.victim()?;
    inc.task_memcg
        .clone()
        .or_else(|| k.cgroup.clone())
        .or_else(|| k.pod.clone())
}

fn victim_kb(inc: &Incident) -> Option<u64> {
    let k = inc.victim()?;
    match (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb, k.rss_kb) {
        (Some(a), f, s, _) => Some(a + f.unwrap_or(0) + s.unwrap_or(0)),
        (None, _, _, r) => r,
    }
}

impl Explainer {
    /// A fresh explainer.
    pub fn new() -> Explainer {
        Explainer::default()
    }

    /// An explainer that keeps at most `max_owners` owners' kills (at least one) instead of
    /// [`MAX_OWNERS`].
    pub fn with_max_owners(max_owners: usize) -> Explainer {
        Explainer {
            history: Histories::with_cap(max_owners),
        }
    }

    /// How many owners' kills are remembered now (never more than the cap).
    pub fn tracked_owners(&self) -> usize {
        self.history.len()
    }

    /// Explain `inc`, in input order.
    pub fn explain(&mut self, inc: &Incident) -> Explanation {
        let cg = inc
            .task_memcg
            .as_deref()
            .or(inc.oom_memcg.as_deref())
            .or_else(|| inc.victim().and_then(|k| k.cgroup.as_deref()));
        let owner = cg.map(owner_of).filter(|o| *o != Owner::default());
        let ranking = ranking(inc);
        let mut findings = Vec::new();
        let mut advice = Vec::new();
        memcg_limit(inc, &mut findings);
        memory_outside_processes(inc, &mut findings, &mut advice, owner.as_ref());
        kernel_memory(inc, &mut findings);
        innocent_victim(
            inc,
            ranking.as_ref(),
            &mut findings,
            &mut advice,
            owner.as_ref(),
        );
        subprocess(inc, &mut findings);
        if inc.no_killable_processes {
            findings.push(Finding::new("no-killable-process", "the kernel found no process it was allowed to kill (all had oom_score_adj -1000 or were unkillable)".into(), {
                    let rows = inc.task_table.as_ref().map(|t| t.rows.as_slice()).unwrap_or(&[]);
                    vec![
                        ev("tasks listed", rows.len() as f64, "tasks"),
                        ev("tasks with oom_score_adj -1000", rows.iter().filter(|r| r.oom_score_adj == Some(-1000)).count() as f64, "tasks"),
                    ]
                }));
        }
        if let Some(p) = &inc.panic {
            findings.push(Finding::new("oom-panic", format!("the kernel panicked instead of killing a process (\"{p}\"): the whole machine went down"), vec![
                    ev("processes killed in this OOM", inc.kills.len() as f64, "processes"),
                    ev(
                        "tasks listed",
                        inc.task_table.as_ref().map_or(0, |t| t.rows.len()) as f64,
                        "tasks",
                    ),
                ]));
        }
        if let Some(t) = &inc.oomd_trigger {
            findings.push(Finding::new(
                "oomd-pressure",
                format!(
                    "systemd-oomd killed the cgroup because {} stayed at {} over its limit {}",
                    if t.reason == "pressure" {
                        "memory pressure"
                    } else {
                        "swap use"
                    },
                    t.value.as_deref().unwrap_or("?"),
                    t.limit.as_deref().unwrap_or("?")
                ),
                {
                    let pct = |v: &Option<String>| {
                        v.as_deref()
                            .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
                    };
                    let mut e = Vec::new();
                    if let Some(v) = pct(&t.value) {
                        e.push(ev("measured", v, "%"));
                    }
                    if let Some(l) = pct(&t.limit) {
                        e.push(ev("limit", l, "%"));
                    }
                    e
                },
            ));
        }
        let restart_loop = owner
            .as_ref()
            .and_then(|o| loop_key(inc, o))
            .or_else(|| inc.victim().and(inc.task_memcg.clone()));
        let restart_loop = restart_loop.and_then(|key| self.track(key, inc));
        if let Some(l) = &restart_loop {
            restart_findings(inc, l, &mut findings, &mut advice, owner.as_ref());
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Explanation {
            owner,
            ranking,
            findings,
            advice,
            restart_loop,
        }
    }

    fn track(&mut self, key: String, inc: &Incident) -> Option<LoopInfo> {
        self.history.track(key, inc, victim_kb(inc))
    }
}

fn memcg_limit(inc: &Incident, findings: &mut Vec<Finding>) {
    if inc.kind != Some(Kind::Memcg) {
        return;
    }
    let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) else {
        return;
    };
    findings.push(Finding::new("memcg-limit-hit", format!(
            "the cgroup reached its memory limit of {} MiB; the machine may have had memory to spare",
            m.limit_kb / 1024
        ), vec![ev("usage", m.usage_kb as f64, "KiB"), ev("limit", m.limit_kb as f64, "KiB"), ev("failcnt", m.failcnt as f64, "times")]));
}

/// A `memory.stat` size in KiB, v1 `total_<key>` preferred (hierarchical), then `<key>`.
fn stat_kb(inc: &Incident, keys: &[&str]) -> Option<u64> {
    let st = inc.memory_stat.as_ref()?;
    for k in keys {
        if let Some(e) = st.entries.iter().find(|e| e.key == *k) {
            return Some(match e.unit {
                StatUnit::Kib => e.value,
                StatUnit::Plain => e.value / 1024,
            });
        }
    }
    None
}

/// scenario 003: tmpfs / shmem charged to the cgroup, or memory outside any process's RSS.
fn memory_outside_processes(
    inc: &Incident,
    findings: &mut Vec<Finding>,
    advice: &mut Vec<Advice>,
    owner: Option<&Owner>,
) {
    let (usage_kb, shmem_kb, rss_sum_kb) = match inc.kind {
        Some(Kind::Memcg) => {
            let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) else {
                return;
            };
            let shmem = stat_kb(inc, &["total_shmem", "shmem"]);
            let (pk, _) = page_kb(inc);
            let rss = inc
                .task_table
                .as_ref()
                .filter(|t| !t.rows.is_empty() && t.rows_dropped == 0)
                .map(|t| t.rows.iter().map(|r| r.rss.unwrap_or(0)).sum::<u64>() * pk);
            (m.usage_kb, shmem, rss)
        }
        Some(Kind::Global) => {
            let Some(mi) = &inc.mem_info else { return };
            let Some(ram) = mi.pages_ram else { return };
            let (pk, _) = page_kb(inc);
            (ram * pk, mi.counter("shmem").map(|p| p * pk), None)
        }
        _ => return,
    };
    if usage_kb == 0 {
        return;
    }
    let shmem_share = shmem_kb.map(|s| s as f64 / usage_kb as f64);
    let rss_share = rss_sum_kb.map(|r| r as f64 / usage_kb as f64);
    let shmem_dominates = shmem_share.is_some_and(|s| s >= 0.25);
    let rss_far_below = rss_share.is_some_and(|r| r < 0.5);
    if !shmem_dominates && !rss_far_below {
        return;
    }
    let mut evidence = vec![ev("cgroup usage", usage_kb as f64, "KiB")];
    if let Some(s) = shmem_kb {
        evidence.push(ev(
            "shmem (tmpfs, /dev/shm, shared memory)",
            s as f64,
            "KiB",
        ));
    }
    if let Some(r) = rss_sum_kb {
        evidence.push(ev("sum of task RSS in the report", r as f64, "KiB"));
    }
    let message = if shmem_dominates {
        format!(
            "shmem holds {:.0}% of the memory: files in a tmpfs (emptyDir with medium Memory, /dev/shm, /tmp on tmpfs) or shared memory filled it, not a process heap",
            shmem_share.unwrap_or(0.0) * 100.0
        )
    } else {
        format!(
            "the processes' RSS adds up to only {:.0}% of the cgroup's usage: the rest is not in any heap (tmpfs or /dev/shm files, page cache, kernel memory)",
            rss_share.unwrap_or(0.0) * 100.0
        )
    };
    findings.push(Finding::new("shmem-not-heap", message, evidence));
    let in_pod = owner.is_some_and(|o| o.pod_uid.is_some());
    advice.push(Advice {
        finding: "shmem-not-heap",
        reason: "files left in a memory-backed filesystem stay charged to the cgroup after their writer exits: look at tmpfs files, not the heap".into(),
        target: None,
        snippet: if in_pod {
            "# find what fills memory-backed volumes in the pod\nkubectl exec POD -- df -h /dev/shm /tmp\n# and bound the volume:\nvolumes:\n- name: scratch\n  emptyDir:\n    medium: Memory\n    sizeLimit: 256Mi".into()
        } else {
            "# find the files that hold the memory\ndf -h -t tmpfs\nfind /dev/shm /tmp /run -xdev -type f -size +10M -exec ls -lh {} +\n# and bound the mount, e.g. in /etc/fstab:\ntmpfs  /tmp  tmpfs  size=512M,mode=1777  0 0".into()
        },
    });
}

fn kernel_memory(inc: &Incident, findings: &mut Vec<Finding>) {
    if inc.kind != Some(Kind::Memcg) {
        return;
    }
    let Some(usage) = inc
        .memcg
        .as_ref()
        .and_then(|m| m.memory)
        .map(|m| m.usage_kb)
    else {
        return;
    };
    let kmem = inc
        .memcg
        .as_ref()
        .and_then(|m| m.kmem)
        .map(|k| k.usage_kb)
        .filter(|k| *k > 0)
        .or_else(|| stat_kb(inc, &["kernel"]))
        .or_else(|| {
            Some(
                stat_kb(inc, &["slab"])?
                    + stat_kb(inc, &["sock"]).unwrap_or(0)
                    + stat_kb(inc, &["kernel_stack"]).unwrap_or(0),
            )
        });
    let Some(k) = kmem else { return };
    if usage > 0 && k * 100 / usage >= 30 {
        findings.push(Finding::new(
            "kernel-memory",
            format!(
                "kernel memory (slab, sockets, stacks) is {}% of the cgroup's usage",
                k * 100 / usage
            ),
            vec![
                ev("kernel memory", k as f64, "KiB"),
                ev("cgroup usage", usage as f64, "KiB"),
            ],
        ));
    }
}

/// scenario 002: the largest consumer survived because of oom_score_adj, or a critical
/// service died.
fn innocent_victim(
    inc: &Incident,
    ranking: Option<&Ranking>,
    findings: &mut Vec<Finding>,
    advice: &mut Vec<Advice>,
    owner: Option<&Owner>,
) {
    let Some(v) = inc.victim() else { return };
    let comm = v.comm.as_deref().unwrap_or("");
    if let Some(t) = inc.task_table.as_ref() {
        let largest = t
            .rows
            .iter()
            .filter(|r| r.oom_score_adj != Some(-1000))
            .max_by_key(|r| r.rss.unwrap_or(0));
        let victim_row = t.rows.iter().find(|r| Some(r.pid) == v.pid);
        if let (Some(big), Some(vr)) = (largest, victim_row) {
            if big.pid != vr.pid && big.rss > vr.rss {
                let (ba, va) = (
                    big.oom_score_adj.unwrap_or(0),
                    vr.oom_score_adj.unwrap_or(0),
                );
                let reason = if va > ba {
                    format!(
                        "its oom_score_adj {va} outweighed the size of {} (pid {}, adj {ba})",
                        big.name, big.pid
                    )
                } else {
                    format!("{} (pid {}) is larger but scored lower", big.name, big.pid)
                };
                findings.push(Finding::new(
                    "largest-survived-by-adj",
                    format!("{comm} was not the largest process: {reason}"),
                    vec![
                        ev("victim rss", vr.rss.unwrap_or(0) as f64, "pages"),
                        ev("victim oom_score_adj", va as f64, ""),
                        ev("largest rss", big.rss.unwrap_or(0) as f64, "pages"),
                        ev("largest oom_score_adj", ba as f64, ""),
                    ],
                ));
            }
        }
    }
    if CRITICAL_COMMS.contains(&comm) && v.oom_score_adj.is_none_or(|a| a >= 0) {
        let mut evidence = vec![ev(
            "victim oom_score_adj",
            v.oom_score_adj.unwrap_or(0) as f64,
            "",
        )];
        if let Some(r) = ranking.and_then(|r| r.top.get(1)) {
            evidence.push(ev("next candidate rss", r.rss_pages as f64, "pages"));
        }
        findings.push(Finding::new(
            "critical-victim",
            format!(
                "{comm} is a critical service and was not protected (oom_score_adj {})",
                v.oom_score_adj.unwrap_or(0)
            ),
            evidence,
        ));
        let unit = owner.and_then(|o| o.unit.clone());
        advice.push(Advice {
            finding: "critical-victim",
            reason: format!("protect {comm} so the kernel picks a less important process, and bound the others with MemoryMax so they cannot starve it"),
            target: Some(format!("/etc/systemd/system/{}.d/50-oomlens.conf", unit.as_deref().unwrap_or("UNIT.service"))),
            snippet: "[Service]\nOOMScoreAdjust=-900".into(),
        });
    }
}

/// scenario 001: the killed pid is not the container's first process, so the container can
/// keep running (no restart, no exit 137) while that work is lost.
fn subprocess(inc: &Incident, findings: &mut Vec<Finding>) {
    if inc.kind != Some(Kind::Memcg) {
        return;
    }
    let (Some(v), Some(t)) = (inc.victim(), inc.task_table.as_ref()) else {
        return;
    };
    let Some(first) = t.rows.first() else { return };
    if t.rows.len() < 2 || Some(first.pid) == v.pid {
        return;
    }
    findings.push(Finding::new("subprocess-killed", format!(
            "the killed process (pid {}) is not the cgroup's first process ({} pid {}): a container or service can keep running after losing it, with no restart and no exit code 137; locks and in-flight work of pid {} are left behind",
            v.pid.unwrap_or(0),
            first.name,
            first.pid,
            v.pid.unwrap_or(0)
        ), vec![ev("victim pid", v.pid.unwrap_or(0) as f64, ""), ev("first process pid", first.pid as f64, ""), ev("tasks in cgroup", t.rows.len() as f64, "")]));
}

/// scenario 000: repeated kills of one workload, and whether each kill is a leak reaching the
/// limit or a working set above it.
fn restart_findings(
    inc: &Incident,
    l: &LoopInfo,
    findings: &mut Vec<Finding>,
    advice: &mut Vec<Advice>,
    owner: Option<&Owner>,
) {
    let mut evidence = vec![
        ev("kills of this workload so far", l.nth as f64, "kills"),
        ev("kills within the last hour", l.in_last_hour as f64, "kills"),
    ];
    if let Some(i) = l.mean_interval_s {
        evidence.push(ev("mean interval", i, "s"));
    }
    findings.push(Finding::new(
        "restart-loop",
        format!(
            "{} has been killed {} times{}",
            l.key,
            l.nth,
            l.mean_interval_s
                .map(|i| format!(", every {} on average", human_secs(i)))
                .unwrap_or_default()
        ),
        evidence,
    ));
    let limit_kb = inc
        .memcg
        .as_ref()
        .and_then(|m| m.memory)
        .map(|m| m.limit_kb);
    let sizes = &l.victim_kb;
    if sizes.len() < 2 {
        return;
    }
    let min = *sizes.iter().min().unwrap_or(&0) as f64;
    let max = *sizes.iter().max().unwrap_or(&0) as f64;
    let same_size = max > 0.0 && (max - min) / max <= 0.10;
    let near_limit = limit_kb.is_some_and(|lim| lim > 0 && max >= 0.8 * lim as f64);
    let Some(interval) = l.mean_interval_s else {
        return;
    };
    let in_pod = owner.is_some_and(|o| o.pod_uid.is_some());
    let unit = owner.and_then(|o| o.unit.clone());
    let target = unit
        .as_ref()
        .map(|u| format!("/etc/systemd/system/{u}.d/50-oomlens.conf"));
    if same_size && near_limit && interval >= LEAK_MIN_INTERVAL_S {
        // The victim grows from a restart to the limit every time: a leak at about this rate.
        let rate_kb_per_min = max / (interval / 60.0);
        findings.push(Finding::new("leak-to-limit", format!(
                "each kill comes {} after the previous one at the same size ({:.0} MiB, the limit): the process grows about {:.1} MiB/min until it hits the limit — a leak; a higher limit only delays the next kill",
                human_secs(interval),
                max / 1024.0,
                rate_kb_per_min / 1024.0
            ), vec![ev("victim size at kill", max, "KiB"), ev("limit", limit_kb.unwrap_or(0) as f64, "KiB"), ev("growth rate", rate_kb_per_min, "KiB/min")]));
        let high_mib = limit_kb.unwrap_or(0) * 9 / 10 / 1024;
        let limit_mib = limit_kb.unwrap_or(0) / 1024;
        advice.push(if in_pod {
            Advice {
                finding: "leak-to-limit",
                reason: "a higher limit only delays the next kill; cap the runtime's heap below the limit so it collects or fails visibly instead of being killed, and fix the leak".into(),
                target: Some("the container's spec in the pod template".into()),
                snippet: format!(
                    "resources:\n  requests:\n    memory: {limit_mib}Mi\n  limits:\n    memory: {limit_mib}Mi\nenv:\n- name: GOMEMLIMIT        # Go; for the JVM: -XX:MaxRAMPercentage=75\n  value: {high_mib}MiB"
                ),
            }
        } else {
            Advice {
                finding: "leak-to-limit",
                reason: "MemoryHigh below MemoryMax makes the kernel throttle and reclaim before it kills, and a planned restart before the limit loses no work in flight; fix the leak itself".into(),
                target,
                snippet: format!(
                    "[Service]\nMemoryHigh={high_mib}M\nMemoryMax={limit_mib}M\nRuntimeMaxSec={}",
                    ((interval * 0.8) as u64).max(60)
                ),
            }
        });
    } else if same_size && near_limit {
        findings.push(Finding::new("limit-below-working-set", format!(
                "each kill comes {} after the previous one at the limit ({:.0} MiB): the workload needs more than the limit as soon as it runs — the limit is too low for its steady need",
                human_secs(interval),
                max / 1024.0
            ), vec![ev("victim size at kill", max, "KiB"), ev("limit", limit_kb.unwrap_or(0) as f64, "KiB"), ev("mean interval", interval, "s")]));
        let need_mib = (max / 1024.0 * 1.5).ceil() as u64;
        let reason = format!(
            "the workload reaches the limit within {} of starting, every time: give it room for its working set plus headroom",
            human_secs(interval)
        );
        advice.push(if in_pod {
            Advice {
                finding: "limit-below-working-set",
                reason,
                target: Some("the container's spec in the pod template".into()),
                snippet: format!("resources:\n  requests:\n    memory: {need_mib}Mi\n  limits:\n    memory: {need_mib}Mi"),
            }
        } else {
            Advice {
                finding: "limit-below-working-set",
                reason,
                target,
                snippet: format!("[Service]\nMemoryHigh={}M\nMemoryMax={need_mib}M", need_mib * 9 / 10),
            }
        });
    }
}

fn human_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::{Kill, LogTime, MemcgCounter, MemcgCounters};

    /// A memcg kill of `comm` in `cg` at `t` seconds, victim `anon_mib`, limit `limit_mib`.
    fn kill(cg: &str, t: u64, anon_mib: u64, limit_mib: u64) -> Incident {
        let mut i = Incident::new(
            1,
            LogTime {
                monotonic_us: Some(t * 1_000_000),
                ..LogTime::default()
            },
        );
        i.kind = Some(Kind::Memcg);
        i.oom_memcg = Some(cg.into());
        i.task_memcg = Some(cg.into());
        i.memcg = Some(MemcgCounters {
            memory: Some(MemcgCounter {
                usage_kb: limit_mib * 1024,
                limit_kb: limit_mib * 1024,
                failcnt: 3,
            }),
            ..MemcgCounters::default()
        });
        i.kills.push(Kill {
            pid: Some(1000 + t as u32),
            comm: Some("python3".into()),
            anon_rss_kb: Some(anon_mib * 1024),
            file_rss_kb: Some(0),
            ..Kill::default()
        });
        i
    }

    fn codes(e: &Explanation) -> Vec<&'static str> {
        e.findings.iter().map(|f| f.code).collect()
    }

    /// The same unit on two machines (a journal directory of several hosts) is two
    /// workloads: neither kill is the other's repeat.
    #[test]
    fn kills_on_two_hosts_are_not_one_restart_loop() {
        let mut ex = Explainer::new();
        let cg = "/system.slice/worker-processor.service";
        let nth = |ex: &mut Explainer, host: &str, t: u64| {
            let mut i = kill(cg, t, 508, 512);
            i.host = Some(host.into());
            ex.explain(&i).restart_loop.map_or(0, |l| l.nth)
        };
        assert!(nth(&mut ex, "a", 0) <= 1);
        assert!(nth(&mut ex, "b", 600) <= 1);
        assert_eq!(nth(&mut ex, "a", 1200), 2);
    }

    #[test]
    fn a_slow_leak_to_the_limit_is_named_with_its_rate() {
        let mut ex = Explainer::new();
        let cg = "/system.slice/worker-processor.service";
        let mut last = None;
        for n in 0..6 {
            last = Some(ex.explain(&kill(cg, 600 * n, 508, 512)));
        }
        let e = last.unwrap();
        let l = e.restart_loop.as_ref().unwrap();
        assert_eq!(
            (l.key.as_str(), l.nth, l.in_last_hour),
            ("worker-processor.service", 6, 6)
        );
        assert_eq!(l.mean_interval_s, Some(600.0));
        assert!(
            codes(&e).contains(&"leak-to-limit") && codes(&e).contains(&"restart-loop"),
            "{:?}",
            codes(&e)
        );
        let leak = e
            .findings
            .iter()
            .find(|f| f.code == "leak-to-limit")
            .unwrap();
        let rate = leak
            .evidence
            .iter()
            .find(|v| v.name == "growth rate")
            .unwrap()
            .value;
        assert!((rate / 1024.0 - 50.8).abs() < 0.1, "{rate}");
        let a = e
            .advice
            .iter()
            .find(|a| a.finding == "leak-to-limit")
            .unwrap();
        assert_eq!(
            a.target.as_deref(),
            Some("/etc/systemd/system/worker-processor.service.d/50-oomlens.conf")
        );
        assert!(
            a.snippet.contains("MemoryHigh=460M")
                && a.snippet.contains("MemoryMax=512M")
                && a.snippet.contains("RuntimeMaxSec=480"),
            "{}",
            a.snippet
        );
    }

    #[test]
    fn kills_seconds_apart_mean_the_limit_is_below_the_working_set() {
        let mut ex = Explainer::new();
        let mut e = None;
        for n in 0..3 {
            e = Some(ex.explain(&kill("/system.slice/etl.service", 3 * n, 255, 256)));
        }
        let e = e.unwrap();
        assert!(
            codes(&e).contains(&"limit-below-working-set"),
            "{:?}",
            codes(&e)
        );
        assert!(e
            .advice
            .iter()
            .any(|a| a.snippet.contains("MemoryMax=383M")));
        assert!(!codes(&e).contains(&"leak-to-limit"));
    }

    #[test]
    fn a_pod_gets_a_kubernetes_resources_stanza() {
        let mut ex = Explainer::new();
        let cg = "/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe";
        let mut e = None;
        for n in 0..3 {
            e = Some(ex.explain(&kill(cg, 2 * n, 255, 256)));
        }
        let e = e.unwrap();
        let a = e
            .advice
            .iter()
            .find(|a| a.finding == "limit-below-working-set")
            .unwrap();
        assert!(
            a.snippet.starts_with(
                "resources:\n  requests:\n    memory: 383Mi\n  limits:\n    memory: 383Mi"
            ),
            "{}",
            a.snippet
        );
        assert_eq!(
            e.restart_loop.as_ref().unwrap().key,
            "container 3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe"
        );
    }

    #[test]
    fn one_kill_gives_no_limit_advice_and_no_loop() {
        let e = Explainer::new().explain(&kill("/system.slice/once.service", 0, 500, 512));
        assert!(e.restart_loop.is_none());
        assert!(
            e.advice.iter().all(|a| !a.snippet.contains("MemoryMax")),
            "{:?}",
            e.advice
        );
        assert_eq!(codes(&e), ["memcg-limit-hit"]);
    }

    #[test]
    fn differing_sizes_are_not_called_a_leak_or_a_low_limit() {
        let mut ex = Explainer::new();
        let mut e = None;
        for (n, size) in [100, 300, 500].into_iter().enumerate() {
            e = Some(ex.explain(&kill(
                "/system.slice/batch.service",
                900 * n as u64,
                size,
                512,
            )));
        }
        let c = codes(e.as_ref().unwrap());
        assert!(
            c.contains(&"restart-loop")
                && !c.contains(&"leak-to-limit")
                && !c.contains(&"limit-below-working-set"),
            "{c:?}"
        );
    }

    fn nth(e: &Explanation) -> usize {
        e.restart_loop.as_ref().map_or(1, |l| l.nth)
    }

    /// Owners age by the incidents' own time: a kill more than a week (of log time) after
    /// the owner's previous one starts a new count, a kill exactly a week after continues
    /// it; and an owner idle for over a week is dropped when other kills on its host move
    /// that host's clock on, while a monotonic clock starting again (a reboot) drops nobody.
    /// Times are seconds since boot here, so against the wall clock every one would be old.
    #[test]
    fn owners_age_by_incident_time() {
        const WEEK: u64 = 7 * 24 * 3600;
        let a = "/system.slice/a.service";
        let mut ex = Explainer::new();
        assert_eq!(nth(&ex.explain(&kill(a, 100, 508, 512))), 1);
        assert_eq!(nth(&ex.explain(&kill(a, 700, 508, 512))), 2);
        assert_eq!(nth(&ex.explain(&kill(a, 700 + WEEK, 508, 512))), 3);
        let e = ex.explain(&kill(a, 701 + 2 * WEEK, 508, 512));
        assert!(e.restart_loop.is_none(), "{:?}", e.restart_loop);
        let l = ex.explain(&kill(a, 1301 + 2 * WEEK, 508, 512)).restart_loop;
        let l = l.unwrap();
        assert_eq!(
            (l.nth, l.in_last_hour, l.mean_interval_s),
            (2, 2, Some(600.0))
        );

        // Sweeps run every `max_owners` kills: with 2, every second kill.
        let mut ex = Explainer::with_max_owners(2);
        ex.explain(&kill(a, 100, 508, 512));
        ex.explain(&kill("/system.slice/b.service", 200, 508, 512));
        assert_eq!(ex.tracked_owners(), 2);
        // After a reboot b is killed at 50 s: a's 100 s is in the future, not old.
        ex.explain(&kill("/system.slice/b.service", 50, 508, 512));
        ex.explain(&kill("/system.slice/b.service", 60, 508, 512));
        assert_eq!(ex.tracked_owners(), 2);
        // More than a week after a's kill on the same host: a goes at the next sweep.
        ex.explain(&kill("/system.slice/b.service", 150 + WEEK, 508, 512));
        ex.explain(&kill("/system.slice/b.service", 160 + WEEK, 508, 512));
        assert_eq!(ex.tracked_owners(), 1);
        assert_eq!(nth(&ex.explain(&kill(a, 170 + WEEK, 508, 512))), 1);
        // Another host's clock does not age this host's owners.
        let mut far = kill("/system.slice/c.service", 10 * WEEK, 508, 512);
        far.host = Some("other".into());
        ex.explain(&far);
        ex.explain(&far);
        assert_eq!(nth(&ex.explain(&kill(a, 180 + WEEK, 508, 512))), 2);
    }

    /// A log that printed no time at all: loops are still found (every kill counts as
    /// within the hour, no mean interval, so no leak verdict), and owners age by input
    /// order: forgotten after 65536 kills of others.
    #[test]
    fn owners_without_times_age_by_input_order() {
        let timeless = |cg: &str| {
            let mut i = kill(cg, 0, 508, 512);
            i.time = LogTime::default();
            i
        };
        let (a, b) = ("/system.slice/a.service", "/system.slice/b.service");
        let mut ex = Explainer::new();
        ex.explain(&timeless(a));
        ex.explain(&timeless(b));
        let e = ex.explain(&timeless(a));
        let l = e.restart_loop.as_ref().unwrap();
        assert_eq!((l.nth, l.in_last_hour, l.mean_interval_s), (2, 2, None));
        assert_eq!(l.victim_kb, [508 * 1024, 508 * 1024]);
        assert!(codes(&e).contains(&"restart-loop"), "{:?}", codes(&e));
        assert!(!codes(&e).contains(&"leak-to-limit"), "{:?}", codes(&e));
        // a's newest kill was kill 3; after kill 3 + 65536 it is still within reach.
        for _ in 0..65_535 {
            ex.explain(&timeless(b));
        }
        assert_eq!(nth(&ex.explain(&timeless(a))), 3);
        for _ in 0..65_536 {
            ex.explain(&timeless(b));
        }
        assert_eq!(nth(&ex.explain(&timeless(a))), 1);
        assert_eq!(ex.tracked_owners(), 2);
        // Left alone, a is dropped by a sweep (one every 4096 kills) once out of reach.
        for _ in 0..65_536 + 4096 {
            ex.explain(&timeless(b));
        }
        assert_eq!(ex.tracked_owners(), 1);
    }

    /// When full, the owner whose newest kill came first goes, not the one first seen.
    #[test]
    fn a_full_history_forgets_the_owner_killed_longest_ago() {
        let mut ex = Explainer::with_max_owners(2);
        let k = |ex: &mut Explainer, u: &str, t: u64| {
            nth(&ex.explain(&kill(&format!("/system.slice/{u}.service"), t, 508, 512)))
        };
        assert_eq!(k(&mut ex, "a", 1), 1);
        assert_eq!(k(&mut ex, "b", 2), 1);
        assert_eq!(k(&mut ex, "a", 3), 2);
        assert_eq!(k(&mut ex, "c", 4), 1);
        assert_eq!(ex.tracked_owners(), 2);
        assert_eq!(k(&mut ex, "a", 5), 3);
        assert_eq!(k(&mut ex, "b", 6), 1);
        assert_eq!(k(&mut ex, "c", 7), 1);
    }
}
