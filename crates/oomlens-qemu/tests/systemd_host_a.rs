//! systemd guest "oomlens-host-a": one of the two machines of the multi-host journal test
//! (see host_journal/mod.rs; the host side is in guest_suite.rs).

mod host_journal;

#[test]
fn host_a_oom_kill_saved_as_journal_files() {
    host_journal::run("oomlens-host-a");
}
