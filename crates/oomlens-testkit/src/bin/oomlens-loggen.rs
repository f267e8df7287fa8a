//! `oomlens-loggen`: writes a large, realistic kernel log with real OOM reports interleaved
//! (see `oomlens_testkit::loggen`), and checks a parser's findings against what it inserted.
//!
//! ```text
//! oomlens-loggen [OPTIONS]                      generate a log (stdout, or -o FILE)
//! oomlens-loggen verify --manifest TSV [JSON|-] compare `oomlens explain --json` output
//! ```
//!
//! The generator prints one `key=value` summary line to stderr (bytes, lines, reports,
//! incidents, killed_process_lines), which the bench reads. Exit codes: 0 success, 1 verify
//! found a mismatch, 2 usage or I/O error.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use oomlens_testkit::loggen::{
    check, incidents_from_json, parse_size, read_manifest, Corpus, Generator, Options,
};

const USAGE: &str = "\
usage: oomlens-loggen [OPTIONS]
       oomlens-loggen verify --manifest FILE [JSON|-]

Generate a kernel log of ordinary noise with real OOM reports from the corpus interleaved.

Options:
  --size SIZE          bytes to write (K/M/G suffixes, binary), default 16M
  --form FORM          dmesg | journal | syslog | kmsg, default dmesg
  --report-every SIZE  mean distance between OOM reports, default 2M; 0 = no reports
  --seed N             same seed, same bytes; default 1
  --host NAME          host name of journal/syslog lines, default web-03
  --corpus DIR         corpus directory (MANIFEST.tsv), default $OOMLENS_CORPUS or the shared corpus
  --only LIST          use only reports whose file names start with these (comma-separated)
  --fragments          also insert fragment reports (grep output, key lines only)
  --no-interleave      no userspace lines between the lines of a report (journal/syslog)
  --line-bytes N       start with one single line of N bytes (K/M/G suffixes allowed)
  --lead-report        insert a report right at the start (after the long line)
  --manifest FILE      write the inserted reports (line ranges, incidents) as TSV
  -o, --output FILE    write the log to FILE instead of stdout

The summary goes to stderr:
  oomlens-loggen: bytes=N lines=N reports=N incidents=N killed_process_lines=N form=F seed=N

verify reads `oomlens explain --json` output and the manifest, and reports every inserted
report the parser missed or split and every incident it found in noise; exit 1 on mismatch.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("verify") {
        verify(&args[1..])
    } else {
        generate(&args)
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("oomlens-loggen: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Takes the value of option `name` at `args[*i]`.
fn value<'a>(args: &'a [String], i: &mut usize, name: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("{name} needs a value"))
}

fn generate(args: &[String]) -> Result<ExitCode, String> {
    let mut opts = Options::default();
    let mut corpus_dir: Option<PathBuf> = None;
    let mut manifest: Option<PathBuf> = None;
    let mut output: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--size" => opts.size = parse_size(value(args, &mut i, a)?)?,
            "--form" => opts.form = value(args, &mut i, a)?.parse()?,
            "--report-every" => opts.report_every = parse_size(value(args, &mut i, a)?)?,
            "--seed" => {
                opts.seed = value(args, &mut i, a)?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--host" => opts.host = value(args, &mut i, a)?.to_string(),
            "--corpus" => corpus_dir = Some(value(args, &mut i, a)?.into()),
            "--only" => {
                opts.selection.only = value(args, &mut i, a)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "--fragments" => opts.selection.fragments = true,
            "--no-interleave" => opts.interleave = false,
            "--line-bytes" => opts.long_line = parse_size(value(args, &mut i, a)?)?,
            "--lead-report" => opts.lead_report = true,
            "--manifest" => manifest = Some(value(args, &mut i, a)?.into()),
            "-o" | "--output" => output = Some(value(args, &mut i, a)?.into()),
            _ => return Err(format!("unknown argument {a:?}\n\n{USAGE}")),
        }
        i += 1;
    }
    if opts.long_line > 0 && !args.iter().any(|a| a == "--size") {
        // `--line-bytes N` alone: the long line, and whatever --lead-report adds.
        opts.size = 0;
    }

    let dir = corpus_dir.unwrap_or_else(Corpus::default_dir);
    let corpus = Corpus::load(&dir).map_err(|e| format!("reading the corpus: {e}"))?;
    let generator = Generator::new(&corpus, opts.clone()).map_err(|e| e.to_string())?;

    let stats = match &output {
        Some(path) => {
            let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            generator
                .write_to(&mut w)
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            match generator.write_to(&mut lock) {
                Ok(stats) => stats,
                // A reader that stops early (`| head`) is not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
                Err(e) => return Err(format!("stdout: {e}")),
            }
        }
    };
    if let Some(path) = &manifest {
        let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        stats
            .write_manifest(BufWriter::new(f))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!("oomlens-loggen: {}", stats.summary(&opts));
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &[String]) -> Result<ExitCode, String> {
    let mut manifest: Option<PathBuf> = None;
    let mut json: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--manifest" => manifest = Some(value(args, &mut i, a)?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ if json.is_none() => json = Some(a.to_string()),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
        i += 1;
    }
    let manifest = manifest.ok_or("verify needs --manifest FILE")?;
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let inserted = read_manifest(&text)?;
    let mut doc = Vec::new();
    match json.as_deref() {
        None | Some("-") => io::stdin().read_to_end(&mut doc),
        Some(path) => File::open(path).and_then(|mut f| f.read_to_end(&mut doc)),
    }
    .map_err(|e| format!("reading the JSON: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&doc).map_err(|e| format!("the JSON does not parse: {e}"))?;
    let found = incidents_from_json(&doc)?;
    let result = check(&inserted, &found);
    let mut out = io::stdout().lock();
    let _ = write!(out, "{}", result.describe(20));
    Ok(if result.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

// The form names are documented in USAGE; keep them in sync with the library.
#[cfg(test)]
mod tests {
    use super::USAGE;
    use oomlens_testkit::loggen::LogForm;

    #[test]
    fn usage_names_every_form() {
        for f in LogForm::ALL {
            assert!(USAGE.contains(f.as_str()), "{f}");
        }
    }
}
