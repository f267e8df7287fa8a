//! The `oomlens top` terminal UI (ratatui over crossterm), in its own crate because of its
//! heavy dependencies. It draws the rows of `oomlens_model::top` with the registry's
//! column titles and the cell texts of `oomlens_sinks::top`, fed by a [`Feed`].
//!
//! Screen: a header (machine memory, PSI, sort key), the cgroup tree (or the processes of
//! one cgroup after Enter) with a usage/limit bar, rate, class, ETA, PSI and a sparkline of
//! the window, a larger sparkline of the selected row, and a key help line.
//!
//! The terminal is restored (raw mode off, main screen back, cursor shown) however the loop
//! ends: normally, on an error (a guard's `Drop`), on a panic (a panic hook that restores
//! first and then prints the panic), and on SIGINT/SIGTERM/SIGHUP (a handler that only sets
//! a flag; the loop sees it within 100 ms and leaves through the normal path). In raw mode
//! Ctrl-C arrives as a key, handled like `q`.

#![deny(missing_docs)]

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Terminal;

use oomlens_model::top::{column, field, CgroupRow, Class, ProcessRow, ProcessScope, TopDoc};
use oomlens_sinks::escape::escape;
use oomlens_sinks::text::human_bytes;
use oomlens_sinks::top::{cell, percent_text};

/// What the TUI shows, tick by tick: the caller's sampler, history and analysis behind a
/// narrow interface (the TUI never sees how a pass is read).
pub trait Feed {
    /// Why a tick failed.
    type Error;
    /// Reads one sample pass and records it.
    fn tick(&mut self) -> Result<(), Self::Error>;
    /// The document for the last pass, with the processes of `scope`.
    fn analyse(&self, scope: ProcessScope<'_>) -> TopDoc;
    /// A process's RSS over the window, oldest first (empty when unknown).
    fn process_history(&self, pid: u32) -> Vec<f64>;
}

/// Why the TUI stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum TuiError<E> {
    /// The terminal could not be set up, drawn or read.
    #[error("the terminal: {0}")]
    Terminal(#[from] io::Error),
    /// A tick of the feed failed.
    #[error(transparent)]
    Feed(E),
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether the terminal is in the TUI's modes (so `restore` has work to do).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen, once: after a panic the hook restores and
/// prints the message, then unwinding drops the guard — a second LeaveAlternateScreen
/// would put the cursor back where the alternate screen was entered, and the shell would
/// overwrite the message.
fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Sort keys, cycled with `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Tree,
    Usage,
    Rate,
    Eta,
}

impl Sort {
    fn next(self) -> Sort {
        match self {
            Sort::Tree => Sort::Usage,
            Sort::Usage => Sort::Rate,
            Sort::Rate => Sort::Eta,
            Sort::Eta => Sort::Tree,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Sort::Tree => "tree",
            Sort::Usage => "usage",
            Sort::Rate => "rate",
            Sort::Eta => "eta",
        }
    }
}

struct App {
    sort: Sort,
    table: TableState,
    /// The cgroup drilled into.
    drill: Option<String>,
    help: bool,
}

impl App {
    /// The processes the screen shows: those of the cgroup drilled into, else none.
    fn scope(&self) -> ProcessScope<'_> {
        match &self.drill {
            Some(cg) => ProcessScope::Cgroup(cg),
            None => ProcessScope::None,
        }
    }
}

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` values.
fn spark(values: &[f64], width: usize) -> String {
    let v = &values[values.len().saturating_sub(width)..];
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    v.iter()
        .map(|x| {
            if hi - lo < 1.0 {
                BLOCKS[0]
            } else {
                BLOCKS[(((x - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// `[#####-----] 52%`.
fn bar(usage: Option<u64>, limit: Option<u64>, width: usize) -> String {
    match (usage, limit) {
        (Some(u), Some(l)) if l > 0 => {
            let frac = (u as f64 / l as f64).clamp(0.0, 1.0);
            let fill = (frac * width as f64).round() as usize;
            format!(
                "[{}{}] {:>3.0}%",
                "#".repeat(fill),
                "-".repeat(width - fill),
                frac * 100.0
            )
        }
        _ => format!("[{}]  -  ", " ".repeat(width)),
    }
}

fn sorted_cgroups(doc: &TopDoc, sort: Sort) -> Vec<&CgroupRow> {
    let mut v: Vec<&CgroupRow> = doc.cgroups.iter().collect();
    let eta = |c: &CgroupRow| c.eta.as_ref().map_or(f64::MAX, |e| e.seconds);
    match sort {
        Sort::Tree => {}
        Sort::Usage => v.sort_by_key(|c| std::cmp::Reverse(c.usage)),
        Sort::Rate => v.sort_by(|a, b| b.trend.rate.total_cmp(&a.trend.rate)),
        Sort::Eta => v.sort_by(|a, b| eta(a).total_cmp(&eta(b))),
    }
    v
}

fn sorted_processes<'a>(doc: &'a TopDoc, cg: &str, sort: Sort) -> Vec<&'a ProcessRow> {
    let mut v: Vec<&ProcessRow> = doc.processes.iter().filter(|p| p.cgroup == cg).collect();
    let eta = |p: &ProcessRow| p.eta.as_ref().map_or(f64::MAX, |e| e.seconds);
    match sort {
        Sort::Tree => v.sort_by_key(|p| p.pid),
        Sort::Usage => v.sort_by_key(|p| std::cmp::Reverse(p.rss)),
        Sort::Rate => v.sort_by(|a, b| b.trend.rate.total_cmp(&a.trend.rate)),
        Sort::Eta => v.sort_by(|a, b| eta(a).total_cmp(&eta(b))),
    }
    v
}

fn class_style(c: Class) -> Style {
    match c {
        Class::Leak => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Class::Sawtooth => Style::default().fg(Color::Yellow),
        _ => Style::default(),
    }
}

/// The header line: machine memory, PSI, sort key, view and time.
fn header_line(doc: &TopDoc, app: &App) -> Paragraph<'static> {
    let view = match &app.drill {
        Some(cg) => format!("processes of {}", escape(cg)),
        None => "cgroups".to_string(),
    };
    Paragraph::new(format!(
        "oomlens top  mem {} avail {}  PSI some {}  sort: {}  view: {}  t={:.0}s",
        doc.mem_total.map_or("-".into(), human_bytes),
        doc.mem_available.map_or("-".into(), human_bytes),
        percent_text(doc.psi_some_avg10, 2),
        app.sort.name(),
        view,
        doc.t
    ))
    .style(Style::default().add_modifier(Modifier::REVERSED))
}

/// The cgroup table's header: registry titles; `USAGE/LIMIT` joins two fields, and the
/// usage bar and the sparkline (drawings of `usage`, not fields) have none.
pub fn cgroup_header() -> Vec<String> {
    let t = column::<CgroupRow>;
    vec![
        t("path").into(),
        format!("{}/{}", t("usage"), t("limit")),
        String::new(),
        t("trend.rate").into(),
        t("trend.class").into(),
        t("eta.seconds").into(),
        t("psi_some_avg10").into(),
        String::new(),
        t("owner").into(),
    ]
}

fn cgroup_row(c: &CgroupRow, sort: Sort) -> Row<'static> {
    let f = |name| cell(c, field::<CgroupRow>(name));
    let name = if sort == Sort::Tree {
        let leaf = c
            .path
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("/");
        format!("{}{}", "  ".repeat(c.depth), escape(leaf))
    } else {
        escape(&c.path).into_owned()
    };
    let grows = match (&c.growth, &c.growth_mount) {
        (Some(g), Some(m)) => format!(" {g}@{}", escape(m)),
        (Some(g), None) => format!(" {g}"),
        _ => String::new(),
    };
    Row::new(vec![
        Cell::from(name),
        Cell::from(format!(
            "{}/{}",
            c.usage.map_or("-".into(), human_bytes),
            c.limit.map_or("max".into(), human_bytes)
        )),
        Cell::from(bar(c.usage, c.limit, 10)),
        Cell::from(f("trend.rate")),
        Cell::from(format!("{}{grows}", f("trend.class"))).style(class_style(c.trend.class)),
        Cell::from(f("eta.seconds")),
        Cell::from(f("psi_some_avg10")),
        Cell::from(spark(&c.spark, 16)),
        Cell::from(f("owner")),
    ])
}

/// The cgroup tree (or list, when sorted); returns the selected row's usage series.
fn cgroup_table(f: &mut ratatui::Frame, area: Rect, doc: &TopDoc, app: &mut App) -> Vec<u64> {
    let sel = app.table.selected().unwrap_or(0);
    let rows = sorted_cgroups(doc, app.sort);
    let series = rows
        .get(sel)
        .map(|c| c.spark.iter().map(|v| *v as u64).collect())
        .unwrap_or_default();
    let body_rows: Vec<Row> = rows.iter().map(|c| cgroup_row(c, app.sort)).collect();
    let n = body_rows.len();
    if sel >= n && n > 0 {
        app.table.select(Some(n - 1));
    }
    let t = Table::new(
        body_rows,
        [
            Constraint::Min(24),
            Constraint::Length(21),
            Constraint::Length(17),
            Constraint::Length(12),
            Constraint::Length(22),
            Constraint::Length(18),
            Constraint::Length(6),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(cgroup_header()).style(Style::default().add_modifier(Modifier::BOLD)))
    .block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" {} cgroups ", n)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(t, area, &mut app.table);
    series
}

/// The process table's columns, all fields of the registry.
const PROCESS_COLS: [&str; 9] = [
    "pid",
    "comm",
    "rss",
    "anon",
    "file",
    "shmem",
    "trend.rate",
    "trend.class",
    "eta.seconds",
];

/// The processes of the cgroup drilled into; returns the selected process's pid.
fn process_table(
    f: &mut ratatui::Frame,
    area: Rect,
    doc: &TopDoc,
    app: &mut App,
    cg: &str,
) -> Option<u32> {
    let sel = app.table.selected().unwrap_or(0);
    let rows = sorted_processes(doc, cg, app.sort);
    let fields: Vec<_> = PROCESS_COLS
        .iter()
        .map(|n| field::<ProcessRow>(n))
        .collect();
    let body_rows: Vec<Row> = rows
        .iter()
        .map(|p| {
            Row::new(fields.iter().map(|fl| {
                let c = Cell::from(cell(*p, fl));
                match fl.name {
                    "trend.class" => c.style(class_style(p.trend.class)),
                    _ => c,
                }
            }))
        })
        .collect();
    let n = body_rows.len();
    let header = Row::new(process_header()).style(Style::default().add_modifier(Modifier::BOLD));
    let t = Table::new(
        body_rows,
        [
            Constraint::Length(8),
            Constraint::Length(16),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(12),
            Constraint::Length(11),
            Constraint::Min(18),
        ],
    )
    .header(header)
    .block(
        Block::default()
            .borders(Borders::TOP)
            .title(format!(" {n} processes ")),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(t, area, &mut app.table);
    rows.get(sel).map(|p| p.pid)
}

/// The process table's header: the registry's titles of [`PROCESS_COLS`].
pub fn process_header() -> Vec<String> {
    PROCESS_COLS
        .iter()
        .map(|n| column::<ProcessRow>(n).to_string())
        .collect()
}

/// The selected row's usage over the window, from its minimum.
fn graph(series: &[u64]) -> Sparkline<'static> {
    let lo = series.iter().copied().min().unwrap_or(0);
    let data: Vec<u64> = series.iter().map(|v| v - lo).collect();
    Sparkline::default()
        .block(
            Block::default()
                .borders(Borders::TOP)
                .title(" selected: usage over the window "),
        )
        .data(data)
        .style(Style::default().fg(Color::Cyan))
}

fn help_line(long: bool) -> Paragraph<'static> {
    let text = if long {
        "q/Ctrl-C quit | Up/Down/j/k move | Enter processes of cgroup | Esc/Backspace back | s sort: tree>usage>rate>eta | ? hide help"
    } else {
        "q quit  ↑↓ move  Enter processes  Esc back  s sort  ? help"
    };
    Paragraph::new(Line::from(text))
}

fn draw<F: Feed>(f: &mut ratatui::Frame, doc: &TopDoc, app: &mut App, feed: &F) {
    let [head, body, graph_area, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(4),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(header_line(doc, app), head);
    let series = match app.drill.clone() {
        None => cgroup_table(f, body, doc, app),
        Some(cg) => process_table(f, body, doc, app, &cg)
            .map(|pid| {
                feed.process_history(pid)
                    .iter()
                    .map(|v| *v as u64)
                    .collect()
            })
            .unwrap_or_default(),
    };
    f.render_widget(graph(&series), graph_area);
    f.render_widget(help_line(app.help), help);
}

/// Runs the TUI until `q`, Ctrl-C or a termination signal.
pub fn run<F: Feed>(mut feed: F, interval: Duration) -> Result<(), TuiError<F::Error>> {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let _guard = Guard;
    execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    term.clear()?;
    let mut app = App {
        sort: Sort::Tree,
        table: TableState::default().with_selected(Some(0)),
        drill: None,
        help: false,
    };
    let mut next = Instant::now();
    let mut doc: Option<TopDoc> = None;
    // Fault injection for the test of the panic path (tests/top_tui.rs): panic after this
    // many ticks.
    let panic_after: Option<u64> = std::env::var("OOMLENS_TEST_TOP_PANIC_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut ticks = 0u64;
    loop {
        if STOP.load(Ordering::SeqCst) {
            return Ok(());
        }
        if Instant::now() >= next {
            if panic_after.is_some_and(|n| ticks >= n) {
                panic!("OOMLENS_TEST_TOP_PANIC_AFTER={ticks}: injected panic");
            }
            ticks += 1;
            feed.tick().map_err(TuiError::Feed)?;
            doc = Some(feed.analyse(app.scope()));
            next += interval;
            if next < Instant::now() {
                next = Instant::now() + interval;
            }
        }
        if let Some(d) = &doc {
            term.draw(|f| draw(f, d, &mut app, &feed))?;
        }
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        if !event::poll(wait)? {
            continue;
        }
        let Event::Key(k) = event::read()? else {
            continue;
        };
        if k.kind != KeyEventKind::Press {
            continue;
        }
        let sel = app.table.selected().unwrap_or(0);
        match k.code {
            KeyCode::Char('q') => return Ok(()),
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
            KeyCode::Down | KeyCode::Char('j') => app.table.select(Some(sel + 1)),
            KeyCode::Up | KeyCode::Char('k') => app.table.select(Some(sel.saturating_sub(1))),
            KeyCode::Char('s') => app.sort = app.sort.next(),
            KeyCode::Char('?') | KeyCode::Char('h') => app.help = !app.help,
            KeyCode::Enter if app.drill.is_none() => {
                if let Some(d) = &doc {
                    if let Some(c) = sorted_cgroups(d, app.sort).get(sel) {
                        app.drill = Some(c.path.clone());
                        app.table.select(Some(0));
                    }
                }
                // Processes are analysed only for the cgroup shown: now its own.
                if app.drill.is_some() {
                    doc = Some(feed.analyse(app.scope()));
                }
            }
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                app.drill = None;
                app.table.select(Some(0));
            }
            _ => {}
        }
    }
}
