//! The writers behind `oomlens explain`: the one-shot printer (text, `--summary` grouped by
//! host, or one JSON document), the `--follow` printer (one block or JSON line per incident,
//! flushed as it comes), and the run summary built from the pipeline's counters.

use std::io::{self, Write};

use oomlens_analysis::explain::Explanation;
use oomlens_model::Incident;
use oomlens_parse::ReadStats;
use oomlens_sinks::escape::escape;
use oomlens_sinks::explain_fields::{InputSummary, Summary};
use oomlens_sinks::json::{incident_line, JsonWriter};
use oomlens_sinks::text::{headline, write_incident, TextStyle};

use crate::{Counters, IncidentSink, Window};

/// Where the one-shot printer writes.
pub enum Out<W: Write> {
    /// One `oomlens.explain/1` document.
    Json(JsonWriter<W>),
    /// Text blocks; `true`: `--summary` lines only.
    Text(W, TextStyle, bool),
}

/// Prints incidents as the pipeline hands them on (`--summary` lines are held to the end).
pub struct Printer<W: Write> {
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
    /// A printer writing to `out`.
    pub fn new(out: Out<W>) -> Self {
        Printer {
            out,
            summary_lines: Vec::new(),
        }
    }

    /// Ends the output: the JSON document's summary, or the held `--summary` lines.
    pub fn finish(self, summary: &Summary) -> io::Result<()> {
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

/// The run's summary: what each input held, the counters, and the warnings to print.
pub fn summary(inputs: Vec<InputSummary>, c: Counters, window: &Window) -> Summary {
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

/// One input's line of the summary.
pub fn input_summary(name: &str, st: &ReadStats) -> InputSummary {
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
pub struct FollowPrinter<W: Write> {
    /// Where incidents go.
    pub out: W,
    /// One JSON line per incident instead of text.
    pub json: bool,
    /// Colour or not.
    pub style: TextStyle,
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
