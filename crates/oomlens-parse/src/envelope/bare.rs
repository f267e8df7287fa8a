//! Lines without a stamp: `ident[pid]: message` (journalctl -o cat with identifiers,
//! pastes), `kernel: message`, a caller id alone (`[ T4711] message`), journalctl's `-- …`
//! markers, and bare message bodies.

use std::borrow::Cow;

use crate::envelope::text::{split_escapes, split_ident, strip_caller};
use crate::envelope::types::{Decoded, Envelope, Hints};

/// journalctl's own lines between entries: they tell its output from a syslog file.
const JOURNAL_MARKERS: [&str; 6] = [
    "-- Logs begin at ",
    "-- Journal begins at ",
    "-- Boot ",
    "-- No entries --",
    "-- Subject:",
    "-- Reboot --",
];

/// Decode a line no stamped form took (`first` is its first byte).
pub(crate) fn decode_bare(line: &str, first: u8) -> Decoded<'_> {
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
        return Decoded {
            envelope,
            messages: split_escapes(Cow::Borrowed(msg)),
            continuation: false,
        };
    }
    let marker = JOURNAL_MARKERS.iter().any(|m| line.starts_with(m));
    let envelope = Envelope {
        anonymous: true,
        hints: Hints {
            journal: marker,
            syslog: false,
        },
        ..Envelope::default()
    };
    Decoded {
        envelope,
        messages: split_escapes(Cow::Borrowed(line)),
        continuation: false,
    }
}
