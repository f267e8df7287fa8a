//! A unit's effective memory-related settings, each with the file and line it came from.
//!
//! Built from a [`LoadedUnit`] with no further I/O: assignments apply in file order
//! (fragment, then drop-ins), the last valid one wins. As in systemd's `load-fragment.c`:
//! an empty assignment (`MemoryMax=`) resets the setting to its default and empties a list
//! (`TemporaryFileSystem=`, `ExecStart=`); a value systemd cannot parse is ignored with a
//! warning and the previous value stays — kept here in [`UnitSettings::invalid`], because a
//! mistyped `MemoryMax=512MB` silently leaves the unit unlimited.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::loader::{LoadedUnit, Scope};
use crate::size::{parse_memory_limit, parse_timespan, MemoryValue, Span};
use crate::unit::{exec_program, UnitName};

/// How a setting's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `config_parse_memory_limit`.
    Memory,
    /// An integer in a range.
    Int(i64, i64),
    /// A time span.
    Span,
    /// One of a fixed set of words.
    Word(&'static [&'static str]),
    /// A boolean (systemd's `parse_boolean`).
    Bool,
    /// Free text.
    Text,
    /// A list: each assignment adds, an empty one clears.
    List,
}

/// Where a key may appear: `None` stands for the unit type's own section (`[Service]`,
/// `[Slice]`, …).
struct Key {
    name: &'static str,
    sections: &'static [Option<&'static str>],
    kind: Kind,
}

const TYPE: Option<&str> = None;
const EXEC: &[Option<&str>] = &[Some("Service"), Some("Socket"), Some("Mount"), Some("Swap")];
const RESTART: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// Every key read, the way systemd reads it.
const KEYS: &[Key] = &[
    Key {
        name: "MemoryMin",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "MemoryLow",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "MemoryHigh",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "MemoryMax",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "MemorySwapMax",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "MemoryLimit",
        sections: &[TYPE],
        kind: Kind::Memory,
    },
    Key {
        name: "OOMScoreAdjust",
        sections: EXEC,
        kind: Kind::Int(-1000, 1000),
    },
    Key {
        name: "OOMPolicy",
        sections: &[Some("Service"), Some("Scope")],
        kind: Kind::Word(&["continue", "stop", "kill"]),
    },
    Key {
        name: "ManagedOOMSwap",
        sections: &[TYPE],
        kind: Kind::Word(&["auto", "kill"]),
    },
    Key {
        name: "ManagedOOMMemoryPressure",
        sections: &[TYPE],
        kind: Kind::Word(&["auto", "kill"]),
    },
    Key {
        name: "ManagedOOMMemoryPressureLimit",
        sections: &[TYPE],
        kind: Kind::Text,
    },
    Key {
        name: "ManagedOOMPreference",
        sections: &[TYPE],
        kind: Kind::Word(&["none", "avoid", "omit"]),
    },
    Key {
        name: "Restart",
        sections: &[Some("Service")],
        kind: Kind::Word(RESTART),
    },
    Key {
        name: "RestartSec",
        sections: &[Some("Service")],
        kind: Kind::Span,
    },
    Key {
        name: "RuntimeMaxSec",
        sections: &[Some("Service"), Some("Scope")],
        kind: Kind::Span,
    },
    Key {
        name: "StartLimitIntervalSec",
        sections: &[Some("Unit")],
        kind: Kind::Span,
    },
    // The pre-230 names, still read in [Unit] and, for compatibility, [Service].
    Key {
        name: "StartLimitInterval",
        sections: &[Some("Unit"), Some("Service")],
        kind: Kind::Span,
    },
    Key {
        name: "StartLimitBurst",
        sections: &[Some("Unit"), Some("Service")],
        kind: Kind::Int(0, u32::MAX as i64),
    },
    Key {
        name: "Type",
        sections: &[Some("Service"), Some("Mount")],
        kind: Kind::Text,
    },
    Key {
        name: "Slice",
        sections: &[TYPE],
        kind: Kind::Text,
    },
    Key {
        name: "PrivateTmp",
        sections: EXEC,
        kind: Kind::Bool,
    },
    Key {
        name: "TemporaryFileSystem",
        sections: EXEC,
        kind: Kind::List,
    },
    Key {
        name: "ExecStart",
        sections: &[Some("Service")],
        kind: Kind::List,
    },
    Key {
        name: "Delegate",
        sections: &[Some("Service"), Some("Scope")],
        kind: Kind::Text,
    },
    Key {
        name: "What",
        sections: &[Some("Mount")],
        kind: Kind::Text,
    },
    Key {
        name: "Where",
        sections: &[Some("Mount")],
        kind: Kind::Text,
    },
    Key {
        name: "Options",
        sections: &[Some("Mount")],
        kind: Kind::Text,
    },
];

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The unit file or drop-in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A memory setting.
    Memory(MemoryValue),
    /// An integer.
    Int(i64),
    /// A time span.
    Span(Span),
    /// A boolean.
    Bool(bool),
    /// Text (words, paths, options).
    Text(String),
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value as written.
    pub raw: String,
    /// The value as read.
    pub value: Value,
    /// Where it was written.
    pub origin: Origin,
}

/// An assignment systemd ignores because it cannot parse the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    /// The key.
    pub key: String,
    /// The value as written.
    pub raw: String,
    /// Why it is refused.
    pub problem: String,
    /// Where.
    #[serde(flatten)]
    pub origin: Origin,
}

/// The effective settings of one unit.
#[derive(Debug, Clone)]
pub struct UnitSettings {
    /// The unit's id.
    pub unit: UnitName,
    /// The name asked for, when it was an alias.
    pub requested: String,
    /// System or user manager.
    pub scope: Scope,
    /// The unit is masked.
    pub masked: bool,
    /// The fragment on this machine.
    pub fragment: Option<PathBuf>,
    /// Drop-ins on this machine, in applying order.
    pub dropins: Vec<PathBuf>,
    /// Section headers of the fragment, where a missing setting belongs.
    sections: BTreeMap<String, Origin>,
    values: BTreeMap<&'static str, Setting>,
    resets: BTreeMap<&'static str, Origin>,
    lists: BTreeMap<&'static str, Vec<Setting>>,
    /// Assignments systemd would ignore (unparsable values).
    pub invalid: Vec<Invalid>,
    /// Syntax warnings (file, line, problem).
    pub warnings: Vec<(PathBuf, u32, String)>,
}

impl UnitSettings {
    /// Applies the unit's files in order.
    pub fn from_loaded(u: &LoadedUnit) -> UnitSettings {
        let own_section = u.id.settings_section();
        let mut s = UnitSettings {
            unit: u.id.clone(),
            requested: u.requested.full.clone(),
            scope: u.scope,
            masked: u.masked,
            fragment: u.fragment.as_ref().map(|f| f.path.clone()),
            dropins: u.dropins.iter().map(|f| f.path.clone()).collect(),
            sections: BTreeMap::new(),
            values: BTreeMap::new(),
            resets: BTreeMap::new(),
            lists: BTreeMap::new(),
            invalid: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(f) = &u.fragment {
            for (name, line) in &f.file.sections {
                s.sections.entry(name.clone()).or_insert(Origin {
                    file: f.path.clone(),
                    line: *line,
                });
            }
        }
        for f in u.files() {
            for (line, w) in &f.file.warnings {
                s.warnings.push((f.path.clone(), *line, w.clone()));
            }
            for a in &f.file.assignments {
                let Some(key) = KEYS.iter().find(|k| {
                    k.name == a.key
                        && k.sections.iter().any(|sec| match sec {
                            Some(name) => *name == a.section,
                            None => own_section == Some(a.section.as_str()),
                        })
                }) else {
                    continue;
                };
                let origin = Origin {
                    file: f.path.clone(),
                    line: a.line,
                };
                s.apply(key, &a.value, origin);
            }
        }
        s
    }

    fn apply(&mut self, key: &'static Key, raw: &str, origin: Origin) {
        // The pre-230 name feeds the same setting.
        let name = match key.name {
            "StartLimitInterval" => "StartLimitIntervalSec",
            n => n,
        };
        if key.kind == Kind::List {
            if raw.is_empty() {
                self.lists.insert(name, Vec::new());
            } else {
                self.lists.entry(name).or_default().push(Setting {
                    raw: raw.to_string(),
                    value: Value::Text(raw.to_string()),
                    origin,
                });
            }
            return;
        }
        if raw.is_empty() {
            self.values.remove(name);
            self.resets.insert(name, origin);
            return;
        }
        let parsed = match key.kind {
            Kind::Memory => parse_memory_limit(raw).map(Value::Memory).and_then(|v| {
                // systemd refuses 0 except where 0 means "no protection".
                match v {
                    Value::Memory(MemoryValue::Bytes(0))
                        if !matches!(key.name, "MemorySwapMax" | "MemoryLow" | "MemoryMin") =>
                    {
                        Err(format!("{raw:?} is out of range"))
                    }
                    v => Ok(v),
                }
            }),
            Kind::Int(lo, hi) => match raw.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(Value::Int(v)),
                Ok(_) => Err(format!("{raw:?} is outside {lo}…{hi}")),
                Err(_) => Err(format!("{raw:?} is not an integer")),
            },
            Kind::Span => parse_timespan(raw).map(Value::Span),
            Kind::Word(words) => {
                if words.contains(&raw) {
                    Ok(Value::Text(raw.to_string()))
                } else {
                    Err(format!("{raw:?} is not one of {}", words.join(", ")))
                }
            }
            Kind::Bool => parse_bool(raw)
                .map(Value::Bool)
                .ok_or_else(|| format!("{raw:?} is not a boolean")),
            Kind::Text | Kind::List => Ok(Value::Text(raw.to_string())),
        };
        match parsed {
            Ok(value) => {
                self.resets.remove(name);
                self.values.insert(
                    name,
                    Setting {
                        raw: raw.to_string(),
                        value,
                        origin,
                    },
                );
            }
            Err(problem) => self.invalid.push(Invalid {
                key: name.to_string(),
                raw: raw.to_string(),
                problem,
                origin,
            }),
        }
    }

    /// Where a missing setting of `section` belongs: that section's header in the fragment,
    /// else the fragment's first line; `None` for a unit without a fragment.
    pub fn anchor(&self, section: &str) -> Option<(PathBuf, u32)> {
        if let Some(o) = self.sections.get(section) {
            return Some((o.file.clone(), o.line));
        }
        self.fragment.as_ref().map(|f| (f.clone(), 1))
    }

    /// [`Self::anchor`] for the unit type's own section (`[Service]`, `[Slice]`, …).
    pub fn own_anchor(&self) -> Option<(PathBuf, u32)> {
        self.anchor(self.unit.settings_section().unwrap_or("Unit"))
    }

    /// The origin of a setting as a `(file, line)` pair.
    pub fn at(&self, key: &str) -> Option<(PathBuf, u32)> {
        self.get(key)
            .map(|s| (s.origin.file.clone(), s.origin.line))
    }

    /// The effective setting of a key, `None` when unset or reset.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.values.get(key)
    }

    /// Where a key was last reset by an empty assignment (and not set again).
    pub fn reset_at(&self, key: &str) -> Option<&Origin> {
        self.resets.get(key)
    }

    /// The entries of a list setting, in order, after the last reset.
    pub fn list(&self, key: &str) -> &[Setting] {
        self.lists.get(key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// All effective scalar settings, by key.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &Setting)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }

    /// A memory setting's value.
    pub fn memory(&self, key: &str) -> Option<MemoryValue> {
        match self.get(key)?.value {
            Value::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// A memory setting in bytes: `None` when unset, infinity, or a percentage with RAM
    /// unknown.
    pub fn memory_bytes(&self, key: &str, ram: Option<u64>) -> Option<u64> {
        self.memory(key)?.bytes(ram)
    }

    /// Whether a memory setting is set to a finite value (a percentage counts).
    pub fn memory_finite(&self, key: &str) -> bool {
        matches!(
            self.memory(key),
            Some(MemoryValue::Bytes(_) | MemoryValue::Permyriad(_))
        )
    }

    /// An integer setting.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)?.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A time span setting.
    pub fn span(&self, key: &str) -> Option<Span> {
        match self.get(key)?.value {
            Value::Span(s) => Some(s),
            _ => None,
        }
    }

    /// A text or word setting.
    pub fn text(&self, key: &str) -> Option<&str> {
        match &self.get(key)?.value {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// A boolean setting.
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)?.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Whether `MemoryLimit=` is in force: systemd applies it as `MemoryMax=` on the unified
    /// hierarchy only when no unified memory setting (Min/Low/High/Max/SwapMax) is set
    /// (`unit_has_unified_memory_config()` in `src/core/cgroup.c`).
    pub fn memory_limit_applies(&self) -> bool {
        self.memory_finite("MemoryLimit")
            && !["MemoryHigh", "MemoryMax", "MemorySwapMax"]
                .iter()
                .any(|k| self.memory_finite(k))
            && !["MemoryMin", "MemoryLow"]
                .iter()
                .any(|k| self.memory(k).is_some_and(|m| m != MemoryValue::Bytes(0)))
    }

    /// The hard limit in force: `MemoryMax=`, else an applying `MemoryLimit=`; with the key.
    pub fn hard_limit(&self) -> Option<(&'static str, MemoryValue)> {
        if let Some(m @ (MemoryValue::Bytes(_) | MemoryValue::Permyriad(_))) =
            self.memory("MemoryMax")
        {
            return Some(("MemoryMax", m));
        }
        if self.memory_limit_applies() {
            return self.memory("MemoryLimit").map(|m| ("MemoryLimit", m));
        }
        None
    }

    /// `Restart=`, `no` by default.
    pub fn restart(&self) -> &str {
        self.text("Restart").unwrap_or("no")
    }

    /// `OOMPolicy=`: as set, else `continue` for a unit with `Delegate=` on (it manages its
    /// own subtree), else the manager's default `stop`.
    pub fn oom_policy(&self) -> &str {
        if let Some(p) = self.text("OOMPolicy") {
            return p;
        }
        let delegate = self
            .text("Delegate")
            .is_some_and(|d| parse_bool(d) != Some(false));
        if delegate {
            "continue"
        } else {
            "stop"
        }
    }

    /// `Type=` of a service, `simple` by default.
    pub fn service_type(&self) -> &str {
        self.text("Type").unwrap_or("simple")
    }

    /// The programs of `ExecStart=` (without systemd's prefix characters).
    pub fn programs(&self) -> Vec<String> {
        self.list("ExecStart")
            .iter()
            .filter_map(|s| exec_program(&s.raw))
            .collect()
    }

    /// The slice the unit runs in: `Slice=` with specifiers expanded, else systemd's default
    /// (`unit_set_default_slice()`): `system-PREFIX.slice` for instances of the system
    /// manager, `system.slice` otherwise; user units sit in their manager's root (`None`).
    /// Slices themselves have no slice here.
    pub fn slice(&self) -> Option<String> {
        if self.unit.kind == "slice" {
            return None;
        }
        if let Some(s) = self.text("Slice") {
            return Some(expand_specifiers(s, &self.unit));
        }
        match self.scope {
            Scope::User => None,
            Scope::System if self.unit.is_instance() || self.unit.is_template() => {
                Some(format!("system-{}.slice", self.unit.prefix))
            }
            Scope::System => Some("system.slice".to_string()),
        }
    }
}

/// systemd's `parse_boolean()`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// Expands the unit-name specifiers of `systemd.unit(5)` that a slice name can use: `%n`
/// `%N` `%p` `%P` `%i` `%I` `%j` `%J` `%%`; others stay as written.
pub fn expand_specifiers(s: &str, n: &UnitName) -> String {
    let unescape = |t: &str| unescape_unit(t);
    let inst = n.instance.clone().unwrap_or_default();
    let j = n
        .prefix
        .rsplit_once('-')
        .map(|(_, b)| b.to_string())
        .unwrap_or_else(|| n.prefix.clone());
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push_str(&n.full),
            Some('N') => out.push_str(n.stem()),
            Some('p') => out.push_str(&n.prefix),
            Some('P') => out.push_str(&unescape(&n.prefix)),
            Some('i') => out.push_str(&inst),
            Some('I') => out.push_str(&unescape(&inst)),
            Some('j') => out.push_str(&j),
            Some('J') => out.push_str(&unescape(&j)),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `unit_name_unescape()`: `-` is `/`, `\xNN` a byte.
fn unescape_unit(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            out.push(b'/');
            i += 1;
        } else if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            match u8::from_str_radix(&t[i + 2..i + 4], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 4;
                }
                Err(_) => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::SourceFile;
    use crate::unit::parse_unit_file;

    fn unit(name: &str, files: &[(&str, &str)]) -> UnitSettings {
        let n = UnitName::parse(name).unwrap();
        let mut sf: Vec<SourceFile> = files
            .iter()
            .map(|(p, t)| SourceFile {
                path: PathBuf::from(p),
                file: parse_unit_file(t),
            })
            .collect();
        let fragment = Some(sf.remove(0));
        UnitSettings::from_loaded(&LoadedUnit {
            requested: n.clone(),
            id: n,
            aliases: vec![],
            scope: Scope::System,
            fragment,
            masked: false,
            dropins: sf,
        })
    }

    #[test]
    fn last_assignment_wins_with_its_origin() {
        let s = unit(
            "w.service",
            &[
                (
                    "/lib/w.service",
                    "[Service]\nMemoryMax=512M\nRestart=always\n",
                ),
                ("/etc/w.service.d/a.conf", "[Service]\nMemoryMax=2G\n"),
            ],
        );
        let m = s.get("MemoryMax").unwrap();
        assert_eq!(m.value, Value::Memory(MemoryValue::Bytes(2 << 30)));
        assert_eq!(m.origin.file, PathBuf::from("/etc/w.service.d/a.conf"));
        assert_eq!(m.origin.line, 2);
        assert_eq!(s.restart(), "always");
        assert_eq!(s.slice().as_deref(), Some("system.slice"));
    }

    #[test]
    fn empty_assignment_resets_and_lists_clear() {
        let s = unit(
            "w.service",
            &[
                (
                    "/lib/w.service",
                    "[Service]\nMemoryMax=512M\nExecStart=/a\nTemporaryFileSystem=/x\n",
                ),
                (
                    "/etc/w.service.d/a.conf",
                    "[Service]\nMemoryMax=\nExecStart=\nExecStart=/b\nTemporaryFileSystem=\n",
                ),
            ],
        );
        assert!(s.get("MemoryMax").is_none());
        assert_eq!(s.reset_at("MemoryMax").unwrap().line, 2);
        assert_eq!(s.programs(), vec!["/b".to_string()]);
        assert!(s.list("TemporaryFileSystem").is_empty());
    }

    #[test]
    fn invalid_values_are_ignored_and_kept() {
        let s = unit(
            "w.service",
            &[
                ("/lib/w.service", "[Service]\nMemoryMax=512M\n"),
                (
                    "/etc/w.service.d/a.conf",
                    "[Service]\nMemoryMax=1GB\nOOMScoreAdjust=-2000\nRestart=sometimes\n",
                ),
            ],
        );
        // systemd ignores "1GB": 512M stays.
        assert_eq!(s.memory("MemoryMax"), Some(MemoryValue::Bytes(512 << 20)));
        let keys: Vec<&str> = s.invalid.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, vec!["MemoryMax", "OOMScoreAdjust", "Restart"]);
        assert_eq!(s.invalid[0].origin.line, 2);
    }

    #[test]
    fn keys_count_only_in_their_section() {
        let s = unit(
            "w.service",
            &[(
                "/lib/w.service",
                "[Unit]\nMemoryMax=1G\nStartLimitBurst=3\n[Slice]\nMemoryHigh=1G\n[Service]\nStartLimitInterval=5min\n",
            )],
        );
        assert!(s.get("MemoryMax").is_none());
        assert!(s.get("MemoryHigh").is_none());
        assert_eq!(s.int("StartLimitBurst"), Some(3));
        assert_eq!(
            s.span("StartLimitIntervalSec"),
            Some(Span::Usec(300_000_000))
        );
    }

    #[test]
    fn memory_limit_yields_to_unified_settings() {
        let s = unit("a.service", &[("/a", "[Service]\nMemoryLimit=1G\n")]);
        assert_eq!(s.hard_limit().map(|h| h.0), Some("MemoryLimit"));
        let s = unit(
            "a.service",
            &[("/a", "[Service]\nMemoryLimit=1G\nMemoryHigh=512M\n")],
        );
        assert!(!s.memory_limit_applies());
        assert_eq!(s.hard_limit(), None);
    }

    #[test]
    fn instances_default_to_their_prefix_slice_and_expand_specifiers() {
        let s = unit("postgresql@15-main.service", &[("/p", "[Service]\n")]);
        assert_eq!(s.slice().as_deref(), Some("system-postgresql.slice"));
        let s = unit(
            "user@1000.service",
            &[("/u", "[Service]\nSlice=user-%i.slice\n")],
        );
        assert_eq!(s.slice().as_deref(), Some("user-1000.slice"));
        assert_eq!(unescape_unit("a-b\\x2dc"), "a/b-c");
    }
}
