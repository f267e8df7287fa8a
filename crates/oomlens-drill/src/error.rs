//! Why a drill could not run (exit status 2). A drill that ran but found detection broken
//! is not an error: it is a failed step in the report.

use std::io;
use std::path::PathBuf;

/// Why the drill could not run on this host.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// No memory controller is mounted, or our own cgroup cannot be found in it.
    #[error("no memory cgroup to put the drill in: {reason}")]
    NoCgroup {
        /// What was missing.
        reason: String,
    },
    /// The throwaway cgroup could not be created or limited.
    #[error("cannot create the drill cgroup {path}: {source}")]
    CreateCgroup {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file of the throwaway cgroup could not be written.
    #[error("cannot write {value:?} to {path}: {source}")]
    WriteCgroup {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The error.
        source: io::Error,
    },
    /// The kind asked for cannot be drilled on this host.
    #[error("drill kind {kind} cannot run here: {reason}")]
    Unsupported {
        /// The kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// Not enough free memory to drill without risking a machine-wide OOM.
    #[error("not safe: {reason}")]
    Unsafe {
        /// The numbers.
        reason: String,
    },
    /// A host file the drill needs could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The allocator could not be started.
    #[error("cannot start the allocator {program}: {source}")]
    Spawn {
        /// The program (this executable).
        program: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// SIGINT or SIGTERM arrived; everything was removed.
    #[error("interrupted; the drill cgroup and its processes were removed")]
    Interrupted,
    /// The internal allocator was given a bad request (only the drill itself starts it).
    #[error("internal allocator: {0}")]
    Child(String),
}
