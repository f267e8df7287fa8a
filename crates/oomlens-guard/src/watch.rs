//! The watch set: which cgroups get event sources, and those sources.
//!
//! Watched: every cgroup with a memory limit of its own (`memory.max` /
//! `memory.limit_in_bytes` not `max`), then the leaves below such a cgroup (a v1 kill is
//! counted only in the victim's own cgroup, and a leaf is where the victim runs), at most
//! `--max-watched` in all, limited cgroups first. The list is worked out again after each
//! sampler pass from the sampler's walk (which re-lists every directory within
//! `oomlens_sources::sampler::GUARD_WALK_EVERY` passes), so new cgroups gain watches and removed
//! ones lose them.
//!
//! Per watched cgroup:
//! - v2: one inotify watch (IN_MODIFY) on `memory.events` and one on `memory.events.local`
//!   (both in the guard's one inotify instance); the kernel notifies a modify when a
//!   counter changes (`cgroup_file_notify`, mm/memcontrol.c);
//! - v1: an eventfd registered for `memory.oom_control` through `cgroup.event_control`
//!   (fires when the cgroup goes under OOM, before the kill; and once more when the cgroup
//!   is removed, `memcg_event_remove` in mm/memcontrol-v1.c, after which the watch is
//!   closed because its directory is gone);
//! - a PSI trigger (`some <stall µs> <window µs>`) on the cgroup's `memory.pressure` (v2:
//!   in its directory; v1: in the matching directory of the cgroup2 hierarchy at
//!   `sys/fs/cgroup/unified`, when the cgroup exists there). EPOLLPRI means it fired;
//!   EPOLLERR or EPOLLHUP means the cgroup is gone (kernfs reports a removed file that
//!   way): the fd is closed at once, never polled again, so a removed cgroup cannot make
//!   the loop spin.
//!
//! Plus one system-wide PSI trigger on `/proc/pressure/memory`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oomlens_model::{CgroupSample, CgroupVersion, Limit};
use rustix::event::epoll;
use rustix::fs::inotify;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The cgroups to watch: limited ones first, then the leaves below a limited one; at most
/// `max`. `cgroups` is the sampler's walk, parents before children.
pub fn desired(cgroups: &[CgroupSample], max: usize) -> Vec<&str> {
    let limited: HashSet<&str> = cgroups
        .iter()
        .filter(|c| matches!(c.max, Some(Limit::Bytes(_))))
        .map(|c| c.path.as_str())
        .collect();
    let mut out: Vec<&str> = cgroups
        .iter()
        .map(|c| c.path.as_str())
        .filter(|p| limited.contains(p))
        .take(max)
        .collect();
    let under_limit = |p: &str| {
        let mut q = p;
        while let Some((parent, _)) = q.rsplit_once('/') {
            q = if parent.is_empty() { "/" } else { parent };
            if limited.contains(q) {
                return true;
            }
            if q == "/" {
                break;
            }
        }
        false
    };
    for (i, c) in cgroups.iter().enumerate() {
        if out.len() >= max {
            break;
        }
        let p = c.path.as_str();
        // The walk lists parents before children: a leaf's next entry is not below it.
        let is_leaf = cgroups.get(i + 1).is_none_or(|n| !is_below(&n.path, p));
        if is_leaf && !limited.contains(p) && under_limit(p) {
            out.push(p);
        }
    }
    out
}

/// True when `child` lies strictly below `parent`.
fn is_below(child: &str, parent: &str) -> bool {
    if parent == "/" {
        return child != "/";
    }
    child.len() > parent.len()
        && child.starts_with(parent)
        && child[parent.len()..].starts_with('/')
}

/// What kind of source an epoll token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The v1 eventfd of watch slot `n`.
    OomControl(usize),
    /// The PSI trigger of watch slot `n` (`usize::MAX`: the system-wide one).
    Psi(usize),
}

/// Token bases: the daemon's own fds use small tokens below these.
pub const TOKEN_EVENTFD: u64 = 1 << 32;
/// See [`TOKEN_EVENTFD`].
pub const TOKEN_PSI: u64 = 2 << 32;
/// The system-wide PSI trigger.
pub const TOKEN_PSI_SYSTEM: u64 = (2 << 32) | 0xffff_ffff;

/// Decode an epoll token of the watch set.
pub fn source_of(token: u64) -> Option<Source> {
    match token >> 32 {
        _ if token == TOKEN_PSI_SYSTEM => Some(Source::Psi(usize::MAX)),
        1 => Some(Source::OomControl((token & 0xffff_ffff) as usize)),
        2 => Some(Source::Psi((token & 0xffff_ffff) as usize)),
        _ => None,
    }
}

/// One watched cgroup.
#[derive(Debug)]
pub struct Watch {
    /// The cgroup path.
    pub path: Box<str>,
    /// Its directory in the memory hierarchy.
    dir: PathBuf,
    /// v1: the eventfd and the `memory.oom_control` it is registered for.
    oom: Option<(OwnedFd, File)>,
    /// v2: the inotify watch descriptors.
    wds: Vec<i32>,
    /// The PSI trigger.
    psi: Option<File>,
    /// The last `oom_kill` read.
    pub oom_kill: Option<u64>,
    /// Re-read `oom_kill` at each pass until this monotonic time (after an event).
    pub hot_until: f64,
}

/// What an event on a watch brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// The cgroup.
    pub path: String,
    /// `memory.events`, `memory.events.local`, `memory.oom_control` or `psi`.
    pub source: &'static str,
    /// What the file says now (`oom_kill=3 under_oom=1`, `some avg10=4.2 total=…`).
    pub detail: String,
    /// `oom_kill` rose by this much since the last read.
    pub new_kills: u64,
}

/// Every watch, and the inotify instance the v2 ones share.
pub struct WatchSet {
    version: CgroupVersion,
    /// The memory hierarchy's mount point and the hierarchy path mounted there.
    mem_dir: PathBuf,
    mount_root: String,
    /// The cgroup2 mount where v1 cgroups find their PSI files.
    unified_dir: PathBuf,
    inotify: OwnedFd,
    slots: Vec<Option<Watch>>,
    by_path: FastMap<Box<str>, usize>,
    by_wd: FastMap<i32, (usize, &'static str)>,
    psi_arg: String,
    system_psi: Option<File>,
    /// PSI fds closed because their cgroup went away.
    pub psi_closed: u64,
}

fn write_trigger(path: &Path, arg: &str) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // Only procfs and cgroup2 files are triggers. Under a fake --root the same path is a
    // plain file, and writing the trigger there would overwrite the pressure numbers the
    // sampler reads from it.
    if !is_pressure_fs(&f)? {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} is not a procfs or cgroup2 file", path.display()),
        ));
    }
    f.write_all(arg.as_bytes())?;
    Ok(f)
}

/// True when `f` lives on procfs or cgroup2 (`PROC_SUPER_MAGIC`, `CGROUP2_SUPER_MAGIC` of
/// include/uapi/linux/magic.h), where PSI files take triggers.
fn is_pressure_fs(f: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
    const CGROUP2_SUPER_MAGIC: libc::c_long = 0x6367_7270;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes a statfs into the buffer on success; the fd is open.
    if unsafe { libc::fstatfs(f.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialized by the successful call above.
    let kind = unsafe { st.assume_init() }.f_type;
    Ok(kind == PROC_SUPER_MAGIC || kind == CGROUP2_SUPER_MAGIC)
}

fn read_at0(f: &mut File) -> io::Result<String> {
    let mut s = String::new();
    f.rewind()?;
    f.read_to_string(&mut s)?;
    Ok(s)
}

fn flat(text: &str) -> Vec<(&str, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.trim().parse().ok()?))
        })
        .collect()
}

impl WatchSet {
    /// An empty set for the memory hierarchy mounted at `mem_dir` (holding
    /// `mount_root`), with PSI triggers of `stall` per `window`; `root` is the tree root.
    pub fn new(
        root: &Path,
        version: CgroupVersion,
        mem_dir: PathBuf,
        mount_root: String,
        stall: Duration,
        window: Duration,
    ) -> io::Result<WatchSet> {
        let inotify =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        let psi_arg = format!("some {} {}\n", stall.as_micros(), window.as_micros());
        Ok(WatchSet {
            version,
            mem_dir,
            mount_root,
            unified_dir: root.join("sys/fs/cgroup/unified"),
            inotify,
            slots: Vec::new(),
            by_path: FastMap::default(),
            by_wd: FastMap::default(),
            psi_arg,
            system_psi: None,
            psi_closed: 0,
        })
    }

    /// The inotify fd to register with epoll.
    pub fn inotify(&self) -> &OwnedFd {
        &self.inotify
    }

    /// Cgroups watched now.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// PSI triggers open now (the system-wide one included).
    pub fn psi_open(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|w| w.psi.is_some())
            .count()
            + usize::from(self.system_psi.is_some())
    }

    /// A watch by slot.
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Watch> {
        self.slots.get_mut(slot)?.as_mut()
    }

    /// Every watch.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut Watch)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, w)| w.as_mut().map(|w| (i, w)))
    }

    /// True while the system-wide trigger is open.
    pub fn system_psi_armed(&self) -> bool {
        self.system_psi.is_some()
    }

    /// Open the system-wide trigger on `<root>/proc/pressure/memory`.
    pub fn open_system_psi(&mut self, ep: &OwnedFd, root: &Path) -> io::Result<()> {
        let f = write_trigger(&root.join("proc/pressure/memory"), &self.psi_arg)?;
        epoll::add(
            ep,
            &f,
            epoll::EventData::new_u64(TOKEN_PSI_SYSTEM),
            epoll::EventFlags::PRI,
        )?;
        self.system_psi = Some(f);
        Ok(())
    }

    fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let rel = path.strip_prefix(self.mount_root.trim_end_matches('/'))?;
        let rel = rel.trim_start_matches('/');
        Some(if rel.is_empty() {
            self.mem_dir.clone()
        } else {
            self.mem_dir.join(rel)
        })
    }

    /// Make the set `paths`: close watches not in it, open the new ones (a cgroup whose
    /// files cannot be opened is skipped and tried again at the next update).
    pub fn update(&mut self, ep: &OwnedFd, paths: &[&str]) {
        let want: HashSet<&str> = paths.iter().copied().collect();
        let gone: Vec<usize> = self
            .by_path
            .iter()
            .filter(|(p, _)| !want.contains(&***p))
            .map(|(_, &i)| i)
            .collect();
        for i in gone {
            self.close(ep, i);
        }
        for p in paths {
            if !self.by_path.contains_key(*p) {
                let _ = self.open(ep, p);
            }
        }
    }

    fn open(&mut self, ep: &OwnedFd, path: &str) -> io::Result<()> {
        let dir = self.dir_of(path).ok_or(io::ErrorKind::NotFound)?;
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.slots.len());
        let mut w = Watch {
            path: path.into(),
            dir: dir.clone(),
            oom: None,
            wds: Vec::new(),
            psi: None,
            oom_kill: None,
            hot_until: 0.0,
        };
        let psi_file = match self.version {
            CgroupVersion::V1 => {
                let oom = File::open(dir.join("memory.oom_control"))?;
                let efd = rustix::event::eventfd(
                    0,
                    rustix::event::EventfdFlags::NONBLOCK | rustix::event::EventfdFlags::CLOEXEC,
                )?;
                std::fs::write(
                    dir.join("cgroup.event_control"),
                    format!("{} {}", efd.as_raw_fd(), oom.as_raw_fd()),
                )?;
                epoll::add(
                    ep,
                    &efd,
                    epoll::EventData::new_u64(TOKEN_EVENTFD | slot as u64),
                    epoll::EventFlags::IN,
                )?;
                w.oom = Some((efd, oom));
                self.unified_dir
                    .join(path.trim_start_matches('/'))
                    .join("memory.pressure")
            }
            CgroupVersion::V2 => {
                for (file, name) in [
                    ("memory.events", "memory.events"),
                    ("memory.events.local", "memory.events.local"),
                ] {
                    if let Ok(wd) = inotify::add_watch(
                        &self.inotify,
                        dir.join(file),
                        inotify::WatchFlags::MODIFY,
                    ) {
                        w.wds.push(wd);
                        self.by_wd.insert(wd, (slot, name));
                    }
                }
                dir.join("memory.pressure")
            }
        };
        if let Ok(f) = write_trigger(&psi_file, &self.psi_arg) {
            if epoll::add(
                ep,
                &f,
                epoll::EventData::new_u64(TOKEN_PSI | slot as u64),
                epoll::EventFlags::PRI,
            )
            .is_ok()
            {
                w.psi = Some(f);
            }
        }
        w.oom_kill = self.read_oom_kill(&mut w).ok().flatten();
        if slot == self.slots.len() {
            self.slots.push(Some(w));
        } else {
            self.slots[slot] = Some(w);
        }
        self.by_path.insert(path.into(), slot);
        Ok(())
    }

    fn close(&mut self, ep: &OwnedFd, slot: usize) {
        let Some(w) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.by_path.remove(&w.path);
        for wd in &w.wds {
            self.by_wd.remove(wd);
            // Fails when the kernel already dropped it (IN_IGNORED after a removal).
            let _ = inotify::remove_watch(&self.inotify, *wd);
        }
        if let Some((efd, _)) = &w.oom {
            let _ = epoll::delete(ep, efd);
        }
        if let Some(f) = &w.psi {
            let _ = epoll::delete(ep, f);
        }
    }

    /// `oom_kill` of a watch now (v2: the local count, so a kill is counted in the
    /// victim's cgroup only, as v1 does).
    fn read_oom_kill(&self, w: &mut Watch) -> io::Result<Option<u64>> {
        let text = match &mut w.oom {
            Some((_, f)) => read_at0(f)?,
            None => std::fs::read_to_string(w.dir.join("memory.events.local"))
                .or_else(|_| std::fs::read_to_string(w.dir.join("memory.events")))?,
        };
        Ok(flat(&text)
            .iter()
            .find(|(k, _)| *k == "oom_kill")
            .map(|(_, v)| *v))
    }

    /// Re-read a watch's `oom_kill`; the rise since the last read, and the file's text
    /// flattened. `None` when its directory is gone (the watch is then closed).
    pub fn refresh(&mut self, ep: &OwnedFd, slot: usize) -> Option<(u64, String)> {
        let mut w = self.slots.get_mut(slot)?.take()?;
        let now = self.read_oom_kill(&mut w);
        let detail = match &mut w.oom {
            Some((_, f)) => read_at0(f).unwrap_or_default(),
            None => std::fs::read_to_string(w.dir.join("memory.events.local")).unwrap_or_default(),
        };
        let detail = flat(&detail)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let gone = !w.dir.is_dir();
        let rise = match (&now, w.oom_kill) {
            (Ok(Some(n)), Some(old)) => n.saturating_sub(old),
            _ => 0,
        };
        if let Ok(Some(n)) = now {
            w.oom_kill = Some(n);
        }
        self.slots[slot] = Some(w);
        if gone {
            self.close(ep, slot);
            return None;
        }
        Some((rise, detail))
    }

    /// Handle epoll readiness of a watch source. Returns what fired, if anything worth a
    /// signal; closes sources whose cgroup is gone.
    pub fn on_event(
        &mut self,
        ep: &OwnedFd,
        src: Source,
        flags: epoll::EventFlags,
    ) -> Option<Fired> {
        match src {
            Source::Psi(usize::MAX) => {
                let f = self.system_psi.as_mut()?;
                if flags.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP) {
                    let _ = epoll::delete(ep, f.as_fd());
                    self.system_psi = None;
                    self.psi_closed += 1;
                    return None;
                }
                let detail = read_at0(f).unwrap_or_default();
                Some(Fired {
                    path: "/".into(),
                    source: "psi",
                    detail: first_line(&detail),
                    new_kills: 0,
                })
            }
            Source::Psi(slot) => {
                let w = self.slots.get_mut(slot)?.as_mut()?;
                if flags.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP) {
                    if let Some(f) = w.psi.take() {
                        let _ = epoll::delete(ep, &f);
                        self.psi_closed += 1;
                    }
                    return None;
                }
                let detail = w.psi.as_mut().map(read_at0)?.unwrap_or_default();
                Some(Fired {
                    path: w.path.to_string(),
                    source: "psi",
                    detail: first_line(&detail),
                    new_kills: 0,
                })
            }
            Source::OomControl(slot) => {
                let w = self.slots.get_mut(slot)?.as_mut()?;
                let (efd, _) = w.oom.as_ref()?;
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(efd, &mut buf);
                let path = w.path.to_string();
                let (new_kills, detail) = self.refresh(ep, slot)?;
                Some(Fired {
                    path,
                    source: "memory.oom_control",
                    detail,
                    new_kills,
                })
            }
        }
    }

    /// Read the inotify instance: one [`Fired`] per changed v2 events file.
    pub fn on_inotify(&mut self, ep: &OwnedFd) -> Vec<Fired> {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut changed: Vec<(usize, &'static str)> = Vec::new();
        let mut ignored: Vec<i32> = Vec::new();
        {
            let mut r = inotify::Reader::new(&self.inotify, &mut buf);
            while let Ok(ev) = r.next() {
                if ev.events().contains(inotify::ReadFlags::IGNORED) {
                    ignored.push(ev.wd());
                } else if let Some(&(slot, name)) = self.by_wd.get(&ev.wd()) {
                    if !changed.contains(&(slot, name)) {
                        changed.push((slot, name));
                    }
                }
            }
        }
        for wd in ignored {
            self.by_wd.remove(&wd);
        }
        let mut out = Vec::new();
        for (slot, name) in changed {
            let Some(path) = self
                .slots
                .get(slot)
                .and_then(|w| w.as_ref())
                .map(|w| w.path.to_string())
            else {
                continue;
            };
            if let Some((new_kills, detail)) = self.refresh(ep, slot) {
                out.push(Fired {
                    path,
                    source: name,
                    detail,
                    // memory.events is hierarchical: count kills from the local file only.
                    new_kills,
                });
            }
        }
        out
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cg(path: &str, max: Option<Limit>) -> CgroupSample {
        CgroupSample {
            path: path.into(),
            max,
            ..Default::default()
        }
    }

    #[test]
    fn a_pressure_file_of_a_fake_tree_is_left_as_it_is() {
        let dir = std::env::temp_dir().join(format!("guard-psi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("memory");
        let text = "some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n";
        std::fs::write(&fake, text).unwrap();
        let e = write_trigger(&fake, "some 150000 2000000\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert_eq!(std::fs::read_to_string(&fake).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
        // The real file is accepted where the kernel has PSI and lets us write a trigger.
        let real = Path::new("/proc/pressure/memory");
        if real.exists() {
            let f = File::open(real).unwrap();
            assert!(is_pressure_fs(&f).unwrap());
        }
    }

    #[test]
    fn limited_cgroups_and_the_leaves_below_them_are_watched_within_the_bound() {
        let b = |n| Some(Limit::Bytes(n));
        let walk = [
            cg("/", Some(Limit::Max)),
            cg("/free", Some(Limit::Max)),
            cg("/free/leaf", Some(Limit::Max)),
            cg("/app", b(1 << 30)),
            cg("/app/web", Some(Limit::Max)),
            cg("/app/web/w1", Some(Limit::Max)),
            cg("/app/web/w2", Some(Limit::Max)),
            cg("/app/db", b(1 << 29)),
            cg("/apple", Some(Limit::Max)),
        ];
        assert_eq!(
            desired(&walk, 10),
            ["/app", "/app/db", "/app/web/w1", "/app/web/w2"]
        );
        // The bound keeps limited cgroups first.
        assert_eq!(desired(&walk, 3), ["/app", "/app/db", "/app/web/w1"]);
        assert_eq!(desired(&walk, 1), ["/app"]);
        assert!(desired(&walk[..3], 10).is_empty());
    }

    #[test]
    fn tokens_name_their_source() {
        assert_eq!(source_of(TOKEN_EVENTFD | 7), Some(Source::OomControl(7)));
        assert_eq!(source_of(TOKEN_PSI | 3), Some(Source::Psi(3)));
        assert_eq!(source_of(TOKEN_PSI_SYSTEM), Some(Source::Psi(usize::MAX)));
        assert_eq!(source_of(5), None);
    }

    #[test]
    fn flat_keyed_files_are_read_and_odd_lines_skipped() {
        assert_eq!(
            flat("oom_kill_disable 0\nunder_oom 1\noom_kill 4\nbad\n"),
            [("oom_kill_disable", 0), ("under_oom", 1), ("oom_kill", 4)]
        );
    }
}
