//! Human-readable incident blocks for a terminal.
//!
//! Every string that came from a log (comm, cgroup paths, units, hosts) goes through
//! [`escape`] before it is written.

use std::io::{self, Write};

use oomlens_model::{Incident, Kill, Kind};

use crate::escape::escape;

/// Text output options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// Bold headlines (off when NO_COLOR is set or output is no terminal).
    pub color: bool,
}

/// KiB as a human size.
pub fn human_kb(kb: u64) -> String {
    human_bytes(kb.saturating_mul(1024))
}

/// Bytes as a human size, binary units.
pub fn human_bytes(b: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn opt(s: Option<&str>) -> String {
    s.map(|s| escape(s).into_owned())
        .unwrap_or_else(|| "?".into())
}

fn who(k: &Kill) -> String {
    match (k.comm.as_deref(), k.pid) {
        (Some(c), Some(p)) => format!("{} (pid {p})", escape(c)),
        (Some(c), None) => escape(c).into_owned(),
        (None, Some(p)) => format!("pid {p}"),
        (None, None) => k
            .cgroup
            .as_deref()
            .map(|c| escape(c).into_owned())
            .unwrap_or_else(|| "?".into()),
    }
}

/// The one-line headline of an incident.
pub fn headline(inc: &Incident) -> String {
    let kind = inc.kind.map(Kind::as_str).unwrap_or("unknown");
    let domain = match inc.kind {
        Some(Kind::Memcg) => format!("memcg OOM in {}", opt(inc.oom_memcg.as_deref())),
        Some(Kind::Global) => "global OOM (whole machine)".to_string(),
        Some(Kind::Cpuset) => format!("cpuset OOM (cpuset {})", opt(inc.cpuset.as_deref())),
        Some(Kind::MemoryPolicy) => "mempolicy OOM".to_string(),
        Some(Kind::SystemdOomd) => format!(
            "systemd-oomd kill (pressure in {})",
            opt(inc.oom_memcg.as_deref())
        ),
        Some(Kind::Earlyoom) => "earlyoom kill".to_string(),
        Some(Kind::Kubelet) => "kubelet".to_string(),
        Some(Kind::SystemdNotice) => "systemd reports an OOM kill".to_string(),
        None => format!("{kind} OOM report"),
    };
    match inc.victim() {
        Some(v) => {
            let verb = match inc.kind {
                Some(Kind::Earlyoom) => {
                    format!("sent {}", v.signal.as_deref().unwrap_or("a signal"))
                }
                Some(Kind::Kubelet) => v.reason.as_deref().unwrap_or("killed").to_string(),
                _ => "killed".to_string(),
            };
            let more = if inc.kills.len() > 1 {
                format!(" (+{} more)", inc.kills.len() - 1)
            } else {
                String::new()
            };
            format!("{domain}: {} {verb}{more}", who(v))
        }
        None => format!("{domain}: no kill in the input"),
    }
}

/// Write one incident block.
pub fn write_incident(w: &mut impl Write, inc: &Incident, style: TextStyle) -> io::Result<()> {
    let head = headline(inc);
    if style.color {
        writeln!(w, "\x1b[1m{head}\x1b[0m")?;
    } else {
        writeln!(w, "{head}")?;
    }
    let when = inc
        .time
        .utc
        .as_deref()
        .or(inc.time.local.as_deref())
        .map(str::to_string)
        .or_else(|| {
            inc.time
                .monotonic_us
                .map(|us| format!("{:.6} s after boot", us as f64 / 1e6))
        });
    if let Some(when) = when {
        match &inc.host {
            Some(h) => writeln!(w, "  when:     {when} on {}", escape(h))?,
            None => writeln!(w, "  when:     {when}")?,
        }
    }
    if let Some(m) = inc.memcg.as_ref().and_then(|m| m.memory) {
        writeln!(
            w,
            "  memcg:    usage {} of limit {} (failcnt {})",
            human_kb(m.usage_kb),
            human_kb(m.limit_kb),
            m.failcnt
        )?;
    }
    if let Some(cg) = inc
        .task_memcg
        .as_deref()
        .filter(|t| inc.oom_memcg.as_deref() != Some(*t))
    {
        writeln!(w, "  cgroup:   {}", escape(cg))?;
    }
    for k in &inc.kills {
        let mut parts = Vec::new();
        if let Some(v) = k.anon_rss_kb {
            parts.push(format!("anon {}", human_kb(v)));
        }
        if let Some(v) = k.file_rss_kb {
            parts.push(format!("file {}", human_kb(v)));
        }
        if let Some(v) = k.shmem_rss_kb {
            parts.push(format!("shmem {}", human_kb(v)));
        }
        if let Some(v) = k.rss_kb {
            parts.push(format!("rss {}", human_kb(v)));
        }
        if let Some(v) = k.oom_score_adj {
            parts.push(format!("oom_score_adj {v}"));
        }
        if let Some(v) = k.exit_code {
            parts.push(format!("exit code {v}"));
        }
        if let Some(o) = &k.outcome {
            parts.push(escape(o).into_owned());
        }
        writeln!(w, "  killed:   {} {}", who(k), parts.join(", "))?;
    }
    if let Some(inv) = &inc.invoker {
        if inv.comm.is_some() || inv.gfp_mask.is_some() {
            let pid = inv.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            writeln!(
                w,
                "  invoker:  {}{pid} gfp_mask={} order={}",
                opt(inv.comm.as_deref()),
                opt(inv.gfp_mask.as_deref()),
                inv.order
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "?".into())
            )?;
        }
    }
    if let Some(c) = &inc.constraint {
        writeln!(w, "  constraint: {}", escape(c))?;
    }
    if let Some(t) = &inc.oomd_trigger {
        writeln!(
            w,
            "  trigger:  {} {} > {} for {}",
            escape(&t.reason),
            opt(t.value.as_deref()),
            opt(t.limit.as_deref()),
            opt(t.duration.as_deref())
        )?;
    }
    for n in &inc.notices {
        writeln!(w, "  systemd:  {} {:?}", escape(&n.unit), n.kind)?;
    }
    let file = inc.source.file.as_deref().unwrap_or("-");
    writeln!(
        w,
        "  source:   {}:{}-{} ({}{})",
        escape(file),
        inc.source.first_line,
        inc.source.last_line,
        inc.completeness.as_str(),
        inc.kernel_version
            .as_deref()
            .map(|v| format!(", kernel {}", escape(v)))
            .unwrap_or_default()
    )?;
    Ok(())
}
