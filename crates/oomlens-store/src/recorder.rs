//! The on-disk flight recorder: an append-only store of opaque records (the guard daemon
//! puts one versioned JSON incident with its preceding window in each).
//!
//! # Layout
//!
//! A store is a directory (the daemon's default will be `/var/lib/oomlens`) holding one
//! segment per UTC day, `YYYY-MM-DD.oomrec`, plus `lock`, on which the one writer holds an
//! exclusive `flock`. Other files are ignored and never deleted. A segment is a sequence of
//! frames; nothing else (no file header: every frame carries its version, so a segment
//! may be cut anywhere and what is left still reads).
//!
//! # Frame, format 1.0 (all integers little-endian)
//!
//! | bytes  | field         | meaning                                                        |
//! |--------|---------------|----------------------------------------------------------------|
//! | 0–3    | magic         | `OOMR` (4F 4F 4D 52)                                           |
//! | 4      | major         | 1; a reader refuses a larger one                               |
//! | 5      | minor         | 0; minors only add what older readers may ignore               |
//! | 6–7    | header_len    | 44; a 1.x reader skips extra header bytes                      |
//! | 8–9    | flags         | bit 0: payload is one zstd frame; bits 1–7 must be understood, 8–15 may be ignored |
//! | 10–11  | kind          | the caller's record kind, opaque to the store                  |
//! | 12–15  | stored_len    | payload bytes that follow the header (≤ 64 MiB)                |
//! | 16–19  | raw_len       | payload bytes once decompressed (≤ 64 MiB; bounds the buffer)  |
//! | 20–27  | id            | record id: sequence number from 0                              |
//! | 28–35  | time          | nanoseconds since 1970-01-01 UTC, from the caller              |
//! | 36–39  | payload_crc   | crc32c (Castagnoli) of the stored payload bytes                |
//! | 40–43  | header_crc    | crc32c of bytes 0–39 (of 0..header_len−4 in general)           |
//! | 44–    | payload       | stored_len bytes, zstd-compressed when flag bit 0 is set       |
//!
//! Every version keeps bytes 0–7 and the header CRC as the header's last four bytes, so a
//! 1.x reader can verify a newer header before believing its version: a frame of major
//! version 2 whose header CRC holds makes [`Reader::open`] and [`Recorder::open`] fail
//! with [`Error::UnsupportedVersion`] naming the file, offset and version (the writer
//! must not mistake newer frames for a torn tail and cut them), while a flipped version
//! byte fails the CRC and reads as damage.
//!
//! # Damage and torn tails
//!
//! A scan walks frames by their lengths. Bytes where a frame should start but no valid
//! header is found are resynchronised on: the scan looks for the next `OOMR` whose header
//! CRC holds, and the stretch in between is reported once, as an [`Error::Corrupt`] item
//! of [`Reader::iter`], after which reading goes on (every step moves forward, so a scan
//! ends; nothing panics on any input). A payload whose crc32c fails is reported the same
//! way and skipped by its length. Bytes after the last frame that hold no complete frame
//! are the torn tail: a write cut by a crash. Readers skip it and count it
//! ([`Reader::torn_bytes`]); [`Recorder::open`] cuts it (and any frames at the end whose
//! payload fails its CRC) from the newest segment so new records follow the last good
//! one. Only the newest segment is written, so only it can have a torn tail. Damage to the
//! header of the very last frame cannot be told from a torn write and is treated as one.
//!
//! # Sync policy
//!
//! Each frame goes to the file in one `write` of one buffer, then `fdatasync` before
//! [`Recorder::append`] returns ([`Options::sync`]); a new segment is synced and then its
//! directory, so the entry of a file whose data are on disk is not lost. Cutting a torn
//! tail is synced too. Deletions by retention are not synced: if one is lost, the next
//! prune deletes the file again.
//!
//! Why, where below never syncs: below writes a sample every few seconds all day long;
//! losing the last seconds to a power cut costs little, and a sync per sample would cost
//! I/O on every host all the time. A recorder of OOM incidents writes rarely (a few
//! records a day, a burst of tens in a restart loop), each record is the only evidence
//! left of a process that is gone, and an OOM is precisely when a host tends to be
//! rebooted, panicked (`panic_on_oom`) or power-cycled by a watchdog, which loses what
//! sits in the page cache. A process crash (SIGKILL) alone loses nothing that `write`
//! accepted; the sync is for the kernel going down. Its cost is measured in the README.
//!
//! # What is taken from below's store, and what differs
//!
//! Taken (`below/store/src/lib.rs`): append-only files sharded by day so that retention
//! is an unlink of whole files; a CRC on the data and one on the entry describing it, an
//! entry whose CRC fails never happened; one `flock`-held writer; optional zstd per
//! record; retention by age and by total size, oldest shard first, never the current one
//! (here a day is also cut into parts of at most [`Options::max_segment_bytes`], so that a
//! burst of incidents does not make one undeletable file).
//!
//! Different: one file per day instead of a data file plus an index file: the header in
//! front of each payload is the index entry, so one append is one write and one sync (two
//! files would need two syncs and an order between them), and a frame is found again by
//! its magic after damage, which a bare data file cannot offer. Listing scans headers
//! only, seeking over payloads: cheap at incident rates. The CRC is crc32c over an
//! explicit little-endian encoding (below hashes the in-memory struct and uses CRC-32
//! without the final inversion); each frame carries a version, below's files have none.
//! Record ids are sequence numbers (stable for `oomlens explain --recorded ID`), not
//! timestamps, and records stay in append order even if the clock steps back: a time
//! before the current segment's day is written to the current segment. below pads its
//! index on restart; here the torn tail is cut.

mod error;
pub mod frame;
mod reader;
mod segment;
mod writer;

pub use error::{Damage, Error};
pub use reader::{Reader, Record};
pub use segment::{name as segment_name, SUFFIX as SEGMENT_SUFFIX};
pub use writer::{Options, RecordId, Recorder};
