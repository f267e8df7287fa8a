//! The sampler, the history it feeds and the analysis of both, as `oomlens top` and its
//! TUI use them.

use oomlens_analysis::owner::owner_of;
use oomlens_analysis::top::{analyse, TopInput};
use oomlens_model::top::{ProcessScope, TopDoc};
use oomlens_sources::procfs;
use oomlens_sources::sampler::{Clock, Sampler, SamplerConfig, SamplerError};
use oomlens_store::{Series, Store};

use super::TopArgs;

/// The sampler, the history it feeds, and the analysis of both.
pub struct Live {
    pub(super) sm: Sampler,
    pub(super) store: Store,
    interval: f64,
}

impl Live {
    /// A sampler as `args` ask, timed by `clock`, holding at most `hold_files` files.
    pub(super) fn new(
        args: &TopArgs,
        clock: Box<dyn Clock + Send>,
        hold_files: usize,
    ) -> Result<Live, SamplerError> {
        let page = args.page_size.unwrap_or_else(procfs::host_page_size);
        let mut cfg = SamplerConfig::new(args.root.clone(), page, hold_files);
        cfg.focus = args.cgroup.clone().unwrap_or_else(|| "/".into());
        cfg.owner_label = |path| owner_of(path).label();
        if args.full {
            cfg.full_every = 1;
        }
        Ok(Live {
            sm: Sampler::new(cfg, clock)?,
            store: Store::new(args.window),
            interval: args.interval,
        })
    }

    /// One pass, recorded.
    pub(super) fn tick(&mut self) -> Result<(), SamplerError> {
        self.sm.tick()?;
        self.store.record(self.sm.last(), self.sm.vanished());
        Ok(())
    }

    /// The document of the last pass with the processes of `scope`.
    pub(super) fn analyse(&self, scope: ProcessScope<'_>) -> TopDoc {
        let sm = &self.sm;
        let processes = match scope {
            ProcessScope::All => sm.processes(),
            ProcessScope::Cgroup(path) => sm.processes_of(path),
            ProcessScope::None => Vec::new(),
        };
        let input = TopInput {
            sample: sm.last(),
            ancestors: sm.ancestors(),
            processes,
            store: &self.store,
            focus: sm.focus(),
            version: sm.version(),
            started: sm.started(),
            owner: &|path| sm.owner_label(path),
            deleted: sm.deleted(),
        };
        analyse(input, self.interval)
    }
}

impl oomlens_tui::Feed for Live {
    type Error = SamplerError;
    fn tick(&mut self) -> Result<(), SamplerError> {
        Live::tick(self)
    }
    fn analyse(&self, scope: ProcessScope<'_>) -> TopDoc {
        Live::analyse(self, scope)
    }
    fn process_history(&self, pid: u32) -> Vec<f64> {
        self.store
            .process(pid)
            .map_or_else(Vec::new, |s| s.values(Series::TOTAL))
    }
}
