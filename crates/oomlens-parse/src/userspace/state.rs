//! The state of the userspace recognizers, shared by the modules of each killer: the
//! assembler's fields, one message being offered, and a systemd-oomd action being read.

use std::collections::VecDeque;

use oomlens_model::{Incident, LogTime, Notice, OomdTrigger};

use crate::assemble::KernelAssembler;
use crate::envelope::Envelope;
use crate::podstatus::PodDoc;

/// Lines within which systemd-oomd's `attempting to kill` lines, PID 1's notices and the
/// summary line (`Killed`, `Marked`, `Failed to kill any`) of one action arrive.
pub(crate) const OOMD_WINDOW: u64 = 64;

/// One systemd-oomd action being read: the processes it named, and PID 1's notices that
/// arrived before its summary line.
#[derive(Debug)]
pub(crate) struct OomdPending {
    pub(crate) pids: Vec<u32>,
    pub(crate) notices: Vec<Notice>,
    pub(crate) first_line: u64,
    pub(crate) last_line: u64,
    pub(crate) time: LogTime,
    pub(crate) host: Option<String>,
}

impl OomdPending {
    pub(crate) fn new(line: u64, env: &Envelope) -> OomdPending {
        OomdPending {
            pids: Vec::new(),
            notices: Vec::new(),
            first_line: line,
            last_line: line,
            time: env.time.clone(),
            host: env.host.clone(),
        }
    }
}

/// One message offered to the recognizers.
pub(crate) struct Msg<'a, 'k> {
    /// Its input line.
    pub(crate) line: u64,
    /// Its envelope.
    pub(crate) env: &'a Envelope,
    /// The message as printed (kubectl's indentation matters).
    pub(crate) raw: &'a str,
    /// The message trimmed.
    pub(crate) t: &'a str,
    /// The kernel assembler, whose open incident a witness may join.
    pub(crate) kernel: &'k mut KernelAssembler,
    /// Closed incidents not yet passed on.
    pub(crate) hold: &'k mut VecDeque<Incident>,
}

/// State of the userspace recognizers.
#[derive(Debug, Default)]
pub struct UserAssembler {
    /// Processes from `oomd attempting to kill <pid>` waiting for their summary line.
    pub(crate) oomd: Option<OomdPending>,
    /// The last debug `Memory pressure for …` line of systemd-oomd and its line.
    pub(crate) oomd_trigger: Option<(OomdTrigger, u64)>,
    /// Last `Name:` of a `kubectl describe pod` and its line.
    pub(crate) describe_pod: Option<(String, u64)>,
    /// The container name seen in a describe's `Containers:` block and its line.
    pub(crate) describe_container: Option<(String, u64)>,
    /// The last `Container ID:` of a describe, without its `runtime://` scheme.
    pub(crate) describe_container_id: Option<(String, u64)>,
    /// Inside the `Containers:` section of a describe.
    pub(crate) in_containers: bool,
    /// The last exit code seen (describe `Exit Code:` or yaml `exitCode:`) and its line.
    pub(crate) exit_code: Option<(i32, u64)>,
    /// A `kubectl get pod -o yaml|json` document being read.
    pub(crate) pod: PodDoc,
    /// systemd-oomd's `Killed <cgroup>` cut before its ` due to …` (a wrapped paste): its
    /// line, envelope and text, waiting for the rest on the next line.
    pub(crate) oomd_cut: Option<(u64, Envelope, String)>,
}
