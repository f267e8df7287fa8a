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
//! `[ C3]` for a CPU); it is dropped in every form (see `text::strip_caller`).

//!
//! One module per family of forms (`kmsg`, `dmesg`, `syslog`, `json`, `bare`); the types
//! are in `types` and the helpers they share in `text`. `Decoder::decode_fresh` tries the
//! families in order.

use std::borrow::Cow;

mod bare;
mod dmesg;
mod json;
mod kmsg;
mod syslog;
mod text;
mod types;

pub use text::unescape_kernel;
pub use types::{Clock, Decoded, Envelope, Form, Format, Hints};

use kmsg::is_kmsg_dict;
use text::split_escapes;

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

    /// Decode a line that continues nothing: try each family of forms in turn, the first
    /// that decodes the line wins (true when it was a kmsg record). A check of the first
    /// byte or the forced format gates each family, so most lines try one or two.
    fn decode_fresh<'a>(&self, line: &'a str) -> (Decoded<'a>, bool) {
        let f = self.format;
        let auto = f == Format::Auto;
        let first = line.as_bytes().first().copied().unwrap_or(b' ');
        if (auto && matches!(first, b'{' | b'd' | 0x1e)) || f == Format::JournalJson {
            if let Some(d) = json::decode_framed(line) {
                return (d, false);
            }
        }
        if (auto && first.is_ascii_digit()) || f == Format::Kmsg {
            if let Some(d) = kmsg::decode_kmsg(line, &self.clock) {
                return (d, true);
            }
        }
        if auto || matches!(f, Format::Dmesg | Format::DmesgT | Format::Journal) {
            if let Some(d) = dmesg::decode_bracketed(line, &self.clock) {
                return (d, false);
            }
        }
        if auto || matches!(f, Format::Journal | Format::Syslog | Format::DmesgT) {
            if let Some(d) = syslog::decode_stamped(line, first, &self.clock) {
                return (d, false);
            }
        }
        if (auto || f == Format::Dmesg) && first != b'[' {
            if let Some(d) = dmesg::decode_after_output(line, &self.clock) {
                return (d, false);
            }
        }
        (bare::decode_bare(line, first), false)
    }
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
