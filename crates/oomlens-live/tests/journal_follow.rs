//! Following the journal through `journalctl -f -o json`, with a stub journalctl (a shell
//! script that checks its arguments) playing back corpus report 016 as journal JSON
//! entries. One test, run in sequence, so that no other test thread forks while a stub is
//! being written (which would make executing it fail with ETXTBSY).
//!
//! Expected values read by hand from the corpus file: the reports begin on lines 2, 117
//! and 239 and kill 12950 (firefox), 13594 (xz) and 13494 (python) on host boerne.fritz.box.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oomlens_analysis::explain::Explanation;
use oomlens_live::{open_follow, IncidentSink, LiveError, Pipeline, SourceKind, SourceOptions};
use oomlens_model::Incident;
use oomlens_parse::{Clock, Format, Options, Parser};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/016-gentoo-4.9-i686-global-journal-3kills.log"
);

/// The corpus lines as `journalctl -o json` entries of the kernel transport.
fn entries() -> String {
    let text = std::fs::read_to_string(CORPUS).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let msg = line.split_once(" kernel: ").map_or(line.trim(), |(_, m)| m);
        let entry = serde_json::json!({
            "_TRANSPORT": "kernel",
            "_HOSTNAME": "boerne.fritz.box",
            "MESSAGE": msg,
            "__REALTIME_TIMESTAMP": (1_481_914_589_000_000u64 + i as u64 * 1000).to_string(),
        });
        out.push_str(&entry.to_string());
        out.push('\n');
    }
    out
}

/// A journalctl that answers the usability probe with one entry and the follow with
/// `follow_body` (shell), refusing any other arguments.
fn stub(dir: &Path, name: &str, follow_body: &str) -> PathBuf {
    let text = format!(
        "#!/bin/sh\n\
         case \"$*\" in\n\
         '-k -n 1 -o json -q --no-pager') echo '{{\"MESSAGE\":\"x\"}}' ;;\n\
         '-k -f -n 0 -o json --no-pager -q') {follow_body} ;;\n\
         *) echo \"unexpected arguments: $*\" >&2; exit 2 ;;\n\
         esac\n"
    );
    script(dir, name, &text)
}

/// An executable shell script.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// (first line, host, victim pid, victim comm) of an incident.
type Seen = (u64, Option<String>, Option<u32>, Option<String>);

#[derive(Default)]
struct Collect(Vec<Seen>);

impl IncidentSink for Collect {
    fn incident(&mut self, inc: &Incident, _: &Explanation) -> io::Result<()> {
        let k = inc.victim();
        self.0.push((
            inc.source.first_line,
            inc.host.clone(),
            k.and_then(|k| k.pid),
            k.and_then(|k| k.comm.clone()),
        ));
        Ok(())
    }
}

fn journal_opts(journalctl: PathBuf, kind: SourceKind) -> SourceOptions {
    SourceOptions {
        kind,
        journalctl,
        kmsg_path: "/nonexistent/oomlens-live/kmsg".into(),
        ..SourceOptions::default()
    }
}

#[test]
fn the_journal_is_followed_through_journalctl_and_its_failures_are_named() {
    let dir = std::env::temp_dir().join(format!("oomlens-live-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let entries_file = dir.join("entries.json");
    std::fs::write(&entries_file, entries()).unwrap();

    // A journal with kernel messages: followed, every report explained with its host.
    let ok = stub(
        &dir,
        "journalctl-ok",
        &format!("cat '{}'", entries_file.display()),
    );
    let mut f = open_follow(&journal_opts(ok, SourceKind::Auto)).unwrap();
    assert_eq!((f.name(), f.format()), ("journal", Format::JournalJson));
    let mut parser = Parser::new(Options {
        format: Some(f.format()),
        clock: Clock::default(),
        file: Some(f.name().into()),
    });
    let mut p = Pipeline::new(Collect::default(), Default::default());
    p.follow(&mut f, &mut parser, Duration::from_millis(20))
        .unwrap();
    let host = Some("boerne.fritz.box".to_string());
    let (sink, _, _) = p.into_parts();
    assert_eq!(
        sink.0,
        [
            (2, host.clone(), Some(12950), Some("firefox".into())),
            (117, host.clone(), Some(13594), Some("xz".into())),
            (239, host, Some(13494), Some("python".into())),
        ]
    );

    // journalctl failing while following: its exit status and message, not a quiet end.
    let failing = stub(
        &dir,
        "journalctl-fails",
        "echo 'No journal files were found.' >&2; exit 1",
    );
    let mut f = open_follow(&journal_opts(failing.clone(), SourceKind::Journal)).unwrap();
    let mut parser = Parser::new(Options::default());
    let mut p = Pipeline::new(Collect::default(), Default::default());
    let e = p
        .follow(&mut f, &mut parser, Duration::from_millis(20))
        .unwrap_err();
    assert!(matches!(e, LiveError::Failed { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: exit status: 1: No journal files were found.",
            failing.display()
        )
    );

    // An empty journal and no /dev/kmsg: both named.
    let empty = script(&dir, "journalctl-empty", "#!/bin/sh\nexit 0\n");
    let e = open_follow(&journal_opts(empty.clone(), SourceKind::Auto)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "no kernel log could be read ({}: the journal holds no kernel messages; \
             /nonexistent/oomlens-live/kmsg: No such file or directory (os error 2))",
            empty.display()
        )
    );

    // dmesg cannot be followed.
    let e = open_follow(&SourceOptions {
        kind: SourceKind::Dmesg,
        ..SourceOptions::default()
    })
    .unwrap_err();
    assert!(matches!(e, LiveError::NotFollowable { .. }), "{e:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
