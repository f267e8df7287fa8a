//! The process and memory-cgroup snapshot `oomlens rank` works on, read below a root: every
//! process from procfs, the memory cgroups they live in and all their ancestors (with the
//! files that decide an OOM, [`Detail::Oom`]), RAM, swap and the OOM sysctls.

use std::path::Path;

use oomlens_model::{cgroup_path, CgroupMemory, CgroupVersion, Machine};
use oomlens_model::{Snapshot, System, Task};

use crate::cgroupfs::{CgroupFs, Detail};
use crate::procfs::{self, ProcFs, Process};
use crate::SourceError;

/// Reads the snapshot of the tree at `root`. `extra` names one more cgroup to read (with
/// its ancestors) even when no process lives in it. `page_size` is the page size of the
/// machine the tree comes from.
pub fn read_snapshot(
    root: &Path,
    page_size: u64,
    extra: Option<&str>,
) -> Result<Snapshot, SourceError> {
    let proc = ProcFs::new(root);
    let procs = proc.processes()?;
    let cgfs = CgroupFs::new(root, page_size)?;
    let version = cgfs.as_ref().map(|c| c.hierarchy().version);
    // The kernel's global init is pid 1 only if this /proc is the initial pid namespace,
    // the only one where kernel threads are visible.
    let init_ns = procs.list.iter().any(Process::is_kernel_thread);
    let global_init = (init_ns && procs.list.iter().any(|p| p.pid == 1)).then_some(1);
    let tasks: Vec<Task> = procs.list.iter().map(|p| task(p, version)).collect();
    let cgroups = match &cgfs {
        Some(fs) => read_cgroups(fs, &tasks, extra)?,
        None => Vec::new(),
    };
    Ok(Snapshot {
        system: System {
            page_size,
            release: proc.kernel_release()?,
            version: version.unwrap_or(CgroupVersion::V2),
            machine: machine(&proc)?,
            tasks,
            cgroups,
            global_init,
        },
        vanished: procs.vanished,
        memcg_version: version,
    })
}

/// A process as the OOM killer weighs it; its memory cgroup is the line of `version`.
fn task(p: &Process, version: Option<CgroupVersion>) -> Task {
    let memcg = match version {
        Some(CgroupVersion::V1) => procfs::memory_v1_path(&p.cgroups),
        Some(CgroupVersion::V2) => procfs::unified_path(&p.cgroups),
        None => None,
    };
    Task {
        pid: p.pid,
        comm: p.comm.clone(),
        uid: Some(p.status.uid[0]),
        rss_bytes: p.rss_bytes(),
        swap_bytes: p.status.vm_swap.unwrap_or(0),
        pgtables_bytes: p.status.vm_pte.unwrap_or(0),
        oom_score_adj: p.oom_score_adj,
        oom_score: Some(p.oom_score),
        memcg: memcg.map(str::to_string),
        kernel_thread: p.is_kernel_thread(),
        has_mm: p.has_mm(),
        start_time: p.stat.starttime,
        threads: p.status.threads.unwrap_or(p.stat.num_threads as u32),
    }
}

/// The cgroups of `tasks` and `extra` and all their ancestors, sorted by path.
fn read_cgroups(
    fs: &CgroupFs,
    tasks: &[Task],
    extra: Option<&str>,
) -> Result<Vec<CgroupMemory>, SourceError> {
    let mut paths: Vec<&str> = tasks
        .iter()
        .filter_map(|t| t.memcg.as_deref())
        .chain(extra)
        .flat_map(|p| std::iter::once(p).chain(cgroup_path::ancestors(p)))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        match fs.memory(path, Detail::Oom)? {
            // A v1 directory without limit or usage file is no memory cgroup.
            Some(m) if m.version == CgroupVersion::V1 && (m.max.is_none() || m.usage.is_none()) => {
            }
            Some(m) => out.push(m),
            None => {}
        }
    }
    Ok(out)
}

/// RAM, swap and the OOM sysctls.
fn machine(proc: &ProcFs) -> Result<Machine, SourceError> {
    let mi = proc.meminfo()?;
    Ok(Machine {
        mem_total_bytes: mi.mem_total,
        mem_available_bytes: mi.mem_available,
        mem_free_bytes: mi.mem_free,
        swap_total_bytes: mi.swap_total,
        swap_free_bytes: mi.swap_free,
        vm_swappiness: proc
            .sysctl_int("vm/swappiness")?
            .and_then(|v| u64::try_from(v).ok()),
        panic_on_oom: proc.sysctl_int("vm/panic_on_oom")?,
        oom_kill_allocating_task: proc
            .sysctl_int("vm/oom_kill_allocating_task")?
            .map(|v| v != 0),
        online_cpus: proc.online_cpus()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::Limit;
    use oomlens_testkit::faketree::{FakeTree, Status};

    /// A process in memory cgroup `memcg` (a kernel thread when empty), `rss_kb` anon, uid
    /// 7. Its `status` has no `State:` and no `VmRSS:` line: the snapshot's RSS is the sum
    /// of the `Rss*` parts.
    fn proc(t: &FakeTree, pid: u32, memcg: &str, rss_kb: u64, v2: bool) {
        let name = format!("p{pid}");
        let kthread = memcg.is_empty();
        let status = if kthread {
            Status::kernel_thread(&name)
        } else {
            Status::new(&name)
                .user_thread()
                .anon_kib(rss_kb)
                .pte_kib(8)
                .swap_kib(4)
        };
        let cg = if kthread { "/" } else { memcg };
        let line = if v2 {
            format!("0::{cg}\n")
        } else {
            format!("4:memory:{cg}\n0::/\n")
        };
        t.process(pid)
            .status(&status.uid(7).threads(2).omit("State").omit("VmRSS"))
            .file(
                "stat",
                format!("{pid} ({name}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 {pid}0 0 0"),
            )
            .oom_score(5)
            .oom_score_adj(-7)
            .comm(&name)
            .cgroup(&line);
    }

    /// cgroup2 at `/sys/fs/cgroup`, mounted without `nsdelegate`.
    const V2_MOUNT: &str = "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

    /// `meminfo` without `MemAvailable` and with swap, and `panic_on_oom` 2.
    fn meminfo(t: &FakeTree) {
        t.file(
            "proc/meminfo",
            "MemTotal: 1024 kB\nMemFree: 512 kB\nSwapTotal: 256 kB\nSwapFree: 128 kB\n",
        )
        .file("proc/sys/vm/panic_on_oom", "2\n");
    }

    #[test]
    fn v1_snapshot_reads_tasks_cgroups_with_ancestors_and_the_machine() {
        let t = FakeTree::new("snapshot");
        t.mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        meminfo(&t);
        proc(&t, 1, "/", 100, false);
        proc(&t, 2, "", 0, false);
        proc(&t, 10, "/a/b", 400, false);
        for (dir, limit) in [("", None), ("/a/b", Some(4_096_000)), ("/x", Some(8192))] {
            t.cgroup_v1(dir).limit(limit).usage(1000);
        }
        t.cgroup_v1("/a/b")
            .file("memory.oom_control", "oom_kill_disable 1\nunder_oom 0\n");
        // /a exists without memory files: not a memory cgroup, left out.
        t.cgroup_v1("/a");
        let s = read_snapshot(t.root(), 4096, Some("/x")).unwrap();
        assert_eq!(s.memcg_version, Some(CgroupVersion::V1));
        assert_eq!(s.system.global_init, Some(1), "kernel threads visible");
        let paths: Vec<&str> = s.system.cgroups.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/", "/a/b", "/x"]);
        let ab = &s.system.cgroups[1];
        assert_eq!(ab.limit(), Limit::Bytes(4_096_000));
        assert_eq!(s.system.cgroups[0].limit(), Limit::Max);
        assert!(ab.oom_kill_disable() && !ab.under_oom());
        let task = s.system.tasks.iter().find(|t| t.pid == 10).unwrap();
        assert_eq!(task.memcg.as_deref(), Some("/a/b"));
        assert_eq!(
            (task.rss_bytes, task.swap_bytes, task.pgtables_bytes),
            (400 << 10, 4 << 10, 8 << 10)
        );
        assert_eq!(
            (task.uid, task.oom_score_adj, task.threads),
            (Some(7), -7, 2)
        );
        assert!(s.system.tasks.iter().any(|t| t.pid == 2 && t.kernel_thread));
        assert_eq!(s.system.machine.mem_total_bytes, 1 << 20);
        assert_eq!(s.system.machine.swap_free_bytes, 128 << 10);
        assert_eq!(s.system.machine.panic_on_oom, Some(2));
    }

    #[test]
    fn v2_cgroup_without_the_controller_is_unlimited_and_no_hierarchy_reads_none() {
        let t = FakeTree::new("snapshot");
        t.mountinfo(V2_MOUNT);
        meminfo(&t);
        proc(&t, 5, "/svc", 100, true);
        t.cgroup_v2("/svc")
            .limit(Some(1 << 20))
            .file("memory.oom.group", "1\n");
        let s = read_snapshot(t.root(), 4096, None).unwrap();
        assert_eq!(s.memcg_version, Some(CgroupVersion::V2));
        assert_eq!(
            s.system.global_init, None,
            "no kernel thread: not the initial pid ns"
        );
        let root = &s.system.cgroups[0];
        assert_eq!((root.path.as_str(), root.limit()), ("/", Limit::Max));
        assert!(!root.controller_enabled);
        let svc = &s.system.cgroups[1];
        assert_eq!(
            (svc.limit(), svc.kills_as_group()),
            (Limit::Bytes(1 << 20), true)
        );

        std::fs::remove_file(t.root().join("proc/self/mountinfo")).unwrap();
        std::fs::remove_dir_all(t.root().join("sys")).unwrap();
        let s = read_snapshot(t.root(), 4096, None).unwrap();
        assert_eq!(s.memcg_version, None);
        assert!(s.system.cgroups.is_empty());
        assert_eq!(s.system.tasks[0].memcg, None);
    }

    #[test]
    fn bad_cgroup_content_is_an_error_naming_the_file() {
        let t = FakeTree::new("snapshot");
        t.mountinfo(V2_MOUNT);
        meminfo(&t);
        proc(&t, 5, "/svc", 100, true);
        t.cgroup_v2("/svc").file("memory.max", "lots\n");
        let err = read_snapshot(t.root(), 4096, None).unwrap_err().to_string();
        assert!(err.contains("svc/memory.max"), "{err}");
    }
}
