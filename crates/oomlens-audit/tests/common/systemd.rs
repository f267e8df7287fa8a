//! `systemd-analyze verify` as the oracle of the systemd tests: found on this machine, run on
//! a fixture tree's search path, its unit dump read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oomlens_audit::loader::Loader;
use oomlens_testkit::run::Oomlens;

/// `systemd-analyze` (Debian package `systemd`), if installed.
pub fn systemd_analyze() -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join("systemd-analyze"))
        .find(|p| p.exists())
}

/// What `systemd-analyze verify` prints (stderr then stdout) for `unit` loaded with the
/// tree's search path. With `SYSTEMD_LOG_LEVEL=debug` it dumps the loaded unit: fragment,
/// drop-ins in applying order, and the effective values.
pub fn verify(bin: &Path, loader: &Loader, unit: &str) -> String {
    let path: Vec<String> = loader
        .search_path()
        .iter()
        .map(|d| loader.host(d).display().to_string())
        .collect();
    let out = Oomlens::new(bin)
        .args(["verify", "--man=no", unit])
        .env("SYSTEMD_LOG_LEVEL", "debug")
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("SYSTEMD_UNIT_PATH", path.join(":"))
        .current_dir(std::env::temp_dir())
        .run();
    out.stderr() + &out.stdout()
}

/// The dump of `unit` in `verify`'s output: key → values, in order (empty when there is no
/// dump of it).
pub fn dump(text: &str, unit: &str) -> BTreeMap<String, Vec<String>> {
    let header = format!("\t-> Unit {unit}:");
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if line == header {
            inside = true;
            continue;
        }
        if inside {
            let Some(body) = line.strip_prefix("\t\t") else {
                break;
            };
            if let Some((k, v)) = body.split_once(": ") {
                map.entry(k.to_string()).or_default().push(v.to_string());
            } else if let Some(k) = body.strip_suffix(':') {
                map.entry(k.to_string()).or_default().push(String::new());
            }
        }
    }
    map
}

/// The last (effective) value of `key` in a dump.
pub fn one<'a>(m: &'a BTreeMap<String, Vec<String>>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(|v| v.last()).map(String::as_str)
}
