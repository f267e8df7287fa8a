//! /dev/kmsg: the kernel log as records (Documentation/ABI/testing/dev-kmsg).
//!
//! Each read(2) returns one record, `prio,seq,usec,flags;message\n` followed by
//! ` KEY=value\n` dictionary lines. A buffer shorter than the record fails with EINVAL, so
//! reads use [`RECORD_MAX`] bytes. EPIPE means the ring buffer overwrote records since the
//! last read; the reader then continues at the oldest record and counts the loss from the
//! sequence numbers.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SourceError;

/// The default path of the live kernel log.
pub const DEFAULT_PATH: &str = "/dev/kmsg";

/// Large enough for any record (the kernel's limit is 8 KiB: CONSOLE_EXT_LOG_MAX).
pub const RECORD_MAX: usize = 16 * 1024;

/// What one read returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Read1 {
    /// A record (its bytes are in the buffer given to [`KmsgReader::read`]).
    Record(usize),
    /// No record now (non-blocking reader at the end, or a poll timeout).
    Idle,
}

/// A reader of /dev/kmsg records.
#[derive(Debug)]
pub struct KmsgReader {
    file: File,
    path: PathBuf,
    next_seq: Option<u64>,
    /// Records overwritten before they could be read.
    pub lost: u64,
    /// Times EPIPE was seen.
    pub overruns: u64,
}

impl KmsgReader {
    /// Open `path` (normally [`DEFAULT_PATH`]) for reading from the oldest record.
    pub fn open(path: &Path) -> Result<KmsgReader, SourceError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(KmsgReader {
            file,
            path: path.to_path_buf(),
            next_seq: None,
            lost: 0,
            overruns: 0,
        })
    }

    /// Skip every record logged so far (`--follow` shows only new ones).
    pub fn seek_end(&mut self) -> Result<(), SourceError> {
        self.file
            .seek(SeekFrom::End(0))
            .map(|_| ())
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Read one record into `buf` (at least [`RECORD_MAX`] bytes). With `wait`, block up to
    /// that long for a new record.
    pub fn read(&mut self, buf: &mut [u8], wait: Option<Duration>) -> Result<Read1, SourceError> {
        loop {
            match self.file.read(buf) {
                Ok(0) => return Ok(Read1::Idle),
                Ok(n) => {
                    self.account(&buf[..n]);
                    return Ok(Read1::Record(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    // Overwritten: the next read returns the oldest record still kept.
                    self.overruns += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match wait {
                    Some(d) if self.poll(d)? => continue,
                    _ => return Ok(Read1::Idle),
                },
                Err(source) => {
                    return Err(SourceError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
    }

    fn poll(&self, d: Duration) -> Result<bool, SourceError> {
        let mut fds = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = d.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut fds, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(SourceError::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        Ok(r > 0)
    }

    /// Count records skipped by the ring buffer from the sequence numbers.
    fn account(&mut self, rec: &[u8]) {
        let seq = rec
            .split(|&b| b == b',')
            .nth(1)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(seq) = seq {
            if let Some(expected) = self.next_seq {
                if seq > expected {
                    self.lost += seq - expected;
                }
            }
            self.next_seq = Some(seq + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_an_error_naming_it() {
        let err = KmsgReader::open(Path::new("/nonexistent/kmsg")).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/kmsg: "), "{err}");
    }

    #[test]
    fn sequence_gaps_count_as_lost() {
        let path = std::env::temp_dir().join(format!("oomlens-kmsg-{}", std::process::id()));
        std::fs::write(&path, "").unwrap();
        let mut r = KmsgReader::open(&path).unwrap();
        r.account(b"6,10,5,-;a\n");
        r.account(b"6,11,6,-;b\n");
        r.account(b"6,15,7,-;c\n");
        assert_eq!(r.lost, 3);
        std::fs::remove_file(&path).unwrap();
    }
}
