//! The process and memory-cgroup snapshot `oomlens rank` works on, read below a root: every
//! process from procfs, the memory cgroups they live in and all their ancestors (with the
//! files that decide an OOM, [`Detail::Oom`]), RAM, swap and the OOM sysctls.

use std::path::Path;

use oomlens_model::{cgroup_path, Cgroup, CgroupMemory, CgroupVersion, Limit, Machine};
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
) -> Result<Vec<Cgroup>, SourceError> {
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
        if let Some(c) = fs.memory(path, Detail::Oom)?.and_then(cgroup) {
            out.push(c);
        }
    }
    Ok(out)
}

/// The OOM view of one cgroup read. A v1 cgroup without limit or usage file is not a
/// memory cgroup (`None`); a v2 cgroup without `memory.max` has the controller off and no
/// limit of its own.
fn cgroup(m: CgroupMemory) -> Option<Cgroup> {
    if m.version == CgroupVersion::V1 && (m.max.is_none() || m.usage.is_none()) {
        return None;
    }
    let oc = m.oom_control.unwrap_or_default();
    Some(Cgroup {
        path: m.path,
        limit: m.max.unwrap_or(Limit::Max),
        usage_bytes: m.usage,
        memsw_limit: m.memsw_limit,
        swap_max: m.swap_max,
        swappiness: m.swappiness,
        use_hierarchy: m.use_hierarchy,
        oom_kill_disable: oc.oom_kill_disable,
        under_oom: oc.under_oom,
        oom_group: m.oom_group.unwrap_or(false),
    })
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
