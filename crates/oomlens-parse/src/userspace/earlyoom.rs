//! earlyoom: its kill line in every generation and the outcome lines that follow it.

use std::collections::VecDeque;

use oomlens_model::{Completeness, Incident, Kill, KillEvidence, Kind};

use crate::envelope::Envelope;
use crate::userspace::state::{Msg, UserAssembler};

/// The earlyoom recognizer (table row in `recognizers.rs`).
pub(super) fn recognize(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    u.earlyoom(m.line, m.env, m.t, m.hold)
}

impl UserAssembler {
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
}

/// An earlyoom kill line of any generation (docs/log-formats.md §3.2):
/// - v1.3+: `sending SIGTERM to process 1 [uid 0] "name": badness|oom_score N[, oom_score_adj N], VmRSS N MiB[, cmdline "…"]`
/// - 2019 builds: `killing process 1 "name" with signal 15: badness N, VmRSS N MiB`
/// - v1.2: `Killing process 'name' with signal 15, pid: 1, badness: N, VmRSS: N MiB`
/// - v1.1: `Killing process: name, pid: 1, badness: N, VmRSS: N MiB`
/// - v0.x: `Killing process 1 (name)`; v1.0: `Killing process 1 name`
pub(super) fn earlyoom_kill(t: &str) -> Option<Kill> {
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
