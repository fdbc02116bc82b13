use super::*;

const FULL: &str = r#"
apiVersion: jobcd.dev/v1alpha1
kind: Config
listen: 127.0.0.1:9090
stateDir: /var/lib/jobcd
concurrency: 2
target:
  kind: kube
  context: prod
  namespaces: [batch, reports]
  ledgerNamespace: jobcd
prune:
  allowEmpty: false
  maxPercent: 10
reporters:
  notes: true
  pushNotes: true
  forge:
    kind: github
    tokenEnv: GITHUB_TOKEN
sources:
  - name: jobs
    repo: https://github.com/acme/jobs.git
    ref: main
    path: deploy/jobs
    interval: 2m
    username: bot
    passwordFile: /secrets/git/password
    webhookSecretFile: /secrets/hooks/jobs
  - name: local-jobs
    repo: /srv/jobs
    interval: 0s
correctDrift: false
leaderElection:
  leaseName: jobcd-prod
  leaseDuration: 20s
"#;

#[test]
fn a_full_configuration_reads_into_its_values() {
    let c = parse(FULL, "jobcd.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listen, "127.0.0.1:9090");
    assert_eq!(c.concurrency, 2);
    assert_eq!(
        c.target,
        Target::Kube {
            kubeconfig: None,
            context: Some("prod".into()),
            namespaces: vec!["batch".into(), "reports".into()],
            ledger_namespace: Some("jobcd".into()),
        }
    );
    assert!((c.prune.max_share - 0.10).abs() < 1e-9);
    assert_eq!(
        c.reporters.forge.as_ref().map(|f| &f.token),
        Some(&SecretRef::Env("GITHUB_TOKEN".into()))
    );
    assert_eq!(c.sources.len(), 2);
    assert_eq!(c.sources[0].interval, 120);
    assert_eq!(
        c.sources[0].password,
        Some(SecretRef::File("/secrets/git/password".into()))
    );
    assert_eq!(c.sources[1].interval, 0);
    assert!(!c.correct_drift);
    assert_eq!(
        c.leader_election,
        Some(LeaderElection {
            lease_name: "jobcd-prod".into(),
            lease_duration: 20,
            shards: 1,
        })
    );
}

#[test]
fn leader_election_is_for_clusters_and_sane_durations() {
    let local = problems(
        "target: {kind: local}\nleaderElection: {enabled: true}\nsources:\n- {name: a, repo: /x}\n",
    );
    let local = local.join("\n");
    assert!(
        local.contains("jobcd.yaml:2") && local.contains("needs target kind kube"),
        "{local}"
    );
    let short = problems(
        "target: {kind: kube}\nleaderElection:\n  leaseDuration: 1s\nsources:\n- {name: a, repo: /x}\n",
    );
    let short = short.join("\n");
    assert!(
        short.contains("jobcd.yaml:3") && short.contains("1s is out of range"),
        "{short}"
    );
    let off = parse(
        "target: {kind: local}\nleaderElection: {enabled: false}\nsources:\n- {name: a, repo: /x}\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(off.leader_election, None);
    let defaults = parse(
        "target: {kind: kube}\nleaderElection: {}\nsources:\n- {name: a, repo: /x}\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        defaults.leader_election,
        Some(LeaderElection {
            lease_name: DEFAULT_LEASE_NAME.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            shards: 1,
        })
    );
    let sharded = parse(
        "target: {kind: kube}\nleaderElection: {shards: 4}\nsources:\n- {name: a, repo: /x}\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sharded.leader_election.map(|l| l.shards), Some(4));
    let zero = problems(
        "target: {kind: kube}\nleaderElection:\n  shards: 0\nsources:\n- {name: a, repo: /x}\n",
    )
    .join("\n");
    assert!(
        zero.contains("jobcd.yaml:3")
            && zero.contains("leaderElection.shards")
            && zero.contains("from 1 to 256"),
        "{zero}"
    );
}

#[test]
fn defaults_fill_what_is_left_out() {
    let c = parse(
        "target: {kind: local}\nsources:\n- {name: a, repo: /srv/a}\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listen, DEFAULT_LISTEN);
    assert_eq!(c.concurrency, DEFAULT_CONCURRENCY as usize);
    assert!(c.reporters.notes && c.reporters.forge.is_none());
    assert_eq!(c.sources[0].interval, DEFAULT_INTERVAL);
    assert_eq!(c.prune.max_share, crate::plan::DEFAULT_MAX_PRUNE_SHARE);
    assert!(c.correct_drift);
}

#[test]
fn the_dashboard_is_on_by_default_and_asks_for_what_is_configured() {
    let base = "target: {kind: local}\nsources:\n- {name: a, repo: /srv/a}\n";
    let c = parse(base, "jobcd.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.dashboard, Dashboard::default());
    assert!(c.dashboard.enabled);
    let c = parse(
        &format!(
            "{base}dashboard: {{enabled: false, tokenEnv: T, username: ops, passwordFile: /p}}\n"
        ),
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.dashboard,
        Dashboard {
            enabled: false,
            token: Some(SecretRef::Env("T".into())),
            basic: Some(("ops".into(), SecretRef::File("/p".into()))),
        }
    );
    let found = problems(&format!("{base}dashboard:\n  username: ops\n  tokn: x\n")).join("\n");
    assert!(
        found.contains("jobcd.yaml:6") && found.contains("dashboard.username"),
        "{found}"
    );
    assert!(
        found.contains("basic auth needs both username and passwordFile"),
        "{found}"
    );
    assert!(found.contains("tokn"), "{found}");
}

fn problems(text: &str) -> Vec<String> {
    match parse(text, "jobcd.yaml") {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_problem_is_reported_with_its_line_and_key() {
    let found = problems(
        "listne: :8080\ntarget:\n  kind: cloud\nconcurrency: 0\nsources:\n  - name: Jobs\n    repo: /srv/a\n    interval: soon\n    passwordFile: /a\n    passwordEnv: B\n  - name: b\n",
    );
    let all = found.join("\n");
    for expected in [
        "jobcd.yaml:1",
        "unknown key \"listne\"",
        "did you mean \"listen\"",
        "jobcd.yaml:3",
        "\"cloud\" is not a target",
        "jobcd.yaml:4",
        "from 1 to 64",
        "jobcd.yaml:6",
        "\"Jobs\" is not a valid source name",
        "jobcd.yaml:8",
        "\"soon\" is not a duration",
        "not both",
        "repo is required",
    ] {
        assert!(all.contains(expected), "{expected:?} in:\n{all}");
    }
}

#[test]
fn duplicates_missing_parts_and_syntax_are_errors() {
    let twice =
        problems("target: {kind: local}\nsources:\n- {name: a, repo: /x}\n- {name: a, repo: /y}\n");
    assert!(twice.join("\n").contains("defined twice"), "{twice:?}");
    let empty = problems("target: {kind: local}\nsources: []\n");
    assert!(empty.join("\n").contains("sources is empty"), "{empty:?}");
    let none = problems("listen: ':1'\n");
    let none = none.join("\n");
    assert!(
        none.contains("target is required") && none.contains("sources is required"),
        "{none}"
    );
    let token = problems(
        "target: {kind: local}\nreporters:\n  forge: {kind: github}\nsources:\n- {name: a, repo: /x}\n",
    );
    assert!(
        token
            .join("\n")
            .contains("tokenFile or tokenEnv is required"),
        "{token:?}"
    );
    let syntax = problems("target: [\n");
    assert!(syntax.join("\n").contains("invalid YAML"), "{syntax:?}");
    let typed = problems(
        "target: {kind: local}\nconcurrency: \"3\"\nsources:\n- {name: a, repo: /x, interval: [1]}\n",
    );
    let typed = typed.join("\n");
    assert!(
        typed.contains("expected a whole number") && typed.contains("expected a duration"),
        "{typed}"
    );
    let dup_key =
        problems("target: {kind: local}\ntarget: {kind: kube}\nsources:\n- {name: a, repo: /x}\n");
    assert!(!dup_key.is_empty());
}

#[test]
fn the_example_configurations_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/serve");
    for name in ["jobcd-local.yaml", "jobcd-cluster.yaml"] {
        load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_source_names_how_it_is_rendered() {
    let text = "target: {kind: local}\nsources:\n  - {name: a, repo: /srv/a}\n  - {name: b, repo: /srv/b, render: kustomize}\n  - {name: c, repo: /srv/c, render: plain}\n  - {name: d, repo: /srv/d, render: helm, helmValues: [env/prod.yaml], helmSet: [image=x], helmRelease: billing, helmNamespace: batch, allowSecrets: true}\n";
    let config = parse(text, "jobcd.yaml").expect("valid");
    let renders: Vec<crate::source::render::Render> =
        config.sources.iter().map(|s| s.render).collect();
    use crate::source::render::Render;
    assert_eq!(
        renders,
        [Render::Auto, Render::Kustomize, Render::Plain, Render::Helm]
    );
    assert_eq!(config.sources[3].helm.files, ["env/prod.yaml"]);
    assert_eq!(config.sources[3].helm.set, ["image=x"]);
    assert_eq!(config.sources[3].helm.release.as_deref(), Some("billing"));
    assert_eq!(config.sources[3].helm.namespace.as_deref(), Some("batch"));
    // A chart that renders a Secret needs it said: they are refused otherwise.
    let allowed: Vec<bool> = config.sources.iter().map(|s| s.allow_secrets).collect();
    assert_eq!(allowed, [false, false, false, true]);
    let wrong =
        problems("target: {kind: local}\nsources:\n  - {name: a, repo: /srv/a, render: jsonnet}\n");
    assert!(
        wrong
            .iter()
            .any(|p| p.contains("sources[0].render") && p.contains("\"jsonnet\" is not a renderer")),
        "{wrong:?}"
    );
}

#[test]
fn the_local_target_takes_its_runtime_and_what_pods_may_use() {
    let c = parse(
        "target:\n  kind: local\n  runtime: podman\n  hostPaths: [/srv/data]\n  allowPrivileged: true\nsources:\n- {name: a, repo: /srv/a}\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let Target::Local(settings) = c.target else {
        panic!("a local target: {:?}", c.target);
    };
    assert_eq!(
        settings.runtime,
        crate::target::local::ContainerRuntime::Podman
    );
    assert_eq!(settings.allowed.host_paths, [PathBuf::from("/srv/data")]);
    assert!(settings.allowed.privileged);
    let default = parse(
        "target: {kind: local}\nsources:\n- {name: a, repo: /x}\n",
        "jobcd.yaml",
    )
    .unwrap();
    assert_eq!(default.target, Target::Local(Default::default()));
    let wrong =
        problems("target:\n  kind: local\n  runtime: rkt\nsources:\n- {name: a, repo: /x}\n")
            .join("\n");
    assert!(
        wrong.contains("jobcd.yaml:3")
            && wrong.contains("unknown runtime \"rkt\": use process, podman or docker"),
        "{wrong}"
    );
}

#[test]
fn health_rules_and_receivers_read_with_secrets_kept_out_of_the_file() {
    let text = r#"
target: {kind: local}
sources: [{name: a, repo: /srv/a}]
health:
  interval: 10s
  grace: 2m
  stalePeriods: 3
  suspendedMaxAge: 0s
notifications:
  - name: am
    kind: alertmanager
    url: http://alertmanager:9093
    resend: 30s
  - name: chat
    kind: slack
    urlEnv: SLACK_WEBHOOK_URL
    events: [missed, stale]
  - name: hook
    kind: webhook
    url: https://hooks.example/jobcd
    secretFile: /secrets/hook
    events: [failed, recovered]
"#;
    let c = parse(text, "jobcd.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.health.interval, std::time::Duration::from_secs(10));
    assert_eq!(c.health.policy.grace, std::time::Duration::from_secs(120));
    assert_eq!(c.health.policy.stale_periods, 3);
    assert_eq!(c.health.policy.suspended_max_age, None, "0s: never too old");
    let [am, chat, hook] = c.notifications.as_slice() else {
        panic!("{:?}", c.notifications)
    };
    use crate::health::track::Kind;
    use crate::report::notify::Format;
    assert_eq!((am.format, am.resend.as_secs()), (Format::Alertmanager, 30));
    assert_eq!(am.events.len(), Kind::ALL.len(), "every kind by default");
    assert!(am.recovered);
    assert_eq!(
        chat.url_secret,
        Some(SecretRef::Env("SLACK_WEBHOOK_URL".into()))
    );
    assert_eq!(
        chat.events.iter().copied().collect::<Vec<_>>(),
        [Kind::Missed, Kind::Stale]
    );
    assert!(!chat.recovered);
    assert_eq!(hook.secret, Some(SecretRef::File("/secrets/hook".into())));
    assert!(hook.recovered);

    let found = problems(
        "target: {kind: local}\nsources: [{name: a, repo: /srv/a}]\nnotifications:\n  - name: chat\n    kind: slack\n    url: https://hooks.slack.com/services/T/B/X\n  - name: chat\n    kind: pager\n    url: ftp://x\n    events: [late]\n  - name: w\n    kind: webhook\n    url: http://x\n    resend: 1m\n",
    );
    let want = [
        "jobcd.yaml:6: notifications[0].url: a Slack webhook URL is a secret",
        "jobcd.yaml:7: notifications[1].name: receiver \"chat\" is defined twice",
        "jobcd.yaml:8: notifications[1].kind: \"pager\" is not a kind of receiver",
        "jobcd.yaml:9: notifications[1].url: \"ftp://x\" is not an http:// or https:// URL",
        "jobcd.yaml:10: notifications[1].events: \"late\" is not a kind of CronJob trouble",
        "jobcd.yaml:14: notifications[2].resend: only Alertmanager alerts are sent again",
    ];
    for want in want {
        let want = format!("error: {want}");
        assert!(
            found.iter().any(|f| f.starts_with(&want)),
            "{want}\nin {found:#?}"
        );
    }
}

#[test]
fn trust_reads_signature_checks_namespaces_and_service_accounts() {
    let c = parse(
        "target: {kind: kube, namespaces: [a, b]}\nsources:\n  - name: jobs\n    repo: /srv/a\n    verify:\n      mode: both\n      keyFiles: [/keys/team.asc, /keys/allowed_signers]\n    namespaces: [b]\n    serviceAccount: {namespace: b, name: deployer}\n  - name: open\n    repo: /srv/b\n",
        "jobcd.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let jobs = &c.sources[0];
    assert_eq!(
        jobs.verify,
        Some(Verify {
            mode: crate::source::verify::Mode::Both,
            key_files: vec!["/keys/team.asc".into(), "/keys/allowed_signers".into()],
        })
    );
    assert_eq!(jobs.tenancy.namespaces, Some(vec!["b".to_string()]));
    assert_eq!(
        jobs.tenancy
            .service_account
            .as_ref()
            .map(ServiceAccount::user),
        Some("system:serviceaccount:b:deployer".to_string())
    );
    assert_eq!(c.sources[1].verify, None);
    assert_eq!(c.sources[1].tenancy, Tenancy::default());

    let all = problems(
        "target: {kind: kube, namespaces: [a]}\nsources:\n  - name: jobs\n    repo: /srv/a\n    verify: {mode: HEAD}\n    namespaces: [a, c]\n    serviceAccount: {name: x}\n",
    )
    .join("\n");
    for expected in [
        "jobcd.yaml:5: sources[0].verify.mode",
        "is not a signature mode",
        "keyFiles is required",
        "jobcd.yaml:6: sources[0].namespaces",
        "namespace \"c\" is not among target.namespaces (a)",
        "sources[0].serviceAccount.namespace: namespace is required",
    ] {
        assert!(all.contains(expected), "{expected:?} in:\n{all}");
    }
    let all = problems(
        "target: {kind: local}\nsources:\n  - name: jobs\n    repo: /srv/a\n    namespaces: [a]\n",
    )
    .join("\n");
    assert!(
        all.contains("jobcd.yaml:5") && all.contains("the local target has no other identity"),
        "{all}"
    );
}
