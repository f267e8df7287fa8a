//! The guard's profile ([`SamplerConfig::guard`]): which files are read on which tick.

use std::path::Path;
use std::time::Duration;

use oomlens_testkit::faketree::{leaky_v1, set_v1_usage as set_usage, FakeTree};

use super::*;

/// A guard-profile sampler of the whole tree below `root`, its clock advanced one second
/// per tick by `tick`.
pub(super) fn guard(root: &Path) -> (Sampler, ManualClock) {
    let cfg = SamplerConfig::guard(root.to_path_buf(), 4096, 4096);
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    (Sampler::new(cfg, Box::new(clock.clone())).unwrap(), clock)
}

pub(super) fn tick(sm: &mut Sampler, clock: &ManualClock) -> PassStats {
    clock.advance(1.0);
    sm.tick().unwrap();
    sm.stats()
}

/// Ticks past the first full reads' stagger: cgroup i of the walk (4 in leaky_v1) is due
/// again at tick 2 + i, then not before GUARD_FULL_EVERY ticks later; its usage has not
/// changed, so its turn passes with one usage read.
fn settle(sm: &mut Sampler, clock: &ManualClock) {
    for _ in 0..4 {
        let st = tick(sm, clock);
        assert_eq!((st.full_reads, st.quiet_skips), (0, 1), "the stagger");
    }
}

fn fake(tag: &str) -> FakeTree {
    leaky_v1(&format!("sampler-guard-{tag}"))
}

fn row<'a>(sm: &'a Sampler, path: &str) -> &'a CgroupSample {
    sm.last().cgroups.iter().find(|c| c.path == path).unwrap()
}

/// In leaky_v1, /svc/leaky (limit 48 MiB, pid 4242) lies below /svc (64 MiB) below the
/// unlimited root; /svc/idle has no limit of its own. A move far from the limit costs
/// usage reads only; at half the smallest limit on the path it brings a full read with
/// the processes, in the same tick.
#[test]
fn a_moved_cgroup_is_read_in_full_only_at_risk() {
    let t = fake("risk");
    let (mut sm, clock) = guard(t.root());
    let st = tick(&mut sm, &clock);
    assert_eq!(
        (st.full_reads, sm.last().processes.len()),
        (4, 1),
        "first pass: all"
    );
    assert!(sm.last().mounts.is_empty(), "mounts are not read");
    assert_eq!(st.fd_scans, 0, "no deleted-file scan");
    settle(&mut sm, &clock);

    // 2 MiB of 48 (and 3 of 64 above): not at risk.
    set_usage(&t, "/svc/leaky", 2 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.full_reads, 0);
    assert_eq!(
        st.usage_reads, 4,
        "/ moved, so /svc; /svc moved, so both children"
    );
    let leaky = row(&sm, "/svc/leaky");
    assert_eq!(leaky.usage, Some(2 << 20), "this tick's usage");
    assert_eq!(leaky.anon, Some(1 << 20), "the first pass's split");
    assert!(sm.last().processes.is_empty(), "no status read");
    assert_eq!(sm.processes_of("/svc/leaky").len(), 1, "still known");

    // 30 MiB of 48: at risk; /svc at 31 MiB of 64 is not, nor the unlimited root.
    set_usage(&t, "/svc/leaky", 30 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.full_reads, 1);
    assert_eq!(row(&sm, "/svc/leaky").anon, Some(30 << 20));
    assert_eq!(row(&sm, "/svc").anon, Some(1 << 20), "/svc not re-read");
    assert_eq!(sm.last().processes.len(), 1, "4242 re-read with its cgroup");

    // Back to 3 MiB (its process killed, say): far from the risk line, but the split of
    // 30 MiB is wrong now, so it is read in full at once, not carried forward.
    set_usage(&t, "/svc/leaky", 3 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.full_reads, 1, "the drop brings a full read");
    assert_eq!(row(&sm, "/svc/leaky").anon, Some(3 << 20));
    // A small ebb below the risk line (256 KiB of the 3 MiB read, under an eighth) stays
    // on the quiet cadence.
    set_usage(&t, "/svc/leaky", (3 << 20) - (256 << 10));
    let st = tick(&mut sm, &clock);
    assert_eq!(st.full_reads, 0, "an ebb");
    assert_eq!(row(&sm, "/svc/leaky").anon, Some(3 << 20), "the last split");
    set_usage(&t, "/svc/leaky", 30 << 20);
    tick(&mut sm, &clock);

    // /svc/idle has no limit, but /svc's 64 MiB is on its path: 40 MiB is at risk, and
    // so is /svc with 41 MiB (leaky stays where it was).
    set_usage(&t, "/svc/idle", 40 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.full_reads, 2, "/svc and /svc/idle");
    assert_eq!(row(&sm, "/svc/idle").anon, Some(40 << 20));
    assert_eq!(row(&sm, "/svc").anon, Some(41 << 20));
    assert_eq!(
        row(&sm, "/").anon,
        Some(1 << 20),
        "the unlimited root waits"
    );
}

/// With MemAvailable below SYSTEM_RISK_AVAILABLE of MemTotal, any moved cgroup is at
/// risk (a system OOM may pick a process anywhere), limit or not.
#[test]
fn low_memavailable_puts_every_moved_cgroup_at_risk() {
    let t = fake("system");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    settle(&mut sm, &clock);
    set_usage(&t, "/svc/idle", 2 << 20);
    assert_eq!(tick(&mut sm, &clock).full_reads, 0, "MemAvailable 75 %");
    t.meminfo(1_048_576, 50_000, 50_000); // 4.8 % available
    set_usage(&t, "/svc/idle", 3 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(
        st.full_reads, 3,
        "/, /svc, /svc/idle moved; /svc/leaky did not"
    );
    assert_eq!(row(&sm, "/svc/idle").anon, Some(3 << 20));
}

/// A quiet tree costs one usage read per tick (the root's); at each cgroup's turn in the
/// GUARD_FULL_EVERY rotation (staggered, one a tick here) one more usage read says it has
/// not changed and it is not read in full; 1/GUARD_WALK_EVERY of the directories is
/// re-listed per tick. GUARD_QUIET_FULL_EVERY ticks after its last full read it is read in
/// full anyway.
#[test]
fn a_quiet_tree_is_read_on_the_rotation_only() {
    let t = fake("rotation");
    for k in 0..100 {
        t.cgroup_v1(&format!("/svc/k{k:02}"))
            .usage(1 << 20)
            .limit(None)
            .stat("total_rss 0\n")
            .procs(&[]);
    }
    let (mut sm, clock) = guard(t.root());
    assert_eq!(tick(&mut sm, &clock).full_reads, 104);
    let n = sm.tree.len();
    let mut turn_at: Vec<u64> = Vec::new();
    for k in 2..=GUARD_FULL_EVERY + 1 {
        let st = tick(&mut sm, &clock);
        assert_eq!(st.full_reads, 0, "tick {k}: nothing changed");
        assert_eq!(
            st.listings,
            n.div_ceil(GUARD_WALK_EVERY as usize),
            "tick {k}"
        );
        assert!(st.quiet_skips <= 1, "tick {k}: staggered");
        // The root's usage is read every tick: its turn (tick 2) adds no read.
        let turn_read = usize::from(k != 2 && st.quiet_skips == 1);
        assert_eq!(
            st.usage_reads,
            1 + turn_read,
            "tick {k}: the root's, the turn's"
        );
        if st.quiet_skips == 1 {
            turn_at.push(k);
        }
    }
    // Cgroup i of the walk was first due at tick 2 + i, then every GUARD_FULL_EVERY.
    assert_eq!(turn_at, (2..2 + n as u64).collect::<Vec<_>>());
    // The root's turn at tick 2 + GUARD_FULL_EVERY passes too; until the backstop, the
    // turns pass and nothing is read in full.
    let mut full_at: Vec<u64> = Vec::new();
    for k in GUARD_FULL_EVERY + 2..=GUARD_QUIET_FULL_EVERY + 1 + n as u64 {
        let st = tick(&mut sm, &clock);
        if st.full_reads > 0 {
            assert_eq!(st.full_reads, 1, "tick {k}: staggered");
            full_at.push(k);
        }
    }
    // Read in full at tick 1; the first turn at or after tick 1 + GUARD_QUIET_FULL_EVERY
    // reads it: cgroup i's turns are at 2 + i + j * GUARD_FULL_EVERY.
    let expect: Vec<u64> = (0..n as u64)
        .map(|i| {
            let mut k = 2 + i;
            while k < 1 + GUARD_QUIET_FULL_EVERY {
                k += GUARD_FULL_EVERY;
            }
            k
        })
        .collect();
    let mut expect_sorted = expect.clone();
    expect_sorted.sort_unstable();
    assert_eq!(full_at, expect_sorted);
}

/// A cgroup whose usage moved a little (less than CHANGE_BYTES, far from its limit) since
/// its last full read is read in full at its rotation turn: only an unchanged one passes.
#[test]
fn a_cgroup_that_moved_a_little_is_read_at_its_turn() {
    let t = fake("little");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    // /svc/idle is cgroup 2 of the walk: its turn is tick 4 (then 4 + GUARD_FULL_EVERY).
    let idle = sm.tree.iter().position(|p| p == "/svc/idle").unwrap() as u64;
    // Its own usage only: its parent's did not move (as when another child freed as much).
    t.cgroup_v1("/svc/idle").usage((1 << 20) + 4096);
    for k in 2..2 + idle {
        let st = tick(&mut sm, &clock);
        assert_eq!(
            st.full_reads, 0,
            "tick {k}: /svc/idle moved 4 KiB: not at risk"
        );
    }
    let st = tick(&mut sm, &clock);
    assert_eq!(
        (st.full_reads, st.quiet_skips),
        (1, 0),
        "its turn: read in full"
    );
    assert_eq!(row(&sm, "/svc/idle").counters_t, Some(sm.last().mono));
}

/// Directories the caller watches (`watch_dirs`) are left out of the rolling re-listing;
/// unwatched again, they are back in it.
#[test]
fn watched_directories_are_not_relisted() {
    let t = fake("watched");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    let all: Vec<String> = sm.paths().to_vec();
    assert_eq!(sm.watch_dirs(["/svc", "/svc/idle", "/nope"], true), 2);
    // One directory a tick here (4 / GUARD_WALK_EVERY, rounded up): a round is 4 ticks.
    let round =
        |sm: &mut Sampler, n: usize| -> usize { (0..n).map(|_| tick(sm, &clock).listings).sum() };
    assert_eq!(
        round(&mut sm, all.len()),
        all.len() - 2,
        "the two unwatched"
    );
    assert_eq!(sm.watch_dirs(all.iter().map(String::as_str), true), 4);
    assert_eq!(
        round(&mut sm, 2 * all.len()),
        0,
        "all watched: nothing re-listed"
    );
    // What inotify would tell is still spliced in by relist_dir.
    t.cgroup_v1("/svc/fresh")
        .usage(1 << 20)
        .limit(None)
        .stat("total_rss 0\n")
        .procs(&[]);
    assert!(sm.relist_dir("/svc").unwrap());
    assert_eq!(sm.watch_dirs(["/svc"], false), 1);
    assert_eq!(
        round(&mut sm, all.len() + 1),
        2,
        "/svc again, and /svc/fresh (new, unwatched)"
    );
}

/// A cgroup an event named is read in full (with its processes) the next tick, outside
/// the pass budget; a path the walk does not hold is refused.
#[test]
fn an_urgent_cgroup_is_read_next_tick_whatever_the_budget() {
    let t = fake("urgent");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    settle(&mut sm, &clock);
    sm.budget = Some(Duration::ZERO);
    t.cgroup_v1("/svc/leaky").stat("total_rss 7340032\n");
    assert!(sm.mark_urgent("/svc/leaky"));
    assert!(!sm.mark_urgent("/svc/nope"));
    let st = tick(&mut sm, &clock);
    assert_eq!((st.full_reads, st.deferred), (1, 0));
    assert_eq!(
        row(&sm, "/svc/leaky").anon,
        Some(7 << 20),
        "quiet usage, read anyway"
    );
    assert_eq!(sm.last().processes.len(), 1);
    assert_eq!(tick(&mut sm, &clock).full_reads, 0, "once");
}

/// cgroups_with_processes gives each row of the last sample with the processes
/// processes_of has for it, read this tick or carried over.
#[test]
fn cgroups_with_processes_pairs_rows_and_processes() {
    let t = fake("pairs");
    let (mut sm, clock) = guard(t.root());
    for _ in 0..3 {
        tick(&mut sm, &clock);
        let pairs: Vec<(String, Vec<u32>)> = sm
            .cgroups_with_processes()
            .map(|(c, ps, _)| (c.path.clone(), ps.iter().map(|p| p.pid).collect()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("/".to_string(), vec![]),
                ("/svc".to_string(), vec![]),
                ("/svc/idle".to_string(), vec![]),
                ("/svc/leaky".to_string(), vec![4242]),
            ]
        );
    }
    std::fs::remove_dir_all(t.root().join("sys/fs/cgroup/memory/svc/leaky")).unwrap();
    // The fake's held usage file still reads (the kernel's gives ENODEV): the removal
    // shows when /svc is re-listed, within GUARD_WALK_EVERY ticks.
    for _ in 0..GUARD_WALK_EVERY {
        tick(&mut sm, &clock);
    }
    let paths: Vec<&str> = sm
        .cgroups_with_processes()
        .map(|(c, _, _)| c.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["/", "/svc", "/svc/idle"],
        "a removed cgroup's row goes"
    );
}

/// The rows updated in place on quiet ticks are the rows a rebuild would make, through
/// usage moves, full reads, a cgroup made and one removed (for the fake, shown by
/// re-listing, as its held usage file still reads).
#[test]
fn rows_kept_in_place_match_a_rebuild() {
    let t = fake("rows");
    let (mut sm, clock) = guard(t.root());
    let check = |sm: &Sampler, what: &str| {
        let rebuilt: Vec<CgroupSample> = sm
            .tree
            .iter()
            .zip(&sm.nodes)
            .filter(|(_, n)| !n.gone)
            .map(|(p, n)| super::pass::node_row(p.clone(), n))
            .collect();
        assert_eq!(sm.last().cgroups, rebuilt, "{what}");
    };
    for k in 0..6u64 {
        tick(&mut sm, &clock);
        check(&sm, "stagger");
        set_usage(&t, "/svc/leaky", (2 + k) << 20);
    }
    let changed = |sm: &Sampler| -> Vec<(String, RowChange)> {
        sm.cgroups_with_processes()
            .filter(|(_, _, ch)| ch.any())
            .map(|(c, _, ch)| (c.path.clone(), ch))
            .collect()
    };
    let of = |rows: &[(&str, RowChange)]| -> Vec<(String, RowChange)> {
        rows.iter().map(|&(p, ch)| (p.to_string(), ch)).collect()
    };
    use RowChange::{Counters, Processes};
    tick(&mut sm, &clock); // leaky's last move: /, /svc, /svc/leaky re-read usage
    assert_eq!(
        changed(&sm),
        of(&[
            ("/", Counters),
            ("/svc", Counters),
            ("/svc/leaky", Counters)
        ]),
        "usage read, processes as they were"
    );
    tick(&mut sm, &clock);
    assert!(changed(&sm).is_empty(), "a quiet tick changes no row");
    let shape = sm.shape;
    set_usage(&t, "/svc/leaky", 40 << 20); // at risk: a full read
    tick(&mut sm, &clock);
    assert_eq!(sm.shape, shape, "in place");
    assert_eq!(
        changed(&sm),
        of(&[
            ("/", Counters),
            ("/svc", Processes),
            ("/svc/leaky", Processes)
        ]),
        "the full reads' processes (/svc is at risk under its limit too)"
    );
    assert_eq!(row(&sm, "/svc/leaky").anon, Some(40 << 20));
    check(&sm, "full read");
    t.cgroup_v1("/svc/new")
        .usage(1 << 20)
        .limit(None)
        .stat("total_rss 0\n")
        .procs(&[]);
    std::fs::remove_dir_all(t.root().join("sys/fs/cgroup/memory/svc/idle")).unwrap();
    for _ in 0..GUARD_WALK_EVERY {
        tick(&mut sm, &clock);
        check(&sm, "re-listing");
    }
    let paths: Vec<&str> = sm.last().cgroups.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/", "/svc", "/svc/leaky", "/svc/new"]);
}

/// A cgroup made after the walk is in the sample the tick after `relist_dir` of its parent
/// (what the guard calls on inotify's IN_CREATE), read in full with its limit, long before
/// its turn in the rolling re-listing; a directory that did not change costs no splice.
#[test]
fn a_new_cgroup_is_sampled_the_tick_after_its_parent_is_relisted() {
    let t = fake("relist");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    settle(&mut sm, &clock);
    assert!(!sm.relist_dir("/svc").unwrap(), "nothing new yet");
    assert!(!sm.relist_dir("/nope").unwrap(), "not in the walk");
    t.cgroup_v1("/svc/fresh")
        .usage(3 << 20)
        .limit(Some(32 << 20))
        .stat("total_rss 3145728\n")
        .procs(&[]);
    assert!(!sm.paths().iter().any(|p| p == "/svc/fresh"));
    assert!(sm.relist_dir("/svc").unwrap());
    assert!(sm.paths().iter().any(|p| p == "/svc/fresh"));
    tick(&mut sm, &clock);
    let fresh = row(&sm, "/svc/fresh");
    assert_eq!(fresh.usage, Some(3 << 20));
    assert_eq!(fresh.max, Some(oomlens_model::Limit::Bytes(32 << 20)));
    assert_eq!(fresh.anon, Some(3 << 20), "read in full at once");
    // Removed again: the next relist takes it out of the walk.
    std::fs::remove_dir_all(t.root().join("sys/fs/cgroup/memory/svc/fresh")).unwrap();
    assert!(sm.relist_dir("/svc").unwrap());
    assert!(!sm.paths().iter().any(|p| p == "/svc/fresh"));
}

/// A parent that moved once and then stayed has its children's usage read once, not every
/// pass until its next full read: the children are read again when it moves by more than
/// CHANGE_BYTES from where it stood when they were last read (counted on leaky_v1, whose
/// root holds /svc, which holds /svc/leaky and /svc/idle).
#[test]
fn children_are_read_when_the_parent_moved_since_they_were_read() {
    let t = fake("kids");
    let (mut sm, clock) = guard(t.root());
    tick(&mut sm, &clock);
    settle(&mut sm, &clock);
    let st = tick(&mut sm, &clock);
    assert_eq!(
        st.usage_reads, 1,
        "a quiet tree: the top cgroup's usage alone"
    );

    // 2 MiB into /svc/leaky (and so /svc and the root): far from every limit, no full read.
    set_usage(&t, "/svc/leaky", 2 << 20);
    let st = tick(&mut sm, &clock);
    assert_eq!(
        (st.usage_reads, st.full_reads),
        (4, 0),
        "all moved: all read"
    );
    for _ in 0..3 {
        let st = tick(&mut sm, &clock);
        assert_eq!(
            st.usage_reads, 1,
            "the root stayed where it stood when /svc was read: /svc and below are not"
        );
    }
    assert_eq!(
        row(&sm, "/svc/leaky").usage,
        Some(2 << 20),
        "the value read stays"
    );

    // A move of CHANGE_BYTES or less below the root reads nothing below it either...
    set_usage(&t, "/svc/leaky", (2 << 20) + CHANGE_BYTES);
    assert_eq!(tick(&mut sm, &clock).usage_reads, 1);
    // ...but what adds up past it since the children were read does.
    set_usage(&t, "/svc/leaky", (2 << 20) + 2 * CHANGE_BYTES);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.usage_reads, 4);
    assert_eq!(
        row(&sm, "/svc/leaky").usage,
        Some((2 << 20) + 2 * CHANGE_BYTES)
    );
}

/// The system's `some avg10` is read every GUARD_PRESSURE_EVERY seconds (the kernel's
/// averaging period), a tick between carrying the last value, and at the tick after
/// `reread_pressure` (the system's trigger fired) whatever its turn. A tick a little early
/// (pass clocks drift) still reads on its turn.
#[test]
fn system_pressure_is_read_every_two_seconds_and_when_asked() {
    let t = fake("psi");
    let psi = |avg10: &str| {
        t.file(
            "proc/pressure/memory",
            format!(
                "some avg10={avg10} avg60=0.00 avg300=0.00 total=1\n\
                 full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
            ),
        )
    };
    psi("1.00");
    let (mut sm, clock) = guard(t.root());
    let avg10 = |sm: &Sampler| sm.last().psi_some_avg10;
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(1.0), "the first tick reads it");
    psi("2.50");
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(1.0), "1 s later: carried");
    clock.advance(-0.01);
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(2.5), "1.99 s after the read: its turn");
    psi("7.25");
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(2.5), "carried");
    sm.reread_pressure();
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(7.25), "asked: read at once");
    psi("not a pressure file");
    tick(&mut sm, &clock);
    assert!(sm.tick().is_ok(), "same instant: carried, not read");
    clock.advance(2.0);
    let err = sm.tick().unwrap_err().to_string();
    assert!(err.contains("pressure/memory"), "{err}");
}

/// While the caller holds a trigger on the file (GUARD_PRESSURE_ARMED_EVERY), it is read
/// every 10 s, the ticks between carrying the last value, and still at once when asked.
#[test]
fn system_pressure_is_read_every_ten_seconds_under_a_trigger() {
    let t = fake("psi-armed");
    let psi = |avg10: &str| {
        t.file(
            "proc/pressure/memory",
            format!("some avg10={avg10} avg60=0.00 avg300=0.00 total=1\n"),
        )
    };
    psi("1.00");
    let (mut sm, clock) = guard(t.root());
    sm.set_pressure_every(GUARD_PRESSURE_ARMED_EVERY);
    assert_eq!(sm.pressure_every(), 10.0);
    let avg10 = |sm: &Sampler| sm.last().psi_some_avg10;
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(1.0), "the first tick reads it");
    psi("2.50");
    for s in 1..10 {
        tick(&mut sm, &clock);
        assert_eq!(avg10(&sm), Some(1.0), "{s} s later: carried");
    }
    clock.advance(-0.01);
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(2.5), "9.99 s after the read: its turn");
    psi("7.25");
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(2.5), "carried");
    sm.reread_pressure();
    tick(&mut sm, &clock);
    assert_eq!(avg10(&sm), Some(7.25), "the trigger fired: read at once");
}

/// A parent ebbing in steps of CHANGE_BYTES or less (page cache reclaimed with no
/// pressure: the test VM's container lost ~6 MB/s for minutes) has its children's usage
/// read again once per GUARD_KIDS_FALL_GAP ticks, not at each step that adds up past
/// CHANGE_BYTES; its children's rows keep their last read meanwhile. A rise of more than
/// CHANGE_BYTES from its lowest point since, or a fall of an eighth, reads them at once.
#[test]
fn a_parent_ebbing_reads_its_children_once_per_fall_gap() {
    let t = fake("ebb");
    let mut leaky = 16 << 20;
    set_usage(&t, "/svc/leaky", leaky); // /svc and / at 17 MiB
    let (mut sm, clock) = guard(t.root());
    // Tick 1 reads every usage and every cgroup in full. Then, as the guard does, every
    // directory of the walk is watched, so that the quiet pass may run.
    tick(&mut sm, &clock);
    let paths: Vec<String> = sm.paths().to_vec();
    sm.watch_dirs(paths.iter().map(String::as_str), true);
    settle(&mut sm, &clock);
    let mut kids_read = Vec::new();
    let mut last_read = leaky;
    // 32 KiB a tick for 64 ticks: 2 MiB, under an eighth of / and /svc until the end.
    for k in 6..=69 {
        leaky -= 32 << 10;
        set_usage(&t, "/svc/leaky", leaky);
        let st = tick(&mut sm, &clock);
        assert_eq!(st.full_reads, 0, "tick {k}: far from every limit, no drop");
        if st.usage_reads > 1 {
            assert_eq!(st.usage_reads, 4, "tick {k}: /, /svc and both children");
            kids_read.push(k);
            last_read = leaky;
        } else {
            assert!(st.quiet_pass, "tick {k}: the top's usage alone");
        }
        assert_eq!(row(&sm, "/svc/leaky").usage, Some(last_read), "tick {k}");
    }
    assert_eq!(kids_read, [31, 61], "the first pass read them at tick 1");

    // Up 96 KiB from the lowest point, still 192 KiB below where it stood at tick 61: the
    // root, read every tick, rose from its lowest point, so /svc is read at once; /svc,
    // read at ticks 31 and 61 only, fell from there: its children wait.
    let at_61 = last_read;
    set_usage(&t, "/svc/leaky", leaky - (32 << 10));
    let st = tick(&mut sm, &clock);
    assert_eq!(st.usage_reads, 1, "a step down within the gap");
    set_usage(&t, "/svc/leaky", leaky + (64 << 10));
    let st = tick(&mut sm, &clock);
    assert_eq!(st.usage_reads, 2, "/ rose from its lowest point: /svc read");
    assert_eq!(row(&sm, "/svc").usage, Some(leaky + (64 << 10) + (1 << 20)));
    assert_eq!(row(&sm, "/svc/leaky").usage, Some(at_61));
    // Above where /svc stood at tick 61: its children too.
    set_usage(&t, "/svc/leaky", at_61 + 2 * CHANGE_BYTES);
    let st = tick(&mut sm, &clock);
    assert_eq!(st.usage_reads, 4, "/svc rose: both children read");
    assert_eq!(row(&sm, "/svc/leaky").usage, Some(at_61 + 2 * CHANGE_BYTES));

    // Half of it gone (a kill whose event is not in, a job ended): at once.
    set_usage(&t, "/svc/leaky", 7 << 20);
    let st = tick(&mut sm, &clock);
    assert!(st.usage_reads >= 4, "a fall of an eighth");
    assert_eq!(row(&sm, "/svc/leaky").usage, Some(7 << 20));
}
