//! Outputs: human text and versioned JSON documents for incidents (`explain`) and OOM
//! domains (`rank`), and the progress line of long reads (`progress`).
//!
//! Sinks never read the system; they only format what the model holds. The one exception
//! is `metrics`' `/metrics` responder, which answers scrapes over a socket handed the
//! encoded text, and still reads nothing of the host.

#![deny(missing_docs)]

pub mod escape;
pub mod explain_fields;
pub mod journald;
pub mod json;
pub mod metrics;
pub mod progress;
pub mod rank;
pub mod rank_rules;
pub mod recorded;
pub mod text;
pub mod top;
