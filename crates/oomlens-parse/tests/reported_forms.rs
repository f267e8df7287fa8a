//! Report forms from public trackers that used to lose their fields (tracker issue 12):
//! kernel panics instead of kills, cut-off headers, systemd-oomd's other wordings, kubelet
//! evictions as `kubectl get pod -o yaml/json` print them, and lines wrapped by a terminal or
//! a mail client. Each test's data is real public text; its source is cited next to it
//! (and in data/reported/SOURCES.md).

use oomlens_model::{Incident, Kind};
use oomlens_parse::{parse_bytes, Options};

fn parse(s: &[u8]) -> Vec<Incident> {
    parse_bytes(s, Options::default())
}

/// What [`invoker`] returns.
type InvokerFields<'a> = (
    Option<&'a str>,
    Option<u32>,
    Option<&'a str>,
    Option<u32>,
    Option<i32>,
);

/// The invoker's comm, pid, gfp_mask, order and oom_score_adj.
fn invoker(i: &Incident) -> InvokerFields<'_> {
    let inv = i.invoker.as_ref().expect("an invoker");
    (
        inv.comm.as_deref(),
        inv.pid,
        inv.gfp_mask.as_deref(),
        inv.order,
        inv.oom_score_adj,
    )
}

/// OpenXiangShan/XiangShan-doc#9 (erdevonmatteo11): a 4.18 riscv kernel whose report was
/// pasted from `Node 0` on; the task table is empty and the kernel panics.
#[test]
fn panic_with_no_killable_process_is_a_global_oom_with_no_kill() {
    let incs = parse(include_bytes!(
        "data/reported/panic-no-killable-4.18-riscv.log"
    ));
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let i = &incs[0];
    // Only the global path panics with this text (mm/oom_kill.c out_of_memory).
    assert_eq!(i.kind, Some(Kind::Global));
    assert!(i.no_killable_processes);
    assert_eq!(
        i.panic.as_deref(),
        Some("Out of memory and no killable processes")
    );
    assert!(i.kills.is_empty());
    // The paste has no `Mem-Info:` line: the report opens at the (empty) task table.
    assert!(i.task_table.as_ref().is_some_and(|t| t.rows.is_empty()));
    assert_eq!((i.source.first_line, i.source.last_line), (13, 14));
}

/// tempesta-tech/tempesta#1789 (s0nx, 5.10): since 4.x the kernel warns `Out of memory and no
/// killable processes...` and then panics `System is deadlocked on memory`; the lines carry
/// the terminal's trailing padding.
#[test]
fn deadlocked_on_memory_is_one_global_incident() {
    let incs = parse(include_bytes!("data/reported/panic-deadlocked-5.10.log"));
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let i = &incs[0];
    assert_eq!(i.kind, Some(Kind::Global));
    assert!(i.no_killable_processes);
    assert_eq!(i.panic.as_deref(), Some("System is deadlocked on memory"));
    assert!(i.kills.is_empty());
    // The panic's own stack dump names the task and release.
    assert_eq!(i.kernel_version.as_deref(), Some("5.10.35perf+"));
}

/// bcaligari/memeater README.md @0b265ac4 (SLE 15 SP4, vm.panic_on_oom=1): check_panic_on_oom
/// prints `system-wide` only for CONSTRAINT_NONE, so this is a global OOM.
#[test]
fn system_wide_panic_on_oom_is_global() {
    let incs = parse(include_bytes!(
        "data/reported/panic-system-wide-5.14-sle.log"
    ));
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let i = &incs[0];
    assert_eq!(i.kind, Some(Kind::Global));
    assert!(!i.no_killable_processes);
    assert_eq!(
        i.panic.as_deref(),
        Some("Out of memory: system-wide panic_on_oom is enabled")
    );
    assert!(i.kills.is_empty());
    assert_eq!(
        i.kernel_version.as_deref(),
        Some("5.14.21-150400.24.97-default")
    );
}

/// sonic-net/sonic-buildimage PR #2988 (SuvarnaMeenakshi, Debian 3.16, vm.panic_on_oom=2):
/// `compulsory` panics for memcg OOMs too, and nothing else here tells the domain.
#[test]
fn compulsory_panic_on_oom_leaves_the_kind_unknown() {
    let incs = parse(include_bytes!(
        "data/reported/panic-compulsory-sysrq-3.16.log"
    ));
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let i = &incs[0];
    assert_eq!(i.kind, None);
    assert_eq!(
        i.panic.as_deref(),
        Some("Out of memory: compulsory panic_on_oom is enabled")
    );
    assert!(i.kills.is_empty());
}

/// A header whose report was cut: the kind comes from what is printed, else stays null.
#[test]
fn cut_off_reports_take_their_kind_from_what_is_printed() {
    // The first two lines of corpus file 054 (journalctl -k, 4.13) ...
    let header = "Feb 18 17:34:47  kernel: java invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null),  order=0, oom_score_adj=0\n";
    // ... alone: nothing says which OOM it was.
    assert_eq!(parse(header.as_bytes())[0].kind, None);
    // Synthetic edge case: 054's selection line cut at 40 columns of message (what a
    // terminal's width does to it, see 054's other lines), so neither pid nor comm survived.
    let cut = format!("{header}Feb 18 17:34:47  kernel: Memory cgroup out of memory: Kill proc\n");
    let incs = parse(cut.as_bytes());
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0].kind, Some(Kind::Memcg));
    assert!(incs[0].kills.is_empty());
    let cut = format!("{header}Feb 18 17:34:47  kernel: Out of memory: Kill\n");
    assert_eq!(parse(cut.as_bytes())[0].kind, Some(Kind::Global));
    // `Out of memory: <anything else>` is not a kill line cut short.
    let other = format!("{header}Feb 18 17:34:47  kernel: Out of memory: Ooops\n");
    assert_eq!(parse(other.as_bytes())[0].kind, None);
}

/// systemd/systemd PR #22032 (mrc0mmand, 2022-01-09, TEST-55-OOMD with debug logging):
/// systemd-oomd names each process it kills, PID 1 reports the units' main processes killed,
/// and the action still ends with `Failed to kill any cgroup(s) … based on pressure`.
#[test]
fn oomd_attempts_are_kills_even_when_the_action_reports_failure() {
    let incs = parse(include_bytes!(
        "data/reported/oomd-attempts-failed-to-kill-v250.journal"
    ));
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let i = &incs[0];
    assert_eq!(i.kind, Some(Kind::SystemdOomd));
    let pids: Vec<_> = i.kills.iter().map(|k| k.pid).collect();
    assert_eq!(pids, [Some(113), Some(118), Some(108)]);
    let workload = "/user.slice/user-4711.slice/user@4711.service/testsuite.slice/testsuite-55.slice/testsuite-55-workload.slice";
    assert_eq!(i.oom_memcg.as_deref(), Some(workload));
    // Which unit each pid was in is not printed: no cgroup is invented for a kill.
    assert!(i.kills.iter().all(|k| k.cgroup.is_none()));
    assert!(i.kills[0]
        .outcome
        .as_deref()
        .is_some_and(|o| o.ends_with("based on pressure: No such device")));
    let t = i.oomd_trigger.as_ref().unwrap();
    assert_eq!(
        (
            t.reason.as_str(),
            t.value.as_deref(),
            t.limit.as_deref(),
            t.duration.as_deref()
        ),
        ("pressure", Some("74.23%"), Some("20.00%"), Some("2s"))
    );
    let units: Vec<_> = i.notices.iter().map(|n| n.unit.as_str()).collect();
    assert_eq!(
        units,
        [
            "testsuite-55-testbloat.service",
            "testsuite-55-testchill.service"
        ]
    );
    assert_eq!((i.source.first_line, i.source.last_line), (2, 9));
}

/// The same lines without a summary (the paste ends, or logging stopped): still the kills
/// of systemd-oomd, each process once although PID 1 and the attempts both speak of them.
#[test]
fn oomd_attempts_without_a_summary_line_are_kept() {
    let log = include_str!("data/reported/oomd-attempts-failed-to-kill-v250.journal");
    let cut: String = log.lines().take(8).map(|l| format!("{l}\n")).collect();
    let incs = parse(cut.as_bytes());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    assert_eq!(incs[0].kind, Some(Kind::SystemdOomd));
    assert_eq!(incs[0].kills.len(), 3);
    assert_eq!(incs[0].oomd_trigger.as_ref().unwrap().reason, "unknown");
}

fn kube_kills(incs: &[Incident]) -> Vec<(Option<&str>, Option<&str>, Option<u64>)> {
    incs.iter()
        .inspect(|i| assert_eq!(i.kind, Some(Kind::Kubelet)))
        .flat_map(|i| &i.kills)
        .map(|k| (k.pod.as_deref(), k.container.as_deref(), k.rss_kb))
        .collect()
}

/// amygdala-labs/cosmos-operator#185: the status of `kubectl get pod -o yaml`, its message
/// folded by the YAML printer over two lines.
#[test]
fn evicted_pod_yaml_status_names_the_container_and_its_usage() {
    let incs = parse(include_bytes!(
        "data/reported/evicted-yaml-status-cosmos-operator.yaml"
    ));
    assert_eq!(kube_kills(&incs), [(None, Some("node"), Some(35505620))]);
    assert_eq!(incs[0].kills[0].reason.as_deref(), Some("Evicted"));
}

/// nforgeio/neonKUBE#1897: a `>-` block message naming three containers; the conditions'
/// own `message: >-` blocks are not the pod's.
#[test]
fn evicted_pod_yaml_block_message_gives_one_kill_per_container() {
    let incs = parse(include_bytes!(
        "data/reported/evicted-yaml-folded-3-containers-neonkube.yaml"
    ));
    assert_eq!(incs.len(), 1);
    assert_eq!(
        kube_kills(&incs),
        [
            (None, Some("cstor-pool-mgmt"), Some(27484)),
            (None, Some("maya-exporter"), Some(9736)),
            (None, Some("cstor-pool"), Some(51480)),
        ]
    );
}

/// kubernetes/kubernetes#48632 (1.6): the old message names no container; still a memory
/// eviction of the pod.
#[test]
fn evicted_pod_yaml_for_memory_pressure_without_container() {
    let incs = parse(include_bytes!(
        "data/reported/evicted-yaml-memorypressure-k8s-1.6.yaml"
    ));
    assert_eq!(kube_kills(&incs), [(None, None, None)]);
}

/// Evictions for other resources are no memory kills: kube-state-metrics#968 (ephemeral
/// storage limit) and kubernetes#105467 (a DisruptionTarget condition about
/// ephemeral-storage, no `status.reason`).
#[test]
fn evictions_for_other_resources_are_not_memory_kills() {
    for log in [
        &include_bytes!("data/reported/evicted-yaml-ephemeral-storage-limit.yaml")[..],
        &include_bytes!("data/reported/evicted-yaml-ephemeral-storage-condition-1.3x.yaml")[..],
    ] {
        assert!(parse(log).is_empty());
    }
}

/// Synthetic shape test: no public `-o json` of a memory eviction was found, so this is the
/// cosmos-operator#185 status above written as kubectl's JSON printer lays a pod out (Go
/// field order: metadata, spec, status with phase, message, reason before containerStatuses),
/// with a made-up pod name. It checks the JSON reading, not a wording.
#[test]
fn evicted_pod_json_reads_metadata_and_container_statuses() {
    let json = r#"{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "example-pod",
        "namespace": "example",
        "ownerReferences": [
            {
                "kind": "StatefulSet",
                "name": "example"
            }
        ]
    },
    "spec": {
        "containers": [
            {
                "name": "node"
            }
        ]
    },
    "status": {
        "phase": "Failed",
        "message": "The node was low on resource: memory. Container node was using 35505620Ki, which exceeds its request of 12Gi. ",
        "reason": "Evicted",
        "containerStatuses": [
            {
                "name": "node",
                "state": {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "ContainerStatusUnknown"
                    }
                }
            }
        ]
    }
}
"#;
    let incs = parse(json.as_bytes());
    assert_eq!(
        kube_kills(&incs),
        [(Some("example-pod"), Some("node"), Some(35505620))]
    );
    assert_eq!(incs[0].kills[0].exit_code, Some(137));
}

/// Synthetic shape test (as above): a whole `kubectl get pods -o yaml` list after unrelated
/// log lines, so the reading loop must find `metadata:` (a trigger) far above the status.
#[test]
fn evicted_pod_yaml_list_after_other_lines_keeps_its_name() {
    let mut log = String::new();
    for i in 0..300 {
        log.push_str(&format!("Jan 01 00:00:{:02} h app[1]: tick {i}\n", i % 60));
    }
    log.push_str(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: example-pod\n    namespace: example\n  spec:\n    containers:\n    - name: node\n  status:\n    containerStatuses:\n    - containerID: containerd://0123\n      lastState: {}\n      name: node\n      state:\n        terminated:\n          exitCode: 137\n          reason: ContainerStatusUnknown\n    message: 'The node was low on resource: memory. Container node was using 35505620Ki,\n      which exceeds its request of 12Gi. '\n    phase: Failed\n    reason: Evicted\nkind: List\n",
    );
    let incs = parse(log.as_bytes());
    assert_eq!(
        kube_kills(&incs),
        [(Some("example-pod"), Some("node"), Some(35505620))]
    );
    assert_eq!(incs[0].kills[0].exit_code, Some(137));
    assert_eq!(incs[0].source.first_line, 305);
}

/// Naresh Kamboju's LKML/LTP mail of 2020-10-14 (Message-ID
/// <CA+G9fYt46oC7-BKryNDaaXPJ9GztvS2cs_7GjYRjanRi4+ryCQ@mail.gmail.com>, 5.9.0-next): the
/// mail client broke the kill line twice, the `invoked oom-killer` line and the dump_stack
/// header once. Rejoined, every field is read; the `Hardware name` line is left alone (its
/// rest starts with a digit after a letter: no rule says whether a space was eaten).
#[test]
fn lines_broken_by_a_mail_client_are_rejoined() {
    let incs = parse(include_bytes!(
        "data/reported/wrapped-mail-lkml-5.9-memcg.log"
    ));
    assert_eq!(incs.len(), 2, "{incs:#?}");
    let k = &incs[0].kills[0];
    assert_eq!(incs[0].kind, Some(Kind::Memcg));
    assert_eq!(
        (
            k.pid,
            k.comm.as_deref(),
            k.total_vm_kb,
            k.anon_rss_kb,
            k.file_rss_kb,
            k.shmem_rss_kb,
            k.uid,
            k.pgtables_kb,
            k.oom_score_adj
        ),
        (
            Some(11280),
            Some("memcg_test_1"),
            Some(4124),
            Some(72),
            Some(0),
            Some(0),
            Some(0),
            Some(48),
            Some(0)
        )
    );
    // The next report's header, cut off after its stack: its invoker and release.
    assert_eq!(
        invoker(&incs[1]),
        (
            Some("memcg_test_1"),
            Some(11283),
            Some("0xcc0(GFP_KERNEL)"),
            Some(0),
            Some(0)
        )
    );
    assert_eq!(
        incs[1].kernel_version.as_deref(),
        Some("5.9.0-next-20201013")
    );
    assert_eq!(incs[1].kind, Some(Kind::Memcg));
    assert!(incs[1].kills.is_empty());
}

/// `kubectl describe pod` of evicted pods: derailed/k9s#174 and
/// Greenstand/treetracker-infrastructure#49 (whose Message the terminal broke inside
/// `exceeds`: the part before the break still names the container and its usage).
#[test]
fn evicted_pod_describe_names_pod_and_container() {
    let incs = parse(include_bytes!("data/reported/evicted-describe-k9s.txt"));
    assert_eq!(
        kube_kills(&incs),
        [(
            Some("proprietary-crawler-preemptive-79f7cbc6cf-rzck9"),
            Some("proprietary-crawler"),
            Some(9402820)
        )]
    );
    let incs = parse(include_bytes!(
        "data/reported/evicted-describe-terminal-wrapped-treetracker.txt"
    ));
    assert_eq!(
        kube_kills(&incs),
        [(
            Some("treetracker-pgpool-598947fd8f-vzvkq"),
            Some("treetracker-pgpool"),
            Some(1275700)
        )]
    );
}

/// Corpus 209 (LKML/ltp, Naresh Kamboju, Message-ID
/// <CA+G9fYt46oC7-BKryNDaaXPJ9GztvS2cs_7GjYRjanRi4+ryCQ@mail.gmail.com>): a KASAN report
/// printed from vprintk_store cut the oom-kill line after `task_memcg=in`; its rest
/// `,task=memcg_test_1,pid=11280,uid=0` came as a record of its own after the KASAN block.
/// The rest closes the cut value; KASAN's dump_stack header is not the OOM's invoker.
#[test]
fn an_oom_kill_line_cut_by_another_report_takes_its_rest() {
    let incs = parse(include_bytes!(
        "../../../tests/corpus/oom-reports/209-next-5.9-memcg-oomkill-line-split-by-kasan-wrapped-dmesg.log"
    ));
    let i = &incs[0];
    assert_eq!(
        (
            i.oom_memcg.as_deref(),
            i.task_memcg.as_deref(),
            i.cpuset.as_deref()
        ),
        (Some("/0"), Some("in"), Some("c"))
    );
    assert!(
        i.invoker.as_ref().is_none_or(|v| v.comm.is_none()),
        "{:?}",
        i.invoker
    );
    assert_eq!(i.kernel_version.as_deref(), Some("5.9.0-next-20201013"));
    assert_eq!(i.kills[0].pid, Some(11280));
}

/// Corpus 203 (LKML/linux-next, Naresh Kamboju, Message-ID
/// <CA+G9fYu2ruH-8uxBHE0pdE6RgRTSx4QuQPAN=Nv3BCdRd2ouYA@mail.gmail.com>): mkfs's output
/// before the kernel's stamp on a serial console, and the invoked header broken by Gmail
/// after `invoked`, so its first line has no trigger word: the reader must still see it.
#[test]
fn a_header_broken_before_its_trigger_word_keeps_its_invoker() {
    let incs = parse(include_bytes!(
        "../../../tests/corpus/oom-reports/203-next-5.7-i386-global-wrapped-72col-gmail-dmesg.log"
    ));
    let i = &incs[0];
    assert_eq!(
        invoker(i),
        (
            Some("mkfs.ext4"),
            Some(393),
            Some("0x101cc0(GFP_USER|__GFP_WRITE)"),
            Some(0),
            Some(0)
        )
    );
    assert_eq!(i.source.first_line, 1);
    assert_eq!(i.time.monotonic_us, Some(34_739_137));
    assert_eq!(i.kills[0].pid, Some(350));
}
