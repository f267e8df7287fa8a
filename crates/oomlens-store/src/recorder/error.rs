//! The recorder's errors: each names the file (or directory) and the problem.

use std::path::PathBuf;

/// What made a stretch of a segment unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Bytes where a frame should start do not form a frame header whose CRC matches.
    Header,
    /// The header is intact but the payload's crc32c does not match.
    PayloadCrc,
    /// The payload's CRC matches but zstd cannot decompress it to the recorded length.
    Decompress,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Damage::Header => "no valid frame header",
            Damage::PayloadCrc => "payload crc32c mismatch",
            Damage::Decompress => "payload does not decompress",
        })
    }
}

/// An error of the on-disk recorder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on `path` failed.
    #[error("{path}: cannot {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("open", "read", "append", …).
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another recorder holds the directory's lock file.
    #[error("{path}: another recorder is writing to this store")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A frame written by a newer, incompatible format version.
    #[error("{path}: record at byte {offset} has format version {major}.{minor}; this reader knows version {supported}.x only")]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// Major version found.
        major: u8,
        /// Minor version found.
        minor: u8,
        /// The major version this build reads and writes.
        supported: u8,
    },
    /// A frame whose flags ask for something this reader does not know (e.g. another
    /// compression); the frame is skipped, reading goes on after it.
    #[error("{path}: record at byte {offset} has unknown flags {flags:#06x}")]
    UnsupportedFlags {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// The flags found.
        flags: u16,
    },
    /// `len` bytes at `offset` hold no readable record; reading goes on after them.
    #[error("{path}: {len} bytes at byte {offset} skipped: {damage}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset where the damage starts.
        offset: u64,
        /// Bytes skipped (up to the next valid frame).
        len: u64,
        /// What is wrong.
        damage: Damage,
    },
    /// The payload is larger than a frame may hold.
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Payload length.
        len: usize,
        /// The limit ([`super::frame::MAX_PAYLOAD`]).
        max: u32,
    },
    /// A record time before 1970 (or past the year 2554) cannot be stored.
    #[error("record time out of range (before 1970 or after 2554)")]
    TimeOutOfRange,
    /// No record with this id is in the store.
    #[error("{dir}: no record {id}")]
    NotFound {
        /// The store directory.
        dir: PathBuf,
        /// The id asked for.
        id: u64,
    },
}

/// Wraps an `io::Error` with the path and the operation.
pub(crate) fn io<'a>(
    path: &'a std::path::Path,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}
