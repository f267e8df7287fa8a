//! The one way integration tests run `oomlens` (or another program of the workspace): a
//! builder of arguments, environment and stdin bytes, and a [`Ran`] result whose assertions
//! print the command, its exit status, stderr and stdout when they fail.
//!
//! ```no_run
//! # use oomlens_testkit::run::Oomlens;
//! // In the `oomlens` crate's own tests, `oomlens_testkit::oomlens!()` is the same as:
//! let ran = Oomlens::new("target/release/oomlens")
//!     .args(["explain", "--json", "-"])
//!     .stdin(b"[ 1.0] not an OOM report\n".to_vec())
//!     .run();
//! ran.code(1);
//! assert!(ran.stderr().contains("no OOM incident found"), "{ran}");
//! ```
//!
//! Where the binary comes from: cargo tells a package's own integration tests the path of
//! its binaries at compile time only (`env!("CARGO_BIN_EXE_oomlens")`), so the
//! [`oomlens!`](crate::oomlens) macro, expanded inside the calling test, reads it there.
//! Tests of other packages pass a path: [`crate::bin_path`] builds the testkit's own
//! binaries, and the QEMU suite names the static binary it built.
//!
//! Unlike [`Command::output`], stdin is `/dev/null` unless bytes are given (a test never
//! waits on the terminal), and `NO_COLOR` is removed from the environment so that the
//! output does not depend on the developer's shell.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `Oomlens::new(env!("CARGO_BIN_EXE_oomlens"))`, expanded in the calling test crate (only
/// the `oomlens` package's integration tests have that variable).
#[macro_export]
macro_rules! oomlens {
    () => {
        $crate::run::Oomlens::new(env!("CARGO_BIN_EXE_oomlens"))
    };
}

/// A command to run: the program, its arguments, environment, working directory and stdin.
#[derive(Debug)]
pub struct Oomlens {
    cmd: Command,
    stdin: Input,
    stderr: Stderr,
    timeout: Option<Duration>,
}

/// Where stderr goes.
#[derive(Debug, Clone, Copy)]
enum Stderr {
    Piped,
    Null,
    Inherit,
}

/// Where stdin comes from.
#[derive(Debug)]
enum Input {
    Null,
    Bytes(Vec<u8>),
    /// An open file, or the stdout of another process (a pipeline's producer).
    From(Stdio),
}

impl Oomlens {
    /// Runs `program` (normally the `oomlens` binary; any program works).
    pub fn new(program: impl AsRef<OsStr>) -> Oomlens {
        let mut cmd = Command::new(program);
        cmd.env_remove("NO_COLOR");
        Oomlens {
            cmd,
            stdin: Input::Null,
            stderr: Stderr::Piped,
            timeout: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Oomlens {
        self.cmd.arg(a);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Oomlens
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Oomlens {
        self.cmd.env(k, v);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Oomlens {
        self.cmd.env_remove(k);
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Oomlens {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds `bytes` on stdin (written by a thread, so a large input cannot deadlock against
    /// a full stdout pipe).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Oomlens {
        self.stdin = Input::Bytes(bytes.into());
        self
    }

    /// Reads stdin from the file `path` (opened now, streamed by the program).
    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Oomlens {
        let path = path.as_ref();
        let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.stdin = Input::From(f.into());
        self
    }

    /// Reads stdin from `from`: e.g. the `ChildStdout` of a producer, as in a shell pipeline.
    pub fn stdin_from(mut self, from: impl Into<Stdio>) -> Oomlens {
        self.stdin = Input::From(from.into());
        self
    }

    /// Kills the program and fails the test when [`Oomlens::run`] has waited `limit` (a
    /// hang must fail, not block the suite).
    pub fn timeout(mut self, limit: Duration) -> Oomlens {
        self.timeout = Some(limit);
        self
    }

    /// Discards stderr instead of collecting it: for a spawned, long-running program whose
    /// stderr nobody reads (a full pipe would stop it).
    pub fn stderr_null(mut self) -> Oomlens {
        self.stderr = Stderr::Null;
        self
    }

    /// Lets stderr through to the test's own (shown by libtest with the failure or under
    /// `--nocapture`): for a spawned program whose stderr nobody reads but whose
    /// diagnostics matter.
    pub fn stderr_inherit(mut self) -> Oomlens {
        self.stderr = Stderr::Inherit;
        self
    }

    /// The command line, shell-quoted for reading (never run by a shell).
    pub fn shown(&self) -> String {
        shown(&self.cmd)
    }

    /// The underlying command, for what the builder does not cover (e.g. `pre_exec`).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs to completion and collects stdout and stderr. Panics only when the program
    /// cannot be started.
    pub fn run(self) -> Ran {
        let command = self.shown();
        let timeout = self.timeout;
        let (mut child, feeder) = self.start();
        // Both pipes are drained by threads, so neither can fill up and stop the program.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let status = match timeout {
            None => child.wait(),
            Some(limit) => wait_at_most(&mut child, limit, &command),
        }
        .unwrap_or_else(|e| panic!("waiting for {command}: {e}"));
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let collect = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| h.join().expect("pipe reader"))
                .unwrap_or_default()
        };
        Ran {
            command,
            status,
            stdout: collect(stdout),
            stderr: collect(stderr),
        }
    }

    /// Runs to completion with stdout and stderr passed through to the test's own (a long
    /// suite whose progress is its output); returns the exit status.
    pub fn status(mut self) -> ExitStatus {
        let command = self.shown();
        match std::mem::replace(&mut self.stdin, Input::Null) {
            Input::Null => self.cmd.stdin(Stdio::null()),
            Input::From(from) => self.cmd.stdin(from),
            Input::Bytes(_) => panic!("{command}: status() feeds no stdin bytes; use run()"),
        };
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        match self.timeout {
            None => child.wait(),
            Some(limit) => wait_at_most(&mut child, limit, &command),
        }
        .unwrap_or_else(|e| panic!("waiting for {command}: {e}"))
    }

    /// Starts the program with stdout and stderr piped, for tests that watch a running
    /// `oomlens` (follow mode, top). Bytes given with [`Oomlens::stdin`] are written by a
    /// thread, then stdin is closed.
    pub fn spawn(self) -> Child {
        self.start().0
    }

    fn start(mut self) -> (Child, Option<std::thread::JoinHandle<()>>) {
        let command = self.shown();
        let bytes = match std::mem::replace(&mut self.stdin, Input::Null) {
            Input::Null => {
                self.cmd.stdin(Stdio::null());
                None
            }
            Input::Bytes(b) => {
                self.cmd.stdin(Stdio::piped());
                Some(b)
            }
            Input::From(from) => {
                self.cmd.stdin(from);
                None
            }
        };
        self.cmd.stdout(Stdio::piped()).stderr(match self.stderr {
            Stderr::Piped => Stdio::piped(),
            Stderr::Null => Stdio::null(),
            Stderr::Inherit => Stdio::inherit(),
        });
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let feeder = bytes.map(|bytes| {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // A program that exits before reading everything closes the pipe: not an error
            // of the test (the exit status says what happened).
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        (child, feeder)
    }
}

/// What a finished program did. `Display` shows all of it, for assertion messages.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The command line as [`Oomlens::shown`] gives it.
    pub command: String,
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl Ran {
    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit code (`None` when killed by a signal).
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code is `code`; returns `self` for more checks.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Ran {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit {code}:\n{self}"
        );
        self
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn success(&self) -> &Ran {
        self.code(0)
    }

    /// Asserts stdout is empty (nothing half-written before an error).
    #[track_caller]
    pub fn no_stdout(&self) -> &Ran {
        assert!(self.stdout.is_empty(), "expected no stdout:\n{self}");
        self
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Ran {
        assert!(
            self.stderr().contains(needle),
            "expected stderr to contain {needle:?}:\n{self}"
        );
        self
    }

    /// Asserts stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Ran {
        assert!(
            self.stdout().contains(needle),
            "expected stdout to contain {needle:?}:\n{self}"
        );
        self
    }

    /// stdout parsed as one JSON document; panics with the whole output when it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }
}

/// How much of stdout an assertion message shows (a report can be megabytes).
const SHOWN_STDOUT: usize = 4000;

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        writeln!(f, "-> {}", describe(self.status))?;
        writeln!(f, "--- stderr ---\n{}", self.stderr())?;
        let out = self.stdout();
        if out.len() > SHOWN_STDOUT {
            let mut end = SHOWN_STDOUT;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            write!(
                f,
                "--- stdout (first {end} of {} bytes) ---\n{}",
                out.len(),
                &out[..end]
            )
        } else {
            write!(f, "--- stdout ---\n{out}")
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn wait_at_most(child: &mut Child, limit: Duration, command: &str) -> io::Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `exit N` or `signal N`.
pub fn describe(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => format!("{st:?}"),
    }
}

fn shown(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k, v?)))
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(v)))
        .collect();
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_stdin_and_reports_everything() {
        let ran = Oomlens::new("sh")
            .args(["-c", "cat; echo oops >&2; exit 3"])
            .stdin(b"in\n".to_vec())
            .run();
        ran.code(3).stderr_has("oops").stdout_has("in");
        assert_eq!(ran.stdout, b"in\n");
        let shown = ran.to_string();
        assert!(
            shown.starts_with("$ sh -c 'cat; echo oops >&2; exit 3'\n-> exit 3\n"),
            "{shown}"
        );
    }

    #[test]
    fn stdin_is_null_by_default_and_env_is_shown() {
        let ran = Oomlens::new("sh")
            .args(["-c", "cat; echo \"$X\""])
            .env("X", "a b")
            .run();
        ran.success();
        assert_eq!(ran.stdout(), "a b\n");
        assert!(ran.command.starts_with("X='a b' sh -c"), "{}", ran.command);
    }

    #[test]
    #[should_panic(expected = "did not finish within")]
    fn a_hang_is_killed_at_the_timeout() {
        Oomlens::new("sleep")
            .arg("30")
            .timeout(Duration::from_millis(200))
            .run();
    }

    #[test]
    #[should_panic(expected = "expected exit 0")]
    fn a_wrong_code_panics_with_the_output() {
        Oomlens::new("false").run().success();
    }
}
