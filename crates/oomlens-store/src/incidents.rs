//! Reading the incidents `oomlens guard` recorded: records of kind
//! [`RECORD_INCIDENT`] in a [`recorder`](crate::recorder) store, whose payload is a
//! [`RecordedIncident`] as JSON.
//!
//! The store is opened read-only with [`Reader`]: no lock is taken, so this works while the
//! guard writes (a record being appended is a torn tail, skipped and counted). A listing
//! never aborts on one bad record: damaged frames, payloads that do not decode and payloads
//! of another schema major version are skipped and returned as errors beside the
//! incidents ([`Listing::skipped`]); [`Incidents::get`] returns the same errors for the
//! one record asked for. Every error names the directory or file and the record id.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oomlens_model::recorded::{RecordedIncident, SchemaMismatch, RECORD_INCIDENT};

use crate::recorder::{self, Reader, RecordId};

/// The guard's default store directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/oomlens";

/// Why incidents could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IncidentsError {
    /// The state directory does not exist.
    #[error("{dir}: no such state directory (oomlens guard writes to /var/lib/oomlens unless given --state-dir)")]
    Missing {
        /// The directory.
        dir: PathBuf,
    },
    /// The store itself could not be read (I/O, a frame of a newer format, damage).
    #[error(transparent)]
    Store(#[from] recorder::Error),
    /// A record of another schema major version (or not an `oomlens.recorded` payload).
    #[error(
        "{path}: record {id} has schema {schema:?}; this oomlens reads oomlens.recorded/1.x only"
    )]
    Schema {
        /// The segment file.
        path: PathBuf,
        /// The record id.
        id: RecordId,
        /// The schema string found.
        schema: String,
    },
    /// A payload that is not the JSON of a recorded incident.
    #[error("{path}: record {id} does not decode as an incident: {problem}")]
    Decode {
        /// The segment file.
        path: PathBuf,
        /// The record id.
        id: RecordId,
        /// serde_json's message.
        problem: String,
    },
    /// The record exists but is not an incident (another record kind).
    #[error("{dir}: record {id} is of kind {kind}, not an incident")]
    NotIncident {
        /// The store directory.
        dir: PathBuf,
        /// The record id.
        id: RecordId,
        /// Its kind.
        kind: u16,
    },
}

/// One incident read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Its record id.
    pub id: RecordId,
    /// The record's time (the guard's clock when it appended).
    pub time: SystemTime,
    /// The decoded payload.
    pub incident: RecordedIncident,
}

/// What a listing found besides the incidents.
#[derive(Debug, Default)]
pub struct Skips {
    /// Records (or damaged stretches) that could not be read, each with its reason.
    pub skipped: Vec<IncidentsError>,
    /// Records of other kinds, ignored.
    pub other_kinds: usize,
    /// Bytes of torn tails skipped (a write cut short, or in progress).
    pub torn_bytes: u64,
}

/// Every incident, oldest first, and what was skipped.
#[derive(Debug, Default)]
pub struct Listing {
    /// The incidents, in record order.
    pub incidents: Vec<Listed>,
    /// What was skipped.
    pub skips: Skips,
}

/// A store directory opened for reading.
pub struct Incidents {
    dir: PathBuf,
    reader: Reader,
}

#[derive(serde::Deserialize)]
struct Head {
    schema: String,
}

impl Incidents {
    /// Opens the store in `dir` without taking the writer's lock. Fails when `dir` does not
    /// exist ([`IncidentsError::Missing`]) or holds a frame of a newer format version.
    pub fn open(dir: impl AsRef<Path>) -> Result<Incidents, IncidentsError> {
        let dir = dir.as_ref().to_path_buf();
        let reader = match Reader::open(&dir) {
            Ok(r) => r,
            Err(recorder::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(IncidentsError::Missing { dir });
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Incidents { dir, reader })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Calls `f` with every readable incident, oldest first, and returns what was skipped.
    /// Holds one decoded incident at a time.
    pub fn each(&self, mut f: impl FnMut(Listed)) -> Skips {
        let mut skips = Skips {
            torn_bytes: self.reader.torn_bytes(),
            ..Skips::default()
        };
        for item in self.reader.iter() {
            let rec = match item {
                Ok(r) => r,
                Err(e) => {
                    skips.skipped.push(e.into());
                    continue;
                }
            };
            if rec.kind != RECORD_INCIDENT {
                skips.other_kinds += 1;
                continue;
            }
            match self.decode(rec.id, &rec.payload) {
                Ok(incident) => f(Listed {
                    id: rec.id,
                    time: rec.time,
                    incident,
                }),
                Err(e) => skips.skipped.push(e),
            }
        }
        skips
    }

    /// Every readable incident, oldest first.
    pub fn list(&self) -> Listing {
        let mut incidents = Vec::new();
        let skips = self.each(|l| incidents.push(l));
        Listing { incidents, skips }
    }

    /// The incident with record id `id`.
    pub fn get(&self, id: RecordId) -> Result<Listed, IncidentsError> {
        let rec = self.reader.get(id)?;
        if rec.kind != RECORD_INCIDENT {
            return Err(IncidentsError::NotIncident {
                dir: self.dir.clone(),
                id,
                kind: rec.kind,
            });
        }
        Ok(Listed {
            id,
            time: rec.time,
            incident: self.decode(id, &rec.payload)?,
        })
    }

    /// The schema is checked before the whole payload is decoded, so a record of another
    /// major version is named as such rather than as a decode error of a field it renamed.
    fn decode(&self, id: RecordId, payload: &[u8]) -> Result<RecordedIncident, IncidentsError> {
        let path = || {
            self.reader
                .path_of(id)
                .map_or_else(|| self.dir.clone(), Path::to_path_buf)
        };
        let decode_error = |e: serde_json::Error| IncidentsError::Decode {
            path: path(),
            id,
            problem: e.to_string(),
        };
        let head: Head = serde_json::from_slice(payload).map_err(decode_error)?;
        if let Err(m) = RecordedIncident::check_schema(&head.schema) {
            let (SchemaMismatch::NotRecorded(schema) | SchemaMismatch::Major(schema)) = m;
            return Err(IncidentsError::Schema {
                path: path(),
                id,
                schema,
            });
        }
        serde_json::from_slice(payload).map_err(decode_error)
    }
}
