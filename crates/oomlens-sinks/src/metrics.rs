//! The guard's Prometheus metrics: families of the official `prometheus-client` crate, fed
//! by the guard's calls and encoded as OpenMetrics text, plus the small `/metrics` responder
//! ([`MetricsServer`]) that serves them from inside the guard's event loop.
//!
//! Every family is declared in the model's field tables (`oomlens_model::metric_fields`):
//! names come from [`Field::metric_name`], help from the table, values through the tables'
//! accessors. `prometheus-client` appends `_total` to counters and the unit suffix itself,
//! so the names registered here are the table's names without those.
//!
//! In the guard's loop:
//!
//! ```
//! use std::os::fd::AsFd;
//! use oomlens_sinks::metrics::{GuardMetrics, LabelLimits, MetricsServer};
//!
//! let mut metrics = GuardMetrics::new(LabelLimits::default());
//! let mut server = MetricsServer::bind("127.0.0.1:0")?; // DEFAULT_LISTEN in the guard
//! let _fd = server.as_fd(); // add to the loop's epoll, level-triggered
//! // Each pass: feed the metrics …
//! metrics.kmsg(0, 0);
//! metrics.system_pressure(0.02, 0.0);
//! // … and when the fd is readable, and on the loop's tick:
//! let stats = server.serve(&metrics)?;
//! assert_eq!(stats.accepted, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Label cardinality is bounded ([`LabelLimits`]): each owner label keeps at most
//! `values_per_label` distinct values, later ones are counted under [`OVERFLOW`]; at most
//! `cgroups` cgroups get per-cgroup series, the rest are counted in
//! `oomlens_cgroups_unexported`.

mod docs;
mod labels;
mod server;

use std::sync::atomic::AtomicU64;

use oomlens_analysis::explanation::Explanation;
use oomlens_analysis::owner::Owner;
use oomlens_model::fields::{Field, Unit, Value};
use oomlens_model::metric_fields::{
    BuildInfo, CgroupExport, CgroupGauges, ConfiguredCount, GuardTotals, SystemPressure,
    ACTION_COUNTER_FIELDS, ACTION_LABELS, BUILD_INFO_HELP, BUILD_INFO_LABEL_FIELDS,
    BUILD_INFO_METRIC, CGROUP_EXPORT_FIELDS, CGROUP_GAUGE_FIELDS, CGROUP_LABEL, CGROUP_PREFIX,
    CONFIGURED_COUNTER_FIELDS, GUARD_COUNTER_FIELDS, OWNER_COUNTER_FIELDS, PREFIX,
    SYSTEM_GAUGE_FIELDS,
};
use oomlens_model::Incident;

use crate::escape::escape;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

pub use docs::markdown;
pub use labels::{LabelLimits, OVERFLOW};
pub use server::{
    MetricsError, MetricsServer, ServeStats, CONNECTION_DEADLINE, MAX_ACCEPTS_PER_CALL,
    MAX_CONNECTIONS, MAX_REQUEST_BYTES,
};

use labels::{Cgroups, OwnerCaps};

/// Where the guard serves `/metrics` unless told otherwise: loopback only, so nothing is
/// exposed beyond the host by default.
///
/// The port: Prometheus' "Default port allocations" wiki page
/// (github.com/prometheus/prometheus/wiki/Default-port-allocations) hands exporters
/// 9100–9999, and that range has been fully allocated since 2023 (exporters registered
/// since then, e.g. otc-prometheus-exporter#16, moved outside it), so any port there is
/// some registered exporter's. 10391 lies outside it and clear of what runs on the hosts
/// the guard watches: Kubernetes node components (10249–10259), Zabbix (10050, 10051),
/// Webmin (10000). To be registered on that page before a release.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10391";

/// A label set as `prometheus-client` encodes it: (name, value) pairs in order.
type Labels = Vec<(&'static str, String)>;

/// A gauge holding a float (seconds, ratios) or an integer (bytes, counts).
#[derive(Debug, Clone)]
enum GaugeFamily {
    Int(Family<Labels, Gauge>),
    Float(Family<Labels, Gauge<f64, AtomicU64>>),
}

impl GaugeFamily {
    fn for_unit(unit: Unit) -> GaugeFamily {
        match unit {
            Unit::Bytes | Unit::Count => GaugeFamily::Int(Family::default()),
            _ => GaugeFamily::Float(Family::default()),
        }
    }

    fn register(&self, reg: &mut Registry, name: &str, help: &str, unit: Option<PromUnit>) {
        match self {
            GaugeFamily::Int(f) => register(reg, name, help, unit, f.clone()),
            GaugeFamily::Float(f) => register(reg, name, help, unit, f.clone()),
        }
    }

    /// Sets the series `labels` to `v`, or removes it when `v` is `None`.
    fn set(&self, labels: &Labels, v: Option<f64>) {
        match (self, v) {
            // Bytes and counts fit an i64 (8 EiB); `as` saturates beyond.
            (GaugeFamily::Int(f), Some(v)) => {
                f.get_or_create(labels).set(v as i64);
            }
            (GaugeFamily::Float(f), Some(v)) => {
                f.get_or_create(labels).set(v);
            }
            (GaugeFamily::Int(f), None) => {
                f.remove(labels);
            }
            (GaugeFamily::Float(f), None) => {
                f.remove(labels);
            }
        }
    }
}

/// The unit suffix `prometheus-client` appends (and announces in a `# UNIT` line).
type PromUnit = prometheus_client::registry::Unit;

fn register(reg: &mut Registry, name: &str, help: &str, unit: Option<PromUnit>, m: impl Metric) {
    match unit {
        Some(u) => reg.register_with_unit(name, help, u, m),
        None => reg.register(name, help, m),
    }
}

/// The name to register a field's family under, its help and its unit: the table's metric
/// name without the suffixes `prometheus-client` appends itself (`_total`, the unit).
fn registration<R>(field: &Field<R>, prefix: &str) -> (String, &'static str, Option<PromUnit>) {
    let full = field
        .metric_name(prefix)
        .expect("metric tables hold no info fields");
    let mut name = full.strip_suffix("_total").unwrap_or(&full).to_string();
    let unit = match field.unit {
        Unit::Bytes => Some(PromUnit::Bytes),
        Unit::Seconds => Some(PromUnit::Seconds),
        // prometheus-client's `Ratios` writes `_ratios`; Prometheus practice is `_ratio`.
        Unit::Ratio => Some(PromUnit::Other("ratio".into())),
        _ => None,
    };
    if let Some(u) = &unit {
        let suffix = format!("_{}", u.as_str());
        if let Some(base) = name.strip_suffix(&suffix) {
            name = base.to_string();
        }
    }
    // prometheus-client ends every help text with a full stop of its own.
    (name, field.help.trim_end_matches('.'), unit)
}

/// The guard's metric families, fed by its calls. Single-threaded use: `&mut self` on every
/// update keeps the label caps consistent without locks of our own.
#[derive(Debug)]
pub struct GuardMetrics {
    registry: Registry,
    /// `oomlens_kills_total`, `oomlens_incidents_total` by owner, in table order.
    by_owner: Vec<Family<Labels, Counter>>,
    /// The unlabelled counters of `GUARD_COUNTER_FIELDS`, in table order.
    counters: Vec<Counter>,
    /// `oomlens_guard_actions_total{action,result}` (`ACTION_COUNTER_FIELDS`).
    actions: Family<Labels, Counter>,
    cgroup_gauges: Vec<GaugeFamily>,
    system_gauges: Vec<GaugeFamily>,
    export_gauges: Vec<Gauge>,
    /// `CONFIGURED_COUNTER_FIELDS`' families, in table order.
    configured: Vec<Family<Labels, Counter>>,
    totals: GuardTotals,
    /// Last kmsg totals reported, to turn running totals into increments.
    kmsg_seen: (u64, u64),
    owners: OwnerCaps,
    cgroups: Cgroups,
}

impl GuardMetrics {
    /// Families for every table entry, empty, with label caps `limits`.
    pub fn new(limits: LabelLimits) -> GuardMetrics {
        let mut registry = Registry::default();
        // A gauge at 1 with the build's labels, as Prometheus' own `prometheus_build_info`
        // and node_exporter's are: OpenMetrics' `info` type would say the same, but the
        // classic text parsers (promtool check metrics 2.42 among them) reject it.
        let info = BuildInfo::current();
        let info_labels: Labels = BUILD_INFO_LABEL_FIELDS
            .iter()
            .map(|f| (f.name, value_text(&(f.get)(&info))))
            .collect();
        let build_info = Family::<Labels, Gauge>::default();
        build_info.get_or_create(&info_labels).set(1);
        register(
            &mut registry,
            BUILD_INFO_METRIC,
            BUILD_INFO_HELP.trim_end_matches('.'),
            None,
            build_info,
        );
        let by_owner = OWNER_COUNTER_FIELDS
            .iter()
            .map(|f| {
                let fam = Family::<Labels, Counter>::default();
                let (name, help, unit) = registration(f, PREFIX);
                register(&mut registry, &name, help, unit, fam.clone());
                fam
            })
            .collect();
        let counters = GUARD_COUNTER_FIELDS
            .iter()
            .map(|f| {
                let c = Counter::default();
                let (name, help, unit) = registration(f, PREFIX);
                register(&mut registry, &name, help, unit, c.clone());
                c
            })
            .collect();
        let actions = Family::<Labels, Counter>::default();
        for f in ACTION_COUNTER_FIELDS {
            let (name, help, unit) = registration(f, PREFIX);
            register(&mut registry, &name, help, unit, actions.clone());
        }
        let cgroup_gauges = gauge_families(&mut registry, CGROUP_GAUGE_FIELDS, CGROUP_PREFIX);
        let system_gauges = gauge_families(&mut registry, SYSTEM_GAUGE_FIELDS, PREFIX);
        let export_gauges = CGROUP_EXPORT_FIELDS
            .iter()
            .map(|f| {
                let g = Gauge::default();
                let (name, help, unit) = registration(f, PREFIX);
                register(&mut registry, &name, help, unit, g.clone());
                g
            })
            .collect();
        let configured = CONFIGURED_COUNTER_FIELDS
            .iter()
            .map(|(f, _)| {
                let fam = Family::<Labels, Counter>::default();
                let (name, help, unit) = registration(f, PREFIX);
                register(&mut registry, &name, help, unit, fam.clone());
                fam
            })
            .collect();
        GuardMetrics {
            registry,
            by_owner,
            counters,
            actions,
            cgroup_gauges,
            system_gauges,
            export_gauges,
            configured,
            totals: GuardTotals::default(),
            kmsg_seen: (0, 0),
            owners: OwnerCaps::new(limits),
            cgroups: Cgroups::new(limits.cgroups),
        }
    }

    /// Counts one incident: `oomlens_incidents_total` once, `oomlens_kills_total` once per
    /// killed process (an oom.group kill of four tasks counts four), both labelled with the
    /// incident's kind and the explanation's owner (unit, pod, namespace, container).
    pub fn incident(&mut self, inc: &Incident, ex: &Explanation) {
        let kind = inc.kind.map_or("unknown", |k| k.as_str());
        let (labels, folded) = self
            .owners
            .labels(kind, ex.owner.as_ref().map(owner_values));
        // What this incident adds, read per family through the table's accessor.
        let step = GuardTotals {
            kills: inc.kills.len() as u64,
            incidents: 1,
            label_overflows: u64::from(folded),
            ..GuardTotals::default()
        };
        for (f, fam) in OWNER_COUNTER_FIELDS.iter().zip(&self.by_owner) {
            // The series exists even at 0 (an incident without a kill), so the next kill
            // of that owner is a rise from 0 for the rules.
            fam.get_or_create(&labels).inc_by(count(f, &step));
        }
        self.totals.kills += step.kills;
        self.totals.incidents += step.incidents;
        self.totals.label_overflows += step.label_overflows;
        self.sync_counters();
    }

    /// Counts one pre-emption decision of the guard. `result` is cut at its first space
    /// (`refused (pid 1 is never signalled)` counts as `refused`) so that the label keeps to
    /// its fixed set.
    pub fn action(&mut self, action: &str, result: &str) {
        let result = result.split(' ').next().unwrap_or(result);
        let labels: Labels = ACTION_LABELS
            .iter()
            .copied()
            .zip([escape(action).into_owned(), escape(result).into_owned()])
            .collect();
        self.actions.get_or_create(&labels).inc();
    }

    /// Counts an incident written to the flight recorder.
    pub fn incident_recorded(&mut self) {
        self.totals.incidents_recorded += 1;
        self.sync_counters();
    }

    /// Counts an incident the flight recorder failed to write.
    pub fn record_failed(&mut self) {
        self.totals.record_failures += 1;
        self.sync_counters();
    }

    /// Takes the kernel log reader's running totals (records lost, overruns), as the live
    /// pipeline's counters report them. A total lower than the last one means the reader
    /// started over: all of it is new.
    pub fn kmsg(&mut self, lost: u64, overruns: u64) {
        let (seen_lost, seen_overruns) = self.kmsg_seen;
        let step = |now: u64, seen: u64| if now >= seen { now - seen } else { now };
        self.totals.kmsg_records_lost += step(lost, seen_lost);
        self.totals.kmsg_overruns += step(overruns, seen_overruns);
        self.kmsg_seen = (lost, overruns);
        self.sync_counters();
    }

    /// Sets the gauges of the cgroup at `path` (a path below the cgroup root). A value that
    /// is `None` removes its series. Beyond the cap of exported cgroups the call only counts
    /// the cgroup in `oomlens_cgroups_unexported`; it gets series once a slot is free.
    pub fn cgroup(&mut self, path: &str, g: &CgroupGauges) {
        if !self.cgroups.admit(path) {
            self.sync_export();
            return;
        }
        let labels: Labels = vec![(CGROUP_LABEL, escape(path).into_owned())];
        for (f, fam) in CGROUP_GAUGE_FIELDS.iter().zip(&self.cgroup_gauges) {
            fam.set(&labels, (f.get)(g).as_f64());
        }
        self.sync_export();
    }

    /// Removes every series of the cgroup at `path` (gone, or no longer watched).
    pub fn forget_cgroup(&mut self, path: &str) {
        if self.cgroups.forget(path) {
            let labels: Labels = vec![(CGROUP_LABEL, escape(path).into_owned())];
            for fam in &self.cgroup_gauges {
                fam.set(&labels, None);
            }
        }
        self.sync_export();
    }

    /// Sets the host's memory pressure, `some` and `full` avg10 as ratios 0–1 (the kernel's
    /// percent / 100). NaN (unknown) removes the series.
    pub fn system_pressure(&mut self, some: f64, full: f64) {
        let p = SystemPressure {
            some_avg10: Some(some).filter(|v| !v.is_nan()),
            full_avg10: Some(full).filter(|v| !v.is_nan()),
        };
        for (f, fam) in SYSTEM_GAUGE_FIELDS.iter().zip(&self.system_gauges) {
            fam.set(&Vec::new(), (f.get)(&p).as_f64());
        }
    }

    /// The totals since start (for a status line).
    pub fn totals(&self) -> GuardTotals {
        self.totals
    }

    /// Takes the running totals of one of `CONFIGURED_COUNTER_FIELDS` (`family` is its
    /// index): `(name, result, total)` per series; names are escaped. A total below the
    /// series' value (a restart of the count) is ignored.
    pub fn configured<'a>(
        &mut self,
        family: usize,
        totals: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    ) {
        let (Some((f, [name_label, result_label])), Some(fam)) = (
            CONFIGURED_COUNTER_FIELDS.get(family),
            self.configured.get(family),
        ) else {
            return;
        };
        for (name, result, total) in totals {
            let labels: Labels = vec![
                (*name_label, escape(name).into_owned()),
                (*result_label, result.to_string()),
            ];
            let want = count_of(f, &ConfiguredCount { count: total });
            let c = fam.get_or_create(&labels);
            if want > c.get() {
                c.inc_by(want - c.get());
            }
        }
    }

    /// Appends the OpenMetrics text of every family to `out`, ending with `# EOF`.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode(out, &self.registry)
    }

    /// Appends the same families in the classic Prometheus text format (0.0.4): for
    /// clients that ask for `text/plain` only, and for `promtool check metrics`, which
    /// (as of Prometheus 2.42) parses no OpenMetrics.
    pub fn encode_prometheus_text(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::prometheus_text::encode(out, &self.registry)
    }

    /// Brings the unlabelled counters up to the totals, through the table's accessors.
    fn sync_counters(&self) {
        for (f, c) in GUARD_COUNTER_FIELDS.iter().zip(&self.counters) {
            let want = count(f, &self.totals);
            let have = c.get();
            if want > have {
                c.inc_by(want - have);
            }
        }
    }

    fn sync_export(&self) {
        let e = CgroupExport {
            exported: self.cgroups.exported() as u64,
            unexported: self.cgroups.unexported() as u64,
        };
        for (f, g) in CGROUP_EXPORT_FIELDS.iter().zip(&self.export_gauges) {
            g.set((f.get)(&e).as_f64().unwrap_or(0.0) as i64);
        }
    }
}

/// One gauge family per field, registered.
fn gauge_families<R>(reg: &mut Registry, fields: &[Field<R>], prefix: &str) -> Vec<GaugeFamily> {
    fields
        .iter()
        .map(|f| {
            let g = GaugeFamily::for_unit(f.unit);
            let (name, help, unit) = registration(f, prefix);
            g.register(reg, &name, help, unit);
            g
        })
        .collect()
}

/// Unit, pod, namespace and container of an owner: names where the live host knew them,
/// else the ids the cgroup path carried (a container id shortened to 12 characters, as
/// docker and crictl print it).
fn owner_values(o: &Owner) -> [Option<String>; 4] {
    let pod = o.live.pod_name.clone().or_else(|| o.pod_uid.clone());
    let container = o.live.container_name.clone().or_else(|| {
        o.container_id
            .as_ref()
            .map(|id| id.chars().take(12).collect())
    });
    [o.unit.clone(), pod, o.live.pod_namespace.clone(), container]
}

/// A counter field's value in `totals`.
fn count(f: &Field<GuardTotals>, totals: &GuardTotals) -> u64 {
    match (f.get)(totals) {
        Value::U64(v) => v,
        // The tables read every total as U64; anything else would be a table bug.
        other => other.as_f64().map_or(0, |v| v as u64),
    }
}

/// A configured counter's value through its table accessor.
fn count_of(f: &Field<ConfiguredCount>, c: &ConfiguredCount) -> u64 {
    (f.get)(c).as_f64().map_or(0, |v| v as u64)
}

fn value_text(v: &Value<'_>) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests;
