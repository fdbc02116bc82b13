//! Messages and requests for each format, from hand-made notices.

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn notice(change: Change) -> Notice {
    Notice {
        namespace: "default".into(),
        name: "backup".into(),
        source: "main".into(),
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        zone: "Europe/Berlin".into(),
        change,
        at: at("2026-12-06T02:00:20Z"),
        message: "missed the run of 2026-12-06 03:00 Europe/Berlin: no Job was created".into(),
    }
}

fn receiver(format: Format, secret: Option<&str>) -> Receiver {
    Receiver {
        name: "ops".into(),
        format,
        url: "http://127.0.0.1:9/hook".into(),
        secret: secret.map(Secret::new),
        events: Kind::ALL.into_iter().collect(),
        recovered: false,
        resend: DEFAULT_RESEND,
    }
}

/// 2026-12-06T02:00:00Z, 03:00 in Berlin.
const SLOT: Timestamp = Timestamp::constant(1_796_522_400, 0);

const MISSED: Change = Change::Firing(Trouble::Missed {
    last: SLOT,
    count: 1,
});

fn message_of(r: &Receiver, change: Change) -> Message {
    let status = r.status(&notice(change), at("2026-12-06T02:00:30Z"));
    serde_json::from_str(status.payload.as_deref().unwrap()).unwrap()
}

#[test]
fn a_notice_becomes_one_outbox_entry_per_trouble_keyed_by_its_kind() {
    let r = receiver(Format::Webhook, None);
    let status = r.status(&notice(MISSED), at("2026-12-06T02:00:30Z"));
    assert_eq!(status.context, "jobcd/cronjob/default/backup/missed");
    assert_eq!(status.state, State::Failure);
    assert_eq!(status.sha, "0123456789abcdef0123456789abcdef01234567");
    let m = message_of(&r, MISSED);
    assert_eq!((m.event.as_str(), m.state), ("missed", Phase::Firing));
    assert_eq!(m.since, SLOT);
    assert_eq!(SLOT, at("2026-12-06T02:00:00Z"));
    assert_eq!(m.ends_at, None, "only alerts end");
    let resolved = r.status(
        &notice(Change::Resolved(Kind::Missed)),
        at("2026-12-06T02:01:30Z"),
    );
    assert_eq!(resolved.state, State::Success);
    assert!(
        !r.wants(&Change::Resolved(Kind::Missed)),
        "recoveries not selected"
    );
    assert!(r.wants(&MISSED));
    let mut few = receiver(Format::Webhook, None);
    few.events = [Kind::Stale].into_iter().collect();
    assert!(!few.wants(&MISSED));
    let am = receiver(Format::Alertmanager, None);
    assert!(
        am.wants(&Change::Resolved(Kind::Missed)),
        "alerts always resolve"
    );
}

#[test]
fn the_webhook_is_the_message_signed_as_github_signs_its_hooks() {
    let sender = Sender::new(receiver(
        Format::Webhook,
        Some("It's a Secret to Everybody"),
    ));
    let m = message_of(&sender.receiver, MISSED);
    let (url, body, headers) = sender.request(&m);
    assert_eq!(url, "http://127.0.0.1:9/hook");
    assert_eq!(serde_json::from_str::<Message>(&body).unwrap(), m);
    assert!(headers.contains(&("X-Jobcd-Event", "missed".into())));
    // GitHub's documented test vector for X-Hub-Signature-256.
    assert_eq!(
        sign(&Secret::new("It's a Secret to Everybody"), b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let signature = headers
        .iter()
        .find(|(n, _)| *n == "X-Jobcd-Signature-256")
        .map(|(_, v)| v.clone());
    assert_eq!(
        signature,
        Some(sign(
            &Secret::new("It's a Secret to Everybody"),
            body.as_bytes()
        ))
    );
    let unsigned = Sender::new(receiver(Format::Webhook, None));
    assert!(
        unsigned
            .request(&m)
            .2
            .iter()
            .all(|(n, _)| *n != "X-Jobcd-Signature-256")
    );
}

#[test]
fn slack_gets_text_and_alertmanager_an_alert_that_ends() {
    let slack = Sender::new(receiver(Format::Slack, None));
    let m = message_of(&slack.receiver, MISSED);
    let body: serde_json::Value = serde_json::from_str(&slack.request(&m).1).unwrap();
    assert_eq!(
        body["text"],
        ":warning: CronJob *default/backup* (source `main`, `0123456`): missed the run of 2026-12-06 03:00 Europe/Berlin: no Job was created"
    );
    let am = Sender::new(receiver(Format::Alertmanager, Some("tok")));
    let m = message_of(&am.receiver, MISSED);
    assert_eq!(
        m.ends_at,
        Some(at("2026-12-06T02:04:30Z")),
        "four re-sends ahead"
    );
    let (url, body, headers) = am.request(&m);
    assert_eq!(url, "http://127.0.0.1:9/hook/api/v2/alerts");
    assert_eq!(headers, [("Authorization", "Bearer tok".to_string())]);
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts[0]["labels"]["alertname"], "JobcdCronJobMissed");
    assert_eq!(alerts[0]["labels"]["namespace"], "default");
    assert_eq!(alerts[0]["endsAt"], "2026-12-06T02:04:30Z");
    let resolved = message_of(&am.receiver, Change::Resolved(Kind::Missed));
    assert_eq!(
        resolved.ends_at,
        Some(at("2026-12-06T02:00:30Z")),
        "ends now"
    );
    assert_eq!(
        redact("https://hooks.slack.com/services/T0/B0/XYZ"),
        "https://hooks.slack.com/…"
    );
}
