//! An OOM that ended in a kernel panic instead of a kill is explained as such.

use oomlens_analysis::explain::Explainer;
use oomlens_parse::{parse_bytes, Options};

fn codes(log: &[u8]) -> Vec<&'static str> {
    let incs = parse_bytes(log, Options::default());
    assert_eq!(incs.len(), 1);
    Explainer::new()
        .explain(&incs[0])
        .findings
        .iter()
        .map(|f| f.code)
        .collect()
}

/// tempesta-tech/tempesta#1789 (5.10): `Out of memory and no killable processes...` then
/// `Kernel panic - not syncing: System is deadlocked on memory`.
#[test]
fn no_killable_panic_gives_both_findings() {
    let c = codes(include_bytes!(
        "../../oomlens-parse/tests/data/reported/panic-deadlocked-5.10.log"
    ));
    assert!(c.contains(&"no-killable-process"), "{c:?}");
    assert!(c.contains(&"oom-panic"), "{c:?}");
}

/// bcaligari/memeater README.md @0b265ac4 (vm.panic_on_oom=1): a panic, but processes were
/// killable.
#[test]
fn panic_on_oom_is_no_killable_process_finding() {
    let c = codes(include_bytes!(
        "../../oomlens-parse/tests/data/reported/panic-system-wide-5.14-sle.log"
    ));
    assert!(c.contains(&"oom-panic"), "{c:?}");
    assert!(!c.contains(&"no-killable-process"), "{c:?}");
}
