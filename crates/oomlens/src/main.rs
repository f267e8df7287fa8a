//! oomlens: a thin binary over the parse, sources and sinks crates. It parses flags, wires
//! inputs to outputs and maps results to exit codes (see `cli.rs`); the work is elsewhere.

mod audit_cmd;
mod cli;
mod explain;
mod live;
mod progress;
mod rank_cmd;
mod timefilter;
mod top_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command, Generate, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Explain(ref args) => explain::run(args, cli.color),
        Command::Rank(ref args) => rank_cmd::run(args),
        Command::Top(ref args) => top_cmd::run(args),
        Command::Audit(ref args) => audit_cmd::run_audit(args),
        Command::Fix(ref args) => audit_cmd::run_fix(args),
        Command::Generate { what } => generate(what).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // A closed pipe (`oomlens explain | head`) is not an error.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(0);
            }
            let mut msg = format!("oomlens: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!(": {cause}"));
            }
            let _ = writeln!(std::io::stderr(), "{}", oomlens_sinks::escape::escape(&msg));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn generate(what: Generate) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let out = &mut std::io::stdout().lock();
    let shell = match what {
        Generate::Man => {
            clap_mangen::Man::new(cmd).render(out)?;
            return Ok(());
        }
        Generate::Bash => clap_complete::Shell::Bash,
        Generate::Zsh => clap_complete::Shell::Zsh,
        Generate::Fish => clap_complete::Shell::Fish,
        Generate::Powershell => clap_complete::Shell::PowerShell,
        Generate::Elvish => clap_complete::Shell::Elvish,
    };
    clap_complete::generate(shell, &mut cmd, "oomlens", out);
    Ok(())
}
