//! The Kubernetes side on real public manifests (examples of the Kubernetes documentation,
//! a `helm template` rendering of the ingress-nginx chart) and on edge cases: every workload
//! kind, Lists, JSON, language runtimes, and broken input that must be reported with file
//! and line while the rest is still audited.

use std::path::{Path, PathBuf};

use oomlens_audit::finding::DEFAULT_CRITICAL;
use oomlens_audit::k8s::{audit_manifests, K8sAudit, K8sContext, Qos};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/k8s")
        .join(p)
}

fn ctx() -> K8sContext {
    K8sContext {
        critical: DEFAULT_CRITICAL.iter().map(|s| s.to_string()).collect(),
        ..K8sContext::default()
    }
}

fn audit(files: &[&str]) -> K8sAudit {
    let inputs: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (data(f), std::fs::read_to_string(data(f)).unwrap()))
        .collect();
    audit_manifests(&inputs, &ctx())
}

fn expect(a: &K8sAudit, want: &[(&str, &str)]) {
    let mut got: Vec<(String, String)> = a
        .findings
        .iter()
        .map(|f| (f.target.clone(), f.rule.to_string()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = want
        .iter()
        .map(|(t, r)| (t.to_string(), r.to_string()))
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "findings: {:#?}\nerrors: {:#?}",
        a.findings, a.errors
    );
}

fn qos_of(a: &K8sAudit, name: &str) -> Qos {
    a.objects.iter().find(|o| o.name == name).unwrap().qos
}

#[test]
fn kubernetes_docs_examples() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "docs/nginx-deployment.yaml",
            &[
                ("Deployment/nginx-deployment", "no-memory-limit"),
                ("Deployment/nginx-deployment", "besteffort-pod"),
            ],
        ),
        ("docs/cassandra-statefulset.yaml", &[]),
        (
            "docs/deployment-sidecar.yaml",
            &[
                ("Deployment/myapp", "no-memory-limit"),
                ("Deployment/myapp", "no-memory-limit"),
                ("Deployment/myapp", "besteffort-pod"),
            ],
        ),
        (
            "docs/cronjob.yaml",
            &[
                ("CronJob/hello", "no-memory-limit"),
                ("CronJob/hello", "besteffort-pod"),
            ],
        ),
        (
            "docs/mysql-deployment.yaml",
            &[
                ("Deployment/mysql", "no-memory-limit"),
                ("Deployment/mysql", "besteffort-pod"),
            ],
        ),
        (
            "docs/redis-leader-deployment.yaml",
            &[
                ("Deployment/redis-leader", "no-memory-limit"),
                ("Deployment/redis-leader", "burstable-critical-pod"),
            ],
        ),
        (
            "docs/zookeeper.yaml",
            &[("StatefulSet/zk", "no-memory-limit")],
        ),
        ("docs/qos-pod.yaml", &[]),
        (
            "docs/qos-pod-2.yaml",
            &[("Pod/qos-example/qos-demo-2", "burstable-critical-pod")],
        ),
        (
            "docs/qos-pod-3.yaml",
            &[
                ("Pod/qos-example/qos-demo-3", "no-memory-limit"),
                ("Pod/qos-example/qos-demo-3", "besteffort-pod"),
            ],
        ),
        (
            "docs/qos-pod-4.yaml",
            &[
                ("Pod/qos-example/qos-demo-4", "no-memory-limit"),
                ("Pod/qos-example/qos-demo-4", "no-memory-limit"),
                ("Pod/qos-example/qos-demo-4", "burstable-critical-pod"),
            ],
        ),
        ("docs/memory-request-limit.yaml", &[]),
        (
            "docs/pod-level-memory-request-limit.yaml",
            &[(
                "Pod/pod-resources-example/memory-demo",
                "burstable-critical-pod",
            )],
        ),
    ];
    for (file, want) in cases {
        let a = audit(&[file]);
        assert!(a.errors.is_empty(), "{file}: {:?}", a.errors);
        expect(&a, want);
    }
    // The QoS classes the documentation's own QoS page names.
    assert_eq!(
        qos_of(&audit(&["docs/qos-pod.yaml"]), "qos-demo"),
        Qos::Guaranteed
    );
    assert_eq!(
        qos_of(&audit(&["docs/qos-pod-2.yaml"]), "qos-demo-2"),
        Qos::Burstable
    );
    assert_eq!(
        qos_of(&audit(&["docs/qos-pod-3.yaml"]), "qos-demo-3"),
        Qos::BestEffort
    );
    assert_eq!(
        qos_of(&audit(&["docs/qos-pod-4.yaml"]), "qos-demo-4"),
        Qos::Burstable
    );
    assert_eq!(
        qos_of(&audit(&["docs/cassandra-statefulset.yaml"]), "cassandra"),
        Qos::Guaranteed
    );
    // Line of a container finding: the container's entry.
    let a = audit(&["docs/nginx-deployment.yaml"]);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "no-memory-limit")
        .unwrap();
    assert_eq!(f.line, Some(18));
    assert_eq!(
        f.file.as_deref(),
        Some(data("docs/nginx-deployment.yaml").as_path())
    );
}

#[test]
fn limit_range_defaults_fill_missing_limits() {
    // Alone, the pod has no limit; with the documentation's LimitRange it gets 512Mi/256Mi.
    expect(
        &audit(&["docs/memory-defaults-pod.yaml"]),
        &[
            ("Pod/default-mem-demo", "no-memory-limit"),
            ("Pod/default-mem-demo", "besteffort-pod"),
        ],
    );
    let a = audit(&["docs/memory-defaults.yaml", "docs/memory-defaults-pod.yaml"]);
    expect(&a, &[("Pod/default-mem-demo", "burstable-critical-pod")]);
    let c = &a.objects[0].containers[0];
    assert_eq!(c.memory_limit, Some(512 << 20));
    assert_eq!(c.memory_request, Some(256 << 20));
    assert_eq!(c.limit_from.as_deref(), Some("LimitRange/mem-limit-range"));
}

#[test]
fn rendered_helm_chart() {
    // `helm template` output of ingress-nginx 4.0.15: 18 documents with "# Source:" comments.
    let a = audit(&["helm/ingress-nginx-4.0.15.yaml"]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(a.documents, 19);
    expect(
        &a,
        &[
            (
                "Deployment/ingress-nginx/ingress-nginx-controller",
                "no-memory-limit",
            ),
            (
                "Job/ingress-nginx/ingress-nginx-admission-create",
                "no-memory-limit",
            ),
            (
                "Job/ingress-nginx/ingress-nginx-admission-create",
                "besteffort-pod",
            ),
            (
                "Job/ingress-nginx/ingress-nginx-admission-patch",
                "no-memory-limit",
            ),
            (
                "Job/ingress-nginx/ingress-nginx-admission-patch",
                "besteffort-pod",
            ),
        ],
    );
    assert_eq!(qos_of(&a, "ingress-nginx-controller"), Qos::Burstable);
}

#[test]
fn scenario_003_memory_backed_scratch_space() {
    let a = audit(&["edge/scenario-003.yaml"]);
    expect(
        &a,
        &[
            (
                "Deployment/media/video-worker",
                "emptydir-memory-without-sizelimit",
            ),
            ("Deployment/media/video-worker", "runtime-heap-above-limit"),
        ],
    );
    let e = a
        .findings
        .iter()
        .find(|f| f.rule == "emptydir-memory-without-sizelimit")
        .unwrap();
    assert_eq!(e.line, Some(37), "the volume's entry");
    let g = a
        .findings
        .iter()
        .find(|f| f.rule == "runtime-heap-above-limit")
        .unwrap();
    assert!(
        g.message.contains("GOMEMLIMIT") && g.fix.contains("1843MiB"),
        "{g:?}"
    );
}

#[test]
fn every_workload_kind_and_runtime() {
    let a = audit(&["edge/runtimes.yaml"]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    expect(
        &a,
        &[
            ("Deployment/apps/jvm-xmx", "runtime-heap-above-limit"),
            ("StatefulSet/apps/jvm-percent", "runtime-heap-above-limit"),
            ("DaemonSet/apps/node-agent", "runtime-heap-above-limit"),
            ("ReplicaSet/apps/go-over", "runtime-heap-above-limit"),
            ("PodTemplate/apps/with-init", "no-memory-limit"),
            ("Pod/kube-system/kube-proxy-like", "burstable-critical-pod"),
        ],
    );
    let kinds: Vec<&str> = a.objects.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
            "ReplicationController",
            "PodTemplate",
            "Pod"
        ]
    );
    // Limits without requests: the requests default to the limits.
    assert_eq!(qos_of(&a, "jvm-percent"), Qos::Guaranteed);
    assert_eq!(qos_of(&a, "with-init"), Qos::Burstable);
    let init = a
        .findings
        .iter()
        .find(|f| f.target.contains("with-init"))
        .unwrap();
    assert!(
        init.message.starts_with("init container \"fetch\""),
        "{}",
        init.message
    );
}

#[test]
fn json_lists_and_quantity_forms() {
    let a = audit(&["edge/list.json"]);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    expect(
        &a,
        &[
            ("Pod/default/no-limits", "no-memory-limit"),
            ("Pod/default/no-limits", "besteffort-pod"),
        ],
    );
    // 1e9 == 1G, 0.25 == 250m, 1.5Gi == 1536Mi, 1 == 1000m: Guaranteed.
    assert_eq!(qos_of(&a, "quantities"), Qos::Guaranteed);
    assert_eq!(
        a.objects[0].containers[0].memory_request,
        Some(1_000_000_000)
    );
}

#[test]
fn malformed_yaml_is_reported_and_the_other_documents_audited() {
    let a = audit(&["edge/malformed.yaml"]);
    assert_eq!(a.errors.len(), 1, "{:?}", a.errors);
    let e = &a.errors[0];
    assert_eq!(e.file, data("edge/malformed.yaml"));
    assert!((15..=18).contains(&e.line), "{e}");
    assert!(e.message.starts_with("invalid YAML"), "{e}");
    expect(
        &a,
        &[
            ("Pod/before", "no-memory-limit"),
            ("Pod/before", "besteffort-pod"),
        ],
    );
    let names: Vec<&str> = a.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["before", "after"]);
}

#[test]
fn wrong_types_name_the_field_and_line() {
    let a = audit(&["edge/wrong-types.yaml"]);
    let got: Vec<(u32, &str)> = a
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    let want: &[(u32, &str)] = &[
        (6, "spec.containers: expected a list, found a string"),
        (18, "spec.containers[0].resources.limits.memory: expected a quantity (e.g. 512Mi), found a list"),
        (30, "spec.containers[0].resources.limits.memory: \"1GB\" is not a Kubernetes quantity"),
        (33, "kind: expected a string, found a number"),
        (45, "spec.template is missing"),
        (57, "expected a Kubernetes object (a mapping), found a list"),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((gl, gm), (wl, wm)) in got.iter().zip(want) {
        assert_eq!(gl, wl, "{gm}");
        assert!(gm.starts_with(wm), "{gm:?} should start with {wm:?}");
    }
    let names: Vec<&str> = a.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["fine-in-list", "fine-at-end"]);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
}

#[test]
fn huge_documents_are_refused_with_their_line() {
    let good = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: small\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    let huge = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: \"{}\"\n",
        "x".repeat(5 << 20)
    );
    let text = format!("{good}---\n{huge}---\n{}", good.replace("small", "after"));
    let a = audit_manifests(&[(PathBuf::from("big.yaml"), text)], &ctx());
    assert_eq!(a.errors.len(), 1);
    assert_eq!(a.errors[0].line, 9, "the document's first line");
    assert!(a.errors[0].message.contains("3 MiB"), "{}", a.errors[0]);
    let names: Vec<&str> = a.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["small", "after"]);
}
