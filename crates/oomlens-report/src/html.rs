//! The report as one self-contained HTML page: inline CSS, the bundled font as a data: URI,
//! charts as inline SVG; no script or asset is loaded from anywhere, so it reads offline and
//! prints (`@media print`: no page background, charts not split across pages, the raw
//! report opened). Every string from a log or a record goes through
//! `oomlens_sinks::escape::escape_html`.

use std::io::Write;

use oomlens_sinks::escape::escape_html as h;

use crate::chart::{available, inline_svg, ChartKind};
use crate::facts::{section, title, Row, Section, WHY_COLUMNS};
use crate::{Report, ReportError};

const CSS: &str = r#"
body{font-family:"DejaVu Sans",sans-serif;max-width:980px;margin:1.5em auto;padding:0 1em;color:#1d1d1d;line-height:1.4}
h1{font-size:1.45em;margin:.2em 0}
h2{font-size:1.2em;margin-top:2em;border-bottom:2px solid #c33;padding-bottom:.2em}
h3{font-size:1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
table.kv th{width:11em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.victim td{font-weight:bold;background:#fde8e8}
ul.findings li.critical{color:#a00}
ul.findings li.warning{color:#8a5300}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:.85em;white-space:pre-wrap;word-break:break-all}
figure.chart{margin:1em 0}
figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#555}
.meta,.origin{color:#555;font-size:.9em}
@media print{body{max-width:none;margin:0}figure.chart,table{break-inside:avoid}h2{break-before:auto}details>summary{list-style:none}}
"#;

/// Opens every `<details>` before printing, so the raw report is on paper too (CSS alone
/// cannot open them).
const PRINT_SCRIPT: &str =
    "addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true));";

/// Write `report` as one HTML page.
pub fn write_html(out: &mut dyn Write, report: &Report) -> Result<(), ReportError> {
    let t = title(report);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"generator\" content=\"oomlens report {}\">\n<title>{}</title>\n\
         <style>{}{CSS}</style>\n<script>{PRINT_SCRIPT}</script>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        h(&t),
        crate::font::font_face_css()
    )?;
    writeln!(out, "<header><h1 id=\"title\">{}</h1>", h(&t))?;
    let n = report.incidents.len();
    writeln!(
        out,
        "<p class=\"meta\">{n} incident{} · written by oomlens report {}</p></header>",
        if n == 1 { "" } else { "s" },
        env!("CARGO_PKG_VERSION")
    )?;
    let charts = available(report);
    let top: Vec<ChartKind> = [ChartKind::Kills, ChartKind::Memory, ChartKind::Processes]
        .into_iter()
        .filter(|k| charts.contains(k))
        .collect();
    if !top.is_empty() {
        writeln!(out, "<section class=\"charts\">")?;
        for k in top {
            figure(out, report, k)?;
        }
        writeln!(out, "</section>")?;
    }
    for (n, i) in report.incidents.iter().enumerate() {
        let one = Report {
            incidents: vec![i.clone()],
        };
        write_section(out, n + 1, &section(i), &one)?;
    }
    writeln!(out, "</body>\n</html>")?;
    Ok(())
}

fn figure(out: &mut dyn Write, report: &Report, kind: ChartKind) -> Result<(), ReportError> {
    let svg = inline_svg(report, kind)?;
    writeln!(
        out,
        "<figure class=\"chart\" data-chart=\"{name}\">\n{svg}\n<figcaption>{name}: {}</figcaption></figure>",
        h(caption(kind)),
        name = kind.name()
    )?;
    Ok(())
}

fn caption(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Memory => "the victim cgroup's memory as the guard sampled it: anon, file and shmem stacked; the limit and memory.high as lines; the dashed line is the window's growth rate carried forward; the dark line marks the kill",
        ChartKind::Processes => "RSS (anon + file + shmem) of the largest processes over the same time",
        ChartKind::Tasks => "RSS of the largest processes in the report's task table; the victim in red",
        ChartKind::Stat => "the cgroup's memory.stat as the report printed it",
        ChartKind::Kills => "each kill at its time, the height is the victim's RSS",
    }
}

fn kv(out: &mut dyn Write, class: &str, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "<table class=\"kv {class}\">")?;
    for (k, v) in rows {
        writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", h(k), h(v))?;
    }
    writeln!(out, "</table>")
}

fn write_section(
    out: &mut dyn Write,
    n: usize,
    s: &Section,
    one: &Report,
) -> Result<(), ReportError> {
    writeln!(out, "<section class=\"incident\" id=\"incident-{n}\">")?;
    writeln!(out, "<h2 class=\"headline\">{}</h2>", h(&s.headline))?;
    writeln!(out, "<p class=\"origin\">from {}</p>", h(&s.origin))?;
    writeln!(out, "<h3>Owner</h3>")?;
    kv(out, "owner", &s.owner)?;
    writeln!(out, "<h3>What happened</h3>")?;
    kv(out, "facts", &s.facts)?;
    if let Some(w) = &s.why {
        writeln!(out, "<h3>Why this victim</h3>\n<p>{}</p>", h(&w.verdict))?;
        writeln!(out, "<table class=\"why\"><thead><tr>")?;
        for c in WHY_COLUMNS {
            write!(out, "<th>{}</th>", h(c))?;
        }
        writeln!(out, "</tr></thead><tbody>")?;
        for (i, row) in w.rows.iter().enumerate() {
            let class = if i == 0 { " class=\"victim\"" } else { "" };
            write!(out, "<tr{class}>")?;
            for (c, cell) in row.iter().enumerate() {
                let num = if matches!(c, 1 | 8) {
                    ""
                } else {
                    " class=\"num\""
                };
                write!(out, "<td{num}>{}</td>", h(cell))?;
            }
            writeln!(out, "</tr>")?;
        }
        writeln!(out, "</tbody></table>")?;
    }
    let charts = available(one);
    let local: Vec<ChartKind> = [ChartKind::Tasks, ChartKind::Stat]
        .into_iter()
        .filter(|k| charts.contains(k))
        .collect();
    if !s.filled.is_empty() || !local.is_empty() {
        writeln!(out, "<h3>What filled the memory</h3>")?;
        if !s.filled.is_empty() {
            kv(out, "filled", &s.filled)?;
        }
        for k in local {
            figure(out, one, k)?;
        }
    }
    if !s.recorded.is_empty() {
        writeln!(
            out,
            "<h3>The minutes before (recorded by oomlens guard)</h3>"
        )?;
        kv(out, "recorded", &s.recorded)?;
    }
    if !s.findings.is_empty() {
        writeln!(out, "<h3>Findings</h3>\n<ul class=\"findings\">")?;
        for f in &s.findings {
            writeln!(
                out,
                "<li class=\"{}\"><strong>{}</strong> <code>{}</code> {}</li>",
                f.severity,
                f.severity,
                h(f.code),
                h(&f.message)
            )?;
        }
        writeln!(out, "</ul>")?;
    }
    if !s.advice.is_empty() {
        writeln!(out, "<h3>Advice</h3>")?;
        for a in &s.advice {
            writeln!(out, "<div class=\"advice\"><p>{}</p>", h(&a.reason))?;
            if let Some(t) = &a.target {
                writeln!(out, "<p class=\"target\">{}</p>", h(t))?;
            }
            if !a.snippet.is_empty() {
                let lines: Vec<String> = a.snippet.lines().map(h).collect();
                writeln!(out, "<pre>{}</pre>", lines.join("\n"))?;
            }
            writeln!(out, "</div>")?;
        }
    }
    if !s.raw.is_empty() {
        writeln!(
            out,
            "<details class=\"raw\"><summary>The kernel's report ({} lines)</summary><pre>",
            s.raw.len()
        )?;
        for line in &s.raw {
            writeln!(out, "{}", h(line))?;
        }
        writeln!(out, "</pre></details>")?;
    }
    writeln!(out, "</section>")?;
    Ok(())
}
