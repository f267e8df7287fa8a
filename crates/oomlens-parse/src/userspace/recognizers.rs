//! The table of userspace wordings: every non-kernel message is offered to these rows in
//! order until one takes it. Adding a killer's wording is adding its function and one row
//! here (and one row in `tests/wordings.rs`); see the README, "Where to add a log form".

use std::collections::VecDeque;

use crate::assemble::KernelAssembler;
use crate::envelope::Envelope;
use crate::userspace::earlyoom;
use crate::userspace::guard;
use crate::userspace::kubelet;
use crate::userspace::notices;
use crate::userspace::oomd;
use crate::userspace::state::{Msg, UserAssembler};

/// Which messages a row is offered, by the syslog identifier of their envelope (`None`
/// when the form carries none, e.g. a pasted message body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Any message.
    Anyone,
    /// No identifier, or one starting with this text.
    IdentPrefix(&'static str),
    /// No identifier, or PID 1's / a user manager's `systemd`.
    Systemd,
    /// Any message that is neither the kernel's nor systemd's (systemd prints `Killing
    /// process N (comm) with signal SIGKILL.` when it stops units).
    NotKernelOrSystemd,
}

impl Offered {
    fn accepts(self, ident: Option<&str>) -> bool {
        match self {
            Offered::Anyone => true,
            Offered::IdentPrefix(p) => ident.is_none_or(|i| i.starts_with(p)),
            Offered::Systemd => ident.is_none_or(|i| i == "systemd" || i.starts_with("systemd[")),
            Offered::NotKernelOrSystemd => {
                !ident.is_some_and(|i| i == "kernel" || i.starts_with("systemd"))
            }
        }
    }
}

/// One row: a wording (or a group of one killer's wordings read by one function).
pub(crate) struct Recognizer {
    /// Name used by the test rows (`tests/wordings.rs`) and in messages.
    pub(crate) name: &'static str,
    /// Which messages it is offered.
    pub(crate) from: Offered,
    /// True when it took the message (later rows are not tried); false also for rows that
    /// only keep state for the rows after them.
    pub(crate) recognize: fn(&mut UserAssembler, &mut Msg<'_, '_>) -> bool,
}

/// Every userspace wording, in the order they are tried.
pub(crate) const RECOGNIZERS: &[Recognizer] = &[
    Recognizer {
        name: "systemd-oomd",
        from: Offered::IdentPrefix("systemd-oomd"),
        recognize: oomd::recognize,
    },
    Recognizer {
        name: "systemd unit notice",
        from: Offered::Systemd,
        recognize: notices::recognize,
    },
    Recognizer {
        name: "oomlens guard",
        from: Offered::NotKernelOrSystemd,
        recognize: guard::recognize,
    },
    Recognizer {
        name: "earlyoom",
        from: Offered::NotKernelOrSystemd,
        recognize: earlyoom::recognize,
    },
    Recognizer {
        name: "kubectl pod document and describe headers",
        from: Offered::Anyone,
        recognize: kubelet::pod_and_describe_headers,
    },
    Recognizer {
        name: "containerd TaskOOM",
        from: Offered::Anyone,
        recognize: kubelet::containerd_task_oom,
    },
    Recognizer {
        name: "kubectl describe containers",
        from: Offered::Anyone,
        recognize: kubelet::describe_containers,
    },
    Recognizer {
        name: "kubernetes exit code",
        from: Offered::Anyone,
        recognize: kubelet::exit_code,
    },
    Recognizer {
        name: "kubelet Evicted event",
        from: Offered::Anyone,
        recognize: kubelet::evicted_event,
    },
    Recognizer {
        name: "kubelet SystemOOM",
        from: Offered::Anyone,
        recognize: kubelet::system_oom,
    },
    Recognizer {
        name: "kubectl get pods OOMKilled",
        from: Offered::Anyone,
        recognize: kubelet::get_pods_row,
    },
    Recognizer {
        name: "kubernetes OOMKilled status",
        from: Offered::Anyone,
        recognize: kubelet::container_status,
    },
];

/// The names of the userspace wording rows, in the order they are tried (the test rows in
/// `tests/wordings.rs` check that each has at least one).
pub fn recognizer_names() -> impl Iterator<Item = &'static str> {
    RECOGNIZERS.iter().map(|r| r.name)
}

/// The name of the row that takes `msg` when it arrives alone, without an envelope, before
/// any other line; `None` when no row takes it.
pub fn recognizer_of(msg: &str) -> Option<&'static str> {
    let mut u = UserAssembler::default();
    let mut kernel = KernelAssembler::default();
    let mut hold = VecDeque::new();
    let env = Envelope::default();
    let mut m = Msg {
        line: 1,
        env: &env,
        raw: msg,
        t: msg.trim(),
        kernel: &mut kernel,
        hold: &mut hold,
    };
    RECOGNIZERS
        .iter()
        .find(|r| (r.recognize)(&mut u, &mut m))
        .map(|r| r.name)
}

/// Offer a message to the rows in order; true when one took it.
pub(super) fn recognize(u: &mut UserAssembler, ident: Option<&str>, m: &mut Msg<'_, '_>) -> bool {
    RECOGNIZERS
        .iter()
        .any(|r| r.from.accepts(ident) && (r.recognize)(u, m))
}
