//! Progress on standard error for long inputs, only when standard error is a terminal.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Inputs smaller than this finish too fast to need a progress line.
const MIN_BYTES: u64 = 64 << 20;

/// A reader that reports how much of `total` bytes it has passed on.
pub struct Progress<R> {
    inner: R,
    name: String,
    total: u64,
    done: u64,
    last: Instant,
    shown: bool,
}

impl<R: Read> Progress<R> {
    /// Wrap `inner` when `total` is large and stderr is a terminal; else `None`.
    pub fn wrap(inner: R, name: &str, total: u64) -> Result<Progress<R>, R> {
        if total < MIN_BYTES || !io::stderr().is_terminal() {
            return Err(inner);
        }
        Ok(Progress {
            inner,
            name: crate::escape::escape(name).into_owned(),
            total,
            done: 0,
            last: Instant::now(),
            shown: false,
        })
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if n == 0 || self.last.elapsed() >= Duration::from_millis(250) {
            self.last = Instant::now();
            let pct = self.done * 100 / self.total.max(1);
            let mut e = io::stderr().lock();
            if n == 0 {
                if self.shown {
                    let _ = write!(e, "\r\x1b[2K");
                }
            } else {
                let _ = write!(
                    e,
                    "\r\x1b[2K{}: {pct}% ({} of {} MiB)",
                    self.name,
                    self.done >> 20,
                    self.total >> 20
                );
                self.shown = true;
            }
            let _ = e.flush();
        }
        Ok(n)
    }
}
