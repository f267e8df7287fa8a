//! journalctl's short forms and syslog files: `Mon dd hh:mm:ss host ident[pid]: message`,
//! RFC 3339 / ISO stamps, `-o short-unix`, `-o short-full` and `-o with-unit`.

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::envelope::dmesg::{decode_dmesg, strip_raw_priority, vmware_guest};
use crate::envelope::text::{
    civil, parse_uptime_stamp, split_escapes, split_host_ident, strip_caller,
};
use crate::envelope::types::{Clock, Decoded, Envelope, Form, Hints};
use crate::month::month_number;

/// English month abbreviations: syslog daemons never localize them.
const MONTH_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A line with a syslog or journal stamp: ISO and Unix stamps start with a digit, the
/// short and full forms with a month or weekday name.
pub(crate) fn decode_stamped<'a>(line: &'a str, first: u8, clock: &Clock) -> Option<Decoded<'a>> {
    if first.is_ascii_digit() {
        decode_iso(line).or_else(|| decode_unix(line))
    } else {
        decode_short(line, clock).or_else(|| decode_full(line))
    }
}

/// journalctl short / classic syslog: `Mon dd hh:mm:ss[.frac] host ident[pid]: msg`, and
/// earlyoom's `Mon dd hh:mm:ss: msg`.
pub(crate) fn decode_short<'a>(line: &'a str, clock: &Clock) -> Option<Decoded<'a>> {
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
pub(crate) fn kernel_inner_stamp<'a>(env: &mut Envelope, msg: &'a str) -> &'a str {
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
pub(crate) fn decode_iso(line: &str) -> Option<Decoded<'_>> {
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
pub(crate) fn journal_line<'a>(form: Form, time: LogTime, after: &'a str) -> Option<Decoded<'a>> {
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
pub(crate) fn unit_ident(form: Form, ident: &str) -> Option<String> {
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
pub(crate) fn decode_unix(line: &str) -> Option<Decoded<'_>> {
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
pub(crate) fn decode_full(line: &str) -> Option<Decoded<'_>> {
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
