//! One registry of output fields: every field a sink prints is declared once, here or in a
//! table of this type beside its record, with its name, unit, kind, help text, column title
//! and accessor. The text table, the TUI, JSON and Prometheus metrics iterate the table
//! instead of naming fields themselves, so a field cannot drift between them (before, top's
//! `warming_up` in JSON was `warming-up` in text).
//!
//! The idea is below's field ids (`below/below_derive/src/lib.rs`), without the spread: one
//! entry per field, not a struct, a config file and a dump group.
//!
//! Names are snake_case JSON keys. A dotted name (`trend.rate`) puts the field in a nested
//! JSON object (`"trend": {"rate": …}`); the fields of one object must be adjacent in the
//! table. Metric names are derived from the name, the unit and the kind
//! ([`Field::metric_name`]), following Prometheus naming practice: base units and `_total`
//! for counters.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The unit of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// Seconds.
    Seconds,
    /// Bytes per second.
    BytesPerSecond,
    /// Percent (0–100), as the kernel prints PSI averages.
    Percent,
    /// A count of things or events.
    Count,
    /// Text: a name, a path, a class. Never a metric value; may be a metric label.
    Text,
    /// True or false.
    Flag,
}

impl Unit {
    /// The Prometheus base-unit suffix, when the unit has one.
    pub fn metric_suffix(self) -> Option<&'static str> {
        match self {
            Unit::Bytes => Some("bytes"),
            Unit::Seconds => Some("seconds"),
            Unit::BytesPerSecond => Some("bytes_per_second"),
            Unit::Percent => Some("percent"),
            Unit::Count | Unit::Text | Unit::Flag => None,
        }
    }
}

/// How a field behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only goes up (until its source restarts).
    Counter,
    /// An identity or description: a label, never a metric value.
    Info,
}

/// One value read by a field's accessor.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Not known: the source did not print it, or it does not apply. JSON `null`.
    Missing,
    /// An unsigned integer.
    U64(u64),
    /// A signed integer (scores, adjustments).
    I64(i64),
    /// A float.
    F64(f64),
    /// Text borrowed from the record.
    Str(&'a str),
    /// Text made by the accessor.
    String(String),
    /// A flag.
    Bool(bool),
    /// A list of values: a JSON array (the candidates of a domain, a list of pids).
    List(Vec<Value<'a>>),
    /// A nested record read through its own field table ([`Value::object`]): a JSON object
    /// whose keys are the table's names (dotted names nest, as in [`AsFields`]).
    Object(Vec<(&'static str, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The record `r` as an object of the fields of `table`, in table order: how a field
    /// holding a nested record (or, in a [`Value::List`], several) stays declared by a table.
    pub fn object<R>(table: &'static [Field<R>], r: &'a R) -> Value<'a> {
        Value::Object(table.iter().map(|f| (f.name, (f.get)(r))).collect())
    }
}

impl<T: Into<Value<'static>>> From<Option<T>> for Value<'static> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Missing, Into::into)
    }
}

impl From<u64> for Value<'static> {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}

impl From<i64> for Value<'static> {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<i32> for Value<'static> {
    fn from(v: i32) -> Self {
        Value::I64(v.into())
    }
}

impl From<usize> for Value<'static> {
    fn from(v: usize) -> Self {
        Value::U64(v as u64)
    }
}

impl From<u32> for Value<'static> {
    fn from(v: u32) -> Self {
        Value::U64(v.into())
    }
}

impl From<f64> for Value<'static> {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<bool> for Value<'static> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl Value<'_> {
    /// The value as a float, for metrics and charts; `None` for text and missing values.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Missing | Value::Str(_) | Value::String(_) => None,
            Value::List(_) | Value::Object(_) => None,
        }
    }

    /// The value as text, when it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Missing => s.serialize_none(),
            Value::U64(v) => s.serialize_u64(*v),
            // JSON has no NaN or infinity: an undefined float is null, never a made-up number.
            Value::F64(v) if !v.is_finite() => s.serialize_none(),
            Value::F64(v) => s.serialize_f64(*v),
            Value::Str(v) => s.serialize_str(v),
            Value::String(v) => s.serialize_str(v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::I64(v) => s.serialize_i64(*v),
            Value::List(v) => v.serialize(s),
            Value::Object(pairs) => Pairs { pairs, depth: 0 }.serialize(s),
        }
    }
}

/// One output field of records of type `R`.
pub struct Field<R: ?Sized> {
    /// The JSON key (dotted for a nested object) and the base of the metric name.
    pub name: &'static str,
    /// The unit of the value.
    pub unit: Unit,
    /// Gauge, counter or info.
    pub kind: Kind,
    /// One line for `--help`, the metric's HELP and the docs.
    pub help: &'static str,
    /// The column title in the text table and the TUI; `None` when the field is not a column.
    pub column: Option<&'static str>,
    /// Reads the value from a record.
    pub get: fn(&R) -> Value<'_>,
}

impl<R: ?Sized> Field<R> {
    /// The Prometheus metric name for this field under `prefix` (`oomlens_cgroup`): the
    /// dots become underscores, the unit suffix and `_total` for a counter are added unless
    /// the name already ends with them. `None` for info fields, which are labels.
    pub fn metric_name(&self, prefix: &str) -> Option<String> {
        if self.kind == Kind::Info || matches!(self.unit, Unit::Text) {
            return None;
        }
        let mut n = format!("{prefix}_{}", self.name.replace('.', "_"));
        if let Some(suffix) = self.unit.metric_suffix() {
            if !n.ends_with(suffix) {
                n.push('_');
                n.push_str(suffix);
            }
        }
        if self.kind == Kind::Counter && !n.ends_with("_total") {
            n.push_str("_total");
        }
        Some(n)
    }
}

impl<R: ?Sized> std::fmt::Debug for Field<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("kind", &self.kind)
            .field("column", &self.column)
            .finish()
    }
}

/// A record whose output fields are declared in one table.
pub trait Record: 'static {
    /// Every output field of the record, in output order.
    fn fields() -> &'static [Field<Self>];
}

/// Serializes a record as the JSON object its field table describes: each field's name is a
/// key (dotted names nest), each value is what its accessor reads. No key exists that the
/// table does not declare.
pub struct AsFields<'a, R: Record>(pub &'a R);

impl<R: Record> Serialize for AsFields<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Level {
            record: self.0,
            fields: R::fields(),
            depth: 0,
        }
        .serialize(s)
    }
}

/// The fields of one JSON object: those of `fields` whose dotted names share the first
/// `depth` components.
struct Level<'a, R: 'static> {
    record: &'a R,
    fields: &'static [Field<R>],
    depth: usize,
}

fn component(name: &str, depth: usize) -> &str {
    name.split('.').nth(depth).unwrap_or("")
}

impl<R> Serialize for Level<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            let key = component(f.name, self.depth);
            if f.name.split('.').count() == self.depth + 1 {
                map.serialize_entry(key, &(f.get)(self.record))?;
                i += 1;
                continue;
            }
            // A nested object: every adjacent field with the same component at this depth.
            let end = i + self.fields[i..]
                .iter()
                .take_while(|g| component(g.name, self.depth) == key)
                .count();
            let inner = Level {
                record: self.record,
                fields: &self.fields[i..end],
                depth: self.depth + 1,
            };
            map.serialize_entry(key, &inner)?;
            i = end;
        }
        map.end()
    }
}

/// The entries of one JSON object of a [`Value::Object`]: those of `pairs` whose dotted
/// names share the first `depth` components (the same nesting as [`Level`]).
struct Pairs<'p, 'a> {
    pairs: &'p [(&'static str, Value<'a>)],
    depth: usize,
}

impl Serialize for Pairs<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let mut i = 0;
        while i < self.pairs.len() {
            let (name, value) = &self.pairs[i];
            let key = component(name, self.depth);
            if name.split('.').count() == self.depth + 1 {
                map.serialize_entry(key, value)?;
                i += 1;
                continue;
            }
            let end = i + self.pairs[i..]
                .iter()
                .take_while(|(n, _)| component(n, self.depth) == key)
                .count();
            let inner = Pairs {
                pairs: &self.pairs[i..end],
                depth: self.depth + 1,
            };
            map.serialize_entry(key, &inner)?;
            i = end;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        path: String,
        usage: Option<u64>,
        rate: f64,
        kills: u64,
    }

    static ROW_FIELDS: &[Field<Row>] = &[
        Field {
            name: "path",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The cgroup path.",
            column: Some("CGROUP"),
            get: |r| Value::Str(&r.path),
        },
        Field {
            name: "usage",
            unit: Unit::Bytes,
            kind: Kind::Gauge,
            help: "Memory in use.",
            column: Some("USAGE"),
            get: |r| r.usage.into(),
        },
        Field {
            name: "trend.rate",
            unit: Unit::BytesPerSecond,
            kind: Kind::Gauge,
            help: "Growth.",
            column: Some("RATE"),
            get: |r| r.rate.into(),
        },
        Field {
            name: "trend.oom_kills",
            unit: Unit::Count,
            kind: Kind::Counter,
            help: "Kills.",
            column: None,
            get: |r| r.kills.into(),
        },
    ];

    impl Record for Row {
        fn fields() -> &'static [Field<Self>] {
            ROW_FIELDS
        }
    }

    #[test]
    fn json_keys_come_from_the_table_and_dots_nest() {
        let r = Row {
            path: "/a".into(),
            usage: None,
            rate: f64::NAN,
            kills: 3,
        };
        let json = serde_json::to_string(&AsFields(&r)).unwrap();
        assert_eq!(
            json,
            r#"{"path":"/a","usage":null,"trend":{"rate":null,"oom_kills":3}}"#
        );
    }

    #[test]
    fn objects_and_lists_nest_like_records() {
        let r = Row {
            path: "/a".into(),
            usage: Some(5),
            rate: 1.5,
            kills: 3,
        };
        let v = Value::List(vec![Value::object(ROW_FIELDS, &r), Value::I64(-1000)]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[{"path":"/a","usage":5,"trend":{"rate":1.5,"oom_kills":3}},-1000]"#
        );
        assert_eq!(
            serde_json::to_string(&Value::object(ROW_FIELDS, &r)).unwrap(),
            serde_json::to_string(&AsFields(&r)).unwrap()
        );
    }

    #[test]
    fn metric_names_follow_prometheus_practice() {
        let names: Vec<_> = ROW_FIELDS
            .iter()
            .map(|f| f.metric_name("oomlens_cgroup"))
            .collect();
        assert_eq!(
            names,
            [
                None,
                Some("oomlens_cgroup_usage_bytes".to_string()),
                Some("oomlens_cgroup_trend_rate_bytes_per_second".to_string()),
                Some("oomlens_cgroup_trend_oom_kills_total".to_string()),
            ]
        );
    }
}
