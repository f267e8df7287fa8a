//! A throw-away memory cgroup (v1) under our own, for tests that make the kernel's OOM
//! killer act.
//!
//! Our memory cgroup is the `N:memory:/path` line of `/proc/self/cgroup`; its directory is
//! found through the `cgroup` mount with the `memory` option in `/proc/self/mountinfo`.
//! [`MemoryCgroup::create`] makes `oomlens-test-<pid>-<n>` below it, sets
//! `memory.limit_in_bytes`, and [`MemoryCgroup::spawn`] starts commands inside it (the child
//! writes `0` to `cgroup.procs` before `exec`, so nothing runs outside the limit). On drop,
//! everything left in the cgroup is SIGKILLed, our children are reaped, and the directory is
//! removed once `cgroup.procs` is empty.
//!
//! The kernel prints memcg paths relative to the root of the v1 memory hierarchy
//! (`oom_memcg=/process_api/<id>/oomlens-test-…`); [`MemoryCgroup::path`] gives that form. It
//! equals the `/proc/self/cgroup` path as long as the test does not run in a cgroup namespace
//! (there, `/proc/self/cgroup` is relative to the namespace root and the kernel's form is not
//! knowable from inside); [`own_memory_cgroup`] refuses that case.

use std::ffi::CString;
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Our own memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCgroup {
    /// The path as the kernel prints it (relative to the hierarchy root), e.g. `/process_api/5f17…`.
    pub path: String,
    /// Its directory, e.g. `/sys/fs/cgroup/memory/process_api/5f17…`.
    pub dir: PathBuf,
}

/// Finds our memory cgroup (v1) from `/proc/self/cgroup` and `/proc/self/mountinfo`.
pub fn own_memory_cgroup() -> io::Result<OwnCgroup> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    own_memory_cgroup_from(&cgroup, &mountinfo)
}

/// [`own_memory_cgroup`] from the text of `/proc/self/cgroup` and `/proc/self/mountinfo`.
pub fn own_memory_cgroup_from(cgroup: &str, mountinfo: &str) -> io::Result<OwnCgroup> {
    let path = cgroup
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_string())
        })
        .ok_or_else(|| not_found("no `memory` (cgroup v1) line in /proc/self/cgroup"))?;
    // mountinfo: id parent major:minor root mountpoint opts ... - fstype source superopts
    let (root, mountpoint) = mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split(' ');
            let (fstype, _source, superopts) = (right.next()?, right.next()?, right.next()?);
            if fstype != "cgroup" || !superopts.split(',').any(|o| o == "memory") {
                return None;
            }
            let fields: Vec<&str> = left.split(' ').collect();
            Some((
                unescape_mountinfo(fields.get(3)?),
                unescape_mountinfo(fields.get(4)?),
            ))
        })
        .ok_or_else(|| not_found("no cgroup v1 mount with the memory controller"))?;
    if root != "/" {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the memory hierarchy is mounted from {root:?}, not its root (cgroup namespace?): \
                 the kernel's paths cannot be derived"
            ),
        ));
    }
    let dir = Path::new(&mountpoint).join(path.trim_start_matches('/'));
    Ok(OwnCgroup { path, dir })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            out.push(
                d.iter()
                    .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
            );
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, msg.to_string())
}

/// Why this machine cannot run the real-kernel tests, or `Ok` when it can: root, a cgroup v1
/// memory hierarchy with a writable own cgroup, and a readable `/dev/kmsg`.
pub fn check_environment() -> Result<OwnCgroup, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    let own = own_memory_cgroup().map_err(|e| format!("memory cgroup v1: {e}"))?;
    if !own.dir.join("memory.limit_in_bytes").exists() {
        return Err(format!(
            "{} has no memory.limit_in_bytes",
            own.dir.display()
        ));
    }
    let probe = own
        .dir
        .join(format!("oomlens-probe-{}", std::process::id()));
    std::fs::create_dir(&probe)
        .map_err(|e| format!("cannot create a child cgroup in {}: {e}", own.dir.display()))?;
    let _ = std::fs::remove_dir(&probe);
    std::fs::File::open("/dev/kmsg").map_err(|e| format!("cannot read /dev/kmsg: {e}"))?;
    Ok(own)
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A child memory cgroup that exists for one test.
pub struct MemoryCgroup {
    path: String,
    dir: PathBuf,
    children: Vec<Child>,
    /// Directories made between the parent and `dir` (nested children), removed after it.
    between: Vec<PathBuf>,
}

/// A process started in a [`MemoryCgroup`], with its stdout lines.
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    pub seen: Vec<String>,
}

impl Proc {
    /// Waits until a stdout line starting with `prefix` arrives and returns it.
    pub fn wait_line(&mut self, prefix: &str, timeout: Duration) -> io::Result<String> {
        if let Some(line) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return Ok(line.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return Ok(line);
                    }
                }
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "pid {}: no line {prefix:?} within {timeout:?} ({e}); seen {:?}",
                            self.pid, self.seen
                        ),
                    ))
                }
            }
        }
    }

    /// Collects the lines that arrived so far without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }
}

impl MemoryCgroup {
    /// Creates `oomlens-test-<pid>-<n>` under our own memory cgroup with the given limit.
    pub fn create(limit_bytes: u64) -> io::Result<MemoryCgroup> {
        let own = own_memory_cgroup()?;
        Self::create_under(&own, limit_bytes)
    }

    /// Creates a test cgroup under `parent`.
    pub fn create_under(parent: &OwnCgroup, limit_bytes: u64) -> io::Result<MemoryCgroup> {
        loop {
            let name = format!(
                "oomlens-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let dir = parent.dir.join(&name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(with_path(e, &dir)),
            }
            let path = format!("{}/{name}", parent.path.trim_end_matches('/'));
            let cg = MemoryCgroup {
                path,
                dir,
                children: Vec::new(),
                between: Vec::new(),
            };
            cg.write("memory.limit_in_bytes", &limit_bytes.to_string())?;
            return Ok(cg);
        }
    }

    /// A cgroup nested below this one at `rel` (`system.slice/worker.service`,
    /// `kubepods/burstable/pod<uid>/<id>`), so a test can give its cgroup the path a real
    /// service or container has. Drop it before its parent; it removes the directories it
    /// made.
    pub fn nested(&self, rel: &str, limit_bytes: u64) -> io::Result<MemoryCgroup> {
        let mut between = Vec::new();
        let mut dir = self.dir.clone();
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in comps.iter().enumerate() {
            dir.push(c);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(with_path(e, &dir)),
            }
            if i + 1 < comps.len() {
                between.push(dir.clone());
            }
        }
        let cg = MemoryCgroup {
            path: format!("{}/{}", self.path, comps.join("/")),
            dir,
            children: Vec::new(),
            between,
        };
        cg.write("memory.limit_in_bytes", &limit_bytes.to_string())?;
        Ok(cg)
    }

    /// The path as the kernel prints it in `oom_memcg=`/`task_memcg=`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one control file (one `write(2)`, errors reported).
    pub fn write(&self, file: &str, value: &str) -> io::Result<()> {
        let p = self.dir.join(file);
        std::fs::write(&p, value).map_err(|e| with_path(e, &p))
    }

    /// Reads one control file.
    pub fn read(&self, file: &str) -> io::Result<String> {
        let p = self.dir.join(file);
        std::fs::read_to_string(&p).map_err(|e| with_path(e, &p))
    }

    /// The pids in `cgroup.procs`.
    pub fn procs(&self) -> io::Result<Vec<u32>> {
        Ok(self
            .read("cgroup.procs")?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// `memory.stat` as `(key, value)` pairs (v1: bytes and counts).
    pub fn memory_stat(&self) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .read("memory.stat")?
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect())
    }

    /// Starts `cmd` inside the cgroup with stdout piped into [`Proc`]'s lines. The child joins
    /// the cgroup before `exec`, so all its memory is charged here.
    pub fn spawn(&mut self, cmd: &mut Command) -> io::Result<Proc> {
        // Anything started in a limited cgroup may provoke an OOM: keep its report printable.
        crate::kmsg::await_oom_report_budget();
        let procs = CString::new(
            self.dir
                .join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in cgroup path"))?;
        // SAFETY: the closure only calls open/write/close (async-signal-safe) on memory that
        // was allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
                Ok(())
            });
        }
        cmd.stdout(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.children.push(child);
        Ok(Proc {
            pid,
            lines: rx,
            seen: Vec::new(),
        })
    }

    /// Waits up to `timeout` for our child `pid` to exit and reaps it. `None` on timeout.
    pub fn wait_exit(&mut self, pid: u32, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let child = self
            .children
            .iter_mut()
            .find(|c| c.id() == pid)
            .ok_or_else(|| not_found(&format!("{pid} is not a child started in this cgroup")))?;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILLs everything in the cgroup until `cgroup.procs` is empty, and reaps our children.
    pub fn kill_all(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let procs = self.procs()?;
            for &pid in &procs {
                // SAFETY: sends a signal; pids in our test cgroup belong to this test.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            for c in &mut self.children {
                let _ = c.try_wait();
            }
            if procs.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: still holds {procs:?}", self.dir.display()),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        Ok(())
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        if let Err(e) = self.kill_all(Duration::from_secs(10)) {
            eprintln!("oomlens-testkit: {e}");
        }
        // rmdir can briefly see EBUSY while the last exiting task leaves.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if Instant::now() >= deadline => {
                    eprintln!("oomlens-testkit: cannot remove {}: {e}", self.dir.display());
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        for d in self.between.iter().rev() {
            if let Err(e) = std::fs::remove_dir(d) {
                eprintln!("oomlens-testkit: cannot remove {}: {e}", d.display());
            }
        }
    }
}

/// Removes empty `oomlens-test-<pid>-*` cgroups under `parent` left by test runs whose
/// process is gone. Returns how many were removed.
pub fn sweep_stale(parent: &OwnCgroup) -> usize {
    let Ok(entries) = std::fs::read_dir(&parent.dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("oomlens-test-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if std::fs::remove_dir(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_memory_line_and_mount() {
        let cgroup = "4:memory:/process_api/abc\n3:cpuset:/\n0::/\n";
        let mountinfo = "31 24 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                         35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
        let own = own_memory_cgroup_from(cgroup, mountinfo).unwrap();
        assert_eq!(own.path, "/process_api/abc");
        assert_eq!(own.dir, Path::new("/sys/fs/cgroup/memory/process_api/abc"));
    }

    #[test]
    fn refuses_a_namespaced_mount() {
        let cgroup = "4:memory:/\n";
        let mountinfo =
            "35 31 0:32 /process_api/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let err = own_memory_cgroup_from(cgroup, mountinfo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn no_v1_memory_line() {
        let err = own_memory_cgroup_from("0::/user.slice\n", "").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/a\\"), r"/a\\");
    }
}
