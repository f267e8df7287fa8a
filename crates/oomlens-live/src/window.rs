//! A time window over incidents (`--since` / `--until`): parse a user's time and compare it
//! with incident times.

use jiff::{civil::DateTime, tz::TimeZone, Timestamp, ToSpan};
use oomlens_model::LogTime;

/// Why a time could not be read. `what` names where it came from (a flag such as
/// `--since`), `input` is the text as given, trimmed.
#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    /// `-Nu` with no number before the unit.
    #[error("{what} {input:?}: expected a number before the unit")]
    Number {
        /// Where the time came from.
        what: String,
        /// The text.
        input: String,
        /// Why the number did not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// `-Nu` with a unit other than s, m, h, d.
    #[error("{what} {input:?}: unit must be s, m, h or d")]
    Unit {
        /// Where the time came from.
        what: String,
        /// The text.
        input: String,
    },
    /// Neither a relative time, RFC 3339, nor a local date and time.
    #[error("{what} {input:?}: not a time (use 2024-05-01 10:00, RFC 3339, or -2h)")]
    NotATime {
        /// Where the time came from.
        what: String,
        /// The text.
        input: String,
        /// Why the local date and time did not parse.
        #[source]
        source: jiff::Error,
    },
    /// The time is out of range, or has no instant in the local time zone.
    #[error(transparent)]
    Range(#[from] jiff::Error),
}

/// An instant given by a user.
#[derive(Debug, Clone, Copy)]
pub struct Instant {
    ts: Timestamp,
}

impl Instant {
    /// Parse RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` (local time), or `-2h` / `-30m` / `-1d`
    /// (ago, from now). `what` names the input in errors.
    pub fn parse(s: &str, what: &str) -> Result<Instant, TimeError> {
        let s = s.trim();
        if let Some(ago) = s.strip_prefix('-') {
            let (n, unit) =
                ago.split_at(ago.find(|c: char| !c.is_ascii_digit()).unwrap_or(ago.len()));
            let n: i64 = n.parse().map_err(|source| TimeError::Number {
                what: what.into(),
                input: s.into(),
                source,
            })?;
            let span = match unit {
                "s" => n.seconds(),
                "m" | "min" => n.minutes(),
                "h" => n.hours(),
                "d" => n.hours() * 24,
                _ => {
                    return Err(TimeError::Unit {
                        what: what.into(),
                        input: s.into(),
                    })
                }
            };
            return Ok(Instant {
                ts: Timestamp::now().checked_sub(span)?,
            });
        }
        if let Ok(ts) = s.parse::<Timestamp>() {
            return Ok(Instant { ts });
        }
        let dt: DateTime = s
            .parse::<DateTime>()
            .or_else(|_| {
                s.parse::<jiff::civil::Date>()
                    .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            })
            .map_err(|source| TimeError::NotATime {
                what: what.into(),
                input: s.into(),
                source,
            })?;
        let ts = dt.to_zoned(TimeZone::system())?.timestamp();
        Ok(Instant { ts })
    }
}

/// Where an incident time falls against a bound.
pub fn instant_of(t: &LogTime) -> Option<Timestamp> {
    if let Some(u) = &t.utc {
        return u.parse().ok();
    }
    let local: DateTime = t.local.as_deref()?.parse().ok()?;
    local
        .to_zoned(TimeZone::system())
        .ok()
        .map(|z| z.timestamp())
}

/// A time window; both bounds optional.
#[derive(Debug, Default, Clone, Copy)]
pub struct Window {
    /// Inclusive start.
    pub since: Option<Instant>,
    /// Exclusive end.
    pub until: Option<Instant>,
}

impl Window {
    /// True when no bound is set.
    pub fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// `Some(true)` inside, `Some(false)` outside, `None` when the incident has no wall time.
    pub fn contains(&self, t: &LogTime) -> Option<bool> {
        if self.is_open() {
            return Some(true);
        }
        let ts = instant_of(t)?;
        Some(self.since.is_none_or(|s| ts >= s.ts) && self.until.is_none_or(|u| ts < u.ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_compares_utc_and_rejects_nonsense() {
        let w = Window {
            since: Some(Instant::parse("2024-05-01T10:00:00Z", "--since").unwrap()),
            until: Some(Instant::parse("2024-05-01T11:00:00Z", "--until").unwrap()),
        };
        let t = |s: &str| LogTime {
            utc: Some(s.into()),
            ..LogTime::default()
        };
        assert_eq!(w.contains(&t("2024-05-01T10:30:00Z")), Some(true));
        assert_eq!(w.contains(&t("2024-05-01T11:00:00Z")), Some(false));
        assert_eq!(
            w.contains(&LogTime {
                monotonic_us: Some(5),
                ..LogTime::default()
            }),
            None
        );
        assert!(Instant::parse("yesterday-ish", "--since")
            .unwrap_err()
            .to_string()
            .contains("--since"));
        assert!(Instant::parse("-2h", "--since").is_ok());
        assert!(Instant::parse("-2y", "--since").is_err());
    }

    #[test]
    fn errors_name_the_input_and_keep_the_cause() {
        let e = Instant::parse(" -xh ", "--until").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--until \"-xh\": expected a number before the unit"
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = Instant::parse("-3w", "--since").unwrap_err();
        assert_eq!(e.to_string(), "--since \"-3w\": unit must be s, m, h or d");
    }
}
