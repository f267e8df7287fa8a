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

/// A file holding one decimal number and a newline (`memory.current`,
/// `memory.usage_in_bytes`), read from its bytes: the sampler reads one per cgroup that
/// moved at every pass. `None` for anything else (the caller then asks [`parse_u64`], for
/// the value or for the error).
pub fn u64_line(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// MemTotal and MemAvailable from the head of `/proc/meminfo`, read from its bytes: the
/// kernel prints `MemTotal:`, `MemFree:` and `MemAvailable:` first, each as
/// `%8lu kB` (fs/proc/meminfo.c, 3.14+). `None` when the file does not start so (the
/// caller then parses it in full).
pub fn meminfo_head(bytes: &[u8]) -> Option<(u64, u64)> {
    fn kb_line<'a>(b: &'a [u8], key: &[u8]) -> Option<(u64, &'a [u8])> {
        let b = b.strip_prefix(key)?;
        let start = b.iter().position(|&c| c != b' ')?;
        let b = &b[start..];
        let end = b.iter().position(|&c| c == b' ')?;
        let v = u64_line(&b[..end])?.checked_mul(1024)?;
        Some((v, b[end..].strip_prefix(b" kB\n")?))
    }
    let (total, rest) = kb_line(bytes, b"MemTotal:")?;
    let (_, rest) = kb_line(rest, b"MemFree:")?;
    let (available, _) = kb_line(rest, b"MemAvailable:")?;
    Some((total, available))
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

/// `some avg10` of a PSI file, read off the front of its first line: the kernel prints
/// `some avg10=%lu.%02lu avg60=…` (kernel/sched/psi.c, `psi_show`). The guard's sampler
/// wants only this value, and [`parse_pressure`]'s general path (lines, `key=value` pairs,
/// float parsing of six averages) was half the instructions of an idle pass. `None` when
/// the text does not start that way; the caller then asks [`parse_pressure`], for the value
/// or for the error.
pub fn pressure_some_avg10(text: &[u8]) -> Option<f64> {
    let rest = text.strip_prefix(b"some avg10=")?;
    let (mut n, mut scale, mut digits, mut dot) = (0u64, 1u64, 0u32, false);
    for &b in rest {
        match b {
            b'0'..=b'9' => {
                n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
                if dot {
                    scale = scale.checked_mul(10)?;
                }
            }
            b'.' if !dot && digits > 0 => dot = true,
            b' ' | b'\n' => break,
            _ => return None,
        }
    }
    // Both exact in an f64 (n below 2^53, scale a power of ten up to 10^15), so the one
    // division rounds exactly as parsing the decimal does.
    let exact = digits > 0 && n < 1 << 53 && scale <= 1_000_000_000_000_000;
    exact.then(|| n as f64 / scale as f64)
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

    /// A number and a newline reads as [`parse_u64`] reads it; anything else is left to it.
    #[test]
    fn u64_line_reads_as_parse_u64_does() {
        for text in ["0\n", "7", "1234567890\n", "18446744073709551615\n"] {
            assert_eq!(u64_line(text.as_bytes()), parse_u64(text).ok(), "{text:?}");
        }
        for other in [
            "",
            "\n",
            " 7\n",
            "7 \n",
            "-1\n",
            "7\n\n",
            "max\n",
            "18446744073709551616\n",
        ] {
            assert_eq!(u64_line(other.as_bytes()), None, "{other:?}");
        }
    }

    /// The head of a real meminfo (this kernel's, and a fixed one) gives what the full
    /// parser gives; other shapes are left to it.
    #[test]
    fn meminfo_head_reads_as_the_full_parser_does() {
        let fixed = "MemTotal:       24137556 kB\nMemFree:        22390384 kB\n\
                     MemAvailable:   23100000 kB\nBuffers:            1024 kB\n\
                     SwapTotal:             0 kB\nSwapFree:              0 kB\n";
        let mut texts = vec![fixed.to_string()];
        if let Ok(real) = std::fs::read_to_string("/proc/meminfo") {
            texts.push(real);
        }
        for text in texts {
            let full = crate::procfs::parse_meminfo(&text).unwrap();
            assert_eq!(
                meminfo_head(text.as_bytes()),
                Some((full.mem_total, full.mem_available.unwrap())),
                "{text}"
            );
        }
        // 3.13 and older: no MemAvailable.
        let old = "MemTotal:        1024 kB\nMemFree:          512 kB\nBuffers:            0 kB\n";
        assert_eq!(meminfo_head(old.as_bytes()), None);
        assert_eq!(meminfo_head(b"MemTotal: 12 MB\n"), None);
    }

    /// Every value the kernel can print (`%lu.%02lu`, 0.00 to 100.00) reads as the
    /// general parser reads it, to the bit; other forms are left to the general parser.
    #[test]
    fn some_avg10_reads_as_the_general_parser_does() {
        for whole in 0..=100u32 {
            for hundredths in 0..100u32 {
                let text = format!(
                    "some avg10={whole}.{hundredths:02} avg60=0.00 avg300=0.00 total=7\n\
                     full avg10=0.00 avg60=0.00 avg300=0.00 total=3\n"
                );
                let general = parse_pressure(&text).unwrap().some_avg10;
                let lean = pressure_some_avg10(text.as_bytes()).unwrap();
                assert_eq!(lean.to_bits(), general.to_bits(), "{text}");
            }
        }
        if let Ok(real) = std::fs::read("/proc/pressure/memory") {
            let general = parse_pressure(std::str::from_utf8(&real).unwrap()).unwrap();
            // The file changes between reads only every 2 s: read it once, parse it twice.
            assert_eq!(pressure_some_avg10(&real), Some(general.some_avg10));
        }
        assert_eq!(pressure_some_avg10(b"some avg10=12\n"), Some(12.0));
        for other in [
            "full avg10=1.00 total=1",
            "some avg10= total=1",
            "some avg10=.5 total=1",
            "some avg10=1.2.3 total=1",
            "some avg10=1e3 total=1",
            "some avg10=99999999999999999999 total=1",
            " some avg10=1.00 total=1",
            "",
        ] {
            assert_eq!(pressure_some_avg10(other.as_bytes()), None, "{other:?}");
        }
    }

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
