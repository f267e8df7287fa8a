//! The quiet pass stands for the general pass to the letter: two guard-profile samplers
//! of one fake tree, one of them never quiet, see the same rows, processes, changed flags
//! and vanished pids at every tick of a long random run of usage moves, drops, risk,
//! urgent marks, a top cgroup ebbing and memory shortage.

use oomlens_testkit::faketree::{leaky_v1, set_v1_usage, xorshift, FakeTree, TopEbb};

use super::*;

const PATHS: [&str; 4] = ["", "/svc", "/svc/leaky", "/svc/idle"];

fn sampler(t: &FakeTree, clock: &ManualClock, quiet: bool) -> Sampler {
    let cfg = SamplerConfig::guard(t.root().to_path_buf(), 4096, 4096);
    let mut sm = Sampler::new(cfg, Box::new(clock.clone())).unwrap();
    sm.quiet_allowed = quiet;
    sm
}

/// Each row's path, its processes' pids, and what of it changed.
type Rows = Vec<(String, Vec<u32>, RowChange)>;

/// What a consumer of a pass sees.
fn seen(sm: &Sampler) -> (Sample, Rows, Vec<u32>) {
    let rows = sm
        .cgroups_with_processes()
        .map(|(c, ps, changed)| (c.path.clone(), ps.iter().map(|p| p.pid).collect(), changed))
        .collect();
    (sm.last().clone(), rows, sm.vanished().to_vec())
}

#[test]
fn a_quiet_pass_gives_what_the_general_pass_gives() {
    let t = leaky_v1("sampler-quiet-same");
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    let mut quiet = sampler(&t, &clock, true);
    let mut general = sampler(&t, &clock, false);
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let (mut quiet_passes, mut fallbacks, mut held) = (0, 0, 0);
    let mut ebb = TopEbb::default();
    for step in 0..2000 {
        let r = xorshift(&mut rng);
        let path = PATHS[(r >> 8) as usize % PATHS.len()];
        let mib = |n: u64| n << 20;
        match r % 40 {
            // Within CHANGE_BYTES of where it was, and beyond it.
            0 => set_v1_usage(&t, path, mib(1) + (r >> 20) % CHANGE_BYTES),
            1 => set_v1_usage(&t, path, mib(1 + (r >> 20) % 20)),
            // At risk under /svc/leaky's 48 MiB, then a drop (the kill freed it).
            2 => set_v1_usage(&t, "/svc/leaky", mib(30 + (r >> 20) % 18)),
            3 => set_v1_usage(&t, "/svc/leaky", mib(1)),
            4 => {
                for sm in [&mut quiet, &mut general] {
                    sm.mark_urgent(path);
                }
            }
            // MemAvailable under 10 % of MemTotal, and back.
            5 => {
                t.meminfo(1_048_576, 40_000, 50_000);
            }
            6 => {
                t.meminfo(1_048_576, 524_288, 786_432);
            }
            // The top cgroup alone, a few KiB: what an idle host does.
            7..=9 => set_v1_usage(&t, "", mib(2) + (r >> 20) % 4096),
            // The top cgroup ebbing 48 KiB a step (page cache reclaimed), 8 to 6 MiB.
            10..=15 => ebb.step(&t),
            _ => {}
        }
        clock.advance(1.0);
        quiet.tick().unwrap();
        general.tick().unwrap();
        if step == 0 {
            // The guard watches every directory of the walk: no rolling re-listing.
            for sm in [&mut quiet, &mut general] {
                let paths: Vec<String> = sm.paths().to_vec();
                sm.watch_dirs(paths.iter().map(String::as_str), true);
            }
        }
        assert_eq!(seen(&quiet), seen(&general), "step {step}");
        let st = quiet.stats();
        // A quiet pass's one changed row is the top's, as the rows give it.
        let top = quiet
            .quiet_top()
            .map(|(c, ps, ch)| (c.path.clone(), ps.iter().map(|p| p.pid).collect(), ch));
        assert_eq!(top.is_some(), st.quiet_pass, "step {step}");
        if let Some(top) = top {
            let rows = seen(&quiet).1;
            assert_eq!(
                Some(&top),
                rows.iter().find(|r| r.0 == top.0),
                "step {step}"
            );
            let others = rows.iter().filter(|r| r.0 != top.0);
            assert!(
                others.into_iter().all(|r| r.2 == RowChange::None),
                "step {step}"
            );
        }
        assert!(!general.stats().quiet_pass);
        if st.quiet_pass {
            quiet_passes += 1;
            let top = &quiet.nodes[0];
            let end = top
                .usage
                .and_then(|u| top.kids_fall_end(u, GUARD_KIDS_FALL_GAP));
            held += usize::from(end.is_some_and(|end| end > quiet.tick));
            assert_eq!((st.usage_reads, st.full_reads, st.listings), (1, 0, 0));
        } else if st.quiet_fallback {
            fallbacks += 1;
        }
        // A fallback's general pass takes the quiet pass's read: no file is read twice.
        assert_eq!(st.usage_reads, general.stats().usage_reads, "step {step}");
    }
    // Most ticks change nothing or the top cgroup by a few KiB: quiet. The others fell back.
    assert!(quiet_passes > 1000, "{quiet_passes} quiet passes");
    assert!(fallbacks > 50, "{fallbacks} fallbacks");
    assert!(held > 50, "{held} quiet passes held a fall of the top back");
}

/// A quiet host: after the first pass and the watch, every pass is quiet until the first
/// rotation turn, which the general pass takes.
#[test]
fn an_idle_tree_is_sampled_by_quiet_passes_until_a_turn_is_due() {
    let t = leaky_v1("sampler-quiet-idle");
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    let mut sm = sampler(&t, &clock, true);
    clock.advance(1.0);
    sm.tick().unwrap();
    let paths: Vec<String> = sm.paths().to_vec();
    sm.watch_dirs(paths.iter().map(String::as_str), true);
    let mut quiet = Vec::new();
    for _ in 0..20 {
        clock.advance(1.0);
        sm.tick().unwrap();
        quiet.push(sm.stats().quiet_pass);
    }
    // Tick 2 arms it (the watch disarmed it); the first full reads' stagger puts turns
    // at ticks 2..=5 (one cgroup each); from then on every pass is quiet.
    let first_quiet = quiet.iter().position(|&q| q).unwrap();
    assert!(quiet[first_quiet..].iter().all(|&q| q), "{quiet:?}");
    assert!(first_quiet <= 4, "{quiet:?}");
    // A cgroup named by an event: the next pass is a general one that reads it.
    sm.mark_urgent("/svc/leaky");
    clock.advance(1.0);
    sm.tick().unwrap();
    let st = sm.stats();
    assert!(!st.quiet_pass);
    assert_eq!(st.full_reads, 1);
}
