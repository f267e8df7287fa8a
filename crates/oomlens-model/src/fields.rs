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
//!
//! A field's value can itself be a record written through its own table
//! ([`Value::record`], [`Value::with_fields`]) or a list of values ([`Value::list`],
//! [`Value::records`]): explain's incident holds kills, a task table and more, each declared
//! in its own table (`incident_fields.rs`). [`Value::Absent`] leaves a key out for the few
//! keys a contract writes only when they apply.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

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
    /// A ratio from 0 to 1 (Prometheus' base unit for shares: a PSI average exported as a
    /// metric is the kernel's percent divided by 100).
    Ratio,
    /// A count of things or events.
    Count,
    /// Text: a name, a path, a class. Never a metric value; may be a metric label.
    Text,
    /// True or false.
    Flag,
    /// KiB (1024 bytes), as the kernel prints sizes in OOM reports (`anon-rss:…kB`).
    KiB,
    /// Memory pages, as the kernel's task table prints sizes (the page size is the report's).
    Pages,
    /// Microseconds (the kernel's monotonic log clock).
    Microseconds,
    /// A nested object, or a list of them: its own fields carry the units.
    Record,
}

impl Unit {
    /// The Prometheus base-unit suffix, when the unit has one.
    pub fn metric_suffix(self) -> Option<&'static str> {
        match self {
            Unit::Bytes => Some("bytes"),
            Unit::Seconds => Some("seconds"),
            Unit::BytesPerSecond => Some("bytes_per_second"),
            Unit::Percent => Some("percent"),
            Unit::Ratio => Some("ratio"),
            Unit::KiB => Some("kibibytes"),
            Unit::Pages => Some("pages"),
            Unit::Microseconds => Some("microseconds"),
            Unit::Count | Unit::Text | Unit::Flag | Unit::Record => None,
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
    /// Not known, and the key is left out of the JSON object instead of written as `null`
    /// (for keys the contract prints only when they apply). An object of dotted fields
    /// that are all absent is left out too.
    Absent,
    /// An unsigned integer.
    U64(u64),
    /// A signed integer (`oom_score_adj`, scores, exit codes).
    I64(i64),
    /// A float.
    F64(f64),
    /// Text borrowed from the record.
    Str(&'a str),
    /// Text made by the accessor.
    String(String),
    /// A flag.
    Bool(bool),
    /// A nested record, written as the JSON object its own field table describes.
    Record(Nested<'a>),
    /// A list: each item is a value of its own (a record through its table, or a scalar).
    List(List<'a>),
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

impl From<u32> for Value<'static> {
    fn from(v: u32) -> Self {
        Value::U64(v.into())
    }
}

impl From<i32> for Value<'static> {
    fn from(v: i32) -> Self {
        Value::I64(v.into())
    }
}

impl From<i64> for Value<'static> {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<usize> for Value<'static> {
    fn from(v: usize) -> Self {
        Value::U64(v as u64)
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

impl<'a> Value<'a> {
    /// Borrowed text, `Missing` when there is none (`Option<String>` fields).
    pub fn text(s: Option<&'a str>) -> Value<'a> {
        s.map_or(Value::Missing, Value::Str)
    }

    /// `r` as the nested object its field table describes.
    pub fn record<R: Record + Sync>(r: &'a R) -> Value<'a> {
        Value::Record(Nested(Arc::new(Bound {
            record: r,
            fields: R::fields(),
            optional: R::optional_objects(),
        })))
    }

    /// `r` as the nested object `fields` describe (for record types whose table lives in
    /// another crate than the type, which therefore cannot implement [`Record`]).
    pub fn with_fields<R: Sync + 'static>(r: &'a R, fields: &'static [Field<R>]) -> Value<'a> {
        Value::Record(Nested(Arc::new(Bound {
            record: r,
            fields,
            optional: &[],
        })))
    }

    /// `r` as a nested object, `Missing` (JSON `null`) when there is none.
    pub fn optional<R: Record + Sync>(r: Option<&'a R>) -> Value<'a> {
        r.map_or(Value::Missing, Value::record)
    }

    /// A list whose items are each read by `each`.
    pub fn list<T: Sync>(items: &'a [T], each: fn(&'a T) -> Value<'a>) -> Value<'a> {
        Value::List(List(Arc::new(Mapped { items, each })))
    }

    /// A list of records, each written through its field table.
    pub fn records<R: Record + Sync>(items: &'a [R]) -> Value<'a> {
        Value::list(items, Value::record)
    }

    /// A list of borrowed strings.
    pub fn strs(items: &'a [String]) -> Value<'a> {
        Value::list(items, |s| Value::Str(s))
    }

    /// A list of the values given.
    pub fn tuple(items: Vec<Value<'a>>) -> Value<'a> {
        Value::List(List(Arc::new(items)))
    }
}

impl Value<'_> {
    /// The value as a float, for metrics and charts; `None` for text, missing values,
    /// records and lists.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Missing
            | Value::Absent
            | Value::Str(_)
            | Value::String(_)
            | Value::Record(_)
            | Value::List(_) => None,
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
            // An absent value outside an object (a list item) has no key to leave out.
            Value::Missing | Value::Absent => s.serialize_none(),
            Value::U64(v) => s.serialize_u64(*v),
            Value::I64(v) => s.serialize_i64(*v),
            // JSON has no NaN or infinity: an undefined float is null, never a made-up number.
            Value::F64(v) if !v.is_finite() => s.serialize_none(),
            Value::F64(v) => s.serialize_f64(*v),
            Value::Str(v) => s.serialize_str(v),
            Value::String(v) => s.serialize_str(v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Record(r) => Level {
                record: &*r.0,
                range: 0..r.0.len(),
                depth: 0,
            }
            .serialize(s),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.0.len()))?;
                for i in 0..l.0.len() {
                    seq.serialize_element(&l.0.item(i))?;
                }
                seq.end()
            }
        }
    }
}

/// A record bound to its field table, its type erased so that a [`Value`] can hold it.
trait Fields {
    fn len(&self) -> usize;
    fn name(&self, i: usize) -> &'static str;
    fn value(&self, i: usize) -> Value<'_>;
    /// See [`Record::optional_objects`].
    fn optional_objects(&self) -> &'static [&'static str];
}

struct Bound<'a, R: 'static> {
    record: &'a R,
    fields: &'static [Field<R>],
    optional: &'static [&'static str],
}

impl<R> Fields for Bound<'_, R> {
    fn len(&self) -> usize {
        self.fields.len()
    }

    fn name(&self, i: usize) -> &'static str {
        self.fields[i].name
    }

    fn value(&self, i: usize) -> Value<'_> {
        (self.fields[i].get)(self.record)
    }

    fn optional_objects(&self) -> &'static [&'static str] {
        self.optional
    }
}

/// A nested record of a [`Value::Record`]: a record with its field table.
#[derive(Clone)]
pub struct Nested<'a>(Arc<dyn Fields + Send + Sync + 'a>);

impl Nested<'_> {
    /// The record's fields, names with values, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, Value<'_>)> + '_ {
        (0..self.0.len()).map(|i| (self.0.name(i), self.0.value(i)))
    }
}

impl std::fmt::Debug for Nested<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.entries()).finish()
    }
}

impl PartialEq for Nested<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

/// The items of a list, each read as a value on demand.
trait Items {
    fn len(&self) -> usize;
    fn item(&self, i: usize) -> Value<'_>;
}

struct Mapped<'a, T> {
    items: &'a [T],
    each: fn(&'a T) -> Value<'a>,
}

impl<T> Items for Mapped<'_, T> {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn item(&self, i: usize) -> Value<'_> {
        (self.each)(&self.items[i])
    }
}

impl Items for Vec<Value<'_>> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn item(&self, i: usize) -> Value<'_> {
        self[i].clone()
    }
}

/// The items of a [`Value::List`].
#[derive(Clone)]
pub struct List<'a>(Arc<dyn Items + Send + Sync + 'a>);

impl List<'_> {
    /// The items, in order.
    pub fn items(&self) -> impl Iterator<Item = Value<'_>> + '_ {
        (0..self.0.len()).map(|i| self.0.item(i))
    }
}

impl std::fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items()).finish()
    }
}

impl PartialEq for List<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.items().eq(other.items())
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
    /// A field that is not a column of a text table; see [`Field::column`] to make it one.
    pub const fn new(
        name: &'static str,
        unit: Unit,
        kind: Kind,
        help: &'static str,
        get: fn(&R) -> Value<'_>,
    ) -> Field<R> {
        Field {
            name,
            unit,
            kind,
            help,
            column: None,
            get,
        }
    }

    /// The field, shown in text under the column title (or label) `title`.
    pub const fn column(self, title: &'static str) -> Field<R> {
        Field {
            column: Some(title),
            ..self
        }
    }

    /// The Prometheus metric name for this field under `prefix` (`oomlens_cgroup`): the
    /// dots become underscores, the unit suffix and `_total` for a counter are added unless
    /// the name already ends with them. `None` for info fields, which are labels.
    pub fn metric_name(&self, prefix: &str) -> Option<String> {
        if self.kind == Kind::Info || matches!(self.unit, Unit::Text | Unit::Record) {
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

    /// Dotted prefixes of the nested objects that are optional as a whole: such an object
    /// is JSON `null` when every one of its fields reads [`Value::Missing`] (an ETA that
    /// does not apply is `"eta": null`, not an object of nulls). None by default.
    fn optional_objects() -> &'static [&'static str] {
        &[]
    }
}

/// Serializes a record as the JSON object its field table describes: each field's name is a
/// key (dotted names nest), each value is what its accessor reads. No key exists that the
/// table does not declare.
pub struct AsFields<'a, R: Record>(pub &'a R);

impl<R: Record> Serialize for AsFields<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let bound = Bound {
            record: self.0,
            fields: R::fields(),
            optional: R::optional_objects(),
        };
        Level {
            record: &bound,
            range: 0..bound.fields.len(),
            depth: 0,
        }
        .entries(&mut map)?;
        map.end()
    }
}

/// Writes the entries of `record` that `fields` describe into an open JSON object, so
/// that the fields of two records (an incident and its explanation) can share one object.
pub fn write_fields<M: SerializeMap, R: 'static>(
    map: &mut M,
    record: &R,
    fields: &'static [Field<R>],
) -> Result<(), M::Error> {
    let bound = Bound {
        record,
        fields,
        optional: &[],
    };
    Level {
        record: &bound,
        range: 0..fields.len(),
        depth: 0,
    }
    .entries(map)
}

/// The fields of one JSON object: those in `range` of a record's table, whose dotted names
/// share the first `depth` components.
struct Level<'a> {
    record: &'a dyn Fields,
    range: std::ops::Range<usize>,
    depth: usize,
}

fn component(name: &str, depth: usize) -> &str {
    name.split('.').nth(depth).unwrap_or("")
}

impl Level<'_> {
    fn entries<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let mut i = self.range.start;
        while i < self.range.end {
            let name = self.record.name(i);
            let key = component(name, self.depth);
            if name.split('.').count() == self.depth + 1 {
                let v = self.record.value(i);
                if v != Value::Absent {
                    map.serialize_entry(key, &v)?;
                }
                i += 1;
                continue;
            }
            // A nested object: every adjacent field with the same component at this depth.
            let mut end = i;
            while end < self.range.end && component(self.record.name(end), self.depth) == key {
                end += 1;
            }
            let prefix_len: usize = name
                .split('.')
                .take(self.depth + 1)
                .map(|c| c.len() + 1)
                .sum::<usize>()
                - 1;
            let optional = self
                .record
                .optional_objects()
                .contains(&&name[..prefix_len]);
            if optional && (i..end).all(|j| self.record.value(j) == Value::Missing) {
                map.serialize_entry(key, &Value::Missing)?;
            } else if (i..end).any(|j| self.record.value(j) != Value::Absent) {
                let inner = Level {
                    record: self.record,
                    range: i..end,
                    depth: self.depth + 1,
                };
                map.serialize_entry(key, &inner)?;
            }
            i = end;
        }
        Ok(())
    }
}

impl Serialize for Level<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.entries(&mut map)?;
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

    struct Parent {
        adj: i32,
        note: Option<String>,
        extra: Option<String>,
        rows: Vec<Row>,
        child: Option<Row>,
        pairs: Vec<(String, u64)>,
    }

    static PARENT_FIELDS: &[Field<Parent>] = &[
        Field::new("adj", Unit::Count, Kind::Info, "Signed.", |p| p.adj.into()),
        Field::new("note", Unit::Text, Kind::Info, "Left out when none.", |p| {
            p.note.as_deref().map_or(Value::Absent, Value::Str)
        }),
        Field::new(
            "more.extra",
            Unit::Text,
            Kind::Info,
            "An object left out when all absent.",
            |p| p.extra.as_deref().map_or(Value::Absent, Value::Str),
        ),
        Field::new("rows", Unit::Record, Kind::Info, "Rows.", |p| {
            Value::records(&p.rows)
        }),
        Field::new("child", Unit::Record, Kind::Info, "A row or null.", |p| {
            Value::optional(p.child.as_ref())
        }),
        Field::new("pairs", Unit::Count, Kind::Info, "Pairs.", |p| {
            Value::list(&p.pairs, |(k, v)| {
                Value::tuple(vec![Value::Str(k), Value::U64(*v)])
            })
        }),
    ];

    fn row(path: &str) -> Row {
        Row {
            path: path.into(),
            usage: Some(1),
            rate: 0.5,
            kills: 0,
        }
    }

    #[test]
    fn absent_keys_are_left_out_and_records_nest_through_their_tables() {
        let p = Parent {
            adj: -1000,
            note: None,
            extra: None,
            rows: vec![row("/a"), row("/b")],
            child: None,
            pairs: vec![("shmem".into(), 7)],
        };
        let got = serde_json::to_string(&Level {
            record: &Bound {
                record: &p,
                fields: PARENT_FIELDS,
                optional: &[],
            },
            range: 0..PARENT_FIELDS.len(),
            depth: 0,
        })
        .unwrap();
        let row_json =
            |p: &str| format!(r#"{{"path":"{p}","usage":1,"trend":{{"rate":0.5,"oom_kills":0}}}}"#);
        assert_eq!(
            got,
            format!(
                r#"{{"adj":-1000,"rows":[{},{}],"child":null,"pairs":[["shmem",7]]}}"#,
                row_json("/a"),
                row_json("/b")
            )
        );
        let p = Parent {
            note: Some("n".into()),
            extra: Some("x".into()),
            rows: Vec::new(),
            child: Some(row("/c")),
            ..p
        };
        let got = serde_json::to_string(&Level {
            record: &Bound {
                record: &p,
                fields: PARENT_FIELDS,
                optional: &[],
            },
            range: 0..PARENT_FIELDS.len(),
            depth: 0,
        })
        .unwrap();
        assert_eq!(
            got,
            format!(
                r#"{{"adj":-1000,"note":"n","more":{{"extra":"x"}},"rows":[],"child":{},"pairs":[["shmem",7]]}}"#,
                row_json("/c")
            )
        );
    }

    /// Values can be made in one thread (a sampler) and written in another.
    #[test]
    fn values_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Value<'static>>();
    }

    /// The same row whose `trend` object is optional as a whole.
    struct OptRow(Row);

    static OPT_FIELDS: &[Field<OptRow>] = &[
        Field {
            name: "path",
            unit: Unit::Text,
            kind: Kind::Info,
            help: "The cgroup path.",
            column: Some("CGROUP"),
            get: |r| Value::Str(&r.0.path),
        },
        Field {
            name: "trend.rate",
            unit: Unit::BytesPerSecond,
            kind: Kind::Gauge,
            help: "Growth.",
            column: Some("RATE"),
            get: |r| r.0.usage.map(|_| r.0.rate).into(),
        },
    ];

    impl Record for OptRow {
        fn fields() -> &'static [Field<Self>] {
            OPT_FIELDS
        }
        fn optional_objects() -> &'static [&'static str] {
            &["trend"]
        }
    }

    #[test]
    fn an_optional_object_of_nothing_is_null() {
        let mut r = OptRow(Row {
            path: "/a".into(),
            usage: None,
            rate: 2.0,
            kills: 0,
        });
        let json = |r: &OptRow| serde_json::to_string(&AsFields(r)).unwrap();
        assert_eq!(json(&r), r#"{"path":"/a","trend":null}"#);
        r.0.usage = Some(1);
        assert_eq!(json(&r), r#"{"path":"/a","trend":{"rate":2.0}}"#);
    }
}
