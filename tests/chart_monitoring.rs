//! The chart's monitoring and health parts, checked with the real tools:
//! the ServiceMonitor, PrometheusRule, PodDisruptionBudget and
//! NetworkPolicy render only when asked and pass kubeconform in strict mode
//! (the Prometheus Operator's kinds against the schemas vendored in
//! tests/schemas); the alert rules pass `promtool check rules` and the unit
//! tests of every alert in tests/prometheus/rules-test.yaml (`promtool test
//! rules`); notification receivers reach jobcd's configuration with their
//! Secrets mounted where it reads them; and the README's values table is
//! the one values.yaml's comments make.

// Shared with tests/chart.rs, which uses all of it.
#[allow(dead_code)]
#[path = "support/chart_tools.rs"]
mod chart_tools;
#[path = "support/chart_yaml.rs"]
mod chart_yaml;
mod support;

use std::path::Path;
use std::process::Command;

use chart_tools::{RELEASE, Rendered, chart_dir, ci_values, text};
use jobcd::config::{self, SecretRef};
use serde_json::{Value, json};
use support::values_table;

const SOURCE: &str = "sources[0].name=jobs,sources[0].repo=https://example.com/j.git";

/// The kinds each option adds.
const OPTIONS: &[(&str, &str)] = &[
    ("metrics.serviceMonitor.enabled=true", "ServiceMonitor"),
    ("metrics.prometheusRule.enabled=true", "PrometheusRule"),
    ("networkPolicy.enabled=true", "NetworkPolicy"),
    ("replicaCount=2", "PodDisruptionBudget"),
];

fn kinds(rendered: &Rendered) -> Vec<String> {
    rendered
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn assert_valid(label: &str, rendered: &Rendered) {
    let out = chart_tools::kubeconform(&rendered.text);
    let n = rendered.objects.len();
    assert!(
        text(&out).contains(&format!("Valid: {n}, Invalid: 0, Errors: 0, Skipped: 0")),
        "{label}: {}",
        text(&out)
    );
}

#[test]
fn each_monitoring_object_renders_only_when_asked_and_is_valid() {
    let plain = Rendered::of(&[], &[SOURCE]);
    for (_, kind) in OPTIONS {
        assert!(
            !kinds(&plain).contains(&kind.to_string()),
            "{kind} by default"
        );
    }
    for (set, kind) in OPTIONS {
        let rendered = Rendered::of(&[], &[SOURCE, set]);
        let found = kinds(&rendered);
        let extra: Vec<&String> = found
            .iter()
            .filter(|k| OPTIONS.iter().any(|(_, o)| o == k))
            .collect();
        assert_eq!(extra, [kind], "{set}");
        assert_valid(set, &rendered);
    }
    // A budget is for replicas: not with one, nor when turned off.
    let off = Rendered::of(
        &[],
        &[
            SOURCE,
            "replicaCount=2",
            "podDisruptionBudget.enabled=false",
        ],
    );
    assert!(off.all("PodDisruptionBudget").is_empty());

    let full = Rendered::of(&[&ci_values("full-values.yaml")], &[]);
    let service = full.one("Service", RELEASE);
    let monitor = full.one("ServiceMonitor", RELEASE);
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"]
    );
    assert_eq!(
        monitor["spec"]["endpoints"],
        json!([{"port": "http", "path": "/metrics", "interval": "1m", "scrapeTimeout": "10s", "honorLabels": true}])
    );
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let budget = full.one("PodDisruptionBudget", RELEASE);
    assert_eq!(budget["spec"]["maxUnavailable"], 1);
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"]
    );
    let policy = &full.one("NetworkPolicy", RELEASE)["spec"];
    assert_eq!(
        policy["podSelector"]["matchLabels"],
        service["spec"]["selector"]
    );
    assert_eq!(
        policy["ingress"][0]["ports"],
        json!([{"port": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        policy["ingress"][0]["from"].as_array().map(Vec::len),
        Some(2)
    );
    let egress = policy["egress"].as_array().unwrap();
    assert_eq!(
        egress[0]["ports"][0],
        json!({"port": 53, "protocol": "UDP"}),
        "DNS"
    );
    assert_eq!(
        egress[1],
        json!({"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}]}),
        "the API server"
    );
    assert_eq!(
        egress.len(),
        4,
        "DNS, the API server and the values' two rules"
    );
}

#[test]
fn receivers_and_health_rules_reach_jobcds_configuration_with_their_secrets() {
    let full = Rendered::of(&[&ci_values("full-values.yaml")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobcd.yaml");
    std::fs::write(&file, full.config_text()).unwrap();
    let config = config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.health.interval.as_secs(), 15);
    assert_eq!(config.health.policy.stale_periods, 3);
    let names: Vec<&str> = config
        .notifications
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(names, ["ops", "chat", "hook"]);
    let chat = &config.notifications[1];
    assert_eq!(
        chat.url_secret,
        Some(SecretRef::File(
            "/var/run/secrets/jobcd/notifications/chat/url".into()
        ))
    );
    let hook = &config.notifications[2];
    assert_eq!(
        hook.secret,
        Some(SecretRef::File(
            "/var/run/secrets/jobcd/notifications/hook/secret".into()
        ))
    );
    // The Deployment mounts each of them where the configuration says.
    let deployment = full.one("Deployment", RELEASE);
    let volumes = &deployment["spec"]["template"]["spec"]["volumes"];
    let projected = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "secrets")
        .expect("the secrets volume");
    let sources = projected["projected"]["sources"].to_string();
    for want in [
        json!({"secret": {"name": "jobcd-slack", "items": [{"key": "url", "path": "notifications/chat/url"}]}}),
        json!({"secret": {"name": "jobcd-hook", "items": [{"key": "hmac", "path": "notifications/hook/secret"}]}}),
    ] {
        let found = projected["projected"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| {
                s["secret"]["name"] == want["secret"]["name"]
                    && s["secret"]["items"] == want["secret"]["items"]
            });
        assert!(found, "{want} in {sources}");
    }

    let refused = |set: &[&str], why: &str| {
        let out = chart_tools::template(&[], set);
        assert!(!out.status.success(), "{set:?} rendered");
        assert!(text(&out).contains(why), "{set:?}: {}", text(&out));
    };
    refused(
        &[
            SOURCE,
            "notifications[0].name=chat,notifications[0].kind=slack,notifications[0].url=https://hooks.slack.com/x",
        ],
        "give urlSecretRef",
    );
    refused(
        &[
            SOURCE,
            "notifications[0].name=a,notifications[0].kind=webhook",
        ],
        "give url or urlSecretRef",
    );
    refused(
        &[
            SOURCE,
            "notifications[0].name=a,notifications[0].kind=webhook,notifications[0].url=http://x,notifications[1].name=a,notifications[1].kind=webhook,notifications[1].url=http://y",
        ],
        "\"a\" is named twice",
    );
    refused(
        &[
            SOURCE,
            "notifications[0].name=a,notifications[0].kind=pager,notifications[0].url=http://x",
        ],
        "/notifications/0/kind",
    );
    refused(&[SOURCE, "health.interval=soon"], "/health/interval");
}

/// `promtool ARGS` in `dir`: its exit code and what it said.
fn promtool(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("promtool")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}; run scripts/test-deps"));
    (out.status.code(), text(&out))
}

/// The PrometheusRule's groups as a Prometheus rules file.
fn rules_file(rendered: &Rendered) -> String {
    let rule = rendered.one("PrometheusRule", RELEASE);
    serde_json::to_string_pretty(&rule["spec"]).unwrap()
}

#[test]
fn the_alert_rules_pass_promtool_and_the_unit_tests_of_every_alert() {
    let rendered = Rendered::of(&[], &[SOURCE, "metrics.prometheusRule.enabled=true"]);
    let dir = tempfile::tempdir().unwrap();
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prometheus/rules-test.yaml");
    std::fs::copy(&tests, dir.path().join("rules-test.yaml")).unwrap();
    // A JSON rules file is a YAML rules file.
    let rules = rules_file(&rendered);
    std::fs::write(dir.path().join("rules.yaml"), &rules).unwrap();
    let (code, said) = promtool(dir.path(), &["check", "rules", "rules.yaml"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("SUCCESS: 7 rules found"), "{said}");
    let (code, said) = promtool(dir.path(), &["test", "rules", "rules-test.yaml"]);
    assert_eq!(code, Some(0), "{said}");

    // Every alert the chart ships has a unit test.
    let test_text = std::fs::read_to_string(&tests).unwrap();
    let spec: Value = serde_json::from_str(&rules).unwrap();
    for rule in spec["groups"][0]["rules"].as_array().unwrap() {
        let alert = rule["alert"].as_str().unwrap();
        assert!(
            test_text.contains(&format!("alertname: {alert}\n")),
            "{alert} has no unit test"
        );
    }

    // The tests have teeth: an alert that fires one step late fails them.
    let late = rules.replace("(jobcd_cronjob_missed) > 0", "(jobcd_cronjob_missed) > 1");
    assert_ne!(late, rules);
    std::fs::write(dir.path().join("rules.yaml"), late).unwrap();
    let (code, said) = promtool(dir.path(), &["test", "rules", "rules-test.yaml"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("JobcdCronJobMissed"), "{said}");
}

#[test]
fn the_readmes_values_table_is_generated_from_values_yaml() {
    let values = std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap();
    let tree = chart_yaml::documents(&values).remove(0);
    let rows = values_table::rows(&values, &tree);
    // Every value is documented: by itself or by the key it is under.
    let mut leaves = Vec::new();
    values_table::leaves(&tree, "", &mut leaves);
    for leaf in &leaves {
        let covered = rows
            .iter()
            .any(|r| *leaf == r.path || leaf.starts_with(&format!("{}.", r.path)));
        assert!(covered, "values.yaml: {leaf} has no `# --` comment");
    }
    let table = values_table::markdown(&rows);
    let readme_path = chart_dir().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (begin, end) = ("<!-- values:begin -->\n", "<!-- values:end -->");
    let start = readme.find(begin).expect("a values:begin marker") + begin.len();
    let stop = readme.find(end).expect("a values:end marker");
    if std::env::var_os("JOBCD_UPDATE_CHART_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&readme_path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..stop],
        table,
        "charts/jobcd/README.md's values table is stale: run\n  JOBCD_UPDATE_CHART_README=1 cargo test --test chart_monitoring the_readmes_values_table"
    );
    assert!(
        table.contains("| `health.interval` | `\"30s\"` |"),
        "{table}"
    );
}
