//! `oomlens top --bench-passes N`: CPU time per sample pass and per analysis, on stderr
//! (read by `bench/top.sh`).

use std::time::{Duration, Instant};

use oomlens_model::top::ProcessScope;

use super::{Live, TopArgs};

/// CPU time of this process, user and system (CLOCK_PROCESS_CPUTIME_ID: nanoseconds).
fn cpu_time() -> Duration {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `--bench-passes N`: N passes (paced by `--bench-pace`), each followed by the analysis
/// the TUI's cgroup tree runs per tick; prints CPU per pass (first, mean and worst of the
/// rest), per analysis, what the passes read, and one analysis with every process (what
/// `--json` runs per tick), on stderr.
pub(super) fn bench(live: &mut Live, n: u32, args: &TopArgs) -> anyhow::Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pace = Duration::from_secs_f64(args.bench_pace.max(0.0));
    let mut next = Instant::now();
    let (mut first, mut first_wall, mut sum, mut worst, mut analysis, mut wall) =
        (0.0, 0.0, 0.0, 0.0f64, 0.0, 0.0);
    let (mut usage, mut full, mut deferred, mut fds, mut lists) = (0, 0, 0, 0, 0);
    let mut doc = None;
    for k in 0..n {
        let (c0, w0) = (cpu_time(), Instant::now());
        live.tick()?;
        let (pass, pass_wall) = (ms(cpu_time() - c0), ms(w0.elapsed()));
        // What the TUI's cgroup tree analyses per tick.
        let c1 = cpu_time();
        doc = Some(live.analyse(ProcessScope::None));
        let a = ms(cpu_time() - c1);
        if k == 0 {
            (first, first_wall) = (pass, pass_wall);
        } else {
            sum += pass;
            wall += pass_wall;
            worst = worst.max(pass);
            analysis += a;
            let st = live.sm.stats();
            usage += st.usage_reads;
            full += st.full_reads;
            deferred += st.deferred;
            fds += st.fd_scans;
            lists += st.listings;
        }
        next += pace;
        if let Some(rest) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        } else {
            next = Instant::now();
        }
    }
    let tree_doc = doc.expect("n >= 2");
    let c = cpu_time();
    let doc = live.analyse(ProcessScope::All);
    let all = ms(cpu_time() - c);
    let rest = f64::from(n - 1);
    let per = |x: usize| x as f64 / rest;
    eprintln!(
        "passes {n} cgroups {} processes {} first_cpu_ms {first:.2} first_wall_ms {first_wall:.2} \
         cpu_ms_per_pass {:.2} wall_ms_per_pass {:.2} max_cpu_ms {worst:.2} analyse_cpu_ms {:.2} \
         usage_reads {:.0} full_reads {:.1} deferred {:.1} fd_scans {:.0} listings {:.0} \
         analyse_all_cpu_ms {all:.2}",
        tree_doc.cgroups.len(),
        doc.processes.len(),
        sum / rest,
        wall / rest,
        analysis / rest,
        per(usage),
        per(full),
        per(deferred),
        per(fds),
        per(lists),
    );
    Ok(())
}
