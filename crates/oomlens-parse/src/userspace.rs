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
//!
//! - oomlens guard's own pre-emptions: `oomlens guard: OOM preempt pid <pid> (<comm>) in
//!   <cgroup>: result <r>, signal <s>, …` (`guard.rs`).
//!
//! One module per killer (`oomd`, `earlyoom`, `kubelet`, `notices`, `guard`); the table in
//! `recognizers.rs` lists every wording function and the order they are tried in.

use std::collections::VecDeque;

use oomlens_model::Incident;

use crate::assemble::KernelAssembler;
use crate::envelope::Envelope;

mod earlyoom;
mod guard;
mod kubelet;
pub(crate) mod notices;
mod oomd;
pub(crate) mod recognizers;
mod state;

pub(crate) use state::UserAssembler;
use state::{Msg, OOMD_WINDOW};

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
        let mut m = Msg {
            line,
            env,
            raw: msg,
            t,
            kernel,
            hold,
        };
        recognizers::recognize(self, env.ident.as_deref(), &mut m);
    }

    /// End of input: pending systemd-oomd kills become an incident.
    pub fn finish(&mut self, hold: &mut VecDeque<Incident>) {
        if let Some((line, env, cut)) = self.oomd_cut.take() {
            self.oomd_cut_alone(line, &env, &cut, hold);
        }
        self.flush_oomd(hold);
        if let Some(s) = self.pod.finish() {
            kubelet::evicted_pod(s, hold);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::earlyoom::earlyoom_kill;
    use super::kubelet::parse_kube_quantity_kib;
    use super::oomd::{oomd_attempt, oomd_failed};
    use super::*;
    use crate::{parse_bytes, Options};
    use oomlens_model::Kind;

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
