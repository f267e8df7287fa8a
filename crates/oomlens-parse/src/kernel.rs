//! Recognizers for the lines of a kernel OOM report (mm/oom_kill.c, mm/memcontrol.c,
//! lib/dump_stack.c), 2.6.32 to 6.x.
//!
//! Each function takes one message (envelope already removed) and returns what it says.
//! comm names are taken by position relative to the fixed text around them, never by
//! splitting on spaces or parentheses: a comm may hold both (`CPU 11/KVM`, `a (b)`).

/// One classified kernel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelLine<'a> {
    /// `<comm> invoked oom-killer: gfp_mask=…, [nodemask=…,] order=N, [oom_adj=N, ]oom_score_adj=N`
    Invoked {
        /// Invoking comm.
        comm: &'a str,
        /// `gfp_mask=` verbatim.
        gfp_mask: Option<&'a str>,
        /// `nodemask=`.
        nodemask: Option<&'a str>,
        /// `order=`.
        order: Option<u32>,
        /// `oom_score_adj=`.
        oom_score_adj: Option<i32>,
        /// `oom_adj=` (2.6.32).
        oom_adj: Option<i32>,
    },
    /// `<comm> cpuset=<cg> mems_allowed=<nodes>` (before 4.19).
    CpusetLine {
        /// cpuset cgroup.
        cpuset: &'a str,
        /// mems_allowed.
        mems_allowed: &'a str,
    },
    /// `CPU: N [UID: N] PID: N Comm: <comm> Not tainted|Tainted: … <release> #…`, or 2.6.32's
    /// `Pid: N, comm: <comm> Not tainted <release> #…`.
    CpuHeader {
        /// Pid of the task that dumped its stack (the invoker).
        pid: u32,
        /// Its comm.
        comm: &'a str,
        /// Kernel release.
        version: Option<&'a str>,
    },
    /// A call-trace frame (`func+0x1/0x2`).
    Frame {
        /// The function name.
        name: &'a str,
        /// False for frames the unwinder only guessed: x86's `? func+…` (a stale return
        /// address left on the stack, e.g. by an earlier memcg charge) and powerpc's
        /// `(unreliable)`. They say nothing about the path that ran.
        reliable: bool,
    },
    /// Other lines of the report body: `Call Trace:`, registers, `Hardware name:`, stack words,
    /// per-node and per-zone lines, `lowmem_reserve[]`, hugepages, swap-cache counts.
    Body,
    /// `Task in <task_memcg> killed as a result of limit of <oom_memcg>` (before 4.19).
    TaskIn {
        /// The victim's memcg.
        task_memcg: &'a str,
        /// The memcg whose limit was hit.
        oom_memcg: &'a str,
    },
    /// `memory: usage NkB, limit NkB, failcnt N` (and `memory+swap:`, `kmem:`, `swap:`).
    Counter {
        /// `memory`, `memory+swap`, `kmem` or `swap`.
        which: &'a str,
        /// usage, KiB.
        usage_kb: u64,
        /// limit, KiB.
        limit_kb: u64,
        /// failcnt.
        failcnt: u64,
    },
    /// `Memory cgroup stats for <cg>:` with v1's `key:valueKB` pairs on the same line.
    StatsHeader {
        /// The cgroup.
        cgroup: &'a str,
        /// The rest of the line (v1 pairs), possibly empty (v2: one pair per line follows).
        inline: &'a str,
    },
    /// `key value` (cgroup v2 memory.stat line, only meaningful inside a stats block).
    StatPair(&'a str, u64),
    /// `Mem-Info:`.
    MemInfoStart,
    /// A line of `key:pages` counters of the Mem-Info block.
    MemInfoCounters(&'a str),
    /// `N pages RAM`, `N pages reserved`, `N total pagecache pages`.
    Pages {
        /// What is counted: `RAM`, `reserved`, `pagecache`.
        what: &'a str,
        /// Count.
        pages: u64,
    },
    /// `Free swap  = NkB` / `Total swap = NkB`.
    Swap {
        /// `Free` or `Total`.
        which: &'a str,
        /// KiB.
        kb: u64,
    },
    /// `Tasks state (memory values in pages):` or `[ pid ]   uid  tgid total_vm …` header.
    TableHeader(Option<Vec<&'a str>>),
    /// `[  pid]   uid  tgid …  name`: the numbers and the name.
    TableRow(Vec<i64>, &'a str),
    /// `oom-kill:constraint=…,nodemask=…,cpuset=…,mems_allowed=…,[global_oom|oom_memcg=…],task_memcg=…,task=…,pid=…,uid=…`
    OomKill(OomKillLine<'a>),
    /// `[Memory cgroup ]Out of memory: Kill process N (comm) score S or sacrifice child`, or
    /// `Kill process N (comm) sharing same memory`.
    Selection {
        /// Selected pid.
        pid: u32,
        /// Its comm.
        comm: &'a str,
        /// Badness score.
        score: Option<i64>,
        /// True for `sharing same memory` (an extra kill of the same event).
        sharing: bool,
    },
    /// A `Killed process` line in any of its forms.
    Killed(KilledLine<'a>),
    /// `oom_reaper: reaped process N (comm), now anon-rss:…`.
    Reaped {
        /// Pid.
        pid: u32,
        /// comm.
        comm: &'a str,
        /// anon-rss after reaping.
        anon: Option<u64>,
        /// file-rss after reaping.
        file: Option<u64>,
        /// shmem-rss after reaping.
        shmem: Option<u64>,
    },
    /// `Tasks in <memcg> are going to be killed due to memory.oom.group set`.
    OomGroup(&'a str),
    /// `[<reason>: ]OOM victim <pid> (<comm>) is already exiting. Skip killing the task`:
    /// mm/oom_kill.c `__oom_kill_process()` (5.x+) when a victim has no mm left, printed
    /// between the kills of one `memory.oom.group` kill for a member that is on its way out.
    /// Part of the report it sits in; it kills nothing.
    ExitingVictim {
        /// The victim's pid.
        pid: u32,
    },
    /// `Out of memory and no killable processes...`.
    NoKillable,
    /// `Kernel panic - not syncing: <reason>` for an OOM (mm/oom_kill.c): `Out of memory and
    /// no killable processes...` (before 4.x's pr_warn), `System is deadlocked on memory`, or
    /// check_panic_on_oom's `Out of memory: system-wide|compulsory panic_on_oom is enabled`.
    Panic(OomPanic<'a>),
    /// A kill or selection line cut before its pid (`Memory cgroup out of memory: Kil`):
    /// only which OOM path printed it is known.
    OomReason {
        /// `Memory cgroup out of memory` (true) or the global `Out of memory:` (false).
        memcg: bool,
    },
    /// `SysRq : Manual OOM execution`.
    SysrqOom,
    /// A warning that dumps memory without being an OOM report: `<comm>: page allocation
    /// failure: order:N, mode:…` (mm/page_alloc.c warn_alloc) or `sysrq: Show Memory`.
    MemDumpWarning,
    /// An author's or pager's elision: `...`, `(...snipped...)`, an empty line.
    Elision,
    /// Anything else.
    Other,
}

/// What an OOM panic says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomPanic<'a> {
    /// The text after `Kernel panic - not syncing: `, without trailing dots or spaces.
    pub reason: &'a str,
    /// The kernel found nothing to kill (`no killable processes`, `deadlocked on memory`).
    pub no_killable: bool,
    /// Only the global path panics this way: `system-wide panic_on_oom` (printed only for
    /// CONSTRAINT_NONE), and the no-killable panics (never for memcg OOMs). `compulsory`
    /// (panic_on_oom=2) panics for memcg OOMs too, so it says nothing about the domain.
    pub global: bool,
}

/// The fields of an `oom-kill:` summary line (4.19+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OomKillLine<'a> {
    /// `constraint=`.
    pub constraint: Option<&'a str>,
    /// `nodemask=`.
    pub nodemask: Option<&'a str>,
    /// `cpuset=`.
    pub cpuset: Option<&'a str>,
    /// `mems_allowed=`.
    pub mems_allowed: Option<&'a str>,
    /// `global_oom` was printed.
    pub global_oom: bool,
    /// `oom_memcg=`.
    pub oom_memcg: Option<&'a str>,
    /// `task_memcg=`.
    pub task_memcg: Option<&'a str>,
    /// `task=`.
    pub task: Option<&'a str>,
    /// `pid=`.
    pub pid: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// When the line was cut short: the text after its last closed value, which was
    /// dropped (`,task_memcg=in`), without a pager's `>` marker.
    pub cut: Option<&'a str>,
}

/// The fields of a `Killed process` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KilledLine<'a> {
    /// The text before `Killed process` without its `: ` (`Out of memory`, ...).
    pub reason: Option<&'a str>,
    /// Pid.
    pub pid: u32,
    /// comm.
    pub comm: &'a str,
    /// `UID:`/`UID ` value.
    pub uid: Option<u32>,
    /// total-vm, KiB.
    pub total_vm: Option<u64>,
    /// anon-rss, KiB.
    pub anon: Option<u64>,
    /// file-rss, KiB.
    pub file: Option<u64>,
    /// shmem-rss, KiB.
    pub shmem: Option<u64>,
    /// pgtables, KiB.
    pub pgtables: Option<u64>,
    /// oom_score_adj.
    pub adj: Option<i32>,
}

/// Classify one kernel message. `in_stats` says a v2 `Memory cgroup stats` block is open,
/// `in_meminfo` that a `Mem-Info:` block is, so their bare `key value` lines are recognized.
///
/// One function per wording, tried in this order (the order matters: a kill line holds
/// words later recognizers also look for). A new kernel wording is its function here and
/// its line below; its test row goes in `tests/wordings.rs`.
pub fn classify(msg: &str, in_stats: bool, in_meminfo: bool) -> KernelLine<'_> {
    let t = msg.trim_start();
    let t = t.trim_end();
    if is_elision(t) {
        return KernelLine::Elision;
    }
    if let Some(k) = killed(t) {
        return KernelLine::Killed(k);
    }
    if let Some(l) = invoked_line(t) {
        return l;
    }
    if let Some(rest) = t.strip_prefix("oom-kill:") {
        return KernelLine::OomKill(oom_kill(rest));
    }
    if let Some(rest) = t.strip_prefix("oom_reaper: reaped process ") {
        if let Some(l) = reaped(rest) {
            return l;
        }
    }
    if let Some(l) = selection(t) {
        return l;
    }
    if let Some(l) = task_in(t) {
        return l;
    }
    if let Some(l) = stats_header(t) {
        return l;
    }
    if let Some(l) = counter(t) {
        return l;
    }
    if t.starts_with("Tasks state (memory values in pages)") {
        return KernelLine::TableHeader(None);
    }
    if t.starts_with('[') {
        if let Some(l) = table_line(t) {
            return l;
        }
    }
    if t == "Mem-Info:" {
        return KernelLine::MemInfoStart;
    }
    if let Some(l) = cpu_header(t) {
        return l;
    }
    if let Some(l) = oom_group(t) {
        return l;
    }
    if let Some(l) = exiting_victim(t) {
        return l;
    }
    if t.starts_with("Out of memory and no killable processes") {
        return KernelLine::NoKillable;
    }
    if let Some(p) = oom_panic(t) {
        return KernelLine::Panic(p);
    }
    if let Some(l) = oom_reason(t) {
        return l;
    }
    if let Some(l) = sysrq_or_memory_warning(t) {
        return l;
    }
    if let Some(l) = pages_or_swap(t) {
        return l;
    }
    if let Some((name, reliable)) = frame(t) {
        return KernelLine::Frame { name, reliable };
    }
    if let Some(l) = cpuset_line(t) {
        return l;
    }
    if in_meminfo && is_meminfo_counters(t) {
        return KernelLine::MemInfoCounters(t);
    }
    if in_stats {
        if let Some(l) = stat_pair(t) {
            return l;
        }
    }
    if is_body(t) {
        return KernelLine::Body;
    }
    KernelLine::Other
}

/// An author's or pager's elision; `--` is grep's separator between context groups: lines
/// were left out there.
fn is_elision(t: &str) -> bool {
    t.is_empty() || t == "..." || t == "…" || t.starts_with("(...") || t == "[...]" || t == "--"
}

/// `<comm> invoked oom-killer: …`, or the header cut after its words (a paste trimmed to
/// key lines, a line wrapped after the colon): the invoker is known, its allocation is not.
fn invoked_line(t: &str) -> Option<KernelLine<'_>> {
    if let Some(i) = t.find(" invoked oom-killer: ") {
        return Some(invoked(&t[..i], &t[i + " invoked oom-killer: ".len()..]));
    }
    let comm = t
        .strip_suffix(" invoked oom-killer:")
        .or_else(|| t.strip_suffix(" invoked oom-killer"))?;
    Some(invoked(comm, ""))
}

/// `Task in <task_memcg> killed as a result of limit of <oom_memcg>` (before 4.19).
fn task_in(t: &str) -> Option<KernelLine<'_>> {
    let rest = t.strip_prefix("Task in ")?;
    let (task, oom) = rest.split_once(" killed as a result of limit of ")?;
    Some(KernelLine::TaskIn {
        task_memcg: task,
        oom_memcg: oom,
    })
}

/// `Memory cgroup stats for /a/b: cache:…` (v1) or `…for /a/b:` (v2). A path may hold
/// ':'; the separator is the first `: ` or the final `:`.
fn stats_header(t: &str) -> Option<KernelLine<'_>> {
    let rest = t.strip_prefix("Memory cgroup stats for ")?;
    let (cg, inline) = match rest.find(": ") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest.strip_suffix(':').unwrap_or(rest), ""),
    };
    Some(KernelLine::StatsHeader { cgroup: cg, inline })
}

/// `Tasks in <cg> are going to be killed due to memory.oom.group set`.
fn oom_group(t: &str) -> Option<KernelLine<'_>> {
    let rest = t.strip_prefix("Tasks in ")?;
    let cg = rest.strip_suffix(" are going to be killed due to memory.oom.group set")?;
    Some(KernelLine::OomGroup(cg))
}

/// `[<reason>: ]OOM victim <pid> (<comm>) is already exiting. Skip killing the task`.
fn exiting_victim(t: &str) -> Option<KernelLine<'_>> {
    let t = t.strip_suffix(") is already exiting. Skip killing the task")?;
    let i = t.find("OOM victim ")?;
    let rest = &t[i + "OOM victim ".len()..];
    let (pid, _comm) = rest.split_once(" (")?;
    Some(KernelLine::ExitingVictim {
        pid: pid.parse().ok()?,
    })
}

/// SysRq-f's manual OOM, and the warnings that dump memory without an OOM (a page
/// allocation failure, SysRq-m).
fn sysrq_or_memory_warning(t: &str) -> Option<KernelLine<'_>> {
    if t.starts_with("SysRq : Manual OOM execution") || t.starts_with("sysrq: Manual OOM execution")
    {
        return Some(KernelLine::SysrqOom);
    }
    (t.contains(": page allocation failure: ")
        || t.starts_with("SysRq : Show Memory")
        || t.starts_with("sysrq: Show Memory"))
    .then_some(KernelLine::MemDumpWarning)
}

/// `key value`: a cgroup v2 memory.stat line (only meaningful inside a stats block).
fn stat_pair(t: &str) -> Option<KernelLine<'_>> {
    let (k, v) = t.split_once(' ')?;
    if !is_key(k) {
        return None;
    }
    Some(KernelLine::StatPair(k, v.trim().parse().ok()?))
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() < 48
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// The value after `key` up to the next `,` or space.
fn field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let i = s.find(key)? + key.len();
    let rest = &s[i..];
    let end = rest.find([',', ' ']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A size field `key123kB`.
fn kb(s: &str, key: &str) -> Option<u64> {
    field(s, key)?.strip_suffix("kB")?.parse().ok()
}

fn invoked<'a>(comm: &'a str, rest: &'a str) -> KernelLine<'a> {
    // gfp_mask=0x…(FLAGS) may contain ',' only inside its parentheses? No: flags are '|'-joined.
    let gfp_mask = field(rest, "gfp_mask=");
    let nodemask = field(rest, "nodemask=");
    let order = field(rest, "order=").and_then(num);
    let oom_score_adj = field(rest, "oom_score_adj=").and_then(num);
    let oom_adj = rest
        .find(" oom_adj=")
        .and_then(|i| field(&rest[i..], "oom_adj="))
        .and_then(num);
    KernelLine::Invoked {
        comm,
        gfp_mask,
        nodemask,
        order,
        oom_score_adj,
        oom_adj,
    }
}

fn cpuset_line(t: &str) -> Option<KernelLine<'_>> {
    let i = t.rfind(" cpuset=")?;
    let rest = &t[i + " cpuset=".len()..];
    let j = rest.rfind(" mems_allowed=")?;
    Some(KernelLine::CpusetLine {
        cpuset: &rest[..j],
        mems_allowed: &rest[j + " mems_allowed=".len()..],
    })
}

fn cpu_header(t: &str) -> Option<KernelLine<'_>> {
    let (pid, rest) = if t.starts_with("CPU: ") {
        let i = t.find(" PID: ")?;
        let rest = &t[i + 6..];
        let sp = rest.find(' ')?;
        let pid: u32 = num(&rest[..sp])?;
        (pid, rest[sp..].strip_prefix(" Comm: ")?)
    } else if let Some(rest) = t.strip_prefix("PID: ") {
        // A console that lost the `CPU: N ` before it (226, OpenWrt MIPS serial console).
        let (pid, rest) = rest.split_once(" Comm: ")?;
        (num(pid)?, rest)
    } else if let Some(rest) = t.strip_prefix("Pid: ") {
        // 2.6.32: `Pid: 14095, comm: mruby Not tainted 2.6.32-… #1`
        let (pid, rest) = rest.split_once(", comm: ")?;
        (num(pid)?, rest)
    } else {
        return None;
    };
    // The comm ends where the taint marker (or RHEL's `Kdump: loaded`) starts.
    let cut = [" Not tainted ", " Tainted: ", " Kdump: "]
        .iter()
        .filter_map(|m| rest.find(m))
        .min();
    let (comm, after) = match cut {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    // The release is the token before the build number (`#1`, `#72-Ubuntu`); taint flags
    // (`G        W I E`, `OX`, RHEL's `------------ T`) come before it.
    let toks: Vec<&str> = after.split_whitespace().collect();
    let version = match toks.iter().position(|t| t.starts_with('#')) {
        Some(i) if i > 0 => Some(toks[i - 1]),
        _ => toks
            .iter()
            .copied()
            .find(|t| t.contains('.') && t.starts_with(|c: char| c.is_ascii_digit())),
    }
    .filter(|v| v.contains('.'));
    Some(KernelLine::CpuHeader { pid, comm, version })
}

/// `func+0x1f/0x30 [module]`, `[<ffffffff8111ce40>] ? dump_header+0x90/0x1b0`,
/// `[c000000000fb7c30] [c000000000fb7c60] dump_stack+0xb0/0xf0 (unreliable)`: the name and
/// whether the unwinder vouched for it (x86 prints `? ` before a guessed frame,
/// arch/x86/kernel/dumpstack.c printk_stack_address; powerpc appends ` (unreliable)`).
fn frame(t: &str) -> Option<(&str, bool)> {
    let plus = match t.find("+0x") {
        Some(plus) if t[plus..].contains("/0x") => plus,
        _ => decoded_frame(t)?,
    };
    let head = &t[..plus];
    let name = head.rsplit([' ', ']']).next()?;
    if name.is_empty() {
        return None;
    }
    let guessed = head[..head.len() - name.len()].trim_end().ends_with('?')
        || t.trim_end().ends_with("(unreliable)");
    Some((name, !guessed))
}

/// A frame that `scripts/decode_stacktrace.sh` rewrote: the offset replaced by the source
/// position, `dump_header (mm/oom_kill.c:468 (discriminator 1))` (corpus 202, 208). Returns
/// where the name ends.
fn decoded_frame(t: &str) -> Option<usize> {
    let open = t.find(" (")?;
    let src = &t[open + 2..];
    let colon = src.find(':')?;
    let file = &src[..colon];
    let line_no = src[colon + 1..].split([' ', ')']).next()?;
    let source_file = [".c", ".h", ".S", ".rs"].iter().any(|x| file.ends_with(x))
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    let name = t[..open].rsplit(' ').next()?;
    let ident = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    (source_file && ident && line_no.bytes().all(|b| b.is_ascii_digit()) && !line_no.is_empty())
        .then_some(open)
}

fn is_body(t: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Call Trace:",
        "<TASK>",
        "</TASK>",
        "Hardware name:",
        "RIP:",
        "RSP:",
        "RAX:",
        "RDX:",
        "RBP:",
        "R10:",
        "R13:",
        "Code:",
        "Node ",
        "lowmem_reserve[]:",
        "Workqueue:",
        "Stack:",
        "NIP",
        "LR ",
        "active_anon:",
        "Free swap",
        "Total swap",
        "Mem-Info",
        "Call trace:",
        "Backtrace:",
        "Tainted:",
        "CPU:",
        "DMA",
        "Normal",
        "HighMem",
        "Movable",
        "Unreclaimable slab info:",
        "Name ",
        "Out of memory",
        "Memory cgroup",
        "swap_cache",
        "MSR:",
        "CFAR:",
        "GPR",
        "Exception stack",
        "REGS:",
        "---",
        "<IRQ>",
        "</IRQ>",
        "PGD",
        "pc :",
        "lr :",
        "sp :",
        "x2",
        "x1",
    ];
    if PREFIXES.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    // Raw stack words: `ffff88003b704e70 0000000026e95aa3 …`.
    let mut words = t.split_ascii_whitespace();
    let first = words.next().unwrap_or("");
    (first.len() == 8 || first.len() == 16) && first.bytes().all(|b| b.is_ascii_hexdigit())
        || t.ends_with(" pages in swap cache")
        || t.ends_with(" pages HighMem/MovableOnly")
        || t.ends_with(" pages cma reserved")
        || t.ends_with(" pages hwpoisoned")
        || t.contains(" hugepages_total=")
        || t.contains(" all_unreclaimable? ")
        || t.starts_with("Swap cache stats:")
        || t.starts_with("Free swap")
}

fn is_meminfo_counters(t: &str) -> bool {
    let mut any = false;
    for tok in t.split_ascii_whitespace() {
        let Some((k, v)) = tok.split_once(':') else {
            return false;
        };
        if !is_key(k) || !v.bytes().all(|b| b.is_ascii_digit()) || v.is_empty() {
            return false;
        }
        any = true;
    }
    any
}

fn pages_or_swap(t: &str) -> Option<KernelLine<'_>> {
    if let Some(rest) = t.strip_prefix("Free swap") {
        let v = rest
            .trim_start()
            .strip_prefix('=')?
            .trim()
            .strip_suffix("kB")?;
        return Some(KernelLine::Swap {
            which: "Free",
            kb: num(v)?,
        });
    }
    if let Some(rest) = t.strip_prefix("Total swap") {
        let v = rest
            .trim_start()
            .strip_prefix('=')?
            .trim()
            .strip_suffix("kB")?;
        return Some(KernelLine::Swap {
            which: "Total",
            kb: num(v)?,
        });
    }
    let (n, rest) = t.split_once(' ')?;
    let pages: u64 = n.parse().ok()?;
    let what = match rest {
        "pages RAM" => "RAM",
        "pages reserved" => "reserved",
        "total pagecache pages" => "pagecache",
        _ => return None,
    };
    Some(KernelLine::Pages { what, pages })
}

fn counter(t: &str) -> Option<KernelLine<'_>> {
    let (which, rest) = t.split_once(": usage ")?;
    if !matches!(which, "memory" | "memory+swap" | "kmem" | "swap") {
        return None;
    }
    let usage_kb = num(rest.split_once("kB")?.0)?;
    let limit_kb = num(field(rest, "limit ")?.strip_suffix("kB")?)?;
    let failcnt = field(rest, "failcnt ").and_then(num).unwrap_or(0);
    Some(KernelLine::Counter {
        which,
        usage_kb,
        limit_kb,
        failcnt,
    })
}

/// The task-table header or a row. Rows: `[  pid]` then numbers, then the name.
fn table_line(t: &str) -> Option<KernelLine<'_>> {
    let close = t.find(']')?;
    let inside = t[1..close].trim();
    if inside == "pid" {
        let cols: Vec<&str> = std::iter::once("pid")
            .chain(t[close + 1..].split_ascii_whitespace())
            .collect();
        return Some(KernelLine::TableHeader(Some(cols)));
    }
    let pid: i64 = inside.parse().ok()?;
    let mut nums = vec![pid];
    let mut rest = &t[close + 1..];
    // Numbers until the first token that is not one; everything after is the name.
    loop {
        let trimmed = rest.trim_start();
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let tok = &trimmed[..end];
        match tok.parse::<i64>() {
            Ok(n) if end < trimmed.len() => {
                nums.push(n);
                rest = &trimmed[end..];
            }
            _ => {
                rest = trimmed;
                break;
            }
        }
    }
    if nums.len() < 6 || rest.is_empty() {
        return None;
    }
    Some(KernelLine::TableRow(nums, rest))
}

/// The `oom-kill:` summary line. task= is a comm (may hold ',' or '='), so the tail
/// (`,task=…,pid=N,uid=N`) is read from the right, the rest by its known keys.
fn oom_kill(rest: &str) -> OomKillLine<'_> {
    let (mut head, cut) = uncut(rest);
    // Cut `,<key>=<value>` off the end of `head`, if it is there.
    let mut take = |key: &str| -> Option<&str> {
        let i = head.rfind(key)?;
        let v = &head[i + key.len()..];
        head = &head[..i];
        Some(v)
    };
    let uid = take(",uid=").and_then(num);
    let pid = take(",pid=").and_then(num);
    let task = take(",task=");
    let task_memcg = take(",task_memcg=");
    let oom_memcg = take(",oom_memcg=");
    let global_oom = take(",global_oom").is_some_and(str::is_empty);
    let mems_allowed = take(",mems_allowed=");
    let cpuset = take(",cpuset=");
    let nodemask = take(",nodemask=");
    OomKillLine {
        constraint: head.strip_prefix("constraint="),
        nodemask,
        cpuset,
        mems_allowed,
        global_oom,
        oom_memcg,
        task_memcg,
        task,
        pid,
        uid,
        cut,
    }
}

/// The keys of an `oom-kill:` line after `constraint=`, in order (mm/oom_kill.c
/// dump_oom_summary, mm/memcontrol.c mem_cgroup_print_oom_context).
pub(crate) const OOM_KILL_KEYS: &[&str] = &[
    ",nodemask=",
    ",cpuset=",
    ",mems_allowed=",
    ",oom_memcg=",
    ",task_memcg=",
    ",task=",
    ",pid=",
    ",uid=",
];

/// An `oom-kill:` line cut short (by a pager, whose `less` marks the cut with `>`, a
/// terminal's width, or text lost in a mail: corpus 210's `…,task_memcg=/system.slice/
/// firewalld.service,>`, 218's `…,task=alloc_anon,pid=10`) ends inside its last value:
/// that value is dropped, so no cut value is read as whole. A cgroup path closed by a
/// comma is whole (the next key began there); a comm may hold commas, so it is not.
fn uncut(rest: &str) -> (&str, Option<&str>) {
    if let Some((_, uid)) = rest.rsplit_once(",uid=") {
        if !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()) {
            return (rest, None);
        }
    }
    let r = rest.strip_suffix('>').unwrap_or(rest);
    let Some((i, key)) = OOM_KILL_KEYS
        .iter()
        .filter_map(|k| r.rfind(k).map(|i| (i, *k)))
        .max()
    else {
        return (r, None);
    };
    let value = &r[i + key.len()..];
    let is_path = matches!(key, ",cpuset=" | ",oom_memcg=" | ",task_memcg=");
    let end = match value.rfind(',') {
        Some(j) if is_path => i + key.len() + j,
        _ => i,
    };
    (&r[..end], Some(&r[end..]))
}

/// `… Kill process N (comm) score S or sacrifice child` / `Kill process N (comm) sharing same memory`.
fn selection(t: &str) -> Option<KernelLine<'_>> {
    let i = t.find("Kill process ")?;
    let rest = &t[i + "Kill process ".len()..];
    let (pid, rest) = rest.split_once(" (")?;
    let pid: u32 = num(pid)?;
    if let Some(j) = rest.rfind(") score ") {
        let score = rest[j + 8..].split(' ').next().and_then(num);
        return Some(KernelLine::Selection {
            pid,
            comm: &rest[..j],
            score,
            sharing: false,
        });
    }
    let j = rest.rfind(") sharing same memory")?;
    Some(KernelLine::Selection {
        pid,
        comm: &rest[..j],
        score: None,
        sharing: true,
    })
}

/// Every form of the `Killed process` line:
/// - `Killed process N (comm) total-vm:…kB, anon-rss:…kB, file-rss:…kB, shmem-rss:…kB, UID:u pgtables:…kB oom_score_adj:N` (5.x+)
/// - `Killed process N (comm) total-vm:…, anon-rss:…, file-rss:…[, shmem-rss:…]` (3.x–4.x)
/// - `Killed process N (comm), UID u, total-vm:…` (RHEL 7.8)
/// - `Killed process N, UID u, (comm) total-vm:…` (RHEL 6)
/// - `Killed process N (comm)` (2.6 mainline)
fn killed(t: &str) -> Option<KilledLine<'_>> {
    let i = t.find("Killed process ")?;
    let reason = t[..i].trim_end().strip_suffix(':').map(str::trim);
    let rest = &t[i + "Killed process ".len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let pid: u32 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    let mut k = KilledLine {
        reason,
        pid,
        ..KilledLine::default()
    };
    let tail;
    if let Some(r) = rest.strip_prefix(", UID ") {
        // RHEL 6: `, UID u, (comm) total-vm:…`
        let (uid, r) = r.split_once(", (")?;
        k.uid = num(uid);
        let j = r.rfind(") total-vm:").or_else(|| r.rfind(')'))?;
        k.comm = &r[..j];
        tail = &r[j + 1..];
    } else {
        let r = rest.strip_prefix(" (")?;
        let j = r
            .rfind(") total-vm:")
            .or_else(|| r.rfind("), UID "))
            .or_else(|| r.rfind(')'))?;
        k.comm = &r[..j];
        tail = &r[j + 1..];
        if let Some(u) = tail.strip_prefix(", UID ") {
            k.uid = u.split(',').next().and_then(num);
        }
    }
    k.total_vm = kb(tail, "total-vm:");
    k.anon = kb(tail, "anon-rss:");
    k.file = kb(tail, "file-rss:");
    k.shmem = kb(tail, "shmem-rss:");
    k.pgtables = kb(tail, "pgtables:");
    if k.uid.is_none() {
        k.uid = field(tail, "UID:").and_then(num);
    }
    k.adj = field(tail, "oom_score_adj:").and_then(num);
    Some(k)
}

/// `Kernel panic - not syncing: …` when the panic is the OOM killer's (mm/oom_kill.c:
/// out_of_memory and check_panic_on_oom); other panics are not OOM reports.
fn oom_panic(t: &str) -> Option<OomPanic<'_>> {
    let reason = t
        .strip_prefix("Kernel panic - not syncing: ")?
        .trim_end_matches(['.', ' ']);
    let no_killable = reason.starts_with("Out of memory and no killable processes")
        || reason.starts_with("System is deadlocked on memory");
    let (global, on_oom) = match reason.strip_prefix("Out of memory: ") {
        Some(r) if r.starts_with("system-wide panic_on_oom") => (true, true),
        Some(r) if r.starts_with("compulsory panic_on_oom") => (false, true),
        _ => (no_killable, false),
    };
    (no_killable || on_oom).then_some(OomPanic {
        reason,
        no_killable,
        global,
    })
}

/// A line that starts like a kill or selection line but was cut before its pid (a
/// terminal's width, a truncated paste): `Memory cgroup out of memory: Kil`. The kill and
/// selection recognizers ran first, so a whole line never gets here.
fn oom_reason(t: &str) -> Option<KernelLine<'_>> {
    if t.starts_with("Memory cgroup out of memory") {
        return Some(KernelLine::OomReason { memcg: true });
    }
    // Only a cut `Kill process …`/`Killed process …`: `Out of memory: <other>` is not known.
    let r = t.strip_prefix("Out of memory: ")?;
    (r.starts_with("Kill") || "Kill".starts_with(r))
        .then_some(KernelLine::OomReason { memcg: false })
}

fn reaped(rest: &str) -> Option<KernelLine<'_>> {
    let (pid, r) = rest.split_once(" (")?;
    let j = r.rfind("), now ")?;
    let tail = &r[j..];
    Some(KernelLine::Reaped {
        pid: num(pid)?,
        comm: &r[..j],
        anon: kb(tail, "anon-rss:"),
        file: kb(tail, "file-rss:"),
        shmem: kb(tail, "shmem-rss:"),
    })
}

/// The names of call-trace frames that tell which OOM path ran.
pub fn oom_path_frame(f: &str) -> bool {
    // Compiler clones keep their function's name before the dot (`.constprop.146`, `.cold`).
    let f = f.split('.').next().unwrap_or(f);
    matches!(
        f,
        "mem_cgroup_out_of_memory"
            | "mem_cgroup_oom_synchronize"
            | "mem_cgroup_handle_oom"
            | "try_charge"
            | "try_charge_memcg"
            | "mem_cgroup_oom"
            | "memcg_oom"
            | "obj_cgroup_charge"
            | "charge_memcg"
            | "pagefault_out_of_memory"
            | "__alloc_pages_may_oom"
            | "__alloc_pages_slowpath"
            | "out_of_memory"
            | "moom_callback"
    ) || f.starts_with("__mem_cgroup_try_charge")
        || f.starts_with("mem_cgroup_charge")
}

/// True for frames only the memcg OOM path has.
pub fn memcg_frame(f: &str) -> bool {
    f.starts_with("mem_cgroup_out_of_memory")
        || f.starts_with("mem_cgroup_oom")
        || f.starts_with("mem_cgroup_handle_oom")
        || f == "try_charge"
        || f == "try_charge_memcg"
        || f.starts_with("__mem_cgroup_try_charge")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killed_forms() {
        let KernelLine::Killed(k) = classify("Out of memory: Killed process 116 (stress-ng-vm) total-vm:10515768kB, anon-rss:7980628kB, file-rss:564kB, shmem-rss:0kB, UID:0 pgtables:15676kB oom_score_adj:1000", false, false) else { panic!() };
        assert_eq!(
            (k.pid, k.comm, k.anon, k.file, k.shmem, k.uid, k.pgtables, k.adj),
            (
                116,
                "stress-ng-vm",
                Some(7980628),
                Some(564),
                Some(0),
                Some(0),
                Some(15676),
                Some(1000)
            )
        );
        assert_eq!(k.reason, Some("Out of memory"));
        let KernelLine::Killed(k) = classify("Killed process 14095, UID 0, (mruby) total-vm:14476kB, anon-rss:1408kB, file-rss:1300kB", false, false) else { panic!() };
        assert_eq!(
            (k.pid, k.comm, k.uid, k.anon, k.shmem),
            (14095, "mruby", Some(0), Some(1408), None)
        );
        let KernelLine::Killed(k) = classify(
            "Killed process 9 (a (b) c) total-vm:1kB, anon-rss:2kB, file-rss:3kB",
            false,
            false,
        ) else {
            panic!()
        };
        assert_eq!(k.comm, "a (b) c");
        let KernelLine::Killed(k) = classify("Killed process 5 (java), UID 1000, total-vm:1kB, anon-rss:2kB, file-rss:3kB, shmem-rss:0kB", false, false) else { panic!() };
        assert_eq!((k.comm, k.uid), ("java", Some(1000)));
    }

    #[test]
    fn oom_kill_line_with_odd_comm() {
        let KernelLine::OomKill(l) = classify("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/t,task_memcg=/t/u,task=a,b=c,pid=84,uid=0", false, false) else { panic!() };
        assert_eq!(l.task, Some("a,b=c"));
        assert_eq!(
            (l.pid, l.uid, l.oom_memcg, l.task_memcg),
            (Some(84), Some(0), Some("/t"), Some("/t/u"))
        );
        assert_eq!(l.constraint, Some("CONSTRAINT_MEMCG"));
        let KernelLine::OomKill(l) = classify("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=x,pid=1,uid=0", false, false) else { panic!() };
        assert!(l.global_oom);
        assert_eq!(l.mems_allowed, Some("0"));
    }

    #[test]
    fn frames_decoded_to_source_lines() {
        // 202 (6.17-rc3 i386, decode_stacktrace.sh output).
        assert_eq!(
            classify(
                "dump_header (mm/oom_kill.c:468 (discriminator 1))",
                false,
                false
            ),
            KernelLine::Frame {
                name: "dump_header",
                reliable: true
            }
        );
        assert_eq!(
            classify(
                "? handle_pte_fault (include/linux/spinlock.h:391 mm/memory.c:6092)",
                false,
                false
            ),
            KernelLine::Frame {
                name: "handle_pte_fault",
                reliable: false
            }
        );
        assert_eq!(
            classify("oom_kill_process.cold (mm/oom_kill.c:450 (discriminator 1) mm/oom_kill.c:1041 (discriminator 1))", false, false),
            KernelLine::Frame { name: "oom_kill_process.cold", reliable: true }
        );
        // Text with a parenthesis that is no source position stays text.
        assert_ne!(
            classify(
                "Disabling lock debugging due to kernel taint (see above)",
                false,
                false
            ),
            KernelLine::Frame {
                name: "taint",
                reliable: true
            }
        );
    }

    #[test]
    fn a_cut_oom_kill_line_drops_its_cut_value() {
        // Corpus 210: chopped by less (`>`) after the task_memcg path and its comma.
        let KernelLine::OomKill(l) = classify("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/firewalld.service,>", false, false) else { panic!() };
        assert_eq!(l.task_memcg, Some("/system.slice/firewalld.service"));
        assert!(l.global_oom);
        assert_eq!((l.task, l.pid, l.uid, l.cut), (None, None, None, Some(",")));
        // Corpus 218: cut inside the pid (`pid=10` of 116849): no pid, the comm is whole.
        let KernelLine::OomKill(l) = classify("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0-1,oom_memcg=/a,task_memcg=/a,task=alloc_anon,pid=10", false, false) else { panic!() };
        assert_eq!(
            (l.task, l.pid, l.cut),
            (Some("alloc_anon"), None, Some(",pid=10"))
        );
        assert_eq!((l.oom_memcg, l.task_memcg), (Some("/a"), Some("/a")));
        // Corpus 209: cut after `task_memcg=in` (its rest came after a KASAN report): the
        // value waits for that rest (assemble.rs); alone it is not known to be whole.
        let KernelLine::OomKill(l) = classify("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=c,mems_allowed=0,oom_memcg=/0,task_memcg=in", false, false) else { panic!() };
        assert_eq!(
            (l.oom_memcg, l.task_memcg, l.cut),
            (Some("/0"), None, Some(",task_memcg=in"))
        );
        assert_eq!(l.cpuset, Some("c"));
        // Synthetic: a comm may hold commas, so one cut inside it is dropped whole.
        let KernelLine::OomKill(l) = classify(
            "oom-kill:constraint=CONSTRAINT_NONE,task_memcg=/,task=a,b",
            false,
            false,
        ) else {
            panic!()
        };
        assert_eq!((l.task_memcg, l.task), (Some("/"), None));
    }

    #[test]
    fn cpu_header_without_its_cpu_number() {
        // 226 (OpenWrt 24.10, MIPS 24KEc serial console): ` PID: 1 Comm: init Not tainted 6.6.73 #0`.
        assert_eq!(
            classify(" PID: 1 Comm: init Not tainted 6.6.73 #0", false, false),
            KernelLine::CpuHeader {
                pid: 1,
                comm: "init",
                version: Some("6.6.73")
            }
        );
    }

    #[test]
    fn header_cut_after_its_words_keeps_the_invoker() {
        // 205 (Gang Li, '[PATCH v3] mm: oom: introduce cpuset oom', linux-mm 2023-04-10).
        assert_eq!(
            classify("mem_on_node0 invoked oom-killer", false, false),
            KernelLine::Invoked {
                comm: "mem_on_node0",
                gfp_mask: None,
                nodemask: None,
                order: None,
                oom_score_adj: None,
                oom_adj: None,
            }
        );
    }

    #[test]
    fn headers() {
        assert_eq!(
            classify("CPU 11/KVM invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=830", false, false),
            KernelLine::Invoked { comm: "CPU 11/KVM", gfp_mask: Some("0xcc0(GFP_KERNEL)"), nodemask: None, order: Some(0), oom_score_adj: Some(830), oom_adj: None }
        );
        assert_eq!(
            classify("CPU: 8 PID: 8291 Comm: runc:[2:INIT] Tainted: G        W I E     5.8.2-0.g71b519a-default #1 openSUSE", false, false),
            KernelLine::CpuHeader { pid: 8291, comm: "runc:[2:INIT]", version: Some("5.8.2-0.g71b519a-default") }
        );
        assert_eq!(
            classify(
                "Pid: 14095, comm: mruby Not tainted 2.6.32-358.23.2.el6.x86_64 #1",
                false,
                false
            ),
            KernelLine::CpuHeader {
                pid: 14095,
                comm: "mruby",
                version: Some("2.6.32-358.23.2.el6.x86_64")
            }
        );
        assert!(matches!(
            classify(
                "[c0000000000ef0f8] [c0000000000ef0f8] dump_stack+0xb0/0xf0 (unreliable)",
                false,
                false
            ),
            KernelLine::Frame {
                name: "dump_stack",
                reliable: false
            }
        ));
        assert!(matches!(
            classify(" ? try_charge_memcg+0x1b2/0x7a0", false, false),
            KernelLine::Frame {
                name: "try_charge_memcg",
                reliable: false
            }
        ));
        assert!(matches!(
            classify(
                "[<ffffffff8111ce40>] ? dump_header+0x90/0x1b0",
                false,
                false
            ),
            KernelLine::Frame {
                name: "dump_header",
                reliable: false
            }
        ));
        assert!(matches!(
            classify(" out_of_memory+0x1fd/0x4c0", false, false),
            KernelLine::Frame {
                name: "out_of_memory",
                reliable: true
            }
        ));
        assert!(matches!(
            classify(
                "[<ffffffff81126b15>] mem_cgroup_oom_synchronize+0x575/0x5a0",
                false,
                false
            ),
            KernelLine::Frame {
                name: "mem_cgroup_oom_synchronize",
                reliable: true
            }
        ));
        assert!(
            matches!(classify("[15192]     0 15192  1679458  1648518    3283      11        0           179 prometheus", false, false), KernelLine::TableRow(ref n, "prometheus") if n.len() == 9)
        );
    }
}
