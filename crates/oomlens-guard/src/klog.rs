//! The logs the guard reads, non-blocking: each is read while epoll says it is readable
//! (a [`Follow`] asked with a zero wait), its lines go to its own parser and to a bounded
//! ring of recent lines (from which a report's own lines are cut by its `SourceSpan`).
//!
//! Kernel reports are read from one source only (kmsg, or the journal with `--log
//! journal`, or a file), so the same report is never recorded twice; in `auto` the journal
//! is followed beside /dev/kmsg for userspace killers only (its kernel transport is not
//! asked for).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use oomlens_live::{Follow, KmsgFollower, LiveError, Step, StreamFollower};
use oomlens_model::{Incident, SourceSpan};
use oomlens_parse::{Clock, Format, Options, Parser};
use oomlens_sources::kmsg::{KmsgReader, RecordDevice};

/// Lines kept for cutting reports out (one OOM report is about 80 kmsg records; a report
/// is cut out within milliseconds of its last line).
pub const RAW_LINES: usize = 2048;
/// Bytes kept in the ring at most.
pub const RAW_BYTES: usize = 512 << 10;

/// Lines read per drain at most before the loop looks at its other sources.
pub const DRAIN_LINES: u64 = 2048;

/// Recent lines with their parser line numbers.
#[derive(Debug, Default)]
pub struct RawRing {
    lines: VecDeque<(u64, Box<str>)>,
    bytes: usize,
}

impl RawRing {
    /// Keep line `n`.
    pub fn push(&mut self, n: u64, line: &[u8]) {
        let s: Box<str> = String::from_utf8_lossy(line).into();
        self.bytes += s.len();
        self.lines.push_back((n, s));
        while self.lines.len() > RAW_LINES || self.bytes > RAW_BYTES {
            match self.lines.pop_front() {
                Some((_, s)) => self.bytes -= s.len(),
                None => break,
            }
        }
    }

    /// The lines of `span` still held.
    pub fn cut(&self, span: &SourceSpan) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(n, _)| (span.first_line..=span.last_line).contains(n))
            .map(|(_, s)| s.to_string())
            .collect()
    }
}

/// One incident as a log input produced it, with its lines.
#[derive(Debug)]
pub struct Parsed {
    /// The incident.
    pub incident: Incident,
    /// Its lines.
    pub raw: Vec<String>,
}

/// The cgroups named by the `oom-kill:` line of a report whose kill line was the last
/// report line read (Linux 4.19+, mm/oom_kill.c `dump_oom_summary`:
/// `oom-kill:constraint=...,oom_memcg=/a,task_memcg=/a/b,task=...`); `None` where the line
/// was absent (older kernels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillTail {
    /// The OOM domain (`oom_memcg=`; `/` for a system-wide OOM).
    pub oom_memcg: Option<String>,
    /// The victim's cgroup (`task_memcg=`).
    pub task_memcg: Option<String>,
}

/// Follows a kernel log's report lines for [`KillTail`]: a report's kill line ends it
/// unless the kernel then kills a `memory.oom.group` (mm/oom_kill.c `oom_kill_process`,
/// Linux 4.19+: `__oom_kill_process` of the victim, then `Tasks in <cg> are going to be
/// killed due to memory.oom.group set` and one `Killed process` per member).
#[derive(Debug, Default)]
struct KillWatch {
    /// The last `oom-kill:` line's cgroups.
    summary: KillTail,
    /// A group kill was announced since that line: its member kills follow.
    group: bool,
    /// The last report line read was a kill line, no group announced.
    tail: Option<KillTail>,
}

impl KillWatch {
    fn line(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        if let Some(i) = text.find("oom-kill:constraint=") {
            let fields = &text[i..];
            let field = |name: &str| {
                let at = fields.find(name)? + name.len();
                let v = fields[at..].split(',').next()?;
                (!v.is_empty()).then(|| v.to_string())
            };
            self.summary = KillTail {
                oom_memcg: field(",oom_memcg="),
                task_memcg: field(",task_memcg="),
            };
            self.group = false;
            self.tail = None;
        } else if text.contains("are going to be killed due to memory.oom.group set") {
            self.group = true;
            self.tail = None;
        } else if text.contains("Killed process ") && !self.group {
            self.tail = Some(std::mem::take(&mut self.summary));
        }
    }
}

/// One followed log.
pub struct LogInput {
    /// `kmsg`, `journal` or `file`.
    pub name: &'static str,
    follower: Box<dyn Follow>,
    /// What epoll watches: the record device, a pipe; `None` for a regular file (woken by
    /// inotify and each pass).
    fd: Option<OwnedFd>,
    parser: Parser,
    raw: RawRing,
    /// A read brought data and the parser has not been told of a pause since.
    pub idle_due: bool,
    /// The last drain stopped at its bound with data left: drain again before waiting.
    pub more: bool,
    lost: u64,
    overruns: u64,
    /// Kernel logs (kmsg) only: where the last report stands.
    kills: Option<KillWatch>,
    _child: Option<Child>,
}

/// What one drain read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    /// Lines read.
    pub lines: u64,
    /// Records newly lost (overwritten before read).
    pub lost: u64,
    /// Overruns newly seen.
    pub overruns: u64,
}

fn options(format: Option<Format>, file: &str, boot_time_us: Option<i64>) -> Options {
    Options {
        format,
        clock: Clock {
            boot_time_us,
            ..Clock::default()
        },
        file: Some(file.to_string()),
    }
}

impl LogInput {
    /// /dev/kmsg at `path`, from its end.
    pub fn kmsg(path: &Path, boot_time_us: Option<i64>) -> Result<LogInput, LiveError> {
        let io = |source| LiveError::Read {
            what: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let fd = file.try_clone().map_err(io)?.into();
        let reader = KmsgReader::with_device(file, path);
        Ok(LogInput::with(
            "kmsg",
            Box::new(KmsgFollower::new(reader)),
            Some(fd),
            Parser::new(options(Some(Format::Kmsg), "kmsg", boot_time_us)),
        ))
    }

    /// Any record device (tests: a scripted one that overruns).
    pub fn records<D: RecordDevice + 'static>(device: D, name: &str) -> LogInput {
        let reader = KmsgReader::with_device(device, Path::new(name));
        LogInput::with(
            "kmsg",
            Box::new(KmsgFollower::new(reader)),
            None,
            Parser::new(options(Some(Format::Kmsg), "kmsg", None)),
        )
    }

    /// A file followed as it grows, from its start (a test's or a forwarder's file).
    pub fn file(path: &Path) -> Result<LogInput, LiveError> {
        let f = File::open(path).map_err(|source| LiveError::Read {
            what: path.display().to_string(),
            source,
        })?;
        let name = path.display().to_string();
        Ok(LogInput::with(
            "file",
            Box::new(StreamFollower::growing_file(f, &name)),
            None,
            Parser::new(options(None, &name, None)),
        ))
    }

    /// `journalctl -f -o json` from now on; `userspace_only` leaves out the kernel
    /// transport (kernel reports then come from /dev/kmsg alone). No shell is involved.
    pub fn journal(journalctl: &PathBuf, userspace_only: bool) -> Result<LogInput, LiveError> {
        let mut cmd = Command::new(journalctl);
        cmd.args(["-f", "-n", "0", "-o", "json", "--no-pager", "-q"]);
        if userspace_only {
            // Matches on one field are ORed: every transport but `kernel`.
            cmd.args([
                "_TRANSPORT=syslog",
                "_TRANSPORT=journal",
                "_TRANSPORT=stdout",
            ]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| LiveError::Spawn {
                program: journalctl.clone(),
                source,
            })?;
        let out: ChildStdout = child.stdout.take().expect("spawned with a piped stdout");
        let fd = out
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| LiveError::Read {
                what: "journalctl".into(),
                source,
            })?;
        let mut input = LogInput::with(
            "journal",
            Box::new(StreamFollower::pipe(out, "journalctl")),
            Some(fd),
            Parser::new(options(Some(Format::JournalJson), "journal", None)),
        );
        input._child = Some(child);
        Ok(input)
    }

    fn with(
        name: &'static str,
        follower: Box<dyn Follow>,
        fd: Option<OwnedFd>,
        parser: Parser,
    ) -> LogInput {
        LogInput {
            name,
            follower,
            fd,
            parser,
            raw: RawRing::default(),
            idle_due: false,
            more: false,
            lost: 0,
            overruns: 0,
            kills: (name == "kmsg").then(KillWatch::default),
            _child: None,
        }
    }

    /// The fd epoll should watch.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Read what is there now, without waiting; incidents complete so far go to `out`.
    /// An overrun is counted, never an error. `Ok(true)`: the log ended (a pipe closed).
    pub fn drain(&mut self, out: &mut Vec<Parsed>, d: &mut Drained) -> Result<bool, LiveError> {
        let mut ended = false;
        // Bounded per call so that a flood (or a long file read from its start) cannot
        // starve the other sources, and incidents are recorded as they complete.
        self.more = true;
        let start = d.lines;
        while d.lines - start < DRAIN_LINES {
            let (parser, raw, kills) = (&mut self.parser, &mut self.raw, &mut self.kills);
            let mut n = 0u64;
            let step = self.follower.next(Duration::ZERO, &mut |line| {
                parser.push_line(line);
                raw.push(parser.line(), line);
                if let Some(k) = kills.as_mut() {
                    k.line(line);
                }
                n += 1;
            })?;
            d.lines += n;
            if n > 0 {
                self.idle_due = true;
            }
            match step {
                Step::Data => continue,
                Step::Idle => {
                    self.more = false;
                    break;
                }
                Step::End => {
                    self.parser.finish();
                    (self.more, ended) = (false, true);
                    break;
                }
            }
        }
        let (lost, overruns) = (self.follower.records_lost(), self.follower.overruns());
        d.lost += lost - self.lost;
        d.overruns += overruns - self.overruns;
        (self.lost, self.overruns) = (lost, overruns);
        self.take(out);
        Ok(ended)
    }

    /// A kernel log whose last report line was a kill line with no `memory.oom.group`
    /// kill announced: the cgroups of that report. The caller closes the report at once
    /// ([`LogInput::idle`]) when no group kill can follow, instead of waiting for the log
    /// to stay quiet.
    pub fn kill_tail(&self) -> Option<&KillTail> {
        self.kills.as_ref().and_then(|k| k.tail.as_ref())
    }

    /// The log paused: close a report that has its kill line.
    pub fn idle(&mut self, out: &mut Vec<Parsed>) {
        self.idle_due = false;
        if let Some(k) = self.kills.as_mut() {
            k.tail = None;
        }
        self.parser.idle();
        self.take(out);
    }

    /// Stopping: close every report held.
    pub fn finish(&mut self, out: &mut Vec<Parsed>) {
        self.parser.finish();
        self.take(out);
    }

    fn take(&mut self, out: &mut Vec<Parsed>) {
        for incident in self.parser.take() {
            let raw = self.raw.cut(&incident.source);
            out.push(Parsed { incident, raw });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kill line ends a report unless a `memory.oom.group` kill was announced after the
    /// `oom-kill:` summary; the summary's cgroups come along (kmsg lines of Linux 6.1).
    #[test]
    fn a_kill_line_ends_a_report_unless_a_group_kill_follows() {
        let summary = "6,2001,100,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),\
                       cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=hog,pid=7,uid=0";
        let kill = "3,2002,101,-;Memory cgroup out of memory: Killed process 7 (hog) \
                    total-vm:10kB, anon-rss:5kB, file-rss:0kB, shmem-rss:0kB, UID:0 \
                    pgtables:4kB oom_score_adj:0";
        let mut w = KillWatch::default();
        w.line(b"6,2000,99,-;hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0");
        w.line(summary.as_bytes());
        assert_eq!(w.tail, None, "no kill yet");
        w.line(kill.as_bytes());
        assert_eq!(
            w.tail,
            Some(KillTail {
                oom_memcg: Some("/a".into()),
                task_memcg: Some("/a/b".into()),
            })
        );
        // A group kill: its announcement and member kills keep the report open.
        w.line(summary.as_bytes());
        w.line(kill.as_bytes());
        w.line(b"6,2003,102,-;Tasks in /a/b are going to be killed due to memory.oom.group set");
        assert_eq!(w.tail, None);
        w.line(b"3,2004,103,-;Memory cgroup out of memory: Killed process 8 (m) total-vm:1kB");
        assert_eq!(w.tail, None, "a member's kill");
        // An old kernel's report without the summary: a tail that names nothing.
        let mut old = KillWatch::default();
        old.line(b"3,5,1,-;Memory cgroup out of memory: Killed process 9 (x) total-vm:1kB");
        assert_eq!(old.tail, Some(KillTail::default()));
    }

    #[test]
    fn the_ring_cuts_a_span_and_stays_bounded() {
        let mut r = RawRing::default();
        for n in 1..=(RAW_LINES as u64 + 10) {
            r.push(n, format!("line {n}").as_bytes());
        }
        assert_eq!(r.lines.len(), RAW_LINES);
        let span = SourceSpan {
            file: None,
            first_line: 100,
            last_line: 102,
            format: None,
        };
        assert_eq!(r.cut(&span), ["line 100", "line 101", "line 102"]);
        // Evicted lines are not invented.
        let early = SourceSpan {
            first_line: 1,
            last_line: 10,
            ..span
        };
        assert!(r.cut(&early).is_empty());
        let mut big = RawRing::default();
        for n in 0..100 {
            big.push(n, &vec![b'x'; 64 << 10]);
        }
        assert!(big.bytes <= RAW_BYTES);
    }
}
