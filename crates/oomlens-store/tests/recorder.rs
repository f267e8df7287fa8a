//! The on-disk recorder: round trips, torn tails, damage, retention, versions.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oomlens_store::recorder::{frame, Error, Options, Reader, Record, Recorder};

const DAY: u64 = 86_400;

/// `secs` seconds into day `day` after 2026-12-01 (day 20788 since the epoch).
fn at(day: u64, secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs((20_788 + day) * DAY + secs)
}

/// A payload that says which record it is, about `len` bytes long, compressible or
/// (random bytes) not.
fn payload(seq: u64, len: usize, random: bool) -> Vec<u8> {
    let mut p = format!("{{\"seq\":{seq},\"pad\":\"").into_bytes();
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while p.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p.push(if random {
            x as u8
        } else {
            b'a' + (p.len() % 3) as u8
        });
    }
    p.extend_from_slice(b"\"}");
    p
}

fn read_all(dir: &Path) -> (Vec<Record>, Vec<Error>, u64) {
    let r = Reader::open(dir).expect("open reader");
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for item in r.iter() {
        match item {
            Ok(rec) => ok.push(rec),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad, r.torn_bytes())
}

fn segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".oomrec"))
        .collect();
    v.sort();
    v
}

fn fast() -> Options {
    Options {
        sync: false,
        ..Options::default()
    }
}

#[test]
fn many_records_round_trip_across_day_boundaries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut want = Vec::new();
    {
        let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
        for seq in 0..600u64 {
            // Five records an hour and a bit: the run spans days 0..=4, crossing midnight.
            let t = at(0, 23 * 3600 + seq * 700);
            let p = payload(seq, 20 + (seq as usize * 37) % 3000, seq % 3 == 0);
            let id = rec.append(t, (seq % 5) as u16, &p).unwrap();
            assert_eq!(id, seq);
            want.push((t, (seq % 5) as u16, p));
        }
    }
    assert_eq!(
        segments(tmp.path()),
        [
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05",
            "2026-12-06"
        ]
        .map(|d| format!("{d}.oomrec"))
    );
    let (ok, bad, torn) = read_all(tmp.path());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(torn, 0);
    assert_eq!(ok.len(), want.len());
    for (i, (r, (t, k, p))) in ok.iter().zip(&want).enumerate() {
        assert_eq!((r.id, r.time, r.kind, &r.payload), (i as u64, *t, *k, p));
    }
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.get(417).unwrap().payload, want[417].2);
    assert!(matches!(
        reader.get(600),
        Err(Error::NotFound { id: 600, .. })
    ));
    // Reopening continues the ids.
    let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
    assert_eq!(rec.append(at(5, 0), 1, b"after").unwrap(), 600);
}

/// Writes 4 records, then a 5th; returns the segment and where the 5th frame starts.
fn four_and_a_last(dir: &Path) -> (PathBuf, u64) {
    let mut rec = Recorder::open(dir, fast()).unwrap();
    for seq in 0..4 {
        rec.append(at(0, seq), 7, &payload(seq, 200, seq % 2 == 0))
            .unwrap();
    }
    let start = rec.size();
    rec.append(at(0, 9), 7, &payload(4, 300, true)).unwrap();
    (dir.join("2026-12-01.oomrec"), start)
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_frame_is_skipped_then_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let (seg, start) = four_and_a_last(&tmp.path().join("orig"));
    let whole = std::fs::read(&seg).unwrap();
    assert!(whole.len() as u64 > start + frame::HEADER_LEN as u64);
    for cut in start..whole.len() as u64 {
        let dir = tmp.path().join(format!("cut{cut}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("2026-12-01.oomrec"), &whole[..cut as usize]).unwrap();
        let (ok, bad, torn) = read_all(&dir);
        assert!(bad.is_empty(), "cut at {cut}: {bad:?}");
        assert_eq!(torn, cut - start, "cut at {cut}");
        assert_eq!(
            ok.iter().map(|r| r.id).collect::<Vec<_>>(),
            [0, 1, 2, 3],
            "cut at {cut}"
        );
        assert_eq!(ok[3].payload, payload(3, 200, false));
        let mut rec = Recorder::open(&dir, Options::default()).unwrap();
        assert_eq!(rec.repaired_bytes(), cut - start);
        assert_eq!(rec.append(at(0, 20), 8, b"new").unwrap(), 4);
        drop(rec);
        let (ok, bad, torn) = read_all(&dir);
        assert!(bad.is_empty() && torn == 0, "cut at {cut}: {bad:?} {torn}");
        assert_eq!(ok.len(), 5);
        assert_eq!(
            (ok[4].id, ok[4].kind, &ok[4].payload[..]),
            (4, 8, &b"new"[..])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_flipped_byte_anywhere_in_a_frame_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("orig");
    let (starts, whole) = {
        let mut rec = Recorder::open(&orig, fast()).unwrap();
        let mut starts = Vec::new();
        for seq in 0..3 {
            starts.push(rec.size());
            rec.append(at(0, seq), 1, &payload(seq, 400, seq != 1))
                .unwrap();
        }
        starts.push(rec.size());
        (
            starts,
            std::fs::read(orig.join("2026-12-01.oomrec")).unwrap(),
        )
    };
    // Every byte of the middle frame (compressed payload) and of the last (raw payload).
    for frame_no in [1usize, 2] {
        for at_byte in starts[frame_no]..starts[frame_no + 1] {
            for bit in [0x01u8, 0x80] {
                let mut bytes = whole.clone();
                bytes[at_byte as usize] ^= bit;
                let dir = tmp.path().join(format!("flip{at_byte}-{bit}"));
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("2026-12-01.oomrec"), &bytes).unwrap();
                let (ok, bad, torn) = read_all(&dir);
                let ids: Vec<u64> = ok.iter().map(|r| r.id).collect();
                let ctx = format!("frame {frame_no} byte {at_byte} bit {bit:#x}");
                if frame_no == 1 {
                    // Damage in the middle: one error, the neighbours intact.
                    assert_eq!(ids, [0, 2], "{ctx}");
                    assert_eq!(bad.len(), 1, "{ctx}: {bad:?}");
                    assert!(matches!(bad[0], Error::Corrupt { .. }), "{ctx}: {bad:?}");
                    assert_eq!(torn, 0, "{ctx}");
                } else {
                    // Damage in the last frame: an error, or a header that no longer
                    // verifies at the end, which reads as a torn tail.
                    assert_eq!(ids, [0, 1], "{ctx}");
                    assert!(
                        bad.len() + usize::from(torn > 0) == 1,
                        "{ctx}: {bad:?} {torn}"
                    );
                }
                for r in &ok {
                    assert_eq!(r.payload, payload(r.id, 400, r.id != 1), "{ctx}");
                }
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
}

#[test]
fn retention_by_size_deletes_whole_oldest_segments_but_never_the_current() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options {
        max_bytes: 10_000,
        ..fast()
    };
    let mut rec = Recorder::open(tmp.path(), opts).unwrap();
    // Ten days of three incompressible records: 1,046-byte frames, 3,138-byte segments.
    for day in 0..10 {
        for i in 0..3 {
            rec.append(at(day, i), 0, &payload(day * 3 + i, 1000, true))
                .unwrap();
        }
        let on_disk: u64 = segments(tmp.path())
            .iter()
            .map(|n| std::fs::metadata(tmp.path().join(n)).unwrap().len())
            .sum();
        assert!(on_disk <= 10_000, "day {day}: {on_disk}");
        assert_eq!(on_disk, rec.size());
    }
    // 3 segments (9,414 bytes) fit in 10,000 bytes, 4 do not.
    assert_eq!(
        segments(tmp.path()),
        [
            "2026-12-08.oomrec",
            "2026-12-09.oomrec",
            "2026-12-10.oomrec"
        ]
    );
    let (ok, bad, _) = read_all(tmp.path());
    assert!(bad.is_empty());
    assert_eq!(ok.first().unwrap().id, 21);
    assert_eq!(ok.last().unwrap().id, 29);
    // One day larger than the limit alone: it is the one being written, so it stays.
    for i in 0..12 {
        rec.append(at(10, i), 0, &payload(100 + i, 1000, true))
            .unwrap();
    }
    assert_eq!(segments(tmp.path()), ["2026-12-11.oomrec"]);
    assert!(rec.size() > 10_000);
}

#[test]
fn a_busy_day_continues_in_parts_read_in_order_and_pruned_one_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    // 1,046-byte frames: two fit in 2,200 bytes, a third starts a new part.
    let parts = Options {
        max_segment_bytes: 2_200,
        max_bytes: u64::MAX,
        ..fast()
    };
    let mut rec = Recorder::open(tmp.path(), parts.clone()).unwrap();
    for i in 0..30 {
        rec.append(at(0, i), 0, &payload(i, 1000, true)).unwrap();
    }
    drop(rec);
    let names = segments(tmp.path());
    assert_eq!(names.len(), 15);
    assert!(names.contains(&"2026-12-01.oomrec".to_string()));
    assert!(names.contains(&"2026-12-01.14.oomrec".to_string()));
    // Parts are ordered by number (.2 before .10), not by name.
    let (ok, bad, _) = read_all(tmp.path());
    assert!(bad.is_empty());
    assert_eq!(
        ok.iter().map(|r| r.id).collect::<Vec<_>>(),
        (0..30).collect::<Vec<_>>()
    );
    // With a size limit, whole old parts of the same day go: the new record opens part
    // 15 (1,046 bytes); with parts 11..=14 (2,092 each) that is 9,414 bytes, part 10 more
    // would be 11,506 > 10,000.
    let mut rec = Recorder::open(
        tmp.path(),
        Options {
            max_bytes: 10_000,
            ..parts
        },
    )
    .unwrap();
    assert_eq!(
        rec.append(at(0, 99), 0, &payload(30, 1000, true)).unwrap(),
        30
    );
    let want: Vec<String> = (11..=15)
        .map(|p| format!("2026-12-01.{p}.oomrec"))
        .collect();
    assert_eq!(segments(tmp.path()), want);
    let (ok, _, _) = read_all(tmp.path());
    assert_eq!(
        ok.iter().map(|r| r.id).collect::<Vec<_>>(),
        (22..=30).collect::<Vec<_>>()
    );
    // The next day starts at part 0 again.
    rec.append(at(1, 0), 0, b"x").unwrap();
    assert!(tmp.path().join("2026-12-02.oomrec").exists());
}

#[test]
fn retention_by_age_deletes_days_older_than_max_age() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options {
        max_age: Duration::from_secs(3 * DAY),
        ..fast()
    };
    let mut rec = Recorder::open(tmp.path(), opts).unwrap();
    for day in 0..10 {
        rec.append(at(day, 12 * 3600), 0, b"x").unwrap();
    }
    // Now is day 9 noon; three days before is day 6 noon: days 6..=9 may hold younger
    // records, days 0..=5 cannot.
    assert_eq!(
        segments(tmp.path()),
        ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10"].map(|d| format!("{d}.oomrec"))
    );
    // Without an append, prune with a later now: all but the current segment go.
    assert_eq!(rec.prune(at(40, 0)).unwrap(), 3);
    assert_eq!(segments(tmp.path()), ["2026-12-10.oomrec"]);
    // Files that are not segments are never touched.
    std::fs::write(tmp.path().join("notes.txt"), b"keep").unwrap();
    rec.prune(at(80, 0)).unwrap();
    assert!(tmp.path().join("notes.txt").exists());
}

/// A hand-built frame of format `major.minor` with a valid header CRC.
fn frame_of_version(major: u8, minor: u8) -> Vec<u8> {
    frame_with(major, minor, 0)
}

/// A hand-built frame (raw payload, kind 3, id 1) following the documented layout.
fn frame_with(major: u8, minor: u8, flags: u16) -> Vec<u8> {
    let payload = b"{\"from\":\"the future\"}";
    let mut h = Vec::new();
    h.extend_from_slice(b"OOMR");
    h.extend_from_slice(&[major, minor]);
    h.extend_from_slice(&44u16.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes()); // kind
    h.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    h.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    h.extend_from_slice(&1u64.to_le_bytes()); // id
    h.extend_from_slice(
        &(at(0, 60).duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64).to_le_bytes(),
    );
    h.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(payload);
    h
}

#[test]
fn the_layout_is_as_documented_and_a_newer_major_version_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    Recorder::open(tmp.path(), fast())
        .unwrap()
        .append(at(0, 0), 3, b"old")
        .unwrap();
    let seg = tmp.path().join("2026-12-01.oomrec");
    // A 1.0 frame built by hand from the documented layout reads back.
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend(frame_of_version(1, 0));
    std::fs::write(&seg, &bytes).unwrap();
    let (ok, bad, _) = read_all(tmp.path());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok[1].payload, b"{\"from\":\"the future\"}");
    assert_eq!((ok[1].id, ok[1].kind, ok[1].time), (1, 3, at(0, 60)));
    // A newer minor version is read; a newer major refused, naming file and version.
    let minor = [
        &bytes[..bytes.len() - frame_of_version(1, 0).len()],
        &frame_of_version(1, 7),
    ]
    .concat();
    std::fs::write(&seg, &minor).unwrap();
    assert_eq!(read_all(tmp.path()).0.len(), 2);
    let major = [
        &bytes[..bytes.len() - frame_of_version(1, 0).len()],
        &frame_of_version(2, 0),
    ]
    .concat();
    std::fs::write(&seg, &major).unwrap();
    let err = Reader::open(tmp.path()).err().expect("refused");
    assert!(
        matches!(&err, Error::UnsupportedVersion { path, major: 2, minor: 0, supported: 1, .. } if *path == seg),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("2026-12-01.oomrec") && msg.contains("version 2.0"),
        "{msg}"
    );
    // The writer refuses too, and does not cut the newer frame as if it were torn.
    assert!(matches!(
        Recorder::open(tmp.path(), fast()),
        Err(Error::UnsupportedVersion { major: 2, .. })
    ));
    assert_eq!(std::fs::read(&seg).unwrap(), major);
}

#[test]
fn unknown_critical_flags_skip_the_frame_unknown_ancillary_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = tmp.path().join("2026-12-01.oomrec");
    Recorder::open(tmp.path(), fast())
        .unwrap()
        .append(at(0, 0), 3, b"old")
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend(frame_with(1, 0, 0x0002));
    std::fs::write(&seg, &bytes).unwrap();
    let (ok, bad, torn) = read_all(tmp.path());
    assert_eq!((ok.len(), torn), (1, 0));
    assert!(
        matches!(bad[..], [Error::UnsupportedFlags { flags: 0x0002, .. }]),
        "{bad:?}"
    );
    let ancillary = [
        &bytes[..bytes.len() - frame_with(1, 0, 2).len()],
        &frame_with(1, 0, 0x0100),
    ]
    .concat();
    std::fs::write(&seg, ancillary).unwrap();
    let (ok, bad, _) = read_all(tmp.path());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok[1].payload, b"{\"from\":\"the future\"}");
}

#[test]
fn one_writer_at_a_time_and_bad_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
    assert!(matches!(
        Recorder::open(tmp.path(), fast()),
        Err(Error::Locked { .. })
    ));
    let big = vec![0u8; frame::MAX_PAYLOAD as usize + 1];
    assert!(matches!(
        rec.append(at(0, 0), 0, &big),
        Err(Error::TooLarge { .. })
    ));
    let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
    assert!(matches!(
        rec.append(before_1970, 0, b"x"),
        Err(Error::TimeOutOfRange)
    ));
    // Nothing was written by the refused appends.
    assert_eq!(rec.append(at(0, 0), 0, b"x").unwrap(), 0);
    drop(rec);
    assert!(Recorder::open(tmp.path(), fast()).is_ok());
}

#[test]
fn ids_continue_after_an_empty_newest_segment() {
    // A crash right after a new day's segment was created leaves it empty: the next id
    // comes from the day before.
    let tmp = tempfile::tempdir().unwrap();
    let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
    for i in 0..3 {
        rec.append(at(0, i), 0, b"x").unwrap();
    }
    drop(rec);
    std::fs::write(tmp.path().join("2026-12-02.oomrec"), b"OOM").unwrap();
    let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
    assert_eq!(rec.repaired_bytes(), 3);
    assert_eq!(rec.append(at(1, 5), 0, b"y").unwrap(), 3);
    assert_eq!(
        segments(tmp.path()),
        ["2026-12-01.oomrec", "2026-12-02.oomrec"]
    );
    let (ok, bad, torn) = read_all(tmp.path());
    assert!(bad.is_empty() && torn == 0);
    assert_eq!(ok.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 1, 2, 3]);
}

#[test]
fn a_clock_stepped_back_appends_to_the_current_segment_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rec = Recorder::open(tmp.path(), fast()).unwrap();
    rec.append(at(3, 0), 0, b"a").unwrap();
    rec.append(at(1, 0), 0, b"b").unwrap();
    assert_eq!(segments(tmp.path()), ["2026-12-04.oomrec"]);
    let (ok, _, _) = read_all(tmp.path());
    assert_eq!(
        ok.iter().map(|r| (r.id, r.time)).collect::<Vec<_>>(),
        [(0, at(3, 0)), (1, at(1, 0))]
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Garbage around and between valid frames: the scan never panics nor loops, and
        /// every embedded frame is found again by its magic.
        #[test]
        fn frames_are_found_among_garbage(
            pre in proptest::collection::vec(any::<u8>(), 0..300),
            mid in proptest::collection::vec(any::<u8>(), 0..300),
            post in proptest::collection::vec(any::<u8>(), 0..60),
            a in proptest::collection::vec(any::<u8>(), 0..500),
            b in proptest::collection::vec(any::<u8>(), 0..500),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let src = tmp.path().join("src");
            let mut rec = Recorder::open(&src, fast()).unwrap();
            let s0 = rec.size();
            rec.append(at(0, 1), 1, &a).unwrap();
            let s1 = rec.size();
            rec.append(at(0, 2), 2, &b).unwrap();
            let s2 = rec.size();
            let bytes = std::fs::read(src.join("2026-12-01.oomrec")).unwrap();
            let dst = tmp.path().join("dst");
            std::fs::create_dir(&dst).unwrap();
            let file = [&pre[..], &bytes[s0 as usize..s1 as usize], &mid, &bytes[s1 as usize..s2 as usize], &post].concat();
            std::fs::write(dst.join("2026-12-01.oomrec"), &file).unwrap();
            let (ok, bad, _) = read_all(&dst);
            let got: Vec<&[u8]> = ok.iter().map(|r| &r.payload[..]).collect();
            prop_assert_eq!(got, vec![&a[..], &b[..]]);
            prop_assert!(bad.len() <= 2);
        }
    }
}
