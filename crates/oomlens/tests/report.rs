//! `oomlens report`: reports of real incidents opened in headless Chromium (Debian's
//! `chromium`), their rendered text checked and every chart checked for content by pixel
//! counts in its plot area, found in the screenshot by the plot area's own background colour
//! (`ChartKind::background`). Inputs: corpus reports of each kind (memcg, global, cpuset,
//! systemd-oomd, earlyoom, kubelet), several kills of one log, and real kills in a child v1
//! memory cgroup recorded by a running `oomlens guard`. Also: the charts' bytes are the same
//! twice and without any system font, errors and exit codes, atomic output, escaping.
//!
//! Without chromium the browser checks print `SKIPPED` (a failure when
//! `OOMLENS_REQUIRE_REAL_KERNEL` is set, as `.ci/run` does). The screenshots are kept in
//! `target/report-screenshots/` to be looked at.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oomlens_report::ChartKind;
use oomlens_testkit::cgroup_v1::MemoryCgroup;
use oomlens_testkit::fs::TempDir;
use oomlens_testkit::oomlens;

const MIB: u64 = 1 << 20;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn corpus(name: &str) -> PathBuf {
    workspace().join("tests/corpus/oom-reports").join(name)
}

/// Where the screenshots are kept.
fn shots_dir() -> PathBuf {
    let d = workspace().join("target/report-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Debian's chromium, or a loud skip (a failure under OOMLENS_REQUIRE_REAL_KERNEL).
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|c| c.is_file())
    });
    if found.is_none() {
        let msg = "chromium is not installed (Debian package chromium)";
        assert!(
            std::env::var_os("OOMLENS_REQUIRE_REAL_KERNEL").is_none(),
            "{msg}, and OOMLENS_REQUIRE_REAL_KERNEL is set"
        );
        println!("SKIPPED browser test: {msg}");
    }
    found
}

/// Runs headless chromium on `html` with `what` (`--dump-dom` or `--screenshot=F`).
fn browse(chromium: &Path, html: &Path, what: &[String]) -> String {
    let profile = TempDir::new("chromium-profile").unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(what)
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium on {}: {}\n{}",
        html.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An RGB screenshot.
struct Shot {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        let step = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("{}: colour type {other:?}", path.display()),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks(step)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        Shot {
            w: info.width as usize,
            h: info.height as usize,
            rgb,
        }
    }

    fn at(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.w + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// The bounding box of the pixels of exactly `colour`: a chart's plot area.
    fn area_of(&self, colour: (u8, u8, u8)) -> Option<(usize, usize, usize, usize)> {
        let mut b: Option<(usize, usize, usize, usize)> = None;
        for y in 0..self.h {
            for x in 0..self.w {
                if self.at(x, y) == colour {
                    b = Some(match b {
                        None => (x, y, x, y),
                        Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                    });
                }
            }
        }
        b
    }

    /// In `kind`'s plot area (2 px inside its edge, where the axes are drawn): pixels
    /// drawn (not the background) and all pixels.
    fn drawn(&self, kind: ChartKind) -> (usize, usize) {
        let bg = kind.background();
        let (x0, y0, x1, y1) = self
            .area_of(bg)
            .unwrap_or_else(|| panic!("no plot area of the {} chart", kind.name()));
        let mut drawn = 0;
        let mut all = 0;
        for y in y0 + 2..y1.saturating_sub(1) {
            for x in x0 + 2..x1.saturating_sub(1) {
                all += 1;
                if self.at(x, y) != bg {
                    drawn += 1;
                }
            }
        }
        (drawn, all)
    }
}

/// What Chromium made of a report: its DOM and a screenshot (kept as `name.png`).
struct Rendered {
    dom: String,
    shot: Shot,
}

fn render(chromium: &Path, html: &Path, name: &str) -> Rendered {
    let dom = browse(chromium, html, &["--dump-dom".into()]);
    let png = shots_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    browse(
        chromium,
        html,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1000,4000".into(),
        ],
    );
    Rendered {
        dom,
        shot: Shot::load(&png),
    }
}

/// The text of the first element `<tag …>` of `dom` whose opening tag contains `attr`.
fn element_text(dom: &str, tag: &str, attr: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut rest = dom;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i..];
        let end = after.find('>')?;
        if after[..end].contains(attr) {
            let body = &after[end + 1..];
            let close = body.find(&format!("</{tag}>"))?;
            return Some(strip_tags(&body[..close]));
        }
        rest = &after[end..];
    }
    None
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
}

/// The charts a page holds, in order (`data-chart` of each figure).
fn charts_of(dom: &str) -> Vec<String> {
    dom.match_indices("data-chart=\"")
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// Every chart of the page has at least `min_share` of its plot area drawn.
fn assert_charts_drawn(r: &Rendered, what: &str, min_share: f64) {
    for name in charts_of(&r.dom) {
        let kind: ChartKind = name.parse().unwrap();
        let (drawn, all) = r.shot.drawn(kind);
        let share = drawn as f64 / all as f64;
        println!(
            "{what}: {name} chart: {drawn} of {all} plot pixels drawn ({:.1}%)",
            share * 100.0
        );
        assert!(
            share >= min_share,
            "{what}: the {name} chart is blank: {drawn} of {all} pixels drawn"
        );
    }
}

/// The headline `oomlens explain --summary` prints for the first incident of `file`.
fn explain_headline(file: &Path) -> String {
    let out = oomlens!().args(["explain", "--summary"]).arg(file).run();
    out.success();
    let line = out.stdout().lines().next().unwrap().to_string();
    line[..line.rfind("  [").unwrap()].to_string()
}

/// One corpus report of each kind: its file, an owner text the page must show, and the
/// charts a report without a recording can have (what the report printed). The victim is
/// the one the corpus MANIFEST names (checked by hand against each file).
const CORPUS: &[(&str, &str, &str, &[&str])] = &[
    (
        "memcg",
        "038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log",
        "run-u640.service",
        &["tasks", "stat"],
    ),
    (
        "global",
        "006-centos7-3.10-global-syslog-java.log",
        "the machine",
        &["tasks"],
    ),
    (
        "cpuset",
        "021-opensuse-5.8-cpuset-movable-node-noprefix.log",
        "",
        &[],
    ),
    (
        "systemd-oomd",
        "100-systemd-oomd-journal-killed-vte-scope-pressure.log",
        "",
        &[],
    ),
    (
        "earlyoom",
        "103-earlyoom-journal-sigterm-oom_score-cmdline-mrelease.log",
        "",
        &[],
    ),
    (
        "kubelet",
        "112-kubelet-describe-last-state-oomkilled-137.log",
        "",
        &[],
    ),
];

/// The MANIFEST's victim pid and comm of `file`.
fn manifest_victim(file: &str) -> (String, String) {
    let m = std::fs::read_to_string(corpus("MANIFEST.tsv")).unwrap();
    let header: Vec<&str> = m.lines().next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let row: Vec<&str> = m
        .lines()
        .find(|l| l.starts_with(&format!("{file}\t")))
        .unwrap()
        .split('\t')
        .collect();
    (
        row[col("victim_pid")].to_string(),
        row[col("victim_comm")].to_string(),
    )
}

#[test]
fn corpus_reports_of_each_kind_render_in_chromium_with_their_text_and_charts() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = TempDir::new("report-corpus").unwrap();
    for (kind, file, owner, charts) in CORPUS {
        let html = dir.join(format!("{kind}.html"));
        oomlens!()
            .args(["report"])
            .arg(corpus(file))
            .arg("-o")
            .arg(&html)
            .run()
            .success()
            .no_stdout();
        let r = render(&chromium, &html, &format!("corpus-{kind}"));
        let headline = element_text(&r.dom, "h2", "class=\"headline\"").expect("a headline");
        assert_eq!(headline, explain_headline(&corpus(file)), "{kind}");
        // The victim as the MANIFEST names it, in the headline and the facts.
        let (pid, comm) = manifest_victim(file);
        let known = |v: &str| v != "?" && v != "-";
        if known(&pid) {
            assert!(
                headline.contains(&pid),
                "{kind}: {headline} lacks pid {pid}"
            );
        }
        if known(&comm) {
            assert!(headline.contains(&comm), "{kind}: {headline} lacks {comm}");
        }
        if known(&pid) && known(&comm) {
            let facts = element_text(&r.dom, "table", "facts").unwrap();
            let killed = format!("killed{comm} (pid {pid})");
            assert!(facts.contains(&killed), "{kind}: {facts}");
        }
        let owner_table = element_text(&r.dom, "table", "owner").expect("an owner table");
        assert!(owner_table.contains(owner), "{kind}: {owner_table}");
        assert!(
            r.dom.contains("The kernel's report ("),
            "{kind}: no raw report"
        );
        assert_eq!(charts_of(&r.dom), *charts, "{kind}");
        assert_charts_drawn(&r, kind, 0.005);
    }
}

#[test]
fn several_kills_of_one_log_share_one_time_axis() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = TempDir::new("report-kills").unwrap();
    // Three global kills over three days, dmesg -T: 2021-10-05 16:38:47, 10-06 21:59:46,
    // 10-08 03:16:52.
    let file = corpus("230-global-dmesg-T-grep-3kills-over-3-days.log");
    let html = dir.join("kills.html");
    oomlens!()
        .args(["report"])
        .arg(&file)
        .arg("-o")
        .arg(&html)
        .run()
        .success();
    let r = render(&chromium, &html, "corpus-three-kills");
    assert_eq!(
        element_text(&r.dom, "h1", "id=\"title\"").unwrap(),
        "3 OOM kills in the machine"
    );
    assert_eq!(r.dom.matches("class=\"incident\"").count(), 3);
    assert_eq!(charts_of(&r.dom), ["kills"]);
    assert_charts_drawn(&r, "three kills", 0.002);
    // The kills on the axis: 2021-10-05 16:38:47, 10-06 21:59:46 and 10-08 03:16:52, so
    // the second is 1 d 5 h 17 m 6 s = 105,426 s before the last and the first 2 d 10 h
    // 38 m 5 s = 210,485 s: the second sits at 105426/210485 = 0.50088 of the way.
    let svg = dir.join("kills.svg");
    oomlens!()
        .args(["report"])
        .arg(&file)
        .args(["--chart", "kills", "--svg"])
        .arg(&svg)
        .run()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("kills on one time axis"), "{text}");
    let xs: Vec<f64> = text
        .match_indices("<circle cx=\"")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(xs.len(), 3, "{text}");
    let share = (xs[2] - xs[1]) / (xs[2] - xs[0]);
    assert!((share - 105_426.0 / 210_485.0).abs() < 0.003, "{xs:?}");
    // Days-long axes are labelled in days and hours.
    assert!(text.contains(">\n-2d"), "{text}");
}

/// The oomlens binary's guard on the kernel log, watching `cgroup`, into `store`.
struct Guard(std::process::Child, PathBuf);

impl Guard {
    fn start(cgroup: &str, store: &Path, log: &Path) -> Guard {
        Guard::serving(cgroup, store, log, None)
    }

    /// With `listen`, the guard serves /metrics there (as a drill expects); else none.
    fn serving(cgroup: &str, store: &Path, log: &Path, listen: Option<&str>) -> Guard {
        let metrics = match listen {
            Some(addr) => vec!["--listen", addr],
            None => vec!["--no-metrics"],
        };
        let child = Command::new(env!("CARGO_BIN_EXE_oomlens"))
            .args(["guard", "--log", "kmsg", "--interval", "500ms"])
            .args(metrics)
            .args(["--cgroup", cgroup, "--state-dir"])
            .arg(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let g = Guard(child, log.to_path_buf());
        let end = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(log).unwrap().contains("ready") {
            assert!(Instant::now() < end, "guard not ready: {}", g.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
        g
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// The store's record id of the kill of `pid`, waiting for the guard to write it.
fn record_of(store: &Path, pid: u32) -> u64 {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if store.join("lock").exists() {
            let ran = oomlens!()
                .args(["incidents", "--json", "--state-dir"])
                .arg(store)
                .run();
            let v = ran.success().json();
            let hit = v["incidents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["victim"]["pid"] == pid);
            if let Some(i) = hit {
                return i["id"].as_u64().unwrap();
            }
        }
        assert!(
            Instant::now() < end,
            "no record of pid {pid} in {}",
            store.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn real_recorded_kills_give_memory_and_process_charts_and_a_loop_on_one_axis() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let chromium = chromium();
    let dir = TempDir::new("report-real").unwrap();
    let store = dir.join("store");
    let mut cg = MemoryCgroup::create_under(&rk.own, 32 * MIB).unwrap();
    let guard = Guard::start(&rk.own.path, &store, &dir.join("guard.log"));
    // A restart loop: the same job, killed twice in one cgroup, each growing at 3 MiB/s
    // to the 32 MiB limit (about 10 s of samples before each kill).
    let mut kills = Vec::new();
    for run in 0..2 {
        let comm = format!("rptleak{run}");
        let p = cg
            .spawn(
                Command::new(&rk.hog)
                    .args(["--comm", &comm, "alloc", "--mib", "200", "--rate", "3"]),
            )
            .unwrap();
        let st = cg.wait_exit(p.pid, Duration::from_secs(60)).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.and_then(|s| s.signal()), Some(libc::SIGKILL), "{comm}");
        kills.push((record_of(&store, p.pid), p.pid, comm));
    }
    drop(guard);
    let path = cg.path().to_string();
    for (id, pid, comm) in &kills {
        let html = dir.join(format!("{id}.html"));
        oomlens!()
            .args(["report", &id.to_string(), "--state-dir"])
            .arg(&store)
            .arg("-o")
            .arg(&html)
            .run()
            .success();
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(
            !page.contains("src=\"http") && !page.contains("href=\"http"),
            "an external asset"
        );
        let md = oomlens!()
            .args(["report", &id.to_string(), "--format", "md", "--state-dir"])
            .arg(&store)
            .run();
        let md = md.success().stdout();
        assert!(
            md.contains(&format!("{comm} (pid {pid}) killed at 32.0 MiB limit")),
            "{md}"
        );
        assert!(md.contains("| limit | 32.0 MiB |"), "{md}");
        let Some(chromium) = &chromium else { continue };
        let r = render(chromium, &html, &format!("recorded-{comm}"));
        let headline = element_text(&r.dom, "h2", "class=\"headline\"").unwrap();
        assert!(
            headline.contains(&format!("{comm} (pid {pid}) killed at 32.0 MiB limit")),
            "{headline}"
        );
        let owner = element_text(&r.dom, "table", "owner").unwrap();
        assert!(owner.contains(&path), "{owner}");
        assert_eq!(charts_of(&r.dom), ["memory", "processes", "tasks", "stat"]);
        // The stacked memory fills a good part of its plot (it rises to the limit); the
        // others are lines and bars.
        let (drawn, all) = r.shot.drawn(ChartKind::Memory);
        assert!(drawn * 10 > all, "memory chart: {drawn} of {all}");
        assert_charts_drawn(&r, comm, 0.005);
    }
    let ids: Vec<String> = kills.iter().map(|k| k.0.to_string()).collect();
    let html = dir.join("loop.html");
    oomlens!()
        .arg("report")
        .args(&ids)
        .args(["--state-dir"])
        .arg(&store)
        .arg("-o")
        .arg(&html)
        .run()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(&format!("<h1 id=\"title\">2 OOM kills in {path}</h1>")),
        "{}",
        &page[..2000.min(page.len())]
    );
    if let Some(chromium) = &chromium {
        let r = render(chromium, &html, "recorded-loop");
        assert_eq!(charts_of(&r.dom)[..3], ["kills", "memory", "processes"]);
        assert_charts_drawn(&r, "loop", 0.002);
    }
}

/// Issue 16: a report of a real drill incident with its recording. `oomlens drill` makes a
/// memcg kill in its throwaway cgroup while a guard (serving /metrics, as the drill checks
/// it) records it on the way to the limit (`--rate`); the report of that record has the
/// memory and process charts, drawn.
#[test]
fn a_drill_incident_reports_with_its_recording() {
    let Some(rk) = oomlens_testkit::real_kernel() else {
        return;
    };
    let chromium = chromium();
    let dir = TempDir::new("report-drill").unwrap();
    let store = dir.join("store");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let guard = Guard::serving(&rk.own.path, &store, &dir.join("guard.log"), Some(&listen));
    let drill = || {
        oomlens!()
            .args([
                "drill",
                "--limit",
                "32M",
                "--rate",
                "8",
                "--json",
                "--state-dir",
            ])
            .arg(&store)
            .args(["--listen", &listen])
            .run()
    };
    let mut ran = drill();
    // The kernel prints at most 10 OOM reports per 5 s for the whole host; a drill that
    // found only `Killed process` says so, and is run once more (as tests/drill.rs does).
    if ran.exit_code() == Some(1) && ran.stdout().contains("rate-limited") {
        std::thread::sleep(Duration::from_secs(6));
        ran = drill();
    }
    let v = ran.json();
    assert_eq!(ran.exit_code(), Some(0), "{v:#}\n{}", guard.stderr());
    let pid = v["victim_pid"].as_u64().unwrap() as u32;
    let cgroup = v["cgroup"].as_str().unwrap().to_string();
    let id = record_of(&store, pid);
    drop(guard);
    let html = dir.join("drill.html");
    oomlens!()
        .args(["report", &id.to_string(), "--state-dir"])
        .arg(&store)
        .arg("-o")
        .arg(&html)
        .run()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("(pid {pid}) killed at 32.0 MiB limit")));
    // `--rate 8`: about 4 s to the 32 MiB limit, eight of the guard's 500 ms passes.
    for chart in ["memory", "processes"] {
        assert!(page.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    let Some(chromium) = &chromium else { return };
    let r = render(chromium, &html, "recorded-drill");
    let owner = element_text(&r.dom, "table", "owner").unwrap();
    assert!(owner.contains(&cgroup), "{owner}");
    assert_eq!(charts_of(&r.dom)[..2], ["memory", "processes"]);
    let (drawn, all) = r.shot.drawn(ChartKind::Memory);
    assert!(drawn * 20 > all, "memory chart: {drawn} of {all}");
    assert_charts_drawn(&r, "drill", 0.002);
}

/// `--svg`/`--png` of `file`'s `chart`, run with `envs` cleared or not.
fn chart_bytes(file: &Path, chart: &str, flag: &str, out: &Path) -> Vec<u8> {
    oomlens!()
        .arg("report")
        .arg(file)
        .args(["--chart", chart, flag])
        .arg(out)
        .run()
        .success();
    std::fs::read(out).unwrap()
}

#[test]
fn charts_are_the_same_bytes_twice_and_on_a_machine_without_fonts() {
    let dir = TempDir::new("report-bytes").unwrap();
    let file = corpus("038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log");
    for (chart, flag, ext) in [("tasks", "--png", "png"), ("stat", "--svg", "svg")] {
        let a = chart_bytes(&file, chart, flag, &dir.join(format!("a.{ext}")));
        let b = chart_bytes(&file, chart, flag, &dir.join(format!("b.{ext}")));
        assert!(a == b, "{chart}: two runs differ");
        // A machine without fonts: an empty /usr/share/fonts (and no fontconfig) in a
        // private mount namespace.
        let c = dir.join(format!("c.{ext}"));
        let script = format!(
            "mount -t tmpfs none /usr/share/fonts && ! ls /usr/share/fonts/* 2>/dev/null && exec \"$0\" report \"$1\" --chart {chart} {flag} \"$2\""
        );
        let st = Command::new("unshare")
            .args(["--mount", "sh", "-c", &script])
            .arg(env!("CARGO_BIN_EXE_oomlens"))
            .arg(&file)
            .arg(&c)
            .env("FONTCONFIG_FILE", "/nonexistent")
            .status();
        match st {
            Ok(s) if s.success() => {
                assert!(
                    std::fs::read(&c).unwrap() == a,
                    "{chart}: differs without fonts"
                );
            }
            other => {
                assert!(
                    std::env::var_os("OOMLENS_REQUIRE_REAL_KERNEL").is_none(),
                    "cannot hide the system fonts (root and unshare needed): {other:?}"
                );
                println!("SKIPPED the no-font half: cannot hide the system fonts: {other:?}");
            }
        }
        if ext == "png" {
            let shot = Shot::load(&dir.join("a.png"));
            let (drawn, all) = shot.drawn(ChartKind::Tasks);
            assert!(drawn * 20 > all, "tasks PNG: {drawn} of {all}");
            // Text was drawn with the bundled font: the caption's row above the plot has
            // dark pixels.
            let dark = (0..shot.w)
                .flat_map(|x| (0..25).map(move |y| (x, y)))
                .filter(|&(x, y)| shot.at(x, y).0 < 100)
                .count();
            assert!(dark > 100, "no caption text: {dark}");
        } else {
            let svg = String::from_utf8(a).unwrap();
            assert!(svg
                .contains("@font-face{font-family:\"DejaVu Sans\";src:url(data:font/ttf;base64,"));
            assert!(svg.contains("font-family=\"DejaVu Sans\""));
        }
    }
}

#[test]
fn exit_status_and_errors_name_the_input_and_output() {
    let dir = TempDir::new("report-errors").unwrap();
    // No incident: 1, nothing written.
    let none = dir.join("none.html");
    oomlens!()
        .arg("report")
        .arg(corpus("120-negative-pytorch-cuda-outofmemoryerror.log"))
        .arg("-o")
        .arg(&none)
        .run()
        .code(1)
        .stderr_has("no OOM incident found");
    assert!(!none.exists());
    // A missing file: 2, named.
    oomlens!()
        .args(["report", "/nonexistent/kern.log"])
        .run()
        .code(2)
        .stderr_has("/nonexistent/kern.log");
    // A missing store: 2, named.
    oomlens!()
        .args(["report", "4", "--state-dir", "/nonexistent/store"])
        .run()
        .code(2)
        .stderr_has("/nonexistent/store");
    let file = corpus("038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log");
    // A chart the input has no data for: 2, saying why.
    oomlens!()
        .arg("report")
        .arg(&file)
        .args(["--chart", "memory", "--svg"])
        .arg(dir.join("m.svg"))
        .run()
        .code(2)
        .stderr_has("no memory chart");
    oomlens!()
        .arg("report")
        .arg(&file)
        .args(["--chart", "pie", "--svg", "x.svg"])
        .run()
        .code(2)
        .stderr_has("charts: kills, memory, processes, tasks, stat");
    // An output in a missing directory: 2, named.
    oomlens!()
        .arg("report")
        .arg(&file)
        .args(["-o", "/nonexistent/dir/r.html"])
        .run()
        .code(2)
        .stderr_has("/nonexistent/dir/r.html");
    // Written atomically: the old file is replaced whole, nothing else is left beside it.
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("r.html");
    std::fs::write(&out, "old").unwrap();
    oomlens!()
        .arg("report")
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .run()
        .success();
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["r.html"]);
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn untrusted_text_is_escaped_in_html_and_markdown() {
    let Some(text) = std::fs::read_to_string(corpus(
        "038-arch-6.7-memcg-cgv2-systemd-run-user-service-dmesg.log",
    ))
    .ok() else {
        panic!("corpus report 038");
    };
    // A comm may hold anything but NUL and '/' (16 bytes with the terminator, truncated
    // by the kernel): markup, Markdown table syntax, an escape sequence.
    let evil = "<b>x|*\x1b[2J";
    let dir = TempDir::new("report-escape").unwrap();
    let log = dir.join("evil.log");
    std::fs::write(&log, text.replace("rsync", evil)).unwrap();
    let html = oomlens!().arg("report").arg(&log).run();
    let html = html.success().stdout();
    assert!(!html.contains("<b>x"), "markup from a comm");
    assert!(!html.contains('\x1b'));
    assert!(
        html.contains("&lt;b&gt;x|*\\x1b[2J (pid 128825)"),
        "escaped comm"
    );
    // From standard input too, with the report's own lines (107 of them) kept.
    let md = oomlens!()
        .args(["report", "--format", "md", "-"])
        .stdin_file(&log)
        .run();
    let md = md.success().stdout();
    assert!(md.contains("from -:1-107\n"), "{md}");
    assert!(md.contains("The kernel's report (107 lines)"), "{md}");
    assert!(!md.contains('\x1b'));
    assert!(
        md.contains("\\<b\\>x\\|\\*\\\\x1b\\[2J (pid 128825)"),
        "{md}"
    );
    if let Some(chromium) = chromium() {
        let page = dir.join("evil.html");
        std::fs::write(&page, &html).unwrap();
        let dom = browse(&chromium, &page, &["--dump-dom".into()]);
        let headline = element_text(&dom, "h2", "class=\"headline\"").unwrap();
        assert!(
            headline.contains("<b>x|*\\x1b[2J (pid 128825)"),
            "{headline}"
        );
        assert!(!dom.contains("<b>x"), "an element from a comm");
    }
}
