//! The journal's native protocol (systemd's "Native Journal Protocol" document): one
//! datagram per entry to `/run/systemd/journal/socket`, each field `NAME=value\n`, or, for a
//! value holding a newline (or any byte the text form cannot carry), `NAME\n`, the value's
//! length as a little-endian u64, the value, `\n`. An entry too big for one datagram
//! (`EMSGSIZE`/`ENOBUFS`) goes into a sealed memfd whose descriptor is sent instead, as
//! libsystemd's `sd_journal_sendv` does.
//!
//! Hand-written: `systemd-journal-logger` (well kept, already using this very protocol)
//! exposes only a `log::Log` implementation, so fields would have to pass through the `log`
//! crate's key-value API and a process-global logger; the `libsystemd` crate has a
//! `journal_send` but pulls in nix, hmac, sha2 and serde for features the guard does not
//! use; the `systemd` crate links the C libsystemd, which the static guest binary cannot.
//! The encoding is twenty lines, the memfd fallback another twenty over rustix, which the
//! workspace already depends on.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
use rustix::io::Errno;
use rustix::net::{
    sendmsg_addr, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
};

/// Where journald listens for native-protocol datagrams.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Why an entry could not be encoded or sent.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A field name journald would drop: it must be 1–64 characters of `A-Z`, `0-9` and
    /// `_`, not start with a digit, and not start with `_` (those are journald's own,
    /// trusted fields).
    #[error("{name:?} is not a journal field name (A-Z, 0-9, _; not starting with a digit or _; at most 64)")]
    BadFieldName {
        /// The name as given.
        name: String,
    },
    /// Creating the socket failed.
    #[error("cannot create a datagram socket for {path}: {source}")]
    Socket {
        /// The journal socket.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Sending the entry failed.
    #[error("cannot send a journal entry of {bytes} bytes to {path}: {source}")]
    Send {
        /// The journal socket.
        path: PathBuf,
        /// The encoded entry's size.
        bytes: usize,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// A sender of structured entries to journald.
#[derive(Debug)]
pub struct Journal {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Journal {
    /// The system journal, or `None` when its socket does not exist (no journald here) or
    /// no socket can be made.
    pub fn connect() -> Option<Journal> {
        let path = Path::new(JOURNAL_SOCKET);
        if !path.exists() {
            return None;
        }
        Journal::with_socket(path).ok()
    }

    /// A sender to the native-protocol socket at `path`. Nothing is sent yet; each entry
    /// is addressed to the path, so a journald restarted behind the same socket is found
    /// again.
    pub fn with_socket(path: &Path) -> Result<Journal, JournalError> {
        let sock = UnixDatagram::unbound().map_err(|source| JournalError::Socket {
            path: path.to_owned(),
            source,
        })?;
        Ok(Journal {
            sock,
            path: path.to_owned(),
        })
    }

    /// Send one entry. `fields` are `(NAME, value)` pairs in order; a name may repeat.
    /// Values are bytes: any byte is allowed, newlines included.
    pub fn send(&self, fields: &[(&str, &[u8])]) -> Result<(), JournalError> {
        let entry = encode(fields)?;
        let err = |source: std::io::Error| JournalError::Send {
            path: self.path.clone(),
            bytes: entry.len(),
            source,
        };
        match self.sock.send_to(&entry, &self.path) {
            Ok(_) => Ok(()),
            // As sd_journal_sendv: an entry over the socket's datagram limit goes through
            // a sealed memfd (journald reads sealed fds of up to its entry size limit).
            Err(e) if too_big(&e) => self.send_memfd(&entry).map_err(err),
            Err(e) => Err(err(e)),
        }
    }

    /// Send `entry` as a sealed memfd passed with `SCM_RIGHTS` and no data.
    fn send_memfd(&self, entry: &[u8]) -> std::io::Result<()> {
        let fd = memfd_create(
            "oomlens-journal-entry",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut file = File::from(fd);
        file.write_all(entry)?;
        fcntl_add_seals(
            &file,
            SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
        )?;
        let addr = SocketAddrUnix::new(self.path.as_path())?;
        let fds = [file.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let no_data: [IoSlice<'_>; 0] = [];
        sendmsg_addr(
            &self.sock,
            &addr,
            &no_data,
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        Ok(())
    }
}

/// `EMSGSIZE` or `ENOBUFS`: the entry does not fit one datagram.
fn too_big(e: &std::io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(Errno::MSGSIZE.raw_os_error()) || code == Some(Errno::NOBUFS.raw_os_error())
}

/// True when journald accepts `name` from a client (systemd's `journal_field_valid` with
/// protected fields refused).
pub fn valid_field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0] != b'_'
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// One entry in the native protocol's bytes.
pub fn encode(fields: &[(&str, &[u8])]) -> Result<Vec<u8>, JournalError> {
    let mut out = Vec::with_capacity(fields.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in fields {
        if !valid_field_name(name) {
            return Err(JournalError::BadFieldName {
                name: (*name).to_owned(),
            });
        }
        out.extend_from_slice(name.as_bytes());
        if value.contains(&b'\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};
    use std::time::Duration;

    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

    /// The protocol read back the way journald's `server_process_native_message` reads it:
    /// `NAME=value\n`, or `NAME\n` + u64 LE length + value + `\n`.
    fn decode(mut b: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let end = b.iter().position(|c| *c == b'=' || *c == b'\n').unwrap();
            let name = String::from_utf8(b[..end].to_vec()).unwrap();
            if b[end] == b'=' {
                let nl = b[end..].iter().position(|c| *c == b'\n').unwrap() + end;
                out.push((name, b[end + 1..nl].to_vec()));
                b = &b[nl + 1..];
            } else {
                let len = u64::from_le_bytes(b[end + 1..end + 9].try_into().unwrap()) as usize;
                let start = end + 9;
                out.push((name, b[start..start + len].to_vec()));
                assert_eq!(
                    b[start + len],
                    b'\n',
                    "binary field not closed by a newline"
                );
                b = &b[start + len + 1..];
            }
        }
        out
    }

    struct Server {
        dir: PathBuf,
        sock: UnixDatagram,
    }

    impl Server {
        fn new(tag: &str) -> Server {
            let dir =
                std::env::temp_dir().join(format!("oomlens-journal-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let sock = UnixDatagram::bind(dir.join("socket")).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Server { dir, sock }
        }

        fn path(&self) -> PathBuf {
            self.dir.join("socket")
        }

        /// One entry, from the datagram or from the memfd passed with it; says which.
        fn recv(&self) -> (Vec<u8>, bool) {
            let mut buf = vec![0u8; 1 << 16];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let got = recvmsg(
                &self.sock,
                &mut [std::io::IoSliceMut::new(&mut buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .unwrap();
            for msg in control.drain() {
                if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
                    let fd = fds.next().unwrap();
                    assert_eq!(got.bytes, 0, "a memfd entry carries no data");
                    let seals = rustix::fs::fcntl_get_seals(&fd).unwrap();
                    assert!(seals.contains(SealFlags::WRITE | SealFlags::SEAL));
                    // journald maps the file from offset 0 (the shared offset is at the end
                    // after our write): read it the same way.
                    let mut file = File::from(fd);
                    file.seek(std::io::SeekFrom::Start(0)).unwrap();
                    let mut entry = Vec::new();
                    file.read_to_end(&mut entry).unwrap();
                    return (entry, true);
                }
            }
            buf.truncate(got.bytes);
            (buf, false)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn fields_parse_back_one_by_one_newlines_and_binary_included() {
        let s = Server::new("fields");
        let j = Journal::with_socket(&s.path()).unwrap();
        let cgroup = b"/system.slice/a\nb.service";
        let binary = [0u8, 255, b'=', b'\n', 7];
        j.send(&[
            ("MESSAGE", b"Killed process 42 (hog)"),
            ("PRIORITY", b"3"),
            ("OOMLENS_CGROUP", cgroup),
            ("OOMLENS_RAW", &binary),
            ("EMPTY", b""),
            ("OOMLENS_PID", b"42"),
        ])
        .unwrap();
        let (entry, via_memfd) = s.recv();
        assert!(!via_memfd);
        let mut manual = b"MESSAGE=Killed process 42 (hog)\nPRIORITY=3\nOOMLENS_CGROUP\n".to_vec();
        manual.extend_from_slice(&(cgroup.len() as u64).to_le_bytes());
        manual.extend_from_slice(cgroup);
        manual.push(b'\n');
        assert_eq!(
            &entry[..manual.len()],
            &manual[..],
            "the documented byte layout"
        );
        let got = decode(&entry);
        let want: Vec<(String, Vec<u8>)> = vec![
            ("MESSAGE".into(), b"Killed process 42 (hog)".to_vec()),
            ("PRIORITY".into(), b"3".to_vec()),
            ("OOMLENS_CGROUP".into(), cgroup.to_vec()),
            ("OOMLENS_RAW".into(), binary.to_vec()),
            ("EMPTY".into(), Vec::new()),
            ("OOMLENS_PID".into(), b"42".to_vec()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn an_entry_over_the_datagram_limit_goes_through_a_sealed_memfd() {
        let s = Server::new("memfd");
        let j = Journal::with_socket(&s.path()).unwrap();
        // Larger than any default AF_UNIX datagram (net.core.wmem_max is ~208 KiB).
        let big: Vec<u8> = (0..4 << 20).map(|i| b'a' + (i % 26) as u8).collect();
        j.send(&[("MESSAGE", b"big"), ("OOMLENS_WINDOW", &big)])
            .unwrap();
        let (entry, via_memfd) = s.recv();
        assert!(via_memfd, "a 4 MiB entry cannot be one datagram");
        let got = decode(&entry);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("MESSAGE".into(), b"big".to_vec()));
        assert_eq!(got[1].0, "OOMLENS_WINDOW");
        assert!(got[1].1 == big);
    }

    #[test]
    fn field_names_follow_journald_rules() {
        for good in [
            "MESSAGE",
            "MESSAGE_ID",
            "OOMLENS_PID",
            "A",
            "X9_",
            &"A".repeat(64),
        ] {
            assert!(valid_field_name(good), "{good}");
        }
        for bad in [
            "",
            "_PID",
            "9LIVES",
            "message",
            "OOMLENS-PID",
            "Ä",
            &"A".repeat(65),
        ] {
            assert!(!valid_field_name(bad), "{bad}");
        }
        let err = encode(&[("MESSAGE", b"x"), ("_SYSTEMD_UNIT", b"forged")]).unwrap_err();
        assert!(matches!(err, JournalError::BadFieldName { ref name } if name == "_SYSTEMD_UNIT"));
    }

    #[test]
    fn sending_to_no_journal_is_a_typed_error() {
        let dir = std::env::temp_dir().join(format!("oomlens-journal-none-{}", std::process::id()));
        let j = Journal::with_socket(&dir.join("socket")).unwrap();
        let err = j.send(&[("MESSAGE", b"x")]).unwrap_err();
        assert!(matches!(err, JournalError::Send { bytes: 10, .. }), "{err}");
    }
}
