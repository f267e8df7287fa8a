//! `oomlens explain`: read logs, parse incidents, print them.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use oomlens_analysis::explain::Explainer;
use oomlens_analysis::owner::Owner;
use oomlens_model::Incident;
use oomlens_parse::{parse_reader, Clock, Format, Options, Parser, ReadStats};
use oomlens_sinks::explain_fields::{InputSummary, Summary};
use oomlens_sinks::json::{incident_line, JsonWriter};
use oomlens_sinks::text::{headline, write_incident, TextStyle};
use oomlens_sources::kmsg::{Read1, RECORD_MAX};
use oomlens_sources::owners::OwnerFiles;

use crate::cli::{ColorChoice, ExplainArgs};
use crate::exit::{EXIT_FOUND, EXIT_NOTHING};
use crate::live::{self, KmsgStream, LiveLog};
use crate::progress::Progress;
use crate::timefilter::{Instant, Window};

enum Out<W: Write> {
    Json(JsonWriter<W>),
    Text(W, TextStyle, bool),
}

/// Filters and prints incidents as they arrive.
struct Emitter<W: Write> {
    out: Option<Out<W>>,
    window: Window,
    summary: Summary,
    error: Option<io::Error>,
    explainer: Explainer,
    /// Set when explaining this host's own log: owner details still readable here.
    live_owners: Option<OwnerFiles>,
    /// `--summary` lines with the incident's host, in input order.
    summary_lines: Vec<(Option<String>, String)>,
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
            Some(h) => writeln!(
                w,
                "host {} ({n} incident{plural}):",
                oomlens_sinks::escape::escape(h)
            )?,
            None => writeln!(w, "no host ({n} incident{plural}):")?,
        }
        for line in group {
            writeln!(w, "  {line}")?;
        }
    }
    Ok(())
}

impl<W: Write> Emitter<W> {
    fn incident(&mut self, inc: &Incident) {
        if self.error.is_some() {
            return;
        }
        // Every incident feeds the restart-loop history, also those outside --since/--until.
        let mut expl = self.explainer.explain(inc);
        if let (Some(files), Some(owner)) = (&self.live_owners, expl.owner.as_mut()) {
            enrich(owner, files);
        }
        match self.window.contains(&inc.time) {
            Some(false) => {
                self.summary.filtered_out += 1;
                return;
            }
            None => self.summary.untimed += 1,
            Some(true) => {}
        }
        self.summary.incidents += 1;
        let r = match self.out.as_mut().expect("output open until finish") {
            Out::Json(j) => j.incident(inc, Some(&expl)),
            Out::Text(w, style, summary_only) => {
                if *summary_only {
                    // Held until the end: grouped by host when more than one is present.
                    let file = inc.source.file.as_deref().unwrap_or("-");
                    let line = format!(
                        "{}  [{}:{}]",
                        headline(inc, Some(&expl)),
                        oomlens_sinks::escape::escape(file),
                        inc.source.first_line
                    );
                    self.summary_lines.push((inc.host.clone(), line));
                    Ok(())
                } else {
                    write_incident(w, inc, Some(&expl), *style).and_then(|_| writeln!(w))
                }
            }
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        if !self.window.is_open() && self.summary.untimed > 0 {
            self.summary.warnings.push(format!(
                "{} incident(s) carry no wall-clock time, so --since/--until could not apply to them; they are shown",
                self.summary.untimed
            ));
        }
        match self.out.take().expect("finish once") {
            Out::Json(j) => {
                j.finish(&self.summary)?;
            }
            Out::Text(mut w, _, _) => {
                write_summary(&mut w, &self.summary_lines)?;
                w.flush()?
            }
        }
        for warning in &self.summary.warnings {
            eprintln!(
                "oomlens: warning: {}",
                oomlens_sinks::escape::escape(warning)
            );
        }
        Ok(())
    }
}

fn this_year() -> i16 {
    jiff::Zoned::now().year()
}

/// Run `oomlens explain`.
pub fn run(args: &ExplainArgs, color: ColorChoice) -> anyhow::Result<u8> {
    let window = Window {
        since: args
            .since
            .as_deref()
            .map(|s| Instant::parse(s, "--since"))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| Instant::parse(s, "--until"))
            .transpose()?,
    };
    let stdout = io::stdout();
    let is_tty = stdout.is_terminal();
    let style = TextStyle {
        color: match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        },
    };
    let clock = Clock {
        reference_year: Some(args.year.unwrap_or_else(this_year)),
        boot_time_us: None,
    };
    let format = args.format;

    // Open every input before printing anything: a bad name fails with no output.
    let mut inputs: Vec<(String, Box<dyn Read>, Format, Clock)> = Vec::new();
    let mut live_log = None;
    if args.follow {
        return follow(args, window, style, clock);
    } else if args.files.is_empty() && args.journal_dir.is_empty() {
        let (log, tried) = live::open(args)?;
        let mut c = clock;
        c.boot_time_us = oomlens_sources::procfs::ProcFs::new(&args.root)
            .boot_time_us()
            .ok();
        let fmt = if format == Format::Auto {
            log.format()
        } else {
            format
        };
        live_log = Some((log, fmt, c, tried));
    } else {
        for path in &args.files {
            inputs.push(open_input(path, format, clock)?);
        }
    }
    let mut journals = Vec::new();
    for dir in &args.journal_dir {
        journals.push(live::open_journal_dir(&args.journalctl, dir)?);
    }

    let w = BufWriter::new(stdout.lock());
    let out = if args.json {
        Out::Json(JsonWriter::begin(w)?)
    } else {
        Out::Text(w, style, args.summary)
    };
    let mut em = Emitter {
        out: Some(out),
        window,
        summary: Summary::default(),
        error: None,
        explainer: Explainer::new(),
        live_owners: live_log.is_some().then(|| OwnerFiles::new(&args.root)),
        summary_lines: Vec::new(),
    };

    let mut read_error = None;
    for (name, reader, fmt, clock) in inputs {
        let opts = Options {
            format: Some(fmt),
            clock,
            file: Some(name.clone()),
        };
        match parse_reader(reader, opts, |i| em.incident(&i)) {
            Ok(st) => em.summary.inputs.push(input_summary(&name, st)),
            Err(e) => {
                read_error = Some(anyhow!(e).context(format!("{name}: read failed")));
                break;
            }
        }
    }
    for (name, child) in journals {
        if read_error.is_some() {
            break;
        }
        let opts = Options {
            format: Some(Format::JournalJson),
            clock,
            file: Some(name.clone()),
        };
        match read_child(child, &format!("journalctl -D {name}"), opts, &mut em) {
            Ok(st) => em.summary.inputs.push(input_summary(&name, st)),
            Err(e) => read_error = Some(e),
        }
    }
    if let Some((log, fmt, clock, tried)) = live_log {
        let name = log.name().to_string();
        let opts = Options {
            format: Some(fmt),
            clock,
            file: Some(name.clone()),
        };
        let r = read_live(log, opts, &mut em);
        match r {
            Ok(st) => em.summary.inputs.push(input_summary(&name, st)),
            Err(e) if tried.is_empty() => read_error = Some(e),
            Err(e) => {
                read_error = Some(anyhow!(
                    "no kernel log could be read ({}; {e:#})",
                    tried.join("; ")
                ))
            }
        }
    }
    em.finish()?;
    if let Some(e) = read_error {
        return Err(e);
    }
    if em.summary.incidents == 0 {
        if !args.json {
            let names: Vec<&str> = em.summary.inputs.iter().map(|i| i.name.as_str()).collect();
            eprintln!(
                "oomlens: no OOM incident found in {}",
                oomlens_sinks::escape::escape(&names.join(", "))
            );
        }
        return Ok(EXIT_NOTHING);
    }
    Ok(EXIT_FOUND)
}

/// Add what this host still knows about an owner (unit description, container and pod names).
fn enrich(owner: &mut Owner, files: &OwnerFiles) {
    if let Some(u) = &owner.unit {
        owner.live.unit_description = files.unit_description(u);
    }
    if let Some(uid) = &owner.pod_uid {
        if let Some((ns, name)) = files.pod(uid) {
            owner.live.pod_namespace = Some(ns);
            owner.live.pod_name = Some(name);
        }
    }
    if let Some(id) = &owner.container_id {
        owner.live.container_name = if owner.pod_uid.is_some() {
            files.kube_container(id)
        } else if owner.runtime.as_deref() == Some("docker") {
            files.docker_name(id)
        } else {
            None
        };
    }
}

fn input_summary(name: &str, st: ReadStats) -> InputSummary {
    InputSummary {
        name: name.to_string(),
        bytes: st.bytes,
        lines: st.lines,
        decoded_lines: st.decoded_lines,
        long_lines: st.long_lines,
        incidents: st.incidents,
    }
}

fn open_input(
    path: &Path,
    format: Format,
    clock: Clock,
) -> anyhow::Result<(String, Box<dyn Read>, Format, Clock)> {
    if path.as_os_str() == "-" {
        return Ok(("-".to_string(), Box::new(io::stdin()), format, clock));
    }
    let name = path.display().to_string();
    let f = File::open(path).with_context(|| format!("{name}: cannot open"))?;
    let meta = f
        .metadata()
        .with_context(|| format!("{name}: cannot stat"))?;
    if meta.is_dir() {
        anyhow::bail!("{name}: is a directory, not a log file");
    }
    let reader: Box<dyn Read> = match Progress::wrap(f, &name, meta.len()) {
        Ok(p) => Box::new(p),
        Err(f) => Box::new(f),
    };
    Ok((name, reader, format, clock))
}

fn read_live<W: Write>(
    log: LiveLog,
    opts: Options,
    em: &mut Emitter<W>,
) -> anyhow::Result<ReadStats> {
    match log {
        LiveLog::Kmsg(mut r) => {
            let st = parse_reader(KmsgStream::new(&mut r), opts, |i| em.incident(&i))?;
            em.summary.kmsg_records_lost += r.lost;
            if r.lost > 0 {
                em.summary.warnings.push(format!(
                    "/dev/kmsg: {} record(s) were overwritten before they could be read",
                    r.lost
                ));
            }
            Ok(st)
        }
        LiveLog::Journal(child) | LiveLog::Dmesg(child) => {
            let what = if opts.format == Some(Format::JournalJson) {
                "journalctl"
            } else {
                "dmesg"
            };
            read_child(child, what, opts, em)
        }
    }
}

fn read_child<W: Write>(
    mut child: std::process::Child,
    what: &str,
    opts: Options,
    em: &mut Emitter<W>,
) -> anyhow::Result<ReadStats> {
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    // Drain stderr on a thread so a chatty child cannot block on a full pipe.
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let st = parse_reader(stdout, opts, |i| em.incident(&i))
        .with_context(|| format!("{what}: read failed"))?;
    let status = child
        .wait()
        .with_context(|| format!("{what}: wait failed"))?;
    let err = err_thread.join().unwrap_or_default();
    if !status.success() {
        anyhow::bail!("{what}: {status}: {}", err.trim());
    }
    Ok(st)
}

/// `--follow`: new incidents from /dev/kmsg as they are logged, one JSON line or block each.
fn follow(
    args: &ExplainArgs,
    window: Window,
    style: TextStyle,
    clock: Clock,
) -> anyhow::Result<u8> {
    let mut r = oomlens_sources::kmsg::KmsgReader::open(&args.kmsg_path)?;
    r.seek_end()?;
    let mut clock = clock;
    clock.boot_time_us = oomlens_sources::procfs::ProcFs::new(&args.root)
        .boot_time_us()
        .ok();
    let mut parser = Parser::new(Options {
        format: Some(Format::Kmsg),
        clock,
        file: Some("kmsg".into()),
    });
    let mut buf = vec![0u8; RECORD_MAX];
    let mut out = io::stdout().lock();
    let mut reported_lost = 0;
    let mut explainer = Explainer::new();
    let owner_files = OwnerFiles::new(&args.root);
    loop {
        match r.read(&mut buf, Some(Duration::from_secs(1)))? {
            Read1::Record(n) => {
                for line in buf[..n].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    parser.push_line(line);
                }
            }
            Read1::Idle => parser.idle(),
        }
        if r.lost > reported_lost {
            eprintln!(
                "oomlens: /dev/kmsg: {} record(s) overwritten before they could be read",
                r.lost - reported_lost
            );
            reported_lost = r.lost;
        }
        for inc in parser.take() {
            let mut expl = explainer.explain(&inc);
            if let Some(owner) = expl.owner.as_mut() {
                enrich(owner, &owner_files);
            }
            if window.contains(&inc.time) == Some(false) {
                continue;
            }
            if args.json {
                writeln!(out, "{}", incident_line(&inc, Some(&expl))?)?;
            } else {
                write_incident(&mut out, &inc, Some(&expl), style)?;
                writeln!(out)?;
            }
            out.flush()?;
        }
    }
}
