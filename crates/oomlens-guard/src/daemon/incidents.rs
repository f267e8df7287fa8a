//! Incidents: the logs' reports explained and recorded with their window, kills counted
//! without a report recorded when they expire.

use std::time::SystemTime;

use oomlens_analysis::explain::Explanation;
use oomlens_live::IncidentSink;
use oomlens_model::recorded::{RecordedIncident, RECORDED_SCHEMA, RECORD_INCIDENT};
use oomlens_model::{CgroupSample, Incident, ProcessSample};
use oomlens_sinks::escape::escape;

use super::{error_chain, unix_now, Daemon, EVENT_PASS_GAP};
use crate::record;

/// The pipeline's sink: explained incidents wait here for their lines and window.
#[derive(Default)]
pub(super) struct Explained {
    pub(super) pending: Vec<(Incident, Explanation, Option<String>)>,
}

impl IncidentSink for Explained {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> std::io::Result<()> {
        let json = oomlens_sinks::json::incident_line(inc, Some(expl)).ok();
        self.pending.push((inc.clone(), expl.clone(), json));
        Ok(())
    }
}

impl Daemon {
    /// Explain and record what the logs completed.
    pub(super) fn record_parsed(&mut self) {
        if self.parsed.is_empty() {
            return;
        }
        // The window should end at the kill: one pass now unless one just ran.
        if self.mono() - self.last_pass >= EVENT_PASS_GAP {
            self.stats.event_passes += 1;
            self.pass();
        }
        let kernel_from_kmsg = self.inputs.iter().any(|i| i.name == "kmsg");
        for p in std::mem::take(&mut self.parsed) {
            // systemd's "killed by the OOM killer" lines about a unit are its word on a kill
            // the kernel reports on /dev/kmsg, which this guard records from there. Read from
            // a journal without kernel lines, nothing can join them to that report, and each
            // would be a second incident of the same kill.
            if kernel_from_kmsg
                && p.incident.source.file.as_deref() == Some("journal")
                && p.incident.kind == Some(oomlens_model::Kind::SystemdNotice)
            {
                self.stats.notices_skipped += 1;
                continue;
            }
            self.pipeline.incident(&p.incident);
            let Some((inc, expl, json)) = self.pipeline.sink_mut().pending.pop() else {
                continue;
            };
            let source = match p.incident.source.file.as_deref() {
                Some("kmsg") => "kmsg",
                Some("journal") => "journal",
                _ => "file",
            };
            self.record(inc, &expl, json, p.raw, source, None);
        }
    }

    pub(super) fn record(
        &mut self,
        inc: Incident,
        explanation: &Explanation,
        expl: Option<String>,
        raw: Vec<String>,
        source: &str,
        decision_json: Option<String>,
    ) {
        let now = unix_now();
        let mono = self.mono();
        let mut cgroups = record::record_cgroups(&inc, &self.window);
        self.sample_unknown(&cgroups);
        // Now that unknown cgroups have their limits, the chain may stop earlier.
        if inc.oom_memcg.is_none() {
            cgroups = record::record_cgroups(&inc, &self.window);
        }
        for c in record::kill_cgroups(&inc) {
            self.orphans.reported(&c, mono);
        }
        let victim = inc.victim().and_then(|k| k.pid);
        let rec = RecordedIncident {
            decision_json,
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: now,
            logged_unix: record::unix_of(&inc.time),
            host: self.host.host.clone(),
            boot_id: self.host.boot_id.clone(),
            guard_version: env!("CARGO_PKG_VERSION").into(),
            log_source: source.into(),
            signals: self.signals.of(&cgroups, now - record::SIGNALS_BEFORE),
            raw,
            window: record::record_window(&self.window, &cgroups, victim),
            incident: inc,
            explanation_json: expl,
        };
        let id = self.append(&rec);
        if id.is_some() {
            self.stats.recorded += 1;
        }
        self.live.incident(&rec, id);
        self.outputs.incident(&rec.incident, explanation, id);
    }

    /// Read at once the cgroups of a record that the sampler's walk has not reached yet (made
    /// since its last re-listing of their parent): their counters and processes now, so a
    /// record never goes out without its victim's cgroup.
    pub(super) fn sample_unknown(&mut self, cgroups: &[String]) {
        let Some(fs) = &self.cgroupfs else {
            return;
        };
        let proc = oomlens_sources::procfs::ProcFs::new(&self.args.root);
        let t = unix_now();
        for path in cgroups {
            if self.window.contains(path) {
                continue;
            }
            let Ok(Some(m)) = fs.memory(path, oomlens_sources::cgroupfs::Detail::Counters) else {
                continue;
            };
            let c = CgroupSample {
                path: path.clone(),
                usage: m.usage,
                max: m.max,
                high: m.high,
                soft_limit: m.soft_limit,
                anon: m.split.anon,
                file: m.split.file,
                shmem: m.split.shmem,
                swap: m
                    .swap_current
                    .or_else(|| Some(m.memsw_usage?.saturating_sub(m.usage?))),
                failcnt: m.failcnt,
                oom_kill: m.oom_kill,
                psi_some_avg10: m.pressure.map(|p| p.some_avg10),
                psi_some_total_us: m.pressure.map(|p| p.some_total_us),
                counters_t: None,
            };
            let pids = fs.procs(path).ok().flatten().unwrap_or_default();
            let procs: Vec<ProcessSample> = pids
                .into_iter()
                .filter_map(|pid| {
                    let st = proc.status_of(pid).ok()??;
                    Some(ProcessSample {
                        pid,
                        comm: st.name,
                        cgroup: path.clone(),
                        anon: st.rss_anon,
                        file: st.rss_file,
                        shmem: st.rss_shmem,
                        swap: st.vm_swap,
                    })
                })
                .collect();
            let refs: Vec<&ProcessSample> = procs.iter().collect();
            self.window.push(t, &c, &refs, &[]);
        }
    }

    pub(super) fn append(&mut self, rec: &RecordedIncident) -> Option<u64> {
        let payload = match serde_json::to_vec(rec) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("oomlens guard: encoding a record: {e}");
                self.stats.write_errors += 1;
                return None;
            }
        };
        match self
            .recorder
            .append(SystemTime::now(), RECORD_INCIDENT, &payload)
        {
            Ok(id) => {
                let victim = rec.incident.victim();
                eprintln!(
                    "oomlens guard: recorded incident {id}: {} pid {} in {}",
                    escape(victim.and_then(|k| k.comm.as_deref()).unwrap_or("?")),
                    victim
                        .and_then(|k| k.pid)
                        .map_or("?".to_string(), |p| p.to_string()),
                    escape(rec.window.cgroups.first().map_or("?", |c| c.path.as_str())),
                );
                Some(id)
            }
            Err(e) => {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
                self.stats.write_errors += 1;
                None
            }
        }
    }

    pub(super) fn expire_orphans(&mut self) {
        let now = self.mono();
        for (cgroup, sigs) in self.orphans.expired(now) {
            let rec = record::unreported(&cgroup, sigs, &self.window, &self.host, unix_now());
            let id = self.append(&rec);
            if id.is_some() {
                self.stats.unreported += 1;
            }
            self.live.incident(&rec, id);
            self.outputs
                .counted_only(&cgroup, &rec.incident, id.is_some());
        }
    }
}
