//! The drill's own allocator: this executable started again (`/proc/self/exe drill --child
//! SPEC`), moved into the drill cgroup before `exec` so that not one page it touches is
//! charged outside the limit. It is the product's own code rather than a test tool, so a
//! drill on a production host needs nothing but the oomlens binary.
//!
//! SPEC is `MODE:MIB:DELAY_MS[:RATE]`:
//! - `alloc:CAP:D`: touch anonymous memory 1 MiB at a time until killed, at most CAP MiB.
//! - `hold:N:D`: touch N MiB, print `ready` on standard output, then sleep until killed.
//! - `tmpfs:CAP:D`: in a private mount namespace, mount a tmpfs (size CAP MiB) on the temp
//!   directory and write a file into it 1 MiB at a time until killed. The pages are shmem
//!   charged to the cgroup; the mount dies with the namespace, i.e. with this process, so
//!   nothing is left behind whatever happens to the drill.
//!
//! - `pressure:CAP:D`: like `alloc`, and after each MiB rewrite 1 MiB of an unlinked
//!   scratch file in the temp directory (cycling over its first CAP/2 MiB), so that the
//!   cgroup always holds page cache that reclaim scans. systemd-oomd acts on pressure only
//!   while the cgroup's `pgscan` rises (oomd-manager.c: no kill without reclaim activity in
//!   the last 30 s), and without swap the kernel does not scan anonymous memory at all.
//!
//! D is a pause in milliseconds before the first allocation (tests use it to interrupt a
//! drill while its processes are alive). RATE (`alloc`, `tmpfs`; `--rate`) paces the
//! allocation to that many MiB a second, so that a running guard samples the cgroup on its
//! way to the limit (0 or absent: as fast as it goes). Exit statuses when not killed: 3 the cap was
//! reached (the limit did not act), 4 an allocation or write failed.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::error::DrillError;

/// Exit status of an allocator that reached its cap without being killed.
pub const EXIT_CAP: i32 = 3;
/// Exit status of an allocator whose allocation or write failed.
pub const EXIT_ALLOC_FAILED: i32 = 4;

/// What the allocator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Anonymous memory until killed.
    Alloc,
    /// Anonymous memory up to an amount, then wait.
    Hold,
    /// A tmpfs file until killed.
    Tmpfs,
    /// Anonymous memory and page cache until killed (systemd-oomd's drill).
    Pressure,
}

/// A parsed SPEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// What to do.
    pub mode: Mode,
    /// The cap (alloc, tmpfs) or the amount (hold), MiB.
    pub mib: u64,
    /// Pause before the first allocation, milliseconds.
    pub delay_ms: u64,
    /// MiB a second for `alloc` and `tmpfs`; 0: no pacing.
    pub rate: u64,
}

impl Spec {
    /// The SPEC string.
    pub fn to_arg(self) -> String {
        let mode = match self.mode {
            Mode::Alloc => "alloc",
            Mode::Hold => "hold",
            Mode::Tmpfs => "tmpfs",
            Mode::Pressure => "pressure",
        };
        format!("{mode}:{}:{}:{}", self.mib, self.delay_ms, self.rate)
    }

    /// Parses a SPEC string.
    pub fn parse(s: &str) -> Result<Spec, DrillError> {
        let bad = || DrillError::Child(format!("bad spec {s:?}: want MODE:MIB:DELAY_MS[:RATE]"));
        let mut parts = s.split(':');
        let mode = match parts.next() {
            Some("alloc") => Mode::Alloc,
            Some("hold") => Mode::Hold,
            Some("tmpfs") => Mode::Tmpfs,
            Some("pressure") => Mode::Pressure,
            _ => return Err(bad()),
        };
        let mib = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let delay_ms = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let rate = match parts.next() {
            Some(v) => v.parse().map_err(|_| bad())?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Spec {
            mode,
            mib,
            delay_ms,
            rate,
        })
    }
}

const MIB: usize = 1 << 20;

/// Paces an allocation to `rate` MiB a second (0: no pause).
struct Pace {
    rate: u64,
    start: std::time::Instant,
}

impl Pace {
    fn new(rate: u64) -> Pace {
        Pace {
            rate,
            start: std::time::Instant::now(),
        }
    }

    /// After `done` MiB: sleeps until the time `done` MiB are due at the rate.
    fn after(&self, done: u64) {
        if self.rate == 0 {
            return;
        }
        let due = self.start + Duration::from_secs_f64(done as f64 / self.rate as f64);
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// The allocator's comm, as the kernel's OOM report prints it.
pub const COMM: &std::ffi::CStr = c"oomlens-drill";

/// Runs the allocator in this process; returns its exit status when it was not killed.
pub fn run(spec: Spec) -> i32 {
    // Started as /proc/self/exe its comm is "exe"; the kernel's report should name it.
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, COMM.as_ptr()) };
    std::thread::sleep(Duration::from_millis(spec.delay_ms));
    match spec.mode {
        Mode::Alloc | Mode::Hold => {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            let pace = Pace::new(if spec.mode == Mode::Alloc {
                spec.rate
            } else {
                0
            });
            for i in 0..spec.mib {
                // A non-zero fill writes every page, so each one is charged.
                kept.push(vec![0x5a; MIB]);
                pace.after(i + 1);
            }
            if spec.mode == Mode::Alloc {
                return EXIT_CAP;
            }
            let mut out = std::io::stdout().lock();
            if writeln!(out, "ready").and_then(|()| out.flush()).is_err() {
                return EXIT_ALLOC_FAILED;
            }
            drop(out);
            loop {
                std::thread::sleep(Duration::from_secs(3600));
                std::hint::black_box(&kept);
            }
        }
        Mode::Pressure => match pressure(spec.mib) {
            Ok(()) => EXIT_CAP,
            Err(e) => {
                eprintln!("oomlens drill allocator: {e}");
                EXIT_ALLOC_FAILED
            }
        },
        Mode::Tmpfs => match fill_tmpfs(spec.mib, spec.rate) {
            Ok(()) => EXIT_CAP,
            Err(e) => {
                eprintln!("oomlens drill allocator: {e}");
                EXIT_ALLOC_FAILED
            }
        },
    }
}

/// Anonymous memory plus page cache that reclaim can scan (see the module doc).
fn pressure(cap_mib: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let path = std::env::temp_dir().join(format!("oomlens-drill-{}", std::process::id()));
    let f = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    // Unlinked at once: its blocks are freed when this process dies, however it dies.
    std::fs::remove_file(&path)?;
    let chunk = vec![0x5a; MIB];
    let span = (cap_mib / 2).max(1);
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for i in 0..cap_mib {
        kept.push(vec![0x5a; MIB]);
        f.write_all_at(&chunk, (i % span) * MIB as u64)?;
    }
    std::hint::black_box(&kept);
    Ok(())
}

/// Mounts a private tmpfs on the temp directory and fills a file in it.
fn fill_tmpfs(cap_mib: u64, rate: u64) -> std::io::Result<()> {
    let dir = std::env::temp_dir();
    let target = CString::new(dir.as_os_str().as_encoded_bytes())?;
    let opts = CString::new(format!("size={}m,mode=0700", cap_mib + 1))?;
    // SAFETY: plain syscalls with valid NUL-terminated strings.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Private propagation first, so the tmpfs is never seen outside this namespace.
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        if libc::mount(
            c"oomlens-drill".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            opts.as_ptr().cast(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mut f = std::fs::File::create(dir.join("fill"))?;
    let chunk = vec![0x5a; MIB];
    let pace = Pace::new(rate);
    for i in 0..cap_mib {
        f.write_all(&chunk)?;
        pace.after(i + 1);
    }
    Ok(())
}

/// Starts the allocator: this executable with `drill --child SPEC`, moved into the cgroup
/// whose `cgroup.procs` is `procs` before `exec`, with `oom_score_adj` set first when given.
/// Its standard output is piped (for `hold`'s `ready`).
pub fn spawn(spec: Spec, procs: &Path, oom_score_adj: Option<i32>) -> Result<Child, DrillError> {
    let exe = Path::new("/proc/self/exe");
    let procs = CString::new(procs.as_os_str().as_encoded_bytes())
        .map_err(|e| DrillError::Child(e.to_string()))?;
    let adj = oom_score_adj.map(|a| a.to_string());
    let mut cmd = Command::new(exe);
    cmd.args(["drill", "--child", &spec.to_arg()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls (open, write, close) on
    // buffers made before the fork: the drill has other threads, so no allocation here.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(adj) = &adj {
                write_raw(c"/proc/self/oom_score_adj".as_ptr(), adj.as_bytes())?;
            }
            write_raw(procs.as_ptr(), b"0")
        });
    }
    cmd.spawn().map_err(|source| DrillError::Spawn {
        program: exe.to_path_buf(),
        source,
    })
}

/// open + write + close without allocating.
fn write_raw(path: *const libc::c_char, bytes: &[u8]) -> std::io::Result<()> {
    // SAFETY: `path` is NUL-terminated and outlives the call; `bytes` is a valid buffer.
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_bad_ones_are_refused() {
        for s in [
            "alloc:256:0:0",
            "hold:40:10:0",
            "tmpfs:256:0:8",
            "pressure:96:0:0",
        ] {
            assert_eq!(Spec::parse(s).unwrap().to_arg(), s);
        }
        // Without RATE: no pacing.
        assert_eq!(Spec::parse("alloc:64:5").unwrap().rate, 0);
        for s in [
            "",
            "alloc",
            "alloc:x:0",
            "alloc:1:2:x",
            "alloc:1:2:3:4",
            "grow:1:0",
        ] {
            assert!(Spec::parse(s).is_err(), "{s}");
        }
    }
}
