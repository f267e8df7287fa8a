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

/// Reads a whole file; `Ok(None)` when it (or its directory) vanished.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SourceError> {
    match std::fs::read(path) {
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
    let mut f = unsafe { File::from_raw_fd(fd) };
    let mut buf = Vec::with_capacity(2048);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}
