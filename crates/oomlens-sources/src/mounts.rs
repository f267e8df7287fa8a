//! Filesystems that hold memory or fill up, and files that are deleted but still open.
//!
//! Memory a tmpfs holds is charged to the cgroup of whoever wrote it (as `shmem`) and stays
//! there after the writer exits, until the file is removed *and* closed; a full disk looks
//! like an unrelated failure. `oomlens top` therefore samples every tmpfs and disk mount
//! ([`mounts`]: `/proc/self/mountinfo` for the list, `statvfs(3)` for the sizes) and lists
//! the files that were unlinked while a process still holds them open ([`deleted_files`]:
//! `/proc/PID/fd/N` links whose target ends in ` (deleted)`, sized with `stat` through the
//! link, which reaches the open file itself).
//!
//! Everything is read below a root, like the rest of this crate. A mount point or process
//! that vanished, or that this user may not look at (`EACCES` on another user's fd
//! directory), is skipped, never an error.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cgroupfs::parse_mountinfo;
use crate::files::is_vanished;
use crate::procfs::ProcFs;
use crate::SourceError;

/// The filesystem types sampled: memory-backed ones and common disk filesystems. Pseudo
/// filesystems (proc, sysfs, cgroup, …) hold nothing that fills.
pub const TRACKED_FSTYPES: &[&str] = &[
    "tmpfs", "ramfs", "ext2", "ext3", "ext4", "xfs", "btrfs", "overlay", "zfs", "f2fs", "vfat",
];

/// One mounted filesystem's size and use, in bytes (`statvfs`: blocks × `f_frsize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountUsage {
    /// Where it is mounted (as in mountinfo, not below the root).
    pub mount_point: String,
    /// `tmpfs`, `ext4`, …
    pub fstype: String,
    /// `f_blocks`.
    pub total: u64,
    /// `f_blocks - f_bfree`.
    pub used: u64,
    /// `f_bavail`: what an unprivileged writer can still use.
    pub avail: u64,
}

impl MountUsage {
    /// True for memory-backed filesystems, whose use is charged as shmem.
    pub fn is_memory(&self) -> bool {
        matches!(self.fstype.as_str(), "tmpfs" | "ramfs")
    }
}

/// `statvfs(path)` → (total, used, avail) bytes.
pub fn statvfs(path: &Path) -> io::Result<(u64, u64, u64)> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` a valid out-pointer, both alive for the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let unit = st.f_frsize as u64;
    let total = st.f_blocks as u64 * unit;
    let free = st.f_bfree as u64 * unit;
    Ok((total, total.saturating_sub(free), st.f_bavail as u64 * unit))
}

/// The tracked mounts of `<root>/proc/self/mountinfo`, each mount point once (the last
/// mount on a point hides the earlier ones), with their use. A tree without mountinfo has
/// none.
pub fn mounts(root: &Path) -> Result<Vec<MountUsage>, SourceError> {
    let path = root.join("proc/self/mountinfo");
    let text = match std::fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if is_vanished(&e) => return Ok(Vec::new()),
        Err(source) => return Err(SourceError::Io { path, source }),
    };
    let entries = parse_mountinfo(&text).map_err(|problem| SourceError::Format {
        path: path.clone(),
        problem,
    })?;
    let mut out: Vec<MountUsage> = Vec::new();
    for m in entries {
        out.retain(|u| u.mount_point != m.mount_point);
        if !TRACKED_FSTYPES.contains(&m.fstype.as_str()) {
            continue;
        }
        let at = root.join(m.mount_point.trim_start_matches('/'));
        match statvfs(&at) {
            Ok((total, used, avail)) => out.push(MountUsage {
                mount_point: m.mount_point,
                fstype: m.fstype,
                total,
                used,
                avail,
            }),
            // Gone, hidden, or not ours to look at: not an error for a monitor.
            Err(_) => continue,
        }
    }
    Ok(out)
}

/// The mount holding `path`: the longest mount point that is a prefix of it.
pub fn mount_of<'a>(path: &str, mounts: &'a [MountUsage]) -> Option<&'a MountUsage> {
    mounts
        .iter()
        .filter(|m| {
            let mp = m.mount_point.trim_end_matches('/');
            path == mp || path.starts_with(&format!("{mp}/")) || mp.is_empty()
        })
        .max_by_key(|m| m.mount_point.len())
}

/// A file unlinked while a process still holds it open: its blocks are freed only at the
/// last close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedFile {
    /// The holder.
    pub pid: u32,
    /// Its descriptor.
    pub fd: u32,
    /// The path the file had, without ` (deleted)`.
    pub path: String,
    /// `st_size` of the open file, bytes.
    pub size: u64,
    /// `st_blocks × 512`: what it really occupies (sparse files hold less than their size).
    pub allocated: u64,
}

/// The path of a `/proc/PID/fd/N` link target that names a deleted file.
pub fn parse_deleted_target(link: &str) -> Option<&str> {
    link.strip_suffix(" (deleted)")
        .filter(|p| p.starts_with('/'))
}

/// The deleted-but-open files of one process; empty when it vanished or is not ours.
pub fn deleted_files(proc: &ProcFs, pid: u32) -> Result<Vec<DeletedFile>, SourceError> {
    use std::os::unix::fs::MetadataExt;
    let dir = proc.dir().join(pid.to_string()).join("fd");
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if is_vanished(&e) || e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(Vec::new())
        }
        Err(source) => return Err(SourceError::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for e in rd {
        let Ok(e) = e else { continue };
        let Some(fd) = e.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let Some(path) = parse_deleted_target(&target) else {
            continue;
        };
        // stat through the magic link reaches the open file, deleted or not.
        let Ok(md) = std::fs::metadata(e.path()) else {
            continue;
        };
        if !md.is_file() {
            continue;
        }
        out.push(DeletedFile {
            pid,
            fd,
            path: path.to_string(),
            size: md.len(),
            allocated: md.blocks() * 512,
        });
    }
    out.sort_by_key(|d| d.fd);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_testkit::faketree::FakeTree;
    use std::io::Write;

    #[test]
    fn deleted_target() {
        assert_eq!(
            parse_deleted_target("/dev/shm/x (deleted)"),
            Some("/dev/shm/x")
        );
        assert_eq!(parse_deleted_target("/tmp/y"), None);
        assert_eq!(parse_deleted_target("anon_inode:[eventfd] (deleted)"), None);
    }

    fn usage(mp: &str, fstype: &str) -> MountUsage {
        MountUsage {
            mount_point: mp.into(),
            fstype: fstype.into(),
            total: 0,
            used: 0,
            avail: 0,
        }
    }

    #[test]
    fn longest_mount_wins() {
        let ms = [
            usage("/", "ext4"),
            usage("/dev/shm", "tmpfs"),
            usage("/dev", "tmpfs"),
        ];
        assert_eq!(mount_of("/dev/shm/a", &ms).unwrap().mount_point, "/dev/shm");
        assert_eq!(mount_of("/dev/shmx", &ms).unwrap().mount_point, "/dev");
        assert_eq!(mount_of("/var/x", &ms).unwrap().mount_point, "/");
    }

    #[test]
    fn mounts_of_a_fake_tree() {
        let t = FakeTree::new("mounts");
        t.dir("dev/shm").mountinfo(
            "1 0 0:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 0:2 / /proc rw - proc proc rw\n\
             3 1 0:3 / /dev/shm rw - tmpfs shm rw,size=65536k\n\
             4 1 0:4 / /gone rw - tmpfs tmpfs rw\n",
        );
        let ms = mounts(t.root()).unwrap();
        let names: Vec<(&str, &str)> = ms
            .iter()
            .map(|m| (m.mount_point.as_str(), m.fstype.as_str()))
            .collect();
        // proc is not tracked; /gone does not exist below the root and is skipped.
        assert_eq!(names, [("/", "ext4"), ("/dev/shm", "tmpfs")]);
        assert!(ms[1].is_memory() && ms[1].total > 0);
        t.mountinfo("garbage\n");
        assert!(mounts(t.root()).is_err());
        std::fs::remove_dir_all(t.root().join("proc")).unwrap();
        assert!(mounts(t.root()).unwrap().is_empty());
    }

    #[test]
    fn own_deleted_file_is_found() {
        let p = std::env::temp_dir().join(format!("oomlens-deleted-{}", std::process::id()));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(&[1u8; 12345]).unwrap();
        std::fs::remove_file(&p).unwrap();
        let me = std::process::id();
        let found = deleted_files(&ProcFs::new(Path::new("/")), me).unwrap();
        let d = found
            .iter()
            .find(|d| d.path == p.to_string_lossy())
            .expect("listed");
        assert_eq!((d.pid, d.size), (me, 12345));
        drop(f);
        assert!(deleted_files(&ProcFs::new(Path::new("/nonexistent")), me)
            .unwrap()
            .is_empty());
    }
}
