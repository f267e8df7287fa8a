//! Guard loop design A: one thread, one rustix epoll set. Sources: an inotify fd over N
//! `memory.events`-like files, a PSI trigger fd (EPOLLPRI), a 1 s timerfd doing a read pass,
//! and a `/metrics` listener on 127.0.0.1 whose connections join the same set.
//! Compared with `design_tokio` by `bench/guard-design.sh` (numbers in `bench/README.md`).

mod design_common;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use design_common::{args, psi_trigger, request_complete, State, Watched};
use rustix::event::epoll;
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

const INOTIFY: u64 = 0;
const PSI: u64 = 1;
const TIMER: u64 = 2;
const LISTENER: u64 = 3;
/// Connection tokens start here.
const CONN: u64 = 4;

fn main() -> io::Result<()> {
    let (dir, n, port) = args();
    let mut watched = Watched::open(&dir, n)?;
    let psi = psi_trigger();
    let timer = timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )?;
    let second = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    timerfd_settime(
        &timer,
        TimerfdTimerFlags::empty(),
        &Itimerspec {
            it_interval: second,
            it_value: second,
        },
    )?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;

    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let data = epoll::EventData::new_u64;
    epoll::add(&ep, &watched.inotify, data(INOTIFY), epoll::EventFlags::IN)?;
    if let Some(psi) = &psi {
        epoll::add(&ep, psi, data(PSI), epoll::EventFlags::PRI)?;
    }
    epoll::add(&ep, &timer, data(TIMER), epoll::EventFlags::IN)?;
    epoll::add(&ep, &listener, data(LISTENER), epoll::EventFlags::IN)?;

    let mut state = State::default();
    let mut conns: HashMap<u64, (TcpStream, Vec<u8>)> = HashMap::new();
    let mut next_conn = CONN;
    let mut events = Vec::with_capacity(32);
    loop {
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for ev in &events {
            let flags = ev.flags;
            match ev.data.u64() {
                INOTIFY => would_block_ok(watched.drain(&mut state))?,
                PSI => {
                    // EPOLLERR here would mean the trigger's file went away (a removed
                    // cgroup's memory.pressure): close it instead of spinning on it.
                    if flags.contains(epoll::EventFlags::ERR) {
                        if let Some(psi) = &psi {
                            epoll::delete(&ep, psi)?;
                        }
                    } else {
                        state.psi_events += 1;
                    }
                }
                TIMER => {
                    let mut ticks = [0u8; 8];
                    would_block_ok(
                        rustix::io::read(&timer, &mut ticks)
                            .map(drop)
                            .map_err(Into::into),
                    )?;
                    watched.pass(&mut state)?;
                }
                LISTENER => loop {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(true)?;
                            epoll::add(&ep, &s, data(next_conn), epoll::EventFlags::IN)?;
                            conns.insert(next_conn, (s, Vec::new()));
                            next_conn += 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                },
                token => {
                    if serve(&mut conns, token, &mut state) {
                        if let Some((s, _)) = conns.remove(&token) {
                            epoll::delete(&ep, s.as_fd())?;
                        }
                    }
                }
            }
        }
    }
}

/// Reads what the connection sent; once the request head is whole, answers and returns
/// true (the connection is done: closed by the caller). false: wait for more.
fn serve(conns: &mut HashMap<u64, (TcpStream, Vec<u8>)>, token: u64, state: &mut State) -> bool {
    let Some((stream, buf)) = conns.get_mut(&token) else {
        return false;
    };
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => return true,
        }
    }
    if !request_complete(buf) {
        return false;
    }
    // The answer is a few hundred bytes (a few KiB of latencies at most), far under the
    // socket buffer: one blocking write_all on a fresh socket does not stall the loop.
    let out = state.respond(buf);
    let _ = stream.set_nonblocking(false);
    let _ = stream.write_all(&out);
    true
}

fn would_block_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        other => other,
    }
}
