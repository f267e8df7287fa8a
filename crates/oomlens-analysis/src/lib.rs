//! Pure analysis over the model: the kernel's victim choice, cgroup ownership, and the
//! explanation of incidents. No I/O: every function takes data and returns data.

#![deny(missing_docs)]

pub mod badness;
pub mod domains;
pub mod explain;
pub mod explanation;
pub mod finding_codes;
mod history;
pub mod owner;
pub mod preempt;
pub mod protect_rules;
pub mod rank_rules;
pub mod timeline;
pub mod top;
pub mod trend;
pub mod victim;
