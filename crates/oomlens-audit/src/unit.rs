//! systemd unit names and the unit-file syntax, read as systemd's own parser reads them.
//!
//! Names follow `src/basic/unit-name.c`: `PREFIX[@INSTANCE].TYPE`, a template being
//! `PREFIX@.TYPE`. The file syntax follows `config_parse()` in `src/shared/conf-parser.c`:
//! lines whose first non-blank character is `#` or `;` are comments (also in the middle of a
//! continued line), a line ending in an unescaped backslash continues on the next (the
//! backslash becomes a space), `[Section]` starts a section, `Key=Value` assigns with blanks
//! around both stripped. Keys and sections are case-sensitive. An assignment outside any
//! section, or a line without `=`, is ignored with a warning, as systemd does.

/// Unit types systemd knows (`unit_type_table`).
pub const UNIT_TYPES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// A parsed unit name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitName {
    /// The whole name, `foo@bar.service`.
    pub full: String,
    /// The part before `@` or the type, `foo`.
    pub prefix: String,
    /// `Some("bar")` for an instance, `Some("")` for a template, `None` otherwise.
    pub instance: Option<String>,
    /// The type without the dot, `service`.
    pub kind: String,
}

impl UnitName {
    /// Parses a unit name; `Err` says why it is not one.
    pub fn parse(name: &str) -> Result<UnitName, String> {
        let (stem, kind) = name
            .rsplit_once('.')
            .ok_or_else(|| format!("{name:?} is not a unit name (no .service, .slice, … type)"))?;
        if !UNIT_TYPES.contains(&kind) {
            return Err(format!(
                "{name:?} is not a unit name (unknown type .{kind})"
            ));
        }
        if stem.is_empty() || name.len() > 255 {
            return Err(format!("{name:?} is not a unit name"));
        }
        // Valid characters: [A-Za-z0-9:-_.\\] plus one '@'.
        let valid = |c: char| c.is_ascii_alphanumeric() || ":-_.\\".contains(c);
        let (prefix, instance) = match stem.split_once('@') {
            Some((p, i)) => (p, Some(i)),
            None => (stem, None),
        };
        if prefix.is_empty()
            || !prefix.chars().all(valid)
            || instance.is_some_and(|i| !i.chars().all(|c| valid(c) || c == '@'))
        {
            return Err(format!("{name:?} is not a unit name (invalid characters)"));
        }
        Ok(UnitName {
            full: name.to_string(),
            prefix: prefix.to_string(),
            instance: instance.map(str::to_string),
            kind: kind.to_string(),
        })
    }

    /// Whether this is an instance `foo@bar.service`.
    pub fn is_instance(&self) -> bool {
        self.instance.as_deref().is_some_and(|i| !i.is_empty())
    }

    /// Whether this is a template `foo@.service`.
    pub fn is_template(&self) -> bool {
        self.instance.as_deref() == Some("")
    }

    /// The template of an instance: `foo@.service`.
    pub fn template(&self) -> Option<String> {
        self.is_instance()
            .then(|| format!("{}@.{}", self.prefix, self.kind))
    }

    /// The name without the type suffix (`foo@bar`).
    pub fn stem(&self) -> &str {
        &self.full[..self.full.len() - self.kind.len() - 1]
    }

    /// The section holding this type's cgroup and exec settings (`Service`, `Slice`, …);
    /// `None` for types without one (target, device, timer, path, automount).
    pub fn settings_section(&self) -> Option<&'static str> {
        Some(match self.kind.as_str() {
            "service" => "Service",
            "socket" => "Socket",
            "mount" => "Mount",
            "swap" => "Swap",
            "slice" => "Slice",
            "scope" => "Scope",
            _ => return None,
        })
    }
}

/// The slice path of a slice name as a cgroup path: `a-b.slice` is `a.slice/a-b.slice`,
/// `-.slice` is the root (systemd `slice_build_subslice` / `unit_name_to_path`).
pub fn slice_cgroup_path(slice: &str) -> String {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return slice.to_string();
    };
    if stem == "-" || stem.is_empty() {
        return String::new();
    }
    let mut out = Vec::new();
    let mut acc = String::new();
    for (i, part) in stem.split('-').enumerate() {
        if i > 0 {
            acc.push('-');
        }
        acc.push_str(part);
        out.push(format!("{acc}.slice"));
    }
    out.join("/")
}

/// The parent slice of a slice: `a-b.slice` → `a.slice`, `a.slice` → `-.slice`; `None`
/// for the root slice.
pub fn parent_slice(slice: &str) -> Option<String> {
    let stem = slice.strip_suffix(".slice")?;
    if stem == "-" {
        return None;
    }
    Some(match stem.rsplit_once('-') {
        Some((p, _)) if !p.is_empty() => format!("{p}.slice"),
        _ => "-.slice".to_string(),
    })
}

/// One `Key=Value` line of a unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The section it sits in.
    pub section: String,
    /// The key.
    pub key: String,
    /// The value, blanks stripped; continuation lines joined.
    pub value: String,
    /// The 1-based line where the assignment starts.
    pub line: u32,
}

/// A unit file's assignments and the lines systemd would warn about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    /// Assignments in file order.
    pub assignments: Vec<Assignment>,
    /// `(name, line)` of every section header, in file order.
    pub sections: Vec<(String, u32)>,
    /// `(line, problem)` for lines systemd ignores with a warning.
    pub warnings: Vec<(u32, String)>,
}

impl UnitFile {
    /// The line of the first `[name]` header.
    pub fn section_line(&self, name: &str) -> Option<u32> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| *l)
    }
}

/// Parses the text of a unit file or drop-in.
pub fn parse_unit_file(text: &str) -> UnitFile {
    let mut out = UnitFile::default();
    let mut section: Option<String> = None;
    let mut cont: Option<(String, u32)> = None;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx as u32 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let lead = raw.trim_start();
        if lead.starts_with('#') || lead.starts_with(';') {
            continue;
        }
        // An odd run of trailing backslashes continues the line.
        let trailing = raw.bytes().rev().take_while(|&b| b == b'\\').count();
        if trailing % 2 == 1 {
            let piece = &raw[..raw.len() - 1];
            match cont.as_mut() {
                Some((buf, _)) => {
                    buf.push_str(piece);
                    buf.push(' ');
                }
                None => cont = Some((format!("{piece} "), lineno)),
            }
            continue;
        }
        let (line, start) = match cont.take() {
            Some((mut buf, start)) => {
                buf.push_str(raw);
                (buf, start)
            }
            None => (raw.to_string(), lineno),
        };
        parse_line(&line, start, &mut section, &mut out);
    }
    if let Some((buf, start)) = cont.take() {
        parse_line(&buf, start, &mut section, &mut out);
    }
    out
}

fn parse_line(line: &str, lineno: u32, section: &mut Option<String>, out: &mut UnitFile) {
    let l = line.trim();
    if l.is_empty() {
        return;
    }
    if let Some(rest) = l.strip_prefix('[') {
        match rest.strip_suffix(']') {
            Some(name) if !name.is_empty() => {
                *section = Some(name.to_string());
                out.sections.push((name.to_string(), lineno));
            }
            _ => {
                out.warnings
                    .push((lineno, format!("invalid section header {l:?}")));
                *section = None;
            }
        }
        return;
    }
    let Some((k, v)) = l.split_once('=') else {
        out.warnings
            .push((lineno, format!("missing '=' in {l:?}, ignoring")));
        return;
    };
    let Some(sec) = section.as_ref() else {
        out.warnings.push((
            lineno,
            "assignment outside of a section, ignoring".to_string(),
        ));
        return;
    };
    out.assignments.push(Assignment {
        section: sec.clone(),
        key: k.trim().to_string(),
        value: v.trim().to_string(),
        line: lineno,
    });
}

/// Splits a command line into words the way systemd does for `ExecStart=` (whitespace
/// separated, double and single quotes grouping), enough to find the program name.
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The program an `ExecStart=` line runs: the first word without systemd's prefix
/// characters (`@`, `-`, `:`, `+`, `!`).
pub fn exec_program(value: &str) -> Option<String> {
    let first = split_words(value).into_iter().next()?;
    let p = first.trim_start_matches(['@', '-', ':', '+', '!']);
    (!p.is_empty()).then(|| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_parts() {
        let n = UnitName::parse("postgresql@15-main.service").unwrap();
        assert_eq!(n.prefix, "postgresql");
        assert_eq!(n.instance.as_deref(), Some("15-main"));
        assert!(n.is_instance());
        assert_eq!(n.template().as_deref(), Some("postgresql@.service"));
        assert_eq!(n.stem(), "postgresql@15-main");
        let t = UnitName::parse("getty@.service").unwrap();
        assert!(t.is_template() && !t.is_instance());
        assert!(UnitName::parse("nginx").is_err());
        assert!(UnitName::parse("nginx.conf").is_err());
        assert!(UnitName::parse("bad name.service").is_err());
        assert!(UnitName::parse(".service").is_err());
        assert_eq!(
            UnitName::parse("tmp.mount").unwrap().settings_section(),
            Some("Mount")
        );
    }

    #[test]
    fn slices_nest_by_dash() {
        assert_eq!(slice_cgroup_path("system.slice"), "system.slice");
        assert_eq!(
            slice_cgroup_path("user-1000.slice"),
            "user.slice/user-1000.slice"
        );
        assert_eq!(
            slice_cgroup_path("a-b-c.slice"),
            "a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(slice_cgroup_path("-.slice"), "");
        assert_eq!(parent_slice("a-b.slice").as_deref(), Some("a.slice"));
        assert_eq!(parent_slice("system.slice").as_deref(), Some("-.slice"));
        assert_eq!(parent_slice("-.slice"), None);
    }

    #[test]
    fn file_syntax_matches_conf_parser() {
        let text = "# comment\n\
                    [Unit]\n\
                    Description = A \\\n\
                    # a comment inside a continuation is skipped\n\
                    \x20 long one\n\
                    [Service]\n\
                    MemoryMax=512M\n\
                    ; other comment\n\
                    MemoryHigh=\n\
                    garbage line\n\
                    ExecStart=/bin/echo a\\\\\n\
                    Restart=always\n";
        let f = parse_unit_file(text);
        let a: Vec<_> = f
            .assignments
            .iter()
            .map(|a| (a.section.as_str(), a.key.as_str(), a.value.as_str(), a.line))
            .collect();
        assert_eq!(
            a,
            vec![
                ("Unit", "Description", "A    long one", 3),
                ("Service", "MemoryMax", "512M", 7),
                ("Service", "MemoryHigh", "", 9),
                ("Service", "ExecStart", "/bin/echo a\\\\", 11),
                ("Service", "Restart", "always", 12),
            ]
        );
        assert_eq!(f.warnings.len(), 1);
        assert_eq!(f.warnings[0].0, 10);
    }

    #[test]
    fn assignments_outside_sections_warn() {
        let f = parse_unit_file("MemoryMax=1G\n[Service]\nMemoryMax=2G\n");
        assert_eq!(f.assignments.len(), 1);
        assert_eq!(f.warnings[0].0, 1);
    }

    #[test]
    fn exec_program_strips_prefixes() {
        assert_eq!(
            exec_program("-/usr/bin/pg_ctlcluster --skip %i start").as_deref(),
            Some("/usr/bin/pg_ctlcluster")
        );
        assert_eq!(
            exec_program("@/usr/sbin/nginx nginx -g 'daemon on;'").as_deref(),
            Some("/usr/sbin/nginx")
        );
        assert_eq!(split_words("a 'b c' \"d\""), vec!["a", "b c", "d"]);
    }
}
