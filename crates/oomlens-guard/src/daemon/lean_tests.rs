//! The lean pass stands for the full turn's pass: two guards of one fake tree, one making
//! every timed pass in full, the other a lean one whenever it may, hold the same window,
//! sampler rows and pass count at every tick of a long random run; and the loop takes the
//! lean path only when nothing else of its turn has work.

use clap::Parser;
use oomlens_sources::sampler::{ManualClock, Sampler};
use oomlens_testkit::faketree::{leaky_v1, set_v1_usage, xorshift, FakeTree, TopEbb};

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    guard: GuardArgs,
}

/// A guard of `t`, its sampler on `clock`, recording into a fresh directory, following an
/// empty log file.
fn daemon(t: &FakeTree, name: &str, clock: &ManualClock) -> Daemon {
    let dir = t.root().join(format!("guard-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("kern.log");
    std::fs::write(&log, "").unwrap();
    let root = t.root().to_str().unwrap();
    let state = dir.join("state");
    let cli = Cli::try_parse_from([
        "guard",
        "--root",
        root,
        "--state-dir",
        state.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--no-metrics",
        // Shorter than the run below: the sweeps the lean pass leaves to full passes age
        // points out of the window.
        "--window",
        "2m",
    ])
    .unwrap();
    let mut d = Daemon::new(&cli.guard).unwrap();
    let cfg = d.sampler_config();
    d.sampler = Some(Sampler::new(cfg, Box::new(clock.clone())).unwrap());
    d
}

/// What the window holds of each cgroup of the walk, and the sampler's rows.
fn held(d: &Daemon) -> (String, Vec<String>) {
    let sm = d.sampler.as_ref().unwrap();
    let window = sm
        .paths()
        .iter()
        .map(|p| {
            let p = if p.is_empty() { "/" } else { p };
            format!("{p}: {:?} {:?}", d.window.series(p), d.window.processes(p))
        })
        .collect();
    let rows = sm
        .cgroups_with_processes()
        .map(|(c, ps, ch)| {
            let pids: Vec<u32> = ps.iter().map(|p| p.pid).collect();
            format!("{c:?} {pids:?} {ch:?}")
        })
        .collect();
    (window, rows)
}

#[test]
fn a_lean_pass_leaves_what_a_full_pass_leaves() {
    let t = leaky_v1("guard-lean-same");
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    let mut full = daemon(&t, "full", &clock);
    let mut lean = daemon(&t, "lean", &clock);
    let paths = ["", "/svc", "/svc/leaky", "/svc/idle"];
    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    let (mut quiet, mut general, mut refused) = (0, 0, 0);
    let mut ebb = TopEbb::default();
    for step in 0..600 {
        let r = xorshift(&mut rng);
        let mib = |n: u64| n << 20;
        match r % 20 {
            // A child moves (a general pass), or the top by a few KiB (quiet).
            0 => set_v1_usage(&t, paths[(r >> 8) as usize % 4], mib(1 + (r >> 20) % 20)),
            1 => set_v1_usage(&t, "/svc/leaky", mib(30 + (r >> 20) % 18)),
            2..=5 => set_v1_usage(&t, "", mib(2) + (r >> 20) % 4096),
            // The top ebbing 48 KiB a step: children's reads held back, then due.
            6..=8 => ebb.step(&t),
            _ => {}
        }
        clock.advance(1.0);
        full.pass();
        let before = lean.stats.passes;
        if lean.lean_pass(Instant::now()) {
            match lean.sampler.as_ref().unwrap().stats().quiet_pass {
                true => quiet += 1,
                false => general += 1,
            }
        } else {
            assert_eq!(
                lean.stats.passes, before,
                "step {step}: refused, yet a pass"
            );
            refused += 1;
            lean.pass();
        }
        assert_eq!(held(&lean), held(&full), "step {step}");
        assert_eq!(lean.stats.passes, full.stats.passes, "step {step}");
    }
    // Most ticks are quiet; the general ones and the refused ones (the sweep every
    // EVICT_EVERY passes, the walk to follow after the first) were all taken too.
    assert!(quiet > 300, "{quiet} quiet lean passes");
    assert!(general > 30, "{general} general passes inside a lean one");
    assert!(refused >= 600 / EVICT_EVERY as usize, "{refused} refused");
}

#[test]
fn a_watch_event_keeps_the_passes_full_while_it_is_hot() {
    let t = leaky_v1("guard-lean-hot");
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    let mut d = daemon(&t, "hot", &clock);
    for _ in 0..3 {
        clock.advance(1.0);
        d.pass();
    }
    clock.advance(1.0);
    assert!(d.lean_pass(Instant::now()), "an idle tree: lean");
    d.hot_until = d.mono() + HOT_SECONDS;
    let passes = d.stats.passes;
    assert!(
        !d.lean_pass(Instant::now()),
        "a watch hot: its oom_kill is read at full passes"
    );
    assert_eq!(d.stats.passes, passes);
    d.hot_until = d.mono();
    assert!(d.lean_pass(Instant::now()));
}

#[test]
fn the_loop_is_lean_only_when_nothing_else_has_work() {
    let t = leaky_v1("guard-lean-turn");
    let clock = ManualClock::new(1_700_000_000.0, 0.0);
    let mut d = daemon(&t, "turn", &clock);
    let now = Instant::now();
    // A followed regular file is read at every pass: never lean.
    assert!(!d.turn_state(now).1);
    d.inputs.clear();
    d.data_at.clear();
    let (wake, lean) = d.turn_state(now);
    assert!(lean);
    assert_eq!(
        wake, None,
        "no watchdog, no scrape, no hook: only the pass wakes it"
    );
    // A kill counted and waiting for its report.
    let sig = oomlens_model::recorded::Signal {
        unix: 1.0,
        source: "oom_kill".into(),
        cgroup: "/svc/leaky".into(),
        detail: String::new(),
    };
    d.orphans.counted("/svc/leaky", 1, d.mono(), &sig);
    assert!(!d.turn_state(now).1);
    d.orphans = Orphans::default();
    assert!(d.turn_state(now).1);
    // A protect rule is rescanned on the clock.
    let text = "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -500\n";
    let cfg = crate::config::parse(std::path::Path::new("guard.toml"), text).unwrap();
    d.live.protect.reload(&cfg);
    assert!(!d.turn_state(now).1);
}
