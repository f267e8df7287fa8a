//! The workspace's shape, checked on its source: the limits issue 13 set so that the daemon
//! half can stand on libraries instead of a binary crate.
//!
//! - the binary crate is wiring only: at most 1,500 lines outside tests;
//! - no source file over 1,000 lines outside its tests, no function over 150 lines;
//! - crate dependencies point one way (sources → model → analysis → sinks);
//! - no import cycle between the files of one crate.
//!
//! The sources are parsed with syn (spans with line numbers), so braces in strings, chars and
//! comments cannot confuse the counts. Test code (`#[cfg(test)]` items, `tests/`, `benches/`)
//! does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

const BINARY_CRATE_MAX_LINES: usize = 1_500;
const FILE_MAX_LINES: usize = 1_000;
const FN_MAX_LINES: usize = 150;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/oomlens has a workspace two levels up")
        .to_path_buf()
}

/// Every crate directory under `crates/`.
fn crates() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/ lists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    v.sort();
    v
}

/// Every `.rs` file under a crate's `src/`.
fn sources(krate: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&krate.join("src"), &mut v);
    v.sort();
    v
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn lines_of(span: proc_macro2::Span) -> (usize, usize) {
    (span.start().line, span.end().line)
}

/// What one file holds, outside its test items.
#[derive(Default)]
struct FileFacts {
    /// Lines of the file minus the lines of `#[cfg(test)]` items.
    lines: usize,
    /// Functions (name, first line, length) outside test items.
    fns: Vec<(String, usize, usize)>,
    /// Module paths this file names through `crate::…`, `super::…` or `self::…`.
    refs: BTreeSet<Vec<String>>,
}

struct Scan<'a> {
    facts: &'a mut FileFacts,
    /// The file's own module path, for resolving `super` and `self`.
    module: Vec<String>,
    /// Modules this file declares (`mod x;`): a path may start with one (`use x::Y`).
    local_mods: BTreeSet<String>,
    test_lines: usize,
}

impl Scan<'_> {
    fn note_path(&mut self, segs: &[String]) {
        let mut path: Vec<String> = Vec::new();
        let mut rest = segs;
        match rest.first().map(String::as_str) {
            Some("crate") => rest = &rest[1..],
            Some("self") => {
                path = self.module.clone();
                rest = &rest[1..];
            }
            Some("super") => {
                path = self.module.clone();
                while rest.first().map(String::as_str) == Some("super") {
                    path.pop();
                    rest = &rest[1..];
                }
            }
            Some(m) if self.local_mods.contains(m) => path = self.module.clone(),
            _ => return,
        }
        path.extend(rest.iter().cloned());
        self.facts.refs.insert(path);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.note_path(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.note_path(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.note_path(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn function(&mut self, name: String, span: proc_macro2::Span) {
        let (a, b) = lines_of(span);
        self.facts.fns.push((name, a, b - a + 1));
    }
}

impl<'ast> Visit<'ast> for Scan<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(m) => &m.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            let (a, b) = lines_of(i.span());
            self.test_lines += b - a + 1;
            return;
        }
        syn::visit::visit_item(self, i);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(f.sig.ident.to_string(), f.span());
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if is_cfg_test(&f.attrs) {
            return;
        }
        self.function(f.sig.ident.to_string(), f.span());
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.function(f.sig.ident.to_string(), f.span());
        }
        syn::visit::visit_trait_item_fn(self, f);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.note_path(&segs);
        syn::visit::visit_path(self, p);
    }
}

/// The module path of a source file: `src/lib.rs` → [], `src/a/b.rs` and `src/a/b/mod.rs`
/// → [a, b]. Files under `src/bin/` are crates of their own: their path starts with `bin`.
fn module_of(krate: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(krate.join("src")).expect("under src");
    let mut v: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(v.last().map(String::as_str), Some("lib" | "main" | "mod"))
        && !(v.len() == 2 && v[0] == "bin")
    {
        v.pop();
    }
    v
}

fn scan(krate: &Path, file: &Path) -> FileFacts {
    let text = std::fs::read_to_string(file).expect("source reads");
    let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut facts = FileFacts::default();
    let mut s = Scan {
        facts: &mut facts,
        module: module_of(krate, file),
        local_mods: ast
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Mod(m) if !is_cfg_test(&m.attrs) => Some(m.ident.to_string()),
                _ => None,
            })
            .collect(),
        test_lines: 0,
    };
    s.visit_file(&ast);
    let test_lines = s.test_lines;
    facts.lines = text.lines().count() - test_lines;
    facts
}

fn rel(p: &Path) -> String {
    p.strip_prefix(workspace())
        .unwrap_or(p)
        .display()
        .to_string()
}

struct Workspace {
    /// crate dir → its files' facts.
    files: BTreeMap<PathBuf, Vec<(PathBuf, FileFacts)>>,
}

fn read_workspace() -> Workspace {
    let mut files = BTreeMap::new();
    for k in crates() {
        let v = sources(&k)
            .into_iter()
            .map(|f| {
                let facts = scan(&k, &f);
                (f, facts)
            })
            .collect();
        files.insert(k, v);
    }
    Workspace { files }
}

#[test]
fn the_binary_crate_is_wiring_only() {
    let ws = read_workspace();
    let bin = workspace().join("crates/oomlens");
    let total: usize = ws.files[&bin].iter().map(|(_, f)| f.lines).sum();
    let per_file: Vec<String> = ws.files[&bin]
        .iter()
        .map(|(p, f)| format!("{} {}", rel(p), f.lines))
        .collect();
    assert!(
        total <= BINARY_CRATE_MAX_LINES,
        "crates/oomlens has {total} lines outside tests (limit {BINARY_CRATE_MAX_LINES}):\n{}",
        per_file.join("\n")
    );
}

#[test]
fn no_file_or_function_is_too_long() {
    let ws = read_workspace();
    let mut long = Vec::new();
    for (p, f) in ws.files.values().flatten() {
        if f.lines > FILE_MAX_LINES {
            long.push(format!("{}: {} lines outside tests", rel(p), f.lines));
        }
        for (name, line, n) in &f.fns {
            if *n > FN_MAX_LINES {
                long.push(format!("{}:{line}: fn {name} has {n} lines", rel(p)));
            }
        }
    }
    assert!(
        long.is_empty(),
        "over the limits ({FILE_MAX_LINES} lines a file, {FN_MAX_LINES} a function):\n{}",
        long.join("\n")
    );
}

/// The workspace crates a crate's `[dependencies]` names (not dev- or build-dependencies).
fn workspace_deps(krate: &Path) -> BTreeSet<String> {
    let toml = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml reads");
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in toml.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps && t.starts_with("oomlens") {
            let name = t.split(['=', ' ', '.']).next().unwrap_or("");
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn dependencies_point_one_way() {
    // crate → the workspace crates it may never depend on (None: any workspace crate).
    let rules: &[(&str, Option<&[&str]>)] = &[
        ("oomlens-model", None),
        (
            "oomlens-parse",
            Some(&["oomlens-sources", "oomlens-analysis", "oomlens-sinks"]),
        ),
        (
            "oomlens-analysis",
            Some(&["oomlens-sources", "oomlens-sinks"]),
        ),
        ("oomlens-sinks", Some(&["oomlens-sources"])),
        // A sink with heavy dependencies (plotters): model, analysis and the sinks'
        // escaping in, documents out; it never reads a log, /proc or the store itself.
        (
            "oomlens-report",
            Some(&[
                "oomlens-sources",
                "oomlens-parse",
                "oomlens-store",
                "oomlens-live",
                "oomlens-guard",
            ]),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, banned) in rules {
        let dir = workspace().join("crates").join(name);
        let deps = workspace_deps(&dir);
        for d in &deps {
            let bad = match banned {
                None => true,
                Some(b) => b.contains(&d.as_str()),
            };
            // parse may import the model and nothing else of ours.
            let parse_extra = *name == "oomlens-parse" && d != "oomlens-model";
            if bad || parse_extra {
                wrong.push(format!("{name} depends on {d}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The reader of Cargo.toml must see real dependencies, or the test above proves nothing.
    let sinks = workspace_deps(&workspace().join("crates/oomlens-sinks"));
    assert!(sinks.contains("oomlens-model"), "{sinks:?}");
    let report = workspace_deps(&workspace().join("crates/oomlens-report"));
    assert!(report.contains("oomlens-analysis"), "{report:?}");
}

/// The file that holds module `path` (or the nearest module above it that is a file).
fn owner_file(modules: &BTreeMap<Vec<String>, usize>, path: &[String]) -> Option<usize> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).copied())
}

#[test]
fn no_import_cycle_between_files_of_a_crate() {
    let ws = read_workspace();
    let mut cycles = Vec::new();
    for (k, files) in &ws.files {
        let modules: BTreeMap<Vec<String>, usize> = files
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (module_of(k, p), i))
            .collect();
        // Edges between files where neither is the other's ancestor module: a parent naming
        // its child (or the child its parent's items through `super`) is how Rust nests, not
        // an import circle.
        let n = files.len();
        let mut edges = vec![BTreeSet::new(); n];
        for (i, (p, f)) in files.iter().enumerate() {
            let me = module_of(k, p);
            if me.first().map(String::as_str) == Some("bin") {
                continue;
            }
            for r in &f.refs {
                let Some(j) = owner_file(&modules, r) else {
                    continue;
                };
                let them = module_of(k, &files[j].0);
                if i != j && !me.starts_with(&them) && !them.starts_with(&me) {
                    edges[i].insert(j);
                }
            }
        }
        for scc in strongly_connected(&edges) {
            if scc.len() > 1 {
                let names: Vec<String> = scc.iter().map(|&i| rel(&files[i].0)).collect();
                cycles.push(names.join(" ↔ "));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.edges[v].iter() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                c.push(w);
                if w == v {
                    break;
                }
            }
            t.out.push(c);
        }
    }
    let n = edges.len();
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_scanner_sees_what_it_checks() {
    // The counts above are only as good as the scan: a known function, a known test module
    // and a known cross-file import must be seen, or every limit passes vacuously.
    let k = workspace().join("crates/oomlens-model");
    let f = scan(&k, &k.join("src/fields.rs"));
    let metric = f
        .fns
        .iter()
        .find(|(n, _, _)| n == "metric_name")
        .expect("Field::metric_name is seen");
    assert!(metric.2 > 5 && metric.2 < 40, "{metric:?}");
    let total = std::fs::read_to_string(k.join("src/fields.rs"))
        .unwrap()
        .lines()
        .count();
    assert!(
        f.lines + 50 < total,
        "the test module is not counted: {} of {total}",
        f.lines
    );
    let lib = scan(
        &workspace().join("crates/oomlens"),
        &workspace().join("crates/oomlens/src/main.rs"),
    );
    assert!(
        lib.refs
            .iter()
            .any(|r| r.first().map(String::as_str) == Some("exit")),
        "main.rs names crate::exit: {:?}",
        lib.refs
    );
    let sccs = strongly_connected(&[BTreeSet::from([1]), BTreeSet::from([0]), BTreeSet::new()]);
    assert!(sccs.iter().any(|c| c.len() == 2), "{sccs:?}");
}

#[test]
fn the_readme_layout_names_every_crate() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README reads");
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Layout section");
    let listed: BTreeSet<String> = layout
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let present: BTreeSet<String> = crates()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, present, "README Layout vs crates/");
}
