//! Low-level reads shared by the procfs and cgroupfs readers: whole files, directory
//! handles and reads relative to them, and the one rule of what "vanished" means. Both
//! readers use these; neither imports the other.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::SourceError;

/// True for the errors that mean a process (or cgroup) went away while it was being read:
/// `ENOENT` (its directory is gone) and `ESRCH` (a file opened before it exited). The one
/// place this decision is made; callers turn it into `None`.
pub fn is_vanished(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
}

/// An I/O error naming the file.
pub(crate) fn io_err(path: &Path, source: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A content error naming the file.
pub(crate) fn format_err(path: &Path, problem: impl Into<String>) -> SourceError {
    SourceError::Format {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// The first read's size in [`read_optional`]: a page holds every `/proc/PID/status`,
/// `cgroup` and most `memory.stat` files in one read.
const FIRST_READ: usize = 4096;

/// The whole of an open procfs or cgroupfs file, read from its offset.
///
/// Not `read_to_end`: on a `File` it asks `statx` and `lseek` for the size first (two
/// syscalls a file), and these files report size 0, so `std::fs::read` then probes with a
/// 32-byte read and doubles from there - a `statx`, an `lseek` and six reads for one
/// `status` (strace of the guard: 2,259 reads for 391 opens in a minute). One page first,
/// doubled while full: two reads (the second sees the end) for the files the sampler reads.
fn read_whole(mut f: &File) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; FIRST_READ];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// Reads a whole file ([`read_whole`]); `Ok(None)` when it (or its directory) vanished.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SourceError> {
    match File::open(path).and_then(|f| read_whole(&f)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if is_vanished(&e) => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Opens a directory as a handle for [`read_at`]; `Ok(None)` when it does not exist.
pub(crate) fn open_dir(path: &Path) -> Result<Option<File>, SourceError> {
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if is_vanished(&e) => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Reads `name` relative to the directory handle `dir` (`openat`), so the directory cannot be
/// swapped for another one (a reused pid) between reads. The `io::Error` is returned raw; the
/// caller names the file.
pub(crate) fn read_at(dir: &File, name: &str) -> io::Result<Vec<u8>> {
    let c = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `dir` is an open directory fd and `c` a NUL-terminated name, both alive across
    // the call; the returned fd is owned by the File below and closed on drop.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let f = unsafe { File::from_raw_fd(fd) };
    read_whole(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_whole_reads_past_its_first_page_and_empty_files() {
        let dir = std::env::temp_dir().join(format!("oomlens-read-whole-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [
            0,
            1,
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            3 * FIRST_READ + 7,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(
                read_optional(&path).unwrap(),
                Some(bytes.clone()),
                "{len} bytes"
            );
            let d = open_dir(&dir).unwrap().unwrap();
            assert_eq!(
                read_at(&d, &format!("f{len}")).unwrap(),
                bytes,
                "{len} bytes, at"
            );
        }
        assert_eq!(read_optional(&dir.join("none")).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A procfs file (size 0 in its stat) comes whole, as `std::fs::read` reads it.
    #[test]
    fn read_whole_reads_a_sizeless_proc_file() {
        let path = Path::new("/proc/self/mountinfo");
        let ours = read_optional(path).unwrap().unwrap();
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        assert!(!ours.is_empty() && ours.ends_with(b"\n"));
        assert_eq!(ours, std::fs::read(path).unwrap());
    }
}
