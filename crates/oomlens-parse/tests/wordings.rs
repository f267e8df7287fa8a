//! One row per killer wording: the text as the killer prints it and what the parser must
//! make of it. Adding a wording is one recognizer (a function and its row in
//! `src/userspace/recognizers.rs`, or a case in `src/kernel.rs` `classify` for the kernel)
//! plus one row in [`ROWS`]; see the README, "Where to add a log form".
//!
//! A row's input reaches the parser like a log file would, so a wording no trigger in
//! `src/scan.rs` `TRIGGERS` matches is skipped and its row fails with no incident.

use oomlens_model::Incident;
use oomlens_parse::{parse_bytes, recognizer_names, recognizer_of, Options};

/// A wording and what it must become.
struct Row {
    /// The userspace recognizer that takes the first line (`recognizer_names()`), or
    /// `kernel …` for a kernel wording.
    name: &'static str,
    /// The log text, one message per line.
    input: &'static str,
    /// [`summary`] of every incident parsed from `input`, one per line.
    expect: &'static str,
}

const ROWS: &[Row] = &[
    // systemd-oomd (src/oom/oomd.c)
    Row {
        name: "systemd-oomd",
        input: "Killed /user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope due to memory pressure for /user.slice/user-1000.slice/user@1000.service being 51.07% > 50.00% for > 20s with reclaim activity\n",
        expect: "systemd-oomd kill[SystemdOomd cgroup=/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope] trigger[pressure on /user.slice/user-1000.slice/user@1000.service 51.07% > 50.00% for 20s]",
    },
    Row {
        name: "systemd-oomd",
        input: "Killed /system.slice/build.service due to memory used (15.5G) / total (16.0G) and swap used (7.9G) / total (8.0G) being more than 90.00%\n",
        expect: "systemd-oomd kill[SystemdOomd cgroup=/system.slice/build.service] trigger[swap (7.9G) / total (8.0G) > 90.00%]",
    },
    Row {
        name: "systemd-oomd",
        input: "oomd attempting to kill 4242 with KILL\nMarked /user.slice/a.scope for killing due to memory pressure for /user.slice being 80.00% > 60.00% for > 30s with reclaim activity\n",
        expect: "systemd-oomd kill[SystemdOomd pid=4242 cgroup=/user.slice/a.scope] trigger[pressure on /user.slice 80.00% > 60.00% for 30s]",
    },
    // systemd (PID 1, src/core/unit.c)
    Row {
        name: "systemd unit notice",
        input: "foo.service: A process of this unit has been killed by the OOM killer.\n",
        expect: "systemd-notice kill[- cgroup=foo.service] notice[ProcessKilledByOomKiller foo.service]",
    },
    Row {
        name: "systemd unit notice",
        input: "foo.service: Failed with result 'oom-kill'.\n",
        expect: "systemd-notice kill[- cgroup=foo.service] notice[FailedOomKill foo.service]",
    },
    // oomlens guard's own pre-emption line, as a guard printed it in the innocent-sibling
    // test (crates/oomlens-guard/tests/preempt_sibling.rs) on the real kernel
    Row {
        name: "oomlens guard",
        input: "oomlens guard: OOM preempt pid 28598 (sibleak) in /process_api/01836772655647b0b7289cc8f5ccc4a8/oomlens-test-28539-1: result signalled, signal SIGTERM, usage 107479040, threshold 107374182, line 134217728, rss 24801280, growth 16896386, chosen-by fastest-growing, trigger threshold, latency-ms 0.277, policy /process_api/01836772655647b0b7289cc8f5ccc4a8/oomlens-test-28539-1\n",
        expect: "oomlens-guard kill[OomlensGuard pid=28598 comm=sibleak signal=SIGTERM rss_kb=24220 outcome=signalled cgroup=/process_api/01836772655647b0b7289cc8f5ccc4a8/oomlens-test-28539-1]",
    },
    Row {
        name: "oomlens guard",
        input: "oomlens guard: OOM preempt pid 7 (a) in b) in /batch/x: result dry-run, signal none, usage 10, threshold 9, line 10, rss 4096, growth 0, chosen-by largest, trigger pass, policy batch\n",
        expect: "oomlens-guard kill[OomlensGuard pid=7 comm=a) in b rss_kb=4 outcome=dry-run cgroup=/batch/x]",
    },
    // earlyoom, each generation
    Row {
        name: "earlyoom",
        input: "sending SIGTERM to process 1024668 uid 1000 \"Web Content\": oom_score 823, VmRSS 79 MiB, cmdline \"/usr/lib/firefox/firefox -contentproc\"\n",
        expect: "earlyoom kill[Earlyoom pid=1024668 comm=Web Content signal=SIGTERM uid=1000 score=823 rss_kb=80896]",
    },
    Row {
        name: "earlyoom",
        input: "sending SIGTERM to process 696 \"ipfs\": badness 757, VmRSS 637 MiB\n",
        expect: "earlyoom kill[Earlyoom pid=696 comm=ipfs signal=SIGTERM score=757 rss_kb=652288]",
    },
    Row {
        name: "earlyoom",
        input: "killing process 1234 \"firefox\" with signal 15: badness 800, VmRSS 3000 MiB\n",
        expect: "earlyoom kill[Earlyoom pid=1234 comm=firefox signal=SIGTERM score=800 rss_kb=3072000]",
    },
    Row {
        name: "earlyoom",
        input: "Killing process 'tracker, miner' with signal 15, pid: 4411, badness: 640, VmRSS: 2048 MiB\n",
        expect: "earlyoom kill[Earlyoom pid=4411 comm=tracker, miner signal=SIGTERM score=640 rss_kb=2097152]",
    },
    Row {
        name: "earlyoom",
        input: "Killing process: firefox, pid: 1234, badness: 800, VmRSS: 3000 MiB\n",
        expect: "earlyoom kill[Earlyoom pid=1234 comm=firefox score=800 rss_kb=3072000]",
    },
    Row {
        name: "earlyoom",
        input: "Killing process 1234 (firefox)\n",
        expect: "earlyoom kill[Earlyoom pid=1234 comm=firefox]",
    },
    Row {
        name: "earlyoom",
        input: "sending SIGTERM to process 696 \"ipfs\": badness 757, VmRSS 637 MiB\nprocess 696 exited after 0.100 seconds\n",
        expect: "earlyoom kill[Earlyoom pid=696 comm=ipfs signal=SIGTERM score=757 rss_kb=652288 outcome=process 696 exited after 0.100 seconds]",
    },
    // Kubernetes: kubectl, kubelet, containerd
    Row {
        name: "kubectl pod document and describe headers",
        input: "Name:         api-7d9f\nContainers:\n  worker:\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n",
        expect: "kubelet kill[Kubelet comm=worker pod=api-7d9f container=worker exit_code=137 reason=OOMKilled]",
    },
    Row {
        name: "kubectl describe containers",
        input: "Containers:\n  sidecar:\n    State:  Running\n  worker:\n      Reason:       OOMKilled\n",
        expect: "kubelet kill[Kubelet comm=worker container=worker reason=OOMKilled]",
    },
    Row {
        name: "containerd TaskOOM",
        input: "[ 5.0] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/083afd1a06b8b612,task_memcg=/kubepods/083afd1a06b8b612,task=java,pid=50624,uid=0\n\
                [ 5.1] Memory cgroup out of memory: Killed process 50624 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:969\n\
                TaskOOM event container_id:\\\"083afd1a06b8b612\\\"\n",
        expect: "memcg kill[KilledLine pid=50624 comm=java uid=0 cgroup=/kubepods/083afd1a06b8b612 reason=Memory cgroup out of memory] witness[containerd TaskOOM]",
    },
    Row {
        name: "kubernetes exit code",
        input: "api-7d9f   0/1     OOMKilled   3          2m\n  exitCode: 137\n",
        expect: "kubelet kill[Kubelet comm=api-7d9f pod=api-7d9f exit_code=137 reason=OOMKilled]",
    },
    Row {
        name: "kubelet Evicted event",
        input: "Warning  Evicted  6m5s  kubelet  The node was low on resource: memory. Container hog was using 166088Ki, request is 10Mi, has larger consumption of memory. \n",
        expect: "kubelet kill[Kubelet comm=hog rss_kb=166088 container=hog reason=Evicted]",
    },
    Row {
        name: "kubelet SystemOOM",
        input: "Warning  SystemOOM  2m32s  kubelet, node1  System OOM encountered, victim process: runc:[2:INIT], pid: 98756\n",
        expect: "kubelet kill[Kubelet pid=98756 comm=runc:[2:INIT] reason=SystemOOM]",
    },
    Row {
        name: "kubectl get pods OOMKilled",
        input: "api-7d9f   0/1     OOMKilled   3          2m\n",
        expect: "kubelet kill[Kubelet comm=api-7d9f pod=api-7d9f reason=OOMKilled]",
    },
    Row {
        name: "kubernetes OOMKilled status",
        input: "      reason: OOMKilled\n",
        expect: "kubelet kill[Kubelet reason=OOMKilled]",
    },
    // The kernel (src/kernel.rs classify)
    Row {
        name: "kernel Killed process",
        input: "[ 30.8] Memory cgroup out of memory: Killed process 84 (alloc) total-vm:33876kB, anon-rss:32412kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0\n",
        expect: "memcg kill[KilledLine pid=84 comm=alloc uid=0 reason=Memory cgroup out of memory]",
    },
];

fn opt<T: std::fmt::Display>(out: &mut String, key: &str, v: Option<T>) {
    if let Some(v) = v {
        out.push_str(&format!(" {key}={v}"));
    }
}

/// One line per incident: kind, kills, witnesses, notices and systemd-oomd's trigger.
fn summary(inc: &Incident) -> String {
    let mut s = inc.kind.map_or("?", |k| k.as_str()).to_string();
    for k in &inc.kills {
        let ev = k.evidence.map_or("-".to_string(), |e| format!("{e:?}"));
        s.push_str(&format!(" kill[{ev}"));
        opt(&mut s, "pid", k.pid);
        opt(&mut s, "comm", k.comm.as_deref());
        opt(&mut s, "signal", k.signal.as_deref());
        opt(&mut s, "uid", k.uid);
        opt(&mut s, "score", k.score);
        opt(&mut s, "rss_kb", k.rss_kb);
        opt(&mut s, "outcome", k.outcome.as_deref());
        opt(&mut s, "cgroup", k.cgroup.as_deref());
        opt(&mut s, "pod", k.pod.as_deref());
        opt(&mut s, "container", k.container.as_deref());
        opt(&mut s, "exit_code", k.exit_code);
        opt(&mut s, "reason", k.reason.as_deref());
        s.push(']');
    }
    for w in &inc.witnesses {
        s.push_str(&format!(" witness[{}]", w.source));
    }
    for n in &inc.notices {
        s.push_str(&format!(" notice[{:?} {}]", n.kind, n.unit));
    }
    if let Some(t) = &inc.oomd_trigger {
        s.push_str(" trigger[");
        match (t.reason.as_str(), &t.monitored_cgroup) {
            ("pressure", Some(cg)) => s.push_str(&format!("pressure on {cg}")),
            (r, _) => s.push_str(r),
        }
        if let Some(v) = &t.value {
            s.push_str(&format!(" {v}"));
        }
        if let Some(l) = &t.limit {
            s.push_str(&format!(" > {l}"));
        }
        if let Some(d) = &t.duration {
            s.push_str(&format!(" for {d}"));
        }
        s.push(']');
    }
    s
}

#[test]
fn every_row_parses_to_its_expected_incidents() {
    let mut failed = vec![];
    for r in ROWS {
        let got: Vec<String> = parse_bytes(r.input.as_bytes(), Options::default())
            .iter()
            .map(summary)
            .collect();
        if got.join("\n") != r.expect {
            failed.push(format!(
                "row {:?} {:?}\n  want {}\n  got  {}",
                r.name,
                r.input,
                r.expect,
                got.join("\n       ")
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_recognizer_has_a_row() {
    for name in recognizer_names() {
        assert!(
            ROWS.iter().any(|r| r.name == name),
            "recognizer {name:?} has no row in tests/wordings.rs ROWS"
        );
    }
    for r in ROWS.iter().filter(|r| !r.name.starts_with("kernel ")) {
        assert!(
            recognizer_names().any(|n| n == r.name),
            "row names no recognizer: {:?}",
            r.name
        );
    }
}

/// Recognizers that only keep state for the rows after them (kubectl describe's headers):
/// alone, they take no line.
const STATE_ONLY: &[&str] = &[
    "kubectl pod document and describe headers",
    "kubectl describe containers",
];

/// A line of each userspace row is taken by the row's recognizer when offered alone.
#[test]
fn a_line_of_each_row_is_taken_by_its_recognizer() {
    for r in ROWS.iter().filter(|r| !r.name.starts_with("kernel ")) {
        let took: Vec<_> = r.input.lines().filter_map(recognizer_of).collect();
        if STATE_ONLY.contains(&r.name) {
            assert!(!took.contains(&r.name), "{:?} took a line", r.name);
        } else {
            assert!(
                took.contains(&r.name),
                "{:?}: lines taken by {took:?}",
                r.name
            );
        }
    }
}
