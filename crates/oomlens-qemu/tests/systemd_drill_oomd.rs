//! systemd guest: `oomlens drill --kind oomd` passes: systemd-oomd kills the drill's
//! transient unit for memory pressure, the drill finds the kill in the journal, explained
//! with the `oomd-pressure` finding, and stops and resets the unit.
//!
//! Not in the CI guest suite (tests/guest_suite.rs), for the reason `systemd_oomd` is not:
//! systemd-oomd sometimes never acts on the pressure. Run it with
//! `oomlens-qemu run --test systemd_drill_oomd`. The test shortens systemd-oomd's
//! DefaultMemoryPressureDurationSec to 2 s (systemd 252 has no per-unit duration) to keep
//! guest time small; the drill itself changes no configuration.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use oomlens_qemu::guest::{self, unit_property};
use oomlens_testkit::run::Oomlens;
use serde_json::Value;

#[test]
fn oomd_kills_the_drill_unit_and_the_drill_passes() {
    guest::require("systemd");
    std::fs::create_dir_all("/etc/systemd/oomd.conf.d").unwrap();
    std::fs::write(
        "/etc/systemd/oomd.conf.d/oomlens.conf",
        "[OOM]\nDefaultMemoryPressureDurationSec=2s\n",
    )
    .unwrap();
    guest::output(Command::new("systemctl").args(["restart", "systemd-oomd.service"]));
    let r = Oomlens::new(Path::new(guest::TOOLS).join("oomlens"))
        .args(["drill", "--kind", "oomd", "--json", "--limit", "24M"])
        .args(["--state-dir", "/nonexistent", "--timeout", "150"])
        .timeout(Duration::from_secs(300))
        .run();
    println!("{r}");
    let v: Value = serde_json::from_slice(&r.stdout).expect("one JSON document");
    assert_eq!(r.exit_code(), Some(0), "{v:#}");
    assert_eq!(v["result"], "pass");
    let cgroup = v["cgroup"].as_str().unwrap();
    assert!(
        cgroup.starts_with("/system.slice/oomlens-drill-"),
        "{cgroup}"
    );
    let unit = cgroup.rsplit('/').next().unwrap();
    // Stopped and reset: systemd no longer knows a failed unit of that name.
    assert_eq!(unit_property(unit, "LoadState"), "not-found");
    assert!(!Path::new("/sys/fs/cgroup").join(&cgroup[1..]).exists());
}
