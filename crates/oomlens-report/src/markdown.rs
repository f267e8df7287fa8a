//! The report as Markdown for a ticket (CommonMark with GitHub tables): the same sections
//! as the HTML, without charts (`--svg`/`--png` make them as files to attach). Strings from
//! logs are escaped: control characters as `\xNN`, Markdown's specials with a backslash,
//! and code blocks fenced with more backticks than the text holds.

use std::io::{self, Write};

use oomlens_sinks::escape::escape;

use crate::facts::{section, title, Row, Section, WHY_COLUMNS};
use crate::{Report, ReportError};

/// `s` for Markdown text or a table cell.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced block holding `lines` (control characters escaped).
fn fenced(out: &mut dyn Write, lines: &[&str]) -> io::Result<()> {
    let longest = lines
        .iter()
        .map(|l| l.split(|c| c != '`').map(str::len).max().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    writeln!(out, "{fence}")?;
    for l in lines {
        writeln!(out, "{}", escape(l))?;
    }
    writeln!(out, "{fence}")
}

fn kv(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(out, "| | |\n|---|---|")?;
    for (k, v) in rows {
        writeln!(out, "| {} | {} |", md(k), md(v))?;
    }
    writeln!(out)
}

/// Write `report` as Markdown.
pub fn write_markdown(out: &mut dyn Write, report: &Report) -> Result<(), ReportError> {
    writeln!(out, "# {}\n", md(&title(report)))?;
    for i in &report.incidents {
        write_section(out, &section(i))?;
    }
    Ok(())
}

fn write_section(out: &mut dyn Write, s: &Section) -> io::Result<()> {
    writeln!(out, "## {}\n", md(&s.headline))?;
    writeln!(out, "from {}\n", md(&s.origin))?;
    writeln!(out, "### Owner\n")?;
    kv(out, &s.owner)?;
    writeln!(out, "### What happened\n")?;
    kv(out, &s.facts)?;
    if let Some(w) = &s.why {
        writeln!(out, "### Why this victim\n\n{}\n", md(&w.verdict))?;
        writeln!(out, "| {} |", WHY_COLUMNS.join(" | "))?;
        writeln!(out, "|{}", "---|".repeat(WHY_COLUMNS.len()))?;
        for row in &w.rows {
            let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        writeln!(out)?;
    }
    if !s.filled.is_empty() {
        writeln!(out, "### What filled the memory\n")?;
        kv(out, &s.filled)?;
    }
    if !s.recorded.is_empty() {
        writeln!(out, "### The minutes before (recorded by oomlens guard)\n")?;
        kv(out, &s.recorded)?;
    }
    if !s.findings.is_empty() {
        writeln!(out, "### Findings\n")?;
        for f in &s.findings {
            writeln!(out, "- **{}** `{}`: {}", f.severity, f.code, md(&f.message))?;
        }
        writeln!(out)?;
    }
    if !s.advice.is_empty() {
        writeln!(out, "### Advice\n")?;
        for a in &s.advice {
            writeln!(out, "{}\n", md(&a.reason))?;
            if let Some(t) = &a.target {
                writeln!(out, "{}\n", md(t))?;
            }
            if !a.snippet.is_empty() {
                let lines: Vec<&str> = a.snippet.lines().collect();
                fenced(out, &lines)?;
                writeln!(out)?;
            }
        }
    }
    if !s.raw.is_empty() {
        writeln!(
            out,
            "<details><summary>The kernel's report ({} lines)</summary>\n",
            s.raw.len()
        )?;
        let lines: Vec<&str> = s.raw.iter().map(String::as_str).collect();
        fenced(out, &lines)?;
        writeln!(out, "\n</details>\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_specials_and_controls_are_escaped_and_fences_outgrow_the_text() {
        assert_eq!(md("a|b*c_\x1b"), "a\\|b\\*c\\_\\\\x1b");
        let mut out = Vec::new();
        fenced(&mut out, &["x ```` y", "z\x07"]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "`````\nx ```` y\nz\\x07\n`````\n");
    }
}
