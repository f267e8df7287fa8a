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

/// What the reader needs of the device: one record per read, and a wait for the next.
pub trait RecordDevice {
    /// read(2): one record, or an error (`WouldBlock` at the end, EPIPE after an overrun).
    fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Wait up to `d` for a record; true when one may be read.
    fn wait(&mut self, d: Duration) -> io::Result<bool>;
}

impl RecordDevice for File {
    fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    fn wait(&mut self, d: Duration) -> io::Result<bool> {
        crate::poll::readable(self.as_raw_fd(), d)
    }
}

/// A reader of /dev/kmsg records.
#[derive(Debug)]
pub struct KmsgReader<D = File> {
    file: D,
    path: PathBuf,
    next_seq: Option<u64>,
    /// Records overwritten before they could be read.
    pub lost: u64,
    /// Times EPIPE was seen.
    pub overruns: u64,
}

impl KmsgReader<File> {
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
}

impl<D: RecordDevice> KmsgReader<D> {
    /// A reader over any record device (tests use a scripted one); `path` names it in errors.
    pub fn with_device(device: D, path: &Path) -> KmsgReader<D> {
        KmsgReader {
            file: device,
            path: path.to_path_buf(),
            next_seq: None,
            lost: 0,
            overruns: 0,
        }
    }

    /// Read one record into `buf` (at least [`RECORD_MAX`] bytes). With `wait`, block up to
    /// that long for a new record.
    pub fn read(&mut self, buf: &mut [u8], wait: Option<Duration>) -> Result<Read1, SourceError> {
        loop {
            match self.file.read_record(buf) {
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
                    Some(d) => match self.file.wait(d) {
                        Ok(true) => continue,
                        Ok(false) => return Ok(Read1::Idle),
                        Err(source) => {
                            return Err(SourceError::Io {
                                path: self.path.clone(),
                                source,
                            })
                        }
                    },
                    None => return Ok(Read1::Idle),
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

    /// A device that plays back a script of reads.
    struct Script(std::collections::VecDeque<io::Result<&'static str>>);

    impl RecordDevice for Script {
        fn read_record(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.pop_front() {
                Some(Ok(r)) => {
                    buf[..r.len()].copy_from_slice(r.as_bytes());
                    Ok(r.len())
                }
                Some(Err(e)) => Err(e),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
        fn wait(&mut self, _: Duration) -> io::Result<bool> {
            Ok(false)
        }
    }

    #[test]
    fn an_overrun_is_resynced_and_its_loss_counted() {
        let script = Script(
            vec![
                Ok("6,10,5,-;a\n"),
                Err(io::Error::from_raw_os_error(libc::EPIPE)),
                Ok("6,14,9,-;e\n"),
                Ok("6,15,9,-;f\n"),
            ]
            .into(),
        );
        let mut r = KmsgReader::with_device(script, Path::new("/dev/kmsg"));
        let mut buf = vec![0; RECORD_MAX];
        let mut got = Vec::new();
        while let Read1::Record(n) = r.read(&mut buf, Some(Duration::from_millis(1))).unwrap() {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(got, ["6,10,5,-;a\n", "6,14,9,-;e\n", "6,15,9,-;f\n"]);
        assert_eq!((r.overruns, r.lost), (1, 3));
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
