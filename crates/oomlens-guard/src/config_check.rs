//! The checks of a configuration that serde cannot make: value ranges, globs, absolute
//! paths, names, durations, duplicates and rules that contradict each other. Each problem
//! names the value's position; all problems of a file are reported together.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::args::parse_duration;
use crate::config_schema::{
    line_of, nearest, problem_at, Config, GuardSettings, Hook, HookOn, PreemptEntry, Problem,
    ProtectRule, RawConfig, RawHook, RawProtect, HOOK_TIMEOUT_DEFAULT, HOOK_TIMEOUT_MAX,
};

/// The kernel keeps a comm in TASK_COMM_LEN = 16 bytes with its NUL (include/linux/sched.h):
/// a longer pattern without wildcards can never match.
const COMM_MAX: usize = 15;

/// Most hooks at once that `max-concurrent-hooks` may ask for.
const MAX_CONCURRENT_HOOKS_MAX: i64 = 64;

/// systemd unit types a `unit` matcher may end with (systemd.unit(5)); slices hold no
/// processes of their own and are matched by `cgroup`.
const UNIT_SUFFIXES: [&str; 2] = [".service", ".scope"];

struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at(&mut self, span: &Range<usize>, message: String) {
        self.problems
            .push(problem_at(self.text, span.start, message));
    }

    fn glob(&mut self, what: &str, v: &Spanned<String>) -> Option<glob::Pattern> {
        match glob::Pattern::new(v.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                self.at(
                    &v.span(),
                    format!("{what} `{}` is not a valid glob: {}", v.get_ref(), e.msg),
                );
                None
            }
        }
    }

    fn duration(&mut self, what: &str, v: &Spanned<String>) -> Option<Duration> {
        match parse_duration(v.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.at(&v.span(), format!("{what}: {e}"));
                None
            }
        }
    }

    /// A name that is set, printable, and not taken by an earlier table of the same kind.
    fn name(&mut self, kind: &str, v: &Spanned<String>, seen: &mut HashMap<String, usize>) {
        let n = v.get_ref();
        if n.is_empty() || n.chars().any(char::is_control) {
            self.at(
                &v.span(),
                format!("a {kind} name must be non-empty text without control characters"),
            );
        } else if let Some(first) = seen.get(n) {
            self.at(
                &v.span(),
                format!("duplicate {kind} name `{n}` (first used on line {first})"),
            );
        } else {
            seen.insert(n.clone(), line_of(self.text, &v.span()));
        }
    }
}

/// Check `raw`, parsed from `text`; every problem found, or the configuration.
pub(crate) fn check(text: &str, raw: RawConfig) -> Result<Config, Vec<Problem>> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let mut guard = GuardSettings::default();
    if let Some(g) = raw.guard {
        if let Some(n) = g.max_concurrent_hooks {
            if (1..=MAX_CONCURRENT_HOOKS_MAX).contains(n.get_ref()) {
                guard.max_concurrent_hooks = *n.get_ref() as usize;
            } else {
                c.at(
                    &n.span(),
                    format!(
                        "max-concurrent-hooks {} is out of range 1..={MAX_CONCURRENT_HOOKS_MAX}",
                        n.get_ref()
                    ),
                );
            }
        }
        if let Some(r) = g.rescan {
            match c.duration("rescan", &r) {
                Some(d) if d < Duration::from_secs(10) => c.at(
                    &r.span(),
                    "rescan must be at least 10s (a full /proc pass costs CPU)".into(),
                ),
                Some(d) => guard.rescan = d,
                None => {}
            }
        }
    }
    let mut names = HashMap::new();
    let mut protect = Vec::new();
    let mut matchers: HashMap<[Option<String>; 4], (String, usize)> = HashMap::new();
    for t in &raw.protect {
        if let Some(rule) = protect_rule(&mut c, t, &mut names, &mut matchers) {
            protect.push(rule);
        }
    }
    let mut preempt = Vec::new();
    let mut names = HashMap::new();
    for t in raw.preempt {
        let span = t.span();
        let policy = t.into_inner();
        let name = policy.display_name();
        if let Some(first) = names.get(name) {
            c.at(
                &span,
                format!("duplicate preempt name `{name}` (first used on line {first})"),
            );
        } else {
            names.insert(name.to_owned(), line_of(text, &span));
        }
        match policy.check() {
            Ok(()) => preempt.push(PreemptEntry {
                line: line_of(text, &span),
                policy,
            }),
            Err(e) => c.at(&span, format!("preempt `{name}`: {e}")),
        }
    }
    let mut names = HashMap::new();
    let mut hooks = Vec::new();
    for t in &raw.hook {
        if let Some(h) = hook(&mut c, t, &mut names) {
            hooks.push(h);
        }
    }
    if !c.problems.is_empty() {
        c.problems.sort_by_key(|p| (p.line, p.column));
        return Err(c.problems);
    }
    Ok(Config {
        path: Default::default(),
        guard,
        protect,
        preempt,
        hooks,
    })
}

fn protect_rule(
    c: &mut Checker,
    t: &Spanned<RawProtect>,
    names: &mut HashMap<String, usize>,
    matchers: &mut HashMap<[Option<String>; 4], (String, usize)>,
) -> Option<ProtectRule> {
    let r = t.get_ref();
    let before = c.problems.len();
    c.name("protect", &r.name, names);
    let adj = *r.adj.get_ref();
    if !(-1000..=1000).contains(&adj) {
        c.at(
            &r.adj.span(),
            format!("adj {adj} is out of range: oom_score_adj is -1000..=1000"),
        );
    }
    let unit = r.unit.as_ref().and_then(|u| {
        let s = u.get_ref();
        if !UNIT_SUFFIXES.iter().any(|x| s.ends_with(x)) && !s.ends_with('*') {
            c.at(
                &u.span(),
                format!("unit `{s}` names no unit type: end it with .service or .scope"),
            );
            return None;
        }
        c.glob("unit", u)
    });
    let cgroup = r.cgroup.as_ref().and_then(|g| {
        if !g.get_ref().starts_with('/') {
            c.at(
                &g.span(),
                format!(
                    "cgroup `{}` must start with `/` (a path as in /proc/PID/cgroup)",
                    g.get_ref()
                ),
            );
            return None;
        }
        c.glob("cgroup", g)
    });
    let comm = r.comm.as_ref().and_then(|m| {
        let s = m.get_ref();
        if s.len() > COMM_MAX && !s.contains(['*', '?', '[']) {
            c.at(
                &m.span(),
                format!(
                    "comm `{s}` is {} bytes: the kernel keeps at most {COMM_MAX}, so it never matches",
                    s.len()
                ),
            );
            return None;
        }
        c.glob("comm", m)
    });
    let exe = r.exe.as_ref().and_then(|e| {
        if !e.get_ref().starts_with('/') {
            c.at(
                &e.span(),
                format!("exe `{}` must be an absolute path", e.get_ref()),
            );
            return None;
        }
        c.glob("exe", e)
    });
    let key =
        [&r.unit, &r.cgroup, &r.comm, &r.exe].map(|m| m.as_ref().map(|s| s.get_ref().clone()));
    if key.iter().all(Option::is_none) {
        c.at(
            &r.name.span(),
            format!(
                "protect rule `{}` has no matcher: set at least one of unit, cgroup, comm, exe",
                r.name.get_ref()
            ),
        );
    } else if let Some((other, line)) = matchers.get(&key) {
        c.at(
            &r.name.span(),
            format!(
                "conflicting matchers: protect rule `{}` matches exactly what `{other}` (line {line}) matches, and the first rule wins",
                r.name.get_ref()
            ),
        );
    } else {
        matchers.insert(
            key,
            (r.name.get_ref().clone(), line_of(c.text, &r.name.span())),
        );
    }
    (c.problems.len() == before).then(|| ProtectRule {
        name: r.name.get_ref().clone(),
        line: line_of(c.text, &t.span()),
        unit,
        cgroup,
        comm,
        exe,
        adj: adj as i16,
        preemptible: r.preemptible.unwrap_or(adj >= 0),
    })
}

fn hook(c: &mut Checker, t: &Spanned<RawHook>, names: &mut HashMap<String, usize>) -> Option<Hook> {
    let r = t.get_ref();
    let before = c.problems.len();
    c.name("hook", &r.name, names);
    let mut on = Vec::new();
    if r.on.get_ref().is_empty() {
        c.at(
            &r.on.span(),
            "on is empty: name the incident kinds the hook runs on".into(),
        );
    }
    for k in r.on.get_ref() {
        match HookOn::all().find(|h| h.as_str() == k.get_ref()) {
            Some(h) => on.push(h),
            None => {
                let all: Vec<&str> = HookOn::all().map(HookOn::as_str).collect();
                let hint = match nearest(k.get_ref(), all.iter().copied()) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!("expected one of {}", all.join(", ")),
                };
                c.at(
                    &k.span(),
                    format!("unknown incident kind `{}`, {hint}", k.get_ref()),
                );
            }
        }
    }
    let argv = r.argv.get_ref();
    match argv.first() {
        None => c.at(
            &r.argv.span(),
            "argv is empty: it needs the program to run".into(),
        ),
        Some(p) if !p.get_ref().starts_with('/') => c.at(
            &p.span(),
            format!(
                "argv[0] `{}` is not an absolute path (hooks run without a shell or PATH search)",
                p.get_ref()
            ),
        ),
        Some(_) => {}
    }
    for a in argv {
        if a.get_ref().contains('\0') {
            c.at(&a.span(), "an argument holds a NUL byte".into());
        }
    }
    let timeout = match &r.timeout {
        None => HOOK_TIMEOUT_DEFAULT,
        Some(s) => match c.duration("timeout", s) {
            Some(d) if d.is_zero() => {
                c.at(&s.span(), "timeout must be more than 0".into());
                d
            }
            Some(d) if d > HOOK_TIMEOUT_MAX => {
                c.at(
                    &s.span(),
                    format!(
                        "timeout `{}` is more than the longest a hook may run ({}s)",
                        s.get_ref(),
                        HOOK_TIMEOUT_MAX.as_secs()
                    ),
                );
                d
            }
            Some(d) => d,
            None => HOOK_TIMEOUT_DEFAULT,
        },
    };
    let mut env = BTreeMap::new();
    for (k, v) in &r.env {
        let name = k.get_ref();
        let valid = name.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid {
            c.at(
                &k.span(),
                format!("environment name `{name}` is not [A-Za-z_][A-Za-z0-9_]*"),
            );
        } else if name.starts_with("OOMLENS_") {
            c.at(
                &k.span(),
                format!("environment name `{name}`: OOMLENS_* is set by the guard"),
            );
        } else if v.get_ref().contains('\0') {
            c.at(&v.span(), format!("the value of `{name}` holds a NUL byte"));
        } else {
            env.insert(name.clone(), v.get_ref().clone());
        }
    }
    (c.problems.len() == before).then(|| Hook {
        name: r.name.get_ref().clone(),
        line: line_of(c.text, &t.span()),
        on,
        argv: argv.iter().map(|a| a.get_ref().clone()).collect(),
        timeout,
        env,
    })
}
