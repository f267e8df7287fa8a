//! `oomlens rank`: who the kernel would kill next, per OOM domain.
//!
//! Reads a snapshot below `--root` (`oomlens_sources::snapshot`), builds the domains with
//! `oomlens_analysis::domains::build` (the same badness function `explain` re-scores printed
//! task tables with), picks those asked for, and prints them most endangered first with
//! `oomlens_sinks::rank` (text, or one JSON document whose format is documented there).
//! With `--config FILE` (the guard's configuration, loaded by the caller, which owns the
//! guard's config reader) the domains are ranked after the `[[protect]]` rules' adj values
//! (`oomlens_analysis::rank_rules`, the guard's own matcher) and each domain's choice before
//! and after is shown (`oomlens_sinks::rank_rules`). Exit status: 0 when a printed domain
//! has a victim, 1 when none has, 2 on errors (an unreadable file, an unknown cgroup or pid).
//!
//! Like [`crate::recorded_cmd`] it holds its flags: the binary's line budget has no room for
//! a command's logic.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use oomlens_analysis::domains::{self, Domain};
use oomlens_analysis::protect_rules::{self, ProcFacts, ProtectRule};
use oomlens_model::{cgroup_path, Snapshot};
use oomlens_sinks::rank::{write_json, write_text, RankReport};
use oomlens_sources::procfs;
use oomlens_sources::snapshot::read_snapshot;

/// Exit status: a victim was found in a domain shown.
pub const EXIT_FOUND: u8 = 0;
/// Exit status: no domain shown has a process the kernel could kill.
pub const EXIT_NOTHING: u8 = 1;

/// Why `rank` could not answer; each names its input.
#[derive(Debug, thiserror::Error)]
pub enum RankError {
    /// `--page-size` is not a power of two.
    #[error("--page-size {0} is not a power of two")]
    PageSize(u64),
    /// The snapshot could not be read.
    #[error("reading a snapshot below {root}")]
    Snapshot {
        /// `--root`.
        root: String,
        /// The cause (names the file).
        #[source]
        source: oomlens_sources::SourceError,
    },
    /// `--cgroup` without a memory cgroup hierarchy.
    #[error("no memory cgroup hierarchy is mounted below {0}")]
    NoHierarchy(String),
    /// `--cgroup` names no memory cgroup.
    #[error("no memory cgroup {path:?} below {root}")]
    NoCgroup {
        /// `--root`.
        root: String,
        /// The path asked for.
        path: String,
    },
    /// `--pid` names no process.
    #[error("no process {pid} below {root}")]
    NoPid {
        /// `--root`.
        root: String,
        /// The pid asked for.
        pid: u32,
    },
    /// Standard output could not be written.
    #[error("writing the report")]
    Output(#[from] io::Error),
}

/// `oomlens rank` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
EXAMPLES:
  oomlens rank                                    # every OOM domain of this machine
  oomlens rank --pid 1234                         # if pid 1234's memory runs out, who dies
  oomlens rank --cgroup / --json                  # the machine's domain, as JSON
  oomlens rank --config /etc/oomlens/guard.toml   # who dies once the guard's protect rules apply

EXIT STATUS:
  0  a victim was found in a domain shown
  1  no domain has a process the kernel could kill
  2  an error occurred (the message names the file)")]
pub struct RankArgs {
    /// Only the OOM domain of this memory cgroup (the path as in /proc/PID/cgroup). For a
    /// cgroup without a limit, the domains that contain it.
    #[arg(long, value_name = "PATH", conflicts_with = "pid")]
    pub cgroup: Option<String>,
    /// Only the domains this process lives in: if memory runs out there, what dies first?
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Print one JSON document (schema oomlens.rank/1) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The root of the /proc and /sys trees to read (a copy or a fake tree).
    #[arg(long, value_name = "DIR", default_value = procfs::DEFAULT_ROOT, value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,
    /// The page size of the machine the tree comes from; default: this host's.
    #[arg(long, value_name = "BYTES", hide_short_help = true)]
    pub page_size: Option<u64>,
    /// The guard's configuration: rank as the kernel would once its `[[protect]]` rules have
    /// set their oom_score_adj, and show each domain's victim before and after. Default:
    /// none (the adj values as they are).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
}

/// Runs `oomlens rank` on standard output; `rules` are `--config`'s `[[protect]]` rules
/// (none without it).
pub fn run(args: &RankArgs, rules: &[ProtectRule]) -> Result<u8, RankError> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = run_to(args, rules, &mut out)?;
    out.flush()?;
    Ok(code)
}

/// What a rule looks at for `t`: comm, memory cgroup and its unit from the snapshot, the
/// exe read below `root` only when a rule names one.
fn facts(root: &std::path::Path, need_exe: bool, t: &oomlens_model::Task) -> ProcFacts {
    let exe = need_exe
        .then(|| std::fs::read_link(root.join(format!("proc/{}/exe", t.pid))).ok())
        .flatten()
        .map(|p| p.to_string_lossy().into_owned());
    ProcFacts {
        start: t.start_time,
        comm: t.comm.clone(),
        exe,
        cgroup: t.memcg.clone(),
        unit: t
            .memcg
            .as_deref()
            .and_then(|c| oomlens_analysis::owner::owner_of(c).unit),
    }
}

/// Runs `oomlens rank`, writing to `out`.
pub fn run_to(
    args: &RankArgs,
    rules: &[ProtectRule],
    out: &mut dyn Write,
) -> Result<u8, RankError> {
    let page_size = args.page_size.unwrap_or_else(procfs::host_page_size);
    if page_size == 0 || !page_size.is_power_of_two() {
        return Err(RankError::PageSize(page_size));
    }
    let cgroup = args.cgroup.as_deref().map(cgroup_path::normalize);
    let mut snap = read_snapshot(&args.root, page_size, cgroup.as_deref()).map_err(|source| {
        RankError::Snapshot {
            root: args.root.display().to_string(),
            source,
        }
    })?;
    let mut all = domains::build(&snap.system);
    let mut effects = None;
    if args.config.is_some() {
        let (need_exe, _) = protect_rules::needs(rules);
        let root = args.root.clone();
        let (after, matched) =
            oomlens_analysis::rank_rules::apply(&snap.system, rules, |t| facts(&root, need_exe, t));
        let now = std::mem::replace(&mut all, domains::build(&after));
        let before = std::mem::replace(&mut snap.system, after);
        let shown = select(args, &snap, &all, cgroup.as_deref())?;
        effects = Some(oomlens_analysis::rank_rules::effects(
            &now, &shown, &before, &matched,
        ));
    }
    let shown = select(args, &snap, &all, cgroup.as_deref())?;
    let report = RankReport {
        kernel_release: snap.system.release.clone(),
        page_size,
        cgroup_version: snap.memcg_version,
        processes: snap.system.tasks.len(),
        processes_vanished: snap.vanished,
        domains: shown.into_iter().cloned().collect(),
        rules: effects,
    };
    if args.json {
        write_json(out, &report)?;
    } else {
        write_text(out, &report, &snap.system, args.pid)?;
        if let (Some(e), Some(cfg)) = (&report.rules, &args.config) {
            oomlens_sinks::rank_rules::write_text(out, &cfg.display().to_string(), e)?;
        }
    }
    Ok(if report.domains.iter().any(|d| d.victim.is_some()) {
        EXIT_FOUND
    } else {
        EXIT_NOTHING
    })
}

/// The domains `--cgroup` or `--pid` ask for (all without them); an unknown cgroup or pid
/// is an error.
fn select<'a>(
    args: &RankArgs,
    snap: &Snapshot,
    all: &'a [Domain],
    cgroup: Option<&str>,
) -> Result<Vec<&'a Domain>, RankError> {
    let root = args.root.display().to_string();
    if let Some(path) = cgroup {
        if snap.memcg_version.is_none() {
            return Err(RankError::NoHierarchy(root));
        }
        if !snap.system.cgroups.iter().any(|c| c.path == path) {
            return Err(RankError::NoCgroup {
                root,
                path: path.to_string(),
            });
        }
        Ok(domains::of_cgroup(all, path))
    } else if let Some(pid) = args.pid {
        if !snap.system.tasks.iter().any(|t| t.pid == pid) {
            return Err(RankError::NoPid { root, pid });
        }
        Ok(domains::containing(all, pid))
    } else {
        Ok(all.iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_testkit::faketree::{FakeTree, Status};
    use std::path::Path;

    /// A process of comm `comm` in memory cgroup `memcg` (a kernel thread when empty) with
    /// `anon_kb` anon, this adj and this `oom_score`. Its `status` has no `State:` line.
    fn proc(t: &FakeTree, pid: u32, comm: &str, memcg: &str, anon_kb: u64, adj: i32, score: u32) {
        let kthread = memcg.is_empty();
        let status = if kthread {
            Status::kernel_thread(comm)
        } else {
            Status::new(comm).user_thread().anon_kib(anon_kb).pte_kib(0)
        };
        t.process(pid)
            .status(&status.threads(1).omit("State"))
            .file(
                "stat",
                format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {pid} 0 0"),
            )
            .oom_score(score)
            .oom_score_adj(adj)
            .cgroup(&format!(
                "4:memory:{}\n0::/\n",
                if kthread { "/" } else { memcg }
            ))
            .comm(comm);
    }

    /// A v1 machine of 1 GiB with one 64 MiB cgroup /box holding a big adj-0 task and a
    /// small adj-100 task whose oom_score (against the machine) is the higher.
    fn fake() -> FakeTree {
        let t = FakeTree::new("rank");
        t.mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
            .meminfo(1_048_576, 524_288, 600_000)
            .file("proc/sys/kernel/osrelease", "6.18.44-test\n")
            .file("proc/stat", "cpu 1\ncpu0 1\ncpu1 1\n");
        proc(&t, 1, "init", "/", 4096, 0, 667);
        proc(&t, 2, "kthreadd", "", 0, 0, 0);
        proc(&t, 10, "big\x1b[2J", "/box", 40 * 1024, 0, 693);
        proc(&t, 11, "small", "/box", 8 * 1024, 100, 741);
        proc(&t, 12, "guard", "/box", 1024, -1000, 0);
        t.cgroup_v1("").limit(None).usage(500_000_000);
        t.cgroup_v1("/box")
            .limit(Some(64 << 20))
            .usage(50 << 20)
            .file(
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            )
            .file("memory.use_hierarchy", "1\n");
        t
    }

    fn args(root: &Path) -> RankArgs {
        RankArgs {
            cgroup: None,
            pid: None,
            json: true,
            root: root.to_path_buf(),
            page_size: Some(4096),
            config: None,
        }
    }

    fn run_json(a: &RankArgs) -> (u8, serde_json::Value) {
        let mut out = Vec::new();
        let code = run_to(a, &[], &mut out).unwrap();
        (code, serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn json_contract_on_a_fake_tree() {
        let t = fake();
        let (code, v) = run_json(&args(t.root()));
        assert_eq!(code, EXIT_FOUND);
        assert_eq!(v["schema"], "oomlens.rank/1");
        assert_eq!(v["cgroup_version"], "v1");
        let ds = v["domains"].as_array().unwrap();
        assert_eq!(ds.len(), 2);
        // /box is 78% full, the machine 43%: /box first.
        assert_eq!(ds[0]["cgroup"], "/box");
        assert_eq!(ds[0]["limit_bytes"], 64 << 20);
        assert_eq!(ds[0]["usage_bytes"], 50 << 20);
        let c = &ds[0]["candidates"];
        assert_eq!(c[0]["pid"], 10, "40 MiB beats 8 MiB + 100 * 16 pages");
        assert_eq!(c[0]["points"], 10240);
        assert_eq!(c[1]["pid"], 11);
        assert_eq!(c[1]["points"], 2048 + 100 * 16);
        assert_eq!(c[1]["oom_score_adj"], 100);
        assert_eq!(c[0]["comm"], "big\x1b[2J");
        assert_eq!(ds[0]["protected"][0]["pid"], 12);
        assert_eq!(ds[0]["oom_score_disagreements"][0]["pid"], 11);
        assert_eq!(ds[0]["oom_score_disagreements"][0]["reason"], "adj-scale");
        assert!(ds[1]["cgroup"].is_null());
        assert_eq!(
            ds[1]["candidates"][0]["pid"], 11,
            "machine-wide, adj 100 is worth 100 * 262 pages"
        );
        assert_eq!(ds[1]["protected"][0]["reason"], "init");
        assert_eq!(ds[1]["kernel_threads_excluded"], 1);
    }

    #[test]
    fn cgroup_and_pid_selection() {
        let t = fake();
        let mut a = args(t.root());
        a.cgroup = Some("/box".into());
        let (_, v) = run_json(&a);
        assert_eq!(v["domains"].as_array().unwrap().len(), 1);
        assert_eq!(v["domains"][0]["candidates"][0]["pid"], 10);
        // An unlimited cgroup: the domains containing it (here only the machine).
        a.cgroup = Some("/".into());
        let (_, v) = run_json(&a);
        assert!(v["domains"][0]["cgroup"].is_null());
        a.cgroup = Some("/nope".into());
        let err = run_to(&a, &[], &mut Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("/nope"));
        let mut a = args(t.root());
        a.pid = Some(11);
        let (_, v) = run_json(&a);
        assert_eq!(v["domains"].as_array().unwrap().len(), 2);
        a.pid = Some(999);
        assert!(run_to(&a, &[], &mut Vec::new()).is_err());
    }

    #[test]
    fn text_is_escaped_and_explains() {
        let t = fake();
        let mut a = args(t.root());
        a.json = false;
        a.pid = Some(11);
        let mut out = Vec::new();
        assert_eq!(run_to(&a, &[], &mut out).unwrap(), EXIT_FOUND);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("big\\x1b[2J"), "{text}");
        assert!(text.contains("memory cgroup /box"), "{text}");
        assert!(
            text.contains("dies first: 10 (big\\x1b[2J) with 10240 points"),
            "{text}"
        );
        assert!(text.contains("oom_score misleads: 11 (small)"), "{text}");
        assert!(text.contains("never killed: 12 (guard, adj-min)"), "{text}");
        assert!(text.contains("machine (global OOM"), "{text}");
    }

    /// The error and its causes, as the binary prints them.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cur = c.source();
        }
        s
    }

    #[test]
    fn unreadable_tree_is_an_error_naming_the_file() {
        let t = fake();
        t.process(11).file("oom_score_adj", "lots\n");
        let err = chain(&run_to(&args(t.root()), &[], &mut Vec::new()).unwrap_err());
        assert!(err.contains("11/oom_score_adj"), "{err}");
        let t = fake();
        t.cgroup_v1("/box").file("memory.limit_in_bytes", "-\n");
        let err = chain(&run_to(&args(t.root()), &[], &mut Vec::new()).unwrap_err());
        assert!(err.contains("box/memory.limit_in_bytes"), "{err}");
    }
}
