//! The `oomlens.explain/1` JSON document, written incrementally.
//!
//! ```text
//! {"schema":"oomlens.explain/1","incidents":[{"kind":…,"completeness":…,"kernel_version":…,
//!  "constraint":…,"oom_memcg":…,"task_memcg":…,"invoker":{"comm":…,"pid":…,"gfp_mask":…,
//!  "order":…},"kills":[{"pid":…,"comm":…,"anon_rss_kb":…,"file_rss_kb":…,"shmem_rss_kb":…,
//!  "oom_score_adj":…}],"source":{"file":…,"first_line":…,"last_line":…}, …}], "summary":{…}}
//! ```
//!
//! The keys above are a contract: they are never renamed; new keys may be added. Values a
//! report did not print are `null`. The wire types here are separate from the model so the
//! model can change without changing the contract. Incidents are written as they arrive,
//! so memory does not grow with the number of incidents.

use std::io::{self, Write};

use oomlens_analysis::explain::Explanation;
use oomlens_model::{
    Incident, Kill, LogTime, MemInfo, MemcgCounters, MemoryStat, Notice, OomdTrigger, Reap,
    Selection, TaskTable, Witness,
};
use serde::Serialize;

/// The schema name and version of `oomlens explain --json`.
pub const EXPLAIN_SCHEMA: &str = "oomlens.explain/1";

#[derive(Serialize)]
struct WireInvoker<'a> {
    comm: Option<&'a str>,
    pid: Option<u32>,
    gfp_mask: Option<&'a str>,
    order: Option<u32>,
    oom_score_adj: Option<i32>,
    oom_adj: Option<i32>,
    nodemask: Option<&'a str>,
}

#[derive(Serialize)]
struct WireKill<'a> {
    pid: Option<u32>,
    comm: Option<&'a str>,
    uid: Option<u32>,
    anon_rss_kb: Option<u64>,
    file_rss_kb: Option<u64>,
    shmem_rss_kb: Option<u64>,
    total_vm_kb: Option<u64>,
    pgtables_kb: Option<u64>,
    oom_score_adj: Option<i32>,
    oom_score_adj_from: Option<&'static str>,
    evidence: Option<&'static str>,
    reason: Option<&'a str>,
    signal: Option<&'a str>,
    cgroup: Option<&'a str>,
    pod: Option<&'a str>,
    container: Option<&'a str>,
    exit_code: Option<i32>,
    score: Option<i64>,
    rss_kb: Option<u64>,
    outcome: Option<&'a str>,
    reaped: Option<&'a Reap>,
    line: u64,
    time: &'a LogTime,
}

#[derive(Serialize)]
struct WireSource<'a> {
    file: Option<&'a str>,
    first_line: u64,
    last_line: u64,
    format: Option<&'a str>,
}

#[derive(Serialize)]
struct WireIncident<'a> {
    kind: Option<&'static str>,
    completeness: &'static str,
    kernel_version: Option<&'a str>,
    constraint: Option<&'a str>,
    oom_memcg: Option<&'a str>,
    task_memcg: Option<&'a str>,
    invoker: WireInvoker<'a>,
    kills: Vec<WireKill<'a>>,
    source: WireSource<'a>,
    time: &'a LogTime,
    host: Option<&'a str>,
    nodemask: Option<&'a str>,
    cpuset: Option<&'a str>,
    mems_allowed: Option<&'a str>,
    oom_path: &'a [String],
    memcg: Option<&'a MemcgCounters>,
    memory_stat: Option<&'a MemoryStat>,
    mem_info: Option<&'a MemInfo>,
    task_table: Option<&'a TaskTable>,
    selection: Option<&'a Selection>,
    oom_group: Option<&'a str>,
    unmatched_reaps: &'a [Reap],
    no_killable_processes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    panic: Option<&'a str>,
    oomd_trigger: Option<&'a OomdTrigger>,
    notices: &'a [Notice],
    witnesses: &'a [Witness],
    elisions: u32,
}

fn evidence_name(k: &Kill) -> Option<&'static str> {
    use oomlens_model::KillEvidence as E;
    k.evidence.map(|e| match e {
        E::KilledLine => "killed-line",
        E::OomKillLine => "oom-kill-line",
        E::Reaper => "reaper",
        E::Selection => "selection",
        E::SystemdOomd => "systemd-oomd",
        E::Earlyoom => "earlyoom",
        E::Kubelet => "kubelet",
    })
}

fn wire(inc: &Incident) -> WireIncident<'_> {
    let inv = inc.invoker.as_ref();
    WireIncident {
        kind: inc.kind.map(|k| k.as_str()),
        completeness: inc.completeness.as_str(),
        kernel_version: inc.kernel_version.as_deref(),
        constraint: inc.constraint.as_deref(),
        oom_memcg: inc.oom_memcg.as_deref(),
        task_memcg: inc.task_memcg.as_deref(),
        invoker: WireInvoker {
            comm: inv.and_then(|i| i.comm.as_deref()),
            pid: inv.and_then(|i| i.pid),
            gfp_mask: inv.and_then(|i| i.gfp_mask.as_deref()),
            order: inv.and_then(|i| i.order),
            oom_score_adj: inv.and_then(|i| i.oom_score_adj),
            oom_adj: inv.and_then(|i| i.oom_adj),
            nodemask: inv.and_then(|i| i.nodemask.as_deref()),
        },
        kills: inc
            .kills
            .iter()
            .map(|k| WireKill {
                pid: k.pid,
                comm: k.comm.as_deref(),
                uid: k.uid,
                anon_rss_kb: k.anon_rss_kb,
                file_rss_kb: k.file_rss_kb,
                shmem_rss_kb: k.shmem_rss_kb,
                total_vm_kb: k.total_vm_kb,
                pgtables_kb: k.pgtables_kb,
                oom_score_adj: k.oom_score_adj,
                oom_score_adj_from: k.oom_score_adj_from.map(|a| match a {
                    oomlens_model::AdjSource::KilledLine => "killed-line",
                    oomlens_model::AdjSource::TaskTable => "task-table",
                }),
                evidence: evidence_name(k),
                reason: k.reason.as_deref(),
                signal: k.signal.as_deref(),
                cgroup: k.cgroup.as_deref(),
                pod: k.pod.as_deref(),
                container: k.container.as_deref(),
                exit_code: k.exit_code,
                score: k.score,
                rss_kb: k.rss_kb,
                outcome: k.outcome.as_deref(),
                reaped: k.reaped.as_ref(),
                line: k.line,
                time: &k.time,
            })
            .collect(),
        source: WireSource {
            file: inc.source.file.as_deref(),
            first_line: inc.source.first_line,
            last_line: inc.source.last_line,
            format: inc.source.format.as_deref(),
        },
        time: &inc.time,
        host: inc.host.as_deref(),
        nodemask: inc.nodemask.as_deref(),
        cpuset: inc.cpuset.as_deref(),
        mems_allowed: inc.mems_allowed.as_deref(),
        oom_path: &inc.oom_path,
        memcg: inc.memcg.as_ref(),
        memory_stat: inc.memory_stat.as_ref(),
        mem_info: inc.mem_info.as_ref(),
        task_table: inc.task_table.as_ref(),
        selection: inc.selection.as_ref(),
        oom_group: inc.oom_group.as_deref(),
        unmatched_reaps: &inc.unmatched_reaps,
        no_killable_processes: inc.no_killable_processes,
        panic: inc.panic.as_deref(),
        oomd_trigger: inc.oomd_trigger.as_ref(),
        notices: &inc.notices,
        witnesses: &inc.witnesses,
        elisions: inc.elisions,
    }
}

/// Writes one `oomlens.explain/1` document, an incident at a time.
pub struct JsonWriter<W: Write> {
    w: W,
    count: u64,
}

impl<W: Write> JsonWriter<W> {
    /// Start the document.
    pub fn begin(mut w: W) -> io::Result<JsonWriter<W>> {
        write!(w, "{{\"schema\":\"{EXPLAIN_SCHEMA}\",\"incidents\":[")?;
        Ok(JsonWriter { w, count: 0 })
    }

    /// Append an incident with its explanation (keys `owner`, `ranking`, `findings`,
    /// `advice`, `restart_loop`).
    pub fn incident(&mut self, inc: &Incident, expl: Option<&Explanation>) -> io::Result<()> {
        if self.count > 0 {
            self.w.write_all(b",")?;
        }
        self.w.write_all(b"\n")?;
        serde_json::to_writer(
            &mut self.w,
            &Explained {
                incident: wire(inc),
                explanation: expl,
            },
        )?;
        self.count += 1;
        Ok(())
    }

    /// Close the document with a summary object (inputs read, lines lost, warnings).
    pub fn finish(mut self, summary: &impl Serialize) -> io::Result<W> {
        self.w.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut self.w, summary)?;
        self.w.write_all(b"}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// An incident with its explanation's keys beside its own.
#[derive(Serialize)]
struct Explained<'a> {
    #[serde(flatten)]
    incident: WireIncident<'a>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Explanation>,
}

/// One incident as a single JSON line (`--follow --json`), with the schema name.
pub fn incident_line(inc: &Incident, expl: Option<&Explanation>) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Line<'a> {
        schema: &'static str,
        incident: Explained<'a>,
    }
    serde_json::to_string(&Line {
        schema: "oomlens.explain.incident/1",
        incident: Explained {
            incident: wire(inc),
            explanation: expl,
        },
    })
}
