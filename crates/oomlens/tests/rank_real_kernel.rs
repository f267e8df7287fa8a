//! Real-kernel test of `oomlens rank`: does it name the process the kernel actually kills?
//!
//! Each scenario creates a child memory cgroup (v1) under ours with a random limit, starts a
//! random mix of 2–6 processes in it (anonymous memory, multi-threaded, forked children,
//! shared anonymous memory, a mapped tmpfs file; random sizes, random oom_score_adj in
//! 0..1000, sometimes tmpfs pages already charged by a writer that exited), waits until every
//! one holds its memory (`ready` lines), runs `oomlens rank --json --cgroup <cg>`, and then
//! makes the last allocation: a process that was waiting all along writes a tmpfs file past
//! the limit. Writing with `write(2)` charges page cache to the cgroup without growing anyone's
//! RSS, so nothing the ranking saw moves between the snapshot and the kill. The kernel's
//! victim is read back from `/dev/kmsg` (matched by `task_memcg` and pid: other containers'
//! OOMs are in the same log) and compared with the first candidate. The test prints
//! `rank: N/N victims predicted` and fails on any miss.
//!
//! Scenarios are drawn from a seeded generator (`OOMLENS_RANK_SEED=<n>` replays one run; the
//! seed is printed). A draw whose two leading processes would be closer than
//! [`MIN_PLANNED_GAP_MIB`] is drawn again: such a race is decided by the kernel's per-CPU RSS
//! counter drift, which no reader of /proc can see (rank flags those as close calls).
//!
//! Processes other than `oomlens-hog` (shared memory holders and the final writer) are this
//! test executable run again with `OOMLENS_RANK_HELPER` set: it then runs only
//! [`rank_helper_process`], which acts the part and never returns.
//!
//! Gate: `oomlens_testkit::real_kernel`, as for every real-kernel suite: without root, a
//! writable v1 memory cgroup and `/dev/kmsg` it is skipped loudly, or fails where
//! `OOMLENS_REQUIRE_REAL_KERNEL=1` (`.ci/run`).
//!
//! Run: `cargo test --release -p oomlens --test rank_real_kernel -- --nocapture`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oomlens_testkit::cgroup_v1::{MemoryCgroup, Proc};
use oomlens_testkit::fs::Tmpfs;
use oomlens_testkit::kmsg::{find_kills, KilledLine, Kmsg};
use oomlens_testkit::oomlens;
use serde_json::Value;

const MIB: u64 = 1 << 20;
const SCENARIOS: usize = 30;
const LINE_TIMEOUT: Duration = Duration::from_secs(10);
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// Planned points of the two leading processes must differ by at least this many MiB.
const MIN_PLANNED_GAP_MIB: u64 = 4;
/// Estimated resident overhead of an `oomlens-hog` process (binary, libc, stack), MiB.
const HOG_OVERHEAD_MIB: u64 = 2;
/// Estimated resident overhead of a helper (this test executable), MiB.
const HELPER_OVERHEAD_MIB: u64 = 5;
const HELPER_ENV: &str = "OOMLENS_RANK_HELPER";

// ---------------------------------------------------------------------------------------
// The helper process

/// Not a test of its own: when `OOMLENS_RANK_HELPER` is set, this process is a helper of
/// [`rank_predicts_the_kernels_victim`] and acts out the spec (see [`helper_main`]).
#[test]
fn rank_helper_process() {
    if let Ok(spec) = std::env::var(HELPER_ENV) {
        helper_main(&spec);
    }
}

fn say(line: &str) {
    let text = format!("{line}\n");
    // SAFETY: writes an initialised buffer to fd 1 (bypassing libtest's output capture).
    let _ = unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

fn fail(msg: &str) -> ! {
    say(&format!("error {msg}"));
    std::process::exit(2)
}

/// Spec `key=value;…`: `kind` is `shmem` (MAP_SHARED|MAP_ANONYMOUS), `tmpfs-map` (a tmpfs
/// file mapped shared) or `writer` (waits for the file `go`, then writes `mib` MiB to `path`
/// with write(2)); `mib`, `adj`, `comm`, `path`.
fn helper_main(spec: &str) -> ! {
    let get = |k: &str| {
        spec.split(';')
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or("")
    };
    let mib: usize = get("mib").parse().unwrap_or(0);
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", format!("{}\n", get("adj"))) {
        fail(&format!("oom_score_adj: {e}"));
    }
    // The thread-group leader's comm is what the kernel prints; /proc/self/comm is the leader's.
    if let Err(e) = std::fs::write("/proc/self/comm", get("comm")) {
        fail(&format!("comm: {e}"));
    }
    say(&format!("start {}", std::process::id()));
    match get("kind") {
        "shmem" => {
            let p = map(
                -1,
                mib * MIB as usize,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            );
            touch(p, mib * MIB as usize);
        }
        "tmpfs-map" => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(get("path"))
                .unwrap_or_else(|e| fail(&format!("{}: {e}", get("path"))));
            f.set_len((mib as u64) * MIB)
                .unwrap_or_else(|e| fail(&format!("ftruncate: {e}")));
            use std::os::fd::AsRawFd;
            let p = map(f.as_raw_fd(), mib * MIB as usize, libc::MAP_SHARED);
            touch(p, mib * MIB as usize);
            // Unlinked, the pages go when the mapping does: a killed holder frees them.
            let _ = std::fs::remove_file(get("path"));
            std::mem::forget(f);
        }
        "writer" => {
            // Small chunks: after the write that made the kernel kill returns, the writer
            // sees the cgroup's kill counter and stops, so one OOM makes one kill.
            let chunk = vec![0xa5u8; CHUNK];
            let go = Path::new(get("path")).with_extension("go");
            let oomctl = get("oomctl");
            say(&format!("ready {}", std::process::id()));
            while !go.exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut f = std::fs::File::create(get("path"))
                .unwrap_or_else(|e| fail(&format!("{}: {e}", get("path"))));
            for _ in 0..mib * (MIB as usize / CHUNK) {
                if let Err(e) = f.write_all(std::hint::black_box(&chunk)) {
                    fail(&format!("write: {e}"));
                }
                if kills_so_far(oomctl) > 0 {
                    say("stopped");
                    hold()
                }
            }
            say("written");
            hold()
        }
        other => fail(&format!("unknown kind {other:?}")),
    }
    say(&format!("ready {}", std::process::id()));
    hold()
}

/// The writer's chunk size.
const CHUNK: usize = 256 << 10;

/// `oom_kill N` of a v1 `memory.oom_control` file (4.13+); 0 when unreadable.
fn kills_so_far(oom_control: &str) -> u64 {
    std::fs::read_to_string(oom_control)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn map(fd: i32, len: usize, flags: i32) -> *mut u8 {
    // SAFETY: a fresh mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        fail(&format!("mmap: {}", std::io::Error::last_os_error()));
    }
    p.cast()
}

fn touch(p: *mut u8, len: usize) {
    for off in (0..len).step_by(4096) {
        // SAFETY: `off < len` lies inside the mapping of `len` bytes made by `map`.
        unsafe { p.add(off).write_volatile(0xa5) };
    }
}

fn hold() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// splitmix64: a small, seedable generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `oomlens-hog hold`.
    Anon,
    /// `oomlens-hog threads --threads N` (each thread holds `mib / N`).
    Threads(u64),
    /// `oomlens-hog fork --children N` (each child holds `mib`): N + 1 processes.
    Fork(u64),
    /// Helper: shared anonymous memory (RssShmem).
    Shmem,
    /// Helper: a tmpfs file mapped shared (RssShmem).
    TmpfsMap,
}

#[derive(Debug, Clone)]
struct Member {
    kind: Kind,
    mib: u64,
    adj: i32,
    comm: String,
}

#[derive(Debug, Clone)]
struct Plan {
    limit_mib: u64,
    /// tmpfs pages charged up front by a writer that exits (nobody's RSS).
    background_mib: u64,
    members: Vec<Member>,
    writer_adj: i32,
}

impl Plan {
    fn processes(&self) -> u64 {
        1 + self
            .members
            .iter()
            .map(|m| match m.kind {
                Kind::Fork(n) => n + 1,
                _ => 1,
            })
            .sum::<u64>()
    }

    /// Planned points of every candidate (MiB-equivalents, overhead estimated).
    fn planned_points_mib(&self) -> Vec<f64> {
        let per_point = (self.limit_mib * 256 / 1000) as f64 / 256.0;
        let mut out = vec![HELPER_OVERHEAD_MIB as f64 + self.writer_adj as f64 * per_point];
        for m in &self.members {
            let adj = m.adj as f64 * per_point;
            match m.kind {
                Kind::Anon | Kind::Threads(_) => out.push((m.mib + HOG_OVERHEAD_MIB) as f64 + adj),
                Kind::Fork(n) => {
                    out.push(HOG_OVERHEAD_MIB as f64 + adj);
                    for _ in 0..n {
                        out.push((m.mib + HOG_OVERHEAD_MIB) as f64 + adj);
                    }
                }
                Kind::Shmem | Kind::TmpfsMap => {
                    out.push((m.mib + HELPER_OVERHEAD_MIB) as f64 + adj)
                }
            }
        }
        out
    }

    fn gap_mib(&self) -> f64 {
        let mut p = self.planned_points_mib();
        p.sort_by(|a, b| b.total_cmp(a));
        p[0] - p.get(1).copied().unwrap_or(f64::NEG_INFINITY)
    }
}

fn draw(rng: &mut Rng, n: usize) -> Plan {
    loop {
        let limit_mib: u64 = [64, 80, 96, 128][rng.range(0, 3) as usize];
        let background_mib = if rng.range(0, 3) == 0 {
            rng.range(4, 16)
        } else {
            0
        };
        // What the members may hold, leaving room for overheads and page tables.
        let mut budget = (limit_mib * 3 / 4).saturating_sub(background_mib + 8);
        let want = rng.range(1, 5);
        let mut members = Vec::new();
        let mut procs = 1;
        for i in 0..want {
            let kind = match rng.range(0, 5) {
                0 | 1 => Kind::Anon,
                2 => Kind::Threads(rng.range(2, 4)),
                3 => Kind::Fork(2),
                4 => Kind::Shmem,
                _ => Kind::TmpfsMap,
            };
            let (nprocs, per, overhead) = match kind {
                Kind::Fork(c) => (c + 1, c, HOG_OVERHEAD_MIB * (c + 1)),
                Kind::Shmem | Kind::TmpfsMap => (1, 1, HELPER_OVERHEAD_MIB),
                _ => (1, 1, HOG_OVERHEAD_MIB),
            };
            if procs + nprocs > 6 || budget < 4 * per + overhead {
                continue;
            }
            let max = ((budget - overhead) / per).min(40);
            let mib = match kind {
                Kind::Threads(t) => rng.range(4, max).div_ceil(t) * t,
                _ => rng.range(4, max),
            };
            if mib * per + overhead > budget {
                continue;
            }
            budget -= mib * per + overhead;
            procs += nprocs;
            let tag = match kind {
                Kind::Anon => "anon",
                Kind::Threads(_) => "thr",
                Kind::Fork(_) => "fork",
                Kind::Shmem => "shm",
                Kind::TmpfsMap => "tmap",
            };
            members.push(Member {
                kind,
                mib,
                adj: rng.range(0, 999) as i32,
                comm: format!("r{n}-{i}-{tag}"),
            });
        }
        if members.is_empty() {
            continue;
        }
        let mut plan = Plan {
            limit_mib,
            background_mib,
            members,
            writer_adj: rng.range(0, 499) as i32,
        };
        // Redraw the adjs (sizes kept) until the leader is clear.
        for _ in 0..50 {
            if plan.gap_mib() >= MIN_PLANNED_GAP_MIB as f64 {
                return plan;
            }
            for m in &mut plan.members {
                m.adj = rng.range(0, 999) as i32;
            }
            plan.writer_adj = rng.range(0, 499) as i32;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running one scenario

/// The real-kernel environment of the test kit (one gate for every real-kernel suite).
type Env = oomlens_testkit::RealKernel;

fn env() -> Option<&'static Env> {
    oomlens_testkit::real_kernel()
}

fn helper(spec: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.args([
        "rank_helper_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(HELPER_ENV, spec)
    .stderr(Stdio::null());
    c
}

/// Waits until `n` distinct `ready` lines came from a process (a fork parent's children all
/// print to the same pipe); returns the pids that printed them. Fails on `error` lines.
fn wait_ready(p: &mut Proc, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + LINE_TIMEOUT;
    loop {
        let lines = p.drain().to_vec();
        if let Some(e) = lines.iter().find(|l| l.starts_with("error ")) {
            panic!("pid {}: {e}", p.pid);
        }
        let ready: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("ready ")?.trim().parse().ok())
            .collect();
        if ready.len() >= n {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "pid {}: {} of {n} ready within {LINE_TIMEOUT:?}: {lines:?}",
            p.pid,
            ready.len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The kernel's first kill of a scenario.
struct Kill {
    pid: u32,
    comm: String,
    /// Found through the `oom-kill:` summary (task_memcg and pid); false when only the
    /// `Killed process` line was printed (see [`Pacer`]).
    via_summary: bool,
}

/// Keeps the kills under the kernel's report rate limit. `oom_kill_process()` prints the
/// report header and the `oom-kill:` summary only `if (__ratelimit(&oom_rs))`, a machine-wide
/// `DEFAULT_RATELIMIT_INTERVAL`/`BURST` of 10 per 5 s (mm/oom_kill.c), while `Killed
/// process` is always printed. Other containers' OOMs draw on the same budget, so the kill is
/// also matched by pid alone when the summary was suppressed (and counted).
struct Pacer(std::collections::VecDeque<Instant>);

impl Pacer {
    const WINDOW: Duration = Duration::from_millis(5300);
    const BURST: usize = 8;

    fn wait(&mut self) {
        while let Some(&first) = self.0.front() {
            if first.elapsed() >= Self::WINDOW {
                self.0.pop_front();
            } else if self.0.len() >= Self::BURST {
                std::thread::sleep(Self::WINDOW - first.elapsed());
            } else {
                break;
            }
        }
        self.0.push_back(Instant::now());
    }
}

struct Outcome {
    predicted: u32,
    predicted_comm: String,
    lead_points: Option<i64>,
    close_call: bool,
    kill: Kill,
    summary: String,
}

fn rank_json(cgroup: &str) -> Value {
    oomlens!()
        .args(["rank", "--json", "--cgroup", cgroup])
        .run()
        .success()
        .json()
}

fn run_scenario(env: &Env, fs: &Tmpfs, pacer: &mut Pacer, n: usize, plan: &Plan) -> Outcome {
    let mut log = Kmsg::open_at_end().expect("/dev/kmsg");
    let mut cg = MemoryCgroup::create_under(&env.own, plan.limit_mib * MIB).expect("cgroup");
    let dir = fs.path();
    let files: Vec<PathBuf> = ["bg", "map", "out", "out.go"]
        .iter()
        .map(|f| dir.join(format!("s{n}-{f}")))
        .collect();
    let mut ours: Vec<u32> = Vec::new();
    let mut held: Vec<Proc> = Vec::new();
    if plan.background_mib > 0 {
        let mut bg = cg
            .spawn(
                Command::new(&env.hog)
                    .arg("tmpfs")
                    .arg("--path")
                    .arg(&files[0])
                    .args(["--mib", &plan.background_mib.to_string()]),
            )
            .expect("spawn tmpfs writer");
        wait_ready(&mut bg, 1);
        cg.wait_exit(bg.pid, LINE_TIMEOUT)
            .expect("tmpfs writer exit");
    }
    for (i, m) in plan.members.iter().enumerate() {
        let adj = m.adj.to_string();
        let mib = m.mib.to_string();
        let mut hog = Command::new(&env.hog);
        hog.args(["--comm", &m.comm, "--oom-score-adj", &adj]);
        let (mut cmd, expect) = match m.kind {
            Kind::Anon => {
                hog.args(["hold", "--mib", &mib]);
                (hog, 1)
            }
            Kind::Threads(t) => {
                let each = (m.mib / t).to_string();
                hog.args([
                    "threads",
                    "--threads",
                    &t.to_string(),
                    "--mib",
                    &each,
                    "--sleep",
                ]);
                (hog, 1)
            }
            Kind::Fork(c) => {
                hog.args([
                    "fork",
                    "--children",
                    &c.to_string(),
                    "--mib",
                    &mib,
                    "--sleep",
                ]);
                (hog, c as usize)
            }
            Kind::Shmem | Kind::TmpfsMap => {
                let kind = if m.kind == Kind::Shmem {
                    "shmem"
                } else {
                    "tmpfs-map"
                };
                let path = dir.join(format!("s{n}-map{i}"));
                let spec = format!(
                    "kind={kind};mib={};adj={};comm={};path={}",
                    m.mib,
                    m.adj,
                    m.comm,
                    path.display()
                );
                (helper(&spec), 1)
            }
        };
        let mut p = cg.spawn(&mut cmd).expect("spawn member");
        let ready = wait_ready(&mut p, expect);
        ours.push(p.pid);
        ours.extend(ready);
        held.push(p);
    }
    let spec = format!(
        "kind=writer;mib={};adj={};comm=r{n}-writer;path={};oomctl={}",
        plan.limit_mib * 2,
        plan.writer_adj,
        files[2].display(),
        cg.dir().join("memory.oom_control").display()
    );
    let mut writer = cg.spawn(&mut helper(&spec)).expect("spawn writer");
    wait_ready(&mut writer, 1);
    ours.push(writer.pid);
    ours.sort_unstable();
    ours.dedup();

    log.poll().expect("kmsg");
    let early = find_kills(&log.records, cg.path());
    assert!(
        early.is_empty(),
        "scenario {n}: the kernel killed during set-up (plan too big): {early:#?}\n{plan:#?}"
    );
    let usage = cg.read("memory.usage_in_bytes").unwrap_or_default();

    // The snapshot, just before the last allocation.
    let v = rank_json(cg.path());
    let domain = &v["domains"][0];
    assert_eq!(domain["cgroup"], cg.path(), "rank's domain: {v}");
    let cands = domain["candidates"].as_array().expect("candidates");
    let predicted = cands[0]["pid"].as_u64().expect("pid") as u32;
    let predicted_comm = cands[0]["comm"].as_str().unwrap_or("").to_string();
    let lead_points = domain["victim"]["lead_points"].as_i64();
    let close_call = domain["victim"]["close_call"].as_bool().unwrap_or(false);
    let seen: Vec<u32> = cands
        .iter()
        .filter_map(|c| c["pid"].as_u64().map(|p| p as u32))
        .collect();
    let mut seen_sorted = seen.clone();
    seen_sorted.sort_unstable();
    assert_eq!(
        seen_sorted, ours,
        "scenario {n}: rank's candidates are exactly this scenario's processes"
    );

    // The last allocation.
    pacer.wait();
    std::fs::write(&files[3], b"").expect("go file");
    let deadline = Instant::now() + KILL_TIMEOUT;
    let kill = loop {
        log.poll().expect("kmsg");
        // The first `Killed process` line naming one of ours; the `oom-kill:` summary before
        // it, when printed, must name this cgroup as task_memcg and the same pid.
        let first = log
            .records
            .iter()
            .find_map(|r| KilledLine::parse(&r.message).filter(|k| ours.contains(&k.pid)));
        if let Some(k) = first {
            let summary = find_kills(&log.records, cg.path())
                .into_iter()
                .find(|s| s.oom_kill.pid == k.pid);
            if summary.is_none() {
                assert!(
                    kills_so_far(&cg.dir().join("memory.oom_control").to_string_lossy()) > 0,
                    "scenario {n}: pid {} was killed, but not by this cgroup's OOM killer",
                    k.pid
                );
            }
            break Kill {
                pid: k.pid,
                comm: k.comm,
                via_summary: summary.is_some(),
            };
        }
        assert!(
            Instant::now() < deadline,
            "scenario {n}: no kill in {} within {KILL_TIMEOUT:?} (usage {}, {}): \
             writer said {:?}\n{plan:#?}",
            cg.path(),
            cg.read("memory.usage_in_bytes").unwrap_or_default().trim(),
            cg.read("memory.oom_control")
                .unwrap_or_default()
                .replace('\n', " "),
            writer.drain(),
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    cg.kill_all(Duration::from_secs(10)).expect("kill_all");
    for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if f.file_name()
            .to_string_lossy()
            .starts_with(&format!("s{n}-"))
        {
            let _ = std::fs::remove_file(f.path());
        }
    }
    drop(cg);
    let table: Vec<String> = cands
        .iter()
        .map(|c| {
            format!(
                "{}:{}={}",
                c["pid"],
                c["comm"].as_str().unwrap_or(""),
                c["points"]
            )
        })
        .collect();
    Outcome {
        predicted,
        predicted_comm,
        lead_points,
        close_call,
        summary: format!(
            "limit {} MiB, usage {} MiB, background {} MiB, {} processes; rank: [{}]",
            plan.limit_mib,
            usage.trim().parse::<u64>().unwrap_or(0) / MIB,
            plan.background_mib,
            plan.processes(),
            table.join(" ")
        ),
        kill,
    }
}

#[test]
fn rank_predicts_the_kernels_victim() {
    if std::env::var_os(HELPER_ENV).is_some() {
        return;
    }
    let Some(env) = env() else { return };
    let started = Instant::now();
    let seed = std::env::var("OOMLENS_RANK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("rank_real_kernel: seed {seed} (replay with OOMLENS_RANK_SEED={seed})");
    let mut rng = Rng(seed);
    let fs = Tmpfs::mount(1024).expect("tmpfs");
    let mut pacer = Pacer(Default::default());
    let mut by_pid_only = 0;
    let mut hits = 0;
    let mut misses = Vec::new();
    for n in 0..SCENARIOS {
        let plan = draw(&mut rng, n);
        let t = Instant::now();
        let o = run_scenario(env, &fs, &mut pacer, n, &plan);
        let got = o.kill.pid;
        by_pid_only += usize::from(!o.kill.via_summary);
        let ok = got == o.predicted;
        let kinds: Vec<String> = plan
            .members
            .iter()
            .map(|m| format!("{:?} {} MiB adj {}", m.kind, m.mib, m.adj))
            .collect();
        eprintln!(
            "rank_real_kernel #{n}: {} | predicted {} ({}) lead {:?}{} | kernel killed {} ({}) {} | {} ms\n    members: {}; writer adj {}",
            o.summary,
            o.predicted,
            o.predicted_comm,
            o.lead_points,
            if o.close_call { " CLOSE CALL" } else { "" },
            got,
            o.kill.comm,
            if ok { "OK" } else { "MISS" },
            t.elapsed().as_millis(),
            kinds.join(", "),
            plan.writer_adj,
        );
        if ok {
            hits += 1;
        } else {
            misses.push(n);
        }
    }
    drop(fs);
    eprintln!(
        "rank: {hits}/{SCENARIOS} victims predicted (seed {seed}, {} ms; {by_pid_only} kills \
         matched by pid alone, their oom-kill: summary rate-limited)",
        started.elapsed().as_millis()
    );
    assert!(
        misses.is_empty(),
        "rank missed the kernel's victim in scenarios {misses:?} (seed {seed})"
    );
}
