//! What the guard tells the world besides its recorder: Prometheus metrics served from the
//! loop (`oomlens_sinks::metrics`), systemd's `sd_notify` (READY after the first pass,
//! WATCHDOG at half `WATCHDOG_USEC` (the notifier's interval), STATUS, STOPPING on exit) and one journal entry per
//! incident (`oomlens_sinks::journald` fields through `oomlens_service::journal`).
//!
//! The journal is written only when the guard runs under systemd (`INVOCATION_ID` or
//! `JOURNAL_STREAM` set), so a guard started by hand or by a test does not write to the
//! host's journal. Failures to notify or log are counted and otherwise ignored: the
//! recorder is what must not fail.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use oomlens_analysis::explain::{Explainer, Explanation};
use oomlens_analysis::trend::{eta, trend, LimitRef, TrendConfig};
use oomlens_model::metric_fields::CgroupGauges;
use oomlens_model::Incident;
use oomlens_service::journal::Journal;
use oomlens_service::notify::Notifier;
use oomlens_sinks::journald::{entry, JournalEvent};
use oomlens_sinks::metrics::{GuardMetrics, LabelLimits, MetricsServer};

use crate::error::GuardError;

/// A watched cgroup for the metrics: path, usage over the window `(unix, bytes)`, limit
/// and `memory.high` in bytes (`None`: unlimited), PSI some avg10 in percent.
pub type WatchedGauges = (
    String,
    Vec<(f64, f64)>,
    Option<u64>,
    Option<u64>,
    Option<f64>,
);

/// The metrics, the notifier and the journal, each optional.
pub struct Outputs {
    metrics: GuardMetrics,
    server: Option<MetricsServer>,
    notifier: Option<Notifier>,
    watchdog: Option<(Duration, Instant)>,
    journal: Option<Journal>,
    /// Exported cgroups (to forget those no longer watched).
    exported: Vec<String>,
    /// Notifications or journal entries that could not be sent.
    pub send_errors: u64,
}

impl Outputs {
    /// Bind `listen` (unless `None`), find the notify socket and the journal.
    pub fn new(listen: Option<&str>) -> Result<Outputs, GuardError> {
        let server = match listen {
            Some(addr) => Some(MetricsServer::bind(addr).map_err(|e| GuardError::Io {
                what: format!("the metrics endpoint {addr}"),
                source: std::io::Error::other(e),
            })?),
            None => None,
        };
        let under_systemd = std::env::var_os("INVOCATION_ID").is_some()
            || std::env::var_os("JOURNAL_STREAM").is_some();
        let notifier = Notifier::from_env();
        let watchdog = notifier
            .as_ref()
            .and_then(Notifier::watchdog_interval)
            .map(|d| (d, Instant::now()));
        Ok(Outputs {
            metrics: GuardMetrics::new(LabelLimits::default()),
            server,
            notifier,
            watchdog,
            journal: under_systemd.then(Journal::connect).flatten(),
            exported: Vec::new(),
            send_errors: 0,
        })
    }

    /// The metrics server's fd, to register with epoll.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.server.as_ref().map(|s| s.as_fd())
    }

    /// The address the metrics are served on.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref()?.local_addr().ok()
    }

    /// True while a metrics connection is open (a scrape under way).
    pub fn serving(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.connections() > 0)
    }

    /// True when the metrics responder has work that no new connection announces: a
    /// connection open, or a deadline of its own passed (a paused listener to resume).
    pub fn responder_due(&self, now: Instant) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.connections() > 0 || s.next_deadline().is_some_and(|t| now >= t))
    }

    /// When the loop must wake for the outputs (watchdog, a connection's deadline).
    pub fn next_deadline(&self) -> Option<Instant> {
        let w = self.watchdog.map(|(every, last)| last + every);
        let s = self.server.as_ref().and_then(MetricsServer::next_deadline);
        match (w, s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Serve what is ready on the metrics endpoint and ping the watchdog when due.
    pub fn poll(&mut self) {
        if let Some(s) = self.server.as_mut() {
            if s.serve(&self.metrics).is_err() {
                self.send_errors += 1;
            }
        }
        self.ping_watchdog();
    }

    /// At a timed pass: ping the watchdog if it falls due before the next pass (`ahead`),
    /// so that it never needs a wake-up of its own (it is due every half `WATCHDOG_USEC`,
    /// 15 s for the unit's 30 s; a ping up to one interval early costs nothing).
    pub fn ping_watchdog_within(&mut self, ahead: Duration) {
        if let (Some(n), Some((every, last))) = (&self.notifier, self.watchdog.as_mut()) {
            // With passes as far apart as the pings (or farther), the deadline wakes anyway.
            if ahead < *every && last.elapsed() + ahead >= *every {
                *last = Instant::now();
                if n.watchdog().is_err() {
                    self.send_errors += 1;
                }
            }
        }
    }

    /// Ping the watchdog when due (nothing else: no system call otherwise).
    pub fn ping_watchdog(&mut self) {
        if let (Some(n), Some((every, last))) = (&self.notifier, self.watchdog.as_mut()) {
            if last.elapsed() >= *every {
                *last = Instant::now();
                if n.watchdog().is_err() {
                    self.send_errors += 1;
                }
            }
        }
    }

    /// The first pass is done: READY, and a start entry.
    pub fn ready(&mut self, detail: &str) {
        if let Some(n) = &self.notifier {
            if n.ready().and_then(|()| n.status(detail)).is_err() {
                self.send_errors += 1;
            }
        }
        self.journal(&JournalEvent::GuardStarted {
            version: env!("CARGO_PKG_VERSION"),
            detail,
        });
    }

    /// Stopping: STOPPING, and a stop entry.
    pub fn stopping(&mut self, reason: &str) {
        if let Some(n) = &self.notifier {
            if n.stopping().is_err() {
                self.send_errors += 1;
            }
        }
        self.journal(&JournalEvent::GuardStopped {
            version: env!("CARGO_PKG_VERSION"),
            reason,
        });
    }

    /// An incident from a log, recorded as `record_id` (or not, `None`).
    pub fn incident(&mut self, inc: &Incident, expl: &Explanation, record_id: Option<u64>) {
        self.metrics.incident(inc, expl);
        match record_id {
            Some(_) => self.metrics.incident_recorded(),
            None => self.metrics.record_failed(),
        }
        self.journal(&JournalEvent::Incident {
            incident: inc,
            explanation: Some(expl),
            record_id,
        });
    }

    /// One pre-emption decision: `oomlens_guard_actions_total{action,result}`.
    pub fn preempt_action(&mut self, action: &str, result: &str) {
        self.metrics.action(action, result);
    }

    /// Kills counted in `cgroup` that no log reported; `inc` is their record's incident.
    pub fn counted_only(&mut self, cgroup: &str, inc: &Incident, recorded: bool) {
        let expl = Explainer::new().explain(inc);
        self.metrics.incident(inc, &expl);
        match recorded {
            true => self.metrics.incident_recorded(),
            false => self.metrics.record_failed(),
        }
        self.journal(&JournalEvent::CountedOnly {
            cgroup,
            kills: inc.kills.len() as u64,
        });
    }

    /// The kernel log's running totals.
    pub fn kmsg(&mut self, lost: u64, overruns: u64) {
        self.metrics.kmsg(lost, overruns);
    }

    /// The metrics, for the configured actions' counters (`crate::config_live`).
    pub fn metrics_mut(&mut self) -> &mut GuardMetrics {
        &mut self.metrics
    }

    /// The host's PSI, percent as the kernel prints it.
    pub fn system_pressure(&mut self, some_avg10: Option<f64>) {
        self.metrics
            .system_pressure(some_avg10.map_or(f64::NAN, |p| p / 100.0), f64::NAN);
    }

    /// The gauges of the watched cgroups, from their window: `(path, usage series
    /// (unix, bytes), limit, high, psi some avg10 percent)`.
    pub fn cgroups(&mut self, watched: Vec<WatchedGauges>) {
        let mut now: Vec<String> = Vec::new();
        for (path, usage, max, high, psi) in watched {
            let path = path.as_str();
            let t = trend(&usage, &TrendConfig::default());
            let last = usage.last().map(|&(_, u)| u);
            let seconds_to_limit = match (max, last) {
                (Some(m), Some(u)) => eta(
                    &t,
                    &[LimitRef {
                        name: path.to_string(),
                        headroom: m as f64 - u,
                    }],
                )
                .map(|e| e.seconds),
                _ => None,
            };
            let g = CgroupGauges {
                usage_bytes: last.map(|u| u as u64),
                max_bytes: max,
                high_bytes: high,
                seconds_to_limit,
                pressure_some_avg10: psi.map(|p| p / 100.0),
            };
            self.metrics.cgroup(path, &g);
            now.push(path.to_string());
        }
        for gone in self.exported.iter().filter(|p| !now.contains(p)) {
            self.metrics.forget_cgroup(gone);
        }
        self.exported = now;
    }

    fn journal(&mut self, ev: &JournalEvent<'_>) {
        let Some(j) = &self.journal else {
            return;
        };
        let fields = entry(ev);
        let refs: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        if j.send(&refs).is_err() {
            self.send_errors += 1;
        }
    }
}
