//! systemd-oomd (src/oom/oomd.c, oomd-manager.c, oomd-util.c): `attempting to kill` lines,
//! the debug pressure line, the summary line (`Killed …`, `Marked … for killing`, `Failed to
//! kill any …`) and PID 1's notices in between, gathered into one incident per action.

use std::collections::VecDeque;

use oomlens_model::{Completeness, Incident, Kill, KillEvidence, Kind, OomdTrigger};

use crate::envelope::Envelope;
use crate::userspace::state::{Msg, OomdPending, UserAssembler, OOMD_WINDOW};

/// The systemd-oomd recognizer (table row in `recognizers.rs`).
pub(super) fn recognize(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    u.oomd(m.line, m.env, m.t, m.hold)
}

impl UserAssembler {
    pub(super) fn oomd(
        &mut self,
        line: u64,
        env: &Envelope,
        t: &str,
        hold: &mut VecDeque<Incident>,
    ) -> bool {
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
    pub(super) fn oomd_cut_alone(
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
    pub(super) fn flush_oomd(&mut self, hold: &mut VecDeque<Incident>) {
        if let Some(p) = self.oomd.take() {
            let trig = OomdTrigger {
                reason: "unknown".into(),
                ..OomdTrigger::default()
            };
            self.push_oomd(p, trig, None, None, hold);
        }
    }
}

/// `oomd attempting to kill <pid> with <SIG>` (src/oom/oomd-util.c log_kill, LOG_DEBUG;
/// signal_to_string() gives `KILL`, not `SIGKILL`).
pub(super) fn oomd_attempt(t: &str) -> Option<u32> {
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
pub(super) fn oomd_failed(t: &str) -> Option<(OomdTrigger, &str)> {
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
