//! systemd's unit notices (PID 1 and user managers) and the linking of notices and
//! witnesses to the kernel incident they describe.

use std::collections::VecDeque;

use oomlens_model::{Completeness, Incident, Kill, Kind, Notice, NoticeKind, Witness};

use crate::assemble::KernelAssembler;
use crate::envelope::Envelope;
use crate::userspace::state::{Msg, UserAssembler};

/// The systemd unit notice recognizer (table row in `recognizers.rs`).
pub(super) fn recognize(u: &mut UserAssembler, m: &mut Msg<'_, '_>) -> bool {
    let Some(n) = notice(m.line, m.env, m.t) else {
        return false;
    };
    // PID 1 reports systemd-oomd's kills between its `attempting to kill` lines and
    // its summary line: keep them for that incident unless they name another.
    match u.oomd.as_mut() {
        Some(p)
            if n.kind != NoticeKind::ScheduledRestart
                && !notice_has_target(&n, m.kernel, m.hold) =>
        {
            p.last_line = m.line;
            p.notices.push(n);
        }
        _ => link_notice(n, m.kernel, m.hold),
    }
    true
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
pub(super) fn memcg_names(inc: &Incident, id: &str) -> bool {
    // An open kernel incident has no kind yet (it is derived when it closes): match on paths.
    [&inc.task_memcg, &inc.oom_memcg]
        .into_iter()
        .flatten()
        .any(|cg| cg.contains(id))
}

/// Attach a witness to the kernel incident `matches` picks (open, then held, newest first).
pub(super) fn link_witness(
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

/// How many lines before a kernel report systemd's kill notice of it may come. systemd
/// reacts to the `oom_kill` count in `memory.events`; in the QEMU systemd guest (systemd 252,
/// kernel 6.1) its `A process of this unit has been killed by the OOM killer` line once came
/// 15 ms and one journal line before the kernel's `invoked oom-killer` line.
pub(crate) const EARLY_NOTICE_LINES: u64 = 8;

/// True when `inc` is a notice-only incident that a kernel report starting within
/// [`EARLY_NOTICE_LINES`] after it may still claim.
pub(crate) fn may_be_claimed(inc: &Incident, open_first_line: Option<u64>) -> bool {
    inc.kind == Some(Kind::SystemdNotice)
        && open_first_line.is_some_and(|f| {
            f > inc.source.last_line && f <= inc.source.last_line + EARLY_NOTICE_LINES
        })
}

/// Moves the notices of a notice-only incident into the kernel incident that starts right
/// after it and names the same unit, and drops the notice-only incident: systemd's notice
/// came before the kernel's report of the same kill.
pub(crate) fn claim_early_notices(hold: &mut VecDeque<Incident>) {
    let kernel = |k: &Incident| {
        matches!(
            k.kind,
            None | Some(Kind::Memcg | Kind::Global | Kind::Cpuset | Kind::MemoryPolicy)
        )
    };
    let mut i = 0;
    while i < hold.len() {
        let f = &hold[i];
        let target = (f.kind == Some(Kind::SystemdNotice))
            .then(|| {
                let last = f.source.last_line;
                hold.iter().position(|k| {
                    kernel(k)
                        && k.source.first_line > last
                        && k.source.first_line <= last + EARLY_NOTICE_LINES
                        && f.notices.iter().all(|n| {
                            notice_matches(n, k)
                                && !k
                                    .notices
                                    .iter()
                                    .any(|x| x.kind == n.kind && x.unit == n.unit)
                        })
                })
            })
            .flatten();
        match target {
            Some(j) => {
                let f = hold.remove(i).expect("index in range");
                let k = &mut hold[if j > i { j - 1 } else { j }];
                k.notices.extend(f.notices);
                k.notices.sort_by_key(|n| n.line);
            }
            None => i += 1,
        }
    }
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
    // An incident that already carries this notice for this unit is an earlier kill:
    // systemd says each once per kill, and may say it just before the kernel prints the
    // next report (`claim_early_notices`).
    let said = |inc: &Incident| {
        !slice
            && inc
                .notices
                .iter()
                .any(|x| x.kind == n.kind && x.unit == n.unit)
    };
    if let Some(inc) = kernel.open_incident().filter(|i| matches(i) && !said(i)) {
        inc.notices.push(n);
        return;
    }
    if let Some(inc) = hold.iter_mut().rev().find(|i| matches(i) && !said(i)) {
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
