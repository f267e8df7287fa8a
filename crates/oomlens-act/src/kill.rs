//! SIGTERM, the grace period, SIGKILL, `process_mrelease`: a small state machine the guard's
//! loop drives (the pidfd in its epoll set for the exit, the deadline as its timeout).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::target::{Mrelease, Target};
use crate::ActError;

/// Where a kill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// SIGTERM sent; SIGKILL at the deadline unless it exits first.
    Terminated {
        /// When SIGKILL is due.
        deadline: Instant,
    },
    /// SIGKILL sent (and `process_mrelease` tried).
    Killed {
        /// What `process_mrelease` did.
        mrelease: Mrelease,
    },
    /// The process has exited.
    Exited,
}

/// One kill in progress.
#[derive(Debug)]
pub struct Kill {
    target: Target,
    step: Step,
    /// When SIGTERM (or SIGKILL with no grace) was sent.
    pub signalled_at: Instant,
    /// When SIGKILL was sent, if it was.
    pub killed_at: Option<Instant>,
    /// When the exit was seen.
    pub exited_at: Option<Instant>,
}

impl Kill {
    /// Sends SIGTERM, or SIGKILL at once (then `process_mrelease`) when `grace` is zero.
    pub fn start(target: Target, grace: Duration, now: Instant) -> Result<Kill, ActError> {
        let mut k = Kill {
            target,
            step: Step::Exited,
            signalled_at: now,
            killed_at: None,
            exited_at: None,
        };
        if grace.is_zero() {
            k.sigkill(now)?;
        } else {
            k.target.signal(Signal::TERM)?;
            k.step = Step::Terminated {
                deadline: now + grace,
            };
        }
        Ok(k)
    }

    fn sigkill(&mut self, now: Instant) -> Result<(), ActError> {
        match self.target.signal(Signal::KILL) {
            Ok(()) => {}
            Err(ActError::Gone(_)) => {
                self.step = Step::Exited;
                self.exited_at = Some(now);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.killed_at = Some(now);
        let mrelease = self.target.mrelease()?;
        self.step = Step::Killed { mrelease };
        Ok(())
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// When [`Kill::advance`] must be called next even without an event.
    pub fn deadline(&self) -> Option<Instant> {
        match self.step {
            Step::Terminated { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Moves on: the exit seen (call on the pidfd's EPOLLIN or at any time), or SIGKILL when
    /// the grace period is over.
    pub fn advance(&mut self, now: Instant) -> Result<Step, ActError> {
        if self.step != Step::Exited && self.target.exited()? {
            self.step = Step::Exited;
            self.exited_at = Some(now);
        }
        if let Step::Terminated { deadline } = self.step {
            if now >= deadline {
                self.sigkill(now)?;
            }
        }
        Ok(self.step)
    }
}

impl AsFd for Kill {
    /// The target's pidfd (EPOLLIN when it exits).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.target.as_fd()
    }
}

/// Seconds between two instants, for records.
pub fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}
