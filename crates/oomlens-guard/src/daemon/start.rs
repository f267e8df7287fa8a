//! Start-up: flags checked, the store, epoll, signals, the logs and the sampler opened.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use oomlens_live::Pipeline;
use oomlens_sources::sampler::{Sampler, SamplerConfig, SystemClock};
use oomlens_store::recorder::{Options as StoreOptions, Recorder};
use rustix::event::epoll;
use rustix::fs::inotify;

use super::incidents::Explained;
use super::{
    add, Daemon, Stats, TOKEN_DIRS, TOKEN_FILE_INOTIFY, TOKEN_HUP, TOKEN_LOG, TOKEN_METRICS,
    TOKEN_TERM, TOKEN_WATCH_INOTIFY, WINDOW_CGROUPS,
};
use crate::args::GuardArgs;
use crate::dirs::DirWatch;
use crate::error::GuardError;
use crate::klog::LogInput;
use crate::outputs::Outputs;
use crate::record::{HostFacts, Orphans, Signals};
use crate::watch::WatchSet;
use crate::window::Window;

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn signal_pipe(signals: &[i32]) -> Result<UnixStream, GuardError> {
    let (r, w) = UnixStream::pair().map_err(GuardError::io("a signal pipe"))?;
    r.set_nonblocking(true)
        .map_err(GuardError::io("a signal pipe"))?;
    for &s in signals {
        let w = w.try_clone().map_err(GuardError::io("a signal pipe"))?;
        signal_hook::low_level::pipe::register(s, w)
            .map_err(GuardError::io(format!("registering signal {s}")))?;
    }
    Ok(r)
}

impl Daemon {
    /// Open everything `args` names; fails naming what could not be opened.
    pub fn new(args: &GuardArgs) -> Result<Daemon, GuardError> {
        validate(args)?;
        let opts = StoreOptions {
            max_bytes: args.max_bytes,
            max_age: args.max_age,
            sync: !args.no_sync,
            ..StoreOptions::default()
        };
        let mut recorder =
            Recorder::open(&args.state_dir, opts).map_err(|source| GuardError::Store {
                dir: args.state_dir.clone(),
                source,
            })?;
        let _ = recorder.prune(SystemTime::now());
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| GuardError::Io {
            what: "epoll".into(),
            source: e.into(),
        })?;
        let term = signal_pipe(&[libc::SIGTERM, libc::SIGINT])?;
        let hup = signal_pipe(&[libc::SIGHUP])?;
        add(&ep, &term, TOKEN_TERM)?;
        add(&ep, &hup, TOKEN_HUP)?;
        let live = crate::config_live::Live::open(args, &ep)?;
        let mut d = Daemon {
            args: args.clone(),
            window: Window::new(
                args.window.as_secs_f64(),
                args.interval.as_secs_f64(),
                WINDOW_CGROUPS,
            ),
            ep,
            recorder,
            sampler: None,
            cgroupfs: None,
            watches: None,
            dirs: None,
            dirs_followed: 0,
            inputs: Vec::new(),
            data_at: Vec::new(),
            file_inotify: None,
            pipeline: Pipeline::new(Explained::default(), oomlens_live::Window::default())
                .enrich_from(&args.root),
            parsed: Vec::new(),
            signals: Signals::default(),
            orphans: Orphans::default(),
            host: HostFacts {
                host: read_trimmed(&args.root.join("proc/sys/kernel/hostname")),
                boot_id: read_trimmed(&args.root.join("proc/sys/kernel/random/boot_id")),
            },
            term,
            hup,
            start: Instant::now(),
            last_pass: f64::NEG_INFINITY,
            last_prune: 0.0,
            outputs: Outputs::new((!args.no_metrics).then_some(args.listen.as_str()))?,
            journal_pending: false,
            psi_read: Default::default(),
            exported: None,
            stop: false,
            hot_until: f64::NEG_INFINITY,
            live,
            stats: Stats::default(),
            preempt: None,
        };
        d.open_logs()?;
        d.open_sampler()?;
        if d.journal_pending && d.sampler.is_none() {
            d.follow_journal(); // no processes to look at: follow it, as before
        }
        if let Some(fd) = d.outputs.fd() {
            add(&d.ep, &fd, TOKEN_METRICS)?;
        }
        Ok(d)
    }

    pub(super) fn open_logs(&mut self) -> Result<(), GuardError> {
        let boot = oomlens_live::SourceOptions {
            root: self.args.root.clone(),
            ..Default::default()
        }
        .boot_time_us();
        let kmsg = self.args.root.join("dev/kmsg");
        let journalctl = PathBuf::from("journalctl");
        match self.args.log.as_str() {
            "kmsg" => self
                .inputs
                .push(LogInput::kmsg(&kmsg, boot).map_err(GuardError::Log)?),
            "journal" => self
                .inputs
                .push(LogInput::journal(&journalctl, false).map_err(GuardError::Log)?),
            "auto" => {
                self.inputs
                    .push(LogInput::kmsg(&kmsg, boot).map_err(GuardError::Log)?);
                // The userspace killers' lines: the journal is followed once one of them
                // runs as a systemd service (crate::killers; checked at passes).
                self.journal_pending = true;
            }
            file => {
                let path = Path::new(file);
                self.inputs
                    .push(LogInput::file(path).map_err(GuardError::Log)?);
                let ino =
                    inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)
                        .map_err(|e| GuardError::Io {
                        what: "inotify".into(),
                        source: e.into(),
                    })?;
                inotify::add_watch(&ino, path, inotify::WatchFlags::MODIFY).map_err(|e| {
                    GuardError::Io {
                        what: format!("watching {}", path.display()),
                        source: e.into(),
                    }
                })?;
                add(&self.ep, &ino, TOKEN_FILE_INOTIFY)?;
                self.file_inotify = Some(ino);
            }
        }
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(fd) = input.fd() {
                add(&self.ep, &fd, TOKEN_LOG + i as u64)?;
            }
        }
        self.data_at = vec![Instant::now(); self.inputs.len()];
        Ok(())
    }

    pub(super) fn open_sampler(&mut self) -> Result<(), GuardError> {
        let root = self.args.root.clone();
        let layout = oomlens_sources::cgroupfs::detect(&root).map_err(|e| {
            GuardError::Sampler(oomlens_sources::sampler::SamplerError::Hierarchy {
                root: root.clone(),
                source: e,
            })
        })?;
        let Some(mem) = layout.memory else {
            return Ok(()); // no memory cgroups: logs only
        };
        self.cgroupfs = Some(oomlens_sources::cgroupfs::CgroupFs::with_hierarchy(
            mem.clone(),
            oomlens_sources::procfs::host_page_size(),
        ));
        self.sampler = Some(
            Sampler::new(self.sampler_config(), Box::new(SystemClock))
                .map_err(GuardError::Sampler)?,
        );
        let mut ws = WatchSet::new(
            &root,
            mem.version,
            mem.dir.clone(),
            mem.mount_root.clone(),
            self.args.psi_stall,
            self.args.psi_window,
        )
        .map_err(GuardError::io("inotify"))?;
        add(&self.ep, ws.inotify(), TOKEN_WATCH_INOTIFY)?;
        // Without PSI (kernel built without it, `psi=0`) the other sources still work.
        let _ = ws.open_system_psi(&self.ep, &root);
        self.watches = Some(ws);
        self.pressure_cadence();
        // Always there, so that a SIGHUP can bring the first policy (daemon/preempting.rs).
        self.preempt = Some(self.preempter(&root, mem.dir, mem.mount_root, mem.version));
        // Without inotify on the tree, the rolling re-listing still finds new cgroups.
        if let Ok(d) = DirWatch::new(crate::dirs::cap()) {
            add(&self.ep, d.fd(), TOKEN_DIRS)?;
            self.dirs = Some(d);
        }
        Ok(())
    }

    /// The sampler's guard profile, for `--root` and `--cgroup`.
    pub(super) fn sampler_config(&self) -> SamplerConfig {
        let page = oomlens_sources::procfs::host_page_size();
        let mut cfg = SamplerConfig::guard(self.args.root.clone(), page, 256);
        cfg.focus = self.args.cgroup.clone();
        cfg.owner_label = |p| oomlens_analysis::owner::owner_of(p).label();
        cfg
    }
}

pub(super) fn validate(args: &GuardArgs) -> Result<(), GuardError> {
    let bad = |flag, problem: &str| {
        Err(GuardError::Flag {
            flag,
            problem: problem.into(),
        })
    };
    if args.interval < Duration::from_millis(10) {
        return bad("interval", "must be at least 10ms");
    }
    if args.window < args.interval {
        return bad("window", "must be at least one --interval");
    }
    if !(Duration::from_millis(500)..=Duration::from_secs(10)).contains(&args.psi_window) {
        return bad("psi-window", "the kernel accepts 500ms to 10s");
    }
    if args.psi_stall.is_zero() || args.psi_stall > args.psi_window {
        return bad("psi-stall", "must be more than 0 and at most --psi-window");
    }
    if args.report_quiet > Duration::from_secs(10) {
        return bad("report-quiet", "at most 10s: reports would wait too long");
    }
    if !args.cgroup.starts_with('/') {
        return bad("cgroup", "a cgroup path starts with /");
    }
    Ok(())
}
