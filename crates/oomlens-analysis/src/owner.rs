//! Who owns a cgroup: a systemd unit, a user session, a Kubernetes pod's container, a
//! Docker / containerd / CRI-O / Podman container — read from the path alone.
//!
//! Path forms handled (cgroup v1 and v2 print the same path relative to their root):
//! - systemd: `/system.slice/foo.service`, `/user.slice/user-1000.slice/session-2.scope`,
//!   `/user.slice/user-1000.slice/user@1000.service/app.slice/run-u640.service`;
//! - Kubernetes, systemd driver: `/kubepods.slice/kubepods-burstable.slice/
//!   kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`
//!   (Guaranteed pods sit directly under `kubepods.slice`: `kubepods-pod<uid>.slice`);
//! - Kubernetes, cgroupfs driver: `/kubepods/burstable/pod<uid>/<id>`, `/kubepods/pod<uid>/<id>`;
//! - Docker: `/docker/<id>`, `/system.slice/docker-<id>.scope`; CRI-O `crio-<id>.scope`;
//!   Podman `libpod-<id>.scope`; LXC `/lxc/<name>`.

use serde::Serialize;

/// What a cgroup path says about its owner. Every field is optional: a path says what it says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The innermost systemd unit that is not a slice (`foo.service`, `session-2.scope`).
    pub unit: Option<String>,
    /// The innermost slice (`system.slice`, `app.slice`).
    pub slice: Option<String>,
    /// The uid of a `user-UID.slice` / `user@UID.service`.
    pub user_uid: Option<u32>,
    /// The login session number of `session-N.scope`.
    pub session: Option<String>,
    /// Kubernetes pod UID (dashes restored).
    pub pod_uid: Option<String>,
    /// Kubernetes QoS class: `Guaranteed`, `Burstable`, `BestEffort`.
    pub qos_class: Option<String>,
    /// The container id (64 hex characters where printed in full).
    pub container_id: Option<String>,
    /// The runtime that named the container: `docker`, `containerd`, `crio`, `podman`, `lxc`.
    pub runtime: Option<String>,
    /// What the live host still knows (never read from the log; filled only when
    /// explaining this host's own log and where readable).
    #[serde(skip_serializing_if = "LiveDetails::is_empty")]
    pub live: LiveDetails,
}

/// Owner details read from the live host: unit files, the container runtime's state, the
/// kubelet's log directories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveDetails {
    /// `Description=` of the systemd unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_description: Option<String>,
    /// The container's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// The pod's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// The pod's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_namespace: Option<String>,
}

impl LiveDetails {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == LiveDetails::default()
    }
}

impl Owner {
    /// A short human label: `pod 6b1a…/container 3e5e5e…`, `worker.service`, `session-2 (uid 1000)`.
    pub fn label(&self) -> Option<String> {
        if let (Some(ns), Some(name)) = (&self.live.pod_namespace, &self.live.pod_name) {
            let mut s = format!("pod {ns}/{name}");
            if let Some(c) = &self.live.container_name {
                s.push_str(&format!(", container {c}"));
            }
            return Some(s);
        }
        if let Some(pod) = &self.pod_uid {
            let mut s = format!("pod {pod}");
            if let Some(q) = &self.qos_class {
                s.push_str(&format!(" ({q})"));
            }
            if let Some(c) = &self.container_id {
                s.push_str(&format!(", container {}", short_id(c)));
            }
            return Some(s);
        }
        if let (Some(rt), Some(c)) = (&self.runtime, &self.container_id) {
            return Some(format!("{rt} container {}", short_id(c)));
        }
        if let Some(u) = &self.unit {
            return Some(match self.user_uid {
                Some(uid) => format!("{u} (uid {uid})"),
                None => u.clone(),
            });
        }
        self.slice.clone()
    }
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<runtime>-<id>.scope` → (runtime, id).
fn container_scope(comp: &str) -> Option<(&'static str, &str)> {
    let stem = comp.strip_suffix(".scope")?;
    for (prefix, runtime) in [
        ("cri-containerd-", "containerd"),
        ("docker-", "docker"),
        ("crio-conmon-", "crio"),
        ("crio-", "crio"),
        ("libpod-conmon-", "podman"),
        ("libpod-", "podman"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix) {
            if is_hex_id(id) {
                return Some((runtime, id));
            }
        }
    }
    None
}

/// Read the owner from a cgroup path.
pub fn owner_of(path: &str) -> Owner {
    let mut o = Owner::default();
    let all: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    // Kubernetes nodes inside containers (KinD, k3d) nest the kubepods hierarchy below the
    // node container's cgroup: read from its last occurrence.
    let kube_at = all
        .iter()
        .rposition(|c| *c == "kubepods" || *c == "kubepods.slice");
    let kube = kube_at.is_some();
    let comps = &all[kube_at.unwrap_or(0)..];
    for (i, comp) in comps.iter().enumerate() {
        if let Some((rt, id)) = container_scope(comp) {
            o.runtime = Some(rt.into());
            o.container_id = Some(id.into());
            continue;
        }
        if kube {
            // QoS: `kubepods-burstable.slice` / `burstable`; pods: `…-pod<uid>.slice` / `pod<uid>`.
            let stem = comp.strip_suffix(".slice").unwrap_or(comp);
            let last = stem.rsplit('-').next().unwrap_or(stem);
            match last {
                "burstable" => o.qos_class = Some("Burstable".into()),
                "besteffort" => o.qos_class = Some("BestEffort".into()),
                _ => {}
            }
            // cgroupfs driver: `pod<uid-with-dashes>`; systemd driver: `…-pod<uid_with_underscores>.slice`.
            let pod = stem
                .strip_prefix("pod")
                .or_else(|| stem.rfind("-pod").map(|i| &stem[i + 4..]));
            if let Some(uid) = pod {
                if uid.len() >= 32 {
                    o.pod_uid = Some(uid.replace('_', "-"));
                    o.qos_class.get_or_insert_with(|| "Guaranteed".into());
                }
            } else if i == comps.len() - 1 && o.pod_uid.is_some() && is_hex_id(comp) {
                o.container_id = Some(comp.to_string());
            }
            continue;
        }
        if (*comp == "docker" || *comp == "lxc") && i + 1 < comps.len() {
            o.runtime = Some((*comp).into());
            o.container_id = Some(comps[i + 1].to_string());
            break;
        }
        if comp.ends_with(".slice") {
            o.slice = Some(comp.to_string());
            if let Some(uid) = comp
                .strip_prefix("user-")
                .and_then(|r| r.strip_suffix(".slice"))
            {
                o.user_uid = uid.parse().ok();
            }
        } else if [".service", ".scope", ".socket", ".mount", ".swap"]
            .iter()
            .any(|s| comp.ends_with(s))
        {
            if let Some(uid) = comp
                .strip_prefix("user@")
                .and_then(|r| r.strip_suffix(".service"))
            {
                o.user_uid = uid.parse().ok();
            }
            if let Some(n) = comp
                .strip_prefix("session-")
                .and_then(|r| r.strip_suffix(".scope"))
            {
                o.session = Some(n.to_string());
            }
            o.unit = Some(comp.to_string());
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_units_sessions_and_user_managers() {
        let o = owner_of("/system.slice/worker-processor.service");
        assert_eq!(
            (o.unit.as_deref(), o.slice.as_deref()),
            (Some("worker-processor.service"), Some("system.slice"))
        );
        let o = owner_of("/user.slice/user-1000.slice/session-689.scope");
        assert_eq!(
            (o.user_uid, o.session.as_deref()),
            (Some(1000), Some("689"))
        );
        let o =
            owner_of("/user.slice/user-1000.slice/user@1000.service/app.slice/run-u640.service");
        assert_eq!(
            (o.unit.as_deref(), o.slice.as_deref(), o.user_uid),
            (Some("run-u640.service"), Some("app.slice"), Some(1000))
        );
        assert_eq!(o.label().as_deref(), Some("run-u640.service (uid 1000)"));
    }

    #[test]
    fn kubernetes_both_drivers() {
        let o = owner_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podd63c4bbe_5f18_11ec_bdcd_d094668d7dd6.slice/docker-083afd1a06b8b612ab5d974e12200d7fd1d35be6a44f0e368179399ef6c6e84d.scope");
        assert_eq!(
            o.pod_uid.as_deref(),
            Some("d63c4bbe-5f18-11ec-bdcd-d094668d7dd6")
        );
        assert_eq!(o.qos_class.as_deref(), Some("Burstable"));
        assert_eq!(
            (
                o.runtime.as_deref(),
                o.container_id.as_deref().map(short_id)
            ),
            (Some("docker"), Some("083afd1a06b8"))
        );
        let o = owner_of("/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe");
        assert_eq!(
            o.pod_uid.as_deref(),
            Some("28fcb1a0-a45c-44e7-b9bf-e3b9360bedba")
        );
        assert_eq!(
            o.container_id.as_deref().map(short_id),
            Some("3e5e5eab87df")
        );
        let o = owner_of("/kubepods.slice/kubepods-pod6b1a2c3d_0000_1111_2222_333344445555.slice/cri-containerd-aaaaaaaaaaaaaaaa.scope");
        assert_eq!(
            (o.qos_class.as_deref(), o.runtime.as_deref()),
            (Some("Guaranteed"), Some("containerd"))
        );
        let o = owner_of("/kubepods/besteffort/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba");
        assert_eq!(o.qos_class.as_deref(), Some("BestEffort"));
        // A KinD node: the pod hierarchy inside the node container's cgroup.
        let o = owner_of("/docker/4f5e6d7c8b9a/kubepods/burstable/pod28fcb1a0-a45c-44e7-b9bf-e3b9360bedba/3e5e5eab87df615f4777e6f7f261a7fb62f4a7ee5bc3e25e3a5b5223ccd368fe");
        assert_eq!(
            (o.qos_class.as_deref(), o.runtime.as_deref()),
            (Some("Burstable"), None)
        );
        assert_eq!(
            o.container_id.as_deref().map(short_id),
            Some("3e5e5eab87df")
        );
    }

    #[test]
    fn plain_containers_and_nothing() {
        let o =
            owner_of("/docker/812c82c5a7a5ae054e6f242215bdc4415a2d9b690768962a7bcd8d4676b16f60");
        assert_eq!(o.label().as_deref(), Some("docker container 812c82c5a7a5"));
        let o = owner_of("/system.slice/docker-15e3eaa960e4ac016d47ea7247961a70254bbbaaaec3981a9090f68606623b50.scope");
        assert_eq!(o.runtime.as_deref(), Some("docker"));
        assert_eq!(owner_of("/mem_test"), Owner::default());
        assert_eq!(owner_of("/"), Owner::default());
    }
}
