//! `contrib/systemd/oomlens.catalog` as systemd reads it: `journalctl --update-catalog` on a
//! scratch root indexes it, and `journalctl --list-catalog` must then list exactly the
//! MESSAGE_IDs oomlens sends, each with its subject. A format error in the catalog (a bad
//! id line, a missing blank line) makes journalctl drop or refuse the entry.

use std::path::Path;
use std::process::Command;

use oomlens_sinks::journald::MESSAGE_KINDS;
use oomlens_testkit::fs::TempDir;

#[test]
fn journalctl_indexes_every_message_id_of_the_catalog() {
    let root = TempDir::new("catalog").unwrap();
    let catalog =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/systemd/oomlens.catalog");
    root.write(
        "usr/lib/systemd/catalog/oomlens.catalog",
        std::fs::read(&catalog).unwrap(),
    )
    .unwrap();
    let rootarg = format!("--root={}", root.path().display());
    let st = Command::new("journalctl")
        .args([&rootarg, "--update-catalog"])
        .output()
        .expect("journalctl (systemd) is installed on the test machines");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(
        st.stderr.is_empty(),
        "journalctl complained: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let out = Command::new("journalctl")
        .args([&rootarg, "--list-catalog"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed = String::from_utf8(out.stdout).unwrap();
    // `<id> oomlens: <subject>`, sorted by id.
    let mut ids: Vec<&str> = listed
        .lines()
        .map(|l| {
            let (id, rest) = l.split_once(' ').unwrap();
            assert!(rest.starts_with("oomlens: "), "{l}");
            id
        })
        .collect();
    let mut ours: Vec<&str> = MESSAGE_KINDS.iter().map(|k| k.id).collect();
    ids.sort();
    ours.sort();
    assert_eq!(ids, ours);
    assert!(listed.contains("2533ec1949184e9aab5475d348d33bfc oomlens: OOM kill: memory cgroup @OOMLENS_OOM_CGROUP@ hit its limit"));
}
