//! `oomlens incidents` and `oomlens explain --recorded ID`: the flags and the run functions
//! of the commands that read the guard's flight recorder (`oomlens_store::incidents`) and
//! print through `oomlens_sinks::recorded`.
//!
//! Why here and not in the binary or in a crate of its own: the binary is kept to wiring
//! (its line budget), and the flags (clap) and the run functions need a library that may
//! depend on the store, the analysis and the sinks at once. The model, store and sinks
//! must not take clap; this crate already sits between them and the binary, and is the one
//! the guard daemon shares with `oomlens explain`. It is the one module of this crate that
//! knows of flags and output forms; the rest stays free of them.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use oomlens_analysis::explain::Explainer;
use oomlens_analysis::owner::owner_of;
use oomlens_analysis::timeline::{recording, window_summary};
use oomlens_model::fields::AsFields;
use oomlens_model::recorded_fields::{IncidentRow, IncidentsDoc};
use oomlens_model::LogTime;
use oomlens_sinks::escape::escape;
use oomlens_sinks::explain_fields::{InputSummary, Summary};
use oomlens_sinks::json::JsonWriter;
use oomlens_sinks::recorded::{write_incidents, write_incidents_json, write_timeline};
use oomlens_sinks::text::{write_incident, TextStyle};
use oomlens_store::incidents::{Incidents, IncidentsError, Listed, DEFAULT_STATE_DIR};

use crate::window::{Instant, TimeError, Window};

/// Errors of the two commands; each names its input.
#[derive(Debug, thiserror::Error)]
pub enum RecordedCmdError {
    /// The store could not be read, or the record asked for.
    #[error(transparent)]
    Incidents(#[from] IncidentsError),
    /// A bad `--since`.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// Standard output could not be written (the `io::Error` stays in the chain, so a
    /// closed pipe can be told apart).
    #[error("cannot write the output")]
    Output(#[from] io::Error),
}

/// `--since` takes "-2h", so a value may start with a hyphen; a following flag
/// (`--since --json`) is refused rather than taken for the time.
fn time_value(s: &str) -> Result<String, String> {
    match s.starts_with("--") {
        true => Err(format!("the time is missing (got {s:?})")),
        false => Ok(s.to_string()),
    }
}

/// `oomlens incidents` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens incidents                               # every incident the guard recorded
  oomlens incidents --since -1d --owner worker.service
  oomlens incidents --json --limit 20             # the 20 newest, schema oomlens.incidents/1
  oomlens incidents --state-dir /srv/oomlens      # another store
  oomlens explain --recorded 3                    # one incident with its timeline

EXIT STATUS:
  0  the store was read (also when it holds no incident)
  2  an error occurred (a missing or unreadable store)")]
pub struct IncidentsArgs {
    /// The guard's store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR, value_hint = clap::ValueHint::DirPath)]
    pub state_dir: PathBuf,
    /// Print one JSON document (schema oomlens.incidents/1) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only incidents at or after this time ("2024-05-01 10:00", RFC 3339, or "-2h").
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, value_parser = time_value)]
    pub since: Option<String>,
    /// Only incidents of this owner: a unit, pod uid or container id as the OWNER column
    /// shows it, or a cgroup path (and the cgroups below it).
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Only the N newest matching incidents (still listed oldest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The flags `oomlens explain` takes for a recorded incident.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordedArgs {
    /// Explain incident ID of the guard's flight recorder (see `oomlens incidents`), with
    /// the timeline of the minutes before it.
    #[arg(long, value_name = "ID", conflicts_with_all = ["files", "follow", "journal_dir", "summary"])]
    pub recorded: Option<u64>,
    /// The guard's store directory, for --recorded [default: /var/lib/oomlens].
    // No clap default: a default value counts as given and would defeat `requires`; clap
    // skips `requires` when a conflicting argument (a FILE) is given, hence the conflicts.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, requires = "recorded",
          conflicts_with_all = ["files", "follow", "journal_dir"])]
    pub state_dir: Option<PathBuf>,
}

impl IncidentsArgs {
    /// Run `oomlens incidents` ([`run_incidents`]).
    pub fn run(&self) -> Result<u8, RecordedCmdError> {
        run_incidents(self)
    }
}

impl RecordedArgs {
    /// With `--recorded ID`, run `oomlens explain --recorded` ([`run_explain_recorded`]);
    /// `None` without it.
    pub fn run(&self, json: bool, style: TextStyle) -> Option<Result<u8, RecordedCmdError>> {
        let id = self.recorded?;
        let dir = self.state_dir.as_deref();
        let dir = dir.unwrap_or(Path::new(DEFAULT_STATE_DIR));
        Some(run_explain_recorded(id, dir, json, style))
    }
}

fn utc_text(unix: f64) -> String {
    jiff::Timestamp::from_second(unix.floor() as i64)
        .map_or_else(|_| format!("{unix}"), |t| t.to_string())
}

/// The table row of one incident.
fn row_of(l: &Listed) -> IncidentRow {
    let rec = &l.incident;
    let inc = &rec.incident;
    let victim = inc.victim();
    let cgroup = victim
        .and_then(|k| k.cgroup.clone())
        .or_else(|| inc.task_memcg.clone())
        .or_else(|| inc.oom_memcg.clone());
    let owner = cgroup.as_deref().and_then(|c| owner_of(c).label());
    let time = rec.logged_unix.unwrap_or(rec.recorded_unix);
    let window = window_summary(rec);
    IncidentRow {
        id: l.id,
        time,
        time_utc: utc_text(time),
        host: rec.host.clone().or_else(|| inc.host.clone()),
        kind: inc.kind.map(|k| k.as_str().to_string()),
        pid: victim.and_then(|k| k.pid),
        comm: victim.and_then(|k| k.comm.clone()),
        cgroup,
        owner,
        limit: window.limit,
        window_seconds: window.kept_seconds,
        samples: window.samples,
    }
}

/// `--owner X`: the owner's label, unit, pod uid or container id, or a cgroup at or above.
fn owner_matches(row: &IncidentRow, want: &str) -> bool {
    let Some(cg) = row.cgroup.as_deref() else {
        return false;
    };
    let o = owner_of(cg);
    let below = cg == want || cg.starts_with(&format!("{}/", want.trim_end_matches('/')));
    below
        || row.owner.as_deref() == Some(want)
        || [&o.unit, &o.pod_uid, &o.container_id]
            .iter()
            .any(|v| v.as_deref() == Some(want))
}

/// Run `oomlens incidents`: exit status 0 when the store was read, even empty.
pub fn run_incidents(args: &IncidentsArgs) -> Result<u8, RecordedCmdError> {
    let window = Window {
        since: args
            .since
            .as_deref()
            .map(|s| Instant::parse(s, "--since"))
            .transpose()?,
        until: None,
    };
    let store = Incidents::open(&args.state_dir)?;
    let mut rows = Vec::new();
    let mut total = 0;
    let skips = store.each_summary(|l| {
        total += 1;
        let row = row_of(&l);
        let t = LogTime {
            utc: Some(row.time_utc.clone()),
            ..LogTime::default()
        };
        let owner_ok = args.owner.as_deref().is_none_or(|o| owner_matches(&row, o));
        if owner_ok && window.contains(&t) != Some(false) {
            rows.push(row);
        }
    });
    if let Some(n) = args.limit {
        rows.drain(..rows.len().saturating_sub(n));
    }
    let mut warnings: Vec<String> = skips.skipped.iter().map(|e| e.to_string()).collect();
    if skips.torn_bytes > 0 {
        warnings.push(format!(
            "{}: {} bytes of an unfinished record skipped (a write cut short or in progress)",
            args.state_dir.display(),
            skips.torn_bytes
        ));
    }
    let doc = IncidentsDoc {
        state_dir: args.state_dir.display().to_string(),
        total,
        skipped: skips.skipped.len(),
        torn_bytes: skips.torn_bytes,
        rows,
        warnings,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        write_incidents_json(&mut out, &doc)?;
    } else {
        write_incidents(&mut out, &doc)?;
    }
    out.flush()?;
    if !args.json {
        for w in &doc.warnings {
            eprintln!("oomlens: warning: {} (skipped)", escape(w));
        }
    }
    Ok(0)
}

/// Run `oomlens explain --recorded ID`: the incident as `explain` prints it, then its
/// timeline. The restart-loop history is rebuilt by explaining the store's earlier
/// incidents first, as the guard did when it recorded them (what retention deleted is gone).
pub fn run_explain_recorded(
    id: u64,
    state_dir: &Path,
    json: bool,
    style: TextStyle,
) -> Result<u8, RecordedCmdError> {
    let store = Incidents::open(state_dir)?;
    let target = store.get(id)?;
    let mut explainer = Explainer::new();
    store.each_summary(|l| {
        if l.id < id {
            explainer.explain(&l.incident.incident);
        }
    });
    let rec = &target.incident;
    let expl = explainer.explain(&rec.incident);
    let timeline = recording(id, rec);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        let mut j = JsonWriter::begin(out)?;
        j.incident_with(
            &rec.incident,
            Some(&expl),
            Some(("recording", &AsFields(&timeline))),
        )?;
        let summary = Summary {
            inputs: vec![InputSummary {
                name: format!("{}#{id}", state_dir.display()),
                incidents: 1,
                ..InputSummary::default()
            }],
            incidents: 1,
            ..Summary::default()
        };
        j.finish(&summary)?;
        return Ok(0);
    }
    write_incident(&mut out, &rec.incident, Some(&expl), style)?;
    writeln!(
        out,
        "recorded by oomlens guard {} on {} from {} at {}",
        escape(&rec.guard_version),
        escape(rec.host.as_deref().unwrap_or("an unnamed host")),
        escape(&rec.log_source),
        utc_text(rec.recorded_unix)
    )?;
    write_timeline(&mut out, &timeline)?;
    out.flush()?;
    Ok(0)
}
