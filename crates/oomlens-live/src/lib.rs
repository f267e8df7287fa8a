//! The live pipeline: pick this host's kernel log (the journal, /dev/kmsg or dmesg), read it
//! once or follow it, parse, explain (with the bounded restart-loop history of
//! `oomlens_analysis::explain::Explainer`), add what the host still knows about each owner,
//! and hand every incident with its explanation to an [`IncidentSink`].
//!
//! It lives outside the binary so that a long-running daemon can follow the kernel log with
//! the same code as `oomlens explain --follow`. It knows nothing of flags or output forms:
//! options come in as plain structs ([`SourceOptions`], [`Window`]) and output goes to the
//! sink the caller implements. Errors are [`LiveError`], naming the source and the problem.
//!
//! Modules: [`source`] picks and opens a live log, [`oneshot`] reads inputs once,
//! [`follow`] reads a live log as it grows, [`pipeline`] explains, enriches, filters and
//! counts, [`window`] is the time window. [`recorded_cmd`] is the exception to "no flags":
//! `oomlens incidents` and `explain --recorded`, which read the guard's store (its doc says why),
//! and [`report_cmd`], `oomlens report`, and [`rank_cmd`], `oomlens rank`, for the same reason.

#![deny(missing_docs)]

pub mod error;
pub mod explain_out;
pub mod follow;
pub mod oneshot;
pub mod pipeline;
pub mod rank_cmd;
pub mod recorded_cmd;
pub mod report_cmd;
pub mod source;
pub mod window;

pub use error::LiveError;
pub use follow::{
    open_follow, Follow, Following, JournalFollower, KmsgFollower, Step, StreamFollower,
};
pub use oneshot::{Inputs, Request};
pub use pipeline::{enrich, Counters, IncidentSink, Pipeline};
pub use source::{LiveLog, Opened, SourceKind, SourceOptions};
pub use window::{Instant, TimeError, Window};
