//! When a log line was written, in every form a log may carry it.

use serde::{Deserialize, Serialize};

/// The time of one log line. Logs carry different clocks, so each is kept separately and
/// only what was printed (or is exactly derivable, see [`LogTime::utc`]) is filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTime {
    /// Microseconds since boot: the kernel's own clock (`[ 12.345678]`, the kmsg `usec`
    /// field, journal monotonic timestamps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monotonic_us: Option<u64>,
    /// Wall-clock time as printed, without a zone, ISO 8601 (`2024-09-03T05:57:48`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// True when the log did not print the year and it was inferred (journal short form,
    /// classic syslog).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub year_inferred: bool,
    /// The absolute instant, RFC 3339 in UTC, when the log carried one (journal JSON,
    /// RFC 3339 syslog) or the reader knew the boot time of a live kernel log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc: Option<String>,
}

impl LogTime {
    /// True when no clock at all was printed.
    pub fn is_empty(&self) -> bool {
        self.monotonic_us.is_none() && self.local.is_none() && self.utc.is_none()
    }
}
