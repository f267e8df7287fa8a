//! Waiting for a descriptor to become readable: the one `poll(2)` call every follower of a
//! device or pipe uses.

use std::io;
use std::os::unix::io::RawFd;
use std::time::Duration;

/// Waits up to `wait` for `fd` to be readable. True when it is (or has hung up: a read then
/// says why); false on timeout or when a signal interrupted the wait, so that the caller's
/// loop checks its stop flag and waits again.
pub fn readable(fd: RawFd, wait: Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd that outlives the call.
    let r = unsafe { libc::poll(&mut fds, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(r > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn readable_only_when_bytes_wait() {
        let (mut a, b) = UnixStream::pair().unwrap();
        assert!(!readable(b.as_raw_fd(), Duration::from_millis(10)).unwrap());
        a.write_all(b"x").unwrap();
        assert!(readable(b.as_raw_fd(), Duration::from_millis(1000)).unwrap());
    }
}
