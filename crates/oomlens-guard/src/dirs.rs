//! New and removed cgroups as they happen: inotify `IN_CREATE`/`IN_DELETE` on the cgroup
//! tree's directories, so that a unit or container started a few seconds before its kill has
//! its cgroup (and limit, and processes) in the window, instead of waiting up to
//! `GUARD_WALK_EVERY` passes for the sampler's rolling re-listing to reach its parent.
//!
//! `mkdir(2)` and `rmdir(2)` on cgroupfs go through the VFS (`vfs_mkdir` → `fsnotify_mkdir`,
//! `vfs_rmdir` → `fsnotify_rmdir`), so a watch on the parent directory sees every cgroup
//! made or removed, whoever makes it (systemd, containerd, a shell). Watches cost the
//! kernel up to about a kilobyte each (the sizing behind `max_user_watches`' default,
//! fs/notify/inotify/inotify_user.c) and the guard nothing while quiet; they are bounded by
//! [`cap`] (a quarter of the user's `max_user_watches`, at least [`MAX_DIR_WATCHES`]),
//! shallow directories first (where units, slices and pods appear). The sampler re-lists
//! only the directories not watched ([`oomlens_sources::sampler::Sampler::watch_dirs`]);
//! when the event queue overflows, every watched directory is re-listed once.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::inotify;

/// At least this many directories are watched (when the system's limit allows)...
pub const MAX_DIR_WATCHES: usize = 4096;

/// ...and at most this share of `/proc/sys/fs/inotify/max_user_watches` (a per-user
/// limit that other programs of the same user, e.g. systemd and editors, share).
pub const WATCH_SHARE: usize = 4;

/// How many directories to watch: a [`WATCH_SHARE`]th of the user's `max_user_watches`
/// (192,530 on this 24 GiB machine: 48,132), at least [`MAX_DIR_WATCHES`];
/// [`MAX_DIR_WATCHES`] when the limit cannot be read. The running kernel's limit, also
/// for a tree under `--root`: the watches are this kernel's.
pub fn cap() -> usize {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(MAX_DIR_WATCHES, |m| (m / WATCH_SHARE).max(MAX_DIR_WATCHES))
}

/// Directories of the tree and what inotify says of them.
pub struct DirWatch {
    ino: OwnedFd,
    /// Watch descriptor → cgroup path.
    by_wd: HashMap<i32, String>,
    /// Cgroup path → watch descriptor.
    by_path: HashMap<String, i32>,
    max: usize,
    /// Event queue overflows seen (each re-lists every watched directory).
    pub overflows: u64,
}

impl DirWatch {
    /// A new, empty inotify instance (non-blocking, close-on-exec).
    pub fn new(max: usize) -> io::Result<DirWatch> {
        let ino = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        Ok(DirWatch {
            ino,
            by_wd: HashMap::new(),
            by_path: HashMap::new(),
            max,
            overflows: 0,
        })
    }

    /// The fd to register with epoll.
    pub fn fd(&self) -> &OwnedFd {
        &self.ino
    }

    /// How many directories are watched.
    pub fn len(&self) -> usize {
        self.by_wd.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.by_wd.is_empty()
    }

    /// Watch the directories of `paths` (cgroup paths, each with the directory `dir_of`
    /// gives) not watched yet, shallowest first, up to the bound; returns those it began
    /// to watch.
    pub fn follow<'a>(
        &mut self,
        paths: impl IntoIterator<Item = &'a str>,
        dir_of: impl Fn(&str) -> Option<std::path::PathBuf>,
    ) -> Vec<&'a str> {
        let mut added = Vec::new();
        if self.by_wd.len() >= self.max {
            return added;
        }
        let mut new: Vec<&str> = paths
            .into_iter()
            .filter(|p| !self.by_path.contains_key(*p))
            .collect();
        new.sort_by_key(|p| (depth(p), *p));
        for p in new {
            if self.by_wd.len() >= self.max {
                break;
            }
            let Some(dir) = dir_of(p) else { continue };
            if let Ok(wd) = add(&self.ino, &dir) {
                self.by_wd.insert(wd, p.to_string());
                self.by_path.insert(p.to_string(), wd);
                added.push(p);
            }
        }
        added
    }

    /// Read what inotify has: the watched directories that gained or lost a child
    /// directory (each once). A removed watched directory drops its watch (`IN_IGNORED`).
    /// After a queue overflow (events lost) every watched directory is in the list.
    pub fn changed(&mut self) -> Vec<String> {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut out: Vec<String> = Vec::new();
        let mut r = inotify::Reader::new(&self.ino, &mut buf);
        while let Ok(ev) = r.next() {
            let wd = ev.wd();
            if ev.events().contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                self.overflows += 1;
                out = self.by_path.keys().cloned().collect();
                out.sort();
                continue;
            }
            if ev.events().contains(inotify::ReadFlags::IGNORED) {
                if let Some(p) = self.by_wd.remove(&wd) {
                    self.by_path.remove(&p);
                }
                continue;
            }
            if !ev.events().contains(inotify::ReadFlags::ISDIR) {
                continue;
            }
            if let Some(p) = self.by_wd.get(&wd) {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        out
    }
}

fn add(ino: &OwnedFd, dir: &Path) -> rustix::io::Result<i32> {
    inotify::add_watch(
        ino,
        dir,
        inotify::WatchFlags::CREATE | inotify::WatchFlags::DELETE | inotify::WatchFlags::ONLYDIR,
    )
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory made or removed below a watched one is reported once per read, files are
    /// not, and a removed watched directory loses its watch.
    #[test]
    fn children_made_and_removed_are_seen_and_the_bound_holds() {
        let root = std::env::temp_dir().join(format!("guard-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["a", "a/b", "c"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let dir_of = |p: &str| Some(root.join(p.trim_start_matches('/')));
        let mut w = DirWatch::new(3).unwrap();
        w.follow(["/a/b", "/", "/a", "/c"], dir_of);
        assert_eq!(w.len(), 3, "the bound");
        assert!(w.by_path.contains_key("/") && w.by_path.contains_key("/a"));
        assert!(!w.by_path.contains_key("/a/b"), "deepest left out");
        assert!(w.changed().is_empty());
        std::fs::create_dir(root.join("a/new")).unwrap();
        std::fs::create_dir(root.join("a/new2")).unwrap();
        std::fs::write(root.join("a/file"), "x").unwrap();
        assert_eq!(w.changed(), ["/a"]);
        std::fs::remove_dir(root.join("c")).unwrap();
        assert_eq!(w.changed(), ["/"]);
        assert_eq!(w.len(), 2, "/c's watch went with it");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
