//! The /proc files a pass reads every tick (`meminfo`, `pressure/memory`), held open and
//! re-read with one `pread` at offset 0 into a kept buffer: no open, fstat, close and
//! growing reads per tick (std's read-to-end of a procfs file, which reports size 0,
//! starts from 32 bytes: eight reads for meminfo). Both are seq_files, which restart
//! from the top on a read at offset 0.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::files::io_err;
use crate::SourceError;

/// One text file held open.
#[derive(Debug)]
pub(super) struct HeldText {
    path: PathBuf,
    /// `None`: absent when the sampler was made (a kernel without PSI).
    file: Option<File>,
    buf: Vec<u8>,
}

impl HeldText {
    /// Opens `path`; absent is not an error (every read then answers `None`).
    pub(super) fn open(path: &Path) -> HeldText {
        HeldText {
            path: path.to_path_buf(),
            file: File::open(path).ok(),
            buf: Vec::new(),
        }
    }

    /// The whole file now, as bytes (no UTF-8 check); `None` when it was absent at the
    /// start.
    pub(super) fn read_bytes(&mut self) -> Result<Option<&[u8]>, SourceError> {
        let Some(f) = &self.file else {
            return Ok(None);
        };
        if self.buf.is_empty() {
            self.buf.resize(4096, 0);
        }
        let n = loop {
            let n = f
                .read_at(&mut self.buf, 0)
                .map_err(|e| io_err(&self.path, e))?;
            if n < self.buf.len() {
                break n;
            }
            // It filled the buffer: it may be longer, read it again with room to spare.
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        };
        Ok(Some(&self.buf[..n]))
    }

    /// The file's path (for errors).
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each read is the whole file as it is now, however long (the buffer grows past
    /// its first 4 KiB), and an absent file reads as `None`.
    #[test]
    fn each_read_is_the_whole_file_now() {
        let t = oomlens_testkit::faketree::FakeTree::new("sampler-held");
        t.file("f", "short\n");
        let mut h = HeldText::open(&t.root().join("f"));
        assert_eq!(h.read_bytes().unwrap(), Some(&b"short\n"[..]));
        let long: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        assert!(long.len() > 3 * 4096);
        std::fs::write(t.root().join("f"), &long).unwrap(); // in place, as procfs changes
        assert_eq!(h.read_bytes().unwrap(), Some(long.as_bytes()));
        std::fs::write(t.root().join("f"), "x\n").unwrap();
        assert_eq!(h.read_bytes().unwrap(), Some(&b"x\n"[..]));
        assert_eq!(
            HeldText::open(&t.root().join("none")).read_bytes().unwrap(),
            None
        );
    }
}
