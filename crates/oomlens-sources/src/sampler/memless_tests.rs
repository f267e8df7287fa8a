//! Full reads skip the `status` of a pid that had no address space and still has none
//! (one `readlink` of `exe`), read it again once the pid holds a process with memory, and
//! keep every process's series whatever order `cgroup.procs` lists them in.

use oomlens_testkit::faketree::{leaky_v1, set_v1_usage, Status};

use super::guard_tests::{guard, tick};
use super::*;
use oomlens_model::Limit;

/// A full read of /svc/leaky now (an event names it).
fn reread(sm: &mut Sampler, clock: &ManualClock) -> PassStats {
    assert!(sm.mark_urgent("/svc/leaky"));
    let st = tick(sm, clock);
    assert_eq!(st.full_reads, 1);
    st
}

fn pids(sm: &Sampler) -> Vec<u32> {
    let mut p: Vec<u32> = sm.last().processes.iter().map(|p| p.pid).collect();
    p.sort_unstable();
    p
}

#[test]
fn a_kernel_thread_costs_no_status_read_until_its_pid_holds_memory() {
    let t = leaky_v1("sampler-memless");
    t.cgroup_v1("/svc/leaky").procs(&[2, 7, 4242]);
    t.process(2).status(&Status::kernel_thread("kthreadd"));
    t.process(7).status(&Status::kernel_thread("ksoftirqd/0"));
    let (mut sm, clock) = guard(t.root());
    let st = tick(&mut sm, &clock);
    assert_eq!(st.memless_skips, 0, "first read: every status");
    assert_eq!(pids(&sm), [4242]);

    let st = reread(&mut sm, &clock);
    assert_eq!(st.memless_skips, 2, "both kernel threads: readlink only");
    assert_eq!(pids(&sm), [4242]);

    // Pid 7's thread exited and a process with memory took the pid.
    t.process(7)
        .status(&Status::new("reuser").anon_kib(2048))
        .exe("/usr/bin/reuser");
    let st = reread(&mut sm, &clock);
    assert_eq!(st.memless_skips, 1, "pid 2 only");
    assert_eq!(pids(&sm), [7, 4242]);
    let p7 = sm.last().processes.iter().find(|p| p.pid == 7).unwrap();
    assert_eq!((p7.comm.as_str(), p7.anon), ("reuser", Some(2 << 20)));

    // A process with memory is read every time: no skip list entry.
    let st = reread(&mut sm, &clock);
    assert_eq!((st.memless_skips, pids(&sm)), (1, vec![7, 4242]));
    assert!(sm.vanished().is_empty());
}

#[test]
fn an_unsorted_cgroup_procs_ends_no_living_process_series() {
    let t = leaky_v1("sampler-unsorted-procs");
    // cgroup2 lists a cgroup's processes by css_set, not by pid.
    t.cgroup_v1("/svc/leaky").procs(&[4244, 4242, 4243]);
    for pid in [4243, 4244] {
        t.process(pid).status(&Status::new("worker").anon_kib(512));
    }
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    reread(&mut sm, &clock);
    assert_eq!(sm.vanished(), &[] as &[u32], "all three still listed");
    t.cgroup_v1("/svc/leaky").procs(&[4244, 4242]);
    reread(&mut sm, &clock);
    assert_eq!(sm.vanished(), &[4243]);
}

/// Ticks until every staggered first rotation turn has passed (the first full reads at
/// tick 1, the four cgroups' turns at ticks 2 to 5: 2 + their index in the walk).
fn settle(sm: &mut Sampler, clock: &ManualClock) {
    for _ in 0..5 {
        tick(sm, clock);
    }
}

/// A drop far from the limit re-reads the split (memory.stat) and the list of pids: a pid that left
/// ends its series, a new one is read, the others keep their last read. An event naming the
/// cgroup reads them all.
#[test]
fn a_drop_reads_the_split_and_new_pids_only() {
    let t = leaky_v1("sampler-drop-read");
    t.cgroup_v1("/svc/leaky").procs(&[4242, 4243, 9]);
    t.process(4243)
        .status(&Status::new("worker").anon_kib(8 << 10));
    t.process(9).status(&Status::kernel_thread("kworker/0:1"));
    let (mut sm, clock) = guard(t.root());
    set_v1_usage(&t, "/svc/leaky", 20 << 20);
    settle(&mut sm, &clock);
    let known = |sm: &Sampler| {
        let mut p: Vec<u32> = sm
            .processes_of("/svc/leaky")
            .iter()
            .map(|p| p.pid)
            .collect();
        p.sort_unstable();
        p
    };

    // Page cache reclaimed: 20 -> 12 MiB, the same pids listed. /svc and / drop with it
    // (usage is hierarchical); they list no pid. The limit changed meanwhile: a drop read
    // reads the usage and memory.stat's split, not the limits.
    t.cgroup_v1("/svc/leaky").limit(Some(40 << 20));
    set_v1_usage(&t, "/svc/leaky", 12 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!((st.full_reads, st.procs_kept, st.memless_skips), (3, 3, 0));
    let leaky = |sm: &Sampler| {
        let c = sm.last().cgroups.iter().find(|c| c.path == "/svc/leaky");
        c.unwrap().clone()
    };
    assert_eq!(
        (leaky(&sm).usage, leaky(&sm).anon, leaky(&sm).max),
        (Some(12 << 20), Some(12 << 20), Some(Limit::Bytes(48 << 20))),
        "the usage and split read, the limit as of the last full read"
    );
    assert!(sm.last().processes.is_empty(), "no status read");
    assert_eq!(known(&sm), [4242, 4243], "both kept");

    // 4243 exited and the kworker gone, a new process and a new kworker listed: 12 -> 4
    // MiB. Within GUARD_DROP_READ_GAP of the last drop read it waits for the gap's end
    // (quiet passes meanwhile); then the new pids are read, 4242 is kept.
    t.cgroup_v1("/svc/leaky").procs(&[4242, 4244, 10]);
    t.process(4244)
        .status(&Status::new("restarted").anon_kib(1024));
    t.process(10).status(&Status::kernel_thread("kworker/1:0"));
    set_v1_usage(&t, "/svc/leaky", 4 << 20);
    let mut waited = 0;
    let st = loop {
        let st = tick(&mut sm, &clock);
        waited += 1;
        if st.procs_kept > 0 || waited > GUARD_DROP_READ_GAP {
            break st; // a drop read
        }
        assert_eq!(known(&sm), [4242, 4243], "tick {waited}: not read yet");
    };
    assert_eq!(waited, GUARD_DROP_READ_GAP, "read when the gap ends");
    assert_eq!((st.full_reads, st.procs_kept), (3, 1));
    assert_eq!(pids(&sm), [4244], "the new process read");
    assert_eq!(known(&sm), [4242, 4244]);
    assert_eq!(sm.vanished(), &[4243]);

    // A drop an event names (a kill's) does not wait for the gap: every process is read
    // (the new kworker by its status once, then by a readlink). / and /svc drop with it,
    // within their gap: they wait.
    set_v1_usage(&t, "/svc/leaky", 1 << 20);
    assert!(sm.mark_urgent("/svc/leaky"));
    let st = tick(&mut sm, &clock);
    assert_eq!((st.full_reads, st.procs_kept, st.memless_skips), (1, 0, 1));
    assert_eq!(pids(&sm), [4242, 4244], "read");
    assert_eq!(leaky(&sm).max, Some(Limit::Bytes(40 << 20)), "a full read");
}
