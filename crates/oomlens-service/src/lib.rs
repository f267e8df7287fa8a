//! Running as a systemd service: the `sd_notify` protocol (`READY=1`, `WATCHDOG=1`,
//! `STATUS=…`, `STOPPING=1`) in [`notify`], and the journal's native protocol for
//! structured entries (one `MESSAGE_ID` per incident kind, `OOMLENS_*` fields) in
//! [`journal`].
//!
//! Both are a few datagrams on a Unix socket; each module says why it is hand-written
//! rather than taken from a crate. Neither knows anything about incidents: what fields an
//! incident becomes is `oomlens-sinks`' `journald` module.

#![deny(missing_docs)]

pub mod journal;
pub mod notify;
