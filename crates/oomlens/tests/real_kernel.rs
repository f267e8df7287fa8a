//! Real-kernel tests: make the kernel's OOM killer act in throw-away memory cgroups (v1) and
//! check that `oomlens explain --json` tells what the kernel printed.
//!
//! Each test creates its own cgroup under ours (`oomlens-test-<pid>-<n>`, see
//! `oomlens_testkit::cgroup_v1`), runs `oomlens-hog` in it, reads `/dev/kmsg` from a position
//! taken before it started, and finds its report by cgroup path and pid: the kernel log is
//! shared with other containers, so nothing here looks at "the latest OOM". The kernel's own
//! lines are checked first (which pid it killed, and why this test expected it), then
//! explain's answer for the same records. The cgroup is emptied and removed at the end of
//! each test, also on failure.
//!
//! Gate: the tests need root, a cgroup v1 memory hierarchy with a writable own cgroup, and a
//! readable `/dev/kmsg`. Without them each prints a loud SKIPPED line with the reason and
//! passes, unless `OOMLENS_REQUIRE_REAL_KERNEL=1` (set by `.ci/run`) makes that a failure
//! (`oomlens_testkit::real_kernel`, the one gate of every real-kernel suite). They run one at a time (one lock) so that kills do
//! not overlap. `oomlens-hog` is found by `oomlens_testkit::hog_path` (`$OOMLENS_HOG`, else a
//! nested `cargo build` of it into the same target directory).
//!
//! Comm text: `/dev/kmsg` prints control bytes, bytes >= 0x7f and `\` of a comm as `\xNN`;
//! dmesg re-escapes some of them and journald none. explain decodes the escapes, so its JSON
//! `comm` holds the comm's own bytes (`a b) (c<SOH><TAB>d`) whatever the form it read; the
//! human output never holds a raw control byte.
//!
//! A second kill is accepted, not required away: on 6.18 an allocator that keeps going after
//! the first kill sometimes gets another victim chosen ~4 ms later with usage already below
//! the limit (see [`first_kill`]). The tests pin the first victim and require explain to
//! report every kill the kernel logged for the cgroup, one incident each.
//!
//! (g) compares the incident of (a) across every log form of `oomlens_testkit::render` after
//! dropping `time`, `source` and `host` (only journal and syslog forms carry a host name; it
//! must then be this host's).
//!
//! Run: `cargo test -p oomlens --test real_kernel -- --nocapture` (timings and the kernel's
//! choices are printed to stderr).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use oomlens_testkit::cgroup_v1::{MemoryCgroup, Proc};
use oomlens_testkit::fs::{TempDir, Tmpfs};
use oomlens_testkit::kmsg::{self, KernelKill, Kmsg, Record};
use oomlens_testkit::oomlens;
use oomlens_testkit::render::{self, Form};
use oomlens_testkit::run::{Oomlens, Ran};
use serde_json::Value;

const MIB: u64 = 1 << 20;
/// Longest wait for the kernel to kill after a hog started; kills come ~0.4 s after the limit.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to keep reading after the last expected kill, to catch a second kill.
const SETTLE: Duration = Duration::from_millis(300);
const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest run of one `oomlens` command.
const OOMLENS_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Gate and shared state

use oomlens_testkit::RealKernel as Env;

/// Serialises the tests; also held while the shared incident of test (a) is made.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The environment, `None` when skipping (loudly), or a panic that says what is missing.
fn env() -> Option<&'static Env> {
    oomlens_testkit::real_kernel()
}

fn hog(env: &Env) -> Command {
    Command::new(&env.hog)
}

/// Prints a test's total time (scenario and explain runs) when it ends.
struct Timer(&'static str, Instant);

impl Drop for Timer {
    fn drop(&mut self) {
        eprintln!(
            "real_kernel {}: total {} ms",
            self.0,
            self.1.elapsed().as_millis()
        );
    }
}

fn timer(name: &'static str) -> Timer {
    Timer(name, Instant::now())
}

fn report(name: &str, started: Instant, kills: &[KernelKill]) {
    let who: Vec<String> = kills
        .iter()
        .map(|k| format!("pid {} ({})", k.oom_kill.pid, k.oom_kill.task))
        .collect();
    eprintln!(
        "real_kernel {name}: scenario {} ms (incl. {} ms settle after the kill); kernel killed {}",
        started.elapsed().as_millis(),
        SETTLE.as_millis(),
        who.join(", ")
    );
}

// ---------------------------------------------------------------------------------------
// Driving explain

fn tempdir(tag: &str) -> TempDir {
    TempDir::new(&format!("real-{tag}")).unwrap()
}

/// Runs the `oomlens` binary; kills it and fails after [`OOMLENS_TIMEOUT`].
fn oomlens(args: &[&str]) -> Ran {
    oomlens!()
        .args(args)
        .env("TERM", "dumb")
        .timeout(OOMLENS_TIMEOUT)
        .run()
}

/// Runs `oomlens explain --json ARGS…`, expects exit 0 and the explain schema.
fn explain_json(args: &[&str]) -> Value {
    let mut full = vec!["explain", "--json"];
    full.extend_from_slice(args);
    let out = oomlens(&full);
    // Exit 0: incidents were found.
    let v = out.success().json();
    assert_eq!(v["schema"], "oomlens.explain/1", "{out}");
    v
}

/// explain's answer for records read from kmsg, fed as a raw kmsg file.
fn explain_records(dir: &TempDir, records: &[Record]) -> (PathBuf, Value) {
    let file = dir
        .write("kmsg.txt", kmsg::records_to_text(records))
        .unwrap();
    let v = explain_json(&["--format", "kmsg", file.to_str().unwrap()]);
    (file, v)
}

fn names_cgroup(incident: &Value, path: &str) -> bool {
    let under = |k: &str| {
        incident[k]
            .as_str()
            .is_some_and(|p| p == path || p.starts_with(&format!("{path}/")))
    };
    under("oom_memcg") || under("task_memcg")
}

/// The incidents naming `path`, after checking that they are exactly the kernel's kills of
/// that cgroup (one incident per kill, same victim pids, in order): nothing of another cgroup
/// and nothing this test did not cause.
fn our_incidents<'a>(
    v: &'a Value,
    path: &str,
    kills: &[KernelKill],
    input: &Path,
) -> Vec<&'a Value> {
    let ours: Vec<&Value> = v["incidents"]
        .as_array()
        .expect("incidents array")
        .iter()
        .filter(|i| names_cgroup(i, path))
        .collect();
    let got: Vec<Option<u64>> = ours.iter().map(|i| i["kills"][0]["pid"].as_u64()).collect();
    let want: Vec<Option<u64>> = kills.iter().map(|k| Some(k.oom_kill.pid as u64)).collect();
    assert_eq!(
        got,
        want,
        "incidents naming {path} must be exactly the kernel's kills; input {}\nJSON: {}",
        input.display(),
        serde_json::to_string_pretty(&ours).unwrap()
    );
    ours
}

/// Checks the fields every memcg incident of ours must have, against the kernel's lines.
fn check_memcg_incident(inc: &Value, path: &str, kill: &KernelKill, records: &[Record], ctx: &str) {
    let killed = kill.killed.as_ref().expect("Killed line");
    let kv = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let invoker_pid = invoker_pid(records, kill);
    let k = &inc["kills"][0];
    let checks: Vec<(&str, Value, Value)> = vec![
        ("kind", inc["kind"].clone(), "memcg".into()),
        ("completeness", inc["completeness"].clone(), "full".into()),
        (
            "kernel_version",
            inc["kernel_version"].clone(),
            kv.trim().into(),
        ),
        (
            "constraint",
            inc["constraint"].clone(),
            "CONSTRAINT_MEMCG".into(),
        ),
        ("oom_memcg", inc["oom_memcg"].clone(), path.into()),
        ("task_memcg", inc["task_memcg"].clone(), path.into()),
        (
            "invoker.pid",
            inc["invoker"]["pid"].clone(),
            invoker_pid.into(),
        ),
        ("invoker.order", inc["invoker"]["order"].clone(), 0.into()),
        (
            "kills.len",
            inc["kills"].as_array().map_or(0, Vec::len).into(),
            1.into(),
        ),
        ("kill.pid", k["pid"].clone(), kill.oom_kill.pid.into()),
        (
            "kill.comm",
            k["comm"].clone(),
            kmsg::kmsg_unescape(&killed.comm).into(),
        ),
        (
            "kill.anon_rss_kb",
            k["anon_rss_kb"].clone(),
            killed.anon_rss_kb.into(),
        ),
        (
            "kill.file_rss_kb",
            k["file_rss_kb"].clone(),
            killed.file_rss_kb.into(),
        ),
        (
            "kill.shmem_rss_kb",
            k["shmem_rss_kb"].clone(),
            killed.shmem_rss_kb.into(),
        ),
        (
            "kill.oom_score_adj",
            k["oom_score_adj"].clone(),
            killed.oom_score_adj.into(),
        ),
    ];
    let bad: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, got, want)| format!("  {name}: got {got}, kernel printed {want}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{ctx}: explain disagrees with the kernel:\n{}\nincident: {}",
        bad.join("\n"),
        serde_json::to_string_pretty(inc).unwrap()
    );
    let gfp = inc["invoker"]["gfp_mask"].as_str().unwrap_or("");
    assert!(gfp.starts_with("0x"), "{ctx}: invoker.gfp_mask {gfp:?}");
}

/// The invoker's pid, from the `CPU: N UID: N PID: N Comm: …` line of the kill's report.
fn invoker_pid(records: &[Record], kill: &KernelKill) -> u64 {
    let report = kmsg::extract_report(records, kill, false).expect("report");
    report
        .iter()
        .find_map(|r| {
            let rest = r.message.strip_prefix("CPU: ")?;
            let pid = rest.split(" PID: ").nth(1)?.split(' ').next()?;
            pid.parse().ok()
        })
        .expect("a CPU: … PID: line in the report")
}

// ---------------------------------------------------------------------------------------
// Running a scenario

/// What one scenario left: the cgroup (still existing, emptied), its kills and all records.
struct Outcome {
    cg: MemoryCgroup,
    kills: Vec<KernelKill>,
    records: Vec<Record>,
}

/// Waits for the kernel's kills in `cg`, then empties the cgroup (the test decides which
/// processes had to die; leftovers are killed here so a slow one cannot be killed by the
/// kernel a second time).
fn collect(mut cg: MemoryCgroup, mut log: Kmsg) -> Outcome {
    let kills = log.wait_for_kills(cg.path(), KILL_TIMEOUT, SETTLE).unwrap();
    if kills.is_empty() || kills.iter().any(|k| k.killed.is_none()) {
        let usage = cg.read("memory.usage_in_bytes").unwrap_or_default();
        let failcnt = cg.read("memory.failcnt").unwrap_or_default();
        let procs = cg.procs().unwrap_or_default();
        panic!(
            "no complete kill logged for {} within {KILL_TIMEOUT:?}: kills {kills:#?}; \
             usage {} failcnt {} procs {procs:?}",
            cg.path(),
            usage.trim(),
            failcnt.trim()
        );
    }
    cg.kill_all(Duration::from_secs(10)).unwrap();
    Outcome {
        cg,
        kills,
        records: log.records,
    }
}

fn start(cg: &mut MemoryCgroup, cmd: &mut Command) -> Proc {
    cg.spawn(cmd)
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"))
}

/// The kernel's first kill in the cgroup, after checking that every kill it logged there
/// hit one of `ours`.
///
/// A second kill cannot always be avoided: on 6.18 an allocator that keeps going after the
/// first kill sometimes gets a second victim picked within ~5 ms, inside the same charge
/// retry, while the first victim's memory is being uncharged (the second report shows usage
/// below the limit). Seen in about 1 of 12 runs with one allocator at the limit, however much
/// room the survivors have. So the tests pin the first victim and require explain to report
/// every kill the kernel logged, but accept an extra kill.
fn first_kill<'a>(o: &'a Outcome, ours: &[u32]) -> &'a KernelKill {
    let stray: Vec<u32> = o
        .kills
        .iter()
        .map(|k| k.oom_kill.pid)
        .filter(|p| !ours.contains(p))
        .collect();
    assert!(
        stray.is_empty(),
        "the kernel killed {stray:?}, not one of this test's processes {ours:?}: {:#?}",
        o.kills
    );
    if let [first, rest @ ..] = o.kills.as_slice() {
        for k in rest {
            let gap = o.records[k.oom_kill_index].usec - o.records[first.oom_kill_index].usec;
            eprintln!(
                "real_kernel note: {}: a further kill of pid {} {} us after the first",
                o.cg.path(),
                k.oom_kill.pid,
                gap
            );
        }
    }
    &o.kills[0]
}

/// Checks every incident of ours against the kernel's kill it reports.
fn check_all(ours: &[&Value], o: &Outcome, ctx: &str) {
    for (inc, kill) in ours.iter().zip(&o.kills) {
        check_memcg_incident(inc, o.cg.path(), kill, &o.records, ctx);
    }
}

// ---------------------------------------------------------------------------------------
// (a) plain anon hog; its records are reused by (g)

struct Anon {
    path: String,
    pid: u32,
    kill: KernelKill,
    records: Vec<Record>,
}

/// Runs (a) once per test process; (a) and (g) share it.
fn plain_anon(env: &Env) -> &'static Anon {
    static ANON: OnceLock<Anon> = OnceLock::new();
    ANON.get_or_init(|| {
        let started = Instant::now();
        let log = Kmsg::open_at_end().unwrap();
        let mut cg = MemoryCgroup::create_under(&env.own, 64 * MIB).unwrap();
        let mut p = start(
            &mut cg,
            hog(env).args(["alloc", "--mib", "100", "--rate", "200"]),
        );
        p.wait_line("start", LINE_TIMEOUT).unwrap();
        let mut o = collect(cg, log);
        let status = o.cg.wait_exit(p.pid, Duration::from_secs(5)).unwrap();
        assert_eq!(
            status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
            Some(9),
            "the hog must die of SIGKILL"
        );
        let kill = first_kill(&o, &[p.pid]).clone();
        report("a_plain_anon", started, &o.kills);
        Anon {
            path: o.cg.path().to_string(),
            pid: p.pid,
            kill,
            records: std::mem::take(&mut o.records),
        }
    })
}

#[test]
fn a_plain_anon_hog() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("a_plain_anon_hog");
    let a = plain_anon(env);
    // The kernel's side.
    let killed = a.kill.killed.as_ref().unwrap();
    assert_eq!(a.kill.oom_kill.pid, a.pid, "the kernel killed another pid");
    assert_eq!(
        (killed.comm.as_str(), a.kill.oom_kill.task.as_str()),
        ("oomlens-hog", "oomlens-hog")
    );
    assert_eq!(a.kill.oom_kill.constraint, "CONSTRAINT_MEMCG");
    assert_eq!(a.kill.oom_kill.oom_memcg.as_deref(), Some(a.path.as_str()));
    assert!(
        (48 * 1024..=64 * 1024).contains(&killed.anon_rss_kb),
        "anon-rss {} kB outside 48..64 MiB",
        killed.anon_rss_kb
    );
    assert_eq!(killed.shmem_rss_kb, 0);
    // explain, from the records as read.
    let dir = tempdir("a");
    let (file, v) = explain_records(&dir, &a.records);
    let ours = our_incidents(&v, &a.path, std::slice::from_ref(&a.kill), &file);
    check_memcg_incident(ours[0], &a.path, &a.kill, &a.records, "(a) kmsg file");
    assert_eq!(ours[0]["invoker"]["comm"], "oomlens-hog");
    let anon = ours[0]["kills"][0]["anon_rss_kb"].as_u64().unwrap();
    assert!(
        (48 * 1024..=64 * 1024).contains(&anon),
        "anon_rss_kb {anon}"
    );
    // explain of this host's live log (journal or /dev/kmsg) holds the same incident.
    let live = explain_json(&[]);
    let live_ours: Vec<&Value> = live["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| names_cgroup(i, &a.path) && i["kills"][0]["pid"] == a.pid)
        .collect();
    assert_eq!(
        live_ours.len(),
        1,
        "live log: incidents of {} pid {}: {live_ours:#?}",
        a.path,
        a.pid
    );
    check_memcg_incident(live_ours[0], &a.path, &a.kill, &a.records, "(a) live log");
}

// ---------------------------------------------------------------------------------------
// (b) a big process that does not grow is killed for a small grower

#[test]
fn b_big_innocent_sibling() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("b_big_innocent_sibling");
    let started = Instant::now();
    let log = Kmsg::open_at_end().unwrap();
    let mut cg = MemoryCgroup::create_under(&env.own, 64 * MIB).unwrap();
    let mut big = start(&mut cg, hog(env).args(["hold", "--mib", "40"]));
    big.wait_line("ready", LINE_TIMEOUT).unwrap();
    // 40 + 40 > 64, but 40 alone fits again once the big one is gone.
    let mut grower = start(
        &mut cg,
        hog(env).args(["alloc", "--mib", "40", "--rate", "100", "--sleep"]),
    );
    grower.wait_line("start", LINE_TIMEOUT).unwrap();
    let o = collect(cg, log);
    report("b_big_innocent_sibling", started, &o.kills);
    let kill = first_kill(&o, &[big.pid, grower.pid]);
    let killed = kill.killed.as_ref().unwrap();
    assert_eq!(
        kill.oom_kill.pid, big.pid,
        "the kernel should kill the big holder, not the grower {}",
        grower.pid
    );
    assert!(
        killed.anon_rss_kb >= 39 * 1024,
        "big anon-rss {} kB",
        killed.anon_rss_kb
    );
    assert_eq!(
        invoker_pid(&o.records, kill),
        grower.pid as u64,
        "the grower invoked the OOM killer"
    );

    let dir = tempdir("b");
    let (file, v) = explain_records(&dir, &o.records);
    let ours = our_incidents(&v, o.cg.path(), &o.kills, &file);
    check_all(&ours, &o, "(b)");
    ranking_agrees(ours[0], &o, "(b)");
}

// ---------------------------------------------------------------------------------------
// (c) oom_score_adj 900 picks a smaller process over bigger ones with adj 0

#[test]
fn c_victim_by_oom_score_adj() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("c_victim_by_oom_score_adj");
    let started = Instant::now();
    let log = Kmsg::open_at_end().unwrap();
    let mut cg = MemoryCgroup::create_under(&env.own, 64 * MIB).unwrap();
    let mut bigger = start(&mut cg, hog(env).args(["hold", "--mib", "28"]));
    bigger.wait_line("ready", LINE_TIMEOUT).unwrap();
    let mut favoured = start(
        &mut cg,
        hog(env).args(["--oom-score-adj", "900", "hold", "--mib", "12"]),
    );
    favoured.wait_line("ready", LINE_TIMEOUT).unwrap();
    // 28 + 12 + 32 > 64; 28 + 32 fits once the adj-900 process is gone.
    let mut grower = start(
        &mut cg,
        hog(env).args(["alloc", "--mib", "32", "--rate", "100", "--sleep"]),
    );
    grower.wait_line("start", LINE_TIMEOUT).unwrap();
    let o = collect(cg, log);
    report("c_victim_by_oom_score_adj", started, &o.kills);
    let kill = first_kill(&o, &[bigger.pid, favoured.pid, grower.pid]);
    let killed = kill.killed.as_ref().unwrap();
    assert_eq!(
        kill.oom_kill.pid, favoured.pid,
        "adj 900 ({}) should be chosen over the bigger {} and the grower {}",
        favoured.pid, bigger.pid, grower.pid
    );
    assert_eq!(killed.oom_score_adj, 900);
    assert!(
        killed.anon_rss_kb < 28 * 1024,
        "the victim is the smaller one"
    );

    let dir = tempdir("c");
    let (file, v) = explain_records(&dir, &o.records);
    let ours = our_incidents(&v, o.cg.path(), &o.kills, &file);
    check_all(&ours, &o, "(c)");
    ranking_agrees(ours[0], &o, "(c)");
    assert_eq!(ours[0]["kills"][0]["oom_score_adj"], 900);
}

// ---------------------------------------------------------------------------------------
// (d) tmpfs pages charged to the cgroup; an allocator is killed with shmem-rss 0

#[test]
fn d_tmpfs_charged_to_cgroup() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("d_tmpfs_charged_to_cgroup");
    let started = Instant::now();
    let log = Kmsg::open_at_end().unwrap();
    let mut cg = MemoryCgroup::create_under(&env.own, 64 * MIB).unwrap();
    // Declared after the cgroup so it is unmounted (and its pages freed) before the rmdir.
    let fs = Tmpfs::mount(128).unwrap();
    let file = fs.path().join("fill");
    let mut filler = start(
        &mut cg,
        hog(env)
            .arg("tmpfs")
            .arg("--path")
            .arg(&file)
            .args(["--mib", "40"]),
    );
    filler.wait_line("ready", LINE_TIMEOUT).unwrap();
    let status = cg.wait_exit(filler.pid, LINE_TIMEOUT).unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "tmpfs filler: {status:?}"
    );
    let stat = cg.memory_stat().unwrap();
    let shmem = stat
        .iter()
        .find(|(k, _)| k == "shmem")
        .map_or(0, |(_, v)| *v);
    assert!(
        shmem >= 40 * MIB,
        "the tmpfs file stays charged: memory.stat shmem {shmem}"
    );
    let mut alloc = start(
        &mut cg,
        hog(env).args(["alloc", "--mib", "40", "--rate", "100", "--sleep"]),
    );
    alloc.wait_line("start", LINE_TIMEOUT).unwrap();
    let o = collect(cg, log);
    report("d_tmpfs_charged_to_cgroup", started, &o.kills);
    let kill = first_kill(&o, &[alloc.pid]);
    let killed = kill.killed.as_ref().unwrap();
    assert_eq!(kill.oom_kill.pid, alloc.pid);
    assert_eq!(killed.shmem_rss_kb, 0, "tmpfs pages are nobody's RSS");
    assert!(
        killed.anon_rss_kb < 28 * 1024,
        "the allocator got under 28 MiB: {}",
        killed.anon_rss_kb
    );
    // The report's stats block shows where the memory is.
    let report_records = kmsg::extract_report(&o.records, kill, false).unwrap();
    let kernel_shmem: u64 = report_records
        .iter()
        .find_map(|r| r.message.strip_prefix("shmem ")?.trim().parse().ok())
        .expect("a `shmem N` line in the report's memory.stat block");
    assert!(kernel_shmem >= 40 * MIB, "report shmem {kernel_shmem}");

    let dir = tempdir("d");
    let (file, v) = explain_records(&dir, &o.records);
    let ours = our_incidents(&v, o.cg.path(), &o.kills, &file);
    check_all(&ours, &o, "(d)");
    ranking_agrees(ours[0], &o, "(d)");
    let entries = ours[0]["memory_stat"]["entries"].as_array();
    let json_shmem = entries
        .and_then(|e| e.iter().find(|e| e["key"] == "shmem"))
        .and_then(|e| e["value"].as_u64());
    assert_eq!(
        json_shmem,
        Some(kernel_shmem),
        "explain's memory_stat should carry the report's `shmem {kernel_shmem}`; memory_stat: {}",
        ours[0]["memory_stat"]
    );
    drop(fs);
}

// ---------------------------------------------------------------------------------------
// (e) many small forked allocators

#[test]
fn e_many_forked_allocators() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("e_many_forked_allocators");
    let started = Instant::now();
    let log = Kmsg::open_at_end().unwrap();
    // 8 x 8 MiB > 60 MiB, while 7 fit (7 x 8 + ~2 MiB overhead). The children start one after
    // another (`--sequential`), so only the last one charges when the limit is hit and the
    // victim is one of the full ones. (All at once with a 48 MiB limit, several children
    // charged at the limit together and a second kill came in 2 of 8 runs.)
    let mut cg = MemoryCgroup::create_under(&env.own, 60 * MIB).unwrap();
    let args = [
        "fork",
        "--children",
        "8",
        "--sequential",
        "--mib",
        "8",
        "--sleep",
    ];
    let mut parent = start(&mut cg, hog(env).args(args));
    parent.wait_line("start", LINE_TIMEOUT).unwrap();
    let mut o = collect(cg, log);
    report("e_many_forked_allocators", started, &o.kills);
    let status = o.cg.wait_exit(parent.pid, Duration::from_secs(5)).unwrap();
    let lines = parent.drain().to_vec();
    let children: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("start ")?.parse().ok())
        .filter(|&p| p != parent.pid)
        .collect();
    assert_eq!(children.len(), 8, "8 children started: {lines:?}");
    let kill = first_kill(&o, &children);
    let ready: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("ready "))
        .cloned()
        .collect();
    assert!(
        ready.contains(&format!("ready {}", kill.oom_kill.pid)),
        "the victim {} is a child that held all its memory: {lines:?}",
        kill.oom_kill.pid
    );
    assert!(
        lines.contains(&format!("child-signal {} 9", kill.oom_kill.pid)),
        "the parent saw its child die of SIGKILL: {lines:?}"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(3), "parent exit");

    let dir = tempdir("e");
    let (file, v) = explain_records(&dir, &o.records);
    let ours = our_incidents(&v, o.cg.path(), &o.kills, &file);
    check_all(&ours, &o, "(e)");
}

/// explain's recomputed badness ranking (issue 4: "why this victim") puts the kernel's
/// actual victim first, and says it agrees.
fn ranking_agrees(inc: &Value, o: &Outcome, tag: &str) {
    let victim = o.kills[0].oom_kill.pid;
    let r = &inc["ranking"];
    assert_eq!(r["top"][0]["pid"], victim, "{tag}: ranking {r:#}");
    assert_eq!(r["agrees"], true, "{tag}: {r:#}");
    assert_eq!(r["kernel_choice"], victim, "{tag}");
}

// ---------------------------------------------------------------------------------------
// (f) a comm with spaces, parentheses and control bytes

#[test]
fn f_hostile_comm() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("f_hostile_comm");
    let comm: &[u8] = b"a b) (c\x01\td";
    let printed = kmsg::kmsg_escape(comm);
    assert_eq!(printed, r"a b) (c\x01\x09d");
    let started = Instant::now();
    let log = Kmsg::open_at_end().unwrap();
    let mut cg = MemoryCgroup::create_under(&env.own, 64 * MIB).unwrap();
    let os_comm = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(comm);
    let mut p = start(
        &mut cg,
        hog(env)
            .arg("--comm")
            .arg(os_comm)
            .args(["alloc", "--mib", "100", "--rate", "200"]),
    );
    p.wait_line("start", LINE_TIMEOUT).unwrap();
    let o = collect(cg, log);
    report("f_hostile_comm", started, &o.kills);
    let kill = first_kill(&o, &[p.pid]);
    assert_eq!(kill.oom_kill.pid, p.pid);
    // The kernel printed the escaped text everywhere it names the task.
    assert_eq!(
        kill.killed.as_ref().unwrap().comm,
        printed,
        "Killed line comm"
    );
    assert_eq!(kill.oom_kill.task, printed, "oom-kill task=");
    let report_records = kmsg::extract_report(&o.records, kill, false).unwrap();
    assert!(report_records[0]
        .message
        .starts_with(&format!("{printed} invoked oom-killer: ")));

    let dir = tempdir("f");
    let (file, v) = explain_records(&dir, &o.records);
    let ours = our_incidents(&v, o.cg.path(), &o.kills, &file);
    check_all(&ours, &o, "(f)");
    let real = String::from_utf8_lossy(comm).into_owned();
    assert_eq!(
        ours[0]["kills"][0]["comm"],
        real.as_str(),
        "kill comm is the comm's bytes"
    );
    assert_eq!(
        ours[0]["invoker"]["comm"],
        real.as_str(),
        "invoker comm is the comm's bytes"
    );

    // Human output: no raw control byte, whatever the input held.
    let args = ["explain", "--format", "kmsg", file.to_str().unwrap()];
    let out = oomlens(&args);
    out.success();
    let raw: Vec<(usize, u8)> = out
        .stdout
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, b)| (b < 0x20 && b != b'\n') || b == 0x7f)
        .collect();
    assert!(raw.is_empty(), "raw control bytes at {raw:?}:\n{out}");

    // Every log form yields the same comm.
    same_in_every_form("f", &report_records, |form, inc| {
        assert_eq!(
            inc["kills"][0]["comm"],
            real.as_str(),
            "{} form: kill comm",
            form.name()
        );
        assert_eq!(
            inc["invoker"]["comm"],
            real.as_str(),
            "{} form: invoker comm",
            form.name()
        );
    });
}

// ---------------------------------------------------------------------------------------
// (g) the incident of (a) in every log form

/// Drops `time` and `source` keys everywhere, and `host` (only journal and syslog forms
/// carry a host name; it is checked separately).
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("time");
            m.remove("source");
            m.remove("host");
            m.values_mut().for_each(normalise);
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[test]
fn g_same_incident_in_every_form() {
    let _serial = serial();
    let Some(env) = env() else { return };
    let _timer = timer("g_same_incident_in_every_form");
    let a = plain_anon(env);
    let report_records = kmsg::extract_report(&a.records, &a.kill, true)
        .expect("the report of (a) is contiguous and complete");
    let base = same_in_every_form("g", &report_records, |form, inc| {
        if form == Form::Kmsg {
            check_memcg_incident(inc, &a.path, &a.kill, &a.records, "(g) kmsg form");
        }
    });
    assert_eq!(base["kills"][0]["pid"], a.pid);
}

/// Renders one report's records in every [`Form`], runs `oomlens explain --json` on each
/// (plus the kmsg form with `--format kmsg`), calls `check` on each raw incident, and
/// requires one incident per form and the same JSON everywhere once `time`, `source` and
/// `host` are removed. Returns the normalised incident.
fn same_in_every_form(tag: &str, report_records: &[Record], check: impl Fn(Form, &Value)) -> Value {
    let ctx = render::Context::this_host();
    let mut dir = tempdir(tag);
    let mut inputs: Vec<(Form, String, Vec<String>)> = Vec::new();
    for form in Form::ALL {
        let text = render::render(report_records, form, &ctx);
        let file = dir.write(format!("{}.txt", form.name()), &text).unwrap();
        let file = file.to_str().unwrap().to_string();
        inputs.push((form, form.name().to_string(), vec![file.clone()]));
        if form == Form::Kmsg {
            let forced = vec!["--format".into(), "kmsg".into(), file];
            inputs.push((form, "kmsg with --format kmsg".into(), forced));
        }
    }
    let mut baseline: Option<(String, Value)> = None;
    let mut failures = Vec::new();
    for (form, name, args) in &inputs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = explain_json(&args);
        let incidents = v["incidents"].as_array().unwrap();
        if incidents.len() != 1 {
            failures.push(format!(
                "{name}: {} incidents from {args:?}",
                incidents.len()
            ));
            continue;
        }
        check(*form, &incidents[0]);
        let host = &incidents[0]["host"];
        if !(host.is_null() || *host == ctx.hostname.as_str()) {
            failures.push(format!("{name}: host {host}"));
        }
        let mut inc = incidents[0].clone();
        normalise(&mut inc);
        match &baseline {
            None => baseline = Some((name.clone(), inc)),
            Some((base_name, base)) if *base != inc => failures.push(format!(
                "{name} differs from {base_name}:\n{}",
                json_diff(base, &inc)
            )),
            Some(_) => {}
        }
    }
    if !failures.is_empty() {
        let kept = dir.keep().display().to_string();
        panic!(
            "forms disagree (inputs kept in {kept}):\n{}",
            failures.join("\n")
        );
    }
    baseline.expect("at least one form").1
}

/// The leaf paths where two JSON values differ.
fn json_diff(a: &Value, b: &Value) -> String {
    fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Value::Null;
                    walk(
                        format!("{path}.{k}"),
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(format!("{path}[{i}]"), p, q, out);
                }
            }
            _ if a != b => out.push(format!("  {path}: {a} vs {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(String::new(), a, b, &mut out);
    out.join("\n")
}

/// The gate itself: run as uid 65534 (setpriv, when we are root), a real-kernel test prints
/// its loud skip and passes; with `OOMLENS_REQUIRE_REAL_KERNEL=1` the same run fails.
#[test]
fn the_gate_skips_loudly_without_root_and_fails_when_required() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Not root: this process is the unprivileged case, and the gate must have refused it.
        assert!(env().is_none() || std::env::var_os("OOMLENS_REQUIRE_REAL_KERNEL").is_some());
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let run = |require: bool| {
        let mut c = Oomlens::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(["a_plain_anon_hog", "--exact", "--nocapture"])
            .env_remove("OOMLENS_SKIP_REAL_KERNEL")
            .env_remove("OOMLENS_REQUIRE_REAL_KERNEL");
        if require {
            c = c.env("OOMLENS_REQUIRE_REAL_KERNEL", "1");
        }
        let out = c.run();
        (out.status.success(), out.stderr())
    };
    let (ok, err) = run(false);
    assert!(
        ok,
        "the unprivileged run failed instead of skipping:\n{err}"
    );
    assert!(
        err.contains("SKIPPED real-kernel test:") && err.contains("they need root"),
        "no loud skip:\n{err}"
    );
    let (ok, err) = run(true);
    assert!(
        !ok,
        "OOMLENS_REQUIRE_REAL_KERNEL=1 let the skip pass:\n{err}"
    );
    assert!(
        err.contains("OOMLENS_REQUIRE_REAL_KERNEL=1 requires them"),
        "{err}"
    );
}
