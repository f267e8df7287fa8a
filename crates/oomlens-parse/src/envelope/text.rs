//! Text helpers every form's decoder shares: escapes, the kernel's uptime stamp and
//! caller id, civil times and `ident[pid]:`.

use std::borrow::Cow;

use oomlens_model::LogTime;

use crate::envelope::types::Clock;

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
pub(crate) fn split_escapes(text: Cow<'_, str>) -> Vec<Cow<'_, str>> {
    if !text.contains("#012") {
        return vec![text];
    }
    text.split("#012")
        .map(|s| Cow::Owned(s.to_string()))
        .collect()
}

pub(crate) fn fill_utc_from_boot(time: &mut LogTime, clock: &Clock) {
    if let (Some(boot), Some(mono)) = (clock.boot_time_us, time.monotonic_us) {
        let us = boot.saturating_add(mono as i64);
        if let Ok(ts) = jiff::Timestamp::from_microsecond(us) {
            time.utc = Some(ts.to_string());
        }
    }
}

/// `[  123.456789] rest` → monotonic µs and rest.
pub(crate) fn parse_uptime_stamp(line: &str) -> Option<(u64, &str)> {
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
pub(crate) fn strip_caller(s: &str) -> &str {
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

/// `hh:mm:ss[.frac]` on a date → ISO civil time, validated.
pub(crate) fn civil(year: i16, month: u8, day: u8, hms: &str) -> Option<String> {
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
pub(crate) fn split_ident(s: &str) -> Option<(&str, Option<u32>, &str)> {
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
pub(crate) fn split_host_ident(
    s: &str,
    strict: bool,
) -> Option<(Option<&str>, &str, Option<u32>, &str)> {
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
