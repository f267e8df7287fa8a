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
//!
//! Where the break fell tells the separator: at a space inside the kernel's fixed words
//! (`Out of memory: Killed` / `process 925 …`, `mkfs.ext4 invoked` / `oom-killer: …`,
//! the dump_stack header before its taint marker or inside its flags) a space goes back;
//! inside a token that the kernel prints without spaces (a task-table column name, an
//! `oom-kill:` key, a `Killed process` field name) nothing does, and the piece must
//! complete that token. An empty message (its prefix left alone on its line) takes the
//! next line whole when that reads as a kernel OOM line.

use crate::kernel::{classify, KernelLine, OOM_KILL_KEYS};

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
    // An empty message: a mail client moved a long unbreakable message (an `oom-kill:`
    // line) whole to the next line, leaving its prefix behind.
    if t.is_empty() {
        return true;
    }
    // Broken inside `Killed process` itself (`Out of memory: Killed` / `process 925 (…`),
    // or inside `invoked oom-killer:` (`mkfs.ext4 invoked` / `oom-killer: gfp_mask=…`).
    if t.ends_with(": Killed") || t.ends_with("Killed process") || t.ends_with(" invoked") {
        return true;
    }
    if let Some(i) = t.find("Killed process ") {
        let rest = &t[i + "Killed process ".len()..];
        // Every generation prints ` (comm)` or `, UID` after the pid, and no line ends
        // inside its field list.
        return !rest.contains(" (") && !rest.contains(", UID")
            || !t.contains("total-vm:")
            || t.ends_with([',', ':'])
            || (t.contains("UID:") && !t.contains("oom_score_adj:"))
            || cut_field_name(t).is_some();
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
    if f.is_empty() || f.starts_with('[') {
        return None;
    }
    if prev.trim_end().is_empty() {
        // The whole message moved to the next line: it must read as a kernel line alone.
        return (!matches!(
            classify(f, false, false),
            KernelLine::Other | KernelLine::Elision
        ))
        .then(|| f.to_string());
    }
    let p = prev.trim_end();
    match classify(f, false, false) {
        KernelLine::Other => {}
        // `Tainted:` also opens a body line of its own (old kernels' register dumps).
        KernelLine::Body if p.starts_with("CPU: ") && taint_rest(p, f) => {}
        _ => return None,
    }
    if broken_phrase(p, f) {
        return Some(format!("{p} {f}"));
    }
    if p.contains("Killed process ") && field_rest(prev, frag) {
        return Some(format!("{p}{f}"));
    }
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

/// True when the break fell at a space inside the fixed words that open a line:
/// `Out of memory: Killed` / `process 925 (firewalld) …` (corpus 210),
/// `Out of memory: Killed process` / `10192 (agent:amservice) …` (214),
/// `mkfs.ext4 invoked` / `oom-killer: gfp_mask=…` (203). The words are the kernel's
/// (mm/oom_kill.c), so the space the break took is known.
fn broken_phrase(p: &str, f: &str) -> bool {
    let digit_first = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
    (p.ends_with(": Killed") && f.strip_prefix("process ").is_some_and(digit_first))
        || (p.ends_with("Killed process") && digit_first(f))
        || (p.ends_with(" invoked") && f.starts_with("oom-killer: "))
}

/// The field name a `Killed process` line ends inside (`… anon-rss:522880kB, file-rss`),
/// with the part of it that was printed.
fn cut_field_name(t: &str) -> Option<(&'static str, &str)> {
    let last = t.rsplit([' ', ',']).next()?;
    let head = &t[..t.len() - last.len()];
    KILLED_FIELDS
        .iter()
        .find(|k| {
            !last.is_empty() && k.len() > last.len() && k.starts_with(last) && !head.contains(*k)
        })
        .map(|k| (*k, last))
}

/// True when `frag` completes the field name the Killed line `prev` ends inside:
/// `… file-rss` / `:536kB, shmem-rss:0kB, …` (corpus 212). The kernel prints no space
/// inside a field (`file-rss:%lukB`), so neither side may have one at the break.
fn field_rest(prev: &str, frag: &str) -> bool {
    if prev.ends_with(char::is_whitespace) || frag.starts_with(char::is_whitespace) {
        return false;
    }
    cut_field_name(prev).is_some_and(|(k, printed)| {
        frag.starts_with(&k[printed.len()..])
            && frag[k.len() - printed.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
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
        // The rest may itself be cut inside its last name (`… oom_score_ad` / `j name`,
        // corpus 212): that piece must begin a known name, and the next line ends it.
        let (end, inner) = ftoks[1..].split_last().unwrap_or((&first, &[]));
        let begins_name = |w: &str| TABLE_COLUMNS.iter().any(|c| c.starts_with(w));
        if !inner.iter().all(|w| known(w)) || !(known(end) || begins_name(end)) {
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
/// comm), so only a terminal breaks it, inside a token. The rest may come in more than
/// one piece (`…,mems_allowed=0,oom` / `_memcg=/test512mb,task_m` / `emcg=…,uid=0`,
/// corpus 212): each piece must complete a key the line lacked.
fn oom_kill_sep(p: &str, f: &str) -> Option<&'static str> {
    let in_comm = p.contains(",task=") && !p.contains(",pid=");
    if in_comm || f.contains(' ') {
        return None;
    }
    let joined = format!("{p}{f}");
    let keys = |s: &str| {
        OOM_KILL_KEYS
            .iter()
            .chain(&[",global_oom"])
            .filter(|k| s.contains(**k))
            .count()
    };
    (keys(&joined) > keys(p)).then_some("")
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
        return fs.is_ascii_digit() && f.contains(" #") || f.starts_with('#') || taint_rest(p, f);
    }
    false
}

/// True when `f` is the rest of a dump_stack header `p` from its taint marker or inside
/// its taint flags, up to the release and build number (lib/dump_stack.c prints
/// `Comm: %.20s %s%s %s %.*s` with print_tainted()'s `Not tainted` or
/// `Tainted: ` and one letter or space per flag).
fn taint_rest(p: &str, f: &str) -> bool {
    let toks: Vec<&str> = f.split_whitespace().collect();
    let Some(build) = toks.iter().position(|t| t.starts_with('#')) else {
        return false;
    };
    if build == 0 {
        return false;
    }
    let flags = &toks[..build - 1];
    let is_flags = |ws: &[&str]| {
        ws.iter()
            .all(|w| w.bytes().all(|b| b.is_ascii_uppercase() || b == b'-'))
    };
    let marked = p.contains(" Not tainted") || p.contains(" Tainted: ");
    if !marked {
        return (f.starts_with("Not tainted ") && build == 3)
            || (f.starts_with("Tainted: ")
                && flags.split_first().is_some_and(|(_, fl)| is_flags(fl)));
    }
    p.contains(" Tainted: ") && is_flags(flags)
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

    #[test]
    fn a_message_moved_whole_to_the_next_line_takes_the_empty_prefix() {
        // Corpus 210 (journalctl, Gmail-wrapped): `… kernel:` then the oom-kill line, which
        // less chopped and marked with `>`; corpus 212: `[   56.419654] ` then its start.
        assert!(incomplete(""));
        let f210 = "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/firewalld.service,>";
        assert_eq!(rejoin("", f210, None).as_deref(), Some(f210));
        let f212 =
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom";
        assert_eq!(rejoin(" ", f212, None).as_deref(), Some(f212));
        // Corpus 209: the text after an empty KASAN line is no kernel OOM line: not taken.
        assert_eq!(rejoin("", "memcg_test_1/11282", None), None);
    }

    #[test]
    fn a_break_inside_the_opening_words_is_rejoined() {
        // Corpus 210: `Out of memory: Killed` / `process 925 (firewalld) …`.
        let a = "Out of memory: Killed";
        assert!(incomplete(a));
        let ab = rejoin(
            a,
            "process 925 (firewalld) total-vm:298292kB, anon-rss:21912kB,",
            None,
        )
        .unwrap();
        assert_eq!(
            ab,
            "Out of memory: Killed process 925 (firewalld) total-vm:298292kB, anon-rss:21912kB,"
        );
        assert!(incomplete(&ab));
        // Corpus 214 (Android /dev/kmsg records, mail-wrapped; trailing space kept).
        let c = "Out of memory: Killed process ";
        assert!(incomplete(c));
        assert_eq!(
            rejoin(c, "10192 (agent:amservice) total-vm:15133192kB, anon-rss:27500kB, ", None).as_deref(),
            Some("Out of memory: Killed process 10192 (agent:amservice) total-vm:15133192kB, anon-rss:27500kB, ")
        );
        // Corpus 203 (Gmail at 72 columns): `mkfs.ext4 invoked` / `oom-killer: gfp_mask=…`.
        let d = "mkfs.ext4 invoked";
        assert!(incomplete(d));
        let de = rejoin(
            d,
            "oom-killer: gfp_mask=0x101cc0(GFP_USER|__GFP_WRITE), order=0,",
            None,
        )
        .unwrap();
        assert_eq!(
            de,
            "mkfs.ext4 invoked oom-killer: gfp_mask=0x101cc0(GFP_USER|__GFP_WRITE), order=0,"
        );
        assert_eq!(
            rejoin(&de, "oom_score_adj=0", None).as_deref(),
            Some("mkfs.ext4 invoked oom-killer: gfp_mask=0x101cc0(GFP_USER|__GFP_WRITE), order=0, oom_score_adj=0")
        );
        // Synthetic: words that do not go on as the kernel's do are left alone.
        assert_eq!(rejoin(a, "processes were frozen", None), None);
        assert_eq!(rejoin(d, "the handler", None), None);
    }

    #[test]
    fn a_dump_stack_header_takes_its_taint_marker_and_flags() {
        // Corpus 210: broken before `Not tainted`.
        let a = "CPU: 0 PID: 1165 Comm: tuned";
        assert!(incomplete(a));
        assert_eq!(
            rejoin(a, "Not tainted 4.18.0-240.10.1.el8_3.x86_64 #1", None).as_deref(),
            Some("CPU: 0 PID: 1165 Comm: tuned Not tainted 4.18.0-240.10.1.el8_3.x86_64 #1")
        );
        // Corpus 214: broken before `Tainted:`; the flags are padded with U+00A0 as sent.
        let b = "CPU: 7 PID: 12845 Comm: dumpsys ";
        let f = "Tainted: G\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0} WC O\u{a0}\u{a0}\u{a0}\u{a0}\u{a0} 5.10.168-gki-gade08d90ed8c-dirty #1";
        assert!(incomplete(b));
        assert_eq!(
            rejoin(b, f, None),
            Some(format!("CPU: 7 PID: 12845 Comm: dumpsys {f}"))
        );
        // Corpus 218: broken inside the taint flags.
        let c = "CPU: 252 PID: 116849 Comm: alloc_anon Tainted: G";
        assert!(incomplete(c));
        assert_eq!(
            rejoin(c, "   O       6.5.0-smp-DEV #21", None).as_deref(),
            Some("CPU: 252 PID: 116849 Comm: alloc_anon Tainted: G O       6.5.0-smp-DEV #21")
        );
        // Synthetic: words that are no taint flags (a comm broken at its space) are not.
        assert_eq!(rejoin(c, "Content 6.5.0 #21", None), None);
        assert_eq!(rejoin(b, "Tainted: #1", None), None);
        assert_eq!(
            rejoin(
                "CPU: 0 PID: 1 Comm: Web",
                "Content Not tainted 6.5.0 #1",
                None
            ),
            None
        );
    }

    #[test]
    fn pieces_broken_inside_tokens_are_glued() {
        // Corpus 212 (wrapped inside tokens): the table header in three pieces…
        let h = "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file ";
        assert!(incomplete(h));
        let h2 = rejoin(h, "rss_shmem pgtables_bytes swapents oom_score_ad", None).unwrap();
        assert!(incomplete(&h2));
        assert_eq!(
            rejoin(&h2, "j name", None).as_deref(),
            Some("[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name")
        );
        // …a piece that begins no column name is not the header's rest (synthetic).
        assert_eq!(rejoin(h, "rss_shmem pgtables_bytes bogus", None), None);
        // …the oom-kill line in three…
        let o = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom";
        assert!(incomplete(o));
        let o2 = rejoin(o, "_memcg=/test512mb,task_m", None).unwrap();
        assert!(incomplete(&o2));
        assert_eq!(
            rejoin(&o2, "emcg=/test512mb,task=stress,pid=1122,uid=0", None).as_deref(),
            Some("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/test512mb,task_memcg=/test512mb,task=stress,pid=1122,uid=0")
        );
        // (a piece that completes no key is not taken: synthetic)
        assert_eq!(rejoin(o, "_foo", None), None);
        // …and the Killed line inside a field name.
        let k = "Memory cgroup out of memory: Killed process 1122 (stress) total-vm:719740kB, anon-rss:522880kB, file-rss";
        assert!(incomplete(k));
        assert_eq!(
            rejoin(k, ":536kB, shmem-rss:0kB, UID:0 pgtables:1072kB oom_score_adj:0", None).as_deref(),
            Some("Memory cgroup out of memory: Killed process 1122 (stress) total-vm:719740kB, anon-rss:522880kB, file-rss:536kB, shmem-rss:0kB, UID:0 pgtables:1072kB oom_score_adj:0")
        );
        // Synthetic: a space at the break means it was not inside the field: no glue.
        assert_eq!(
            rejoin(&format!("{k} "), ":536kB, shmem-rss:0kB", None),
            None
        );
        assert_eq!(rejoin(k, " :536kB, shmem-rss:0kB", None), None);
    }
}
