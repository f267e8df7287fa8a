//! Flight-recorder stores for tests of `oomlens incidents` and `explain --recorded`:
//! incidents parsed from the corpus of real reports, each with a window of samples built
//! by hand (a linear leak, so every derived number can be worked out on paper), appended
//! with the store's own `Recorder`, as the guard appends them.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use oomlens_model::recorded::{
    CgroupPoint, CgroupSeries, ProcessPoint, ProcessSeries, RecordedIncident, RecordedWindow,
    Signal, RECORDED_SCHEMA, RECORD_INCIDENT,
};
use oomlens_model::{Incident, Limit};
use oomlens_store::recorder::{Options, Recorder};

/// MiB.
pub const MIB: u64 = 1024 * 1024;

/// The repository's corpus file `name` (under `tests/corpus/oom-reports`).
pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus/oom-reports")
        .join(name)
}

/// The incidents of corpus report `name`, with the report's lines.
pub fn parse_corpus(name: &str) -> Vec<(Incident, Vec<String>)> {
    let text = std::fs::read_to_string(corpus(name)).expect("corpus file reads");
    let opts = oomlens_parse::Options {
        file: Some(name.into()),
        // Syslog and journal short forms print no year: pin one, not this year's.
        clock: oomlens_parse::Clock {
            reference_year: Some(2026),
            boot_time_us: None,
        },
        ..oomlens_parse::Options::default()
    };
    let lines: Vec<&str> = text.lines().collect();
    oomlens_parse::parse_bytes(text.as_bytes(), opts)
        .into_iter()
        .map(|inc| {
            let (a, b) = (
                inc.source.first_line as usize,
                inc.source.last_line as usize,
            );
            let raw = lines[a.saturating_sub(1)..b.min(lines.len())]
                .iter()
                .map(|l| l.to_string())
                .collect();
            (inc, raw)
        })
        .collect()
}

/// A window of `n` samples one second apart, the last one second before `kill_unix`, of
/// cgroup `cg` limited to `limit_mib` MiB, whose usage grows from `start_mib` MiB by
/// `per_s_mib` MiB per second (anon all of it but 10 MiB of file); one process `pid`
/// (`comm`) whose anon RSS is 10 MiB under the usage.
#[allow(clippy::too_many_arguments)]
pub fn leak_window(
    cg: &str,
    kill_unix: f64,
    n: u64,
    start_mib: u64,
    per_s_mib: u64,
    limit_mib: u64,
    pid: u32,
    comm: &str,
) -> RecordedWindow {
    let t0 = kill_unix - n as f64;
    let usage = |i: u64| (start_mib + per_s_mib * i) * MIB;
    RecordedWindow {
        seconds: 600.0,
        interval: 1.0,
        cgroups: vec![CgroupSeries {
            path: cg.into(),
            points: (0..n)
                .map(|i| CgroupPoint {
                    unix: t0 + i as f64,
                    usage: Some(usage(i)),
                    anon: Some(usage(i) - 10 * MIB),
                    file: Some(10 * MIB),
                    shmem: Some(0),
                    max: Some(Limit::Bytes(limit_mib * MIB)),
                    ..CgroupPoint::default()
                })
                .collect(),
        }],
        processes: vec![ProcessSeries {
            pid,
            comm: comm.into(),
            cgroup: cg.into(),
            points: (0..n)
                .map(|i| ProcessPoint {
                    unix: t0 + i as f64,
                    anon: Some(usage(i) - 10 * MIB),
                    ..ProcessPoint::default()
                })
                .collect(),
        }],
    }
}

/// A record of `inc` killed at `kill_unix` with `window`, and one memory.events signal
/// half a second before the kill.
pub fn record(
    inc: Incident,
    raw: Vec<String>,
    kill_unix: f64,
    window: RecordedWindow,
) -> RecordedIncident {
    let cg = window
        .cgroups
        .first()
        .map_or_else(|| "/".to_string(), |c| c.path.clone());
    RecordedIncident {
        decision_json: None,
        schema: RECORDED_SCHEMA.into(),
        recorded_unix: kill_unix + 0.25,
        logged_unix: Some(kill_unix),
        host: Some("testhost".into()),
        boot_id: None,
        guard_version: "0.1.0".into(),
        log_source: "kmsg".into(),
        signals: vec![Signal {
            unix: kill_unix - 0.5,
            source: "memory.events".into(),
            cgroup: cg,
            detail: "oom_kill=1".into(),
        }],
        raw,
        incident: inc,
        explanation_json: None,
        window,
    }
}

/// Appends each payload (kind, bytes) to the store in `dir` at `unix` seconds, as the
/// guard does; returns the record ids.
pub fn append_raw(dir: &Path, records: &[(u16, f64, Vec<u8>)]) -> Vec<u64> {
    let opts = Options {
        sync: false,
        ..Options::default()
    };
    let mut rec = open_retrying(dir, opts);
    records
        .iter()
        .map(|(kind, unix, payload)| {
            let t = UNIX_EPOCH + Duration::from_secs_f64(*unix);
            rec.append(t, *kind, payload).expect("append")
        })
        .collect()
}

/// Opens the store in `dir`, waiting up to 5 s while its lock is held. A test that
/// reopens a store it has just closed can find the lock still held by itself: a child
/// another test thread is spawning at that moment holds a copy of the lock's descriptor
/// from fork to exec (O_CLOEXEC closes it only at exec), and flock(2) locks belong to
/// the open file, so that copy keeps it (fresh-clone CI, examples.rs, 2026-12-03).
fn open_retrying(dir: &Path, opts: Options) -> Recorder {
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match Recorder::open(dir, opts.clone()) {
            Err(oomlens_store::recorder::Error::Locked { .. })
                if std::time::Instant::now() < end =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r.expect("store opens"),
        }
    }
}

/// Appends `records` as incidents (JSON payloads of kind `RECORD_INCIDENT`).
pub fn append(dir: &Path, records: &[RecordedIncident]) -> Vec<u64> {
    let raw: Vec<(u16, f64, Vec<u8>)> = records
        .iter()
        .map(|r| {
            let json = serde_json::to_vec(r).expect("serializes");
            (RECORD_INCIDENT, r.recorded_unix, json)
        })
        .collect();
    append_raw(dir, &raw)
}

/// The store the CLI tests and the README examples use: three incidents from real reports
/// (038: a cgroup v2 user service, 051: confluence.service, 011: a docker container), at
/// 2026-12-01 10:00, 11:00 and 12:00 UTC, each with a 60-sample leak window of its victim's
/// cgroup: 100 MiB + 2 MiB/s against 512 MiB.
pub fn sample_store(dir: &Path) -> Vec<RecordedIncident> {
    let base = 1_796_119_200.0; // 2026-12-01T10:00:00Z
    let mut out = Vec::new();
    for (k, name) in [
        "038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log",
        "051-centos7-3.10-memcg-systemd-service-confluence-syslog.log",
        "011-centos7-3.10-memcg-docker-systemdslice-dmesg.log",
    ]
    .iter()
    .enumerate()
    {
        let (inc, raw) = parse_corpus(name).into_iter().next().expect("an incident");
        let victim = inc.victim().expect("a victim");
        let cg = victim
            .cgroup
            .clone()
            .or_else(|| inc.task_memcg.clone())
            .expect("a cgroup");
        let (pid, comm) = (
            victim.pid.unwrap_or(1),
            victim.comm.clone().unwrap_or_default(),
        );
        let kill = base + 3600.0 * k as f64;
        let window = leak_window(&cg, kill, 60, 100, 2, 512, pid, &comm);
        out.push(record(inc, raw, kill, window));
    }
    append(dir, &out);
    out
}

/// The store the `incidents` and `explain --recorded` examples run on: [`sample_store`],
/// then record 3, a kill in `worker.service` (report 051 moved there) an hour before `now`
/// (Unix seconds), so that `--since -1d --owner worker.service` finds exactly it.
pub fn example_store(dir: &Path, now: f64) -> Vec<RecordedIncident> {
    let mut all = sample_store(dir);
    let (mut inc, raw) =
        parse_corpus("051-centos7-3.10-memcg-systemd-service-confluence-syslog.log")
            .into_iter()
            .next()
            .expect("an incident");
    let cg = "/system.slice/worker.service".to_string();
    inc.oom_memcg = Some(cg.clone());
    inc.task_memcg = Some(cg.clone());
    for k in &mut inc.kills {
        k.cgroup = Some(cg.clone());
    }
    let kill = now - 3600.0;
    let window = leak_window(&cg, kill, 60, 100, 2, 512, 27564, "java");
    let rec = record(inc, raw, kill, window);
    append(dir, std::slice::from_ref(&rec));
    all.push(rec);
    all
}
