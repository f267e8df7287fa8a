//! dmesg and console forms: `[  123.456789] message`, `dmesg -x` level prefixes, `dmesg -r`
//! raw priorities, `dmesg -T` ctime stamps, console logs that stamp each line with the
//! host's clock, VMware's `vmware.log` guest lines, and a program's output before a stamp.

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::envelope::text::{
    civil, fill_utc_from_boot, parse_uptime_stamp, split_escapes, split_host_ident, strip_caller,
};
use crate::envelope::types::{Clock, Decoded, Envelope, Form};
use crate::month::month_number;

/// A line that starts with `[` after an optional `dmesg -x` level or `dmesg -r` priority:
/// the dmesg, console and `dmesg -T` forms.
pub(crate) fn decode_bracketed<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    // `dmesg -x` facility and level, or `dmesg -r`'s raw priority.
    let raw = strip_raw_priority(line);
    let rest = raw.unwrap_or_else(|| strip_level_prefix(line).unwrap_or(line));
    let leveled = rest.len() != line.len();
    if !rest.starts_with('[') {
        return None;
    }
    if let Some(mut d) = decode_dmesg(rest, clock) {
        if raw.is_some() {
            d.envelope.form = Form::DmesgRaw;
        } else if leveled {
            d.envelope.form = Form::DmesgX;
        }
        return Some(d);
    }
    if let Some(d) = decode_stamped_console(rest, clock) {
        return Some(d);
    }
    let mut d = decode_dmesg_t(rest, clock)?;
    if leveled {
        d.envelope.form = Form::DmesgX;
    }
    Some(d)
}

/// Strip `dmesg -x`'s `kern  :err   : ` prefix.
pub(crate) fn strip_level_prefix(line: &str) -> Option<&str> {
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

/// `<4>[    0.189015] message` → `[    0.189015] message`: the syslog priority that `dmesg -r`
/// prints, and consoles showing the level, before the stamp (util-linux dmesg.c, raw output).
pub(crate) fn strip_raw_priority(line: &str) -> Option<&str> {
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
pub(crate) fn decode_after_output<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
    let i = line.find(" [")?;
    decode_dmesg(&line[i + 1..], clock).filter(|d| d.envelope.form == Form::Dmesg)
}

/// `[2025-06-04 17:51:20] [   21.719618] message`: a console log (Qubes' guest consoles)
/// that stamps each line with the host's clock before the guest kernel's own stamp.
pub(crate) fn decode_stamped_console<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
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
pub(crate) fn vmware_guest(after: &str) -> Option<&str> {
    let (level, rest) = after.split_once(' ')?;
    let (name, num) = level.strip_suffix(')')?.split_once('(')?;
    if name.is_empty() || num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (_thread, rest) = rest.split_once(" - ")?;
    rest.strip_prefix("Guest: ")
}

pub(crate) fn decode_dmesg<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
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
pub(crate) fn decode_dmesg_t<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
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
pub(crate) fn parse_ctime(inner: &str) -> Option<(Option<i16>, u8, u8, String)> {
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
