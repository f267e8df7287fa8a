//! Temporary directories and private tmpfs mounts for tests, removed on drop.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, removed (with its contents) on drop unless
/// [`TempDir::keep`] was called.
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates `<tmp>/oomlens-<tag>-<pid>-<n>` (`n` counts the directories of this process,
    /// so two tests of one binary never share one).
    pub fn new(tag: &str) -> io::Result<TempDir> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("oomlens-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path, keep: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `rel` (a name or a relative path: missing directories are made)
    /// and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> io::Result<PathBuf> {
        let p = self.path.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&p, bytes)?;
        Ok(p)
    }

    /// A copy of the tree `from` (see [`copy_tree`]) in a fresh directory named after `tag`.
    pub fn copy_of(tag: &str, from: &Path) -> io::Result<TempDir> {
        let d = TempDir::new(tag)?;
        copy_tree(from, &d.path)
            .map_err(|e| io::Error::new(e.kind(), format!("copying {}: {e}", from.display())))?;
        Ok(d)
    }

    /// Makes the directory `rel` (and its parents) and returns its path.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        let p = self.path.join(rel);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Leaves the directory in place after drop (to look at a failing test's inputs).
    pub fn keep(&mut self) -> &Path {
        self.keep = true;
        &self.path
    }
}

// A TempDir stands for its path wherever a test passes one (`.arg(&dir)`, `dir.join(..)`).
impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Copies the tree `from` into `to` (made if missing): files, directories and symlinks (as
/// links, not followed; a fixture tree's `/etc/systemd` links must stay links).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        let ft = e.file_type()?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &t)?;
        } else if ft.is_dir() {
            copy_tree(&e.path(), &t)?;
        } else {
            std::fs::copy(e.path(), &t)?;
        }
    }
    Ok(())
}

/// A private tmpfs mounted on a fresh temp dir (`mount -t tmpfs`, needs root), lazily
/// unmounted on drop, which frees its pages (and their memcg charge).
pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of at most `size_mib` MiB.
    pub fn mount(size_mib: u64) -> io::Result<Tmpfs> {
        let dir = TempDir::new("tmpfs")?;
        let c =
            |s: &str| CString::new(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
        let target = c(&dir.path.to_string_lossy())?;
        let (src, opts) = (c("tmpfs")?, c(&format!("size={size_mib}m"))?);
        // SAFETY: all pointers are NUL-terminated strings that live across the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("mount -t tmpfs {}: {e}", dir.path.display()),
            ));
        }
        Ok(Tmpfs { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.dir.path.to_string_lossy().as_bytes()) {
            // SAFETY: a valid path; MNT_DETACH does not block on busy mounts.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
