//! The `/metrics` responder out of file descriptors: accept fails with EMFILE and the
//! connection stays queued, which would keep a level-triggered listener readable and spin
//! the guard's loop. The server must go quiet instead and serve the client once
//! descriptors are back. A test binary of its own: it lowers this process's fd limit.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use oomlens_sinks::metrics::{GuardMetrics, LabelLimits, MetricsServer};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

fn readable(server: &MetricsServer, wait: Duration) -> bool {
    let mut fds = [PollFd::new(server, PollFlags::IN)];
    let t = Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: wait.subsec_nanos() as i64,
    };
    poll(&mut fds, Some(&t)).unwrap() > 0
}

#[test]
fn out_of_descriptors_the_server_rests_instead_of_spinning() {
    let m = GuardMetrics::new(LabelLimits::default());
    let mut server = MetricsServer::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    // Connected before the limit drops: the kernel completes the handshake and queues
    // the connection until the server accepts it.
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // No descriptor left: the limit at the current count, every lower number taken.
    let saved = getrlimit(Resource::Nofile);
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(open + 8),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let mut fillers = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        fillers.push(f);
    }
    assert!(
        readable(&server, Duration::from_millis(500)),
        "the connection is pending"
    );
    let stats = server.serve(&m).unwrap();
    assert_eq!(stats.accepted, 0);

    // Quiet while the connection is still queued: no wakeups for the loop.
    let start = Instant::now();
    let mut wakeups = 0;
    while start.elapsed() < Duration::from_millis(600) {
        if readable(&server, Duration::from_millis(100)) {
            wakeups += 1;
            server.serve(&m).unwrap();
        }
    }
    assert_eq!(wakeups, 0, "the loop was woken with nothing it could do");
    let deadline = server.next_deadline().expect("a re-arm time is set");
    assert!(deadline > Instant::now() && deadline < Instant::now() + Duration::from_secs(2));

    // Descriptors back: once the pause is over the client is served.
    drop(fillers);
    setrlimit(Resource::Nofile, saved).unwrap();
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let start = Instant::now();
    let mut answered = 0;
    while answered == 0 && start.elapsed() < Duration::from_secs(5) {
        answered += server.serve(&m).unwrap().answered;
        readable(&server, Duration::from_millis(50));
    }
    assert_eq!(answered, 1);
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
}
