//! Every rule of the plan, on hand-made desired and live objects.

use super::plan as make;
use super::*;

fn job(name: &str, command: &str, annotations: &str) -> Desired {
    desired(&format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [{command}]}}]\n"
    ))
}

fn cronjob(name: &str, schedule: &str) -> Desired {
    desired(&format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n  schedule: '{schedule}'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: x, command: ['true']}}]\n"
    ))
}

fn desired(yaml: &str) -> Desired {
    let object = crate::testing::objects("repo.yaml", yaml).remove(0);
    crate::testing::desired(object, "prod", "r2")
}

use crate::testing::live;

fn actions(plan: &Plan<'_>) -> Vec<(String, Action)> {
    plan.steps
        .iter()
        .map(|s| (s.id.to_string(), s.action))
        .collect()
}

fn step<'a>(plan: &'a Plan<'_>, id: &str) -> &'a Step<'a> {
    plan.steps
        .iter()
        .find(|s| s.id.to_string() == id)
        .unwrap_or_else(|| panic!("no step for {id}"))
}

#[test]
fn new_objects_are_created_and_equal_ones_left_alone() {
    let (a, b) = (job("a", "'true'", ""), cronjob("b", "0 3 * * *"));
    let both = [a.clone(), b.clone()];
    let plan = make("prod", &both, &[], &Ledger::default(), &Policy::default()).unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("CronJob default/b".into(), Action::Create),
            ("Job default/a".into(), Action::Create)
        ],
        "CronJobs first"
    );
    assert_eq!(plan.operations().len(), 2);

    let lives = [live(&a, Some("prod")), live(&b, Some("prod"))];
    let again_desired = [a, b];
    let again = make(
        "prod",
        &again_desired,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert!(!again.has_changes());
    assert!(again.operations().is_empty());
}

#[test]
fn a_changed_cronjob_is_updated_and_a_changed_job_rerun() {
    let (a, b) = (job("a", "'true'", ""), cronjob("b", "0 3 * * *"));
    let lives = [live(&a, Some("prod")), live(&b, Some("prod"))];
    let (a2, b2) = (job("a", "'false'", ""), cronjob("b", "0 4 * * *"));
    let plan_desired = [a2, b2];
    let plan = make(
        "prod",
        &plan_desired,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(step(&plan, "CronJob default/b").action, Action::Update);
    assert_eq!(step(&plan, "Job default/a").action, Action::Rerun);
    assert!(matches!(plan.operations()[1], Operation::Recreate(_)));
}

#[test]
fn on_change_ignore_keeps_a_changed_job_from_running() {
    let a = job("a", "'true'", "");
    let a2 = job("a", "'false'", "jobcd.dev/on-change: ignore");
    let plan_desired = [a2];
    let lives = [live(&a, Some("prod"))];
    let plan = make(
        "prod",
        &plan_desired,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    let s = step(&plan, "Job default/a");
    assert_eq!(s.action, Action::Unchanged);
    assert!(s.reason.contains("on-change: ignore"), "{}", s.reason);
}

#[test]
fn a_spec_that_ran_is_never_run_again_even_when_its_job_is_gone() {
    let a = job("a", "'true'", "");
    let mut ledger = Ledger::default();
    ledger.insert("default", "a", &a.spec_hash, "Complete");
    let gone = make(
        "prod",
        std::slice::from_ref(&a),
        &[],
        &ledger,
        &Policy::default(),
    )
    .unwrap();
    let s = step(&gone, "Job default/a");
    assert_eq!(s.action, Action::Skip);
    assert!(s.reason.contains("already ran (Complete)"), "{}", s.reason);

    // Changed to B, then reverted to A (which ran): A is not run again.
    let b = job("a", "'false'", "");
    let reverted_desired = [a];
    let lives = [live(&b, Some("prod"))];
    let reverted = make(
        "prod",
        &reverted_desired,
        &lives,
        &ledger,
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(step(&reverted, "Job default/a").action, Action::Skip);

    // A new spec runs: bumping jobcd.dev/run is how a user asks for it.
    let bumped = job("a", "'true'", "jobcd.dev/run: '2'");
    let bumped = [bumped];
    let plan = make("prod", &bumped, &[], &ledger, &Policy::default()).unwrap();
    assert_eq!(step(&plan, "Job default/a").action, Action::Create);
}

#[test]
fn objects_jobcd_does_not_own_for_this_source_are_conflicts_left_untouched() {
    let a = job("a", "'true'", "");
    let b = cronjob("b", "0 3 * * *");
    let lives = [live(&a, None), live(&b, Some("staging"))];
    let plan_desired = [a.clone(), b.clone()];
    let plan = make(
        "prod",
        &plan_desired,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    let unmanaged = step(&plan, "Job default/a");
    assert_eq!(unmanaged.action, Action::Conflict);
    assert!(
        unmanaged.reason.contains("not managed by jobcd")
            && unmanaged
                .reason
                .contains("app.kubernetes.io/managed-by=jobcd"),
        "{}",
        unmanaged.reason
    );
    let other = step(&plan, "CronJob default/b");
    assert_eq!(other.action, Action::Conflict);
    assert!(other.reason.contains("\"staging\""), "{}", other.reason);
    assert!(plan.operations().is_empty());

    // Gone from the repository, still not ours to delete.
    let plan_desired = [job("c", "'true'", "")];
    let plan = make(
        "prod",
        &plan_desired,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(actions(&plan), [("Job default/c".into(), Action::Create)]);
}

#[test]
fn objects_that_left_the_repository_are_pruned_unless_kept() {
    let many: Vec<Desired> = (0..8)
        .map(|i| job(&format!("j{i}"), "'true'", ""))
        .collect();
    let kept = job("keep", "'true'", "jobcd.dev/prune: disabled");
    let gone = cronjob("gone", "0 3 * * *");
    let mut lives: Vec<Live> = many.iter().map(|d| live(d, Some("prod"))).collect();
    lives.push(live(&kept, Some("prod")));
    lives.push(live(&gone, Some("prod")));
    let plan = make(
        "prod",
        &many,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(step(&plan, "Job default/keep").action, Action::Keep);
    assert_eq!(step(&plan, "CronJob default/gone").action, Action::Prune);
    assert_eq!(
        plan.steps.last().map(|s| s.action),
        Some(Action::Prune),
        "prunes come last"
    );
}

#[test]
fn an_empty_revision_never_prunes_without_allow_empty() {
    let a = job("a", "'true'", "");
    let lives = [live(&a, Some("prod"))];
    let err = make("prod", &[], &lives, &Ledger::default(), &Policy::default()).unwrap_err();
    assert!(matches!(&err, Refusal::Empty { would_delete } if would_delete.len() == 1));
    let message = err.to_string();
    assert!(
        message.contains("Job default/a") && message.contains("--allow-empty"),
        "{message}"
    );
    let allowed = Policy {
        allow_empty: true,
        ..Policy::default()
    };
    let plan = make("prod", &[], &lives, &Ledger::default(), &allowed).unwrap();
    assert_eq!(plan.count(Action::Prune), 1);
}

#[test]
fn pruning_more_than_the_share_is_refused_naming_every_object() {
    let all: Vec<Desired> = (0..10)
        .map(|i| job(&format!("j{i}"), "'true'", ""))
        .collect();
    let lives: Vec<Live> = all.iter().map(|d| live(d, Some("prod"))).collect();
    // Two of ten (20 %) go: fine.
    let plan_ok = make(
        "prod",
        &all[..8],
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(plan_ok.count(Action::Prune), 2);
    // Three of ten (30 %): refused.
    let err = make(
        "prod",
        &all[..7],
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Refusal::TooMany { managed: 10, .. })
            && ["j7", "j8", "j9", "--force-prune"]
                .iter()
                .all(|w| message.contains(w)),
        "{message}"
    );
    let forced = Policy {
        force_prune: true,
        ..Policy::default()
    };
    assert_eq!(
        make("prod", &all[..7], &lives, &Ledger::default(), &forced)
            .unwrap()
            .count(Action::Prune),
        3
    );
    // One deletion is never a mass deletion, even of two objects.
    let plan_one = make(
        "prod",
        &all[..1],
        &lives[..2],
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(plan_one.count(Action::Prune), 1);
}

#[test]
fn a_field_someone_else_took_over_is_drift_put_back_only_when_asked() {
    let c = cronjob("c", "0 3 * * *");
    // On a cluster, the live manifest is the part jobcd's manager owns:
    // `kubectl edit` of the schedule took that field away.
    let mut taken = live(&c, Some("prod"));
    let mut owned: serde_json::Value = serde_json::from_str(&taken.manifest).unwrap();
    owned["spec"].as_object_mut().unwrap().remove("schedule");
    taken.manifest = owned.to_string();
    let mut whole: serde_json::Value = serde_json::from_str(c.object.manifest.json()).unwrap();
    whole["spec"]["schedule"] = "0 4 * * *".into();
    taken.observed = Some(whole.to_string());
    let wanted = [c];
    let lives = [taken];

    let shown = make(
        "prod",
        &wanted,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap();
    let s = step(&shown, "CronJob default/c");
    assert_eq!(s.action, Action::Drifted);
    assert!(
        s.reason
            .contains("spec.schedule is \"0 4 * * *\" on the cluster, \"0 3 * * *\" in git"),
        "{}",
        s.reason
    );
    assert!(!shown.has_changes() && shown.operations().is_empty());

    let correcting = Policy {
        correct_drift: true,
        ..Policy::default()
    };
    let put_back = make("prod", &wanted, &lives, &Ledger::default(), &correcting).unwrap();
    assert_eq!(step(&put_back, "CronJob default/c").action, Action::Revert);
    assert!(matches!(
        put_back.operations().as_slice(),
        [Operation::Revert(d)] if d.object.id.name == "c"
    ));

    // Fully owned again (after the revert): no drift.
    let owned_again = [live(&wanted[0], Some("prod"))];
    let after = make(
        "prod",
        &wanted,
        &owned_again,
        &Ledger::default(),
        &correcting,
    )
    .unwrap();
    assert_eq!(step(&after, "CronJob default/c").action, Action::Unchanged);
}

#[test]
fn policy_annotations_change_no_spec_and_rerun_no_job() {
    let ran = job("migrate", "'true'", "");
    let lives = [live(&ran, Some("prod"))];
    let mut ledger = Ledger::default();
    ledger.insert("default", "migrate", &ran.spec_hash, "Complete");
    for annotations in ["jobcd.dev/prune: disabled", "jobcd.dev/on-change: ignore"] {
        let annotated = job("migrate", "'true'", annotations);
        assert_eq!(annotated.spec_hash, ran.spec_hash, "{annotations}");
        let desired = [annotated];
        let plan = make("prod", &desired, &lives, &ledger, &Policy::default()).unwrap();
        let step = step(&plan, "Job default/migrate");
        assert_eq!(
            step.action,
            Action::Update,
            "{annotations}: {}",
            step.reason
        );
        assert!(
            step.reason.contains("nothing runs again"),
            "{}",
            step.reason
        );
        assert!(matches!(plan.operations()[..], [Operation::Update(_)]));
    }
    // Once the live object has them, nothing is left to do; removing them
    // again is an update in place too.
    let annotated = job("migrate", "'true'", "jobcd.dev/prune: disabled");
    let annotated_live = [live(&annotated, Some("prod"))];
    let desired = [annotated];
    let plan = make(
        "prod",
        &desired,
        &annotated_live,
        &ledger,
        &Policy::default(),
    )
    .unwrap();
    assert!(!plan.has_changes());
    let desired = [ran.clone()];
    let plan = make(
        "prod",
        &desired,
        &annotated_live,
        &ledger,
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(step(&plan, "Job default/migrate").action, Action::Update);
    // The run annotation is a spec change: that is how a Job is run again.
    let bumped = [job("migrate", "'true'", "jobcd.dev/run: '2'")];
    let plan = make("prod", &bumped, &lives, &ledger, &Policy::default()).unwrap();
    assert_eq!(step(&plan, "Job default/migrate").action, Action::Rerun);
}

#[test]
fn objects_an_older_jobcd_hashed_with_their_policy_annotations_are_not_run_again() {
    let d = job("migrate", "'true'", "jobcd.dev/prune: disabled");
    let legacy = normalize::legacy_spec_hash(&d.object).expect("it has a policy annotation");
    assert_ne!(legacy, d.spec_hash);
    // Live, stamped with the old hash: updated in place to the new one.
    let stamped = Live {
        spec_hash: Some(legacy.clone()),
        ..live(&d, Some("prod"))
    };
    let mut ledger = Ledger::default();
    ledger.insert("default", "migrate", &legacy, "Complete");
    let (desired, lives) = ([d], [stamped]);
    let plan = make("prod", &desired, &lives, &ledger, &Policy::default()).unwrap();
    let step_live = step(&plan, "Job default/migrate");
    assert_eq!(step_live.action, Action::Update, "{}", step_live.reason);
    assert_eq!(step_live.ran.as_deref(), Some("Complete"));
    // Gone from the target (its TTL): the ledger still knows it ran.
    let plan = make("prod", &desired, &[], &ledger, &Policy::default()).unwrap();
    assert_eq!(step(&plan, "Job default/migrate").action, Action::Skip);
}

fn config_map(name: &str, value: &str) -> Desired {
    desired(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{MODE: {value}}}\n"
    ))
}

#[test]
fn generated_config_maps_replaced_by_their_successors_do_not_count_as_mass_deletion() {
    // Four Jobs, each reading its own generated ConfigMap; a commit changes
    // every generator's data: four new names, four old ones pruned (half
    // of the source's objects, above the 25 % share).
    let old: Vec<Desired> = (0..4)
        .map(|i| config_map(&format!("env{i}-d42229gtkh"), "a"))
        .collect();
    let jobs: Vec<Desired> = (0..4)
        .map(|i| job(&format!("j{i}"), "'true'", ""))
        .collect();
    let lives: Vec<Live> = old
        .iter()
        .chain(&jobs)
        .map(|d| live(d, Some("prod")))
        .collect();
    let new: Vec<Desired> = (0..4)
        .map(|i| config_map(&format!("env{i}-mk855kg62t"), "b"))
        .chain(jobs.iter().cloned())
        .collect();
    let plan = make("prod", &new, &lives, &Ledger::default(), &Policy::default()).unwrap();
    assert_eq!(plan.count(Action::Prune), 4);
    assert_eq!(plan.count(Action::Create), 4);
    // The same prunes without successors are a mass deletion.
    let err = make(
        "prod",
        &jobs,
        &lives,
        &Ledger::default(),
        &Policy::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Refusal::TooMany { .. }), "{err}");
    assert_eq!(
        generated_stem("migrate-env-d42229gtkh"),
        Some("migrate-env")
    );
    assert_eq!(generated_stem("settings"), None);
    assert_eq!(generated_stem("app-production"), None);
    assert_eq!(generated_stem("-d42229gtkh"), None);
}
