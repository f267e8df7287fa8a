//! Acting on a pre-emption decision: signalling one process through a pidfd whose identity
//! was checked, SIGTERM then SIGKILL after a grace period, `process_mrelease`, and killing a
//! whole cgroup where that is configured.
//!
//! Why a pidfd: a pid names whoever holds it *now*. Between the sample that chose a target
//! and the signal, the target can exit and its pid go to a new process (earlyoom #205 killed
//! itself that way). [`Target::open`] opens a pidfd first and only then reads
//! `/proc/PID/stat` and `/proc/PID/cgroup`: if their start time or cgroup differ from what was
//! sampled, the pidfd may name a newer process and nothing is sent. Once the check passes the
//! pidfd pins that process: a signal through it can never reach a later holder of the pid.
//!
//! Hard refusals, checked on the pidfd'd process before any signal: PID 1, the caller itself
//! and its children, kernel threads (`PF_KTHREAD`), and pids the caller says are protected.
//!
//! Only Linux. Paths are read from a root (`/proc` by default, [`Procfs`]) so that the parsers
//! can be tested on text; the syscalls need the live kernel.

#![deny(missing_docs)]

mod error;
pub mod kill;
pub mod proc;
pub mod target;
pub mod whole;

pub use error::{ActError, Refusal};
pub use kill::{Kill, Step};
pub use proc::{Procfs, StatFields};
pub use target::{Expected, Guard, Mrelease, Target};
pub use whole::{kill_cgroup, WholeKill};
