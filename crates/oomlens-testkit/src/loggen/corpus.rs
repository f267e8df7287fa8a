//! The corpus of real OOM reports the generator inserts, and splitting its files into lines.

use super::*;

// The corpus

/// One line of a corpus report, with the corpus file's own prefix removed.
#[derive(Debug, Clone)]
pub(super) struct ReportLine {
    /// `None` for kernel lines, else the syslog identifier (`systemd`, `dockerd[12]`).
    pub(super) ident: Option<String>,
    /// The message as the program printed it.
    pub(super) body: String,
    /// A continuation line of a multi-line message (journalctl's indented lines).
    pub(super) cont: bool,
    /// The body contains [`KILLED_PROCESS`].
    pub(super) killed: bool,
    /// The kmsg log level the kernel would have used.
    pub(super) level: u8,
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
    pub(super) lines: Vec<ReportLine>,
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

pub(super) fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Splits a corpus file into message lines, removing the file's own line prefix.
pub(super) fn split_report(log_format: &str, text: &str) -> Vec<ReportLine> {
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
pub(super) fn strip_bracket_stamp(line: &str) -> Option<&str> {
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
pub(super) fn split_syslog_prefix(line: &str) -> Option<(&str, &str, usize)> {
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
pub(super) fn kmsg_level(body: &str) -> u8 {
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
