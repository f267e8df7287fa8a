//! Memory-cgroup limits and counters, from cgroup v1 (legacy), v2 (unified) or a hybrid
//! mount layout, below a root path.
//!
//! [`detect`] finds the layout the way youki's `get_cgroup_setup_with_root`
//! (`crates/libcgroups/src/common.rs`) does, but from the text of `<root>/proc/self/mountinfo`
//! rather than `statfs` magic numbers, so a fake tree can describe any layout; without a
//! mountinfo it falls back to the conventional directories under `<root>/sys/fs/cgroup`.
//! The memory controller lives on the v1 hierarchy mounted with the `memory` option when
//! there is one (legacy, and hybrid as systemd sets it up), else on cgroup2.
//!
//! [`CgroupFs::memory`] reads one cgroup given its path as `/proc/PID/cgroup` prints it, through
//! a directory handle, into the model's [`CgroupMemory`]; [`Detail`] picks the files. A cgroup removed mid-read comes back as `Ok(None)` (the same
//! [`crate::files::is_vanished`] rule as for processes); other errors name the file.
//!
//! | v1 file | v2 file | kept as |
//! |---|---|---|
//! | `memory.limit_in_bytes` | `memory.max` | `max`; unlimited is [`Limit::Max`](oomlens_model::Limit::Max) (v2 prints `max`, v1 the page counter's maximum, `PAGE_COUNTER_MAX * PAGE_SIZE` = 9223372036854771712 with 4 KiB pages, or `u64::MAX` on 3.x's res_counter) |
//! | `memory.memsw.limit_in_bytes` | `memory.swap.max` | memory + swap (v1), swap alone (v2) |
//! | `memory.usage_in_bytes` | `memory.current` | bytes charged now |
//! | `memory.oom_control` | — | `oom_kill_disable`, `under_oom`, `oom_kill` (4.13+) |
//! | `memory.use_hierarchy` | — | always 1 since 5.11 |
//! | `memory.swappiness` | — (the global `vm.swappiness`) | |
//! | — | `memory.oom.group` | kill the whole cgroup with its victim (4.19+) |
//! | — | `memory.events` | `low`, `high`, `max`, `oom`, `oom_kill`, `oom_group_kill` (5.17+) |
//!
//! In v2 a cgroup whose parent does not enable `memory` in `cgroup.subtree_control` has no
//! `memory.*` files: it is read as `controller_enabled` false, with no limit.

use std::fs::File;
use std::path::{Path, PathBuf};

use oomlens_model::{cgroup_path, CgroupMemory, CgroupVersion, StatSplit};

use crate::files::{is_vanished, open_dir, read_at, read_optional};
use crate::formats::{
    parse_bool01, parse_memory_events, parse_oom_control, parse_pressure, parse_stat_split,
    parse_u64, parse_v1_limit, parse_v2_limit,
};
use crate::SourceError;

/// Which of a cgroup's files [`CgroupFs::memory`] reads. Both read usage, the memory limit,
/// v1's memsw limit or v2's swap limit, and the OOM counters (`memory.oom_control`,
/// `memory.events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// What `top` samples: also peak, soft limit, memsw usage, failcnt, `memory.stat`'s
    /// anon/file/shmem, `memory.high`/`low`/`min`, swap usage and PSI.
    Counters,
    /// What decides an OOM (`rank`): also v1 `memory.use_hierarchy` and
    /// `memory.swappiness`, v2 `memory.oom.group`.
    Oom,
}

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupSetup {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies and a cgroup2 mount (systemd's `unified`).
    Hybrid,
    /// Only cgroup2.
    Unified,
}

/// Where the memory controller's hierarchy is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryHierarchy {
    /// v1 or v2.
    pub version: CgroupVersion,
    /// The mount point below the root (`<root>/sys/fs/cgroup/memory`).
    pub dir: PathBuf,
    /// The hierarchy path mounted there (`/` unless mounted from inside a cgroup namespace).
    pub mount_root: String,
}

/// The layout found by [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLayout {
    /// Legacy, hybrid or unified; `None` when no cgroup is mounted at all.
    pub setup: Option<CgroupSetup>,
    /// The memory controller's hierarchy, when mounted.
    pub memory: Option<MemoryHierarchy>,
}

/// One line of `/proc/PID/mountinfo` (Documentation/filesystems/proc.rst, 3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Field 4: the path within the filesystem mounted here.
    pub root: String,
    /// Field 5: the mount point.
    pub mount_point: String,
    /// The filesystem type after ` - `.
    pub fstype: String,
    /// The superblock options (for v1 cgroups: the controllers, `memory`, `name=systemd`).
    pub super_opts: Vec<String>,
}

/// Parses mountinfo. Malformed lines are errors.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountEntry>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (left, right) = line
            .split_once(" - ")
            .ok_or_else(|| format!("{line:?} has no ` - ` separator"))?;
        let fields: Vec<&str> = left.split(' ').collect();
        let mut r = right.split(' ');
        let (Some(fstype), Some(_source), Some(opts)) = (r.next(), r.next(), r.next()) else {
            return Err(format!("{line:?}: fewer than 3 fields after ` - `"));
        };
        if fields.len() < 6 {
            return Err(format!("{line:?}: fewer than 6 fields before ` - `"));
        }
        out.push(MountEntry {
            root: unescape_octal(fields[3]),
            mount_point: unescape_octal(fields[4]),
            fstype: fstype.to_string(),
            super_opts: opts.split(',').map(str::to_string).collect(),
        });
    }
    Ok(out)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if b[i] == b'\\' && octal {
            out.push(
                b[i + 1..i + 4]
                    .iter()
                    .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The layout described by mount entries, with mount points joined below `root`.
pub fn classify(mounts: &[MountEntry], root: &Path) -> CgroupLayout {
    let v1: Vec<&MountEntry> = mounts.iter().filter(|m| m.fstype == "cgroup").collect();
    let mut v2: Vec<&MountEntry> = mounts.iter().filter(|m| m.fstype == "cgroup2").collect();
    // Prefer a cgroup2 mount of the hierarchy's root, then the shortest mount point.
    v2.sort_by_key(|m| (m.root != "/", m.mount_point.len()));
    let setup = match (v1.is_empty(), v2.is_empty()) {
        (true, true) => None,
        (false, true) => Some(CgroupSetup::Legacy),
        (false, false) => Some(CgroupSetup::Hybrid),
        (true, false) => Some(CgroupSetup::Unified),
    };
    let below = |mp: &str| root.join(mp.trim_start_matches('/'));
    let memory = v1
        .iter()
        .find(|m| m.super_opts.iter().any(|o| o == "memory"))
        .map(|m| MemoryHierarchy {
            version: CgroupVersion::V1,
            dir: below(&m.mount_point),
            mount_root: m.root.clone(),
        })
        .or_else(|| {
            v2.first().map(|m| MemoryHierarchy {
                version: CgroupVersion::V2,
                dir: below(&m.mount_point),
                mount_root: m.root.clone(),
            })
        });
    CgroupLayout { setup, memory }
}

/// The cgroup layout of the tree at `root`: from `<root>/proc/self/mountinfo`, else (no such
/// file) from the conventional directories of `<root>/sys/fs/cgroup`.
pub fn detect(root: &Path) -> Result<CgroupLayout, SourceError> {
    let path = root.join("proc/self/mountinfo");
    if let Some(bytes) = read_optional(&path)? {
        let text = String::from_utf8_lossy(&bytes);
        let mounts = parse_mountinfo(&text).map_err(|problem| SourceError::Format {
            path: path.clone(),
            problem,
        })?;
        return Ok(classify(&mounts, root));
    }
    let base = root.join("sys/fs/cgroup");
    let hier = |version, dir: PathBuf| MemoryHierarchy {
        version,
        dir,
        mount_root: "/".into(),
    };
    if base.join("cgroup.controllers").exists() {
        return Ok(CgroupLayout {
            setup: Some(CgroupSetup::Unified),
            memory: Some(hier(CgroupVersion::V2, base)),
        });
    }
    let unified = base.join("unified").join("cgroup.controllers").exists();
    let memory = base.join("memory");
    let setup = if unified {
        Some(CgroupSetup::Hybrid)
    } else if memory.is_dir() {
        Some(CgroupSetup::Legacy)
    } else {
        None
    };
    let memory = if memory.join("memory.limit_in_bytes").exists() {
        Some(hier(CgroupVersion::V1, memory))
    } else if unified {
        Some(hier(CgroupVersion::V2, base.join("unified")))
    } else {
        None
    };
    Ok(CgroupLayout { setup, memory })
}

/// The memory hierarchy below a root.
#[derive(Debug, Clone)]
pub struct CgroupFs {
    hierarchy: MemoryHierarchy,
    page_size: u64,
}

impl CgroupFs {
    /// Finds the memory hierarchy of the tree at `root` ([`detect`]); `Ok(None)` when no
    /// memory controller is mounted. `page_size` recognises v1's "unlimited".
    pub fn new(root: &Path, page_size: u64) -> Result<Option<CgroupFs>, SourceError> {
        Ok(detect(root)?
            .memory
            .map(|hierarchy| CgroupFs::with_hierarchy(hierarchy, page_size)))
    }

    /// A reader of a known hierarchy.
    pub fn with_hierarchy(hierarchy: MemoryHierarchy, page_size: u64) -> CgroupFs {
        CgroupFs {
            hierarchy,
            page_size,
        }
    }

    /// The hierarchy read.
    pub fn hierarchy(&self) -> &MemoryHierarchy {
        &self.hierarchy
    }

    /// The directory of a cgroup path (as in `/proc/PID/cgroup`); `None` when the path lies
    /// outside what this mount shows (a mount of a sub-tree).
    pub fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let root = self.hierarchy.mount_root.trim_end_matches('/');
        let rel = if root.is_empty() {
            path
        } else if path == root {
            ""
        } else {
            let rest = path.strip_prefix(root)?;
            if !rest.starts_with('/') {
                return None;
            }
            rest
        };
        Some(self.hierarchy.dir.join(rel.trim_start_matches('/')))
    }

    /// The pids in `cgroup.procs`; `Ok(None)` when the cgroup does not exist.
    pub fn procs(&self, path: &str) -> Result<Option<Vec<u32>>, SourceError> {
        let Some(dir) = self.dir_of(path) else {
            return Ok(None);
        };
        let file = dir.join("cgroup.procs");
        let Some(bytes) = read_optional(&file)? else {
            return Ok(None);
        };
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.trim().parse().map_err(|_| SourceError::Format {
                    path: file.clone(),
                    problem: format!("{l:?} is not a pid"),
                })
            })
            .collect::<Result<Vec<u32>, _>>()
            .map(Some)
    }

    /// Reads one cgroup's memory files, those `detail` names; `Ok(None)` when the cgroup
    /// does not exist (or was removed while being read) or lies outside the mount. A missing
    /// file is a `None` field; bad content is an error naming the file.
    ///
    /// The one reader of a cgroup's `memory.*` files: `top` calls it with
    /// [`Detail::Counters`] on thousands of cgroups per pass, so it reads through one
    /// directory handle and nothing `detail` does not ask for.
    pub fn memory(&self, path: &str, detail: Detail) -> Result<Option<CgroupMemory>, SourceError> {
        self.in_dir(path, |r| {
            let version = self.hierarchy.version;
            let mut m = CgroupMemory::empty(path, version);
            if detail == Detail::Counters {
                m.split = r
                    .get("memory.stat", |t| parse_stat_split(t, version))?
                    .unwrap_or_default();
            }
            match version {
                CgroupVersion::V1 => self.read_v1(r, detail, &mut m)?,
                CgroupVersion::V2 => read_v2(r, detail, &mut m)?,
            }
            Ok(m)
        })
    }

    /// Reads one cgroup's `memory.stat` split (anon, file, shmem) alone: what a fall in
    /// usage changes, where [`CgroupFs::memory`] reads nine files on v1. `Ok(None)` as
    /// there.
    pub fn split(&self, path: &str) -> Result<Option<StatSplit>, SourceError> {
        let version = self.hierarchy.version;
        let split = self.in_dir(path, |r| {
            r.get("memory.stat", |t| parse_stat_split(t, version))
        })?;
        Ok(split.flatten())
    }

    /// `read` through one handle on cgroup `path`'s directory; `Ok(None)` when the cgroup
    /// does not exist (or was removed meanwhile) or lies outside the mount.
    fn in_dir<T>(
        &self,
        path: &str,
        read: impl FnOnce(&Reader) -> Result<T, SourceError>,
    ) -> Result<Option<T>, SourceError> {
        let Some(dir_path) = self.dir_of(path) else {
            return Ok(None);
        };
        let Some(dir) = open_dir(&dir_path)? else {
            return Ok(None);
        };
        read(&Reader {
            dir,
            path: &dir_path,
        })
        .map(Some)
    }

    fn read_v1(&self, r: &Reader, detail: Detail, m: &mut CgroupMemory) -> Result<(), SourceError> {
        let page = self.page_size;
        let v1lim = |t: &str| parse_v1_limit(t, page);
        m.usage = r.get("memory.usage_in_bytes", parse_u64)?;
        m.max = r.get("memory.limit_in_bytes", v1lim)?;
        m.memsw_limit = r.get("memory.memsw.limit_in_bytes", v1lim)?;
        m.oom_control = r.get("memory.oom_control", parse_oom_control)?;
        m.oom_kill = m.oom_control.and_then(|o| o.oom_kill);
        match detail {
            Detail::Counters => {
                m.peak = r.get("memory.max_usage_in_bytes", parse_u64)?;
                m.soft_limit = r.get("memory.soft_limit_in_bytes", v1lim)?;
                m.memsw_usage = r.get("memory.memsw.usage_in_bytes", parse_u64)?;
                m.failcnt = r.get("memory.failcnt", parse_u64)?;
            }
            Detail::Oom => {
                m.use_hierarchy = r.get("memory.use_hierarchy", parse_bool01)?;
                m.swappiness = r.get("memory.swappiness", parse_u64)?;
            }
        }
        Ok(())
    }
}

fn read_v2(r: &Reader, detail: Detail, m: &mut CgroupMemory) -> Result<(), SourceError> {
    m.usage = r.get("memory.current", parse_u64)?;
    m.max = r.get("memory.max", parse_v2_limit)?;
    m.controller_enabled = m.max.is_some();
    m.swap_max = r.get("memory.swap.max", parse_v2_limit)?;
    m.events = r.get("memory.events", parse_memory_events)?;
    m.oom_kill = m.events.map(|e| e.oom_kill);
    match detail {
        Detail::Counters => {
            m.high = r.get("memory.high", parse_v2_limit)?;
            m.low = r.get("memory.low", parse_u64)?;
            m.min = r.get("memory.min", parse_u64)?;
            m.peak = r.get("memory.peak", parse_u64)?;
            m.swap_current = r.get("memory.swap.current", parse_u64)?;
            m.pressure = r.get("memory.pressure", parse_pressure)?;
        }
        Detail::Oom => m.oom_group = r.get("memory.oom.group", parse_bool01)?,
    }
    Ok(())
}

/// Reads files of one cgroup directory through its handle.
struct Reader<'a> {
    dir: File,
    path: &'a Path,
}

impl Reader<'_> {
    /// Reads and parses `name`; `Ok(None)` when it does not exist.
    fn get<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SourceError> {
        let file = self.path.join(name);
        let bytes = match read_at(&self.dir, name) {
            Ok(b) => b,
            Err(e) if is_vanished(&e) => return Ok(None),
            Err(source) => return Err(SourceError::Io { path: file, source }),
        };
        parse(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|problem| SourceError::Format {
                path: file,
                problem,
            })
    }
}

// ---------------------------------------------------------------------------------------
// What `oomlens top` samples per cgroup and tick

/// The subdirectory names of `dir`, sorted; `None` when it vanished (or is no directory).
/// cgroupfs (kernfs) fills in `d_type`, so no `stat` per entry.
fn child_dirs(dir: &Path) -> Result<Option<Vec<String>>, SourceError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if is_vanished(&e) || e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
        Err(source) => {
            return Err(SourceError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut kids = Vec::new();
    for e in rd {
        let Ok(e) = e else { continue };
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            if let Some(name) = e.file_name().to_str() {
                kids.push(name.to_string());
            }
        }
    }
    kids.sort_unstable();
    Ok(Some(kids))
}

impl CgroupFs {
    /// The cgroup paths at and below `path` (depth first, `path` first, siblings by name); a
    /// directory removed during the walk is skipped. Empty when `path` is not in this
    /// hierarchy.
    pub fn walk(&self, path: &str) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let Some(dir) = self.dir_of(path) else {
            return Ok(out);
        };
        let mut stack = vec![(cgroup_path::normalize(path), dir)];
        while let Some((p, d)) = stack.pop() {
            let Some(mut kids) = child_dirs(&d)? else {
                continue;
            };
            kids.reverse();
            for k in kids {
                stack.push((cgroup_path::join(&p, &k), d.join(&k)));
            }
            out.push(p);
        }
        Ok(out)
    }

    /// The names of the child cgroups of `path`, sorted; `None` when it is gone or not in
    /// this hierarchy. One directory listing: `top` re-lists a slice of the tree per pass
    /// instead of walking all of it at once.
    pub fn children(&self, path: &str) -> Result<Option<Vec<String>>, SourceError> {
        match self.dir_of(path) {
            Some(dir) => child_dirs(&dir),
            None => Ok(None),
        }
    }

    /// The usage file of a cgroup (v2 `memory.current`, v1 `memory.usage_in_bytes`) as a
    /// [`UsageFile`]: kept open when `hold`, so that each later read is a single `pread`.
    /// `None` when the path lies outside this mount.
    pub fn usage_file(&self, path: &str, hold: bool) -> Option<UsageFile> {
        let file = self.dir_of(path)?.join(match self.hierarchy.version {
            CgroupVersion::V1 => "memory.usage_in_bytes",
            CgroupVersion::V2 => "memory.current",
        });
        let held = if hold { File::open(&file).ok() } else { None };
        Some(UsageFile { path: file, held })
    }
}

/// A cgroup's usage file, read once per tick by `top`.
///
/// Held open, a read costs one `pread` at offset 0: kernfs files are seq_files, and a read
/// from an offset other than the last one re-renders them from the start (fs/seq_file.c,
/// `seq_read_iter`: `ki_pos != m->read_pos` → `traverse`). Measured on this 6.18 host's
/// cgroup v1: 0.5 µs per read against 6.6 µs for open, read and close. The price is kernel
/// memory: about 4.8 KiB per held file (the seq_file's page-sized buffer and the open
/// file; opening and reading 500 of them raised `memory.kmem.usage_in_bytes` by 2.47 MB).
#[derive(Debug)]
pub struct UsageFile {
    path: PathBuf,
    held: Option<File>,
}

impl UsageFile {
    /// Whether the file is held open.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// The current usage in bytes; `Ok(None)` when the cgroup vanished (removed cgroups
    /// answer reads of held files with ENODEV).
    pub fn read(&self) -> Result<Option<u64>, SourceError> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 64];
        let owned: Vec<u8>;
        let got = match &self.held {
            Some(f) => f.read_at(&mut buf, 0).map(|n| &buf[..n]),
            None => match std::fs::read(&self.path) {
                Ok(b) => {
                    owned = b;
                    Ok(&owned[..])
                }
                Err(e) => Err(e),
            },
        };
        let bytes = match got {
            Ok(b) => b,
            Err(e) if is_vanished(&e) || e.raw_os_error() == Some(libc::ENODEV) => return Ok(None),
            Err(source) => {
                return Err(SourceError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        if let Some(v) = crate::formats::u64_line(bytes) {
            return Ok(Some(v));
        }
        let text = std::str::from_utf8(bytes).unwrap_or("");
        parse_u64(text)
            .map(Some)
            .map_err(|problem| SourceError::Format {
                path: self.path.clone(),
                problem,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::Limit;
    use oomlens_testkit::faketree::{psi, FakeTree, V1_UNLIMITED};

    /// A cgroup v1 memory hierarchy at `/sys/fs/cgroup/memory`.
    const V1_MOUNT: &str = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

    const HYBRID: &str = "\
31 24 0:27 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu\\054cpuacct rw - cgroup cgroup rw,cpu,cpuacct
37 31 0:34 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    #[test]
    fn layouts_from_mountinfo() {
        let root = Path::new("/fake");
        let m = parse_mountinfo(HYBRID).unwrap();
        assert_eq!(m[2].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        let l = classify(&m, root);
        assert_eq!(l.setup, Some(CgroupSetup::Hybrid));
        let mem = l.memory.unwrap();
        assert_eq!(mem.version, CgroupVersion::V1);
        assert_eq!(mem.dir, Path::new("/fake/sys/fs/cgroup/memory"));

        let unified =
            parse_mountinfo("30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
                .unwrap();
        let l = classify(&unified, root);
        assert_eq!(l.setup, Some(CgroupSetup::Unified));
        assert_eq!(l.memory.unwrap().version, CgroupVersion::V2);

        let legacy =
            parse_mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
                .unwrap();
        assert_eq!(classify(&legacy, root).setup, Some(CgroupSetup::Legacy));

        // Hybrid without a v1 memory hierarchy: memory is on cgroup2.
        let m = parse_mountinfo(
            "36 31 0:33 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             37 31 0:34 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        let l = classify(&m, root);
        assert_eq!(l.setup, Some(CgroupSetup::Hybrid));
        assert_eq!(l.memory.unwrap().version, CgroupVersion::V2);

        assert_eq!(classify(&[], root).setup, None);
        assert!(parse_mountinfo("1 2 3\n").is_err());
    }

    #[test]
    fn detect_falls_back_to_directories() {
        // No mountinfo: the directories tell.
        let t = FakeTree::new("cgroupfs");
        t.cgroup_v1("").limit(None);
        t.file("sys/fs/cgroup/unified/cgroup.controllers", "\n");
        let l = detect(t.root()).unwrap();
        assert_eq!(l.setup, Some(CgroupSetup::Hybrid));
        assert_eq!(l.memory.unwrap().version, CgroupVersion::V1);
        let t = FakeTree::new("cgroupfs");
        t.cgroup_v2("").file("cgroup.controllers", "cpu memory\n");
        assert_eq!(detect(t.root()).unwrap().setup, Some(CgroupSetup::Unified));
        let t = FakeTree::new("cgroupfs");
        t.mountinfo("garbage\n");
        let err = detect(t.root()).unwrap_err().to_string();
        assert!(err.contains("proc/self/mountinfo"), "{err}");
    }

    #[test]
    fn walk_and_counters_on_a_fake_v2_tree() {
        // No mountinfo: found by its cgroup.controllers.
        let t = FakeTree::new("cgroupfs-v2");
        t.cgroup_v2("a").usage(100).limit(None);
        t.cgroup_v2("a/b")
            .usage(50)
            .limit(Some(1000))
            .file("memory.high", "800\n")
            .stat("anon 30\nfile 20\nshmem 5\n")
            .file("memory.pressure", psi(0.0, 7, 3));
        t.cgroup_v2("c");
        t.cgroup_v2("").file("cgroup.controllers", "memory\n");
        let fs = CgroupFs::new(t.root(), 4096).unwrap().unwrap();
        assert_eq!(fs.walk("/").unwrap(), ["/", "/a", "/a/b", "/c"]);
        assert_eq!(fs.walk("/a").unwrap(), ["/a", "/a/b"]);
        assert_eq!(fs.walk("/a/").unwrap(), ["/a", "/a/b"]);
        assert!(fs.walk("/nope").unwrap().is_empty());
        // Children: directories only (not the control files), sorted; gone is None.
        let first = t.cgroup_v2("a/0-first");
        assert_eq!(
            fs.children("/a").unwrap(),
            Some(vec!["0-first".into(), "b".into()])
        );
        assert_eq!(
            fs.children("/").unwrap(),
            Some(vec!["a".into(), "c".into()])
        );
        assert_eq!(fs.children("/a/b").unwrap(), Some(vec![]));
        assert_eq!(fs.children("/nope").unwrap(), None);
        assert_eq!(fs.children("/a/b/memory.current").unwrap(), None, "a file");
        std::fs::remove_dir(first.dir()).unwrap();
        let c = fs.memory("/a/b", Detail::Counters).unwrap().unwrap();
        assert_eq!(c.usage, Some(50));
        assert_eq!(c.max, Some(Limit::Bytes(1000)));
        assert_eq!(c.high, Some(Limit::Bytes(800)));
        assert_eq!(c.split.shmem, Some(5));
        assert_eq!(c.pressure.unwrap().some_total_us, 7);
        // Missing files are None; a missing cgroup is None; bad content is an error.
        let c = fs.memory("/c", Detail::Counters).unwrap().unwrap();
        assert_eq!(c.usage, None);
        assert!(fs.memory("/gone", Detail::Counters).unwrap().is_none());
        t.cgroup_v2("c").file("memory.current", "lots\n");
        assert!(fs.memory("/c", Detail::Counters).is_err());
    }

    fn v1_tree() -> (FakeTree, CgroupFs) {
        let t = FakeTree::new("cgroupfs-v1");
        t.mountinfo(V1_MOUNT);
        t.cgroup_v1("/a/b")
            .limit(Some(64 << 20))
            .usage(1 << 20)
            .file("memory.memsw.limit_in_bytes", format!("{V1_UNLIMITED}\n"))
            .file(
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            )
            .file("memory.use_hierarchy", "1\n")
            .procs(&[10, 11]);
        let fs = CgroupFs::new(t.root(), 4096).unwrap().unwrap();
        (t, fs)
    }

    #[test]
    fn reads_v1_cgroup() {
        let (_t, fs) = v1_tree();
        let m = fs.memory("/a/b", Detail::Oom).unwrap().unwrap();
        assert_eq!(m.version, CgroupVersion::V1);
        assert_eq!(m.max, Some(Limit::Bytes(64 << 20)));
        assert_eq!(m.usage, Some(1 << 20));
        assert_eq!(m.memsw_limit, Some(Limit::Max));
        assert_eq!(m.oom_control.unwrap().oom_kill, Some(2));
        assert_eq!(m.oom_kill, Some(2));
        assert_eq!(m.use_hierarchy, Some(true));
        assert_eq!(m.swappiness, None);
        // The counters read leaves the settings out and reads what top samples.
        let c = fs.memory("/a/b", Detail::Counters).unwrap().unwrap();
        assert_eq!(c.use_hierarchy, None);
        assert_eq!((c.max, c.oom_kill), (m.max, Some(2)));
        assert_eq!(fs.procs("/a/b").unwrap(), Some(vec![10, 11]));
        // Missing cgroup: not an error.
        assert_eq!(fs.memory("/a/gone", Detail::Oom).unwrap(), None);
        assert_eq!(fs.procs("/a/gone").unwrap(), None);
    }

    #[test]
    fn bad_v1_content_names_the_file() {
        let (t, fs) = v1_tree();
        let ab = t.cgroup_v1("/a/b");
        ab.file("memory.limit_in_bytes", "lots\n");
        let err = fs.memory("/a/b", Detail::Oom).unwrap_err().to_string();
        assert!(err.contains("a/b/memory.limit_in_bytes"), "{err}");
        ab.limit(Some(4096))
            .file("memory.oom_control", "under_oom 0\n");
        let err = fs.memory("/a/b", Detail::Oom).unwrap_err().to_string();
        assert!(
            err.contains("memory.oom_control") && err.contains("oom_kill_disable"),
            "{err}"
        );
    }

    #[test]
    fn reads_v2_cgroups_with_and_without_the_controller() {
        let t = FakeTree::new("cgroupfs-v2");
        t.mountinfo("30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let db = t.cgroup_v2("/system.slice/db.service");
        db.limit(None)
            .usage(5000)
            .file("memory.swap.max", "0\n")
            .file("memory.oom.group", "1\n")
            .file(
                "memory.events",
                "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 1\n",
            );
        t.cgroup_v2("/init.scope").procs(&[1]);
        let fs = CgroupFs::new(t.root(), 4096).unwrap().unwrap();
        let m = fs
            .memory("/system.slice/db.service", Detail::Oom)
            .unwrap()
            .unwrap();
        assert_eq!(m.max, Some(Limit::Max));
        assert!(m.controller_enabled);
        assert_eq!(m.swap_max, Some(Limit::Bytes(0)));
        assert_eq!(m.oom_group, Some(true));
        assert_eq!(m.events.unwrap().oom_group_kill, Some(1));
        let n = fs.memory("/init.scope", Detail::Oom).unwrap().unwrap();
        assert!(!n.controller_enabled);
        assert_eq!((n.max, n.usage), (None, None));
        db.file("memory.events", "low 0\n");
        let err = fs
            .memory("/system.slice/db.service", Detail::Oom)
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory.events"), "{err}");
    }

    #[test]
    fn namespaced_mount_root() {
        let fs = CgroupFs::with_hierarchy(
            MemoryHierarchy {
                version: CgroupVersion::V1,
                dir: PathBuf::from("/r/mem"),
                mount_root: "/kubepods/pod1".into(),
            },
            4096,
        );
        assert_eq!(
            fs.dir_of("/kubepods/pod1/c"),
            Some(PathBuf::from("/r/mem/c"))
        );
        assert_eq!(fs.dir_of("/kubepods/pod1"), Some(PathBuf::from("/r/mem")));
        assert_eq!(fs.dir_of("/kubepods/pod10"), None);
        assert_eq!(fs.dir_of("/other"), None);
    }
}
