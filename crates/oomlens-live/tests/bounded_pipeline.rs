//! A daemon following the kernel log for months, through the pipeline API: a million
//! incidents, each of a container never seen before (a new pod and container id per
//! restart), among them one unit killed again and again. Every incident goes through the
//! pipeline's explain and owner-enrichment path (owner files under a fake root, looked up
//! for every incident). The explainer's history must stay within its cap, the process's
//! memory flat, the enrichment must still name owners, and the unit's loop must still be
//! reported at the end.
//!
//! The incidents are built in code, not parsed from a log: parsing keeps no state across
//! incidents; what could grow is the history and what enrichment holds.
//!
//! This file holds one test so that the process's RSS is this test's alone.

use std::io;
use std::time::Instant;

use oomlens_analysis::explain::{Explanation, MAX_OWNERS};
use oomlens_live::{IncidentSink, Pipeline, Window};
use oomlens_model::Incident;
use oomlens_testkit::faketree::FakeTree;
use oomlens_testkit::incidents::memcg_kill;

const N: u64 = 1_000_000;
/// The unit killed every this many incidents (offset 1).
const LEAKY_EVERY: u64 = 1000;

/// A memcg kill in `cg` at `t` seconds after boot, victim 508 MiB, limit 512 MiB.
fn kill(cg: String, t: u64) -> Incident {
    memcg_kill("node", cg, t, 508)
}

fn pod_uid(i: u64) -> String {
    format!("{:08x}-a45c-44e7-b9bf-e3b9360bedba", i / 3)
}

/// Keeps the explanations it is asked to keep, counts the rest.
#[derive(Default)]
struct Keep {
    seen: u64,
    first_pod: Option<Explanation>,
    last_leaky: Option<Explanation>,
}

impl IncidentSink for Keep {
    fn incident(&mut self, inc: &Incident, expl: &Explanation) -> io::Result<()> {
        self.seen += 1;
        if inc.source.first_line == 0 {
            self.first_pod = Some(expl.clone());
        } else if inc.source.first_line % LEAKY_EVERY == 1 {
            self.last_leaky = Some(expl.clone());
        }
        Ok(())
    }
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A root with a unit file, a pod log directory and a container log link for incident 0.
fn fake_root() -> FakeTree {
    let t = FakeTree::new("live-bounded");
    t.file(
        "etc/systemd/system/leaky.service",
        "[Unit]\nDescription=Leaky test service\n",
    )
    .dir(format!("var/log/pods/shop_cart-7d9f_{}", pod_uid(0)))
    .file(
        format!("var/log/containers/cart-7d9f_shop_cart-{:064x}.log", 0),
        "",
    );
    t
}

#[test]
fn a_million_new_containers_through_the_pipeline_keep_memory_flat() {
    let tree = fake_root();
    let start = Instant::now();
    let mut p = Pipeline::new(Keep::default(), Window::default()).enrich_from(tree.root());
    let mut rss = Vec::new();
    for i in 0..N {
        let cg = if i % LEAKY_EVERY == 1 {
            "/system.slice/leaky.service".to_string()
        } else {
            format!("/kubepods/burstable/pod{}/{i:064x}", pod_uid(i))
        };
        p.incident(&kill(cg, i));
        assert!(p.explainer().tracked_owners() <= MAX_OWNERS, "{i}");
        if [10_000, 100_000, N - 1].contains(&i) {
            rss.push(rss_kib());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("VmRSS after 10k, 100k, 1M incidents: {rss:?} KiB; {secs:.1} s");
    drop(tree);
    assert_eq!(p.explainer().tracked_owners(), MAX_OWNERS);
    // Flat: the history is full after about 4100 incidents; what follows only replaces
    // owners. 4 MiB of slack for the allocator's own bookkeeping.
    assert!(rss[2] <= rss[1] + 4096, "{rss:?}");
    assert!(rss[1] <= rss[0] + 4096, "{rss:?}");

    let (sink, counters, error) = p.into_parts();
    assert!(error.is_none());
    assert_eq!((sink.seen, counters.incidents), (N, N));

    // Enrichment looked the owners up under the root.
    let pod = sink.first_pod.unwrap().owner.unwrap();
    assert_eq!(pod.pod_uid.as_deref(), Some(pod_uid(0).as_str()));
    assert_eq!(pod.live.pod_namespace.as_deref(), Some("shop"));
    assert_eq!(pod.live.pod_name.as_deref(), Some("cart-7d9f"));
    assert_eq!(pod.live.container_name.as_deref(), Some("cart"));

    // leaky: killed at 1, 1001, ..., 999001: 1000 kills, four in the last hour, 1000 s apart.
    let e = sink.last_leaky.unwrap();
    let owner = e.owner.as_ref().unwrap();
    assert_eq!(
        owner.live.unit_description.as_deref(),
        Some("Leaky test service")
    );
    let l = e.restart_loop.as_ref().unwrap();
    assert_eq!(
        (l.key.as_str(), l.nth, l.in_last_hour, l.mean_interval_s),
        ("leaky.service", 1000, 4, Some(1000.0))
    );
    assert!(secs < 120.0, "{secs} s");
}
