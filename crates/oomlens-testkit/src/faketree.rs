//! The one builder of fake `/proc` + cgroupfs trees: what `oomlens top`, `rank`, `fix` and the
//! sources read below `--root`, written as files under a temporary directory.
//!
//! ```
//! use oomlens_testkit::faketree::{FakeTree, Status};
//! let t = FakeTree::new("doc");
//! t.mount_v1_memory().meminfo(1 << 20, 1 << 19, 786_432);
//! t.cgroup_v1("").limit(None).usage(300 << 20);
//! t.cgroup_v1("/svc/leaky").limit(Some(48 << 20)).usage(1 << 20).procs(&[4242]);
//! t.process(4242).status(&Status::new("leaky").anon_kib(1024)).oom_score_adj(0);
//! t.cgroup_v2("/system.slice/worker.service").file("memory.peak", "419430400\n");
//! assert!(t.root().join("sys/fs/cgroup/memory/svc/leaky/cgroup.procs").is_file());
//! // The directory is removed when `t` is dropped.
//! ```
//!
//! Layout (paths relative to [`FakeTree::root`], as the readers in `oomlens-sources` expect):
//! - `proc/self/mountinfo`: [`FakeTree::mount_v1_memory`] (a `cgroup` mount with `memory` at
//!   `/sys/fs/cgroup/memory`), [`FakeTree::mount_v2`] (`cgroup2` at `/sys/fs/cgroup`), or any
//!   text with [`FakeTree::mountinfo`].
//! - `proc/meminfo` ([`FakeTree::meminfo`]), `proc/pressure/memory`
//!   ([`FakeTree::memory_pressure`], text from [`psi`]).
//! - v1 cgroups under `sys/fs/cgroup/memory/<path>` ([`FakeTree::cgroup_v1`]), v2 cgroups
//!   under `sys/fs/cgroup/<path>` ([`FakeTree::cgroup_v2`]); [`Cgroup::limit`] and
//!   [`Cgroup::usage`] write the file of the cgroup's version, [`Cgroup::file`] any other.
//! - `proc/<pid>/{status,cgroup,oom_score,oom_score_adj,comm,stat}` and the `exe` link
//!   ([`FakeTree::process`], [`Process::exe`]).
//! - Anything else with [`FakeTree::file`].
//!
//! Every method writes at once (there is no `build` step) and panics naming the path when
//! the write fails: this is test code, and a tree that cannot be written is a broken test.
//! The methods return `&Self` so that one statement can fill one cgroup or process.

use std::path::{Path, PathBuf};

use crate::fs::TempDir;

/// What a 64-bit cgroup v1 kernel prints in `memory.limit_in_bytes` for "no limit".
pub const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// The mountinfo line of a cgroup v1 memory hierarchy at `/sys/fs/cgroup/memory`.
pub const V1_MEMORY_MOUNT: &str =
    "30 1 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

/// The mountinfo line of a cgroup v2 (unified) hierarchy at `/sys/fs/cgroup`.
pub const V2_MOUNT: &str = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

/// A fake root directory. Made by [`FakeTree::new`] it is removed on drop; by
/// [`FakeTree::at`] it is left in place (the `oomlens-faketree` binary, `bench/top.sh`).
pub struct FakeTree {
    root: PathBuf,
    _temp: Option<TempDir>,
}

impl FakeTree {
    /// An empty tree in a fresh temporary directory named after `tag`.
    pub fn new(tag: &str) -> FakeTree {
        let temp = TempDir::new(&format!("tree-{tag}")).expect("creating a temp dir");
        FakeTree {
            root: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }

    /// A tree rooted at `root` (made if missing, never removed by this value).
    pub fn at(root: impl Into<PathBuf>) -> FakeTree {
        let root = root.into();
        mkdir(&root);
        FakeTree { root, _temp: None }
    }

    /// The root: what `oomlens --root` is given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `text` to `rel` below the root, making its directories. A leading `/` is
    /// dropped (`/proc/meminfo` is the tree's `proc/meminfo`): a path as the target system
    /// names it never escapes the root.
    pub fn file(&self, rel: impl AsRef<Path>, text: impl AsRef<[u8]>) -> &FakeTree {
        write(&self.below(rel.as_ref()), text.as_ref());
        self
    }

    /// Makes the directory `rel` below the root (a leading `/` dropped, as in
    /// [`FakeTree::file`]).
    pub fn dir(&self, rel: impl AsRef<Path>) -> &FakeTree {
        mkdir(&self.below(rel.as_ref()));
        self
    }

    fn below(&self, rel: &Path) -> PathBuf {
        self.root.join(rel.strip_prefix("/").unwrap_or(rel))
    }

    /// `proc/self/mountinfo` with `text`.
    pub fn mountinfo(&self, text: &str) -> &FakeTree {
        self.file("proc/self/mountinfo", text)
    }

    /// `proc/self/mountinfo` with [`V1_MEMORY_MOUNT`].
    pub fn mount_v1_memory(&self) -> &FakeTree {
        self.mountinfo(V1_MEMORY_MOUNT)
    }

    /// `proc/self/mountinfo` with [`V2_MOUNT`].
    pub fn mount_v2(&self) -> &FakeTree {
        self.mountinfo(V2_MOUNT)
    }

    /// `proc/meminfo` with these totals (KiB) and no swap.
    pub fn meminfo(&self, total_kib: u64, free_kib: u64, available_kib: u64) -> &FakeTree {
        self.file(
            "proc/meminfo",
            format!(
                "MemTotal: {total_kib} kB\nMemFree: {free_kib} kB\nMemAvailable: {available_kib} kB\n\
                 SwapTotal: 0 kB\nSwapFree: 0 kB\n"
            ),
        )
    }

    /// `proc/pressure/memory` with `text` (see [`psi`]).
    pub fn memory_pressure(&self, text: &str) -> &FakeTree {
        self.file("proc/pressure/memory", text)
    }

    /// The v1 memory cgroup `path` (`""` or `/` for the root, `/a/b` or `a/b` below it), its
    /// directory made.
    pub fn cgroup_v1(&self, path: &str) -> Cgroup {
        Cgroup::make(self.root.join("sys/fs/cgroup/memory"), path, false)
    }

    /// The v2 cgroup `path` (`""` or `/` for the root), its directory made.
    pub fn cgroup_v2(&self, path: &str) -> Cgroup {
        Cgroup::make(self.root.join("sys/fs/cgroup"), path, true)
    }

    /// The process `pid` (`proc/<pid>/`), its directory made.
    pub fn process(&self, pid: u32) -> Process {
        let dir = self.root.join("proc").join(pid.to_string());
        mkdir(&dir);
        Process { dir, pid }
    }
}

/// The two lines of a PSI file (`/proc/pressure/memory`, a v2 `memory.pressure`) with
/// `some` at `some_avg10` and the totals given; the other averages are 0.
pub fn psi(some_avg10: f64, some_total: u64, full_total: u64) -> String {
    format!(
        "some avg10={some_avg10:.2} avg60=0.00 avg300=0.00 total={some_total}\n\
         full avg10=0.00 avg60=0.00 avg300=0.00 total={full_total}\n"
    )
}

/// The fixture `top`'s sampler and analysis tests share: a v1 tree with `/` (no limit),
/// `/svc` (64 MiB), `/svc/leaky` (48 MiB) holding pid 4242 (`leaky`, 1 MiB anon) and
/// `/svc/idle`, each using 1 MiB, all anon; 1 GiB of RAM, system PSI some avg10 0.5.
pub fn leaky_v1(tag: &str) -> FakeTree {
    let t = FakeTree::new(tag);
    t.mount_v1_memory()
        .meminfo(1_048_576, 524_288, 786_432)
        .memory_pressure(&psi(0.5, 10, 5));
    for (rel, limit, pids) in [
        ("", None, &[][..]),
        ("/svc", Some(64 << 20), &[]),
        ("/svc/leaky", Some(48 << 20), &[4242]),
        ("/svc/idle", None, &[]),
    ] {
        t.cgroup_v1(rel)
            .limit(limit)
            .usage(1 << 20)
            .stat(&v1_stat(1 << 20))
            .procs(pids);
    }
    t.process(4242).status(&Status::new("leaky").anon_kib(1024));
    t
}

/// A v1 `memory.stat` of `rss` bytes, all anon.
pub fn v1_stat(rss: u64) -> String {
    format!("total_rss {rss}\ntotal_cache 0\ntotal_shmem 0\n")
}

/// Sets a v1 cgroup's usage (and anon) to `bytes` and, as the kernel's hierarchical usage
/// does, each ancestor's to 1 MiB (its own in [`leaky_v1`]) plus that. `rel` is a
/// normalized cgroup path (`/svc/leaky`).
pub fn set_v1_usage(t: &FakeTree, rel: &str, bytes: u64) {
    let write = |rel: &str, bytes: u64| {
        t.cgroup_v1(rel).usage(bytes).stat(&v1_stat(bytes));
    };
    write(rel, bytes);
    let mut p = rel;
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        write(p, bytes + (1 << 20));
        if p.is_empty() {
            break;
        }
    }
}

/// The top cgroup of a [`leaky_v1`] tree ebbing as an idle host's page cache is reclaimed:
/// 48 KiB a step from 8 MiB down to 6 MiB, then back to 8.
#[derive(Debug)]
pub struct TopEbb(u64);

impl Default for TopEbb {
    fn default() -> TopEbb {
        TopEbb(8 << 20)
    }
}

impl TopEbb {
    /// One step down (or back up to the start), written to `t`.
    pub fn step(&mut self, t: &FakeTree) {
        self.0 -= 48 << 10;
        if self.0 < 6 << 20 {
            self.0 = 8 << 20;
        }
        set_v1_usage(t, "", self.0);
    }
}

/// xorshift64: a fixed sequence from `state`, so that a random run's failure replays.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// One cgroup directory of a [`FakeTree`].
pub struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    fn make(base: PathBuf, path: &str, v2: bool) -> Cgroup {
        let rel = path.trim_start_matches('/');
        let dir = if rel.is_empty() { base } else { base.join(rel) };
        mkdir(&dir);
        Cgroup { dir, v2 }
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `text` to the file `name` of the cgroup.
    pub fn file(&self, name: &str, text: impl AsRef<[u8]>) -> &Cgroup {
        write(&self.dir.join(name), text.as_ref());
        self
    }

    /// The limit: v1 `memory.limit_in_bytes` (`None` is [`V1_UNLIMITED`]), v2 `memory.max`
    /// (`None` is `max`).
    pub fn limit(&self, bytes: Option<u64>) -> &Cgroup {
        match (self.v2, bytes) {
            (false, b) => self.file(
                "memory.limit_in_bytes",
                format!("{}\n", b.unwrap_or(V1_UNLIMITED)),
            ),
            (true, Some(b)) => self.file("memory.max", format!("{b}\n")),
            (true, None) => self.file("memory.max", "max\n"),
        }
    }

    /// The usage: v1 `memory.usage_in_bytes`, v2 `memory.current`.
    pub fn usage(&self, bytes: u64) -> &Cgroup {
        let name = if self.v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        self.file(name, format!("{bytes}\n"))
    }

    /// `memory.stat` with `text`.
    pub fn stat(&self, text: &str) -> &Cgroup {
        self.file("memory.stat", text)
    }

    /// `cgroup.procs`: one pid a line (empty for none).
    pub fn procs(&self, pids: &[u32]) -> &Cgroup {
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        self.file("cgroup.procs", text)
    }
}

/// One `proc/<pid>` directory of a [`FakeTree`].
pub struct Process {
    dir: PathBuf,
    pid: u32,
}

impl Process {
    /// The process's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `text` to the file `name` of the process.
    pub fn file(&self, name: &str, text: impl AsRef<[u8]>) -> &Process {
        write(&self.dir.join(name), text.as_ref());
        self
    }

    /// `status` as [`Status`] renders it.
    pub fn status(&self, s: &Status) -> &Process {
        self.file("status", s.render(self.pid))
    }

    /// The `exe` link, to `target` (replacing one made before). A fake process has none
    /// unless a test makes it, as a real kernel thread or zombie has none: readers that
    /// follow it (protect rules, the sampler's check for a kernel thread's reused pid)
    /// see what the test sets up.
    pub fn exe(&self, target: &str) -> &Process {
        let exe = self.dir.join("exe");
        let _ = std::fs::remove_file(&exe);
        std::os::unix::fs::symlink(target, &exe)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", exe.display()));
        self
    }

    /// `cgroup` with `text` (`4:memory:/box\n0::/\n`).
    pub fn cgroup(&self, text: &str) -> &Process {
        self.file("cgroup", text)
    }

    /// `oom_score_adj`.
    pub fn oom_score_adj(&self, adj: i32) -> &Process {
        self.file("oom_score_adj", format!("{adj}\n"))
    }

    /// `oom_score`.
    pub fn oom_score(&self, score: u32) -> &Process {
        self.file("oom_score", format!("{score}\n"))
    }

    /// `comm` (the name and a newline).
    pub fn comm(&self, name: &str) -> &Process {
        self.file("comm", format!("{name}\n"))
    }
}

/// The lines of `/proc/PID/status` the readers use: name, state, tgid, ppid 1, uid (0
/// unless [`Status::uid`]) and the RSS split (`VmRSS` is the sum of the three parts, as the
/// kernel computes it); optionally `Kthread:`, `VmPTE:` and `Threads:` (6.x kernels print
/// them; a kernel thread has no `Vm*`/`Rss*` lines at all). [`Status::omit`] leaves a line
/// out, for a test of a reader that must do without it.
#[derive(Debug, Clone, Default)]
pub struct Status {
    name: String,
    uid: u32,
    omit: Vec<&'static str>,
    anon_kib: u64,
    file_kib: u64,
    shmem_kib: u64,
    swap_kib: u64,
    kthread: Option<bool>,
    pte_kib: Option<u64>,
    threads: Option<u32>,
}

impl Status {
    /// A process called `name` with no memory.
    pub fn new(name: &str) -> Status {
        Status {
            name: name.to_string(),
            ..Status::default()
        }
    }

    /// A kernel thread called `name`: `Kthread:\t1` and no memory lines.
    pub fn kernel_thread(name: &str) -> Status {
        Status {
            kthread: Some(true),
            ..Status::new(name)
        }
    }

    /// Prints `Kthread:\t0` (a user process on a kernel that prints the line).
    pub fn user_thread(mut self) -> Status {
        self.kthread = Some(false);
        self
    }

    /// The `Uid:` line's four ids (real, effective, saved, filesystem).
    pub fn uid(mut self, uid: u32) -> Status {
        self.uid = uid;
        self
    }

    /// Leaves out the line of `key` (`"State"`, `"VmRSS"`): older kernels and hand-trimmed
    /// files lack lines, and a test can show that a reader does not need one.
    pub fn omit(mut self, key: &'static str) -> Status {
        self.omit.push(key);
        self
    }

    /// `VmPTE`, KiB (page tables: the kernel's badness counts them).
    pub fn pte_kib(mut self, kib: u64) -> Status {
        self.pte_kib = Some(kib);
        self
    }

    /// `Threads`.
    pub fn threads(mut self, n: u32) -> Status {
        self.threads = Some(n);
        self
    }

    /// `RssAnon`, KiB.
    pub fn anon_kib(mut self, kib: u64) -> Status {
        self.anon_kib = kib;
        self
    }

    /// `RssFile`, KiB.
    pub fn file_kib(mut self, kib: u64) -> Status {
        self.file_kib = kib;
        self
    }

    /// `RssShmem`, KiB.
    pub fn shmem_kib(mut self, kib: u64) -> Status {
        self.shmem_kib = kib;
        self
    }

    /// `VmSwap`, KiB.
    pub fn swap_kib(mut self, kib: u64) -> Status {
        self.swap_kib = kib;
        self
    }

    /// The file's text for process `pid`.
    pub fn render(&self, pid: u32) -> String {
        use std::fmt::Write as _;
        let uid = self.uid;
        let mut s = format!(
            "Name:\t{}\nState:\tS (sleeping)\nTgid:\t{pid}\nPPid:\t1\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n",
            self.name
        );
        if let Some(k) = self.kthread {
            let _ = writeln!(s, "Kthread:\t{}", u8::from(k));
        }
        if self.kthread != Some(true) {
            let _ = write!(
                s,
                "VmRSS:\t{} kB\nRssAnon:\t{} kB\nRssFile:\t{} kB\nRssShmem:\t{} kB\n",
                self.anon_kib + self.file_kib + self.shmem_kib,
                self.anon_kib,
                self.file_kib,
                self.shmem_kib,
            );
            if let Some(pte) = self.pte_kib {
                let _ = writeln!(s, "VmPTE:\t{pte} kB");
            }
            let _ = writeln!(s, "VmSwap:\t{} kB", self.swap_kib);
        }
        if let Some(n) = self.threads {
            let _ = writeln!(s, "Threads:\t{n}");
        }
        if self.omit.is_empty() {
            return s;
        }
        s.lines()
            .filter(|l| !self.omit.iter().any(|k| l.split(':').next() == Some(*k)))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

fn mkdir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(d) = path.parent() {
        mkdir(d);
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &FakeTree, rel: &str) -> String {
        std::fs::read_to_string(t.root().join(rel)).unwrap()
    }

    #[test]
    fn files_land_where_the_readers_look() {
        let t = FakeTree::new("unit");
        t.mount_v1_memory()
            .meminfo(1_048_576, 524_288, 786_432)
            .memory_pressure(&psi(1.25, 10, 5));
        t.cgroup_v1("").limit(None).usage(300 << 20);
        t.cgroup_v1("/svc/leaky")
            .limit(Some(48 << 20))
            .procs(&[4242, 4243]);
        t.cgroup_v2("a/b").limit(None).usage(50);
        t.cgroup_v2("/c").limit(Some(1000));
        assert_eq!(read(&t, "proc/self/mountinfo"), V1_MEMORY_MOUNT);
        assert_eq!(
            read(&t, "proc/meminfo"),
            "MemTotal: 1048576 kB\nMemFree: 524288 kB\nMemAvailable: 786432 kB\n\
             SwapTotal: 0 kB\nSwapFree: 0 kB\n"
        );
        assert_eq!(
            read(&t, "proc/pressure/memory"),
            "some avg10=1.25 avg60=0.00 avg300=0.00 total=10\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n"
        );
        let v1 = "sys/fs/cgroup/memory";
        assert_eq!(
            read(&t, &format!("{v1}/memory.limit_in_bytes")),
            "9223372036854771712\n"
        );
        assert_eq!(
            read(&t, &format!("{v1}/memory.usage_in_bytes")),
            "314572800\n"
        );
        assert_eq!(
            read(&t, &format!("{v1}/svc/leaky/memory.limit_in_bytes")),
            "50331648\n"
        );
        assert_eq!(
            read(&t, &format!("{v1}/svc/leaky/cgroup.procs")),
            "4242\n4243\n"
        );
        assert_eq!(read(&t, "sys/fs/cgroup/a/b/memory.max"), "max\n");
        assert_eq!(read(&t, "sys/fs/cgroup/a/b/memory.current"), "50\n");
        assert_eq!(read(&t, "sys/fs/cgroup/c/memory.max"), "1000\n");
    }

    #[test]
    fn status_is_the_kernels_layout_with_vmrss_the_sum() {
        let t = FakeTree::new("status");
        t.process(4242)
            .status(&Status::new("pyworker").anon_kib(150_000).file_kib(3600))
            .oom_score_adj(-500)
            .cgroup("4:memory:/box\n0::/\n");
        assert_eq!(
            read(&t, "proc/4242/status"),
            "Name:\tpyworker\nState:\tS (sleeping)\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\n\
             VmRSS:\t153600 kB\nRssAnon:\t150000 kB\nRssFile:\t3600 kB\nRssShmem:\t0 kB\nVmSwap:\t0 kB\n"
        );
        assert_eq!(read(&t, "proc/4242/oom_score_adj"), "-500\n");
        t.process(2)
            .status(&Status::kernel_thread("kthreadd").threads(1));
        assert_eq!(
            read(&t, "proc/2/status"),
            "Name:\tkthreadd\nState:\tS (sleeping)\nTgid:\t2\nPPid:\t1\nUid:\t0\t0\t0\t0\n\
             Kthread:\t1\nThreads:\t1\n"
        );
        t.process(10).status(
            &Status::new("big")
                .user_thread()
                .anon_kib(40 * 1024)
                .pte_kib(8)
                .swap_kib(4),
        );
        assert_eq!(
            read(&t, "proc/10/status"),
            "Name:\tbig\nState:\tS (sleeping)\nTgid:\t10\nPPid:\t1\nUid:\t0\t0\t0\t0\n\
             Kthread:\t0\nVmRSS:\t40960 kB\nRssAnon:\t40960 kB\nRssFile:\t0 kB\n\
             RssShmem:\t0 kB\nVmPTE:\t8 kB\nVmSwap:\t4 kB\n"
        );
        assert_eq!(read(&t, "proc/4242/cgroup"), "4:memory:/box\n0::/\n");
        t.process(11).status(
            &Status::new("trim")
                .uid(7)
                .anon_kib(4)
                .omit("State")
                .omit("VmRSS"),
        );
        assert_eq!(
            read(&t, "proc/11/status"),
            "Name:\ttrim\nTgid:\t11\nPPid:\t1\nUid:\t7\t7\t7\t7\n\
             RssAnon:\t4 kB\nRssFile:\t0 kB\nRssShmem:\t0 kB\nVmSwap:\t0 kB\n"
        );
    }

    #[test]
    fn a_temporary_tree_is_removed_and_a_given_root_is_kept() {
        let t = FakeTree::new("drop");
        let root = t.root().to_path_buf();
        t.file("x/y", "z").file("/etc/a.conf", "b").dir("/var/x");
        assert_eq!(
            read(&t, "etc/a.conf"),
            "b",
            "an absolute path stays below the root"
        );
        assert!(root.join("var/x").is_dir());
        drop(t);
        assert!(!root.exists());
        let kept = TempDir::new("kept").unwrap();
        let t = FakeTree::at(kept.join("r"));
        t.file("x", "1");
        drop(t);
        assert!(kept.join("r/x").is_file());
    }
}
