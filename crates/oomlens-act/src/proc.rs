//! The two /proc files the identity check reads, parsed from text.

use std::path::{Path, PathBuf};

use crate::ActError;

/// `PF_KTHREAD` (include/linux/sched.h): the flag of a kernel thread.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// Where /proc is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procfs {
    root: PathBuf,
}

impl Default for Procfs {
    fn default() -> Self {
        Procfs::new("/proc")
    }
}

/// The fields of `/proc/PID/stat` the checks use (proc(5) numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    /// Field 4, the parent pid.
    pub ppid: u32,
    /// Field 9, the kernel flags (`PF_*`).
    pub flags: u64,
    /// Field 22, start time in clock ticks since boot.
    pub start_time: u64,
}

impl StatFields {
    /// `PF_KTHREAD` is set.
    pub fn kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Parses the text of `/proc/PID/stat`. The comm (field 2) may hold spaces and
    /// parentheses: the fields after it start after the *last* `)`.
    pub fn parse(text: &str) -> Option<StatFields> {
        let rest = &text[text.rfind(')')? + 1..];
        // rest: " S ppid pgrp session tty tpgid flags ..." — field 3 is the first word.
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        Some(StatFields {
            ppid: u32::try_from(field(4)?).ok()?,
            flags: field(9)?,
            start_time: field(22)?,
        })
    }
}

/// The memory cgroup path of a `/proc/PID/cgroup` text: the v1 line listing `memory`, else
/// the v2 `0::` line.
pub fn memory_cgroup(text: &str) -> Option<&str> {
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (id, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrl.split(',').any(|c| c == "memory") {
            return Some(path);
        }
        if id == "0" && ctrl.is_empty() {
            v2 = Some(path);
        }
    }
    v2
}

impl Procfs {
    /// /proc at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Procfs {
        Procfs { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, pid: u32, file: &str) -> Result<(PathBuf, String), ActError> {
        let path = self.root.join(pid.to_string()).join(file);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok((path, t)),
            Err(e) => Err(ActError::io(path, e, Some(pid))),
        }
    }

    /// `/proc/PID/stat`'s fields.
    pub fn stat(&self, pid: u32) -> Result<StatFields, ActError> {
        let (path, text) = self.read(pid, "stat")?;
        StatFields::parse(&text).ok_or(ActError::Parse {
            path,
            why: "fewer than 22 fields",
        })
    }

    /// The memory cgroup of `pid` as `/proc/PID/cgroup` names it.
    pub fn memory_cgroup(&self, pid: u32) -> Result<String, ActError> {
        let (path, text) = self.read(pid, "cgroup")?;
        memory_cgroup(&text)
            .map(str::to_owned)
            .ok_or(ActError::Parse {
                path,
                why: "no memory controller line",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_comm_with_spaces_and_parentheses() {
        // A real line of a kernel thread (kthreadd, flags 0x208040) and a crafted comm.
        let k = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0 \
                 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        let s = StatFields::parse(k).unwrap();
        assert_eq!((s.ppid, s.flags, s.start_time), (0, 2129984, 7));
        assert!(s.kernel_thread());
        let u = "4242 (a) b) (c) R 17 4242 4242 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let s = StatFields::parse(u).unwrap();
        assert_eq!((s.ppid, s.flags, s.start_time), (17, 4194304, 987654));
        assert!(!s.kernel_thread());
        assert_eq!(StatFields::parse("12 (x) S 1 2 3"), None);
    }

    #[test]
    fn memory_cgroup_prefers_the_v1_memory_line() {
        let v1 = "9:name=systemd:/\n4:memory:/process_api/x/oomlens-test-1\n0::/\n";
        assert_eq!(memory_cgroup(v1), Some("/process_api/x/oomlens-test-1"));
        assert_eq!(
            memory_cgroup("0::/system.slice/a.service\n"),
            Some("/system.slice/a.service")
        );
        assert_eq!(memory_cgroup("4:cpu,memory:/a\n"), Some("/a"));
        assert_eq!(memory_cgroup("3:cpu:/a\n"), None);
    }
}
