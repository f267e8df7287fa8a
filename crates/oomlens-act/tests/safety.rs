//! The signaller on the real kernel: a reused pid is never hit (the reuse forced through
//! `/proc/sys/kernel/ns_last_pid`), PID 1, the guard itself and its children, kernel threads
//! and protected processes are refused, SIGTERM -> SIGKILL after the grace period, and a whole
//! v1 cgroup killed process by process. Processes run in a child v1 memory cgroup of ours.

use std::process::Command;
use std::time::{Duration, Instant};

use oomlens_act::kill::Step;
use oomlens_act::{
    kill_cgroup, ActError, Expected, Guard, Kill, Mrelease, Procfs, Refusal, Target,
};
use oomlens_testkit::cgroup_v1::MemoryCgroup;

const GIB: u64 = 1 << 30;

fn sleeper(cg: &mut MemoryCgroup) -> u32 {
    cg.spawn(Command::new("sleep").arg("60")).unwrap().pid
}

fn start_time(pid: u32) -> u64 {
    Procfs::default().stat(pid).unwrap().start_time
}

fn nobody_protected() -> Guard<'static> {
    Guard {
        own_pid: std::process::id(),
        protected: &[],
    }
}

/// A guard that is not us, so that our children (the test's processes) are not refused as
/// the guard's children.
fn other_guard(protected: &[u32]) -> Guard<'_> {
    Guard {
        own_pid: u32::MAX - 1,
        protected,
    }
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => oomlens_act::StatFields::parse(&s).is_some() && !s.contains(") Z "),
        Err(_) => false,
    }
}

fn sigkill_and_reap(cg: &mut MemoryCgroup, pid: u32) {
    // SAFETY: kill(2) on our own child's pid; it has not been reaped yet, so it is still ours.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    cg.wait_exit(pid, Duration::from_secs(5)).unwrap().unwrap();
}

/// Forks sleepers (outside any test cgroup: only the pid matters) until one gets `pid`:
/// `ns_last_pid` set to `pid - 1` before each fork. Other processes of the machine fork too,
/// so it retries; the ones that got another pid are killed and reaped at once. One test at a
/// time (the two reuse tests would take each other's pids).
fn respawn_with_pid(pid: u32) -> std::process::Child {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..5000 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        if child.id() == pid {
            return child;
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    panic!("could not get pid {pid} back in 5000 forks");
}

/// Kills and reaps the holder of the reused pid at the end of a test.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_pid_reused_before_the_pidfd_is_opened_is_refused() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let old = sleeper(&mut cg);
    let sampled = start_time(old);
    // Start times count clock ticks (1/USER_HZ, 10 ms): a holder forked within the tick the
    // old process started in would carry the same start time, and only the cgroup check
    // would tell them apart (one CI run did just that). Let the tick pass, so that this test
    // checks the start-time refusal itself.
    std::thread::sleep(Duration::from_millis(30));
    sigkill_and_reap(&mut cg, old);
    let holder = Reaped(respawn_with_pid(old));
    let new = holder.0.id();
    let want = Expected {
        pid: old,
        start_time: sampled,
        cgroup: cg.path(),
    };
    match Target::open(&Procfs::default(), &want, &other_guard(&[])) {
        Err(ActError::Refused(Refusal::Reused {
            pid,
            sampled: s,
            now,
        })) => {
            assert_eq!((pid, s), (old, sampled));
            assert_eq!(now, start_time(new));
            assert_ne!(now, sampled);
        }
        other => panic!("expected a reuse refusal, got {other:?}"),
    }
    assert!(
        alive(new),
        "the new holder of pid {new} must not be touched"
    );
}

#[test]
fn a_pid_reused_after_the_pidfd_is_opened_is_never_signalled() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let old = sleeper(&mut cg);
    let want = Expected {
        pid: old,
        start_time: start_time(old),
        cgroup: cg.path(),
    };
    let target = Target::open(&Procfs::default(), &want, &other_guard(&[])).unwrap();
    sigkill_and_reap(&mut cg, old);
    assert!(target.exited().unwrap());
    let holder = Reaped(respawn_with_pid(old));
    let new = holder.0.id();
    assert_eq!(new, old);
    // The pidfd still names the dead process: the signal reaches nobody.
    for sig in [rustix::process::Signal::TERM, rustix::process::Signal::KILL] {
        match target.signal(sig) {
            Err(ActError::Gone(pid)) => assert_eq!(pid, old),
            other => panic!("expected Gone, got {other:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(alive(new), "the new holder of pid {new} was hit");
}

#[test]
fn pid_1_is_refused() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let want = Expected {
        pid: 1,
        start_time: start_time(1),
        cgroup: "/",
    };
    let e = Target::open(&Procfs::default(), &want, &other_guard(&[])).unwrap_err();
    assert!(matches!(e, ActError::Refused(Refusal::Init)), "{e:?}");
}

#[test]
fn the_guard_itself_and_its_children_are_refused() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let me = std::process::id();
    let procfs = Procfs::default();
    let mine = procfs.memory_cgroup(me).unwrap();
    let want = Expected {
        pid: me,
        start_time: start_time(me),
        cgroup: &mine,
    };
    let e = Target::open(&procfs, &want, &nobody_protected()).unwrap_err();
    assert!(
        matches!(e, ActError::Refused(Refusal::Itself(p)) if p == me),
        "{e:?}"
    );
    // Our child (as a hook of the guard would be).
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let child = sleeper(&mut cg);
    let want = Expected {
        pid: child,
        start_time: start_time(child),
        cgroup: cg.path(),
    };
    let e = Target::open(&procfs, &want, &nobody_protected()).unwrap_err();
    assert!(
        matches!(e, ActError::Refused(Refusal::Child(p)) if p == child),
        "{e:?}"
    );
    assert!(alive(child));
}

#[test]
fn kernel_threads_are_refused() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let procfs = Procfs::default();
    // kthreadd is pid 2 in the initial pid namespace; find any kernel thread we can see.
    let kthread = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| procfs.stat(pid).is_ok_and(|s| s.kernel_thread()))
        .expect("no kernel thread visible in /proc");
    let want = Expected {
        pid: kthread,
        start_time: start_time(kthread),
        cgroup: "/",
    };
    let e = Target::open(&procfs, &want, &other_guard(&[])).unwrap_err();
    assert!(
        matches!(e, ActError::Refused(Refusal::KernelThread(p)) if p == kthread),
        "{e:?}"
    );
}

#[test]
fn protected_processes_are_refused_and_stay_alive() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let pid = sleeper(&mut cg);
    let want = Expected {
        pid,
        start_time: start_time(pid),
        cgroup: cg.path(),
    };
    let protected = [pid];
    let e = Target::open(&Procfs::default(), &want, &other_guard(&protected)).unwrap_err();
    assert!(
        matches!(e, ActError::Refused(Refusal::Protected(p)) if p == pid),
        "{e:?}"
    );
    // A whole-cgroup kill is refused as a whole when one process in it is protected.
    let other = sleeper(&mut cg);
    let e = kill_cgroup(
        &Procfs::default(),
        cg.dir(),
        cg.path(),
        &other_guard(&protected),
    )
    .unwrap_err();
    assert!(
        matches!(e, ActError::Refused(Refusal::Protected(p)) if p == pid),
        "{e:?}"
    );
    assert!(alive(pid) && alive(other));
}

#[test]
fn a_process_that_left_the_cgroup_is_refused() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let pid = sleeper(&mut cg);
    let want = Expected {
        pid,
        start_time: start_time(pid),
        cgroup: "/somewhere/else",
    };
    let e = Target::open(&Procfs::default(), &want, &other_guard(&[])).unwrap_err();
    assert!(
        matches!(&e, ActError::Refused(Refusal::Moved { now, .. }) if now == cg.path()),
        "{e:?}"
    );
}

#[test]
fn sigterm_then_sigkill_after_the_grace_period_then_mrelease() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let procfs = Procfs::default();
    let path = cg.path().to_owned();
    let open = |pid| {
        let want = Expected {
            pid,
            start_time: start_time(pid),
            cgroup: &path,
        };
        Target::open(&procfs, &want, &other_guard(&[])).unwrap()
    };
    // Ignores SIGTERM: SIGKILL comes at the deadline.
    let mut p = cg
        .spawn(Command::new("sh").args([
            "-c",
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
        ]))
        .unwrap();
    p.wait_line("ready", Duration::from_secs(5)).unwrap();
    let grace = Duration::from_millis(300);
    let t0 = Instant::now();
    let mut k = Kill::start(open(p.pid), grace, t0).unwrap();
    assert_eq!(k.deadline(), Some(t0 + grace));
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(
        k.advance(Instant::now()).unwrap(),
        Step::Terminated { .. }
    ));
    assert!(
        alive(p.pid),
        "SIGTERM is ignored: still alive within the grace period"
    );
    std::thread::sleep(Duration::from_millis(250));
    match k.advance(Instant::now()).unwrap() {
        // Kernel 5.15+ (here 6.x): the reap happened or the exit beat it.
        Step::Killed { mrelease } => assert!(matches!(
            mrelease,
            Mrelease::Released | Mrelease::AlreadyGone
        )),
        Step::Exited => {}
        s => panic!("expected SIGKILL after the grace period, got {s:?}"),
    }
    assert!(k.killed_at.unwrap() >= t0 + grace);
    cg.wait_exit(p.pid, Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(k.advance(Instant::now()).unwrap(), Step::Exited);

    // Exits on SIGTERM: no SIGKILL.
    let pid = sleeper(&mut cg);
    let mut k = Kill::start(open(pid), Duration::from_secs(5), Instant::now()).unwrap();
    let status = cg.wait_exit(pid, Duration::from_secs(5)).unwrap().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(k.advance(Instant::now()).unwrap(), Step::Exited);
    assert_eq!(k.killed_at, None);
}

#[test]
fn a_whole_v1_cgroup_is_killed_process_by_process() {
    let Some(_) = oomlens_testkit::real_kernel() else {
        return;
    };
    let mut cg = MemoryCgroup::create(GIB).unwrap();
    let mut pids: Vec<u32> = (0..3).map(|_| sleeper(&mut cg)).collect();
    let done = kill_cgroup(&Procfs::default(), cg.dir(), cg.path(), &other_guard(&[])).unwrap();
    let oomlens_act::WholeKill::EachProcess { pids: mut killed } = done else {
        panic!("v1 has no cgroup.kill: {done:?}")
    };
    killed.sort();
    pids.sort();
    assert_eq!(killed, pids);
    for pid in pids {
        use std::os::unix::process::ExitStatusExt;
        let status = cg.wait_exit(pid, Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
