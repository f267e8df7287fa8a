//! oomlens: a thin binary over the parse, sources and sinks crates. It parses flags, wires
//! inputs to outputs and maps results to exit codes (see `cli.rs`); the work is elsewhere.

mod audit_cmd;
mod cli;
mod exit;
mod explain;
mod top_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command, Generate};
use exit::EXIT_ERROR;

fn main() -> ExitCode {
    // `oomlens guard`: the daemon binary beside this one when installed (a smaller
    // resident set for a process that runs for months).
    if let Some(e) = oomlens_guard::exec::exec_daemon_if_guard() {
        eprintln!("oomlens: {}", oomlens_sinks::escape::escape(&e.to_string()));
        return ExitCode::from(EXIT_ERROR);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Explain(ref args) => explain::run(args, cli.color),
        Command::Rank(ref args) => rank(args),
        Command::Top(ref args) => top_cmd::run(args),
        Command::Audit(ref args) => audit_cmd::run_audit(args),
        Command::Fix(ref args) => audit_cmd::run_fix(args),
        Command::Incidents(ref args) => args.run().map_err(Into::into),
        Command::Report(ref args) => args.run().map_err(Into::into),
        Command::Guard(ref args) => oomlens_guard::main(args).map_err(anyhow::Error::from),
        Command::Drill(ref args) => oomlens_drill::run(args).map_err(Into::into),
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
        Generate::Man => return man_page(cmd, out),
        Generate::Bash => clap_complete::Shell::Bash,
        Generate::Zsh => clap_complete::Shell::Zsh,
        Generate::Fish => clap_complete::Shell::Fish,
        Generate::Powershell => clap_complete::Shell::PowerShell,
        Generate::Elvish => clap_complete::Shell::Elvish,
    };
    clap_complete::generate(shell, &mut cmd, "oomlens", out);
    Ok(())
}

/// The man page: the main page as clap_mangen renders it, then one section per command with
/// its synopsis, description, options and its EXAMPLES and EXIT STATUS (clap_mangen alone
/// would only name the commands, as separate oomlens-COMMAND(1) pages it does not write).
fn man_page(mut cmd: clap::Command, out: &mut dyn Write) -> anyhow::Result<()> {
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    man.render_extra_section(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let title = format!("oomlens {}", sub.get_name());
        // After build() the command carries its bin name, "oomlens explain", for the synopsis.
        let sub_man = clap_mangen::Man::new(sub.clone());
        let mut roff = Vec::new();
        sub_man.render_synopsis_section(&mut roff)?;
        sub_man.render_description_section(&mut roff)?;
        sub_man.render_options_section(&mut roff)?;
        sub_man.render_extra_section(&mut roff)?;
        // Each rendered section starts with its own .SH; below one .SH per command they
        // become .SS, and the after-help text brings its own EXAMPLES / EXIT STATUS titles.
        for line in String::from_utf8_lossy(&roff).lines() {
            let line = match line {
                ".SH SYNOPSIS" => format!(".SH \"{}\"", title.to_uppercase()),
                ".SH DESCRIPTION" | ".SH EXTRA" => ".PP".to_string(),
                ".SH OPTIONS" => ".SS Options".to_string(),
                other => other.to_string(),
            };
            writeln!(out, "{line}")?;
        }
    }
    man.render_version_section(out)?;
    Ok(())
}

/// `oomlens rank`: `--config`'s protect rules read by the guard's own configuration reader.
fn rank(args: &oomlens_live::rank_cmd::RankArgs) -> anyhow::Result<u8> {
    let rules = match &args.config {
        Some(p) => oomlens_guard::config::load(p)?.protect,
        None => Vec::new(),
    };
    Ok(oomlens_live::rank_cmd::run(args, &rules)?)
}
