//! The metrics of each timed pass.

use super::Daemon;

impl Daemon {
    /// The metrics of this pass: kernel log totals, host pressure, watched cgroups.
    pub(super) fn export(&mut self) {
        self.outputs
            .kmsg(self.stats.records_lost, self.stats.overruns);
        let psi = self.sampler.as_ref().and_then(|s| s.last().psi_some_avg10);
        self.outputs.system_pressure(psi);
        self.live.export(self.outputs.metrics_mut());
        let Some(ws) = self.watches.as_mut() else {
            return;
        };
        let window = &self.window;
        let watched: Vec<_> = ws
            .iter_mut()
            .filter_map(|(_, w)| {
                let (usage, max, high, psi) = window.gauges(&w.path)?;
                Some((w.path.to_string(), usage, max, high, psi))
            })
            .collect();
        self.outputs.cgroups(watched);
    }
}
