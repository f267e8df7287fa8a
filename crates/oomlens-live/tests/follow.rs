//! Following live logs through the pipeline API: a pipe fed in steps and /dev/kmsg with an
//! overrun, both carrying the real report of corpus file 016 (three global kills on a
//! Gentoo 4.9 laptop, journal short form), collected by a test sink.
//!
//! Expected values read by hand from the corpus file: the three reports begin on lines 2,
//! 117 and 239 and kill 12950 (firefox), 13594 (xz) and 13494 (python); the first report
//! ends with its oom_reaper line, line 116.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use oomlens_analysis::explain::Explanation;
use oomlens_live::{
    IncidentSink, Instant, KmsgFollower, LiveError, Pipeline, StreamFollower, Window,
};
use oomlens_model::Incident;
use oomlens_parse::{Clock, Format, Options, Parser};
use oomlens_sources::kmsg::{KmsgReader, RecordDevice};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/oom-reports/016-gentoo-4.9-i686-global-journal-3kills.log"
);

fn corpus_lines() -> Vec<String> {
    std::fs::read_to_string(CORPUS)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// (first line, victim pid, victim comm) of each incident.
type Seen = (u64, Option<u32>, Option<String>);

fn seen(inc: &Incident) -> Seen {
    let k = inc.victim();
    (
        inc.source.first_line,
        k.and_then(|k| k.pid),
        k.and_then(|k| k.comm.clone()),
    )
}

fn expected() -> Vec<Seen> {
    vec![
        (2, Some(12950), Some("firefox".into())),
        (117, Some(13594), Some("xz".into())),
        (239, Some(13494), Some("python".into())),
    ]
}

/// Collects incidents and tells another thread of each one.
struct Collect {
    got: Vec<Seen>,
    tell: mpsc::Sender<Seen>,
}

impl IncidentSink for Collect {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()> {
        // A global kill on a host whose cgroups the log does not name: no owner.
        assert!(expl.owner.is_none(), "{:?}", expl.owner);
        self.got.push(seen(inc));
        let _ = self.tell.send(seen(inc));
        Ok(())
    }
}

fn options(format: Format, file: &str) -> Options {
    Options {
        format: Some(format),
        clock: Clock {
            reference_year: Some(2016),
            boot_time_us: None,
        },
        file: Some(file.into()),
    }
}

/// The writer sends the first report in pieces cut mid-line, then waits until the
/// pipeline has handed that incident on (it must, after a pause, without more input),
/// then sends the rest and closes the pipe, which ends the follow.
#[test]
fn a_pipe_fed_in_steps_yields_each_incident_when_its_report_ends() {
    let lines = corpus_lines();
    let (mut w, r) = UnixStream::pair().unwrap();
    let (tell, heard) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let first: String = lines[..116].iter().map(|l| format!("{l}\n")).collect();
        for piece in first.as_bytes().chunks(997) {
            w.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let before_rest = heard.recv_timeout(Duration::from_secs(20));
        let rest: String = lines[116..].iter().map(|l| format!("{l}\n")).collect();
        w.write_all(rest.as_bytes()).unwrap();
        drop(w);
        before_rest
    });
    let mut src = StreamFollower::pipe(r, "pipe");
    let mut parser = Parser::new(options(Format::Auto, "pipe"));
    let sink = Collect {
        got: Vec::new(),
        tell,
    };
    let mut p = Pipeline::new(sink, Window::default());
    p.follow(&mut src, &mut parser, Duration::from_millis(50))
        .unwrap();
    let first = writer.join().unwrap();
    assert_eq!(
        first.ok(),
        Some(expected()[0].clone()),
        "the first incident did not come before the rest of the log"
    );
    let (sink, counters, error) = p.into_parts();
    assert!(error.is_none());
    assert_eq!(sink.got, expected());
    assert_eq!(counters.incidents, 3);
    assert_eq!(counters.kmsg_records_lost, 0);
}

/// A /dev/kmsg that plays back records, reports one overrun (EPIPE) between the first and
/// second report, and says when it has nothing left.
struct Device {
    records: VecDeque<io::Result<String>>,
    drained: Rc<Cell<bool>>,
}

impl RecordDevice for Device {
    fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.records.pop_front() {
            Some(Ok(r)) => {
                buf[..r.len()].copy_from_slice(r.as_bytes());
                Ok(r.len())
            }
            Some(Err(e)) => Err(e),
            None => {
                self.drained.set(true);
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    fn wait(&mut self, _: Duration) -> io::Result<bool> {
        Ok(false)
    }
}

/// Stops the follow once the device is drained; counts the loss reports.
struct KmsgSink {
    got: Vec<Seen>,
    lost: Vec<u64>,
    drained: Rc<Cell<bool>>,
}

impl IncidentSink for KmsgSink {
    fn incident(&mut self, inc: &Incident, _: &Explanation) -> io::Result<()> {
        self.got.push(seen(inc));
        Ok(())
    }

    fn records_lost(&mut self, n: u64) -> io::Result<()> {
        self.lost.push(n);
        Ok(())
    }

    fn stop(&self) -> bool {
        self.drained.get()
    }
}

/// The corpus lines as kmsg records (`prio,seq,usec,flags;message`), the reports 1, 2 and
/// 3 seconds after boot; 5 sequence numbers skipped and an EPIPE after the first report, as when the
/// ring buffer overwrote records between two reads.
fn kmsg_records() -> VecDeque<io::Result<String>> {
    let mut out = VecDeque::new();
    let mut seq = 100;
    for (i, line) in corpus_lines().iter().enumerate() {
        // The journal's continuation lines of Mem-Info become records of their own.
        let msg = line.split_once(" kernel: ").map_or(line.trim(), |(_, m)| m);
        let usec = 1_000_000 * (1 + (i >= 116) as u64 + (i >= 238) as u64);
        out.push_back(Ok(format!("4,{seq},{usec},-;{msg}\n")));
        seq += 1;
        if i == 115 {
            out.push_back(Err(io::Error::from_raw_os_error(libc::EPIPE)));
            seq += 5;
        }
    }
    out
}

#[test]
fn kmsg_overruns_are_counted_and_reported_not_fatal() {
    let drained = Rc::new(Cell::new(false));
    let device = Device {
        records: kmsg_records(),
        drained: drained.clone(),
    };
    let reader = KmsgReader::with_device(device, Path::new("/dev/kmsg"));
    let mut src = KmsgFollower::new(reader);
    let mut parser = Parser::new(options(Format::Kmsg, "kmsg"));
    let sink = KmsgSink {
        got: Vec::new(),
        lost: Vec::new(),
        drained,
    };
    let mut p = Pipeline::new(sink, Window::default());
    p.follow(&mut src, &mut parser, Duration::from_millis(1))
        .unwrap();
    let counters = p.counters();
    assert_eq!((counters.kmsg_records_lost, counters.kmsg_overruns), (5, 1));
    let (sink, _, _) = p.into_parts();
    assert_eq!(sink.lost, [5]);
    // kmsg numbers lines by record: the reports begin on records 2, 117 and 239.
    assert_eq!(sink.got, expected());
}

/// A time window on the pipeline: the incident before it is explained but not handed on.
#[test]
fn a_window_filters_and_counts() {
    let window = Window {
        since: Some(Instant::parse("2016-12-16 18:56:30", "since").unwrap()),
        until: None,
    };
    let (tell, _heard) = mpsc::channel();
    let sink = Collect {
        got: Vec::new(),
        tell,
    };
    let mut p = Pipeline::new(sink, window);
    let f = std::fs::File::open(CORPUS).unwrap();
    let st = p.read("016", f, options(Format::Auto, "016")).unwrap();
    assert_eq!(st.incidents, 3);
    let (sink, counters, _) = p.into_parts();
    assert_eq!(sink.got, expected()[1..]);
    assert_eq!(
        (counters.incidents, counters.filtered_out, counters.untimed),
        (2, 1, 0)
    );
}

/// A sink's error ends the follow and comes back unchanged.
#[test]
fn a_failing_sink_stops_the_follow_with_its_error() {
    struct Refuse;
    impl IncidentSink for Refuse {
        fn incident(&mut self, _: &Incident, _: &Explanation) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }
    let (mut w, r) = UnixStream::pair().unwrap();
    w.write_all(std::fs::read_to_string(CORPUS).unwrap().as_bytes())
        .unwrap();
    drop(w);
    let mut p = Pipeline::new(Refuse, Window::default());
    let mut parser = Parser::new(options(Format::Auto, "pipe"));
    let e = p
        .follow(
            &mut StreamFollower::pipe(r, "pipe"),
            &mut parser,
            Duration::from_millis(10),
        )
        .unwrap_err();
    assert!(matches!(e, LiveError::Sink(ref io) if io.kind() == io::ErrorKind::BrokenPipe));
    assert_eq!(p.counters().incidents, 1);
}
