//! Real-kernel tests of `oomlens top`: its forecasts against what the kernel then does.
//!
//! - `leak_eta_matches_the_kill_and_sawtooth_is_no_leak`: `oomlens-hog` leaks 1 MiB/s into a
//!   child memory cgroup limited to 48 MiB while `oomlens top --json --cgroup …` streams
//!   documents. The first ETA reported once a quarter of the limit is used is compared with
//!   the moment the kernel's OOM kill of that pid in that cgroup shows in `/dev/kmsg`: the
//!   error must be within ±10% of the time that was actually left. At the same time, in a
//!   second cgroup, a loop of allocate-20-MiB-then-exit cycles runs for as long; every
//!   document for it must classify it as something other than a leak, with no ETA.
//! - `tmpfs_growth_is_shmem_and_deleted_open_file_is_listed`: a writer adds files to a
//!   private tmpfs from inside a cgroup; top must name the growth `shmem` and the tmpfs mount
//!   as the one growing, and give the mount itself a fill ETA to its size. A process holding
//!   an unlinked 5 MiB file open must be listed with its pid, fd, path and size.
//! - `held_usage_file_follows_the_kernel_and_reports_removal`: a held usage file against a
//!   fresh read, and ENODEV (vanished) once the cgroup is removed.
//! - `cgroups_made_removed_and_made_again_are_followed`: among 40 quiet siblings, a cgroup
//!   made while top runs shows with its process's memory, leaves once removed, and when made
//!   again under the same name is read afresh, each within the 30 ticks of a re-listing round.
//!
//! Gate (as `real_kernel.rs`): they need root, a writable cgroup v1 memory hierarchy and
//! `/dev/kmsg`; without them a loud skip, a failure under `OOMLENS_REQUIRE_REAL_KERNEL=1`. Measured figures
//! go to stderr (`-- --nocapture`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::Tmpfs;
use oomlens_testkit::kmsg::{self, Kmsg};
use oomlens_testkit::oomlens;
use serde_json::Value;

const MIB: u64 = 1 << 20;

use oomlens_testkit::RealKernel as Env;

fn env() -> Option<&'static Env> {
    oomlens_testkit::real_kernel()
}

/// `oomlens top --json` streaming documents of one cgroup, each with its arrival time.
struct Top {
    child: Child,
    docs: mpsc::Receiver<(Instant, Value)>,
}

impl Top {
    fn start(cgroup: &str, interval: f64) -> Top {
        let mut child = oomlens!()
            .args(["top", "--json", "--cgroup", cgroup, "--interval"])
            .arg(interval.to_string())
            .stderr_inherit()
            .spawn();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).expect("a JSON document per line");
                assert_eq!(v["schema"], "oomlens.top/1");
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
        });
        Top { child, docs: rx }
    }
}

impl Drop for Top {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn row<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc["cgroups"]
        .as_array()?
        .iter()
        .find(|c| c["path"] == path)
}

#[test]
fn leak_eta_matches_the_kill_and_sawtooth_is_no_leak() {
    let Some(env) = env() else { return };
    let limit = 48 * MIB;
    let mut leak_cg = MemoryCgroup::create_under(&env.own, limit).unwrap();
    let mut saw_cg = MemoryCgroup::create_under(&env.own, limit).unwrap();
    let leak_top = Top::start(leak_cg.path(), 0.5);
    let saw_top = Top::start(saw_cg.path(), 0.25);
    let mut log = Kmsg::open_at_end().unwrap();
    let saw = saw_cg
        .spawn(Command::new("sh").arg("-c").arg(format!(
            "while :; do '{}' alloc --mib 20 --rate 10; done",
            env.hog.display()
        )))
        .unwrap();
    let mut leak = leak_cg
        .spawn(Command::new(&env.hog).args([
            "--comm", "top-leak", "alloc", "--mib", "200", "--rate", "1", "--sleep",
        ]))
        .unwrap();
    leak.wait_line("start", Duration::from_secs(10)).unwrap();
    let started = Instant::now();

    // The first leak ETA once a quarter of the limit is used.
    let mut forecast: Option<(Instant, f64, Value)> = None;
    let mut killed_at: Option<Instant> = None;
    let mut saw_docs = 0;
    let deadline = started + Duration::from_secs(80);
    while killed_at.is_none() && Instant::now() < deadline {
        while let Ok((at, doc)) = leak_top.docs.try_recv() {
            let Some(r) = row(&doc, leak_cg.path()) else {
                continue;
            };
            let usage = r["usage"].as_u64().unwrap_or(0);
            if forecast.is_none() && usage >= limit / 4 && r["trend"]["class"] == "leak" {
                let eta = r["eta"]["seconds"].as_f64().expect("a leak has an ETA");
                forecast = Some((at, eta, r.clone()));
            }
        }
        while let Ok((_, doc)) = saw_top.docs.try_recv() {
            let Some(r) = row(&doc, saw_cg.path()) else {
                continue;
            };
            saw_docs += 1;
            assert_ne!(
                r["trend"]["class"], "leak",
                "sawtooth classified as a leak: {r}"
            );
            assert!(r["eta"].is_null(), "sawtooth got an ETA: {r}");
        }
        log.poll().unwrap();
        if kmsg::find_kills(&log.records, leak_cg.path())
            .iter()
            .any(|k| k.oom_kill.pid == leak.pid && k.killed_index.is_some())
        {
            killed_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = killed_at.expect("the kernel killed the leaking hog within 80 s");
    let (at, eta, r) = forecast.expect("a leak ETA was reported once a quarter was used");
    let actual = killed_at.duration_since(at).as_secs_f64();
    let err = (eta - actual) / actual;
    eprintln!(
        "top_real_kernel leak: ETA {eta:.2} s reported {:.2} s after start at usage {} (rate {:.0} B/s, band {}..{} s); kernel kill {actual:.2} s later; error {:+.1}%; {saw_docs} sawtooth documents, none a leak",
        at.duration_since(started).as_secs_f64(),
        r["usage"],
        r["trend"]["rate"].as_f64().unwrap_or(0.0),
        r["eta"]["seconds_lo"],
        r["eta"]["seconds_hi"],
        err * 100.0
    );
    assert!(
        err.abs() <= 0.10,
        "ETA {eta:.2} s vs {actual:.2} s: {:+.1}%",
        err * 100.0
    );
    assert_eq!(
        r["eta"]["limit"],
        format!("memory.limit_in_bytes of {}", leak_cg.path())
    );
    assert_eq!(r["growth"], "anon");
    assert!(saw_docs >= 100, "only {saw_docs} sawtooth documents");
    drop(saw);
    saw_cg.kill_all(Duration::from_secs(5)).unwrap();
}

#[test]
fn tmpfs_growth_is_shmem_and_deleted_open_file_is_listed() {
    let Some(env) = env() else { return };
    let mut cg = MemoryCgroup::create_under(&env.own, 512 * MIB).unwrap();
    let fs = Tmpfs::mount(128).unwrap();
    let dir = fs.path().to_string_lossy().into_owned();
    let top = Top::start(cg.path(), 0.5);
    let held = format!("{dir}/held-then-deleted");
    let mut holder = cg
        .spawn(Command::new("sh").arg("-c").arg(format!(
            "head -c {} /dev/zero > '{held}' && exec 3<'{held}' && rm '{held}' && echo ready && exec sleep 60",
            5 * MIB
        )))
        .unwrap();
    holder.wait_line("ready", Duration::from_secs(10)).unwrap();
    let _writer = cg
        .spawn(Command::new("sh").arg("-c").arg(format!(
            "i=0; while [ $i -lt 40 ]; do '{}' tmpfs --path '{dir}/f'$i --mib 1; i=$((i+1)); sleep 0.25; done; exec sleep 60",
            env.hog.display()
        )))
        .unwrap();
    let started = Instant::now();
    let (mut shmem_named, mut deleted_seen, mut mount_eta) = (None, None, None);
    while (shmem_named.is_none() || deleted_seen.is_none() || mount_eta.is_none())
        && started.elapsed() < Duration::from_secs(25)
    {
        let Ok((_, doc)) = top.docs.recv_timeout(Duration::from_secs(5)) else {
            continue;
        };
        if let Some(r) = row(&doc, cg.path()) {
            if r["trend"]["class"] == "leak"
                && r["growth"] == "shmem"
                && r["growth_mount"] == dir.as_str()
            {
                shmem_named.get_or_insert((started.elapsed(), r.clone()));
            }
        }
        if let Some(m) = doc["mounts"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["mount_point"] == dir.as_str()))
        {
            if m["trend"]["class"] == "leak" {
                mount_eta.get_or_insert(m.clone());
            }
        }
        if let Some(d) = doc["deleted_open_files"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["path"] == held.as_str()))
        {
            deleted_seen.get_or_insert(d.clone());
        }
    }
    let (after, r) = shmem_named.expect("tmpfs growth named shmem with its mount within 25 s");
    eprintln!(
        "top_real_kernel tmpfs: shmem growth on {dir} named after {:.1} s (rate {:.0} B/s)",
        after.as_secs_f64(),
        r["trend"]["rate"].as_f64().unwrap_or(0.0)
    );
    // The tmpfs itself fills toward its 128 MiB size.
    let m = mount_eta.expect("the tmpfs classified as filling");
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["eta"]["limit"], format!("size of {dir}"));
    assert!(m["eta"]["seconds"].as_f64().unwrap() > 0.0, "{m}");
    eprintln!(
        "top_real_kernel tmpfs: mount fill ETA {:.1} s at {} used",
        m["eta"]["seconds"].as_f64().unwrap(),
        m["used"]
    );
    let d = deleted_seen.expect("the deleted-but-open file listed");
    assert_eq!(d["pid"], holder.pid);
    assert_eq!(d["size"], 5 * MIB);
    assert_eq!(d["fd"], 3);
    assert_eq!(d["mount"], dir.as_str());
    cg.kill_all(Duration::from_secs(5)).unwrap();
}

/// The usage file `top` holds open follows the kernel's counter through `pread` (kernfs
/// re-renders the file at offset 0), and reads as vanished once the cgroup is removed
/// (ENODEV), not as an error.
#[test]
fn held_usage_file_follows_the_kernel_and_reports_removal() {
    let Some(env) = env() else { return };
    let mut cg = MemoryCgroup::create(256 * MIB).expect("a child memory cgroup");
    let fs = oomlens_sources::cgroupfs::CgroupFs::new(std::path::Path::new("/"), 4096)
        .expect("mountinfo")
        .expect("a memory hierarchy");
    let held = fs.usage_file(cg.path(), true).expect("inside the mount");
    assert!(held.is_held());
    let before = held.read().unwrap().expect("a usage");
    let mut p = cg
        .spawn(Command::new(&env.hog).args(["alloc", "--mib", "32", "--sleep"]))
        .expect("the hog starts");
    p.wait_line("ready", Duration::from_secs(20))
        .expect("ready");
    let after = held.read().unwrap().expect("a usage");
    let fresh: u64 = cg
        .read("memory.usage_in_bytes")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!("held usage file: before {before}, after 32 MiB {after}, fresh read {fresh}");
    assert!(after >= before + 32 * MIB, "{before} -> {after}");
    assert!(
        after.abs_diff(fresh) < 2 * MIB,
        "held {after} vs fresh {fresh}"
    );
    let dir = cg.dir().to_path_buf();
    drop(p);
    drop(cg); // kills the hog, removes the cgroup
    assert!(!dir.exists(), "{} removed", dir.display());
    assert_eq!(
        held.read().unwrap(),
        None,
        "removed: vanished, not an error"
    );
}

/// `top` re-lists a slice of the tree per tick: on the real cgroupfs a cgroup made while it
/// runs shows (with what its process holds), a removed one leaves at once (its held file reads
/// ENODEV), and one removed and made again under the same name is read afresh, all within
/// `WALK_EVERY` (30) ticks.
#[test]
fn cgroups_made_removed_and_made_again_are_followed() {
    let Some(env) = env() else { return };
    let parent = MemoryCgroup::create(512 * MIB).expect("a test cgroup");
    // Siblings so that the re-listing is spread over several ticks.
    let fillers: Vec<MemoryCgroup> = (0..40)
        .map(|k| parent.nested(&format!("quiet{k:02}"), 64 * MIB).unwrap())
        .collect();
    let interval = 0.05;
    let top = Top::start(parent.path(), interval);
    let next = |what: &str| {
        top.docs
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("a document while waiting for {what}"))
            .1
    };
    // A document once top runs, then the new cgroup with a 16 MiB process.
    let _ = next("the first document");
    let mut fresh = parent.nested("fresh", 128 * MIB).unwrap();
    let fresh_path = fresh.path().to_string();
    let mut hog = fresh
        .spawn(Command::new(&env.hog).args(["alloc", "--mib", "16", "--sleep"]))
        .unwrap();
    hog.wait_line("ready", Duration::from_secs(20)).unwrap();
    let ticks_until = |what: &str, want: &dyn Fn(&Value) -> bool| -> usize {
        for k in 1..=200 {
            if want(&next(what)) {
                return k;
            }
        }
        panic!("{what}: not within 200 documents");
    };
    let usage = |doc: &Value| row(doc, &fresh_path).and_then(|r| r["usage"].as_u64());
    let seen = ticks_until("the new cgroup with 16 MiB", &|d| {
        usage(d).is_some_and(|u| u >= 16 * MIB)
    });
    assert!(seen <= 31, "made: shown after {seen} documents");
    // Removed: the process killed, the directory gone.
    fresh.kill_all(Duration::from_secs(5)).unwrap();
    drop(hog);
    drop(fresh);
    let left = ticks_until("the removed cgroup to leave", &|d| usage(d).is_none());
    assert!(left <= 2, "removed: still shown {left} documents later");
    // Made again under the same name, with 4 MiB this time: read afresh, not the old 16.
    let mut again = parent.nested("fresh", 128 * MIB).unwrap();
    let mut hog = again
        .spawn(Command::new(&env.hog).args(["alloc", "--mib", "4", "--sleep"]))
        .unwrap();
    hog.wait_line("ready", Duration::from_secs(20)).unwrap();
    let back = ticks_until("the cgroup made again", &|d| {
        usage(d).is_some_and(|u| (4 * MIB..8 * MIB).contains(&u))
    });
    assert!(back <= 31, "made again: shown after {back} documents");
    eprintln!(
        "top_real_kernel relist: 42 cgroups, new shown after {seen}, removed gone after {left}, \
         made again shown after {back} documents ({interval} s apart)"
    );
    again.kill_all(Duration::from_secs(5)).unwrap();
    drop(hog);
    drop(again);
    drop(top);
    drop(fillers);
}
