//! What both loop-design prototypes (`design_epoll`, `design_tokio`) share, so that they
//! differ only in how they wait: the watched files, the work done per event, the PSI trigger,
//! the 1 s read pass and the `/metrics` responder's text. `bench/guard-design.sh` runs them.
//!
//! Usage of both: `design_X DIR N PORT`: watch `DIR/cg0/memory.events` ..
//! `DIR/cg{N-1}/memory.events` (written by `design_drive setup`), serve `127.0.0.1:PORT`.

// Each example includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use rustix::fs::inotify;

/// The PSI trigger both prototypes arm on `/proc/pressure/memory`: 150 ms of "some" stall in
/// a 2 s window. 2 s, not 1 s: since Linux 6.5 (`psi_trigger_create`, kernel/sched/psi.c) a
/// writer without CAP_SYS_RESOURCE, as in this container, may only use windows that are a
/// multiple of 2 s; any other window is EINVAL. The NUL ends the string as the kernel
/// documentation's example does (Documentation/accounting/psi.rst).
pub const PSI_TRIGGER: &[u8] = b"some 150000 2000000\0";

/// The line the driver appends to each watched file: the writer's CLOCK_MONOTONIC in ns.
pub const STAMP_KEY: &[u8] = b"bench_mono_ns ";

/// `DIR N PORT` from the command line.
pub fn args() -> (PathBuf, usize, u16) {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 3 {
        eprintln!("usage: design_X DIR N PORT");
        std::process::exit(2);
    }
    (
        PathBuf::from(&a[0]),
        a[1].parse().expect("N"),
        a[2].parse().expect("PORT"),
    )
}

/// The path of watched file `i` below `dir`.
pub fn watched(dir: &std::path::Path, i: usize) -> PathBuf {
    dir.join(format!("cg{i}")).join("memory.events")
}

/// CLOCK_MONOTONIC now, in ns (the same clock the driver stamps with).
pub fn mono_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The watched files: open handles (read with pread, as a guard would re-read a cgroup file
/// through a kept handle) and the inotify fd watching them, inotify watch descriptor →
/// file index.
pub struct Watched {
    pub files: Vec<File>,
    pub inotify: OwnedFd,
    wd_index: Vec<usize>,
    buf: Vec<u8>,
    inotify_buf: Vec<std::mem::MaybeUninit<u8>>,
}

impl Watched {
    /// Opens the N files of `dir` and watches each for IN_MODIFY.
    pub fn open(dir: &std::path::Path, n: usize) -> io::Result<Self> {
        let inotify =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        let mut files = Vec::with_capacity(n);
        let mut wd_index = Vec::new();
        for i in 0..n {
            let p = watched(dir, i);
            files.push(File::open(&p)?);
            let wd = inotify::add_watch(&inotify, &p, inotify::WatchFlags::MODIFY)? as usize;
            if wd_index.len() <= wd {
                wd_index.resize(wd + 1, usize::MAX);
            }
            wd_index[wd] = i;
        }
        Ok(Self {
            files,
            inotify,
            wd_index,
            buf: vec![0; 512],
            inotify_buf: vec![std::mem::MaybeUninit::uninit(); 4096],
        })
    }

    /// Reads every queued inotify event and handles each (reads the file, takes the
    /// latency from its stamp). Returns WouldBlock once the queue is empty, as both loops
    /// expect of a non-blocking read.
    pub fn drain(&mut self, state: &mut State) -> io::Result<()> {
        let mut reader = inotify::Reader::new(self.inotify.as_fd(), &mut self.inotify_buf);
        loop {
            let ev = reader.next()?;
            let Some(&i) = self.wd_index.get(ev.wd() as usize) else {
                continue;
            };
            if i == usize::MAX {
                continue;
            }
            let len = self.files[i].read_at(&mut self.buf, 0)?;
            let now = mono_ns();
            state.events += 1;
            if let Some(stamp) = parse_stamp(&self.buf[..len]) {
                state.latencies_ns.push(now.saturating_sub(stamp));
            }
        }
    }

    /// The 1 s pass: re-read every watched file and sum one counter, as a sampler pass over
    /// the watched cgroups would.
    pub fn pass(&mut self, state: &mut State) -> io::Result<()> {
        let mut sum = 0;
        for f in &self.files {
            let len = f.read_at(&mut self.buf, 0)?;
            sum += parse_key(&self.buf[..len], b"oom_kill ").unwrap_or(0);
        }
        state.passes += 1;
        state.oom_kill_sum = sum;
        Ok(())
    }
}

/// Arms the PSI trigger; `None` (said on stderr) where the kernel has no PSI or refuses.
pub fn psi_trigger() -> Option<OwnedFd> {
    use rustix::fs::{open, Mode, OFlags};
    let fd = match open(
        "/proc/pressure/memory",
        OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("design: no PSI trigger: open /proc/pressure/memory: {e}");
            return None;
        }
    };
    match rustix::io::write(&fd, PSI_TRIGGER) {
        Ok(_) => Some(fd),
        Err(e) => {
            eprintln!("design: no PSI trigger: write: {e}");
            None
        }
    }
}

/// Counters and the latencies the driver fetches.
#[derive(Default)]
pub struct State {
    pub events: u64,
    pub psi_events: u64,
    pub passes: u64,
    pub oom_kill_sum: u64,
    pub requests: u64,
    pub latencies_ns: Vec<u64>,
}

impl State {
    /// The HTTP response to one request: `/latencies` (one ns value a line) or the
    /// counters in the Prometheus text format for anything else.
    pub fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        self.requests += 1;
        let body = if request.starts_with(b"GET /latencies ") {
            let mut s = String::new();
            for l in &self.latencies_ns {
                s.push_str(&l.to_string());
                s.push('\n');
            }
            s
        } else {
            format!(
                "# TYPE design_inotify_events counter\ndesign_inotify_events_total {}\n\
                 # TYPE design_psi_events counter\ndesign_psi_events_total {}\n\
                 # TYPE design_passes counter\ndesign_passes_total {}\n\
                 # TYPE design_oom_kill gauge\ndesign_oom_kill {}\n\
                 # TYPE design_requests counter\ndesign_requests_total {}\n",
                self.events, self.psi_events, self.passes, self.oom_kill_sum, self.requests
            )
        };
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

/// Whether `buf` holds a whole HTTP request head.
pub fn request_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= 4096
}

/// The value of the `bench_mono_ns` line, if any.
pub fn parse_stamp(buf: &[u8]) -> Option<u64> {
    parse_key(buf, STAMP_KEY)
}

fn parse_key(buf: &[u8], key: &[u8]) -> Option<u64> {
    buf.split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse().ok())
}
