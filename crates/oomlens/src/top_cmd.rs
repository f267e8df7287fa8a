//! `oomlens top`: live memory per cgroup and process, with trend, leak detection and the time
//! left to the nearest limit. Wiring only: the sampler is `oomlens_sources::sampler`, the
//! history `oomlens_store`, the analysis `oomlens_analysis::top`, the table and the JSON
//! document (schema `oomlens.top/1`, its fields in `oomlens_model::top`)
//! `oomlens_sinks::top`, the TUI `oomlens_tui`.
//!
//! Outputs: the TUI on a terminal; a plain table with `--once` or when stdout is no
//! terminal; `--json`, one document per tick (JSON Lines; with `--once`, one document after
//! `--samples` ticks). Exit status: 0, or 2 on errors.

mod bench;
mod live;

pub use live::Live;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use oomlens_model::top::ProcessScope;
use oomlens_sinks::top::{write_json, write_table};
use oomlens_sources::procfs;
use oomlens_sources::sampler::SystemClock;

/// Usage files are held open up to the open-file limit less this many.
pub const FDS_KEPT_FREE: usize = 1024;

/// `oomlens top` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens top                                     # the TUI on a terminal, a table on a pipe
  oomlens top --once                              # one table after three samples
  oomlens top --json --count 5 --interval 0.5     # one JSON document per tick
  oomlens top --once --json --root /srv/snapshot  # a copied or fake /proc and /sys tree

EXIT STATUS:
  0  done (--once, --count, or q / Ctrl-C in the TUI)
  2  an error occurred (the message names the file)")]
pub struct TopArgs {
    /// Print one plain table (or with --json one document) after --samples ticks, then exit.
    #[arg(long)]
    pub once: bool,
    /// Print JSON (schema oomlens.top/1): one document per tick, or one with --once.
    #[arg(long)]
    pub json: bool,
    /// Seconds between samples.
    // A negative number reaches the positive-number check in `run` instead of being taken
    // for a flag ("unexpected argument '-1'").
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "1",
        allow_negative_numbers = true
    )]
    pub interval: f64,
    /// Only this memory cgroup and its descendants (the path as in /proc/PID/cgroup).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// The root of the /proc and /sys trees to read (a copy or a fake tree).
    #[arg(long, value_name = "DIR", default_value = procfs::DEFAULT_ROOT, value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,
    /// Ticks sampled before --once prints (rates need at least two).
    #[arg(long, value_name = "N", default_value = "3")]
    pub samples: usize,
    /// Stop after this many ticks (JSON stream and table modes).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Samples kept per series: the trend's window.
    #[arg(long, value_name = "N", default_value = "60")]
    pub window: usize,
    /// The page size of the machine the tree comes from; default: this host's.
    #[arg(long, value_name = "BYTES", hide_short_help = true)]
    pub page_size: Option<u64>,
    /// Benchmark: run this many sample passes as fast as possible and print the CPU time
    /// per pass to stderr.
    #[arg(long, value_name = "N", hide = true)]
    pub bench_passes: Option<u32>,
    /// Benchmark: seconds between the starts of passes (0: back to back).
    #[arg(long, value_name = "SECONDS", hide = true, default_value = "0")]
    pub bench_pace: f64,
    /// Read every cgroup and process in full on every tick (no change-driven skipping).
    #[arg(long, hide_short_help = true)]
    pub full: bool,
}

/// The soft limit of open files raised to the hard one; returns the soft limit then.
fn raise_nofile() -> usize {
    // SAFETY: an all-zero rlimit is valid; getrlimit fills it.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `rl` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    if rl.rlim_cur < rl.rlim_max {
        let want = libc::rlimit {
            rlim_cur: rl.rlim_max,
            rlim_max: rl.rlim_max,
        };
        // SAFETY: `want` is a valid rlimit; raising the soft limit up to the hard one
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX)
}

/// Runs `oomlens top`.
pub fn run(args: &TopArgs) -> anyhow::Result<u8> {
    if !(args.interval > 0.0 && args.interval.is_finite()) {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    let hold = raise_nofile().saturating_sub(FDS_KEPT_FREE);
    let mut live = Live::new(args, Box::new(SystemClock), hold)?;
    if let Some(n) = args.bench_passes {
        return bench::bench(&mut live, n.max(2), args).map(|_| 0);
    }
    let interval = Duration::from_secs_f64(args.interval);
    if !args.once && !args.json && io::stdout().is_terminal() {
        oomlens_tui::run(live, interval)?;
        return Ok(0);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut next = Instant::now();
    let mut ticks = 0u64;
    let samples = args.samples.max(1) as u64;
    loop {
        live.tick()?;
        ticks += 1;
        // A plain table on a pipe is one table: like --once.
        let done = (args.once || !args.json) && ticks >= samples;
        if done || (!args.once && args.json) {
            let doc = live.analyse(ProcessScope::All);
            match args.json {
                true => write_json(&mut out, &doc)?,
                false => write_table(&mut out, &doc)?,
            }
            out.flush()?;
            if done {
                return Ok(0);
            }
        }
        if args.count.is_some_and(|c| ticks >= c) {
            return Ok(0);
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_model::fields::Record;
    use oomlens_model::top::{Class, TopDoc};
    use oomlens_sources::sampler::ManualClock;
    use oomlens_testkit::faketree::{leaky_v1, set_v1_usage as set_usage, FakeTree, Status};
    use std::path::Path;

    /// `top` on `root` (the whole tree, or `focus`) with a window of `window`, every
    /// cgroup read in full every tick when `full`, and a manual clock at 0.
    fn live(root: &Path, focus: Option<&str>, window: usize, full: bool) -> (Live, ManualClock) {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            top: TopArgs,
        }
        let mut argv = vec![
            "top".to_string(),
            "--root".into(),
            root.display().to_string(),
        ];
        argv.extend([
            "--window".into(),
            window.to_string(),
            "--page-size".into(),
            "4096".into(),
        ]);
        if let Some(f) = focus {
            argv.extend(["--cgroup".into(), f.into()]);
        }
        if full {
            argv.push("--full".into());
        }
        let args = Cli::parse_from(argv).top;
        let clock = ManualClock::new(1_700_000_000.0, 0.0);
        (
            Live::new(&args, Box::new(clock.clone()), 4096).unwrap(),
            clock,
        )
    }

    /// One tick, a second after the last.
    fn tick(live: &mut Live, clock: &ManualClock) {
        clock.advance(1.0);
        live.tick().unwrap();
    }

    fn fake(tag: &str) -> FakeTree {
        leaky_v1(&format!("top-{tag}"))
    }

    /// The JSON contract on a fake tree whose `/svc/leaky` grows 1 MiB per (fixed) second:
    /// a leak, named anon, with an ETA to its own limit.
    #[test]
    fn json_snapshot_of_a_leak_on_a_fake_tree() {
        let t = fake("json");
        let (mut live, clock) = live(t.root(), None, 60, false);
        for i in 0..12u64 {
            set_usage(&t, "/svc/leaky", (8 + i) << 20);
            tick(&mut live, &clock);
        }
        let doc = live.analyse(ProcessScope::All);
        assert_eq!(
            doc.unix, 1_700_000_012.0,
            "the wall-clock time of the last sample"
        );
        let leaky = doc.cgroups.iter().find(|c| c.path == "/svc/leaky").unwrap();
        assert_eq!(leaky.trend.class, Class::Leak);
        assert_eq!(leaky.growth, Some("anon"));
        let eta = leaky.eta.as_ref().unwrap();
        assert_eq!(eta.limit, "memory.limit_in_bytes of /svc/leaky");
        assert!((eta.seconds - 29.0).abs() < 0.01, "{eta:?}");
        // Mounts come from the host's statvfs of nothing: none in this tree.
        let mut json = Vec::new();
        write_json(&mut json, &doc).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["mounts"] = serde_json::json!([]);
        insta::assert_json_snapshot!("top_fake_leak", v);
        let mut text = Vec::new();
        write_table(&mut text, &doc).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("/svc/leaky") && text.contains("leak") && text.contains("29s"),
            "{text}"
        );
    }

    #[test]
    fn focus_reads_ancestor_limits() {
        let t = fake("focus");
        let (mut live, clock) = live(t.root(), Some("/svc/idle"), 60, false);
        for i in 0..10u64 {
            set_usage(&t, "/svc/idle", (1 + i) << 20);
            set_usage(&t, "/svc", (40 + i) << 20);
            tick(&mut live, &clock);
        }
        let doc = live.analyse(ProcessScope::All);
        assert_eq!(doc.cgroups.len(), 1);
        let e = doc.cgroups[0].eta.as_ref().unwrap();
        // /svc/idle has no limit: /svc's 64 MiB with 49 MiB used is nearest, 15 s away.
        assert_eq!(e.limit, "memory.limit_in_bytes of /svc");
        assert!((e.seconds - 15.0).abs() < 0.5, "{e:?}");
    }

    #[test]
    fn rings_are_bounded_and_vanished_series_dropped() {
        let t = fake("ring");
        let (mut live, clock) = live(t.root(), None, 5, true);
        for _ in 0..12 {
            tick(&mut live, &clock);
        }
        let paths = ["/", "/svc", "/svc/leaky", "/svc/idle"];
        assert!(paths
            .iter()
            .all(|p| live.store.cgroup(p).unwrap().len() == 5));
        assert_eq!(live.store.process(4242).unwrap().len(), 5);
        std::fs::remove_dir_all(t.root().join("proc/4242")).unwrap();
        std::fs::remove_dir_all(t.root().join("sys/fs/cgroup/memory/svc/idle")).unwrap();
        tick(&mut live, &clock);
        assert!(live.store.process(4242).is_none());
        assert!(live.store.cgroup("/svc/idle").is_none());
        assert_eq!(live.store.counts(), (3, 0, 0));
    }

    /// Every key path of `v` (dotted; list elements under `list[]`) with the record type
    /// that owns it, checked against that record's field table.
    fn walk(
        v: &serde_json::Value,
        at: &str,
        allowed: &dyn Fn(&str, &str) -> bool,
        seen: &mut Vec<String>,
    ) {
        let Some(map) = v.as_object() else { return };
        for (k, val) in map {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            assert!(allowed("", &path), "JSON key {path} is in no field table");
            seen.push(path.clone());
            match val {
                serde_json::Value::Array(items) => {
                    for item in items {
                        let Some(obj) = item.as_object() else {
                            continue;
                        };
                        for (ik, iv) in obj {
                            walk_record(&path, ik, iv, allowed, seen);
                        }
                    }
                }
                serde_json::Value::Object(_) => walk(val, &path, allowed, seen),
                _ => {}
            }
        }
    }

    fn walk_record(
        list: &str,
        key: &str,
        v: &serde_json::Value,
        allowed: &dyn Fn(&str, &str) -> bool,
        seen: &mut Vec<String>,
    ) {
        assert!(
            allowed(list, key),
            "JSON key {list}[].{key} is in no field table"
        );
        seen.push(format!("{list}[].{key}"));
        if let Some(map) = v.as_object() {
            for (k, val) in map {
                walk_record(list, &format!("{key}.{k}"), val, allowed, seen);
            }
        }
    }

    fn names<R: Record>() -> Vec<String> {
        let mut v = Vec::new();
        for f in R::fields() {
            // A nested field allows its objects' keys too.
            let parts: Vec<&str> = f.name.split('.').collect();
            for k in 1..=parts.len() {
                v.push(parts[..k].join("."));
            }
        }
        v
    }

    fn columns<R: Record>() -> Vec<&'static str> {
        R::fields().iter().filter_map(|f| f.column).collect()
    }

    /// The registry is the only source of names: every key of `top --json` (a fake-tree
    /// run with a leak, plus a mount and a deleted file so that every list has a row) is a
    /// field of its record's table and every field shows up; every column title of the
    /// text table and of the TUI is a field's column.
    #[test]
    fn every_json_key_and_column_comes_from_the_field_tables() {
        use oomlens_model::top::{CgroupRow, MountRow, ProcessRow, TOP_LISTS};
        use oomlens_model::DeletedOpenFile;
        let t = fake("registry");
        let (mut live, clock) = live(t.root(), None, 60, false);
        for i in 0..12u64 {
            set_usage(&t, "/svc/leaky", (8 + i) << 20);
            // Its process grows with it, so that it has an ETA too.
            t.process(4242)
                .status(&Status::new("leaky").anon_kib((8 + i) << 10));
            tick(&mut live, &clock);
        }
        let mut doc = live.analyse(ProcessScope::All);
        assert!(doc.processes[0].eta.is_some(), "{:?}", doc.processes);
        doc.mounts.push(oomlens_model::top::MountRow {
            mount_point: "/dev/shm".into(),
            fstype: "tmpfs".into(),
            total: 1 << 30,
            used: 1 << 20,
            avail: 1023 << 20,
            trend: doc.cgroups[0].trend,
            eta: doc.cgroups[0].eta.clone(),
        });
        doc.deleted_open_files.push(DeletedOpenFile {
            pid: 4242,
            comm: "leaky".into(),
            fd: 3,
            path: "/dev/shm/x".into(),
            size: 4096,
            mount: Some("/dev/shm".into()),
        });
        let mut json = Vec::new();
        write_json(&mut json, &doc).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let tables: Vec<(&str, Vec<String>)> = vec![
            ("", {
                let mut n = names::<TopDoc>();
                n.extend(TOP_LISTS.iter().map(|(l, _)| l.to_string()));
                n
            }),
            ("cgroups", names::<CgroupRow>()),
            ("processes", names::<ProcessRow>()),
            ("mounts", names::<MountRow>()),
            ("deleted_open_files", names::<DeletedOpenFile>()),
        ];
        let allowed = |list: &str, key: &str| {
            tables
                .iter()
                .any(|(l, names)| *l == list && names.iter().any(|n| n == key))
        };
        let mut seen = Vec::new();
        walk(&v, "", &allowed, &mut seen);
        for (list, names) in &tables {
            for n in names {
                let path = if list.is_empty() {
                    n.clone()
                } else {
                    format!("{list}[].{n}")
                };
                assert!(seen.contains(&path), "field {path} is not in the JSON");
            }
        }

        let mut text = Vec::new();
        write_table(&mut text, &doc).unwrap();
        let text = String::from_utf8(text).unwrap();
        let header = |first: &str| -> Vec<String> {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(first))
                .unwrap();
            line.split_whitespace().map(str::to_string).collect()
        };
        let check = |got: Vec<String>, cols: Vec<&str>, what: &str| {
            assert!(got.len() >= 6, "{what}: {got:?}");
            for g in got {
                assert!(
                    cols.contains(&g.as_str()),
                    "{what} column {g} is in no field table"
                );
            }
        };
        check(header("CGROUP"), columns::<CgroupRow>(), "cgroup table");
        check(header("PID"), columns::<ProcessRow>(), "process table");
        check(header("MOUNT"), columns::<MountRow>(), "mount table");
        let memory = text.lines().next().unwrap();
        for c in columns::<TopDoc>() {
            assert!(memory.contains(&format!("{c} ")), "{memory}");
        }
        let tui: Vec<String> = oomlens_tui::cgroup_header()
            .iter()
            .flat_map(|h| h.split('/').map(str::to_string).collect::<Vec<_>>())
            .filter(|h| !h.is_empty())
            .collect();
        check(tui, columns::<CgroupRow>(), "TUI cgroup table");
        check(
            oomlens_tui::process_header(),
            columns::<ProcessRow>(),
            "TUI process table",
        );
    }
}
