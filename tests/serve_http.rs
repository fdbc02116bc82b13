//! The service's HTTP endpoints over a real loopback socket: webhooks from
//! each forge, signed right, signed wrong and unsigned, and what each one
//! triggers; liveness, readiness and metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod support;

use jobcd::daemon::http::{HookSource, Service, router};
use jobcd::daemon::trigger::{Reason, Trigger};
use support::http::{hmac_hex, request};

const SECRET: &[u8] = b"hook-secret-42";

fn sign(body: &[u8]) -> String {
    hmac_hex(SECRET, body)
}

/// A push to `branch`; each a new push (its `after` differs), as a forge
/// never delivers two identical ones.
fn push_body(branch: &str) -> Vec<u8> {
    static PUSHES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PUSHES.fetch_add(1, Ordering::SeqCst);
    format!(
        r#"{{"ref":"refs/heads/{branch}","after":"{n:040x}","repository":{{"clone_url":"https://github.com/acme/jobs.git","ssh_url":"git@github.com:acme/jobs.git","default_branch":"main"}},"project":{{"git_http_url":"https://github.com/acme/jobs.git","default_branch":"main"}}}}"#
    )
    .into_bytes()
}

#[test]
fn webhooks_trigger_only_when_signed_and_health_reports_readiness() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut trigger = Trigger::new(None);
    let ready = Arc::new(AtomicBool::new(false));
    let leading = Arc::new(AtomicBool::new(true));
    let service = Arc::new(Service {
        sources: vec![
            HookSource {
                name: "jobs".into(),
                repo: jobcd::daemon::webhook::RepositoryKey::of("https://github.com/acme/jobs"),
                reference: None,
                secret: Some(SECRET.to_vec()),
                trigger: trigger.handle(),
            },
            HookSource {
                name: "no-secret".into(),
                repo: jobcd::daemon::webhook::RepositoryKey::of("https://github.com/acme/jobs"),
                reference: None,
                secret: None,
                trigger: Trigger::new(None).handle(),
            },
        ],
        not_ready: Box::new({
            let ready = ready.clone();
            move || {
                if ready.load(Ordering::SeqCst) {
                    Vec::new()
                } else {
                    vec!["source jobs: its first sync has not ended yet".into()]
                }
            }
        }),
        standby: Box::new({
            let leading = leading.clone();
            move || {
                (!leading.load(Ordering::SeqCst))
                    .then_some("another replica holds the leader Lease")
            }
        }),
        owns: Arc::new({
            let leading = leading.clone();
            move |_: &str| leading.load(Ordering::SeqCst)
        }),
        others: "the leader",
        metrics: Box::new(|| "# TYPE jobcd_up gauge\njobcd_up 1\n# EOF\n".into()),
        relay: None,
        deliveries: Default::default(),
    });
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, router(service)).await });

    // The start reconcile is pending; take it so that only hooks remain.
    runtime.block_on(async {
        assert_eq!(trigger.next().await, Reason::Start);
        trigger.done(true);
    });
    // The reason of a reconcile fired within `within`, marked done.
    let mut fired = |within: Duration| {
        runtime.block_on(async {
            let reason = tokio::time::timeout(within, trigger.next()).await.ok();
            if reason.is_some() {
                trigger.done(true);
            }
            reason
        })
    };

    assert_eq!(request("GET", &format!("{base}/healthz"), &[], b"").0, 200);
    assert_eq!(
        request("GET", &format!("{base}/readyz"), &[], b""),
        (
            503,
            "not ready:\nsource jobs: its first sync has not ended yet\n".to_string()
        )
    );
    ready.store(true, Ordering::SeqCst);
    assert_eq!(request("GET", &format!("{base}/readyz"), &[], b"").0, 200);
    let (code, text) = request("GET", &format!("{base}/metrics"), &[], b"");
    assert_eq!(code, 200);
    assert!(text.contains("jobcd_up 1"));

    let hook = format!("{base}/hooks/github");
    let body = push_body("main");
    let event = ("X-GitHub-Event", "push".to_string());

    // Unsigned, and signed with the wrong secret: 401, nothing triggered.
    let (code, _) = request("POST", &hook, std::slice::from_ref(&event), &body);
    assert_eq!(code, 401);
    let wrong = format!("sha256={}", hmac_hex(b"guess", &body));
    let (code, _) = request(
        "POST",
        &hook,
        &[event.clone(), ("X-Hub-Signature-256", wrong)],
        &body,
    );
    assert_eq!(code, 401);
    // A signature for another body does not verify this one.
    let (code, _) = request(
        "POST",
        &hook,
        &[
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(b"other"))),
        ],
        &body,
    );
    assert_eq!(code, 401);
    assert!(
        fired(Duration::from_millis(300)).is_none(),
        "nothing was triggered"
    );

    // Signed right: 202, the source named, its reconcile fires.
    let (code, text) = request(
        "POST",
        &hook,
        &[
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(&body))),
        ],
        &body,
    );
    assert_eq!((code, text.as_str()), (202, "triggered: jobs\n"));
    assert_eq!(fired(Duration::from_secs(5)), Some(Reason::Webhook));

    // Replays trigger nothing: the same delivery again, the same signed
    // body under a new delivery id, a known delivery id on a new body.
    let delivered = push_body("main");
    let signed = |body: &[u8], id: &str| {
        vec![
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(body))),
            ("X-GitHub-Delivery", id.to_string()),
        ]
    };
    let (code, _) = request("POST", &hook, &signed(&delivered, "d-1"), &delivered);
    assert_eq!(code, 202);
    assert_eq!(fired(Duration::from_secs(5)), Some(Reason::Webhook));
    for (id, body) in [
        ("d-1", &delivered),
        ("d-2", &delivered),
        ("d-1", &push_body("main")),
    ] {
        let (code, text) = request("POST", &hook, &signed(body, id), body);
        assert_eq!(code, 200, "{text}");
        assert!(text.contains("was already received"), "{text}");
    }
    assert!(
        fired(Duration::from_millis(300)).is_none(),
        "a replay fired"
    );

    // A body over the limit is refused before it is read whole.
    let huge = vec![b' '; jobcd::daemon::http::HOOK_BODY_LIMIT + 1];
    let (code, _) = request("POST", &hook, &signed(&huge, "d-3"), &huge);
    assert_eq!(code, 413);

    // Another branch: accepted, nothing to do.
    let other = push_body("feature");
    let (code, text) = request(
        "POST",
        &hook,
        &[
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(&other))),
        ],
        &other,
    );
    assert_eq!(code, 202);
    assert!(text.contains("no source follows"), "{text}");
    // A ping: fine, nothing to do.
    let (code, _) = request(
        "POST",
        &hook,
        &[
            ("X-GitHub-Event", "ping".into()),
            ("X-Hub-Signature-256", format!("sha256={}", sign(b"{}"))),
        ],
        b"{}",
    );
    assert_eq!(code, 200);
    assert!(fired(Duration::from_millis(300)).is_none());

    // GitLab's token and Gitea's signature.
    let body = push_body("main");
    let (code, _) = request(
        "POST",
        &format!("{base}/hooks/gitlab"),
        &[
            ("X-Gitlab-Event", "Push Hook".into()),
            (
                "X-Gitlab-Token",
                String::from_utf8(SECRET.to_vec()).unwrap(),
            ),
        ],
        &body,
    );
    assert_eq!(code, 202);
    assert_eq!(fired(Duration::from_secs(5)), Some(Reason::Webhook));
    let (code, _) = request(
        "POST",
        &format!("{base}/hooks/gitlab"),
        &[
            ("X-Gitlab-Event", "Push Hook".into()),
            ("X-Gitlab-Token", "nope".into()),
        ],
        &body,
    );
    assert_eq!(code, 401);
    let body = push_body("main");
    let (code, _) = request(
        "POST",
        &format!("{base}/hooks/gitea"),
        &[
            ("X-Gitea-Event", "push".into()),
            ("X-Gitea-Signature", sign(&body)),
        ],
        &body,
    );
    assert_eq!(code, 202);
    assert_eq!(fired(Duration::from_secs(5)), Some(Reason::Webhook));

    // A standby replica: ready (to take over), a signed push is refused
    // with 503 so that the forge shows it, and nothing fires here.
    leading.store(false, Ordering::SeqCst);
    ready.store(false, Ordering::SeqCst);
    let (code, text) = request("GET", &format!("{base}/readyz"), &[], b"");
    assert_eq!(
        (code, text.as_str()),
        (200, "standby: another replica holds the leader Lease\n")
    );
    let body = push_body("main");
    let (code, text) = request(
        "POST",
        &hook,
        &[
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(&body))),
        ],
        &body,
    );
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("standby"), "{text}");
    // Unsigned is still 401: a standby tells nothing to strangers.
    let (code, _) = request("POST", &hook, std::slice::from_ref(&event), &body);
    assert_eq!(code, 401);
    assert!(fired(Duration::from_millis(300)).is_none());

    // The refused delivery was not remembered as received: redelivered
    // once this replica leads, it is acted on.
    leading.store(true, Ordering::SeqCst);
    let (code, text) = request(
        "POST",
        &hook,
        &[
            event.clone(),
            ("X-Hub-Signature-256", format!("sha256={}", sign(&body))),
        ],
        &body,
    );
    assert_eq!((code, text.as_str()), (202, "triggered: jobs\n"));
    assert_eq!(fired(Duration::from_secs(5)), Some(Reason::Webhook));
}
