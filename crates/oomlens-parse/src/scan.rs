//! The reading loop: splits input into lines and skips, at memchr speed, the stretches of a
//! log that cannot touch an OOM report.
//!
//! While no report is open, only lines that contain one of [`TRIGGERS`] can matter, so the
//! loop searches the buffer for the next trigger (Aho-Corasick, SIMD prefilter) and counts
//! the newlines it skips instead of decoding every line. Inside a report every line is read.

use std::io::{self, Read};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use memchr::{memchr, memchr_iter, memrchr};
use oomlens_model::Incident;

use crate::envelope::Format;
use crate::limits::MAX_LINE;
use crate::parser::{Options, Parser};

/// Substrings of every line that can start, or attach to, an incident while none is open.
///
/// At most 32, so the searcher stays in its faster "slim" Teddy form, and none shorter than 4
/// bytes, so it fingerprints 4 bytes (`triggers_fit_the_fast_searcher` below); each covers several
/// wordings (`oom-kill` finds `invoked oom-killer`, `oom-kill:` and `'oom-kill'`). Teddy
/// fingerprints the first bytes of each pattern, so patterns start where the text is rare
/// (`(es) in this unit`, not `in this unit`): common prefixes cost a check per match.
const TRIGGERS: &[&str] = &[
    // kernel
    "oom-kill",
    "oom_reaper:",
    "Killed process",
    "Kill process",
    "killed as a result of limit",
    // `Memory cgroup …` (kernel) and systemd-oomd's debug `Memory pressure for …`; not
    // `Memory ` alone, which boot lines and memory dumps print far more often.
    "Memory cgroup",
    "Memory pressure",
    "total_vm",
    ": usage ",
    "Out of memory",
    "Mem-Info:",
    // Warnings that dump Mem-Info without an OOM: read so their Mem-Info opens nothing.
    "page allocation failure",
    "Show Memory",
    // systemd-oomd and systemd
    "due to memory",
    "r killing due",
    "oomd attempting",
    "(es) in this unit",
    "=9/KILL",
    "counter is at",
    // earlyoom
    "sending SIG",
    "illing process",
    "kill failed",
    "exited after",
    "escalating",
    // kubelet, kubectl and containerd: ` OOM` finds `Reason: OOMKilled`, `System OOM`, and
    // systemd's `by the OOM killer`; `kOOM` finds containerd's `TaskOOM` (a JSON
    // `"OOMKilled"` has `exitCode` beside it). Not a bare `OOM`: every pattern is at least
    // 4 bytes, or Teddy fingerprints 3 and the search runs at half speed (measured: 184M
    // against 99M instructions on a 20 MiB log).
    " OOM",
    "kOOM",
    "Evicted",
    // `kubectl get pod -o yaml`: its `metadata:` is far above the status that has the
    // trigger (JSON needs none: its lines are indented under a `{` at column 0, and the
    // search backs up to it).
    "metadata:",
    "Exit Code:",
    "exitCode",
    "Name:",
    // journald stores messages that held \xNN escapes as byte arrays: their text is not
    // in the line, so every such entry is decoded.
    "\"MESSAGE\":[",
];

/// The trigger searcher: SIMD Teddy where the CPU has it, else an Aho-Corasick automaton.
enum Triggers {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Triggers {
    /// The start of the first trigger in `hay`.
    fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Triggers::Packed(s) => s.find(hay).map(|m| m.start()),
            Triggers::Automaton(a) => a.find(hay).map(|m| m.start()),
        }
    }
}

fn triggers() -> &'static Triggers {
    static T: OnceLock<Triggers> = OnceLock::new();
    T.get_or_init(|| {
        let mut b = aho_corasick::packed::Config::new().builder();
        match b.extend(TRIGGERS).build() {
            Some(s) => Triggers::Packed(s),
            None => {
                Triggers::Automaton(AhoCorasick::new(TRIGGERS).expect("static patterns are valid"))
            }
        }
    })
}

/// What the reading loop saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read (decoded or skipped).
    pub lines: u64,
    /// Lines decoded; the others were skipped without decoding (no trigger, no open report).
    pub decoded_lines: u64,
    /// Lines longer than [`MAX_LINE`], of which only the start was read.
    pub long_lines: u64,
    /// Incidents passed to the sink.
    pub incidents: u64,
}

/// Read `r` to its end and pass each incident to `sink` in input order.
pub fn parse_reader<R: Read>(
    r: R,
    opts: Options,
    sink: impl FnMut(Incident),
) -> io::Result<ReadStats> {
    // journalctl's multi-line record forms are flattened to JSON lines first (records.rs).
    let (r, records) = crate::records::open(r, opts.format.unwrap_or(Format::Auto))?;
    let mut s = Scanner::new(opts);
    s.parser.set_records(records);
    let mut sink = sink;
    s.run(r, &mut sink)?;
    s.parser.finish();
    for i in s.parser.take() {
        s.stats.incidents += 1;
        sink(i);
    }
    s.stats.lines = s.parser.line();
    s.stats.decoded_lines = s.parser.decoded();
    Ok(s.stats)
}

/// A resumable scanner, also used for live logs (`--follow`).
#[derive(Debug)]
pub struct Scanner {
    /// The parser lines are fed to.
    pub parser: Parser,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    in_long_line: bool,
    /// What was read so far.
    pub stats: ReadStats,
}

impl Scanner {
    /// A scanner over a fresh parser.
    pub fn new(opts: Options) -> Scanner {
        Scanner {
            parser: Parser::new(opts),
            buf: vec![0; 4 * MAX_LINE],
            start: 0,
            end: 0,
            in_long_line: false,
            stats: ReadStats::default(),
        }
    }

    /// Read `r` until end of input; the last unterminated line is fed too.
    pub fn run<R: Read>(&mut self, mut r: R, sink: &mut impl FnMut(Incident)) -> io::Result<()> {
        loop {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = match r.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.stats.bytes += n as u64;
            self.end += n;
            self.lines(sink);
            if n == 0 {
                if self.start < self.end && !self.in_long_line {
                    let (s, e) = (self.start, self.end);
                    self.parser.push_line(&self.buf[s..e]);
                }
                self.start = 0;
                self.end = 0;
                self.in_long_line = false;
                self.drain(sink);
                return Ok(());
            }
        }
    }

    fn drain(&mut self, sink: &mut impl FnMut(Incident)) {
        for i in self.parser.take() {
            self.stats.incidents += 1;
            sink(i);
        }
    }

    /// Consume every complete line in the buffer.
    fn lines(&mut self, sink: &mut impl FnMut(Incident)) {
        loop {
            let region = &self.buf[self.start..self.end];
            if self.in_long_line {
                match memchr(b'\n', region) {
                    Some(i) => {
                        self.start += i + 1;
                        self.in_long_line = false;
                        continue;
                    }
                    None => {
                        self.start = self.end;
                        return;
                    }
                }
            }
            if !self.parser.wants_every_line() {
                let Some(last_nl) = memrchr(b'\n', region) else {
                    if !self.cut_long_line() {
                        return;
                    }
                    continue;
                };
                let complete = &region[..=last_nl];
                match triggers().find(complete) {
                    None => {
                        let n = memchr_iter(b'\n', complete).count() as u64;
                        self.parser.skip_lines(n);
                        self.start += last_nl + 1;
                        self.drain(sink);
                        return;
                    }
                    Some(m) => {
                        let mut ls = memrchr(b'\n', &complete[..m]).map_or(0, |i| i + 1);
                        // An indented continuation line needs the line it continues.
                        while ls > 0 && matches!(complete[ls], b' ' | b'\t') {
                            ls = memrchr(b'\n', &complete[..ls - 1]).map_or(0, |i| i + 1);
                        }
                        // So does the rest of a header a mail client broke before its
                        // trigger (`mkfs.ext4 invoked` / `oom-killer: gfp_mask=…`, wrap.rs).
                        if ls > 0 && complete[ls..].starts_with(b"oom-killer:") {
                            ls = memrchr(b'\n', &complete[..ls - 1]).map_or(0, |i| i + 1);
                        }
                        let n = memchr_iter(b'\n', &complete[..ls]).count() as u64;
                        self.parser.skip_lines(n);
                        self.start += ls;
                    }
                }
            }
            let region = &self.buf[self.start..self.end];
            match memchr(b'\n', region) {
                Some(i) => {
                    let (s, e) = (self.start, self.start + i);
                    self.parser.push_line(&self.buf[s..e]);
                    self.start += i + 1;
                    self.drain(sink);
                }
                None => {
                    if !self.cut_long_line() {
                        return;
                    }
                }
            }
        }
    }

    /// A line with no newline within [`MAX_LINE`] bytes: feed its start, skip the rest.
    fn cut_long_line(&mut self) -> bool {
        if self.end - self.start < MAX_LINE {
            return false;
        }
        let (s, e) = (self.start, self.start + MAX_LINE);
        self.parser.push_line(&self.buf[s..e]);
        self.stats.long_lines += 1;
        self.start += MAX_LINE;
        self.in_long_line = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trigger list keeps the searcher in its fast form: slim Teddy takes at most 32
    /// patterns, and fingerprints as many bytes (up to 4) as the shortest pattern has.
    #[test]
    fn triggers_fit_the_fast_searcher() {
        assert!(TRIGGERS.len() <= 32, "{} triggers", TRIGGERS.len());
        let short: Vec<_> = TRIGGERS.iter().filter(|t| t.len() < 4).collect();
        assert!(short.is_empty(), "triggers shorter than 4 bytes: {short:?}");
        assert!(matches!(triggers(), Triggers::Packed(_)));
    }
}
