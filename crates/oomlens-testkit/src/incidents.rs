//! Incidents built in code, for tests of what keeps state across incidents (the
//! explainer's history, the live pipeline's enrichment): such tests need many incidents of
//! chosen owners, hosts and times, not parsed text.

use oomlens_model::{Incident, Kill, Kind, LogTime, MemcgCounter, MemcgCounters};

/// A memcg kill in cgroup `cg` on `host` at `t` seconds after boot: limit and usage
/// 512 MiB (failcnt 1), one victim `worker` with `anon_mib` MiB anon and no file pages,
/// pid `1000 + t % 30000`.
pub fn memcg_kill(host: &str, cg: String, t: u64, anon_mib: u64) -> Incident {
    let mut i = Incident::new(
        t,
        LogTime {
            monotonic_us: Some(t * 1_000_000),
            ..LogTime::default()
        },
    );
    i.host = Some(host.into());
    i.kind = Some(Kind::Memcg);
    i.oom_memcg = Some(cg.clone());
    i.task_memcg = Some(cg);
    i.memcg = Some(MemcgCounters {
        memory: Some(MemcgCounter {
            usage_kb: 512 * 1024,
            limit_kb: 512 * 1024,
            failcnt: 1,
        }),
        ..MemcgCounters::default()
    });
    i.kills.push(Kill {
        pid: Some(1000 + (t % 30_000) as u32),
        comm: Some("worker".into()),
        anon_rss_kb: Some(anon_mib * 1024),
        file_rss_kb: Some(0),
        ..Kill::default()
    });
    i
}
