//! Readers of live system state: the kernel log (/dev/kmsg, the journal, dmesg), /proc and
//! the memory cgroups. Readers return `oomlens-model` types. Every reader is built from a
//! root path or a command name, so tests can point it at a fake tree or a stub.

#![deny(missing_docs)]

pub mod cgroupfs;
pub mod files;
pub mod formats;
pub mod kmsg;
pub mod mounts;
pub mod owners;
pub mod poll;
pub mod procfs;
pub mod sampler;
pub mod snapshot;

use std::path::PathBuf;

/// Why a source could not be read. Each variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening or reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content was not what the kernel writes.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}
