//! The metric list of `contrib/prometheus/README.md`, made from the model's metric tables
//! (a test keeps the README's copy current).

use oomlens_model::fields::{Field, Kind, Unit};
use oomlens_model::metric_fields::{
    ACTION_COUNTER_FIELDS, ACTION_LABELS, BUILD_INFO_HELP, BUILD_INFO_LABEL_FIELDS,
    BUILD_INFO_METRIC, CGROUP_EXPORT_FIELDS, CGROUP_GAUGE_FIELDS, CGROUP_LABEL, CGROUP_PREFIX,
    CONFIGURED_COUNTER_FIELDS, GUARD_COUNTER_FIELDS, OWNER_COUNTER_FIELDS, OWNER_LABEL_FIELDS,
    PREFIX, SYSTEM_GAUGE_FIELDS,
};

/// One markdown table row per metric family: name, type, unit, labels, meaning.
pub fn markdown() -> String {
    let owner_labels: Vec<&str> = OWNER_LABEL_FIELDS.iter().map(|f| f.name).collect();
    let owner_labels = owner_labels.join(", ");
    let mut out =
        String::from("| metric | type | unit | labels | meaning |\n|---|---|---|---|---|\n");
    rows(&mut out, PREFIX, OWNER_COUNTER_FIELDS, &owner_labels);
    rows(&mut out, PREFIX, GUARD_COUNTER_FIELDS, "");
    rows(
        &mut out,
        PREFIX,
        ACTION_COUNTER_FIELDS,
        &ACTION_LABELS.join(", "),
    );
    rows(&mut out, CGROUP_PREFIX, CGROUP_GAUGE_FIELDS, CGROUP_LABEL);
    rows(&mut out, PREFIX, SYSTEM_GAUGE_FIELDS, "");
    rows(&mut out, PREFIX, CGROUP_EXPORT_FIELDS, "");
    for (f, labels) in CONFIGURED_COUNTER_FIELDS {
        rows(
            &mut out,
            PREFIX,
            std::slice::from_ref(f),
            &labels.join(", "),
        );
    }
    let build: Vec<&str> = BUILD_INFO_LABEL_FIELDS.iter().map(|f| f.name).collect();
    out.push_str(&format!(
        "| `{BUILD_INFO_METRIC}` | gauge | | {} | {BUILD_INFO_HELP} |\n",
        build.join(", ")
    ));
    out
}

fn rows<R>(out: &mut String, prefix: &str, fields: &[Field<R>], labels: &str) {
    for f in fields {
        let Some(name) = f.metric_name(prefix) else {
            continue;
        };
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Info => "info",
        };
        let unit = match f.unit {
            Unit::Count => "",
            u => u.metric_suffix().unwrap_or(""),
        };
        out.push_str(&format!(
            "| `{name}` | {kind} | {unit} | {labels} | {} |\n",
            f.help
        ));
    }
}
