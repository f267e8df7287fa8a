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

mod check;
mod corpus;
mod events;
mod generator;
mod noise;
mod tables;

pub use check::{check, incidents_from_json, Check, Found};
pub use corpus::{Corpus, CorpusReport, Selection};
pub use generator::{write_long_line, Generator, NoReports};
// Items the modules share; each module but tables.rs (which needs none) starts with
// `use super::*` and so sees these and the parent's own.
use generator::*;
use tables::*;

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

#[cfg(test)]
mod tests;
