//! systemd guest (systemd 252, cgroup v2): the innocent-sibling scenario as a systemd service,
//! under three killers side by side, in separate runs:
//! - `kernel`: nothing else; the kernel's memcg OOM killer takes the main process (the largest);
//! - `oomd`: the unit has `ManagedOOMMemoryPressure=kill` at a 20 % limit and systemd-oomd's
//!   `DefaultMemoryPressureDurationSec` is shortened to 2 s (systemd 252 has no per-unit
//!   duration), as in systemd_drill.rs; whatever happens is classified: systemd-oomd killed the
//!   whole unit (main dies with the leaker: systemd #25853), the kernel got there first, or
//!   nothing killed the main process;
//! - `guard`: `oomlens guard --interval 100ms --config` with a `[[preempt]]` policy on the unit's
//!   cgroup (share 0.8 of memory.max, fastest-growing): the leaker gets SIGTERM and the main
//!   process survives.
//!
//! The unit (a transient `systemd-run` service, `MemoryMax=128M`, no swap) runs an 80 MiB
//! steady main process (`oomlens-hog hold`, the unit's MainPID); the leaker (`oomlens-hog alloc
//! --rate R`, R = 10, 50, 500 MiB/s) is started by this test into the unit's cgroup, so that its
//! stamps (usage crossed 0.8 x limit, SIGTERM received) come back on a pipe. As in
//! crates/oomlens-guard/tests/preempt_sibling.rs (the same sizes on the host's cgroup v1).
//!
//! Each run prints one `PREEMPT-ROW {json}` line (bench/preempt-guest.sh reads them) and the
//! assertions come after all runs: per mode what must hold, never whether systemd-oomd acted
//! (it does not, in some runs, at all: tests/guest_suite.rs on systemd_oomd.rs). At 500 MiB/s
//! asked the guard, which on v2 decides once a pass, may lose the race to the kernel (1 run of
//! 20 in the bench): such a run must then be a clean loss (the kernel killed the main process;
//! the guard sent nothing, or SIGTERM to the leaker too late); `OOMLENS_PREEMPT_STRICT=1`
//! forbids it.
//!
//! In the guest suite (1 run per rate and mode): about 60 s, boot included (36 s of tests).
//!
//! Environment (forwarded into the guest): `OOMLENS_PREEMPT_RUNS` runs per rate and mode
//! (default 1), `OOMLENS_PREEMPT_RATES` (default `10,50,500`), `OOMLENS_PREEMPT_MODES` (default
//! `kernel,oomd,guard`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oomlens_qemu::guest::{self, kernel_kills, killed_pid, summary_field, unit_property, Cgroup};

const MIB: u64 = 1 << 20;
const LIMIT_MIB: u64 = 128;
const MAIN_MIB: u64 = 80;
const SHARE: f64 = 0.8;
const OOMD_LIMIT: &str = "20%";

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn systemctl(args: &[&str]) {
    // Best effort: stopping a unit systemd-oomd already killed fails, and that is fine.
    let _ = Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Who killed the main process, or that it survived.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Killer {
    /// A kernel `Killed process <main>` in the unit's memcg.
    Kernel,
    /// No kernel kill of it, and systemd-oomd's `Killed <unit's cgroup>` line.
    Oomd,
    /// The guard's pre-emption line names it (a wrong choice: it is not the one growing).
    Guard,
    /// It is alive at the end of the run.
    Survived,
    /// It died and neither of the above says why (a test failure in every mode).
    Unexplained,
}

impl Killer {
    fn name(self) -> &'static str {
        match self {
            Killer::Kernel => "kernel",
            Killer::Oomd => "systemd-oomd",
            Killer::Guard => "oomlens-guard",
            Killer::Survived => "none",
            Killer::Unexplained => "unexplained",
        }
    }
}

/// What one run ended with.
#[derive(Debug)]
struct Row {
    mode: String,
    rate: u64,
    run: usize,
    /// The unit's cgroup and the leaker's pid.
    cgroup: String,
    leaker_pid: u32,
    main_survived: bool,
    main_killer: Killer,
    /// The leaker's SIGTERM handler ran and the kernel killed nothing in the unit during the
    /// run. A SIGTERM after a kernel kill is systemd stopping the unit (`OOMPolicy=stop`, the
    /// default for services since systemd 243, or the main process gone), or a guard too late.
    leaker_terminated: bool,
    /// Kernel OOM kills in the unit's memcg (the guest's /dev/kmsg `oom-kill:` summaries
    /// with `oom_memcg=` the unit's cgroup).
    kernel_kills: usize,
    /// `oom_kill` of the unit's `memory.events`, last read while the cgroup existed.
    events_oom_kill: u64,
    /// systemd-oomd's `Killed <cgroup> due to memory pressure ...` line for the unit.
    oomd_line: Option<String>,
    /// The guard's `OOM preempt pid ...` line.
    guard_line: Option<String>,
    /// MiB charged to the unit when it was acted on: the guard's `usage`, the kernel's
    /// `memory: usage` line, or for systemd-oomd the last memory.current read before it.
    usage_at_signal_mib: Option<f64>,
    /// CLOCK_MONOTONIC ms from the start of the MiB during which memory.current crossed
    /// 0.8 x limit (read by the leaker after each MiB) to the leaker's SIGTERM handler.
    crossed_to_sigterm_ms: Option<f64>,
    /// The highest `full avg10` of the unit's memory.pressure read during the run: what
    /// systemd-oomd compares with ManagedOOMMemoryPressureLimit= (src/oom/oomd-util.c reads
    /// PRESSURE_TYPE_FULL), sustained for DefaultMemoryPressureDurationSec=.
    max_full_avg10: f64,
    /// oomd mode: systemd-oomd listed the unit among its memory-pressure monitored cgroups
    /// (`oomctl dump`) before the leak began, so a run it did not act in was not one it
    /// did not know of.
    oomd_monitored: Option<bool>,
    /// The leaker's measured rate, MiB/s, from its start to its end (TCG is slow: at 500
    /// MiB/s asked it is far below).
    leak_rate_mibps: Option<f64>,
    /// The run's length in seconds.
    secs: f64,
}

impl Row {
    fn json(&self) -> String {
        serde_json::json!({
            "mode": self.mode,
            "rate": self.rate,
            "run": self.run,
            "cgroup": self.cgroup,
            "leaker_pid": self.leaker_pid,
            "main_survived": self.main_survived,
            "main_killer": self.main_killer.name(),
            "leaker_terminated": self.leaker_terminated,
            "kernel_kills": self.kernel_kills,
            "events_oom_kill": self.events_oom_kill,
            "oomd_line": self.oomd_line,
            "guard_line": self.guard_line,
            "usage_at_signal_mib": self.usage_at_signal_mib,
            "crossed_to_sigterm_ms": self.crossed_to_sigterm_ms,
            "leak_rate_mibps": self.leak_rate_mibps,
            "max_full_avg10": self.max_full_avg10,
            "oomd_monitored": self.oomd_monitored,
            "secs": self.secs,
        })
        .to_string()
    }
}

/// The leaker's stdout lines as they come, read by a thread (a blocking read on the pipe
/// would stall the poll loop).
struct Leaker {
    child: Child,
    pid: u32,
    rx: mpsc::Receiver<(String, Instant)>,
    seen: Vec<(String, Instant)>,
}

impl Leaker {
    fn spawn(cg: &Cgroup, rate: u64) -> Leaker {
        let threshold = ((LIMIT_MIB * MIB) as f64 * SHARE) as u64;
        let stamp = format!("{}:{threshold}", cg.dir().join("memory.current").display());
        let mut cmd = guest::tool("oomlens-hog");
        cmd.args(["--comm", "sibleak", "alloc", "--mib", "200", "--rate"])
            .arg(rate.to_string())
            .args(["--sleep", "--stamp-usage", &stamp, "--stamp-term"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        cg.enter(&mut cmd);
        let mut child = cmd.spawn().expect("start the leaker");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((line, Instant::now())).is_err() {
                    break;
                }
            }
        });
        let pid = child.id();
        Leaker {
            child,
            pid,
            rx,
            seen: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.rx.try_recv() {
            self.seen.push(l);
        }
    }

    fn line(&self, prefix: &str) -> Option<&(String, Instant)> {
        self.seen.iter().find(|(l, _)| l.starts_with(prefix))
    }

    /// The numbers after `prefix` on its line.
    fn words(&self, prefix: &str) -> Vec<u64> {
        self.line(prefix)
            .map(|(l, _)| {
                l[prefix.len()..]
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Leaker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `oomlens guard` with one `[[preempt]]` policy on `cg`, started once the main process holds
/// its memory; stopped (SIGTERM) by [`GuardRun::stop`].
struct GuardRun {
    child: Child,
    err: String,
}

impl GuardRun {
    fn start(cg: &Cgroup, tag: &str) -> GuardRun {
        let config = format!("/tmp/guard-{tag}.toml");
        std::fs::write(
            &config,
            format!(
                "[[preempt]]\ncgroup = \"{}\"\nshare = {SHARE}\ngrace-secs = 2.0\n",
                cg.path
            ),
        )
        .unwrap();
        let err = format!("/tmp/guard-{tag}.err");
        let child = guest::tool("oomlens")
            .args(["guard", "--log", "kmsg", "--cgroup", &cg.path])
            .args(["--state-dir", &format!("/tmp/guard-store-{tag}")])
            .args(["--interval", "100ms", "--no-metrics", "--config", &config])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("start oomlens guard");
        let g = GuardRun { child, err };
        guest::wait_for("the guard's ready line", Duration::from_secs(60), || {
            g.log().contains("ready")
        });
        // Two passes or more: the main process is sampled (its baseline) before the leak.
        std::thread::sleep(Duration::from_millis(300));
        g
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM, reap, and the pre-emption line (`oomlens guard: OOM preempt pid ...`).
    fn stop(mut self) -> Option<String> {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let log = self.log();
        guest::save_artifact(self.err.trim_start_matches("/tmp/"), log.as_bytes());
        log.lines()
            .find(|l| l.starts_with("oomlens guard: OOM preempt pid "))
            .map(str::to_string)
    }
}

/// `full avg10=X` of the cgroup's memory.pressure (Documentation/accounting/psi.rst).
fn full_avg10(cg: &Cgroup) -> Option<f64> {
    let text = std::fs::read_to_string(cg.dir().join("memory.pressure")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("full "))?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// `usage B` of the guard's line, in MiB.
fn guard_usage_mib(line: &str) -> Option<f64> {
    let b: f64 = line
        .split(", usage ")
        .nth(1)?
        .split(',')
        .next()?
        .parse()
        .ok()?;
    Some(b / MIB as f64)
}

/// Whether `oomctl dump` lists `cgroup` under "Memory Pressure Monitored CGroups" with our
/// limit (PID 1 hands the unit to systemd-oomd over varlink when it starts: waited for, 10 s).
fn oomd_monitors(cgroup: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("oomctl")
            .arg("dump")
            .stdin(Stdio::null())
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let section = text
            .split("Memory Pressure Monitored CGroups:")
            .nth(1)
            .unwrap_or("");
        let entry = section
            .split("Path: ")
            .find(|e| e.lines().next() == Some(cgroup));
        if entry.is_some_and(|e| e.contains("Memory Pressure Limit: 20.00%")) {
            let unit = cgroup.rsplit('/').next().unwrap_or("unit");
            guest::save_artifact(&format!("oomctl-dump-{unit}.txt"), text.as_bytes());
            return true;
        }
        if Instant::now() >= end {
            guest::save_artifact("oomctl-dump.txt", text.as_bytes());
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// systemd-oomd's kill line for `cgroup` (`Killed /system.slice/x.service due to memory
/// pressure for ...`, src/oom/oomd-manager.c, systemd 247-259), waiting up to `wait` for
/// journald to have it.
fn oomd_line(cgroup: &str, wait: Duration) -> Option<String> {
    let want = format!("Killed {cgroup} due to ");
    let end = Instant::now() + wait;
    loop {
        let _ = Command::new("journalctl").arg("--sync").status();
        let out = guest::output(Command::new("journalctl").args([
            "-u",
            "systemd-oomd.service",
            "-o",
            "cat",
            "--no-pager",
        ]));
        let text = String::from_utf8_lossy(&out);
        if let Some(l) = text.lines().find(|l| l.starts_with(&want)) {
            return Some(l.to_string());
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The sequence number of a `/dev/kmsg` record (`prio,seq,usec,flags;message`).
fn kmsg_seq(line: &str) -> Option<u64> {
    line.split(',').nth(1)?.parse().ok()
}

/// The last record's sequence number now.
fn kmsg_mark() -> u64 {
    let k = guest::kmsg();
    String::from_utf8_lossy(&k)
        .lines()
        .filter_map(kmsg_seq)
        .next_back()
        .unwrap_or(0)
}

/// The records after sequence number `mark`, continuation lines with their record. By
/// sequence number, not byte offset: each OOM report is several KiB, and once the kernel's
/// ring buffer is full the oldest records go, so offsets into a later dump shift.
fn kmsg_after(mark: u64) -> Vec<u8> {
    let k = guest::kmsg();
    let mut keep = false;
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(&k).lines() {
        if !line.starts_with(' ') {
            keep = kmsg_seq(line).is_some_and(|s| s > mark);
        }
        if keep {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// The kernel's kills in `memcg` after record `from` of the kernel log: (pids, reports,
/// `memory: usage` in MiB of the first report).
fn kernel_kills_in(from: u64, memcg: &str) -> (Vec<u32>, usize, Option<f64>) {
    let k = kmsg_after(from);
    let k = &k[..];
    let reports: Vec<(String, Vec<String>)> = kernel_kills(k)
        .into_iter()
        .filter(|(s, _)| summary_field(s, "oom_memcg") == Some(memcg))
        .collect();
    let pids = reports
        .iter()
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| killed_pid(l)))
        .collect();
    // `memory: usage 131072kB, limit 131072kB, failcnt N` (mm/memcontrol.c
    // mem_cgroup_print_oom_meminfo) comes before the summary of the same report.
    let usage = reports.first().and_then(|_| {
        String::from_utf8_lossy(k)
            .lines()
            .filter_map(|l| l.split_once(';').map(|(_, m)| m))
            .find_map(|m| {
                m.strip_prefix("memory: usage ")?
                    .split("kB")
                    .next()?
                    .parse()
                    .ok()
            })
            .map(|kb: f64| kb / 1024.0)
    });
    (pids, reports.len(), usage)
}

fn one_run(mode: &str, rate: u64, run: usize) -> Row {
    let started = Instant::now();
    let unit = format!("sibling-{mode}-{rate}-{run}.service");
    let mut cmd = Command::new("systemd-run");
    cmd.arg(format!("--unit={unit}"))
        .args(["--quiet", "--property=MemorySwapMax=0"])
        .arg(format!("--property=MemoryMax={LIMIT_MIB}M"));
    if mode == "oomd" {
        cmd.arg("--property=ManagedOOMMemoryPressure=kill")
            .arg(format!(
                "--property=ManagedOOMMemoryPressureLimit={OOMD_LIMIT}"
            ));
    }
    cmd.arg(format!("{}/oomlens-hog", guest::TOOLS)).args([
        "--comm",
        "sibmain",
        "hold",
        "--mib",
        &MAIN_MIB.to_string(),
    ]);
    guest::output(&mut cmd);
    let main: u32 = unit_property(&unit, "MainPID").parse().unwrap();
    let cgroup = unit_property(&unit, "ControlGroup");
    assert!(cgroup.starts_with("/system.slice/"), "{unit}: {cgroup}");
    guest::wait_for(
        "the main process to hold its memory",
        Duration::from_secs(60),
        || rss_kib(main) >= MAIN_MIB * 1024,
    );
    let cg = Cgroup::existing(&cgroup);
    let oomd_monitored = (mode == "oomd").then(|| oomd_monitors(&cgroup));
    let mark = kmsg_mark();
    let guard = (mode == "guard").then(|| GuardRun::start(&cg, &format!("{rate}-{run}")));
    let mut leak = Leaker::spawn(&cg, rate);
    // The run ends with the leaker's SIGTERM (handler), its death, or the main process's.
    let end = Instant::now() + Duration::from_secs(200 / rate + 60);
    let (mut events_oom_kill, mut last_current, mut leak_rss) = (0, None, None);
    let mut max_full_avg10: f64 = 0.0;
    let mut terminated = false;
    loop {
        let main_alive = alive(main);
        leak.drain();
        if let Ok(t) = std::fs::read_to_string(cg.dir().join("memory.events")) {
            events_oom_kill = guest::flat_keyed(&t).get("oom_kill").copied().unwrap_or(0);
        }
        if let Ok(c) = std::fs::read_to_string(cg.dir().join("memory.current")) {
            last_current = c.trim().parse::<u64>().ok();
        }
        if let Some(v) = full_avg10(&cg) {
            max_full_avg10 = max_full_avg10.max(v);
        }
        let rss = rss_kib(leak.pid);
        if rss > 0 {
            leak_rss = Some((rss, Instant::now()));
        }
        // main_alive was read before the drain and memory.events after it: a SIGTERM line
        // drained now came while the main process lived and before any kernel kill (a kill
        // between the drain and the read makes this miss a guard's SIGTERM, never credit
        // systemd's).
        if main_alive && events_oom_kill == 0 && leak.line("sigterm ").is_some() {
            terminated = true;
        }
        if terminated || !main_alive || !leak.alive() {
            break;
        }
        assert!(
            Instant::now() < end,
            "{unit}: run did not end: {:?}",
            leak.seen
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    leak.drain();
    let main_survived = alive(main);
    let guard_line = guard.map(GuardRun::stop).unwrap_or_default();
    let (killed, kernel_kills, kernel_usage) = kernel_kills_in(mark, &cgroup);
    // Decided on the whole kernel log of the run: the in-loop check can be fooled (once in
    // 60 kernel runs a SIGTERM from systemd's stop was drained while memory.events still
    // read 0), and the leaker may have exited before the reader thread passed its `sigterm`
    // line on. With no kernel kill in the unit, only the guard sends SIGTERM.
    let leaker_terminated = leak.line("sigterm ").is_some() && kernel_kills == 0;
    // systemd-oomd's line is looked for only when the main process died without a kernel
    // kill (then it is waited for, journald may lag) or in oomd mode (it may also have acted
    // after the kernel's kill).
    let killed_by_kernel = killed.contains(&main);
    let oomd = if mode == "oomd" || (!main_survived && !killed_by_kernel) {
        let wait = if main_survived || killed_by_kernel {
            0
        } else {
            5
        };
        oomd_line(&cgroup, Duration::from_secs(wait))
    } else {
        None
    };
    let guard_hit_main = guard_line
        .as_deref()
        .is_some_and(|l| l.starts_with(&format!("oomlens guard: OOM preempt pid {main} (")));
    let main_killer = match (main_survived, killed_by_kernel, &oomd) {
        (true, _, _) => Killer::Survived,
        (false, true, _) => Killer::Kernel,
        (false, false, _) if guard_hit_main => Killer::Guard,
        (false, false, Some(_)) => Killer::Oomd,
        (false, false, None) => Killer::Unexplained,
    };
    let term = leak.words("sigterm ");
    let crossed = leak
        .words("crossed ")
        .first()
        .copied()
        .or(term.get(1).copied());
    let usage_at_signal_mib = match main_killer {
        _ if guard_line.is_some() => guard_line.as_deref().and_then(guard_usage_mib),
        Killer::Kernel => kernel_usage,
        Killer::Oomd => last_current.map(|b| b as f64 / MIB as f64),
        _ => None,
    };
    // The leaker's last resident size over the time since its `start` line.
    let leak_rate_mibps = leak
        .line("start ")
        .zip(leak_rss)
        .map(|((_, t0), (kib, t))| {
            kib as f64 / 1024.0 / t.duration_since(*t0).as_secs_f64().max(1e-3)
        });
    systemctl(&["stop", &unit]);
    systemctl(&["reset-failed", &unit]);
    Row {
        mode: mode.to_string(),
        rate,
        run,
        leaker_pid: leak.pid,
        cgroup,
        main_survived,
        main_killer,
        leaker_terminated,
        kernel_kills,
        events_oom_kill,
        oomd_line: oomd,
        guard_line,
        usage_at_signal_mib,
        // Only the SIGTERM that stopped the leaker (not systemd's after a kill).
        crossed_to_sigterm_ms: term
            .first()
            .zip(crossed)
            .filter(|_| leaker_terminated)
            .map(|(t, c)| (*t as f64 - c as f64) / 1e6),
        max_full_avg10,
        oomd_monitored,
        leak_rate_mibps,
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Whether the guard must win at `rate` MiB/s: the leak from 0.8 x limit to the limit takes
/// at least 3 passes of 100 ms, or `OOMLENS_PREEMPT_STRICT=1`.
fn strict(rate: u64) -> bool {
    let window_ms = (LIMIT_MIB as f64 * (1.0 - SHARE)) * 1000.0 / rate as f64;
    window_ms >= 300.0 || std::env::var("OOMLENS_PREEMPT_STRICT").is_ok_and(|v| v == "1")
}

/// What must hold in a run of `mode`, whatever systemd-oomd does.
fn check(r: &Row) -> Result<(), String> {
    let ok = match r.mode.as_str() {
        // The kernel alone kills the main process, the largest, and nobody sends SIGTERM.
        "kernel" => r.main_killer == Killer::Kernel && !r.leaker_terminated && r.kernel_kills >= 1,
        // Classified: a whole-unit kill by systemd-oomd (the main process with the leaker),
        // the kernel first, or nothing killed the main process.
        "oomd" => {
            r.oomd_monitored == Some(true)
                && match r.main_killer {
                    Killer::Oomd => r.oomd_line.is_some() && r.kernel_kills == 0,
                    Killer::Kernel => r.kernel_kills >= 1,
                    Killer::Survived => true,
                    Killer::Guard | Killer::Unexplained => false,
                }
        }
        // The guard's SIGTERM reached the leaker before any kernel kill; the main survives.
        // Where the leak runs from the threshold to the limit in under 3 of the guard's
        // 100 ms passes (500 MiB/s asked, about 150 MiB/s reached under TCG: 25.6 MiB in
        // ~170 ms), the guard on v2 may decide only after the kernel's kill (the decision
        // runs once a pass on v2 today): a run where the kernel killed the main process, the
        // guard sending nothing or signalling the leaker too late, is then a lost race,
        // counted by bench/preempt-guest.sh.
        // OOMLENS_PREEMPT_STRICT=1 requires the guard's win at every rate.
        "guard" if !strict(r.rate) && r.main_killer == Killer::Kernel => {
            !r.leaker_terminated
                && r.guard_line.as_deref().is_none_or(|l| {
                    l.starts_with(&format!(
                        "oomlens guard: OOM preempt pid {} (sibleak) in {}:",
                        r.leaker_pid, r.cgroup
                    ))
                })
        }
        "guard" => {
            r.main_survived
                && r.leaker_terminated
                && r.kernel_kills == 0
                && r.guard_line.as_deref().is_some_and(|l| {
                    l.starts_with(&format!(
                        "oomlens guard: OOM preempt pid {} (sibleak) in {}: result signalled, \
                         signal SIGTERM,",
                        r.leaker_pid, r.cgroup
                    ))
                })
        }
        other => return Err(format!("unknown mode {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(r.json())
    }
}

#[test]
fn innocent_sibling_under_the_kernel_systemd_oomd_and_the_guard() {
    guest::require("systemd");
    let version =
        String::from_utf8_lossy(&guest::output(Command::new("systemctl").arg("--version")))
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
    println!("PREEMPT-SYSTEMD {version}");
    std::fs::create_dir_all("/etc/systemd/oomd.conf.d").unwrap();
    std::fs::write(
        "/etc/systemd/oomd.conf.d/oomlens.conf",
        "[OOM]\nDefaultMemoryPressureDurationSec=2s\n",
    )
    .unwrap();
    guest::output(Command::new("systemctl").args(["restart", "systemd-oomd.service"]));
    let runs: usize = std::env::var("OOMLENS_PREEMPT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let rates: Vec<u64> = env_list("OOMLENS_PREEMPT_RATES", "10,50,500")
        .iter()
        .map(|r| r.parse().expect("OOMLENS_PREEMPT_RATES: MiB/s numbers"))
        .collect();
    let modes = env_list("OOMLENS_PREEMPT_MODES", "kernel,oomd,guard");
    let mut rows = Vec::new();
    for mode in &modes {
        for &rate in &rates {
            for run in 0..runs {
                let r = one_run(mode, rate, run);
                println!("PREEMPT-ROW {}", r.json());
                rows.push(r);
            }
        }
    }
    let all: String = rows.iter().map(|r| r.json() + "\n").collect();
    guest::save_artifact("rows.jsonl", all.as_bytes());
    guest::save_artifact(
        "journal-oomd.txt",
        &guest::output(Command::new("journalctl").args([
            "-u",
            "systemd-oomd.service",
            "--no-pager",
        ])),
    );
    let failed: Vec<String> = rows.iter().filter_map(|r| check(r).err()).collect();
    assert!(
        failed.is_empty(),
        "runs that broke their mode's rule:\n{}",
        failed.join("\n")
    );
}
