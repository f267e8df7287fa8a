//! Reading a store: a snapshot of every segment's frames taken at open, then payloads
//! read, checked and decompressed on demand.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::{io, Damage, Error};
use super::frame::Header;
use super::segment::{self, Slot};
use super::writer::RecordId;

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// The time the writer gave.
    pub time: SystemTime,
    /// The kind the writer gave.
    pub kind: u16,
    /// The payload, decompressed.
    pub payload: Vec<u8>,
}

struct Segment {
    path: PathBuf,
    file: File,
}

/// A reader over the store as it was when opened (open again to see newer records).
/// It needs no lock and may run while the recorder writes.
pub struct Reader {
    dir: PathBuf,
    segments: Vec<Segment>,
    /// (segment index, slot), in store order.
    slots: Vec<(usize, Slot)>,
    torn: u64,
}

impl Reader {
    /// Opens the store in `dir` and scans every segment's headers. Fails on a frame of a
    /// newer major format version ([`Error::UnsupportedVersion`]); damage is reported
    /// while iterating instead.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        let dir = dir.as_ref().to_path_buf();
        let mut r = Reader {
            segments: Vec::new(),
            slots: Vec::new(),
            torn: 0,
            dir,
        };
        for (_, path) in segment::list(&r.dir)? {
            let file = match File::open(&path) {
                Ok(f) => f,
                // Deleted by retention between listing and opening.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, "open")(e)),
            };
            let scan = segment::scan(&file, &path)?;
            r.torn += scan.file_len - scan.end;
            let i = r.segments.len();
            r.slots.extend(scan.slots.into_iter().map(|s| (i, s)));
            r.segments.push(Segment { path, file });
        }
        Ok(r)
    }

    /// Bytes after the last frame of segments that hold no complete frame: a write cut
    /// short by a crash (or one in progress). Skipped, not an error.
    pub fn torn_bytes(&self) -> u64 {
        self.torn
    }

    /// Number of frames whose header verified (payloads are checked when read).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Frame { .. }))
            .count()
    }

    /// True when the store holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids, times and kinds of every frame, without reading payloads.
    pub fn list(&self) -> impl Iterator<Item = (RecordId, SystemTime, u16)> + '_ {
        self.slots.iter().filter_map(|(_, s)| match s {
            Slot::Frame { header, .. } => Some((header.id, time_of(header), header.kind)),
            Slot::Damaged { .. } => None,
        })
    }

    /// Every record in order. Damage yields one [`Error::Corrupt`] (or
    /// [`Error::UnsupportedFlags`]) item per damaged stretch and reading goes on.
    pub fn iter(&self) -> impl Iterator<Item = Result<Record, Error>> + '_ {
        self.slots.iter().map(|(i, s)| self.read(*i, s))
    }

    /// The segment file that holds record `id` (for messages naming the file).
    pub fn path_of(&self, id: RecordId) -> Option<&Path> {
        self.slots.iter().find_map(|(i, s)| match s {
            Slot::Frame { header, .. } if header.id == id => Some(self.segments[*i].path.as_path()),
            _ => None,
        })
    }

    /// The record with id `id`.
    pub fn get(&self, id: RecordId) -> Result<Record, Error> {
        let found = self
            .slots
            .iter()
            .find(|(_, s)| matches!(s, Slot::Frame { header, .. } if header.id == id));
        match found {
            Some((i, s)) => self.read(*i, s),
            None => Err(Error::NotFound {
                dir: self.dir.clone(),
                id,
            }),
        }
    }

    fn read(&self, i: usize, slot: &Slot) -> Result<Record, Error> {
        let seg = &self.segments[i];
        match slot {
            Slot::Damaged { offset, len } => Err(Error::Corrupt {
                path: seg.path.clone(),
                offset: *offset,
                len: *len,
                damage: Damage::Header,
            }),
            Slot::Frame { offset, header } if header.unknown_flags() => {
                Err(Error::UnsupportedFlags {
                    path: seg.path.clone(),
                    offset: *offset,
                    flags: header.flags,
                })
            }
            Slot::Frame { offset, header } => {
                let payload = segment::read_payload(&seg.file, &seg.path, *offset, header)?;
                Ok(Record {
                    id: header.id,
                    time: time_of(header),
                    kind: header.kind,
                    payload,
                })
            }
        }
    }
}

fn time_of(h: &Header) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(h.time_ns)
}
