//! journalctl's multi-line record forms, flattened to one `journalctl -o json` line per record.
//!
//! `-o export`, `-o verbose` and `-o json-pretty` spread one journal entry over many lines,
//! while the scanner (scan.rs) skips lines without a trigger and the envelope decoder reads one
//! line at a time. Rather than teach both about records, a reader adapter turns each record
//! into the single-line JSON entry `journalctl -o json` would have printed for it; the JSON
//! decoder and the trigger search then work on it unchanged (a `MESSAGE` kept as a byte array
//! is found by the `"MESSAGE":[` trigger).
//!
//! Line numbers of incidents read from these forms (`source.first_line`, kill lines) count
//! records, one per flattened line, not the physical lines of the input.
//!
//! The adapter is chosen once per input, from `--format` or by sniffing the input's first
//! bytes ([`Records::sniff`]). Every other form goes straight to the scanner through
//! [`Peeked`], which only hands back the sniffed bytes first: no per-byte work is added to
//! the fast path.
//!
//! Layouts, from systemd src/shared/logs-show.c (`output_export`, `output_verbose`,
//! `output_json`) and the real output of journalctl 252 (tests/data/journal-modes/):
//! - export: `FIELD=value\n` per field; a field that is not printable text is `FIELD\n`, its
//!   length as a little-endian u64, the bytes and `\n`; an empty line ends the entry
//!   (also systemd's docs/JOURNAL_EXPORT_FORMATS.md);
//! - verbose: `Tue 2023-11-14 22:13:20.123456 UTC [s=…;i=…;b=…;m=HEX;t=HEX;x=…]`, then
//!   `    FIELD=value` lines; further lines of a multi-line value are indented past the `=`;
//!   a value that cannot be shown is `FIELD=[N blob data]` and is dropped here;
//! - json-pretty: `{`, one `\t"FIELD" : value,` line per field, `}` alone on a line.

use std::io::{self, BufRead, BufReader, Read};

use serde_json::{Map, Value};

use crate::envelope::Format;
use crate::limits::MAX_LINE;

/// Bytes of one record kept at most; the rest of a longer record is read and dropped.
const MAX_RECORD: usize = 4 * MAX_LINE;

/// How many bytes the sniffer looks at.
const SNIFF: usize = 4096;

/// A multi-line record form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// `journalctl -o export`.
    Export,
    /// `journalctl -o verbose`.
    Verbose,
    /// `journalctl -o json-pretty`.
    JsonPretty,
}

impl Records {
    /// The record form `format` names, if any.
    pub fn of_format(format: Format) -> Option<Records> {
        match format {
            Format::JournalExport => Some(Records::Export),
            Format::JournalVerbose => Some(Records::Verbose),
            Format::JournalJsonPretty => Some(Records::JsonPretty),
            _ => None,
        }
    }

    /// The name incidents carry in `source.format`.
    pub fn name(self) -> &'static str {
        match self {
            Records::Export => "journal-export",
            Records::Verbose => "journal-verbose",
            Records::JsonPretty => "journal-json-pretty",
        }
    }

    /// The record form the start of an input is written in, if it is one. journalctl
    /// writes `-- ` marker lines (`-- Boot …`, `-- No entries --`) only in its text forms;
    /// they are skipped before a verbose record.
    pub fn sniff(head: &[u8]) -> Option<Records> {
        if [
            &b"__CURSOR="[..],
            b"__REALTIME_TIMESTAMP=",
            b"__MONOTONIC_TIMESTAMP=",
        ]
        .iter()
        .any(|p| head.starts_with(p))
        {
            return Some(Records::Export);
        }
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .skip_while(|l| l.starts_with(b"-- "));
        let first = lines.next()?;
        let second = lines.next().unwrap_or(b"");
        // journalctl's fields are upper case (`"__CURSOR" : …`); another program's pretty JSON
        // (`kubectl get pod -o json`: `"apiVersion": "v1"`) is read line by line.
        if first == b"{" && journal_field_line(second) {
            return Some(Records::JsonPretty);
        }
        let stamp = first.ends_with(b"]") && first.windows(4).any(|w| w == b" [s=");
        if stamp && second.starts_with(b"    ") && second.get(4).is_some_and(|&b| b != b' ') {
            return Some(Records::Verbose);
        }
        None
    }
}

/// `\t"__CURSOR" : "s=…",`: a pretty-printed JSON member whose key is a journal field name.
fn journal_field_line(line: &[u8]) -> bool {
    let t = line.trim_ascii_start();
    let Some(key) = t.strip_prefix(b"\"") else {
        return false;
    };
    let end = key.iter().position(|&b| b == b'"').unwrap_or(0);
    end > 0
        && key[..end]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A reader that first returns bytes already read from `inner`.
#[derive(Debug)]
pub struct Peeked<R> {
    head: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            // Fill the rest as one read would have: the scanner looks back for the start of
            // an indented block (a pod's JSON, a journal continuation) only within what one
            // read brought, so the peeked head must not cut the input short.
            if n < buf.len() {
                // An error here would lose the head bytes already copied: they are returned,
                // and the error comes back on the next read.
                return Ok(n + self.inner.read(&mut buf[n..]).unwrap_or(0));
            }
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// The input as the scanner reads it: as it is, or flattened to JSON lines.
#[derive(Debug)]
pub enum Input<R> {
    /// Any line form.
    Lines(Peeked<R>),
    /// A multi-line record form.
    Flat(Flatten<Peeked<R>>),
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Lines(r) => r.read(buf),
            Input::Flat(r) => r.read(buf),
        }
    }
}

/// Wrap `r` for the scanner: a record form named by `format`, or found by sniffing when
/// `format` is `Auto`, is flattened. Sniffing reads up to the first [`SNIFF`] bytes or the
/// second line, whichever comes first.
pub fn open<R: Read>(mut r: R, format: Format) -> io::Result<(Input<R>, Option<Records>)> {
    let mut head = Vec::new();
    let kind = match Records::of_format(format) {
        Some(k) => Some(k),
        None if format == Format::Auto => {
            let mut chunk = [0u8; 512];
            while head.len() < SNIFF && head.iter().filter(|&&b| b == b'\n').count() < 2 {
                let n = match r.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&chunk[..n]);
            }
            Records::sniff(&head)
        }
        None => None,
    };
    let peeked = Peeked {
        head,
        pos: 0,
        inner: r,
    };
    Ok(match kind {
        Some(k) => (Input::Flat(Flatten::new(peeked, k)), Some(k)),
        None => (Input::Lines(peeked), None),
    })
}

/// Reads records of one form and yields one JSON line per record.
#[derive(Debug)]
pub struct Flatten<R> {
    inner: BufReader<R>,
    kind: Records,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
    /// verbose: the stamp line of the next record, already read.
    pending: Option<Vec<u8>>,
}

impl<R: Read> Read for Flatten<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() && !self.eof {
            self.out.clear();
            self.pos = 0;
            let rec = match self.kind {
                Records::Export => self.export_record()?,
                Records::Verbose => self.verbose_record()?,
                Records::JsonPretty => self.pretty_record()?,
            };
            if let Some(obj) = rec {
                serde_json::to_writer(&mut self.out, &Value::Object(obj))?;
                self.out.push(b'\n');
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A field value: text, or the bytes as journald's JSON writes non-UTF-8 values.
fn value_of(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => Value::Array(bytes.iter().map(|&b| Value::from(b)).collect()),
    }
}

impl<R: Read> Flatten<R> {
    fn new(inner: R, kind: Records) -> Flatten<R> {
        Flatten {
            inner: BufReader::with_capacity(64 * 1024, inner),
            kind,
            out: Vec::new(),
            pos: 0,
            eof: false,
            pending: None,
        }
    }

    /// One line without its `\n` into `line` (cleared first), at most `MAX_LINE` bytes of it
    /// kept. False at the end of input.
    fn line(&mut self, line: &mut Vec<u8>) -> io::Result<bool> {
        line.clear();
        let mut any = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(any);
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            let room = MAX_LINE.saturating_sub(line.len());
            line.extend_from_slice(&buf[..take.min(room)]);
            self.inner.consume(take + usize::from(done));
            if done {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(true);
            }
        }
    }

    /// `journalctl -o export`: one entry, up to its empty line.
    fn export_record(&mut self) -> io::Result<Option<Map<String, Value>>> {
        let mut obj = Map::new();
        let mut size = 0;
        let mut line = Vec::new();
        loop {
            if !self.line(&mut line)? {
                self.eof = true;
                break;
            }
            if line.is_empty() {
                if obj.is_empty() {
                    continue;
                }
                break;
            }
            let (key, value, bytes) = match memchr::memchr(b'=', &line) {
                Some(i) => (
                    String::from_utf8_lossy(&line[..i]).into_owned(),
                    value_of(&line[i + 1..]),
                    line.len(),
                ),
                None => {
                    // A binary field: le64 length, the bytes, `\n`.
                    let key = String::from_utf8_lossy(&line).into_owned();
                    let mut len = [0u8; 8];
                    if self.inner.read_exact(&mut len).is_err() {
                        self.eof = true;
                        break;
                    }
                    let len = u64::from_le_bytes(len);
                    let mut data = Vec::new();
                    let kept = (&mut self.inner)
                        .take(len.min(MAX_LINE as u64))
                        .read_to_end(&mut data)?;
                    let skip = len - kept as u64;
                    io::copy(&mut (&mut self.inner).take(skip), &mut io::sink())?;
                    let mut nl = [0u8; 1];
                    if self.inner.read_exact(&mut nl).is_err() {
                        self.eof = true;
                    }
                    (key, value_of(&data), data.len())
                }
            };
            // Fields past the record's budget are read and dropped (bounded memory).
            size += key.len() + bytes;
            if size < MAX_RECORD {
                obj.insert(key, value);
            }
        }
        Ok((!obj.is_empty()).then_some(obj))
    }

    /// `journalctl -o verbose`: a stamp line and its indented fields.
    fn verbose_record(&mut self) -> io::Result<Option<Map<String, Value>>> {
        let mut line = Vec::new();
        let stamp = match self.pending.take() {
            Some(s) => s,
            None => loop {
                if !self.line(&mut line)? {
                    self.eof = true;
                    return Ok(None);
                }
                if !line.is_empty() && !line.starts_with(b" ") && !line.starts_with(b"-- ") {
                    break std::mem::take(&mut line);
                }
            },
        };
        let mut obj = Map::new();
        // `[s=…;i=…;b=…;m=HEX;t=HEX;x=…]`: the monotonic and realtime stamps in hex µs.
        let stamp = String::from_utf8_lossy(&stamp).into_owned();
        if let Some(open) = stamp.rfind(" [") {
            for kv in stamp[open + 2..].trim_end_matches(']').split(';') {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let field = match k {
                    "m" => "__MONOTONIC_TIMESTAMP",
                    "t" => "__REALTIME_TIMESTAMP",
                    _ => continue,
                };
                if let Ok(us) = u64::from_str_radix(v, 16) {
                    obj.insert(field.into(), Value::String(us.to_string()));
                }
            }
        }
        let mut size = 0;
        let mut current: Option<(String, usize, String)> = None;
        loop {
            if !self.line(&mut line)? {
                self.eof = true;
                break;
            }
            if !line.starts_with(b" ") {
                if !line.is_empty() && !line.starts_with(b"-- ") {
                    self.pending = Some(std::mem::take(&mut line));
                    break;
                }
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let field_start = line.len() > 4 && line[4] != b' ' && line.starts_with(b"    ");
            match (&mut current, field_start) {
                (Some((_, indent, value)), false) => {
                    // A further line of a multi-line value, indented to just past the `=`.
                    let cut = text.len().min(*indent);
                    let rest = if text[..cut].bytes().all(|b| b == b' ') {
                        &text[cut..]
                    } else {
                        text.trim_start()
                    };
                    if size + rest.len() < MAX_RECORD {
                        size += rest.len() + 1;
                        value.push('\n');
                        value.push_str(rest);
                    }
                }
                _ => {
                    if let Some((k, _, v)) = current.take() {
                        insert_verbose(&mut obj, k, v);
                    }
                    let Some((k, v)) = text[4..].split_once('=') else {
                        continue;
                    };
                    size += k.len() + v.len();
                    if size < MAX_RECORD {
                        current = Some((k.to_string(), 4 + k.len() + 1, v.to_string()));
                    }
                }
            }
        }
        if let Some((k, _, v)) = current.take() {
            insert_verbose(&mut obj, k, v);
        }
        Ok((!obj.is_empty()).then_some(obj))
    }

    /// `journalctl -o json-pretty`: the lines from `{` to `}`, joined. JSON strings never
    /// hold a raw newline, so joining the lines changes no value.
    fn pretty_record(&mut self) -> io::Result<Option<Map<String, Value>>> {
        let mut line = Vec::new();
        let mut text = Vec::new();
        loop {
            if !self.line(&mut line)? {
                self.eof = true;
                break;
            }
            if text.len() + line.len() < MAX_RECORD {
                text.extend_from_slice(&line);
                text.push(b' ');
            }
            if line == b"}" {
                break;
            }
        }
        match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Object(obj)) => Ok(Some(obj)),
            _ => Ok(None),
        }
    }
}

/// A verbose field, unless it is the `[N blob data]` placeholder of a value not shown.
fn insert_verbose(obj: &mut Map<String, Value>, key: String, value: String) {
    if value.starts_with('[') && value.ends_with(" blob data]") {
        return;
    }
    obj.insert(key, Value::String(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(input: &[u8], format: Format) -> (Option<Records>, Vec<Value>) {
        let (mut r, kind) = open(input, format).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        let rows = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (kind, rows)
    }

    #[test]
    fn sniffing_finds_record_forms_only() {
        assert_eq!(
            Records::sniff(b"__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1\n"),
            Some(Records::Export)
        );
        assert_eq!(
            Records::sniff(b"{\n\t\"__CURSOR\" : \"s=1\",\n"),
            Some(Records::JsonPretty)
        );
        assert_eq!(
            Records::sniff(
                b"Wed 2026-12-02 16:50:00.123456 UTC [s=a;i=1;b=b;m=1f;t=2a;x=c]\n    _BOOT_ID=b\n"
            ),
            Some(Records::Verbose)
        );
        for other in [
            &b"{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n"[..],
            &b"{\"MESSAGE\":\"x\"}\n"[..],
            b"[   37.0] a\n[   37.1] b\n",
            b"Dec 02 16:50:00 h kernel: [s=1] x\n",
            b"6,1,2,-;x\n",
            b"",
        ] {
            assert_eq!(
                Records::sniff(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    /// Synthetic export entries, laid out as docs/JOURNAL_EXPORT_FORMATS.md says: a text
    /// field, then a binary one (a value holding a newline is always written as binary).
    #[test]
    fn export_binary_fields_are_length_prefixed() {
        let mut input =
            b"__CURSOR=s=1\n__MONOTONIC_TIMESTAMP=42\n_TRANSPORT=kernel\nMESSAGE\n".to_vec();
        input.extend_from_slice(&7u64.to_le_bytes());
        input.extend_from_slice(b"a\nb=c\x00d\n");
        input.extend_from_slice(b"PRIORITY=6\n\n__CURSOR=s=2\nMESSAGE=two\n\n");
        let (kind, rows) = flat(&input, Format::Auto);
        assert_eq!(kind, Some(Records::Export));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["MESSAGE"], "a\nb=c\u{0}d");
        assert_eq!(rows[0]["PRIORITY"], "6");
        assert_eq!(rows[0]["__MONOTONIC_TIMESTAMP"], "42");
        assert_eq!(rows[1]["MESSAGE"], "two");
        // Non-UTF-8 bytes become a byte array, as in journalctl -o json.
        let mut bad = b"__CURSOR=s=1\nMESSAGE\n".to_vec();
        bad.extend_from_slice(&2u64.to_le_bytes());
        bad.extend_from_slice(b"\xff\x41\n\n");
        let (_, rows) = flat(&bad, Format::JournalExport);
        assert_eq!(rows[0]["MESSAGE"], serde_json::json!([255, 65]));
    }

    /// Synthetic: a binary field larger than a record may keep is read past, not kept, and
    /// the next entry is read whole.
    #[test]
    fn export_oversized_fields_are_skipped() {
        let big = vec![b'x'; 3 * MAX_RECORD];
        let mut input = b"__CURSOR=s=1\nBLOB\n".to_vec();
        input.extend_from_slice(&(big.len() as u64).to_le_bytes());
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\nMESSAGE=one\n\n__CURSOR=s=2\nMESSAGE=two\n\n");
        let (_, rows) = flat(&input, Format::Auto);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["MESSAGE"], "one");
        assert!(rows[0]["BLOB"]
            .as_str()
            .is_some_and(|b| b.len() == MAX_LINE));
        assert_eq!(rows[1]["MESSAGE"], "two");
    }

    #[test]
    fn other_forms_pass_through_unchanged() {
        let input = b"[   37.0] a\n[   37.1] b\n";
        let (mut r, kind) = open(&input[..], Format::Auto).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(kind, None);
        assert_eq!(out, input);
    }
}
