//! oomlens guard's own pre-emption lines (crates/oomlens-guard/src/preempt.rs `log_line`),
//! read like any other userspace killer's:
//!
//! `oomlens guard: OOM preempt pid PID (COMM) in CGROUP: result R, signal S, usage B,
//! threshold B, line B, rss B, growth B/s, chosen-by C, trigger T[, latency-ms L], policy NAME`
//!
//! The ` OOM` in it is what the scanner's trigger list finds (`scan.rs`). COMM and CGROUP
//! arrive escaped by the guard; they are kept as printed.

use std::collections::VecDeque;

use oomlens_model::{Completeness, Incident, Kill, KillEvidence, Kind};

use crate::envelope::Envelope;
use crate::userspace::state::{Msg, UserAssembler};

/// The line's fixed start.
const PREFIX: &str = "oomlens guard: OOM preempt pid ";

/// The guard recognizer (table row in `recognizers.rs`).
pub(super) fn recognize(_u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let Some(k) = guard_kill(m.t) else {
        return false;
    };
    push(m.line, m.env, k, m.hold);
    true
}

fn push(line: u64, env: &Envelope, mut k: Kill, hold: &mut VecDeque<Incident>) {
    let mut inc = Incident::new(line, env.time.clone());
    inc.kind = Some(Kind::OomlensGuard);
    inc.completeness = Completeness::Full;
    inc.host = env.host.clone();
    inc.task_memcg = k.cgroup.clone();
    k.time = env.time.clone();
    k.line = line;
    inc.kills.push(k);
    hold.push_back(inc);
}

/// The kill of one guard line: pid, comm, cgroup, signal (none for a dry run), RSS, the
/// result as the outcome.
pub(super) fn guard_kill(t: &str) -> Option<Kill> {
    let r = t.strip_prefix(PREFIX)?;
    let (pid, r) = r.split_once(" (")?;
    // The comm may hold `) in `: the cgroup starts after the last one before `: result `.
    let (head, fields) = r.split_once(": result ")?;
    let (comm, cgroup) = head.rsplit_once(") in ")?;
    let mut k = Kill {
        evidence: Some(KillEvidence::OomlensGuard),
        pid: Some(pid.parse().ok()?),
        comm: Some(comm.to_string()),
        cgroup: Some(cgroup.to_string()),
        ..Kill::default()
    };
    let (result, rest) = fields.split_once(", ").unwrap_or((fields, ""));
    k.outcome = Some(result.to_string());
    for f in rest.split(", ") {
        let (key, value) = f.split_once(' ').unwrap_or((f, ""));
        match key {
            "signal" if value != "none" => k.signal = Some(value.to_string()),
            "rss" => k.rss_kb = value.parse::<u64>().ok().map(|b| b / 1024),
            _ => {}
        }
    }
    Some(k)
}
