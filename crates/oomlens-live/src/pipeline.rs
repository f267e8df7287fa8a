//! Incidents in, explained incidents out: every incident is explained (feeding the
//! restart-loop history, also when it falls outside the window), its owner enriched with
//! what this host still knows, filtered by the time window, counted, and handed to the
//! caller's [`IncidentSink`].

use std::io::{self, Read};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use oomlens_analysis::explain::{Explainer, Explanation};
use oomlens_analysis::owner::Owner;
use oomlens_model::Incident;
use oomlens_parse::{parse_reader, Format, Options, Parser, ReadStats};
use oomlens_sources::owners::OwnerFiles;

use crate::follow::{Follow, Step};
use crate::source::{KmsgStream, LiveLog};
use crate::{LiveError, Window};

/// Where explained incidents go. Only [`IncidentSink::incident`] is required.
pub trait IncidentSink {
    /// One incident inside the window, with its explanation.
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()>;

    /// While following: `n` more kernel log records were overwritten before they could be
    /// read (the total is in [`Counters::kmsg_records_lost`]).
    fn records_lost(&mut self, n: u64) -> io::Result<()> {
        let _ = n;
        Ok(())
    }

    /// Asked between two reads while following: true ends the follow.
    fn stop(&self) -> bool {
        false
    }
}

/// What the pipeline has seen so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Incidents handed to the sink.
    pub incidents: u64,
    /// Incidents outside the window.
    pub filtered_out: u64,
    /// Incidents handed to the sink although the window could not apply: they carry no
    /// wall-clock time (counted only when the window has a bound).
    pub untimed: u64,
    /// /dev/kmsg records overwritten before they were read.
    pub kmsg_records_lost: u64,
    /// Times /dev/kmsg reported an overrun (EPIPE); each is survived, not fatal.
    pub kmsg_overruns: u64,
}

/// Explains, enriches, filters and counts incidents for one sink.
#[derive(Debug)]
pub struct Pipeline<S> {
    sink: S,
    explainer: Explainer,
    owners: Option<OwnerFiles>,
    window: Window,
    counters: Counters,
    /// The sink's first error; later incidents are dropped until it is taken.
    error: Option<io::Error>,
}

impl<S: IncidentSink> Pipeline<S> {
    /// A pipeline into `sink` keeping incidents inside `window`, with a fresh explainer and
    /// no owner enrichment.
    pub fn new(sink: S, window: Window) -> Pipeline<S> {
        Pipeline {
            sink,
            explainer: Explainer::new(),
            owners: None,
            window,
            counters: Counters::default(),
            error: None,
        }
    }

    /// Enrich owners from the files under `root` (`/` on the live host). Only for logs of
    /// this host: another host's owners are not known here.
    pub fn enrich_from(mut self, root: &Path) -> Pipeline<S> {
        self.owners = Some(OwnerFiles::new(root));
        self
    }

    /// Use `explainer` (for its history cap, say) instead of a fresh one.
    pub fn with_explainer(mut self, explainer: Explainer) -> Pipeline<S> {
        self.explainer = explainer;
        self
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The explainer (its history's size, say).
    pub fn explainer(&self) -> &Explainer {
        &self.explainer
    }

    /// The sink.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The sink, the counters, and the sink's first error if it failed.
    pub fn into_parts(self) -> (S, Counters, Option<io::Error>) {
        (self.sink, self.counters, self.error)
    }

    /// Explain, enrich, filter and hand on one incident. After the sink failed, nothing is
    /// done until its error is taken.
    pub fn incident(&mut self, inc: &Incident) {
        if self.error.is_some() {
            return;
        }
        // Every incident feeds the restart-loop history, also those outside the window.
        let mut expl = self.explainer.explain(inc);
        if let (Some(files), Some(owner)) = (&self.owners, expl.owner.as_mut()) {
            enrich(owner, files);
        }
        match self.window.contains(&inc.time) {
            Some(false) => {
                self.counters.filtered_out += 1;
                return;
            }
            None => self.counters.untimed += 1,
            Some(true) => {}
        }
        self.counters.incidents += 1;
        if let Err(e) = self.sink.incident(inc, &expl) {
            self.error = Some(e);
        }
    }

    /// Parse `r` to its end (a file, standard input). `name` names it in errors.
    pub fn read(
        &mut self,
        name: &str,
        r: impl Read,
        opts: Options,
    ) -> Result<ReadStats, LiveError> {
        parse_reader(r, opts, |i| self.incident(&i)).map_err(|source| LiveError::Read {
            what: name.to_string(),
            source,
        })
    }

    /// Parse the standard output of `child` (journalctl, dmesg) to its end, then check how
    /// it exited. `what` names it in errors.
    pub fn read_child(
        &mut self,
        mut child: Child,
        what: &str,
        opts: Options,
    ) -> Result<ReadStats, LiveError> {
        let stdout = child.stdout.take().expect("spawned with a piped stdout");
        let mut stderr = child.stderr.take().expect("spawned with a piped stderr");
        // Drain stderr on a thread so a chatty child cannot block on a full pipe.
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let st = self.read(what, stdout, opts)?;
        let status = child.wait().map_err(|source| LiveError::Wait {
            what: what.to_string(),
            source,
        })?;
        let err = err_thread.join().unwrap_or_default();
        if !status.success() {
            return Err(LiveError::Failed {
                what: what.to_string(),
                status,
                stderr: err.trim().to_string(),
            });
        }
        Ok(st)
    }

    /// Read a live log from its start to what it holds now. /dev/kmsg's lost records are
    /// added to the counters.
    pub fn read_live(&mut self, log: LiveLog, opts: Options) -> Result<ReadStats, LiveError> {
        match log {
            LiveLog::Kmsg(mut r) => {
                let st = parse_reader(KmsgStream::new(&mut r), opts, |i| self.incident(&i))
                    .map_err(LiveError::Kmsg)?;
                self.counters.kmsg_records_lost += r.lost;
                self.counters.kmsg_overruns += r.overruns;
                Ok(st)
            }
            LiveLog::Journal(child) | LiveLog::Dmesg(child) => {
                let what = if opts.format == Some(Format::JournalJson) {
                    "journalctl"
                } else {
                    "dmesg"
                };
                self.read_child(child, what, opts)
            }
        }
    }

    /// Follow `src` with `parser` until the source ends or the sink asks to stop. When the
    /// source pauses for `wait`, the parser closes the report it holds, so that a kill is
    /// handed on within about `wait` of its last line. Returns the sink's first error.
    pub fn follow(
        &mut self,
        src: &mut impl Follow,
        parser: &mut Parser,
        wait: Duration,
    ) -> Result<(), LiveError> {
        let (mut reported_lost, mut reported_overruns) = (src.records_lost(), src.overruns());
        loop {
            if self.sink.stop() {
                return Ok(());
            }
            let step = src.next(wait, &mut |line| parser.push_line(line))?;
            match step {
                Step::Data => {}
                Step::Idle => parser.idle(),
                Step::End => parser.finish(),
            }
            let lost = src.records_lost();
            if lost > reported_lost {
                self.counters.kmsg_records_lost += lost - reported_lost;
                self.sink
                    .records_lost(lost - reported_lost)
                    .map_err(LiveError::Sink)?;
                reported_lost = lost;
            }
            self.counters.kmsg_overruns += src.overruns() - reported_overruns;
            reported_overruns = src.overruns();
            for inc in parser.take() {
                self.incident(&inc);
            }
            if let Some(e) = self.error.take() {
                return Err(LiveError::Sink(e));
            }
            if step == Step::End {
                return Ok(());
            }
        }
    }
}

/// Add what this host still knows about an owner (unit description, container and pod
/// names).
pub fn enrich(owner: &mut Owner, files: &OwnerFiles) {
    if let Some(u) = &owner.unit {
        owner.live.unit_description = files.unit_description(u);
    }
    if let Some(uid) = &owner.pod_uid {
        if let Some((ns, name)) = files.pod(uid) {
            owner.live.pod_namespace = Some(ns);
            owner.live.pod_name = Some(name);
        }
    }
    if let Some(id) = &owner.container_id {
        owner.live.container_name = if owner.pod_uid.is_some() {
            files.kube_container(id)
        } else if owner.runtime.as_deref() == Some("docker") {
            files.docker_name(id)
        } else {
            None
        };
    }
}
