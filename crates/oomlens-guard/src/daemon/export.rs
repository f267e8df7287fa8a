//! The metrics' gauges, worked out when scraped (not at each pass): kernel log totals,
//! host pressure, and per watched cgroup its usage trend and seconds to its limit.

use super::Daemon;

impl Daemon {
    /// The gauges as of the latest pass: kernel log totals, host pressure, watched
    /// cgroups; once per pass (and kernel log totals), however many times a scrape wakes
    /// the loop.
    pub(super) fn export(&mut self) {
        let key = (
            self.stats.passes,
            self.stats.records_lost,
            self.stats.overruns,
        );
        if self.exported == Some(key) {
            return;
        }
        self.exported = Some(key);
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
