//! Finding and reading unit files the way the systemd manager does, below a root directory.
//!
//! - **Search path** (`src/basic/path-lookup.c`, `lookup_paths_init()`, as printed by
//!   `systemd-analyze unit-paths` on Debian 12): [`SYSTEM_UNIT_PATH`] and [`user_unit_path`],
//!   each directory taken below the root; directories that do not exist, or that resolve to
//!   one already listed (`/lib` → `/usr/lib` on merged-/usr systems), are dropped, as
//!   `lookup_paths_reduce()` does.
//! - **Fragment** (`unit_file_build_name_map()`, `unit_file_find_fragment()` in
//!   `src/basic/unit-file.c`): the first file of that name in search-path order; a symlink to
//!   `/dev/null` or an empty file masks the unit; a symlink to a file of another name makes
//!   an alias; an instance without a file of its own uses its template's file.
//! - **Drop-ins** (`unit_file_find_dropin_paths()` in `src/shared/dropin.c`): for each name
//!   of the unit (its id, then its aliases) and each search-path directory, `NAME.d/`, then
//!   for an instance the template's `TEMPLATE.d/`, then the dash prefixes `foo-bar-.service.d/`,
//!   `foo-.service.d/`; last the type-wide `service.d/`. Of the `*.conf` files found, a name
//!   seen in an earlier directory hides later files of the same name (so `/etc` overrides
//!   `/usr/lib`), and the rest apply sorted by file name, wherever they live.
//!
//! Symlinks are resolved inside the root, as `chase()` with `CHASE_PREFIX_ROOT` does, so an
//! offline tree with absolute links (`/etc/systemd/system/x.service -> /lib/systemd/system/y.service`)
//! reads as it would on its own machine.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::AuditError;
use crate::unit::{parse_unit_file, UnitFile, UnitName};

/// The system manager's unit search path, highest priority first (systemd 252 on Debian).
pub const SYSTEM_UNIT_PATH: [&str; 13] = [
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// A user manager's unit search path for a home directory, highest priority first
/// (`$XDG_RUNTIME_DIR` directories left out: they exist only while the user is logged in).
pub fn user_unit_path(home: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(h) = home {
        v.push(h.join(".config/systemd/user.control"));
        v.push(h.join(".config/systemd/user"));
    }
    v.push(PathBuf::from("/etc/xdg/systemd/user"));
    v.push(PathBuf::from("/etc/systemd/user"));
    v.push(PathBuf::from("/run/systemd/user"));
    if let Some(h) = home {
        v.push(h.join(".local/share/systemd/user"));
    }
    for d in [
        "/usr/local/share/systemd/user",
        "/usr/share/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    ] {
        v.push(PathBuf::from(d));
    }
    v
}

/// Which manager's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The system manager (PID 1).
    System,
    /// A user manager (`systemd --user`).
    User,
}

/// One file that contributed to a unit, with its assignments.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file on this machine (the root joined with its path).
    pub path: PathBuf,
    /// Its parsed content.
    pub file: UnitFile,
}

/// A unit as the manager would load it: the fragment, then the drop-ins in applying order.
#[derive(Debug, Clone)]
pub struct LoadedUnit {
    /// The name asked for.
    pub requested: UnitName,
    /// The unit's id: the name the fragment carries (differs from `requested` for an alias).
    pub id: UnitName,
    /// Other names of the unit (alias symlinks), for drop-in lookup.
    pub aliases: Vec<String>,
    /// System or user manager.
    pub scope: Scope,
    /// The fragment (unit file) or `None` for a unit without one (an implicit slice).
    pub fragment: Option<SourceFile>,
    /// Masked: the fragment is a symlink to `/dev/null` or empty.
    pub masked: bool,
    /// Drop-ins in the order they apply.
    pub dropins: Vec<SourceFile>,
}

impl LoadedUnit {
    /// All files in applying order (fragment first).
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.fragment.iter().chain(self.dropins.iter())
    }
}

/// What a name resolves to in the search path.
#[derive(Debug, Clone)]
struct MapEntry {
    /// The unit file on this machine (after symlinks), `None` when masked.
    host: Option<PathBuf>,
    /// The name the file carries, when it differs (an alias).
    alias_of: Option<String>,
}

/// Loads units below a root.
#[derive(Debug)]
pub struct Loader {
    root: PathBuf,
    scope: Scope,
    /// Search-path directories as the target system sees them (`/etc/systemd/system`).
    dirs: Vec<PathBuf>,
    map: BTreeMap<String, MapEntry>,
}

impl Loader {
    /// A loader for the system manager's units below `root`.
    pub fn system(root: &Path) -> Loader {
        Self::with_search_path(
            root,
            Scope::System,
            SYSTEM_UNIT_PATH.iter().map(PathBuf::from).collect(),
        )
    }

    /// A loader for a user manager's units below `root`, with the user's home directory
    /// as seen on the target system.
    pub fn user(root: &Path, home: Option<&Path>) -> Loader {
        Self::with_search_path(root, Scope::User, user_unit_path(home))
    }

    /// A loader with an explicit search path (directories as the target system sees them).
    pub fn with_search_path(root: &Path, scope: Scope, search: Vec<PathBuf>) -> Loader {
        let mut dirs = Vec::new();
        let mut seen = HashSet::new();
        for d in search {
            let Ok(real) = chase(root, &d) else { continue };
            let host = host_path(root, &real);
            if !host.is_dir() || !seen.insert(real) {
                continue;
            }
            dirs.push(d);
        }
        let mut loader = Loader {
            root: root.to_path_buf(),
            scope,
            dirs,
            map: BTreeMap::new(),
        };
        loader.build_map();
        loader
    }

    /// The search-path directories that exist, highest priority first.
    pub fn search_path(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// System or user.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The host path of a path on the target system.
    pub fn host(&self, p: &Path) -> PathBuf {
        host_path(&self.root, p)
    }

    /// The first directory of the search path meant for local configuration
    /// (`/etc/systemd/system` or `~/.config/systemd/user`), as the target sees it.
    pub fn config_dir(&self, home: Option<&Path>) -> PathBuf {
        match self.scope {
            Scope::System => PathBuf::from("/etc/systemd/system"),
            Scope::User => home
                .map(|h| h.join(".config/systemd/user"))
                .unwrap_or_else(|| PathBuf::from("/etc/systemd/user")),
        }
    }

    fn build_map(&mut self) {
        for dir in self.dirs.clone() {
            let host_dir = self.host(&dir);
            let Ok(rd) = fs::read_dir(&host_dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            for name in names {
                if self.map.contains_key(&name) || UnitName::parse(&name).is_err() {
                    continue;
                }
                let in_target = dir.join(&name);
                let host = self.host(&in_target);
                let Ok(meta) = fs::symlink_metadata(&host) else {
                    continue;
                };
                if meta.is_dir() {
                    continue;
                }
                let entry = if meta.file_type().is_symlink() {
                    match chase(&self.root, &in_target) {
                        Ok(t) if t == Path::new("/dev/null") => MapEntry {
                            host: None,
                            alias_of: None,
                        },
                        Ok(t) => {
                            let target_name = t
                                .file_name()
                                .and_then(|n| n.to_str())
                                .unwrap_or_default()
                                .to_string();
                            let th = self.host(&t);
                            if th.is_dir() {
                                continue;
                            }
                            let alias_of = (target_name != name
                                && UnitName::parse(&target_name).is_ok())
                            .then_some(target_name);
                            MapEntry {
                                host: Some(th),
                                alias_of,
                            }
                        }
                        Err(_) => continue, // dangling link: systemd ignores it
                    }
                } else if meta.len() == 0 {
                    MapEntry {
                        host: None,
                        alias_of: None,
                    }
                } else {
                    MapEntry {
                        host: Some(host),
                        alias_of: None,
                    }
                };
                self.map.insert(name, entry);
            }
        }
    }

    /// Names of all unit files in the search path (templates included, aliases left out),
    /// sorted.
    pub fn unit_names(&self) -> Vec<String> {
        self.map
            .iter()
            .filter(|(_, e)| e.alias_of.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether a unit file (or mask) of this name exists.
    pub fn exists(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Loads a unit: fragment, mask state and drop-ins, each file parsed.
    pub fn load(&self, name: &str) -> Result<LoadedUnit, AuditError> {
        let requested = UnitName::parse(name).map_err(|problem| AuditError::UnitName {
            name: name.to_string(),
            problem,
        })?;
        let mut id = requested.clone();
        let mut aliases: Vec<String> = Vec::new();
        // Resolve the fragment: the name itself (following an alias), else the template.
        let mut entry = self.map.get(name).cloned();
        if let Some(MapEntry {
            alias_of: Some(target),
            ..
        }) = &entry
        {
            if let Ok(t) = UnitName::parse(target) {
                aliases.push(name.to_string());
                id = t;
            }
        }
        if entry.is_none() {
            if let Some(tpl) = requested.template() {
                entry = self.map.get(&tpl).cloned();
                if let Some(MapEntry {
                    alias_of: Some(target),
                    ..
                }) = &entry
                {
                    // An aliased template: the instance takes the target template's name.
                    if let Ok(t) = UnitName::parse(target) {
                        let inst = requested.instance.clone().unwrap_or_default();
                        if let Ok(n) = UnitName::parse(&format!("{}@{}.{}", t.prefix, inst, t.kind))
                        {
                            aliases.push(name.to_string());
                            id = n;
                        }
                    }
                }
            }
        }
        // Other names pointing at the same unit (alias symlinks) also get drop-ins.
        for (n, e) in &self.map {
            if e.alias_of.as_deref() == Some(id.full.as_str()) && !aliases.contains(n) {
                aliases.push(n.clone());
            }
        }
        let (fragment, masked) = match entry {
            Some(MapEntry { host: None, .. }) => (None, true),
            Some(MapEntry { host: Some(h), .. }) => (Some(self.read(&h)?), false),
            None if requested.kind == "slice" => (None, false),
            None => {
                return Err(AuditError::UnitNotFound {
                    name: name.to_string(),
                    search_path: self.dirs.iter().map(|d| self.host(d)).collect(),
                })
            }
        };
        let mut dropins = Vec::new();
        if !masked {
            for d in self.dropin_paths(&id, &aliases) {
                dropins.push(match d.read_from {
                    Some(real) => SourceFile {
                        path: d.path,
                        file: self.read(&real)?.file,
                    },
                    None => SourceFile {
                        path: d.path,
                        file: UnitFile::default(),
                    },
                });
            }
        }
        Ok(LoadedUnit {
            requested,
            id,
            aliases,
            scope: self.scope,
            fragment,
            masked,
            dropins,
        })
    }

    fn read(&self, host: &Path) -> Result<SourceFile, AuditError> {
        let bytes = fs::read(host).map_err(|source| AuditError::Io {
            path: host.to_path_buf(),
            source,
        })?;
        Ok(SourceFile {
            path: host.to_path_buf(),
            file: parse_unit_file(&String::from_utf8_lossy(&bytes)),
        })
    }

    /// The drop-ins of a unit, in applying order.
    pub fn dropin_paths(&self, id: &UnitName, aliases: &[String]) -> Vec<DropIn> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut names = vec![id.full.clone()];
        names.extend(aliases.iter().cloned());
        for n in &names {
            for p in &self.dirs {
                find_dirs(p, n, &mut dirs);
            }
        }
        for p in &self.dirs {
            push_unique(&mut dirs, p.join(format!("{}.d", id.kind)));
        }
        // conf_files_list_strv(): first directory wins per file name; then sort by name.
        let mut by_name: BTreeMap<String, DropIn> = BTreeMap::new();
        for d in &dirs {
            let host_dir = self.host(d);
            let Ok(rd) = fs::read_dir(&host_dir) else {
                continue;
            };
            for e in rd.filter_map(|e| e.ok()) {
                let Ok(fname) = e.file_name().into_string() else {
                    continue;
                };
                if !fname.ends_with(".conf") || by_name.contains_key(&fname) {
                    continue;
                }
                let in_target = d.join(&fname);
                let path = self.host(&in_target);
                match chase(&self.root, &in_target) {
                    Ok(t) if t == Path::new("/dev/null") => {
                        by_name.insert(
                            fname,
                            DropIn {
                                path,
                                read_from: None,
                            },
                        );
                    }
                    Ok(t) => {
                        let h = self.host(&t);
                        if h.is_file() {
                            let masked = h.metadata().map(|m| m.len() == 0).unwrap_or(false);
                            by_name.insert(
                                fname,
                                DropIn {
                                    path,
                                    read_from: (!masked).then_some(h),
                                },
                            );
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        by_name.into_values().collect()
    }
}

/// One drop-in of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropIn {
    /// The file in its `.d` directory, on this machine.
    pub path: PathBuf,
    /// The file to read (after symlinks); `None` when masked (`/dev/null` or empty): it
    /// contributes nothing but still hides same-named drop-ins of lower priority.
    pub read_from: Option<PathBuf>,
}

fn push_unique(v: &mut Vec<PathBuf>, p: PathBuf) {
    if !v.contains(&p) {
        v.push(p);
    }
}

/// `unit_file_find_dirs()`: NAME.d, the template's, then the dash prefixes'.
fn find_dirs(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    push_unique(out, dir.join(format!("{name}.d")));
    let Ok(n) = UnitName::parse(name) else {
        return;
    };
    if let Some(t) = n.template() {
        find_dirs(dir, &t, out);
    }
    // Dash prefixes: "foo-bar-baz.service" → "foo-bar-.service" → "foo-.service".
    let mut prefix = n.prefix.clone();
    let mut chopped = false;
    loop {
        let Some(dash) = prefix.rfind('-') else {
            return;
        };
        if dash == 0 {
            return;
        }
        if dash + 1 < prefix.len() || chopped {
            prefix.truncate(dash + 1);
            break;
        }
        prefix.truncate(dash);
        chopped = true;
    }
    find_dirs(dir, &format!("{prefix}.{}", n.kind), out);
}

/// The host path of a path inside `root`.
pub fn host_path(root: &Path, p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Resolves every symlink of `path` inside `root` (absolute targets start again at the
/// root, `..` stops at the root) and returns the resolved path as the target system sees
/// it. A link to `/dev/null` resolves to `/dev/null` even when the tree has no such file.
pub fn chase(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut todo: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut done = PathBuf::from("/");
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        let next = done.join(&c);
        if next == Path::new("/dev/null") {
            done = next;
            continue;
        }
        let host = host_path(root, &next);
        let meta = match fs::symlink_metadata(&host) {
            // An offline tree need not have /dev for a link to /dev/null.
            Err(_) if next == Path::new("/dev") => {
                done = next;
                continue;
            }
            m => m?,
        };
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 32 {
                return Err(io::Error::other("too many levels of symbolic links"));
            }
            let target = fs::read_link(&host)?;
            for comp in target.components().rev() {
                match comp {
                    Component::Normal(s) => todo.push(s.to_os_string()),
                    Component::ParentDir => todo.push("..".into()),
                    _ => {}
                }
            }
            if target.is_absolute() {
                done = PathBuf::from("/");
            }
        } else {
            done = next;
        }
    }
    Ok(done)
}

/// The `[Manager]` defaults that rules need, from `system.conf` and its drop-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerDefaults {
    /// `DefaultStartLimitIntervalSec=`, 10 s unless configured.
    pub start_limit_interval_usec: u64,
    /// `DefaultStartLimitBurst=`, 5 unless configured.
    pub start_limit_burst: u32,
}

impl Default for ManagerDefaults {
    fn default() -> Self {
        ManagerDefaults {
            start_limit_interval_usec: 10_000_000,
            start_limit_burst: 5,
        }
    }
}

impl ManagerDefaults {
    /// Reads `/etc/systemd/system.conf` (or `user.conf`) and its `.d` drop-ins below
    /// `root`; missing files leave the compiled-in defaults.
    pub fn read(root: &Path, scope: Scope) -> ManagerDefaults {
        let base = match scope {
            Scope::System => "system.conf",
            Scope::User => "user.conf",
        };
        let mut d = ManagerDefaults::default();
        let mut files = vec![host_path(root, &Path::new("/etc/systemd").join(base))];
        let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in ["/etc/systemd", "/run/systemd", "/usr/lib/systemd"] {
            let hd = host_path(root, &Path::new(dir).join(format!("{base}.d")));
            if let Ok(rd) = fs::read_dir(hd) {
                for e in rd.filter_map(|e| e.ok()) {
                    if let Ok(n) = e.file_name().into_string() {
                        if n.ends_with(".conf") {
                            dropins.entry(n).or_insert(e.path());
                        }
                    }
                }
            }
        }
        files.extend(dropins.into_values());
        for f in files {
            let Ok(text) = fs::read_to_string(&f) else {
                continue;
            };
            for a in parse_unit_file(&text).assignments {
                if a.section != "Manager" {
                    continue;
                }
                match a.key.as_str() {
                    "DefaultStartLimitIntervalSec" | "DefaultStartLimitInterval" => {
                        if let Ok(crate::size::Span::Usec(u)) =
                            crate::size::parse_timespan(&a.value)
                        {
                            d.start_limit_interval_usec = u;
                        }
                    }
                    "DefaultStartLimitBurst" => {
                        if let Ok(b) = a.value.parse() {
                            d.start_limit_burst = b;
                        }
                    }
                    _ => {}
                }
            }
        }
        d
    }
}

/// Physical memory from `<root>/proc/meminfo` (`MemTotal:`), `None` when absent.
pub fn read_mem_total(root: &Path) -> Option<u64> {
    let text = fs::read_to_string(host_path(root, Path::new("/proc/meminfo"))).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oomlens_testkit::faketree::FakeTree;

    #[test]
    fn chase_stays_inside_the_root() {
        let t = FakeTree::new("audit-loader-chase");
        let r = t.root();
        t.file("/usr/lib/systemd/system/a.service", "[Service]\n");
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        t.dir("/etc/systemd/system");
        std::os::unix::fs::symlink(
            "/lib/systemd/system/a.service",
            r.join("etc/systemd/system/b.service"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/null", r.join("etc/systemd/system/c.service")).unwrap();
        assert_eq!(
            chase(r, Path::new("/etc/systemd/system/b.service")).unwrap(),
            PathBuf::from("/usr/lib/systemd/system/a.service")
        );
        assert_eq!(
            chase(r, Path::new("/etc/systemd/system/c.service")).unwrap(),
            PathBuf::from("/dev/null")
        );
        assert_eq!(
            chase(r, Path::new("/../../lib/systemd")).unwrap(),
            PathBuf::from("/usr/lib/systemd")
        );
        // /lib and /usr/lib are one directory: the search path keeps the first.
        let l = Loader::system(r);
        assert_eq!(
            l.search_path(),
            &[
                PathBuf::from("/etc/systemd/system"),
                PathBuf::from("/lib/systemd/system")
            ]
        );
        let b = l.load("b.service").unwrap();
        assert_eq!(b.id.full, "a.service");
        assert_eq!(b.aliases, vec!["b.service".to_string()]);
        assert!(l.load("c.service").unwrap().masked);
        // Loading the target by its own name finds the alias too.
        assert_eq!(l.load("a.service").unwrap().aliases, vec!["b.service"]);
    }

    #[test]
    fn dropin_dirs_follow_unit_file_find_dirs() {
        let mut v = Vec::new();
        find_dirs(Path::new("/d"), "foo-bar@x-y.service", &mut v);
        let got: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            got,
            vec![
                "/d/foo-bar@x-y.service.d",
                "/d/foo-bar@.service.d",
                "/d/foo-.service.d",
            ]
        );
        let mut v = Vec::new();
        find_dirs(Path::new("/d"), "a-b-c.slice", &mut v);
        let got: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            got,
            vec!["/d/a-b-c.slice.d", "/d/a-b-.slice.d", "/d/a-.slice.d"]
        );
        // A leading dash stops the walk.
        let mut v = Vec::new();
        find_dirs(Path::new("/d"), "-foo.service", &mut v);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn missing_units_name_the_search_path() {
        let t = FakeTree::new("audit-loader-missing");
        let r = t.root();
        t.file("/etc/systemd/system/x.service", "[Service]\n");
        let l = Loader::system(r);
        let e = l.load("nope.service").unwrap_err().to_string();
        assert!(
            e.contains("nope.service") && e.contains("etc/systemd/system"),
            "{e}"
        );
        // Slices exist implicitly.
        assert!(l.load("system-foo.slice").unwrap().fragment.is_none());
    }

    #[test]
    fn manager_defaults_read_system_conf() {
        let t = FakeTree::new("audit-loader-defaults");
        let r = t.root();
        t.file(
            "/etc/systemd/system.conf",
            "[Manager]\nDefaultStartLimitIntervalSec=1min\n",
        );
        t.file(
            "/etc/systemd/system.conf.d/x.conf",
            "[Manager]\nDefaultStartLimitBurst=3\n",
        );
        let d = ManagerDefaults::read(r, Scope::System);
        assert_eq!(d.start_limit_interval_usec, 60_000_000);
        assert_eq!(d.start_limit_burst, 3);
        t.file(
            "/proc/meminfo",
            "MemTotal:       16384000 kB\nMemFree: 1 kB\n",
        );
        assert_eq!(read_mem_total(r), Some(16_384_000 * 1024));
    }
}
