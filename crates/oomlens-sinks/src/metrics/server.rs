//! The `/metrics` responder: a tiny HTTP/1.x server that lives inside the guard's own epoll
//! loop and never blocks it.
//!
//! Hand-written over `std::net` because what is needed is small and what the crates offer
//! is big: one request per connection, one path, one method, no keep-alive, no TLS. The
//! HTTP crates (hyper, axum, tiny_http) bring an async runtime or threads of their own,
//! which the single-threaded, event-driven guard does not have.
//!
//! How it stays out of the loop's way: the listener and every open connection are
//! registered in an epoll instance of the server's own, and that epoll fd is what
//! [`AsFd`] hands the caller. It turns readable when a client connects, sends, or can take
//! more of the answer; the caller then calls [`MetricsServer::serve`], which does only what
//! is ready without waiting (non-blocking sockets, a zero-timeout `epoll_wait`).
//!
//! What a slow or hostile client can cost, at most:
//! - memory: [`MAX_CONNECTIONS`] connections × ([`MAX_REQUEST_BYTES`] of request + one
//!   answer); a new connection beyond the cap closes the oldest one;
//! - time: one `serve` call accepts at most [`MAX_ACCEPTS_PER_CALL`] connections and does at
//!   most one read or write burst per ready connection, never a wait; the metrics text is
//!   encoded at most once per call;
//! - lifetime: a connection is closed [`CONNECTION_DEADLINE`] after it was accepted,
//!   finished or not (checked on every `serve` call: call it on the loop's tick too, or
//!   wait no longer than [`MetricsServer::next_deadline`]);
//! - no spinning: when accepting fails in a way that leaves the connection queued (out of
//!   file descriptors), the listener leaves the epoll set for a second instead of waking
//!   the loop again at once.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::epoll;

use super::GuardMetrics;

/// The largest request head read; a longer one is answered 431 and closed.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Connections kept open at once; a new one beyond this closes the oldest.
pub const MAX_CONNECTIONS: usize = 16;
/// New connections accepted per [`MetricsServer::serve`] call (the rest wait in the
/// kernel's backlog for the next call).
pub const MAX_ACCEPTS_PER_CALL: usize = 32;
/// How long a connection may stay open in all.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);
/// How long the listener rests after an accept error it cannot clear (EMFILE).
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// The OpenMetrics text content type (OpenMetrics 1.0, "Overall structure").
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The two encodings served: OpenMetrics unless the client asks for the classic text
/// format only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// OpenMetrics by default and whenever `Accept` names it (Prometheus' scrapes list it
    /// first); the classic text format when `Accept` names `text/plain` but not
    /// OpenMetrics (older scrapers, `curl -H 'Accept: text/plain'`).
    fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("text/plain") && !a.contains("application/openmetrics-text") => {
                Format::Text
            }
            _ => Format::OpenMetrics,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS,
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }

    fn encode(self, m: &GuardMetrics, out: &mut String) -> std::fmt::Result {
        match self {
            Format::OpenMetrics => m.encode(out),
            Format::Text => m.encode_prometheus_text(out),
        }
    }
}

/// The encoded text per format, made at most once per `serve` call.
type Bodies = [Option<String>; 2];

/// The epoll token of the listener; connections get 1, 2, ….
const LISTENER: u64 = 0;

/// Why the responder could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The listen address did not resolve.
    #[error("metrics listen address {addr:?} is not an address: {source}")]
    Address {
        /// The address given.
        addr: String,
        /// Why it did not resolve.
        source: io::Error,
    },
    /// Binding the listen address failed (in use, not permitted).
    #[error("cannot listen for /metrics on {addr}: {source}")]
    Bind {
        /// The address given.
        addr: String,
        /// The bind error.
        source: io::Error,
    },
    /// The server's epoll instance failed (create, add, wait): out of file descriptors or
    /// memory.
    #[error("metrics responder epoll {op} failed: {source}")]
    Epoll {
        /// Which call.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// What one [`MetricsServer::serve`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServeStats {
    /// Connections accepted.
    pub accepted: usize,
    /// Answers completed (any status).
    pub answered: usize,
    /// Connections closed without a complete answer: deadline passed, evicted by a newer
    /// connection, the peer closed early, or a socket error.
    pub dropped: usize,
}

enum State {
    /// Reading the request head.
    Reading(Vec<u8>),
    /// Writing the answer from the offset.
    Writing(Vec<u8>, usize),
}

struct Conn {
    stream: TcpStream,
    since: Instant,
    state: State,
}

/// What became of a connection after some progress.
enum Progress {
    /// Waiting for the peer.
    Pending,
    /// Answer written in full.
    Done,
    /// Closed early.
    Dropped,
}

/// The `/metrics` listener and its open connections (see the module doc).
pub struct MetricsServer {
    listener: TcpListener,
    epoll: OwnedFd,
    conns: BTreeMap<u64, Conn>,
    next_token: u64,
    /// Set while the listener is out of the epoll set after an accept error such as
    /// EMFILE: the pending connection cannot be taken, so a level-triggered listener
    /// would wake the loop again at once, forever. Re-armed by `serve` after this time.
    paused_until: Option<Instant>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("listener", &self.listener)
            .field("connections", &self.conns.len())
            .finish()
    }
}

fn epoll_err(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> MetricsError {
    move |e| MetricsError::Epoll {
        op,
        source: e.into(),
    }
}

impl MetricsServer {
    /// Listens on `addr` (`127.0.0.1:10391`, `[::1]:0`, `localhost:10391`; port 0 picks a
    /// free one, see [`MetricsServer::local_addr`]).
    pub fn bind(addr: &str) -> Result<MetricsServer, MetricsError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| MetricsError::Address {
                addr: addr.to_string(),
                source,
            })?
            .collect();
        let listener = TcpListener::bind(&addrs[..]).map_err(|source| MetricsError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let bind_err = |source| MetricsError::Bind {
            addr: addr.to_string(),
            source,
        };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(epoll_err("create"))?;
        epoll::add(
            &epoll,
            &listener,
            epoll::EventData::new_u64(LISTENER),
            epoll::EventFlags::IN,
        )
        .map_err(epoll_err("add"))?;
        Ok(MetricsServer {
            listener,
            epoll,
            conns: BTreeMap::new(),
            next_token: LISTENER + 1,
            paused_until: None,
        })
    }

    /// The address listened on (the port chosen when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// When the next connection reaches its deadline or a paused listener is re-armed:
    /// a loop without a periodic tick can use it as its wait timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        let conns = self.conns.values().map(|c| c.since + CONNECTION_DEADLINE);
        conns.chain(self.paused_until).min()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Does what is ready, without waiting: closes connections past their deadline,
    /// accepts pending connections, reads requests, answers `GET /metrics` with `metrics`
    /// encoded as OpenMetrics text, or the classic text format for a client that asks for
    /// `text/plain` only (404 for another path, 405 for another method, 400 for
    /// a malformed request, 431 for one over [`MAX_REQUEST_BYTES`]) and closes each
    /// connection once answered. Call it when the fd of [`AsFd`] is readable, and on the
    /// loop's periodic tick so that deadlines apply to connections that went quiet.
    pub fn serve(&mut self, metrics: &GuardMetrics) -> Result<ServeStats, MetricsError> {
        let mut stats = ServeStats::default();
        let now = Instant::now();
        if self.paused_until.is_some_and(|t| now >= t) {
            epoll::modify(
                &self.epoll,
                &self.listener,
                epoll::EventData::new_u64(LISTENER),
                epoll::EventFlags::IN,
            )
            .map_err(epoll_err("modify"))?;
            self.paused_until = None;
        }
        let expired: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| now.duration_since(c.since) >= CONNECTION_DEADLINE)
            .map(|(&t, _)| t)
            .collect();
        for t in expired {
            self.close(t);
            stats.dropped += 1;
        }
        let mut events = Vec::with_capacity(MAX_CONNECTIONS + 1);
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut events),
            Some(&zero),
        )
        .map_err(epoll_err("wait"))?;
        let mut body: Bodies = [None, None];
        for ev in &events {
            let token = ev.data.u64();
            if token == LISTENER {
                self.accept(&mut stats, metrics, &mut body)?;
            } else {
                self.advance(token, &mut stats, metrics, &mut body);
            }
        }
        Ok(stats)
    }

    fn accept(
        &mut self,
        stats: &mut ServeStats,
        metrics: &GuardMetrics,
        body: &mut Bodies,
    ) -> Result<(), MetricsError> {
        for _ in 0..MAX_ACCEPTS_PER_CALL {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The client gave up before we took it: the next one may be fine.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {
                    stats.dropped += 1;
                    continue;
                }
                // EMFILE, ENFILE, ENOBUFS: the connection stays queued and the listener
                // readable; stop listening for a while rather than wake the loop for
                // nothing (see `paused_until`).
                Err(_) => {
                    epoll::modify(
                        &self.epoll,
                        &self.listener,
                        epoll::EventData::new_u64(LISTENER),
                        epoll::EventFlags::empty(),
                    )
                    .map_err(epoll_err("modify"))?;
                    self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    break;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                stats.dropped += 1;
                continue;
            }
            if self.conns.len() >= MAX_CONNECTIONS {
                if let Some(&oldest) = self.conns.keys().next() {
                    self.close(oldest);
                    stats.dropped += 1;
                }
            }
            let token = self.next_token;
            self.next_token += 1;
            epoll::add(
                &self.epoll,
                &stream,
                epoll::EventData::new_u64(token),
                epoll::EventFlags::IN | epoll::EventFlags::RDHUP,
            )
            .map_err(epoll_err("add"))?;
            self.conns.insert(
                token,
                Conn {
                    stream,
                    since: Instant::now(),
                    state: State::Reading(Vec::new()),
                },
            );
            stats.accepted += 1;
            // The request usually arrives with the connection: answer it now.
            self.advance(token, stats, metrics, body);
        }
        Ok(())
    }

    /// Moves connection `token` on as far as it goes without waiting.
    fn advance(
        &mut self,
        token: u64,
        stats: &mut ServeStats,
        metrics: &GuardMetrics,
        body: &mut Bodies,
    ) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let was_reading = matches!(conn.state, State::Reading(_));
        let progress = match &mut conn.state {
            State::Reading(buf) => match read_head(&mut conn.stream, buf) {
                Ok(Some(head)) => {
                    let answer = respond(&head, metrics, body);
                    conn.state = State::Writing(answer, 0);
                    Progress::Pending
                }
                Ok(None) => Progress::Pending,
                Err(()) => Progress::Dropped,
            },
            State::Writing(..) => Progress::Pending,
        };
        let progress = match (progress, &mut conn.state) {
            (Progress::Pending, State::Writing(data, off)) => {
                write_some(&mut conn.stream, data, off)
            }
            (p, _) => p,
        };
        match progress {
            Progress::Pending => {
                if was_reading && matches!(conn.state, State::Writing(..)) {
                    // Now waiting for room in the socket's send buffer, not for input.
                    let _ = epoll::modify(
                        &self.epoll,
                        &conn.stream,
                        epoll::EventData::new_u64(token),
                        epoll::EventFlags::OUT,
                    );
                }
            }
            Progress::Done => {
                let _ = conn.stream.shutdown(Shutdown::Write);
                self.close(token);
                stats.answered += 1;
            }
            Progress::Dropped => {
                self.close(token);
                stats.dropped += 1;
            }
        }
    }

    fn close(&mut self, token: u64) {
        if let Some(conn) = self.conns.remove(&token) {
            // Closing the socket removes it from the epoll set too; deleting first keeps
            // that explicit should the fd be duplicated somewhere.
            let _ = epoll::delete(&self.epoll, &conn.stream);
        }
    }
}

impl AsFd for MetricsServer {
    /// The server's epoll fd: readable when a connection waits to be accepted, read from
    /// or written to. Register it in the caller's epoll (level-triggered) and call
    /// [`MetricsServer::serve`] when it is ready.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

/// Reads what is there; `Ok(Some(head))` once the request head is complete, `Ok(None)` to
/// wait for more, `Err` when the peer closed or failed. A head over the bound comes back
/// as it is, cut, and is answered 431.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, ()> {
    let mut chunk = [0u8; 2048];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Err(()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if head_end(buf).is_some() || buf.len() > MAX_REQUEST_BYTES {
                    return Ok(Some(std::mem::take(buf)));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(()),
        }
    }
}

/// Where the head ends (`\r\n\r\n`, or `\n\n` from a lenient client).
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    crlf.or_else(|| buf.windows(2).position(|w| w == b"\n\n"))
}

fn write_some(stream: &mut TcpStream, data: &[u8], off: &mut usize) -> Progress {
    while *off < data.len() {
        match stream.write(&data[*off..]) {
            Ok(0) => return Progress::Dropped,
            Ok(n) => *off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Progress::Dropped,
        }
    }
    Progress::Done
}

/// The whole answer to a request head.
fn respond(head: &[u8], metrics: &GuardMetrics, body: &mut Bodies) -> Vec<u8> {
    if head.len() > MAX_REQUEST_BYTES {
        return answer(
            431,
            "Request Header Fields Too Large",
            None,
            b"request too large\n",
        );
    }
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return answer(400, "Bad Request", None, b"bad request\n");
    };
    if !version.starts_with("HTTP/1.") {
        return answer(400, "Bad Request", None, b"bad request\n");
    }
    let path = target.split('?').next().unwrap_or(target);
    if path != "/metrics" {
        return answer(404, "Not Found", None, b"not found: try /metrics\n");
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return answer(
            405,
            "Method Not Allowed",
            Some("Allow: GET, HEAD"),
            b"GET only\n",
        );
    }
    let accept = head_text_lines(line_end, head).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| v.trim().to_string())
    });
    let format = Format::negotiate(accept.as_deref());
    let text = body[format as usize].get_or_insert_with(|| {
        let mut s = String::new();
        match format.encode(metrics, &mut s) {
            Ok(()) => s,
            // Encoding into a String cannot fail; should it, say so rather than half-answer.
            Err(_) => String::new(),
        }
    });
    if text.is_empty() {
        return answer(500, "Internal Server Error", None, b"encoding failed\n");
    }
    let content_type = format!("Content-Type: {}", format.content_type());
    let mut out = header(200, "OK", Some(&content_type), text.len());
    if !head_only {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// The header lines after the request line, as text.
fn head_text_lines(line_end: usize, head: &[u8]) -> impl Iterator<Item = &str> {
    let rest = head.get(line_end + 1..).unwrap_or_default();
    std::str::from_utf8(rest)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.is_empty())
}

fn header(code: u16, reason: &str, extra: Option<&str>, len: usize) -> Vec<u8> {
    let mut h =
        format!("HTTP/1.1 {code} {reason}\r\nConnection: close\r\nContent-Length: {len}\r\n");
    if let Some(x) = extra {
        h.push_str(x);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn answer(code: u16, reason: &str, extra: Option<&str>, body: &[u8]) -> Vec<u8> {
    let plain = "Content-Type: text/plain; charset=utf-8";
    let extra = match extra {
        Some(x) => format!("{plain}\r\n{x}"),
        None => plain.to_string(),
    };
    let mut out = header(code, reason, Some(&extra), body.len());
    out.extend_from_slice(body);
    out
}
