//! One process, held by a pidfd whose identity was checked.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

use crate::{ActError, Procfs, Refusal};

/// What was sampled about the target when it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// Pid.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat` as sampled.
    pub start_time: u64,
    /// The memory cgroup it was chosen in, as `/proc/PID/cgroup` names it.
    pub cgroup: &'a str,
}

/// Who must never be signalled besides PID 1 and kernel threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard<'a> {
    /// The guard's own pid (its children are refused too: hooks, helpers).
    pub own_pid: u32,
    /// Pids protected by the config's rules.
    pub protected: &'a [u32],
}

impl Guard<'_> {
    /// The refusals that depend on the pid and its stat fields only.
    pub fn refuse(&self, pid: u32, stat: &crate::StatFields) -> Option<Refusal> {
        if pid == 1 {
            Some(Refusal::Init)
        } else if pid == self.own_pid {
            Some(Refusal::Itself(pid))
        } else if stat.ppid == self.own_pid {
            Some(Refusal::Child(pid))
        } else if stat.kernel_thread() {
            Some(Refusal::KernelThread(pid))
        } else if self.protected.contains(&pid) {
            Some(Refusal::Protected(pid))
        } else {
            None
        }
    }
}

/// What `process_mrelease` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mrelease {
    /// The address space was reaped now (the caller need not wait for the exit path).
    Released,
    /// The kernel has no `process_mrelease` (before 5.15: ENOSYS).
    Unsupported,
    /// The process's memory was already gone (ESRCH).
    AlreadyGone,
}

/// A process held by a pidfd after the identity check: signals through it reach this
/// process or nobody.
#[derive(Debug)]
pub struct Target {
    fd: OwnedFd,
    pid: u32,
}

impl Target {
    /// Refusals by pid first (PID 1, ourselves, protected: no pidfd needed), then
    /// `pidfd_open`, then — *after* it — `/proc/PID/stat` and `/proc/PID/cgroup`: the start
    /// time and the cgroup must be the sampled ones, else the pid was reused (or the process
    /// moved) and nothing is held; then the refusals on the stat fields (kernel thread, child
    /// of the guard).
    ///
    /// The start time counts clock ticks (1/USER_HZ, 10 ms on every Linux ABI): a pid reused
    /// by a process forked within the tick the sampled one started in has the same start time
    /// and is refused by the cgroup check alone. Such a target lived under 10 ms, while the
    /// guard picks targets that have been sampled over whole passes.
    pub fn open(
        procfs: &Procfs,
        want: &Expected<'_>,
        guard: &Guard<'_>,
    ) -> Result<Target, ActError> {
        let pid = want.pid;
        if pid == 1 {
            return Err(Refusal::Init.into());
        }
        if pid == guard.own_pid {
            return Err(Refusal::Itself(pid).into());
        }
        if guard.protected.contains(&pid) {
            return Err(Refusal::Protected(pid).into());
        }
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(ActError::Gone(pid))?;
        let fd = match pidfd_open(raw, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::SRCH) => return Err(ActError::Gone(pid)),
            Err(e) => return Err(sys("pidfd_open", pid, e)),
        };
        let stat = procfs.stat(pid)?;
        if stat.start_time != want.start_time {
            return Err(Refusal::Reused {
                pid,
                sampled: want.start_time,
                now: stat.start_time,
            }
            .into());
        }
        if let Some(r) = guard.refuse(pid, &stat) {
            return Err(r.into());
        }
        let cgroup = procfs.memory_cgroup(pid)?;
        if cgroup != want.cgroup {
            return Err(Refusal::Moved {
                pid,
                expected: want.cgroup.to_owned(),
                now: cgroup,
            }
            .into());
        }
        // The stat was read after the pidfd was opened and named the sampled process, so the
        // pidfd names it too: a process that had exited before pidfd_open would have made it
        // fail (ESRCH) or, had its pid been reused, the stat would show the new start time.
        Ok(Target { fd, pid })
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `sig` through the pidfd. An exited target is [`ActError::Gone`].
    pub fn signal(&self, sig: Signal) -> Result<(), ActError> {
        match pidfd_send_signal(&self.fd, sig) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::SRCH) => Err(ActError::Gone(self.pid)),
            Err(e) => Err(sys("pidfd_send_signal", self.pid, e)),
        }
    }

    /// Whether the process has exited (the pidfd polls readable; a zombie counts as exited).
    pub fn exited(&self) -> Result<bool, ActError> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match poll(&mut fds, Some(&zero)) {
            Ok(n) => Ok(n > 0),
            Err(e) => Err(sys("poll", self.pid, e)),
        }
    }

    /// `process_mrelease(pidfd, 0)` (syscall 448, Linux 5.15; mm/oom_kill.c): reaps the
    /// address space of a process that has a SIGKILL pending now, instead of waiting for its
    /// own exit path (which can be slow when it is stuck in the kernel). rustix and libc
    /// have no wrapper: a raw syscall, as earlyoom's kill.c does it.
    pub fn mrelease(&self) -> Result<Mrelease, ActError> {
        use std::os::fd::AsRawFd;
        // SAFETY: the syscall takes an fd we own and a flags word; it touches no memory of ours.
        let r = unsafe { libc::syscall(libc::SYS_process_mrelease, self.fd.as_raw_fd(), 0) };
        if r == 0 {
            return Ok(Mrelease::Released);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOSYS) => Ok(Mrelease::Unsupported),
            Some(libc::ESRCH) => Ok(Mrelease::AlreadyGone),
            _ => Err(ActError::Sys {
                call: "process_mrelease",
                pid: self.pid,
                source: e,
            }),
        }
    }
}

impl AsFd for Target {
    /// The pidfd: register it in an epoll set for EPOLLIN, which comes when the process exits.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn sys(call: &'static str, pid: u32, e: rustix::io::Errno) -> ActError {
    ActError::Sys {
        call,
        pid,
        source: std::io::Error::from_raw_os_error(e.raw_os_error()),
    }
}
