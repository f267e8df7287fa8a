//! The guard alone: the daemon `oomlens guard` execs when it is installed beside `oomlens`
//! (see `oomlens_guard::exec`), and what this crate's tests run (they cannot run the
//! `oomlens` binary, which depends on this crate). Same flags as `oomlens guard`.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
// Named as the command users type: `oomlens guard` execs this binary (its help and its
// errors then read as the in-process subcommand's).
#[command(name = "oomlens guard", bin_name = "oomlens guard")]
struct Cli {
    #[command(flatten)]
    args: oomlens_guard::GuardArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match oomlens_guard::main(&cli.args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let mut msg = format!("oomlens guard: {e}");
            let mut cur = std::error::Error::source(&e);
            while let Some(c) = cur {
                msg.push_str(&format!(": {c}"));
                cur = c.source();
            }
            eprintln!("{}", oomlens_sinks::escape::escape(&msg));
            ExitCode::from(oomlens_guard::EXIT_ERROR)
        }
    }
}
