//! Regressions found by running the parser over generated logs (bench/, the log generator):
//! one test per problem, with the input that showed it.

use std::path::PathBuf;

use oomlens_model::{Incident, Kind, NoticeKind};
use oomlens_parse::{parse_bytes, Options};

fn corpus(prefix: &str) -> Vec<u8> {
    let dir = std::env::var_os("OOMLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/oom-reports")
        });
    let p = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap();
    std::fs::read(p).unwrap()
}

/// `Mem-Info:` is printed by page-allocation-failure warnings and SysRq-m too: without a line
/// that only an OOM report prints, it is no incident.
#[test]
fn mem_info_without_an_oom_is_no_incident() {
    let lone = b"[   23.102305] Mem-Info:\n[   23.102308] active_anon:2521243 inactive_anon:493821 isolated_anon:0\n";
    assert!(parse_bytes(lone, Options::default()).is_empty());
    let warn = include_bytes!("data/regressions/page-allocation-failure.log");
    assert!(parse_bytes(warn, Options::default()).is_empty());
    // Nor does it swallow the start of a real report that follows.
    let mut both = warn.to_vec();
    both.extend_from_slice(&corpus("035-"));
    let incs = parse_bytes(&both, Options::default());
    assert_eq!(incs.len(), 1);
    let warn_lines = warn.split(|&b| b == b'\n').count() as u64 - 1;
    assert_eq!(incs[0].source.first_line, warn_lines + 1);
    assert_eq!(incs[0].kills[0].pid, Some(116));
}

/// A report whose Killed line is missing (045 ends at `Kill process … or sacrifice child`)
/// ends at its selection line: later noise (`Code:` lines of a segfault) is not absorbed.
#[test]
fn a_selection_without_killed_line_ends_the_report() {
    let mut input = corpus("045-");
    let report_lines = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    input.extend_from_slice(
        b"[  390.100000] redis-server[201899]: segfault at 74f ip 00007f0979b3cd6e sp 00007ffd2321e45b error 4 in libc.so.6[7f0979a9e000+195000]\n\
          [  390.100001] Code: 3c 61 83 f8 18 f7 4e 61 c8 cf ba 02 9a a8 52 d3 29 a3 b0 8e 05 05 1d 9b 07 ea 38 ff 79 ce\n\
          [  391.000000] usb 1-1: USB disconnect, device number 3\n",
    );
    let incs = parse_bytes(&input, Options::default());
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0].source.last_line, report_lines);
    assert_eq!(incs[0].kills[0].line, report_lines);
    assert_eq!(incs[0].kills[0].pid, Some(2649));
}

/// memory.oom.group (4.19+): after the victim, every task of the group is killed with its own
/// `Killed process` line, and the victim may be printed twice. One event, one incident.
#[test]
fn oom_group_kills_are_one_incident() {
    let log = "[ 10.000000] a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
               [ 10.000100] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/g,task_memcg=/g,task=b,pid=11,uid=0\n\
               [ 10.000200] Memory cgroup out of memory: Killed process 11 (b) total-vm:9kB, anon-rss:8kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:500\n\
               [ 10.000300] Tasks in /g are going to be killed due to memory.oom.group set\n\
               [ 10.000400] Memory cgroup out of memory: Killed process 10 (a) total-vm:9kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:-200\n\
               [ 10.000500] Memory cgroup out of memory: Killed process 11 (b) total-vm:9kB, anon-rss:8kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:500\n\
               [ 10.000600] Memory cgroup out of memory: Killed process 12 (c) total-vm:9kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0\n";
    let incs = parse_bytes(log.as_bytes(), Options::default());
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0].oom_group.as_deref(), Some("/g"));
    let pids: Vec<_> = incs[0].kills.iter().map(|k| k.pid.unwrap()).collect();
    assert_eq!(pids, [11, 10, 12]);
}

/// Out-of-memory errors of language runtimes and GPUs kill nothing: no incident.
#[test]
fn runtime_and_gpu_errors_are_no_incident() {
    let log = "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n\
               \tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)\n\
               fatal error: runtime: out of memory\n\
               torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB\n\
               MemoryError\n";
    assert!(parse_bytes(log.as_bytes(), Options::default()).is_empty());
}

/// systemd 252 re-announces a slice's cumulative OOM count after `daemon-reload` with no new
/// kill (`system.slice: A process of this unit has been killed by the OOM killer.`; journal
/// captured in the QEMU systemd guest). It belongs to the kill below the slice, not to a
/// new incident; and incidents leave in input order.
#[test]
fn a_slice_notice_after_daemon_reload_is_no_new_incident() {
    let log = include_bytes!(
        "data/regressions/systemd252-slice-oom-notice-after-daemon-reload.journal.json"
    );
    let incs = parse_bytes(log, Options::default());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    assert_eq!(incs[0].kills[0].pid, Some(209));
    let units: Vec<&str> = incs[0].notices.iter().map(|n| n.unit.as_str()).collect();
    assert!(
        units.contains(&"leaky.service") && units.contains(&"system.slice"),
        "{units:?}"
    );
}

/// A global OOM whose stack holds a stale `? try_charge_memcg` frame (a return address left
/// by the tmpfs writer's earlier page charges; the unwinder marks it `?`) is still global:
/// the `oom-kill:` line says `global_oom` and the kill line "Out of memory". The report is a
/// real one from the busybox guest (tests/busybox_rank_global.rs) with that one frame added.
/// A CI run of that test explained its report as memcg without a ranking; its log was not
/// kept, and this frame is what reproduces that output with the parser of then.
#[test]
fn a_guessed_memcg_frame_does_not_make_a_global_oom_memcg() {
    let input = include_bytes!("data/regressions/global-oom-stale-memcg-frame.kmsg");
    let incs = parse_bytes(input, Options::default());
    assert_eq!(incs.len(), 1);
    let inc = &incs[0];
    assert_eq!(inc.kind, Some(oomlens_model::Kind::Global));
    assert_eq!(inc.kills[0].pid, Some(100));
    assert!(
        !inc.oom_path.iter().any(|f| f == "try_charge_memcg"),
        "{:?}",
        inc.oom_path
    );
    assert!(inc.oom_path.iter().any(|f| f == "out_of_memory"));
    assert!(inc.task_table.as_ref().is_some_and(|t| t.rows.len() >= 5));
}

/// A report pasted newest first (229: `Killed process`, then its `oom-kill:` summary, then
/// the victim's task row): one kill, with the summary's constraint and cgroup.
#[test]
fn summary_after_its_kill_is_the_same_event() {
    let incs = parse_bytes(&corpus("229-"), Options::default());
    let kills: Vec<_> = incs.iter().flat_map(|i| &i.kills).collect();
    assert_eq!(kills.len(), 1, "{incs:#?}");
    assert_eq!(kills[0].pid, Some(569725));
    let inc = &incs[0];
    assert_eq!(inc.constraint.as_deref(), Some("CONSTRAINT_NONE"));
    assert_eq!(
        inc.task_memcg.as_deref(),
        Some("/user.slice/user-1000.slice/session-1.scope")
    );
    assert_eq!(inc.kind, Some(oomlens_model::Kind::Global));
}

/// systemd may say a unit's process was killed by the OOM killer before the kernel prints
/// its report of that kill (real journal of the QEMU systemd guest, see data/real/README):
/// the notice belongs to the report that follows, not to the unit's previous kill, and
/// makes no incident of its own.
#[test]
fn a_kill_notice_before_its_report_goes_to_that_report() {
    let journal = include_bytes!("data/real/journal-early-notice-systemd252.json");
    let incs = parse_bytes(journal, Options::default());
    let kills: Vec<_> = incs
        .iter()
        .map(|i| (i.kind, i.kills.iter().map(|k| k.pid).collect::<Vec<_>>()))
        .collect();
    assert_eq!(
        kills,
        [
            (Some(Kind::Memcg), vec![Some(191)]),
            (Some(Kind::Memcg), vec![Some(198)])
        ]
    );
    let said = |i: &Incident| {
        i.notices
            .iter()
            .filter(|n| n.kind == NoticeKind::ProcessKilledByOomKiller)
            .map(|n| n.line)
            .collect::<Vec<_>>()
    };
    assert_eq!(said(&incs[0]), [43]);
    assert_eq!(said(&incs[1]), [50]);
    // The second kill's other notices stay with it too.
    assert!(incs[1]
        .notices
        .iter()
        .any(|n| n.kind == NoticeKind::MainProcessKilled && n.line == 87));
}

/// A member of an oom.group kill that is already exiting gets a line of its own between the
/// kills (real kmsg of the QEMU busybox guest, see data/real/README); it must not end the
/// report, or the kills after it become a second incident with no header.
#[test]
fn an_exiting_group_member_does_not_split_the_group_kill() {
    let kmsg = include_bytes!("data/real/kmsg-oom-group-exiting-6.1.txt");
    let incs = parse_bytes(kmsg, Options::default());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let inc = &incs[0];
    assert_eq!(inc.oom_group.as_deref(), Some("/grp"));
    assert_eq!(
        inc.kills.iter().map(|k| k.pid).collect::<Vec<_>>(),
        [Some(104), Some(102), Some(103), Some(105)]
    );
    assert_eq!(inc.source.last_line, 44);
}

/// The other way the same race falls: the group scan finds the victim still holding its mm
/// and the kernel kills (and counts) it a second time. Still one incident with four
/// processes; the victim carries the extra kill, so 4 + 1 matches memory.events oom_kill.
#[test]
fn a_victim_the_group_kills_again_is_one_process_killed_twice() {
    let kmsg = include_bytes!("data/real/kmsg-oom-group-victim-again-6.1.txt");
    let incs = parse_bytes(kmsg, Options::default());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let inc = &incs[0];
    let kills: Vec<_> = inc.kills.iter().map(|k| (k.pid, k.killed_again)).collect();
    assert_eq!(
        kills,
        [
            (Some(104), 1),
            (Some(102), 0),
            (Some(103), 0),
            (Some(105), 0)
        ]
    );
    assert_eq!(inc.source.last_line, 44);
}

/// Outside a group kill a repeated `Killed process` line is one kill: a log that holds the
/// same record twice (two sources merged) must not count it twice.
#[test]
fn a_repeated_kill_line_without_a_group_is_one_kill() {
    let kmsg = include_str!("data/real/kmsg-oom-group-victim-again-6.1.txt");
    // The report up to the victim's kill, and that record once more.
    let mut lines: Vec<&str> = kmsg.lines().take(39).collect();
    lines.push(lines[38]);
    let incs = parse_bytes(lines.join("\n").as_bytes(), Options::default());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let kills: Vec<_> = incs[0]
        .kills
        .iter()
        .map(|k| (k.pid, k.killed_again))
        .collect();
    assert_eq!(kills, [(Some(104), 0)]);
}
