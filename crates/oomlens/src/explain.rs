//! `oomlens explain`: maps the flags onto the live pipeline (crate oomlens-live), prints
//! what it hands on with the text or JSON writer, and picks the exit status.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read};
use std::time::Duration;

use oomlens_live::explain_out::{input_summary, summary, FollowPrinter, Out, Printer};
use oomlens_live::{
    Inputs, Instant, KmsgFollower, LiveError, Pipeline, Request, SourceKind, SourceOptions, Window,
};
use oomlens_parse::{Clock, Format, Options, Parser};
use oomlens_sinks::escape::escape;
use oomlens_sinks::json::JsonWriter;
use oomlens_sinks::progress::Progress;
use oomlens_sinks::text::TextStyle;

use crate::cli::{ColorChoice, ExplainArgs, LiveSource};
use crate::exit::{EXIT_FOUND, EXIT_NOTHING};

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
    let printer = Printer::new(out);
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
