//! The guard alone, for this crate's tests (they cannot run the `oomlens` binary, which
//! depends on this crate); the shipped command is `oomlens guard`, with the same flags.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "oomlens-guard")]
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
