//! Tenancy on the test control plane (scripts/kube-cluster) with RBAC:
//! the chart installed with sources confined to namespaces and to
//! ServiceAccounts that jobcd impersonates, and the real `jobcd serve`
//! running as the chart's own ServiceAccount. Each source applies only
//! where its account may; a source naming a namespace it may not write to
//! is refused before any write; no account can read another source's
//! run-once ledger; and the API server's own rules reviews show the chart
//! grants exactly that.

// Shared with tests/chart.rs, which uses all of it.
#[allow(dead_code)]
#[path = "support/chart_tools.rs"]
mod chart_tools;
#[allow(dead_code)]
#[path = "support/chart_yaml.rs"]
mod chart_yaml;
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use chart_tools::{NAMESPACE, RELEASE, install, text};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use support::jobs_repo::JobsRepo;
use support::kube_cluster::Cluster;
use support::served::Served;

fn job(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, 'echo {name}']}}]\n"
    )
}

/// Applies `manifest` (JSON) as the cluster's admin.
fn apply(cluster: &Cluster, dir: &Path, name: &str, manifest: &Value) {
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, manifest.to_string()).unwrap();
    let out = cluster.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{name}: {}", text(&out));
}

/// A team's deployer account, with the Role its owner would give it: Jobs
/// and CronJobs in its own namespace only.
fn deployer(cluster: &Cluster, dir: &Path, namespace: &str) {
    apply(
        cluster,
        dir,
        &format!("deployer-{namespace}"),
        &json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "deployer", "namespace": namespace}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "deployer", "namespace": namespace},
             "rules": [{"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"],
                        "verbs": ["get", "create", "patch", "delete"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "deployer", "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
             "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}]},
        ]}),
    );
}

fn lines(all: &[&str]) -> BTreeSet<String> {
    all.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_source_applies_only_as_its_own_account() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    for namespace in [NAMESPACE, "team-a", "team-b"] {
        let out = cluster.kubectl(&["create", "namespace", namespace]);
        assert!(out.status.success(), "{}", text(&out));
    }
    deployer(&cluster, dir.path(), "team-a");
    deployer(&cluster, dir.path(), "team-b");

    // a and b: each its team's account and namespace. sneaky: team-a's
    // account, allowed both namespaces by jobcd's configuration, writing
    // to team-b — only the API server can stop it. strays: confined to
    // team-a by jobcd alone, naming team-b.
    let repos: Vec<(&str, JobsRepo)> = [
        ("a", job("team-a", "import")),
        ("b", job("team-b", "report")),
        ("sneaky", job("team-b", "sneak")),
        ("strays", job("team-b", "stray")),
    ]
    .into_iter()
    .map(|(name, manifest)| {
        let repo = JobsRepo::new();
        repo.commit(&[(&format!("{name}.yaml"), Some(&manifest))]);
        (name, repo)
    })
    .collect();
    let repo_of = |name: &str| repos.iter().find(|(n, _)| *n == name).unwrap().1.path();
    let values = dir.path().join("values.json");
    std::fs::write(
        &values,
        json!({
            "namespaces": ["team-a", "team-b"],
            "sources": [
                {"name": "a", "repo": repo_of("a"), "path": "jobs", "interval": "0s",
                 "namespaces": ["team-a"], "serviceAccount": {"name": "deployer", "namespace": "team-a"}},
                {"name": "b", "repo": repo_of("b"), "path": "jobs", "interval": "0s",
                 "namespaces": ["team-b"], "serviceAccount": {"name": "deployer", "namespace": "team-b"}},
                {"name": "sneaky", "repo": repo_of("sneaky"), "path": "jobs", "interval": "0s",
                 "serviceAccount": {"name": "deployer", "namespace": "team-a"}},
                {"name": "strays", "repo": repo_of("strays"), "path": "jobs", "interval": "0s",
                 "namespaces": ["team-a"]},
            ],
        })
        .to_string(),
    )
    .unwrap();
    install("install", &cluster.kubeconfig, &values, &[]);

    // The chart's grants, as the API server reads them: jobcd may
    // impersonate exactly the two deployers, each deployer may read and
    // record exactly its own source's ledger.
    let jobcd = dir.path().join("jobcd.kubeconfig");
    cluster.account_kubeconfig(NAMESPACE, RELEASE, &jobcd);
    for team in ["team-a", "team-b"] {
        let rules = cluster.allowed(&jobcd, team);
        let impersonation: BTreeSet<&String> =
            rules.iter().filter(|r| r.contains("impersonate")).collect();
        assert_eq!(
            impersonation,
            lines(&["/serviceaccounts/deployer impersonate"])
                .iter()
                .collect(),
            "{team}: {rules:?}"
        );
    }
    let deployer_a = dir.path().join("deployer-a.kubeconfig");
    cluster.account_kubeconfig("team-a", "deployer", &deployer_a);
    assert_eq!(
        cluster.allowed(&deployer_a, NAMESPACE),
        lines(&[
            "/configmaps/jobcd-ledger-a get",
            "/configmaps/jobcd-ledger-a patch",
            "/configmaps/jobcd-ledger-sneaky get",
            "/configmaps/jobcd-ledger-sneaky patch",
        ]),
        "team-a's deployer signs for sources a and sneaky, and only their ledgers"
    );

    // jobcd serve with the installed configuration, as the chart's
    // ServiceAccount.
    let installed = cluster.json(&["-n", NAMESPACE, "get", "configmap", RELEASE]);
    let pod = tempfile::tempdir().unwrap();
    let config = installed["data"]["jobcd.yaml"]
        .as_str()
        .unwrap()
        .replace("/var/lib/jobcd", pod.path().join("state").to_str().unwrap());
    let config_file = pod.path().join("jobcd.yaml");
    std::fs::write(&config_file, &config).unwrap();
    let mut served = Served::start(
        pod.path(),
        &config_file,
        &[
            ("POD_NAME", "jobcd-0"),
            ("KUBECONFIG", jobcd.to_str().unwrap()),
            ("JOBCD_LISTEN", "127.0.0.1:0"),
        ],
    );
    let exists = |namespace: &str, name: &str| {
        cluster.json(&["-n", namespace, "get", "jobs", "-o", "json"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["metadata"]["name"] == name)
    };
    cluster.wait_for("a's and b's Jobs, applied as their deployers", || {
        exists("team-a", "import") && exists("team-b", "report")
    });
    // sneaky's account may not write to team-b: the API server refuses
    // the impersonated apply, naming the account.
    served.wait_log("system:serviceaccount:team-a:deployer");
    // strays is refused by jobcd before any write, naming the file, its
    // line and the namespaces it may write to.
    served.wait_log("may not write (its namespaces: team-a)");
    let log = served.log();
    let sneaky = log
        .lines()
        .find(|l| l.contains("source=sneaky") && l.contains("forbidden"))
        .unwrap_or_else(|| panic!("no refusal of sneaky's apply:\n{log}"));
    assert!(sneaky.contains("team-b"), "{sneaky}");
    assert!(
        sneaky.contains("source \"sneaky\" acts as system:serviceaccount:team-a:deployer"),
        "the hint names the account to fix, not jobcd's: {sneaky}"
    );
    let strays = log
        .lines()
        .find(|l| l.contains("source=strays") && l.contains("may not write"))
        .unwrap();
    assert!(strays.contains("jobs/strays.yaml:1"), "{strays}");
    eprintln!("refused as expected:\n{sneaky}\n{strays}");
    assert!(!exists("team-b", "sneak"), "{log}");
    assert!(!exists("team-b", "stray"), "{log}");

    // The ledgers: a's exists (jobcd created it, the deployer recorded
    // in it); team-a's deployer cannot read b's.
    cluster.wait_for("a's ledger", || {
        cluster
            .kubectl(&["-n", NAMESPACE, "get", "configmap", "jobcd-ledger-a"])
            .status
            .success()
    });
    let as_deployer = |name: &str| {
        cluster.kubectl(&[
            "--kubeconfig",
            deployer_a.to_str().unwrap(),
            "-n",
            NAMESPACE,
            "get",
            "configmap",
            name,
        ])
    };
    assert!(as_deployer("jobcd-ledger-a").status.success());
    let out = as_deployer("jobcd-ledger-b");
    assert!(!out.status.success());
    assert!(text(&out).contains("forbidden"), "{}", text(&out));

    served.signal(Signal::SIGTERM);
    assert!(served.wait_exit().success(), "{}", served.log());
}
