//! Guard loop design B: tokio's current_thread runtime with the smallest feature set that
//! does the job (`rt`, `net` for `AsyncFd` and the listener, `time` for the interval; no
//! `macros`, no `io-util`): the same sources as `design_epoll`, one local task each, the
//! state shared through `Rc<RefCell<_>>` (one thread, so no locks). tokio has no inotify or
//! PSI type: both are raw fds (rustix) under `AsyncFd`, as a tokio guard would have them.
//! Compared with `design_epoll` by `bench/guard-design.sh` (numbers in `bench/README.md`).

mod design_common;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use design_common::{args, psi_trigger, request_complete, State, Watched};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

fn main() -> io::Result<()> {
    let (dir, n, port) = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let local = LocalSet::new();
    local.block_on(&rt, run(dir, n, port))
}

async fn run(dir: std::path::PathBuf, n: usize, port: u16) -> io::Result<()> {
    let watched = Watched::open(&dir, n)?;
    // SAFETY (both registrations): an OwnedFd owns its descriptor and nothing replaces or
    // closes it while the AsyncFd holds it (tokio 1.54 deprecated the safe constructors).
    let inotify = unsafe {
        AsyncFd::register_with_interest(watched.inotify.try_clone()?, Interest::READABLE)?
    };
    let watched = Rc::new(RefCell::new(watched));
    let state = Rc::new(RefCell::new(State::default()));

    // inotify: drain on each readiness; WouldBlock clears tokio's readiness flag.
    let (w, s) = (watched.clone(), state.clone());
    let inotify_task = tokio::task::spawn_local(async move {
        loop {
            let mut ready = inotify.readable().await?;
            let r = ready.try_io(|_| w.borrow_mut().drain(&mut s.borrow_mut()));
            if let Ok(Err(e)) = r {
                return Err::<(), io::Error>(e);
            }
        }
    });

    // PSI trigger: EPOLLPRI is tokio's Interest::PRIORITY. A trigger stays armed, so the
    // readiness is cleared by hand after each event.
    if let Some(fd) = psi_trigger() {
        let psi = unsafe { AsyncFd::register_with_interest(fd, Interest::PRIORITY)? };
        let s = state.clone();
        tokio::task::spawn_local(async move {
            loop {
                let Ok(mut ready) = psi.ready(Interest::PRIORITY).await else {
                    return;
                };
                if ready.ready().is_error() {
                    // The trigger's file went away (a removed cgroup): stop watching.
                    return;
                }
                s.borrow_mut().psi_events += 1;
                ready.clear_ready();
            }
        });
    }

    // The 1 s read pass.
    let (w, s) = (watched.clone(), state.clone());
    tokio::task::spawn_local(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; epoll's timer first fires at 1 s
        loop {
            tick.tick().await;
            if let Err(e) = w.borrow_mut().pass(&mut s.borrow_mut()) {
                eprintln!("design_tokio: pass: {e}");
            }
        }
    });

    // The /metrics responder: one local task per connection.
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let s = state.clone();
    tokio::task::spawn_local(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let s = s.clone();
            tokio::task::spawn_local(async move {
                let _ = serve(stream, &s).await;
            });
        }
    });

    inotify_task.await.map_err(io::Error::other)?
}

/// Reads the request head, answers, closes (by drop). Without `io-util`: readiness and
/// `try_read`/`try_write`.
async fn serve(stream: TcpStream, state: &RefCell<State>) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request_complete(&buf) {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    let out = state.borrow_mut().respond(&buf);
    let mut sent = 0;
    while sent < out.len() {
        stream.writable().await?;
        match stream.try_write(&out[sent..]) {
            Ok(k) => sent += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
