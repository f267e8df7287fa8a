//! `preempt::decide` on hand-made cgroups: each verdict, each choice, the exclusions, the
//! rate limit and the wait for memory to be freed; then properties over random inputs.

use oomlens_analysis::preempt::*;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

fn policy(toml_body: &str) -> Policy {
    #[derive(serde::Deserialize)]
    struct F {
        preempt: Vec<Policy>,
    }
    let mut f: F = toml::from_str(&format!("[[preempt]]\ncgroup = \"/t\"\n{toml_body}")).unwrap();
    let p = f.preempt.remove(0);
    p.check().unwrap();
    p
}

fn point(t: f64, usage_mib: u64, limit_mib: u64) -> CgroupPoint {
    CgroupPoint {
        t,
        usage: usage_mib * MIB,
        limit: Some(limit_mib * MIB),
        high: None,
        psi_some_avg10: None,
    }
}

fn proc_(pid: u32, comm: &str, rss_mib: &[(f64, u64)]) -> Candidate {
    Candidate {
        pid,
        start_time: 1000 + pid as u64,
        comm: comm.into(),
        exe: Some(format!("/usr/bin/{comm}")),
        kernel_thread: false,
        rss: rss_mib.iter().map(|&(t, m)| (t, m * MIB)).collect(),
    }
}

/// The innocent-sibling cgroup: a big steady main process and a smaller growing one.
fn sibling() -> Vec<Candidate> {
    vec![
        proc_(100, "main", &[(0.0, 300), (1.0, 300)]),
        proc_(200, "leaker", &[(0.0, 100), (1.0, 150)]),
    ]
}

fn decide_on(p: &Policy, cg: &[CgroupPoint], procs: &[Candidate], state: State) -> Decision {
    decide(&Inputs {
        policy: p,
        cgroup: cg,
        processes: procs,
        protected: &[],
        guard: &[7],
        state,
    })
}

fn target(d: &Decision) -> &Target {
    match &d.verdict {
        Verdict::Act(t) => t,
        v => panic!("expected an action, got {v:?}"),
    }
}

#[test]
fn fastest_growing_is_the_leaker_not_the_largest() {
    let p = policy("");
    let d = decide_on(&p, &[point(1.0, 460, 500)], &sibling(), State::default());
    let t = target(&d);
    assert_eq!((t.pid, t.chosen_by), (200, ChosenBy::FastestGrowing));
    assert_eq!(t.growth, 50.0 * MIB as f64);
    assert_eq!(t.rss, 150 * MIB);
    assert_eq!(t.start_time, 1200);
    // 0.9 × 500 MiB, and the numbers say so.
    assert_eq!(d.numbers.threshold, Some(450 * MIB));
    assert_eq!(d.numbers.usage, 460 * MIB);
    assert_eq!(d.numbers.processes, 2);
}

#[test]
fn largest_when_asked_or_when_nothing_grew() {
    let d = decide_on(
        &policy("choose = \"largest\""),
        &[point(1.0, 460, 500)],
        &sibling(),
        State::default(),
    );
    assert_eq!(
        (target(&d).pid, target(&d).chosen_by),
        (100, ChosenBy::Largest)
    );
    let flat = vec![
        proc_(100, "main", &[(0.0, 300), (1.0, 300)]),
        proc_(200, "other", &[(0.0, 150), (1.0, 140)]),
    ];
    let d = decide_on(
        &policy(""),
        &[point(1.0, 460, 500)],
        &flat,
        State::default(),
    );
    assert_eq!(
        (target(&d).pid, target(&d).chosen_by),
        (100, ChosenBy::Largest)
    );
}

#[test]
fn prefer_takes_the_first_pattern_that_matches_by_comm_or_exe() {
    let mut procs = sibling();
    procs.push(proc_(300, "batch-7", &[(0.0, 10), (1.0, 10)]));
    let p = policy("choose = \"prefer\"\nprefer = [\"nothing*\", \"/usr/bin/mai?\", \"batch-*\"]");
    let d = decide_on(&p, &[point(1.0, 460, 500)], &procs, State::default());
    assert_eq!(
        (target(&d).pid, target(&d).chosen_by),
        (100, ChosenBy::Prefer(1))
    );
    // No pattern matches: fastest-growing among all.
    let p = policy("choose = \"prefer\"\nprefer = [\"nothing*\"]");
    let d = decide_on(&p, &[point(1.0, 460, 500)], &procs, State::default());
    assert_eq!(
        (target(&d).pid, target(&d).chosen_by),
        (200, ChosenBy::FastestGrowing)
    );
}

#[test]
fn below_the_share_and_unlimited_do_nothing() {
    let p = policy("share = 0.95");
    let d = decide_on(&p, &[point(1.0, 470, 500)], &sibling(), State::default());
    assert_eq!(d.verdict, Verdict::Below);
    assert_eq!(
        d.numbers.threshold,
        Some((500.0 * 0.95 * MIB as f64) as u64)
    );
    let mut cg = point(1.0, 470, 500);
    cg.limit = None;
    let d = decide_on(&p, &[cg], &sibling(), State::default());
    assert_eq!(d.verdict, Verdict::NoLine);
    // line = "high" reads memory.high, not the limit.
    let mut cg = point(1.0, 300, 500);
    cg.high = Some(320 * MIB);
    let d = decide_on(
        &policy("line = \"high\""),
        &[cg],
        &sibling(),
        State::default(),
    );
    assert_eq!(d.numbers.line, Some(320 * MIB));
    assert!(matches!(d.verdict, Verdict::Act(_)));
}

#[test]
fn pressure_must_hold_for_its_duration() {
    let p = policy("pressure = { level = 20.0, duration-secs = 2.0 }");
    let at = |t: f64, psi: f64| CgroupPoint {
        psi_some_avg10: Some(psi),
        ..point(t, 460, 500)
    };
    // Above the level since t=1 only: held 1.5 s.
    let cg = [at(0.0, 5.0), at(1.0, 25.0), at(2.0, 30.0), at(2.5, 40.0)];
    let d = decide_on(&p, &cg, &sibling(), State::default());
    assert_eq!(d.verdict, Verdict::NotTriggered);
    assert_eq!(d.numbers.pressure_held_secs, Some(1.5));
    let cg = [at(0.0, 5.0), at(1.0, 25.0), at(2.0, 30.0), at(3.0, 40.0)];
    let d = decide_on(&p, &cg, &sibling(), State::default());
    assert_eq!(d.numbers.pressure_held_secs, Some(2.0));
    assert_eq!(target(&d).pid, 200);
}

#[test]
fn forecast_acts_when_the_limit_is_near_at_the_fitted_rate() {
    let p = policy("share = 0.5\nforecast = { within-secs = 5.0 }");
    // 20 MiB/s towards 500 MiB from 300: at t=4, 380 MiB, 6 s left.
    let cg: Vec<CgroupPoint> = (0..=4)
        .map(|i| point(i as f64, 300 + 20 * i, 500))
        .collect();
    let d = decide_on(&p, &cg, &sibling(), State::default());
    assert_eq!(d.verdict, Verdict::NotTriggered);
    assert_eq!(d.numbers.usage_rate, Some(20.0 * MIB as f64));
    assert_eq!(d.numbers.eta_secs, Some(6.0));
    // At t=6, 420 MiB: 4 s left.
    let cg: Vec<CgroupPoint> = (0..=6)
        .map(|i| point(i as f64, 300 + 20 * i, 500))
        .collect();
    let d = decide_on(&p, &cg, &sibling(), State::default());
    assert_eq!(d.numbers.eta_secs, Some(4.0));
    assert_eq!(target(&d).pid, 200);
}

#[test]
fn rate_limit_and_the_wait_for_freed_memory() {
    let p = policy("rate-limit-secs = 30.0\nsettle-secs = 10.0");
    let d = decide_on(&p, &[point(1.0, 460, 500)], &sibling(), State::default());
    let state = State::default().after(&d);
    assert_eq!(state.last_action, Some(1.0));
    let w = state.waiting.unwrap();
    assert_eq!(
        (w.pid, w.usage_before, w.target_rss),
        (200, 460 * MIB, 150 * MIB)
    );

    // The target has not exited, usage still high: settling, never a second kill.
    let d = decide_on(&p, &[point(2.0, 470, 500)], &sibling(), state);
    assert_eq!(d.verdict, Verdict::Settling { pid: 200 });
    // Exited, but the memory is not freed yet (usage fell by less than half its RSS).
    let mut exited = state;
    exited.waiting.as_mut().unwrap().exited = true;
    let d = decide_on(&p, &[point(2.0, 455, 500)], &sibling(), exited);
    assert_eq!(d.verdict, Verdict::Settling { pid: 200 });
    // Freed: usage fell by 80 MiB >= 75.
    let d = decide_on(&p, &[point(2.5, 380, 500)], &sibling(), exited);
    assert_eq!(
        d.verdict,
        Verdict::Settled {
            pid: 200,
            freed: true
        }
    );
    let state = exited.after(&d);
    assert_eq!(state.waiting, None);
    // Usage above the share again within the rate limit: no action until t=31.
    let d = decide_on(&p, &[point(20.0, 460, 500)], &sibling(), state);
    assert_eq!(d.verdict, Verdict::RateLimited { until: 31.0 });
    let d = decide_on(&p, &[point(31.0, 460, 500)], &sibling(), state);
    assert!(matches!(d.verdict, Verdict::Act(_)));
    // A wait that never sees the memory freed ends at settle-secs, saying so.
    let d = decide_on(
        &p,
        &[point(11.0, 470, 500)],
        &sibling(),
        State::default().after(&decide_on(
            &p,
            &[point(1.0, 460, 500)],
            &sibling(),
            State::default(),
        )),
    );
    assert_eq!(
        d.verdict,
        Verdict::Settled {
            pid: 200,
            freed: false
        }
    );
}

#[test]
fn never_init_the_guard_kernel_threads_protected_or_empty() {
    let mut procs = vec![
        proc_(1, "init", &[(0.0, 10), (1.0, 400)]),
        proc_(7, "oomlens", &[(0.0, 10), (1.0, 400)]),
        proc_(8, "kworker", &[(0.0, 10), (1.0, 400)]),
        proc_(9, "postgres", &[(0.0, 10), (1.0, 400)]),
        proc_(10, "zombie", &[(0.0, 10), (1.0, 0)]),
    ];
    procs[2].kernel_thread = true;
    let inputs = |procs: &[Candidate]| {
        decide(&Inputs {
            policy: &policy(""),
            cgroup: &[point(1.0, 460, 500)],
            processes: procs,
            protected: &[9],
            guard: &[7],
            state: State::default(),
        })
    };
    let d = inputs(&procs);
    assert_eq!(d.verdict, Verdict::NoCandidate);
    assert_eq!(
        d.numbers.excluded,
        Excluded {
            init: 1,
            guard: 1,
            kernel_threads: 1,
            protected: 1,
            empty: 1
        }
    );
    procs.push(proc_(11, "small", &[(0.0, 1), (1.0, 1)]));
    assert_eq!(target(&inputs(&procs)).pid, 11);
}

#[test]
fn whole_cgroup_grace_and_dry_run_come_from_the_policy() {
    let p = policy("whole-cgroup = true\ngrace-secs = 0.5\ndry-run = true");
    let d = decide_on(&p, &[point(1.0, 460, 500)], &sibling(), State::default());
    let t = target(&d);
    assert!(t.whole_cgroup && t.dry_run);
    assert_eq!(t.grace_secs, 0.5);
}

fn arb_candidate() -> impl Strategy<Value = Candidate> {
    (
        1u32..40,
        any::<bool>(),
        prop::collection::vec(0u64..1000, 1..4),
    )
        .prop_map(|(pid, kthread, rss)| Candidate {
            pid,
            start_time: pid as u64,
            comm: format!("p{pid}"),
            exe: None,
            kernel_thread: kthread,
            rss: rss
                .iter()
                .enumerate()
                .map(|(i, &m)| (i as f64, m * MIB))
                .collect(),
        })
}

proptest! {
    /// Whatever the processes, the policy's choice and the numbers: never PID 1, the guard,
    /// a kernel thread, a protected or an empty process.
    #[test]
    fn never_picks_an_excluded_process(
        procs in prop::collection::vec(arb_candidate(), 0..12).prop_map(|mut v| {
            // One process per pid, as in a cgroup.
            let mut seen = std::collections::HashSet::new();
            v.retain(|c| seen.insert(c.pid));
            v
        }),
        protected in prop::collection::vec(1u32..40, 0..6),
        guard in prop::collection::vec(1u32..40, 1..3),
        choose in 0usize..3,
        usage in 0u64..600,
    ) {
        let p = policy(match choose {
            0 => "",
            1 => "choose = \"largest\"",
            _ => "choose = \"prefer\"\nprefer = [\"p1*\", \"p2?\"]",
        });
        let d = decide(&Inputs {
            policy: &p,
            cgroup: &[point(3.0, usage, 500)],
            processes: &procs,
            protected: &protected,
            guard: &guard,
            state: State::default(),
        });
        if let Verdict::Act(t) = &d.verdict {
            let c = procs.iter().find(|c| c.pid == t.pid).unwrap();
            prop_assert!(t.pid != 1);
            prop_assert!(!guard.contains(&t.pid));
            prop_assert!(!protected.contains(&t.pid));
            prop_assert!(!c.kernel_thread);
            prop_assert!(c.rss_now() > 0);
            prop_assert!(usage * MIB >= d.numbers.threshold.unwrap());
        } else if usage * MIB >= 450 * MIB {
            // Armed and not acting: only because nobody is eligible.
            prop_assert_eq!(&d.verdict, &Verdict::NoCandidate);
            prop_assert!(procs.iter().all(|c| c.pid == 1 || guard.contains(&c.pid)
                || protected.contains(&c.pid) || c.kernel_thread || c.rss_now() == 0));
        }
    }

    /// Driving `decide` and `State::after` through a random series: two actions are never
    /// closer than the rate limit, and no action comes while the last target's memory has
    /// not been seen freed and settle-secs has not passed.
    #[test]
    fn respects_the_rate_limit_and_waits_for_freed_memory(
        usages in prop::collection::vec(300u64..520, 1..80),
        exits in prop::collection::vec(any::<bool>(), 80),
        rate in 1.0f64..20.0,
        settle in 0.0f64..10.0,
    ) {
        let p = policy(&format!("rate-limit-secs = {rate}\nsettle-secs = {settle}"));
        let mut state = State::default();
        let mut acts: Vec<f64> = Vec::new();
        for (i, &u) in usages.iter().enumerate() {
            let t = i as f64 * 0.5;
            if exits[i] {
                if let Some(w) = state.waiting.as_mut() { w.exited = true; }
            }
            let before = state;
            let d = decide_on(&p, &[point(t, u, 500)], &sibling(), state);
            if let Verdict::Act(_) = d.verdict {
                if let Some(last) = acts.last() {
                    prop_assert!(t - last >= rate, "acted at {t} after {last}");
                }
                prop_assert!(before.waiting.is_none(), "acted while waiting: {before:?}");
                acts.push(t);
            }
            if let Verdict::Settled { freed, .. } = d.verdict {
                let w = before.waiting.unwrap();
                let seen = (w.exited && u * MIB + w.target_rss / 2 <= w.usage_before)
                    || u * MIB < 450 * MIB;
                prop_assert!(seen || t - w.since >= settle);
                prop_assert_eq!(freed, seen);
            }
            state = state.after(&d);
        }
    }
}

/// The README's `[[preempt]]` example (section "Pre-emption") reads into a valid policy
/// that means what the README says.
#[test]
fn the_readme_example_is_a_valid_policy() {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme.find("### Pre-emption").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + section[start..].find("```").unwrap();
    #[derive(serde::Deserialize)]
    struct F {
        preempt: Vec<Policy>,
    }
    let f: F = toml::from_str(&section[start..end]).unwrap();
    let p = &f.preempt[0];
    p.check().unwrap();
    assert!(p.matches_cgroup("/batch/job-1") && !p.matches_cgroup("/batch/job-1/sub"));
    assert_eq!((p.share, p.choose), (0.8, Choice::FastestGrowing));
    assert_eq!((p.grace_secs, p.rate_limit_secs), (2.0, 30.0));
    // "act when usage reaches 80% of the limit": 400 of 500 MiB acts, 399 does not.
    let procs = sibling();
    let d = decide_on(p, &[point(1.0, 400, 500)], &procs, State::default());
    assert_eq!(target(&d).pid, 200);
    let d = decide_on(p, &[point(1.0, 399, 500)], &procs, State::default());
    assert_eq!(d.verdict, Verdict::Below);
}
