//! Parsers of the kernel's control-file formats, named after them
//! (Documentation/admin-guide/cgroup-v2.rst, "Interface Files": single value, flat keyed,
//! nested keyed), over text: the cgroupfs and procfs readers fetch bytes and call these.

use oomlens_model::{CgroupVersion, Limit, MemoryEvents, OomControl, Pressure, StatSplit};

/// A single unsigned value.
pub fn parse_u64(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{:?} is not a number", text.trim()))
}

/// A single `0` or `1`.
pub fn parse_bool01(text: &str) -> Result<bool, String> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("{other:?} is neither 0 nor 1")),
    }
}

/// A v2 limit: `max` or bytes.
pub fn parse_v2_limit(text: &str) -> Result<Limit, String> {
    match text.trim() {
        "max" => Ok(Limit::Max),
        _ => parse_u64(text).map(Limit::Bytes),
    }
}

/// A v1 limit: bytes, where the page counter's maximum (`PAGE_COUNTER_MAX * PAGE_SIZE`,
/// `LONG_MAX` rounded down to a page) or more means unlimited.
pub fn parse_v1_limit(text: &str, page_size: u64) -> Result<Limit, String> {
    let v = parse_u64(text)?;
    let page = page_size.max(1);
    let unlimited = (i64::MAX as u64 / page) * page;
    Ok(if v >= unlimited {
        Limit::Max
    } else {
        Limit::Bytes(v)
    })
}

/// Flat keyed: `key value` per line.
pub fn parse_flat_keyed(text: &str) -> Result<Vec<(String, u64)>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("{l:?} is not `key value`"))?;
            Ok((
                k.to_string(),
                parse_u64(v).map_err(|e| format!("{k}: {e}"))?,
            ))
        })
        .collect()
}

fn key(pairs: &[(String, u64)], k: &str) -> Option<u64> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| *v)
}

fn required(pairs: &[(String, u64)], k: &str) -> Result<u64, String> {
    key(pairs, k).ok_or_else(|| format!("no {k} line"))
}

/// `memory.oom_control` (v1), flat keyed.
pub fn parse_oom_control(text: &str) -> Result<OomControl, String> {
    let pairs = parse_flat_keyed(text)?;
    Ok(OomControl {
        oom_kill_disable: required(&pairs, "oom_kill_disable")? != 0,
        under_oom: required(&pairs, "under_oom")? != 0,
        oom_kill: key(&pairs, "oom_kill"),
    })
}

/// `memory.events` (v2), flat keyed.
pub fn parse_memory_events(text: &str) -> Result<MemoryEvents, String> {
    let pairs = parse_flat_keyed(text)?;
    Ok(MemoryEvents {
        low: required(&pairs, "low")?,
        high: required(&pairs, "high")?,
        max: required(&pairs, "max")?,
        oom: required(&pairs, "oom")?,
        oom_kill: required(&pairs, "oom_kill")?,
        oom_group_kill: key(&pairs, "oom_group_kill"),
    })
}

/// Parses the nested-keyed PSI format: `some avg10=0.12 avg60=… avg300=… total=123`.
pub fn parse_pressure(text: &str) -> Result<Pressure, String> {
    let mut p = Pressure::default();
    let mut some = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let kind = it.next().unwrap_or_default();
        let (mut avg10, mut total) = (None, None);
        for kv in it {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?} is not key=value"))?;
            match k {
                "avg10" => avg10 = Some(v.parse::<f64>().map_err(|_| format!("avg10 {v:?}"))?),
                "total" => total = Some(parse_u64(v)?),
                _ => {}
            }
        }
        let (Some(a), Some(t)) = (avg10, total) else {
            return Err(format!("{line:?} lacks avg10 or total"));
        };
        match kind {
            "some" => {
                p.some_avg10 = a;
                p.some_total_us = t;
                some = true;
            }
            "full" => {
                p.full_avg10 = Some(a);
                p.full_total_us = Some(t);
            }
            other => return Err(format!("unknown PSI line kind {other:?}")),
        }
    }
    if !some {
        return Err("no some line".into());
    }
    Ok(p)
}

/// Picks anon/file/shmem from a `memory.stat` text of either version without allocating a
/// key table (the sampler reads thousands of these per tick).
pub fn parse_stat_split(text: &str, version: CgroupVersion) -> Result<StatSplit, String> {
    let mut s = StatSplit::default();
    let (anon, cache, shmem) = match version {
        CgroupVersion::V1 => ("total_rss", "total_cache", "total_shmem"),
        CgroupVersion::V2 => ("anon", "file", "shmem"),
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(' ') else {
            continue;
        };
        let slot = if k == anon {
            &mut s.anon
        } else if k == cache {
            &mut s.file
        } else if k == shmem {
            &mut s.shmem
        } else {
            continue;
        };
        *slot = Some(parse_u64(v).map_err(|e| format!("{k}: {e}"))?);
    }
    // v1's cache and v2's file both count shmem pages; report file without them.
    if let (Some(f), Some(sh)) = (s.file, s.shmem) {
        s.file = Some(f.saturating_sub(sh));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNLIMITED_4K: &str = "9223372036854771712\n";

    #[test]
    fn limits_and_keyed_files() {
        assert_eq!(parse_v1_limit(UNLIMITED_4K, 4096), Ok(Limit::Max));
        assert_eq!(parse_v1_limit("18446744073709551615", 4096), Ok(Limit::Max));
        // 64 KiB pages round LONG_MAX further down.
        assert_eq!(parse_v1_limit("9223372036854710272", 65536), Ok(Limit::Max));
        assert_eq!(
            parse_v1_limit("67108864\n", 4096),
            Ok(Limit::Bytes(64 << 20))
        );
        assert_eq!(parse_v2_limit("max\n"), Ok(Limit::Max));
        assert_eq!(parse_v2_limit("1048576\n"), Ok(Limit::Bytes(1 << 20)));
        assert!(parse_v2_limit("-1").is_err());
        assert!(parse_bool01("2").is_err());
        let oc = parse_oom_control("oom_kill_disable 1\nunder_oom 0\noom_kill 3\n").unwrap();
        assert_eq!(
            oc,
            OomControl {
                oom_kill_disable: true,
                under_oom: false,
                oom_kill: Some(3)
            }
        );
        assert!(parse_oom_control("under_oom 0\n")
            .unwrap_err()
            .contains("oom_kill_disable"));
        assert!(parse_flat_keyed("oom 1 2\n").is_err());
    }

    #[test]
    fn pressure_parses_and_rejects() {
        let p = parse_pressure(
            "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=99\n",
        )
        .unwrap();
        assert_eq!(p.some_avg10, 1.5);
        assert_eq!(p.some_total_us, 1234);
        assert_eq!(p.full_total_us, Some(99));
        assert!(parse_pressure("").is_err());
        assert!(parse_pressure("some avg10=x total=1\n").is_err());
    }

    #[test]
    fn stat_split_per_version() {
        let v1 = "cache 10\nrss 5\nshmem 1\ntotal_cache 4096\ntotal_rss 8192\ntotal_shmem 1024\n";
        let s = parse_stat_split(v1, CgroupVersion::V1).unwrap();
        assert_eq!(
            (s.anon, s.file, s.shmem),
            (Some(8192), Some(3072), Some(1024))
        );
        let v2 = "anon 100\nfile 50\nkernel 3\nshmem 20\n";
        let s = parse_stat_split(v2, CgroupVersion::V2).unwrap();
        assert_eq!((s.anon, s.file, s.shmem), (Some(100), Some(30), Some(20)));
        assert!(parse_stat_split("anon x\n", CgroupVersion::V2).is_err());
    }
}
