//! Pre-emption decisions recorded as incidents of kind `oomlens-guard`: the guard's own line
//! (`crate::preempt::log_line`) on stderr, parsed as `oomlens explain` reads it, and recorded
//! with the decision's numbers beside it (`decision_json`) through the same path as a kernel
//! kill (recorder, metrics by kind, the journal's `guard-preempt` MESSAGE_ID).

use oomlens_analysis::explain::Explainer;

use super::Daemon;

impl Daemon {
    /// Logs and records the decisions made since the last call.
    pub(super) fn record_preemptions(&mut self) {
        let Some(p) = self.preempt.as_mut() else {
            return;
        };
        for m in std::mem::take(&mut p.made) {
            let Some(line) = crate::preempt::log_line(&m) else {
                continue;
            };
            eprintln!("{line}");
            self.outputs
                .preempt_action(crate::preempt::action_of(&m), &m.result);
            let text = format!("{line}\n");
            let parsed = oomlens_parse::parse_bytes(text.as_bytes(), Default::default());
            let Some(inc) = parsed.into_iter().next() else {
                continue;
            };
            let expl = Explainer::new().explain(&inc);
            let json = oomlens_sinks::json::incident_line(&inc, Some(&expl)).ok();
            self.record(
                inc,
                &expl,
                json,
                vec![line],
                "oomlens-guard",
                Some(m.to_json()),
            );
        }
    }
}
