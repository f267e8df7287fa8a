//! Raw `/dev/kmsg` records: `prio,seq,usec,flags[,caller=T4711];message`, and the
//! ` KEY=value` dictionary lines after them.

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::envelope::text::{fill_utc_from_boot, split_ident};
use crate::envelope::types::{Clock, Decoded, Envelope, Form};

/// ` SUBSYSTEM=…` / ` DEVICE=…` lines that follow a kmsg record.
pub(crate) fn is_kmsg_dict(line: &str) -> bool {
    let t = &line[1..];
    match t.find('=') {
        Some(i) => i > 0 && t[..i].bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        None => false,
    }
}

pub(crate) fn decode_kmsg<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
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
