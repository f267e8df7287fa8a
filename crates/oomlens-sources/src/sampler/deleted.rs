//! The rolling scan for files deleted while still open (their space is not freed until the
//! last holder closes them): a slice of the processes per pass.

use oomlens_model::{DeletedOpenFile, ProcessSample};

use super::{Sampler, DELETED_PER_PASS, DELETED_ROUND};
use crate::mounts;
use crate::SourceError;

impl Sampler {
    /// The rolling scan for deleted-but-open files: each pass looks at the next
    /// 1/[`DELETED_ROUND`] of the processes in pid order, at most [`DELETED_PER_PASS`]
    /// (all of them on the first pass), so a round takes [`DELETED_ROUND`] passes, or
    /// `processes / DELETED_PER_PASS` on hosts with more processes.
    pub(super) fn scan_deleted(&mut self, all: bool) -> Result<(), SourceError> {
        let mounts: Vec<mounts::MountUsage> = self
            .last
            .mounts
            .iter()
            .map(|m| mounts::MountUsage {
                mount_point: m.mount_point.clone(),
                fstype: m.fstype.clone(),
                total: m.total,
                used: m.used,
                avail: m.avail,
            })
            .collect();
        // The processes in groups (per cgroup, in walk order); the cursor is a place in them.
        let groups: Vec<&[ProcessSample]> = if self.cgfs.is_none() {
            vec![&self.last.processes[..]]
        } else {
            self.nodes
                .iter()
                .map(|n| match (&n.full, n.gone) {
                    (Some(st), false) => &st.procs[..],
                    _ => &[][..],
                })
                .collect()
        };
        let total: usize = groups.iter().map(|g| g.len()).sum();
        if total == 0 {
            self.deleted.clear();
            return Ok(());
        }
        let take = if all {
            total
        } else {
            total.div_ceil(DELETED_ROUND).clamp(1, DELETED_PER_PASS)
        };
        let (mut g, mut k) = self.deleted_cursor;
        if g >= groups.len() {
            (g, k) = (0, 0);
        }
        let mut found_any: Vec<(u32, Vec<DeletedOpenFile>)> = Vec::new();
        let mut done = 0;
        while done < take {
            if k >= groups[g].len() {
                (g, k) = ((g + 1) % groups.len(), 0);
                continue;
            }
            let p = &groups[g][k];
            k += 1;
            done += 1;
            let found: Vec<DeletedOpenFile> = mounts::deleted_files(&self.proc, p.pid)?
                .into_iter()
                .map(|d| DeletedOpenFile {
                    pid: d.pid,
                    comm: p.comm.clone(),
                    fd: d.fd,
                    mount: mounts::mount_of(&d.path, &mounts).map(|m| m.mount_point.clone()),
                    path: d.path,
                    size: d.size,
                })
                .collect();
            found_any.push((p.pid, found));
        }
        self.deleted_cursor = (g, k);
        self.stats.fd_scans += done;
        for (pid, found) in found_any {
            if found.is_empty() {
                self.deleted.remove(&pid);
            } else {
                self.deleted.insert(pid, found);
            }
        }
        if self.cgfs.is_none() {
            let live: std::collections::BTreeSet<u32> =
                self.last.processes.iter().map(|p| p.pid).collect();
            self.deleted.retain(|pid, _| live.contains(pid));
        }
        Ok(())
    }
}
