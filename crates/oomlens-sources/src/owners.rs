//! What the live host still knows about a cgroup's owner, read from a root path:
//! - a systemd unit's `Description=` from its unit file (the unit search path of
//!   systemd.unit(5); `foo@bar.service` falls back to the template `foo@.service`);
//! - a Docker container's name from `var/lib/docker/containers/<id>/config.v2.json`;
//! - a Kubernetes pod's namespace and name from the kubelet's log directory
//!   `var/log/pods/<namespace>_<name>_<uid>/`, and a container's name from the CRI log link
//!   `var/log/containers/<pod>_<namespace>_<container>-<id>.log`.
//!
//! Nothing here is required: every lookup answers `None` when the file is missing or does
//! not say.

use std::path::{Path, PathBuf};

/// Unit directories in systemd's order of precedence.
const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "run/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Owner lookups under one root (`/` on the live host).
#[derive(Debug, Clone)]
pub struct OwnerFiles {
    root: PathBuf,
}

impl OwnerFiles {
    /// Lookups under `root`.
    pub fn new(root: &Path) -> OwnerFiles {
        OwnerFiles {
            root: root.to_path_buf(),
        }
    }

    /// `Description=` of `unit`.
    pub fn unit_description(&self, unit: &str) -> Option<String> {
        if unit.contains('/') {
            return None;
        }
        let template = unit.split_once('@').map(|(base, rest)| {
            let suffix = rest.rsplit_once('.').map(|(_, s)| s).unwrap_or("service");
            format!("{base}@.{suffix}")
        });
        for name in std::iter::once(unit.to_string()).chain(template) {
            for dir in UNIT_DIRS {
                if let Ok(text) = std::fs::read_to_string(self.root.join(dir).join(&name)) {
                    return parse_description(&text);
                }
            }
        }
        None
    }

    /// The name Docker gave container `id` (without its leading `/`).
    pub fn docker_name(&self, id: &str) -> Option<String> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let path = self
            .root
            .join("var/lib/docker/containers")
            .join(id)
            .join("config.v2.json");
        let text = std::fs::read_to_string(path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v.get("Name")?.as_str()?.trim_start_matches('/').to_string())
    }

    /// `(namespace, name)` of the pod with `uid`.
    pub fn pod(&self, uid: &str) -> Option<(String, String)> {
        let entries = std::fs::read_dir(self.root.join("var/log/pods")).ok()?;
        entries.flatten().find_map(|e| {
            let dir = e.file_name().to_string_lossy().into_owned();
            let rest = dir.strip_suffix(uid)?.strip_suffix('_')?;
            let (ns, name) = rest.split_once('_')?;
            Some((ns.to_string(), name.to_string()))
        })
    }

    /// The Kubernetes name of container `id`.
    pub fn kube_container(&self, id: &str) -> Option<String> {
        let entries = std::fs::read_dir(self.root.join("var/log/containers")).ok()?;
        entries.flatten().find_map(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            let stem = f
                .strip_suffix(".log")?
                .strip_suffix(id)?
                .strip_suffix('-')?;
            Some(stem.rsplit('_').next()?.to_string())
        })
    }
}

/// `Description=` in a unit file's `[Unit]` section (the last assignment wins).
fn parse_description(text: &str) -> Option<String> {
    let mut in_unit = false;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_unit = line == "[Unit]";
        } else if in_unit {
            if let Some(v) = line.strip_prefix("Description=") {
                found = Some(v.trim().to_string()).filter(|v| !v.is_empty());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_testkit::faketree::FakeTree;

    #[test]
    fn reads_units_containers_and_pods_from_a_fake_root() {
        let t = FakeTree::new("owners");
        t.file(
            "lib/systemd/system/postgresql@.service",
            "[Unit]\nDescription=PostgreSQL Cluster %i\n[Service]\nDescription=not this\n",
        );
        t.file(
            "etc/systemd/system/worker.service",
            "[Unit]\nDescription=\n# comment\nDescription=Queue worker\n",
        );
        let id = "3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe";
        t.file(
            format!("var/lib/docker/containers/{id}/config.v2.json"),
            r#"{"ID":"x","Name":"/api-1"}"#,
        );
        t.file(
            "var/log/pods/prod_api-7d9f_28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/worker/0.log",
            "",
        );
        t.file(
            format!("var/log/containers/api-7d9f_prod_worker-{id}.log"),
            "",
        );
        let o = OwnerFiles::new(t.root());
        assert_eq!(
            o.unit_description("worker.service").as_deref(),
            Some("Queue worker")
        );
        assert_eq!(
            o.unit_description("postgresql@15-main.service").as_deref(),
            Some("PostgreSQL Cluster %i")
        );
        assert_eq!(o.unit_description("missing.service"), None);
        assert_eq!(o.unit_description("../../etc/passwd"), None);
        assert_eq!(o.docker_name(id).as_deref(), Some("api-1"));
        assert_eq!(o.docker_name("../x"), None);
        assert_eq!(
            o.pod("28fcb1a0-a45c-44e7-b9bf-e3b9360bedba"),
            Some(("prod".into(), "api-7d9f".into()))
        );
        assert_eq!(o.kube_container(id).as_deref(), Some("worker"));
    }
}
