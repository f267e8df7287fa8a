//! One-shot reads: log files (`-` for standard input), journal directories, or, when none
//! is given, this host's live log from its start; all opened before anything is read, so
//! that a bad name fails before any output.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::Child;

use oomlens_parse::{Clock, Format, Options, ReadStats};

use crate::pipeline::{IncidentSink, Pipeline};
use crate::source::{self, Opened, SourceOptions};
use crate::LiveError;

/// What to read once.
#[derive(Debug, Clone)]
pub struct Request {
    /// Log files; `-` is standard input.
    pub files: Vec<PathBuf>,
    /// Directories of journal files, read with `journalctl -D`.
    pub journal_dirs: Vec<PathBuf>,
    /// The files' form (`Format::Auto`: detected per line); for the live log, `Auto` means
    /// the form of the log picked.
    pub format: Format,
    /// Year and boot time for printed times. The live log gets this host's boot time.
    pub clock: Clock,
}

/// Wraps an opened log file before it is read (with a progress display, say): the file,
/// its name and its length in, the reader out.
pub type WrapFile<'a> = &'a dyn Fn(File, &str, u64) -> Box<dyn Read>;

/// Opened inputs, in the order they are read: files, journal directories, the live log.
pub struct Inputs {
    files: Vec<(String, Box<dyn Read>)>,
    journals: Vec<(String, Child)>,
    live: Option<(Opened, Format, Clock)>,
    format: Format,
    clock: Clock,
}

impl Inputs {
    /// Open what `req` names; with neither files nor journal directories, the live log
    /// `opts` picks.
    pub fn open(req: &Request, opts: &SourceOptions, wrap: WrapFile) -> Result<Inputs, LiveError> {
        let mut inputs = Inputs {
            files: Vec::new(),
            journals: Vec::new(),
            live: None,
            format: req.format,
            clock: req.clock,
        };
        if req.files.is_empty() && req.journal_dirs.is_empty() {
            let opened = source::open(opts)?;
            let fmt = match req.format {
                Format::Auto => opened.log.format(),
                f => f,
            };
            let clock = Clock {
                boot_time_us: opts.boot_time_us(),
                ..req.clock
            };
            inputs.live = Some((opened, fmt, clock));
        }
        for path in &req.files {
            if path.as_os_str() == "-" {
                inputs.files.push(("-".to_string(), Box::new(io::stdin())));
                continue;
            }
            let (name, f, len) = source::open_file(path)?;
            let reader = wrap(f, &name, len);
            inputs.files.push((name, reader));
        }
        for dir in &req.journal_dirs {
            inputs
                .journals
                .push(source::open_journal_dir(&opts.journalctl, dir)?);
        }
        Ok(inputs)
    }

    /// True when this host's live log is among the inputs (its owners can be enriched).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }
}

fn options(format: Format, clock: Clock, name: &str) -> Options {
    Options {
        format: Some(format),
        clock,
        file: Some(name.to_string()),
    }
}

impl<S: IncidentSink> Pipeline<S> {
    /// Read every input to its end, in order, stopping at the first that fails. Returns
    /// each input read (name and what was read) and that failure. When the live log was
    /// not the first source tried, its failure names every source tried.
    pub fn read_all(&mut self, inputs: Inputs) -> (Vec<(String, ReadStats)>, Option<LiveError>) {
        let (format, clock) = (inputs.format, inputs.clock);
        let mut read = Vec::new();
        for (name, reader) in inputs.files {
            match self.read(&name, reader, options(format, clock, &name)) {
                Ok(st) => read.push((name, st)),
                Err(e) => return (read, Some(e)),
            }
        }
        for (name, child) in inputs.journals {
            let what = format!("journalctl -D {name}");
            match self.read_child(child, &what, options(Format::JournalJson, clock, &name)) {
                Ok(st) => read.push((name, st)),
                Err(e) => return (read, Some(e)),
            }
        }
        if let Some((Opened { log, tried }, fmt, clock)) = inputs.live {
            let name = log.name();
            match self.read_live(log, options(fmt, clock, name)) {
                Ok(st) => read.push((name.to_string(), st)),
                Err(e) => return (read, Some(Opened::read_failed(tried, e))),
            }
        }
        (read, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Window;
    use oomlens_analysis::explain::Explanation;
    use oomlens_model::Incident;

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/corpus/oom-reports/016-gentoo-4.9-i686-global-journal-3kills.log"
    );

    struct Count(u64);

    impl IncidentSink for Count {
        fn incident(&mut self, _: &Incident, _: &Explanation) -> io::Result<()> {
            self.0 += 1;
            Ok(())
        }
    }

    fn request(files: &[&str]) -> Request {
        Request {
            files: files.iter().map(PathBuf::from).collect(),
            journal_dirs: Vec::new(),
            format: Format::Auto,
            clock: Clock::default(),
        }
    }

    #[test]
    fn every_input_opens_before_any_is_read_and_all_are_read_in_order() {
        let plain = |f: File, _: &str, _: u64| -> Box<dyn Read> { Box::new(f) };
        let opts = SourceOptions::default();
        let missing = "/nonexistent/oomlens-live/a.log";
        let e = Inputs::open(&request(&[CORPUS, missing]), &opts, &plain)
            .err()
            .unwrap();
        assert!(
            matches!(e, LiveError::Open { ref name, .. } if name == missing),
            "{e:?}"
        );

        let inputs = Inputs::open(&request(&[CORPUS, CORPUS]), &opts, &plain).unwrap();
        assert!(!inputs.is_live());
        let mut p = Pipeline::new(Count(0), Window::default());
        let (read, error) = p.read_all(inputs);
        assert!(error.is_none());
        let names: Vec<(&str, u64)> = read
            .iter()
            .map(|(n, s)| (n.as_str(), s.incidents))
            .collect();
        assert_eq!(names, [(CORPUS, 3), (CORPUS, 3)]);
        let (sink, counters, _) = p.into_parts();
        assert_eq!((sink.0, counters.incidents), (6, 6));
    }
}
