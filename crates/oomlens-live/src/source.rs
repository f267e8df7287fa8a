//! This host's kernel log: the journal when it holds kernel messages, else /dev/kmsg, else
//! the dmesg command; and the other inputs read once (log files, journal directories).
//! Programs are run with their arguments given directly, never through a shell. Each
//! failure is kept so that, when nothing can be read, the error names every input that was
//! tried and why it failed.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use oomlens_parse::Format;
use oomlens_sources::kmsg::{KmsgReader, Read1, RECORD_MAX};

use crate::LiveError;

/// Which live log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    /// The journal if it has kernel messages, else /dev/kmsg, else dmesg.
    #[default]
    Auto,
    /// `journalctl -k`.
    Journal,
    /// /dev/kmsg.
    Kmsg,
    /// The dmesg command.
    Dmesg,
}

/// Where the live logs are and which one to read.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Which log.
    pub kind: SourceKind,
    /// The kernel log device.
    pub kmsg_path: PathBuf,
    /// The journalctl program.
    pub journalctl: PathBuf,
    /// The dmesg program.
    pub dmesg: PathBuf,
    /// The root of the host's /proc (boot time) and of its owner files (unit files,
    /// container and pod names).
    pub root: PathBuf,
}

impl Default for SourceOptions {
    fn default() -> SourceOptions {
        SourceOptions {
            kind: SourceKind::Auto,
            kmsg_path: oomlens_sources::kmsg::DEFAULT_PATH.into(),
            journalctl: "journalctl".into(),
            dmesg: "dmesg".into(),
            root: oomlens_sources::procfs::DEFAULT_ROOT.into(),
        }
    }
}

impl SourceOptions {
    /// The host's boot time, for kernel logs stamped with time since boot; `None` when
    /// /proc does not say.
    ///
    /// On this host (root `/`) it is CLOCK_REALTIME − CLOCK_MONOTONIC, read now: kmsg stamps
    /// are the kernel's `local_clock()` (kernel/printk/printk.c), which CLOCK_MONOTONIC
    /// follows (neither counts suspend), while `/proc/stat`'s `btime` is whole seconds and
    /// put a kill up to 1 s late on the wall clock (seen in a report's chart: the kill marked
    /// 0.8 s before the samples reached the limit). Both drift from `local_clock()` as NTP
    /// slews the clock (~0.1 s after 15 h here, bench/README.md). A tree elsewhere (tests,
    /// another root) keeps `btime`.
    pub fn boot_time_us(&self) -> Option<i64> {
        if self.root == Path::new(oomlens_sources::procfs::DEFAULT_ROOT) {
            return Some(realtime_minus_monotonic_us());
        }
        oomlens_sources::procfs::ProcFs::new(&self.root)
            .boot_time_us()
            .ok()
    }
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC in microseconds: the Unix time at which the monotonic
/// clock read zero. The tightest of a few bracketed reads.
fn realtime_minus_monotonic_us() -> i64 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec; both clocks always exist on Linux.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    let mut best = (i64::MAX, 0);
    for _ in 0..5 {
        let m0 = read(libc::CLOCK_MONOTONIC);
        let r = read(libc::CLOCK_REALTIME);
        let m1 = read(libc::CLOCK_MONOTONIC);
        if m1 - m0 < best.0 {
            best = (m1 - m0, r - (m0 + (m1 - m0) / 2));
        }
    }
    best.1 / 1000
}

/// A live log opened for reading from its start.
#[derive(Debug)]
pub enum LiveLog {
    /// `journalctl -k -o json` output.
    Journal(Child),
    /// /dev/kmsg, non-blocking.
    Kmsg(KmsgReader),
    /// `dmesg` output.
    Dmesg(Child),
}

impl LiveLog {
    /// The input name used in incidents' `source.file`.
    pub fn name(&self) -> &'static str {
        match self {
            LiveLog::Journal(_) => "journal",
            LiveLog::Kmsg(_) => "kmsg",
            LiveLog::Dmesg(_) => "dmesg",
        }
    }

    /// The form its bytes are in.
    pub fn format(&self) -> Format {
        match self {
            LiveLog::Journal(_) => Format::JournalJson,
            LiveLog::Kmsg(_) => Format::Kmsg,
            LiveLog::Dmesg(_) => Format::Dmesg,
        }
    }
}

/// A live log and why the sources tried before it failed.
#[derive(Debug)]
pub struct Opened {
    /// The log.
    pub log: LiveLog,
    /// The sources tried first, with their errors (empty when the first one opened).
    pub tried: Vec<LiveError>,
}

impl Opened {
    /// The error to report when reading the opened log failed with `e`: `e` itself when it
    /// was the first source tried, else one error naming every source tried.
    pub fn read_failed(tried: Vec<LiveError>, e: LiveError) -> LiveError {
        if tried.is_empty() {
            e
        } else {
            LiveError::NoSource {
                tried,
                last: Some(Box::new(e)),
            }
        }
    }
}

/// Open the live log `opts` asks for. With [`SourceKind::Auto`], the first that opens.
pub fn open(opts: &SourceOptions) -> Result<Opened, LiveError> {
    let mut tried = Vec::new();
    let want = opts.kind;
    if matches!(want, SourceKind::Auto | SourceKind::Journal) {
        match journal_usable(&opts.journalctl) {
            Ok(()) => {
                let child = spawn(&opts.journalctl, &["-k", "-o", "json", "--no-pager", "-q"])?;
                return Ok(Opened {
                    log: LiveLog::Journal(child),
                    tried,
                });
            }
            Err(e) if want == SourceKind::Journal => return Err(e),
            Err(e) => tried.push(e),
        }
    }
    if matches!(want, SourceKind::Auto | SourceKind::Kmsg) {
        match KmsgReader::open(&opts.kmsg_path) {
            Ok(r) => {
                return Ok(Opened {
                    log: LiveLog::Kmsg(r),
                    tried,
                })
            }
            Err(e) if want == SourceKind::Kmsg => return Err(e.into()),
            Err(e) => tried.push(e.into()),
        }
    }
    match spawn(&opts.dmesg, &[]) {
        Ok(c) => Ok(Opened {
            log: LiveLog::Dmesg(c),
            tried,
        }),
        Err(e) if want == SourceKind::Dmesg => Err(e),
        Err(e) => {
            tried.push(e);
            Err(LiveError::NoSource { tried, last: None })
        }
    }
}

/// `journalctl -D DIR -o json` over a directory of journal files: every entry, every boot
/// and every host in it (no `-k`: that means `-b`, the last boot only, and would drop the
/// systemd, systemd-oomd and earlyoom messages). Returns the input name (DIR) and the
/// running child.
pub fn open_journal_dir(journalctl: &Path, dir: &Path) -> Result<(String, Child), LiveError> {
    let name = dir.display().to_string();
    // journalctl -D on a missing directory fails only after the output has begun; check
    // first so that a bad name fails with no output, like a bad file.
    let meta = std::fs::metadata(dir).map_err(|source| LiveError::Open {
        name: name.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(LiveError::NotADirectory { name });
    }
    let mut cmd = Command::new(journalctl);
    cmd.arg("-D")
        .arg(dir)
        .args(["-o", "json", "--no-pager", "-q"]);
    let child = piped(&mut cmd).spawn().map_err(|source| LiveError::Spawn {
        program: journalctl.to_path_buf(),
        source,
    })?;
    Ok((name, child))
}

/// Open a log file: its name for messages, the file and its length. A directory is refused.
pub fn open_file(path: &Path) -> Result<(String, File, u64), LiveError> {
    let name = path.display().to_string();
    let f = File::open(path).map_err(|source| LiveError::Open {
        name: name.clone(),
        source,
    })?;
    let meta = f.metadata().map_err(|source| LiveError::Stat {
        name: name.clone(),
        source,
    })?;
    if meta.is_dir() {
        return Err(LiveError::IsDirectory { name });
    }
    Ok((name, f, meta.len()))
}

fn piped(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}

fn spawn(program: &Path, args: &[&str]) -> Result<Child, LiveError> {
    piped(Command::new(program).args(args))
        .spawn()
        .map_err(|source| LiveError::Spawn {
            program: program.to_path_buf(),
            source,
        })
}

/// The journal is used only when it holds at least one kernel message: in containers
/// journalctl often exists but has no journal files and prints nothing.
pub(crate) fn journal_usable(journalctl: &Path) -> Result<(), LiveError> {
    let out = Command::new(journalctl)
        .args(["-k", "-n", "1", "-o", "json", "-q", "--no-pager"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LiveError::Spawn {
            program: journalctl.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(LiveError::JournalFailed {
            program: journalctl.to_path_buf(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(LiveError::JournalEmpty {
            program: journalctl.to_path_buf(),
        });
    }
    Ok(())
}

/// /dev/kmsg as a byte stream of records that ends when no record is left.
pub struct KmsgStream<'a> {
    reader: &'a mut KmsgReader,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl<'a> KmsgStream<'a> {
    /// Wrap a reader.
    pub fn new(reader: &'a mut KmsgReader) -> KmsgStream<'a> {
        KmsgStream {
            reader,
            buf: vec![0; RECORD_MAX],
            pos: 0,
            len: 0,
        }
    }
}

impl Read for KmsgStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            match self
                .reader
                .read(&mut self.buf, None)
                .map_err(io::Error::other)?
            {
                Read1::Record(n) => {
                    self.pos = 0;
                    self.len = n;
                }
                Read1::Idle => return Ok(0),
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(name: &str) -> PathBuf {
        PathBuf::from(format!("/nonexistent/oomlens-live/{name}"))
    }

    #[test]
    fn auto_names_every_source_tried_when_none_opens() {
        let opts = SourceOptions {
            kind: SourceKind::Auto,
            kmsg_path: missing("kmsg"),
            journalctl: missing("journalctl"),
            dmesg: missing("dmesg"),
            root: "/".into(),
        };
        let e = open(&opts).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LiveError::NoSource { ref tried, last: None } if tried.len() == 3));
        for part in [
            "/nonexistent/oomlens-live/journalctl: cannot run: ",
            "/nonexistent/oomlens-live/kmsg: ",
            "/nonexistent/oomlens-live/dmesg: cannot run: ",
        ] {
            assert!(msg.contains(part), "{msg}");
        }
    }

    #[test]
    fn a_chosen_source_fails_alone() {
        let opts = SourceOptions {
            kind: SourceKind::Kmsg,
            kmsg_path: missing("kmsg"),
            ..SourceOptions::default()
        };
        let e = open(&opts).unwrap_err();
        assert!(matches!(e, LiveError::Source(_)), "{e:?}");
        assert!(e
            .to_string()
            .starts_with("/nonexistent/oomlens-live/kmsg: "));
    }

    #[test]
    fn files_and_journal_dirs_are_checked_before_reading() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            open_file(&dir).unwrap_err(),
            LiveError::IsDirectory { .. }
        ));
        let e = open_journal_dir(Path::new("journalctl"), &missing("journal")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/nonexistent/oomlens-live/journal: cannot open"));
    }
}
