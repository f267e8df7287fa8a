//! A minimal writer of the `newc` cpio format, the one the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst). Uncompressed: the kernel
//! takes it as is, and QEMU loads it in a few milliseconds.

use std::io::{self, Write};

/// Entries of one archive, in the order they are added. Parent directories must be added
/// before their children.
#[derive(Default)]
pub struct Archive {
    out: Vec<u8>,
    ino: u32,
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Archive {
        Archive::default()
    }

    /// A directory (mode 0755).
    pub fn dir(&mut self, path: &str) {
        self.entry(path, 0o040755, b"");
    }

    /// A regular file with the given permission bits.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        self.entry(path, 0o100000 | (perm & 0o7777), data);
    }

    /// Every directory on the way to `path` (not `path` itself), each once.
    pub fn parents(&mut self, path: &str, seen: &mut std::collections::BTreeSet<String>) {
        let mut cur = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(part);
            if seen.insert(cur.clone()) {
                self.dir(&cur);
            }
        }
    }

    fn entry(&mut self, path: &str, mode: u32, data: &[u8]) {
        let name = path.trim_start_matches('/');
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,                     // uid
            0,                     // gid
            1,                     // nlink
            0,                     // mtime
            data.len() as u32,     // filesize
            0,                     // devmajor
            0,                     // devminor
            0,                     // rdevmajor
            0,                     // rdevminor
            name.len() as u32 + 1, // namesize, with the NUL
            0,                     // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }

    /// Closes the archive with the trailer and writes it out.
    pub fn finish(mut self, w: &mut impl Write) -> io::Result<()> {
        self.entry("TRAILER!!!", 0, b"");
        w.write_all(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_trailed() {
        let mut a = Archive::new();
        a.dir("bin");
        a.file("bin/x", 0o755, b"abc");
        let mut out = Vec::new();
        a.finish(&mut out).unwrap();
        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("bin/x\0"));
        assert!(text.contains("TRAILER!!!\0"));
        // Second header: ino 2, regular file 0755, size 3.
        let second = text.find("07070100000002").expect("second entry");
        assert_eq!(&text[second + 14..second + 22], "000081ed");
    }
}
