//! The push parser: decodes each line's envelope, rejoins wrapped kernel lines, routes
//! kernel messages to one assembler per host and the others to the userspace recognizers,
//! and releases incidents in input order.

use std::collections::VecDeque;

use oomlens_model::Incident;

use crate::assemble::KernelAssembler;
use crate::envelope::{self, Clock, Decoder, Form, Format, Hints};
use crate::records;
use crate::userspace::UserAssembler;
use crate::wrap;

/// Closed incidents are held this many lines so that notices, reaper lines and a later
/// report's kernel release can still reach them.
const HOLD_LINES: u64 = 64;

/// How to parse.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The input form (`Format::Auto` detects per line).
    pub format: Option<Format>,
    /// Year and boot time for printed times.
    pub clock: Clock,
    /// The input's name, copied into each incident's `source.file`.
    pub file: Option<String>,
}

/// A push parser: feed lines, take incidents.
#[derive(Debug)]
pub struct Parser {
    decoder: Decoder,
    /// One kernel assembler per host: a journal directory or a central syslog of several
    /// machines interleaves their lines, and a report of one host must neither swallow nor
    /// drop another host's report. Lines that print no host go to the assembler of the last
    /// line that did (continuations, a dmesg pasted into a syslog), so a log of one host, or
    /// of none, has exactly one assembler as before.
    kernels: Vec<(Option<String>, KernelAssembler)>,
    /// The index in `kernels` of the last line's assembler.
    current: usize,
    user: UserAssembler,
    hold: VecDeque<Incident>,
    ready: VecDeque<Incident>,
    line: u64,
    /// Lines decoded (the rest were skipped by the trigger search).
    decoded: u64,
    file: Option<String>,
    /// The form of the last prefixed line, and the journal/syslog hints seen so far.
    form: Form,
    hints: Hints,
    /// The multi-line record form the input was flattened from (see [`records`]).
    records: Option<records::Records>,
    /// A kernel message that may continue on the next line (see wrap.rs), with its line.
    pending: Option<(u64, envelope::Envelope, Vec<String>)>,
}

impl Parser {
    /// A parser with `opts`.
    pub fn new(opts: Options) -> Parser {
        Parser {
            decoder: Decoder::new(opts.format.unwrap_or(Format::Auto), opts.clock),
            kernels: vec![(None, KernelAssembler::default())],
            current: 0,
            user: UserAssembler::default(),
            hold: VecDeque::new(),
            ready: VecDeque::new(),
            line: 0,
            decoded: 0,
            file: opts.file,
            form: Form::Bare,
            hints: Hints::default(),
            records: None,
            pending: None,
        }
    }

    /// Lines decoded so far (fed with [`Parser::push_line`], not skipped).
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The number of the last line fed (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// True while a report is open: the caller must then feed every line.
    pub fn wants_every_line(&self) -> bool {
        self.pending.is_some()
            || self.kernels.iter().any(|(_, k)| k.is_open())
            || self.user.wants_every_line(self.line)
    }

    /// Count `n` lines that were skipped without being fed (they held no trigger).
    pub fn skip_lines(&mut self, n: u64) {
        if n > 0 {
            self.flush_pending();
            self.line += n;
            self.decoder.reset();
            self.release(false);
        }
    }

    /// Feed one line (without its terminator). Invalid UTF-8 is replaced, not rejected.
    pub fn push_line(&mut self, raw: &[u8]) {
        self.line += 1;
        self.decoded += 1;
        let text = String::from_utf8_lossy(raw);
        let d = self.decoder.decode(&text);
        let env = d.envelope;
        if env.form != Form::Bare {
            self.form = env.form;
        }
        self.hints.journal |= env.hints.journal;
        self.hints.syslog |= env.hints.syslog;
        let messages = &d.messages;
        // A line wrapped by a terminal or mail client: its rest has no prefix of its own.
        if let Some((line, penv, mut pmsgs)) = self.pending.take() {
            let own_prefix = env.form != Form::Bare && !d.continuation;
            let k = self.current_for(penv.host.as_deref());
            let cols = self.kernels[k].1.table_columns();
            let joined = match (pmsgs.last(), messages.as_slice()) {
                (Some(p), [f]) if !own_prefix => wrap::rejoin(p, f, cols),
                _ => None,
            };
            if let Some(j) = joined {
                *pmsgs.last_mut().expect("matched above") = j;
                // The joined line may still be cut: it can wait for one more.
                if pmsgs.last().is_some_and(|m| wrap::incomplete(m)) {
                    self.pending = Some((line, penv, pmsgs));
                } else {
                    self.dispatch(line, &penv, &pmsgs);
                    self.release(false);
                }
                return;
            }
            self.dispatch(line, &penv, &pmsgs);
        }
        // An empty message waits only behind a prefix (that a mail client left behind when
        // it moved the message to the next line); a bare empty line is an author's elision.
        let wraps =
            |m: &str| wrap::incomplete(m) && (env.form != Form::Bare || !m.trim().is_empty());
        if (env.kernel || env.anonymous) && messages.last().is_some_and(|m| wraps(m)) {
            let owned = messages.iter().map(|m| m.to_string()).collect();
            self.pending = Some((self.line, env, owned));
            return;
        }
        self.dispatch(self.line, &env, messages);
        self.release(false);
    }

    fn dispatch<S: AsRef<str>>(&mut self, line: u64, env: &envelope::Envelope, messages: &[S]) {
        let k = self.current_for(env.host.as_deref());
        let kernel = &mut self.kernels[k].1;
        for msg in messages.iter().map(AsRef::as_ref) {
            if env.kernel || env.anonymous {
                kernel.push(line, env, msg, &mut self.hold);
            }
            if !env.kernel || env.anonymous {
                self.user.push(line, env, msg, kernel, &mut self.hold);
            }
        }
    }

    /// Process a held line as it is.
    fn flush_pending(&mut self) {
        if let Some((line, env, msgs)) = self.pending.take() {
            self.dispatch(line, &env, &msgs);
        }
    }

    /// The input paused (live logs): close a report that has killed and release all.
    pub fn idle(&mut self) {
        self.flush_pending();
        for (_, k) in &mut self.kernels {
            k.close_if_killed(&mut self.hold);
        }
        self.release(true);
    }

    /// End of input: close everything.
    pub fn finish(&mut self) {
        self.flush_pending();
        for (_, k) in &mut self.kernels {
            k.close(&mut self.hold);
        }
        self.user.finish(&mut self.hold);
        self.release(true);
    }

    /// Take the incidents that are complete.
    pub fn take(&mut self) -> impl Iterator<Item = Incident> + '_ {
        self.ready.drain(..)
    }

    /// Name the record form the input was flattened from (set by [`crate::parse_reader`]).
    pub fn set_records(&mut self, records: Option<records::Records>) {
        self.records = records;
    }

    /// The assembler for a line of `host` (see `kernels`), made the current one.
    fn current_for(&mut self, host: Option<&str>) -> usize {
        let Some(h) = host else {
            return self.current;
        };
        if let Some(i) = self
            .kernels
            .iter()
            .position(|(k, _)| k.as_deref() == Some(h))
        {
            self.current = i;
        } else if self.kernels.len() == 1 && self.kernels[0].0.is_none() {
            // The first host seen takes over the host-less assembler and what it holds.
            self.kernels[0].0 = Some(h.to_string());
        } else {
            self.kernels
                .push((Some(h.to_string()), KernelAssembler::default()));
            self.current = self.kernels.len() - 1;
        }
        self.current
    }

    fn format_name(&self) -> &'static str {
        if let Some(r) = self.records {
            return r.name();
        }
        self.form.name(self.hints)
    }

    fn release(&mut self, all: bool) {
        // Incidents leave in input order: a userspace incident read while a kernel report is
        // still open waits for that report.
        let open_first = if all {
            None
        } else {
            self.kernels
                .iter()
                .filter_map(|(_, k)| k.open_first_line())
                .min()
        };
        if self.hold.len() > 1 {
            self.hold
                .make_contiguous()
                .sort_by_key(|i| i.source.first_line);
        }
        crate::userspace::notices::claim_early_notices(&mut self.hold);
        while let Some(front) = self.hold.front() {
            if !all
                && (front.source.last_line + HOLD_LINES > self.line
                    || open_first.is_some_and(|f| f < front.source.first_line)
                    || crate::userspace::notices::may_be_claimed(front, open_first))
            {
                break;
            }
            let mut inc = self.hold.pop_front().expect("front exists");
            inc.source.file = self.file.clone();
            inc.source.format = Some(self.format_name().to_string());
            self.ready.push_back(inc);
        }
    }
}
