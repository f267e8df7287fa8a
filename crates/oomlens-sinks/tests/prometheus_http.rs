//! The `/metrics` responder over real loopback sockets: the server is driven the way the
//! guard drives it (wait for its fd to be readable, then `serve`), clients are plain
//! `std::net::TcpStream`s in threads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use oomlens_model::metric_fields::CgroupGauges;
use oomlens_sinks::metrics::{
    GuardMetrics, LabelLimits, MetricsServer, CONNECTION_DEADLINE, MAX_CONNECTIONS,
};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

fn metrics() -> GuardMetrics {
    let mut m = GuardMetrics::new(LabelLimits::default());
    m.cgroup(
        "/system.slice/web.service",
        &CgroupGauges {
            usage_bytes: Some(123_456_789),
            ..CgroupGauges::default()
        },
    );
    m.kmsg(7, 1);
    m
}

/// Runs the server the way the guard's loop would until `done` reports, or `limit` passes.
fn drive<T>(
    server: &mut MetricsServer,
    m: &GuardMetrics,
    done: &mpsc::Receiver<T>,
    limit: Duration,
) -> Vec<T> {
    let start = Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < limit {
        let mut fds = [PollFd::new(server, PollFlags::IN)];
        let tick = Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        poll(&mut fds, Some(&tick)).unwrap();
        server.serve(m).unwrap();
        while let Ok(v) = done.try_recv() {
            got.push(v);
        }
        if !got.is_empty() {
            break;
        }
    }
    got
}

/// Sends `request` and reads the whole answer (the server closes after it).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn in_thread(addr: SocketAddr, request: &'static str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(exchange(addr, request)).unwrap());
    rx
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn get_metrics_answers_openmetrics_with_the_values() {
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let rx = in_thread(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(
        header(&answer, "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(
        header(&answer, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let usage = body
        .lines()
        .find(|l| l.starts_with("oomlens_cgroup_memory_usage_bytes{"))
        .unwrap();
    assert_eq!(
        usage,
        "oomlens_cgroup_memory_usage_bytes{cgroup=\"/system.slice/web.service\"} 123456789"
    );
    let lost: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("oomlens_kmsg_records_lost_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(lost, 7.0);
    assert!(body.ends_with("# EOF\n"));
    assert_eq!(server.connections(), 0, "closed after the answer");
}

#[test]
fn the_format_follows_the_accept_header() {
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    // What Prometheus 2.x sends on a scrape: OpenMetrics first.
    let prometheus = "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
    let curl = "GET /metrics HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    let plain = "GET /metrics HTTP/1.1\r\naccept: text/plain\r\n\r\n";
    for (request, content_type, family) in [
        (
            prometheus,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "# TYPE oomlens_kmsg_records_lost counter",
        ),
        (
            curl,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "# TYPE oomlens_kmsg_records_lost counter",
        ),
        (
            plain,
            "text/plain; version=0.0.4; charset=utf-8",
            "# TYPE oomlens_kmsg_records_lost_total counter",
        ),
    ] {
        let rx = in_thread(addr, request);
        let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
        assert_eq!(
            header(&answer, "content-type"),
            Some(content_type),
            "{request:?}"
        );
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        assert!(body.lines().any(|l| l == family), "{request:?}: {body}");
        assert!(
            body.contains("oomlens_kmsg_records_lost_total 7\n"),
            "{body}"
        );
        assert_eq!(
            body.ends_with("# EOF\n"),
            content_type.starts_with("application/openmetrics-text"),
            "only OpenMetrics ends with # EOF"
        );
    }
}

#[test]
fn other_paths_and_methods_are_refused() {
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    for (request, status) in [
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        ("GET /metricsx HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (
            "POST /metrics HTTP/1.1\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        ("hello\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("GET /metrics?x=1 HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK"),
    ] {
        let rx = in_thread(addr, request);
        let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
        assert!(answer.starts_with(status), "{request:?}: {answer}");
    }
    let rx = in_thread(addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
    let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "HEAD has no body: {answer}");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may close before taking all of it: a failed write is fine here.
        let _ = s.write_all(huge.as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        tx.send(String::from_utf8_lossy(&out).into_owned()).unwrap();
    });
    let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "an oversized request is refused: {answer:?}"
    );
}

#[test]
fn a_silent_client_does_not_delay_another_and_is_closed_at_the_deadline() {
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    // Connects, sends nothing, waits for the server to give up on it.
    let mut silent = TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(CONNECTION_DEADLINE * 3))
        .unwrap();
    let (closed_tx, closed_rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let mut buf = [0u8; 16];
        let n = silent.read(&mut buf).unwrap_or(usize::MAX);
        closed_tx.send((n, start.elapsed())).unwrap();
    });
    // Let the server accept it and find nothing to read.
    let (never_tx, never) = mpsc::channel::<()>();
    drive(&mut server, &m, &never, Duration::from_millis(300));
    assert_eq!(server.connections(), 1);

    let start = Instant::now();
    let rx = in_thread(addr, "GET /metrics HTTP/1.1\r\n\r\n");
    let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
    let waited = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        waited < Duration::from_secs(1),
        "the scrape waited {waited:?} behind a silent client"
    );

    let (n, after) = drive(&mut server, &m, &closed_rx, CONNECTION_DEADLINE * 2).remove(0);
    assert_eq!(n, 0, "the silent client sees EOF");
    assert!(
        after >= CONNECTION_DEADLINE - Duration::from_millis(400)
            && after < CONNECTION_DEADLINE + Duration::from_secs(1),
        "closed after {after:?}"
    );
    assert_eq!(server.connections(), 0);
    drop(never_tx);
}

#[test]
fn idle_connections_beyond_the_cap_make_room_for_a_scrape() {
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS + 4)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let (_keep, never) = mpsc::channel::<()>();
    drive(&mut server, &m, &never, Duration::from_millis(300));
    assert_eq!(server.connections(), MAX_CONNECTIONS);
    let rx = in_thread(addr, "GET /metrics HTTP/1.1\r\n\r\n");
    let answer = drive(&mut server, &m, &rx, Duration::from_secs(10)).remove(0);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(server.connections() <= MAX_CONNECTIONS);
    drop(idle);
}

#[test]
fn the_server_fd_stays_quiet_while_nothing_happens() {
    // Level-triggered readiness that never clears would make the guard's loop spin.
    let m = metrics();
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let _silent = TcpStream::connect(addr).unwrap();
    let (_keep, never) = mpsc::channel::<()>();
    drive(&mut server, &m, &never, Duration::from_millis(200));
    let mut wakeups = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        let mut fds = [PollFd::new(&server, PollFlags::IN)];
        let tick = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if poll(&mut fds, Some(&tick)).unwrap() > 0 {
            wakeups += 1;
            server.serve(&m).unwrap();
        }
    }
    assert_eq!(wakeups, 0, "readable with nothing to do");
}

#[test]
fn binding_a_bad_address_names_it() {
    let e = MetricsServer::bind("not an address").unwrap_err();
    assert!(e.to_string().contains("\"not an address\""), "{e}");
    let taken = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let e = MetricsServer::bind(&addr).unwrap_err();
    assert!(e.to_string().contains(&addr), "{e}");
}
