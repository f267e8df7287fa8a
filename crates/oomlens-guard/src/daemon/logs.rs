//! The logs: drained when readable (or at each pass for a followed file), the journal
//! followed once a userspace killer runs as a service.

use std::path::PathBuf;
use std::time::Instant;

use oomlens_sinks::escape::escape;
use rustix::event::epoll;

use super::{add, error_chain, Daemon, TOKEN_LOG};
use crate::error::GuardError;
use crate::klog::{Drained, LogInput};

impl Daemon {
    pub(super) fn drain(&mut self, i: usize) -> Result<(), GuardError> {
        let mut d = Drained::default();
        let ended = self.inputs[i]
            .drain(&mut self.parsed, &mut d)
            .map_err(GuardError::Log)?;
        if d.lines > 0 {
            self.data_at[i] = Instant::now();
        }
        self.stats.lines += d.lines;
        self.stats.records_lost += d.lost;
        self.stats.overruns += d.overruns;
        if d.lost > 0 {
            eprintln!(
                "oomlens guard: {}: {} record(s) overwritten before they could be read",
                self.inputs[i].name, d.lost
            );
        }
        if ended {
            // journalctl went away: its pipe must not wake the loop again.
            if let Some(fd) = self.inputs[i].fd() {
                let _ = epoll::delete(&self.ep, fd);
            }
            eprintln!("oomlens guard: {} ended", self.inputs[i].name);
        }
        Ok(())
    }

    pub(super) fn drain_files(&mut self) -> Result<(), GuardError> {
        for i in 0..self.inputs.len() {
            if self.inputs[i].fd().is_none() {
                self.drain(i)?;
            }
        }
        Ok(())
    }

    /// Starts following the journal for the userspace killers' lines (`--log auto`); without
    /// journalctl the guard goes on with /dev/kmsg alone, as at start.
    pub(super) fn follow_journal(&mut self) {
        self.journal_pending = false;
        let Ok(j) = LogInput::journal(&PathBuf::from("journalctl"), true) else {
            return;
        };
        let token = TOKEN_LOG + self.inputs.len() as u64;
        if let Some(fd) = j.fd() {
            if let Err(e) = add(&self.ep, &fd, token) {
                eprintln!("oomlens guard: {}", escape(&error_chain(&e)));
                return;
            }
        }
        self.inputs.push(j);
        self.data_at.push(Instant::now());
    }
}
