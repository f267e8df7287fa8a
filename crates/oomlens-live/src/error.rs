//! Why the live pipeline stopped or could not start. Each variant names the input (a path,
//! a program, a log's name) and the problem; causes stay reachable through
//! `std::error::Error::source`.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

use oomlens_sources::SourceError;

use crate::window::TimeError;

/// An error of the live pipeline.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A source reader (/dev/kmsg, /proc) failed; the reader's error names the path.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Reading /dev/kmsg as a stream failed (the error names the device).
    #[error(transparent)]
    Kmsg(io::Error),
    /// A program (journalctl, dmesg) could not be started.
    #[error("{}: cannot run", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `journalctl -k -n 1` failed: no journal to read.
    #[error("{}: {status} ({stderr})", program.display())]
    JournalFailed {
        /// The journalctl program.
        program: PathBuf,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on standard error, trimmed.
        stderr: String,
    },
    /// The journal exists but holds no kernel message (common in containers).
    #[error("{}: the journal holds no kernel messages", program.display())]
    JournalEmpty {
        /// The journalctl program.
        program: PathBuf,
    },
    /// dmesg was asked to be followed: it cannot be without printing old messages again.
    #[error("{}: cannot be followed (use the journal or /dev/kmsg)", program.display())]
    NotFollowable {
        /// The dmesg program.
        program: PathBuf,
    },
    /// No live log could be read: why each one tried failed, in order, and, when the last
    /// one opened but failed while being read, that error.
    #[error("no kernel log could be read ({})", describe_all(.tried, .last.as_deref()))]
    NoSource {
        /// The sources tried before, with why each failed.
        tried: Vec<LiveError>,
        /// The read error of the source that opened last.
        last: Option<Box<LiveError>>,
    },
    /// An input file or directory could not be opened.
    #[error("{name}: cannot open")]
    Open {
        /// The input's name.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An input file could not be examined.
    #[error("{name}: cannot stat")]
    Stat {
        /// The input's name.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A log file argument names a directory.
    #[error("{name}: is a directory, not a log file")]
    IsDirectory {
        /// The input's name.
        name: String,
    },
    /// A journal directory argument names something else.
    #[error("{name}: not a directory (--journal-dir takes a directory of *.journal files)")]
    NotADirectory {
        /// The input's name.
        name: String,
    },
    /// Reading an input failed.
    #[error("{what}: read failed")]
    Read {
        /// The input (a file name, `journalctl`, `dmesg`, `journalctl -D DIR`).
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Waiting for a program that produced an input failed.
    #[error("{what}: wait failed")]
    Wait {
        /// The program's input name.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A program that produced an input exited with failure.
    #[error("{what}: {status}: {stderr}")]
    Failed {
        /// The program's input name.
        what: String,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on standard error, trimmed.
        stderr: String,
    },
    /// The sink refused an incident (its own error, unchanged).
    #[error(transparent)]
    Sink(io::Error),
    /// A time bound could not be read.
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// `error: cause: cause`, the whole chain on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

impl LiveError {
    /// One line for the list of sources tried: the whole chain, except for a source
    /// reader's error whose message already holds its cause.
    fn describe(&self) -> String {
        match self {
            LiveError::Source(e) => e.to_string(),
            other => chain(other),
        }
    }

    /// The sink's own error when the sink failed (a closed standard output, say), so that
    /// the caller can treat it as it would a failed write of its own.
    pub fn into_sink_error(self) -> Result<io::Error, LiveError> {
        match self {
            LiveError::Sink(e) => Ok(e),
            other => Err(other),
        }
    }
}

fn describe_all(tried: &[LiveError], last: Option<&LiveError>) -> String {
    let mut parts: Vec<String> = tried.iter().map(LiveError::describe).collect();
    if let Some(l) = last {
        parts.push(chain(l));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn no_source_lists_every_source_tried_with_its_cause() {
        let e = LiveError::NoSource {
            tried: vec![
                LiveError::JournalEmpty {
                    program: "journalctl".into(),
                },
                LiveError::Source(SourceError::Io {
                    path: "/dev/kmsg".into(),
                    source: io::ErrorKind::PermissionDenied.into(),
                }),
            ],
            last: Some(Box::new(LiveError::Spawn {
                program: "dmesg".into(),
                source: io::ErrorKind::NotFound.into(),
            })),
        };
        assert_eq!(
            e.to_string(),
            "no kernel log could be read (journalctl: the journal holds no kernel messages; \
             /dev/kmsg: permission denied; dmesg: cannot run: entity not found)"
        );
        assert!(e.source().is_none());
    }
}
