//! Log envelopes: the prefix a log form puts before each message.
//!
//! One physical line is decoded into zero or more messages, each with the time, host and
//! identifier its envelope carried. The form is detected per line, so files that mix forms
//! (a syslog file with pasted dmesg output) work, and can be forced with [`Format`].
//!
//! Forms handled:
//! - raw `/dev/kmsg` records: `prio,seq,usec,flags[,caller=T4711];message` (+ ` KEY=value`
//!   dictionary lines);
//! - `dmesg`: `[  123.456789] message`, also `[ 1.2] host ident[pid]: message` (journalctl
//!   `-o short-monotonic`), `dmesg -x` level prefixes (`kern  :err   : `);
//! - `dmesg -T`: `[Tue May 16 19:45:20 2017] message`, day and month in any locale;
//! - `journalctl` short / short-precise / rsyslog: `Mon dd hh:mm:ss[.frac] host ident[pid]:
//!   message`, an empty host (`Feb 18 17:34:47  kernel:`), localized months, continuation
//!   lines of multi-line messages (indented), `#012` escapes, an inner kernel `[ 123.4]` stamp;
//! - RFC 3339 / ISO stamps (rsyslog RFC 3339 template, journalctl `-o short-iso` and
//!   `-o short-iso-precise`, `dmesg --time-format=iso`);
//! - `journalctl -o short-unix`: `1700000000.123456 host ident[pid]: message`;
//! - `journalctl -o short-full` and `-o with-unit`: `Tue 2023-11-14 22:13:20 UTC host
//!   ident[pid]: message` (with-unit prints the unit where the identifier goes);
//! - `journalctl -o json` (MESSAGE as a string or a byte array), `-o json-sse` (`data: {…}`)
//!   and `-o json-seq` (`\x1e{…}`);
//! - `journalctl -o export`, `-o verbose` and `-o json-pretty`: one record over many lines,
//!   flattened to `-o json` lines before the scanner (see [`crate::records`]);
//! - `journalctl -o cat` and other bare message bodies (anything else).
//!
//! Kernels with CONFIG_PRINTK_CALLER add a caller id after the stamp (`[  512.0][ T4711]`,
//! `[ C3]` for a CPU); it is dropped in every form (see `strip_caller`).

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::month::month_number;

/// An input form, as chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Detect the form of each line.
    Auto,
    /// Raw `/dev/kmsg` records.
    Kmsg,
    /// `dmesg` with `[ uptime]` stamps (also `dmesg -x`).
    Dmesg,
    /// `dmesg -T` with wall-clock stamps.
    DmesgT,
    /// `journalctl` short forms (short, short-precise, short-iso, short-monotonic).
    Journal,
    /// `journalctl -o json`, also `-o json-sse` and `-o json-seq`.
    JournalJson,
    /// `journalctl -o json-pretty`: one JSON object over many lines.
    JournalJsonPretty,
    /// `journalctl -o verbose`: a stamp line, then one indented `FIELD=value` line per field.
    JournalVerbose,
    /// `journalctl -o export`: `FIELD=value` lines and length-prefixed binary fields.
    JournalExport,
    /// syslog files: classic and RFC 3339 stamps, `#012` escapes.
    Syslog,
    /// Message bodies without any prefix.
    Bare,
}

impl Format {
    /// Every format with its command-line name.
    pub const ALL: &'static [(&'static str, Format)] = &[
        ("auto", Format::Auto),
        ("kmsg", Format::Kmsg),
        ("dmesg", Format::Dmesg),
        ("dmesg-t", Format::DmesgT),
        ("journal", Format::Journal),
        ("journal-json", Format::JournalJson),
        ("journal-json-pretty", Format::JournalJsonPretty),
        ("journal-verbose", Format::JournalVerbose),
        ("journal-export", Format::JournalExport),
        ("syslog", Format::Syslog),
        ("bare", Format::Bare),
    ];

    /// The format with command-line name `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// True for the forms that spread one journal record over several lines; they are
    /// flattened into `journalctl -o json` lines before the line scanner (see `records`).
    pub fn is_multiline_record(self) -> bool {
        matches!(
            self,
            Format::JournalJsonPretty | Format::JournalVerbose | Format::JournalExport
        )
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("auto")
    }
}

/// The log form a line was written in, as far as one line can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Form {
    /// No prefix.
    #[default]
    Bare,
    /// A /dev/kmsg record.
    Kmsg,
    /// `[ uptime] message`.
    Dmesg,
    /// `dmesg -x` level prefix.
    DmesgX,
    /// `[Day Mon dd hh:mm:ss yyyy] message`.
    DmesgT,
    /// `[ uptime] host ident[pid]: message` (journalctl -o short-monotonic).
    JournalMonotonic,
    /// `Mon dd hh:mm:ss host ident: message`: journalctl short or classic syslog.
    Short,
    /// `Mon dd hh:mm:ss: message` (earlyoom's own prefix).
    TimePrefix,
    /// RFC 3339 / ISO stamp with host and ident.
    Iso,
    /// `dmesg --time-format=iso`.
    DmesgIso,
    /// `journalctl -o json`.
    Json,
    /// `journalctl -o json-sse`: `data: {…}` lines.
    JsonSse,
    /// `journalctl -o json-seq`: RFC 7464 records, `\x1e{…}`.
    JsonSeq,
    /// `1700000000.123456 host ident[pid]: message` (journalctl -o short-unix).
    ShortUnix,
    /// `Tue 2023-11-14 22:13:20 UTC host ident[pid]: message` (journalctl -o short-full and
    /// -o with-unit).
    ShortFull,
    /// `dmesg -r`: the record's syslog priority before the stamp, `<4>[    0.189015] message`.
    DmesgRaw,
    /// A console log that stamps each line with the host's clock before the kernel's own
    /// stamp: `[2025-06-04 17:51:20] [   21.719618] message` (Qubes' guest console logs).
    Console,
    /// A guest's kernel lines in VMware's `vmware.log`:
    /// `2023-12-04T10:49:30.125Z In(05) vcpu-5 - Guest: <6>[39290745.072507] message`.
    VmwareGuest,
}

/// Hints in a line that tell journalctl's short form from a syslog daemon's file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// journalctl-only: zero-padded day (`Apr 05`), localized month, empty host,
    /// continuation lines, `-- Logs begin at` markers.
    pub journal: bool,
    /// syslog-only: space-padded day (`Jun  5`), `#012` escapes, a kept kernel `[ stamp]`,
    /// an ident written without its pid by rsyslog (`systemd:`), RFC 3339 stamps.
    pub syslog: bool,
}

/// The envelope of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The form detected.
    pub form: Form,
    /// Hints about the writer of a short-form line.
    pub hints: Hints,
    /// When it was logged.
    pub time: LogTime,
    /// The host, where printed (empty hosts are `None`).
    pub host: Option<String>,
    /// The syslog identifier (`kernel`, `systemd`, `earlyoom`, ...), where printed.
    pub ident: Option<String>,
    /// The pid in `ident[pid]`.
    pub pid: Option<u32>,
    /// True when the envelope marks the message as the kernel's (`kernel:` ident, kmsg
    /// facility 0, dmesg stamps).
    pub kernel: bool,
    /// True when the form carries no ident at all, so the message may be anyone's.
    pub anonymous: bool,
}

/// What a physical line decoded to.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The envelope shared by every message of the line.
    pub envelope: Envelope,
    /// The messages (more than one for `#012`-escaped or multi-line JSON messages).
    pub messages: Vec<Cow<'a, str>>,
    /// True when the line continued the previous line's message (journal indentation).
    pub continuation: bool,
}

/// Context needed to turn printed times into instants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    /// The year to assume when a form does not print one.
    pub reference_year: Option<i16>,
    /// The boot time of a live kernel log, microseconds since the epoch, to derive
    /// wall-clock times from kernel monotonic stamps.
    pub boot_time_us: Option<i64>,
}

/// Decodes envelopes line by line, keeping the little state continuation lines need.
#[derive(Debug)]
pub struct Decoder {
    format: Format,
    clock: Clock,
    /// The previous line's envelope, for indented continuation lines.
    prev: Option<Envelope>,
    prev_was_kmsg: bool,
    /// The previous line was a `journalctl -o json-sse` event, which an empty line ends.
    prev_was_sse: bool,
}

impl Decoder {
    /// A decoder for `format`.
    pub fn new(format: Format, clock: Clock) -> Decoder {
        // Multi-line record forms reach the decoder already flattened to JSON lines.
        let format = if format.is_multiline_record() {
            Format::JournalJson
        } else {
            format
        };
        Decoder {
            format,
            clock,
            prev: None,
            prev_was_kmsg: false,
            prev_was_sse: false,
        }
    }

    /// Forget the previous line (after input was skipped).
    pub fn reset(&mut self) {
        self.prev = None;
        self.prev_was_kmsg = false;
        self.prev_was_sse = false;
    }

    /// Decode one physical line (without its line terminator).
    pub fn decode<'a>(&mut self, line: &'a str) -> Decoded<'a> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Server-sent events end with an empty line: it belongs to the event, not the log.
        if std::mem::take(&mut self.prev_was_sse) && line.is_empty() {
            return Decoded {
                envelope: Envelope::default(),
                messages: vec![],
                continuation: true,
            };
        }
        // Continuation lines: kmsg dictionary entries and indented journal lines.
        if line.starts_with([' ', '\t']) {
            if self.prev_was_kmsg && is_kmsg_dict(line) {
                return Decoded {
                    envelope: Envelope::default(),
                    messages: vec![],
                    continuation: true,
                };
            }
            if let Some(prev) = &self.prev {
                if line.starts_with("  ") || line.starts_with('\t') {
                    let mut envelope = prev.clone();
                    envelope.hints.journal |= envelope.form == Form::Short;
                    return Decoded {
                        envelope,
                        messages: split_escapes(Cow::Borrowed(line.trim_start())),
                        continuation: true,
                    };
                }
            }
        }
        let decoded = self.decode_fresh(line);
        self.prev_was_kmsg = decoded.1;
        self.prev_was_sse = decoded.0.envelope.form == Form::JsonSse;
        let mut d = decoded.0;
        if d.messages.len() > 1 && d.envelope.form != Form::Json {
            d.envelope.hints.syslog = true; // rsyslog's #012
        }
        for m in d.messages.iter_mut() {
            if let Cow::Owned(s) = unescape_kernel(m) {
                *m = Cow::Owned(s);
            }
        }
        // Only prefixed forms have continuation lines; bare text and kmsg do not.
        self.prev = if d.envelope.anonymous && d.envelope.time.is_empty() || decoded.1 {
            None
        } else {
            Some(d.envelope.clone())
        };
        d
    }

    fn decode_fresh<'a>(&self, line: &'a str) -> (Decoded<'a>, bool) {
        let f = self.format;
        let auto = f == Format::Auto;
        let first = line.as_bytes().first().copied().unwrap_or(b' ');
        if (auto && matches!(first, b'{' | b'd' | 0x1e)) || f == Format::JournalJson {
            // json-sse frames each entry as `data: {…}`, json-seq starts it with RS (0x1e).
            let (json, form) = if let Some(j) = line.strip_prefix("data: ") {
                (j, Form::JsonSse)
            } else if let Some(j) = line.strip_prefix('\u{1e}') {
                (j, Form::JsonSeq)
            } else {
                (line, Form::Json)
            };
            if json.starts_with('{') {
                if let Some(mut d) = decode_json(json) {
                    d.envelope.form = form;
                    return (d, false);
                }
            }
        }
        if (auto && first.is_ascii_digit()) || f == Format::Kmsg {
            if let Some(d) = decode_kmsg(line, &self.clock) {
                return (d, true);
            }
        }
        if auto || matches!(f, Format::Dmesg | Format::DmesgT | Format::Journal) {
            // `dmesg -x` facility and level, or `dmesg -r`'s raw priority.
            let raw = strip_raw_priority(line);
            let rest = raw.unwrap_or_else(|| strip_level_prefix(line).unwrap_or(line));
            let leveled = rest.len() != line.len();
            if rest.starts_with('[') {
                if let Some(mut d) = decode_dmesg(rest, &self.clock) {
                    if raw.is_some() {
                        d.envelope.form = Form::DmesgRaw;
                    } else if leveled {
                        d.envelope.form = Form::DmesgX;
                    }
                    return (d, false);
                }
                if let Some(d) = decode_stamped_console(rest, &self.clock) {
                    return (d, false);
                }
                if let Some(mut d) = decode_dmesg_t(rest, &self.clock) {
                    if leveled {
                        d.envelope.form = Form::DmesgX;
                    }
                    return (d, false);
                }
            }
        }
        if auto || matches!(f, Format::Journal | Format::Syslog | Format::DmesgT) {
            if first.is_ascii_digit() {
                if let Some(d) = decode_iso(line).or_else(|| decode_unix(line)) {
                    return (d, false);
                }
            } else if let Some(d) = decode_short(line, &self.clock).or_else(|| decode_full(line)) {
                return (d, false);
            }
        }
        if (auto || f == Format::Dmesg) && first != b'[' {
            if let Some(d) = decode_after_output(line, &self.clock) {
                return (d, false);
            }
        }
        // A kernel without printk times still prints its caller id: `[ T4711] message`.
        let line = if first == b'[' {
            let rest = strip_caller(line);
            rest.strip_prefix(' ')
                .filter(|_| rest.len() != line.len())
                .unwrap_or(rest)
        } else {
            line
        };
        // `ident[pid]: message` without a stamp (journalctl -o cat with identifiers, pastes),
        // and `kernel: message` (the kernel has no pid: pastes that cut the stamp and host).
        if let Some((ident, pid, msg)) = split_ident(line).filter(|(i, p, _)| {
            i.starts_with(|c: char| c.is_ascii_alphabetic()) && (p.is_some() || *i == "kernel")
        }) {
            let envelope = Envelope {
                ident: Some(ident.to_string()),
                pid,
                kernel: ident == "kernel",
                ..Envelope::default()
            };
            return (
                Decoded {
                    envelope,
                    messages: split_escapes(Cow::Borrowed(msg)),
                    continuation: false,
                },
                false,
            );
        }
        let marker = [
            "-- Logs begin at ",
            "-- Journal begins at ",
            "-- Boot ",
            "-- No entries --",
            "-- Subject:",
            "-- Reboot --",
        ]
        .iter()
        .any(|m| line.starts_with(m));
        let envelope = Envelope {
            anonymous: true,
            hints: Hints {
                journal: marker,
                syslog: false,
            },
            ..Envelope::default()
        };
        (
            Decoded {
                envelope,
                messages: split_escapes(Cow::Borrowed(line)),
                continuation: false,
            },
            false,
        )
    }
}

/// ` SUBSYSTEM=…` / ` DEVICE=…` lines that follow a kmsg record.
fn is_kmsg_dict(line: &str) -> bool {
    let t = &line[1..];
    match t.find('=') {
        Some(i) => i > 0 && t[..i].bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        None => false,
    }
}

/// /dev/kmsg writes bytes below 0x20, 0x7f and above, and `\` as `\xNN`
/// (kernel/printk/printk.c); dmesg re-escapes only what it cannot print and journald
/// un-escapes everything. Decoding the escapes gives every form the same text: the bytes
/// the kernel was given (a comm `a\x01\x09b` and one read back as `a\x01<TAB>b` are both
/// `a<SOH><TAB>b`). Output sinks escape control characters again for terminals.
pub fn unescape_kernel(text: &str) -> Cow<'_, str> {
    if !text.contains("\\x") {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 2]), hex(b[i + 3])) {
                out.push((h * 16 + l) as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// rsyslog writes control characters as `#` and three octal digits: a message that
/// contained newlines (the kernel's multi-line memory.stat, Mem-Info) arrives as one line
/// joined by `#012`. Split it back.
fn split_escapes(text: Cow<'_, str>) -> Vec<Cow<'_, str>> {
    if !text.contains("#012") {
        return vec![text];
    }
    text.split("#012")
        .map(|s| Cow::Owned(s.to_string()))
        .collect()
}

/// English month abbreviations: syslog daemons never localize them.
const MONTH_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Strip `dmesg -x`'s `kern  :err   : ` prefix.
fn strip_level_prefix(line: &str) -> Option<&str> {
    const FACILITIES: &[&str] = &[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ];
    const LEVELS: &[&str] = &[
        "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
    ];
    let (fac, rest) = line.split_once(':')?;
    if !FACILITIES.contains(&fac.trim_end()) {
        return None;
    }
    let (lvl, rest) = rest.split_once(':')?;
    if !LEVELS.contains(&lvl.trim_end()) {
        return None;
    }
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

fn decode_kmsg<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let (head, msg) = line.split_once(';')?;
    let mut fields = head.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let _seq: u64 = fields.next()?.parse().ok()?;
    let usec: u64 = fields.next()?.parse().ok()?;
    fields.next()?; // flags
    let mut env = Envelope {
        form: Form::Kmsg,
        time: LogTime {
            monotonic_us: Some(usec),
            ..LogTime::default()
        },
        kernel: prio >> 3 == 0,
        ..Envelope::default()
    };
    fill_utc_from_boot(&mut env.time, clock);
    let mut msg = msg;
    if env.kernel {
        env.ident = Some("kernel".into());
    } else if let Some((ident, pid, rest)) = split_ident(msg) {
        // Userspace writes to /dev/kmsg as `ident[pid]: text` (systemd does).
        env.ident = Some(ident.to_string());
        env.pid = pid;
        msg = rest;
    }
    Some(Decoded {
        envelope: env,
        messages: vec![Cow::Borrowed(msg)],
        continuation: false,
    })
}

fn fill_utc_from_boot(time: &mut LogTime, clock: &Clock) {
    if let (Some(boot), Some(mono)) = (clock.boot_time_us, time.monotonic_us) {
        let us = boot.saturating_add(mono as i64);
        if let Ok(ts) = jiff::Timestamp::from_microsecond(us) {
            time.utc = Some(ts.to_string());
        }
    }
}

/// `[  123.456789] rest` → monotonic µs and rest.
fn parse_uptime_stamp(line: &str) -> Option<(u64, &str)> {
    let inner_end = line.find(']')?;
    let inner = line[1..inner_end].trim_start();
    let (sec, frac) = inner.split_once('.')?;
    if sec.is_empty() || frac.is_empty() || sec.len() > 12 || frac.len() > 9 {
        return None;
    }
    if !sec.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: u64 = sec.parse().ok()?;
    let mut us: u64 = frac.parse().ok()?;
    // Scale the fraction to microseconds whatever its printed width.
    for _ in frac.len()..6 {
        us *= 10;
    }
    for _ in 6..frac.len() {
        us /= 10;
    }
    let rest = strip_caller(&line[inner_end + 1..]);
    Some((sec * 1_000_000 + us, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// Drop a printk caller id after a stamp: `[ T4711]` (task) or `[ C3]` (CPU).
///
/// Kernels with CONFIG_PRINTK_CALLER print it right after the time stamp, `[%6s]` with no
/// space between (kernel/printk/printk.c, `print_caller`); util-linux dmesg prints it as a
/// field of its own after a space (`[  512.0] [  T4711] msg`). `s` starts right after the
/// stamp's `]`; what follows the id (`' '` and the message) is returned. Anything else, a
/// task-table row `[  pid  ]` or `[   1234]` included, is returned unchanged.
fn strip_caller(s: &str) -> &str {
    let t = s.strip_prefix(' ').unwrap_or(s);
    let Some(inner) = t.strip_prefix('[') else {
        return s;
    };
    let Some(end) = inner.as_bytes().iter().take(12).position(|&b| b == b']') else {
        return s;
    };
    let id = inner[..end].trim_start_matches(' ');
    let digits = id.strip_prefix(['T', 'C']).unwrap_or("");
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        &inner[end + 1..]
    } else {
        s
    }
}

/// `<4>[    0.189015] message` → `[    0.189015] message`: the syslog priority that `dmesg -r`
/// prints, and consoles showing the level, before the stamp (util-linux dmesg.c, raw output).
fn strip_raw_priority(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('<')?;
    let end = inner.find('>')?;
    if end == 0 || end > 3 || !inner[..end].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &inner[end + 1..];
    rest.starts_with('[').then_some(rest)
}

/// `Creating journal (262144 blocks): [   34.739137] mkfs.ext4 invoked`: on a serial
/// console a program's output that has no newline yet runs into the kernel's next line
/// (corpus 203, an LKFT test log); the kernel's line starts at its stamp.
fn decode_after_output<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let i = line.find(" [")?;
    decode_dmesg(&line[i + 1..], clock).filter(|d| d.envelope.form == Form::Dmesg)
}

/// `[2025-06-04 17:51:20] [   21.719618] message`: a console log (Qubes' guest consoles)
/// that stamps each line with the host's clock before the guest kernel's own stamp.
fn decode_stamped_console<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let inner = line.strip_prefix('[')?;
    let end = inner.find(']')?;
    let (date, hms) = inner[..end].split_once(' ')?;
    let mut ymd = date.split('-');
    let (y, m, d) = (ymd.next()?, ymd.next()?, ymd.next()?);
    if y.len() != 4 || ymd.next().is_some() {
        return None;
    }
    let local = civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?, hms)?;
    let mut decoded = decode_dmesg(inner[end + 1..].strip_prefix(' ')?, clock)?;
    decoded.envelope.form = Form::Console;
    decoded.envelope.time.local = Some(local);
    Some(decoded)
}

/// The guest's own line in a `vmware.log` line after its stamp: `In(05) vcpu-5 - Guest: …`
/// (level and its number, the thread, ` - `, then `Guest: ` before what the guest logged).
fn vmware_guest(after: &str) -> Option<&str> {
    let (level, rest) = after.split_once(' ')?;
    let (name, num) = level.strip_suffix(')')?.split_once('(')?;
    if name.is_empty() || num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (_thread, rest) = rest.split_once(" - ")?;
    rest.strip_prefix("Guest: ")
}

fn decode_dmesg<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let (us, rest) = parse_uptime_stamp(line)?;
    let mut env = Envelope {
        form: Form::Dmesg,
        time: LogTime {
            monotonic_us: Some(us),
            ..LogTime::default()
        },
        ..Envelope::default()
    };
    fill_utc_from_boot(&mut env.time, clock);
    let mut msg = rest;
    // journalctl -o short-monotonic: `[  77.74] host ident[pid]: msg` or `[  77.74] ident[pid]: msg`.
    if let Some((host, ident, pid, m)) = split_host_ident(rest, true) {
        env.form = Form::JournalMonotonic;
        env.host = host.map(str::to_string);
        env.kernel = ident == "kernel";
        env.ident = Some(ident.to_string());
        env.pid = pid;
        msg = m;
    } else {
        env.kernel = true;
    }
    Some(Decoded {
        envelope: env,
        messages: split_escapes(Cow::Borrowed(msg)),
        continuation: false,
    })
}

/// `[Tue May 16 19:45:20 2017] msg`, day and month names in any locale, in any order.
///
/// util-linux 2.38 made the whole `-T` format translatable: `[dim. 19 avril 18:03:30 2026]`
/// (fr), `[So, 19. Apr 2026, 18:03:30]` (de), `[ 4月19日(日) 18:03:30 2026]` (ja),
/// `[ 4월 19일 (일) 18:03:30]` (ko, no year), `[sön 19 apr 2026 18.03.30]` (sv).
fn decode_dmesg_t<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let end = line.find(']')?;
    let (year, month, day, hms) = parse_ctime(&line[1..end])?;
    let year_inferred = year.is_none();
    let local = civil(
        year.or(clock.reference_year).unwrap_or(1970),
        month,
        day,
        &hms,
    )?;
    let rest = strip_caller(&line[end + 1..]);
    let env = Envelope {
        form: Form::DmesgT,
        time: LogTime {
            local: Some(local),
            year_inferred,
            ..LogTime::default()
        },
        kernel: true,
        ..Envelope::default()
    };
    Some(Decoded {
        envelope: env,
        messages: split_escapes(Cow::Borrowed(rest.strip_prefix(' ').unwrap_or(rest))),
        continuation: false,
    })
}

/// The fields of a localized ctime: (year, month, day, `hh:mm:ss`).
fn parse_ctime(inner: &str) -> Option<(Option<i16>, u8, u8, String)> {
    let toks: Vec<&str> = inner
        .split_whitespace()
        .map(|t| t.trim_end_matches([',', '.']))
        .filter(|t| !t.is_empty())
        .collect();
    if toks.len() < 3 || toks.len() > 7 {
        return None;
    }
    let (mut year, mut day, mut hms) = (None, None, None);
    let mut months = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let digits = t.bytes().all(|b| b.is_ascii_digit());
        if t.len() >= 7
            && t.len() <= 8
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b':' || b == b'.')
        {
            hms = Some(t.replace('.', ":"));
        } else if digits && t.len() == 4 {
            year = t.parse().ok();
        } else if digits && t.len() <= 2 {
            day = t.parse().ok();
        } else if let Some((m, d)) = t.split_once('月').filter(|(_, d)| d.contains('日')) {
            // ja: `4月19日(日)`
            months.push((i, m.parse().ok()?));
            day = d.split('日').next()?.parse().ok();
        } else if let Some(d) = t
            .strip_suffix('일')
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        {
            day = d.parse().ok();
        } else if let Some(m) = month_number(t) {
            months.push((i, m));
        }
    }
    // A weekday can read as a month (fr `mar.` is Tuesday and March): it comes first.
    let month = match months.as_slice() {
        [] => return None,
        [(_, m)] => *m,
        [.., (_, m)] => *m,
    };
    Some((year, month, day?, hms?))
}

/// `hh:mm:ss[.frac]` on a date → ISO civil time, validated.
fn civil(year: i16, month: u8, day: u8, hms: &str) -> Option<String> {
    let (hms, frac) = match hms.split_once(['.', ',']) {
        Some((a, b)) => (a, Some(b)),
        None => (hms, None),
    };
    let mut p = hms.split(':');
    let h: i8 = p.next()?.parse().ok()?;
    let m: i8 = p.next()?.parse().ok()?;
    let s: i8 = p.next()?.parse().ok()?;
    let nanos = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut n: i32 = f.parse().ok()?;
            for _ in f.len()..9 {
                n *= 10;
            }
            n
        }
        Some(_) => return None,
        None => 0,
    };
    let dt = jiff::civil::DateTime::new(year, month as i8, day as i8, h, m, s, nanos).ok()?;
    Some(dt.to_string())
}

/// `ident[pid]: rest` or `ident: rest` at the start of `s`.
fn split_ident(s: &str) -> Option<(&str, Option<u32>, &str)> {
    let colon = s
        .find(": ")
        .or_else(|| s.strip_suffix(':').map(|t| t.len()))?;
    let head = &s[..colon];
    let rest = s.get(colon + 2..).unwrap_or("");
    if head.is_empty() || head.len() > 64 || head.contains(' ') {
        return None;
    }
    if let Some(open) = head.find('[') {
        let pid = head[open + 1..].strip_suffix(']')?.parse().ok()?;
        let ident = &head[..open];
        if ident.is_empty() {
            return None;
        }
        Some((ident, Some(pid), rest))
    } else {
        if head.contains(']') {
            return None;
        }
        Some((head, None, rest))
    }
}

/// `host ident[pid]: msg`, ` ident: msg` (empty host) or `ident[pid]: msg` (no host).
///
/// With `strict`, an ident without `[pid]` is accepted only if it is `kernel`, so kernel
/// messages of the form `word: text` (`oom_reaper: reaped …`) are not taken for envelopes.
fn split_host_ident(s: &str, strict: bool) -> Option<(Option<&str>, &str, Option<u32>, &str)> {
    let accept = |ident: &str, pid: Option<u32>| !strict || pid.is_some() || ident == "kernel";
    // No host.
    if let Some((ident, pid, rest)) = split_ident(s) {
        if accept(ident, pid) && (pid.is_some() || ident == "kernel") {
            return Some((None, ident, pid, rest));
        }
    }
    // Empty host: the original had two spaces.
    let (host, after) = match s.strip_prefix(' ') {
        Some(after) => (None, after),
        None => {
            let sp = s.find(' ')?;
            (Some(&s[..sp]), &s[sp + 1..])
        }
    };
    let (ident, pid, rest) = split_ident(after)?;
    if !accept(ident, pid) {
        return None;
    }
    Some((host, ident, pid, rest))
}

/// journalctl short / classic syslog: `Mon dd hh:mm:ss[.frac] host ident[pid]: msg`, and
/// earlyoom's `Mon dd hh:mm:ss: msg`.
fn decode_short<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let (mon, rest) = line.split_once(' ')?;
    let month = month_number(mon)?;
    let rest = rest.trim_start_matches(' ');
    let (dd, rest) = rest.split_once(' ')?;
    let day: u8 = dd.parse().ok()?;
    // hh:mm:ss[.frac], followed by a space, or by ": " in earlyoom's own prefix.
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':' || b[i] == b'.') {
        i += 1;
    }
    let (hms, after) = (&rest[..i], &rest[i..]);
    if let Some(hms) = hms.strip_suffix(':') {
        // `Jun 12 06:39:16: msg`
        let msg = after.strip_prefix(' ')?;
        let local = civil(clock.reference_year.unwrap_or(1970), month, day, hms)?;
        let env = Envelope {
            form: Form::TimePrefix,
            time: LogTime {
                local: Some(local),
                year_inferred: true,
                ..LogTime::default()
            },
            anonymous: true,
            ..Envelope::default()
        };
        return Some(Decoded {
            envelope: env,
            messages: split_escapes(Cow::Borrowed(msg)),
            continuation: false,
        });
    }
    let after = after.strip_prefix(' ')?;
    let local = civil(clock.reference_year.unwrap_or(1970), month, day, hms)?;
    let (host, ident, pid, msg) = split_host_ident(after, false)?;
    let english = MONTH_EN.get(month as usize - 1) == Some(&mon);
    let hints = Hints {
        // journalctl prints `%b %d` (zero-padded, localized); syslog daemons `%b %e` in English.
        journal: dd.starts_with('0') || !english || host.is_none(),
        syslog: dd.len() == 1 && line[mon.len()..].starts_with("  ")
            || (pid.is_none() && ident == "systemd"),
    };
    let mut env = Envelope {
        form: Form::Short,
        hints,
        time: LogTime {
            local: Some(local),
            year_inferred: true,
            ..LogTime::default()
        },
        host: host.map(str::to_string),
        ident: Some(ident.to_string()),
        pid,
        kernel: ident == "kernel",
        anonymous: false,
    };
    let msg = kernel_inner_stamp(&mut env, msg);
    Some(Decoded {
        envelope: env,
        messages: split_escapes(Cow::Borrowed(msg)),
        continuation: false,
    })
}

/// syslog copies of kernel messages may keep the kernel's `[ 123.456]` stamp.
/// They may also keep a printk caller id, after the stamp or alone (printk.time=0).
fn kernel_inner_stamp<'a>(env: &mut Envelope, msg: &'a str) -> &'a str {
    if env.kernel && msg.starts_with('[') {
        if let Some((us, rest)) = parse_uptime_stamp(msg) {
            env.hints.syslog = true;
            env.time.monotonic_us = Some(us);
            return rest;
        }
        let rest = strip_caller(msg);
        if rest.len() != msg.len() {
            return rest.strip_prefix(' ').unwrap_or(rest);
        }
    }
    msg
}

/// RFC 3339 / ISO 8601 stamps: `2024-01-26T01:49:41.123+09:00 host ident[pid]: msg`,
/// `2024-01-26T01:49:41+0900 …` (short-iso), `2024-01-26T01:49:41,123456+09:00 msg` (dmesg iso).
fn decode_iso(line: &str) -> Option<Decoded<'_>> {
    let sp = line.find(' ')?;
    let stamp = &line[..sp];
    let b = stamp.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    let date = &stamp[..10];
    let mut rest = &stamp[11..];
    // Split the zone off: Z, +hh:mm, +hhmm.
    let zone_at = rest.find(['Z', 'z', '+']).or_else(|| rest.rfind('-'));
    let zone = zone_at.map(|i| &rest[i..]);
    if let Some(i) = zone_at {
        rest = &rest[..i];
    }
    let mut d = date.split('-');
    let year: i16 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    let local = civil(year, month, day, rest)?;
    let mut time = LogTime {
        local: Some(local.clone()),
        ..LogTime::default()
    };
    if let Some(z) = zone {
        let z = if z.len() == 5 && !z.contains(':') {
            format!("{}:{}", &z[..3], &z[3..])
        } else {
            z.to_string()
        };
        if let Ok(ts) = format!("{local}{z}").parse::<jiff::Timestamp>() {
            time.utc = Some(ts.to_string());
        }
    }
    let after = &line[sp + 1..];
    if let Some(guest) = vmware_guest(after) {
        let mut d = decode_dmesg(
            strip_raw_priority(guest).unwrap_or(guest),
            &Clock::default(),
        )?;
        d.envelope.form = Form::VmwareGuest;
        d.envelope.time.local = time.local;
        d.envelope.time.utc = time.utc;
        return Some(d);
    }
    let mut env = Envelope {
        form: Form::Iso,
        time,
        ..Envelope::default()
    };
    let msg = match split_host_ident(after, false) {
        Some((host, ident, pid, msg)) => {
            env.host = host.map(str::to_string);
            env.kernel = ident == "kernel";
            env.ident = Some(ident.to_string());
            env.pid = pid;
            // journalctl -o short-iso writes `+0000`; rsyslog's RFC 3339 template `+00:00`.
            if zone.is_some_and(|z| z.contains(':') || z == "Z") {
                env.hints.syslog = true;
            } else {
                env.hints.journal = true;
            }
            kernel_inner_stamp(&mut env, msg)
        }
        None => {
            // dmesg --time-format=iso has no host or ident.
            env.form = Form::DmesgIso;
            env.kernel = true;
            after
        }
    };
    Some(Decoded {
        envelope: env,
        messages: split_escapes(Cow::Borrowed(msg)),
        continuation: false,
    })
}

/// The envelope of a journal short-form line whose stamp was already read: `host ident[pid]:
/// message` after it, with the kernel's own stamp possibly kept.
fn journal_line<'a>(form: Form, time: LogTime, after: &'a str) -> Option<Decoded<'a>> {
    let (host, ident, pid, msg) = split_host_ident(after, false)?;
    let mut env = Envelope {
        form,
        hints: Hints {
            journal: true,
            syslog: false,
        },
        time,
        host: host.map(str::to_string),
        ident: unit_ident(form, ident),
        pid,
        kernel: ident == "kernel",
        anonymous: false,
    };
    let msg = kernel_inner_stamp(&mut env, msg);
    Some(Decoded {
        envelope: env,
        messages: split_escapes(Cow::Borrowed(msg)),
        continuation: false,
    })
}

/// `journalctl -o with-unit` prints the unit (`_SYSTEMD_UNIT`) where the other short forms
/// print the syslog identifier: `init.scope[1]: modes.service: Failed with result 'oom-kill'.`
/// A unit is no identifier, so it gives none, except `init.scope`, which holds only PID 1,
/// the system manager (systemd's cgroup layout): its messages are `systemd`'s.
fn unit_ident(form: Form, ident: &str) -> Option<String> {
    const UNIT_TYPES: &[&str] = &[
        ".service",
        ".scope",
        ".slice",
        ".socket",
        ".mount",
        ".timer",
        ".path",
        ".swap",
        ".target",
        ".device",
        ".automount",
    ];
    if form != Form::ShortFull || !UNIT_TYPES.iter().any(|t| ident.ends_with(t)) {
        return Some(ident.to_string());
    }
    (ident == "init.scope").then(|| "systemd".to_string())
}

/// `journalctl -o short-unix`: `1700000000.123456 host ident[pid]: msg`, seconds since the
/// epoch with six decimals (systemd src/shared/logs-show.c, `output_timestamp_realtime`).
fn decode_unix(line: &str) -> Option<Decoded<'_>> {
    let (stamp, after) = line.split_once(' ')?;
    let (sec, frac) = stamp.split_once('.')?;
    if sec.is_empty()
        || sec.len() > 12
        || frac.len() != 6
        || !sec.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let us = sec.parse::<i64>().ok()? * 1_000_000 + frac.parse::<i64>().ok()?;
    let time = LogTime {
        utc: Some(jiff::Timestamp::from_microsecond(us).ok()?.to_string()),
        ..LogTime::default()
    };
    journal_line(Form::ShortUnix, time, after)
}

/// `journalctl -o short-full` and `-o with-unit`: `Tue 2023-11-14 22:13:20 UTC host ident[pid]:
/// msg`. systemd writes the weekday in English whatever the locale, then the time zone's
/// abbreviation (src/basic/time-util.c, `format_timestamp_style`, TIMESTAMP_PRETTY); only a
/// UTC stamp gives an instant, any other zone name is ambiguous and gives the local time.
fn decode_full(line: &str) -> Option<Decoded<'_>> {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut parts = line.splitn(5, ' ');
    let (wd, date, hms, zone, after) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if !WEEKDAYS.contains(&wd) || date.len() != 10 || zone.is_empty() {
        return None;
    }
    let mut d = date.split('-');
    let year: i16 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    let local = civil(year, month, day, hms)?;
    let utc = matches!(zone, "UTC" | "GMT")
        .then(|| format!("{local}Z").parse::<jiff::Timestamp>().ok())
        .flatten()
        .map(|t| t.to_string());
    let time = LogTime {
        local: Some(local),
        utc,
        ..LogTime::default()
    };
    journal_line(Form::ShortFull, time, after)
}

/// One `journalctl -o json` entry.
fn decode_json(line: &str) -> Option<Decoded<'static>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let obj = v.as_object()?;
    let text = match obj.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        // journald stores non-UTF-8 messages as an array of byte values.
        serde_json::Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => return None,
    };
    let field = |k: &str| obj.get(k).and_then(|v| v.as_str());
    let num = |k: &str| field(k).and_then(|s| s.parse::<u64>().ok());
    let kernel = field("_TRANSPORT") == Some("kernel");
    let mut time = LogTime {
        monotonic_us: num("_SOURCE_MONOTONIC_TIMESTAMP").or_else(|| num("__MONOTONIC_TIMESTAMP")),
        ..LogTime::default()
    };
    if let Some(rt) = num("__REALTIME_TIMESTAMP") {
        if let Ok(ts) = jiff::Timestamp::from_microsecond(rt as i64) {
            time.utc = Some(ts.to_string());
        }
    }
    let env = Envelope {
        form: Form::Json,
        hints: Hints::default(),
        time,
        host: field("_HOSTNAME").map(str::to_string),
        ident: if kernel {
            Some("kernel".into())
        } else {
            field("SYSLOG_IDENTIFIER").map(str::to_string)
        },
        pid: field("_PID")
            .or_else(|| field("SYSLOG_PID"))
            .and_then(|p| p.parse().ok()),
        kernel,
        anonymous: false,
    };
    let messages = text
        .split('\n')
        .map(|s| Cow::Owned(s.to_string()))
        .collect();
    Some(Decoded {
        envelope: env,
        messages,
        continuation: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> (Envelope, String) {
        let mut d = Decoder::new(
            Format::Auto,
            Clock {
                reference_year: Some(2024),
                boot_time_us: None,
            },
        );
        let r = d.decode(line);
        (r.envelope, r.messages.join("|"))
    }

    /// Real lines of corpus files 206 (`dmesg -r`), 233 (Qubes console), 235 (vmware.log)
    /// and 204 (`kernel:` pasted without stamp or host).
    #[test]
    fn raw_priority_console_vmware_and_bare_kernel_ident() {
        let (e, m) = one("<4>[    0.189015] swapper/0 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0");
        assert_eq!(e.form, Form::DmesgRaw);
        assert!(e.kernel);
        assert_eq!(e.time.monotonic_us, Some(189_015));
        assert!(m.starts_with("swapper/0 invoked oom-killer:"), "{m}");

        let (e, m) = one("[2025-06-04 17:51:20] [   21.719706] Out of memory: Killed process 886 (systemd) total-vm:29832kB");
        assert_eq!(e.form, Form::Console);
        assert!(e.kernel);
        assert_eq!(e.time.monotonic_us, Some(21_719_706));
        assert_eq!(e.time.local.as_deref(), Some("2025-06-04T17:51:20"));
        assert!(m.starts_with("Out of memory: Killed process 886"), "{m}");

        let (e, m) = one("2023-12-04T10:49:30.125Z In(05) vcpu-5 - Guest: <3>[39290745.072599] Killed process 2625 (node) total-vm:22355612kB");
        assert_eq!(e.form, Form::VmwareGuest);
        assert!(e.kernel);
        assert_eq!(e.time.monotonic_us, Some(39_290_745_072_599));
        assert_eq!(e.time.utc.as_deref(), Some("2023-12-04T10:49:30.125Z"));
        assert!(m.starts_with("Killed process 2625 (node)"), "{m}");

        let (e, m) = one("kernel: qemu-system-s39 invoked oom-killer: gfp_mask=0x40cc0(GFP_KERNEL|__GFP_COMP), order=3, oom_score_adj=0");
        assert!(e.kernel);
        assert_eq!(e.ident.as_deref(), Some("kernel"));
        assert!(m.starts_with("qemu-system-s39 invoked"), "{m}");
        // Any other word before a colon stays the message's own text.
        let (e, m) = one("oom_reaper: reaped process 2625 (node), now anon-rss:0kB");
        assert!(e.anonymous && !e.kernel);
        assert!(m.starts_with("oom_reaper: reaped"), "{m}");
    }

    #[test]
    fn kmsg_record() {
        let (e, m) = one("6,1234,30745839,-;oom-kill:constraint=CONSTRAINT_NONE");
        assert_eq!(e.time.monotonic_us, Some(30_745_839));
        assert!(e.kernel);
        assert_eq!(m, "oom-kill:constraint=CONSTRAINT_NONE");
        let (e, m) = one("30,77,5000,-;systemd[1]: foo.service: Failed with result 'oom-kill'.");
        assert!(!e.kernel);
        assert_eq!(e.ident.as_deref(), Some("systemd"));
        assert_eq!(e.pid, Some(1));
        assert_eq!(m, "foo.service: Failed with result 'oom-kill'.");
    }

    #[test]
    fn dmesg_forms() {
        let (e, m) = one("[   30.745678] stress-ng-vm invoked oom-killer: gfp_mask=0x0");
        assert_eq!(e.time.monotonic_us, Some(30_745_678));
        assert_eq!(m, "stress-ng-vm invoked oom-killer: gfp_mask=0x0");
        let (e, m) = one("[   30.745678] oom_reaper: reaped process 1 (x)");
        assert!(e.kernel);
        assert_eq!(m, "oom_reaper: reaped process 1 (x)");
        let (e, m) = one("[   77.740597] systemd-oomd[659]: Killed /a due to memory pressure");
        assert_eq!(e.ident.as_deref(), Some("systemd-oomd"));
        assert_eq!(m, "Killed /a due to memory pressure");
        let (e, m) = one("kern  :err   : [ 1.5] Out of memory: Killed process 1 (a)");
        assert_eq!(e.time.monotonic_us, Some(1_500_000));
        assert_eq!(m, "Out of memory: Killed process 1 (a)");
        let (e, m) = one("[二 9月  3 05:57:48 2024] oom-kill:x");
        assert_eq!(e.time.local.as_deref(), Some("2024-09-03T05:57:48"));
        assert_eq!(m, "oom-kill:x");
        let (e, _) = one("[Tue May 16 19:45:20 2017] x");
        assert_eq!(e.time.local.as_deref(), Some("2017-05-16T19:45:20"));
        for (stamp, want) in [
            ("[dim. 19 avril 18:03:30 2026]", "2026-04-19T18:03:30"),
            ("[mar. 19 mai 18:03:30 2026]", "2026-05-19T18:03:30"),
            ("[So, 19. Apr 2026, 18:03:30]", "2026-04-19T18:03:30"),
            ("[ 4月19日(日) 18:03:30 2026]", "2026-04-19T18:03:30"),
            ("[ 4월 19일 (일) 18:03:30]", "2024-04-19T18:03:30"),
            ("[sön 19 apr 2026 18.03.30]", "2026-04-19T18:03:30"),
            ("[Вс мая 19 18:03:30 2026]", "2026-05-19T18:03:30"),
            ("[ven. nov. 28 07:26:44 2025]", "2025-11-28T07:26:44"),
        ] {
            let (e, m) = one(&format!("{stamp} oom_reaper: x"));
            assert_eq!(e.time.local.as_deref(), Some(want), "{stamp}");
            assert_eq!(m, "oom_reaper: x");
        }
        // A ppc64le call-trace line is not a stamp.
        let (e, m) = one("[c0000000000ef0f8] [c0000000000ef0f8] dump_stack+0x1/0x2");
        assert!(e.time.is_empty());
        assert!(m.starts_with("[c00"));
    }

    #[test]
    fn journal_and_syslog() {
        let (e, m) = one("Feb 18 17:34:47  kernel: java invoked oom-killer: x");
        assert_eq!(e.host, None);
        assert!(e.kernel);
        assert_eq!(m, "java invoked oom-killer: x");
        assert_eq!(e.time.local.as_deref(), Some("2024-02-18T17:34:47"));
        let (e, m) = one("jun 20 03:23:46 myhost kernel: [  pid  ]   uid");
        assert_eq!(e.host.as_deref(), Some("myhost"));
        assert_eq!(m, "[  pid  ]   uid");
        let (e, m) = one("Aug 04 23:41:26 qaa earlyoom[1308]: low memory!");
        assert_eq!(e.ident.as_deref(), Some("earlyoom"));
        assert_eq!(e.pid, Some(1308));
        assert_eq!(m, "low memory!");
        let (_, m) = one("Oct 20 00:38:32 localhost kernel: a:1#012 b:2");
        assert_eq!(m, "a:1| b:2");
        let (e, m) = one("Jun 12 06:39:16: sending SIGTERM to process 696");
        assert_eq!(m, "sending SIGTERM to process 696");
        assert!(e.ident.is_none());
        let (e, m) = one("Nov 23 09:17:03 h kernel: [  123.456789] Out of memory");
        assert_eq!(e.time.monotonic_us, Some(123_456_789));
        assert_eq!(m, "Out of memory");
        let (e, m) = one("2026-11-23T09:17:03.123456+00:00 h kernel: Out of memory");
        assert_eq!(e.time.utc.as_deref(), Some("2026-11-23T09:17:03.123456Z"));
        assert_eq!(m, "Out of memory");
    }

    #[test]
    fn kernel_escapes_decode_to_the_same_text_in_every_form() {
        assert_eq!(unescape_kernel(r"a b) (c\x01\x09d"), "a b) (c\u{1}\td");
        assert_eq!(unescape_kernel("a b) (c\\x01\td"), "a b) (c\u{1}\td");
        assert_eq!(
            unescape_kernel(r"back\x5cslash \xe4\xb8\xad"),
            "back\\slash 中"
        );
        assert_eq!(unescape_kernel(r"not \xZZ or \x4"), r"not \xZZ or \x4");
        let (_, m) = one("6,1,2,-;Killed process 5 (a\\x01\\x09d) total-vm:1kB");
        assert_eq!(m, "Killed process 5 (a\u{1}\td) total-vm:1kB");
    }

    #[test]
    fn continuation_lines_keep_the_envelope() {
        let mut d = Decoder::new(Format::Auto, Clock::default());
        d.decode("Jun 13 14:21:19 kubelet kernel: anon 9842688");
        let r = d.decode("                            file 0");
        assert!(r.continuation);
        assert!(r.envelope.kernel);
        assert_eq!(r.messages, vec!["file 0"]);
    }

    /// CONFIG_PRINTK_CALLER ids, in every form that shows them. The dmesg lines are real
    /// (tests/data/caller-id/README names the mails); the kmsg records are real netconsole
    /// records in the /dev/kmsg layout, Message-ID <aWpfDKd64DLX32Hl@pathway.suse.cz>.
    #[test]
    fn a_program_s_output_before_the_stamp_is_left_out() {
        // Corpus 203 (LKFT serial console): mkfs's progress line ran into the kernel's.
        let (e, m) = one("Creating journal (262144 blocks): [   34.739137] mkfs.ext4 invoked");
        assert_eq!((e.form, e.kernel), (Form::Dmesg, true));
        assert_eq!(e.time.monotonic_us, Some(34_739_137));
        assert_eq!(m, "mkfs.ext4 invoked");
        // Synthetic: brackets that hold no stamp leave the line bare.
        let (e, m) = one("lowmem_reserve[]: 0 0 [x] 0");
        assert_eq!(e.form, Form::Bare);
        assert_eq!(m, "lowmem_reserve[]: 0 0 [x] 0");
    }

    #[test]
    fn printk_caller_ids_are_dropped() {
        let (e, m) = one("[   37.052923][ T9185] a.out invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0");
        assert!(e.kernel);
        assert_eq!(e.time.monotonic_us, Some(37_052_923));
        assert_eq!(
            m,
            "a.out invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
        );
        let (_, m) = one("[   37.132833][   T54] oom_reaper: reaped process 9188 (a.out), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB");
        assert!(m.starts_with("oom_reaper: reaped"), "{m}");
        // A call-trace line keeps its own leading space, as without a caller id.
        let (_, m) = one("[   37.063976][ T9185]  dump_stack+0x67/0x95");
        assert_eq!(m, " dump_stack+0x67/0x95");
        let (e, m) = one(
            "6,776,2595848,-,caller=T167,cpu=3,pid=167,comm=scsi_eh_4;ata5: SATA link down (SStatus 0 SControl 300)",
        );
        assert_eq!(e.time.monotonic_us, Some(2_595_848));
        assert!(e.kernel);
        assert_eq!(m, "ata5: SATA link down (SStatus 0 SControl 300)");
        let (_, m) =
            one("4,1212,238099652,-,caller=C7,cpu=7,pid=0,comm=swapper/7;NMI backtrace for cpu 7");
        assert_eq!(m, "NMI backtrace for cpu 7");
        // Synthetic: the real dmesg line above in the other forms that keep the id: a CPU
        // id, util-linux dmesg's separate field (`[%*s] `, sys-utils/dmesg.c), dmesg -T, a
        // syslog file that kept the kernel stamp, a kernel without printk times.
        for line in [
            "[   37.052923][  C3] a.out invoked oom-killer: x",
            "[   37.052923] [  T9185] a.out invoked oom-killer: x",
            "kern  :warn  : [   37.052923][ T9185] a.out invoked oom-killer: x",
            "[Fri Feb  1 12:36:04 2019][ T9185] a.out invoked oom-killer: x",
            "Feb  1 12:36:04 host kernel: [   37.052923][ T9185] a.out invoked oom-killer: x",
            "Feb  1 12:36:04 host kernel: [ T9185] a.out invoked oom-killer: x",
            "[ T9185] a.out invoked oom-killer: x",
        ] {
            let (e, m) = one(line);
            assert_eq!(m, "a.out invoked oom-killer: x", "{line}");
            assert!(e.kernel || e.anonymous, "{line}");
        }
        // Not caller ids: a task-table row, a ppc64 address, a bracketed word.
        for line in [
            "[   37.1] [   9185]     0  9185     3614      207 a.out",
            "[   37.1] [T9185x] a",
            "[   37.1][Té] a",
            "[ T] a",
            "[中9] a",
        ] {
            let (_, m) = one(line);
            assert!(m.starts_with('['), "{line}: {m}");
        }
    }

    /// journalctl 252's short-unix, short-full, with-unit, json-sse and json-seq lines, real
    /// (tests/data/journal-modes/), the last-but-one of each shortened after the message start.
    #[test]
    fn journal_output_modes() {
        let (e, m) = one("1796230440.835476 oomlens-guest kernel: Memory cgroup out of memory: Killed process 194 (modes-hog)");
        assert_eq!(e.form, Form::ShortUnix);
        assert!(e.kernel);
        assert_eq!(e.time.utc.as_deref(), Some("2026-12-02T16:54:00.835476Z"));
        assert_eq!(
            m,
            "Memory cgroup out of memory: Killed process 194 (modes-hog)"
        );
        let (e, _) = one("Wed 2026-12-02 16:54:00 UTC oomlens-guest kernel: Memory cgroup out of memory: Killed process 194 (modes-hog)");
        assert_eq!(e.form, Form::ShortFull);
        assert_eq!(e.time.utc.as_deref(), Some("2026-12-02T16:54:00Z"));
        assert_eq!(e.host.as_deref(), Some("oomlens-guest"));
        // with-unit: init.scope is PID 1, systemd; another unit gives no identifier.
        let (e, m) = one("Wed 2026-12-02 16:54:00 UTC oomlens-guest init.scope[1]: modes.service: Failed with result 'oom-kill'.");
        assert_eq!((e.ident.as_deref(), e.pid), (Some("systemd"), Some(1)));
        assert_eq!(m, "modes.service: Failed with result 'oom-kill'.");
        let (e, m) = one("Wed 2026-12-02 16:54:00 UTC oomlens-guest modes.service[194]: start 194");
        assert_eq!((e.ident, e.pid, e.kernel), (None, Some(194), false));
        assert_eq!(m, "start 194");
        // Synthetic: another zone's abbreviation names no instant.
        let (e, _) = one("Wed 2026-12-02 17:54:00 CET h kernel: x");
        assert_eq!(e.time.local.as_deref(), Some("2026-12-02T17:54:00"));
        assert_eq!(e.time.utc, None);
        let mut d = Decoder::new(Format::Auto, Clock::default());
        let r = d.decode(r#"data: {"_TRANSPORT":"kernel","MESSAGE":"oom_reaper: x","_SOURCE_MONOTONIC_TIMESTAMP":"30929848"}"#);
        assert_eq!(r.envelope.form, Form::JsonSse);
        assert_eq!(r.messages, vec!["oom_reaper: x"]);
        // The empty line that ends the event is no log line.
        assert!(d.decode("").messages.is_empty());
        assert_eq!(d.decode("").messages, vec![""]);
        let (e, m) = one("\u{1e}{\"_TRANSPORT\":\"kernel\",\"MESSAGE\":\"oom_reaper: x\"}");
        assert_eq!(e.form, Form::JsonSeq);
        assert_eq!(m, "oom_reaper: x");
    }

    #[test]
    fn json_entry() {
        let (e, m) = one(
            r#"{"MESSAGE":[65,66],"_TRANSPORT":"kernel","__REALTIME_TIMESTAMP":"1700000000000000","_SOURCE_MONOTONIC_TIMESTAMP":"42"}"#,
        );
        assert!(e.kernel);
        assert_eq!(e.time.monotonic_us, Some(42));
        assert_eq!(e.time.utc.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(m, "AB");
    }
}
