//! The systemd rules: pure functions from effective settings ([`UnitSettings`]) and a
//! [`SystemdContext`] to findings. No I/O here; the loader and the caller gather the input.

use std::path::Path;

use crate::finding::{glob_match, Finding};
use crate::loader::{ManagerDefaults, Scope};
use crate::settings::UnitSettings;
use crate::size::{human_bytes, MemoryValue, Span};

/// MemoryHigh= within this share of MemoryMax= is "too close" (per mille).
pub const HIGH_CLOSE_PERMILLE: u64 = 900;

/// Programs that lower their own OOM score at start, so their units need no
/// `OOMScoreAdjust=`: (program basename, the value it sets, why).
pub const SELF_PROTECTING: &[(&str, i32, &str)] = &[(
    "sshd",
    -1000,
    "OpenSSH's sshd sets its own oom_score_adj to -1000 at start (oom_adjust_setup(), built in on Linux)",
)];

/// What the systemd rules need beyond one unit's settings.
#[derive(Debug, Clone, Default)]
pub struct SystemdContext {
    /// Physical memory in bytes, when known (resolves percentages, `limit-above-ram`).
    pub ram: Option<u64>,
    /// Glob patterns of critical services (unit prefix or program basename).
    pub critical: Vec<String>,
    /// Glob patterns of units that must have a memory limit.
    pub require_limit: Vec<String>,
    /// Units known to have been OOM-killed.
    pub oom_killed: Vec<String>,
    /// The manager's start-limit defaults.
    pub defaults: ManagerDefaults,
    /// For user units: the user manager's own OOMScoreAdjust= (`user@.service`), 0 if unset.
    pub user_manager_oom_score_adjust: i64,
}

/// The first critical pattern a unit matches, with what matched: its name without instance
/// and type, or the basename of a program it runs.
pub fn critical_match(u: &UnitSettings, patterns: &[String]) -> Option<(String, String)> {
    let mut names = vec![u.unit.prefix.clone()];
    for p in u.programs() {
        if let Some(b) = Path::new(&p).file_name().and_then(|b| b.to_str()) {
            names.push(b.to_string());
        }
    }
    for pat in patterns {
        for n in &names {
            if glob_match(pat, n) {
                return Some((pat.clone(), n.clone()));
            }
        }
    }
    None
}

fn show(m: MemoryValue, raw: &str, ram: Option<u64>) -> String {
    match (m, m.bytes(ram)) {
        (MemoryValue::Permyriad(_), Some(b)) => format!("{raw} (= {} of RAM)", human_bytes(b)),
        _ => raw.to_string(),
    }
}

/// What a unit rule reads: the unit, its slice and their ancestors (nearest first, empty
/// when unknown), and the context.
pub struct UnitInput<'a> {
    /// The unit's effective settings.
    pub u: &'a UnitSettings,
    /// Its slices, nearest first.
    pub slices: &'a [&'a UnitSettings],
    /// What the rules need beyond the unit.
    pub ctx: &'a SystemdContext,
    /// The unit's full name.
    pub name: &'a str,
}

/// One rule that looks at one unit: its id in [`crate::finding::RULES`] and its function.
pub struct UnitRule {
    /// The rule's id (every finding the function pushes is of this rule).
    pub id: &'static str,
    /// Pushes the rule's findings for one unit.
    pub check: fn(&UnitInput<'_>, &mut Vec<Finding>),
}

/// The rules [`audit_unit`] runs, in the order their findings are listed for a unit (which
/// is not the order of [`crate::finding::RULES`]: that order numbers SARIF rules and the
/// README table). Adding a unit rule is one entry in `RULES` and one here.
pub const UNIT_RULES: &[UnitRule] = &[
    UnitRule {
        id: "invalid-memory-setting",
        check: invalid_memory_setting,
    },
    UnitRule {
        id: "memory-max-without-high",
        check: memory_max_without_high,
    },
    UnitRule {
        id: "high-not-below-max",
        check: high_not_below_max,
    },
    UnitRule {
        id: "high-too-close-to-max",
        check: high_too_close_to_max,
    },
    UnitRule {
        id: "deprecated-memory-limit",
        check: deprecated_memory_limit,
    },
    UnitRule {
        id: "limit-above-ram",
        check: limit_above_ram,
    },
    UnitRule {
        id: "critical-without-oom-score-adjust",
        check: critical_without_oom_score_adjust,
    },
    UnitRule {
        id: "no-memory-limit",
        check: no_memory_limit,
    },
    UnitRule {
        id: "restart-loop-without-start-limit",
        check: restart_loop_without_start_limit,
    },
    UnitRule {
        id: "tmpfs-without-size",
        check: tmpfs_without_size,
    },
    UnitRule {
        id: "user-oom-score-adjust-floor",
        check: user_oom_score_adjust_floor,
    },
];

/// Rules that look at one unit. `slices` are the effective settings of the unit's slice
/// and its ancestors, nearest first (empty when unknown).
pub fn audit_unit(
    u: &UnitSettings,
    slices: &[&UnitSettings],
    ctx: &SystemdContext,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if u.masked {
        return out;
    }
    let input = UnitInput {
        u,
        slices,
        ctx,
        name: &u.unit.full,
    };
    for r in UNIT_RULES {
        (r.check)(&input, &mut out);
    }
    out
}

/// The unit was OOM-killed (by the context's list).
fn oom_killed(i: &UnitInput<'_>) -> bool {
    i.ctx
        .oom_killed
        .iter()
        .any(|k| k == i.name || k == &i.u.requested)
}

/// A setting of a memory or restart key that systemd ignores.
fn invalid_memory_setting(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name) = (i.u, i.name);
    for inv in &u.invalid {
        let key = inv.key.as_str();
        if !(key.starts_with("Memory")
            || key.starts_with("OOM")
            || key.starts_with("Restart")
            || key.starts_with("StartLimit")
            || key.starts_with("Runtime")
            || key.starts_with("ManagedOOM"))
        {
            continue;
        }
        let now = match u.get(key) {
            Some(s) => format!(
                "{key}={} from {}:{} stays in force",
                s.raw,
                s.origin.file.display(),
                s.origin.line
            ),
            None => format!("{key} stays at its default"),
        };
        out.push(Finding::new(
            "invalid-memory-setting",
            name,
            Some((inv.origin.file.clone(), inv.origin.line)),
            format!("systemd ignores {key}={}: {}; {now}", inv.raw, inv.problem),
            format!("write {key}= in systemd's syntax (sizes like 512M or 1.5G, K/M/G upper case and no B; percentages like 50%; infinity)"),
        ));
    }
}

/// The raw text of a memory key, empty when unset.
fn raw_of(u: &UnitSettings, key: &str) -> String {
    u.get(key).map(|s| s.raw.clone()).unwrap_or_default()
}

/// A finite MemoryMax= and no finite MemoryHigh=.
fn memory_max_without_high(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name, ram) = (i.u, i.name, i.ctx.ram);
    if !u.memory_finite("MemoryMax") || u.memory_finite("MemoryHigh") {
        return;
    }
    let max_raw = raw_of(u, "MemoryMax");
    let suggestion = u
        .memory_bytes("MemoryMax", ram)
        .map(|b| {
            format!(
                "MemoryHigh={} (75% of MemoryMax={max_raw})",
                round_mib(b * 3 / 4)
            )
        })
        .unwrap_or_else(|| "MemoryHigh= at about 75% of MemoryMax=".to_string());
    out.push(Finding::new(
        "memory-max-without-high",
        name,
        u.at("MemoryMax"),
        format!(
            "MemoryMax={} with no MemoryHigh=: the kernel OOM-kills at the limit without throttling first",
            show(u.memory("MemoryMax").unwrap_or(MemoryValue::Infinity), &max_raw, ram)
        ),
        format!("add {suggestion} in a drop-in (oomlens fix {name} writes one)"),
    ));
}

/// MemoryHigh= and MemoryMax= in bytes when both are finite.
fn high_and_max(i: &UnitInput<'_>) -> Option<(u64, u64)> {
    let (u, ram) = (i.u, i.ctx.ram);
    let h = u.memory_bytes("MemoryHigh", ram)?;
    let m = u.memory_bytes("MemoryMax", ram)?;
    (u.memory_finite("MemoryHigh") && u.memory_finite("MemoryMax")).then_some((h, m))
}

/// MemoryHigh= at or above MemoryMax=.
fn high_not_below_max(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, ram) = (i.u, i.ctx.ram);
    let Some((_, m)) = high_and_max(i).filter(|(h, m)| h >= m) else {
        return;
    };
    out.push(Finding::new(
        "high-not-below-max",
        i.name,
        u.at("MemoryHigh"),
        format!(
            "MemoryHigh={} is not below MemoryMax={}: the unit is killed before it is ever throttled",
            show(u.memory("MemoryHigh").unwrap_or(MemoryValue::Infinity), &raw_of(u, "MemoryHigh"), ram),
            show(u.memory("MemoryMax").unwrap_or(MemoryValue::Infinity), &raw_of(u, "MemoryMax"), ram)
        ),
        format!("set MemoryHigh={} (75% of MemoryMax)", round_mib(m * 3 / 4)),
    ));
}

/// MemoryHigh= below MemoryMax= but within [`HIGH_CLOSE_PERMILLE`] of it.
fn high_too_close_to_max(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let Some((h, m)) = high_and_max(i).filter(|(h, m)| {
        h < m && u128::from(*h) * 1000 > u128::from(*m) * u128::from(HIGH_CLOSE_PERMILLE)
    }) else {
        return;
    };
    out.push(Finding::new(
        "high-too-close-to-max",
        i.name,
        i.u.at("MemoryHigh"),
        format!(
            "MemoryHigh={} is {:.0}% of MemoryMax={}: throttling starts only {} before the kill",
            raw_of(i.u, "MemoryHigh"),
            h as f64 * 100.0 / m as f64,
            raw_of(i.u, "MemoryMax"),
            human_bytes(m - h)
        ),
        format!("set MemoryHigh={} (75% of MemoryMax)", round_mib(m * 3 / 4)),
    ));
}

/// The cgroup-v1 MemoryLimit=.
fn deprecated_memory_limit(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let u = i.u;
    if !u.memory_finite("MemoryLimit") {
        return;
    }
    let raw = u.get("MemoryLimit").map(|s| s.raw.as_str()).unwrap_or("");
    let msg = if u.memory_limit_applies() {
        format!(
            "MemoryLimit={raw} is the deprecated cgroup-v1 name; systemd applies it as MemoryMax="
        )
    } else {
        format!("MemoryLimit={raw} is deprecated and ignored here, because a unified memory setting (MemoryMax=, MemoryHigh=, MemoryMin=, MemoryLow= or MemorySwapMax=) is set")
    };
    out.push(Finding::new(
        "deprecated-memory-limit",
        i.name,
        u.at("MemoryLimit"),
        msg,
        format!("replace MemoryLimit={raw} with MemoryMax={raw} and add MemoryHigh= below it"),
    ));
}

/// A limit above physical memory never triggers.
fn limit_above_ram(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, ram) = (i.u, i.ctx.ram);
    let Some(r) = ram else {
        return;
    };
    for key in ["MemoryMax", "MemoryHigh", "MemoryLimit"] {
        if key == "MemoryLimit" && !u.memory_limit_applies() {
            continue;
        }
        if let (Some(b), Some(s)) = (u.memory_bytes(key, ram), u.get(key)) {
            if b > r {
                out.push(Finding::new(
                    "limit-above-ram",
                    i.name,
                    u.at(key),
                    format!(
                        "{key}={} is above the {} of physical memory: it never triggers, the global OOM killer acts first",
                        s.raw,
                        human_bytes(r)
                    ),
                    format!("set {key}= below {} (or as a percentage, e.g. 50%)", human_bytes(r)),
                ));
            }
        }
    }
}

/// A critical long-running service that does not lower its OOM score.
fn critical_without_oom_score_adjust(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name) = (i.u, i.name);
    if u.unit.kind != "service" || u.service_type() == "oneshot" {
        return;
    }
    let Some((pat, what)) = critical_match(u, &i.ctx.critical) else {
        return;
    };
    let programs: Vec<String> = u
        .programs()
        .iter()
        .filter_map(|p| Path::new(p).file_name()?.to_str().map(str::to_string))
        .collect();
    let adj = u.int("OOMScoreAdjust");
    let self_protect = SELF_PROTECTING
        .iter()
        .find(|(p, _, _)| programs.iter().any(|x| x == p));
    if adj.is_none_or(|a| a >= 0) && self_protect.is_none() {
        let (msg_adj, at) = match adj {
            Some(a) => (format!("OOMScoreAdjust={a}"), u.at("OOMScoreAdjust")),
            None => ("no OOMScoreAdjust=".to_string(), u.own_anchor()),
        };
        out.push(Finding::new(
            "critical-without-oom-score-adjust",
            name,
            at,
            format!(
                "{name} is critical ({what} matches {pat:?}) but has {msg_adj}: a big resident set makes it a likely victim of the global OOM killer"
            ),
            format!("add OOMScoreAdjust=-500 under [Service] in a drop-in (oomlens fix {name} writes one)"),
        ));
    }
}

/// A unit that was OOM-killed or must be bounded, with no limit on it or its slices.
fn no_memory_limit(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name, ctx) = (i.u, i.name, i.ctx);
    let killed = oom_killed(i);
    let required = ctx
        .require_limit
        .iter()
        .find(|p| glob_match(p, name) || glob_match(p, &u.unit.prefix));
    let limited = u.hard_limit().is_some() || u.memory_finite("MemoryHigh");
    let slice_limited = i
        .slices
        .iter()
        .find(|s| s.hard_limit().is_some() || s.memory_finite("MemoryHigh"));
    if !(killed || required.is_some()) || limited || slice_limited.is_some() {
        return;
    }
    let why = if killed {
        "was OOM-killed".to_string()
    } else {
        format!("matches {:?}", required.map(String::as_str).unwrap_or(""))
    };
    let at = u
        .reset_at("MemoryMax")
        .map(|o| (o.file.clone(), o.line))
        .or_else(|| u.own_anchor());
    out.push(Finding::new(
        "no-memory-limit",
        name,
        at,
        format!(
            "{name} {why} but has no MemoryMax= or MemoryHigh=, nor has its slice{}: it can grow until the global OOM killer picks a victim",
            u.slice().map(|s| format!(" {s}")).unwrap_or_default()
        ),
        format!("set MemoryHigh= and MemoryMax= from its peak: oomlens fix {name} [--peak BYTES]"),
    ));
}

/// Why a service's start limit never stops its restart loop, if it does not.
fn start_limit_gap(u: &UnitSettings, ctx: &SystemdContext) -> Option<String> {
    let explicit_interval = u.span("StartLimitIntervalSec");
    let explicit_burst = u.int("StartLimitBurst");
    let interval = explicit_interval.unwrap_or(Span::Usec(ctx.defaults.start_limit_interval_usec));
    let burst = explicit_burst.unwrap_or(i64::from(ctx.defaults.start_limit_burst));
    let restart_sec = u.span("RestartSec").unwrap_or(Span::Usec(100_000));
    if interval == Span::Usec(0) || burst == 0 {
        return Some(
            "the start limit is disabled (StartLimitIntervalSec=0 or StartLimitBurst=0)"
                .to_string(),
        );
    }
    let (Span::Usec(i), Span::Usec(r)) = (interval, restart_sec) else {
        return None;
    };
    if explicit_interval.is_none() && explicit_burst.is_none() {
        Some(format!(
            "the start limit is the default {burst} starts in {}, which only stops a loop faster than one start every {}; a service killed at its memory limit after minutes is never stopped",
            Span::Usec(i),
            Span::Usec(i / burst.max(1) as u64)
        ))
    } else if (burst as u128) * (r as u128) >= i as u128 {
        Some(format!(
            "StartLimitBurst={burst} restarts RestartSec={} apart take longer than StartLimitIntervalSec={}, so the limit can never trip",
            Span::Usec(r),
            Span::Usec(i)
        ))
    } else {
        None
    }
}

/// A service restarted after each OOM kill with a start limit that never trips.
fn restart_loop_without_start_limit(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name) = (i.u, i.name);
    if u.unit.kind != "service" {
        return;
    }
    let restart = u.restart();
    let restarts_on_kill = matches!(restart, "always" | "on-failure" | "on-abnormal");
    if !restarts_on_kill || !(u.hard_limit().is_some() || oom_killed(i)) {
        return;
    }
    let Some(reason) = start_limit_gap(u, i.ctx) else {
        return;
    };
    let limit = u
        .hard_limit()
        .map(|(k, _)| format!(" at {k}={}", u.get(k).map(|s| s.raw.as_str()).unwrap_or("")))
        .unwrap_or_default();
    out.push(Finding::new(
        "restart-loop-without-start-limit",
        name,
        u.at("Restart"),
        format!("Restart={restart} restarts {name} after every OOM kill{limit}, and {reason}"),
        "under [Unit] set StartLimitIntervalSec= longer than the time to reach the limit times StartLimitBurst= (e.g. StartLimitIntervalSec=1h, StartLimitBurst=5); as a stopgap for a known leak, RuntimeMaxSec= restarts it on schedule (oomlens fix --runtime-max-sec)".to_string(),
    ));
}

/// tmpfs mounts without size=: TemporaryFileSystem= entries, then a tmpfs mount unit.
fn tmpfs_without_size(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let (u, name) = (i.u, i.name);
    for t in u.list("TemporaryFileSystem") {
        for entry in t.raw.split_whitespace() {
            let (path, opts) = entry.split_once(':').unwrap_or((entry, ""));
            if !has_size(opts) {
                out.push(Finding::new(
                    "tmpfs-without-size",
                    name,
                    Some((t.origin.file.clone(), t.origin.line)),
                    format!("TemporaryFileSystem={entry} mounts a tmpfs on {path} without size=: it may fill half of RAM"),
                    format!("write TemporaryFileSystem={path}:{}size=256M (or a size that fits)", if opts.is_empty() { String::new() } else { format!("{opts},") }),
                ));
            }
        }
    }
    if u.unit.kind != "mount" || u.text("Type") != Some("tmpfs") {
        return;
    }
    let opts = u.text("Options").unwrap_or("");
    if has_size(opts) {
        return;
    }
    let at = u.at("Options").or_else(|| u.at("Type"));
    let wher = u
        .text("Where")
        .map(str::to_string)
        .unwrap_or_else(|| mount_point_of(&u.unit.prefix));
    out.push(Finding::new(
        "tmpfs-without-size",
        name,
        at,
        format!("{name} mounts a tmpfs on {wher} without size=: it may fill half of RAM"),
        format!(
            "add size= to Options= (e.g. Options={}size=10%)",
            if opts.is_empty() {
                String::new()
            } else {
                format!("{opts},")
            }
        ),
    ));
}

/// A user unit's OOMScoreAdjust= below the user manager's, which it cannot lower.
fn user_oom_score_adjust_floor(i: &UnitInput<'_>, out: &mut Vec<Finding>) {
    let u = i.u;
    if u.scope != Scope::User {
        return;
    }
    let Some(a) = u.int("OOMScoreAdjust") else {
        return;
    };
    let floor = i.ctx.user_manager_oom_score_adjust;
    if a < floor {
        out.push(Finding::new(
            "user-oom-score-adjust-floor",
            i.name,
            u.at("OOMScoreAdjust"),
            format!("OOMScoreAdjust={a} in a user unit is below the user manager's own {floor}: an unprivileged manager cannot lower it, the setting is silently ignored"),
            "move the service to a system unit with User= to protect it, or drop the setting".to_string(),
        ));
    }
}

/// `a.service 1.0 GiB, b.service 2.0 GiB`.
fn sizes_list(items: &[(&str, u64)]) -> String {
    items
        .iter()
        .map(|(n, b)| format!("{n} {}", human_bytes(*b)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rules across a slice and its members: `slice-overcommitted`. `members` are the audited
/// units (and child slices) whose slice is `slice`.
pub fn audit_slice(
    slice: &UnitSettings,
    members: &[&UnitSettings],
    ctx: &SystemdContext,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let ram = ctx.ram;
    let slice_max = slice.hard_limit().and_then(|(_, m)| m.bytes(ram));
    let cap = slice_max.or(ram);
    let Some(cap) = cap else {
        return out;
    };
    let cap_name = match slice_max {
        Some(_) => format!(
            "{}={}",
            slice.hard_limit().map(|h| h.0).unwrap_or("MemoryMax"),
            human_bytes(cap)
        ),
        None => format!("physical memory ({})", human_bytes(cap)),
    };
    let at = slice
        .hard_limit()
        .and_then(|(k, _)| slice.at(k))
        .or_else(|| slice.own_anchor());
    if slice_max.is_some() {
        let capped: Vec<(&str, u64)> = members
            .iter()
            .filter_map(|m| {
                let (_, v) = m.hard_limit()?;
                Some((m.unit.full.as_str(), v.bytes(ram)?))
            })
            .collect();
        let sum: u128 = capped.iter().map(|(_, b)| u128::from(*b)).sum();
        if capped.len() >= 2 && sum > u128::from(cap) {
            let list = sizes_list(&capped);
            out.push(Finding::new(
                "slice-overcommitted",
                &slice.unit.full,
                at.clone(),
                format!(
                    "the members' limits add up to {} ({list}) but {} allows {cap_name}: the slice's OOM kill picks among all of them first",
                    human_bytes(sum.min(u128::from(u64::MAX)) as u64),
                    slice.unit.full
                ),
                format!("raise {}'s MemoryMax= to at least {} or lower the members' MemoryMax=", slice.unit.full, human_bytes(sum.min(u128::from(u64::MAX)) as u64)),
            ));
        }
    }
    let protected: Vec<(&str, u64)> = members
        .iter()
        .filter_map(|m| {
            let p = m
                .memory_bytes("MemoryMin", ram)
                .unwrap_or(0)
                .max(m.memory_bytes("MemoryLow", ram).unwrap_or(0));
            (p > 0).then_some((m.unit.full.as_str(), p))
        })
        .collect();
    let psum: u128 = protected.iter().map(|(_, b)| u128::from(*b)).sum();
    if psum > u128::from(cap) {
        let list = sizes_list(&protected);
        out.push(Finding::new(
            "slice-overcommitted",
            &slice.unit.full,
            at,
            format!(
                "MemoryMin=/MemoryLow= protections of its members add up to {} ({list}), more than {cap_name}: the kernel scales them down and none holds as written",
                human_bytes(psum.min(u128::from(u64::MAX)) as u64)
            ),
            "lower the members' MemoryMin=/MemoryLow= so that together they fit the slice".to_string(),
        ));
    }
    out
}

/// `tmpfs-without-size` for an fstab(5)-format text (`/etc/fstab`): every `tmpfs` line
/// whose options lack `size=` or `nr_blocks=`.
pub fn audit_fstab(path: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 3 || f[2] != "tmpfs" {
            continue;
        }
        let opts = f.get(3).copied().unwrap_or("defaults");
        if !has_size(opts) {
            out.push(Finding::new(
                "tmpfs-without-size",
                format!("fstab:{}", f[1]),
                Some((path.to_path_buf(), i as u32 + 1)),
                format!(
                    "tmpfs on {} has no size= in its options ({opts}): it may fill half of RAM",
                    f[1]
                ),
                format!("add size= to the options, e.g. {opts},size=1G"),
            ));
        }
    }
    out
}

fn has_size(opts: &str) -> bool {
    opts.split(',')
        .any(|o| o.starts_with("size=") || o.starts_with("nr_blocks="))
}

/// The mount point a mount unit's name encodes (`dev-shm` → `/dev/shm`).
fn mount_point_of(prefix: &str) -> String {
    if prefix == "-" {
        return "/".to_string();
    }
    format!("/{}", prefix.replace('-', "/"))
}

/// A size rounded up to whole MiB, in systemd's syntax (`1536M`).
pub fn round_mib(b: u64) -> String {
    format!("{}M", b.div_ceil(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::UNIT_RULES;
    use crate::finding::RULES;

    /// Rules the unit table does not run: they look at a slice and its members.
    const SLICE_RULES: &[&str] = &["slice-overcommitted"];

    #[test]
    fn the_unit_table_runs_every_systemd_rule_of_the_registry_once() {
        for r in UNIT_RULES {
            let reg = RULES.iter().find(|x| x.id == r.id);
            assert!(
                reg.is_some_and(|x| x.applies_to.contains("systemd")),
                "{} is not a systemd rule of RULES",
                r.id
            );
            assert_eq!(UNIT_RULES.iter().filter(|x| x.id == r.id).count(), 1);
        }
        for r in RULES.iter().filter(|r| r.applies_to.contains("systemd")) {
            assert!(
                UNIT_RULES.iter().any(|x| x.id == r.id) || SLICE_RULES.contains(&r.id),
                "{} has no function in UNIT_RULES",
                r.id
            );
        }
    }
}
