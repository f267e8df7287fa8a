//! What the guard writes to the systemd journal: one structured entry per incident (and
//! one when the guard starts or stops), as `(FIELD, value)` pairs for
//! `oomlens_service::journal::Journal::send`.
//!
//! Every entry has a `MESSAGE_ID` telling what happened ([`MESSAGE_KINDS`], one per kind),
//! so that `journalctl MESSAGE_ID=…` finds all kills of one kind and `journalctl -x` shows
//! the explanation from `contrib/systemd/oomlens.catalog` (a test keeps the two in step).
//! The `OOMLENS_*` fields carry the facts for machines: `journalctl OOMLENS_UNIT=foo.service`
//! lists that unit's kills. Field values are the raw bytes of the report (the journal is
//! binary-safe and `journalctl` escapes on output); only `MESSAGE`, the one-line headline
//! shown to people, is escaped here.

use oomlens_analysis::explanation::Explanation;
use oomlens_analysis::owner::{owner_of, Owner};
use oomlens_model::{Incident, Kind};

use crate::escape::escape;
use crate::text::headline;

/// One kind of journal message: its `MESSAGE_ID` and syslog priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKind {
    /// Short name, also the value of `OOMLENS_EVENT`.
    pub name: &'static str,
    /// `MESSAGE_ID`: 128 bits, lowercase hex (made once with `systemd-id128 new`).
    pub id: &'static str,
    /// `PRIORITY` (syslog level: 3 err, 4 warning, 5 notice, 6 info).
    pub priority: u8,
}

/// A kernel OOM kill in a memory cgroup (a limit was hit).
pub const MEMCG_KILL: MessageKind = MessageKind {
    name: "memcg-kill",
    id: "2533ec1949184e9aab5475d348d33bfc",
    priority: 3,
};
/// A kernel OOM kill with the whole machine (or a cpuset / mempolicy's nodes) out of memory.
pub const GLOBAL_KILL: MessageKind = MessageKind {
    name: "global-kill",
    id: "75b401e54d3b48989d92b9fee52cfe82",
    priority: 3,
};
/// systemd-oomd killed a cgroup.
pub const OOMD_KILL: MessageKind = MessageKind {
    name: "systemd-oomd-kill",
    id: "27aef72a73304d9fa3c2b883702bf872",
    priority: 3,
};
/// earlyoom signalled a process.
pub const EARLYOOM_KILL: MessageKind = MessageKind {
    name: "earlyoom-kill",
    id: "623e07db8bd3450f8f849a87163e72b3",
    priority: 3,
};
/// The kubelet evicted a pod or reported a container OOMKilled.
pub const KUBELET: MessageKind = MessageKind {
    name: "kubelet",
    id: "ede13f0b143d4357bb7de94aa4093dd6",
    priority: 4,
};
/// A kill known only from a counter (`memory.events` `oom_kill`) or from systemd's notice:
/// the kernel's report was lost (kmsg overrun, rate limit) or never read.
pub const REPORT_LOST: MessageKind = MessageKind {
    name: "report-lost",
    id: "f27e9323ae8d41e2ae24c7925169babd",
    priority: 3,
};
/// oomlens guard pre-empted a process (or, dry run, decided to).
pub const GUARD_PREEMPT: MessageKind = MessageKind {
    name: "guard-preempt",
    id: "0d0e8e8b755643569f89a6ec2d7679d1",
    priority: 4,
};
/// The guard started.
pub const GUARD_STARTED: MessageKind = MessageKind {
    name: "guard-started",
    id: "f5a6efb35ba543939cbdb12075771568",
    priority: 6,
};
/// The guard stopped.
pub const GUARD_STOPPED: MessageKind = MessageKind {
    name: "guard-stopped",
    id: "6cb993cc0e23472bb7542553f69fd256",
    priority: 5,
};

/// Every message kind, in catalog order.
pub const MESSAGE_KINDS: &[MessageKind] = &[
    MEMCG_KILL,
    GLOBAL_KILL,
    OOMD_KILL,
    EARLYOOM_KILL,
    KUBELET,
    REPORT_LOST,
    GUARD_PREEMPT,
    GUARD_STARTED,
    GUARD_STOPPED,
];

/// The `OOMLENS_*` fields an entry may carry, with what each holds (the catalog documents
/// the same list). Fields marked "each kill" repeat, once per killed process, in order.
pub const FIELDS: &[(&str, &str)] = &[
    ("OOMLENS_EVENT", "the message kind's short name"),
    ("OOMLENS_KIND", "the incident kind as in explain --json"),
    ("OOMLENS_PID", "each kill: the killed pid"),
    ("OOMLENS_COMM", "each kill: the killed process's comm"),
    ("OOMLENS_KILLS", "how many processes the incident killed"),
    ("OOMLENS_CGROUP", "the victim's cgroup"),
    ("OOMLENS_OOM_CGROUP", "the cgroup whose limit was hit"),
    (
        "OOMLENS_UNIT",
        "the systemd unit owning the victim's cgroup",
    ),
    (
        "OOMLENS_POD",
        "the Kubernetes pod (name, or uid when only the path names it)",
    ),
    ("OOMLENS_NAMESPACE", "the pod's namespace"),
    ("OOMLENS_CONTAINER", "the container (name, or runtime id)"),
    (
        "OOMLENS_RECORD_ID",
        "the flight recorder's record id (oomlens explain --recorded)",
    ),
    ("OOMLENS_VERSION", "the guard's version"),
];

/// What the guard has to say.
#[derive(Debug, Clone, Copy)]
pub enum JournalEvent<'a> {
    /// An incident read from a log, with the guard's explanation and the recorder's id.
    Incident {
        /// The incident.
        incident: &'a Incident,
        /// Its explanation (gives the owner; without it the owner is read from the path).
        explanation: Option<&'a Explanation>,
        /// Where the recorder keeps it.
        record_id: Option<u64>,
    },
    /// `oom_kill` of a cgroup rose by `kills` with no report in the log.
    CountedOnly {
        /// The cgroup whose counter rose.
        cgroup: &'a str,
        /// By how much.
        kills: u64,
    },
    /// The guard is up.
    GuardStarted {
        /// Its version.
        version: &'a str,
        /// What it watches, one line.
        detail: &'a str,
    },
    /// The guard is going down.
    GuardStopped {
        /// Its version.
        version: &'a str,
        /// Why (a signal, an error), one line.
        reason: &'a str,
    },
}

/// The message kind of an incident of kind `kind` (`None`: a cut-off report).
pub fn kind_of(kind: Option<Kind>) -> MessageKind {
    match kind {
        Some(Kind::Memcg) => MEMCG_KILL,
        // cpuset and mempolicy OOMs are the kernel's global OOM killer restricted to
        // some nodes: no memory cgroup limit was involved.
        Some(Kind::Global | Kind::Cpuset | Kind::MemoryPolicy) => GLOBAL_KILL,
        Some(Kind::SystemdOomd) => OOMD_KILL,
        Some(Kind::Earlyoom) => EARLYOOM_KILL,
        Some(Kind::Kubelet) => KUBELET,
        Some(Kind::OomlensGuard) => GUARD_PREEMPT,
        // Only systemd's "A process of this unit has been killed by the OOM killer" or a
        // report cut off before it said which: the kernel's own report is missing.
        Some(Kind::SystemdNotice) | None => REPORT_LOST,
    }
}

/// The journal entry of `event`: `(FIELD, value)` pairs, `MESSAGE` first.
pub fn entry(event: &JournalEvent<'_>) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = Vec::with_capacity(16);
    let kind = match event {
        JournalEvent::Incident {
            incident,
            explanation,
            record_id,
        } => {
            f.push(("MESSAGE", headline(incident, *explanation)));
            incident_fields(&mut f, incident, *explanation, *record_id);
            kind_of(incident.kind)
        }
        JournalEvent::CountedOnly { cgroup, kills } => {
            f.push((
                "MESSAGE",
                format!(
                    "OOM kill counted in {} (oom_kill +{kills}) but no kernel report was read",
                    escape(cgroup)
                ),
            ));
            f.push(("OOMLENS_KILLS", kills.to_string()));
            owner_fields(&mut f, &owner_of(cgroup), None);
            f.push(("OOMLENS_CGROUP", (*cgroup).to_owned()));
            REPORT_LOST
        }
        JournalEvent::GuardStarted { version, detail } => {
            f.push((
                "MESSAGE",
                format!(
                    "oomlens guard {} started: {}",
                    escape(version),
                    escape(detail)
                ),
            ));
            f.push(("OOMLENS_VERSION", (*version).to_owned()));
            GUARD_STARTED
        }
        JournalEvent::GuardStopped { version, reason } => {
            f.push((
                "MESSAGE",
                format!(
                    "oomlens guard {} stopping: {}",
                    escape(version),
                    escape(reason)
                ),
            ));
            f.push(("OOMLENS_VERSION", (*version).to_owned()));
            GUARD_STOPPED
        }
    };
    let head = [
        ("MESSAGE_ID", kind.id.to_owned()),
        ("PRIORITY", kind.priority.to_string()),
        ("SYSLOG_IDENTIFIER", "oomlens".to_owned()),
        ("OOMLENS_EVENT", kind.name.to_owned()),
    ];
    f.splice(1..1, head);
    f
}

fn incident_fields(
    f: &mut Vec<(&'static str, String)>,
    inc: &Incident,
    expl: Option<&Explanation>,
    record_id: Option<u64>,
) {
    if let Some(k) = inc.kind {
        f.push(("OOMLENS_KIND", k.as_str().to_owned()));
    }
    for kill in &inc.kills {
        if let Some(pid) = kill.pid {
            f.push(("OOMLENS_PID", pid.to_string()));
        }
        if let Some(comm) = &kill.comm {
            f.push(("OOMLENS_COMM", comm.clone()));
        }
    }
    f.push(("OOMLENS_KILLS", inc.kills.len().to_string()));
    let cgroup = inc
        .task_memcg
        .clone()
        .or_else(|| inc.victim().and_then(|k| k.cgroup.clone()));
    if let Some(c) = &cgroup {
        f.push(("OOMLENS_CGROUP", c.clone()));
    }
    if let Some(c) = &inc.oom_memcg {
        f.push(("OOMLENS_OOM_CGROUP", c.clone()));
    }
    let from_path;
    let owner = match expl.and_then(|e| e.owner.as_ref()) {
        Some(o) => o,
        None => {
            from_path = owner_of(cgroup.as_deref().unwrap_or(""));
            &from_path
        }
    };
    owner_fields(f, owner, Some(inc));
    if let Some(id) = record_id {
        f.push(("OOMLENS_RECORD_ID", id.to_string()));
    }
}

/// Unit, pod, namespace and container: what the killer said (kubelet) first, then what the
/// live host knew, then what the cgroup path says.
fn owner_fields(f: &mut Vec<(&'static str, String)>, o: &Owner, inc: Option<&Incident>) {
    if let Some(u) = &o.unit {
        f.push(("OOMLENS_UNIT", u.clone()));
    }
    let victim = inc.and_then(|i| i.victim());
    let witness = inc.and_then(|i| i.witnesses.first());
    let said_pod = victim
        .and_then(|k| k.pod.clone())
        .or_else(|| witness.and_then(|w| w.pod.clone()));
    // The kubelet prints `namespace/name` where it knows both.
    let (ns, pod) = match said_pod.as_deref().map(|p| p.split_once('/')) {
        Some(Some((ns, name))) => (Some(ns.to_owned()), Some(name.to_owned())),
        Some(None) => (None, said_pod.clone()),
        None => (None, None),
    };
    let pod = pod
        .or_else(|| o.live.pod_name.clone())
        .or_else(|| o.pod_uid.clone());
    let ns = ns.or_else(|| o.live.pod_namespace.clone());
    let container = victim
        .and_then(|k| k.container.clone())
        .or_else(|| witness.and_then(|w| w.container.clone()))
        .or_else(|| o.live.container_name.clone())
        .or_else(|| o.container_id.clone());
    for (name, v) in [
        ("OOMLENS_POD", pod),
        ("OOMLENS_NAMESPACE", ns),
        ("OOMLENS_CONTAINER", container),
    ] {
        if let Some(v) = v {
            f.push((name, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::Kill;

    const CATALOG: &str = include_str!("../../../contrib/systemd/oomlens.catalog");

    fn get<'a>(e: &'a [(&'static str, String)], name: &str) -> Vec<&'a str> {
        e.iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn parse(report: &str) -> Vec<Incident> {
        oomlens_parse::parse_bytes(report.as_bytes(), oomlens_parse::Options::default())
    }

    /// `-- ID` headers of the catalog with the `Subject:` under each.
    fn catalog_entries() -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = CATALOG.lines().peekable();
        while let Some(l) = lines.next() {
            if let Some(id) = l.strip_prefix("-- ") {
                let subject = lines
                    .next()
                    .and_then(|s| s.strip_prefix("Subject: "))
                    .unwrap_or_else(|| panic!("no Subject: line under -- {id}"));
                out.push((id.to_owned(), subject.to_owned()));
            }
        }
        out
    }

    #[test]
    fn the_catalog_and_the_constants_agree() {
        let cat = catalog_entries();
        let ids: Vec<&str> = cat.iter().map(|(id, _)| id.as_str()).collect();
        let ours: Vec<&str> = MESSAGE_KINDS.iter().map(|k| k.id).collect();
        assert_eq!(ids, ours, "catalog entries and MESSAGE_KINDS, in order");
        for k in MESSAGE_KINDS {
            assert_eq!(k.id.len(), 32, "{}", k.name);
            assert!(k
                .id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        let mut uniq = ours.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), ours.len(), "MESSAGE_IDs are unique");
        // Every field a catalog text refers to as @FIELD@ is one we send.
        for part in CATALOG.split('@').skip(1).step_by(2) {
            assert!(
                FIELDS.iter().any(|(n, _)| *n == part) || part == "MESSAGE",
                "catalog uses @{part}@, which no entry carries"
            );
        }
    }

    #[test]
    fn a_memcg_kill_becomes_its_fields() {
        let report = "\
[100.000001] hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[100.000200] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/leak.service,task_memcg=/system.slice/leak.service,task=hog,pid=4242,uid=0
[100.000300] Memory cgroup out of memory: Killed process 4242 (hog) total-vm:110000kB, anon-rss:99000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:300kB oom_score_adj:0
";
        let inc = parse(report).remove(0);
        let e = entry(&JournalEvent::Incident {
            incident: &inc,
            explanation: None,
            record_id: Some(17),
        });
        assert_eq!(e[0].0, "MESSAGE");
        assert!(e[0].1.contains("hog"), "{}", e[0].1);
        assert!(!e[0].1.contains('\n'));
        assert_eq!(get(&e, "MESSAGE_ID"), [MEMCG_KILL.id]);
        assert_eq!(get(&e, "PRIORITY"), ["3"]);
        assert_eq!(get(&e, "OOMLENS_EVENT"), ["memcg-kill"]);
        assert_eq!(get(&e, "OOMLENS_KIND"), ["memcg"]);
        assert_eq!(get(&e, "OOMLENS_PID"), ["4242"]);
        assert_eq!(get(&e, "OOMLENS_COMM"), ["hog"]);
        assert_eq!(get(&e, "OOMLENS_KILLS"), ["1"]);
        assert_eq!(get(&e, "OOMLENS_CGROUP"), ["/system.slice/leak.service"]);
        assert_eq!(
            get(&e, "OOMLENS_OOM_CGROUP"),
            ["/system.slice/leak.service"]
        );
        assert_eq!(get(&e, "OOMLENS_UNIT"), ["leak.service"]);
        assert_eq!(get(&e, "OOMLENS_RECORD_ID"), ["17"]);
        assert!(get(&e, "OOMLENS_POD").is_empty());
        for (name, _) in &e {
            assert!(
                oomlens_name_ok(name),
                "{name} is not a field name journald accepts"
            );
            assert!(
                !name.starts_with("OOMLENS_") || FIELDS.iter().any(|(n, _)| n == name),
                "{name} missing from FIELDS"
            );
        }
    }

    /// journald's rule (systemd `journal_field_valid`), restated here because sinks do not
    /// depend on oomlens-service.
    fn oomlens_name_ok(n: &str) -> bool {
        !n.is_empty()
            && n.len() <= 64
            && !n.starts_with('_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    }

    #[test]
    fn a_pod_kill_names_pod_and_container_and_the_headline_is_escaped() {
        let mut inc = Incident::new(1, Default::default());
        inc.kind = Some(Kind::Memcg);
        let cid = "a1".repeat(32);
        inc.task_memcg = Some(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f9a2b61_9c3d_4e5f_8a7b_1c2d3e4f5a6b.slice/cri-containerd-{CID}.scope"
                .replace("{CID}", &cid),
        );
        inc.kills.push(Kill {
            pid: Some(7),
            comm: Some("evil\x1b[2Jcomm".into()),
            ..Kill::default()
        });
        inc.kills.push(Kill {
            pid: Some(8),
            comm: Some("sibling".into()),
            ..Kill::default()
        });
        let e = entry(&JournalEvent::Incident {
            incident: &inc,
            explanation: None,
            record_id: None,
        });
        assert_eq!(
            get(&e, "OOMLENS_POD"),
            ["0f9a2b61-9c3d-4e5f-8a7b-1c2d3e4f5a6b"]
        );
        assert_eq!(get(&e, "OOMLENS_CONTAINER"), [cid.as_str()]);
        assert!(get(&e, "OOMLENS_NAMESPACE").is_empty());
        assert_eq!(get(&e, "OOMLENS_PID"), ["7", "8"]);
        // The field keeps the raw comm; the headline shows it escaped.
        assert_eq!(get(&e, "OOMLENS_COMM"), ["evil\x1b[2Jcomm", "sibling"]);
        assert_eq!(get(&e, "OOMLENS_KILLS"), ["2"]);
        let msg = &e[0].1;
        assert!(
            !msg.contains('\x1b') && msg.contains("evil\\x1b[2Jcomm"),
            "{msg}"
        );
        assert!(get(&e, "OOMLENS_RECORD_ID").is_empty());
    }

    #[test]
    fn kubelet_pods_split_namespace_and_name() {
        let mut inc = Incident::new(1, Default::default());
        inc.kind = Some(Kind::Kubelet);
        inc.kills.push(Kill {
            pod: Some("prod/web-5d9f".into()),
            container: Some("app".into()),
            ..Kill::default()
        });
        let e = entry(&JournalEvent::Incident {
            incident: &inc,
            explanation: None,
            record_id: None,
        });
        assert_eq!(get(&e, "MESSAGE_ID"), [KUBELET.id]);
        assert_eq!(get(&e, "PRIORITY"), ["4"]);
        assert_eq!(get(&e, "OOMLENS_NAMESPACE"), ["prod"]);
        assert_eq!(get(&e, "OOMLENS_POD"), ["web-5d9f"]);
        assert_eq!(get(&e, "OOMLENS_CONTAINER"), ["app"]);
    }

    #[test]
    fn every_kind_has_its_message_id() {
        let pairs = [
            (Some(Kind::Memcg), MEMCG_KILL),
            (Some(Kind::Global), GLOBAL_KILL),
            (Some(Kind::Cpuset), GLOBAL_KILL),
            (Some(Kind::MemoryPolicy), GLOBAL_KILL),
            (Some(Kind::SystemdOomd), OOMD_KILL),
            (Some(Kind::Earlyoom), EARLYOOM_KILL),
            (Some(Kind::Kubelet), KUBELET),
            (Some(Kind::OomlensGuard), GUARD_PREEMPT),
            (Some(Kind::SystemdNotice), REPORT_LOST),
            (None, REPORT_LOST),
        ];
        for (k, want) in pairs {
            assert_eq!(kind_of(k), want, "{k:?}");
        }
    }

    #[test]
    fn counter_only_start_and_stop_entries() {
        let e = entry(&JournalEvent::CountedOnly {
            cgroup: "/system.slice/x.service",
            kills: 2,
        });
        assert_eq!(get(&e, "MESSAGE_ID"), [REPORT_LOST.id]);
        assert_eq!(get(&e, "OOMLENS_KILLS"), ["2"]);
        assert_eq!(get(&e, "OOMLENS_UNIT"), ["x.service"]);
        assert_eq!(get(&e, "OOMLENS_CGROUP"), ["/system.slice/x.service"]);
        assert_eq!(
            e[0].1,
            "OOM kill counted in /system.slice/x.service (oom_kill +2) but no kernel report was read"
        );
        let e = entry(&JournalEvent::GuardStarted {
            version: "0.1.0",
            detail: "watching 3 cgroups",
        });
        assert_eq!(e[0].1, "oomlens guard 0.1.0 started: watching 3 cgroups");
        assert_eq!(get(&e, "MESSAGE_ID"), [GUARD_STARTED.id]);
        assert_eq!(get(&e, "PRIORITY"), ["6"]);
        let e = entry(&JournalEvent::GuardStopped {
            version: "0.1.0",
            reason: "SIGTERM\nREADY=1",
        });
        assert_eq!(e[0].1, "oomlens guard 0.1.0 stopping: SIGTERM\\x0aREADY=1");
        assert_eq!(get(&e, "MESSAGE_ID"), [GUARD_STOPPED.id]);
        assert_eq!(get(&e, "SYSLOG_IDENTIFIER"), ["oomlens"]);
    }
}
