//! oomlens-audit: finds memory settings that turn a leak or a spike into an outage, in
//! systemd units and Kubernetes manifests, and writes the systemd fix.
//!
//! | module | job |
//! |---|---|
//! | [`unit`] | unit names and the unit-file syntax |
//! | [`loader`] | search paths, fragments, aliases, templates and drop-ins below a root (I/O) |
//! | [`settings`] | a unit's effective settings with the file:line of each |
//! | [`systemd_rules`] | the systemd rules (pure) |
//! | [`yaml`] | YAML/JSON streams as line-numbered trees, with size limits |
//! | [`k8s`] | workloads, QoS, LimitRange defaults and the Kubernetes rules |
//! | [`size`] | sizes, spans and quantities parsed as systemd, Kubernetes, the JVM and Go do |
//! | [`finding`] | the rule registry and findings |
//! | [`report`] | the text, JSON (`oomlens.audit/1`) and SARIF outputs |
//! | [`fix`] | the drop-in `oomlens fix` writes, the live peak, the atomic write |
//! | [`command`] | what `oomlens audit` and `oomlens fix` do, without their flags |
//!
//! [`audit_systemd`] (module `systemd`) runs the systemd audit; [`AuditError`] (module
//! `error`) is its error type.
//!
//! Rules are pure functions over already-read settings; reading files is the loader's and
//! the caller's job, so tests feed rules plain values and trees in temporary directories.

#![deny(missing_docs)]

pub mod command;
mod error;
pub mod finding;
pub mod fix;
pub mod k8s;
pub mod loader;
pub mod report;
pub mod settings;
pub mod size;
mod systemd;
pub mod systemd_rules;
pub mod unit;
pub mod yaml;

pub use error::AuditError;
pub use systemd::{audit_systemd, user_manager_oom_score_adjust, SystemdAudit};
