//! Growth of a memory series: a robust rate, a classification, and the time left to a limit.
//!
//! The rate is a Theil–Sen estimate restricted to *long* pairs: the median of the slopes
//! `(v_j - v_i) / (t_j - t_i)` over the window's sample pairs at least half a window apart.
//! Restricting to long pairs keeps the work per series linear-ish and bounded (the window
//! is bounded), and makes the estimate blind to what repeats within half a window: a GC
//! sawtooth or allocate/free cycle shorter than that adds as many negative as positive
//! slopes, and a single spike moves only the pairs that include it — never the median.
//! The 25th and 75th percentiles of the same slopes give the uncertainty band.
//!
//! Classification, in this order:
//! - `warming_up`: fewer than [`TrendConfig::min_points`] samples or a too short span;
//! - `leak`: the band's lower edge is above zero, the fitted growth over the window is at
//!   least [`TrendConfig::min_growth_bytes`], and both the floor (minimum) and the ceiling
//!   (maximum) of the window's second half are above those of its first half by at least half
//!   of what the rate predicts — sustained growth, not a ramp of a cycle or a spike — and
//!   the growth is larger than the series' largest fall (less could be a sampled cycle);
//! - `shrinking`: the band's upper edge is below zero, with the same minimum;
//! - `sawtooth`: no net trend, but the series rises and falls (≥ 2 drops of more than a
//!   quarter of its range, and a range above the minimum growth);
//! - `steady`: otherwise.
//!
//! Only a `leak` gets an ETA ([`eta`]): the fitted value at the last sample, the headroom
//! to each applicable limit, and the time at the median, high and low rates.
//!
//! Everything here is pure: slices in, values out; times in seconds, values in bytes.

use serde::Serialize;

/// Knobs of [`trend`].
#[derive(Debug, Clone, Copy)]
pub struct TrendConfig {
    /// Fewest samples before a class other than `warming_up`.
    pub min_points: usize,
    /// Shortest span (seconds) before a class other than `warming_up`.
    pub min_span: f64,
    /// Least growth (or drop, or swing) over the window that counts, bytes.
    pub min_growth_bytes: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            min_points: 6,
            min_span: 4.0,
            min_growth_bytes: 1024.0 * 1024.0,
        }
    }
}

pub use oomlens_model::top::Class;

/// The trend of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// The class.
    pub class: Class,
    /// Median long-pair slope, bytes per second.
    pub rate: f64,
    /// 25th percentile of the slopes.
    pub rate_lo: f64,
    /// 75th percentile of the slopes.
    pub rate_hi: f64,
    /// The robust line's value at the last sample, bytes.
    pub fitted_last: f64,
    /// Samples used.
    pub points: usize,
}

/// The `q` quantile of `v` as of the sorted order, interpolated between neighbours, without
/// sorting: a selection (O(n)) and a minimum over the upper part. `v` is reordered.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    let (_, at, upper) = v.select_nth_unstable_by(i, f64::total_cmp);
    let at = *at;
    match upper.iter().copied().min_by(f64::total_cmp) {
        Some(next) if f > 0.0 => at * (1.0 - f) + next * f,
        _ => at,
    }
}

fn median(v: &mut [f64]) -> f64 {
    quantile(v, 0.5)
}

/// The trend of `(t, v)` points in time order.
pub fn trend(points: &[(f64, f64)], cfg: &TrendConfig) -> Trend {
    let n = points.len();
    let last = points.last().map_or(0.0, |p| p.1);
    let flat = |class| Trend {
        class,
        rate: 0.0,
        rate_lo: 0.0,
        rate_hi: 0.0,
        fitted_last: last,
        points: n,
    };
    if n < 2 {
        return flat(Class::WarmingUp);
    }
    let span = points[n - 1].0 - points[0].0;
    let (lo_v, hi_v) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let warming = n < cfg.min_points || span < cfg.min_span;
    // A constant series (most of a quiet host): every slope is 0, nothing to sort.
    if hi_v == lo_v {
        return flat(if warming {
            Class::WarmingUp
        } else {
            Class::Steady
        });
    }
    // Cheap exit for the common flat series: no pair can show growth above the minimum.
    if !warming && hi_v - lo_v < cfg.min_growth_bytes {
        return flat(Class::Steady);
    }
    let half = (span / 2.0).max(f64::MIN_POSITIVE);
    let mut slopes = Vec::with_capacity(n * n / 8 + 1);
    for i in 0..n {
        for j in (i + 1)..n {
            let dt = points[j].0 - points[i].0;
            if dt >= half * 0.999 {
                slopes.push((points[j].1 - points[i].1) / dt);
            }
        }
    }
    if slopes.is_empty() {
        return flat(Class::WarmingUp);
    }
    let rate = quantile(&mut slopes, 0.5);
    let rate_lo = quantile(&mut slopes, 0.25);
    let rate_hi = quantile(&mut slopes, 0.75);
    let mut resid: Vec<f64> = points.iter().map(|p| p.1 - rate * p.0).collect();
    let intercept = median(&mut resid);
    let fitted_last = intercept + rate * points[n - 1].0;
    let t = Trend {
        class: Class::Steady,
        rate,
        rate_lo,
        rate_hi,
        fitted_last,
        points: n,
    };
    if warming {
        return Trend {
            class: Class::WarmingUp,
            ..t
        };
    }
    let growth = rate * span;
    // Both envelopes must move with the rate: a sawtooth covering each half of the window
    // has the same floor and ceiling in both halves, whatever its long pairs say; a spike
    // lifts only one envelope.
    let (first, second) = points.split_at(n / 2);
    let env = |part: &[(f64, f64)]| {
        part.iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)))
    };
    let ((lo1, hi1), (lo2, hi2)) = (env(first), env(second));
    let moved = rate * (second[0].0 - first[0].0) * 0.5;
    let enveloped = |d: f64| if rate > 0.0 { d >= moved } else { d <= moved };
    let sustained = enveloped(lo2 - lo1) && enveloped(hi2 - hi1);
    let (drops, largest_drop) = falls(points, hi_v - lo_v);
    // Growth smaller than the series' own largest fall cannot be told from the phase at
    // which a few samples caught a cycle: over two cycles sampled 4 times each, the floors
    // seen can rise by most of the amplitude without any growth (aliasing). Such a series
    // is a sawtooth until the window holds more growth than one cycle's swing.
    let beyond_swing = growth.abs() > largest_drop;
    let class = if rate_lo > 0.0 && growth >= cfg.min_growth_bytes && sustained && beyond_swing {
        Class::Leak
    } else if rate_hi < 0.0 && -growth >= cfg.min_growth_bytes && sustained {
        Class::Shrinking
    } else if drops >= 2 {
        Class::Sawtooth
    } else {
        Class::Steady
    };
    Trend { class, ..t }
}

/// Falls of more than a quarter of the range from the highest value since the last fall:
/// how many, and the largest fall from a running peak (whatever its size).
fn falls(points: &[(f64, f64)], range: f64) -> (usize, f64) {
    let need = range / 4.0;
    let mut count = 0;
    let mut largest: f64 = 0.0;
    let mut peak = points[0].1;
    for p in points {
        largest = largest.max(peak - p.1);
        if peak - p.1 > need {
            count += 1;
            peak = p.1;
        } else {
            peak = peak.max(p.1);
        }
    }
    (count, largest)
}

/// A limit a series may reach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitRef {
    /// What it is: `memory.max of /a/b`, `memory.limit_in_bytes of /a`, `MemAvailable`.
    pub name: String,
    /// Bytes left before it is hit (limit − that cgroup's usage).
    pub headroom: f64,
}

pub use oomlens_model::top::Eta;

/// The ETA of a leaking series to the nearest of `limits`; `None` unless `trend` is a leak
/// or when no limit applies. The headroom of the series' own limits is taken from the fitted
/// value, so a spike on the last sample does not move it.
pub fn eta(trend: &Trend, limits: &[LimitRef]) -> Option<Eta> {
    if trend.class != Class::Leak || trend.rate <= 0.0 {
        return None;
    }
    let best = limits
        .iter()
        .min_by(|a, b| a.headroom.total_cmp(&b.headroom))?;
    let h = best.headroom.max(0.0);
    Some(Eta {
        limit: best.name.clone(),
        seconds: h / trend.rate,
        seconds_lo: h / trend.rate_hi.max(trend.rate),
        seconds_hi: (trend.rate_lo > 0.0).then(|| h / trend.rate_lo),
    })
}

/// Which of the anon / file / shmem parts grows fastest, by robust rate; `None` when no part
/// is a leak.
pub fn dominant_part(parts: &[(&'static str, Trend)]) -> Option<&'static str> {
    parts
        .iter()
        .filter(|(_, t)| t.class == Class::Leak)
        .max_by(|a, b| a.1.rate.total_cmp(&b.1.rate))
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The quantile of the sorted order, the plain way.
    fn sorted_quantile(v: &[f64], q: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_unstable_by(f64::total_cmp);
        let pos = q * (s.len() - 1) as f64;
        let (i, f) = (pos.floor() as usize, pos.fract());
        if i + 1 < s.len() {
            s[i] * (1.0 - f) + s[i + 1] * f
        } else {
            s[i]
        }
    }

    proptest! {
        #[test]
        fn quantile_by_selection_equals_sorting(
            v in proptest::collection::vec(-1e9f64..1e9, 1..200),
            q in prop::sample::select(vec![0.0, 0.25, 0.5, 0.75, 1.0, 0.1]),
        ) {
            let want = sorted_quantile(&v, q);
            let got = quantile(&mut v.clone(), q);
            prop_assert_eq!(got.to_bits(), want.to_bits(), "q {} of {:?}", q, v);
        }
    }

    const MIB: f64 = 1048576.0;

    fn cfg() -> TrendConfig {
        TrendConfig::default()
    }

    #[test]
    fn linear_leak_and_eta() {
        let pts: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64, 10.0 * MIB + i as f64 * MIB))
            .collect();
        let t = trend(&pts, &cfg());
        assert_eq!(t.class, Class::Leak);
        assert!((t.rate - MIB).abs() < 1.0);
        let lim = [
            LimitRef {
                name: "far".into(),
                headroom: 100.0 * MIB,
            },
            LimitRef {
                name: "near".into(),
                headroom: 19.0 * MIB,
            },
        ];
        let e = eta(&t, &lim).unwrap();
        assert_eq!(e.limit, "near");
        assert!((e.seconds - 19.0).abs() < 0.01);
    }

    #[test]
    fn few_points_warm_up_and_flat_is_steady() {
        let pts = [(0.0, 1.0), (1.0, 2e9)];
        assert_eq!(trend(&pts, &cfg()).class, Class::WarmingUp);
        let flat: Vec<(f64, f64)> = (0..30)
            .map(|i| (i as f64, 5e8 + (i % 3) as f64 * 4096.0))
            .collect();
        let t = trend(&flat, &cfg());
        assert_eq!(t.class, Class::Steady);
        assert!(eta(
            &t,
            &[LimitRef {
                name: "x".into(),
                headroom: 1.0
            }]
        )
        .is_none());
    }

    #[test]
    fn a_single_spike_does_not_make_a_leak() {
        let mut pts: Vec<(f64, f64)> = (0..30).map(|i| (i as f64, 100.0 * MIB)).collect();
        pts[29].1 = 400.0 * MIB;
        assert_ne!(trend(&pts, &cfg()).class, Class::Leak);
    }

    fn sawtooth(period: f64, amp: f64, n: usize, dt: f64, phase: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let t = i as f64 * dt;
                let x = ((t + phase) % period) / period;
                (t, 50.0 * MIB + amp * x)
            })
            .collect()
    }

    /// Two cycles sampled 4.36 times each: the floors seen rise from 65 to 130 MiB by
    /// phase alone (the case proptest found: period 28.44 s, amplitude 441.8 MiB, phase
    /// 22.89 s). Not a leak, and no ETA.
    #[test]
    fn a_sparsely_sampled_sawtooth_is_not_a_leak() {
        let (period, per_cycle) = (28.44, 4.36);
        let pts = sawtooth(period, 441.8 * MIB, 10, period / per_cycle, 22.89);
        let t = trend(&pts, &cfg());
        assert_ne!(t.class, Class::Leak, "{t:?}");
        assert_eq!(t.class, Class::Sawtooth, "{t:?}");
    }

    #[test]
    fn allocate_free_cycles_are_a_sawtooth() {
        let t = trend(&sawtooth(4.0, 20.0 * MIB, 60, 0.5, 0.0), &cfg());
        assert_eq!(t.class, Class::Sawtooth, "{t:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A linear leak with noise (and a GC-like sawtooth on top) gets its rate within 10%.
        #[test]
        fn noisy_leak_rate_within_tolerance(
            rate_mib in 0.2f64..20.0,
            noise_frac in 0.0f64..0.5,
            saw_frac in 0.0f64..0.3,
            seed in any::<u64>(),
            n in 20usize..120,
        ) {
            let rate = rate_mib * MIB;
            let mut s = seed | 1;
            let mut rnd = || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s % 10_000) as f64 / 10_000.0 - 0.5 };
            let dt = 1.0;
            let period = (n as f64 / 6.0).max(3.0);
            let pts: Vec<(f64, f64)> = (0..n).map(|i| {
                let t = i as f64 * dt;
                // noise and sawtooth amplitudes relative to one period's growth
                let v = 100.0 * MIB + rate * t
                    + noise_frac * rate * period * rnd()
                    + saw_frac * rate * period * ((t % period) / period);
                (t, v)
            }).collect();
            let tr = trend(&pts, &cfg());
            prop_assert!((tr.rate - rate).abs() <= 0.10 * rate, "rate {} vs {}", tr.rate, rate);
            if rate * n as f64 >= 2.0 * MIB {
                prop_assert_eq!(tr.class, Class::Leak);
                prop_assert!(tr.rate_lo <= rate * 1.1 && tr.rate_hi >= rate * 0.9);
            }
        }

        /// A sawtooth without net growth is never a leak and never gets an ETA, whatever its
        /// period, amplitude, phase, and noise.
        #[test]
        fn sawtooth_is_never_a_leak(
            period in 1.0f64..30.0,
            amp_mib in 0.5f64..500.0,
            phase in 0.0f64..30.0,
            // Sampled at least 4 times per cycle (slower, a sawtooth aliases into a slow ramp
            // that no estimator can tell from growth) over at least two cycles (shorter, its
            // rising edge is growth; the sampler's window covers several cycles).
            per_cycle in 4.0f64..50.0,
            cycles in 2.0f64..10.0,
            spike in proptest::option::of((0usize..150, 0.0f64..1000.0)),
        ) {
            let dt = period / per_cycle;
            let n = ((cycles * per_cycle).ceil() as usize + 1).min(400);
            let mut pts = sawtooth(period, amp_mib * MIB, n, dt, phase);
            if let Some((at, size)) = spike {
                if at < pts.len() { pts[at].1 += size * MIB; }
            }
            let tr = trend(&pts, &cfg());
            prop_assert_ne!(tr.class, Class::Leak, "{:?}", tr);
            let lim = [LimitRef { name: "m".into(), headroom: 1.0 }];
            prop_assert!(eta(&tr, &lim).is_none());
        }
    }
}
