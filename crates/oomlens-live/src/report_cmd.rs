//! `oomlens report`: the flags and the run function. Reads log FILEs through the one-shot
//! pipeline (parse and explain, as `oomlens explain` does) and recorded incident IDs through
//! the guard's store (`oomlens_store::incidents`, explained as `explain --recorded` does),
//! and hands them to `oomlens_report`, which writes the HTML page, the Markdown or a chart.
//! Here for the reason `recorded_cmd` gives: flags and sources on one side, the sink on the
//! other, and the binary kept to wiring.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use oomlens_analysis::explain::{Explainer, Explanation};
use oomlens_model::Incident;
use oomlens_parse::{Clock, Format, Options};
use oomlens_report::{
    render_chart, write_html, write_markdown, ChartFormat, ChartKind, Report, ReportError,
    ReportIncident,
};
use oomlens_store::incidents::{Incidents, IncidentsError, DEFAULT_STATE_DIR};

use crate::pipeline::{IncidentSink, Pipeline};
use crate::source::open_file;
use crate::{LiveError, Window};

/// Exit status: the report was written.
pub const EXIT_WRITTEN: u8 = 0;
/// Exit status: the inputs hold no incident (nothing was written).
pub const EXIT_NO_INCIDENT: u8 = 1;

/// Errors of `oomlens report`; each names its input or output.
#[derive(Debug, thiserror::Error)]
pub enum ReportCmdError {
    /// The store or a record in it could not be read.
    #[error(transparent)]
    Incidents(#[from] IncidentsError),
    /// A log file could not be opened or read.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// Standard input could not be read.
    #[error("-: cannot read standard input")]
    Stdin(#[source] io::Error),
    /// A log file could not be read again for its raw lines.
    #[error("{path}: cannot read the report's lines")]
    Raw {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The report could not be made or written.
    #[error("{path}: cannot write the report")]
    Write {
        /// The output (`-` for standard output).
        path: PathBuf,
        /// Why.
        #[source]
        source: ReportError,
    },
    /// The chart asked for does not exist in this report.
    #[error(transparent)]
    Chart(ReportError),
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page with charts.
    Html,
    /// Markdown for a ticket (no charts; attach them with --svg/--png).
    Md,
}

fn chart_value(s: &str) -> Result<ChartKind, String> {
    s.parse()
}

/// `oomlens report` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
An argument of digits only is a recorded incident ID (see `oomlens incidents`); anything
else is a log file (\"-\" reads standard input; write ./123 for a file named 123).
Several incidents (a restart loop) give one report with the kills on one time axis.

EXAMPLES:
  oomlens report 3 -o incident.html               # recorded incident 3, with its charts
  oomlens report /var/log/kern.log -o oom.html    # every incident of a log
  oomlens report 3 --format md -o incident.md     # Markdown for a ticket
  oomlens report 3 --svg memory.svg --chart memory
  oomlens report 0 1 2 --state-dir /srv/oomlens -o three.html   # one time axis

EXIT STATUS:
  0  the report was written
  1  the inputs hold no incident (nothing written)
  2  an error occurred (the message names the input or output)")]
pub struct ReportArgs {
    /// Recorded incident IDs and log files.
    #[arg(value_name = "ID|FILE", required = true, value_hint = clap::ValueHint::FilePath)]
    pub inputs: Vec<String>,
    /// Write the report to FILE (atomically: a temporary file renamed); "-" or none:
    /// standard output.
    #[arg(short = 'o', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// The report's form.
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Write one chart alone as SVG to FILE instead of the report (see --chart).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["output", "png"])]
    pub svg: Option<PathBuf>,
    /// Write one chart alone as PNG to FILE instead of the report (see --chart).
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    pub png: Option<PathBuf>,
    /// The chart for --svg/--png: memory, processes (recorded incidents), tasks, stat (the
    /// report's task table and memory.stat), kills (several incidents) [default: the first
    /// of kills, memory, tasks, stat the report has].
    #[arg(long, value_name = "CHART", value_parser = chart_value)]
    pub chart: Option<ChartKind>,
    /// The guard's store directory, for IDs.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR, value_hint = clap::ValueHint::DirPath)]
    pub state_dir: PathBuf,
    /// The year of log times printed without one (syslog) [default: this year].
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i16>,
}

impl ReportArgs {
    /// Run `oomlens report` ([`run_report`]).
    pub fn run(&self) -> Result<u8, ReportCmdError> {
        run_report(self)
    }
}

/// Collects what the pipeline explains.
#[derive(Default)]
struct Collect(Vec<(Incident, Explanation)>);

impl IncidentSink for Collect {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()> {
        self.0.push((inc.clone(), expl.clone()));
        Ok(())
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Seconds of a parsed incident on the report's common axis: its UTC time where the log
/// gave one; else its local time read as if UTC (the log's kills keep their distances, the
/// axis is relative to the last kill anyway); else its seconds since boot (one boot).
fn unix_of(inc: &Incident) -> Option<f64> {
    let t = &inc.time;
    if let Some(ts) = t
        .utc
        .as_deref()
        .and_then(|u| u.parse::<jiff::Timestamp>().ok())
    {
        return Some(ts.as_microsecond() as f64 / 1e6);
    }
    let local = t
        .local
        .as_deref()
        .and_then(|l| l.parse::<jiff::civil::DateTime>().ok());
    if let Some(ts) = local.and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok()) {
        return Some(ts.timestamp().as_microsecond() as f64 / 1e6);
    }
    t.monotonic_us.map(|us| us as f64 / 1e6)
}

/// Lines `first..=last` (1-based) of `r`, as text.
fn lines_of(r: impl BufRead, spans: &[(u64, u64)]) -> io::Result<Vec<Vec<String>>> {
    let mut out = vec![Vec::new(); spans.len()];
    let end = spans.iter().map(|s| s.1).max().unwrap_or(0);
    for (n, line) in r.split(b'\n').enumerate() {
        let n = n as u64 + 1;
        if n > end {
            break;
        }
        let line = line?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        for (i, (a, b)) in spans.iter().enumerate() {
            if (*a..=*b).contains(&n) {
                out[i].push(text.to_string());
            }
        }
    }
    Ok(out)
}

/// Parse and explain the log files, in order, with one explainer (restart loops across
/// files), each incident with its raw lines.
fn from_files(files: &[&str], clock: Clock) -> Result<Vec<ReportIncident>, ReportCmdError> {
    let mut p = Pipeline::new(Collect::default(), Window::default());
    let mut out = Vec::new();
    for name in files {
        let opts = |n: &str| Options {
            format: Some(Format::Auto),
            clock,
            file: Some(n.to_string()),
        };
        let before = p.sink_mut().0.len();
        let stdin_bytes = if *name == "-" {
            let mut buf = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(ReportCmdError::Stdin)?;
            p.read("-", buf.as_slice(), opts("-"))?;
            Some(buf)
        } else {
            let (shown, f, _) = open_file(Path::new(name))?;
            p.read(&shown, f, opts(name))?;
            None
        };
        let found: Vec<(Incident, Explanation)> = p.sink_mut().0.drain(before..).collect();
        let spans: Vec<(u64, u64)> = found
            .iter()
            .map(|(i, _)| (i.source.first_line, i.source.last_line))
            .collect();
        let raw = match &stdin_bytes {
            Some(buf) => lines_of(buf.as_slice(), &spans),
            None => File::open(name).and_then(|f| lines_of(BufReader::new(f), &spans)),
        }
        .map_err(|source| ReportCmdError::Raw {
            path: PathBuf::from(name),
            source,
        })?;
        for ((incident, explanation), raw) in found.into_iter().zip(raw) {
            out.push(ReportIncident {
                origin: format!(
                    "{name}:{}-{}",
                    incident.source.first_line, incident.source.last_line
                ),
                unix: unix_of(&incident),
                raw,
                incident,
                explanation,
                recorded: None,
            });
        }
    }
    Ok(out)
}

/// The recorded incidents `ids`, explained after the store's earlier incidents, as the
/// guard explained them (restart-loop history).
fn from_store(ids: &[u64], dir: &Path) -> Result<Vec<ReportIncident>, ReportCmdError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let store = Incidents::open(dir)?;
    // Fetch each first: a missing id fails before the store is walked.
    let mut wanted = Vec::new();
    for &id in ids {
        wanted.push(store.get(id)?);
    }
    let last = ids.iter().copied().max().unwrap_or(0);
    let mut explainer = Explainer::new();
    let mut explained = Vec::new();
    store.each_summary(|l| {
        if l.id <= last {
            let e = explainer.explain(&l.incident.incident);
            if ids.contains(&l.id) {
                explained.push((l.id, e));
            }
        }
    });
    let mut out = Vec::new();
    for l in wanted {
        let rec = l.incident;
        let explanation = match explained.iter().find(|(id, _)| *id == l.id) {
            Some((_, e)) => e.clone(),
            None => Explainer::new().explain(&rec.incident),
        };
        out.push(ReportIncident {
            incident: rec.incident.clone(),
            explanation,
            raw: rec.raw.clone(),
            origin: format!("record {} of {}", l.id, dir.display()),
            unix: Some(rec.logged_unix.unwrap_or(rec.recorded_unix)),
            recorded: Some((l.id, Box::new(rec))),
        });
    }
    Ok(out)
}

/// Write `bytes` to `path` atomically: a temporary file beside it, then a rename; "-" is
/// standard output.
fn write_out(path: &Path, bytes: &[u8]) -> Result<(), ReportCmdError> {
    let fail = |source: io::Error| ReportCmdError::Write {
        path: path.to_path_buf(),
        source: ReportError::Io(source),
    };
    if path.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        return out.write_all(bytes).and_then(|_| out.flush()).map_err(fail);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".oomlens-report-")
        .tempfile_in(dir)
        .map_err(fail)?;
    // tempfile creates 0600; a report is for sharing: 0644 like any file the user writes.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::Permissions::from_mode(0o644);
    tmp.as_file().set_permissions(mode).map_err(fail)?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Run `oomlens report`: 0 written, 1 no incident in the inputs.
pub fn run_report(args: &ReportArgs) -> Result<u8, ReportCmdError> {
    let ids: Vec<u64> = args
        .inputs
        .iter()
        .filter(|s| is_id(s))
        .filter_map(|s| s.parse().ok())
        .collect();
    let files: Vec<&str> = args
        .inputs
        .iter()
        .filter(|s| !is_id(s))
        .map(String::as_str)
        .collect();
    let clock = Clock {
        reference_year: Some(args.year.unwrap_or_else(|| jiff::Zoned::now().year())),
        boot_time_us: None,
    };
    let mut incidents = from_store(&ids, &args.state_dir)?;
    incidents.extend(from_files(&files, clock)?);
    if incidents.is_empty() {
        eprintln!(
            "oomlens: no OOM incident found in {}",
            oomlens_sinks::escape::escape(&args.inputs.join(", "))
        );
        return Ok(EXIT_NO_INCIDENT);
    }
    // Oldest first on the common axis; incidents without a time keep their input order.
    incidents.sort_by(|a, b| match (a.unix, b.unix) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => std::cmp::Ordering::Equal,
    });
    let report = Report { incidents };
    let chart_file = args
        .svg
        .as_ref()
        .map(|p| (p, ChartFormat::Svg))
        .or_else(|| args.png.as_ref().map(|p| (p, ChartFormat::Png)));
    if let Some((path, format)) = chart_file {
        let kind = match args.chart {
            Some(k) => k,
            None => *oomlens_report::available(&report)
                .first()
                .ok_or(ReportCmdError::Chart(ReportError::NoChart(
                    "any",
                    "no incident holds chart data",
                )))?,
        };
        let bytes = render_chart(&report, kind, format).map_err(|e| match e {
            e @ ReportError::NoChart(..) => ReportCmdError::Chart(e),
            source => ReportCmdError::Write {
                path: path.clone(),
                source,
            },
        })?;
        write_out(path, &bytes)?;
        return Ok(EXIT_WRITTEN);
    }
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut buf = Vec::new();
    let made = match args.format {
        ReportFormat::Html => write_html(&mut buf, &report),
        ReportFormat::Md => write_markdown(&mut buf, &report),
    };
    made.map_err(|source| ReportCmdError::Write {
        path: path.clone(),
        source,
    })?;
    write_out(&path, &buf)?;
    Ok(EXIT_WRITTEN)
}
