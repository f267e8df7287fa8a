//! `oomlens audit` and `oomlens fix`: flags (in `audit_cmd/flags.rs`) and wiring over
//! `oomlens_audit::command`, which does the work.
//!
//! `audit` reads systemd units below `--root` (all of them, or the ones named) and
//! Kubernetes manifests (`--manifest FILE|DIR|-`), and prints findings as text, JSON
//! (`oomlens.audit/1`) or SARIF. Exit status: 0 no finding at or above `--fail-on`, 1 such
//! findings, 2 an input could not be audited (the message names it; everything else is
//! still audited and printed).
//!
//! `fix UNIT` writes `UNIT.d/50-oomlens.conf` with MemoryHigh=/MemoryMax= from the unit's
//! peak (`--peak`, else the live cgroup's `memory.peak`), prints the commands that make it
//! take effect and runs them, without a shell, only with `--apply`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail};
use oomlens_audit::command::{self, AuditRequest, ReportForm};
use oomlens_audit::fix::{apply_commands, write_dropin, FixOptions, Written};
use oomlens_audit::size::{human_bytes, parse_timespan};
use oomlens_sinks::escape::escape;

use crate::exit::EXIT_ERROR;

mod flags;

pub use flags::{AuditArgs, AuditFormat, FixArgs};

/// `audit` exit status: no finding at or above `--fail-on`.
pub const EXIT_CLEAN: u8 = 0;
/// `audit` exit status: findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;

/// Runs `oomlens audit`.
pub fn run_audit(args: &AuditArgs) -> anyhow::Result<u8> {
    let report = command::audit(&AuditRequest {
        units: args.units.clone(),
        manifests: args.manifests.clone(),
        source: args.source.to_source(),
        oom_killed: args.oom_killed.clone(),
        oom_logs: args.oom_log.clone(),
        require_limit: args.require_limit.clone(),
        max_document_bytes: args.max_document_bytes,
    })?;
    let form = match (args.json, args.format) {
        (true, _) | (_, AuditFormat::Json) => ReportForm::Json,
        (_, AuditFormat::Text) => ReportForm::Text {
            all: args.all || !args.units.is_empty(),
        },
        (_, AuditFormat::Sarif) => ReportForm::Sarif {
            version: env!("CARGO_PKG_VERSION"),
        },
    };
    command::write_report(
        &mut io::BufWriter::new(io::stdout().lock()),
        &report,
        form,
        escape,
    )?;
    if !matches!(form, ReportForm::Text { .. }) {
        // The text form already lists them; JSON and SARIF consumers read stdout only.
        let mut err = io::stderr().lock();
        for e in &report.errors {
            let _ = writeln!(err, "oomlens: {}", escape(&e.message));
        }
    }
    if !report.errors.is_empty() {
        return Ok(EXIT_ERROR);
    }
    Ok(if command::fails(&report, args.fail_on.threshold()) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// Runs `oomlens fix`.
pub fn run_fix(args: &FixArgs) -> anyhow::Result<u8> {
    let src = args.source.to_source();
    let runtime_max = args
        .runtime_max_sec
        .as_deref()
        .map(|s| parse_timespan(s).map_err(|e| anyhow!("--runtime-max-sec: {e}")))
        .transpose()?;
    let opts = FixOptions {
        headroom_percent: args.headroom,
        oom_score_adjust: args.oom_score_adjust,
        runtime_max,
        critical: src.critical(),
    };
    let fix = command::prepare_fix(&src, &args.unit, args.peak, &args.cgroup_root, &opts)?;
    let (p, host) = (&fix.plan, &fix.host);
    let mut out = io::stdout().lock();
    writeln!(out, "# {}", escape(&host.display().to_string()))?;
    for line in fix.text.lines() {
        writeln!(out, "{}", escape(line))?;
    }
    let mut err = io::stderr().lock();
    for n in &p.notes {
        writeln!(err, "oomlens: note: {}", escape(n))?;
    }
    let commands = apply_commands(&fix.unit, src.scope());
    let shown: Vec<String> = commands
        .iter()
        .map(|c| format!("{} {}", args.systemctl.display(), c.join(" ")))
        .collect();
    if args.dry_run {
        let (high, max) = (human_bytes(p.memory_high), human_bytes(p.memory_max));
        let peak = human_bytes(p.peak);
        writeln!(err, "oomlens: dry run: nothing written; MemoryHigh={high} MemoryMax={max} from a peak of {peak}")?;
        return Ok(0);
    }
    // The default systemctl talks to this machine's manager; a tree below --root belongs to
    // another one, reachable only through a --systemctl wrapper the operator names.
    let root = src.root();
    if args.apply && root != Path::new("/") && args.systemctl == Path::new("systemctl") {
        bail!("--apply reloads this machine's manager, but --root {} is another system; name its systemctl with --systemctl; nothing written", root.display());
    }
    let verb = match write_dropin(host, &fix.text, args.force)? {
        Written::Created => "wrote",
        Written::Replaced => "replaced",
        Written::Unchanged => "unchanged:",
    };
    writeln!(err, "oomlens: {verb} {}", host.display())?;
    // Read the unit again: a drop-in that sorts later may still win.
    for o in command::overridden(&src, &args.unit, &fix)? {
        let (key, raw, file) = (o.key, escape(&o.raw), o.file.display());
        writeln!(
            err,
            "oomlens: warning: {key}={raw} from {file}:{} overrides the new drop-in",
            o.line
        )?;
    }
    if !args.apply {
        writeln!(err, "oomlens: to apply: {}", shown.join(" && "))?;
        return Ok(0);
    }
    for (c, s) in commands.iter().zip(&shown) {
        writeln!(err, "oomlens: running {s}")?;
        command::run_command(&args.systemctl, c, s)?;
    }
    Ok(0)
}
