//! Cgroup paths as `/proc/PID/cgroup` prints them (`/`, `/a`, `/a/b`): pure string functions,
//! the one place that knows how such a path splits. No path here touches a file system.
//!
//! A path is normalized when it starts with `/` and, unless it is `/`, does not end with
//! one ([`normalize`]). The other functions expect normalized paths.

/// `a/b/`, `/a/b`, `//a/b//` → `/a/b`; empty → `/`.
pub fn normalize(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

/// The parent (`/a/b` → `/a`, `/a` → `/`); `None` for `/`.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component (`/a/b` → `b`; `/` → ``).
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The path of child `name` of `dir` (`/` + `a` → `/a`, `/a` + `b` → `/a/b`).
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The ancestors of `path`, nearest first, `/` last (`/a/b/c` → `/a/b`, `/a`, `/`); none for
/// `/`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(parent(path), |p| parent(p))
}

/// True when `path` is `ancestor` or lies below it, at any depth.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor == "/" || path == ancestor || is_below(path, ancestor)
}

/// True when `path` lies strictly below `ancestor`, at any depth (`/ab` is not below `/a`).
pub fn is_below(path: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return path != "/";
    }
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// How many levels `path` lies below `top` (`/a/b/c` below `/a` → 2); 0 when it does not.
pub fn depth_below(path: &str, top: &str) -> usize {
    let comps = |p: &str| p.split('/').filter(|c| !c.is_empty()).count();
    comps(path).saturating_sub(comps(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_trims_and_roots() {
        assert_eq!(normalize("a/b/"), "/a/b");
        assert_eq!(normalize("//a/b//"), "/a/b");
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize(""), "/");
    }

    #[test]
    fn parent_name_join() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(parent(""), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/a"), "a");
        assert_eq!(name("/"), "");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn ancestors_nearest_first() {
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/a").collect::<Vec<_>>(), ["/"]);
        assert_eq!(ancestors("/").count(), 0);
    }

    #[test]
    fn within_and_below_respect_component_boundaries() {
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(is_within("/x", "/"));
        assert!(is_within("/", "/"));
        assert!(!is_within("/ab", "/a"));
        assert!(!is_within("/a", "/a/b"));
        assert!(is_below("/a/b", "/a"));
        assert!(is_below("/a/b/c", "/a"));
        assert!(!is_below("/a", "/a"));
        assert!(!is_below("/ab", "/a"));
        assert!(is_below("/a", "/"));
        assert!(!is_below("/", "/"));
    }

    #[test]
    fn depth_counts_levels() {
        assert_eq!(depth_below("/a/b/c", "/a"), 2);
        assert_eq!(depth_below("/a", "/"), 1);
        assert_eq!(depth_below("/a", "/a/b"), 0);
    }
}
