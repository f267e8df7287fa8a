//! Outputs for incidents: human text and the versioned JSON document.
//!
//! Sinks never read the system; they only format what the model holds.

#![deny(missing_docs)]

pub mod escape;
pub mod explain_fields;
pub mod json;
pub mod text;
pub mod top;
