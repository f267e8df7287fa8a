//! A kernel log overrun (EPIPE from /dev/kmsg: records overwritten before they were read)
//! is counted and survived by the guard's log input, and the reports around it are still
//! cut out with their own lines. The device is scripted (the real /dev/kmsg is shared with
//! other containers and must not be flooded), playing back the real report of corpus file
//! 016 (three global kills on a Gentoo 4.9 laptop) as kmsg records.
//!
//! Expected values read by hand from the corpus file: the three reports kill 12950
//! (firefox), 13594 (xz) and 13494 (python); the first report spans lines 2–116.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use oomlens_guard::klog::{Drained, LogInput, Parsed};
use oomlens_sources::kmsg::RecordDevice;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/016-gentoo-4.9-i686-global-journal-3kills.log"
);

/// Plays back records; EPIPE where the script says; WouldBlock when empty.
struct Device(VecDeque<io::Result<String>>);

impl RecordDevice for Device {
    fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.pop_front() {
            Some(Ok(r)) => {
                buf[..r.len()].copy_from_slice(r.as_bytes());
                Ok(r.len())
            }
            Some(Err(e)) => Err(e),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn wait(&mut self, _: Duration) -> io::Result<bool> {
        Ok(false)
    }
}

/// The corpus as kmsg records, 1, 2 and 3 s after boot, with `skip` sequence numbers
/// lost and an EPIPE after line `at` (0-based).
fn records(at: usize, skip: u64) -> VecDeque<io::Result<String>> {
    let text = std::fs::read_to_string(CORPUS).unwrap();
    let mut out = VecDeque::new();
    let mut seq = 100;
    for (i, line) in text.lines().enumerate() {
        let msg = line.split_once(" kernel: ").map_or(line.trim(), |(_, m)| m);
        let usec = 1_000_000 * (1 + (i >= 116) as u64 + (i >= 238) as u64);
        out.push_back(Ok(format!("4,{seq},{usec},-;{msg}\n")));
        seq += 1;
        if i == at {
            out.push_back(Err(io::Error::from_raw_os_error(libc::EPIPE)));
            seq += skip;
        }
    }
    out
}

fn victims(got: &[Parsed]) -> Vec<Option<u32>> {
    got.iter()
        .map(|p| p.incident.victim().and_then(|k| k.pid))
        .collect()
}

#[test]
fn an_overrun_between_reports_is_counted_and_every_report_is_kept_with_its_lines() {
    let mut input = LogInput::records(Device(records(115, 5)), "/dev/kmsg");
    let (mut got, mut d) = (Vec::new(), Drained::default());
    let ended = input
        .drain(&mut got, &mut d)
        .expect("an overrun is not an error");
    assert!(!ended);
    input.idle(&mut got);
    assert_eq!((d.lost, d.overruns), (5, 1));
    assert_eq!(victims(&got), [Some(12950), Some(13594), Some(13494)]);
    // Each report carries its own lines, cut from the ring by its span.
    let first = &got[0].raw;
    assert_eq!(first.len(), 115, "lines 2..=116 of the corpus");
    assert!(first.iter().any(|l| l.contains("Killed process 12950")));
    assert!(!first.iter().any(|l| l.contains("Killed process 13594")));
    assert!(got[1]
        .raw
        .iter()
        .any(|l| l.contains("Killed process 13594")));
}

#[test]
fn an_overrun_inside_a_report_loses_that_report_only_and_reading_goes_on() {
    // The second report's kill line (corpus line 238) is among the records lost: the
    // overrun cuts corpus lines 151 to 238 (records 150..238, 0-based).
    let text = std::fs::read_to_string(CORPUS).unwrap();
    let mut recs = records(usize::MAX, 0);
    let cut: Vec<usize> = (150..238).collect();
    assert!(text
        .lines()
        .enumerate()
        .any(|(i, l)| cut.contains(&i) && l.contains("Killed process 13594")));
    // Drop them and put one EPIPE there, as the kernel's ring would.
    let mut v: Vec<_> = recs.drain(..).collect();
    v.drain(150..238);
    v.insert(150, Err(io::Error::from_raw_os_error(libc::EPIPE)));
    let mut input = LogInput::records(Device(v.into()), "/dev/kmsg");
    let (mut got, mut d) = (Vec::new(), Drained::default());
    input
        .drain(&mut got, &mut d)
        .expect("an overrun is not an error");
    input.idle(&mut got);
    assert_eq!((d.lost, d.overruns), (88, 1));
    let pids = victims(&got);
    assert!(
        pids.contains(&Some(12950)) && pids.contains(&Some(13494)),
        "{pids:?}"
    );
    assert!(!pids.contains(&Some(13594)), "{pids:?}");
}
