//! Plain typed facts about memory incidents, as the logs and the kernel printed them.
//!
//! This crate holds data only: no I/O, no parsing, no workspace dependencies. Every field
//! that a log did not print is `None`; nothing here is guessed. Values that can be derived
//! (victim size in MiB, the kill's share of a limit, ...) are computed by readers of the
//! model, not stored.

#![deny(missing_docs)]

mod cgroup;
pub mod cgroup_path;
pub mod drill;
pub mod fields;
mod incident;
pub mod incident_fields;
pub mod metric_fields;
pub mod recorded;
pub mod recorded_fields;
mod sample;
mod snapshot;
mod time;
pub mod top;

pub use cgroup::*;
pub use incident::*;
pub use sample::*;
pub use snapshot::*;
pub use time::LogTime;
