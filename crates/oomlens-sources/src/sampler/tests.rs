use std::path::Path;
use std::time::Duration;

use oomlens_store::Store;
use oomlens_testkit::faketree::{leaky_v1, set_v1_usage as set_usage, v1_stat, FakeTree};

use super::*;

/// A sampler of the whole tree below `root` with a manual clock at 0 (advanced by the
/// test), the config changed by `set` first.
fn sampler(root: &Path, set: impl FnOnce(&mut SamplerConfig)) -> (Sampler, ManualClock) {
    let mut cfg = SamplerConfig::new(root.to_path_buf(), 4096, 4096);
    set(&mut cfg);
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    (Sampler::new(cfg, Box::new(clock.clone())).unwrap(), clock)
}

fn fake(tag: &str) -> FakeTree {
    leaky_v1(&format!("sampler-{tag}"))
}

/// A quiet cgroup costs one read per tick at most; a move of its usage beyond
/// CHANGE_BYTES, or its turn every FULL_EVERY ticks, brings a full read.
#[test]
fn quiet_cgroups_are_read_in_full_only_when_they_move() {
    let t = fake("quiet");
    let mut sm = sampler(t.root(), |c| c.full_every = 1000).0;
    sm.tick().unwrap();
    t.cgroup_v1("/svc/leaky").stat(&v1_stat(7));
    sm.tick().unwrap();
    let leaky = |sm: &Sampler| {
        sm.last
            .cgroups
            .iter()
            .find(|c| c.path == "/svc/leaky")
            .unwrap()
            .anon
    };
    assert_eq!(leaky(&sm), Some(1048576), "not re-read: usage did not move");
    assert!(sm.last.processes.is_empty(), "no process re-read");
    assert_eq!(sm.processes().len(), 1, "but still known");
    set_usage(&t, "/svc/leaky", 2 << 20);
    sm.tick().unwrap();
    assert_eq!(leaky(&sm), Some(2 << 20));
    assert_eq!(sm.last.processes.len(), 1, "re-read with its cgroup");
}

/// With the pass budget spent, moved cgroups keep their last counters (with this
/// pass's usage; `counters_t` tells how old the rest is) and wait, in the order they
/// moved, for a pass with budget left.
#[test]
fn budget_defers_full_reads_in_arrival_order() {
    let t = fake("budget");
    let (mut sm, clock) = sampler(t.root(), |c| c.full_every = 1000);
    let tick = |sm: &mut Sampler| {
        clock.advance(1.0);
        sm.tick().unwrap();
    };
    tick(&mut sm);
    let row = |sm: &Sampler, path: &str| {
        sm.last
            .cgroups
            .iter()
            .find(|c| c.path == path)
            .cloned()
            .unwrap()
    };
    sm.budget = Some(Duration::ZERO);
    set_usage(&t, "/svc/leaky", 3 << 20);
    tick(&mut sm);
    assert_eq!(sm.stats().full_reads, 0);
    assert_eq!(sm.stats().deferred, 3, "/, /svc and /svc/leaky moved");
    let leaky = row(&sm, "/svc/leaky");
    assert_eq!(leaky.usage, Some(3 << 20), "usage is this pass's");
    assert_eq!(
        leaky.anon,
        Some(1 << 20),
        "the split is the last full read's"
    );
    assert_eq!(leaky.counters_t, Some(1.0));
    // The waiting cgroups come before any that moves later.
    set_usage(&t, "/svc/idle", 5 << 20);
    tick(&mut sm);
    let mut wanted: Vec<_> = sm
        .tree
        .iter()
        .zip(&sm.nodes)
        .filter_map(|(p, n)| Some((n.pending_since?, p.as_str())))
        .collect();
    wanted.sort();
    assert_eq!(
        wanted,
        [(2, "/"), (2, "/svc"), (2, "/svc/leaky"), (3, "/svc/idle")]
    );
    sm.budget = None;
    tick(&mut sm);
    assert_eq!((sm.stats().full_reads, sm.stats().deferred), (4, 0));
    let leaky = row(&sm, "/svc/leaky");
    assert_eq!((leaky.anon, leaky.counters_t), (Some(3 << 20), Some(4.0)));
}

/// The tree is re-listed a slice per tick: within WALK_EVERY ticks it is the walk of
/// the directory tree as it is now (new subtrees in, removed ones out, a cgroup removed
/// and made again read afresh), kept cgroups keep their series, and held files go back.
#[test]
fn relisting_follows_made_and_removed_cgroups_a_slice_per_tick() {
    let t = fake("relist");
    let cgdir = |rel: &str| t.root().join(format!("sys/fs/cgroup/memory{rel}"));
    let make = |rel: &str, usage: u64| {
        t.cgroup_v1(rel)
            .usage(usage)
            .limit(None)
            .stat("total_rss 0\n")
            .procs(&[]);
    };
    for k in 0..60 {
        make(&format!("/svc/k{k:02}"), 1 << 20);
    }
    make("/svc-x", 1 << 20);
    let (mut sm, clock) = sampler(t.root(), |_| {});
    let held_at_start = sm.hold_left;
    let mut store = Store::new(100);
    let mut tick = |sm: &mut Sampler| {
        clock.advance(1.0);
        sm.tick().unwrap();
        store.record(sm.last(), sm.vanished());
    };
    tick(&mut sm);
    let n0 = sm.tree.len();
    assert_eq!(n0, 65);
    let fs = sm.cgfs.clone().unwrap();
    assert_eq!(sm.tree, fs.walk("/").unwrap());

    make("/svc/new", 2 << 20);
    make("/svc/new/deep", 3 << 20);
    make("/zz", 1 << 20);
    std::fs::remove_dir_all(cgdir("/svc/idle")).unwrap();
    std::fs::remove_dir_all(cgdir("/svc/k07")).unwrap();
    let per_tick = n0.div_ceil(WALK_EVERY as usize);
    for _ in 0..WALK_EVERY {
        tick(&mut sm);
        assert!(
            sm.stats().listings <= per_tick + 1,
            "{}",
            sm.stats().listings
        );
    }
    assert_eq!(sm.tree, fs.walk("/").unwrap());
    assert_eq!(sm.tree.len(), n0 + 3 - 2);
    let mut check = sm.tree.clone();
    check.sort();
    check.dedup();
    assert_eq!(check.len(), sm.tree.len(), "no path twice");
    for (path, node) in sm.tree.iter().zip(&sm.nodes) {
        let parent = node.parent.map(|p| sm.tree[p].as_str());
        let want = match path.rfind('/') {
            _ if path == "/" => None,
            Some(0) => Some("/"),
            Some(k) => Some(&path[..k]),
            None => unreachable!(),
        };
        assert_eq!(parent, want, "parent of {path}");
    }
    let usage = |p: &str| {
        sm.last
            .cgroups
            .iter()
            .find(|c| c.path == p)
            .and_then(|c| c.usage)
    };
    assert_eq!(usage("/svc/new/deep"), Some(3 << 20));
    assert_eq!(usage("/zz"), Some(1 << 20));
    assert_eq!(usage("/svc/idle"), None);
    assert!(!sm.owners.contains_key("/svc/idle"));
    assert!(sm.owners.contains_key("/svc/new/deep"));
    // Kept cgroups kept their history (a point per tick since the first), and their
    // processes theirs (a point per full read of the quiet cgroup).
    assert_eq!(
        store.cgroup("/svc/leaky").unwrap().len(),
        1 + WALK_EVERY as usize
    );
    assert!(store.process(4242).is_some());
    let held = sm
        .nodes
        .iter()
        .filter(|n| n.usage_file.as_ref().is_some_and(UsageFile::is_held))
        .count();
    assert_eq!(
        held + sm.hold_left,
        held_at_start,
        "removed files went back"
    );

    // Alone, /svc/k10 removed and made again: on cgroupfs its held file then reads
    // ENODEV (the node is gone) while its parent lists the same names; a fake tree
    // cannot do that, so the test marks it.
    let k10 = sm.tree.iter().position(|p| p == "/svc/k10").unwrap();
    sm.nodes[k10].gone = true;
    t.cgroup_v1("/svc/k10").usage(7 << 20);
    let mut store = Store::new(100);
    for _ in 0..WALK_EVERY {
        clock.advance(1.0);
        sm.tick().unwrap();
        store.record(sm.last(), sm.vanished());
    }
    let k10 = sm.last.cgroups.iter().find(|c| c.path == "/svc/k10");
    assert_eq!(k10.and_then(|c| c.usage), Some(7 << 20), "read afresh");
    assert_eq!(sm.tree, fs.walk("/").unwrap());
}

/// Every sample carries wall-clock and monotonic time from the clock given, and
/// `counters_t` is the monotonic time of the pass that read the counters.
#[test]
fn samples_carry_the_clocks_times() {
    let t = fake("clock");
    let (mut sm, clock) = sampler(t.root(), |c| c.full_every = 1000);
    clock.advance(2.5);
    sm.tick().unwrap();
    let s = sm.last();
    assert_eq!((s.unix, s.mono), (1_700_000_002.5, 2.5));
    assert!(s.cgroups.iter().all(|c| c.counters_t == Some(2.5)));
    clock.advance(1.0);
    sm.tick().unwrap();
    let s = sm.last();
    assert_eq!((s.unix, s.mono), (1_700_000_003.5, 3.5));
    // Quiet: read in full again only when its turn came (the first, `/`, at the second
    // pass of the stagger); the others' counters are still those read at 2.5.
    let t: Vec<_> = s
        .cgroups
        .iter()
        .map(|c| (c.path.as_str(), c.counters_t))
        .collect();
    assert_eq!(
        t,
        [
            ("/", Some(3.5)),
            ("/svc", Some(2.5)),
            ("/svc/idle", Some(2.5)),
            ("/svc/leaky", Some(2.5))
        ]
    );
    assert_eq!(sm.started(), 0.0);
}

/// The descriptor budget is the caller's: no more usage files are held than it allows.
#[test]
fn usage_files_held_stay_within_the_budget_passed_in() {
    let t = fake("fds");
    for budget in [0, 2, 100] {
        let (mut sm, _) = sampler(t.root(), |c| c.hold_files = budget);
        sm.tick().unwrap();
        let held = sm
            .nodes
            .iter()
            .filter(|n| n.usage_file.as_ref().is_some_and(UsageFile::is_held))
            .count();
        assert_eq!(held, budget.min(4), "budget {budget}");
        assert_eq!(sm.last().cgroups.len(), 4, "every cgroup read either way");
    }
}

#[test]
fn an_unknown_focus_is_a_typed_error() {
    let t = fake("focus");
    let cfg = SamplerConfig {
        focus: "/nope".into(),
        ..SamplerConfig::new(t.root().to_path_buf(), 4096, 0)
    };
    let e = Sampler::new(cfg, Box::new(SystemClock)).err().unwrap();
    assert!(
        matches!(&e, SamplerError::NoCgroup { focus, .. } if focus == "/nope"),
        "{e}"
    );
}
