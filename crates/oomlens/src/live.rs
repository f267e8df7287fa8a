//! This host's kernel log: the journal when it holds kernel messages, else /dev/kmsg, else
//! the dmesg command. Each failure is kept so that, when nothing can be read, the error
//! names every input that was tried and why it failed.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use oomlens_parse::Format;
use oomlens_sources::kmsg::{KmsgReader, Read1, RECORD_MAX};

use crate::cli::{ExplainArgs, LiveSource};

/// A live log opened for reading from its start.
pub enum LiveLog {
    /// `journalctl -k -o json` output.
    Journal(std::process::Child),
    /// /dev/kmsg, non-blocking.
    Kmsg(KmsgReader),
    /// `dmesg` output.
    Dmesg(std::process::Child),
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

/// Open the live log the flags ask for. Also returns why the sources tried before it failed.
pub fn open(args: &ExplainArgs) -> anyhow::Result<(LiveLog, Vec<String>)> {
    let mut tried = Vec::new();
    let want = args.source;
    if matches!(want, LiveSource::Auto | LiveSource::Journal) {
        match journal_usable(args) {
            Ok(()) => {
                let child = spawn(&args.journalctl, &["-k", "-o", "json", "--no-pager", "-q"])?;
                return Ok((LiveLog::Journal(child), tried));
            }
            Err(e) if want == LiveSource::Journal => return Err(e),
            Err(e) => tried.push(format!("{e:#}")),
        }
    }
    if matches!(want, LiveSource::Auto | LiveSource::Kmsg) {
        match KmsgReader::open(&args.kmsg_path) {
            Ok(r) => return Ok((LiveLog::Kmsg(r), tried)),
            Err(e) if want == LiveSource::Kmsg => return Err(e.into()),
            Err(e) => tried.push(e.to_string()),
        }
    }
    match spawn(&args.dmesg, &[]) {
        Ok(c) => Ok((LiveLog::Dmesg(c), tried)),
        Err(e) if want == LiveSource::Dmesg => Err(e),
        Err(e) => {
            tried.push(format!("{e:#}"));
            Err(anyhow!(
                "no kernel log could be read ({})",
                tried.join("; ")
            ))
        }
    }
}

/// `journalctl -D DIR -o json` over a directory of journal files: every entry, every boot
/// and every host in it (no `-k`: that means `-b`, the last boot only, and would drop the
/// systemd, systemd-oomd and earlyoom messages). The arguments go to the program directly,
/// never through a shell. Returns the input name (DIR) and the running child.
pub fn open_journal_dir(
    journalctl: &Path,
    dir: &Path,
) -> anyhow::Result<(String, std::process::Child)> {
    let name = dir.display().to_string();
    // journalctl -D on a missing directory fails only after the output has begun; check
    // first so that a bad name fails with no output, like a bad FILE.
    let meta = std::fs::metadata(dir).with_context(|| format!("{name}: cannot open"))?;
    if !meta.is_dir() {
        bail!("{name}: not a directory (--journal-dir takes a directory of *.journal files)");
    }
    let mut cmd = Command::new(journalctl);
    cmd.arg("-D")
        .arg(dir)
        .args(["-o", "json", "--no-pager", "-q"]);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{}: cannot run", journalctl.display()))?;
    Ok((name, child))
}

fn spawn(program: &Path, args: &[&str]) -> anyhow::Result<std::process::Child> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{}: cannot run", program.display()))
}

/// The journal is used only when it holds at least one kernel message: in containers
/// journalctl often exists but has no journal files and prints nothing.
fn journal_usable(args: &ExplainArgs) -> anyhow::Result<()> {
    let out = Command::new(&args.journalctl)
        .args(["-k", "-n", "1", "-o", "json", "-q", "--no-pager"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{}: cannot run", args.journalctl.display()))?;
    if !out.status.success() {
        bail!(
            "{}: {} ({})",
            args.journalctl.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        bail!(
            "{}: the journal holds no kernel messages",
            args.journalctl.display()
        );
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
