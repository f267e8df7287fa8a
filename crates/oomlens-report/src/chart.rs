//! The charts, drawn with plotters on its SVG or bitmap backend with the bundled font
//! ([`crate::font`]): the same bytes on every machine.
//!
//! Each chart's plot area has a background colour of its own ([`ChartKind::background`]),
//! which no series uses: a reader can tell the charts apart at a glance and a test can find
//! each plot area in a screenshot and count what was drawn inside it.

use std::ops::Range;
use std::str::FromStr;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use oomlens_sinks::recorded::relative_text;

use crate::font::{self, FAMILY};
use crate::series::{self, Bar, KillPoint, MemoryRecording, ProcessLine};
use crate::{Report, ReportError};

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// The victim cgroup's memory before the kill (a recording): anon, file, shmem stacked,
    /// limit and high as lines, the forecast, the kill marked.
    Memory,
    /// The top processes' RSS over the same time (a recording).
    Processes,
    /// The report's task table as bars, the victim marked.
    Tasks,
    /// The report's memory.stat as a breakdown.
    Stat,
    /// Several kills on one time axis: when, and the victim's size.
    Kills,
}

/// Output form of one chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    /// SVG text with the font embedded.
    Svg,
    /// PNG, RGB.
    Png,
}

impl ChartKind {
    /// Every chart, in the order a report shows them.
    pub const ALL: [ChartKind; 5] = [
        ChartKind::Kills,
        ChartKind::Memory,
        ChartKind::Processes,
        ChartKind::Tasks,
        ChartKind::Stat,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Memory => "memory",
            ChartKind::Processes => "processes",
            ChartKind::Tasks => "tasks",
            ChartKind::Stat => "stat",
            ChartKind::Kills => "kills",
        }
    }

    /// The plot area's background, a colour no series is drawn in.
    pub fn background(self) -> (u8, u8, u8) {
        match self {
            ChartKind::Memory => (236, 243, 251),
            ChartKind::Processes => (238, 249, 238),
            ChartKind::Tasks => (252, 243, 233),
            ChartKind::Stat => (245, 238, 252),
            ChartKind::Kills => (250, 249, 226),
        }
    }

    fn title(self) -> &'static str {
        match self {
            ChartKind::Memory => "victim cgroup memory before the kill",
            ChartKind::Processes => "largest processes, RSS",
            ChartKind::Tasks => "processes at the kill (the report's task table), RSS",
            ChartKind::Stat => "what filled the cgroup (memory.stat)",
            ChartKind::Kills => "kills on one time axis, victim RSS",
        }
    }
}

impl FromStr for ChartKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ChartKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ChartKind::ALL.iter().map(|k| k.name()).collect();
                format!("no chart {s:?}; charts: {}", names.join(", "))
            })
    }
}

/// Chart width, pixels.
pub const WIDTH: u32 = 900;
const TIME_HEIGHT: u32 = 360;

const ANON: RGBColor = RGBColor(66, 133, 244);
const FILE: RGBColor = RGBColor(251, 188, 5);
const SHMEM: RGBColor = RGBColor(52, 168, 83);
const LIMIT: RGBColor = RGBColor(219, 68, 55);
const HIGH: RGBColor = RGBColor(255, 109, 0);
const FORECAST: RGBColor = RGBColor(123, 31, 162);
const KILL: RGBColor = RGBColor(120, 0, 0);
const USAGE: RGBColor = RGBColor(60, 60, 60);
const BAR: RGBColor = RGBColor(90, 110, 140);
const VICTIM: RGBColor = RGBColor(200, 30, 30);
const LINES: [RGBColor; 6] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 90, 200),
    RGBColor(20, 140, 60),
    RGBColor(150, 60, 170),
    RGBColor(220, 120, 0),
    RGBColor(0, 140, 150),
];

fn bg(kind: ChartKind) -> RGBColor {
    let (r, g, b) = kind.background();
    RGBColor(r, g, b)
}

fn text(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// The data of one chart, taken from the report once.
enum Data {
    Memory(Vec<MemoryRecording>),
    Processes(Vec<ProcessLine>),
    Bars(ChartKind, Vec<Bar>),
    Kills(Vec<KillPoint>),
}

impl Data {
    fn of(report: &Report, kind: ChartKind) -> Result<Data, ReportError> {
        let last_with = |f: fn(&oomlens_model::Incident) -> Vec<Bar>| {
            report
                .incidents
                .iter()
                .rev()
                .map(|i| f(&i.incident))
                .find(|b| !b.is_empty())
                .unwrap_or_default()
        };
        let (empty, data) = match kind {
            ChartKind::Memory => {
                let m = series::memory(report);
                (m.is_empty(), Data::Memory(m))
            }
            ChartKind::Processes => {
                let p = series::processes(report);
                (p.is_empty(), Data::Processes(p))
            }
            ChartKind::Tasks => {
                let b = last_with(series::tasks);
                (b.is_empty(), Data::Bars(kind, b))
            }
            ChartKind::Stat => {
                let b = last_with(series::stat);
                (b.is_empty(), Data::Bars(kind, b))
            }
            ChartKind::Kills => {
                let k = series::kills(report);
                (k.is_empty(), Data::Kills(k))
            }
        };
        if empty {
            return Err(ReportError::NoChart(kind.name(), why_none(kind)));
        }
        Ok(data)
    }

    fn height(&self) -> u32 {
        match self {
            Data::Bars(_, b) => 90 + 26 * b.len() as u32,
            _ => TIME_HEIGHT,
        }
    }
}

fn why_none(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Memory | ChartKind::Processes => {
            "it needs an incident recorded by `oomlens guard` with samples (oomlens report ID)"
        }
        ChartKind::Tasks => "no incident printed a task table",
        ChartKind::Stat => "no incident printed memory.stat",
        ChartKind::Kills => "it needs two or more incidents with a time",
    }
}

/// The charts `report` can show, in order (see [`ChartKind::ALL`]).
pub fn available(report: &Report) -> Vec<ChartKind> {
    ChartKind::ALL
        .into_iter()
        .filter(|k| Data::of(report, *k).is_ok())
        .collect()
}

/// Render one chart of `report`.
pub fn render_chart(
    report: &Report,
    kind: ChartKind,
    format: ChartFormat,
) -> Result<Vec<u8>, ReportError> {
    font::register();
    let data = Data::of(report, kind)?;
    let size = (WIDTH, data.height());
    let fail = |e: String| ReportError::Draw {
        chart: kind.name(),
        message: e,
    };
    match format {
        ChartFormat::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                draw(&root, &data).map_err(|e| fail(e.to_string()))?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            Ok(with_font(&s).into_bytes())
        }
        ChartFormat::Png => {
            let mut buf = vec![0u8; (size.0 * size.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                draw(&root, &data).map_err(|e| fail(e.to_string()))?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, size.0, size.1);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header()?.write_image_data(&buf)?;
            Ok(out)
        }
    }
}

/// The SVG with the bundled font embedded, so that a viewer shows the text with the font it
/// was measured with: a `<style>` right after the opening `<svg …>` tag.
fn with_font(svg: &str) -> String {
    let Some(open) = svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    else {
        return svg.to_string();
    };
    format!(
        "{}\n<style>{}</style>{}",
        &svg[..open],
        font::font_face_css(),
        &svg[open..]
    )
}

/// Render `kind` as SVG for inlining into HTML (without its own `@font-face`: the page has
/// one).
pub(crate) fn inline_svg(report: &Report, kind: ChartKind) -> Result<String, ReportError> {
    font::register();
    let data = Data::of(report, kind)?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, data.height())).into_drawing_area();
        let fail = |e: String| ReportError::Draw {
            chart: kind.name(),
            message: e,
        };
        draw(&root, &data).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(s)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &Data) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match data {
        Data::Memory(m) => draw_memory(root, m),
        Data::Processes(p) => draw_processes(root, p),
        Data::Bars(kind, b) => draw_bars(root, *kind, b),
        Data::Kills(k) => draw_kills(root, k),
    }
}

/// A range around `lo..hi` with a little room, never empty.
fn padded(lo: f64, hi: f64) -> Range<f64> {
    let span = (hi - lo).abs().max(1e-3);
    (lo - span * 0.02)..(hi + span * 0.05)
}

/// A chart with seconds across and MiB up.
type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A layer of the stacked memory: its name, colour and height at a sample.
type Layer = (&'static str, RGBColor, fn(&series::MemPoint) -> f64);

fn time_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    kind: ChartKind,
    x: Range<f64>,
    y_max: f64,
) -> Result<TimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(root)
        .caption(kind.title(), text(16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x, 0.0..y_max.max(1.0) * 1.08)?;
    chart.plotting_area().fill(&bg(kind))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|t| axis_time(*t))
        .y_label_formatter(&|v| format!("{v:.0} MiB"))
        .x_desc("time relative to the last kill")
        .label_style(text(12))
        .axis_desc_style(text(12))
        .draw()?;
    Ok(chart)
}

/// An axis label relative to the last kill: as `explain --recorded` writes times up to two
/// hours (`-12.0s`, `-4m05s`), then hours and minutes, then days and hours.
fn axis_time(t: f64) -> String {
    let a = t.abs().round() as u64;
    let sign = if t < 0.0 { "-" } else { "+" };
    match a {
        0..7200 => relative_text(t),
        7200..172_800 => format!("{sign}{}h{:02}m", a / 3600, a % 3600 / 60),
        _ => format!("{sign}{}d{:02}h", a / 86_400, a % 86_400 / 3600),
    }
}

fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
}

fn draw_memory<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    recs: &[MemoryRecording],
) -> DrawResult<DB> {
    let ts = recs.iter().flat_map(|r| {
        let s = r.stack.iter().map(|p| p.t);
        let u = r.usage.iter().map(|p| p.0);
        let f = r.forecast.iter().flat_map(|f| [f[0].0, f[1].0]);
        s.chain(u).chain(f).chain([r.kill_t])
    });
    let (lo, hi) = ts.fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(t), b.max(t)));
    let y_max = recs
        .iter()
        .flat_map(|r| {
            let s = r.stack.iter().map(|p| p.anon + p.file + p.shmem);
            let lines = r.usage.iter().chain(&r.max).chain(&r.high).map(|p| p.1);
            s.chain(lines)
        })
        .fold(0.0, f64::max);
    let mut chart = time_chart(root, ChartKind::Memory, padded(lo, hi), y_max)?;
    for (n, r) in recs.iter().enumerate() {
        let first = n == 0;
        // Stacked: draw the sum first, then the lower layers over it.
        let layers: [Layer; 3] = [
            ("shmem", SHMEM, |p| p.anon + p.file + p.shmem),
            ("file", FILE, |p| p.anon + p.file),
            ("anon", ANON, |p| p.anon),
        ];
        for (name, colour, y) in layers {
            let pts: Vec<(f64, f64)> = r.stack.iter().map(|p| (p.t, y(p))).collect();
            let s = chart.draw_series(AreaSeries::new(pts, 0.0, colour.filled()))?;
            if first {
                s.label(name).legend(legend_box(colour));
            }
        }
        if !r.usage.is_empty() {
            let s = chart.draw_series(LineSeries::new(r.usage.clone(), USAGE.stroke_width(2)))?;
            if first {
                s.label("usage").legend(legend_box(USAGE));
            }
        }
        for (name, colour, pts) in [("limit", LIMIT, &r.max), ("high", HIGH, &r.high)] {
            if pts.is_empty() {
                continue;
            }
            let s = chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
            if first {
                s.label(name).legend(legend_box(colour));
            }
        }
        if let Some([a, b]) = r.forecast {
            let s = chart.draw_series(DashedLineSeries::new(
                [a, b],
                6,
                4,
                FORECAST.stroke_width(2),
            ))?;
            if first {
                s.label("forecast").legend(legend_box(FORECAST));
            }
        }
        let top = y_max.max(1.0) * 1.05;
        let s = chart.draw_series(LineSeries::new(
            [(r.kill_t, 0.0), (r.kill_t, top)],
            KILL.stroke_width(2),
        ))?;
        if first {
            s.label("kill").legend(legend_box(KILL));
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(text(12))
        .draw()
}

fn draw_processes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &[ProcessLine],
) -> DrawResult<DB> {
    let pts = lines.iter().flat_map(|l| l.points.iter());
    let (lo, hi, y_max) = pts.fold((f64::MAX, f64::MIN, 0.0f64), |(a, b, m), p| {
        (a.min(p.0), b.max(p.0), m.max(p.1))
    });
    let mut chart = time_chart(root, ChartKind::Processes, padded(lo, hi.max(0.0)), y_max)?;
    for (i, l) in lines.iter().enumerate() {
        let c = LINES[i % LINES.len()];
        let width = if l.victim { 3 } else { 2 };
        let label = match l.victim {
            true => format!("{} (victim)", l.label),
            false => l.label.clone(),
        };
        chart
            .draw_series(LineSeries::new(l.points.clone(), c.stroke_width(width)))?
            .label(label)
            .legend(legend_box(c));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: ChartKind,
    bars: &[Bar],
) -> DrawResult<DB> {
    let n = bars.len() as u32;
    let x_max = bars.iter().map(|b| b.mib).fold(0.0, f64::max).max(0.01) * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(kind.title(), text(16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(200)
        .build_cartesian_2d(0.0..x_max, (0..n).into_segmented())?;
    chart.plotting_area().fill(&bg(kind))?;
    let label_of = |v: &SegmentValue<u32>| match v {
        // The first bar (the largest) at the top: segment 0 is at the bottom.
        SegmentValue::CenterOf(i) => (n as usize)
            .checked_sub(*i as usize + 1)
            .and_then(|k| bars.get(k))
            .map_or(String::new(), |b| b.label.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&label_of)
        .x_label_formatter(&|v| format!("{v:.1} MiB"))
        .label_style(text(12))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let c = if b.highlight { VICTIM } else { BAR };
        let i = n - 1 - i as u32;
        let mut r = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (b.mib, SegmentValue::Exact(i + 1)),
            ],
            c.filled(),
        );
        r.set_margin(3, 3, 0, 0);
        r
    }))?;
    Ok(())
}

fn draw_kills<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kills: &[KillPoint],
) -> DrawResult<DB> {
    let (lo, hi, y_max) = kills
        .iter()
        .fold((f64::MAX, f64::MIN, 0.0f64), |(a, b, m), k| {
            (a.min(k.t), b.max(k.t), m.max(k.mib))
        });
    let span = (hi - lo).max(1.0);
    let x = (lo - span * 0.05)..(hi + span * 0.05);
    let mut chart = time_chart(root, ChartKind::Kills, x, y_max)?;
    let mut owners: Vec<&str> = kills.iter().map(|k| k.owner.as_str()).collect();
    owners.dedup();
    owners.sort_unstable();
    owners.dedup();
    for (i, owner) in owners.iter().enumerate() {
        let c = LINES[i % LINES.len()];
        let mine: Vec<&KillPoint> = kills.iter().filter(|k| k.owner == *owner).collect();
        chart
            .draw_series(
                mine.iter()
                    .map(|k| PathElement::new([(k.t, 0.0), (k.t, k.mib)], c.stroke_width(3))),
            )?
            .label(owner.to_string())
            .legend(legend_box(c));
        chart.draw_series(
            mine.iter()
                .map(|k| Circle::new((k.t, k.mib), 5, c.filled())),
        )?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperMiddle)
}

#[cfg(test)]
mod tests {
    use super::axis_time;

    #[test]
    fn axis_times_read_in_the_unit_of_their_span() {
        assert_eq!(axis_time(-12.04), "-12.0s");
        assert_eq!(axis_time(-245.0), "-4m05s");
        assert_eq!(axis_time(-3.0 * 3600.0 - 60.0), "-3h01m");
        assert_eq!(axis_time(-200_000.0), "-2d07h");
        assert_eq!(axis_time(0.0), "+0.0s");
    }
}
