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

use oomlens_model::recorded::{
    CgroupSeries, RecordedIncident, RecordedWindow, SchemaMismatch, RECORD_INCIDENT,
};
use oomlens_model::Incident;
use serde::de::DeserializeOwned;

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

/// The fields of a [`RecordedIncident`] that [`Incidents::each_summary`] decodes (same
/// names and types; serde skips the others without building them).
#[derive(serde::Deserialize)]
struct Light {
    schema: String,
    recorded_unix: f64,
    #[serde(default)]
    logged_unix: Option<f64>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    boot_id: Option<String>,
    guard_version: String,
    log_source: String,
    incident: Incident,
    window: LightWindow,
}

#[derive(serde::Deserialize)]
struct LightWindow {
    seconds: f64,
    interval: f64,
    cgroups: Vec<CgroupSeries>,
}

impl Light {
    fn into_recorded(self) -> RecordedIncident {
        RecordedIncident {
            decision_json: None,
            schema: self.schema,
            recorded_unix: self.recorded_unix,
            logged_unix: self.logged_unix,
            host: self.host,
            boot_id: self.boot_id,
            guard_version: self.guard_version,
            log_source: self.log_source,
            signals: Vec::new(),
            raw: Vec::new(),
            incident: self.incident,
            explanation_json: None,
            window: RecordedWindow {
                seconds: self.window.seconds,
                interval: self.window.interval,
                cgroups: self.window.cgroups,
                processes: Vec::new(),
            },
        }
    }
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
        self.each_as(|id, time, incident| f(Listed { id, time, incident }))
    }

    /// Like [`Incidents::each`], but each incident comes without what a listing does not
    /// need: `raw`, `signals`, `explanation_json` and `window.processes` are left empty.
    /// They are most of a record (the process series), and skipping them while decoding
    /// saves building them for every record of the store.
    pub fn each_summary(&self, mut f: impl FnMut(Listed)) -> Skips {
        self.each_as(|id, time, light: Light| {
            f(Listed {
                id,
                time,
                incident: light.into_recorded(),
            })
        })
    }

    fn each_as<T: DeserializeOwned>(&self, mut f: impl FnMut(RecordId, SystemTime, T)) -> Skips {
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
                Ok(incident) => f(rec.id, rec.time, incident),
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
    fn decode<T: DeserializeOwned>(
        &self,
        id: RecordId,
        payload: &[u8],
    ) -> Result<T, IncidentsError> {
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
