//! The `oomlens top` TUI driven in tmux: start it on a fake tree in a detached session,
//! send keys, and check what the screen shows (`capture-pane -p`); then check that `q` and
//! SIGINT both leave the alternate screen (`#{alternate_on}` back to 0).
//!
//! Needs `tmux` (Debian package `tmux`); the test fails when it is missing.

use std::path::Path;
use std::time::{Duration, Instant};

use oomlens_testkit::faketree::{psi, FakeTree, Status};
use oomlens_testkit::run::Oomlens;

/// A v1 machine of 1 GiB: `/` and `/system.slice` without limits, `worker.service`
/// (150 of 512 MiB, process 4242 `pyworker`) and `idle.service` (8 of 64 MiB).
fn fake_tree(tag: &str) -> FakeTree {
    let t = FakeTree::new(&format!("top-tui-{tag}"));
    t.mount_v1_memory()
        .meminfo(1_048_576, 524_288, 786_432)
        .memory_pressure(&psi(1.25, 10, 5));
    for (path, limit, usage, pids) in [
        ("", None, 300u64 << 20, &[][..]),
        ("/system.slice", None, 200 << 20, &[]),
        (
            "/system.slice/worker.service",
            Some(512 << 20),
            150 << 20,
            &[4242],
        ),
        ("/system.slice/idle.service", Some(64 << 20), 8 << 20, &[]),
    ] {
        t.cgroup_v1(path)
            .limit(limit)
            .usage(usage)
            .stat(&format!(
                "total_rss {usage}\ntotal_cache 0\ntotal_shmem 0\n"
            ))
            .procs(pids);
    }
    t.process(4242)
        .status(&Status::new("pyworker").anon_kib(150_000).file_kib(3600));
    t
}

fn tmux(args: &[&str]) -> String {
    Oomlens::new("tmux").args(args).run().stdout()
}

struct Session(String);

impl Session {
    fn start(name: &str, root: &Path) -> Session {
        let cmd = format!(
            "exec '{}' top --root '{}' --interval 0.2",
            env!("CARGO_BIN_EXE_oomlens"),
            root.display()
        );
        Session::start_cmd(name, &cmd)
    }

    fn start_cmd(name: &str, cmd: &str) -> Session {
        let s = Session(format!("{name}-{}", std::process::id()));
        Oomlens::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &s.0,
                "-x",
                "200",
                "-y",
                "30",
                cmd,
            ])
            .env("TERM", "xterm-256color")
            .run()
            .success();
        tmux(&["set-option", "-t", &s.0, "remain-on-exit", "on"]);
        s
    }

    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", &self.0];
        a.extend_from_slice(keys);
        tmux(&a);
    }

    fn var(&self, v: &str) -> String {
        tmux(&["display-message", "-p", "-t", &self.0, v])
            .trim()
            .to_string()
    }

    /// Waits until the screen satisfies `pred`; panics with the last screen.
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("screen never showed {what}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_var(&self, v: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.var(v) != want {
            assert!(
                Instant::now() < deadline,
                "{v} never became {want}: {:?}",
                self.var(v)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

#[test]
fn tree_sort_drill_help_and_quit() {
    let root = fake_tree("keys");
    let s = Session::start("oomlens-top-keys", root.root());
    s.wait("the cgroup tree", |s| s.contains("worker.service"));
    // Classes show once the window spans a few seconds.
    let screen = s.wait("the worker classified steady", |s| {
        s.lines()
            .any(|l| l.contains("worker.service") && l.contains("steady"))
    });
    assert!(screen.contains("oomlens top"), "{screen}");
    assert!(screen.contains("sort: tree"), "{screen}");
    assert!(screen.contains("PSI some 1.25%"), "{screen}");
    assert!(screen.contains("4 cgroups"), "{screen}");
    assert!(screen.contains("q quit"), "help line: {screen}");
    // The worker's bar: 150 MiB of 512 MiB.
    let line = screen
        .lines()
        .find(|l| l.contains("worker.service") && l.contains("150.0 MiB/512.0 MiB"))
        .unwrap_or_else(|| panic!("usage/limit of the worker:\n{screen}"));
    assert!(line.contains("[###-------]  29%"), "bar: {line}");
    assert!(
        line.contains("worker.service") && line.contains("steady"),
        "{line}"
    );
    // Tree order: /, system.slice, idle.service, worker.service (the 4th row).
    s.keys(&["Down", "Down", "Down", "Enter"]);
    let screen = s.wait("the worker's processes", |s| {
        s.contains("processes of /system.slice/worker.service")
    });
    assert!(
        screen.contains("pyworker") && screen.contains("4242"),
        "{screen}"
    );
    assert!(screen.contains("1 processes"), "{screen}");
    s.keys(&["Escape"]);
    s.wait("the tree again", |s| s.contains("view: cgroups"));
    s.keys(&["s"]);
    let screen = s.wait("sort by usage", |s| s.contains("sort: usage"));
    // Sorted by usage, the root (300 MiB) comes first, the idle service (8 MiB) last.
    let pos = |n: &str| screen.find(n).unwrap_or_else(|| panic!("{n}:\n{screen}"));
    assert!(pos("idle.service") > pos("worker.service"), "{screen}");
    s.keys(&["?"]);
    s.wait("the long help", |s| s.contains("Enter processes of cgroup"));
    s.keys(&["q"]);
    s.wait_var("#{pane_dead}", "1");
    assert_eq!(
        s.var("#{alternate_on}"),
        "0",
        "alternate screen left after q"
    );
}

#[test]
fn sigint_restores_the_terminal() {
    let root = fake_tree("sigint");
    let s = Session::start("oomlens-top-sigint", root.root());
    s.wait("the cgroup tree", |s| s.contains("worker.service"));
    assert_eq!(s.var("#{alternate_on}"), "1");
    let pid = s.var("#{pane_pid}");
    Oomlens::new("kill").args(["-INT", &pid]).run().success();
    s.wait_var("#{pane_dead}", "1");
    assert_eq!(
        s.var("#{alternate_on}"),
        "0",
        "alternate screen left after SIGINT"
    );
    // tmux fills in the status a moment after it marks the pane dead.
    s.wait_var("#{pane_dead_status}/#{pane_dead_signal}", "0/");
}

/// A panic inside the TUI loop (injected with OOMLENS_TEST_TOP_PANIC_AFTER) leaves a usable
/// terminal: main screen, cursor shown, cooked mode with echo (checked with `stty -a` in the
/// same pane after oomlens exits), the panic message readable, exit status 101.
#[test]
fn a_panic_restores_the_terminal() {
    let root = fake_tree("panic");
    let cmd = format!(
        "RUST_BACKTRACE=0 OOMLENS_TEST_TOP_PANIC_AFTER=3 '{}' top --root '{}' --interval 0.2; \
         echo \"exit=$?\"; echo modes: $(stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$') :end; \
         echo; sleep 60",
        env!("CARGO_BIN_EXE_oomlens"),
        root.root().display()
    );
    let s = Session::start_cmd("oomlens-top-panic", &cmd);
    let screen = s.wait("the shell after the panic", |s| s.contains("exit=101"));
    // The message stays above the shell's next lines (the terminal is restored once: a
    // second restore would move the cursor back over it).
    let at = |what: &str| {
        screen
            .find(what)
            .unwrap_or_else(|| panic!("{what} on screen:\n{screen}"))
    };
    assert!(at("panicked at") < at("injected panic"), "{screen}");
    assert!(at("injected panic") < at("exit=101"), "{screen}");
    let modes = s.wait("stty's modes", |s| s.contains("modes: "));
    let modes = modes
        .lines()
        .find(|l| l.starts_with("modes: "))
        .unwrap()
        .to_string();
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert_eq!(words.last(), Some(&":end"), "{modes}");
    assert!(words.contains(&"icanon"), "cooked mode: {modes}");
    assert!(words.contains(&"echo"), "echo on: {modes}");
    assert_eq!(s.var("#{alternate_on}"), "0", "main screen back");
    assert_eq!(s.var("#{cursor_flag}"), "1", "cursor shown");
}
