//! Per-process and machine-wide memory facts from a procfs tree, as the OOM killer sees them.
//!
//! Everything is read below a root (`/` on the live host, a fake tree in tests): [`ProcFs::new`]
//! takes it, nothing else here names an absolute path. Reading and parsing are apart: each file
//! has a `parse_*` function over its text (tested on fixtures), and [`PidDir`] only fetches
//! bytes. Sizes come out in bytes exactly as the kernel printed them (kB × 1024); converting to
//! pages is the caller's business, with a page size it passes in as a value
//! ([`host_page_size`] is for the binary's edge, never called by a parser).
//!
//! ## Vanishing processes
//!
//! A process can exit between listing `/proc` and reading its files. [`PidDir`] holds an
//! open handle on `/proc/PID` and reads each file relative to it (`openat`), so a pid reused
//! by a new process cannot answer for the one that was listed: a dead process's directory
//! answers `ENOENT` or `ESRCH`. Those two errors mean "vanished" and come back as `Ok(None)`
//! ([`is_vanished`] is the one place deciding it); every other error is an error naming the
//! file. [`ProcFs::processes`] skips vanished pids and counts them.
//!
//! ## Files and the kernel's units
//!
//! | file | what is used | unit |
//! |---|---|---|
//! | `status` | `Name`, `State`, `Tgid`, `PPid`, `Uid`, `NSpid`, `Threads`, `Kthread` (6.x), `VmRSS`, `RssAnon`, `RssFile`, `RssShmem` (4.5+), `VmSwap`, `VmPTE` | kB |
//! | `stat` | `comm`, `state`, `ppid`, `flags` (`PF_KTHREAD` where `Kthread:` is missing), `starttime` | clock ticks since boot |
//! | `oom_score` | what `ps -o oom_score` shows: scaled against RAM + swap (fs/proc/base.c `proc_oom_score`) | 0..=2000 (5.9+), 0..=1000 before |
//! | `oom_score_adj` | | -1000..=1000 |
//! | `cgroup` | `ID:controllers:path` lines: the v1 `memory` line and the v2 `0::` line | |
//! | `comm` | the task name (raw bytes, at most 15) | |
//! | `meminfo` | `MemTotal`, `MemAvailable` (3.14+), `SwapTotal`, `SwapFree` | kB |
//! | `sys/kernel/osrelease`, `sys/vm/*` | release; `swappiness`, `panic_on_oom`, `oom_kill_allocating_task` | |
//!
//! Why not the `procfs` crate: its `*_with_root` readers and `FromRead` parsers fit this
//! shape, but its `Status` is read per path (`/proc/PID/status` opened anew) rather than
//! through a held directory handle, it knows nothing of cgroup v1/v2 control files (which
//! `cgroupfs` reads the same way as this module), and it would bring a dependency tree
//! (rustix, bitflags, chrono, …) for six small line formats.

use std::fs::File;
use std::path::{Path, PathBuf};

use oomlens_model::Pressure;

pub use crate::files::is_vanished;
use crate::files::{format_err, io_err, open_dir, read_at, read_optional};
use crate::formats::parse_pressure;
use crate::SourceError;

/// The default root of the live host.
pub const DEFAULT_ROOT: &str = "/";

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags (include/linux/sched.h).
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// The live host's page size (`sysconf(_SC_PAGESIZE)`), for the binary's edge: parsers and
/// the analysis take the page size as a value.
pub fn host_page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// A procfs tree below a root.
#[derive(Debug, Clone)]
pub struct ProcFs {
    /// `<root>/proc`.
    proc_dir: PathBuf,
}

/// Every readable process of a [`ProcFs::processes`] walk.
#[derive(Debug, Clone, Default)]
pub struct Processes {
    /// The processes, in ascending pid order.
    pub list: Vec<Process>,
    /// Pids listed but gone before all their files were read.
    pub vanished: usize,
}

/// What one process's files say, read through one directory handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The pid (a directory name in `/proc`: the thread-group id).
    pub pid: u32,
    /// `comm` (raw bytes, lossily decoded; may hold any byte but NUL and `/`).
    pub comm: String,
    /// `status`.
    pub status: Status,
    /// `stat`.
    pub stat: Stat,
    /// `oom_score`.
    pub oom_score: u64,
    /// `oom_score_adj`.
    pub oom_score_adj: i32,
    /// `cgroup`.
    pub cgroups: Vec<CgroupLine>,
}

impl Process {
    /// A kernel thread: `Kthread: 1` in status (6.x), else `PF_KTHREAD` in stat's flags.
    pub fn is_kernel_thread(&self) -> bool {
        self.status
            .kthread
            .unwrap_or(self.stat.flags & PF_KTHREAD != 0)
    }

    /// Resident bytes the OOM killer counts: anon + file + shmem (`get_mm_rss`). Falls back to
    /// `VmRSS` on kernels before 4.5 (no `Rss*` split); 0 without an mm.
    pub fn rss_bytes(&self) -> u64 {
        let s = &self.status;
        match (s.rss_anon, s.rss_file, s.rss_shmem) {
            (Some(a), Some(f), Some(sh)) => a + f + sh,
            _ => s.vm_rss.unwrap_or(0),
        }
    }

    /// True when the process has no address space left (a zombie, or a kernel thread): status
    /// prints no `VmRSS` then, and the OOM killer skips it (`find_lock_task_mm` finds no mm).
    pub fn has_mm(&self) -> bool {
        self.status.vm_rss.is_some()
    }
}

impl ProcFs {
    /// The procfs tree at `<root>/proc`.
    pub fn new(root: &Path) -> ProcFs {
        ProcFs {
            proc_dir: root.join("proc"),
        }
    }

    /// `<root>/proc`.
    pub fn dir(&self) -> &Path {
        &self.proc_dir
    }

    /// The pids listed in `/proc` (numeric entries), ascending.
    pub fn pids(&self) -> Result<Vec<u32>, SourceError> {
        let entries = std::fs::read_dir(&self.proc_dir).map_err(|e| io_err(&self.proc_dir, e))?;
        let mut pids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&self.proc_dir, e))?;
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        Ok(pids)
    }

    /// Opens `/proc/PID`; `Ok(None)` when there is no such process.
    pub fn open(&self, pid: u32) -> Result<Option<PidDir>, SourceError> {
        let path = self.proc_dir.join(pid.to_string());
        Ok(open_dir(&path)?.map(|dir| PidDir { pid, dir, path }))
    }

    /// True when `/proc/PID/exe` is missing (`ENOENT`): the process has no address space
    /// (a kernel thread, a zombie; `proc_exe_link` finds no `mm->exe_file`, fs/proc/base.c)
    /// or is gone. Either way a `status` read would show no memory; this costs one
    /// `readlink` instead of an open, two reads and a close of a file the kernel formats
    /// field by field (2.3 against 10.4 µs a pid here, a kernel thread's `status`). False
    /// when the link is there, and when it cannot be read (`EACCES` without
    /// `CAP_SYS_PTRACE`): the caller then reads `status`.
    pub fn lacks_mm(&self, pid: u32) -> bool {
        let mut path = self.proc_dir.join(pid.to_string());
        path.push("exe");
        matches!(std::fs::read_link(&path), Err(e) if e.raw_os_error() == Some(libc::ENOENT))
    }

    /// `/proc/PID/status` alone, opened by its full path: one open instead of the
    /// directory's and the file's (a single read cannot mix two processes). `Ok(None)` when
    /// the process vanished.
    pub fn status_of(&self, pid: u32) -> Result<Option<Status>, SourceError> {
        let mut path = self.proc_dir.join(pid.to_string());
        path.push("status");
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        // UTF-8 checked the fast way first (a comm is almost always valid): the guard's
        // sampler reads many of these (callgrind: the lossy path was 15 % of its pass).
        match std::str::from_utf8(&bytes) {
            Ok(text) => parse_status(text),
            Err(_) => parse_status(&String::from_utf8_lossy(&bytes)),
        }
        .map(Some)
        .map_err(|p| format_err(&path, p))
    }

    /// Reads one process's files; `Ok(None)` when it vanished meanwhile.
    pub fn process(&self, pid: u32) -> Result<Option<Process>, SourceError> {
        let Some(d) = self.open(pid)? else {
            return Ok(None);
        };
        d.process()
    }

    /// Reads every process; vanished ones are skipped and counted.
    pub fn processes(&self) -> Result<Processes, SourceError> {
        let mut out = Processes::default();
        for pid in self.pids()? {
            match self.process(pid)? {
                Some(p) => out.list.push(p),
                None => out.vanished += 1,
            }
        }
        Ok(out)
    }

    fn read(&self, rel: &str) -> Result<Option<String>, SourceError> {
        let path = self.proc_dir.join(rel);
        Ok(read_optional(&path)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn read_required(&self, rel: &str) -> Result<(PathBuf, String), SourceError> {
        let path = self.proc_dir.join(rel);
        let text = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        Ok((path, String::from_utf8_lossy(&text).into_owned()))
    }

    /// `meminfo`.
    pub fn meminfo(&self) -> Result<Meminfo, SourceError> {
        let (path, text) = self.read_required("meminfo")?;
        parse_meminfo(&text).map_err(|p| format_err(&path, p))
    }

    /// Boot time in microseconds since the epoch: `btime` (seconds) in `stat`. The log
    /// parser turns kernel monotonic stamps into wall-clock times with it.
    pub fn boot_time_us(&self) -> Result<i64, SourceError> {
        let (path, text) = self.read_required("stat")?;
        let btime = text
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .ok_or_else(|| format_err(&path, "no btime line".to_string()))?;
        let secs: i64 = btime
            .trim()
            .parse()
            .map_err(|_| format_err(&path, format!("btime {btime:?} is not a number")))?;
        Ok(secs * 1_000_000)
    }

    /// `sys/kernel/osrelease` (`6.18.44-fc-v669`); `None` when the tree has none.
    pub fn kernel_release(&self) -> Result<Option<String>, SourceError> {
        Ok(self
            .read("sys/kernel/osrelease")?
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()))
    }

    /// An integer sysctl under `sys/` (`vm/swappiness`); `None` when absent.
    pub fn sysctl_int(&self, name: &str) -> Result<Option<i64>, SourceError> {
        let rel = format!("sys/{name}");
        let Some(text) = self.read(&rel)? else {
            return Ok(None);
        };
        let path = self.proc_dir.join(&rel);
        parse_single_i64(&text)
            .map(Some)
            .map_err(|p| format_err(&path, p))
    }

    /// `pressure/memory` (PSI, 4.20+ with `CONFIG_PSI`); `None` when absent.
    pub fn pressure_memory(&self) -> Result<Option<Pressure>, SourceError> {
        let Some(text) = self.read("pressure/memory")? else {
            return Ok(None);
        };
        let path = self.proc_dir.join("pressure/memory");
        parse_pressure(&text)
            .map(Some)
            .map_err(|p| format_err(&path, p))
    }

    /// The number of online CPUs: `cpuN` lines of `stat`; `None` when absent.
    pub fn online_cpus(&self) -> Result<Option<u32>, SourceError> {
        Ok(self.read("stat")?.map(|t| parse_stat_cpus(&t)))
    }
}

/// An open `/proc/PID` directory. Every read goes through its handle.
#[derive(Debug)]
pub struct PidDir {
    pid: u32,
    dir: File,
    path: PathBuf,
}

impl PidDir {
    /// The pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The raw bytes of one file; `Ok(None)` when the process vanished.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match read_at(&self.dir, name) {
            Ok(b) => Ok(Some(b)),
            Err(e) if is_vanished(&e) => Ok(None),
            Err(e) => Err(io_err(&self.path.join(name), e)),
        }
    }

    fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SourceError> {
        let Some(bytes) = self.read(name)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        parse(&text)
            .map(Some)
            .map_err(|p| format_err(&self.path.join(name), p))
    }

    /// `status`.
    pub fn status(&self) -> Result<Option<Status>, SourceError> {
        self.parsed("status", parse_status)
    }

    /// `stat`.
    pub fn stat(&self) -> Result<Option<Stat>, SourceError> {
        self.parsed("stat", parse_stat)
    }

    /// `oom_score`.
    pub fn oom_score(&self) -> Result<Option<u64>, SourceError> {
        self.parsed("oom_score", |t| {
            parse_single_i64(t).and_then(|v| u64::try_from(v).map_err(|_| format!("{v} < 0")))
        })
    }

    /// `oom_score_adj`.
    pub fn oom_score_adj(&self) -> Result<Option<i32>, SourceError> {
        self.parsed("oom_score_adj", parse_oom_score_adj)
    }

    /// `cgroup`.
    pub fn cgroups(&self) -> Result<Option<Vec<CgroupLine>>, SourceError> {
        self.parsed("cgroup", parse_cgroup)
    }

    /// `comm`, lossily decoded, without its newline.
    pub fn comm(&self) -> Result<Option<String>, SourceError> {
        Ok(self.read("comm")?.map(|b| parse_comm(&b)))
    }

    /// `cmdline`, NUL-separated arguments joined with spaces (empty for kernel threads).
    pub fn cmdline(&self) -> Result<Option<String>, SourceError> {
        Ok(self.read("cmdline")?.map(|b| {
            let b = b.strip_suffix(&[0]).unwrap_or(&b);
            String::from_utf8_lossy(b).replace('\0', " ")
        }))
    }

    /// All of the above; `Ok(None)` as soon as one file says the process vanished.
    pub fn process(&self) -> Result<Option<Process>, SourceError> {
        let Some(status) = self.status()? else {
            return Ok(None);
        };
        let Some(stat) = self.stat()? else {
            return Ok(None);
        };
        let Some(oom_score) = self.oom_score()? else {
            return Ok(None);
        };
        let Some(oom_score_adj) = self.oom_score_adj()? else {
            return Ok(None);
        };
        let Some(cgroups) = self.cgroups()? else {
            return Ok(None);
        };
        let Some(comm) = self.comm()? else {
            return Ok(None);
        };
        Ok(Some(Process {
            pid: self.pid,
            comm,
            status,
            stat,
            oom_score,
            oom_score_adj,
            cgroups,
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Parsers, one per kernel file format

/// `/proc/PID/status` (fs/proc/array.c `proc_pid_status`, fs/proc/task_mmu.c `task_mem`).
/// Memory fields are absent for tasks without an mm (kernel threads, zombies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `Name:` as printed (the kernel escapes `\n` and `\\`); prefer `comm`.
    pub name: String,
    /// The first letter of `State:` (`R`, `S`, `D`, `Z`, …).
    pub state: Option<char>,
    /// `Tgid:`.
    pub tgid: u32,
    /// `PPid:`.
    pub ppid: u32,
    /// `Uid:` real, effective, saved, filesystem.
    pub uid: [u32; 4],
    /// `NSpid:`: the pid in each pid namespace from the one of this procfs down to the task's own.
    pub ns_pid: Vec<u32>,
    /// `Threads:`.
    pub threads: Option<u32>,
    /// `Kthread:` (6.x); `None` on kernels that do not print it.
    pub kthread: Option<bool>,
    /// `VmRSS:` bytes.
    pub vm_rss: Option<u64>,
    /// `RssAnon:` bytes (4.5+).
    pub rss_anon: Option<u64>,
    /// `RssFile:` bytes.
    pub rss_file: Option<u64>,
    /// `RssShmem:` bytes.
    pub rss_shmem: Option<u64>,
    /// `VmSwap:` bytes (swap entries × page size).
    pub vm_swap: Option<u64>,
    /// `VmPTE:` bytes (page tables, `mm_pgtables_bytes`).
    pub vm_pte: Option<u64>,
}

fn kb(v: &str) -> Result<u64, String> {
    let n = v.trim().strip_suffix("kB").unwrap_or(v).trim();
    n.parse::<u64>()
        .map(|k| k * 1024)
        .map_err(|_| format!("{v:?} is not a kB count"))
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{key}: {:?} is not a number", v.trim()))
}

/// Parses `/proc/PID/status`. `Tgid`, `PPid` and `Uid` are required.
pub fn parse_status(text: &str) -> Result<Status, String> {
    let mut s = Status::default();
    let (mut tgid, mut ppid, mut uid) = (None, None, None);
    for line in text.lines() {
        let Some((key, v)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Name" => s.name = v.trim_start_matches([' ', '\t']).to_string(),
            "State" => s.state = v.trim().chars().next(),
            "Tgid" => tgid = Some(num(key, v)?),
            "PPid" => ppid = Some(num(key, v)?),
            "Uid" => {
                let ids: Vec<u32> = v
                    .split_whitespace()
                    .map(|x| num(key, x))
                    .collect::<Result<_, _>>()?;
                let ids: [u32; 4] = ids
                    .try_into()
                    .map_err(|ids: Vec<u32>| format!("Uid: {} values, not 4", ids.len()))?;
                uid = Some(ids);
            }
            "NSpid" => {
                s.ns_pid = v
                    .split_whitespace()
                    .map(|x| num(key, x))
                    .collect::<Result<_, _>>()?
            }
            "Threads" => {
                s.threads = Some(num(key, v)?);
                // The last line read here: fs/proc/array.c prints the signal, capability,
                // seccomp, cpuset and context-switch lines (half the file) after it.
                break;
            }
            "Kthread" => s.kthread = Some(num::<u8>(key, v)? != 0),
            "VmRSS" => s.vm_rss = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            "RssAnon" => s.rss_anon = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            "RssFile" => s.rss_file = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            "RssShmem" => s.rss_shmem = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            "VmSwap" => s.vm_swap = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            "VmPTE" => s.vm_pte = Some(kb(v).map_err(|e| format!("{key}: {e}"))?),
            _ => {}
        }
    }
    s.tgid = tgid.ok_or("no Tgid line")?;
    s.ppid = ppid.ok_or("no PPid line")?;
    s.uid = uid.ok_or("no Uid line")?;
    Ok(s)
}

/// `/proc/PID/stat` fields used here (fs/proc/array.c `do_task_stat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// Field 1.
    pub pid: u32,
    /// Field 2, between the first `(` and the last `)`.
    pub comm: String,
    /// Field 3.
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 9: `task->flags` (`PF_*`).
    pub flags: u64,
    /// Field 20.
    pub num_threads: u64,
    /// Field 22: start time in clock ticks after boot. Processes are created (and put on the
    /// kernel's task list) in this order.
    pub starttime: u64,
}

/// Parses `/proc/PID/stat`. The comm may hold spaces and parentheses: it ends at the last `)`.
pub fn parse_stat(text: &str) -> Result<Stat, String> {
    let text = text.trim_end_matches('\n');
    let open = text.find(" (").ok_or("no ` (` before comm")?;
    let close = text.rfind(')').ok_or("no `)` after comm")?;
    if close < open {
        return Err("`)` before `(`".into());
    }
    let pid = num("pid", &text[..open])?;
    let comm = text[open + 2..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let field = |n: usize| -> Result<&str, String> {
        rest.get(n - 3)
            .copied()
            .ok_or_else(|| format!("only {} fields", rest.len() + 2))
    };
    Ok(Stat {
        pid,
        comm,
        state: field(3)?.chars().next().unwrap_or('?'),
        ppid: num("ppid", field(4)?)?,
        flags: num("flags", field(9)?)?,
        num_threads: num("num_threads", field(20)?)?,
        starttime: num("starttime", field(22)?)?,
    })
}

/// Parses one signed integer (`oom_score`, sysctls).
pub fn parse_single_i64(text: &str) -> Result<i64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{:?} is not a number", text.trim()))
}

/// Parses `oom_score_adj`: an integer in -1000..=1000.
pub fn parse_oom_score_adj(text: &str) -> Result<i32, String> {
    let v = parse_single_i64(text)?;
    if !(-1000..=1000).contains(&v) {
        return Err(format!("{v} is outside -1000..=1000"));
    }
    Ok(v as i32)
}

/// `comm` bytes without the trailing newline, lossily decoded.
pub fn parse_comm(bytes: &[u8]) -> String {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    String::from_utf8_lossy(b).into_owned()
}

/// One line of `/proc/PID/cgroup` (kernel/cgroup/cgroup.c `proc_cgroup_show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    /// The hierarchy id; 0 for cgroup2.
    pub hierarchy: u32,
    /// The controllers (`memory`, `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
    /// The path, relative to the root of the hierarchy as seen from the reader's cgroup
    /// namespace, without a ` (deleted)` suffix.
    pub path: String,
    /// The cgroup was removed (cgroup2 prints ` (deleted)`).
    pub deleted: bool,
}

/// Parses `/proc/PID/cgroup`.
pub fn parse_cgroup(text: &str) -> Result<Vec<CgroupLine>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{line:?} is not ID:CONTROLLERS:PATH"));
        };
        let (path, deleted) = match path.strip_suffix(" (deleted)") {
            Some(p) => (p, true),
            None => (path, false),
        };
        out.push(CgroupLine {
            hierarchy: num("hierarchy id", id)?,
            controllers: ctrl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            path: path.to_string(),
            deleted,
        });
    }
    Ok(out)
}

/// The v1 `memory` line's path, if any.
pub fn memory_v1_path(lines: &[CgroupLine]) -> Option<&str> {
    lines
        .iter()
        .find(|l| l.hierarchy != 0 && l.controllers.iter().any(|c| c == "memory"))
        .map(|l| l.path.as_str())
}

/// The cgroup2 `0::` line's path, if any.
pub fn unified_path(lines: &[CgroupLine]) -> Option<&str> {
    lines
        .iter()
        .find(|l| l.hierarchy == 0 && l.controllers.is_empty())
        .map(|l| l.path.as_str())
}

/// `/proc/meminfo` values used for the machine's OOM domain, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meminfo {
    /// `MemTotal` (`totalram_pages()`).
    pub mem_total: u64,
    /// `MemAvailable` (3.14+).
    pub mem_available: Option<u64>,
    /// `MemFree`.
    pub mem_free: u64,
    /// `SwapTotal` (`total_swap_pages`).
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// Parses `/proc/meminfo`; `MemTotal`, `MemFree`, `SwapTotal` and `SwapFree` are required.
pub fn parse_meminfo(text: &str) -> Result<Meminfo, String> {
    let mut m = Meminfo::default();
    let mut seen = [false; 4];
    for line in text.lines() {
        let Some((key, v)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => Some((0, &mut m.mem_total)),
            "MemFree" => Some((1, &mut m.mem_free)),
            "SwapTotal" => Some((2, &mut m.swap_total)),
            "SwapFree" => Some((3, &mut m.swap_free)),
            "MemAvailable" => {
                m.mem_available = Some(kb(v).map_err(|e| format!("{key}: {e}"))?);
                None
            }
            _ => None,
        };
        if let Some((i, field)) = slot {
            *field = kb(v).map_err(|e| format!("{key}: {e}"))?;
            seen[i] = true;
        }
        // SwapFree is the last line read here (fs/proc/meminfo.c prints MemTotal,
        // MemFree, MemAvailable, then the swap lines); the other ~40 lines are not.
        if seen == [true; 4] && m.mem_available.is_some() {
            break;
        }
    }
    for (i, name) in ["MemTotal", "MemFree", "SwapTotal", "SwapFree"]
        .iter()
        .enumerate()
    {
        if !seen[i] {
            return Err(format!("no {name} line"));
        }
    }
    Ok(m)
}

/// The number of `cpuN` lines in `/proc/stat`.
pub fn parse_stat_cpus(text: &str) -> u32 {
    text.lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .and_then(|r| r.split(' ').next())
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_testkit::faketree::FakeTree;

    const STATUS: &str = "Name:\toomlens-hog\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
Ngid:\t0\nPid:\t4242\nPPid:\t4200\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\n\
Gid:\t1000\t1000\t1000\t1000\nNSpid:\t4242\nKthread:\t0\nVmPeak:\t   30000 kB\n\
VmRSS:\t   26000 kB\nRssAnon:\t   24576 kB\nRssFile:\t    1400 kB\nRssShmem:\t      24 kB\n\
VmPTE:\t      88 kB\nVmSwap:\t       4 kB\nThreads:\t3\n";

    const STAT: &str = "4242 (a b) (c) S 4200 4242 4200 0 -1 4194560 300 0 0 0 1 2 0 0 20 0 3 0 \
987654 31000000 6500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    /// A fresh fake root with an empty `proc`; removed on drop.
    fn tree() -> FakeTree {
        let t = FakeTree::new("procfs");
        t.dir("proc");
        t
    }

    /// Process `pid` with this `status` text (exactly: the parser's input) and
    /// `oom_score_adj` text.
    fn pid(t: &FakeTree, pid: u32, status: &str, adj: &str) {
        t.process(pid)
            .file("status", status)
            .file("stat", STAT.replacen("4242", &pid.to_string(), 1))
            .oom_score(700)
            .file("oom_score_adj", adj)
            .cgroup("4:memory:/a/b\n0::/\n")
            .comm("hog");
    }

    #[test]
    fn status_fields_in_bytes() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!((s.tgid, s.ppid, s.uid), (4242, 4200, [1000; 4]));
        assert_eq!(s.name, "oomlens-hog");
        assert_eq!(s.state, Some('S'));
        assert_eq!(s.kthread, Some(false));
        assert_eq!(s.threads, Some(3));
        assert_eq!(s.rss_anon, Some(24576 * 1024));
        assert_eq!(s.rss_file, Some(1400 * 1024));
        assert_eq!(s.rss_shmem, Some(24 * 1024));
        assert_eq!(s.vm_swap, Some(4 * 1024));
        assert_eq!(s.vm_pte, Some(88 * 1024));
        assert_eq!(s.ns_pid, vec![4242]);
    }

    /// On this machine's /proc: a missing `exe` means a `status` without memory, for every
    /// process (as root, the other way round too: every process without memory lacks it).
    #[test]
    fn a_missing_exe_link_means_no_memory_on_the_real_proc() {
        let procfs = ProcFs::new(Path::new("/"));
        assert!(
            !procfs.lacks_mm(std::process::id()),
            "we have an address space"
        );
        // SAFETY: geteuid takes nothing and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let (mut without, mut checked) = (0, 0);
        for pid in procfs.pids().unwrap() {
            let lacks = procfs.lacks_mm(pid);
            let Ok(Some(st)) = procfs.status_of(pid) else {
                continue; // exited meanwhile
            };
            // A process may exit between the two reads: its status then has no memory
            // while the link was there (the safe way round). Zombies are in neither set.
            if lacks {
                assert_eq!(
                    st.vm_rss, None,
                    "pid {pid} ({}): no exe, yet memory",
                    st.name
                );
            } else if root && st.vm_rss.is_none() && procfs.status_of(pid).unwrap().is_some() {
                assert!(
                    procfs.lacks_mm(pid),
                    "pid {pid} ({}): no memory, exe",
                    st.name
                );
            }
            without += usize::from(st.vm_rss.is_none());
            checked += 1;
        }
        assert!(checked > 1, "{checked} processes checked");
        // In a pid namespace without kernel threads `without` may be 0; a host has many.
        eprintln!("{checked} processes, {without} without memory");
    }

    #[test]
    fn status_of_a_kernel_thread_has_no_memory() {
        let s = parse_status(
            "Name:\tkthreadd\nState:\tS (sleeping)\nTgid:\t2\nPid:\t2\nPPid:\t0\n\
             Uid:\t0\t0\t0\t0\nKthread:\t1\nThreads:\t1\n",
        )
        .unwrap();
        assert_eq!(s.kthread, Some(true));
        assert_eq!((s.vm_rss, s.rss_anon, s.vm_pte), (None, None, None));
    }

    #[test]
    fn status_errors_name_the_problem() {
        assert!(parse_status("Name:\tx\nPPid:\t1\nUid:\t0\t0\t0\t0\n")
            .unwrap_err()
            .contains("Tgid"));
        assert!(parse_status("Tgid:\tx\n").unwrap_err().contains("Tgid"));
        assert!(parse_status("Tgid:\t1\nPPid:\t0\nUid:\t0\t0\n")
            .unwrap_err()
            .contains("Uid"));
        assert!(
            parse_status("Tgid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nRssAnon:\tlots kB\n")
                .unwrap_err()
                .contains("RssAnon")
        );
    }

    #[test]
    fn stat_comm_with_parentheses_and_kthread_flag() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "a b) (c");
        assert_eq!((s.state, s.ppid), ('S', 4200));
        assert_eq!(s.flags, 4194560);
        assert_eq!(s.flags & PF_KTHREAD, 0);
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.starttime, 987654);
        let k =
            parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 1 0 0 0")
                .unwrap();
        assert_ne!(k.flags & PF_KTHREAD, 0);
        assert!(parse_stat("12 comm S 1").is_err());
        assert!(parse_stat("12 (c) S 1 2").unwrap_err().contains("fields"));
    }

    #[test]
    fn cgroup_lines_v1_v2_and_deleted() {
        let lines = parse_cgroup(
            "9:name=systemd:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/x:y\n0::/a/b (deleted)\n",
        )
        .unwrap();
        assert_eq!(memory_v1_path(&lines), Some("/process_api/abc"));
        assert_eq!(unified_path(&lines), Some("/a/b"));
        assert!(lines[3].deleted);
        assert_eq!(lines[2].path, "/x:y");
        assert_eq!(lines[2].controllers, ["cpu", "cpuacct"]);
        assert!(parse_cgroup("garbage\n").is_err());
        assert_eq!(unified_path(&parse_cgroup("4:memory:/\n").unwrap()), None);
    }

    #[test]
    fn adj_meminfo_and_cpus() {
        assert_eq!(parse_oom_score_adj("-1000\n"), Ok(-1000));
        assert!(parse_oom_score_adj("1001\n").is_err());
        assert!(parse_oom_score_adj("x\n").is_err());
        let m = parse_meminfo(
            "MemTotal:       24684000 kB\nMemFree:        23000000 kB\n\
             MemAvailable:   24000000 kB\nSwapTotal:      0 kB\nSwapFree:       0 kB\n",
        )
        .unwrap();
        assert_eq!(m.mem_total, 24_684_000 * 1024);
        assert_eq!(m.mem_available, Some(24_000_000 * 1024));
        assert!(parse_meminfo("MemTotal: 1 kB\n")
            .unwrap_err()
            .contains("MemFree"));
        assert_eq!(
            parse_stat_cpus("cpu  1 2 3\ncpu0 1 2\ncpu1 3 4\nintr 5\ncpufreq 1\n"),
            2
        );
        assert_eq!(parse_comm(b"a\x01b\n"), "a\x01b");
    }

    #[test]
    fn reads_a_fake_tree() {
        let t = tree();
        pid(&t, 4242, STATUS, "300\n");
        pid(
            &t,
            2,
            "Name:\tkthreadd\nTgid:\t2\nPPid:\t0\nUid:\t0\t0\t0\t0\nKthread:\t1\n",
            "0\n",
        );
        t.file("proc/self/status", STATUS) // not a pid: ignored
            .file(
                "proc/meminfo",
                "MemTotal: 1024 kB\nMemFree: 512 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
            )
            .file("proc/sys/kernel/osrelease", "6.18.44-test\n")
            .file("proc/sys/vm/swappiness", "60\n");
        let fs = ProcFs::new(t.root());
        assert_eq!(fs.pids().unwrap(), vec![2, 4242]);
        let all = fs.processes().unwrap();
        assert_eq!(all.list.len(), 2);
        let p = &all.list[1];
        assert_eq!(p.pid, 4242);
        assert_eq!(p.comm, "hog");
        assert_eq!(p.oom_score_adj, 300);
        assert_eq!(p.oom_score, 700);
        assert_eq!(memory_v1_path(&p.cgroups), Some("/a/b"));
        assert_eq!(p.rss_bytes(), (24576 + 1400 + 24) * 1024);
        assert!(!p.is_kernel_thread() && p.has_mm());
        assert!(all.list[0].is_kernel_thread());
        assert_eq!(fs.meminfo().unwrap().mem_total, 1024 * 1024);
        assert_eq!(
            fs.kernel_release().unwrap().as_deref(),
            Some("6.18.44-test")
        );
        assert_eq!(fs.sysctl_int("vm/swappiness").unwrap(), Some(60));
        assert_eq!(fs.sysctl_int("vm/panic_on_oom").unwrap(), None);
    }

    #[test]
    fn vanished_pid_is_skipped_not_an_error() {
        let t = tree();
        pid(&t, 10, STATUS, "0\n");
        // 11 lost its files between the listing and the read (as if it exited).
        t.process(11);
        let fs = ProcFs::new(t.root());
        let all = fs.processes().unwrap();
        assert_eq!(all.list.iter().map(|p| p.pid).collect::<Vec<_>>(), [10]);
        assert_eq!(all.vanished, 1);
        assert!(fs.process(12345).unwrap().is_none());
        // A handle opened before the directory went away answers "vanished".
        let d = fs.open(10).unwrap().unwrap();
        std::fs::remove_dir_all(t.root().join("proc/10")).unwrap();
        assert!(d.status().unwrap().is_none());
    }

    #[test]
    fn bad_content_is_an_error_naming_the_file() {
        let t = tree();
        pid(&t, 10, STATUS, "lots\n");
        let fs = ProcFs::new(t.root());
        let err = fs.processes().unwrap_err().to_string();
        assert!(err.contains("10/oom_score_adj"), "{err}");
        assert!(err.contains("not a number"), "{err}");
        t.file("proc/meminfo", "MemTotal: x kB\n");
        let err = fs.meminfo().unwrap_err().to_string();
        assert!(err.contains("meminfo") && err.contains("MemTotal"), "{err}");
    }

    #[test]
    fn missing_required_file_is_an_error_but_missing_proc_is_too() {
        let t = tree();
        let fs = ProcFs::new(t.root());
        let err = fs.meminfo().unwrap_err().to_string();
        assert!(err.contains("proc/meminfo"), "{err}");
        let nowhere = ProcFs::new(&t.root().join("nope"));
        assert!(nowhere.pids().unwrap_err().to_string().contains("nope"));
        assert_eq!(fs.online_cpus().unwrap(), None);
    }

    #[test]
    fn a_non_vanishing_io_error_is_an_error() {
        let t = tree();
        pid(&t, 10, STATUS, "0\n");
        // A directory where a file should be: EISDIR, which is not "vanished".
        std::fs::remove_file(t.root().join("proc/10/comm")).unwrap();
        t.dir("proc/10/comm");
        let err = ProcFs::new(t.root()).process(10).unwrap_err().to_string();
        assert!(err.contains("10/comm"), "{err}");
    }

    #[test]
    fn boot_time_from_a_fake_root() {
        let t = FakeTree::new("btime");
        t.file("proc/stat", "cpu 1 2 3\nbtime 1795425442\nprocesses 9\n");
        let p = ProcFs::new(t.root());
        assert_eq!(p.boot_time_us().unwrap(), 1_795_425_442_000_000);
        t.file("proc/stat", "cpu 1 2 3\n");
        assert!(p
            .boot_time_us()
            .unwrap_err()
            .to_string()
            .contains("no btime"));
    }
}
