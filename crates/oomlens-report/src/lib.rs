//! `oomlens report`: one incident (or several kills of one owner) as a shareable document —
//! a self-contained HTML page (no external asset, readable offline, printable), Markdown for
//! a ticket, or one chart alone as SVG or PNG.
//!
//! A sink: it takes incidents already parsed and explained (and, for incidents the guard
//! recorded, the record with the minutes before the kill) and writes documents. It never
//! reads logs, /proc or the store; `oomlens_live::report_cmd` does that and hands a
//! [`Report`] over.
//!
//! Modules: [`series`] turns a report into chart data (pure), [`chart`] draws it with
//! plotters and the bundled font ([`font`]), [`facts`] the text sections shared by
//! [`html`] and [`markdown`].

#![deny(missing_docs)]

pub mod chart;
pub mod facts;
pub mod font;
pub mod html;
pub mod markdown;
pub mod series;

use oomlens_analysis::explain::Explanation;
use oomlens_model::recorded::RecordedIncident;
use oomlens_model::Incident;

pub use chart::{available, render_chart, ChartFormat, ChartKind};
pub use html::write_html;
pub use markdown::write_markdown;

/// One incident of a report.
#[derive(Debug, Clone)]
pub struct ReportIncident {
    /// The parsed incident.
    pub incident: Incident,
    /// Its explanation (owner, ranking, findings, advice).
    pub explanation: Explanation,
    /// The report's log lines as read (untrusted: escaped by every writer).
    pub raw: Vec<String>,
    /// Where it came from, for the reader: `kern.log:1-107` or `record 3 of /var/lib/oomlens`.
    pub origin: String,
    /// When it happened, Unix seconds, where the log or the record says: the common time
    /// axis of several kills.
    pub unix: Option<f64>,
    /// The guard's record of it (record id and record), with the minutes before the kill.
    pub recorded: Option<(u64, Box<RecordedIncident>)>,
}

/// What a report holds: its incidents, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The incidents.
    pub incidents: Vec<ReportIncident>,
}

/// Errors of the writers.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output could not be written.
    #[error("cannot write the report")]
    Io(#[from] std::io::Error),
    /// plotters failed to draw a chart.
    #[error("cannot draw the {chart} chart: {message}")]
    Draw {
        /// Which chart.
        chart: &'static str,
        /// plotters' error text.
        message: String,
    },
    /// The chart asked for has no data in this report (e.g. `memory` without a recording).
    #[error("the report has no {0} chart: {1}")]
    NoChart(&'static str, &'static str),
    /// PNG encoding failed.
    #[error("cannot encode the PNG")]
    Png(#[from] png::EncodingError),
}
