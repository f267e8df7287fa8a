//! Logs read as they grow: /dev/kmsg record by record ([`KmsgFollower`]), the journal
//! through `journalctl -f -o json` ([`JournalFollower`]), or any byte stream line by line
//! ([`StreamFollower`]: a pipe, or a file that is being appended to). [`open_follow`] picks
//! one from [`SourceOptions`]; [`crate::Pipeline::follow`] drives any of them.

use std::io::{self, Read};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use oomlens_parse::{Format, MAX_LINE};
use oomlens_sources::kmsg::{KmsgReader, Read1, RecordDevice, RECORD_MAX};

use crate::source::{journal_usable, SourceKind, SourceOptions};
use crate::LiveError;

/// What one step of a follow brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Lines were handed on.
    Data,
    /// Nothing came within the wait: the log paused.
    Idle,
    /// The log ended (a pipe's writer closed it); what was held was handed on.
    End,
}

/// A log that can be read as it grows.
pub trait Follow {
    /// Hand on the lines that arrive within `wait` (without their newlines).
    fn next(&mut self, wait: Duration, line: &mut dyn FnMut(&[u8])) -> Result<Step, LiveError>;

    /// Records lost so far (overwritten before they were read).
    fn records_lost(&self) -> u64 {
        0
    }

    /// Overruns survived so far.
    fn overruns(&self) -> u64 {
        0
    }
}

/// /dev/kmsg (or any record device) followed record by record.
#[derive(Debug)]
pub struct KmsgFollower<D = std::fs::File> {
    reader: KmsgReader<D>,
    buf: Vec<u8>,
}

impl KmsgFollower {
    /// Open `path` and skip every record logged so far: only new ones are followed.
    pub fn open_at_end(path: &Path) -> Result<KmsgFollower, LiveError> {
        let mut reader = KmsgReader::open(path)?;
        reader.seek_end()?;
        Ok(KmsgFollower::new(reader))
    }
}

impl<D: RecordDevice> KmsgFollower<D> {
    /// Follow `reader` from where it is.
    pub fn new(reader: KmsgReader<D>) -> KmsgFollower<D> {
        KmsgFollower {
            reader,
            buf: vec![0; RECORD_MAX],
        }
    }
}

impl<D: RecordDevice> Follow for KmsgFollower<D> {
    fn next(&mut self, wait: Duration, line: &mut dyn FnMut(&[u8])) -> Result<Step, LiveError> {
        match self.reader.read(&mut self.buf, Some(wait))? {
            Read1::Record(n) => {
                for l in self.buf[..n]
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                {
                    line(l);
                }
                Ok(Step::Data)
            }
            Read1::Idle => Ok(Step::Idle),
        }
    }

    fn records_lost(&self) -> u64 {
        self.reader.lost
    }

    fn overruns(&self) -> u64 {
        self.reader.overruns
    }
}

/// A byte stream followed line by line. Lines longer than the parser's `MAX_LINE` are cut
/// there, as when reading a file once.
#[derive(Debug)]
pub struct StreamFollower<R> {
    r: R,
    name: String,
    /// A regular file being appended to: its end is a pause, not the end.
    growing_file: bool,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Skipping the rest of a cut line.
    in_long_line: bool,
}

impl<R: Read + AsRawFd> StreamFollower<R> {
    /// A pipe or socket: it ends when its writer closes it. `name` names it in errors.
    pub fn pipe(r: R, name: &str) -> StreamFollower<R> {
        StreamFollower::with(r, name, false)
    }

    /// A file being appended to (`tail -f`): it never ends; at its end the follower waits.
    pub fn growing_file(r: R, name: &str) -> StreamFollower<R> {
        StreamFollower::with(r, name, true)
    }

    fn with(r: R, name: &str, growing_file: bool) -> StreamFollower<R> {
        StreamFollower {
            r,
            name: name.to_string(),
            growing_file,
            buf: vec![0; 2 * MAX_LINE],
            start: 0,
            end: 0,
            in_long_line: false,
        }
    }

    fn error(&self, source: io::Error) -> LiveError {
        LiveError::Read {
            what: self.name.clone(),
            source,
        }
    }

    /// Wait up to `wait` for the pipe to be readable.
    fn readable(&self, wait: Duration) -> io::Result<bool> {
        oomlens_sources::poll::readable(self.r.as_raw_fd(), wait)
    }

    /// Hand on every complete line in the buffer; cut a line that fills `MAX_LINE`.
    fn lines(&mut self, line: &mut dyn FnMut(&[u8])) {
        loop {
            let region = &self.buf[self.start..self.end];
            match region.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if !self.in_long_line {
                        line(&region[..i.min(MAX_LINE)]);
                    }
                    self.in_long_line = false;
                    self.start += i + 1;
                }
                None if self.in_long_line => {
                    self.start = self.end;
                    return;
                }
                None if region.len() >= MAX_LINE => {
                    line(&region[..MAX_LINE]);
                    self.in_long_line = true;
                    self.start += MAX_LINE;
                }
                None => return,
            }
        }
    }
}

impl<R: Read + AsRawFd> Follow for StreamFollower<R> {
    fn next(&mut self, wait: Duration, line: &mut dyn FnMut(&[u8])) -> Result<Step, LiveError> {
        if !self.growing_file && !self.readable(wait).map_err(|e| self.error(e))? {
            return Ok(Step::Idle);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::Idle),
                Err(e) => return Err(self.error(e)),
            }
        };
        if n == 0 && self.growing_file {
            // At the end of a file being written: a pause; a partial line stays held.
            std::thread::sleep(wait);
            return Ok(Step::Idle);
        }
        if n == 0 {
            if self.start < self.end && !self.in_long_line {
                line(&self.buf[self.start..self.end]);
            }
            self.start = 0;
            self.end = 0;
            return Ok(Step::End);
        }
        self.end += n;
        self.lines(line);
        Ok(Step::Data)
    }
}

/// At most this much of a followed program's standard error is kept for its error message.
const STDERR_KEPT: u64 = 4096;

/// `journalctl -f -o json` from now on (`-n 0`: no entry logged before). The child is
/// killed when the follower is dropped.
#[derive(Debug)]
pub struct JournalFollower {
    program: PathBuf,
    child: Child,
    stream: StreamFollower<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
}

impl JournalFollower {
    /// Run `journalctl -f` (with `-k` when `kernel_only`: kernel messages of this boot;
    /// without, also systemd-oomd's, earlyoom's and the kubelet's). No shell is involved.
    pub fn spawn(journalctl: &Path, kernel_only: bool) -> Result<JournalFollower, LiveError> {
        let mut cmd = Command::new(journalctl);
        if kernel_only {
            cmd.arg("-k");
        }
        cmd.args(["-f", "-n", "0", "-o", "json", "--no-pager", "-q"]);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| LiveError::Spawn {
                program: journalctl.to_path_buf(),
                source,
            })?;
        let stdout = child.stdout.take().expect("spawned with a piped stdout");
        let mut stderr = child.stderr.take().expect("spawned with a piped stderr");
        // Drained on a thread so that a chatty journalctl cannot block on a full pipe; the
        // start is kept for the error message.
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut stderr).take(STDERR_KEPT).read_to_end(&mut kept);
            let _ = io::copy(&mut stderr, &mut io::sink());
            String::from_utf8_lossy(&kept).into_owned()
        });
        Ok(JournalFollower {
            program: journalctl.to_path_buf(),
            child,
            stream: StreamFollower::pipe(stdout, "journalctl"),
            stderr: Some(stderr),
        })
    }

    /// journalctl ended its output: how it exited decides whether that is an error.
    fn ended(&mut self) -> Result<Step, LiveError> {
        let what = self.program.display().to_string();
        let status = self.child.wait().map_err(|source| LiveError::Wait {
            what: what.clone(),
            source,
        })?;
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        if !status.success() {
            return Err(LiveError::Failed {
                what,
                status,
                stderr: stderr.trim().to_string(),
            });
        }
        Ok(Step::End)
    }
}

impl Follow for JournalFollower {
    fn next(&mut self, wait: Duration, line: &mut dyn FnMut(&[u8])) -> Result<Step, LiveError> {
        match self.stream.next(wait, line)? {
            Step::End => self.ended(),
            step => Ok(step),
        }
    }
}

impl Drop for JournalFollower {
    fn drop(&mut self) {
        if self.stderr.is_some() {
            // Still running (`journalctl -f` ends only when killed): stop it, reap it.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A live log followed from now on, picked from [`SourceOptions`].
#[derive(Debug)]
pub enum Following {
    /// /dev/kmsg.
    Kmsg(KmsgFollower),
    /// `journalctl -f -k -o json`.
    Journal(JournalFollower),
}

impl Following {
    /// The input name for incidents' `source.file`.
    pub fn name(&self) -> &'static str {
        match self {
            Following::Kmsg(_) => "kmsg",
            Following::Journal(_) => "journal",
        }
    }

    /// The form its lines are in, for the parser.
    pub fn format(&self) -> Format {
        match self {
            Following::Kmsg(_) => Format::Kmsg,
            Following::Journal(_) => Format::JournalJson,
        }
    }
}

impl Follow for Following {
    fn next(&mut self, wait: Duration, line: &mut dyn FnMut(&[u8])) -> Result<Step, LiveError> {
        match self {
            Following::Kmsg(f) => f.next(wait, line),
            Following::Journal(f) => f.next(wait, line),
        }
    }

    fn records_lost(&self) -> u64 {
        match self {
            Following::Kmsg(f) => f.records_lost(),
            Following::Journal(f) => f.records_lost(),
        }
    }

    fn overruns(&self) -> u64 {
        match self {
            Following::Kmsg(f) => f.overruns(),
            Following::Journal(f) => f.overruns(),
        }
    }
}

/// Follow the live log `opts` asks for, from now on: the journal's kernel messages when
/// the journal holds any, else /dev/kmsg ([`SourceKind::Auto`]), or the one named. dmesg
/// cannot be followed without re-reading what it printed before, so
/// [`SourceKind::Dmesg`] is refused. When nothing opens, the error names every source
/// tried.
pub fn open_follow(opts: &SourceOptions) -> Result<Following, LiveError> {
    let mut tried = Vec::new();
    if matches!(opts.kind, SourceKind::Auto | SourceKind::Journal) {
        match journal_usable(&opts.journalctl) {
            Ok(()) => {
                return JournalFollower::spawn(&opts.journalctl, true).map(Following::Journal)
            }
            Err(e) if opts.kind == SourceKind::Journal => return Err(e),
            Err(e) => tried.push(e),
        }
    }
    if opts.kind == SourceKind::Dmesg {
        return Err(LiveError::NotFollowable {
            program: opts.dmesg.clone(),
        });
    }
    match KmsgFollower::open_at_end(&opts.kmsg_path) {
        Ok(f) => Ok(Following::Kmsg(f)),
        Err(e) if tried.is_empty() => Err(e),
        Err(e) => {
            tried.push(e);
            Err(LiveError::NoSource { tried, last: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_stream_is_cut_into_lines_across_reads_and_long_lines_are_cut() {
        let (mut w, r) = UnixStream::pair().unwrap();
        let mut f = StreamFollower::pipe(r, "pipe");
        let mut got: Vec<Vec<u8>> = Vec::new();
        let wait = Duration::from_millis(10);
        w.write_all(b"one\ntw").unwrap();
        assert_eq!(
            f.next(wait, &mut |l| got.push(l.to_vec())).unwrap(),
            Step::Data
        );
        assert_eq!(got, [b"one".to_vec()]);
        assert_eq!(
            f.next(wait, &mut |l| got.push(l.to_vec())).unwrap(),
            Step::Idle
        );
        let long = vec![b'x'; MAX_LINE + 10];
        w.write_all(b"o\n").unwrap();
        w.write_all(&long).unwrap();
        w.write_all(b"\nlast").unwrap();
        drop(w);
        while f.next(wait, &mut |l| got.push(l.to_vec())).unwrap() != Step::End {}
        let shown: Vec<String> = got
            .iter()
            .map(|l| match l.iter().all(|&b| b == b'x') {
                true => format!("x*{}", l.len()),
                false => String::from_utf8_lossy(l).into_owned(),
            })
            .collect();
        assert_eq!(shown, ["one", "two", &format!("x*{MAX_LINE}"), "last"]);
    }
}
