//! One real report in every log form gives the same incident: the kmsg capture of a real
//! memcg OOM on this project's test machine (tests/data/real in oomlens-parse) is rendered as
//! dmesg, dmesg -T, dmesg -x, journalctl short and JSON, rsyslog classic and RFC 3339, and
//! each rendering must explain to the same JSON apart from time, source and host fields.
//! Deterministic: no live kernel needed (the live version is in real_kernel.rs).

use oomlens_testkit::fs::TempDir;
use oomlens_testkit::kmsg::parse_records;
use oomlens_testkit::oomlens;
use oomlens_testkit::render::{render, Context, Form};
use serde_json::Value;

/// Remove what legitimately differs between forms: clocks, positions, host names.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["time", "source", "host", "line"] {
                m.remove(k);
            }
            m.values_mut().for_each(normalise);
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[test]
fn a_real_report_explains_the_same_in_every_log_form() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../oomlens-parse/tests/data/real/kmsg-memcg-anon-6.18.txt"
    );
    let records = parse_records(&std::fs::read_to_string(fixture).unwrap());
    assert!(records.len() > 50, "fixture has {} records", records.len());
    let dir = TempDir::new("forms").unwrap();
    let ctx = Context::fixed();
    let mut baseline: Option<(&str, Value)> = None;
    for form in Form::ALL {
        let path = dir
            .write(format!("{}.log", form.name()), render(&records, form, &ctx))
            .unwrap();
        let out = oomlens!().args(["explain", "--json"]).arg(&path).run();
        // The form is in the command line Ran prints.
        let v = out.success().json();
        let incs = v["incidents"].as_array().unwrap();
        assert_eq!(incs.len(), 1, "{}: {} incidents", form.name(), incs.len());
        let inc = &incs[0];
        // What the kernel printed in this capture.
        assert_eq!(inc["kills"][0]["pid"], 7353, "{}", form.name());
        assert_eq!(inc["kills"][0]["comm"], "oomlens-hog", "{}", form.name());
        assert_eq!(inc["kind"], "memcg", "{}", form.name());
        assert_eq!(inc["completeness"], "full", "{}", form.name());
        assert_eq!(inc["kernel_version"], "6.18.44-fc-v669", "{}", form.name());
        let mut inc = inc.clone();
        normalise(&mut inc);
        match &baseline {
            None => baseline = Some((form.name(), inc)),
            Some((name, base)) => assert_eq!(*base, inc, "{} differs from {name}", form.name()),
        }
    }
}
