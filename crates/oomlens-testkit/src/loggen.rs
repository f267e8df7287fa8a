//! A generator of large, realistic kernel logs with real OOM reports interleaved.
//!
//! The bench (`bench/explain.sh`) and the bounded-memory tests of the `oomlens` binary need
//! logs of hundreds of megabytes whose OOM reports are known exactly. [`Generator`] writes
//! ordinary kernel noise (audit, USB, ext4, netfilter, TCP, journald, segfaults, `WARNING`
//! call traces, `page allocation failure` warnings with a full `Mem-Info` dump, a SysRq
//! `Show Memory` dump, userspace lines that say `Killed` or `out of memory` without being an
//! OOM kill, ...) in one [`LogForm`], and inserts the kernel OOM reports of the corpus
//! (`MANIFEST.tsv` + `*.log`, see [`Corpus`]) at a chosen mean distance, re-stamped into that
//! form with monotonically increasing timestamps.
//!
//! What a consumer may rely on:
//! - Output depends only on the corpus and [`Options`]: the same seed gives the same bytes.
//! - Noise never contains `Killed process`, `invoked oom-killer`, `oom-kill:`, `oom_reaper`
//!   or `Memory cgroup out of memory`, so `grep -c 'Killed process'` on the output equals
//!   [`Stats::killed_process_lines`].
//! - Every inserted report is listed in [`Stats::inserted`] with its line range in the output
//!   and the number of OOM events it holds (the manifest's `number_of_kills_in_file`).
//!   [`check`] matches a parser's incidents against that list.
//! - Nothing is buffered beyond one chunk (64 KiB, or one report): a [`Generator`] is a
//!   [`Read`] that can feed gigabytes into a pipe without storing them.
//!
//! The output forms are the ones the corpus README names: `dmesg` (`[ uptime] msg`),
//! `journal` (journalctl short: `Mon dd hh:mm:ss host ident: msg`, multi-line messages as
//! indented continuation lines), `syslog` (rsyslog with RFC 3339 timestamps; multi-line
//! messages joined with rsyslog's `#012` escape) and `kmsg` (raw `/dev/kmsg` records
//! `prio,seq,usec,flags;msg`). dmesg and kmsg carry kernel lines only (plus the few userspace
//! daemons that write to `/dev/kmsg`); journal and syslog carry userspace lines too.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The corpus directory used when neither `--corpus` nor [`CORPUS_ENV`] names one: the real
/// reports kept in the repository (`tests/corpus/oom-reports`).
pub const DEFAULT_CORPUS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports"
);

/// Environment variable that overrides [`DEFAULT_CORPUS_DIR`].
pub const CORPUS_ENV: &str = "OOMLENS_CORPUS";

/// Bytes generated per [`Generator::next_chunk`] call (a report is never split).
const CHUNK: usize = 64 * 1024;

/// The substring counted in [`Stats::killed_process_lines`].
pub const KILLED_PROCESS: &str = "Killed process";

// ---------------------------------------------------------------------------------------------
// Random numbers

/// A small deterministic PRNG (SplitMix64): the same seed gives the same stream on every
/// platform and every version of this crate's dependencies.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c908)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Log forms

/// The layout of the generated log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogForm {
    /// `dmesg`: `[ 1234.567890] msg`, kernel lines only.
    Dmesg,
    /// journalctl's short form: `Mar 10 07:12:33 host kernel: msg`.
    Journal,
    /// rsyslog with RFC 3339 timestamps: `2024-03-10T07:12:33.123456+00:00 host kernel: msg`.
    Syslog,
    /// Raw `/dev/kmsg` records: `6,1234,5678901,-;msg`.
    Kmsg,
}

impl LogForm {
    /// Every form, in documentation order.
    pub const ALL: [LogForm; 4] = [
        LogForm::Dmesg,
        LogForm::Journal,
        LogForm::Syslog,
        LogForm::Kmsg,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogForm::Dmesg => "dmesg",
            LogForm::Journal => "journal",
            LogForm::Syslog => "syslog",
            LogForm::Kmsg => "kmsg",
        }
    }

    /// True for forms that carry kernel messages only.
    pub fn kernel_only(self) -> bool {
        matches!(self, LogForm::Dmesg | LogForm::Kmsg)
    }
}

impl fmt::Display for LogForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogForm {
    type Err = String;

    fn from_str(s: &str) -> Result<LogForm, String> {
        match s {
            "dmesg" => Ok(LogForm::Dmesg),
            "journal" | "journal-short" => Ok(LogForm::Journal),
            "syslog" => Ok(LogForm::Syslog),
            "kmsg" | "raw-kmsg" => Ok(LogForm::Kmsg),
            _ => Err(format!(
                "unknown log form {s:?} (dmesg, journal, syslog, kmsg)"
            )),
        }
    }
}

/// Parses a size such as `200M`, `2MiB`, `1G`, `64k` or `1048576` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?} (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

// ---------------------------------------------------------------------------------------------
// The corpus

/// One line of a corpus report, with the corpus file's own prefix removed.
#[derive(Debug, Clone)]
struct ReportLine {
    /// `None` for kernel lines, else the syslog identifier (`systemd`, `dockerd[12]`).
    ident: Option<String>,
    /// The message as the program printed it.
    body: String,
    /// A continuation line of a multi-line message (journalctl's indented lines).
    cont: bool,
    /// The body contains [`KILLED_PROCESS`].
    killed: bool,
    /// The kmsg log level the kernel would have used.
    level: u8,
}

/// One corpus file and its manifest row.
#[derive(Debug, Clone)]
pub struct CorpusReport {
    /// The file name (`035-qemu-6.11-global-dmesg-stress-ng-rss-columns.log`).
    pub name: String,
    /// The manifest's `kind` (`global`, `memcg`, `cpuset`, `systemd-oomd`, ...).
    pub kind: String,
    /// The manifest's `log_format` of the file.
    pub log_format: String,
    /// The manifest's `completeness`.
    pub completeness: String,
    /// The first victim's pid, when the manifest gives one.
    pub victim_pid: Option<u32>,
    /// OOM events in the file (the manifest's `number_of_kills_in_file`).
    pub incidents: u32,
    /// The manifest's notes.
    pub notes: String,
    /// The file's bytes as stored.
    pub raw: Vec<u8>,
    lines: Vec<ReportLine>,
}

impl CorpusReport {
    /// True for a kernel OOM report (`global`, `memcg`, `cpuset`).
    pub fn is_kernel(&self) -> bool {
        matches!(self.kind.as_str(), "global" | "memcg" | "cpuset")
    }

    /// True when the file ends with the start of a next OOM event that has no kill.
    pub fn is_dangling(&self) -> bool {
        self.name.contains("dangling") || self.notes.contains("NEXT OOM")
    }

    /// The message lines (prefix removed) that a log of `form` would carry.
    pub fn bodies(&self, form: LogForm) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(move |l| l.ident.is_none() || !form.kernel_only())
            .map(|l| l.body.as_str())
    }

    /// How many `Killed process` lines the report has in `form`.
    pub fn killed_process_lines(&self, form: LogForm) -> u32 {
        self.lines
            .iter()
            .filter(|l| l.killed && (l.ident.is_none() || !form.kernel_only()))
            .count() as u32
    }
}

/// The corpus of real OOM reports: `MANIFEST.tsv` and the files it names.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Every manifest row whose file was read, in manifest order.
    pub reports: Vec<CorpusReport>,
}

/// Which corpus reports a [`Generator`] inserts.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Also use `fragment` reports (a few key lines, e.g. grep output). Off by default: a
    /// grep-filtered fragment inside a full log is not what a real log looks like.
    pub fragments: bool,
    /// Use only reports whose file name starts with one of these (e.g. `035`).
    pub only: Vec<String>,
}

impl Corpus {
    /// The corpus directory: `$OOMLENS_CORPUS` or [`DEFAULT_CORPUS_DIR`].
    pub fn default_dir() -> PathBuf {
        match std::env::var_os(CORPUS_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(DEFAULT_CORPUS_DIR),
        }
    }

    /// Reads the corpus in [`Corpus::default_dir`].
    pub fn load_default() -> io::Result<Corpus> {
        Corpus::load(&Corpus::default_dir())
    }

    /// Reads `MANIFEST.tsv` in `dir` and every file it lists.
    pub fn load(dir: &Path) -> io::Result<Corpus> {
        let manifest_path = dir.join("MANIFEST.tsv");
        let manifest =
            fs::read_to_string(&manifest_path).map_err(|e| with_path(e, &manifest_path))?;
        let mut lines = manifest.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
        let col = |name: &str| -> io::Result<usize> {
            header.iter().position(|h| *h == name).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: no column {name:?}", manifest_path.display()),
                )
            })
        };
        let (c_file, c_format, c_kind) = (col("file")?, col("log_format")?, col("kind")?);
        let (c_pid, c_kills) = (col("victim_pid")?, col("number_of_kills_in_file")?);
        let (c_compl, c_notes) = (col("completeness")?, col("notes")?);
        let mut reports = Vec::new();
        for row in lines.filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = row.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let path = dir.join(get(c_file));
            let raw = fs::read(&path).map_err(|e| with_path(e, &path))?;
            let text = String::from_utf8_lossy(&raw);
            reports.push(CorpusReport {
                name: get(c_file).to_string(),
                kind: get(c_kind).to_string(),
                log_format: get(c_format).to_string(),
                completeness: get(c_compl).to_string(),
                victim_pid: get(c_pid).parse().ok(),
                incidents: get(c_kills).parse().unwrap_or(0),
                notes: get(c_notes).to_string(),
                lines: split_report(get(c_format), &text),
                raw,
            });
        }
        Ok(Corpus { reports })
    }

    /// The report whose file name starts with `prefix` (`"035"`).
    pub fn get(&self, prefix: &str) -> Option<&CorpusReport> {
        self.reports.iter().find(|r| r.name.starts_with(prefix))
    }

    /// The reports a generator inserts: kernel OOM reports, complete enough, without a
    /// dangling next event (whose expected incident count is a matter of policy).
    pub fn select(&self, sel: &Selection) -> Vec<&CorpusReport> {
        self.reports
            .iter()
            .filter(|r| r.is_kernel() && !r.is_dangling() && r.incidents > 0)
            .filter(|r| sel.fragments || r.completeness != "fragment")
            .filter(|r| sel.only.is_empty() || sel.only.iter().any(|p| r.name.starts_with(p)))
            .collect()
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Splits a corpus file into message lines, removing the file's own line prefix.
fn split_report(log_format: &str, text: &str) -> Vec<ReportLine> {
    let mut out: Vec<ReportLine> = Vec::new();
    let mut prev_prefix = 0usize;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed == "..." || trimmed == "--" {
            continue;
        }
        let (ident, body, cont) = match log_format {
            "dmesg" | "dmesg-T" => match strip_bracket_stamp(line) {
                Some(body) => (None, body.to_string(), false),
                None => (None, line.to_string(), false),
            },
            "journal-short" | "syslog" => match split_syslog_prefix(line) {
                Some((ident, body, plen)) => {
                    prev_prefix = plen;
                    // rsyslog keeps the kernel's own stamp: `kernel: [  517.92] msg` (238).
                    let body = match ident {
                        "kernel" => strip_bracket_stamp(body).unwrap_or(body),
                        _ => body,
                    };
                    let ident = (ident != "kernel").then(|| ident.to_string());
                    (ident, body.to_string(), false)
                }
                None if line.starts_with("-- ") => continue, // journalctl headers, catalog
                None if line.starts_with(' ') => {
                    let indent = line.len() - line.trim_start().len();
                    let extra = indent.saturating_sub(prev_prefix).min(1);
                    let body = format!("{}{}", " ".repeat(extra), line.trim_start());
                    let ident = out.last().and_then(|l| l.ident.clone());
                    (ident, body, true)
                }
                None => (None, line.to_string(), false),
            },
            _ => {
                // A console that stamps lines before the kernel's own stamp (233:
                // `[2025-06-04 17:51:20] [   21.719618] msg`): both stamps go.
                let mut body = line;
                for _ in 0..2 {
                    match strip_bracket_stamp(body) {
                        Some(b) => body = b,
                        None => break,
                    }
                }
                (None, body.to_string(), false)
            }
        };
        let level = kmsg_level(&body);
        out.push(ReportLine {
            killed: body.contains(KILLED_PROCESS),
            ident,
            body,
            cont,
            level,
        });
    }
    out
}

/// `[ 12.345678] msg` or `[Thu May  9 14:52:38 2024] msg` → `msg`.
fn strip_bracket_stamp(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    let stamp = &rest[..end];
    // `12.345678` (dmesg) or a date with `hh:mm:ss` (dmesg -T); not a task-table row
    // (`[  268]`) or a call-trace address (`[<ffffffff81686f13>]`, `[c000000003f0b8c0]`).
    let dmesg = stamp.trim_start().split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    if !dmesg && !stamp.contains(':') {
        return None;
    }
    let body = &rest[end + 1..];
    Some(body.strip_prefix(' ').unwrap_or(body))
}

/// Splits `Mon dd hh:mm:ss host ident: msg` (localized month, empty host allowed) or
/// `2024-03-10T07:12:33.123+00:00 host ident: msg` into (ident, msg, prefix length).
fn split_syslog_prefix(line: &str) -> Option<(&str, &str, usize)> {
    let b = line.as_bytes();
    let mut i;
    if b.len() > 11 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T' {
        i = line.find(' ')?;
    } else {
        i = line.find(' ')?;
        if i == 0 || i > 12 {
            return None;
        }
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let day = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if day == 0 || day > 2 {
            return None;
        }
        i += day;
        if b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let t = b.get(i..i + 8)?;
        if !(t[2] == b':' && t[5] == b':' && t.iter().filter(|c| c.is_ascii_digit()).count() == 6) {
            return None;
        }
        i += 8;
    }
    // One space, the host (possibly empty), one space.
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let host_end = i + line[i..].find(' ')?;
    i = host_end + 1;
    let colon = i + line[i..].find(':')?;
    let ident = &line[i..colon];
    if ident.is_empty() || ident.contains(' ') {
        return None;
    }
    let mut body_start = colon + 1;
    if b.get(body_start) == Some(&b' ') {
        body_start += 1;
    }
    Some((ident, &line[body_start..], body_start))
}

/// The kmsg level (`KERN_*`) a report line was most likely printed at.
fn kmsg_level(body: &str) -> u8 {
    if body.contains(KILLED_PROCESS) || body.contains("ut of memory") {
        3
    } else if body.contains("invoked oom-killer") || body.contains("Call Trace") {
        4
    } else if body.starts_with("oom-kill:") || body.starts_with('[') || body.starts_with("Tasks") {
        6
    } else {
        4
    }
}

// ---------------------------------------------------------------------------------------------
// Generator configuration and results

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The log layout.
    pub form: LogForm,
    /// Stop after the first line that brings the output to at least this many bytes
    /// (the long line of `long_line` counts).
    pub size: u64,
    /// Mean distance between OOM reports, in bytes (each gap is uniform in 0.5–1.5 times
    /// this); 0 inserts no reports except `lead_report`.
    pub report_every: u64,
    /// The seed: same seed, same output.
    pub seed: u64,
    /// The host name of journal and syslog lines.
    pub host: String,
    /// Which corpus reports to insert.
    pub selection: Selection,
    /// In journal and syslog forms, let userspace lines fall between the lines of a report
    /// (as journald interleaves them) about once per 40 report lines.
    pub interleave: bool,
    /// When non-zero, the output starts with one line of exactly this many bytes (before its
    /// newline), prefix included: a kernel line carrying a huge base64-like blob.
    pub long_line: u64,
    /// Insert a report right at the start (after the long line, if any).
    pub lead_report: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            form: LogForm::Dmesg,
            size: 16 << 20,
            report_every: 2 << 20,
            seed: 1,
            host: "web-03".to_string(),
            selection: Selection::default(),
            interleave: true,
            long_line: 0,
            lead_report: false,
        }
    }
}

/// One report placed in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Output line (1-based) of the report's first line.
    pub first_line: u64,
    /// Output line of its last line.
    pub last_line: u64,
    /// The corpus file name.
    pub report: String,
    /// The first victim's pid per the manifest.
    pub victim_pid: Option<u32>,
    /// OOM events the report holds.
    pub incidents: u32,
    /// Its `Killed process` lines.
    pub killed_process_lines: u32,
}

/// What a generator wrote.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Bytes written.
    pub bytes: u64,
    /// Lines written.
    pub lines: u64,
    /// OOM reports inserted.
    pub reports: u64,
    /// OOM events inserted (a report can hold several).
    pub incidents: u64,
    /// Lines containing `Killed process` (all inside reports).
    pub killed_process_lines: u64,
    /// Every inserted report, in output order.
    pub inserted: Vec<Inserted>,
}

impl Stats {
    /// The one-line summary the CLI prints to stderr: `key=value` pairs.
    pub fn summary(&self, opts: &Options) -> String {
        format!(
            "bytes={} lines={} reports={} incidents={} killed_process_lines={} form={} seed={}",
            self.bytes,
            self.lines,
            self.reports,
            self.incidents,
            self.killed_process_lines,
            opts.form,
            opts.seed
        )
    }

    /// Writes the inserted reports as TSV with a header row.
    pub fn write_manifest<W: Write>(&self, mut w: W) -> io::Result<()> {
        writeln!(
            w,
            "first_line\tlast_line\treport\tvictim_pid\tincidents\tkilled_process_lines"
        )?;
        for i in &self.inserted {
            let pid = i
                .victim_pid
                .map_or_else(|| "-".to_string(), |p| p.to_string());
            writeln!(
                w,
                "{}\t{}\t{}\t{}\t{}\t{}",
                i.first_line, i.last_line, i.report, pid, i.incidents, i.killed_process_lines
            )?;
        }
        Ok(())
    }
}

/// Reads a manifest written by [`Stats::write_manifest`].
pub fn read_manifest(text: &str) -> Result<Vec<Inserted>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| -> Result<u64, String> {
            f.get(i)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("manifest line {}: bad field {}", n + 1, i + 1))
        };
        out.push(Inserted {
            first_line: num(0)?,
            last_line: num(1)?,
            report: f.get(2).unwrap_or(&"").to_string(),
            victim_pid: f.get(3).and_then(|s| s.parse().ok()),
            incidents: num(4)? as u32,
            killed_process_lines: num(5)? as u32,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The generator

/// Where a line comes from.
#[derive(Clone, Copy)]
enum Src<'a> {
    /// The kernel, at a kmsg level.
    Kernel(u8),
    /// A userspace program: identifier and pid.
    User(&'a str, u32),
    /// A userspace program whose identifier already carries its pid, or has none.
    Ident(&'a str),
}

/// Streams a generated log. Use [`Generator::write_to`], or read it as a [`Read`].
pub struct Generator<'c> {
    opts: Options,
    reports: Vec<&'c CorpusReport>,
    order: Vec<usize>,
    order_pos: usize,
    rng: Rng,
    /// Wall-clock seconds (UTC, shown as local time) at boot.
    boot_epoch: i64,
    /// Microseconds since boot.
    mono_us: u64,
    /// kmsg sequence number.
    seq: u64,
    buf: Vec<u8>,
    read_pos: usize,
    stats: Stats,
    next_report_at: u64,
    long_left: u64,
    lead_done: bool,
    done: bool,
    /// Byte length of the last prefix written (for journal continuation indentation).
    last_prefix_len: usize,
    /// Cached rendering of the wall-clock second `date_sec`.
    date_sec: i64,
    date: [u8; 19],
    /// Set while writing a continuation line: it keeps the previous line's time.
    hold_time: bool,
    /// Long-lived pids of daemons, so the same kubelet or journald pid recurs.
    daemons: [u32; 9],
}

impl fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("opts", &self.opts)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Why a generator could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReports;

impl fmt::Display for NoReports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no corpus report matches the selection")
    }
}

impl std::error::Error for NoReports {}

impl<'c> Generator<'c> {
    /// A generator over `corpus`. Fails when reports are wanted but the selection is empty.
    pub fn new(corpus: &'c Corpus, opts: Options) -> Result<Generator<'c>, NoReports> {
        let reports = corpus.select(&opts.selection);
        if reports.is_empty() && (opts.report_every > 0 || opts.lead_report) {
            return Err(NoReports);
        }
        let mut rng = Rng::new(opts.seed);
        // Some day of 2024, 00:00 to 24:00 UTC; uptime a few seconds to a few minutes.
        let boot_epoch = 1_704_067_200 + rng.below(365) as i64 * 86_400 + rng.below(86_400) as i64;
        let mono_us = rng.range(3_000_000, 300_000_000);
        let mut daemons = [0u32; 9];
        for d in &mut daemons {
            *d = rng.range(300, 4000) as u32;
        }
        let mut g = Generator {
            order: (0..reports.len()).collect(),
            order_pos: usize::MAX,
            reports,
            rng,
            boot_epoch,
            mono_us,
            seq: rng_seq_start(opts.seed),
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            read_pos: 0,
            stats: Stats::default(),
            next_report_at: 0,
            long_left: opts.long_line,
            lead_done: !opts.lead_report,
            done: false,
            last_prefix_len: 0,
            date_sec: i64::MIN,
            date: [b' '; 19],
            hold_time: false,
            daemons,
            opts,
        };
        g.next_report_at = g.report_gap();
        Ok(g)
    }

    /// What was written so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The options in use.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Writes the whole log to `w` and returns what was written.
    pub fn write_to<W: Write + ?Sized>(mut self, w: &mut W) -> io::Result<Stats> {
        while let Some(chunk) = self.next_chunk() {
            w.write_all(chunk)?;
        }
        w.flush()?;
        Ok(self.stats)
    }

    /// Generates the next piece of output (about 64 KiB); `None` at the end.
    pub fn next_chunk(&mut self) -> Option<&[u8]> {
        self.buf.clear();
        self.read_pos = 0;
        self.fill();
        if self.buf.is_empty() {
            None
        } else {
            Some(&self.buf)
        }
    }

    /// Consumes the generator, returning its statistics.
    pub fn into_stats(self) -> Stats {
        self.stats
    }

    fn written(&self) -> u64 {
        self.stats.bytes + self.buf.len() as u64
    }

    fn report_gap(&mut self) -> u64 {
        let every = self.opts.report_every;
        if every == 0 {
            return u64::MAX;
        }
        every / 2 + self.rng.below(every.max(1))
    }

    /// Appends events to `buf` until it holds a chunk or the log is complete.
    fn fill(&mut self) {
        let start = self.buf.len();
        while self.buf.len() - start < CHUNK && !self.done {
            if self.long_left > 0 {
                self.long_line_piece(CHUNK - (self.buf.len() - start));
            } else if !self.lead_done {
                self.lead_done = true;
                self.report();
            } else if self.written() >= self.opts.size {
                self.done = true;
            } else if self.written() >= self.next_report_at {
                self.report();
                let gap = self.report_gap();
                self.next_report_at = self.written().saturating_add(gap);
            } else {
                self.noise_event();
            }
        }
        self.stats.bytes += (self.buf.len() - start) as u64;
    }

    // -- time ---------------------------------------------------------------------------------

    fn tick(&mut self, max_us: u64) {
        self.mono_us += 1 + self.rng.below(max_us);
    }

    /// Time passing between unrelated events: mostly tens of milliseconds, now and then
    /// a quiet minute.
    fn idle(&mut self) {
        if self.rng.chance(1, 2000) {
            self.tick(600_000_000);
        } else {
            self.tick(60_000);
        }
    }

    fn render_date(&mut self, sec: i64) {
        if sec == self.date_sec {
            return;
        }
        self.date_sec = sec;
        let days = sec.div_euclid(86_400);
        let tod = sec.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (tod / 3600, tod / 60 % 60, tod % 60);
        let mut o = [b' '; 19];
        match self.opts.form {
            LogForm::Syslog => {
                // 2024-03-10T07:12:33
                put_dec(&mut o[0..4], y as u64);
                o[4] = b'-';
                put_dec(&mut o[5..7], u64::from(m));
                o[7] = b'-';
                put_dec(&mut o[8..10], u64::from(d));
                o[10] = b'T';
                put_hms(&mut o[11..19], hh, mm, ss);
            }
            _ => {
                // Mar 10 07:12:33
                o[0..3].copy_from_slice(MONTHS[m as usize - 1].as_bytes());
                put_dec(&mut o[4..6], u64::from(d));
                put_hms(&mut o[7..15], hh, mm, ss);
            }
        }
        self.date = o;
    }

    // -- line building ------------------------------------------------------------------------

    #[inline]
    fn s(&mut self, x: &str) {
        self.buf.extend_from_slice(x.as_bytes());
    }

    #[inline]
    fn u(&mut self, n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&tmp[i..]);
    }

    /// `n` right-aligned in `width` columns, padded with `fill`.
    fn upad(&mut self, n: u64, width: usize, fill: u8) {
        let digits = decimal_len(n);
        for _ in digits..width {
            self.buf.push(fill);
        }
        self.u(n);
    }

    /// `n` as `width` lowercase hex digits.
    fn hex(&mut self, n: u64, width: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for k in (0..width).rev() {
            let shift = 4 * k as u32;
            let nib = if shift >= 64 { 0 } else { (n >> shift) & 0xf };
            self.buf.push(HEX[nib as usize]);
        }
    }

    /// `n` in lowercase hex without padding.
    fn hexu(&mut self, n: u64) {
        let width = (64 - n.leading_zeros() as usize).div_ceil(4);
        self.hex(n, width.max(1));
    }

    fn rnd(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.range(lo, hi)
    }

    fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items[self.rng.below(items.len() as u64) as usize]
    }

    /// Starts a line: writes the form's prefix for the current time.
    fn line(&mut self, src: Src<'_>) {
        if !self.hold_time {
            // Lines of one message block follow each other within microseconds.
            self.mono_us += self.rng.below(4);
        }
        let start = self.buf.len();
        let us = self.mono_us;
        match self.opts.form {
            LogForm::Dmesg => {
                self.s("[");
                self.upad(us / 1_000_000, 5, b' ');
                self.s(".");
                self.upad(us % 1_000_000, 6, b'0');
                self.s("] ");
                self.src_tag(src);
            }
            LogForm::Kmsg => {
                let prio = match src {
                    Src::Kernel(level) => u64::from(level),
                    _ => 30, // LOG_DAEMON | LOG_INFO
                };
                self.u(prio);
                self.s(",");
                self.seq += 1;
                self.u(self.seq);
                self.s(",");
                self.u(us);
                self.s(",-;");
                self.src_tag(src);
            }
            LogForm::Journal | LogForm::Syslog => {
                let sec = self.boot_epoch + (us / 1_000_000) as i64;
                self.render_date(sec);
                if self.opts.form == LogForm::Journal {
                    let date = self.date;
                    self.buf.extend_from_slice(&date[..15]);
                } else {
                    let date = self.date;
                    self.buf.extend_from_slice(&date);
                    self.s(".");
                    self.upad(us % 1_000_000, 6, b'0');
                    self.s("+00:00");
                }
                self.s(" ");
                let host = std::mem::take(&mut self.opts.host);
                self.s(&host);
                self.opts.host = host;
                self.s(" ");
                match src {
                    Src::Kernel(_) => self.s("kernel"),
                    Src::User(name, pid) => {
                        self.s(name);
                        self.s("[");
                        self.u(u64::from(pid));
                        self.s("]");
                    }
                    Src::Ident(ident) => self.s(ident),
                }
                self.s(": ");
            }
        }
        self.last_prefix_len = self.buf.len() - start;
    }

    /// In dmesg and kmsg, a userspace line carries its identifier in the message.
    fn src_tag(&mut self, src: Src<'_>) {
        match src {
            Src::Kernel(_) => {}
            Src::User(name, pid) => {
                self.s(name);
                self.s("[");
                self.u(u64::from(pid));
                self.s("]: ");
            }
            Src::Ident(ident) => {
                self.s(ident);
                self.s(": ");
            }
        }
    }

    fn eol(&mut self) {
        self.buf.push(b'\n');
        self.stats.lines += 1;
    }

    /// A kernel line at KERN_INFO.
    fn k(&mut self) {
        self.line(Src::Kernel(6));
    }

    /// A kernel line at `level`.
    fn kl(&mut self, level: u8) {
        self.line(Src::Kernel(level));
    }

    /// Starts the continuation line of a multi-line kernel message (`show_mem`'s
    /// `" active_file:…"`): its own timestamped line in dmesg and kmsg, an indented line
    /// in journal output, a `#012`-joined tail in rsyslog files. The caller writes the body
    /// and calls [`Generator::eol`].
    fn cont(&mut self, level: u8) {
        match self.opts.form {
            LogForm::Dmesg | LogForm::Kmsg => {
                self.hold_time = true;
                self.kl(level);
                self.hold_time = false;
            }
            LogForm::Journal => {
                for _ in 0..self.last_prefix_len {
                    self.buf.push(b' ');
                }
            }
            LogForm::Syslog => {
                if self.buf.last() == Some(&b'\n') {
                    self.buf.pop();
                    self.stats.lines -= 1;
                    self.s("#012");
                } else {
                    self.kl(level);
                }
            }
        }
    }

    // -- reports ------------------------------------------------------------------------------

    fn next_report(&mut self) -> &'c CorpusReport {
        if self.order_pos >= self.order.len() {
            // A fresh permutation each round: every report is used before any repeats.
            for i in (1..self.order.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                self.order.swap(i, j);
            }
            self.order_pos = 0;
        }
        let r = self.reports[self.order[self.order_pos]];
        self.order_pos += 1;
        r
    }

    fn report(&mut self) {
        if self.reports.is_empty() {
            return;
        }
        let r = self.next_report();
        self.idle();
        let first_line = self.stats.lines + 1;
        let mut killed = 0u32;
        let kernel_only = self.opts.form.kernel_only();
        let interleave = self.opts.interleave && !kernel_only;
        for l in &r.lines {
            if l.ident.is_some() && kernel_only {
                continue;
            }
            if interleave && !l.cont && self.rng.chance(1, 40) {
                self.user_line();
            }
            if l.cont {
                self.cont(l.level);
            } else {
                self.tick(25);
                match &l.ident {
                    None => self.kl(l.level),
                    Some(ident) => self.line(Src::Ident(ident)),
                }
            }
            self.s(&l.body);
            self.eol();
            killed += u32::from(l.killed);
        }
        self.stats.reports += 1;
        self.stats.incidents += u64::from(r.incidents);
        self.stats.killed_process_lines += u64::from(killed);
        self.stats.inserted.push(Inserted {
            first_line,
            last_line: self.stats.lines,
            report: r.name.clone(),
            victim_pid: r.victim_pid,
            incidents: r.incidents,
            killed_process_lines: killed,
        });
    }

    // -- the long line ------------------------------------------------------------------------

    /// Writes up to `room` bytes of the long line.
    fn long_line_piece(&mut self, room: usize) {
        if self.long_left == self.opts.long_line {
            // First piece: the prefix and the start of the message.
            let start = self.buf.len();
            self.k();
            self.s("audit: type=1327 audit(");
            self.u(self.boot_epoch as u64 + self.mono_us / 1_000_000);
            self.s(".113:4711): proctitle=");
            let used = (self.buf.len() - start) as u64;
            if used > self.long_left {
                // Shorter than its own prefix: cut (still exactly long_line bytes).
                self.buf.truncate(start + self.long_left as usize);
                self.long_left = 0;
            } else {
                self.long_left -= used;
            }
        }
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let n = (room.max(1) as u64).min(self.long_left) as usize;
        let mut x = self.rng.next_u64();
        for k in 0..n {
            if k % 10 == 0 {
                x = self.rng.next_u64();
            }
            self.buf.push(B64[(x & 63) as usize]);
            x >>= 6;
        }
        self.long_left -= n as u64;
        if self.long_left == 0 {
            self.eol();
        }
    }

    // -- noise --------------------------------------------------------------------------------

    fn noise_event(&mut self) {
        self.idle();
        let table: &[(u32, Ev)] = if self.opts.form.kernel_only() {
            KERNEL_EVENTS
        } else {
            ALL_EVENTS
        };
        let total: u32 = table.iter().map(|(w, _)| w).sum();
        let mut x = self.rng.below(u64::from(total)) as u32;
        let mut ev = table[0].1;
        for &(w, e) in table {
            if x < w {
                ev = e;
                break;
            }
            x -= w;
        }
        self.emit(ev);
    }

    /// One single userspace line (used between report lines).
    fn user_line(&mut self) {
        let ev = *self.rng.pick(&[
            Ev::Sshd,
            Ev::Cron,
            Ev::Kubelet,
            Ev::Containerd,
            Ev::Earlyoom,
        ]);
        self.emit(ev);
    }

    fn daemon(&mut self, i: usize) -> u32 {
        self.daemons[i % self.daemons.len()]
    }

    fn pid(&mut self) -> u64 {
        self.rnd(1000, 4_194_303)
    }

    fn comm(&mut self) -> &'static str {
        self.pick(COMMS)
    }

    fn emit(&mut self, ev: Ev) {
        match ev {
            Ev::Apparmor => {
                let pid = self.pid();
                let (profile, comm, path) = *self.rng.pick(APPARMOR);
                self.k();
                self.s("audit: type=1400 audit(");
                self.audit_stamp();
                self.s("): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"");
                self.s(profile);
                self.s("\" name=\"");
                self.s(path);
                self.s("\" pid=");
                self.u(pid);
                self.s(" comm=\"");
                self.s(comm);
                self.s("\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1000 ouid=0");
                self.eol();
            }
            Ev::AuditSvc => {
                let unit = self.pick(UNITS);
                let kind = if self.rng.chance(1, 2) {
                    "1130"
                } else {
                    "1131"
                };
                self.k();
                self.s("audit: type=");
                self.s(kind);
                self.s(" audit(");
                self.audit_stamp();
                self.s("): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='unit=");
                self.s(unit);
                self.s(" comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'");
                self.eol();
            }
            Ev::AuditSyscall => {
                let pid = self.pid();
                let comm = self.comm();
                self.k();
                self.s("audit: type=1701 audit(");
                self.audit_stamp();
                self.s("): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=");
                self.u(pid);
                self.s(" comm=\"");
                self.s(comm);
                self.s("\" exe=\"/usr/bin/");
                self.s(comm);
                self.s("\" sig=6 res=1");
                self.eol();
                if self.rng.chance(1, 3) {
                    self.k();
                    self.s("kauditd_printk_skb: ");
                    let n = self.rnd(2, 40);
                    self.u(n);
                    self.s(" callbacks suppressed");
                    self.eol();
                }
            }
            Ev::UsbAttach => self.usb_attach(),
            Ev::UsbDisconnect => {
                let port = self.rnd(1, 4);
                let devnum = self.rnd(2, 60);
                self.k();
                self.s("usb 1-");
                self.u(port);
                self.s(": USB disconnect, device number ");
                self.u(devnum);
                self.eol();
                if self.opts.form == LogForm::Kmsg {
                    self.kmsg_dict(devnum);
                }
            }
            Ev::Ext4 => self.ext4(),
            Ev::Ufw => self.ufw(),
            Ev::Conntrack => {
                self.kl(4);
                self.s("nf_conntrack: nf_conntrack: table full, dropping packet");
                self.eol();
            }
            Ev::Tcp => {
                match self.rng.below(4) {
                    0 => {
                        self.kl(4);
                        self.s("TCP: out of memory -- consider tuning tcp_mem");
                    }
                    1 => {
                        self.kl(4);
                        self.s("TCP: too many orphaned sockets");
                    }
                    2 => {
                        self.kl(4);
                        self.s("TCP: request_sock_TCP: Possible SYN flooding on port ");
                        let port = *self.rng.pick(&[443u64, 80, 8080, 5432, 6443]);
                        self.u(port);
                        self.s(". Sending cookies.  Check SNMP counters.");
                    }
                    _ => {
                        self.k();
                        self.s("TCP: eth0: Driver has suspect GRO implementation, TCP performance may be compromised.");
                    }
                }
                self.eol();
            }
            Ev::Segfault => self.segfault(),
            Ev::Warning => self.warning(),
            Ev::PageAllocFailure => self.page_alloc_failure(),
            Ev::SysrqShowMem => {
                self.k();
                self.s("sysrq: Show Memory");
                self.eol();
                self.mem_info();
            }
            Ev::HungTask => self.hung_task(),
            Ev::NetLink => {
                let nic = self.pick(&["eno1", "enp3s0", "eth0", "ens18"]);
                self.k();
                self.s("e1000e 0000:00:1f.6 ");
                self.s(nic);
                self.s(": NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx");
                self.eol();
                self.tick(2000);
                self.k();
                self.s("IPv6: ADDRCONF(NETDEV_CHANGE): ");
                self.s(nic);
                self.s(": link becomes ready");
                self.eol();
            }
            Ev::Veth => self.veth(),
            Ev::Perf => {
                self.k();
                if self.rng.chance(1, 2) {
                    let a = self.rnd(2501, 9000);
                    self.s("perf: interrupt took too long (");
                    self.u(a);
                    self.s(" > 2500), lowering kernel.perf_event_max_sample_rate to ");
                    let r = self.rnd(20, 79) * 1000 + 750;
                    self.u(r);
                } else {
                    let ns = self.rnd(10_000, 900_000);
                    self.s("hrtimer: interrupt took ");
                    self.u(ns);
                    self.s(" ns");
                }
                self.eol();
            }
            Ev::IoError => {
                let dev = self.pick(&["sdb", "sdc", "nvme1n1", "sda"]);
                let sector = self.rnd(0, 3_000_000_000);
                self.kl(3);
                self.s("blk_update_request: I/O error, dev ");
                self.s(dev);
                self.s(", sector ");
                self.u(sector);
                self.s(" op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0");
                self.eol();
                self.tick(50);
                self.kl(3);
                self.s("Buffer I/O error on dev ");
                self.s(dev);
                self.s("1, logical block ");
                self.u(sector / 8);
                self.s(", async page read");
                self.eol();
            }
            Ev::Traps => {
                let comm = self.comm();
                let pid = self.pid();
                let ip = self.rnd(0x5500_0000_0000, 0x56ff_ffff_ffff);
                self.k();
                self.s("traps: ");
                self.s(comm);
                self.s("[");
                self.u(pid);
                self.s("] trap invalid opcode ip:");
                self.hexu(ip);
                self.s(" sp:7ffc");
                let sp = self.rng.next_u64();
                self.hex(sp, 8);
                self.s(" error:0 in ");
                self.s(comm);
                self.s("[");
                self.hexu(ip & !0xfff_ffff);
                self.s("+2b4e000]");
                self.eol();
                if self.rng.chance(1, 2) {
                    self.k();
                    self.s("potentially unexpected fatal signal 11.");
                    self.eol();
                }
            }
            Ev::Slub => {
                self.kl(4);
                self.s("SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)");
                self.eol();
                self.kl(4);
                self.s("  cache: skbuff_head_cache, object size: 232, buffer size: 256, default order: 1, min order: 0");
                self.eol();
                let slabs = self.rnd(500, 9000);
                self.kl(4);
                self.s("  node 0: slabs: ");
                self.u(slabs);
                self.s(", objs: ");
                self.u(slabs * 32);
                self.s(", free: 0");
                self.eol();
            }
            Ev::Edac => {
                let page = self.rng.next_u64() & 0xf_ffff;
                self.kl(4);
                self.s("EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x");
                self.hexu(page);
                self.s(" offset:0x0 grain:32 syndrome:0x0 -  area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:0)");
                self.eol();
            }
            Ev::Nfs => {
                let srv = self.pick(&["nas01", "10.0.4.20", "filer-b"]);
                self.kl(5);
                self.s("nfs: server ");
                self.s(srv);
                self.s(" not responding, still trying");
                self.eol();
                self.tick(5_000_000);
                self.kl(5);
                self.s("nfs: server ");
                self.s(srv);
                self.s(" OK");
                self.eol();
            }
            Ev::Kvm => {
                let pid = self.pid();
                let vcpu = self.rnd(0, 15);
                let rip = self.rng.next_u64() | 0xffff_ffff_8000_0000;
                self.k();
                self.s("kvm [");
                self.u(pid);
                self.s("]: vcpu");
                self.u(vcpu);
                self.s(", guest rIP: 0x");
                self.hex(rip, 16);
                self.s(" ignored rdmsr: 0x64e data 0x0");
                self.eol();
            }
            Ev::PidsCgroup => {
                let unit = self.pick(UNITS);
                self.k();
                self.s("cgroup: fork rejected by pids controller in /system.slice/");
                self.s(unit);
                self.s(".service");
                self.eol();
            }
            Ev::SystemdKmsg => self.systemd(true),
            Ev::Journald => {
                let pid = self.daemon(0);
                let id = self.rng.next_u64();
                self.line(Src::User("systemd-journald", pid));
                match self.rng.below(4) {
                    0 => {
                        let n = self.rnd(2, 900);
                        self.s("Missed ");
                        self.u(n);
                        self.s(" kernel messages");
                    }
                    1 => {
                        self.s("/var/log/journal/");
                        self.hex(id, 16);
                        self.hex(id.rotate_left(17), 16);
                        self.s("/system.journal: Journal header limits reached or header out-of-date, rotating.");
                    }
                    2 => {
                        let ms = self.rnd(1, 90_000);
                        self.s("Time spent on flushing to /var/log/journal/");
                        self.hex(id, 16);
                        self.hex(id.rotate_left(17), 16);
                        self.s(" is ");
                        self.u(ms / 1000);
                        self.s(".");
                        self.upad(ms % 1000, 3, b'0');
                        self.s("ms for ");
                        let n = self.rnd(100, 5000);
                        self.u(n);
                        self.s(" entries.");
                    }
                    _ => {
                        let items = self.rnd(5000, 11377);
                        self.s("Data hash table of /var/log/journal/");
                        self.hex(id, 16);
                        self.hex(id.rotate_left(17), 16);
                        self.s("/system.journal has a fill level at 75.0 (");
                        self.u(items);
                        self.s(" of 11377 items, 6553600 file size, 576 bytes per hash table item), suggesting rotation.");
                    }
                }
                self.eol();
            }
            Ev::Sshd => self.sshd(),
            Ev::Cron => {
                let pid = self.pid();
                let cmd = self.pick(&[
                    "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
                    "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
                    "(www-data) CMD (php /var/www/app/artisan schedule:run >> /dev/null 2>&1)",
                    "(postgres) CMD (/usr/local/bin/pg_backup.sh > /var/log/pg_backup.log 2>&1)",
                ]);
                self.line(Src::User("CRON", pid as u32));
                self.s(cmd);
                self.eol();
            }
            Ev::BashKilled => {
                let pid = self.pid();
                let child = self.pid();
                self.line(Src::User("backup.sh", pid as u32));
                self.s("/usr/local/bin/backup.sh: line 42: ");
                self.upad(child, 6, b' ');
                self.s(" Killed                  pg_dump -Fc appdb > /backup/appdb.dump");
                self.eol();
            }
            Ev::Earlyoom => {
                let pid = self.daemon(1);
                let total = 15885u64;
                let avail = self.rnd(900, total);
                self.line(Src::User("earlyoom", pid));
                self.s("mem avail: ");
                self.upad(avail, 5, b' ');
                self.s(" of ");
                self.u(total);
                self.s(" MiB (");
                let pct = avail * 10_000 / total;
                self.upad(pct / 100, 2, b' ');
                self.s(".");
                self.upad(pct % 100, 2, b'0');
                self.s("%), swap free:    0 of    0 MiB ( 0.00%)");
                self.eol();
            }
            Ev::NetworkManager => {
                let pid = self.daemon(2);
                let stamp = self.boot_epoch as u64 + self.mono_us / 1_000_000;
                let frac = self.rnd(0, 9999);
                self.line(Src::User("NetworkManager", pid));
                self.s("<info>  [");
                self.u(stamp);
                self.s(".");
                self.upad(frac, 4, b'0');
                self.s("] dhcp4 (eth0): state changed new lease, address=10.0.");
                let a = self.rnd(0, 255);
                self.u(a);
                self.s(".");
                let b = self.rnd(2, 254);
                self.u(b);
                self.eol();
            }
            Ev::Kubelet => self.kubelet(),
            Ev::Containerd => {
                let pid = self.daemon(4);
                let id = self.rng.next_u64();
                let id2 = self.rng.next_u64();
                self.line(Src::User("containerd", pid));
                self.s("time=\"");
                self.rfc3339_now();
                self.s("\" level=info msg=\"");
                match self.rng.below(3) {
                    0 => self.s("shim disconnected\" id="),
                    1 => self.s("cleaning up dead shim\" id="),
                    _ => self.s("StartContainer for \\\"sidecar\\\" returns successfully\" id="),
                }
                self.hex(id, 16);
                self.hex(id2, 16);
                self.hex(id ^ id2, 16);
                self.hex(id.rotate_left(9), 16);
                self.s(" namespace=k8s.io");
                self.eol();
            }
            Ev::Dockerd => {
                let pid = self.daemon(5);
                let id = self.rng.next_u64();
                self.line(Src::User("dockerd", pid));
                self.s("time=\"");
                self.rfc3339_now();
                self.s("\" level=info msg=\"Container failed to exit within 10s of signal 15 - using the force\" container=");
                self.hex(id, 16);
                self.hex(id.rotate_left(23), 16);
                self.hex(id.rotate_left(41), 16);
                self.hex(!id, 16);
                self.eol();
            }
            Ev::Sudo => {
                let pid = self.pid();
                self.line(Src::User("sudo", pid as u32));
                if self.rng.chance(1, 2) {
                    self.s("   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx");
                } else {
                    self.s("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)");
                }
                self.eol();
            }
            Ev::Logind => {
                let pid = self.daemon(6);
                let n = self.rnd(1, 9000);
                self.line(Src::User("systemd-logind", pid));
                match self.rng.below(3) {
                    0 => {
                        self.s("New session ");
                        self.u(n);
                        self.s(" of user alice.");
                    }
                    1 => {
                        self.s("Session ");
                        self.u(n);
                        self.s(" logged out. Waiting for processes to exit.");
                    }
                    _ => {
                        self.s("Removed session ");
                        self.u(n);
                        self.s(".");
                    }
                }
                self.eol();
            }
            Ev::Postgres => {
                let pid = self.daemon(7);
                let child = self.pid();
                self.line(Src::User("postgres", pid));
                self.s("LOG:  server process (PID ");
                self.u(child);
                self.s(") was terminated by signal 9: Killed");
                self.eol();
                self.line(Src::User("postgres", pid));
                self.s("DETAIL:  Failed process was running: SELECT * FROM events WHERE created_at > now() - interval '1 day'");
                self.eol();
                self.line(Src::User("postgres", pid));
                self.s("LOG:  terminating any other active server processes");
                self.eol();
            }
            Ev::Rsyslog => {
                let pid = self.daemon(8);
                self.line(Src::User("rsyslogd", pid));
                self.s("[origin software=\"rsyslogd\" swVersion=\"8.2312.0\" x-pid=\"");
                self.u(u64::from(pid));
                self.s("\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed");
                self.eol();
            }
            Ev::SystemdUnit => self.systemd(false),
        }
    }

    fn audit_stamp(&mut self) {
        let now = self.boot_epoch as u64 + self.mono_us / 1_000_000;
        self.u(now);
        self.s(".");
        self.upad(self.mono_us / 1000 % 1000, 3, b'0');
        self.s(":");
        let serial = self.mono_us / 7919 % 1_000_000;
        self.u(serial);
    }

    fn rfc3339_now(&mut self) {
        let sec = self.boot_epoch + (self.mono_us / 1_000_000) as i64;
        let days = sec.div_euclid(86_400);
        let tod = sec.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut o = [b'0'; 19];
        put_dec(&mut o[0..4], y as u64);
        o[4] = b'-';
        put_dec(&mut o[5..7], u64::from(m));
        o[7] = b'-';
        put_dec(&mut o[8..10], u64::from(d));
        o[10] = b'T';
        put_hms(&mut o[11..19], tod / 3600, tod / 60 % 60, tod % 60);
        self.buf.extend_from_slice(&o);
        self.s(".");
        self.upad(self.mono_us % 1_000_000, 6, b'0');
        self.s("000Z");
    }

    fn usb_attach(&mut self) {
        let port = self.rnd(1, 4);
        let devnum = self.rnd(2, 60);
        let (vendor, product, name) = *self.rng.pick(USB_DEVICES);
        let tag = |g: &mut Generator<'_>| {
            g.k();
            g.s("usb 1-");
            g.u(port);
            g.s(": ");
        };
        tag(self);
        self.s("new high-speed USB device number ");
        self.u(devnum);
        self.s(" using xhci_hcd");
        self.eol();
        self.tick(150_000);
        tag(self);
        self.s("New USB device found, idVendor=");
        self.s(vendor);
        self.s(", idProduct=");
        self.s(product);
        self.s(", bcdDevice= 1.00");
        self.eol();
        tag(self);
        self.s("New USB device strings: Mfr=1, Product=2, SerialNumber=3");
        self.eol();
        tag(self);
        self.s("Product: ");
        self.s(name);
        self.eol();
        if self.opts.form == LogForm::Kmsg {
            self.kmsg_dict(devnum);
        }
        self.tick(3000);
        self.k();
        self.s("usb-storage 1-");
        self.u(port);
        self.s(":1.0: USB Mass Storage device detected");
        self.eol();
        self.k();
        self.s("scsi host6: usb-storage 1-");
        self.u(port);
        self.s(":1.0");
        self.eol();
    }

    /// The dictionary lines a kmsg record of a device carries (` SUBSYSTEM=`, ` DEVICE=`).
    fn kmsg_dict(&mut self, devnum: u64) {
        self.s(" SUBSYSTEM=usb");
        self.eol();
        self.s(" DEVICE=c189:");
        self.u(devnum);
        self.eol();
    }

    fn ext4(&mut self) {
        let dev = self.pick(&["sda1", "sda2", "dm-0", "nvme0n1p2", "sdb1"]);
        match self.rng.below(4) {
            0 => {
                let uuid = self.rng.next_u64();
                self.k();
                self.s("EXT4-fs (");
                self.s(dev);
                self.s("): mounted filesystem ");
                self.hex(uuid >> 32, 8);
                self.s("-");
                self.hex(uuid >> 16, 4);
                self.s("-");
                self.hex(uuid, 4);
                self.s("-8a1c-");
                self.hex(uuid.rotate_left(7), 12);
                self.s(" r/w with ordered data mode. Quota mode: none.");
            }
            1 => {
                self.kl(4);
                let inode = self.rnd(12, 30_000_000);
                self.s("EXT4-fs warning (device ");
                self.s(dev);
                self.s("): ext4_dx_add_entry:2461: inode #");
                self.u(inode);
                self.s(": comm rsync: Directory index full!");
            }
            2 => {
                self.kl(3);
                let inode = self.rnd(12, 30_000_000);
                self.s("EXT4-fs error (device ");
                self.s(dev);
                self.s("): ext4_lookup:1855: inode #");
                self.u(inode);
                self.s(": comm find: deleted inode referenced: ");
                self.u(inode + 16);
            }
            _ => {
                self.k();
                self.s("EXT4-fs (");
                self.s(dev);
                self.s("): re-mounted. Quota mode: none.");
            }
        }
        self.eol();
    }

    fn ufw(&mut self) {
        let proto_tcp = self.rng.chance(3, 4);
        let src = self.rng.next_u64();
        let spt = self.rnd(1024, 65535);
        let dpt = *self.rng.pick(&[22u64, 23, 445, 3389, 5900, 8080, 25, 3306]);
        self.kl(4);
        let tag = if self.rng.chance(1, 4) {
            "[UFW AUDIT] "
        } else {
            "[UFW BLOCK] "
        };
        self.s(tag);
        self.s("IN=eth0 OUT= MAC=52:54:00:");
        self.hex(src >> 40, 2);
        self.s(":");
        self.hex(src >> 48, 2);
        self.s(":");
        self.hex(src >> 56, 2);
        self.s(":fe:ff:ff:ff:ff:ee:08:00 SRC=");
        self.u((src & 0xff) % 223 + 1);
        self.s(".");
        self.u((src >> 8) & 0xff);
        self.s(".");
        self.u((src >> 16) & 0xff);
        self.s(".");
        self.u((src >> 24) & 0xff);
        self.s(" DST=10.0.0.4 LEN=");
        let len = self.rnd(40, 1500);
        self.u(len);
        self.s(" TOS=0x00 PREC=0x00 TTL=");
        let ttl = self.rnd(30, 250);
        self.u(ttl);
        self.s(" ID=");
        let id = self.rnd(0, 65535);
        self.u(id);
        if proto_tcp {
            self.s(" DF PROTO=TCP SPT=");
            self.u(spt);
            self.s(" DPT=");
            self.u(dpt);
            self.s(" WINDOW=64240 RES=0x00 SYN URGP=0");
        } else {
            self.s(" PROTO=UDP SPT=");
            self.u(spt);
            self.s(" DPT=");
            self.u(dpt);
            self.s(" LEN=");
            self.u(len - 20);
        }
        self.eol();
    }

    fn veth(&mut self) {
        let br = self.pick(&["docker0", "cni0", "br-4f2a9c1b7e3d"]);
        let port = self.rnd(1, 30);
        let id = self.rng.next_u64();
        let state = self.pick(&["blocking state", "disabled state", "forwarding state"]);
        self.k();
        self.s(br);
        self.s(": port ");
        self.u(port);
        self.s("(veth");
        self.hex(id, 7);
        self.s(") entered ");
        self.s(state);
        self.eol();
        if self.rng.chance(1, 3) {
            self.k();
            self.s("device veth");
            self.hex(id, 7);
            let what = if self.rng.chance(1, 2) {
                " entered promiscuous mode"
            } else {
                " left promiscuous mode"
            };
            self.s(what);
            self.eol();
        }
    }

    fn segfault(&mut self) {
        let comm = self.comm();
        let pid = self.pid();
        let addr = self.rnd(0, 0x1000);
        let lib = self.rnd(0x7f00_0000_0000, 0x7fff_ffff_ffff) & !0xfff;
        let cpu = self.rnd(0, 7);
        self.k();
        self.s(comm);
        self.s("[");
        self.u(pid);
        self.s("]: segfault at ");
        self.hexu(addr);
        self.s(" ip ");
        self.hex(lib + 0x9_e5d6e, 16);
        self.s(" sp 00007ffd");
        let sp = self.rng.next_u64();
        self.hex(sp, 8);
        self.s(" error 4 in libc.so.6[");
        self.hexu(lib);
        self.s("+195000] likely on CPU ");
        self.u(cpu);
        self.s(" (core ");
        self.u(cpu);
        self.s(", socket 0)");
        self.eol();
        self.k();
        self.s("Code: ");
        for n in 0..64u64 {
            let b = self.rng.below(256);
            if n == 42 {
                self.s("<");
                self.hex(b, 2);
                self.s("> ");
            } else {
                self.hex(b, 2);
                if n < 63 {
                    self.s(" ");
                }
            }
        }
        self.eol();
    }

    fn regs(&mut self) {
        for names in [
            ["RAX", "RBX", "RCX"],
            ["RDX", "RSI", "RDI"],
            ["RBP", "R08", "R09"],
        ] {
            self.kl(4);
            for (n, name) in names.iter().enumerate() {
                if n > 0 {
                    self.s(" ");
                }
                self.s(name);
                self.s(": ");
                let v = self.rng.next_u64() >> self.rng.below(64);
                self.hex(v, 16);
            }
            self.eol();
        }
        for names in [["R10", "R11", "R12"], ["R13", "R14", "R15"]] {
            self.kl(4);
            for (n, name) in names.iter().enumerate() {
                if n > 0 {
                    self.s(" ");
                }
                self.s(name);
                self.s(": ");
                let v = self.rng.next_u64() >> self.rng.below(64);
                self.hex(v, 16);
            }
            self.eol();
        }
    }

    fn cpu_line(&mut self, cpu: u64, pid: u64, comm: &str, tainted: &str) {
        self.kl(4);
        self.s("CPU: ");
        self.u(cpu);
        self.s(" UID: 0 PID: ");
        self.u(pid);
        self.s(" Comm: ");
        self.s(comm);
        self.s(" ");
        self.s(tainted);
        self.s(" 6.8.0-45-generic #45-Ubuntu");
        self.eol();
        self.kl(4);
        self.s("Hardware name: ");
        let hw = self.pick(HARDWARE);
        self.s(hw);
        self.eol();
    }

    fn frames(&mut self, frames: &[&str]) {
        for f in frames {
            self.kl(4);
            self.s(" ");
            self.s(f);
            self.eol();
        }
    }

    fn warning(&mut self) {
        let (site, func, frames) = *self.rng.pick(WARNINGS);
        let cpu = self.rnd(0, 7);
        let pid = if self.rng.chance(1, 3) { 0 } else { self.pid() };
        let comm = if pid == 0 {
            "swapper/3"
        } else {
            self.pick(&["kworker/3:1", "ksoftirqd/3", "containerd-shim"])
        };
        self.kl(4);
        self.s("------------[ cut here ]------------");
        self.eol();
        self.kl(4);
        self.s("WARNING: CPU: ");
        self.u(cpu);
        self.s(" PID: ");
        self.u(pid);
        self.s(" at ");
        self.s(site);
        self.s(" ");
        self.s(func);
        self.eol();
        self.kl(4);
        self.s("Modules linked in: xt_conntrack nf_nat nf_conntrack nf_defrag_ipv6 nf_defrag_ipv4 libcrc32c xt_addrtype iptable_filter br_netfilter bridge stp llc overlay intel_rapl_msr intel_rapl_common kvm_intel kvm irqbypass crct10dif_pclmul ghash_clmulni_intel aesni_intel crypto_simd cryptd rapl e1000e i2c_i801 nvme nvme_core");
        self.eol();
        self.cpu_line(cpu, pid, comm, "Tainted: G        W          ");
        self.kl(4);
        self.s("RIP: 0010:");
        self.s(func);
        self.eol();
        self.kl(4);
        self.s("Code: ");
        for n in 0..42u64 {
            let b = self.rng.below(256);
            self.hex(b, 2);
            if n < 41 {
                self.s(" ");
            }
        }
        self.eol();
        self.kl(4);
        self.s("RSP: 0018:ffffb1a8c0");
        let rsp = self.rng.next_u64();
        self.hex(rsp, 6);
        self.s(" EFLAGS: 00010282");
        self.eol();
        self.regs();
        self.kl(4);
        self.s("FS:  0000000000000000(0000) GS:ffff9a41dfd80000(0000) knlGS:0000000000000000");
        self.eol();
        self.kl(4);
        self.s("CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033");
        self.eol();
        self.kl(4);
        self.s("Call Trace:");
        self.eol();
        self.frames(&["<IRQ>", "? show_regs+0x6d/0x80", "? __warn+0x89/0x160"]);
        self.frames(frames);
        self.frames(&[
            "</IRQ>",
            "<TASK>",
            "asm_sysvec_apic_timer_interrupt+0x1b/0x20",
            "</TASK>",
        ]);
        self.kl(4);
        self.s("---[ end trace ");
        let t = self.rng.next_u64();
        self.hex(t, 16);
        self.s(" ]---");
        self.eol();
    }

    fn hung_task(&mut self) {
        let (task, frames) = *self.rng.pick(HUNG_TASKS);
        let pid = self.rnd(200, 90_000);
        self.kl(3);
        self.s("INFO: task ");
        self.s(task);
        self.s(":");
        self.u(pid);
        self.s(" blocked for more than 120 seconds.");
        self.eol();
        self.kl(3);
        self.s("      Not tainted 6.8.0-45-generic #45-Ubuntu");
        self.eol();
        self.kl(3);
        self.s("\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.");
        self.eol();
        self.k();
        self.s("task:");
        self.s(task);
        for _ in task.len()..16 {
            self.s(" ");
        }
        self.s("state:D stack:0     pid:");
        self.upad(pid, 5, b' ');
        self.s(" tgid:");
        self.upad(pid, 5, b' ');
        self.s(" ppid:2      flags:0x00004000");
        self.eol();
        self.k();
        self.s("Call Trace:");
        self.eol();
        self.frames(&[
            "<TASK>",
            "__schedule+0x27c/0x6b0",
            "schedule+0x33/0x110",
            "io_schedule+0x46/0x80",
        ]);
        self.frames(frames);
        self.frames(&[
            "kthread+0xef/0x120",
            "ret_from_fork+0x44/0x70",
            "ret_from_fork_asm+0x1b/0x30",
            "</TASK>",
        ]);
    }

    fn page_alloc_failure(&mut self) {
        let (comm, order, mode) = *self.rng.pick(ALLOC_FAILURES);
        let pid = if comm.starts_with("swapper") {
            0
        } else {
            self.pid()
        };
        let cpu = self.rnd(0, 7);
        self.kl(4);
        self.s(comm);
        self.s(": page allocation failure: order:");
        self.s(order);
        self.s(", mode:");
        self.s(mode);
        self.s(", nodemask=(null),cpuset=/,mems_allowed=0");
        self.eol();
        self.cpu_line(cpu, pid, comm, "Not tainted");
        self.kl(4);
        self.s("Call Trace:");
        self.eol();
        self.frames(&[
            "<TASK>",
            "dump_stack_lvl+0x76/0xa0",
            "dump_stack+0x10/0x20",
            "warn_alloc+0x174/0x1f0",
            "? __alloc_pages_direct_compact+0xb8/0x260",
            "__alloc_pages_slowpath.constprop.0+0xc8d/0xd10",
            "__alloc_pages+0x31f/0x350",
            "alloc_pages_mpol+0x91/0x1f0",
            "alloc_pages+0x5b/0xd0",
            "kmalloc_large+0x27/0xd0",
            "__kmalloc_node_track_caller+0x2d4/0x3f0",
            "kmalloc_reserve+0x6c/0x110",
            "__alloc_skb+0x86/0x1d0",
            "tcp_stream_alloc_skb+0x2c/0x150",
            "tcp_sendmsg_locked+0x4fe/0xe70",
            "tcp_sendmsg+0x2c/0x50",
            "inet_sendmsg+0x42/0x80",
            "sock_sendmsg+0x118/0x150",
            "__sys_sendto+0x12b/0x1a0",
            "__x64_sys_sendto+0x24/0x40",
            "do_syscall_64+0x81/0x170",
            "entry_SYSCALL_64_after_hwframe+0x78/0x80",
            "</TASK>",
        ]);
        self.mem_info();
    }

    /// The `show_mem` dump that both OOM reports and non-OOM warnings print.
    fn mem_info(&mut self) {
        let active_anon = self.rnd(100_000, 3_000_000);
        let inactive_anon = self.rnd(1_000, 500_000);
        let file = self.rnd(10_000, 2_000_000);
        let free = self.rnd(20_000, 900_000);
        self.kl(4);
        self.s("Mem-Info:");
        self.eol();
        self.kl(4);
        self.s("active_anon:");
        self.u(active_anon);
        self.s(" inactive_anon:");
        self.u(inactive_anon);
        self.s(" isolated_anon:0");
        self.eol();
        self.cont(4);
        self.s(" active_file:");
        self.u(file / 2);
        self.s(" inactive_file:");
        self.u(file / 2 + 17);
        self.s(" isolated_file:0");
        self.eol();
        self.cont(4);
        let dirty = self.rnd(0, 5000);
        self.s(" unevictable:4653 dirty:");
        self.u(dirty);
        self.s(" writeback:0");
        self.eol();
        self.cont(4);
        let slab = self.rnd(5000, 90_000);
        self.s(" slab_reclaimable:");
        self.u(slab);
        self.s(" slab_unreclaimable:");
        self.u(slab / 3);
        self.eol();
        self.cont(4);
        self.s(" mapped:");
        self.u(file / 9);
        self.s(" shmem:");
        self.u(inactive_anon / 7);
        self.s(" pagetables:");
        self.u(active_anon / 500);
        self.eol();
        self.cont(4);
        self.s(" sec_pagetables:0 bounce:0");
        self.eol();
        self.cont(4);
        self.s(" kernel_misc_reclaimable:0");
        self.eol();
        self.cont(4);
        self.s(" free:");
        self.u(free);
        self.s(" free_pcp:");
        self.u(free / 40);
        self.s(" free_cma:0");
        self.eol();
        self.kl(4);
        self.s("Node 0 active_anon:");
        self.u(active_anon * 4);
        self.s("kB inactive_anon:");
        self.u(inactive_anon * 4);
        self.s("kB active_file:");
        self.u(file * 2);
        self.s("kB inactive_file:");
        self.u(file * 2 + 68);
        self.s("kB unevictable:18612kB isolated(anon):0kB isolated(file):0kB mapped:");
        self.u(file * 4 / 9);
        self.s("kB dirty:");
        self.u(dirty * 4);
        self.s("kB writeback:0kB shmem:");
        self.u(inactive_anon * 4 / 7);
        self.s("kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB writeback_tmp:0kB kernel_stack:14976kB pagetables:");
        self.u(active_anon / 125);
        self.s("kB sec_pagetables:0kB all_unreclaimable? no");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA free:15360kB boost:0kB min:32kB low:44kB high:56kB reserved_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB");
        self.eol();
        self.kl(4);
        self.s("lowmem_reserve[]: 0 2933 15815 15815 15815");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA32 free:");
        self.u(free * 4 / 5);
        self.s("kB boost:0kB min:10932kB low:13664kB high:16396kB reserved_highatomic:0KB active_anon:");
        self.u(active_anon);
        self.s("kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:3129152kB managed:3013680kB mlocked:0kB bounce:0kB free_pcp:");
        self.u(free / 20);
        self.s("kB local_pcp:0kB free_cma:0kB");
        self.eol();
        self.kl(4);
        self.s("lowmem_reserve[]: 0 0 12882 12882 12882");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 1*1024kB (U) 1*2048kB (M) 3*4096kB (M) = 15360kB");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA32: ");
        let mut sum = 0;
        for (n, size) in [4u64, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
            .iter()
            .enumerate()
        {
            let c = self.rng.below(3000 >> n.min(11));
            sum += c * size;
            self.u(c);
            self.s("*");
            self.u(*size);
            self.s("kB (UME) ");
        }
        self.s("= ");
        self.u(sum);
        self.s("kB");
        self.eol();
        self.kl(4);
        self.s(
            "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB",
        );
        self.eol();
        self.kl(4);
        self.s("Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB");
        self.eol();
        self.kl(4);
        self.u(file + inactive_anon / 7);
        self.s(" total pagecache pages");
        self.eol();
        for l in [
            "0 pages in swap cache",
            "Free swap  = 0kB",
            "Total swap = 0kB",
            "4174397 pages RAM",
            "0 pages HighMem/MovableOnly",
            "105373 pages reserved",
            "0 pages hwpoisoned",
        ] {
            self.kl(4);
            self.s(l);
            self.eol();
        }
    }

    fn systemd(&mut self, kmsg: bool) {
        let unit = self.pick(UNITS);
        // systemd writes to /dev/kmsg only while journald is not up: keep those rare lines
        // to messages it plausibly prints then.
        let src = Src::User("systemd", 1);
        let variant = if kmsg {
            self.rng.below(4)
        } else {
            self.rng.below(9)
        };
        self.line(src);
        match variant {
            0 => {
                self.s("Started ");
                self.s(unit);
                self.s(".service.");
            }
            1 => {
                self.s(unit);
                self.s(".service: Main process exited, code=killed, status=15/TERM");
            }
            2 => {
                let pid = self.pid();
                let comm = self.comm();
                self.s("session-");
                let n = self.rnd(1, 900);
                self.u(n);
                self.s(".scope: Killing process ");
                self.u(pid);
                self.s(" (");
                self.s(comm);
                self.s(") with signal SIGKILL.");
            }
            3 => self.s("Started systemd-oomd.service - Userspace Out-Of-Memory (OOM) Killer."),
            4 => {
                self.s(unit);
                self.s(".service: Deactivated successfully.");
            }
            5 => {
                let ms = self.rnd(1, 90_000);
                self.s(unit);
                self.s(".service: Consumed ");
                self.u(ms / 1000);
                self.s(".");
                self.upad(ms % 1000, 3, b'0');
                self.s("s CPU time, ");
                let mb = self.rnd(1, 900);
                self.u(mb);
                self.s(".0M memory peak, 0B memory swap peak.");
            }
            6 => {
                self.s("Starting ");
                self.s(unit);
                self.s(".service - ");
                self.s(unit);
                self.s(" daemon...");
            }
            7 => {
                self.s(unit);
                self.s(".service: Failed with result 'signal'.");
            }
            _ => {
                let n = self.rnd(1, 900);
                self.s("Started session-");
                self.u(n);
                self.s(".scope - Session ");
                self.u(n);
                self.s(" of User alice.");
            }
        }
        self.eol();
    }

    fn sshd(&mut self) {
        let pid = self.pid() as u32;
        let ip = self.rng.next_u64();
        let port = self.rnd(1024, 65535);
        self.line(Src::User("sshd", pid));
        let variant = self.rng.below(4);
        match variant {
            0 => self.s("Accepted publickey for deploy from 10.1."),
            1 => self.s("Invalid user admin from 203.0."),
            2 => self.s("Connection closed by authenticating user root 198.51."),
            _ => self.s("Received disconnect from 192.0."),
        }
        self.u(ip & 0xff);
        self.s(".");
        self.u((ip >> 8) & 0xff);
        self.s(" port ");
        self.u(port);
        if variant == 0 {
            self.s(" ssh2: ED25519 SHA256:");
            for k in 0..43u32 {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [((ip.rotate_left(k * 7)) & 63) as usize];
                self.buf.push(c);
            }
        } else {
            self.s(" [preauth]");
        }
        self.eol();
    }

    fn kubelet(&mut self) {
        let pid = self.daemon(3);
        let pod_id = self.rng.next_u64();
        let pod = self.pick(&[
            "web-7d4b9c8f6-x2kqz",
            "api-5f6d8b7c9-qpl4m",
            "worker-0",
            "redis-0",
        ]);
        self.line(Src::User("kubelet", pid));
        let sec = self.boot_epoch + (self.mono_us / 1_000_000) as i64;
        let (_, m, d) = civil_from_days(sec.div_euclid(86_400));
        let tod = sec.rem_euclid(86_400);
        match self.rng.below(3) {
            0 => self.s("I"),
            1 => self.s("W"),
            _ => self.s("E"),
        }
        self.upad(u64::from(m), 2, b'0');
        self.upad(u64::from(d), 2, b'0');
        self.s(" ");
        let mut hms = [0u8; 8];
        put_hms(&mut hms, tod / 3600, tod / 60 % 60, tod % 60);
        self.buf.extend_from_slice(&hms);
        self.s(".");
        self.upad(self.mono_us % 1_000_000, 6, b'0');
        self.s("    ");
        self.u(u64::from(pid));
        match self.rng.below(3) {
            0 => {
                self.s(" kuberuntime_container.go:779] \"Killing container with a grace period\" pod=\"default/");
                self.s(pod);
                self.s("\" podUID=\"");
                self.hex(pod_id, 8);
                self.s("-");
                self.hex(pod_id >> 8, 4);
                self.s("-4c1d-9e0a-");
                self.hex(pod_id.rotate_left(13), 12);
                self.s("\" containerName=\"app\" gracePeriod=30");
            }
            1 => {
                self.s(" pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"app\\\" with CrashLoopBackOff: \\\"back-off 5m0s restarting failed container=app pod=");
                self.s(pod);
                self.s("_default\\\"\" pod=\"default/");
                self.s(pod);
                self.s("\"");
            }
            _ => {
                self.s(" prober.go:107] \"Probe failed\" probeType=\"Readiness\" pod=\"default/");
                self.s(pod);
                self.s("\" containerName=\"app\" probeResult=\"failure\" output=\"Get \\\"http://10.244.1.17:8080/healthz\\\": context deadline exceeded\"");
            }
        }
        self.eol();
    }
}

fn rng_seq_start(seed: u64) -> u64 {
    Rng::new(seed ^ 0x5eed).range(1_000, 900_000)
}

impl Read for Generator<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.read_pos >= self.buf.len() {
            self.buf.clear();
            self.read_pos = 0;
            self.fill();
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.read_pos);
        out[..n].copy_from_slice(&self.buf[self.read_pos..self.read_pos + n]);
        self.read_pos += n;
        Ok(n)
    }
}

/// Writes exactly `n` bytes of one line (no newline inside) followed by `\n`, in `form`:
/// the long-line case without anything else. Same as a [`Generator`] with only
/// [`Options::long_line`] set.
pub fn write_long_line<W: Write + ?Sized>(
    w: &mut W,
    form: LogForm,
    n: u64,
    seed: u64,
) -> io::Result<()> {
    let corpus = Corpus {
        reports: Vec::new(),
    };
    let opts = Options {
        form,
        size: 0,
        report_every: 0,
        seed,
        long_line: n,
        ..Options::default()
    };
    let g = Generator::new(&corpus, opts).map_err(|e| io::Error::other(e.to_string()))?;
    g.write_to(w).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Checking a parser's findings

/// One incident as a parser reported it: where it was read and what it killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// First input line of the incident.
    pub first_line: u64,
    /// Last input line of the incident.
    pub last_line: u64,
    /// Input lines of its kills.
    pub kill_lines: Vec<u64>,
    /// The first kill's pid.
    pub victim_pid: Option<u64>,
    /// `kind` as printed.
    pub kind: Option<String>,
}

/// Reads the incidents of an `oomlens explain --json` document
/// (`{"schema":"oomlens.explain/1","incidents":[{"source":{"first_line":…,"last_line":…},
/// "kills":[{"pid":…,"line":…}],…}]}`).
pub fn incidents_from_json(doc: &serde_json::Value) -> Result<Vec<Found>, String> {
    let list = doc
        .get("incidents")
        .and_then(|v| v.as_array())
        .ok_or("the document has no \"incidents\" array")?;
    let mut out = Vec::with_capacity(list.len());
    for (n, inc) in list.iter().enumerate() {
        let src = inc.get("source");
        let line = |k: &str| src.and_then(|s| s.get(k)).and_then(|v| v.as_u64());
        let first_line = line("first_line").ok_or(format!("incident {n}: no source.first_line"))?;
        let last_line = line("last_line").unwrap_or(first_line);
        let kills = inc
            .get("kills")
            .and_then(|k| k.as_array())
            .cloned()
            .unwrap_or_default();
        out.push(Found {
            first_line,
            last_line,
            kill_lines: kills
                .iter()
                .filter_map(|k| k.get("line").and_then(|l| l.as_u64()))
                .collect(),
            victim_pid: kills
                .first()
                .and_then(|k| k.get("pid"))
                .and_then(|p| p.as_u64()),
            kind: inc.get("kind").and_then(|k| k.as_str()).map(str::to_string),
        });
    }
    Ok(out)
}

/// The result of matching found incidents against inserted reports.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// Incidents the inserted reports hold.
    pub expected: u64,
    /// Incidents found.
    pub found: u64,
    /// Reports with fewer incidents found than they hold: (report, incidents found in it).
    pub missing: Vec<(Inserted, u32)>,
    /// Reports with more incidents found than they hold.
    pub split: Vec<(Inserted, u32)>,
    /// Incidents outside every inserted report: found in noise.
    pub extra: Vec<Found>,
    /// Incidents that start inside a report but whose first kill line lies outside it
    /// (counted as found; the kill's `line` is wrong).
    pub misplaced_kill: Vec<(Inserted, Found)>,
}

impl Check {
    /// True when every report yielded exactly its incidents and noise yielded none.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.split.is_empty() && self.extra.is_empty()
    }

    /// A human-readable account, one problem per line (at most `max` of each kind).
    pub fn describe(&self, max: usize) -> String {
        let mut s = format!(
            "expected {} incidents, found {}\n",
            self.expected, self.found
        );
        for (i, got) in self.missing.iter().take(max) {
            s += &format!(
                "MISSED  {} at lines {}-{}: {} of {} incidents found (victim pid {:?})\n",
                i.report, i.first_line, i.last_line, got, i.incidents, i.victim_pid
            );
        }
        for (i, got) in self.split.iter().take(max) {
            s += &format!(
                "SPLIT   {} at lines {}-{}: {} incidents found, {} expected\n",
                i.report, i.first_line, i.last_line, got, i.incidents
            );
        }
        for (i, f) in self.misplaced_kill.iter().take(max) {
            s += &format!(
                "NOTE    {} at lines {}-{}: found as lines {}-{}, but its kill line {:?} is outside the report\n",
                i.report, i.first_line, i.last_line, f.first_line, f.last_line, f.kill_lines.first()
            );
        }
        for f in self.extra.iter().take(max) {
            s += &format!(
                "EXTRA   incident at lines {}-{} (kind {:?}, victim pid {:?}) outside any inserted report\n",
                f.first_line, f.last_line, f.kind, f.victim_pid
            );
        }
        let hidden = self.missing.len().saturating_sub(max)
            + self.split.len().saturating_sub(max)
            + self.extra.len().saturating_sub(max)
            + self.misplaced_kill.len().saturating_sub(max);
        if hidden > 0 {
            s += &format!("... and {hidden} more\n");
        }
        s
    }
}

/// Matches `found` incidents to `inserted` reports. An incident belongs to the report whose
/// line range holds its first kill line, or else its first line. An incident that
/// starts in noise and has no kill is extra even if it runs into a report: it was read from
/// noise lines.
pub fn check(inserted: &[Inserted], found: &[Found]) -> Check {
    let mut counts: BTreeMap<usize, u32> = BTreeMap::new();
    let mut extra = Vec::new();
    let locate = |line: u64| -> Option<usize> {
        let idx = inserted.partition_point(|i| i.first_line <= line);
        (idx > 0 && inserted[idx - 1].last_line >= line).then(|| idx - 1)
    };
    let mut misplaced_kill = Vec::new();
    for f in found {
        let hit = match f.kill_lines.first() {
            None => locate(f.first_line),
            Some(&kill) => locate(kill).or_else(|| {
                let i = locate(f.first_line)?;
                misplaced_kill.push((inserted[i].clone(), f.clone()));
                Some(i)
            }),
        };
        match hit {
            Some(i) => *counts.entry(i).or_default() += 1,
            None => extra.push(f.clone()),
        }
    }
    let mut c = Check {
        expected: inserted.iter().map(|i| u64::from(i.incidents)).sum(),
        found: found.len() as u64,
        extra,
        misplaced_kill,
        ..Check::default()
    };
    for (n, i) in inserted.iter().enumerate() {
        let got = counts.get(&n).copied().unwrap_or(0);
        if got < i.incidents {
            c.missing.push((i.clone(), got));
        } else if got > i.incidents {
            c.split.push((i.clone(), got));
        }
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Helpers and tables

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn put_dec(out: &mut [u8], mut n: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn put_hms(out: &mut [u8], h: i64, m: i64, s: i64) {
    put_dec(&mut out[0..2], h as u64);
    out[2] = b':';
    put_dec(&mut out[3..5], m as u64);
    out[5] = b':';
    put_dec(&mut out[6..8], s as u64);
}

fn decimal_len(n: u64) -> usize {
    let mut d = 1;
    let mut n = n / 10;
    while n > 0 {
        d += 1;
        n /= 10;
    }
    d
}

/// Kinds of noise events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Apparmor,
    AuditSvc,
    AuditSyscall,
    UsbAttach,
    UsbDisconnect,
    Ext4,
    Ufw,
    Conntrack,
    Tcp,
    Segfault,
    Warning,
    PageAllocFailure,
    SysrqShowMem,
    HungTask,
    NetLink,
    Veth,
    Perf,
    IoError,
    Traps,
    Slub,
    Edac,
    Nfs,
    Kvm,
    PidsCgroup,
    SystemdKmsg,
    Journald,
    Sshd,
    Cron,
    BashKilled,
    Earlyoom,
    NetworkManager,
    Kubelet,
    Containerd,
    Dockerd,
    Sudo,
    Logind,
    Postgres,
    Rsyslog,
    SystemdUnit,
}

/// Event weights for dmesg and kmsg (kernel lines, and the daemons that write to kmsg).
const KERNEL_EVENTS: &[(u32, Ev)] = &[
    (60, Ev::Apparmor),
    (40, Ev::AuditSvc),
    (10, Ev::AuditSyscall),
    (3, Ev::UsbAttach),
    (3, Ev::UsbDisconnect),
    (6, Ev::Ext4),
    (80, Ev::Ufw),
    (4, Ev::Conntrack),
    (6, Ev::Tcp),
    (8, Ev::Segfault),
    (1, Ev::Warning),
    (1, Ev::PageAllocFailure),
    (1, Ev::SysrqShowMem),
    (1, Ev::HungTask),
    (8, Ev::NetLink),
    (20, Ev::Veth),
    (2, Ev::Perf),
    (4, Ev::IoError),
    (4, Ev::Traps),
    (1, Ev::Slub),
    (2, Ev::Edac),
    (3, Ev::Nfs),
    (10, Ev::Kvm),
    (2, Ev::PidsCgroup),
    (6, Ev::SystemdKmsg),
    (4, Ev::Journald),
];

/// Event weights for journal and syslog: the kernel's plus userspace.
const ALL_EVENTS: &[(u32, Ev)] = &[
    (60, Ev::Apparmor),
    (40, Ev::AuditSvc),
    (10, Ev::AuditSyscall),
    (3, Ev::UsbAttach),
    (3, Ev::UsbDisconnect),
    (6, Ev::Ext4),
    (80, Ev::Ufw),
    (4, Ev::Conntrack),
    (6, Ev::Tcp),
    (8, Ev::Segfault),
    (1, Ev::Warning),
    (1, Ev::PageAllocFailure),
    (1, Ev::SysrqShowMem),
    (1, Ev::HungTask),
    (8, Ev::NetLink),
    (20, Ev::Veth),
    (2, Ev::Perf),
    (4, Ev::IoError),
    (4, Ev::Traps),
    (1, Ev::Slub),
    (2, Ev::Edac),
    (3, Ev::Nfs),
    (10, Ev::Kvm),
    (2, Ev::PidsCgroup),
    (4, Ev::Journald),
    (60, Ev::Sshd),
    (30, Ev::Cron),
    (3, Ev::BashKilled),
    (20, Ev::Earlyoom),
    (10, Ev::NetworkManager),
    (40, Ev::Kubelet),
    (30, Ev::Containerd),
    (5, Ev::Dockerd),
    (10, Ev::Sudo),
    (10, Ev::Logind),
    (3, Ev::Postgres),
    (1, Ev::Rsyslog),
    (40, Ev::SystemdUnit),
];

const COMMS: &[&str] = &[
    "python3",
    "node",
    "java",
    "nginx",
    "postgres",
    "chrome",
    "firefox",
    "rsync",
    "bash",
    "Xorg",
    "gnome-shell",
    "redis-server",
    "mysqld",
    "containerd-shim",
    "ruby",
    "php-fpm8.2",
];

const UNITS: &[&str] = &[
    "nginx",
    "apt-daily",
    "apt-daily-upgrade",
    "logrotate",
    "fstrim",
    "man-db",
    "certbot",
    "worker-processor",
    "docker",
    "containerd",
    "kubelet",
    "postgresql@15-main",
    "sysstat-collect",
];

const APPARMOR: &[(&str, &str, &str)] = &[
    ("snap.firefox.firefox", "firefox", "/proc/pressure/memory"),
    (
        "snap.chromium.chromium",
        "chrome",
        "/sys/devices/virtual/dmi/id/product_name",
    ),
    ("/usr/sbin/cupsd", "cupsd", "/etc/ssl/openssl.cnf"),
    (
        "docker-default",
        "runc:[2:INIT]",
        "/proc/sys/kernel/shm_rmid_forced",
    ),
    ("/usr/bin/man", "man", "/usr/share/locale/locale.alias"),
];

const USB_DEVICES: &[(&str, &str, &str)] = &[
    ("0781", "5581", "Ultra"),
    ("090c", "1000", "Flash Disk"),
    ("0951", "1666", "DataTraveler 3.0"),
    ("046d", "c52b", "USB Receiver"),
];

const HARDWARE: &[&str] = &[
    "QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014",
    "Dell Inc. PowerEdge R640/0PHYDR, BIOS 2.17.1 11/15/2022",
    "LENOVO 20QDS3E200/20QDS3E200, BIOS N2HET77W (1.60 ) 02/06/2024",
    "Amazon EC2 m5.xlarge/, BIOS 1.0 10/16/2017",
];

const WARNINGS: &[(&str, &str, &[&str])] = &[
    (
        "net/sched/sch_generic.c:525",
        "dev_watchdog+0x235/0x240",
        &[
            "? dev_watchdog+0x235/0x240",
            "? report_bug+0x17e/0x1b0",
            "? handle_bug+0x46/0x90",
            "? exc_invalid_op+0x18/0x80",
            "? asm_exc_invalid_op+0x1b/0x20",
            "? pfifo_fast_enqueue+0x150/0x150",
            "call_timer_fn+0x2c/0x130",
            "__run_timers.part.0+0x1d8/0x270",
            "run_timer_softirq+0x2a/0x60",
            "__do_softirq+0xd9/0x2e7",
            "irq_exit_rcu+0x8c/0xb0",
            "sysvec_apic_timer_interrupt+0x7c/0x90",
        ],
    ),
    (
        "fs/ext4/inode.c:3914",
        "ext4_set_page_dirty+0x42/0x60",
        &[
            "? ext4_set_page_dirty+0x42/0x60",
            "? report_bug+0x17e/0x1b0",
            "? handle_bug+0x46/0x90",
            "set_page_dirty+0x2a/0x40",
            "unpin_user_pages_dirty_lock+0x9c/0x110",
            "__ib_umem_release+0x6d/0xa0",
            "ib_umem_release+0x2d/0x90",
        ],
    ),
    (
        "mm/page_alloc.c:4568",
        "__alloc_pages+0x2de/0x350",
        &[
            "? __alloc_pages+0x2de/0x350",
            "? report_bug+0x17e/0x1b0",
            "__kmalloc_large_node+0x74/0x120",
            "__kmalloc_node+0x14a/0x1a0",
            "kvmalloc_node+0x52/0xc0",
            "seq_read_iter+0x325/0x480",
        ],
    ),
];

const HUNG_TASKS: &[(&str, &[&str])] = &[
    (
        "jbd2/sda1-8",
        &[
            "bit_wait_io+0x11/0x70",
            "__wait_on_bit+0x33/0xa0",
            "out_of_line_wait_on_bit+0x8d/0xb0",
            "jbd2_journal_commit_transaction+0x15df/0x1910",
            "kjournald2+0xa9/0x280",
        ],
    ),
    (
        "kworker/u16:2",
        &[
            "rq_qos_wait+0xd0/0x170",
            "wbt_wait+0x9b/0x100",
            "__rq_qos_throttle+0x28/0x40",
            "blk_mq_submit_bio+0x1b0/0x600",
            "process_one_work+0x16f/0x350",
            "worker_thread+0x306/0x440",
        ],
    ),
];

const ALLOC_FAILURES: &[(&str, &str, &str)] = &[
    (
        "kworker/u16:3",
        "4",
        "0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO)",
    ),
    ("swapper/0", "0", "0x820(GFP_ATOMIC)"),
    ("kswapd0", "0", "0x40cc0(GFP_KERNEL|__GFP_COMP)"),
    (
        "nginx",
        "3",
        "0x42dc0(GFP_KERNEL|__GFP_NOWARN|__GFP_COMP|__GFP_ZERO)",
    ),
    ("chrome", "2", "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        Corpus::load_default().expect("the shared OOM corpus (set OOMLENS_CORPUS)")
    }

    fn gen(corpus: &Corpus, opts: Options) -> (Vec<u8>, Stats) {
        let mut out = Vec::new();
        let stats = Generator::new(corpus, opts)
            .unwrap()
            .write_to(&mut out)
            .unwrap();
        (out, stats)
    }

    fn count(hay: &[u8], needle: &str) -> u64 {
        memchr_count(hay, needle.as_bytes())
    }

    fn memchr_count(hay: &[u8], needle: &[u8]) -> u64 {
        hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
    }

    #[test]
    fn parse_size_units() {
        assert_eq!(parse_size("200M"), Ok(200 << 20));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }

    #[test]
    fn syslog_prefixes() {
        let l = "Feb 18 17:34:47  kernel: java invoked oom-killer";
        assert_eq!(
            split_syslog_prefix(l).map(|p| (p.0, p.1)),
            Some(("kernel", "java invoked oom-killer"))
        );
        let l = "Dec 16 18:56:29 boerne.fritz.box kernel:  f4105d6c c1433406";
        assert_eq!(
            split_syslog_prefix(l).map(|p| p.1),
            Some(" f4105d6c c1433406")
        );
        let l = "jun 20 10:00:01 fedora kernel: x";
        assert_eq!(split_syslog_prefix(l).map(|p| p.0), Some("kernel"));
        let l = "2024-03-10T07:12:33.123456+00:00 web-03 mesos-slave[2905]: I0825";
        assert_eq!(
            split_syslog_prefix(l).map(|p| (p.0, p.1)),
            Some(("mesos-slave[2905]", "I0825"))
        );
        assert_eq!(split_syslog_prefix("                 active_file:1"), None);
        assert_eq!(
            split_syslog_prefix("Memory cgroup out of memory: Killed"),
            None
        );
    }

    #[test]
    fn bracket_stamps() {
        assert_eq!(strip_bracket_stamp("[   30.745678] CPU: 1"), Some("CPU: 1"));
        assert_eq!(
            strip_bracket_stamp("[Thu May  9 14:52:38 2024] x"),
            Some("x")
        );
        assert_eq!(strip_bracket_stamp("[<ffffffff810cb641>] ? cpuset"), None);
        assert_eq!(strip_bracket_stamp("[    268]     0   268 systemd"), None);
    }

    #[test]
    fn corpus_reports_split_cleanly() {
        let c = corpus();
        let sel = c.select(&Selection {
            fragments: true,
            only: vec![],
        });
        assert!(
            sel.len() >= 25,
            "only {} kernel reports selected",
            sel.len()
        );
        for r in sel {
            let raw = String::from_utf8_lossy(&r.raw);
            let want = raw.lines().filter(|l| l.contains(KILLED_PROCESS)).count() as u32;
            assert_eq!(r.killed_process_lines(LogForm::Journal), want, "{}", r.name);
            // No body keeps a prefix of its own form.
            for b in r.bodies(LogForm::Journal) {
                assert!(split_syslog_prefix(b).is_none(), "{}: {b:?}", r.name);
                assert!(strip_bracket_stamp(b).is_none(), "{}: {b:?}", r.name);
            }
        }
        // journalctl continuation lines keep the kernel's one leading space.
        let r = c.get("016").unwrap();
        assert!(r
            .lines
            .iter()
            .any(|l| l.cont && l.body.starts_with(" active_file:")));
        let r = c.get("026").unwrap();
        assert!(r.lines.iter().any(|l| l.cont && l.body == "file 0"));
        // Non-kernel lines keep their identifier.
        let r = c.get("008").unwrap();
        assert!(r
            .lines
            .iter()
            .any(|l| l.ident.as_deref() == Some("mesos-slave[2905]")));
    }

    #[test]
    fn deterministic_per_seed() {
        let c = corpus();
        for form in LogForm::ALL {
            let opts = Options {
                form,
                size: 1 << 20,
                report_every: 200 << 10,
                seed: 7,
                ..Options::default()
            };
            let (a, sa) = gen(&c, opts.clone());
            let (b, _) = gen(&c, opts.clone());
            assert!(a == b, "{form}: same seed, different output");
            let (d, _) = gen(&c, Options { seed: 8, ..opts });
            assert!(a != d, "{form}: different seeds, same output");
            assert_eq!(sa.bytes, a.len() as u64);
            assert_eq!(sa.lines, count(&a, "\n"));
        }
    }

    #[test]
    fn size_is_reached_and_not_overshot_by_much() {
        let c = corpus();
        for form in LogForm::ALL {
            let size = 3 << 20;
            let (out, st) = gen(
                &c,
                Options {
                    form,
                    size,
                    ..Options::default()
                },
            );
            assert!(out.len() as u64 >= size);
            assert!(
                (out.len() as u64) < size + (256 << 10),
                "{form}: {}",
                out.len()
            );
            assert!(out.ends_with(b"\n"));
            assert!(st.reports >= 1);
        }
    }

    #[test]
    fn counts_match_the_output() {
        let c = corpus();
        for form in LogForm::ALL {
            let opts = Options {
                form,
                size: 4 << 20,
                report_every: 100 << 10,
                seed: 3,
                ..Options::default()
            };
            let (out, st) = gen(&c, opts);
            assert!(st.reports >= 20, "{form}: {} reports", st.reports);
            assert_eq!(
                count(&out, KILLED_PROCESS),
                st.killed_process_lines,
                "{form}"
            );
            assert_eq!(st.inserted.len() as u64, st.reports);
            assert_eq!(
                st.inserted
                    .iter()
                    .map(|i| u64::from(i.incidents))
                    .sum::<u64>(),
                st.incidents
            );
            // Every inserted range holds its report's Killed lines.
            let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
            for i in &st.inserted {
                let range = &lines[i.first_line as usize - 1..i.last_line as usize];
                let k = range
                    .iter()
                    .filter(|l| memchr_count(l, KILLED_PROCESS.as_bytes()) > 0)
                    .count();
                assert_eq!(k as u32, i.killed_process_lines, "{form} {}", i.report);
            }
        }
    }

    #[test]
    fn noise_alone_holds_no_oom_marker() {
        let c = corpus();
        for form in LogForm::ALL {
            let opts = Options {
                form,
                size: 6 << 20,
                report_every: 0,
                seed: 11,
                ..Options::default()
            };
            let (out, st) = gen(&c, opts);
            assert_eq!(st.reports, 0);
            for marker in [
                KILLED_PROCESS,
                "invoked oom-killer",
                "oom-kill:",
                "oom_reaper",
                "Memory cgroup out of memory",
                "Out of memory:",
                "Kill process",
            ] {
                assert_eq!(count(&out, marker), 0, "{form}: noise contains {marker:?}");
            }
            // ... but the traps are there.
            for trap in [
                "page allocation failure",
                "Mem-Info:",
                "Call Trace:",
                "Killed",
                "out of memory",
            ] {
                if trap == "Killed" && form.kernel_only() {
                    continue;
                }
                assert!(
                    count(&out, trap) > 0,
                    "{form}: no {trap:?} in 6 MiB of noise"
                );
            }
        }
    }

    /// Parses the time of each line back and checks it never goes backwards.
    #[test]
    fn timestamps_increase() {
        let c = corpus();
        for form in LogForm::ALL {
            let opts = Options {
                form,
                size: 2 << 20,
                report_every: 100 << 10,
                seed: 5,
                ..Options::default()
            };
            let (out, _) = gen(&c, opts);
            let text = String::from_utf8(out).unwrap();
            let mut last = String::new();
            let mut last_us = 0u64;
            let mut last_seq = 0u64;
            for line in text.lines() {
                match form {
                    LogForm::Dmesg => {
                        let end = line.find(']').unwrap();
                        let t: f64 = line[1..end].trim().parse().unwrap();
                        let us = (t * 1e6).round() as u64;
                        assert!(us >= last_us, "{line}");
                        last_us = us;
                    }
                    LogForm::Kmsg => {
                        if line.starts_with(' ') {
                            continue; // SUBSYSTEM=/DEVICE= dictionary lines
                        }
                        let f: Vec<&str> = line.splitn(4, ',').collect();
                        let (seq, us): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                        assert!(
                            us >= last_us && seq == last_seq + 1 || last_seq == 0,
                            "{line}"
                        );
                        (last_us, last_seq) = (us, seq);
                    }
                    LogForm::Syslog => {
                        let stamp = &line[..32];
                        assert!(stamp >= last.as_str(), "{line}");
                        last = stamp.to_string();
                    }
                    LogForm::Journal => {
                        if line.starts_with(' ') {
                            continue; // continuation line
                        }
                        let month = MONTHS.iter().position(|m| line.starts_with(m)).unwrap();
                        let stamp = format!("{month:02} {}", &line[4..15]);
                        assert!(stamp >= last, "{line}");
                        last = stamp;
                    }
                }
            }
        }
    }

    #[test]
    fn long_line_has_exact_length() {
        for form in LogForm::ALL {
            for n in [1u64, 10, 100, 65_536, 300_001] {
                let mut out = Vec::new();
                write_long_line(&mut out, form, n, 9).unwrap();
                assert_eq!(out.len() as u64, n + 1, "{form} {n}");
                assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
                assert!(out.ends_with(b"\n"));
            }
        }
    }

    #[test]
    fn long_line_then_lead_report() {
        let c = corpus();
        let opts = Options {
            form: LogForm::Dmesg,
            size: 0,
            report_every: 0,
            long_line: 1 << 20,
            lead_report: true,
            selection: Selection {
                fragments: false,
                only: vec!["035".into()],
            },
            ..Options::default()
        };
        let (out, st) = gen(&c, opts);
        assert_eq!(st.reports, 1);
        assert_eq!(st.inserted[0].first_line, 2);
        let nl = out.iter().position(|&b| b == b'\n').unwrap();
        assert_eq!(nl, 1 << 20);
        assert_eq!(count(&out, KILLED_PROCESS), 1);
    }

    #[test]
    fn read_impl_matches_write_to() {
        let c = corpus();
        let opts = Options {
            size: 1 << 20,
            seed: 2,
            ..Options::default()
        };
        let (a, _) = gen(&c, opts.clone());
        let mut b = Vec::new();
        let mut g = Generator::new(&c, opts).unwrap();
        let mut small = [0u8; 777];
        loop {
            let n = g.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            b.extend_from_slice(&small[..n]);
        }
        assert!(a == b);
    }

    #[test]
    fn manifest_round_trip_and_check() {
        let c = corpus();
        let opts = Options {
            size: 2 << 20,
            report_every: 200 << 10,
            ..Options::default()
        };
        let (_, st) = gen(&c, opts);
        let mut tsv = Vec::new();
        st.write_manifest(&mut tsv).unwrap();
        let back = read_manifest(std::str::from_utf8(&tsv).unwrap()).unwrap();
        assert_eq!(back, st.inserted);

        // A perfect parser.
        let mut found = Vec::new();
        for i in &back {
            for k in 0..i.incidents {
                let line = i.first_line + u64::from(k);
                found.push(Found {
                    first_line: line,
                    last_line: i.last_line,
                    kill_lines: vec![i.last_line],
                    victim_pid: None,
                    kind: None,
                });
            }
        }
        assert!(check(&back, &found).ok());
        // One missed, one false positive in noise.
        let dropped = found.remove(0);
        found.push(Found {
            first_line: 1,
            last_line: 1,
            kill_lines: vec![],
            ..dropped.clone()
        });
        let r = check(&back, &found);
        assert!(!r.ok());
        assert_eq!(r.missing.len(), 1);
        assert_eq!(r.extra.len(), 1);
        assert!(r.describe(5).contains("MISSED"));

        // A kill line past the report's end still counts the report as found, with a note.
        let i = &back[0];
        let late = Found {
            first_line: i.first_line,
            last_line: i.last_line + 500,
            kill_lines: vec![i.last_line + 500],
            victim_pid: None,
            kind: None,
        };
        let r = check(&back[..1], &[late]);
        assert!(r.missing.is_empty() || back[0].incidents > 1);
        assert_eq!(r.misplaced_kill.len(), 1);
        assert!(r.describe(5).contains("NOTE"));
    }

    #[test]
    fn json_incidents_are_read() {
        let doc: serde_json::Value = serde_json::from_str(
            r#"{"schema":"oomlens.explain/1","incidents":[{"kind":"global",
            "source":{"file":"-","first_line":3,"last_line":9},
            "kills":[{"pid":116,"line":8}]}]}"#,
        )
        .unwrap();
        let f = incidents_from_json(&doc).unwrap();
        assert_eq!(f[0].first_line, 3);
        assert_eq!(f[0].kill_lines, vec![8]);
        assert_eq!(f[0].victim_pid, Some(116));
        assert_eq!(f[0].kind.as_deref(), Some("global"));
    }
}
