//! `oomlens explain`: maps the flags onto the live pipeline (crate oomlens-live), prints
//! what it hands on with the text or JSON writer, and picks the exit status.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::time::Duration;

use oomlens_analysis::explain::Explanation;
use oomlens_live::{
    Counters, IncidentSink, Inputs, Instant, KmsgFollower, LiveError, Pipeline, Request,
    SourceKind, SourceOptions, Window,
};
use oomlens_model::Incident;
use oomlens_parse::{Clock, Format, Options, Parser, ReadStats};
use oomlens_sinks::escape::escape;
use oomlens_sinks::explain_fields::{InputSummary, Summary};
use oomlens_sinks::json::{incident_line, JsonWriter};
use oomlens_sinks::text::{headline, write_incident, TextStyle};

use crate::cli::{ColorChoice, ExplainArgs, LiveSource};
use crate::exit::{EXIT_FOUND, EXIT_NOTHING};
use crate::progress::Progress;

enum Out<W: Write> {
    Json(JsonWriter<W>),
    Text(W, TextStyle, bool),
}

/// Prints incidents as the pipeline hands them on (`--summary` lines are held to the end).
struct Printer<W: Write> {
    out: Out<W>,
    /// `--summary` lines with the incident's host, in input order.
    summary_lines: Vec<(Option<String>, String)>,
}

impl<W: Write> IncidentSink for Printer<W> {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()> {
        match &mut self.out {
            Out::Json(j) => j.incident(inc, Some(expl)),
            Out::Text(w, style, summary_only) => {
                if *summary_only {
                    // Held until the end: grouped by host when more than one is present.
                    let file = inc.source.file.as_deref().unwrap_or("-");
                    let line = format!(
                        "{}  [{}:{}]",
                        headline(inc, Some(expl)),
                        escape(file),
                        inc.source.first_line
                    );
                    self.summary_lines.push((inc.host.clone(), line));
                    Ok(())
                } else {
                    write_incident(w, inc, Some(expl), *style).and_then(|_| writeln!(w))
                }
            }
        }
    }
}

impl<W: Write> Printer<W> {
    fn finish(self, summary: &Summary) -> io::Result<()> {
        match self.out {
            Out::Json(j) => j.finish(summary).map(drop),
            Out::Text(mut w, _, _) => {
                write_summary(&mut w, &self.summary_lines)?;
                w.flush()
            }
        }
    }
}

/// `--summary`: one line per incident. With incidents of more than one host (a journal
/// directory of several machines, syslog files of several hosts), one group per host under
/// a `host NAME:` heading, hosts sorted by name, incidents in input order within a host, and
/// the incidents whose log printed no host last under `no host:`.
fn write_summary<W: Write>(w: &mut W, lines: &[(Option<String>, String)]) -> io::Result<()> {
    let mut hosts: Vec<Option<&str>> = lines.iter().map(|(h, _)| h.as_deref()).collect();
    // None sorts first; the groups want it last.
    hosts.sort_by_key(|h| (h.is_none(), *h));
    hosts.dedup();
    if hosts.len() <= 1 {
        for (_, line) in lines {
            writeln!(w, "{line}")?;
        }
        return Ok(());
    }
    for (i, host) in hosts.iter().enumerate() {
        let group: Vec<&String> = lines
            .iter()
            .filter(|(h, _)| h.as_deref() == *host)
            .map(|(_, l)| l)
            .collect();
        if i > 0 {
            writeln!(w)?;
        }
        let n = group.len();
        let plural = if n == 1 { "" } else { "s" };
        match host {
            Some(h) => writeln!(w, "host {} ({n} incident{plural}):", escape(h))?,
            None => writeln!(w, "no host ({n} incident{plural}):")?,
        }
        for line in group {
            writeln!(w, "  {line}")?;
        }
    }
    Ok(())
}

fn source_options(args: &ExplainArgs) -> SourceOptions {
    SourceOptions {
        kind: match args.source {
            LiveSource::Auto => SourceKind::Auto,
            LiveSource::Journal => SourceKind::Journal,
            LiveSource::Kmsg => SourceKind::Kmsg,
            LiveSource::Dmesg => SourceKind::Dmesg,
        },
        kmsg_path: args.kmsg_path.clone(),
        journalctl: args.journalctl.clone(),
        dmesg: args.dmesg.clone(),
        root: args.root.clone(),
    }
}

/// A sink's own error (a closed standard output) stays an `io::Error` for main's broken-pipe
/// check; every other error keeps its chain.
fn lift(e: LiveError) -> anyhow::Error {
    match e.into_sink_error() {
        Ok(io) => io.into(),
        Err(e) => e.into(),
    }
}

fn window(args: &ExplainArgs) -> anyhow::Result<Window> {
    let parse = |s: &Option<String>, what| s.as_deref().map(|s| Instant::parse(s, what));
    Ok(Window {
        since: parse(&args.since, "--since").transpose()?,
        until: parse(&args.until, "--until").transpose()?,
    })
}

/// Run `oomlens explain`.
pub fn run(args: &ExplainArgs, color: ColorChoice) -> anyhow::Result<u8> {
    let window = window(args)?;
    let stdout = io::stdout();
    let style = TextStyle {
        color: match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        },
    };
    if let Some(r) = args.recorded.run(args.json, style) {
        return Ok(r?);
    }
    let clock = Clock {
        reference_year: Some(args.year.unwrap_or_else(|| jiff::Zoned::now().year())),
        boot_time_us: None,
    };
    let opts = source_options(args);
    if args.follow {
        return follow(args, &opts, window, style, clock);
    }
    let request = Request {
        files: args.files.clone(),
        journal_dirs: args.journal_dir.clone(),
        format: args.format,
        clock,
    };
    let wrap = |f: File, name: &str, len: u64| -> Box<dyn Read> {
        match Progress::wrap(f, name, len) {
            Ok(p) => Box::new(p),
            Err(f) => Box::new(f),
        }
    };
    // Every input is opened before anything is printed: a bad name fails with no output.
    let inputs = Inputs::open(&request, &opts, &wrap)?;
    let live = inputs.is_live();
    let w = BufWriter::new(stdout.lock());
    let out = if args.json {
        Out::Json(JsonWriter::begin(w)?)
    } else {
        Out::Text(w, style, args.summary)
    };
    let printer = Printer {
        out,
        summary_lines: Vec::new(),
    };
    let mut p = Pipeline::new(printer, window);
    if live {
        p = p.enrich_from(&args.root);
    }
    let (read, read_error) = p.read_all(inputs);
    let read = read.iter().map(|(n, st)| input_summary(n, st)).collect();
    let (printer, counters, sink_error) = p.into_parts();
    if let Some(e) = sink_error {
        return Err(e.into());
    }
    let summary = summary(read, counters, &window);
    printer.finish(&summary)?;
    for warning in &summary.warnings {
        eprintln!("oomlens: warning: {}", escape(warning));
    }
    if let Some(e) = read_error {
        return Err(e.into());
    }
    if summary.incidents == 0 {
        if !args.json {
            let names: Vec<&str> = summary.inputs.iter().map(|i| i.name.as_str()).collect();
            eprintln!(
                "oomlens: no OOM incident found in {}",
                escape(&names.join(", "))
            );
        }
        return Ok(EXIT_NOTHING);
    }
    Ok(EXIT_FOUND)
}

fn summary(inputs: Vec<InputSummary>, c: Counters, window: &Window) -> Summary {
    let mut warnings = Vec::new();
    if c.kmsg_records_lost > 0 {
        warnings.push(format!(
            "/dev/kmsg: {} record(s) were overwritten before they could be read",
            c.kmsg_records_lost
        ));
    }
    if !window.is_open() && c.untimed > 0 {
        warnings.push(format!(
            "{} incident(s) carry no wall-clock time, so --since/--until could not apply to them; they are shown",
            c.untimed
        ));
    }
    Summary {
        inputs,
        incidents: c.incidents,
        filtered_out: c.filtered_out,
        untimed: c.untimed,
        kmsg_records_lost: c.kmsg_records_lost,
        warnings,
    }
}

fn input_summary(name: &str, st: &ReadStats) -> InputSummary {
    InputSummary {
        name: name.to_string(),
        bytes: st.bytes,
        lines: st.lines,
        decoded_lines: st.decoded_lines,
        long_lines: st.long_lines,
        incidents: st.incidents,
    }
}

/// `--follow`: one JSON line or text block per incident, flushed as it comes.
struct FollowPrinter<W: Write> {
    out: W,
    json: bool,
    style: TextStyle,
}

impl<W: Write> IncidentSink for FollowPrinter<W> {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()> {
        if self.json {
            let line = incident_line(inc, Some(expl)).map_err(io::Error::other)?;
            writeln!(self.out, "{line}")?;
        } else {
            write_incident(&mut self.out, inc, Some(expl), self.style)?;
            writeln!(self.out)?;
        }
        self.out.flush()
    }

    fn records_lost(&mut self, n: u64) -> io::Result<()> {
        eprintln!("oomlens: /dev/kmsg: {n} record(s) overwritten before they could be read");
        Ok(())
    }
}

/// `--follow`: new incidents from /dev/kmsg as they are logged.
fn follow(
    args: &ExplainArgs,
    opts: &SourceOptions,
    window: Window,
    style: TextStyle,
    clock: Clock,
) -> anyhow::Result<u8> {
    let mut src = KmsgFollower::open_at_end(&opts.kmsg_path)?;
    let mut parser = Parser::new(Options {
        format: Some(Format::Kmsg),
        clock: Clock {
            boot_time_us: opts.boot_time_us(),
            ..clock
        },
        file: Some("kmsg".into()),
    });
    let printer = FollowPrinter {
        out: io::stdout().lock(),
        json: args.json,
        style,
    };
    let mut p = Pipeline::new(printer, window).enrich_from(&opts.root);
    // /dev/kmsg never ends: this returns only on an error.
    p.follow(&mut src, &mut parser, Duration::from_secs(1))
        .map_err(lift)?;
    Ok(if p.counters().incidents > 0 {
        EXIT_FOUND
    } else {
        EXIT_NOTHING
    })
}
