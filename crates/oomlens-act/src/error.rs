//! What can go wrong when acting, typed.

use std::path::PathBuf;

/// Why a process is never signalled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// PID 1.
    #[error("pid 1 is never signalled")]
    Init,
    /// The guard itself.
    #[error("pid {0} is the guard itself")]
    Itself(u32),
    /// A child of the guard (a hook).
    #[error("pid {0} is a child of the guard")]
    Child(u32),
    /// A kernel thread.
    #[error("pid {0} is a kernel thread")]
    KernelThread(u32),
    /// Protected by a rule.
    #[error("pid {0} is protected")]
    Protected(u32),
    /// The pid now belongs to another process than the one sampled (reused).
    #[error("pid {pid} was reused: start time {now} is not the sampled {sampled}")]
    Reused {
        /// The pid.
        pid: u32,
        /// Start time sampled (clock ticks since boot).
        sampled: u64,
        /// Start time read after the pidfd was opened.
        now: u64,
    },
    /// The process is no longer in the cgroup it was chosen in.
    #[error("pid {pid} left the cgroup {expected:?} (now {now:?})")]
    Moved {
        /// The pid.
        pid: u32,
        /// The cgroup it was chosen in.
        expected: String,
        /// The cgroup it is in now.
        now: String,
    },
}

/// An error of [`crate::Target::open`], a signal or a cgroup kill.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// The process is refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The process is gone (exited before the pidfd was opened, or its /proc entry vanished).
    #[error("pid {0} has exited")]
    Gone(u32),
    /// A /proc or cgroup file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A /proc file did not have the expected shape.
    #[error("{path}: cannot parse: {why}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: &'static str,
    },
    /// A syscall failed.
    #[error("{call}({pid}): {source}")]
    Sys {
        /// `pidfd_open`, `pidfd_send_signal`, `process_mrelease`, `poll`.
        call: &'static str,
        /// The pid.
        pid: u32,
        /// errno.
        source: std::io::Error,
    },
}

impl ActError {
    /// An I/O error on `path`; ENOENT/ESRCH on a /proc/PID file means the process is gone.
    pub(crate) fn io(path: PathBuf, source: std::io::Error, pid: Option<u32>) -> ActError {
        match (pid, source.raw_os_error()) {
            (Some(pid), Some(libc::ENOENT | libc::ESRCH)) => ActError::Gone(pid),
            _ => ActError::Io { path, source },
        }
    }
}
