//! Tests of the generator (determinism, counts, sizes, timestamps, the manifest).

use super::corpus::*;
use super::*;

fn corpus() -> Corpus {
    Corpus::load_default().expect("the shared OOM corpus (set OOMLENS_CORPUS)")
}

fn gen(corpus: &Corpus, opts: Options) -> (Vec<u8>, Stats) {
    let mut out = Vec::new();
    let stats = Generator::new(corpus, opts)
        .unwrap()
        .write_to(&mut out)
        .unwrap();
    (out, stats)
}

fn count(hay: &[u8], needle: &str) -> u64 {
    memchr_count(hay, needle.as_bytes())
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> u64 {
    hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

#[test]
fn parse_size_units() {
    assert_eq!(parse_size("200M"), Ok(200 << 20));
    assert_eq!(parse_size("2MiB"), Ok(2 << 20));
    assert_eq!(parse_size("1g"), Ok(1 << 30));
    assert_eq!(parse_size("4096"), Ok(4096));
    assert!(parse_size("12X").is_err());
    assert!(parse_size("").is_err());
}

#[test]
fn civil_dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(19_783), (2024, 3, 1));
}

#[test]
fn syslog_prefixes() {
    let l = "Feb 18 17:34:47  kernel: java invoked oom-killer";
    assert_eq!(
        split_syslog_prefix(l).map(|p| (p.0, p.1)),
        Some(("kernel", "java invoked oom-killer"))
    );
    let l = "Dec 16 18:56:29 boerne.fritz.box kernel:  f4105d6c c1433406";
    assert_eq!(
        split_syslog_prefix(l).map(|p| p.1),
        Some(" f4105d6c c1433406")
    );
    let l = "jun 20 10:00:01 fedora kernel: x";
    assert_eq!(split_syslog_prefix(l).map(|p| p.0), Some("kernel"));
    let l = "2024-03-10T07:12:33.123456+00:00 web-03 mesos-slave[2905]: I0825";
    assert_eq!(
        split_syslog_prefix(l).map(|p| (p.0, p.1)),
        Some(("mesos-slave[2905]", "I0825"))
    );
    assert_eq!(split_syslog_prefix("                 active_file:1"), None);
    assert_eq!(
        split_syslog_prefix("Memory cgroup out of memory: Killed"),
        None
    );
}

#[test]
fn bracket_stamps() {
    assert_eq!(strip_bracket_stamp("[   30.745678] CPU: 1"), Some("CPU: 1"));
    assert_eq!(
        strip_bracket_stamp("[Thu May  9 14:52:38 2024] x"),
        Some("x")
    );
    assert_eq!(strip_bracket_stamp("[<ffffffff810cb641>] ? cpuset"), None);
    assert_eq!(strip_bracket_stamp("[    268]     0   268 systemd"), None);
}

#[test]
fn corpus_reports_split_cleanly() {
    let c = corpus();
    let sel = c.select(&Selection {
        fragments: true,
        only: vec![],
    });
    assert!(
        sel.len() >= 25,
        "only {} kernel reports selected",
        sel.len()
    );
    for r in sel {
        let raw = String::from_utf8_lossy(&r.raw);
        let want = raw.lines().filter(|l| l.contains(KILLED_PROCESS)).count() as u32;
        assert_eq!(r.killed_process_lines(LogForm::Journal), want, "{}", r.name);
        // No body keeps a prefix of its own form.
        for b in r.bodies(LogForm::Journal) {
            assert!(split_syslog_prefix(b).is_none(), "{}: {b:?}", r.name);
            assert!(strip_bracket_stamp(b).is_none(), "{}: {b:?}", r.name);
        }
    }
    // journalctl continuation lines keep the kernel's one leading space.
    let r = c.get("016").unwrap();
    assert!(r
        .lines
        .iter()
        .any(|l| l.cont && l.body.starts_with(" active_file:")));
    let r = c.get("026").unwrap();
    assert!(r.lines.iter().any(|l| l.cont && l.body == "file 0"));
    // Non-kernel lines keep their identifier.
    let r = c.get("008").unwrap();
    assert!(r
        .lines
        .iter()
        .any(|l| l.ident.as_deref() == Some("mesos-slave[2905]")));
}

#[test]
fn deterministic_per_seed() {
    let c = corpus();
    for form in LogForm::ALL {
        let opts = Options {
            form,
            size: 1 << 20,
            report_every: 200 << 10,
            seed: 7,
            ..Options::default()
        };
        let (a, sa) = gen(&c, opts.clone());
        let (b, _) = gen(&c, opts.clone());
        assert!(a == b, "{form}: same seed, different output");
        let (d, _) = gen(&c, Options { seed: 8, ..opts });
        assert!(a != d, "{form}: different seeds, same output");
        assert_eq!(sa.bytes, a.len() as u64);
        assert_eq!(sa.lines, count(&a, "\n"));
    }
}

#[test]
fn size_is_reached_and_not_overshot_by_much() {
    let c = corpus();
    for form in LogForm::ALL {
        let size = 3 << 20;
        let (out, st) = gen(
            &c,
            Options {
                form,
                size,
                ..Options::default()
            },
        );
        assert!(out.len() as u64 >= size);
        assert!(
            (out.len() as u64) < size + (256 << 10),
            "{form}: {}",
            out.len()
        );
        assert!(out.ends_with(b"\n"));
        assert!(st.reports >= 1);
    }
}

#[test]
fn counts_match_the_output() {
    let c = corpus();
    for form in LogForm::ALL {
        let opts = Options {
            form,
            size: 4 << 20,
            report_every: 100 << 10,
            seed: 3,
            ..Options::default()
        };
        let (out, st) = gen(&c, opts);
        assert!(st.reports >= 20, "{form}: {} reports", st.reports);
        assert_eq!(
            count(&out, KILLED_PROCESS),
            st.killed_process_lines,
            "{form}"
        );
        assert_eq!(st.inserted.len() as u64, st.reports);
        assert_eq!(
            st.inserted
                .iter()
                .map(|i| u64::from(i.incidents))
                .sum::<u64>(),
            st.incidents
        );
        // Every inserted range holds its report's Killed lines.
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        for i in &st.inserted {
            let range = &lines[i.first_line as usize - 1..i.last_line as usize];
            let k = range
                .iter()
                .filter(|l| memchr_count(l, KILLED_PROCESS.as_bytes()) > 0)
                .count();
            assert_eq!(k as u32, i.killed_process_lines, "{form} {}", i.report);
        }
    }
}

#[test]
fn noise_alone_holds_no_oom_marker() {
    let c = corpus();
    for form in LogForm::ALL {
        let opts = Options {
            form,
            size: 6 << 20,
            report_every: 0,
            seed: 11,
            ..Options::default()
        };
        let (out, st) = gen(&c, opts);
        assert_eq!(st.reports, 0);
        for marker in [
            KILLED_PROCESS,
            "invoked oom-killer",
            "oom-kill:",
            "oom_reaper",
            "Memory cgroup out of memory",
            "Out of memory:",
            "Kill process",
        ] {
            assert_eq!(count(&out, marker), 0, "{form}: noise contains {marker:?}");
        }
        // ... but the traps are there.
        for trap in [
            "page allocation failure",
            "Mem-Info:",
            "Call Trace:",
            "Killed",
            "out of memory",
        ] {
            if trap == "Killed" && form.kernel_only() {
                continue;
            }
            assert!(
                count(&out, trap) > 0,
                "{form}: no {trap:?} in 6 MiB of noise"
            );
        }
    }
}

/// Parses the time of each line back and checks it never goes backwards.
#[test]
fn timestamps_increase() {
    let c = corpus();
    for form in LogForm::ALL {
        let opts = Options {
            form,
            size: 2 << 20,
            report_every: 100 << 10,
            seed: 5,
            ..Options::default()
        };
        let (out, _) = gen(&c, opts);
        let text = String::from_utf8(out).unwrap();
        let mut last = String::new();
        let mut last_us = 0u64;
        let mut last_seq = 0u64;
        for line in text.lines() {
            match form {
                LogForm::Dmesg => {
                    let end = line.find(']').unwrap();
                    let t: f64 = line[1..end].trim().parse().unwrap();
                    let us = (t * 1e6).round() as u64;
                    assert!(us >= last_us, "{line}");
                    last_us = us;
                }
                LogForm::Kmsg => {
                    if line.starts_with(' ') {
                        continue; // SUBSYSTEM=/DEVICE= dictionary lines
                    }
                    let f: Vec<&str> = line.splitn(4, ',').collect();
                    let (seq, us): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                    assert!(
                        us >= last_us && seq == last_seq + 1 || last_seq == 0,
                        "{line}"
                    );
                    (last_us, last_seq) = (us, seq);
                }
                LogForm::Syslog => {
                    let stamp = &line[..32];
                    assert!(stamp >= last.as_str(), "{line}");
                    last = stamp.to_string();
                }
                LogForm::Journal => {
                    if line.starts_with(' ') {
                        continue; // continuation line
                    }
                    let month = MONTHS.iter().position(|m| line.starts_with(m)).unwrap();
                    let stamp = format!("{month:02} {}", &line[4..15]);
                    assert!(stamp >= last, "{line}");
                    last = stamp;
                }
            }
        }
    }
}

#[test]
fn long_line_has_exact_length() {
    for form in LogForm::ALL {
        for n in [1u64, 10, 100, 65_536, 300_001] {
            let mut out = Vec::new();
            write_long_line(&mut out, form, n, 9).unwrap();
            assert_eq!(out.len() as u64, n + 1, "{form} {n}");
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            assert!(out.ends_with(b"\n"));
        }
    }
}

#[test]
fn long_line_then_lead_report() {
    let c = corpus();
    let opts = Options {
        form: LogForm::Dmesg,
        size: 0,
        report_every: 0,
        long_line: 1 << 20,
        lead_report: true,
        selection: Selection {
            fragments: false,
            only: vec!["035".into()],
        },
        ..Options::default()
    };
    let (out, st) = gen(&c, opts);
    assert_eq!(st.reports, 1);
    assert_eq!(st.inserted[0].first_line, 2);
    let nl = out.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(nl, 1 << 20);
    assert_eq!(count(&out, KILLED_PROCESS), 1);
}

#[test]
fn read_impl_matches_write_to() {
    let c = corpus();
    let opts = Options {
        size: 1 << 20,
        seed: 2,
        ..Options::default()
    };
    let (a, _) = gen(&c, opts.clone());
    let mut b = Vec::new();
    let mut g = Generator::new(&c, opts).unwrap();
    let mut small = [0u8; 777];
    loop {
        let n = g.read(&mut small).unwrap();
        if n == 0 {
            break;
        }
        b.extend_from_slice(&small[..n]);
    }
    assert!(a == b);
}

#[test]
fn manifest_round_trip_and_check() {
    let c = corpus();
    let opts = Options {
        size: 2 << 20,
        report_every: 200 << 10,
        ..Options::default()
    };
    let (_, st) = gen(&c, opts);
    let mut tsv = Vec::new();
    st.write_manifest(&mut tsv).unwrap();
    let back = read_manifest(std::str::from_utf8(&tsv).unwrap()).unwrap();
    assert_eq!(back, st.inserted);

    // A perfect parser.
    let mut found = Vec::new();
    for i in &back {
        for k in 0..i.incidents {
            let line = i.first_line + u64::from(k);
            found.push(Found {
                first_line: line,
                last_line: i.last_line,
                kill_lines: vec![i.last_line],
                victim_pid: None,
                kind: None,
            });
        }
    }
    assert!(check(&back, &found).ok());
    // One missed, one false positive in noise.
    let dropped = found.remove(0);
    found.push(Found {
        first_line: 1,
        last_line: 1,
        kill_lines: vec![],
        ..dropped.clone()
    });
    let r = check(&back, &found);
    assert!(!r.ok());
    assert_eq!(r.missing.len(), 1);
    assert_eq!(r.extra.len(), 1);
    assert!(r.describe(5).contains("MISSED"));

    // A kill line past the report's end still counts the report as found, with a note.
    let i = &back[0];
    let late = Found {
        first_line: i.first_line,
        last_line: i.last_line + 500,
        kill_lines: vec![i.last_line + 500],
        victim_pid: None,
        kind: None,
    };
    let r = check(&back[..1], &[late]);
    assert!(r.missing.is_empty() || back[0].incidents > 1);
    assert_eq!(r.misplaced_kill.len(), 1);
    assert!(r.describe(5).contains("NOTE"));
}

#[test]
fn json_incidents_are_read() {
    let doc: serde_json::Value = serde_json::from_str(
        r#"{"schema":"oomlens.explain/1","incidents":[{"kind":"global",
        "source":{"file":"-","first_line":3,"last_line":9},
        "kills":[{"pid":116,"line":8}]}]}"#,
    )
    .unwrap();
    let f = incidents_from_json(&doc).unwrap();
    assert_eq!(f[0].first_line, 3);
    assert_eq!(f[0].kill_lines, vec![8]);
    assert_eq!(f[0].victim_pid, Some(116));
    assert_eq!(f[0].kind.as_deref(), Some("global"));
}
