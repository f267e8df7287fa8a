//! The guard's configuration: the shipped example is valid, and a table of bad files each
//! gets its exact `FILE:LINE:COLUMN: why` (positions counted by hand from the texts below).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oomlens_guard::config::{self, ConfigError, HookOn};
use oomlens_model::Kind;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/oomlens/guard.toml")
}

fn problems(text: &str) -> String {
    match config::parse(Path::new("g.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(ConfigError::Invalid(p)) => p.to_string(),
        Err(e) => panic!("{e}"),
    }
}

/// (file, the exact message). Each text is one problem at a known place.
const BAD: &[(&str, &str)] = &[
    // 1. a typo in a key: the nearest valid key is named.
    (
        "[[protect]]\nname = \"db\"\ncomn = \"postgres\"\nadj = -900\n",
        "g.toml:3:1: unknown key `comn`, did you mean `comm`?",
    ),
    // 2. oom_score_adj's range is the kernel's OOM_SCORE_ADJ_MIN..MAX.
    (
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -1001\n",
        "g.toml:4:7: adj -1001 is out of range: oom_score_adj is -1000..=1000",
    ),
    // 3. a glob that does not compile.
    (
        "[[protect]]\nname = \"db\"\ncgroup = \"/system.slice/[postgres\"\nadj = -900\n",
        "g.toml:3:10: cgroup `/system.slice/[postgres` is not a valid glob: invalid range pattern",
    ),
    // 4. a hook with nothing to run.
    (
        "[[hook]]\nname = \"page\"\non = [\"global\"]\nargv = []\n",
        "g.toml:4:8: argv is empty: it needs the program to run",
    ),
    // 5. a hook program found through PATH would need a shell's lookup: refused.
    (
        "[[hook]]\nname = \"page\"\non = [\"global\"]\nargv = [\"page-oncall\", \"--now\"]\n",
        "g.toml:4:9: argv[0] `page-oncall` is not an absolute path (hooks run without a shell or PATH search)",
    ),
    // 6. two rules of one name (metrics and logs name rules).
    (
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -900\n[[protect]]\nname = \"db\"\ncomm = \"mysqld\"\nadj = -900\n",
        "g.toml:6:8: duplicate protect name `db` (first used on line 2)",
    ),
    // 7. a timeout of zero.
    (
        "[[hook]]\nname = \"page\"\non = [\"global\"]\nargv = [\"/bin/true\"]\ntimeout = \"0s\"\n",
        "g.toml:5:11: timeout must be more than 0",
    ),
    // 8. a timeout over the maximum.
    (
        "[[hook]]\nname = \"page\"\non = [\"global\"]\nargv = [\"/bin/true\"]\ntimeout = \"10m\"\n",
        "g.toml:5:11: timeout `10m` is more than the longest a hook may run (300s)",
    ),
    // 9. two rules with the same matchers: the second can never apply.
    (
        "[[protect]]\nname = \"pg\"\ncomm = \"postgres\"\nadj = -900\n[[protect]]\nname = \"pg2\"\ncomm = \"postgres\"\nadj = 100\n",
        "g.toml:6:8: conflicting matchers: protect rule `pg2` matches exactly what `pg` (line 2) matches, and the first rule wins",
    ),
    // 10. a rule without any matcher would match every process.
    (
        "[[protect]]\nname = \"all\"\nadj = 100\n",
        "g.toml:2:8: protect rule `all` has no matcher: set at least one of unit, cgroup, comm, exe",
    ),
    // 11. a comm the kernel cannot hold (TASK_COMM_LEN).
    (
        "[[protect]]\nname = \"w\"\ncomm = \"postgres-worker-1\"\nadj = 100\n",
        "g.toml:3:8: comm `postgres-worker-1` is 17 bytes: the kernel keeps at most 15, so it never matches",
    ),
    // 12. a value of the wrong type.
    (
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = \"high\"\n",
        "g.toml:4:7: invalid type: string \"high\", expected i64",
    ),
    // 13. a typo in an incident kind.
    (
        "[[hook]]\nname = \"page\"\non = [\"globl\"]\nargv = [\"/bin/true\"]\n",
        "g.toml:3:7: unknown incident kind `globl`, did you mean `global`?",
    ),
    // 14. exe is matched against /proc/PID/exe, always absolute.
    (
        "[[protect]]\nname = \"ssh\"\nexe = \"sshd\"\nadj = -1000\n",
        "g.toml:3:7: exe `sshd` must be an absolute path",
    ),
    // 15. a unit without its type.
    (
        "[[protect]]\nname = \"db\"\nunit = \"postgresql\"\nadj = -900\n",
        "g.toml:3:8: unit `postgresql` names no unit type: end it with .service or .scope",
    ),
    // 16. a duration in an unknown unit.
    (
        "[[hook]]\nname = \"page\"\non = [\"memcg\"]\nargv = [\"/bin/true\"]\ntimeout = \"10 parsecs\"\n",
        "g.toml:5:11: timeout: \"10 parsecs\": unknown unit \" parsecs\" (ms, s, m, h or d)",
    ),
    // 17. the guard's own variables cannot be overridden.
    (
        "[[hook]]\nname = \"page\"\non = [\"memcg\"]\nargv = [\"/bin/true\"]\nenv = { OOMLENS_KIND = \"x\" }\n",
        "g.toml:5:9: environment name `OOMLENS_KIND`: OOMLENS_* is set by the guard",
    ),
    // 18. a typo in a table name.
    (
        "[[protct]]\nname = \"db\"\n",
        "g.toml:1:3: unknown key `protct`, did you mean `protect`?",
    ),
    // 19. no hook could ever run.
    (
        "[guard]\nmax-concurrent-hooks = 0\n",
        "g.toml:2:24: max-concurrent-hooks 0 is out of range 1..=64",
    ),
    // 20. a cgroup matcher that is not a path.
    (
        "[[protect]]\nname = \"db\"\ncgroup = \"system.slice/x.service\"\nadj = 1\n",
        "g.toml:3:10: cgroup `system.slice/x.service` must start with `/` (a path as in /proc/PID/cgroup)",
    ),
    // 21. a syntax error: the header's second `]` is missing where the line ends.
    (
        "[[protect]\nname = \"db\"\n",
        "g.toml:1:11: unclosed array table, expected `]`",
    ),
    // 22. a pre-emption policy that cannot arm: its problem at its table's header.
    (
        "[[preempt]]\ncgroup = \"/batch/*\"\nshare = 1.5\n",
        "g.toml:1:1: preempt `/batch/*`: share must be above 0 and at most 1, not 1.5",
    ),
    // 23. a typo in a pre-emption key.
    (
        "[[preempt]]\ncgroup = \"/batch/*\"\ngrace = 5\n",
        "g.toml:3:1: unknown key `grace`, did you mean `grace-secs`?",
    ),
    // 24. whether a rule's processes may be pre-empted is a boolean.
    (
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -900\npreemptible = \"no\"\n",
        "g.toml:5:15: invalid type: string \"no\", expected a boolean",
    ),
    // 25. a typo in it.
    (
        "[[protect]]\nname = \"db\"\ncomm = \"postgres\"\nadj = -900\npreemptable = false\n",
        "g.toml:5:1: unknown key `preemptable`, did you mean `preemptible`?",
    ),
];

#[test]
fn each_bad_config_gets_its_exact_message() {
    let mut wrong = Vec::new();
    for (i, (text, want)) in BAD.iter().enumerate() {
        let got = problems(text);
        if got != *want {
            wrong.push(format!("case {}:\n  want {want}\n  got  {got}", i + 1));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_problem_of_a_file_is_reported_in_file_order() {
    let text = "[[protect]]\nname = \"a\"\nadj = 2000\n[[hook]]\nname = \"h\"\non = [\"global\"]\nargv = [\"sh\"]\n";
    assert_eq!(
        problems(text),
        "g.toml:2:8: protect rule `a` has no matcher: set at least one of unit, cgroup, comm, exe\n\
         g.toml:3:7: adj 2000 is out of range: oom_score_adj is -1000..=1000\n\
         g.toml:7:9: argv[0] `sh` is not an absolute path (hooks run without a shell or PATH search)"
    );
}

#[test]
fn the_shipped_example_is_valid_and_says_what_it_shows() {
    let c = config::load(&example()).unwrap();
    let adj: Vec<(&str, i16, bool)> = c
        .protect
        .iter()
        .map(|r| (r.name.as_str(), r.adj, r.preemptible))
        .collect();
    // preemptible: by default adj >= 0; `api` says false with adj 0.
    assert_eq!(
        adj,
        [
            ("postgres", -900, false),
            ("sshd", -1000, false),
            ("batch-workers", 500, true),
            ("backup", 800, true),
            ("api", 0, false)
        ]
    );
    assert!(c.protect[0]
        .unit
        .as_ref()
        .unwrap()
        .matches("postgresql@16-main.service"));
    assert_eq!(c.guard.max_concurrent_hooks, 4);
    assert_eq!(c.guard.rescan, Duration::from_secs(300));
    let h = &c.hooks[0];
    assert_eq!(
        h.on,
        [
            HookOn::Incident(Kind::Global),
            HookOn::Incident(Kind::Memcg)
        ]
    );
    assert_eq!(h.argv[0], "/usr/local/bin/page-oncall");
    assert_eq!(h.timeout, Duration::from_secs(10));
    assert_eq!(h.env.get("TEAM").map(String::as_str), Some("database"));
    let p = &c.preempt[0].policy;
    assert_eq!(
        (p.display_name(), p.share, p.grace_secs),
        ("batch", 0.9, 5.0)
    );
    assert_eq!(p.forecast.map(|f| f.within_secs), Some(30.0));
}

#[test]
fn check_config_exits_0_for_valid_and_2_with_the_problem_on_stderr() {
    let bin = env!("CARGO_BIN_EXE_oomlens-guard");
    let out = Command::new(bin)
        .arg("--check-config")
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let dir = std::env::temp_dir().join(format!("oomlens-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("guard.toml");
    std::fs::write(&bad, BAD[1].0).unwrap();
    let out = Command::new(bin)
        .arg("--check-config")
        .arg(&bad)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}:4:7: adj -1001 is out of range: oom_score_adj is -1000..=1000\n",
            bad.display()
        )
    );
}

#[test]
fn the_readme_config_blocks_are_valid() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let blocks: Vec<&str> = text
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty(), "README.md has no toml block");
    for b in blocks {
        let c = config::parse(Path::new("README.md"), b).unwrap_or_else(|e| panic!("{e}\n{b}"));
        // Every block configures something (the protect/hook block, the pre-emption one).
        assert!(
            !c.protect.is_empty() || !c.hooks.is_empty() || !c.preempt.is_empty(),
            "{b}"
        );
    }
}
