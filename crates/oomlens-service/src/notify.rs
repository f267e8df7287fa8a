//! The service manager's notification protocol, `sd_notify(3)`: newline-separated
//! `KEY=VALUE` assignments sent as one datagram to the `AF_UNIX` socket named by
//! `$NOTIFY_SOCKET` (a path, or a Linux abstract name written with a leading `@`).
//!
//! Hand-written over `std::os::unix::net::UnixDatagram` rather than taken from the
//! `sd-notify` crate (pure Rust, well kept): that crate reads the environment again on every
//! call and opens a new socket each time, and its watchdog check works only on the process
//! environment. The guard wants one socket held for its lifetime (a watchdog ping is one
//! `send`, nothing else) and tests want a notifier built from explicit values, without
//! mutating the environment of a multi-threaded test binary. The protocol itself is one
//! `sendto` of a few bytes, and `std` has abstract socket addresses since Rust 1.70.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Why a notifier could not be made or a notification not sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `$NOTIFY_SOCKET` is empty or not a usable `AF_UNIX` address.
    #[error("NOTIFY_SOCKET {socket:?} is not a Unix socket address: {source}")]
    BadAddress {
        /// The value as given.
        socket: String,
        /// Why the address was refused.
        source: std::io::Error,
    },
    /// Creating the datagram socket failed.
    #[error("cannot create a datagram socket for NOTIFY_SOCKET {socket:?}: {source}")]
    Socket {
        /// The value as given.
        socket: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Sending a notification failed (the manager went away, the socket is full).
    #[error("cannot send {message:?} to NOTIFY_SOCKET {socket:?}: {source}")]
    Send {
        /// The value of `$NOTIFY_SOCKET`.
        socket: String,
        /// The notification's first assignment.
        message: String,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    name: String,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier systemd asked for through the environment: `None` when
    /// `$NOTIFY_SOCKET` is unset (not started as `Type=notify`) or unusable.
    ///
    /// The watchdog interval comes from `$WATCHDOG_USEC`, honoured only when
    /// `$WATCHDOG_PID` is unset or names this process (as `sd_watchdog_enabled(3)` does: a
    /// child that inherited the variables must not ping for its parent).
    pub fn from_env() -> Option<Notifier> {
        let socket = std::env::var_os("NOTIFY_SOCKET")?;
        let usec = std::env::var_os("WATCHDOG_USEC");
        let pid = std::env::var_os("WATCHDOG_PID");
        Notifier::new(&socket, usec.as_deref(), pid.as_deref(), std::process::id()).ok()
    }

    /// A notifier for the socket `socket` (`$NOTIFY_SOCKET`'s form: a path, or `@name` for
    /// an abstract socket), with the watchdog settings `watchdog_usec` and `watchdog_pid`
    /// as found in the environment of the process `own_pid`.
    pub fn new(
        socket: &OsStr,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        own_pid: u32,
    ) -> Result<Notifier, NotifyError> {
        let name = socket.to_string_lossy().into_owned();
        let bytes = socket.as_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name),
            None if bytes.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty address",
            )),
            None => SocketAddr::from_pathname(socket),
        }
        .map_err(|source| NotifyError::BadAddress {
            socket: name.clone(),
            source,
        })?;
        let sock = UnixDatagram::unbound().map_err(|source| NotifyError::Socket {
            socket: name.clone(),
            source,
        })?;
        Ok(Notifier {
            sock,
            addr,
            name,
            watchdog: watchdog_interval(watchdog_usec, watchdog_pid, own_pid),
        })
    }

    /// `READY=1`: start-up is finished (a `Type=notify` unit becomes active).
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1")
    }

    /// `STATUS=…`: a one-line status shown by `systemctl status`. Line breaks in `text`
    /// become spaces: a newline would start a new assignment (`READY=1`, `MAINPID=…`) the
    /// caller did not mean to send.
    pub fn status(&self, text: &str) -> Result<(), NotifyError> {
        let line: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        self.send(&format!("STATUS={line}"))
    }

    /// `WATCHDOG=1`: the keep-alive ping, due every [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.send("WATCHDOG=1")
    }

    /// `STOPPING=1`: the service is shutting down.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send("STOPPING=1")
    }

    /// How often to send [`Notifier::watchdog`]: half of `$WATCHDOG_USEC`, as
    /// `sd_watchdog_enabled(3)` recommends, so that one late ping does not fire it; `None`
    /// when the unit has no `WatchdogSec=` or the watchdog is meant for another process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, message: &str) -> Result<(), NotifyError> {
        self.sock
            .send_to_addr(message.as_bytes(), &self.addr)
            .map(|_| ())
            .map_err(|source| NotifyError::Send {
                socket: self.name.clone(),
                message: message.lines().next().unwrap_or("").to_owned(),
                source,
            })
    }
}

/// Half of `usec` when it is a positive number and `pid` is unset or `own_pid`.
fn watchdog_interval(usec: Option<&OsStr>, pid: Option<&OsStr>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        let pid: u32 = pid.to_str()?.trim().parse().ok()?;
        if pid != own_pid {
            return None;
        }
    }
    let usec: u64 = usec?.to_str()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::path::PathBuf;

    /// A bound datagram socket in a fresh temp directory, removed on drop.
    struct Listener {
        dir: PathBuf,
        sock: UnixDatagram,
    }

    impl Listener {
        fn new(tag: &str) -> Listener {
            let dir =
                std::env::temp_dir().join(format!("oomlens-notify-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let sock = UnixDatagram::bind(dir.join("notify")).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Listener { dir, sock }
        }

        fn path(&self) -> OsString {
            self.dir.join("notify").into_os_string()
        }

        fn recv(&self) -> String {
            let mut buf = [0u8; 4096];
            let n = self.sock.recv(&mut buf).unwrap();
            String::from_utf8(buf[..n].to_vec()).unwrap()
        }
    }

    impl Drop for Listener {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn each_notification_is_one_exact_datagram() {
        let l = Listener::new("exact");
        let n = Notifier::new(&l.path(), None, None, 1).unwrap();
        n.ready().unwrap();
        n.status("watching 12 cgroups").unwrap();
        n.watchdog().unwrap();
        n.stopping().unwrap();
        assert_eq!(l.recv(), "READY=1");
        assert_eq!(l.recv(), "STATUS=watching 12 cgroups");
        assert_eq!(l.recv(), "WATCHDOG=1");
        assert_eq!(l.recv(), "STOPPING=1");
    }

    #[test]
    fn a_status_cannot_smuggle_another_assignment() {
        let l = Listener::new("smuggle");
        let n = Notifier::new(&l.path(), None, None, 1).unwrap();
        n.status("cgroup /evil\nREADY=1\r\nMAINPID=1").unwrap();
        let got = l.recv();
        assert_eq!(got, "STATUS=cgroup /evil READY=1  MAINPID=1");
        assert_eq!(got.lines().count(), 1);
    }

    #[test]
    fn abstract_sockets_are_reached_through_a_leading_at() {
        let name = format!("oomlens-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = Notifier::new(OsStr::new(&format!("@{name}")), None, None, 1).unwrap();
        n.ready().unwrap();
        let mut buf = [0u8; 64];
        let got = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..got], b"READY=1");
    }

    #[test]
    fn the_watchdog_interval_is_half_of_watchdog_usec_for_this_pid_only() {
        let usec = Some(OsStr::new("30000000"));
        let half = Some(Duration::from_secs(15));
        assert_eq!(watchdog_interval(usec, None, 42), half);
        assert_eq!(watchdog_interval(usec, Some(OsStr::new("42")), 42), half);
        assert_eq!(watchdog_interval(usec, Some(OsStr::new("41")), 42), None);
        assert_eq!(watchdog_interval(usec, Some(OsStr::new("x")), 42), None);
        assert_eq!(watchdog_interval(None, None, 42), None);
        assert_eq!(watchdog_interval(Some(OsStr::new("0")), None, 42), None);
        assert_eq!(watchdog_interval(Some(OsStr::new("-5")), None, 42), None);
        let l = Listener::new("wd");
        let n = Notifier::new(&l.path(), usec, Some(OsStr::new("7")), 7).unwrap();
        assert_eq!(n.watchdog_interval(), half);
    }

    #[test]
    fn bad_addresses_and_a_missing_listener_are_typed_errors() {
        assert!(matches!(
            Notifier::new(OsStr::new(""), None, None, 1),
            Err(NotifyError::BadAddress { .. })
        ));
        let long = "/".to_owned() + &"x".repeat(200);
        assert!(matches!(
            Notifier::new(OsStr::new(&long), None, None, 1),
            Err(NotifyError::BadAddress { .. })
        ));
        let dir = std::env::temp_dir().join(format!("oomlens-notify-gone-{}", std::process::id()));
        let n = Notifier::new(dir.join("nobody").as_os_str(), None, None, 1).unwrap();
        let err = n.ready().unwrap_err();
        assert!(matches!(err, NotifyError::Send { ref message, .. } if message == "READY=1"));
    }
}
