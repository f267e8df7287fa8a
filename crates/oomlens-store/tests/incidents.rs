//! `oomlens_store::incidents`: reading what the guard recorded, on stores written with the
//! recorder in temporary directories. Payloads are incidents parsed from the corpus of real
//! reports (`tests/corpus/oom-reports`) with a small window.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use oomlens_model::recorded::{
    CgroupPoint, CgroupSeries, RecordedIncident, RecordedWindow, RECORDED_SCHEMA, RECORD_INCIDENT,
};
use oomlens_model::Limit;
use oomlens_store::incidents::{Incidents, IncidentsError};
use oomlens_store::recorder::{Options, Recorder};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus/oom-reports")
        .join(name)
}

/// The first incident of each report, recorded at `1_800_000_000 + 60 k` seconds.
fn records() -> Vec<RecordedIncident> {
    [
        "038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log",
        "051-centos7-3.10-memcg-systemd-service-confluence-syslog.log",
        "011-centos7-3.10-memcg-docker-systemdslice-dmesg.log",
    ]
    .iter()
    .enumerate()
    .map(|(k, name)| {
        let text = std::fs::read(corpus(name)).unwrap();
        let inc = oomlens_parse::parse_bytes(&text, oomlens_parse::Options::default())
            .into_iter()
            .next()
            .unwrap();
        let t = 1_800_000_000.0 + 60.0 * k as f64;
        RecordedIncident {
            decision_json: None,
            schema: RECORDED_SCHEMA.into(),
            recorded_unix: t,
            logged_unix: Some(t - 0.5),
            host: None,
            boot_id: None,
            guard_version: "0.1.0".into(),
            log_source: "kmsg".into(),
            signals: vec![],
            raw: vec![],
            incident: inc,
            explanation_json: None,
            window: RecordedWindow {
                seconds: 600.0,
                interval: 1.0,
                cgroups: vec![CgroupSeries {
                    path: "/a".into(),
                    points: vec![CgroupPoint {
                        unix: t - 1.0,
                        usage: Some(4096),
                        max: Some(Limit::Bytes(8192)),
                        ..CgroupPoint::default()
                    }],
                }],
                processes: vec![],
            },
        }
    })
    .collect()
}

fn append(dir: &Path, items: &[(u16, f64, Vec<u8>)]) -> Vec<u64> {
    let opts = Options {
        sync: false,
        ..Options::default()
    };
    let mut r = Recorder::open(dir, opts).unwrap();
    items
        .iter()
        .map(|(kind, t, p)| {
            r.append(UNIX_EPOCH + Duration::from_secs_f64(*t), *kind, p)
                .unwrap()
        })
        .collect()
}

fn json(r: &RecordedIncident) -> (u16, f64, Vec<u8>) {
    (
        RECORD_INCIDENT,
        r.recorded_unix,
        serde_json::to_vec(r).unwrap(),
    )
}

fn segment(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "oomrec"))
        .unwrap()
}

#[test]
fn list_and_get_return_the_incidents_as_written_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    let ids = append(dir.path(), &recs.iter().map(json).collect::<Vec<_>>());
    assert_eq!(ids, [0, 1, 2]);
    let store = Incidents::open(dir.path()).unwrap();
    let listing = store.list();
    assert!(listing.skips.skipped.is_empty());
    assert_eq!(listing.skips.torn_bytes, 0);
    let got: Vec<_> = listing.incidents.iter().map(|l| &l.incident).collect();
    assert_eq!(got, recs.iter().collect::<Vec<_>>());
    assert_eq!(
        listing.incidents[1].time,
        UNIX_EPOCH + Duration::from_secs(1_800_000_060)
    );
    let one = store.get(2).unwrap();
    assert_eq!(one.incident, recs[2]);
    assert!(matches!(
        store.get(7),
        Err(IncidentsError::Store(
            oomlens_store::recorder::Error::NotFound { id: 7, .. }
        ))
    ));
}

#[test]
fn a_corrupt_middle_record_and_a_torn_tail_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    append(dir.path(), &recs.iter().map(json).collect::<Vec<_>>());
    let seg = segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    // Flip a byte in the middle of the second frame's payload (the first frame is
    // 44 bytes of header plus its stored payload; find the second frame by its magic).
    let second = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"OOMR")
        .nth(1)
        .unwrap()
        .0;
    bytes[second + 44 + 10] ^= 0x55;
    // A torn tail: the first 20 bytes of a header.
    let head = bytes[..20].to_vec();
    bytes.extend_from_slice(&head);
    std::fs::write(&seg, &bytes).unwrap();

    let store = Incidents::open(dir.path()).unwrap();
    let listing = store.list();
    let ids: Vec<u64> = listing.incidents.iter().map(|l| l.id).collect();
    assert_eq!(ids, [0, 2]);
    assert_eq!(listing.skips.skipped.len(), 1);
    assert_eq!(listing.skips.torn_bytes, 20);
    let msg = listing.skips.skipped[0].to_string();
    assert!(msg.contains(&seg.display().to_string()), "{msg}");
    assert!(msg.contains("payload crc32c mismatch"), "{msg}");
    assert_eq!(store.get(2).unwrap().incident, recs[2]);
    assert!(store.get(1).is_err());
}

#[test]
fn another_schema_major_version_is_refused_naming_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    let mut v2 = serde_json::to_value(&recs[0]).unwrap();
    v2["schema"] = "oomlens.recorded/2".into();
    let mut v1_3 = serde_json::to_value(&recs[1]).unwrap();
    v1_3["schema"] = "oomlens.recorded/1.3".into();
    v1_3["added_later"] = serde_json::json!({"x": 1});
    append(
        dir.path(),
        &[
            (RECORD_INCIDENT, 1.0, serde_json::to_vec(&v2).unwrap()),
            (RECORD_INCIDENT, 2.0, serde_json::to_vec(&v1_3).unwrap()),
            (RECORD_INCIDENT, 3.0, b"[1, 2".to_vec()),
            (9, 4.0, b"another kind".to_vec()),
        ],
    );
    let seg = segment(dir.path());
    let store = Incidents::open(dir.path()).unwrap();
    let err = store.get(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: record 0 has schema \"oomlens.recorded/2\"; this oomlens reads oomlens.recorded/1.x only",
            seg.display()
        )
    );
    // A minor version of the same major reads, its unknown field ignored.
    assert_eq!(store.get(1).unwrap().incident.incident, recs[1].incident);
    let err = store.get(2).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: record 2 does not decode", seg.display())),
        "{err}"
    );
    assert!(matches!(
        store.get(3),
        Err(IncidentsError::NotIncident { id: 3, kind: 9, .. })
    ));
    let listing = store.list();
    assert_eq!(listing.incidents.len(), 1);
    assert_eq!(listing.skips.skipped.len(), 2);
    assert_eq!(listing.skips.other_kinds, 1);
}

#[test]
fn a_missing_directory_is_its_own_error_and_an_empty_one_lists_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Incidents::open(&missing).err().unwrap();
    assert!(matches!(&err, IncidentsError::Missing { dir } if *dir == missing));
    assert!(err
        .to_string()
        .starts_with(&format!("{}: no such state directory", missing.display())));
    let store = Incidents::open(dir.path()).unwrap();
    let listing = store.list();
    assert!(listing.incidents.is_empty() && listing.skips.skipped.is_empty());
}

/// The reader takes no lock: it reads while a recorder holds the store open.
#[test]
fn the_store_reads_while_the_writer_holds_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records();
    let mut w = Recorder::open(
        dir.path(),
        Options {
            sync: false,
            ..Options::default()
        },
    )
    .unwrap();
    let (kind, t, p) = json(&recs[0]);
    w.append(UNIX_EPOCH + Duration::from_secs_f64(t), kind, &p)
        .unwrap();
    let store = Incidents::open(dir.path()).unwrap();
    assert_eq!(store.list().incidents.len(), 1);
    drop(w);
}

/// `each_summary` decodes the same incidents as `each`, without the report's lines, the
/// signals and the process series.
#[test]
fn the_summary_listing_keeps_the_incident_and_the_cgroup_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = records();
    recs[0].raw = vec!["a line".into()];
    recs[0].window.processes = vec![oomlens_model::recorded::ProcessSeries {
        pid: 1,
        ..Default::default()
    }];
    append(dir.path(), &recs.iter().map(json).collect::<Vec<_>>());
    let store = Incidents::open(dir.path()).unwrap();
    let mut light = Vec::new();
    let skips = store.each_summary(|l| light.push(l));
    assert!(skips.skipped.is_empty());
    assert_eq!(light.len(), 3);
    let l = &light[0].incident;
    assert_eq!(l.incident, recs[0].incident);
    assert_eq!(l.window.cgroups, recs[0].window.cgroups);
    assert_eq!(l.logged_unix, recs[0].logged_unix);
    assert!(l.raw.is_empty() && l.window.processes.is_empty());
}
