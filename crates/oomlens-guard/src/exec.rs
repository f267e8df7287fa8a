//! `oomlens guard` as the small daemon binary: the `oomlens` binary holds every subcommand
//! (the explainer's tables, the TUI, clap's whole command tree), and the pages of it that a
//! start touches stay resident for as long as the guard runs. `oomlens-guard`, this crate's
//! binary with the same flags, links only the guard; installed beside `oomlens` (as the
//! Debian package does), `oomlens guard ARGS` replaces itself with it, the way `git foo`
//! runs `git-foo`, before parsing anything. The pid stays the same (systemd's
//! `Type=notify` unit and a DaemonSet's command keep working as written); the environment
//! (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `INVOCATION_ID`) goes along. Without it the guard
//! runs inside `oomlens`, as before.
//!
//! Measured (bench/guard.sh): idle VmRSS of the guard in `oomlens` 5.1 MiB, in
//! `oomlens-guard` 4.0 MiB, 2.5–3.2 MiB since it gives back start-up's pages
//! (`daemon/resident.rs`); earlyoom 1.7 MiB.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The daemon binary's file name.
pub const DAEMON_BINARY: &str = "oomlens-guard";

/// The daemon binary beside `exe`, when `args` (without argv\[0\]) start with the `guard`
/// subcommand and that file exists; `None` otherwise (then run the guard in-process).
pub fn daemon_beside(exe: &Path, args: &[OsString]) -> Option<PathBuf> {
    if args.first().is_none_or(|a| a != "guard") {
        return None;
    }
    let daemon = exe.with_file_name(DAEMON_BINARY);
    // The daemon binary itself never execs (it has no `guard` subcommand), so no loop.
    (daemon.is_file() && daemon != exe).then_some(daemon)
}

/// In `oomlens`, first thing in `main`: when the command line is `oomlens guard ...` and
/// [`DAEMON_BINARY`] is installed beside this executable, exec it with the arguments after
/// `guard`. Returns only if there is nothing to exec (`None`) or the exec failed (the error,
/// naming the binary).
pub fn exec_daemon_if_guard() -> Option<std::io::Error> {
    let mut argv = std::env::args_os();
    argv.next()?;
    let args: Vec<OsString> = argv.collect();
    let exe = std::env::current_exe().ok()?;
    let daemon = daemon_beside(&exe, &args)?;
    let err = std::process::Command::new(&daemon).args(&args[1..]).exec();
    Some(std::io::Error::new(
        err.kind(),
        format!("running {}: {err}", daemon.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only `guard` as the first argument, and only with the daemon binary present beside
    /// the executable (not the executable itself).
    #[test]
    fn the_daemon_beside_is_used_for_guard_only() {
        let dir = std::env::temp_dir().join(format!("guard-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("oomlens");
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            daemon_beside(&exe, &args(&["guard", "--no-metrics"])),
            None,
            "absent"
        );
        std::fs::write(dir.join(DAEMON_BINARY), "").unwrap();
        assert_eq!(
            daemon_beside(&exe, &args(&["guard", "--no-metrics"])),
            Some(dir.join(DAEMON_BINARY))
        );
        assert_eq!(daemon_beside(&exe, &args(&["explain", "guard"])), None);
        assert_eq!(daemon_beside(&exe, &args(&[])), None);
        let own = dir.join(DAEMON_BINARY);
        assert_eq!(daemon_beside(&own, &args(&["guard"])), None, "never itself");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
