//! Reading the live kernel log from `/dev/kmsg`, and finding one OOM report in it.
//!
//! Each `read(2)` on `/dev/kmsg` returns one record, `prio,seq,usec,flags;message\n`, followed
//! by continuation lines that start with a space (`SUBSYSTEM=…`, `DEVICE=…`); see
//! Documentation/ABI/testing/dev-kmsg in the kernel. The buffer must hold a whole record
//! (8 KiB is enough, a short one gets `EINVAL`); `EPIPE` means records were overwritten since
//! the last read: the next read resumes at the oldest record still there. Bytes below 0x20
//! (other than the record's own newline), 0x7f and above, and `\` are printed as `\xNN`, so
//! records are plain ASCII.
//!
//! The log is shared with other containers on the same host, so an OOM report is found by its
//! cgroup path and pid ([`find_kills`], [`extract_report`]), never as "the latest OOM". This
//! module only reads: never write to `/dev/kmsg` in tests.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// One `/dev/kmsg` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `prio`: syslog facility << 3 | level.
    pub prio: u32,
    /// The kernel's sequence number.
    pub seq: u64,
    /// Microseconds since boot (the kernel's `local_clock`).
    pub usec: u64,
    /// The flags field and anything after it up to `;` (`-`, `c`, or `-,caller=T123` with
    /// CONFIG_PRINTK_CALLER).
    pub flags: String,
    /// The message, with kmsg's `\xNN` escapes as printed.
    pub message: String,
    /// Continuation lines without their leading space (`SUBSYSTEM=virtio`).
    pub continuation: Vec<String>,
}

impl Record {
    /// Parses one record: its header line and any continuation lines after it.
    pub fn parse(raw: &str) -> Option<Record> {
        let mut lines = raw.trim_end_matches('\n').split('\n');
        let first = lines.next()?;
        let (header, message) = first.split_once(';')?;
        let mut fields = header.splitn(4, ',');
        let prio = fields.next()?.parse().ok()?;
        let seq = fields.next()?.parse().ok()?;
        let usec = fields.next()?.parse().ok()?;
        let flags = fields.next().unwrap_or("").to_string();
        let continuation = lines
            .filter_map(|l| l.strip_prefix(' '))
            .map(str::to_string)
            .collect();
        Some(Record {
            prio,
            seq,
            usec,
            flags,
            message: message.to_string(),
            continuation,
        })
    }

    /// The record as `/dev/kmsg` printed it, with a trailing newline.
    pub fn to_raw(&self) -> String {
        let mut s = format!(
            "{},{},{},{};{}\n",
            self.prio, self.seq, self.usec, self.flags, self.message
        );
        for c in &self.continuation {
            s.push(' ');
            s.push_str(c);
            s.push('\n');
        }
        s
    }

    /// The syslog facility (`prio >> 3`; 0 is `kern`).
    pub fn facility(&self) -> u32 {
        self.prio >> 3
    }

    /// The syslog level (`prio & 7`; 3 is `err`).
    pub fn level(&self) -> u32 {
        self.prio & 7
    }
}

/// `bytes` as `/dev/kmsg` prints them: bytes below 0x20, 0x7f and above, and `\` become
/// `\xNN` (kernel/printk/printk.c, `msg_add_ext_text`).
pub fn kmsg_escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if !(b' '..0x7f).contains(&b) || b == b'\\' {
            s.push_str(&format!("\\x{b:02x}"));
        } else {
            s.push(b as char);
        }
    }
    s
}

/// The bytes behind `/dev/kmsg`'s `\xNN` escapes, as text (lossy UTF-8): what explain
/// reports for a comm or path in every log form.
pub fn kmsg_unescape(text: &str) -> String {
    String::from_utf8_lossy(&kmsg_unescape_bytes(text)).into_owned()
}

/// The bytes behind `/dev/kmsg`'s `\xNN` escapes.
pub fn kmsg_unescape_bytes(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let Ok(v) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Waits until the machine's OOM report budget has room. `oom_kill_process()` prints the
/// report header and the `oom-kill:` summary only `if (__ratelimit(&oom_rs))`: 10 reports per
/// 5 s for the whole machine (mm/oom_kill.c, DEFAULT_RATELIMIT_INTERVAL/BURST), and other
/// containers' OOMs draw on the same budget. A test whose report was suppressed cannot match
/// it by cgroup path, so before a test provokes an OOM this counts the reports logged in the
/// last 5.3 s (any cgroup, from /dev/kmsg) and waits while 8 or more are there. Gives up
/// waiting after 30 s (the test then sees what the kernel did).
pub fn await_oom_report_budget() {
    const WINDOW_US: u64 = 5_300_000;
    const MAX_REPORTS: usize = 8;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(mut k) = Kmsg::open_at_start() else {
            return;
        };
        if k.poll().is_err() {
            return;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec for the call to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let now_us = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000;
        let recent = k
            .records
            .iter()
            .filter(|r| r.usec + WINDOW_US >= now_us && r.message.contains(" invoked oom-killer: "))
            .count();
        if recent < MAX_REPORTS {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Parses the text of a kmsg capture (records one after another, as read from `/dev/kmsg`).
/// Lines that are neither a record nor a continuation are skipped.
pub fn parse_records(text: &str) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    for line in text.lines() {
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.continuation.push(cont.to_string());
            }
        } else if let Some(r) = Record::parse(line) {
            out.push(r);
        }
    }
    out
}

/// Writes records back in the `/dev/kmsg` text form.
pub fn records_to_text(records: &[Record]) -> String {
    records.iter().map(Record::to_raw).collect()
}

/// A non-blocking reader of `/dev/kmsg` that keeps every record it has read.
pub struct Kmsg {
    file: File,
    /// Every record read so far, in order.
    pub records: Vec<Record>,
    /// How many times `EPIPE` reported overwritten records.
    pub overruns: u64,
}

impl Kmsg {
    /// Opens `/dev/kmsg` positioned after the last record: only records logged from now on
    /// will be read. Take this before starting what should produce them.
    pub fn open_at_end() -> io::Result<Kmsg> {
        let mut k = Self::open()?;
        k.file.seek(SeekFrom::End(0))?;
        Ok(k)
    }

    /// Opens `/dev/kmsg` at the oldest record the kernel still holds.
    pub fn open_at_start() -> io::Result<Kmsg> {
        Self::open()
    }

    fn open() -> io::Result<Kmsg> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        Ok(Kmsg {
            file,
            records: Vec::new(),
            overruns: 0,
        })
    }

    /// Reads every record available now; returns how many were added.
    pub fn poll(&mut self) -> io::Result<usize> {
        let mut buf = vec![0u8; 16 * 1024];
        let before = self.records.len();
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if let Some(r) = Record::parse(&text) {
                        self.records.push(r);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => self.overruns += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.records.len() - before)
    }

    /// Polls until a record matches `pred` or `timeout` passes; returns the index of the
    /// first matching record in [`Kmsg::records`], searching from `from`.
    pub fn wait_for(
        &mut self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Record) -> bool,
    ) -> io::Result<Option<usize>> {
        let deadline = Instant::now() + timeout;
        let mut checked = from;
        loop {
            self.poll()?;
            if let Some(i) = self.records.iter().skip(checked).position(&pred) {
                return Ok(Some(checked + i));
            }
            checked = self.records.len().max(from);
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until every kill whose `oom-kill:` line names `task_memcg` has its
    /// `Killed process` line, and at least one such kill exists; returns them. Then waits
    /// `settle` more and collects any later kill of the same cgroup.
    pub fn wait_for_kills(
        &mut self,
        task_memcg: &str,
        timeout: Duration,
        settle: Duration,
    ) -> io::Result<Vec<KernelKill>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll()?;
            let kills = find_kills(&self.records, task_memcg);
            if !kills.is_empty() && kills.iter().all(|k| k.killed_index.is_some()) {
                std::thread::sleep(settle);
                self.poll()?;
                return Ok(find_kills(&self.records, task_memcg));
            }
            if Instant::now() >= deadline {
                return Ok(kills);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The `oom-kill:constraint=…,…,task=…,pid=N,uid=N` summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomKillLine {
    /// `constraint=`.
    pub constraint: String,
    /// `oom_memcg=`, when printed.
    pub oom_memcg: Option<String>,
    /// `task_memcg=`, when printed.
    pub task_memcg: Option<String>,
    /// `task=`: the comm, with kmsg's escapes; it may contain commas.
    pub task: String,
    /// `pid=`.
    pub pid: u32,
    /// `uid=`.
    pub uid: u32,
}

impl OomKillLine {
    /// Parses the message of an `oom-kill:` record.
    pub fn parse(msg: &str) -> Option<OomKillLine> {
        let body = msg.strip_prefix("oom-kill:")?;
        // The comm may hold `,` and `=`: take pid and uid from the end, task= up to them.
        let (rest, uid) = body.rsplit_once(",uid=")?;
        let (rest, pid) = rest.rsplit_once(",pid=")?;
        let (head, task) = rest.split_once(",task=")?;
        let field = |key: &str| {
            head.split(',')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(OomKillLine {
            constraint: field("constraint")?,
            oom_memcg: field("oom_memcg"),
            task_memcg: field("task_memcg"),
            task: task.to_string(),
            pid: pid.parse().ok()?,
            uid: uid.trim().parse().ok()?,
        })
    }
}

/// A `… Killed process N (comm) total-vm:…kB, anon-rss:…kB, file-rss:…kB, shmem-rss:…kB,
/// UID:N pgtables:…kB oom_score_adj:N` line (5.x and later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledLine {
    /// The text before `Killed process` (`Memory cgroup out of memory`, `Out of memory`).
    pub reason: String,
    /// The killed pid.
    pub pid: u32,
    /// The comm, with kmsg's escapes; it may contain `(`, `)` and spaces.
    pub comm: String,
    /// `anon-rss`, KiB.
    pub anon_rss_kb: u64,
    /// `file-rss`, KiB.
    pub file_rss_kb: u64,
    /// `shmem-rss`, KiB.
    pub shmem_rss_kb: u64,
    /// `oom_score_adj`.
    pub oom_score_adj: i32,
}

impl KilledLine {
    /// Parses the message of a `Killed process` record.
    pub fn parse(msg: &str) -> Option<KilledLine> {
        let (reason, rest) = msg.split_once(": Killed process ")?;
        let (pid, rest) = rest.split_once(" (")?;
        // The comm ends at the last `) total-vm:` (the comm itself may contain `) `).
        let (comm, tail) = rest.rsplit_once(") total-vm:")?;
        let kb = |key: &str| -> Option<u64> {
            let after = tail.split(key).nth(1)?;
            after.split("kB").next()?.trim().parse().ok()
        };
        Some(KilledLine {
            reason: reason.to_string(),
            pid: pid.parse().ok()?,
            comm: comm.to_string(),
            anon_rss_kb: kb("anon-rss:")?,
            file_rss_kb: kb("file-rss:")?,
            shmem_rss_kb: kb("shmem-rss:")?,
            oom_score_adj: tail.rsplit_once("oom_score_adj:")?.1.trim().parse().ok()?,
        })
    }
}

/// One kill the kernel logged for a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelKill {
    /// Index of the `oom-kill:` record.
    pub oom_kill_index: usize,
    /// The parsed `oom-kill:` line.
    pub oom_kill: OomKillLine,
    /// Index of the matching `Killed process` record, once it arrived.
    pub killed_index: Option<usize>,
    /// The parsed `Killed process` line.
    pub killed: Option<KilledLine>,
}

/// Every kill whose `oom-kill:` line names exactly `task_memcg`, in log order.
pub fn find_kills(records: &[Record], task_memcg: &str) -> Vec<KernelKill> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Some(line) = OomKillLine::parse(&r.message) else {
            continue;
        };
        if line.task_memcg.as_deref() != Some(task_memcg) {
            continue;
        }
        let killed = records.iter().enumerate().skip(i + 1).find_map(|(j, r)| {
            KilledLine::parse(&r.message)
                .filter(|k| k.pid == line.pid)
                .map(|k| (j, k))
        });
        out.push(KernelKill {
            oom_kill_index: i,
            oom_kill: line,
            killed_index: killed.as_ref().map(|(j, _)| *j),
            killed: killed.map(|(_, k)| k),
        });
    }
    out
}

/// Every `oom-kill:` line in `records` whose `oom_memcg` or `task_memcg` starts with
/// `prefix` (use a trailing `/` or the exact path to avoid matching `…/ab` for `…/a`).
pub fn oom_kill_lines_under<'a>(
    records: &'a [Record],
    prefix: &'a str,
) -> impl Iterator<Item = OomKillLine> + 'a {
    records.iter().filter_map(move |r| {
        let l = OomKillLine::parse(&r.message)?;
        let hit = |p: &Option<String>| p.as_deref().is_some_and(|p| p.starts_with(prefix));
        (hit(&l.oom_memcg) || hit(&l.task_memcg)).then_some(l)
    })
}

/// The records of one OOM report: from its `invoked oom-killer` record to the
/// `Killed process` record of `kill`, plus the `oom_reaper` record for the same pid when
/// present. Reports are printed under the kernel's `oom_lock`, so two reports do not
/// interleave; the reaper line is printed later by the `oom_reaper` thread and is picked
/// by pid. Records of other sources printed in between (rare) are dropped when `strict` is
/// false and make the result `None` when it is true.
pub fn extract_report(records: &[Record], kill: &KernelKill, strict: bool) -> Option<Vec<Record>> {
    let killed_index = kill.killed_index?;
    let start = records[..kill.oom_kill_index]
        .iter()
        .rposition(|r| r.message.contains(" invoked oom-killer: "))?;
    let mut out = Vec::new();
    for r in &records[start..=killed_index] {
        if is_report_line(r) {
            out.push(r.clone());
        } else if strict {
            return None;
        }
    }
    let reaper = format!("oom_reaper: reaped process {} (", kill.oom_kill.pid);
    if let Some(r) = records[killed_index + 1..]
        .iter()
        .find(|r| r.message.starts_with(&reaper))
    {
        out.push(r.clone());
    }
    Some(out)
}

/// True for records that an OOM report prints between `invoked oom-killer` and the kill:
/// all of them are kernel-facility records; the stack dump and the tables are at levels
/// warn/info/err, and nothing else should hold the console in between. Used to notice
/// foreign records; it looks only at the facility and at known foreign shapes.
fn is_report_line(r: &Record) -> bool {
    r.facility() == 0 && !r.message.starts_with("oom_reaper: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_record_with_continuation() {
        let r = Record::parse(
            "4,2,0,-;[Firmware Bug]: x\n SUBSYSTEM=virtio\n DEVICE=+virtio:virtio1\n",
        )
        .unwrap();
        assert_eq!((r.prio, r.seq, r.usec, r.flags.as_str()), (4, 2, 0, "-"));
        assert_eq!(r.message, "[Firmware Bug]: x");
        assert_eq!(
            r.continuation,
            ["SUBSYSTEM=virtio", "DEVICE=+virtio:virtio1"]
        );
        assert_eq!(
            r.to_raw(),
            "4,2,0,-;[Firmware Bug]: x\n SUBSYSTEM=virtio\n DEVICE=+virtio:virtio1\n"
        );
        assert_eq!(parse_records(&r.to_raw()), [r]);
    }

    #[test]
    fn escapes_like_kmsg() {
        assert_eq!(
            kmsg_escape(b"a b) (c\x01\td\\\xff"),
            "a b) (c\\x01\\x09d\\x5c\\xff"
        );
    }

    #[test]
    fn keeps_caller_in_flags() {
        let r = Record::parse("6,10,5,-,caller=T12;hello; world").unwrap();
        assert_eq!(r.flags, "-,caller=T12");
        assert_eq!(r.message, "hello; world");
    }

    #[test]
    fn oom_kill_line_with_commas_in_comm() {
        let l = OomKillLine::parse(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,\
             oom_memcg=/a/b,task_memcg=/a/b,task=x,y=z,pid=42,uid=0",
        )
        .unwrap();
        assert_eq!(l.constraint, "CONSTRAINT_MEMCG");
        assert_eq!(l.oom_memcg.as_deref(), Some("/a/b"));
        assert_eq!(l.task_memcg.as_deref(), Some("/a/b"));
        assert_eq!((l.task.as_str(), l.pid, l.uid), ("x,y=z", 42, 0));
    }

    #[test]
    fn killed_line_with_parens_in_comm() {
        let k = KilledLine::parse(
            "Memory cgroup out of memory: Killed process 7 (a b) (c\\x01) total-vm:100kB, \
             anon-rss:64kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:900",
        )
        .unwrap();
        assert_eq!(k.reason, "Memory cgroup out of memory");
        assert_eq!((k.pid, k.comm.as_str()), (7, "a b) (c\\x01"));
        assert_eq!(
            (
                k.anon_rss_kb,
                k.file_rss_kb,
                k.shmem_rss_kb,
                k.oom_score_adj
            ),
            (64, 4, 0, 900)
        );
    }
}
