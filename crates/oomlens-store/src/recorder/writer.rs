//! The single writer: appends frames to the newest segment, rolls to a new one per UTC
//! day (and per size cap), repairs a torn tail on open, syncs, and applies retention.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::{io, Error};
use super::frame::{self, MAX_PAYLOAD};
use super::segment::{self, Key, Slot};

/// A record's id: its sequence number in the store, from 0, never reused while any
/// segment is left.
pub type RecordId = u64;

/// How the recorder keeps and syncs its files.
#[derive(Debug, Clone)]
pub struct Options {
    /// Delete the oldest segments while the store is larger than this (the segment being
    /// written is never deleted, so the store may exceed it by up to one segment).
    pub max_bytes: u64,
    /// Start a new part of the day's segment before one would grow past this, so that a
    /// busy day (a restart loop) is still pruned part by part. A record larger than this
    /// gets a part of its own.
    pub max_segment_bytes: u64,
    /// Delete segments whose whole day is older than this, measured from the newest
    /// record time seen (or the time given to [`Recorder::prune`]).
    pub max_age: Duration,
    /// zstd level (1–22; 3 is zstd's default).
    pub zstd_level: i32,
    /// fdatasync each record before [`Recorder::append`] returns (the default; see the
    /// module doc). Off only for tests and benchmarks.
    pub sync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bytes: 256 << 20,
            max_segment_bytes: 32 << 20,
            max_age: Duration::from_secs(90 * 86_400),
            zstd_level: 3,
            sync: true,
        }
    }
}

/// The segment being appended to.
struct Current {
    key: Key,
    path: PathBuf,
    file: File,
    len: u64,
}

/// The one writer of a store directory (an exclusive `flock` on `DIR/lock` keeps a
/// second one out).
pub struct Recorder {
    dir: PathBuf,
    opts: Options,
    _lock: File,
    current: Option<Current>,
    /// Older segments, oldest first, with their sizes.
    older: Vec<(Key, PathBuf, u64)>,
    next_id: RecordId,
    /// Bytes cut off torn tails when this recorder opened.
    repaired: u64,
}

fn lock(dir: &Path) -> Result<File, Error> {
    let path = dir.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path, "open"))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| Error::Locked { path })?;
    Ok(f)
}

/// Makes a new directory entry durable: without this a crash can lose a whole new
/// segment even though its data were synced.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "sync"))
}

fn open_append(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(io(path, "open"))
}

/// Scans the newest segment, cuts its torn tail and returns it with the id of its last
/// good record.
fn repair(key: Key, path: PathBuf) -> Result<(Current, Option<RecordId>, u64), Error> {
    let file = open_append(&path)?;
    let scan = segment::scan(&file, &path)?;
    let (end, last) = segment::good_end(&file, &path, &scan)?;
    let cut = scan.file_len - end;
    if cut > 0 {
        file.set_len(end).map_err(io(&path, "truncate"))?;
        file.sync_data().map_err(io(&path, "sync"))?;
    }
    Ok((
        Current {
            key,
            path,
            file,
            len: end,
        },
        last,
        cut,
    ))
}

/// The largest record id with a valid header in an older segment.
fn last_id_in(path: &Path) -> Result<Option<RecordId>, Error> {
    let file = File::open(path).map_err(io(path, "open"))?;
    let scan = segment::scan(&file, path)?;
    Ok(scan
        .slots
        .iter()
        .filter_map(|s| match s {
            Slot::Frame { header, .. } => Some(header.id),
            Slot::Damaged { .. } => None,
        })
        .max())
}

fn time_ns(t: SystemTime) -> Result<u64, Error> {
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::TimeOutOfRange)?;
    u64::try_from(d.as_nanos()).map_err(|_| Error::TimeOutOfRange)
}

impl Recorder {
    /// Opens (creating it if needed) the store in `dir` for appending. The newest
    /// segment's torn tail, if any, is cut so that new records follow its last good one.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Recorder, Error> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(io(&dir, "create"))?;
            // The new directory's own entry, for the same reason as a new segment's.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                if opts.sync {
                    sync_dir(parent)?;
                }
            }
        }
        let lock = lock(&dir)?;
        let mut segs = segment::list(&dir)?;
        let mut rec = Recorder {
            dir,
            opts,
            _lock: lock,
            current: None,
            older: Vec::new(),
            next_id: 0,
            repaired: 0,
        };
        let Some((key, path)) = segs.pop() else {
            return Ok(rec);
        };
        let (cur, mut last, cut) = repair(key, path)?;
        for (_, p) in segs.iter().rev() {
            if last.is_some() {
                break;
            }
            last = last_id_in(p)?;
        }
        for (key, p) in segs {
            let size = std::fs::metadata(&p).map_err(io(&p, "stat"))?.len();
            rec.older.push((key, p, size));
        }
        rec.current = Some(cur);
        rec.next_id = last.map_or(0, |id| id + 1);
        rec.repaired = cut;
        Ok(rec)
    }

    /// Bytes of torn tail cut when this recorder opened (0 after a clean shutdown).
    pub fn repaired_bytes(&self) -> u64 {
        self.repaired
    }

    /// The id the next record will get.
    pub fn next_id(&self) -> RecordId {
        self.next_id
    }

    /// Appends one record and returns its id; with [`Options::sync`] the record is on
    /// disk when this returns. `time` picks the segment (its UTC day); a time earlier
    /// than the current segment's day goes into the current segment, so records stay in
    /// append order and a clock stepped back never reopens an older file.
    pub fn append(
        &mut self,
        time: SystemTime,
        kind: u16,
        payload: &[u8],
    ) -> Result<RecordId, Error> {
        if payload.len() > MAX_PAYLOAD as usize {
            return Err(Error::TooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        let ns = time_ns(time)?;
        let id = self.next_id;
        let bytes = frame::encode(id, ns, kind, payload, self.opts.zstd_level);
        let rolled = self.roll_for(segment::day_of(ns), bytes.len() as u64)?;
        let sync = self.opts.sync;
        let cur = self
            .current
            .as_mut()
            .expect("roll_to leaves a current segment");
        if let Err(e) =
            cur.file.write_all(&bytes).and_then(
                |()| {
                    if sync {
                        cur.file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            )
        {
            // Best effort: leave no half frame for the next append to follow.
            let _ = cur.file.set_len(cur.len);
            return Err(io(&cur.path, "append")(e));
        }
        cur.len += bytes.len() as u64;
        self.next_id += 1;
        if rolled {
            self.prune(time)?;
        } else {
            self.prune_size()?;
        }
        Ok(id)
    }

    /// Makes a new segment current when the record's day is later than the current
    /// segment's, or when `frame_len` more bytes would take a non-empty segment past
    /// `max_segment_bytes` (then the next part of the same day). Returns whether it did.
    fn roll_for(&mut self, day: u64, frame_len: u64) -> Result<bool, Error> {
        let key = match &self.current {
            None => (day, 0),
            Some(c) if c.key.0 < day => (day, 0),
            Some(c) if c.len > 0 && c.len + frame_len > self.opts.max_segment_bytes => {
                (c.key.0, c.key.1 + 1)
            }
            Some(_) => return Ok(false),
        };
        let path = self.dir.join(segment::name(key.0, key.1));
        let file = open_append(&path)?;
        if self.opts.sync {
            file.sync_all().map_err(io(&path, "sync"))?;
            sync_dir(&self.dir)?;
        }
        let len = file.metadata().map_err(io(&path, "stat"))?.len();
        let new = Current {
            key,
            path,
            file,
            len,
        };
        if let Some(old) = self.current.replace(new) {
            self.older.push((old.key, old.path, old.len));
        }
        Ok(true)
    }

    /// Applies both retention rules with `now` as the present: deletes whole segments
    /// older than `max_age`, then the oldest while over `max_bytes`. Never deletes the
    /// current segment. Returns how many segments were deleted.
    pub fn prune(&mut self, now: SystemTime) -> Result<usize, Error> {
        let cutoff = now
            .checked_sub(self.opts.max_age)
            .and_then(|t| time_ns(t).ok())
            .map_or(0, segment::day_of);
        // A segment of day d holds times up to the end of d: expired when d < cutoff day.
        let expired = self
            .older
            .iter()
            .take_while(|(k, _, _)| k.0 < cutoff)
            .count();
        self.delete_oldest(expired)?;
        Ok(expired + self.prune_size()?)
    }

    fn prune_size(&mut self) -> Result<usize, Error> {
        let cur = self.current.as_ref().map_or(0, |c| c.len);
        let mut total: u64 = cur + self.older.iter().map(|s| s.2).sum::<u64>();
        let mut n = 0;
        while total > self.opts.max_bytes && n < self.older.len() {
            total -= self.older[n].2;
            n += 1;
        }
        self.delete_oldest(n)?;
        Ok(n)
    }

    fn delete_oldest(&mut self, n: usize) -> Result<(), Error> {
        for (_, path, _) in self.older.drain(..n) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io(&path, "delete")(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Total bytes of the store's segments as this recorder counts them.
    pub fn size(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.len) + self.older.iter().map(|s| s.2).sum::<u64>()
    }
}
