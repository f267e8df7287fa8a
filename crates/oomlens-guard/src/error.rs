//! Why the guard could not start or had to stop.

use std::path::PathBuf;

/// An error of `oomlens guard`, naming the input and the problem.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A flag's value cannot work.
    #[error("--{flag}: {problem}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The flight recorder's directory cannot be opened or written.
    #[error("the flight recorder in {}", dir.display())]
    Store {
        /// The store directory.
        dir: PathBuf,
        /// What failed.
        #[source]
        source: oomlens_store::recorder::Error,
    },
    /// A log could not be opened or read.
    #[error("the kernel log")]
    Log(#[source] oomlens_live::LiveError),
    /// The cgroup tree could not be sampled.
    #[error("sampling the cgroup tree")]
    Sampler(#[source] oomlens_sources::sampler::SamplerError),
    /// The configuration file cannot be read or is invalid.
    #[error("the configuration")]
    Config(#[source] crate::config::ConfigError),
    /// An event source (epoll, inotify, signals) could not be set up.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl GuardError {
    /// An [`GuardError::Io`] for `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> GuardError {
        let what = what.into();
        move |source| GuardError::Io { what, source }
    }
}
