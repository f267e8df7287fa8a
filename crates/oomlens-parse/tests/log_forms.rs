//! One row per log form: a line as that form prints it and the envelope it must decode to.
//! Adding a log form is its decoder in `src/envelope/<family>.rs` (with its `Form` variant
//! and name in `src/envelope/types.rs`) plus one row in [`ROWS`]; see the README, "Where
//! to add a log form". A `Form` without a row fails [`every_form_has_a_row`], and one
//! missing from [`all_forms`] fails to compile.

use oomlens_parse::envelope::{Clock, Decoder, Envelope};
use oomlens_parse::{Form, Format};

/// A line and what it decodes to.
struct Row {
    /// The form the line is in.
    form: Form,
    /// The line.
    line: &'static str,
    /// [`summary`] of the decoded line.
    expect: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        form: Form::Bare,
        line: "Out of memory: Killed process 1 (a)",
        expect: "bare anonymous | Out of memory: Killed process 1 (a)",
    },
    Row {
        form: Form::Kmsg,
        line: "6,1234,30745839,-;oom-kill:constraint=CONSTRAINT_NONE",
        expect: "kmsg ident=kernel kernel mono=30745839 | oom-kill:constraint=CONSTRAINT_NONE",
    },
    Row {
        form: Form::Dmesg,
        line: "[   30.745678] stress-ng-vm invoked oom-killer: gfp_mask=0x0",
        expect: "dmesg kernel mono=30745678 | stress-ng-vm invoked oom-killer: gfp_mask=0x0",
    },
    Row {
        form: Form::DmesgX,
        line: "kern  :err   : [ 1.5] Out of memory: Killed process 1 (a)",
        expect: "dmesg-x kernel mono=1500000 | Out of memory: Killed process 1 (a)",
    },
    Row {
        form: Form::DmesgT,
        line: "[Tue May 16 19:45:20 2017] oom_reaper: x",
        expect: "dmesg-T kernel local=2017-05-16T19:45:20 | oom_reaper: x",
    },
    Row {
        form: Form::DmesgRaw,
        line: "<4>[    0.189015] swapper/0 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        expect: "dmesg-raw kernel mono=189015 | swapper/0 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
    },
    Row {
        form: Form::JournalMonotonic,
        line: "[   77.740597] myhost systemd-oomd[659]: Killed /a due to memory pressure",
        expect: "journal-monotonic host=myhost ident=systemd-oomd pid=659 mono=77740597 | Killed /a due to memory pressure",
    },
    Row {
        form: Form::Short,
        line: "Aug 04 23:41:26 qaa earlyoom[1308]: low memory!",
        expect: "journal-short host=qaa ident=earlyoom pid=1308 local=2024-08-04T23:41:26 | low memory!",
    },
    Row {
        form: Form::Short,
        line: "Jun  5 06:39:16 h kernel: Out of memory",
        expect: "syslog host=h ident=kernel kernel local=2024-06-05T06:39:16 | Out of memory",
    },
    Row {
        form: Form::TimePrefix,
        line: "Jun 12 06:39:16: sending SIGTERM to process 696",
        expect: "prefixed anonymous local=2024-06-12T06:39:16 | sending SIGTERM to process 696",
    },
    Row {
        form: Form::Iso,
        line: "2026-11-23T09:17:03.123456+00:00 h kernel: Out of memory",
        expect: "syslog host=h ident=kernel kernel local=2026-11-23T09:17:03.123456 utc=2026-11-23T09:17:03.123456Z | Out of memory",
    },
    Row {
        form: Form::DmesgIso,
        line: "2022-01-04T11:47:29,370563+01:00 Out of memory: Killed process 1 (a)",
        expect: "dmesg-iso kernel local=2022-01-04T11:47:29.370563 utc=2022-01-04T10:47:29.370563Z | Out of memory: Killed process 1 (a)",
    },
    Row {
        form: Form::ShortUnix,
        line: "1700000000.123456 h kernel: Out of memory",
        expect: "journal-short-unix host=h ident=kernel kernel utc=2023-11-14T22:13:20.123456Z | Out of memory",
    },
    Row {
        form: Form::ShortFull,
        line: "Tue 2023-11-14 22:13:20 UTC h kernel: Out of memory",
        expect: "journal-short-full host=h ident=kernel kernel local=2023-11-14T22:13:20 utc=2023-11-14T22:13:20Z | Out of memory",
    },
    Row {
        form: Form::Json,
        line: r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"h","_TRANSPORT":"kernel","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"Out of memory"}"#,
        expect: "journal-json host=h ident=kernel kernel utc=2023-11-14T22:13:20.123456Z | Out of memory",
    },
    Row {
        form: Form::JsonSse,
        line: r#"data: {"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"h","_TRANSPORT":"kernel","SYSLOG_IDENTIFIER":"kernel","MESSAGE":"Out of memory"}"#,
        expect: "journal-json-sse host=h ident=kernel kernel utc=2023-11-14T22:13:20.123456Z | Out of memory",
    },
    Row {
        form: Form::JsonSeq,
        line: "\u{1e}{\"__REALTIME_TIMESTAMP\":\"1700000000123456\",\"_HOSTNAME\":\"h\",\"_TRANSPORT\":\"kernel\",\"SYSLOG_IDENTIFIER\":\"kernel\",\"MESSAGE\":\"Out of memory\"}",
        expect: "journal-json-seq host=h ident=kernel kernel utc=2023-11-14T22:13:20.123456Z | Out of memory",
    },
    Row {
        form: Form::Console,
        line: "[2025-06-04 17:51:20] [   21.719706] Out of memory: Killed process 886 (systemd)",
        expect: "console kernel mono=21719706 local=2025-06-04T17:51:20 | Out of memory: Killed process 886 (systemd)",
    },
    Row {
        form: Form::VmwareGuest,
        line: "2023-12-04T10:49:30.125Z In(05) vcpu-5 - Guest: <3>[39290745.072599] Killed process 2625 (node)",
        expect: "vmware-guest kernel mono=39290745072599 local=2023-12-04T10:49:30.125 utc=2023-12-04T10:49:30.125Z | Killed process 2625 (node)",
    },
];

/// Every form. The `match` makes this fail to compile when a variant is added.
fn all_forms() -> Vec<Form> {
    use Form::*;
    let all = vec![
        Bare,
        Kmsg,
        Dmesg,
        DmesgX,
        DmesgT,
        JournalMonotonic,
        Short,
        TimePrefix,
        Iso,
        DmesgIso,
        Json,
        JsonSse,
        JsonSeq,
        ShortUnix,
        ShortFull,
        DmesgRaw,
        Console,
        VmwareGuest,
    ];
    for f in &all {
        match f {
            Bare | Kmsg | Dmesg | DmesgX | DmesgT | JournalMonotonic | Short | TimePrefix | Iso
            | DmesgIso | Json | JsonSse | JsonSeq | ShortUnix | ShortFull | DmesgRaw | Console
            | VmwareGuest => {}
        }
    }
    all
}

/// The form's name, then the envelope's fields that are set, then the messages.
fn summary(e: &Envelope, messages: &[String]) -> String {
    let mut s = e.form.name(e.hints).to_string();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={v}"));
        }
    };
    put("host", e.host.clone());
    put("ident", e.ident.clone());
    put("pid", e.pid.map(|p| p.to_string()));
    if e.kernel {
        s.push_str(" kernel");
    }
    if e.anonymous {
        s.push_str(" anonymous");
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            s.push_str(&format!(" {k}={v}"));
        }
    };
    put("mono", e.time.monotonic_us.map(|m| m.to_string()));
    put("local", e.time.local.clone());
    put("utc", e.time.utc.clone());
    format!("{s} | {}", messages.join("|"))
}

#[test]
fn every_row_decodes_to_its_envelope() {
    let mut failed = vec![];
    for r in ROWS {
        let clock = Clock {
            reference_year: Some(2024),
            boot_time_us: None,
        };
        let d = Decoder::new(Format::Auto, clock).decode(r.line);
        let messages: Vec<String> = d.messages.iter().map(|m| m.to_string()).collect();
        let got = summary(&d.envelope, &messages);
        if d.envelope.form != r.form || got != r.expect {
            failed.push(format!(
                "{:?} {:?}\n  want {:?}: {}\n  got  {:?}: {got}",
                r.form, r.line, r.form, r.expect, d.envelope.form
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_form_has_a_row() {
    for f in all_forms() {
        assert!(
            ROWS.iter().any(|r| r.form == f),
            "{f:?} has no row in tests/log_forms.rs ROWS"
        );
    }
}
