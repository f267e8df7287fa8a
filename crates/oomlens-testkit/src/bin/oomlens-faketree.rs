//! `oomlens-faketree`: writes a fake cgroup v1 memory hierarchy and procfs tree for
//! benchmarking `oomlens top` (`bench/top.sh`), with [`oomlens_testkit::faketree`] (the
//! builder the tests use), at the scale of a big host.
//!
//! ```text
//! oomlens-faketree DIR [CGROUPS [PROCESSES]]     default 10000 cgroups, 50000 processes
//! oomlens-faketree churn DIR PERCENT PERIOD_MS   runs until killed
//! ```
//!
//! Layout below DIR: `proc/self/mountinfo` (a `cgroup` mount with `memory` at
//! `/sys/fs/cgroup/memory`), `proc/meminfo`, `proc/pressure/memory`, and the hierarchy: the
//! root, `CGROUPS/100` slices, each with services, every cgroup with the v1 files `top` reads
//! (limit, usage, max usage, soft limit, failcnt, memsw, a full 36-key `memory.stat`,
//! `oom_control`, `cgroup.procs`). Processes are spread over the services round-robin, each
//! with a `status` as a 6.x kernel prints it. Everything is deterministic.
//!
//! `churn` makes the tree live: every PERIOD_MS it moves the usage of PERCENT of the
//! services (pseudo-random, seeded) by 128 KiB to 4 MiB, up or down, and with it their
//! `memory.stat`, the `status` of their processes and the usage of their slice and the
//! root, as the kernel's hierarchical counters would. Usage files are rewritten in place
//! at a fixed width (zero-padded: a reader holding them open sees each change, never a
//! truncated file); the others are replaced by rename.

use std::fmt::Write as _;
use std::path::Path;

use oomlens_testkit::faketree::{psi, FakeTree, V1_UNLIMITED};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("churn") {
        let (Some(dir), Some(pct), Some(ms)) = (args.get(1), args.get(2), args.get(3)) else {
            eprintln!("usage: oomlens-faketree churn DIR PERCENT PERIOD_MS");
            std::process::exit(2);
        };
        let pct: f64 = pct.parse().expect("PERCENT");
        let ms: u64 = ms.parse().expect("PERIOD_MS");
        if let Err(e) = churn(Path::new(dir), pct, ms) {
            eprintln!("oomlens-faketree churn: {e}");
            std::process::exit(2);
        }
        return;
    }
    let Some(dir) = args.first() else {
        eprintln!("usage: oomlens-faketree DIR [CGROUPS [PROCESSES]]");
        std::process::exit(2);
    };
    let n_cg: usize = args.get(1).map_or(10_000, |a| a.parse().expect("CGROUPS"));
    let n_proc: usize = args
        .get(2)
        .map_or(50_000, |a| a.parse().expect("PROCESSES"));
    if let Err(e) = write_tree(Path::new(dir), n_cg.max(2), n_proc) {
        eprintln!("oomlens-faketree: {e}");
        std::process::exit(2);
    }
}

fn stat_v1(usage: u64) -> String {
    let (rss, cache, shmem) = (usage * 7 / 10, usage * 3 / 10, usage / 20);
    let pages = usage / 4096;
    let mut s = String::new();
    for prefix in ["", "total_"] {
        for (k, v) in [
            ("cache", cache),
            ("rss", rss),
            ("rss_huge", 0),
            ("shmem", shmem),
            ("mapped_file", cache / 4),
            ("dirty", 0),
            ("writeback", 0),
            ("swap", 0),
            ("pgpgin", pages * 3),
            ("pgpgout", pages * 2),
            ("pgfault", pages * 5),
            ("pgmajfault", 3),
            ("inactive_anon", rss / 3),
            ("active_anon", rss * 2 / 3),
            ("inactive_file", cache / 2),
            ("active_file", cache / 2),
            ("unevictable", 0),
        ] {
            let _ = writeln!(s, "{prefix}{k} {v}");
        }
        if prefix.is_empty() {
            let _ = writeln!(s, "hierarchical_memory_limit 9223372036854771712");
            let _ = writeln!(s, "hierarchical_memsw_limit 9223372036854771712");
        }
    }
    s
}

fn status(pid: usize, name: &str, rss_kb: u64) -> String {
    let anon = rss_kb * 8 / 10;
    let file = rss_kb - anon - 4;
    format!(
        "Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\n\
PPid:\t1\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n\
FDSize:\t64\nGroups:\t1000\nNStgid:\t{pid}\nNSpid:\t{pid}\nNSpgid:\t{pid}\nNSsid:\t{pid}\n\
Kthread:\t0\nVmPeak:\t  {peak} kB\nVmSize:\t  {peak} kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n\
VmHWM:\t  {rss_kb} kB\nVmRSS:\t  {rss_kb} kB\nRssAnon:\t  {anon} kB\nRssFile:\t  {file} kB\n\
RssShmem:\t       4 kB\nVmData:\t  {anon} kB\nVmStk:\t     132 kB\nVmExe:\t    1024 kB\n\
VmLib:\t    4096 kB\nVmPTE:\t      96 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\n\
CoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t4\n\
SigQ:\t0/95426\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n\
SigIgn:\t0000000000001000\nSigCgt:\t0000000180004002\nCapInh:\t0000000000000000\n\
CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n\
CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n\
Speculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\n\
Cpus_allowed:\tff\nCpus_allowed_list:\t0-7\nMems_allowed:\t00000001\nMems_allowed_list:\t0\n\
voluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n",
        peak = rss_kb * 3
    )
}

fn write_tree(root: &Path, n_cg: usize, n_proc: usize) -> std::io::Result<()> {
    let t = FakeTree::at(root);
    t.mountinfo("30 1 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n")
        .meminfo(65_536_000, 30_000_000, 40_000_000)
        .memory_pressure(&psi(0.0, 0, 0));
    // The root, then slices, then services spread over the slices.
    let slices = ((n_cg - 1) / 100).max(1);
    let mut paths = vec![String::new()];
    for s in 0..slices {
        paths.push(format!("/slice-{s:03}.slice"));
    }
    let mut k = 0;
    while paths.len() < n_cg {
        paths.push(format!("/slice-{:03}.slice/svc-{k:05}.service", k % slices));
        k += 1;
    }
    let services: Vec<usize> = (0..paths.len())
        .filter(|&i| paths[i].contains("svc-"))
        .collect();
    let mut procs: Vec<Vec<u32>> = vec![Vec::new(); paths.len()];
    for p in 0..n_proc {
        let at = if services.is_empty() {
            0
        } else {
            services[p % services.len()]
        };
        procs[at].push(p as u32 + 1000);
    }
    let unlimited = format!("{V1_UNLIMITED}\n");
    for (i, p) in paths.iter().enumerate() {
        let usage = 4096 * (1000 + (i as u64 * 7919) % 100_000);
        let limit = (p.contains("svc-") && i % 3 == 0).then_some(usage * 4);
        t.cgroup_v1(p)
            .limit(limit)
            .file("memory.usage_in_bytes", usage_text(usage))
            .file("memory.max_usage_in_bytes", format!("{}\n", usage * 2))
            .file("memory.soft_limit_in_bytes", &unlimited)
            .file("memory.failcnt", "0\n")
            .file("memory.memsw.usage_in_bytes", format!("{usage}\n"))
            .file("memory.memsw.limit_in_bytes", &unlimited)
            .stat(&stat_v1(usage))
            .file(
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            )
            .procs(&procs[i]);
    }
    for (i, list) in procs.iter().enumerate() {
        for &pid in list {
            let rss = 1024 + (u64::from(pid) * 104_729) % 500_000;
            t.process(pid).file(
                "status",
                status(pid as usize, &format!("worker-{}", i % 50), rss),
            );
        }
    }
    println!(
        "{} cgroups, {} processes below {}",
        paths.len(),
        n_proc,
        root.display()
    );
    Ok(())
}

/// A usage file's text: zero-padded to a fixed width so that `churn` can rewrite it in
/// place.
fn usage_text(usage: u64) -> String {
    format!("{usage:020}\n")
}

struct Svc {
    dir: std::path::PathBuf,
    slice: usize,
    usage: u64,
    pids: Vec<u64>,
    name: String,
}

fn read_usage(dir: &Path) -> std::io::Result<u64> {
    let t = std::fs::read_to_string(dir.join("memory.usage_in_bytes"))?;
    t.trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad usage in {}", dir.display())))
}

fn put_usage(dir: &Path, usage: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("memory.usage_in_bytes"))?;
    f.write_all_at(usage_text(usage).as_bytes(), 0)
}

fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("churn-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The subdirectories of `dir`, sorted.
fn subdirs(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

fn churn(root: &Path, pct: f64, period_ms: u64) -> std::io::Result<()> {
    let mem = root.join("sys/fs/cgroup/memory");
    let proc = root.join("proc");
    let mut slices = Vec::new();
    let mut svcs = Vec::new();
    for sd in subdirs(&mem)? {
        let slice = slices.len();
        slices.push((sd.clone(), read_usage(&sd)?));
        for d in subdirs(&sd)? {
            let pids = std::fs::read_to_string(d.join("cgroup.procs"))?
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            let name = format!("worker-{}", svcs.len() % 50);
            svcs.push(Svc {
                usage: read_usage(&d)?,
                dir: d,
                slice,
                pids,
                name,
            });
        }
    }
    let mut root_usage = read_usage(&mem)?;
    let per_round = ((svcs.len() as f64) * pct / 100.0).round() as usize;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    loop {
        let t0 = std::time::Instant::now();
        for _ in 0..per_round.min(svcs.len()) {
            let k = (next() % svcs.len() as u64) as usize;
            let delta = 128 * 1024 + next() % (4 << 20);
            let up = next() % 2 == 0 || svcs[k].usage < 8 * delta;
            let s = &mut svcs[k];
            let (slice_dir, slice_usage) = &mut slices[s.slice];
            if up {
                s.usage += delta;
                *slice_usage += delta;
                root_usage += delta;
            } else {
                // The generated parents are not the sums of their children: never below 0.
                s.usage -= delta;
                *slice_usage = slice_usage.saturating_sub(delta);
                root_usage = root_usage.saturating_sub(delta);
            }
            put_usage(&s.dir, s.usage)?;
            replace(&s.dir.join("memory.stat"), &stat_v1(s.usage))?;
            put_usage(slice_dir, *slice_usage)?;
            put_usage(&mem, root_usage)?;
            let share = s.usage / 1024 / s.pids.len().max(1) as u64;
            for &pid in &s.pids {
                replace(
                    &proc.join(pid.to_string()).join("status"),
                    &status(pid as usize, &s.name, share.max(8)),
                )?;
            }
        }
        let period = std::time::Duration::from_millis(period_ms);
        if let Some(rest) = period.checked_sub(t0.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}
