//! `oomlens guard`: a long-running, event-driven daemon that records every OOM kill with
//! the minutes before it.
//!
//! It only wires sources to sinks: the kernel log through the live pipeline
//! (`oomlens_live`), cgroup events and PSI triggers ([`watch`]), the budgeted sampler
//! (`oomlens_sources::sampler`) into an in-RAM window ([`window`]), and on each incident
//! one record ([`record`]) appended to the flight recorder (`oomlens_store::recorder`).
//! The loop ([`daemon`]) is one thread over one epoll instance.
//!
//! Modules: [`args`] (flags, declared once), [`config`] (the TOML configuration),
//! [`config_live`] (the configuration in force, SIGHUP), [`protect`] (oom_score_adj rules),
//! [`hooks`] (programs run on incidents), [`daemon`] (the loop, split by job: start-up, logs, sampling, incidents, export), [`klog`] (the logs
//! read non-blocking), [`outputs`] (metrics, sd_notify, journal), [`preempt`] (the `[[preempt]]` policies: thresholds, decisions, signals), [`preempt_v2`] (what wakes a v2 decision between passes: a fast poll near the line, `memory.events`, PSI), [`watch`] (which cgroups are watched, and how), [`window`] (the
//! in-RAM window), [`record`] (what a record holds, kills without a report), [`exec`] (`oomlens guard` as
//! the small `oomlens-guard` binary), [`error`].

#![deny(missing_docs)]

pub mod args;
pub mod config;
mod config_check;
pub mod config_live;
pub mod config_schema;
pub mod daemon;
pub mod dirs;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod killers;
pub mod klog;
pub mod outputs;
pub mod preempt;
pub mod preempt_v2;
pub mod protect;
pub mod record;
pub mod watch;
pub mod window;

pub use args::{GuardArgs, EXIT_ERROR, EXIT_STOPPED};
pub use error::GuardError;

/// `oomlens guard`: with `--check-config`, check the file, print its problems on stderr
/// and return 0 (valid) or [`EXIT_ERROR`]; otherwise [`run`] and return [`EXIT_STOPPED`].
pub fn main(args: &GuardArgs) -> Result<u8, GuardError> {
    let Some(path) = &args.check_config else {
        return run(args).map(|()| EXIT_STOPPED);
    };
    match config::load(path) {
        Ok(_) => Ok(EXIT_STOPPED),
        Err(config::ConfigError::Invalid(p)) => {
            let text = p.to_string();
            for line in text.lines() {
                eprintln!("{}", oomlens_sinks::escape::escape(line));
            }
            Ok(EXIT_ERROR)
        }
        Err(e) => Err(GuardError::Config(e)),
    }
}

/// Run the guard until SIGTERM or SIGINT. An error at start (store, log, cgroup tree) or a
/// log that fails for good is returned; exit with [`EXIT_ERROR`] then.
pub fn run(args: &GuardArgs) -> Result<(), GuardError> {
    daemon::Daemon::new(args)?.run()
}
