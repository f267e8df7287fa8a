//! Outputs: human text and versioned JSON documents for incidents (`explain`) and OOM
//! domains (`rank`).
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
pub mod rank;
pub mod recorded;
pub mod text;
pub mod top;
