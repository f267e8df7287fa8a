//! Outputs: human text and versioned JSON documents for incidents (`explain`) and OOM
//! domains (`rank`).
//!
//! Sinks never read the system; they only format what the model holds.

#![deny(missing_docs)]

pub mod escape;
pub mod explain_fields;
pub mod journald;
pub mod json;
pub mod rank;
pub mod text;
pub mod top;
