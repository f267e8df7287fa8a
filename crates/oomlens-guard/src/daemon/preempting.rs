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

impl Daemon {
    /// The pre-emption state for the configuration in force (no policy yet is fine: a
    /// reload may bring the first).
    pub(super) fn preempter(
        &self,
        root: &std::path::Path,
        mem_dir: std::path::PathBuf,
        mount_root: String,
        version: oomlens_model::CgroupVersion,
    ) -> crate::preempt::Preempter {
        let cfg = &self.live.config;
        let mut p = crate::preempt::Preempter::new(
            cfg.preempt.iter().map(|e| e.policy.clone()).collect(),
            root,
            mem_dir,
            mount_root,
            version,
            self.args.dry_run,
        );
        p.set_rules(cfg.protect.clone());
        p
    }

    /// SIGHUP: the configuration read again ([`crate::config_live::Live::reload`]); when the
    /// file loaded, its `[[preempt]]` policies and `[[protect]]` rules replace the running
    /// ones in the pre-emption too, else those keep running.
    pub(super) fn reload_config(&mut self) {
        if !self.live.reload() {
            return;
        }
        let Some(p) = self.preempt.as_mut() else {
            return;
        };
        let cfg = &self.live.config;
        let policies = cfg.preempt.iter().map(|e| e.policy.clone()).collect();
        let n = p.reload(&self.ep, policies, cfg.protect.clone());
        eprintln!(
            "oomlens guard: preempt: reloaded: {} policies, {n} cgroups matched",
            p.len()
        );
    }
}
