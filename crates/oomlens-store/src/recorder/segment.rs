//! Segment files: their names (one per UTC day), listing them, and scanning one for
//! frames, damage and a torn tail.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::{io, Error};
use super::frame::{Bad, Header, MAGIC, MAJOR, MAX_HEADER_LEN};

/// Suffix of segment file names (`2026-12-02.oomrec`).
pub const SUFFIX: &str = ".oomrec";

/// Days since 1970-01-01 (UTC) of a time in nanoseconds since the epoch.
pub fn day_of(time_ns: u64) -> u64 {
    time_ns / 86_400_000_000_000
}

/// The file name of part `part` of the segment for `day` (days since the epoch):
/// `YYYY-MM-DD.oomrec` for part 0, `YYYY-MM-DD.N.oomrec` for part N (a day whose records
/// outgrow [`super::Options::max_segment_bytes`] continues in further parts).
pub fn name(day: u64, part: u32) -> String {
    // Howard Hinnant's civil_from_days, for days >= 0.
    let z = day as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    match part {
        0 => format!("{y:04}-{m:02}-{d:02}{SUFFIX}"),
        n => format!("{y:04}-{m:02}-{d:02}.{n}{SUFFIX}"),
    }
}

/// The (day, part) of a segment file name, or `None` for any other file.
pub fn parse_name(file: &str) -> Option<(u64, u32)> {
    let stem = file.strip_suffix(SUFFIX)?;
    let (date, part) = match stem.split_once('.') {
        Some((date, part)) => (date, part.parse::<u32>().ok()?),
        None => (stem, 0),
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())?
    };
    let (y, m, d) = (num(&date[0..4])?, num(&date[5..7])?, num(&date[8..10])?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil, the inverse of `name`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    // Reject 2026-02-31 (it would alias another day's file), `.0`, `.01`, `.+1`.
    (name(day, part) == file).then_some((day, part))
}

/// A segment's place in the store: (day, part).
pub type Key = (u64, u32);

/// The segments in `dir`, oldest first, as ((day, part), path). Other files are ignored.
pub fn list(dir: &Path) -> Result<Vec<(Key, PathBuf)>, Error> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir(dir).map_err(io(dir, "list"))? {
        let ent = ent.map_err(io(dir, "list"))?;
        if let Some(key) = ent.file_name().to_str().and_then(parse_name) {
            out.push((key, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What a scan found at one place in a segment, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A frame whose header verifies; its payload is checked when read.
    Frame {
        /// Byte offset of the frame.
        offset: u64,
        /// Its header.
        header: Header,
    },
    /// Bytes between two frames that hold no valid header.
    Damaged {
        /// Byte offset of the damage.
        offset: u64,
        /// Its length, up to the next valid frame.
        len: u64,
    },
}

/// The result of scanning one segment.
#[derive(Debug, Default)]
pub struct Scan {
    /// Frames and damage, in file order.
    pub slots: Vec<Slot>,
    /// Where the last frame ends (0 when there is none): everything after is torn tail.
    pub end: u64,
    /// File length at the scan.
    pub file_len: u64,
}

/// What lies at `off`: a header, or why not. Reads only the header.
fn header_at(file: &File, path: &Path, off: u64, len: u64) -> Result<Result<Header, Bad>, Error> {
    let want = (len - off).min(MAX_HEADER_LEN as u64) as usize;
    let mut buf = vec![0u8; want];
    file.read_exact_at(&mut buf, off)
        .map_err(io(path, "read"))?;
    Ok(Header::decode(&buf))
}

/// The next offset after `from` where a valid header starts, if any (resync on magic).
fn resync(file: &File, path: &Path, from: u64, len: u64) -> Result<Option<u64>, Error> {
    const CHUNK: u64 = 1 << 20;
    let mut at = from;
    while at + 4 <= len {
        let n = (len - at).min(CHUNK) as usize;
        let mut buf = vec![0u8; n];
        file.read_exact_at(&mut buf, at).map_err(io(path, "read"))?;
        for (i, w) in buf.windows(4).enumerate() {
            if w != MAGIC {
                continue;
            }
            let cand = at + i as u64;
            match header_at(file, path, cand, len)? {
                Ok(_) | Err(Bad::Newer { .. }) | Err(Bad::Short) => return Ok(Some(cand)),
                Err(Bad::Invalid) => {}
            }
        }
        // Windows of the next chunk start 3 bytes back, so a magic across the cut is found.
        at += (n as u64).saturating_sub(3).max(1);
    }
    Ok(None)
}

/// Scans `path` from the start. A newer major version is an error (the whole store is
/// refused rather than misread); damage between frames becomes [`Slot::Damaged`]; bytes
/// after the last frame that hold no complete frame are the torn tail (`file_len - end`).
/// Every step moves forward, so the scan ends.
pub fn scan(file: &File, path: &Path) -> Result<Scan, Error> {
    let len = file.metadata().map_err(io(path, "stat"))?.len();
    let mut scan = Scan {
        file_len: len,
        ..Scan::default()
    };
    let mut off = 0;
    while off < len {
        match header_at(file, path, off, len)? {
            Ok(h) if off + h.frame_len() <= len => {
                scan.slots.push(Slot::Frame {
                    offset: off,
                    header: h,
                });
                off += h.frame_len();
                scan.end = off;
            }
            // A header whose payload runs past the end: torn while being written.
            Ok(_) | Err(Bad::Short) => break,
            Err(Bad::Newer { major, minor }) => {
                return Err(Error::UnsupportedVersion {
                    path: path.to_path_buf(),
                    offset: off,
                    major,
                    minor,
                    supported: MAJOR,
                })
            }
            Err(Bad::Invalid) => match resync(file, path, off + 1, len)? {
                Some(next) => {
                    scan.slots.push(Slot::Damaged {
                        offset: off,
                        len: next - off,
                    });
                    off = next;
                }
                None => break,
            },
        }
    }
    Ok(scan)
}

/// Reads and checks the payload of the frame at `offset`.
pub fn read_payload(file: &File, path: &Path, offset: u64, h: &Header) -> Result<Vec<u8>, Error> {
    let mut stored = vec![0u8; h.stored_len as usize];
    file.read_exact_at(&mut stored, offset + u64::from(h.header_len))
        .map_err(io(path, "read"))?;
    super::frame::decode_payload(h, &stored).map_err(|damage| Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        len: h.frame_len(),
        damage,
    })
}

/// The end of the last frame whose payload also verifies: frames at the end whose
/// payload is bad (a crash after the file grew but before its blocks were written) are
/// torn tail too. Returns (end, id of that frame).
pub fn good_end(file: &File, path: &Path, scan: &Scan) -> Result<(u64, Option<u64>), Error> {
    for slot in scan.slots.iter().rev() {
        if let Slot::Frame { offset, header } = slot {
            match read_payload(file, path, *offset, header) {
                Ok(_) => return Ok((offset + header.frame_len(), Some(header.id))),
                Err(Error::Corrupt { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok((0, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_dates_and_parse_back() {
        // Days counted by hand with Python's datetime: 2026-12-02 is day 20789,
        // 2000-02-29 day 11016.
        assert_eq!(name(0, 0), "1970-01-01.oomrec");
        assert_eq!(name(20_789, 0), "2026-12-02.oomrec");
        assert_eq!(name(11_016, 0), "2000-02-29.oomrec");
        assert_eq!(name(20_789, 12), "2026-12-02.12.oomrec");
        for day in [0, 59, 60, 11_016, 20_789, 100_000] {
            for part in [0, 1, 10, 4_000_000] {
                assert_eq!(parse_name(&name(day, part)), Some((day, part)));
            }
        }
        for bad in [
            "2026-02-31.oomrec",
            "2026-12-02.rec",
            "26-12-02.oomrec",
            "lock",
            "2026-1a-02.oomrec",
            "2026-12-02.0.oomrec",
            "2026-12-02.01.oomrec",
            "2026-12-02.+1.oomrec",
            "2026-12-02..oomrec",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn day_boundary_is_midnight_utc() {
        let ns = 86_400_000_000_000u64;
        assert_eq!(day_of(ns - 1), 0);
        assert_eq!(day_of(ns), 1);
    }
}
