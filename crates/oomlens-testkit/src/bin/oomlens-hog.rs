//! `oomlens-hog`: a small, predictable memory consumer for the real-kernel tests.
//!
//! ```text
//! oomlens-hog [--comm BYTES] [--oom-score-adj N] COMMAND
//!   alloc --mib N [--rate MIBPS] [--sleep] [--stamp-usage FILE:BYTES] [--stamp-term]
//!                                            allocate N MiB of anon memory (every byte 0xa5),
//!                                            at MIBPS MiB/s if given; then exit, or with
//!                                            --sleep hold it forever. --stamp-usage reads FILE
//!                                            (a cgroup's usage) after each MiB and prints
//!                                            `crossed <ns>` once it is >= BYTES, <ns> being
//!                                            when that MiB began; --stamp-term prints
//!                                            `sigterm <ns> <chunk-ns>` when SIGTERM arrives
//!                                            (chunk-ns: when the MiB in flight began), then
//!                                            exits 143. ns: CLOCK_MONOTONIC
//!   hold --mib M                             allocate M MiB at full speed, then hold it forever
//!   tmpfs --path FILE --mib N [--until-oom-kill]
//!                                            write N MiB of 0xa5 into FILE (on a tmpfs), exit;
//!                                            with --until-oom-kill stop early, after the MiB
//!                                            in flight, once /proc/vmstat's oom_kill grows
//!                                            (one kernel kill, never a second one)
//!   fork --children K [--sequential] ALLOC-ARGS
//!                                            K children each run `alloc ALLOC-ARGS`; with
//!                                            --sequential each starts once the previous one
//!                                            holds its memory, so only one charges at a time;
//!                                            when one dies of a signal, the parent kills the
//!                                            others and exits 3
//!   threads --threads T ALLOC-ARGS           T threads each allocate per ALLOC-ARGS
//! ```
//!
//! `--comm` sets the task name with `prctl(PR_SET_NAME)` to the raw bytes of the argument
//! (the kernel keeps the first 15); `--oom-score-adj` writes `/proc/self/oom_score_adj`.
//! Both happen before anything is allocated and are inherited by `fork` children.
//!
//! Progress goes to stdout, one `write(2)` per line so that lines of several processes never
//! interleave: `start <pid>` once a (child) process is set up, `ready <pid>` once it holds all
//! of its memory, `thread-ready <tid>` per thread, `child-signal <pid> <sig>` when a `fork`
//! child died of a signal. Exit codes: 0 done, 2 usage or setup error, 3 a child was killed.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// Where an allocator stops.
#[derive(Clone, Copy)]
struct Alloc {
    mib: usize,
    /// MiB per second; `None` is as fast as possible.
    rate: Option<f64>,
    /// Hold the memory forever once allocated.
    sleep: bool,
    /// Print `crossed <ns>` once this file's number reaches this many bytes.
    stamp_usage: Option<(&'static str, u64)>,
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Err(msg) = run(&args) {
        eprintln!("oomlens-hog: {msg}");
        std::process::exit(2);
    }
}

fn run(args: &[OsString]) -> Result<(), String> {
    let mut i = 0;
    let mut comm: Option<Vec<u8>> = None;
    let mut adj: Option<i32> = None;
    while i < args.len() {
        match args[i].to_str() {
            Some("--comm") => {
                comm = Some(value(args, i)?.as_bytes().to_vec());
                i += 2;
            }
            Some("--oom-score-adj") => {
                adj = Some(number(args, i)?);
                i += 2;
            }
            _ => break,
        }
    }
    if let Some(adj) = adj {
        // A buffered write can hide EACCES (negative values need CAP_SYS_RESOURCE): one write, checked.
        std::fs::write("/proc/self/oom_score_adj", format!("{adj}\n"))
            .map_err(|e| format!("writing oom_score_adj {adj}: {e}"))?;
    }
    if let Some(comm) = comm {
        set_comm(&comm)?;
    }
    let command = args
        .get(i)
        .and_then(|a| a.to_str())
        .ok_or("missing COMMAND")?;
    let rest = &args[i + 1..];
    match command {
        "alloc" => {
            let alloc = parse_alloc(rest, false)?;
            say(&format!("start {}", std::process::id()));
            allocate(alloc);
            Ok(())
        }
        "hold" => {
            let mut alloc = parse_alloc(rest, true)?;
            alloc.rate = None;
            say(&format!("start {}", std::process::id()));
            allocate(alloc);
            Ok(())
        }
        "tmpfs" => tmpfs_fill(rest),
        "fork" => fork_children(rest),
        "threads" => threads(rest),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn value(args: &[OsString], i: usize) -> Result<&OsString, String> {
    args.get(i + 1)
        .ok_or_else(|| format!("{} needs a value", args[i].to_string_lossy()))
}

fn number<T: std::str::FromStr>(args: &[OsString], i: usize) -> Result<T, String> {
    let v = value(args, i)?;
    v.to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{}: bad number {v:?}", args[i].to_string_lossy()))
}

/// `--mib N [--rate R] [--sleep]`; `hold` implies `--sleep`.
fn parse_alloc(args: &[OsString], sleep: bool) -> Result<Alloc, String> {
    let mut alloc = Alloc {
        mib: 0,
        rate: None,
        sleep,
        stamp_usage: None,
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].to_str() {
            Some("--mib") => alloc.mib = number(args, i)?,
            Some("--rate") => alloc.rate = Some(number(args, i)?),
            Some("--stamp-usage") => {
                let v = value(args, i)?.to_string_lossy().into_owned();
                let (file, bytes) = v
                    .rsplit_once(':')
                    .and_then(|(f, b)| Some((f.to_string(), b.parse().ok()?)))
                    .ok_or("--stamp-usage FILE:BYTES")?;
                alloc.stamp_usage = Some((Box::leak(file.into_boxed_str()), bytes));
            }
            Some("--stamp-term") => {
                stamp_sigterm()?;
                i += 1;
                continue;
            }
            Some("--sleep") => {
                alloc.sleep = true;
                i += 1;
                continue;
            }
            _ => return Err(format!("unexpected argument {:?}", args[i])),
        }
        i += 2;
    }
    if alloc.mib == 0 {
        return Err("--mib N (N > 0) is required".into());
    }
    Ok(alloc)
}

/// Splits `--name N` off the front of `args`.
fn leading_count<'a>(args: &'a [OsString], name: &str) -> Result<(usize, &'a [OsString]), String> {
    if args.first().and_then(|a| a.to_str()) != Some(name) {
        return Err(format!("expected {name} N first"));
    }
    Ok((number(args, 0)?, &args[2..]))
}

fn set_comm(comm: &[u8]) -> Result<(), String> {
    let name = CString::new(comm).map_err(|_| "--comm cannot hold a NUL byte".to_string())?;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of which the kernel copies at most
    // 15 bytes; `name` outlives the call.
    let rc = unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(format!(
            "prctl(PR_SET_NAME): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Writes one line with a single `write(2)`, so concurrent writers never interleave.
fn say(line: &str) {
    let text = format!("{line}\n");
    // SAFETY: writes an initialised buffer of the given length to fd 1.
    let _ = unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// Allocates `alloc.mib` MiB one MiB at a time, writing every byte, and keeps it.
fn allocate(alloc: Alloc) {
    let held = allocate_pages(alloc);
    say(&format!("ready {}", std::process::id()));
    if alloc.sleep {
        sleep_forever(held);
    }
}

fn allocate_pages(alloc: Alloc) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(alloc.mib);
    let mut stamp = alloc.stamp_usage;
    for n in 0..alloc.mib {
        // vec! with a non-zero byte writes every byte, so every page is faulted in and
        // charged (a zero fill could be served by untouched zero pages).
        let began = mono_ns();
        CHUNK_START.store(began, std::sync::atomic::Ordering::Relaxed);
        held.push(std::hint::black_box(vec![0xa5u8; MIB]));
        if let Some((file, bytes)) = stamp {
            let now: Option<u64> = std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if now.is_some_and(|u| u >= bytes) {
                say(&format!("crossed {began}"));
                stamp = None;
            }
        }
        if let Some(rate) = alloc.rate {
            let due = Duration::from_secs_f64((n + 1) as f64 / rate);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    held
}

fn sleep_forever(held: Vec<Vec<u8>>) -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        std::hint::black_box(&held);
    }
}

fn tmpfs_fill(args: &[OsString]) -> Result<(), String> {
    let (mut path, mut mib, mut until_kill) = (None, 0usize, false);
    let mut i = 0;
    while i < args.len() {
        match args[i].to_str() {
            Some("--path") => path = Some(value(args, i)?.clone()),
            Some("--mib") => mib = number(args, i)?,
            Some("--until-oom-kill") => {
                until_kill = true;
                i += 1;
                continue;
            }
            _ => return Err(format!("unexpected argument {:?}", args[i])),
        }
        i += 2;
    }
    let path = path.ok_or("tmpfs needs --path FILE")?;
    let kills_at_start = if until_kill { Some(oom_kills()?) } else { None };
    say(&format!("start {}", std::process::id()));
    let chunk = vec![0xa5u8; MIB];
    let mut file = std::fs::File::create(&path).map_err(|e| format!("{path:?}: {e}"))?;
    for _ in 0..mib {
        std::io::Write::write_all(&mut file, &chunk).map_err(|e| format!("{path:?}: {e}"))?;
        if let Some(before) = kills_at_start {
            if oom_kills()? > before {
                say(&format!("stopped-after-oom-kill {}", std::process::id()));
                return Ok(());
            }
        }
    }
    say(&format!("ready {}", std::process::id()));
    Ok(())
}

/// `oom_kill` of /proc/vmstat: kernel OOM kills since boot (4.13+).
fn oom_kills() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/vmstat").map_err(|e| format!("/proc/vmstat: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "/proc/vmstat has no oom_kill counter (kernel before 4.13)".to_string())
}

fn fork_children(args: &[OsString]) -> Result<(), String> {
    let (count, mut rest) = leading_count(args, "--children")?;
    let sequential = rest.first().and_then(|a| a.to_str()) == Some("--sequential");
    if sequential {
        rest = &rest[1..];
    }
    let alloc = parse_alloc(rest, false)?;
    say(&format!("start {}", std::process::id()));
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        // With --sequential, the child writes one byte to `ready` once it holds its memory.
        let mut ready = [-1; 2];
        // SAFETY: pipe writes two fds into the array.
        if sequential && unsafe { libc::pipe(ready.as_mut_ptr()) } != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: this process is single-threaded here; the child only allocates and exits.
        match unsafe { libc::fork() } {
            -1 => return Err(format!("fork: {}", std::io::Error::last_os_error())),
            0 => {
                say(&format!("start {}", std::process::id()));
                let held = allocate_pages(alloc);
                say(&format!("ready {}", std::process::id()));
                if sequential {
                    // SAFETY: writes one byte to the pipe's write end, then closes it.
                    unsafe {
                        libc::write(ready[1], b"r".as_ptr().cast(), 1);
                        libc::close(ready[1]);
                    }
                }
                if alloc.sleep {
                    sleep_forever(held);
                }
                // SAFETY: leaves the child without running the parent's exit handlers.
                unsafe { libc::_exit(0) }
            }
            pid => children.push(pid),
        }
        if sequential {
            let mut byte = [0u8; 1];
            // SAFETY: closes our copy of the write end, reads into a 1-byte buffer, closes the
            // read end. EOF (0) means the child died before it held its memory.
            let n = unsafe {
                libc::close(ready[1]);
                let n = libc::read(ready[0], byte.as_mut_ptr().cast(), 1);
                libc::close(ready[0]);
                n
            };
            if n != 1 {
                break;
            }
        }
    }
    let mut killed = false;
    while !children.is_empty() {
        let mut status = 0;
        // SAFETY: waits for any of our children; `status` is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            break;
        }
        children.retain(|&c| c != pid);
        if libc::WIFSIGNALED(status) {
            say(&format!("child-signal {pid} {}", libc::WTERMSIG(status)));
            if !killed {
                // Stop at once: if the others kept allocating, the kernel would pick a second victim.
                killed = true;
                for &c in &children {
                    // SAFETY: sends SIGKILL to a child we have not reaped yet.
                    unsafe { libc::kill(c, libc::SIGKILL) };
                }
            }
        }
    }
    if killed {
        std::process::exit(3);
    }
    Ok(())
}

fn threads(args: &[OsString]) -> Result<(), String> {
    let (count, rest) = leading_count(args, "--threads")?;
    let alloc = parse_alloc(rest, false)?;
    say(&format!("start {}", std::process::id()));
    let handles: Vec<_> = (0..count)
        .map(|_| {
            std::thread::spawn(move || {
                let held = allocate_pages(alloc);
                say(&format!("thread-ready {}", gettid()));
                held
            })
        })
        .collect();
    let held: Vec<Vec<Vec<u8>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    say(&format!("ready {}", std::process::id()));
    if alloc.sleep {
        sleep_forever(held.into_iter().flatten().collect());
    }
    Ok(())
}

/// When the MiB being allocated began (`--stamp-term` prints it).
static CHUNK_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `CLOCK_MONOTONIC` in nanoseconds (async-signal-safe: a vDSO call).
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The SIGTERM handler of `--stamp-term`: `sigterm <ns>` with one write(2), then _exit(143).
/// Only async-signal-safe calls: the number is formatted by hand into a stack buffer (no
/// allocation, no lock).
extern "C" fn on_sigterm(_: libc::c_int) {
    let mut buf = [0u8; 64];
    buf[..8].copy_from_slice(b"sigterm ");
    let mut len = 8;
    let chunk = CHUNK_START.load(std::sync::atomic::Ordering::Relaxed);
    for (i, v) in [mono_ns(), chunk].into_iter().enumerate() {
        if i > 0 {
            buf[len] = b' ';
            len += 1;
        }
        let mut digits = [0u8; 20];
        let (mut v, mut n) = (v, 0);
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for k in 0..n {
            buf[len + k] = digits[n - 1 - k];
        }
        len += n;
    }
    buf[len] = b'\n';
    // SAFETY: write and _exit are async-signal-safe; buf is initialised up to len + 1.
    unsafe {
        libc::write(1, buf.as_ptr().cast(), len + 1);
        libc::_exit(143);
    }
}

fn stamp_sigterm() -> Result<(), String> {
    // SAFETY: installs a handler that only makes async-signal-safe calls.
    let prev =
        unsafe { libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t) };
    if prev == libc::SIG_ERR {
        return Err(format!(
            "signal(SIGTERM): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
