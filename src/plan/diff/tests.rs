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
    let changed: Vec<&str> = d
        .user
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
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
