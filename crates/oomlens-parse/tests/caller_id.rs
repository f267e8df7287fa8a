//! Reports from kernels with CONFIG_PRINTK_CALLER: every line carries `[ T<pid>]` or
//! `[ C<cpu>]` after its stamp. The reports are real (tests/data/caller-id/README names the
//! mails they come from); the other envelopes are built from them line by line.

use oomlens_model::{Incident, Kind};
use oomlens_parse::{parse_bytes, Options};

const OOM_GROUP: &str = include_str!("data/caller-id/dmesg-oom-group-5.0-next.txt");
const MEMCG_V2: &str = include_str!("data/caller-id/dmesg-memcg-v2-5.3-rc3.txt");

/// The pids the 5.0 report kills, in its order (read off its `Killed process` lines).
const GROUP_PIDS: [u32; 12] = [
    9188, 1, 9182, 9183, 9184, 9185, 9186, 9187, 9189, 9190, 9191, 9192,
];

fn one(log: &str) -> Incident {
    let mut incs = parse_bytes(log.as_bytes(), Options::default());
    assert_eq!(incs.len(), 1, "{incs:#?}");
    incs.remove(0)
}

/// The oom.group report: every kill, its kind, cgroups, kernel version, a clean invoker.
fn check_oom_group(inc: &Incident, what: &str) {
    assert_eq!(inc.kind, Some(Kind::Memcg), "{what}");
    assert_eq!(inc.oom_memcg.as_deref(), Some("/test1"), "{what}");
    assert_eq!(inc.task_memcg.as_deref(), Some("/test1"), "{what}");
    assert_eq!(inc.oom_group.as_deref(), Some("/test1"), "{what}");
    assert_eq!(
        inc.kernel_version.as_deref(),
        Some("5.0.0-rc4-next-20190131"),
        "{what}"
    );
    let inv = inc.invoker.as_ref().expect("invoker");
    assert_eq!(inv.comm.as_deref(), Some("a.out"), "{what}");
    assert_eq!(inv.pid, Some(9185), "{what}");
    let pids: Vec<u32> = inc.kills.iter().filter_map(|k| k.pid).collect();
    assert_eq!(pids, GROUP_PIDS, "{what}");
    assert_eq!(inc.kills[0].anon_rss_kb, Some(10324), "{what}");
    assert_eq!(inc.kills[1].comm.as_deref(), Some("systemd"), "{what}");
    assert!(
        inc.kills
            .iter()
            .all(|k| !k.comm.as_deref().unwrap_or("").contains('[')),
        "{what}"
    );
}

#[test]
fn an_oom_group_report_with_caller_ids_keeps_every_kill() {
    check_oom_group(&one(OOM_GROUP), "dmesg");
}

/// The same report in the envelopes that keep a caller id elsewhere. Synthetic envelopes
/// around the real messages: raw /dev/kmsg records (`caller=` field, printk.c
/// `info_print_ext_header`), a syslog file that kept the kernel stamp (rsyslog imklog), and
/// util-linux dmesg's own caller column (`[%*s] `, sys-utils/dmesg.c).
#[test]
fn the_oom_group_report_in_other_envelopes() {
    let split = |l: &str| -> (u64, String, String) {
        let (stamp, rest) = l.split_once("][").unwrap();
        let (caller, msg) = rest.split_once("] ").unwrap();
        let (s, us) = stamp
            .trim_start_matches('[')
            .trim()
            .split_once('.')
            .unwrap();
        let mono = s.parse::<u64>().unwrap() * 1_000_000 + us.parse::<u64>().unwrap();
        (mono, caller.trim().to_string(), msg.to_string())
    };
    let mut kmsg = String::new();
    let mut syslog = String::new();
    let mut util_linux = String::new();
    for (seq, line) in OOM_GROUP.lines().enumerate() {
        let (mono, caller, msg) = split(line);
        // The kmsg body escapes nothing here: the report is plain ASCII.
        kmsg.push_str(&format!("4,{},{mono},-,caller={caller};{msg}\n", 900 + seq));
        syslog.push_str(&format!(
            "Feb  1 12:36:04 localhost kernel: [{:>5}.{:06}][{caller:>6}] {msg}\n",
            mono / 1_000_000,
            mono % 1_000_000
        ));
        util_linux.push_str(&format!(
            "[{:>5}.{:06}] [{caller:>6}] {msg}\n",
            mono / 1_000_000,
            mono % 1_000_000
        ));
    }
    check_oom_group(&one(&kmsg), "kmsg");
    check_oom_group(&one(&syslog), "syslog");
    check_oom_group(&one(&util_linux), "util-linux dmesg");
}

/// cgroup v2 memory.stat lines and the reaper's own `[   T55]` id.
#[test]
fn a_memcg_report_with_caller_ids_keeps_its_stats() {
    let inc = one(MEMCG_V2);
    assert_eq!(inc.kind, Some(Kind::Memcg));
    assert_eq!(inc.oom_memcg.as_deref(), Some("/leaker"));
    assert_eq!(inc.kernel_version.as_deref(), Some("5.3.0-rc3+"));
    assert_eq!(
        inc.invoker.as_ref().and_then(|i| i.comm.as_deref()),
        Some("leaker")
    );
    assert_eq!(inc.kills.len(), 1);
    assert_eq!(inc.kills[0].pid, Some(6736));
    assert_eq!(inc.kills[0].anon_rss_kb, Some(521704));
    let stat = inc.memory_stat.as_ref().expect("memory.stat");
    assert_eq!(stat.bytes("anon"), Some(534147072));
    assert_eq!(stat.bytes("file"), Some(212992));
    assert_eq!(
        inc.memcg
            .as_ref()
            .and_then(|m| m.memory.as_ref())
            .map(|c| c.limit_kb),
        Some(524288)
    );
}
