//! The alerting half of the drill: whether an `oomlens guard` runs (its state directory and
//! its /metrics endpoint), and after the kill whether it recorded the drill's incident in
//! its flight recorder and counted it on /metrics.
//!
//! A guard "runs" when its metrics endpoint answers. A state directory without an answering
//! endpoint is a guard that was installed and stopped: that is a failure, the case the drill
//! exists for. Neither present: no guard on this host, the guard steps are skipped.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oomlens_model::metric_fields::{OWNER_COUNTER_FIELDS, PREFIX};
use oomlens_store::incidents::Incidents;

/// What was found before the drill.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// Nothing: no state directory and nothing answering.
    Absent(String),
    /// The endpoint answered with this many kills so far.
    Running {
        /// The sum of the kill counter over its series.
        kills: f64,
    },
    /// A state directory but no answering endpoint (the reason).
    Stopped(String),
}

/// Where the guard keeps its state and serves its metrics.
#[derive(Debug, Clone)]
pub struct GuardAt {
    /// `--state-dir`.
    pub state_dir: PathBuf,
    /// `--listen`.
    pub listen: String,
}

/// The name of the guard's kill counter in the exposition (`oomlens_kills_total`), from the
/// field registry.
pub fn kills_metric() -> String {
    OWNER_COUNTER_FIELDS
        .iter()
        .find(|f| f.name == "kills")
        .and_then(|f| f.metric_name(PREFIX))
        .expect("the registry declares the kills counter")
}

impl GuardAt {
    /// Looks for a guard.
    pub fn presence(&self) -> Presence {
        let dir = self.state_dir.is_dir();
        match self.kills() {
            Ok(kills) => Presence::Running { kills },
            Err(e) if dir => Presence::Stopped(format!(
                "{} exists but no guard answers on {}: {e}",
                self.state_dir.display(),
                self.listen
            )),
            Err(e) => Presence::Absent(format!(
                "no guard: no {} and nothing on {} ({e})",
                self.state_dir.display(),
                self.listen
            )),
        }
    }

    /// The guard's kill counter now, summed over its series.
    pub fn kills(&self) -> Result<f64, String> {
        let body = get_metrics(&self.listen)?;
        Ok(sum_metric(&body, &kills_metric()))
    }

    /// Waits for the counter to pass `before`.
    pub fn wait_counter(
        &self,
        before: f64,
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> Result<String, String> {
        let name = kills_metric();
        let deadline = Instant::now() + timeout;
        let mut last = Err(String::from("not read"));
        while Instant::now() < deadline && !interrupted.load(Ordering::Relaxed) {
            last = self.kills();
            if let Ok(now) = last {
                if now > before {
                    return Ok(format!("{name} {before} -> {now} on {}", self.listen));
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(match last {
            Ok(now) => format!("{name} stayed at {now} on {} (was {before})", self.listen),
            Err(e) => format!("{name} could not be read: {e}"),
        })
    }

    /// Waits until the flight recorder holds an incident killing `pid` in `cgroup` (any
    /// kill in `cgroup` when `pid` is `None`: systemd-oomd kills a cgroup).
    pub fn wait_recorded(
        &self,
        cgroup: &str,
        pid: Option<u32>,
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut why = String::from("not read");
        while Instant::now() < deadline && !interrupted.load(Ordering::Relaxed) {
            match find_recorded(&self.state_dir, cgroup, pid) {
                Ok(Some(id)) => {
                    return Ok(format!(
                        "record {id} in {} (oomlens explain --recorded {id})",
                        self.state_dir.display()
                    ))
                }
                Ok(None) => {
                    why = match pid {
                        Some(pid) => format!("no record of pid {pid} in {cgroup}"),
                        None => format!("no record of a kill in {cgroup}"),
                    }
                }
                Err(e) => why = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "{why} in {} after {:.0} s",
            self.state_dir.display(),
            timeout.as_secs_f64()
        ))
    }
}

fn find_recorded(dir: &Path, cgroup: &str, pid: Option<u32>) -> Result<Option<u64>, String> {
    let store = Incidents::open(dir).map_err(|e| e.to_string())?;
    let mut found = None;
    store.each(|l| {
        let inc = &l.incident.incident;
        if inc.task_memcg.as_deref() == Some(cgroup)
            && (pid.is_none() || inc.kills.iter().any(|k| k.pid == pid))
        {
            found = Some(l.id);
        }
    });
    Ok(found)
}

/// One `GET /metrics` over loopback. Hand-written because it is one request to our own
/// guard's responder: an HTTP client crate (and its TLS stack) would be the bulk of this
/// crate for nothing.
fn get_metrics(listen: &str) -> Result<String, String> {
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("{listen}: {e}"))?
        .next()
        .ok_or_else(|| format!("{listen}: no address"))?;
    let t = Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, t).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(t)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(t)).map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    // At most 16 MiB: a metrics page is far smaller; anything bigger is not our guard.
    s.take(16 << 20)
        .read_to_end(&mut resp)
        .map_err(|e| e.to_string())?;
    let resp = String::from_utf8_lossy(&resp);
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("not an HTTP response")?;
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!(
            "answered {:?}",
            oomlens_sinks::escape::escape(status)
        ));
    }
    Ok(body.to_string())
}

/// The hook-run counter of the guard's `[[hook]]` tables, labelled `hook` and `result`
/// (`ok`, `failed`, `timeout`, `spawn-error`, `dropped`). It is the `hook_runs` entry of
/// `CONFIGURED_COUNTER_FIELDS` on the protect branch, not merged when this was written:
/// take the name from the registry once it is.
pub const HOOK_RUNS_METRIC: &str = "oomlens_hook_runs_total";

/// Hook runs by result, from one metrics page; `None` when the page has no hook-run
/// series (no `[[hook]]` configured, or a guard without hooks).
pub fn hook_runs(text: &str) -> Option<(f64, f64)> {
    let present = text.lines().any(|l| {
        l.strip_prefix(HOOK_RUNS_METRIC)
            .is_some_and(|r| r.starts_with(['{', ' ']))
    });
    present.then(|| {
        let ok = sum_where(text, HOOK_RUNS_METRIC, Some(("result", "ok")));
        (ok, sum_metric(text, HOOK_RUNS_METRIC) - ok)
    })
}

impl GuardAt {
    /// Hook runs now (ok, other results), `Ok(None)` when the guard exports none.
    pub fn hooks(&self) -> Result<Option<(f64, f64)>, String> {
        get_metrics(&self.listen).map(|body| hook_runs(&body))
    }

    /// Waits for an `ok` hook run beyond `before` (ok, other).
    pub fn wait_hook(
        &self,
        before: (f64, f64),
        timeout: Duration,
        interrupted: &AtomicBool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut last = Ok(Some(before));
        while Instant::now() < deadline && !interrupted.load(Ordering::Relaxed) {
            last = self.hooks();
            if let Ok(Some((ok, _))) = last {
                if ok > before.0 {
                    return Ok(format!(
                        "{HOOK_RUNS_METRIC}{{result=\"ok\"}} {} -> {ok}",
                        before.0
                    ));
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(match last {
            Ok(Some((ok, other))) => format!(
                "no hook ran ok: {HOOK_RUNS_METRIC} ok {ok} (was {}), other results {other} (was {})",
                before.0, before.1
            ),
            Ok(None) => format!("{HOOK_RUNS_METRIC} disappeared"),
            Err(e) => format!("{HOOK_RUNS_METRIC} could not be read: {e}"),
        })
    }
}

/// The sum of every sample of `name` in a Prometheus or OpenMetrics text.
pub fn sum_metric(text: &str, name: &str) -> f64 {
    sum_where(text, name, None)
}

/// The sum of the samples of `name` whose label `label.0` has the value `label.1` (all
/// samples when `None`).
fn sum_where(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let mut sum = 0.0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, after_labels) = if let Some(labels) = rest.strip_prefix('{') {
            match labels_end(labels) {
                Some(i) => (&labels[..i], &labels[i + 1..]),
                None => continue,
            }
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue; // a longer name with this prefix
        };
        if let Some((key, want)) = label {
            if label_value(labels, key).as_deref() != Some(want) {
                continue;
            }
        }
        if let Some(v) = after_labels
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            sum += v;
        }
    }
    sum
}

/// The value of label `key` in a label set `a="x",b="y\"z"`, unescaped.
fn label_value(labels: &str, key: &str) -> Option<String> {
    let mut rest = labels;
    loop {
        let (name, after) = rest.trim_start_matches([',', ' ']).split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        if name == key {
            return Some(value);
        }
        rest = &after[end + 1..];
    }
}

/// The index of the `}` closing a label set, skipping quoted values (`\"` escapes).
fn labels_end(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kill_counter_is_summed_over_its_series() {
        let text = "# TYPE oomlens_kills counter\n\
            oomlens_kills_total{kind=\"memcg\",unit=\"a}b \\\"c\\\"\"} 2\n\
            oomlens_kills_total{kind=\"global\"} 1.0 1700000000\n\
            oomlens_kills_total_other 5\n\
            oomlens_kills_created 9\n";
        assert_eq!(kills_metric(), "oomlens_kills_total");
        assert_eq!(sum_metric(text, "oomlens_kills_total"), 3.0);
        assert_eq!(
            sum_metric("oomlens_kills_total 4\n", "oomlens_kills_total"),
            4.0
        );
        assert_eq!(sum_metric("", "oomlens_kills_total"), 0.0);
    }

    #[test]
    fn hook_runs_are_split_by_result_and_absent_without_hooks() {
        let page = "oomlens_hook_runs_total{hook=\"page \\\"me\\\", result=\\\"ok\\\"\",result=\"failed\"} 2\n\
            oomlens_hook_runs_total{hook=\"page\",result=\"ok\"} 3\n\
            oomlens_hook_runs_total{result=\"timeout\",hook=\"b\"} 1\n";
        assert_eq!(hook_runs(page), Some((3.0, 3.0)));
        assert_eq!(hook_runs("oomlens_kills_total 1\n"), None);
        assert_eq!(
            label_value("a=\"x\",b=\"y\\\"z\"", "b").as_deref(),
            Some("y\"z")
        );
        assert_eq!(label_value("a=\"x\"", "b"), None);
    }

    /// A guard stand-in serving two pages: before the kill no ok run, after it one.
    #[test]
    fn wait_hook_sees_an_ok_run_rise_on_the_endpoint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = listener.local_addr().unwrap().to_string();
        let pages = [
            "oomlens_hook_runs_total{hook=\"h\",result=\"ok\"} 0\n",
            "oomlens_hook_runs_total{hook=\"h\",result=\"ok\"} 1\n",
        ];
        let server = std::thread::spawn(move || {
            for page in pages {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                let resp = format!("HTTP/1.0 200 OK\r\n\r\n{page}");
                s.write_all(resp.as_bytes()).unwrap();
            }
        });
        let at = GuardAt {
            state_dir: PathBuf::from("/nonexistent"),
            listen,
        };
        let before = at.hooks().unwrap().unwrap();
        assert_eq!(before, (0.0, 0.0));
        let got = at
            .wait_hook(before, Duration::from_secs(5), &AtomicBool::new(false))
            .unwrap();
        assert!(got.ends_with("0 -> 1"), "{got}");
        server.join().unwrap();
    }
}
