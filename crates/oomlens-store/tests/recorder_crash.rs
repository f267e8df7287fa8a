//! Kill -9 of a writer at random points, over and over: the store always opens and reads
//! without error, and nothing but the record being written when the kill came is lost.
//!
//! The test re-executes its own binary as the writer (the environment variable
//! `OOMLENS_STORE_CRASH_DIR` selects that role), so no extra binary is needed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oomlens_store::recorder::{Options, Reader, Recorder};

const ENV: &str = "OOMLENS_STORE_CRASH_DIR";
const TEST: &str = "sigkill_at_random_points_loses_at_most_the_last_record";

/// Payload of record `seq`: its number, then filler up to a size that varies from a few
/// bytes to 64 KB (large writes take long enough to be cut by the kill).
fn payload(seq: u64) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) % 65_536) as usize;
    let mut p = format!("{seq:020}").into_bytes();
    let mut x = seq | 1;
    p.extend((0..len).map(|i| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Half compressible, half not, so both stored forms are exercised.
        if seq % 2 == 0 {
            x as u8
        } else {
            b'a' + (i % 7) as u8
        }
    }));
    p
}

fn seq_of(p: &[u8]) -> u64 {
    std::str::from_utf8(&p[..20]).unwrap().parse().unwrap()
}

/// Default options (sync on) but small size limits, so retention and new parts of a
/// day happen under the kills.
fn options() -> Options {
    Options {
        max_bytes: 4 << 20,
        max_segment_bytes: 1 << 20,
        ..Options::default()
    }
}

/// The writer: reopen, continue the sequence, append forever, acknowledge each record
/// on stdout once `append` has returned.
fn writer(dir: &str) -> ! {
    let mut rec = Recorder::open(dir, options()).expect("writer opens the store");
    let mut out = std::io::stdout().lock();
    let mut seq = rec.next_id();
    loop {
        // Records span days so that segment creation is killed too.
        let t = UNIX_EPOCH + Duration::from_secs(1_764_633_600 + seq * 3_000);
        let id = rec.append(t, 1, &payload(seq)).expect("append");
        assert_eq!(id, seq);
        writeln!(out, "ack {seq}").unwrap();
        out.flush().unwrap();
        seq += 1;
    }
}

fn dir_size(dir: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn sigkill_at_random_points_loses_at_most_the_last_record() {
    if let Ok(dir) = std::env::var(ENV) {
        writer(&dir);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let exe = std::env::current_exe().unwrap();
    let mut rng = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut cut_tails = 0;
    let mut ever_acked = -1i64;
    for round in 0..120 {
        let mut child = Command::new(&exe)
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let acked = Arc::new(AtomicI64::new(-1));
        let out = child.stdout.take().unwrap();
        let seen = Arc::clone(&acked);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // libtest's "test NAME ... " has no newline yet when the first ack comes.
                if let Some(i) = line.find("ack ") {
                    seen.store(line[i + 4..].parse().unwrap(), Ordering::SeqCst);
                }
            }
        });
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Up to 60 ms: some kills land while the child starts or repairs, most while it
        // appends.
        std::thread::sleep(Duration::from_micros(rng % 60_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let raw = acked.load(Ordering::SeqCst);
        let acked = raw.max(ever_acked);

        let r = Reader::open(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        if r.torn_bytes() > 0 {
            cut_tails += 1;
        }
        // Retention may have deleted whole old days: ids start anywhere, then
        // run without a gap.
        let first = r.list().next().map_or(0, |(id, _, _)| id as i64);
        let mut n = first;
        for item in r.iter() {
            let rec = item.unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(rec.id as i64, n, "round {round}: a gap or a duplicate");
            assert_eq!(seq_of(&rec.payload), rec.id, "round {round}");
            assert_eq!(rec.payload, payload(rec.id), "round {round}");
            n += 1;
        }
        let last = n - 1;
        // Every acknowledged record is there; at most one more (appended, not yet
        // acknowledged) and nothing half-written.
        assert!(
            last >= acked && last <= acked + 1,
            "round {round}: last {last}, acked {acked} (this run {raw}, before {ever_acked})"
        );
        ever_acked = ever_acked.max(last);
        // The next writer opens it, cutting a torn tail, and continues after the last.
        let rec = Recorder::open(&dir, options()).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(rec.next_id() as i64, last + 1, "round {round}");
        drop(rec);
        if round % 20 == 19 {
            eprintln!(
                "round {round}: records {first}..={last}, {} bytes",
                dir_size(&dir)
            );
        }
    }
    eprintln!("120 kills, {ever_acked} records, {cut_tails} torn tails seen by the reader");
    assert!(ever_acked > 120, "the writer must have made progress");
}
