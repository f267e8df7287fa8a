//! The types of the envelope module: the forms, the envelope of one message and what a
//! line decodes to. A leaf: the decoders of each family import it.

use std::borrow::Cow;

use oomlens_model::LogTime;

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

impl Form {
    /// The form's name in `source.format` (and the test rows of `tests/log_forms.rs`).
    /// journalctl's short and ISO forms look like a syslog daemon's: `hints` tell them
    /// apart where one line can.
    pub fn name(self, hints: Hints) -> &'static str {
        match self {
            Form::Bare => "bare",
            Form::Kmsg => "kmsg",
            Form::Dmesg => "dmesg",
            Form::DmesgX => "dmesg-x",
            Form::DmesgT => "dmesg-T",
            Form::DmesgIso => "dmesg-iso",
            Form::JournalMonotonic => "journal-monotonic",
            Form::Json => "journal-json",
            Form::JsonSse => "journal-json-sse",
            Form::JsonSeq => "journal-json-seq",
            Form::ShortUnix => "journal-short-unix",
            Form::ShortFull => "journal-short-full",
            Form::DmesgRaw => "dmesg-raw",
            Form::Console => "console",
            Form::VmwareGuest => "vmware-guest",
            Form::TimePrefix => "prefixed",
            Form::Iso | Form::Short => match (hints.journal, hints.syslog) {
                (true, false) => "journal-short",
                (false, true) => "syslog",
                _ if self == Form::Iso => "syslog",
                _ => "syslog-or-journal",
            },
        }
    }
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
