//! Rejoining kernel lines that a terminal, a pager or a mail client broke at 72–80 columns.
//!
//! Reports pasted into mails and trackers often arrive as
//! `[  221.922205] Memory cgroup out of memory: Killed process 11280` followed by a line
//! `(memcg_test_1) total-vm:4124kB, anon-rss:72kB, file-rss:0kB,`. The rejoin lives in the
//! parser, before the classifier, with one line of lookahead: a kernel message that ends in
//! a way the kernel never prints ([`incomplete`]) waits for the next line, and is joined to
//! it only when that line has no log prefix of its own, cannot start a kernel message, and
//! begins with what the held line lacks ([`rejoin`]). Everything else is left as it is: a
//! join that would need a guess (two digits meeting at the break: a number split by a
//! terminal, or two numbers whose space a mail client ate) is not made, so no value is ever
//! invented.

use crate::kernel::{classify, KernelLine};

/// The fields of a `Killed process` line, in the kernel's order (mm/oom_kill.c
/// __oom_kill_process, every generation).
const KILLED_FIELDS: &[&str] = &[
    "total-vm:",
    "anon-rss:",
    "file-rss:",
    "shmem-rss:",
    "UID:",
    "UID ",
    "pgtables:",
    "oom_score_adj:",
];

/// The fields of an `invoked oom-killer:` line (mm/oom_kill.c dump_header).
const INVOKED_FIELDS: &[&str] = &[
    "gfp_mask=",
    "nodemask=",
    "order=",
    "oom_adj=",
    "oom_score_adj=",
];

/// True when `msg` is a kernel OOM line that may have been cut: the kernel never prints
/// it so (a `Killed process` line ending inside its field list or before its comm), or only
/// 2.6's kernels do (`Killed process N (comm)` with no fields): the next line decides.
pub fn incomplete(msg: &str) -> bool {
    let t = msg.trim();
    if let Some(i) = t.find("Killed process ") {
        let rest = &t[i + "Killed process ".len()..];
        // Every generation prints ` (comm)` or `, UID` after the pid, and no line ends
        // inside its field list.
        return !rest.contains(" (") && !rest.contains(", UID")
            || !t.contains("total-vm:")
            || t.ends_with([',', ':'])
            || (t.contains("UID:") && !t.contains("oom_score_adj:"));
    }
    if let Some(rest) = t.strip_prefix("oom_reaper: reaped process ") {
        return !rest.contains("), now ");
    }
    if let Some((_, rest)) = t.split_once(" invoked oom-killer:") {
        return !rest.contains("oom_score_adj=") || t.ends_with([',', '=']);
    }
    if let Some(rest) = t.strip_prefix("Task in ") {
        return !rest.contains(" killed as a result of limit of ");
    }
    if t.starts_with("CPU: ") && t.contains(" Comm: ") {
        // The release and its build number (`#1`) end the dump_stack header.
        return !t.contains(" #");
    }
    if t.starts_with("oom-kill:") {
        return !t.contains(",uid=");
    }
    if let Some((_, inline)) = t
        .strip_prefix("Memory cgroup stats for ")
        .and_then(|r| r.split_once(": "))
    {
        // cgroup v1 prints every pair on this one long line.
        return !inline.is_empty();
    }
    if t.starts_with('[') {
        // The task-table header ends with `name`, and a row with the task's name.
        if let Some(close) = t.find(']') {
            let inside = t[1..close].trim();
            if inside == "pid" {
                return !t.ends_with(" name");
            }
            return inside.parse::<u32>().is_ok()
                && t[close + 1..]
                    .split_ascii_whitespace()
                    .all(|w| w.parse::<i64>().is_ok());
        }
    }
    false
}

/// The held message `prev` joined with the next line's message `frag`, when `frag` is the
/// rest of it; `None` when it is not, or when the join would need a guess.
///
/// `table_columns` is the number of numeric columns (pid included) of the open report's
/// task-table header, when one was read: it tells a row broken between two numbers (the
/// count adds up) from one broken inside a number (one too many).
pub fn rejoin(prev: &str, frag: &str, table_columns: Option<usize>) -> Option<String> {
    let f = frag.trim_start();
    if f.is_empty() || f.starts_with('[') || classify(f, false, false) != KernelLine::Other {
        return None;
    }
    let p = prev.trim_end();
    let special = if p.starts_with('[') {
        Some(table_sep(p, f, table_columns))
    } else if p.starts_with("oom-kill:") {
        Some(oom_kill_sep(p, f))
    } else if p.starts_with("Memory cgroup stats for ") {
        Some(stats_sep(p, f))
    } else {
        None
    };
    if let Some(sep) = special {
        return sep.map(|sep| format!("{p}{sep}{f}"));
    }
    if !continues(p, f) {
        return None;
    }
    let (pe, fs) = (p.chars().last()?, f.chars().next()?);
    // The kernel prints a space before the release on the dump_stack header; `Task in`
    // was checked above to read right with a space.
    let sep = if frag.starts_with([' ', '\t'])
        || pe == ','
        || fs == '('
        || p.starts_with("CPU: ")
        || p.starts_with("Task in ")
    {
        " "
    } else if pe == '=' || (pe == ':' && fs.is_ascii_digit()) || matches!(fs, ',' | ')') {
        ""
    } else if fs.is_ascii_alphabetic()
        && (pe.is_ascii_digit() || matches!(pe, ')' | ':') || p.ends_with("kB"))
    {
        " "
    } else {
        return None;
    };
    Some(format!("{p}{sep}{f}"))
}

/// The task-table columns every kernel may print (mm/oom_kill.c dump_tasks).
const TABLE_COLUMNS: &[&str] = &[
    "uid",
    "tgid",
    "total_vm",
    "rss",
    "rss_anon",
    "rss_file",
    "rss_shmem",
    "pgtables_bytes",
    "nr_ptes",
    "nr_pmds",
    "swapents",
    "cpu",
    "oom_adj",
    "oom_score_adj",
    "name",
];

/// The separator of a task-table header or row and its rest.
fn table_sep(p: &str, f: &str, columns: Option<usize>) -> Option<&'static str> {
    let close = p.find(']')?;
    let known = |w: &str| TABLE_COLUMNS.contains(&w);
    let ftoks: Vec<&str> = f.split_ascii_whitespace().collect();
    if p[1..close].trim() == "pid" {
        // The header: column names only; a name is whole on both sides (a mail client broke
        // at a space) or whole only when glued (a terminal broke inside it).
        let last = p.split_ascii_whitespace().last()?;
        let first = *ftoks.first()?;
        if !ftoks[1..].iter().all(|w| known(w)) {
            return None;
        }
        return if known(last) && known(first) {
            Some(" ")
        } else if known(&format!("{last}{first}")) {
            Some("")
        } else {
            None
        };
    }
    let k = 1 + p[close + 1..].split_ascii_whitespace().count();
    let m = ftoks
        .iter()
        .take_while(|w| w.parse::<i64>().is_ok())
        .count();
    if m == ftoks.len() {
        return None; // no name: not the rest of a row
    }
    let digits_meet =
        p.ends_with(|c: char| c.is_ascii_digit()) && f.starts_with(|c: char| c.is_ascii_digit());
    match columns {
        Some(n) if k + m == n => Some(" "),
        Some(n) if k + m == n + 1 && digits_meet => Some(""),
        None if m == 0 => Some(" "),
        _ => None,
    }
}

/// The separator of an `oom-kill:` line and its rest: the line has no spaces (but in a
/// comm), so only a terminal breaks it, inside a token.
fn oom_kill_sep(p: &str, f: &str) -> Option<&'static str> {
    let in_comm = p.contains(",task=") && !p.contains(",pid=");
    (!in_comm && !f.contains(' ') && format!("{p}{f}").contains(",uid=")).then_some("")
}

/// The separator of a v1 `Memory cgroup stats for <cg>: k:vKB …` line and its rest.
fn stats_sep(p: &str, f: &str) -> Option<&'static str> {
    let pair = |w: &str| {
        w.split_once(':').is_some_and(|(k, v)| {
            !k.is_empty()
                && v.strip_suffix("KB")
                    .is_some_and(|n| n.parse::<u64>().is_ok())
        })
    };
    let last = p.split_ascii_whitespace().last()?;
    let first = f.split_ascii_whitespace().next()?;
    if pair(last) && pair(first) {
        Some(" ")
    } else if !pair(last) && pair(&format!("{last}{first}")) {
        // The kernel prints every value with `KB`: a pair without it was cut inside.
        Some("")
    } else {
        None
    }
}

/// True when `f` begins with what `p` lacks.
fn continues(p: &str, f: &str) -> bool {
    let starts_field = |fields: &[&str]| {
        fields
            .iter()
            .any(|k| f.starts_with(k) && !p.contains(k.trim_end()))
    };
    let fs = f.chars().next().unwrap_or(' ');
    if p.contains("Killed process ") {
        return fs == '(' && !p.contains(" (")
            || starts_field(KILLED_FIELDS)
            || (p.ends_with(':') && fs.is_ascii_digit())
            || (fs == ',' && p.ends_with("kB"));
    }
    if p.starts_with("oom_reaper: reaped process ") {
        return f.starts_with("now ") && p.ends_with("),");
    }
    if p.contains(" invoked oom-killer:") {
        return starts_field(INVOKED_FIELDS) || (p.ends_with('=') && fs.is_ascii_alphanumeric());
    }
    if p.starts_with("Task in ") {
        let joined = format!("{p} {f}");
        return joined.contains(" killed as a result of limit of ")
            && !p.contains(" killed as a result of limit of ");
    }
    if p.starts_with("CPU: ") {
        return fs.is_ascii_digit() && f.contains(" #") || f.starts_with('#');
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_line_broken_by_a_mail_client_is_rejoined() {
        // Lines of the LKML report quoted in the module comment (see tests/reported_forms.rs
        // for the source).
        let a = "Memory cgroup out of memory: Killed process 11280";
        assert!(incomplete(a));
        let ab = rejoin(
            a,
            "(memcg_test_1) total-vm:4124kB, anon-rss:72kB, file-rss:0kB,",
            None,
        )
        .unwrap();
        assert!(incomplete(&ab));
        let abc = rejoin(
            &ab,
            "shmem-rss:0kB, UID:0 pgtables:48kB oom_score_adj:0",
            None,
        )
        .unwrap();
        assert!(!incomplete(&abc));
        assert_eq!(abc, "Memory cgroup out of memory: Killed process 11280 (memcg_test_1) total-vm:4124kB, anon-rss:72kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:48kB oom_score_adj:0");
    }

    #[test]
    fn other_cut_lines_take_their_rest() {
        // Synthetic breaks of real lines (corpus 011's Task in line, 016's task row, the LKML
        // mail's CPU header, corpus 015's reaper line), at a space as a mail client breaks.
        let task = "Task in /system.slice/docker-15e3eaa960e4.scope killed as a result";
        assert!(incomplete(task));
        assert_eq!(
            rejoin(task, "of limit of /system.slice/docker-15e3eaa960e4.scope", None).as_deref(),
            Some("Task in /system.slice/docker-15e3eaa960e4.scope killed as a result of limit of /system.slice/docker-15e3eaa960e4.scope")
        );
        let row = "[15192]     0 15192  1679458  1648518    3283      11        0           179";
        assert!(incomplete(row));
        assert_eq!(
            rejoin(row, "prometheus", None).as_deref(),
            Some(&*format!("{row} prometheus"))
        );
        let cpu = "CPU: 1 PID: 11282 Comm: memcg_test_1 Not tainted";
        assert!(incomplete(cpu));
        assert_eq!(
            rejoin(cpu, "5.9.0-next-20201013 #1", None).as_deref(),
            Some("CPU: 1 PID: 11282 Comm: memcg_test_1 Not tainted 5.9.0-next-20201013 #1")
        );
        let reap = "oom_reaper: reaped process 1381 (gunpowder-memho),";
        assert!(incomplete(reap));
        assert_eq!(
            rejoin(reap, "now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", None).as_deref(),
            Some("oom_reaper: reaped process 1381 (gunpowder-memho), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
        );
    }

    #[test]
    fn tables_oom_kill_and_stats_lines_take_their_rest() {
        // Synthetic breaks of real lines: a 5.x task-table header, the prometheus row of
        // kernel.rs's headers test, corpus 021's oom-kill line, corpus 003's v1 stats.
        let header = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents";
        assert!(incomplete(header));
        assert_eq!(
            rejoin(header, "oom_score_adj name", None).as_deref(),
            Some("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")
        );
        // A terminal broke inside a column name.
        assert_eq!(
            rejoin("[  pid  ]   uid  tgid total_vm      rss pgtables_by", "tes swapents oom_score_adj name", None).as_deref(),
            Some("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")
        );
        // 8 numeric columns: a break between numbers adds up, one inside a number is one more.
        let cols = Some(8);
        assert_eq!(
            rejoin(
                "[  15192]     0 15192  1679458  1648518",
                "3283 11 179 prometheus",
                cols
            )
            .as_deref(),
            Some("[  15192]     0 15192  1679458  1648518 3283 11 179 prometheus")
        );
        assert_eq!(
            rejoin(
                "[  15192]     0 15192  16794",
                "58  1648518 3283 11 179 prometheus",
                cols
            )
            .as_deref(),
            Some("[  15192]     0 15192  1679458  1648518 3283 11 179 prometheus")
        );
        assert_eq!(
            rejoin(
                "[  15192]     0 15192  16794",
                "58 1648518 3283 prometheus",
                cols
            ),
            None
        );
        let ok = "oom-kill:constraint=CONSTRAINT_CPUSET,nodemask=(null),cpuset=/,mems_allo";
        assert!(incomplete(ok));
        assert_eq!(
            rejoin(ok, "wed=0,global_oom,task_memcg=/system.slice/containerd.service,task=containerd,pid=4100,uid=0", None).as_deref(),
            Some("oom-kill:constraint=CONSTRAINT_CPUSET,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/containerd.service,task=containerd,pid=4100,uid=0")
        );
        // A break inside task= may have eaten a space of the comm.
        assert_eq!(
            rejoin(
                "oom-kill:constraint=CONSTRAINT_NONE,task=Web",
                "Content,pid=1,uid=0",
                None
            ),
            None
        );
        let st = "Memory cgroup stats for /mem2: cache:0KB rss:920KB rss_huge:0KB";
        assert!(incomplete(st));
        assert_eq!(
            rejoin(st, "mapped_file:0KB writeback:0KB", None).as_deref(),
            Some("Memory cgroup stats for /mem2: cache:0KB rss:920KB rss_huge:0KB mapped_file:0KB writeback:0KB")
        );
        assert_eq!(
            rejoin(
                "Memory cgroup stats for /mem2: cache:0KB rss:92",
                "0KB rss_huge:0KB",
                None
            )
            .as_deref(),
            Some("Memory cgroup stats for /mem2: cache:0KB rss:920KB rss_huge:0KB")
        );
    }

    #[test]
    fn guesses_are_not_made() {
        // Synthetic: a terminal that broke a number, and a mail client that ate the space
        // between two numbers, look the same: no join.
        assert_eq!(
            rejoin("[  1234]     0  1234    12", "345 0 0 bash", None),
            None
        );
        // A complete line waits for nothing.
        assert!(!incomplete("Out of memory: Killed process 5 (a) total-vm:1kB, anon-rss:2kB, file-rss:3kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"));
        // A next line that is a kernel message of its own is never glued on.
        assert_eq!(rejoin("Killed process 11280", "Mem-Info:", None), None);
    }
}
