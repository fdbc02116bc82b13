//! `jobcd validate` against the real kube-apiserver, as the schedule oracle
//! checks schedules against robfig/cron: generated Jobs, CronJobs (real
//! pod templates, each with one field changed in one rule family) and ConfigMaps (see
//! support/pod_gen.rs) are judged by jobcd and by a server-side dry run
//! with strict field validation on the test control plane. The verdicts
//! must agree, and for a rejection the field jobcd names must be one the
//! server names (or lie on its path).
//!
//! `JOBCD_ORACLE_SEED` and `JOBCD_ORACLE_CASES` explore further:
//!   JOBCD_ORACLE_SEED=7 JOBCD_ORACLE_CASES=20000 cargo test --test validate_oracle

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::kube_cluster::Cluster;
use support::pod_gen::{Case, cases};

/// Cases compared on every run.
const CASES: usize = 2_000;
const SEED: u64 = 2026;
/// The namespace the dry runs are made in.
const NAMESPACE: &str = "oracle";

/// How one side judged a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// Rejected, naming these fields.
    Invalid(Vec<String>),
}

/// The server's verdict on each document: a dry run of its creation.
fn server_verdicts(cluster: &Cluster, docs: &[Value]) -> Vec<(Verdict, String, Vec<String>)> {
    let kubeconfig = cluster.kubeconfig.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        let mut out = vec![(Verdict::Valid, String::new(), Vec::new()); docs.len()];
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
        for (i, doc) in docs.iter().enumerate() {
            let (client, doc, permits) = (client.clone(), doc.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                (i, dry_run(&client, &doc).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, verdict) = done.unwrap();
            out[i] = verdict;
        }
        out
    })
}

async fn dry_run(client: &kube::Client, doc: &Value) -> (Verdict, String, Vec<String>) {
    let (path, plural) = match doc["kind"].as_str() {
        Some("CronJob") => ("apis/batch/v1", "cronjobs"),
        Some("ConfigMap") => ("api/v1", "configmaps"),
        _ => ("apis/batch/v1", "jobs"),
    };
    let request = http::Request::post(format!(
        "/{path}/namespaces/{NAMESPACE}/{plural}?dryRun=All&fieldValidation=Strict&fieldManager=oracle"
    ))
    .header("content-type", "application/json")
    .body(kube::client::Body::from(doc.to_string().into_bytes()))
    .unwrap();
    let response = client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("the API server did not answer a dry run: {e}"));
    // Warning headers: `299 - "the text"`.
    let warnings: Vec<String> = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|w| w.to_str().ok())
        .map(|w| {
            w.trim_start_matches("299 - ")
                .trim_matches('"')
                .replace("\\\"", "\"")
        })
        .collect();
    let ok = response.status().is_success();
    let body = response.into_body().collect_bytes().await.unwrap();
    if ok {
        return (Verdict::Valid, String::new(), warnings);
    }
    let status: kube::core::Status = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not a Status: {e}: {}", String::from_utf8_lossy(&body)));
    let fields = status
        .details
        .as_ref()
        .map(|d| d.causes.iter().map(|c| c.field.clone()).collect())
        .unwrap_or_default();
    (Verdict::Invalid(fields), status.message.clone(), warnings)
}

/// jobcd's verdict on each document, and the fields it warns about:
/// `validate -o json` of a tree holding them, one file each.
fn jobcd_verdicts(docs: &[Value]) -> Vec<(Verdict, String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    for (i, doc) in docs.iter().enumerate() {
        // JSON is YAML: each file is the document exactly as sent.
        std::fs::write(dir.path().join(format!("{i:05}.yaml")), doc.to_string()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["validate", "-o", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("validate -o json: {e}: {out:?}"));
    let mut errors: BTreeMap<usize, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut warnings: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for d in report["diagnostics"].as_array().unwrap() {
        let file = d["file"].as_str().unwrap_or_default();
        let Some(i) = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<usize>().ok())
        else {
            continue;
        };
        let field = d["field"].as_str().unwrap_or_default().to_owned();
        if d["severity"] == "error" {
            let entry = errors.entry(i).or_default();
            entry.0.push(field);
            entry
                .1
                .push(d["message"].as_str().unwrap_or_default().to_owned());
        } else {
            warnings.entry(i).or_default().push(field);
        }
    }
    (0..docs.len())
        .map(|i| {
            let warned = warnings.remove(&i).unwrap_or_default();
            match errors.remove(&i) {
                None => (Verdict::Valid, String::new(), warned),
                Some((fields, messages)) => (Verdict::Invalid(fields), messages.join("; "), warned),
            }
        })
        .collect()
}

/// A field as the server names it, written as jobcd writes it: a map key
/// `[key]` becomes `.key` when it is a plain word, else `["key"]`.
fn as_jobcd_writes(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let key = &rest[open + 1..open + close];
        if key.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
            out.push_str(&format!("[{key}]"));
        } else if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.push_str(&format!(".{key}"));
        } else {
            out.push_str(&format!("[{key:?}]"));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a field jobcd names is one the server names: the same path, or
/// one of them within the other (the server names a list where jobcd names
/// its item, or the other way round). A server rejection naming no field
/// (a decoding error) or the whole object (`[]`: a ConfigMap too large)
/// matches any.
fn same_place(ours: &[String], theirs: &[String]) -> bool {
    let theirs: Vec<String> = theirs
        .iter()
        .filter(|f| !f.is_empty() && *f != "[]")
        .map(|f| as_jobcd_writes(f))
        .collect();
    theirs.is_empty()
        || ours.iter().any(|o| {
            theirs.iter().any(|t| {
                let (a, b) = (o.as_str(), t.as_str());
                let within = |x: &str, y: &str| {
                    x == y || x.starts_with(&format!("{y}.")) || x.starts_with(&format!("{y}["))
                };
                // The server names some fields of a list's item without
                // the item's index (`volumeMounts.subPath`).
                within(a, b) || within(b, a) || within(&unindexed(a), &unindexed(b))
            })
        })
}

/// `field` without its list indexes.
fn unindexed(field: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for c in field.chars() {
        match c {
            '[' => skipping = true,
            ']' if skipping => skipping = false,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// Differences that are deliberate, with the reason; a disagreement that
/// is one is reported but does not fail the test.
fn deliberate(case: &Case) -> Option<&'static str> {
    // An extended resource (nvidia.com/gpu) must be a whole number. The API
    // server tells by multiplying the value by 1000 in 64 bits, so above
    // about 9.2e15 its answer depends on how the overflow wraps (2^63-1 and
    // 100Ei pass, 99999999999999999999 does not). jobcd says no for every
    // such value: nobody has 9.2e15 GPUs.
    let extended = ["nvidia.com/gpu", "example.com/foo_bar", "example.com/x"]
        .iter()
        .any(|r| case.change.contains(&format!("{r} = ")));
    let huge = [
        "\"9223372036854775807\"",
        "\"99999999999999999999\"",
        "\"100Ei\"",
    ]
    .iter()
    .any(|v| case.change.ends_with(v));
    (["resources", "extras"].contains(&case.family) && extended && huge)
        .then_some("a whole number above 9.2e15 of an extended resource: the server's answer is an int64 overflow artefact")
}

#[test]
fn server_fields_are_compared_as_jobcd_writes_them() {
    assert_eq!(
        as_jobcd_writes("spec.containers[0].resources.limits[hugepages-2Mi]"),
        "spec.containers[0].resources.limits[\"hugepages-2Mi\"]"
    );
    assert_eq!(as_jobcd_writes("a.limits[cpu]"), "a.limits.cpu");
    let f = |s: &str| vec![s.to_owned()];
    assert!(same_place(&f("a.b[0].c"), &f("a.b")));
    assert!(same_place(
        &f("a.volumeMounts[1].subPath"),
        &f("a.volumeMounts.subPath")
    ));
    assert!(!same_place(&f("a.b[0].c"), &f("a.d")));
}

#[test]
fn validate_agrees_with_the_api_server_on_generated_pod_templates() {
    let seed = std::env::var("JOBCD_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let n = std::env::var("JOBCD_ORACLE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    let generated = cases(seed, n);
    let docs: Vec<Value> = generated.iter().map(|c| c.doc.clone()).collect();

    let cluster = Cluster::start();
    let created = cluster.kubectl(&["create", "namespace", NAMESPACE]);
    assert!(created.status.success(), "{created:?}");
    let theirs = server_verdicts(&cluster, &docs);
    let ours = jobcd_verdicts(&docs);

    let mut tally: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut excused = Vec::new();
    for (i, case) in generated.iter().enumerate() {
        let (server, why, server_warnings) = &theirs[i];
        let (jobcd, said, jobcd_warnings) = &ours[i];
        // Every warning the server gives (`FIELD: text`), jobcd gives too.
        for w in server_warnings {
            let field = w.split(": ").next().unwrap_or_default().to_owned();
            if !same_place(jobcd_warnings, std::slice::from_ref(&field)) {
                problems.push(format!(
                    "case {i} [{}] {}: the server warns {w:?}; jobcd warns about {jobcd_warnings:?}",
                    case.family, case.change
                ));
            }
        }
        let counts = tally.entry(case.family).or_default();
        counts[usize::from(*server != Verdict::Valid)] += 1;
        let agree = match (server, jobcd) {
            (Verdict::Valid, Verdict::Valid) => true,
            (Verdict::Invalid(t), Verdict::Invalid(o)) => same_place(o, t),
            _ => false,
        };
        if agree {
            continue;
        }
        counts[2] += 1;
        let line = format!(
            "case {i} [{}] {}: server {server:?} ({why}); jobcd {jobcd:?} ({said})",
            case.family, case.change
        );
        match deliberate(case) {
            Some(reason) => excused.push(format!("{line} — deliberate: {reason}")),
            None => problems.push(line),
        }
    }
    eprintln!("seed {seed}, {n} documents; per family [valid, invalid, disagreements]:");
    for (family, counts) in &tally {
        eprintln!("  {family}: {counts:?}");
    }
    for line in &excused {
        eprintln!("{line}");
    }
    // Every family is tried with values both sides accept and values the
    // server refuses.
    for (family, counts) in &tally {
        assert!(
            counts[0] > 0 && counts[1] > 0,
            "family {family} needs both valid and invalid cases: {counts:?}"
        );
    }
    assert!(
        problems.is_empty(),
        "{} of {n} documents judged differently (seed {seed}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
