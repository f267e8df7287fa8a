//! The running configuration inside the guard's loop: protection rules ([`Protector`]) and
//! hooks ([`Hooks`]), read at start and again on SIGHUP. A file that no longer loads is
//! refused with its problems (`FILE:LINE:COLUMN: why`) in the log, and the running
//! configuration is kept whole.
//!
//! The daemon makes one call per event: [`Live::ready`] for the tokens it registered,
//! [`Live::reload`] on SIGHUP, [`Live::tick`] each pass, [`Live::incident`] per record.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

use oomlens_model::metric_fields::{CONFIGURED_HOOKS, CONFIGURED_PROTECT};
use rustix::event::epoll;

use crate::config::{self, Config};
use crate::hooks::{HookEvent, Hooks};
use crate::protect::Protector;
use crate::{GuardArgs, GuardError};

/// epoll token of the proc connector.
pub const TOKEN_PROTECT: u64 = 7;
/// epoll token of the hooks' SIGCHLD pipe.
pub const TOKEN_HOOKS: u64 = 8;

/// The configuration in force and what applies it.
pub struct Live {
    explicit: Option<PathBuf>,
    root: PathBuf,
    /// The configuration in force.
    pub config: Config,
    /// Protection rules applied.
    pub protect: Protector,
    /// Hooks run.
    pub hooks: Hooks,
    /// Reloads refused since start.
    pub reloads_refused: u64,
}

impl Live {
    /// Read the configuration (`--config`, else /etc/oomlens/guard.toml when it exists),
    /// apply the rules once, and register the connector and SIGCHLD with `ep`.
    pub fn open(args: &GuardArgs, ep: &OwnedFd) -> Result<Live, GuardError> {
        let config =
            config::load_default(args.config.as_deref(), &args.root).map_err(GuardError::Config)?;
        let mut protect = Protector::new(&args.root, &config);
        eprintln!(
            "oomlens guard: {}",
            oomlens_sinks::escape::escape(&protect.start())
        );
        let hooks = Hooks::new(&config).map_err(GuardError::io("SIGCHLD for hooks"))?;
        let live = Live {
            explicit: args.config.clone(),
            root: args.root.clone(),
            config,
            protect,
            hooks,
            reloads_refused: 0,
        };
        if let Some(fd) = live.protect.fd() {
            register(ep, fd, TOKEN_PROTECT)?;
        }
        register(ep, live.hooks.fd(), TOKEN_HOOKS)?;
        Ok(live)
    }

    /// One of this module's tokens is ready.
    pub fn ready(&mut self, token: u64) {
        match token {
            TOKEN_PROTECT => self.protect.readable(),
            _ => self.hooks.poll(Instant::now()),
        }
    }

    /// SIGHUP: read the file again; on success the new rules and hooks apply at once,
    /// else the problems are logged and the running configuration is kept. Either way a
    /// full pass applies the rules in force (a HUP also means "re-apply now"). True when the
    /// new file is in force.
    pub fn reload(&mut self) -> bool {
        let cfg = match config::load_default(self.explicit.as_deref(), &self.root) {
            Ok(c) => c,
            Err(e) => {
                self.reloads_refused += 1;
                for line in e.to_string().lines() {
                    eprintln!(
                        "oomlens guard: reload refused, the running configuration is kept: {}",
                        oomlens_sinks::escape::escape(line)
                    );
                }
                let changed = self.protect.scan();
                eprintln!("oomlens guard: protect: re-applied, {changed} processes changed");
                return false;
            }
        };
        let changed = self.protect.reload(&cfg);
        self.hooks.reload(&cfg);
        eprintln!(
            "oomlens guard: reloaded {}: {} protect rules ({changed} processes changed), {} preempt policies, {} hooks",
            oomlens_sinks::escape::escape(&cfg.path.display().to_string()),
            cfg.protect.len(),
            cfg.preempt.len(),
            cfg.hooks.len()
        );
        self.config = cfg;
        true
    }

    /// True when [`Live::tick`] has nothing to do until an event or a record brings some:
    /// no protect rule or applied protection (whose rescan is timed), no hook run.
    pub fn idle(&self) -> bool {
        self.protect.idle() && self.hooks.idle()
    }

    /// The loop's pass: the rescan when due, hook timeouts.
    pub fn tick(&mut self, now: Instant) {
        self.protect.tick(now);
        self.hooks.tick(now);
    }

    /// The counters of protect writes and hook runs (`CONFIGURED_COUNTER_FIELDS`: family 0
    /// `oomlens_protect_writes_total{rule,result}`, 1 `oomlens_hook_runs_total{hook,result}`).
    pub fn export(&self, m: &mut oomlens_sinks::metrics::GuardMetrics) {
        let protect = self.protect.counts.iter().flat_map(|(rule, c)| {
            [("applied", c.applied), ("failed", c.failed)]
                .into_iter()
                .filter(|&(_, n)| n > 0)
                .map(move |(result, n)| (rule.as_str(), result, n))
        });
        m.configured(CONFIGURED_PROTECT, protect);
        // Every configured hook's `ok` series exists from the start, at 0, so that a rise is
        // seen from the first run (what `oomlens drill` checks) and not only a new series.
        let configured = self.hooks.names().map(|h| (h, "ok", 0));
        let hooks = self
            .hooks
            .counts
            .iter()
            .map(|((hook, outcome), n)| (hook.as_str(), outcome.as_str(), *n));
        m.configured(CONFIGURED_HOOKS, configured.chain(hooks));
    }

    /// The earliest moment the loop must wake for this module (a hook's timeout).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.hooks.next_deadline()
    }

    /// A record was written (`id` when the recorder gave one): run its hooks.
    pub fn incident(&mut self, rec: &oomlens_model::recorded::RecordedIncident, id: Option<u64>) {
        let event = HookEvent::of_record(rec, id);
        if event.on.is_none() {
            return;
        }
        match serde_json::to_vec(rec) {
            Ok(json) => self.hooks.fire(&event, &json),
            Err(e) => eprintln!("oomlens guard: hooks: encoding the record: {e}"),
        }
    }
}

fn register(ep: &OwnedFd, fd: impl AsFd, token: u64) -> Result<(), GuardError> {
    epoll::add(
        ep,
        fd,
        epoll::EventData::new_u64(token),
        epoll::EventFlags::IN,
    )
    .map_err(|e| GuardError::Io {
        what: "epoll_ctl".into(),
        source: e.into(),
    })
}
