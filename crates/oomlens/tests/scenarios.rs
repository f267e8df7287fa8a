//! The four troubleshooting stories of tests/scenarios, each rebuilt with real OOM kills
//! in child memory cgroups on this machine, and `oomlens explain` asked for the finding the
//! operator needed:
//!
//! - 000: a service under a memory limit leaks, is killed, restarts, leaks again: the
//!   restart loop, the limit, and the leak with its growth rate;
//! - 001: a background job in a Kubernetes container dies silently: the pod and container,
//!   and that the killed process was not the container's first process;
//! - 002: the database is killed instead of the leaking batch job: the critical victim and
//!   the OOMScoreAdjust advice;
//! - 003: a worker fills a tmpfs: shmem named as the cause, not the heap.
//!
//! Plus `explain --follow`, which must report a kill as it happens.
//!
//! The cgroups are nested below a throw-away test cgroup so that their paths look like a
//! real unit's or container's (`…/system.slice/worker-processor.service`,
//! `…/kubepods/burstable/pod<uid>/<id>`). Reports are matched by cgroup path and pid: the
//! kernel log is shared with other containers. Gate as in real_kernel.rs
//! (`oomlens_testkit::real_kernel`): a loud skip without root and a writable v1 memory
//! cgroup, a failure there under `OOMLENS_REQUIRE_REAL_KERNEL=1`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::{TempDir, Tmpfs};
use oomlens_testkit::kmsg::{records_to_text, Kmsg};
use oomlens_testkit::oomlens;
use serde_json::Value;

const MIB: u64 = 1 << 20;
const KILL_TIMEOUT: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

struct Env {
    hog: PathBuf,
    parent: MemoryCgroup,
}

/// The test's own cgroup, or `None` (a loud skip) where the real kernel cannot be used.
fn setup(limit: u64) -> Option<(MutexGuard<'static, ()>, Env)> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rk = oomlens_testkit::real_kernel()?;
    let parent = MemoryCgroup::create_under(&rk.own, limit).expect("creating the test cgroup");
    Some((
        guard,
        Env {
            hog: rk.hog.clone(),
            parent,
        },
    ))
}

/// Wait until the kernel has logged `n` complete kills in `cg`; return the kill pids.
fn wait_kills(log: &mut Kmsg, cg: &str, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + KILL_TIMEOUT;
    loop {
        log.poll().unwrap();
        let kills = oomlens_testkit::kmsg::find_kills(&log.records, cg);
        let done: Vec<u32> = kills
            .iter()
            .filter(|k| k.killed.is_some())
            .map(|k| k.oom_kill.pid)
            .collect();
        if done.len() >= n {
            // Let the Killed/reaper lines of the last kill arrive.
            std::thread::sleep(Duration::from_millis(200));
            log.poll().unwrap();
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} kills in {cg} within {KILL_TIMEOUT:?}",
            done.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `oomlens explain --json` over the captured records; the incidents of cgroup `cg` only.
fn explain(log: &Kmsg, cg: &str) -> Vec<Value> {
    let dir = TempDir::new("scenario").unwrap();
    let file = dir
        .write("kmsg.txt", records_to_text(&log.records))
        .unwrap();
    let v = oomlens!()
        .args(["explain", "--json"])
        .arg(&file)
        .run()
        .success()
        .json();
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["task_memcg"] == cg)
        .cloned()
        .collect()
}

fn codes(inc: &Value) -> Vec<String> {
    inc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(inc: &'a Value, code: &str) -> &'a Value {
    inc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", codes(inc)))
}

fn evidence(f: &Value, name: &str) -> f64 {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_f64())
        .unwrap_or_else(|| panic!("no evidence {name} in {f}"))
}

fn hog(env: &Env) -> Command {
    Command::new(&env.hog)
}

#[test]
fn s000_leaking_service_restart_loop() {
    let Some((_g, env)) = setup(256 * MIB) else {
        return;
    };
    let mut svc = env
        .parent
        .nested("system.slice/worker-processor.service", 20 * MIB)
        .unwrap();
    let cg = svc.path().to_string();
    let mut log = Kmsg::open_at_end().unwrap();
    // Restart=always: each time the worker is killed, it starts again and leaks at 1 MiB/s.
    const RATE_MIB_S: f64 = 1.0;
    for n in 1..=3 {
        let mut p = svc
            .spawn(hog(&env).args(["--comm", "python3", "alloc", "--mib", "200", "--rate", "1"]))
            .unwrap();
        p.wait_line("start", Duration::from_secs(10)).unwrap();
        let pids = wait_kills(&mut log, &cg, n);
        assert_eq!(
            pids.last(),
            Some(&p.pid),
            "kill {n} hit another process: {pids:?}"
        );
    }
    let incs = explain(&log, &cg);
    assert_eq!(incs.len(), 3, "{incs:#?}");
    let last = &incs[2];
    assert_eq!(last["owner"]["unit"], "worker-processor.service");
    assert_eq!(last["restart_loop"]["nth"], 3);
    assert_eq!(last["restart_loop"]["in_last_hour"], 3);
    let interval = last["restart_loop"]["mean_interval_s"].as_f64().unwrap();
    assert!((12.0..40.0).contains(&interval), "interval {interval} s");
    let c = codes(last);
    assert!(
        c.contains(&"restart-loop".to_string()) && c.contains(&"memcg-limit-hit".to_string()),
        "{c:?}"
    );
    // The growth rate it reports is the rate the worker really leaked at.
    let leak = finding(last, "leak-to-limit");
    let rate = evidence(leak, "growth rate") / 1024.0 / 60.0;
    assert!(
        (rate - RATE_MIB_S).abs() / RATE_MIB_S < 0.4,
        "reported {rate:.2} MiB/s, leaked at {RATE_MIB_S}"
    );
    let advice = last["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["finding"] == "leak-to-limit")
        .unwrap();
    assert_eq!(
        advice["target"],
        "/etc/systemd/system/worker-processor.service.d/50-oomlens.conf"
    );
    let snippet = advice["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("MemoryHigh=18M")
            && snippet.contains("MemoryMax=20M")
            && snippet.contains("RuntimeMaxSec="),
        "{snippet}"
    );
    // The first kill alone is no loop.
    assert!(incs[0]["restart_loop"].is_null());
    let dir = TempDir::new("s000").unwrap();
    let file = dir.write("k.txt", records_to_text(&log.records)).unwrap();
    let text = oomlens!()
        .args(["explain", "--color", "never"])
        .arg(&file)
        .run()
        .stdout();
    assert!(
        text.contains("memcg OOM in worker-processor.service: python3 (pid")
            && text.contains("killed at 20.0 MiB limit, 3rd kill this hour"),
        "{text}"
    );
    drop(svc);
}

#[test]
fn s001_silent_kill_of_a_job_in_a_pod() {
    let Some((_g, env)) = setup(256 * MIB) else {
        return;
    };
    let pod = "28fcb1a0-a45c-44e7-b9bf-e3b9360bedba";
    let cid = "3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe";
    let mut ctr = env
        .parent
        .nested(&format!("kubepods/burstable/pod{pod}/{cid}"), 32 * MIB)
        .unwrap();
    let cg = ctr.path().to_string();
    let mut log = Kmsg::open_at_end().unwrap();
    // The container's main process (a queue worker) and a job it runs.
    let mut main = ctr
        .spawn(hog(&env).args(["--comm", "sidekiq", "hold", "--mib", "2"]))
        .unwrap();
    main.wait_line("ready", Duration::from_secs(10)).unwrap();
    let mut job = ctr
        .spawn(hog(&env).args([
            "--comm", "convert", "alloc", "--mib", "100", "--rate", "100",
        ]))
        .unwrap();
    job.wait_line("start", Duration::from_secs(10)).unwrap();
    let pids = wait_kills(&mut log, &cg, 1);
    assert_eq!(
        pids[0], job.pid,
        "the kernel killed the main process, not the job"
    );
    let incs = explain(&log, &cg);
    let inc = &incs[0];
    assert_eq!(inc["owner"]["pod_uid"], pod);
    assert_eq!(inc["owner"]["qos_class"], "Burstable");
    assert_eq!(inc["owner"]["container_id"], cid);
    assert_eq!(inc["kills"][0]["comm"], "convert");
    let f = finding(inc, "subprocess-killed");
    assert_eq!(evidence(f, "first process pid") as u32, main.pid);
    assert!(f["message"].as_str().unwrap().contains("sidekiq"));
    // The main process is still alive: a silent kill.
    assert!(ctr.procs().unwrap().contains(&main.pid));
    drop(ctr);
}

#[test]
fn s002_database_killed_instead_of_the_batch_job() {
    let Some((_g, env)) = setup(256 * MIB) else {
        return;
    };
    let mut svc = env
        .parent
        .nested("system.slice/postgresql.service", 64 * MIB)
        .unwrap();
    let cg = svc.path().to_string();
    let mut log = Kmsg::open_at_end().unwrap();
    let mut db = svc
        .spawn(hog(&env).args(["--comm", "postgres", "hold", "--mib", "40"]))
        .unwrap();
    db.wait_line("ready", Duration::from_secs(10)).unwrap();
    let mut batch = svc
        .spawn(hog(&env).args([
            "--comm",
            "batch-job",
            "alloc",
            "--mib",
            "100",
            "--rate",
            "50",
        ]))
        .unwrap();
    batch.wait_line("start", Duration::from_secs(10)).unwrap();
    let pids = wait_kills(&mut log, &cg, 1);
    assert_eq!(
        pids[0], db.pid,
        "the kernel did not kill the (larger) database"
    );
    let incs = explain(&log, &cg);
    let inc = &incs[0];
    assert_eq!(inc["ranking"]["agrees"], true, "{}", inc["ranking"]);
    assert_eq!(inc["ranking"]["top"][0]["pid"], db.pid);
    assert_eq!(inc["ranking"]["top"][1]["comm"], "batch-job");
    let f = finding(inc, "critical-victim");
    assert_eq!(f["severity"], "critical");
    let a = inc["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["finding"] == "critical-victim")
        .unwrap();
    assert_eq!(
        a["target"],
        "/etc/systemd/system/postgresql.service.d/50-oomlens.conf"
    );
    assert!(a["snippet"]
        .as_str()
        .unwrap()
        .contains("OOMScoreAdjust=-900"));
    drop(svc);
}

#[test]
fn s003_tmpfs_fill_is_not_a_heap_leak() {
    let Some((_g, env)) = setup(256 * MIB) else {
        return;
    };
    let tmpfs = Tmpfs::mount(128).unwrap();
    let mut ctr = env.parent.nested("kubepods/besteffort/pod6b1a2c3d-0000-1111-2222-333344445555/aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999", 64 * MIB).unwrap();
    let cg = ctr.path().to_string();
    let mut log = Kmsg::open_at_end().unwrap();
    // The worker leaves 44 MiB of temp files in the memory-backed volume and exits.
    let file = tmpfs.path().join("video-0001.tmp");
    let mut w = ctr
        .spawn(
            hog(&env)
                .args(["--comm", "worker", "tmpfs", "--mib", "44", "--path"])
                .arg(&file),
        )
        .unwrap();
    let status = ctr.wait_exit(w.pid, Duration::from_secs(20)).unwrap();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "tmpfs writer: {:?}",
        w.drain()
    );
    // Its next job's heap is small, but the cgroup is full.
    let mut job = ctr
        .spawn(hog(&env).args(["--comm", "worker", "alloc", "--mib", "60", "--rate", "100"]))
        .unwrap();
    job.wait_line("start", Duration::from_secs(10)).unwrap();
    let pids = wait_kills(&mut log, &cg, 1);
    assert_eq!(pids[0], job.pid);
    let incs = explain(&log, &cg);
    let inc = &incs[0];
    assert_eq!(
        inc["kills"][0]["shmem_rss_kb"], 0,
        "the victim itself holds no shmem"
    );
    let f = finding(inc, "shmem-not-heap");
    assert!(
        evidence(f, "shmem (tmpfs, /dev/shm, shared memory)") >= 44.0 * 1024.0,
        "{f}"
    );
    let a = inc["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["finding"] == "shmem-not-heap")
        .unwrap();
    assert!(
        a["snippet"].as_str().unwrap().contains("sizeLimit"),
        "in a pod the advice bounds the emptyDir: {a}"
    );
    drop(ctr);
    drop(tmpfs);
}

#[test]
fn follow_reports_a_kill_as_it_happens() {
    let Some((_g, env)) = setup(256 * MIB) else {
        return;
    };
    let mut follow = oomlens!()
        .args(["explain", "--follow", "--json"])
        .stderr_null()
        .spawn();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give it time to open /dev/kmsg and seek to its end, so only new kills are reported.
    std::thread::sleep(Duration::from_millis(500));
    let mut cg = env.parent.nested("follow.scope", 32 * MIB).unwrap();
    let path = cg.path().to_string();
    let started = Instant::now();
    let mut p = cg
        .spawn(hog(&env).args(["alloc", "--mib", "100", "--rate", "200"]))
        .unwrap();
    p.wait_line("start", Duration::from_secs(10)).unwrap();
    let found = loop {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no incident for {path} within 20 s"));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["schema"], "oomlens.explain.incident/1");
        if v["incident"]["task_memcg"] == path.as_str() {
            break v;
        }
    };
    let latency = started.elapsed();
    assert_eq!(found["incident"]["kills"][0]["pid"], p.pid);
    assert_eq!(found["incident"]["kind"], "memcg");
    eprintln!("follow: incident reported {latency:?} after the allocator started");
    assert!(latency < Duration::from_secs(10), "{latency:?}");
    let _ = follow.kill();
    let _ = follow.wait();
    drop(cg);
}
