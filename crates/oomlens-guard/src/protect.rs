//! Protection rules applied: each `[[protect]]` rule's oom_score_adj written to the
//! processes it matches, as they appear and again after restarts.
//!
//! How new processes are seen: the kernel's **proc connector** (netlink
//! `NETLINK_CONNECTOR`, group `CN_IDX_PROC`), which multicasts an event per `exec` and per
//! comm change. A rule matches on comm, exe, unit and cgroup, and those are settled at exec
//! (systemd moves a service's process into its cgroup before it execs the service's
//! binary); a fork needs nothing, since the child inherits its parent's oom_score_adj
//! (it lives in `signal_struct`, copied by `copy_signal`, kernel/fork.c). A restarted
//! service is a new exec, so it gets its adj again within one event, without a poll.
//! The alternative, inotify on cgroup directories plus a read of each new cgroup's
//! `cgroup.procs`, misses a process exec'd inside an existing cgroup and reads a cgroup
//! before its process has exec'd its final binary.
//!
//! The connector works only for a listener in the initial user and pid namespaces with
//! CAP_NET_ADMIN (`cn_proc_mcast_ctl`, drivers/connector/cn_proc.c, silently ignores other
//! namespaces since 3.x) and in the initial network namespace (the connector's kernel socket
//! exists in `init_net` only, drivers/connector/connector.c `cn_init`). The kernel answers a
//! `PROC_CN_MCAST_LISTEN` with an ack event; with no ack within [`ACK_WAIT`] (a container)
//! the guard logs that it falls back to a full /proc pass every `rescan` (`[guard]`, 5 min
//! by default; issue 14's idle budget allows no per-second walk).
//!
//! A full pass also runs at start and after each reload. Every write goes through a
//! descriptor of the process's /proc directory: its start time is read through it before
//! anything else, and a pid reused after that would make every later read through the same
//! descriptor fail (ESRCH), so a reused pid is never written. `oom_score_adj` is written only
//! when it differs from the rule's. A process that no rule matches any more after a reload
//! gets back the adj it had before the guard changed it.
//!
//! The netlink protocol is written by hand over libc (about 60 lines): the crates that wrap
//! the proc connector (`cnproc`, `proc-connector`) are blocking iterators, unmaintained
//! since 2021, and could not sit in the guard's epoll loop.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use crate::config::{Config, ProtectRule};

/// How long the guard waits for the kernel's ack of its connector subscription.
pub const ACK_WAIT: Duration = Duration::from_millis(250);

pub use oomlens_analysis::protect_rules::{first_match, ProcFacts};

/// Per rule: what the guard did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Processes whose adj was written.
    pub applied: u64,
    /// Matched processes that already had the rule's adj.
    pub unchanged: u64,
    /// Writes refused (a negative adj without CAP_SYS_RESOURCE, a process gone).
    pub failed: u64,
}

/// What the guard changed on a process, to undo it when no rule matches any more.
#[derive(Debug, Clone)]
struct Applied {
    start: u64,
    before: i16,
}

/// The protection rules, the processes they were applied to, and how new processes are
/// seen.
#[derive(Debug)]
pub struct Protector {
    proc: PathBuf,
    rules: Vec<ProtectRule>,
    rescan: Duration,
    applied: HashMap<u32, Applied>,
    /// By rule name, kept across reloads.
    pub counts: HashMap<String, RuleCounts>,
    connector: Option<OwnedFd>,
    last_scan: Option<Instant>,
    need: Needs,
}

/// Which facts the rules read (a pass reads no file no rule needs).
#[derive(Debug, Clone, Copy, Default)]
struct Needs {
    exe: bool,
    cgroup: bool,
}

impl Protector {
    /// The rules of `cfg`, applied under `root` (`/` or a fake tree); no process is touched
    /// before [`Protector::start`].
    pub fn new(root: &Path, cfg: &Config) -> Protector {
        let mut p = Protector {
            proc: root.join("proc"),
            rules: Vec::new(),
            rescan: cfg.guard.rescan,
            applied: HashMap::new(),
            counts: HashMap::new(),
            connector: None,
            last_scan: None,
            need: Needs::default(),
        };
        p.set_rules(cfg);
        p
    }

    fn set_rules(&mut self, cfg: &Config) {
        self.rules = cfg.protect.clone();
        self.rescan = cfg.guard.rescan;
        let (exe, cgroup) = oomlens_analysis::protect_rules::needs(&self.rules);
        self.need = Needs { exe, cgroup };
    }

    /// Subscribe to the proc connector (when there are rules and `/proc` is the host's) and
    /// make the first full pass. Returns the line to log about how processes are seen.
    pub fn start(&mut self) -> String {
        if self.rules.is_empty() {
            return "protect: no rules".into();
        }
        let how = if self.proc != Path::new("/proc") {
            "a fake /proc: full passes only".to_string()
        } else {
            match connect() {
                Ok((fd, which)) => {
                    self.connector = Some(fd);
                    format!("the proc connector ({which})")
                }
                Err(why) => format!(
                    "the proc connector is unavailable ({why}): a full /proc pass every {}s",
                    self.rescan.as_secs()
                ),
            }
        };
        let n = self.scan();
        format!(
            "protect: {} rules, {n} processes changed by the first pass; new processes seen by {how}",
            self.rules.len()
        )
    }

    /// The connector's descriptor, for the loop's epoll (level-triggered readable).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.connector.as_ref().map(|f| f.as_fd())
    }

    /// New rules (SIGHUP): a full pass applies them; processes of rules gone get their old
    /// adj back.
    pub fn reload(&mut self, cfg: &Config) -> usize {
        self.set_rules(cfg);
        if self.connector.is_none() && !self.rules.is_empty() && self.proc == Path::new("/proc") {
            self.connector = connect().ok().map(|(fd, _)| fd);
        }
        self.scan()
    }

    /// True when [`Protector::tick`] has nothing to rescan: no rule, nothing applied.
    pub fn idle(&self) -> bool {
        self.rules.is_empty() && self.applied.is_empty()
    }

    /// The loop's tick: a full pass when `rescan` has passed (always, as a backstop for
    /// moves between cgroups that no exec follows; with the connector that is all it is).
    pub fn tick(&mut self, now: Instant) {
        if self.idle() {
            return;
        }
        let due = self
            .last_scan
            .is_none_or(|t| now.duration_since(t) >= self.rescan);
        if due {
            self.scan();
        }
    }

    /// Read the connector's pending events and apply the rules to each exec'd or renamed
    /// process.
    pub fn readable(&mut self) {
        let Some(fd) = &self.connector else { return };
        let mut pids = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is valid for its length; the socket is non-blocking.
            let n = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                // ENOBUFS: events were lost while the guard was busy; the next full pass
                // (rescan) catches what they announced.
                break;
            }
            if let Some(Event::Exec(pid)) = parse_event(&buf[..n as usize]) {
                pids.push(pid);
            }
        }
        for pid in pids {
            self.apply(pid);
        }
    }

    /// Apply the rules to every process in /proc; the number of processes changed.
    pub fn scan(&mut self) -> usize {
        self.last_scan = Some(Instant::now());
        let Ok(dir) = std::fs::read_dir(&self.proc) else {
            return 0;
        };
        let pids: HashSet<u32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        let changed = pids.iter().filter(|&&p| self.apply(p)).count();
        self.applied.retain(|pid, _| pids.contains(pid));
        changed
    }

    /// Apply the rules to `pid`; whether its adj was written.
    pub fn apply(&mut self, pid: u32) -> bool {
        let Ok(dir) = rustix::fs::open(
            self.proc.join(pid.to_string()),
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return false;
        };
        let Some(facts) = read_facts(&dir, self.need) else {
            return false;
        };
        let Some(now) = read_at(&dir, "oom_score_adj").and_then(|s| s.trim().parse::<i16>().ok())
        else {
            return false;
        };
        // A pid seen before with another start time is another process.
        if self
            .applied
            .get(&pid)
            .is_some_and(|a| a.start != facts.start)
        {
            self.applied.remove(&pid);
        }
        let (want, rule) = match first_match(&self.rules, &facts) {
            Some(r) => (r.adj, Some(r.name.clone())),
            None => match self.applied.get(&pid) {
                Some(a) => (a.before, None),
                None => return false,
            },
        };
        if now == want {
            if let Some(r) = &rule {
                self.counts.entry(r.clone()).or_default().unchanged += 1;
            } else {
                self.applied.remove(&pid);
            }
            return false;
        }
        let ok = write_at(&dir, "oom_score_adj", &want.to_string());
        let name = rule.as_deref().unwrap_or("(no rule: restored)");
        let esc = oomlens_sinks::escape::escape(&facts.comm);
        match &ok {
            Ok(()) => eprintln!("oomlens guard: protect: {name}: pid {pid} ({esc}) oom_score_adj {now} -> {want}"),
            Err(e) => eprintln!("oomlens guard: protect: {name}: pid {pid} ({esc}) oom_score_adj {now} -> {want}: {e}"),
        }
        if let Some(r) = &rule {
            let c = self.counts.entry(r.clone()).or_default();
            if ok.is_ok() {
                c.applied += 1;
            } else {
                c.failed += 1;
            }
        }
        match (&ok, &rule) {
            (Ok(()), Some(_)) => {
                self.applied.entry(pid).or_insert(Applied {
                    start: facts.start,
                    before: now,
                });
            }
            (Ok(()), None) => {
                self.applied.remove(&pid);
            }
            _ => {}
        }
        ok.is_ok()
    }
}

fn read_at(dir: &OwnedFd, name: &str) -> Option<String> {
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut s = String::new();
    File::from(fd).read_to_string(&mut s).ok()?;
    Some(s)
}

fn write_at(dir: &OwnedFd, name: &str, v: &str) -> std::io::Result<()> {
    let fd = rustix::fs::openat(dir, name, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    File::from(fd).write_all(v.as_bytes())
}

/// The facts of the process whose /proc directory is `dir`; `None` when it is gone or a
/// kernel thread (no exe, no adj worth setting: the OOM killer skips them).
fn read_facts(dir: &OwnedFd, need: Needs) -> Option<ProcFacts> {
    let stat = read_at(dir, "stat")?;
    // comm may hold spaces and parentheses: the fields after it follow the last `)`.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    // Fields 3.. start at rest[0]; flags is field 9, starttime field 22.
    let flags: u64 = rest.get(6)?.parse().ok()?;
    if flags & 0x0020_0000 != 0 {
        // PF_KTHREAD (include/linux/sched.h).
        return None;
    }
    let start = rest.get(19)?.parse().ok()?;
    let exe = if need.exe {
        rustix::fs::readlinkat(dir, "exe", Vec::new())
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    } else {
        None
    };
    let (cgroup, unit) = if need.cgroup {
        let cg = read_at(dir, "cgroup").and_then(|s| memory_cgroup(&s));
        let unit = cg
            .as_deref()
            .and_then(|c| oomlens_analysis::owner::owner_of(c).unit);
        (cg, unit)
    } else {
        (None, None)
    };
    Some(ProcFacts {
        start,
        comm,
        exe,
        cgroup,
        unit,
    })
}

/// The memory cgroup path of a /proc/PID/cgroup text: the v1 `memory` line, else the v2
/// `0::` line.
pub fn memory_cgroup(text: &str) -> Option<String> {
    let mut v2 = None;
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(path.to_string());
        }
        if ctrls.is_empty() {
            v2 = Some(path.to_string());
        }
    }
    v2
}

// The proc connector's wire format (include/uapi/linux/connector.h, cn_proc.h).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = 20;
/// struct proc_event: what, cpu, timestamp_ns (aligned 8), then the event's data.
const EV_DATA: usize = 16;

/// One event of the connector that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The subscription's ack, with its errno (0: subscribed).
    Ack(u32),
    /// This process exec'd or changed its comm (its tgid).
    Exec(u32),
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The event in one netlink datagram from the connector, if one that matters.
pub fn parse_event(b: &[u8]) -> Option<Event> {
    let idx = u32_at(b, NLMSG_HDR)?;
    let val = u32_at(b, NLMSG_HDR + 4)?;
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) {
        return None;
    }
    let ev = NLMSG_HDR + CN_MSG;
    let data = ev + EV_DATA;
    match u32_at(b, ev)? {
        PROC_EVENT_NONE => Some(Event::Ack(u32_at(b, data)?)),
        // exec_proc_event / comm_proc_event: process_pid, process_tgid, ...
        PROC_EVENT_EXEC | PROC_EVENT_COMM => Some(Event::Exec(u32_at(b, data + 4)?)),
        _ => None,
    }
}

/// A non-blocking connector socket subscribed to process events, once the kernel acked it,
/// and which events it gets.
fn connect() -> Result<(OwnedFd, &'static str), String> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_CONNECTOR,
        )
    };
    if raw < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: zeroed sockaddr_nl is valid; the fields set are plain integers.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = CN_IDX_PROC;
    // SAFETY: sa is a sockaddr_nl of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if r < 0 {
        return Err(format!("bind: {}", std::io::Error::last_os_error()));
    }
    subscribe(&fd, None)?;
    // Since Linux 6.6 a listener can name the events it wants (struct proc_input: the op
    // and an event mask; cn_filter in drivers/connector/cn_proc.c): only exec and comm
    // events then wake the guard, not every fork, thread and exit of the host. The kernel's
    // ack goes through the same filter (its `what` is PROC_EVENT_NONE, in no mask), so the
    // plain subscription above is what is acked, and the mask is sent after it without
    // waiting; a kernel before 6.6 ignores a message of that size and sends everything.
    send_listen(&fd, Some(PROC_EVENT_EXEC | PROC_EVENT_COMM))?;
    let filtered = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| {
            let mut it = r.trim().split(['.', '-']);
            Some((
                it.next()?.parse::<u32>().ok()?,
                it.next()?.parse::<u32>().ok()?,
            ))
        })
        .is_some_and(|v| v >= (6, 6));
    Ok((
        fd,
        if filtered {
            "exec and comm events"
        } else {
            "all events: the kernel filters none before 6.6"
        },
    ))
}

/// Send `PROC_CN_MCAST_LISTEN`, with an event mask when `events` is given.
fn send_listen(fd: &OwnedFd, events: Option<u32>) -> Result<(), String> {
    let data_len = if events.is_some() { 8 } else { 4 };
    let mut msg = Vec::with_capacity(NLMSG_HDR + CN_MSG + data_len);
    let len = (NLMSG_HDR + CN_MSG + data_len) as u32;
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&std::process::id().to_ne_bytes());
    msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
    msg.extend_from_slice(&(data_len as u16).to_ne_bytes()); // len
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    if let Some(mask) = events {
        msg.extend_from_slice(&mask.to_ne_bytes());
    }
    // SAFETY: msg is valid for its length.
    let r = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if r < 0 {
        return Err(format!("send: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Send the plain `PROC_CN_MCAST_LISTEN` and wait up to [`ACK_WAIT`] for the kernel's ack.
fn subscribe(fd: &OwnedFd, events: Option<u32>) -> Result<(), String> {
    send_listen(fd, events)?;
    let deadline = Instant::now() + ACK_WAIT;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(
                "no ack from the kernel: not in the initial user and pid namespaces".into(),
            );
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                continue;
            }
            return Err(format!("recv: {e}"));
        }
        match parse_event(&buf[..n as usize]) {
            Some(Event::Ack(0)) => return Ok(()),
            Some(Event::Ack(e)) => {
                return Err(format!(
                    "refused: {}",
                    std::io::Error::from_raw_os_error(e as i32)
                ))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_line_wins_over_the_v2_line() {
        let v1 = "12:memory:/docker/abc\n0::/init.scope\n";
        assert_eq!(memory_cgroup(v1).as_deref(), Some("/docker/abc"));
        assert_eq!(
            memory_cgroup("0::/system.slice/postgresql.service\n").as_deref(),
            Some("/system.slice/postgresql.service")
        );
        assert_eq!(memory_cgroup("3:cpu,cpuacct:/a\n"), None);
    }

    #[test]
    fn connector_events_parse_from_their_wire_layout() {
        let mut b = vec![0u8; NLMSG_HDR];
        b.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        b.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        b.extend_from_slice(&[0u8; 12]);
        b.extend_from_slice(&PROC_EVENT_EXEC.to_ne_bytes());
        b.extend_from_slice(&[0u8; 12]); // cpu, timestamp
        b.extend_from_slice(&4321u32.to_ne_bytes()); // pid (a thread)
        b.extend_from_slice(&4300u32.to_ne_bytes()); // tgid
        assert_eq!(parse_event(&b), Some(Event::Exec(4300)));
        b[NLMSG_HDR + CN_MSG..NLMSG_HDR + CN_MSG + 4].copy_from_slice(&0u32.to_ne_bytes());
        b[NLMSG_HDR + CN_MSG + EV_DATA..NLMSG_HDR + CN_MSG + EV_DATA + 4]
            .copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(parse_event(&b), Some(Event::Ack(1)));
        b[NLMSG_HDR] = 9; // another connector index
        assert_eq!(parse_event(&b), None);
    }
}
