//! `oomlens fix`: the drop-in that bounds a unit's memory from its observed peak.
//!
//! - [`plan`] (pure) derives `MemoryHigh=` as the peak plus headroom (25% by default) and
//!   `MemoryMax=` a third above that (so `MemoryHigh` is 75% of `MemoryMax`, as in the
//!   drop-in of scenario 000: `MemoryHigh=1536M`, `MemoryMax=2G`), both rounded up to whole
//!   MiB; `OOMScoreAdjust=-500` for a critical service that has no negative value (scenario
//!   002); `RuntimeMaxSec=` only when asked.
//! - [`render`] writes it as `UNIT.d/50-oomlens.conf`: a name that sorts after the
//!   `10-`…`40-` drop-ins packages ship and before `override.conf` from `systemctl edit`, so
//!   an operator's own edit still wins.
//! - [`write_dropin`] writes atomically: a temporary file in the same directory, synced,
//!   then linked into place with `link()` (which fails if the file exists: no overwrite
//!   without force, and no window where a half-written drop-in is visible) or renamed over
//!   it with `--force`; the directory is synced after.
//! - [`read_peak`] reads the live cgroup's peak: `memory.peak` (cgroup v2, Linux 5.19+) or
//!   `memory.max_usage_in_bytes` (v1), below a cgroup root.
//! - [`apply_commands`] are the `systemctl daemon-reload` and `systemctl restart UNIT`
//!   argument vectors, run without a shell.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::loader::{host_path, Scope};
use crate::settings::UnitSettings;
use crate::size::{human_bytes, Span, MIB};
use crate::systemd_rules::critical_match;
use crate::unit::slice_cgroup_path;

/// The drop-in's file name.
pub const DROPIN_NAME: &str = "50-oomlens.conf";

/// The OOMScoreAdjust= given to critical services.
pub const CRITICAL_OOM_SCORE_ADJUST: i64 = -500;

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    /// Headroom above the peak for MemoryHigh=, in percent (default 25).
    pub headroom_percent: u32,
    /// An explicit OOMScoreAdjust=, overriding the critical-service default.
    pub oom_score_adjust: Option<i64>,
    /// `RuntimeMaxSec=` to add (only when asked).
    pub runtime_max: Option<Span>,
    /// Critical-service patterns.
    pub critical: Vec<String>,
}

/// The settings a fix writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixPlan {
    /// The unit.
    pub unit: String,
    /// The section the settings go in (`Service`, `Slice`, …).
    pub section: &'static str,
    /// The peak it is derived from, bytes.
    pub peak: u64,
    /// Where the peak came from.
    pub peak_source: String,
    /// Headroom used, percent.
    pub headroom_percent: u32,
    /// `MemoryHigh=` in bytes (whole MiB).
    pub memory_high: u64,
    /// `MemoryMax=` in bytes (whole MiB).
    pub memory_max: u64,
    /// `OOMScoreAdjust=`, when written.
    pub oom_score_adjust: Option<i64>,
    /// `RuntimeMaxSec=`, when written.
    pub runtime_max: Option<Span>,
    /// Things the operator should know (a capped peak, a value that is kept, …).
    pub notes: Vec<String>,
}

/// Derives the fix for a unit from its peak. Pure.
pub fn plan(
    u: &UnitSettings,
    peak: u64,
    peak_source: &str,
    opts: &FixOptions,
    ram: Option<u64>,
) -> Result<FixPlan, AuditError> {
    let section = u.unit.settings_section().ok_or_else(|| {
        AuditError::Usage(format!(
            "{}: a .{} unit has no cgroup settings to fix",
            u.unit.full, u.unit.kind
        ))
    })?;
    if peak == 0 {
        return Err(AuditError::Usage(format!(
            "{}: a peak of 0 bytes gives no limit; pass --peak BYTES",
            u.unit.full
        )));
    }
    let headroom = if opts.headroom_percent == 0 {
        25
    } else {
        opts.headroom_percent
    };
    let high = (u128::from(peak) * u128::from(100 + headroom)).div_ceil(100);
    let high = (high.div_ceil(u128::from(MIB)) * u128::from(MIB)).min(u128::from(u64::MAX / 2));
    let max = (high * 4).div_ceil(3);
    let max = max.div_ceil(u128::from(MIB)) * u128::from(MIB);
    let (memory_high, memory_max) = (high as u64, max as u64);
    let mut notes = Vec::new();
    if let Some(cur) = u.hard_limit().and_then(|(_, m)| m.bytes(ram)) {
        if peak >= cur.saturating_sub(cur / 50) {
            notes.push(format!(
                "the peak {} is at or above the current limit {}: the unit was capped, its real demand is unknown (a leak?); the new limit only buys time",
                human_bytes(peak),
                human_bytes(cur)
            ));
        }
    }
    if let Some(r) = ram {
        if memory_max > r {
            notes.push(format!(
                "MemoryMax={} is above the {} of physical memory and will never trigger",
                human_bytes(memory_max),
                human_bytes(r)
            ));
        }
    }
    let exec = matches!(section, "Service" | "Socket" | "Mount" | "Swap");
    let current = u.int("OOMScoreAdjust");
    let oom_score_adjust = match opts.oom_score_adjust {
        Some(v) if exec => Some(v),
        Some(_) => {
            notes.push(format!(
                "OOMScoreAdjust= does not apply to a .{} unit; left out",
                u.unit.kind
            ));
            None
        }
        None if exec && u.unit.kind == "service" => {
            match (critical_match(u, &opts.critical), current) {
                (Some(_), Some(c)) if c < 0 => None,
                (Some((pat, what)), _) => {
                    notes.push(format!(
                        "OOMScoreAdjust={CRITICAL_OOM_SCORE_ADJUST} because {what} matches the critical pattern {pat:?}"
                    ));
                    Some(CRITICAL_OOM_SCORE_ADJUST)
                }
                _ => None,
            }
        }
        None => None,
    };
    let runtime_max = match opts.runtime_max {
        Some(s) if matches!(section, "Service" | "Scope") => Some(s),
        Some(_) => {
            notes.push(format!(
                "RuntimeMaxSec= does not apply to a .{} unit; left out",
                u.unit.kind
            ));
            None
        }
        None => None,
    };
    Ok(FixPlan {
        unit: u.unit.full.clone(),
        section,
        peak,
        peak_source: peak_source.to_string(),
        headroom_percent: headroom,
        memory_high,
        memory_max,
        oom_score_adjust,
        runtime_max,
        notes,
    })
}

/// The drop-in text.
pub fn render(p: &FixPlan) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# Written by oomlens fix for {}.\n# MemoryHigh= is the observed peak of {} ({}) plus {}% headroom;\n# MemoryMax= leaves a third more before the OOM kill.\n",
        p.unit,
        human_bytes(p.peak),
        p.peak_source,
        p.headroom_percent
    ));
    s.push_str(&format!("[{}]\n", p.section));
    s.push_str(&format!("MemoryHigh={}M\n", p.memory_high / MIB));
    s.push_str(&format!("MemoryMax={}M\n", p.memory_max / MIB));
    if let Some(a) = p.oom_score_adjust {
        s.push_str(&format!("OOMScoreAdjust={a}\n"));
    }
    if let Some(r) = p.runtime_max {
        s.push_str(&format!("RuntimeMaxSec={r}\n"));
    }
    s
}

/// Where the drop-in goes, as the target system sees it: `CONFIG_DIR/UNIT.d/50-oomlens.conf`.
pub fn dropin_path(config_dir: &Path, unit: &str) -> PathBuf {
    config_dir.join(format!("{unit}.d")).join(DROPIN_NAME)
}

/// What [`write_dropin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A new file.
    Created,
    /// An existing file replaced (`force`).
    Replaced,
    /// The file already had this content.
    Unchanged,
}

/// Writes `contents` to `path` atomically; an existing file is replaced only with `force`
/// (identical content counts as done).
pub fn write_dropin(path: &Path, contents: &str, force: bool) -> Result<Written, AuditError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| AuditError::Io { path: p, source }
    };
    let dir = path
        .parent()
        .ok_or_else(|| AuditError::Usage(format!("{}: no directory", path.display())))?;
    if let Ok(old) = fs::read(path) {
        if old == contents.as_bytes() {
            return Ok(Written::Unchanged);
        }
        if !force {
            return Err(AuditError::Exists {
                path: path.to_path_buf(),
            });
        }
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(DROPIN_NAME);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(contents.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        set_mode_644(&tmp)?;
        if force {
            let existed = path.exists();
            fs::rename(&tmp, path).map_err(io(path))?;
            Ok(if existed {
                Written::Replaced
            } else {
                Written::Created
            })
        } else {
            match fs::hard_link(&tmp, path) {
                Ok(()) => Ok(Written::Created),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(AuditError::Exists {
                        path: path.to_path_buf(),
                    })
                }
                Err(e) => Err(AuditError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }),
            }
        }
    })();
    let _ = fs::remove_file(&tmp);
    let written = result?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(written)
}

fn set_mode_644(p: &Path) -> Result<(), AuditError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).map_err(|source| AuditError::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// The unit's cgroup path below the cgroup root: its slices, then the unit
/// (`system.slice/worker.service`).
pub fn unit_cgroup_path(u: &UnitSettings) -> String {
    match u.slice() {
        Some(s) => {
            let sp = slice_cgroup_path(&s);
            if sp.is_empty() {
                u.unit.full.clone()
            } else {
                format!("{sp}/{}", u.unit.full)
            }
        }
        None => {
            if u.unit.kind == "slice" {
                slice_cgroup_path(&u.unit.full)
            } else {
                u.unit.full.clone()
            }
        }
    }
}

/// Reads a cgroup's peak memory use below `root` (the machine's `/` or a test tree): the
/// first of `sys/fs/cgroup/PATH/memory.peak`, `sys/fs/cgroup/unified/PATH/memory.peak`
/// and `sys/fs/cgroup/memory/PATH/memory.max_usage_in_bytes` that exists. Returns the
/// bytes and the file read.
pub fn read_peak(root: &Path, cgroup: &str) -> Result<(u64, PathBuf), String> {
    let candidates = [
        format!("/sys/fs/cgroup/{cgroup}/memory.peak"),
        format!("/sys/fs/cgroup/unified/{cgroup}/memory.peak"),
        format!("/sys/fs/cgroup/memory/{cgroup}/memory.max_usage_in_bytes"),
    ];
    let mut tried = Vec::new();
    for c in &candidates {
        let p = host_path(root, Path::new(c));
        match fs::read_to_string(&p) {
            Ok(t) => {
                let v = t
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{}: {:?} is not a number", p.display(), t.trim()))?;
                return Ok((v, p));
            }
            Err(_) => tried.push(p.display().to_string()),
        }
    }
    Err(format!(
        "none of {} exists (memory.peak needs Linux 5.19 and a running unit)",
        tried.join(", ")
    ))
}

/// The commands that make a written drop-in take effect: `daemon-reload`, then
/// `restart UNIT`, each an argument vector for `systemctl` (never a shell line).
pub fn apply_commands(unit: &str, scope: Scope) -> Vec<Vec<String>> {
    let base: Vec<String> = match scope {
        Scope::System => vec![],
        Scope::User => vec!["--user".to_string()],
    };
    let mut reload = base.clone();
    reload.push("daemon-reload".to_string());
    let mut restart = base;
    restart.extend(["restart".to_string(), unit.to_string()]);
    vec![reload, restart]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{LoadedUnit, SourceFile};
    use crate::unit::{parse_unit_file, UnitName};
    use oomlens_testkit::faketree::FakeTree;

    fn settings(name: &str, text: &str) -> UnitSettings {
        let n = UnitName::parse(name).unwrap();
        UnitSettings::from_loaded(&LoadedUnit {
            requested: n.clone(),
            id: n,
            aliases: vec![],
            scope: Scope::System,
            fragment: Some(SourceFile {
                path: PathBuf::from("/lib/systemd/system/x"),
                file: parse_unit_file(text),
            }),
            masked: false,
            dropins: vec![],
        })
    }

    #[test]
    fn scenario_000_peak_gives_its_numbers() {
        // A peak of 1228.8 MiB plus 25% is 1536M; MemoryMax a third above is 2048M = 2G.
        let u = settings(
            "worker-processor.service",
            "[Service]\nExecStart=/opt/worker/venv/bin/python3 /opt/worker/processor.py\nMemoryMax=512M\nRestart=always\n",
        );
        let peak = 1228 * MIB + 819 * 1024; // 1228.8 MiB
        let p = plan(&u, peak, "--peak", &FixOptions::default(), None).unwrap();
        assert_eq!(p.memory_high, 1536 * MIB);
        assert_eq!(p.memory_max, 2048 * MIB);
        assert_eq!(p.oom_score_adjust, None);
        let text = render(&p);
        assert!(
            text.contains("[Service]\nMemoryHigh=1536M\nMemoryMax=2048M\n"),
            "{text}"
        );
        let parsed = parse_unit_file(&text);
        assert_eq!(parsed.assignments.len(), 2);
    }

    #[test]
    fn capped_peak_is_noted_and_critical_gets_oom_score_adjust() {
        let u = settings(
            "postgresql.service",
            "[Service]\nExecStart=/usr/bin/postgres\nMemoryMax=512M\n",
        );
        let opts = FixOptions {
            critical: vec!["postgres*".into()],
            runtime_max: Some(Span::Usec(3_600_000_000)),
            ..FixOptions::default()
        };
        let p = plan(&u, 512 * MIB, "x", &opts, None).unwrap();
        assert_eq!(p.oom_score_adjust, Some(-500));
        assert!(p.notes.iter().any(|n| n.contains("capped")));
        assert!(render(&p).contains("OOMScoreAdjust=-500\nRuntimeMaxSec=1h\n"));
        // A protected service keeps its value.
        let u = settings("postgresql.service", "[Service]\nOOMScoreAdjust=-900\n");
        assert_eq!(
            plan(&u, MIB, "x", &opts, None).unwrap().oom_score_adjust,
            None
        );
        // Slices take no OOMScoreAdjust= or RuntimeMaxSec=.
        let s = settings("batch.slice", "[Slice]\n");
        let p = plan(
            &s,
            MIB,
            "x",
            &FixOptions {
                oom_score_adjust: Some(5),
                ..opts
            },
            None,
        )
        .unwrap();
        assert_eq!(
            (p.section, p.oom_score_adjust, p.runtime_max),
            ("Slice", None, None)
        );
        assert!(plan(
            &settings("a.timer", "[Timer]\n"),
            MIB,
            "x",
            &FixOptions::default(),
            None
        )
        .is_err());
    }

    #[test]
    fn writes_are_atomic_and_refuse_to_clobber() {
        let d = std::env::temp_dir().join(format!("oomlens-fix-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        let p = d.join("x.service.d").join(DROPIN_NAME);
        assert_eq!(write_dropin(&p, "a\n", false).unwrap(), Written::Created);
        assert_eq!(write_dropin(&p, "a\n", false).unwrap(), Written::Unchanged);
        let e = write_dropin(&p, "b\n", false).unwrap_err();
        assert!(matches!(e, AuditError::Exists { .. }), "{e}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\n");
        assert_eq!(write_dropin(&p, "b\n", true).unwrap(), Written::Replaced);
        assert_eq!(fs::read_to_string(&p).unwrap(), "b\n");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn peaks_come_from_v2_or_v1_files() {
        let t = FakeTree::new("peak");
        t.cgroup_v2("system.slice/a.service")
            .file("memory.peak", "123456\n");
        assert_eq!(
            read_peak(t.root(), "system.slice/a.service").unwrap().0,
            123456
        );
        t.cgroup_v1("system.slice/b.service")
            .file("memory.max_usage_in_bytes", "789\n");
        assert_eq!(
            read_peak(t.root(), "system.slice/b.service").unwrap().0,
            789
        );
        let e = read_peak(t.root(), "system.slice/c.service").unwrap_err();
        assert!(e.contains("memory.peak") && e.contains("5.19"), "{e}");
        let u = settings("postgresql@15-main.service", "[Service]\n");
        assert_eq!(
            unit_cgroup_path(&u),
            "system.slice/system-postgresql.slice/postgresql@15-main.service"
        );
    }

    #[test]
    fn apply_runs_systemctl_without_a_shell() {
        assert_eq!(
            apply_commands("a.service", Scope::System),
            vec![
                vec!["daemon-reload".to_string()],
                vec!["restart".into(), "a.service".into()]
            ]
        );
        assert_eq!(apply_commands("a.service", Scope::User)[0][0], "--user");
    }
}
