//! Renders `/dev/kmsg` records in the other forms that OOM reports are pasted in: `dmesg`,
//! `dmesg -T`, `dmesg -x`, `journalctl -k` (short), `journalctl -o json`, and rsyslog's
//! traditional and RFC 3339 file formats. The parser must read the same incidents from all
//! of them.
//!
//! Formats, as the tools print them:
//! - `dmesg`: `[%5lu.%06lu] msg` (util-linux `sys-utils/dmesg.c`).
//! - `dmesg -T`: `[%a %b %e %H:%M:%S %Y] msg`, boot time + whole seconds of the record.
//! - `dmesg -x`: `%-6s:%-6s: ` facility and level names, then the `dmesg` form.
//! - `journalctl -k` (`-o short`): `%b %d %H:%M:%S host kernel: msg`.
//! - `journalctl -o json`: one object per line, every value a string, in journalctl's order
//!   (`__CURSOR`, `__REALTIME_TIMESTAMP`, `__MONOTONIC_TIMESTAMP`, `_BOOT_ID`, then the entry's
//!   fields as journald's `dev_kmsg_record` adds them: `_SOURCE_MONOTONIC_TIMESTAMP`,
//!   `_TRANSPORT=kernel`, `PRIORITY`, `SYSLOG_FACILITY`, `SYSLOG_IDENTIFIER=kernel`, `MESSAGE`,
//!   then `_KERNEL_*` from continuation lines and the server's `_MACHINE_ID`, `_HOSTNAME`,
//!   `_RUNTIME_SCOPE`). journald receives the record a little after the kernel logged it,
//!   so `__MONOTONIC_TIMESTAMP` is `usec` + [`JOURNAL_DELAY_US`].
//! - rsyslog `RSYSLOG_TraditionalFileFormat` with imklog's kernel timestamp kept:
//!   `%b %e %H:%M:%S host kernel: [%5lu.%06lu] msg`.
//! - rsyslog `RSYSLOG_FileFormat`: `YYYY-MM-DDTHH:MM:SS.ffffff+00:00 host kernel: msg`.
//!
//! All wall-clock times are boot time + the record's `usec`, in UTC.
//!
//! Non-printable bytes: `/dev/kmsg` prints them as `\xNN`, and the text forms here keep that
//! text as is. The journal form does what journald does: it un-escapes `MESSAGE`
//! (`cunescape` in journald-kmsg.c), and `journalctl -o json` prints a message that then
//! holds a control byte or invalid UTF-8 as an array of byte values.

use jiff::{tz::TimeZone, Timestamp};

use crate::kmsg::Record;

/// How long after the kernel journald is assumed to store a record, microseconds.
pub const JOURNAL_DELAY_US: u64 = 137;

/// One output form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// The records as read from `/dev/kmsg`.
    Kmsg,
    /// `dmesg`.
    Dmesg,
    /// `dmesg -T`.
    DmesgCtime,
    /// `dmesg -x`.
    DmesgDecode,
    /// `journalctl -k`.
    JournalShort,
    /// `journalctl -k -o json`.
    JournalJson,
    /// rsyslog traditional file format with the kernel's timestamp in the message.
    SyslogTraditional,
    /// rsyslog file format with RFC 3339 timestamps.
    SyslogRfc3339,
}

impl Form {
    /// Every form.
    pub const ALL: [Form; 8] = [
        Form::Kmsg,
        Form::Dmesg,
        Form::DmesgCtime,
        Form::DmesgDecode,
        Form::JournalShort,
        Form::JournalJson,
        Form::SyslogTraditional,
        Form::SyslogRfc3339,
    ];

    /// A short name, usable in file names.
    pub fn name(self) -> &'static str {
        match self {
            Form::Kmsg => "kmsg",
            Form::Dmesg => "dmesg",
            Form::DmesgCtime => "dmesg-T",
            Form::DmesgDecode => "dmesg-x",
            Form::JournalShort => "journal-short",
            Form::JournalJson => "journal-json",
            Form::SyslogTraditional => "syslog",
            Form::SyslogRfc3339 => "syslog-rfc3339",
        }
    }
}

/// What the forms need besides the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Wall-clock time of boot, microseconds since the Unix epoch.
    pub boot_time_us: i64,
    /// The host name.
    pub hostname: String,
    /// The boot id, 32 hex digits (journald's form, no dashes).
    pub boot_id: String,
    /// The machine id, 32 hex digits.
    pub machine_id: String,
}

impl Context {
    /// A fixed context for deterministic tests: boot at 2026-11-23T09:00:00Z on host `vm`.
    pub fn fixed() -> Context {
        Context {
            boot_time_us: 1_795_424_400_000_000,
            hostname: "vm".into(),
            boot_id: "ad08107958414abd9d8b02024db30cda".into(),
            machine_id: "3d1219c7c4c5404aaa1f6d2a48adfda4".into(),
        }
    }

    /// This host's context: boot time = now − `CLOCK_BOOTTIME` (as `dmesg -T` computes it),
    /// host name, boot id and machine id (zeros when `/etc/machine-id` is missing).
    pub fn this_host() -> Context {
        let now = Timestamp::now().as_microsecond();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we pass.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        let up = std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32).as_micros() as i64;
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .ok()
        };
        Context {
            boot_time_us: now - up,
            hostname: read("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into()),
            boot_id: read("/proc/sys/kernel/random/boot_id")
                .unwrap_or_default()
                .replace('-', ""),
            machine_id: read("/etc/machine-id").unwrap_or_else(|| "0".repeat(32)),
        }
    }

    fn wall(&self, usec: u64) -> jiff::Zoned {
        Timestamp::from_microsecond(self.boot_time_us + usec as i64)
            .expect("time in range")
            .to_zoned(TimeZone::UTC)
    }
}

/// util-linux's facility names (`dmesg -x`).
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "res0", "res1", "res2", "res3", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// util-linux's level names (`dmesg -x`).
const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
];

fn monotonic(usec: u64) -> String {
    format!("[{:5}.{:06}]", usec / 1_000_000, usec % 1_000_000)
}

/// Renders `records` in `form`, one line per record (the kmsg form keeps continuation lines).
pub fn render(records: &[Record], form: Form, ctx: &Context) -> String {
    let mut out = String::new();
    for r in records {
        let line = match form {
            Form::Kmsg => {
                out.push_str(&r.to_raw());
                continue;
            }
            Form::Dmesg => format!("{} {}", monotonic(r.usec), r.message),
            Form::DmesgCtime => {
                let t = Timestamp::from_second(
                    ctx.boot_time_us.div_euclid(1_000_000) + (r.usec / 1_000_000) as i64,
                )
                .expect("time in range")
                .to_zoned(TimeZone::UTC);
                format!("[{}] {}", t.strftime("%a %b %e %H:%M:%S %Y"), r.message)
            }
            Form::DmesgDecode => {
                let fac = FACILITIES
                    .get(r.facility() as usize)
                    .copied()
                    .unwrap_or("unknown");
                let lvl = LEVELS[r.level() as usize];
                format!("{fac:<6}:{lvl:<6}: {} {}", monotonic(r.usec), r.message)
            }
            Form::JournalShort => format!(
                "{} {} kernel: {}",
                ctx.wall(r.usec + JOURNAL_DELAY_US)
                    .strftime("%b %d %H:%M:%S"),
                ctx.hostname,
                r.message
            ),
            Form::JournalJson => journal_json(r, ctx),
            Form::SyslogTraditional => format!(
                "{} {} kernel: {} {}",
                ctx.wall(r.usec).strftime("%b %e %H:%M:%S"),
                ctx.hostname,
                monotonic(r.usec),
                r.message
            ),
            Form::SyslogRfc3339 => format!(
                "{} {} kernel: {}",
                ctx.wall(r.usec).strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"),
                ctx.hostname,
                r.message
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One `journalctl -o json` line for a kernel record.
fn journal_json(r: &Record, ctx: &Context) -> String {
    let mono = r.usec + JOURNAL_DELAY_US;
    let realtime = ctx.boot_time_us + mono as i64;
    let cursor = format!(
        "s=0b1c2d3e4f5a46b7a8b9c0d1e2f3a4b5;i={:x};b={};m={:x};t={:x};x=1f2e3d4c5b6a7988",
        r.seq + 1,
        ctx.boot_id,
        mono,
        realtime
    );
    let mut fields: Vec<(String, String)> = vec![
        ("__CURSOR".into(), cursor),
        ("__REALTIME_TIMESTAMP".into(), realtime.to_string()),
        ("__MONOTONIC_TIMESTAMP".into(), mono.to_string()),
        ("_BOOT_ID".into(), ctx.boot_id.clone()),
        ("_SOURCE_MONOTONIC_TIMESTAMP".into(), r.usec.to_string()),
        ("_TRANSPORT".into(), "kernel".into()),
        ("PRIORITY".into(), r.level().to_string()),
        ("SYSLOG_FACILITY".into(), r.facility().to_string()),
        ("SYSLOG_IDENTIFIER".into(), "kernel".into()),
    ];
    let message = journal_message(&r.message);
    for c in &r.continuation {
        if let Some((k, v)) = c.split_once('=') {
            fields.push((format!("_KERNEL_{k}"), v.to_string()));
        }
    }
    fields.push(("_MACHINE_ID".into(), ctx.machine_id.clone()));
    fields.push(("_HOSTNAME".into(), ctx.hostname.clone()));
    fields.push(("_RUNTIME_SCOPE".into(), "system".into()));
    let mut body: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::Value::from(k.as_str()),
                serde_json::Value::from(v.as_str())
            )
        })
        .collect();
    body.insert(10, format!("\"MESSAGE\":{message}"));
    format!("{{{}}}", body.join(","))
}

/// `MESSAGE` as journalctl -o json prints it: a string, or an array of bytes when the
/// un-escaped message holds control bytes or is not UTF-8 (journal_field_valid/utf8 checks
/// in src/shared/logs-show.c).
fn journal_message(kmsg_text: &str) -> String {
    let bytes = crate::kmsg::kmsg_unescape_bytes(kmsg_text);
    match std::str::from_utf8(&bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => serde_json::Value::from(s).to_string(),
        _ => {
            serde_json::Value::from(bytes.iter().map(|&b| b as u64).collect::<Vec<_>>()).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Record> {
        crate::kmsg::parse_records(
            "4,1201,123456789,-;oomlens-hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
             3,1290,5123456,-;Memory cgroup out of memory: Killed process 42 (a\\x01b) total-vm:1kB\n\
             6,7,8,-;dev\n SUBSYSTEM=virtio\n",
        )
    }

    fn lines(form: Form) -> Vec<String> {
        render(&records(), form, &Context::fixed())
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn dmesg_forms() {
        assert_eq!(
            lines(Form::Dmesg)[..2],
            [
                "[  123.456789] oomlens-hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
                "[    5.123456] Memory cgroup out of memory: Killed process 42 (a\\x01b) total-vm:1kB",
            ]
        );
        assert_eq!(
            lines(Form::DmesgCtime)[..2],
            [
                "[Mon Nov 23 09:02:03 2026] oomlens-hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
                "[Mon Nov 23 09:00:05 2026] Memory cgroup out of memory: Killed process 42 (a\\x01b) total-vm:1kB",
            ]
        );
        assert_eq!(
            lines(Form::DmesgDecode)[0][..31],
            *"kern  :warn  : [  123.456789] o"
        );
        assert_eq!(
            lines(Form::DmesgDecode)[1][..30],
            *"kern  :err   : [    5.123456] "
        );
        assert_eq!(lines(Form::Dmesg)[2], "[    0.000008] dev");
    }

    #[test]
    fn journal_and_syslog_forms() {
        assert_eq!(
            lines(Form::JournalShort)[1],
            "Nov 23 09:00:05 vm kernel: Memory cgroup out of memory: Killed process 42 (a\\x01b) total-vm:1kB"
        );
        assert_eq!(
            lines(Form::SyslogTraditional)[1],
            "Nov 23 09:00:05 vm kernel: [    5.123456] Memory cgroup out of memory: Killed process 42 (a\\x01b) total-vm:1kB"
        );
        assert_eq!(
            lines(Form::SyslogRfc3339)[0],
            "2026-11-23T09:02:03.456789+00:00 vm kernel: oomlens-hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
        );
        let j: Vec<serde_json::Value> = lines(Form::JournalJson)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // journald un-escapes the message; with a control byte in it, json shows bytes.
        let want: Vec<serde_json::Value> =
            b"Memory cgroup out of memory: Killed process 42 (a\x01b) total-vm:1kB"
                .iter()
                .map(|&b| serde_json::Value::from(b))
                .collect();
        assert_eq!(j[1]["MESSAGE"], serde_json::Value::from(want));
        assert_eq!(
            j[0]["MESSAGE"]
                .as_str()
                .map(|m| m.starts_with("oomlens-hog invoked")),
            Some(true)
        );
        assert_eq!(j[1]["PRIORITY"], "3");
        assert_eq!(j[1]["SYSLOG_FACILITY"], "0");
        assert_eq!(j[1]["SYSLOG_IDENTIFIER"], "kernel");
        assert_eq!(j[1]["_TRANSPORT"], "kernel");
        assert_eq!(j[1]["_SOURCE_MONOTONIC_TIMESTAMP"], "5123456");
        assert_eq!(
            j[1]["__MONOTONIC_TIMESTAMP"],
            (5_123_456 + JOURNAL_DELAY_US).to_string()
        );
        assert_eq!(
            j[1]["__REALTIME_TIMESTAMP"],
            (1_795_424_400_000_000 + 5_123_456 + JOURNAL_DELAY_US as i64).to_string()
        );
        assert_eq!(j[1]["_HOSTNAME"], "vm");
        assert_eq!(j[2]["_KERNEL_SUBSYSTEM"], "virtio");
        assert!(lines(Form::JournalJson)[0].starts_with("{\"__CURSOR\":\"s="));
    }

    #[test]
    fn kmsg_form_round_trips() {
        let text = render(&records(), Form::Kmsg, &Context::fixed());
        assert_eq!(crate::kmsg::parse_records(&text), records());
    }
}
