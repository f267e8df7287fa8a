//! `oomlens explain` keeps its memory bounded whatever it reads, and finds every report.
//!
//! Each test streams generated input (`oomlens_testkit::loggen`) into `oomlens explain --json -`
//! from a writer thread, so nothing of the input is stored on disk or held in memory, and
//! reads the child's peak RSS from `wait4(2)`'s `ru_maxrss` (KiB on Linux):
//! - a 100 MiB line without a newline, then a real report (and the same line inside a report);
//! - about 1 GiB of kernel noise with a corpus report every ~2 MiB
//!   (`OOMLENS_STREAM_BYTES` overrides the size);
//! - reports whose lines carry invalid UTF-8.
//!
//! How `ru_maxrss` is measured matters: `execve` records the old address space's peak RSS in
//! the process's `maxrss`, so a child forked from this test starts with the test's anonymous
//! RSS as a floor (`ru_maxrss` is a maximum, never a sum). The tests therefore fork (not
//! `posix_spawn`, which would record the parent's *peak*), write the child's stdout to a
//! file rather than into this process's heap, trim the allocator before spawning, run one at
//! a time, and print the floor measured with `/bin/true` spawned the same way next to each
//! figure. A figure under the bound bounds the parser's own peak; a figure above it fails
//! unless it is the floor itself (this process grew, e.g. by symbolizing an earlier test's
//! panic backtrace), which is reported as not measurable.
//!
//! No test asserts on wall time (the machines are noisy); throughput is printed only
//! (`cargo test -p oomlens --test bounded_memory -- --nocapture`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use oomlens_testkit::fs::TempDir;
use oomlens_testkit::loggen::{
    check, Corpus, Found, Generator, LogForm, Options, Rng, Selection, Stats, KILLED_PROCESS,
};
use oomlens_testkit::oomlens;
use oomlens_testkit::run::Oomlens;

/// The bound on the child's peak RSS.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// How far above the measured floor a figure must be to be the parser's own.
const FLOOR_MARGIN_KIB: u64 = 4 * 1024;

/// Kill a child that has not exited after this long (a hang must fail, not block the suite).
const WATCHDOG: Duration = Duration::from_secs(900);

/// One test at a time: the floor of `ru_maxrss` is this process's RSS at fork time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn corpus() -> Corpus {
    Corpus::load_default().unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set OOMLENS_CORPUS to the corpus directory)",
            Corpus::default_dir().display()
        )
    })
}

/// What one run of the child gave.
struct Run<T> {
    /// Exit code, `None` when killed by a signal.
    code: Option<i32>,
    /// The signal that ended the child.
    signal: Option<i32>,
    /// Peak RSS, KiB (`ru_maxrss`).
    maxrss_kib: u64,
    wall: Duration,
    /// The child's stdout, kept in a file so that a large JSON document never inflates this
    /// process (and with it the floor of the next measurement).
    files: Scratch,
    stderr: String,
    /// What the feeding closure returned (an error when the child stopped reading early).
    fed: io::Result<T>,
}

/// The parts of an `oomlens.explain/1` document these tests look at; serde skips the rest
/// while reading, so even tens of thousands of incidents stay small in memory.
#[derive(serde::Deserialize)]
struct Doc {
    schema: String,
    incidents: Vec<DocIncident>,
}

#[derive(serde::Deserialize)]
struct DocIncident {
    kind: Option<String>,
    source: DocSource,
    #[serde(default)]
    kills: Vec<DocKill>,
}

#[derive(serde::Deserialize)]
struct DocSource {
    first_line: u64,
    last_line: u64,
}

#[derive(serde::Deserialize)]
struct DocKill {
    pid: Option<u64>,
    line: Option<u64>,
}

impl<T> Run<T> {
    fn found(&self) -> Vec<Found> {
        let file = File::open(self.files.stdout()).expect("stdout file");
        let doc: Doc = serde_json::from_reader(io::BufReader::new(file)).unwrap_or_else(|e| {
            panic!(
                "stdout is not one oomlens.explain/1 document ({e}); exit {:?}, stderr:\n{}",
                self.code, self.stderr
            )
        });
        assert_eq!(doc.schema, "oomlens.explain/1");
        doc.incidents
            .into_iter()
            .map(|i| Found {
                first_line: i.source.first_line,
                last_line: i.source.last_line,
                kill_lines: i.kills.iter().filter_map(|k| k.line).collect(),
                victim_pid: i.kills.first().and_then(|k| k.pid),
                kind: i.kind,
            })
            .collect()
    }

    fn describe(&self) -> String {
        format!(
            "exit {:?} signal {:?}, peak RSS {} KiB, {:.1} s, stderr: {}",
            self.code,
            self.signal,
            self.maxrss_kib,
            self.wall.as_secs_f64(),
            self.stderr.chars().take(2000).collect::<String>()
        )
    }
}

/// The child's stdout and stderr files, in a temporary directory removed on drop.
struct Scratch(TempDir);

impl Scratch {
    fn stdout(&self) -> PathBuf {
        self.0.join("stdout")
    }

    fn stderr(&self) -> PathBuf {
        self.0.join("stderr")
    }
}

/// Runs `run` (the testkit's command builder: its stdio is set here, not by it), feeding
/// its stdin from `feed` on another thread, and measures it.
fn run_fed<T: Send>(
    mut run: Oomlens,
    feed: impl FnOnce(&mut dyn Write) -> io::Result<T> + Send,
) -> Run<T> {
    let program = run.shown();
    let files = Scratch(TempDir::new("bounded").expect("scratch dir"));
    let cmd = run.command();
    cmd.stdin(Stdio::piped())
        .stdout(File::create(files.stdout()).expect("scratch file"))
        .stderr(File::create(files.stderr()).expect("scratch file"));
    // Give freed heap back to the kernel first: what this process holds is the floor.
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
    // SAFETY: the closure does nothing; its presence makes std fork+exec instead of
    // posix_spawn (see the module docs for why that matters to ru_maxrss).
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let exited = AtomicBool::new(false);

    let (fed, status, rusage) = thread::scope(|s| {
        let writer = s.spawn(move || {
            let r = feed(&mut stdin);
            drop(stdin); // EOF for the child
            r
        });
        let watchdog = s.spawn(|| {
            let deadline = Instant::now() + WATCHDOG;
            while !exited.load(Ordering::Acquire) {
                if Instant::now() >= deadline {
                    // SAFETY: plain syscall. The child is not reaped before `exited` is set,
                    // so the pid still names it.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        // Wait for the exit without reaping, so the watchdog can never hit a reused pid.
        loop {
            // SAFETY: `info` is a valid out-pointer for waitid.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "waitid: {e}");
        }
        exited.store(true, Ordering::Release);
        let mut status = 0;
        // SAFETY: valid out-pointers; reaps the child std spawned (std never waits for it).
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
            if r == pid {
                break;
            }
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "wait4: {e}");
        }
        watchdog.join().expect("watchdog thread");
        (writer.join().expect("writer thread"), status, rusage)
    });
    let wall = start.elapsed();
    drop(child);
    let stderr =
        String::from_utf8_lossy(&fs::read(files.stderr()).unwrap_or_default()).into_owned();
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        maxrss_kib: rusage.ru_maxrss as u64,
        wall,
        files,
        stderr,
        fed,
    }
}

/// `oomlens explain --json -` fed by `feed`.
fn explain<T: Send>(feed: impl FnOnce(&mut dyn Write) -> io::Result<T> + Send) -> Run<T> {
    run_fed(oomlens!().args(["explain", "--json", "-"]), feed)
}

/// `ru_maxrss` of `/bin/true` spawned exactly like the child: the part of every figure that
/// is this test process, not the parser.
fn rss_floor_kib() -> u64 {
    let run = run_fed(Oomlens::new("true"), |_| Ok(()));
    run.maxrss_kib
}

/// Generates a log with `opts` into the child's stdin.
fn feed_generated<'a>(
    corpus: &'a Corpus,
    opts: Options,
) -> impl FnOnce(&mut dyn Write) -> io::Result<Stats> + Send + 'a {
    move |w: &mut dyn Write| {
        let g = Generator::new(corpus, opts).map_err(io::Error::other)?;
        g.write_to(w)
    }
}

fn assert_bounded<T>(what: &str, run: &Run<T>, floor: u64) {
    eprintln!(
        "{what}: peak RSS {} KiB (floor from this test process: {floor} KiB), {:.1} s",
        run.maxrss_kib,
        run.wall.as_secs_f64()
    );
    if run.maxrss_kib < RSS_BOUND_KIB {
        return;
    }
    // ru_maxrss = max(floor, the parser's peak). Near the floor it only says the peak was
    // not higher; that happens when this process grew, e.g. by symbolizing the backtrace of
    // an earlier test's panic. Then the figure says nothing about the parser.
    if run.maxrss_kib <= floor + FLOOR_MARGIN_KIB {
        eprintln!(
            "{what}: peak RSS not measurable: this test process already holds {floor} KiB \
             (run this test alone)"
        );
        return;
    }
    panic!(
        "{what}: peak RSS {} KiB >= {} KiB (floor {floor} KiB); {}",
        run.maxrss_kib,
        RSS_BOUND_KIB,
        run.describe()
    );
}

fn only(report: &str) -> Selection {
    Selection {
        fragments: false,
        only: vec![report.to_string()],
    }
}

/// (a) One 100 MiB line without a newline, then a newline and a real report: the report is
/// still found and the line is never held whole.
#[test]
fn hundred_mib_line_then_a_report() {
    let _serial = serial();
    let corpus = corpus();
    let floor = rss_floor_kib();
    let opts = Options {
        form: LogForm::Dmesg,
        size: 0,
        report_every: 0,
        long_line: 100 << 20,
        lead_report: true,
        selection: only("035"),
        seed: 1,
        ..Options::default()
    };
    let run = explain(feed_generated(&corpus, opts));
    let stats = run.fed.as_ref().expect("feeding the child");
    assert_eq!(stats.reports, 1);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let result = check(&stats.inserted, &run.found());
    assert_bounded("100 MiB line then report 035", &run, floor);
    assert!(
        result.missing.is_empty() && result.split.is_empty() && result.extra.is_empty(),
        "after a 100 MiB line:\n{}",
        result.describe(10)
    );
}

/// (a') The same line in the middle of a report (between `Mem-Info:` and the kill): the kill
/// is still found, and the open report does not keep the line.
#[test]
fn hundred_mib_line_inside_a_report() {
    let _serial = serial();
    let corpus = corpus();
    let floor = rss_floor_kib();
    let r = corpus.get("035").expect("corpus report 035");
    let opts = Options {
        form: LogForm::Dmesg,
        size: 0,
        report_every: 0,
        lead_report: true,
        selection: only("035"),
        ..Options::default()
    };
    let mut report = Vec::new();
    Generator::new(&corpus, opts)
        .unwrap()
        .write_to(&mut report)
        .unwrap();
    let cut = find(&report, b"Mem-Info:").expect("035 has Mem-Info");
    let cut = report[..cut].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let (head, tail) = report.split_at(cut);
    let run = explain(|w: &mut dyn Write| {
        w.write_all(head)?;
        oomlens_testkit::loggen::write_long_line(w, LogForm::Dmesg, 100 << 20, 2)?;
        w.write_all(tail)
    });
    run.fed.as_ref().expect("feeding the child");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let found = run.found();
    assert_bounded("100 MiB line inside report 035", &run, floor);
    let victims: Vec<Option<u64>> = found.iter().map(|f| f.victim_pid).collect();
    assert!(
        victims.contains(&r.victim_pid.map(u64::from)),
        "victim {:?} of 035 not found after a 100 MiB line inside the report; incidents: {found:?}",
        r.victim_pid
    );
}

/// (b) About 1 GiB of noise with a report every ~2 MiB, generated on the fly: every report
/// is found, nothing is found in noise, and memory does not grow with the input.
#[test]
fn gigabyte_stream_finds_every_report_in_bounded_memory() {
    let _serial = serial();
    let corpus = corpus();
    let floor = rss_floor_kib();
    let size = std::env::var("OOMLENS_STREAM_BYTES")
        .ok()
        .map(|s| oomlens_testkit::loggen::parse_size(&s).expect("OOMLENS_STREAM_BYTES"))
        .unwrap_or(1 << 30);
    let opts = Options {
        form: LogForm::Journal,
        size,
        report_every: 2 << 20,
        seed: 42,
        ..Options::default()
    };
    let run = explain(feed_generated(&corpus, opts));
    let stats = run.fed.as_ref().expect("feeding the child");
    let secs = run.wall.as_secs_f64();
    eprintln!(
        "stream: {} bytes, {} lines, {} reports ({} incidents, {} `{KILLED_PROCESS}` lines) in {secs:.1} s = {:.0} MiB/s through oomlens",
        stats.bytes,
        stats.lines,
        stats.reports,
        stats.incidents,
        stats.killed_process_lines,
        stats.bytes as f64 / (1 << 20) as f64 / secs
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let result = check(&stats.inserted, &run.found());
    eprint!("{}", result.describe(10));
    assert_bounded("1 GiB stream", &run, floor);
    assert!(
        result.missing.is_empty() && result.split.is_empty(),
        "reports missed or split in the stream:\n{}",
        result.describe(20)
    );
    assert!(
        result.extra.is_empty(),
        "incidents found in noise (page allocation failures, SysRq show-memory dumps, ...):\n{}",
        result.describe(20)
    );
}

/// Invalid UTF-8 sequences: lone continuation bytes, overlong forms, surrogates, truncated
/// sequences, bytes that never occur in UTF-8.
const BAD: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\x80",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xf8\x88\x80\x80\x80",
    b"\xbf\xbf\xbf",
];

/// Markers of the lines a report is recognized by: garbage goes around them, not into them.
const KEY: &[&[u8]] = &[
    b"Killed process",
    b"invoked oom-killer",
    b"oom-kill:",
    b"out of memory",
    b"Out of memory",
    b"Kill process",
    b"Task in ",
    b"CPU: ",
    b"Mem-Info",
    b"Tasks state",
];

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn garbage(rng: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 4) {
        let bad = *rng.pick(BAD);
        out.extend_from_slice(bad);
    }
}

/// Ways of mixing invalid bytes into a report.
#[derive(Debug, Clone, Copy)]
enum Mangle {
    /// Every line ends in garbage.
    Trailing,
    /// A line of random non-newline bytes after every line.
    Lines,
    /// Garbage at a random place inside every line that is not a key line; key lines get it
    /// at their end.
    Inside,
    /// The victim's comm carries invalid bytes wherever it is printed.
    Comm,
}

fn mangle(report: &[u8], how: Mangle, comm: &str, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(report.len() * 2);
    for line in report.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let key = KEY.iter().any(|k| find(body, k).is_some());
        match how {
            Mangle::Trailing => {
                out.extend_from_slice(body);
                garbage(rng, &mut out);
            }
            Mangle::Lines => {
                out.extend_from_slice(body);
                out.push(b'\n');
                for _ in 0..rng.range(1, 200) {
                    let b = rng.below(256) as u8;
                    out.push(if b == b'\n' { 0xff } else { b });
                }
            }
            Mangle::Inside if !key && body.len() > 2 => {
                let at = rng.range(1, body.len() as u64 - 1) as usize;
                out.extend_from_slice(&body[..at]);
                garbage(rng, &mut out);
                out.extend_from_slice(&body[at..]);
            }
            Mangle::Inside => {
                out.extend_from_slice(body);
                garbage(rng, &mut out);
            }
            Mangle::Comm => {
                let pat = format!("({comm})");
                match find(body, pat.as_bytes()) {
                    Some(at) if comm.len() > 1 => {
                        let mid = at + 1 + comm.len() / 2;
                        out.extend_from_slice(&body[..mid]);
                        out.extend_from_slice(b"\xff\xc3\x28");
                        out.extend_from_slice(&body[mid..]);
                    }
                    _ => out.extend_from_slice(body),
                }
            }
        }
        out.push(b'\n');
    }
    out
}

/// (c) Invalid UTF-8 inside a report's lines does not stop the report from being parsed:
/// the right number of incidents, the right victim.
#[test]
fn invalid_utf8_in_report_lines_is_tolerated() {
    let _serial = serial();
    let corpus = corpus();
    let cases = [
        ("035", LogForm::Dmesg),
        ("011", LogForm::Dmesg),
        ("016", LogForm::Journal),
        ("053", LogForm::Syslog),
        ("003", LogForm::Kmsg),
        ("038", LogForm::Journal),
    ];
    let mut failures = Vec::new();
    let mut rng = Rng::new(0x0bad_f00d);
    for (name, form) in cases {
        let r = corpus
            .get(name)
            .unwrap_or_else(|| panic!("corpus report {name}"));
        let opts = Options {
            form,
            size: 0,
            report_every: 0,
            lead_report: true,
            selection: only(name),
            seed: 3,
            ..Options::default()
        };
        let mut clean = Vec::new();
        Generator::new(&corpus, opts)
            .unwrap()
            .write_to(&mut clean)
            .unwrap();
        let comm = victim_comm(&clean, r.victim_pid);
        for how in [
            Mangle::Trailing,
            Mangle::Lines,
            Mangle::Inside,
            Mangle::Comm,
        ] {
            let input = mangle(&clean, how, &comm, &mut rng);
            assert!(std::str::from_utf8(&input).is_err());
            let run = explain(|w: &mut dyn Write| w.write_all(&input));
            let label = format!("{} in {form} form, {how:?}", r.name);
            if run.code != Some(0) {
                failures.push(format!("{label}: {}", run.describe()));
                continue;
            }
            let found = run.found();
            let victim = found.first().and_then(|f| f.victim_pid);
            if found.len() != r.incidents as usize || victim != r.victim_pid.map(u64::from) {
                failures.push(format!(
                    "{label}: {} incidents (want {}), first victim {victim:?} (want {:?})\n  input: {}",
                    found.len(),
                    r.incidents,
                    r.victim_pid,
                    escape(&input, 600)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The comm printed in the report's first `Killed process <pid> (<comm>)` line.
fn victim_comm(report: &[u8], pid: Option<u32>) -> String {
    let text = String::from_utf8_lossy(report);
    let pid = pid.map(|p| p.to_string()).unwrap_or_default();
    let needle = format!("{KILLED_PROCESS} {pid}");
    text.lines()
        .find_map(|l| {
            let rest = &l[l.find(&needle)? + needle.len()..];
            let open = rest.find('(')?;
            let close = rest[open..].find(')')? + open;
            Some(rest[open + 1..close].to_string())
        })
        .unwrap_or_default()
}

/// The first `max` bytes of `input`, escaped for a failure message.
fn escape(input: &[u8], max: usize) -> String {
    input
        .iter()
        .take(max)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}
