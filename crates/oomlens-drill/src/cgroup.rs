//! The drill's throwaway memory cgroup: found a place for, created with a limit, emptied and
//! removed. Nothing here touches a cgroup the drill did not create: the only writes outside
//! our own directory are v2's `+memory` in the hierarchy root's `cgroup.subtree_control`
//! when the root does not delegate it yet (a guest without an init system), never a limit.
//!
//! Where it goes:
//! - cgroup v1: below our own memory cgroup (`N:memory:/path` of `/proc/self/cgroup`). v1
//!   has no rule against children of a cgroup with processes, and a child is charged to our
//!   own cgroup's limits too, so the drill cannot reach past what we already may use.
//! - cgroup v2: below our own cgroup when that is the root (nothing else may hold processes
//!   and children with controllers, "no internal processes", cgroup-v2.rst 2-4), else below
//!   the hierarchy's root.
//!
//! The name is `oomlens-drill-<pid>-<random>`, so two drills (or a drill and a test) never
//! share one and a stale one is recognisable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oomlens_model::CgroupVersion;
use oomlens_sources::cgroupfs::{detect, MemoryHierarchy};

use crate::error::DrillError;

/// The prefix of every drill cgroup's name.
pub const NAME_PREFIX: &str = "oomlens-drill-";

/// A memory cgroup created for one drill; removed (with anything left in it) on drop.
#[derive(Debug)]
pub struct DrillCgroup {
    dir: PathBuf,
    path: String,
    version: CgroupVersion,
    removed: bool,
}

/// Where the drill cgroup goes: the memory hierarchy and the parent's path.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The memory controller's hierarchy.
    pub hierarchy: MemoryHierarchy,
    /// The parent cgroup, as the kernel prints paths (`/` or `/process_api/…`).
    pub parent: String,
}

/// Our own cgroup in the memory hierarchy (`/proc/self/cgroup`): the `memory` line for v1,
/// the `0::` line for v2.
fn own_path(version: CgroupVersion, proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = match version {
            CgroupVersion::V1 => controllers.split(',').any(|c| c == "memory"),
            CgroupVersion::V2 => id == "0" && controllers.is_empty(),
        };
        hit.then(|| path.to_string())
    })
}

/// Finds where this process may create the drill cgroup (see the module doc).
pub fn placement() -> Result<Placement, DrillError> {
    let no = |reason: String| DrillError::NoCgroup { reason };
    let layout = detect(Path::new("/")).map_err(|e| no(e.to_string()))?;
    let hierarchy = layout
        .memory
        .ok_or_else(|| no("no memory controller is mounted (v1 or v2)".into()))?;
    if hierarchy.mount_root != "/" {
        // Inside a cgroup namespace the kernel's paths in OOM reports are not knowable.
        return Err(no(format!(
            "the memory hierarchy is mounted from {:?}, not its root (a cgroup namespace): \
             the kernel's cgroup paths cannot be matched",
            hierarchy.mount_root
        )));
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|source| DrillError::Read {
        path: "/proc/self/cgroup".into(),
        source,
    })?;
    let own = own_path(hierarchy.version, &text)
        .ok_or_else(|| no("/proc/self/cgroup names no memory cgroup".into()))?;
    let parent = match hierarchy.version {
        CgroupVersion::V1 => own,
        CgroupVersion::V2 => "/".to_string(),
    };
    Ok(Placement { hierarchy, parent })
}

fn dir_of(hierarchy: &MemoryHierarchy, path: &str) -> PathBuf {
    hierarchy.dir.join(path.trim_start_matches('/'))
}

fn write(path: &Path, value: &str) -> Result<(), DrillError> {
    std::fs::write(path, value).map_err(|source| DrillError::WriteCgroup {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

impl DrillCgroup {
    /// Creates `oomlens-drill-<pid>-<random>` below `at.parent` with a memory limit of
    /// `limit` bytes and no swap.
    pub fn create(at: &Placement, limit: u64) -> Result<DrillCgroup, DrillError> {
        let version = at.hierarchy.version;
        let parent_dir = dir_of(&at.hierarchy, &at.parent);
        if version == CgroupVersion::V2 {
            enable_memory(&parent_dir)?;
        }
        let name = format!("{NAME_PREFIX}{}-{}", std::process::id(), random_suffix());
        let path = match at.parent.as_str() {
            "/" => format!("/{name}"),
            p => format!("{}/{name}", p.trim_end_matches('/')),
        };
        let dir = parent_dir.join(&name);
        std::fs::create_dir(&dir).map_err(|source| DrillError::CreateCgroup {
            path: dir.clone(),
            source,
        })?;
        let mut cg = DrillCgroup {
            dir,
            path,
            version,
            removed: false,
        };
        cg.limit(limit)?;
        Ok(cg)
    }

    fn limit(&mut self, limit: u64) -> Result<(), DrillError> {
        let bytes = limit.to_string();
        match self.version {
            CgroupVersion::V1 => {
                write(&self.dir.join("memory.limit_in_bytes"), &bytes)?;
                // memory+swap no higher than memory: the drill must not end up swapping.
                let memsw = self.dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &bytes)?;
                }
            }
            CgroupVersion::V2 => {
                let max = self.dir.join("memory.max");
                if !max.exists() {
                    return Err(DrillError::NoCgroup {
                        reason: format!(
                            "{} has no memory.max: the memory controller is not enabled there",
                            self.dir.display()
                        ),
                    });
                }
                write(&max, &bytes)?;
                let swap = self.dir.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                }
            }
        }
        Ok(())
    }

    /// The cgroup as the kernel prints it in OOM reports (`task_memcg=`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// v1 or v2.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The file a process writes `0` to in order to move itself in.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The processes in it now.
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.procs_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The kernel's count of OOM kills in it (v1 `memory.oom_control` `oom_kill`, 4.13+;
    /// v2 `memory.events` `oom_kill`).
    pub fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.oom_control",
            CgroupVersion::V2 => "memory.events",
        };
        let text = std::fs::read_to_string(self.dir.join(file)).ok()?;
        text.lines().find_map(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// SIGKILLs everything left in it and removes it. Returns what could not be done.
    pub fn remove(&mut self) -> Result<String, String> {
        if self.removed {
            return Ok("already removed".into());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut killed = 0;
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                match std::fs::remove_dir(&self.dir) {
                    Ok(()) => {
                        self.removed = true;
                        return Ok(format!(
                            "removed {} ({killed} process(es) killed)",
                            self.path
                        ));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        self.removed = true;
                        return Ok("already gone".into());
                    }
                    // EBUSY while the last exiting task is still being released.
                    Err(e) if Instant::now() > deadline => {
                        return Err(format!("cannot remove {}: {e}", self.dir.display()))
                    }
                    Err(_) => {}
                }
            } else if Instant::now() > deadline {
                return Err(format!(
                    "{} still holds {} process(es) after 10 s",
                    self.dir.display(),
                    pids.len()
                ));
            }
            for pid in pids {
                // Every process in this cgroup is one the drill started (the cgroup is new and
                // its name random), so killing them cannot hit anything else.
                // SAFETY: kill has no memory preconditions.
                if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
                    killed += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DrillCgroup {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// A random suffix of 6 lowercase letters.
pub fn random_suffix() -> String {
    let mut rng = fastrand::Rng::new();
    (0..6).map(|_| rng.lowercase()).collect()
}

/// v2: children of `dir` get the memory controller only when `dir` delegates it.
fn enable_memory(dir: &Path) -> Result<(), DrillError> {
    let control = dir.join("cgroup.subtree_control");
    let now = std::fs::read_to_string(&control).unwrap_or_default();
    if now.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    write(&control, "+memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_path_reads_the_memory_line_for_v1_and_the_unified_line_for_v2() {
        let text = "9:name=systemd:/\n4:memory:/process_api/abc\n0::/user.slice\n";
        assert_eq!(
            own_path(CgroupVersion::V1, text).as_deref(),
            Some("/process_api/abc")
        );
        assert_eq!(
            own_path(CgroupVersion::V2, text).as_deref(),
            Some("/user.slice")
        );
        assert_eq!(own_path(CgroupVersion::V1, "0::/\n"), None);
        assert_eq!(
            own_path(CgroupVersion::V1, "4:cpu,memory:/a\n").as_deref(),
            Some("/a")
        );
    }
}
