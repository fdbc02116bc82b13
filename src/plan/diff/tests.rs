//! Diffs show the user's edit, and jobcd's metadata apart from it.

use super::*;
use crate::plan::{Desired, Ledger, Live};
use crate::plan::{Policy, plan};

fn desired(command: &str, revision: &str) -> Desired {
    let yaml = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: a}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: x\n        command: [sh, -c, {command:?}]\n"
    );
    let object = crate::testing::objects("jobs/a.yaml", &yaml).remove(0);
    crate::testing::desired(object, "prod", revision)
}

/// The lines of a unified diff that add or remove, headers left out.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect()
}

fn live(d: &Desired) -> Live {
    crate::testing::live(d, Some("prod"))
}

#[test]
fn a_changed_job_shows_the_changed_line_and_jobcds_metadata_apart() {
    let old = desired("echo one", "r1");
    let new = desired("echo two", "r2");
    let lives = [live(&old)];
    let plan = plan(
        "prod",
        std::slice::from_ref(&new),
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    let d = diff(&plan.steps()[0]).expect("a rerun has a diff");
    assert!(d.user.starts_with("--- live\n+++ desired\n"), "{}", d.user);
    assert!(
        d.user.contains("\n-  - echo one\n") || d.user.contains("-        - echo one"),
        "{}",
        d.user
    );
    let changed = changed_lines(&d.user);
    assert_eq!(
        changed.len(),
        2,
        "only the command line changes: {changed:?}"
    );
    assert!(
        !d.user.contains("jobcd.dev"),
        "jobcd's metadata is not in the user's diff"
    );
    let keys: Vec<&str> = d.jobcd.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(keys, ["jobcd.dev/revision", "jobcd.dev/spec-hash"]);
    assert_eq!(d.jobcd[0].1.as_deref(), Some("r1"));
    assert_eq!(d.jobcd[0].2.as_deref(), Some("r2"));
}

#[test]
fn a_new_object_is_all_additions_and_an_unchanged_one_has_no_diff() {
    let new = desired("echo one", "r1");
    let plan = plan(
        "prod",
        std::slice::from_ref(&new),
        &[],
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    let d = diff(&plan.steps()[0]).unwrap();
    assert!(
        d.user.starts_with("--- /dev/null\n+++ desired\n"),
        "{}",
        d.user
    );
    assert!(d.user.contains("+kind: Job\n"), "{}", d.user);
    let lives = [live(&new)];
    let same = crate::plan::plan(
        "prod",
        std::slice::from_ref(&new),
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert!(diff(&same.steps()[0]).is_none());
}

#[test]
fn a_reverted_object_on_a_cluster_shows_only_what_drifted() {
    // On a cluster, the live manifest is the part jobcd's field manager
    // owns: no type, the namespace the server filled in, and no command
    // once `kubectl edit` took it over; the whole object has the new one.
    let d = desired("echo one", "r1");
    let mut taken = live(&d);
    let mut owned: Value = serde_json::from_str(&taken.manifest).unwrap();
    let map = owned.as_object_mut().unwrap();
    map.remove("apiVersion");
    map.remove("kind");
    owned["metadata"]["namespace"] = Value::from("default");
    let container = &mut owned["spec"]["template"]["spec"]["containers"][0];
    container.as_object_mut().unwrap().remove("command");
    let mut whole = owned.clone();
    whole["spec"]["template"]["spec"]["containers"][0]["command"] =
        serde_json::json!(["sh", "-c", "echo edited"]);
    whole["spec"]["backoffLimit"] = Value::from(6);
    taken.manifest = owned.to_string();
    taken.observed = Some(whole.to_string());
    let policy = Policy {
        correct_drift: true,
        ..Policy::default()
    };
    let lives = [taken];
    let plan = plan(
        "prod",
        std::slice::from_ref(&d),
        &lives,
        &Ledger::default(),
        &policy,
    )
    .unwrap();
    let step = &plan.steps()[0];
    assert_eq!(step.action, Action::Revert, "{}", step.reason);
    let shown = diff(step).expect("a revert has a diff").user;
    let changed = changed_lines(&shown);
    assert_eq!(
        changed,
        ["-        - echo edited", "+        - echo one"],
        "{shown}"
    );
}
