//! The Helm chart (charts/jobcd) checked with the real tools: `helm lint
//! --strict`, `helm template` for Kubernetes 1.33.13 checked by kubeconform
//! in strict mode against the official schemas, the rendered objects read
//! back (jobcd's own configuration loader reads the rendered jobcd.yaml),
//! and an install into the test control plane (scripts/kube-cluster) where
//! the real jobcd binary runs as the chart's ServiceAccount: `jobcd sync`
//! can sync the namespaces the chart manages, `jobcd serve` with the
//! installed configuration takes the leader Lease, and the API server
//! refuses it anything else.

#[path = "support/chart_tools.rs"]
mod chart_tools;
#[path = "support/chart_yaml.rs"]
mod chart_yaml;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chart_tools::{NAMESPACE, RELEASE, Rendered, chart_dir, ci_values, helm, install, text};
use jobcd::config::{self, SecretRef};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use support::http::request;
use support::jobs_repo::JobsRepo;
use support::kube_cluster::{Cluster, PATIENCE};
use support::served::Served;

/// The values files the chart is checked with: its defaults, and those
/// under charts/jobcd/ci/.
fn values_files() -> Vec<(&'static str, Vec<PathBuf>)> {
    vec![
        ("default values", vec![]),
        (
            "ci/minimal-values.yaml",
            vec![ci_values("minimal-values.yaml")],
        ),
        ("ci/full-values.yaml", vec![ci_values("full-values.yaml")]),
    ]
}

fn paths(files: &[PathBuf]) -> Vec<&Path> {
    files.iter().map(PathBuf::as_path).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, found {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

/// The rendered jobcd.yaml through jobcd's own loader, as `jobcd serve
/// --config` reads it.
fn load_config(rendered: &Rendered) -> Result<config::Config, config::Invalid> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobcd.yaml");
    std::fs::write(&file, rendered.config_text()).unwrap();
    config::load(&file)
}

#[test]
fn the_chart_lints_clean_with_every_values_file() {
    for (label, files) in values_files() {
        let mut lint = helm(&["lint", "--strict"]);
        lint.arg(chart_dir());
        for file in &files {
            lint.arg("--values").arg(file);
        }
        let out = lint.output().unwrap();
        let all = text(&out);
        assert!(out.status.success(), "{label}: {all}");
        assert!(
            all.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{label}: {all}"
        );
        assert!(!all.contains("[WARNING]"), "{label}: {all}");
    }

    // The values schema makes a misspelt key an error, not a silent default.
    let out = helm(&["lint", "--strict"])
        .arg(chart_dir())
        .args([
            "--set",
            "sources[0].name=jobs,sources[0].repo=https://example.com/j.git,sources[0].paswordSecretRef.name=git",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("paswordSecretRef"), "{}", text(&out));
}

#[test]
fn every_rendering_is_valid_kubernetes_in_strict_mode() {
    let mut last = String::new();
    for (label, files) in values_files() {
        let rendered = Rendered::of(&paths(&files), &[]);
        let out = chart_tools::kubeconform(&rendered.text);
        let all = text(&out);
        assert!(out.status.success(), "{label}: kubeconform: {all}");
        let n = rendered.objects.len();
        assert!(n >= 8, "{label}: only {n} objects rendered");
        assert!(
            all.contains(&format!(
                "{n} resources found parsing stdin - Valid: {n}, Invalid: 0, Errors: 0, Skipped: 0"
            )),
            "{label}: {all}"
        );
        last = rendered.text;
    }
    // The check has teeth: a misspelt field fails it, in a Kubernetes
    // kind and in a Prometheus Operator kind (vendored schemas).
    let monitor = last.replacen("honorLabels: true", "honourLabels: true", 1);
    let out = chart_tools::kubeconform(&monitor);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("honourLabels"), "{}", text(&out));
    let broken = last.replacen("readOnlyRootFilesystem", "readOnlyRootFileSystem", 1);
    let out = chart_tools::kubeconform(&broken);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("readOnlyRootFileSystem"),
        "{}",
        text(&out)
    );
}

/// The properties that make the chart's configuration and its RBAC one
/// thing: whatever the values, jobcd may touch Jobs, CronJobs and
/// ConfigMaps exactly in the namespaces its configuration manages, and in
/// its own namespace ConfigMaps and Leases only by the names its
/// configuration gives them.
fn assert_rbac_follows_config(label: &str, rendered: &Rendered, config: &config::Config) {
    let config::Target::Kube {
        namespaces,
        ledger_namespace,
        kubeconfig,
        context,
    } = &config.target
    else {
        panic!("{label}: the target is not kube: {:?}", config.target);
    };
    assert_eq!(ledger_namespace.as_deref(), Some(NAMESPACE), "{label}");
    assert!(
        kubeconfig.is_none() && context.is_none(),
        "{label}: in a pod jobcd uses its ServiceAccount"
    );
    let managed: BTreeSet<&str> = namespaces.iter().map(String::as_str).collect();
    assert_eq!(managed.len(), namespaces.len(), "{label}: {namespaces:?}");

    for kind in ["ClusterRole", "ClusterRoleBinding"] {
        assert!(rendered.all(kind).is_empty(), "{label}: a {kind}");
    }
    let service_account =
        rendered.one("Deployment", RELEASE)["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .expect("a serviceAccountName")
            .to_string();
    let jobs_role = format!("{RELEASE}-jobs");
    let ledger_role = format!("{RELEASE}-ledger");
    let impersonate_role = format!("{RELEASE}-impersonate");
    // Sources acting as a ServiceAccount: by source, and the accounts by
    // namespace.
    let tenants: BTreeMap<&str, &config::ServiceAccount> = config
        .sources
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.tenancy.service_account.as_ref()?)))
        .collect();
    let mut impersonated: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for account in tenants.values() {
        let names = impersonated.entry(account.namespace.clone()).or_default();
        if !names.contains(&account.name) {
            names.push(account.name.clone());
        }
    }
    let mut impersonate_namespaces = BTreeSet::new();

    // Role and RoleBinding for Jobs and CronJobs: in each managed namespace
    // and nowhere else, with exactly the verbs jobcd uses.
    let mut role_namespaces = BTreeSet::new();
    for role in rendered.all("Role") {
        let namespace = role["metadata"]["namespace"].as_str().unwrap();
        if role["metadata"]["name"] == jobs_role.as_str() {
            role_namespaces.insert(namespace);
            assert_eq!(
                role["rules"],
                json!([{"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"],
                    "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
                    {"apiGroups": [""], "resources": ["configmaps"],
                    "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
                "{label}: {namespace}"
            );
        } else if role["metadata"]["name"] == impersonate_role.as_str() {
            // jobcd may impersonate exactly the accounts of this namespace
            // that sources name.
            let names = &impersonated[namespace];
            assert_eq!(
                role["rules"],
                json!([{"apiGroups": [""], "resources": ["serviceaccounts"],
                    "resourceNames": names, "verbs": ["impersonate"]}]),
                "{label}: {namespace}"
            );
            impersonate_namespaces.insert(namespace);
        } else if let Some(source) = role["metadata"]["name"]
            .as_str()
            .and_then(|n| n.strip_prefix(&format!("{RELEASE}-ledger-")))
        {
            // An account may read and record its own source's ledger only.
            assert_eq!(namespace, NAMESPACE, "{label}");
            assert!(tenants.contains_key(source), "{label}: {source}");
            assert_eq!(
                role["rules"],
                json!([{"apiGroups": [""], "resources": ["configmaps"],
                    "resourceNames": [format!("jobcd-ledger-{source}")], "verbs": ["get", "patch"]}]),
                "{label}: {source}"
            );
        } else {
            assert_eq!(role["metadata"]["name"], ledger_role.as_str(), "{label}");
            assert_eq!(namespace, NAMESPACE, "{label}");
        }
    }
    assert_eq!(role_namespaces, managed, "{label}: Roles");
    assert_eq!(
        impersonate_namespaces,
        impersonated.keys().map(String::as_str).collect(),
        "{label}: impersonation Roles"
    );
    let mut bound = BTreeSet::new();
    for binding in rendered.all("RoleBinding") {
        let namespace = binding["metadata"]["namespace"].as_str().unwrap();
        let name = binding["metadata"]["name"].as_str().unwrap();
        assert_eq!(binding["roleRef"]["name"], name, "{label}");
        assert_eq!(binding["roleRef"]["kind"], "Role", "{label}");
        if let Some(source) = name.strip_prefix(&format!("{RELEASE}-ledger-")) {
            // Bound to the source's account, not to jobcd.
            let account = tenants[source];
            assert_eq!(
                binding["subjects"],
                json!([{"kind": "ServiceAccount", "name": account.name, "namespace": account.namespace}]),
                "{label}: {namespace}/{name}"
            );
            continue;
        }
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": service_account, "namespace": NAMESPACE}]),
            "{label}: {namespace}/{name}"
        );
        if name == jobs_role {
            bound.insert(namespace);
        } else if name == impersonate_role {
            assert!(impersonated.contains_key(namespace), "{label}: {namespace}");
        } else {
            assert_eq!((namespace, name), (NAMESPACE, ledger_role.as_str()));
        }
    }
    assert_eq!(bound, managed, "{label}: RoleBindings");

    // In the release namespace: the sources' ledgers and the Lease, by name.
    let ledgers: Vec<String> = config
        .sources
        .iter()
        .map(|s| format!("jobcd-ledger-{}", s.name))
        .collect();
    let election = &rendered.config()["leaderElection"];
    let mut expected = Vec::new();
    if !ledgers.is_empty() {
        expected.push(json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}));
        expected.push(json!({"apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": ledgers, "verbs": ["get", "patch"]}));
    }
    if election["enabled"] == true {
        let lease = election["leaseName"].as_str().expect("a leaseName");
        expected.push(
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]}),
        );
        expected.push(
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "resourceNames": [lease], "verbs": ["get", "patch", "list", "watch"]}),
        );
        let shards = config.leader_election.as_ref().map_or(1, |e| e.shards);
        assert_eq!(election["shards"], shards, "{label}");
        if shards > 1 {
            let names: Vec<String> = (0..shards)
                .map(|i| jobcd::daemon::shards::lease_name(lease, i))
                .collect();
            expected.push(
                json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                "resourceNames": names, "verbs": ["get", "patch"]}),
            );
        }
    }
    assert_eq!(
        rendered.one("Role", &ledger_role)["rules"],
        Value::Array(expected),
        "{label}"
    );
}

/// Every secret file the configuration names, by configuration key.
fn secret_files(config: &config::Config) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut add = |key: String, path: Option<&Path>| {
        if let Some(path) = path {
            files.insert(key, path.display().to_string());
        }
    };
    let file = |secret: &Option<SecretRef>| match secret {
        Some(SecretRef::File(path)) => Some(path.clone()),
        Some(SecretRef::Env(env)) => panic!("a secret from env {env}: the chart mounts files"),
        None => None,
    };
    for s in &config.sources {
        let at = |key: &str| format!("sources[{}].{key}", s.name);
        add(at("passwordFile"), file(&s.password).as_deref());
        add(at("sshKeyFile"), s.ssh_key.as_deref());
        add(at("sshPassphraseFile"), file(&s.ssh_passphrase).as_deref());
        add(at("knownHostsFile"), s.known_hosts.as_deref());
        add(at("webhookSecretFile"), file(&s.webhook_secret).as_deref());
        for (i, keys) in s.verify.iter().flat_map(|v| &v.key_files).enumerate() {
            add(at(&format!("verify.keyFiles[{i}]")), Some(keys));
        }
    }
    if let Some(forge) = &config.reporters.forge {
        add(
            "reporters.forge.tokenFile".into(),
            file(&Some(forge.token.clone())).as_deref(),
        );
    }
    for n in &config.notifications {
        let at = |key: &str| format!("notifications[{}].{key}", n.name);
        add(at("urlFile"), file(&n.url_secret).as_deref());
        add(at("secretFile"), file(&n.secret).as_deref());
    }
    add(
        "dashboard.tokenFile".into(),
        file(&config.dashboard.token).as_deref(),
    );
    let password = config.dashboard.basic.as_ref().map(|(_, p)| p.clone());
    add("dashboard.passwordFile".into(), file(&password).as_deref());
    files
}

/// The files the pod's projected Secret volume provides: path → (Secret, key).
fn mounted_secrets(rendered: &Rendered) -> BTreeMap<String, (String, String)> {
    let pod = &rendered.one("Deployment", RELEASE)["spec"]["template"]["spec"];
    let Some(volume) = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "secrets")
    else {
        return BTreeMap::new();
    };
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "secrets")
        .expect("the secrets volume is mounted");
    assert_eq!(mount["readOnly"], true);
    assert_eq!(volume["projected"]["defaultMode"], 0o440);
    let dir = mount["mountPath"].as_str().unwrap();
    let mut files = BTreeMap::new();
    for source in volume["projected"]["sources"].as_array().unwrap() {
        let secret = &source["secret"];
        for item in secret["items"].as_array().unwrap() {
            let path = format!("{dir}/{}", item["path"].as_str().unwrap());
            let from = (
                secret["name"].as_str().unwrap().to_string(),
                item["key"].as_str().unwrap().to_string(),
            );
            assert!(files.insert(path.clone(), from).is_none(), "{path} twice");
        }
    }
    files
}

#[test]
fn the_rendered_config_is_what_jobcd_reads_and_what_the_rbac_grants() {
    // Full: several namespaces, an HTTPS and an SSH source, a forge.
    let full = Rendered::of(&[&ci_values("full-values.yaml")], &[]);
    let config = load_config(&full).unwrap_or_else(|e| panic!("jobcd rejects it:\n{e}"));
    assert_rbac_follows_config("full", &full, &config);
    let config::Target::Kube { namespaces, .. } = &config.target else {
        unreachable!()
    };
    assert_eq!(namespaces, &["batch", "reports", "nightly"]);
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["jobs", "reports"]);
    assert_eq!(config.concurrency, 2);
    assert!(!config.correct_drift);
    assert!((config.prune.max_share - 0.10).abs() < 1e-9);
    assert_eq!(config.sources[0].interval, 300);
    assert_eq!(config.sources[1].interval, 0);
    assert_eq!(
        config.sources[0].username.as_deref(),
        Some("x-access-token")
    );
    assert_eq!(
        full.config()["leaderElection"],
        json!({"enabled": true, "leaseName": "jobcd-leader", "leaseDuration": "20s", "shards": 3})
    );

    // Secrets by reference only: none rendered, each named one mounted as
    // a file exactly where the configuration reads it.
    assert!(full.all("Secret").is_empty());
    let wanted = secret_files(&config);
    let mounted = mounted_secrets(&full);
    let at = |key: &str| {
        let path = &wanted[key];
        mounted
            .get(path)
            .unwrap_or_else(|| panic!("{key}: {path} is not mounted: {mounted:?}"))
            .clone()
    };
    let pair = |s: &str, k: &str| (s.to_string(), k.to_string());
    assert_eq!(at("sources[jobs].passwordFile"), pair("jobcd-git", "token"));
    assert_eq!(
        at("sources[jobs].webhookSecretFile"),
        pair("jobcd-webhooks", "github")
    );
    assert_eq!(
        at("sources[reports].sshKeyFile"),
        pair("jobcd-ssh", "ssh-privatekey")
    );
    assert_eq!(
        at("sources[reports].sshPassphraseFile"),
        pair("jobcd-ssh", "passphrase")
    );
    assert_eq!(
        at("sources[reports].knownHostsFile"),
        pair("jobcd-ssh", "known_hosts")
    );
    assert_eq!(
        at("sources[reports].webhookSecretFile"),
        pair("jobcd-webhooks", "gitlab")
    );
    assert_eq!(
        at("sources[reports].verify.keyFiles[0]"),
        pair("jobcd-trusted-keys", "allowed_signers")
    );
    assert_eq!(
        config.sources[1].verify.as_ref().map(|v| v.mode),
        Some(jobcd::source::verify::Mode::Tag)
    );
    assert_eq!(config.sources[0].verify, None);
    assert_eq!(
        at("reporters.forge.tokenFile"),
        pair("jobcd-forge", "token")
    );
    assert_eq!(
        at("notifications[chat].urlFile"),
        pair("jobcd-slack", "url")
    );
    assert_eq!(
        at("notifications[hook].secretFile"),
        pair("jobcd-hook", "hmac")
    );
    assert_eq!(at("dashboard.tokenFile"), pair("jobcd-dashboard", "token"));
    assert_eq!(
        at("dashboard.passwordFile"),
        pair("jobcd-dashboard", "password")
    );
    assert_eq!(
        config
            .dashboard
            .basic
            .as_ref()
            .map(|(user, _)| user.as_str()),
        Some("ops")
    );
    assert_eq!(
        wanted.values().collect::<BTreeSet<_>>(),
        mounted.keys().collect::<BTreeSet<_>>(),
        "every mounted Secret file is one the configuration reads"
    );
    for path in wanted.values() {
        assert!(path.starts_with("/var/run/secrets/jobcd/"), "{path}");
    }

    // The state directory is the writable volume.
    let pod = &full.one("Deployment", RELEASE)["spec"]["template"]["spec"];
    let mounts = &pod["containers"][0]["volumeMounts"];
    let state = config.state_dir.clone().expect("stateDir is set");
    assert!(
        mounts
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "state" && m["mountPath"] == state.to_str().unwrap()),
        "{mounts}"
    );

    // Minimal: one source in the release namespace.
    let minimal = Rendered::of(&[&ci_values("minimal-values.yaml")], &[]);
    let config = load_config(&minimal).unwrap_or_else(|e| panic!("jobcd rejects it:\n{e}"));
    assert_rbac_follows_config("minimal", &minimal, &config);
    let config::Target::Kube { namespaces, .. } = &config.target else {
        unreachable!()
    };
    assert_eq!(namespaces, &[NAMESPACE]);
    assert_eq!(
        secret_files(&config).into_values().collect::<Vec<_>>(),
        ["/var/run/secrets/jobcd/sources/jobs/password"]
    );
    assert_eq!(
        mounted_secrets(&minimal)["/var/run/secrets/jobcd/sources/jobs/password"],
        pair("jobcd-git", "token")
    );

    // Defaults: complete but for the sources, which only the user can name
    // (jobcd then refuses to start, saying so).
    let defaults = Rendered::of(&[], &[]);
    let invalid = load_config(&defaults).expect_err("the defaults have no source");
    let problems: Vec<String> = invalid.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("sources is empty"), "{problems:#?}");
    assert_eq!(
        strings(&defaults.config()["target"]["namespaces"]),
        [NAMESPACE]
    );
    assert!(mounted_secrets(&defaults).is_empty());
}

#[test]
fn the_pod_is_hardened_probed_and_rolled_on_config_changes() {
    let rendered = Rendered::of(&[], &[]);
    let deployment = rendered.one("Deployment", RELEASE);
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        0
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], true);
    for (field, want) in [
        ("runAsNonRoot", json!(true)),
        ("runAsUser", json!(65532)),
        ("runAsGroup", json!(65532)),
        ("fsGroup", json!(65532)),
        ("seccompProfile", json!({"type": "RuntimeDefault"})),
    ] {
        assert_eq!(pod["securityContext"][field], want, "pod {field}");
    }
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    for (field, want) in [
        ("runAsNonRoot", json!(true)),
        ("runAsUser", json!(65532)),
        ("runAsGroup", json!(65532)),
        ("readOnlyRootFilesystem", json!(true)),
        ("allowPrivilegeEscalation", json!(false)),
        ("capabilities", json!({"drop": ["ALL"]})),
        ("seccompProfile", json!({"type": "RuntimeDefault"})),
    ] {
        assert_eq!(c["securityContext"][field], want, "container {field}");
    }
    assert_eq!(
        c["image"], "jobcd:0.1.0",
        "the tag is the chart's appVersion"
    );
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        strings(&c["args"]),
        ["serve", "--config", "/etc/jobcd/jobcd.yaml"]
    );
    assert_eq!(
        c["ports"],
        json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}])
    );
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        assert_eq!(
            c[probe]["httpGet"],
            json!({"path": path, "port": "http"}),
            "{probe}"
        );
    }
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][resource].is_string(),
                "resources.{kind}.{resource}"
            );
        }
    }
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    assert_eq!(
        env["POD_NAME"]["valueFrom"],
        json!({"fieldRef": {"fieldPath": "metadata.name"}})
    );
    assert_eq!(env["JOBCD_LOG_FORMAT"]["value"], "json");

    // The root filesystem is read-only: everything jobcd writes is a volume.
    let mounts: BTreeMap<&str, &str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(mounts["/tmp"], "tmp");
    assert_eq!(mounts["/var/lib/jobcd"], "state");
    assert_eq!(mounts["/etc/jobcd"], "config");
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    assert!(volumes["tmp"]["emptyDir"].is_object());
    assert!(volumes["state"]["emptyDir"].is_object());
    assert_eq!(volumes["config"]["configMap"]["name"], RELEASE);
    assert_eq!(rendered.config()["stateDir"], "/var/lib/jobcd");
    assert_eq!(rendered.config()["listen"], "0.0.0.0:8080");

    let service = rendered.one("Service", RELEASE);
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}])
    );
    assert!(rendered.all("Ingress").is_empty(), "no Ingress by default");
    assert_eq!(
        rendered.one("ServiceAccount", RELEASE)["automountServiceAccountToken"],
        false
    );

    // The configuration's checksum rolls the pods when, and only when, the
    // configuration changes.
    let checksum = |r: &Rendered| {
        r.one("Deployment", RELEASE)["spec"]["template"]["metadata"]["annotations"]
            ["checksum/config"]
            .as_str()
            .expect("a checksum annotation")
            .to_string()
    };
    let base = checksum(&rendered);
    assert_eq!(base.len(), 64);
    assert_ne!(checksum(&Rendered::of(&[], &["concurrency=8"])), base);
    assert_ne!(checksum(&Rendered::of(&[], &["correctDrift=false"])), base);
    assert_eq!(checksum(&Rendered::of(&[], &["podAnnotations.a=b"])), base);
    let pass = Rendered::of(
        &[],
        &[
            "podAnnotations.a=b",
            "nodeSelector.disk=ssd",
            "tolerations[0].key=k,tolerations[0].operator=Exists",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=k,affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
            "extraEnv[0].name=RUST_LOG,extraEnv[0].value=debug",
            "logFormat=text",
            "envFrom[0].secretRef.name=proxy-settings",
            "extraArgs[0]=-v",
            "extraVolumes[0].name=private-ca,extraVolumes[0].configMap.name=private-ca",
            "extraVolumeMounts[0].name=private-ca,extraVolumeMounts[0].mountPath=/etc/ssl/private-ca,extraVolumeMounts[0].readOnly=true",
        ],
    );
    let container = &pass.one("Deployment", RELEASE)["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        json!(["serve", "--config", "/etc/jobcd/jobcd.yaml", "-v"])
    );
    assert_eq!(
        container["envFrom"],
        json!([{"secretRef": {"name": "proxy-settings"}}])
    );
    assert!(
        container["volumeMounts"].as_array().unwrap().contains(
            &json!({"name": "private-ca", "mountPath": "/etc/ssl/private-ca", "readOnly": true})
        ),
        "{container}"
    );
    let volumes = &pass.one("Deployment", RELEASE)["spec"]["template"]["spec"]["volumes"];
    assert!(
        volumes
            .as_array()
            .unwrap()
            .contains(&json!({"name": "private-ca", "configMap": {"name": "private-ca"}})),
        "{volumes}"
    );
    let pod = &pass.one("Deployment", RELEASE)["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["a"], "b");
    assert_eq!(pod["spec"]["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(
        pod["spec"]["tolerations"],
        json!([{"key": "k", "operator": "Exists"}])
    );
    assert!(pod["spec"]["affinity"]["nodeAffinity"].is_object());
    let env = &pod["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "RUST_LOG", "value": "debug"})),
        "{env}"
    );
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "JOBCD_LOG_FORMAT", "value": "text"})),
        "{env}"
    );
}

#[test]
fn the_ingress_publishes_the_webhooks_only() {
    let rendered = Rendered::of(&[&ci_values("full-values.yaml")], &[]);
    let ingress = rendered.one("Ingress", RELEASE);
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"secretName": "jobcd-tls", "hosts": ["jobcd.example.com"]}])
    );
    assert_eq!(
        ingress["spec"]["rules"],
        json!([{"host": "jobcd.example.com", "http": {"paths": [{
            "path": "/hooks", "pathType": "Prefix",
            "backend": {"service": {"name": RELEASE, "port": {"name": "http"}}}}]}}])
    );
}

#[test]
fn values_that_would_break_the_charts_guarantees_are_refused() {
    let refused = |set: &[&str], why: &str| {
        let out = chart_tools::template(&[], set);
        assert!(!out.status.success(), "{set:?} rendered");
        assert!(text(&out).contains(why), "{set:?}: {}", text(&out));
    };
    let source = "sources[0].name=jobs,sources[0].repo=https://example.com/j.git";
    // What decides the RBAC and the mounts cannot be overridden raw.
    refused(&["extraConfig.target.kind=local"], "extraConfig.target");
    refused(&["extraConfig.sources=x"], "extraConfig.sources");
    refused(&["extraConfig.stateDir=/x"], "extraConfig.stateDir");
    refused(
        &["extraConfig.leaderElection.enabled=false"],
        "extraConfig.leaderElection",
    );
    // Several replicas must elect a leader.
    refused(
        &["replicaCount=2", "leaderElection.enabled=false"],
        "leaderElection.enabled is false",
    );
    // Two sources of one name would share a ledger and Secret files.
    refused(
        &[
            source,
            "sources[1].name=jobs,sources[1].repo=https://example.com/k.git",
        ],
        "\"jobs\" is named twice",
    );
    // A Secret reference needs a Secret.
    refused(
        &[source, "sources[0].passwordSecretRef.key=token"],
        "passwordSecretRef",
    );
    refused(
        &["reporters.forge.enabled=true"],
        "reporters.forge.tokenSecretRef.name",
    );
    refused(
        &["dashboard.username=ops"],
        "basic auth needs both username and passwordSecretRef.name",
    );
    refused(
        &["extraConfig.dashboard.enabled=false"],
        "extraConfig.dashboard",
    );
    // Names the API server or jobcd would refuse.
    refused(
        &["sources[0].name=Jobs,sources[0].repo=https://example.com/j.git"],
        "/sources/0/name",
    );
    refused(&["namespaces[0]=Team_A"], "/namespaces/0");
    refused(&["concurrency=0"], "/concurrency");
    refused(
        &[source, "sources[0].interval=5 minutes"],
        "/sources/0/interval",
    );
    // One claim cannot serve several replicas.
    refused(
        &["replicaCount=2", "persistence.enabled=true"],
        "persistence.enabled",
    );

    // Keys the chart does not render pass through to jobcd.yaml.
    let rendered = Rendered::of(&[], &["extraConfig.someFutureKey.depth=3"]);
    assert_eq!(rendered.config()["someFutureKey"], json!({"depth": 3}));
    // One replica may go without leader election: no Lease is granted then.
    let single = Rendered::of(
        &[],
        &["replicaCount=1", "leaderElection.enabled=false", source],
    );
    let rules = &single.one("Role", &format!("{RELEASE}-ledger"))["rules"];
    assert!(!rules.to_string().contains("leases"), "{rules}");
}

// --- on a cluster ---------------------------------------------------------

fn job(namespace: &str, name: &str, say: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, 'echo {say}']}}]\n"
    )
}

fn cronjob(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      backoffLimit: 0\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo tick']}}]\n"
    )
}

fn lines(all: &[&str]) -> BTreeSet<String> {
    all.iter().map(|s| s.to_string()).collect()
}

/// `jobcd sync --target kube` of `repo` as the holder of `kubeconfig`.
fn sync(
    repo: &JobsRepo,
    kubeconfig: &Path,
    namespace: &str,
    source: &str,
    extra: &[&str],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", repo.dir.path())
        .env_remove("KUBECONFIG")
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args(["sync", "--target", "kube", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--namespace", namespace, "--ledger-namespace", NAMESPACE])
        .args(["--source", source, "--repo"])
        .arg(repo.path())
        .args(["--path", "jobs"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn installed_chart_lets_jobcd_sync_its_namespaces_and_nothing_else() {
    let cluster = Cluster::start();
    for namespace in [NAMESPACE, "team-a", "team-b", "elsewhere"] {
        let out = cluster.kubectl(&["create", "namespace", namespace]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let repo = JobsRepo::new();
    repo.commit(&[
        ("migrate.yaml", Some(&job("team-a", "migrate", "v1"))),
        ("nightly.yaml", Some(&cronjob("team-a", "nightly"))),
    ]);

    // Install the chart with one source and two managed namespaces.
    let values = repo.dir.path().join("values.yaml");
    std::fs::write(
        &values,
        json!({
            "namespaces": ["team-a", "team-b"],
            "sources": [{"name": "jobs", "repo": repo.path(), "path": "jobs", "interval": "1m",
                "webhookSecretRef": {"name": "jobcd-webhook", "key": "secret"}}],
        })
        .to_string(),
    )
    .unwrap();
    install("install", &cluster.kubeconfig, &values, &[]);
    for (kind, namespace, name) in [
        ("deployment", NAMESPACE, RELEASE),
        ("configmap", NAMESPACE, RELEASE),
        ("service", NAMESPACE, RELEASE),
        ("serviceaccount", NAMESPACE, RELEASE),
        ("role", NAMESPACE, "jobcd-ledger"),
        ("rolebinding", NAMESPACE, "jobcd-ledger"),
        ("role", "team-a", "jobcd-jobs"),
        ("rolebinding", "team-a", "jobcd-jobs"),
        ("role", "team-b", "jobcd-jobs"),
        ("rolebinding", "team-b", "jobcd-jobs"),
    ] {
        let found = cluster.json(&["-n", namespace, "get", kind, name]);
        assert_eq!(found["metadata"]["name"], name, "{kind} {namespace}/{name}");
    }
    let deployment = cluster.json(&["-n", NAMESPACE, "get", "deployment", RELEASE]);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    for kind in ["roles", "rolebindings"] {
        let listed = cluster.json(&["-n", "elsewhere", "get", kind]);
        assert_eq!(listed["items"], json!([]), "{kind} in elsewhere");
    }
    for kind in ["clusterroles", "clusterrolebindings"] {
        let listed = cluster.json(&["get", kind, "-l", "app.kubernetes.io/instance=jobcd"]);
        assert_eq!(listed["items"], json!([]), "{kind}");
    }

    // The chart's ServiceAccount, as jobcd in the pod would be.
    let kubeconfig = repo.dir.path().join("service-account.kubeconfig");
    cluster.account_kubeconfig(NAMESPACE, RELEASE, &kubeconfig);

    // What the API server lets it do: exactly what jobcd uses.
    let batch = lines(&[
        "batch/jobs get",
        "batch/jobs list",
        "batch/jobs watch",
        "batch/jobs create",
        "batch/jobs patch",
        "batch/jobs delete",
        "batch/cronjobs get",
        "batch/cronjobs list",
        "batch/cronjobs watch",
        "batch/cronjobs create",
        "batch/cronjobs patch",
        "batch/cronjobs delete",
        "/configmaps get",
        "/configmaps list",
        "/configmaps watch",
        "/configmaps create",
        "/configmaps patch",
        "/configmaps delete",
        // The dashboard lists a run's pods.
        "/pods list",
    ]);
    assert_eq!(cluster.allowed(&kubeconfig, "team-a"), batch);
    assert_eq!(cluster.allowed(&kubeconfig, "team-b"), batch);
    assert_eq!(
        cluster.allowed(&kubeconfig, NAMESPACE),
        lines(&[
            "/configmaps create",
            "/configmaps/jobcd-ledger-jobs get",
            "/configmaps/jobcd-ledger-jobs patch",
            "coordination.k8s.io/leases create",
            "coordination.k8s.io/leases/jobcd get",
            "coordination.k8s.io/leases/jobcd list",
            "coordination.k8s.io/leases/jobcd patch",
            "coordination.k8s.io/leases/jobcd watch",
        ])
    );
    assert_eq!(cluster.allowed(&kubeconfig, "elsewhere"), BTreeSet::new());

    // jobcd syncs as it: Jobs run, the CronJob is applied, the ledger kept.
    let out = sync(&repo, &kubeconfig, "team-a", "jobs", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Job team-a/migrate: Complete"),
        "{}",
        text(&out)
    );
    let uid = |kind: &str, name: &str| {
        cluster.json(&["-n", "team-a", "get", kind, name])["metadata"]["uid"]
            .as_str()
            .map(str::to_string)
    };
    let first = uid("job", "migrate").expect("the Job exists");
    assert!(uid("cronjob", "nightly").is_some());
    let ledger = cluster.json(&["-n", NAMESPACE, "get", "configmap", "jobcd-ledger-jobs"]);
    let recorded: Vec<&String> = ledger["data"]
        .as_object()
        .expect("a ledger")
        .keys()
        .collect();
    assert!(
        recorded.iter().any(|k| k.starts_with("team-a_migrate_")),
        "{recorded:?}"
    );

    // A change: the dry run (a create with dryRun), then the re-run (delete,
    // wait, apply) and the prune of the CronJob.
    repo.commit(&[
        ("migrate.yaml", Some(&job("team-a", "migrate", "v2"))),
        ("nightly.yaml", None),
    ]);
    let dry = sync(&repo, &kubeconfig, "team-a", "jobs", &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert_eq!(uid("job", "migrate").as_deref(), Some(first.as_str()));
    let out = sync(&repo, &kubeconfig, "team-a", "jobs", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let second = uid("job", "migrate").expect("the Job ran again");
    assert_ne!(second, first);
    cluster.wait_for("the CronJob to be pruned", || {
        uid("cronjob", "nightly").is_none()
    });

    // `jobcd serve` with the configuration the chart installed, as the pod
    // runs it: it takes the leader Lease, syncs, and hands the Lease back
    // on SIGTERM.
    let holder = |lease: &str| {
        cluster.json(&["-n", NAMESPACE, "get", "lease", lease])["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    serve_as_installed(&cluster, &kubeconfig, &[RELEASE.to_string()], &holder);
    // Sharded (two shards, one Lease each): the Role lets it take both.
    install(
        "upgrade",
        &cluster.kubeconfig,
        &values,
        &["leaderElection.shards=2"],
    );
    let shards: Vec<String> = (0..2)
        .map(|i| jobcd::daemon::shards::lease_name(RELEASE, i))
        .collect();
    serve_as_installed(&cluster, &kubeconfig, &shards, &holder);

    // A source the chart does not configure: its ledger is out of reach.
    let out = sync(&repo, &kubeconfig, "team-a", "other", &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("jobcd-ledger-other"), "{all}");
    assert!(all.contains("forbidden"), "{all}");

    // A namespace the chart does not manage: the API server refuses.
    let stray = JobsRepo::new();
    stray.commit(&[("stray.yaml", Some(&job("elsewhere", "stray", "no")))]);
    let out = sync(&stray, &kubeconfig, "elsewhere", "jobs", &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("forbidden") && all.contains("grant it with RBAC"),
        "not an RBAC refusal: {all}"
    );
    let stray_jobs = cluster.json(&["-n", "elsewhere", "get", "jobs"]);
    assert_eq!(stray_jobs["items"], json!([]));
}

/// Runs `jobcd serve` with the configuration the chart installed, as the
/// pod runs it (only the volumes' paths moved into a temporary directory)
/// and with the pod's credentials: it takes every Lease of `leases`, syncs
/// without a refusal, and hands them back on SIGTERM.
fn serve_as_installed(
    cluster: &Cluster,
    kubeconfig: &Path,
    leases: &[String],
    holder: &dyn Fn(&str) -> String,
) {
    let installed = cluster.json(&["-n", NAMESPACE, "get", "configmap", RELEASE]);
    let pod = tempfile::tempdir().unwrap();
    let secrets = pod.path().join("secrets");
    std::fs::create_dir_all(secrets.join("sources/jobs")).unwrap();
    std::fs::write(secrets.join("sources/jobs/webhook-secret"), "hook").unwrap();
    let config = installed["data"]["jobcd.yaml"]
        .as_str()
        .expect("the installed ConfigMap holds jobcd.yaml")
        .replace("/var/lib/jobcd", pod.path().join("state").to_str().unwrap())
        .replace("/var/run/secrets/jobcd", secrets.to_str().unwrap());
    let config_file = pod.path().join("jobcd.yaml");
    std::fs::write(&config_file, &config).unwrap();
    let pod_name = "jobcd-6f7d9c4b8-x2x9q";
    let mut served = Served::start(
        pod.path(),
        &config_file,
        &[
            ("POD_NAME", pod_name),
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("JOBCD_LISTEN", "127.0.0.1:0"),
        ],
    );
    cluster.wait_for("serve to take the Leases", || {
        leases.iter().all(|l| holder(l) == pod_name)
    });
    let deadline = Instant::now() + PATIENCE;
    while request("GET", &format!("{}/readyz", served.base), &[], b"") != (200, "ready\n".into()) {
        assert!(Instant::now() < deadline, "never synced:\n{}", served.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!served.log().contains("forbidden"), "{}", served.log());
    served.signal(Signal::SIGTERM);
    assert!(served.wait_exit().success(), "{}", served.log());
    cluster.wait_for("the Leases to be handed back", || {
        leases.iter().all(|l| holder(l).is_empty())
    });
}
