//! The audit's error type: every variant names its file, unit or command.

use std::path::PathBuf;

/// Why something could not be audited or fixed. Every variant names its file or unit.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid unit name.
    #[error("{problem}")]
    UnitName {
        /// The name given.
        name: String,
        /// Why it is not one.
        problem: String,
    },
    /// No unit file of that name in the search path.
    #[error("{name}: no such unit file in {}", search_path.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    UnitNotFound {
        /// The unit.
        name: String,
        /// The directories searched, on this machine.
        search_path: Vec<PathBuf>,
    },
    /// A manifest document or object that cannot be read.
    #[error("{}:{line}: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// The drop-in exists and `--force` was not given.
    #[error("{}: already exists; pass --force to replace it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// No peak memory figure could be read for a unit.
    #[error("{unit}: no peak memory usage recorded ({why}); pass --peak BYTES")]
    NoPeak {
        /// The unit.
        unit: String,
        /// What was tried.
        why: String,
    },
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// The root to read units below is not a directory.
    #[error("{}: not a directory", path.display())]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
    /// A command could not be started.
    #[error("running {shown}")]
    Command {
        /// The command line as shown to the operator.
        shown: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("{shown} failed ({status})")]
    CommandFailed {
        /// The command line as shown to the operator.
        shown: String,
        /// Its exit status.
        status: String,
    },
}

impl AuditError {
    /// The file and line the error is about, when it has them.
    pub fn location(&self) -> (Option<PathBuf>, Option<u32>) {
        match self {
            AuditError::Io { path, .. } | AuditError::Exists { path } => (Some(path.clone()), None),
            AuditError::Manifest { path, line, .. } => (Some(path.clone()), Some(*line)),
            _ => (None, None),
        }
    }
}
