use super::*;

fn load_text(text: &str) -> Validation {
    let files = [SourceFile {
        path: "t.yaml".into(),
        bytes: text.as_bytes().to_vec(),
    }];
    load(
        &files,
        &Options {
            strict: false,
            now: Timestamp::UNIX_EPOCH,
            allow_secrets: false,
        },
    )
}

const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: i}]\n";

#[test]
fn manifests_keep_the_written_fields_in_order_and_their_lines() {
    let v = load_text(&format!("# leading comment\n---\n{JOB}"));
    assert!(v.is_valid(), "{:?}", v.diagnostics);
    let m = &v.objects[0].manifest;
    assert_eq!(
        m.json(),
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}"#
    );
    assert_eq!(m.line_of("spec.template.spec.restartPolicy"), 9);
    assert_eq!(
        m.to_json()["spec"]["template"]["spec"]["containers"][0]["image"],
        "i"
    );
}

#[test]
fn list_items_are_objects_with_their_own_lines() {
    let items: String = JOB
        .replace("name: a", "name: b")
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let text = format!("apiVersion: v1\nkind: List\nitems:\n- {}", &items[2..]);
    let v = load_text(&text);
    assert!(v.is_valid(), "{:?}", v.diagnostics);
    assert_eq!(v.objects[0].id.name, "b");
    assert_eq!(v.objects[0].location.line, 4);
    assert_eq!(
        v.objects[0]
            .manifest
            .line_of("spec.template.spec.containers[0].image"),
        11
    );
}

#[test]
fn removed_api_versions_and_kind_typos_are_errors() {
    let v = load_text(&JOB.replace("batch/v1", "batch/v1beta1"));
    assert!(
        v.diagnostics[0]
            .message
            .contains("no matches for kind \"Job\" in version \"batch/v1beta1\""),
        "{:?}",
        v.diagnostics
    );
    for version in ["v1", "batch/v2", "batch/v1beta1"] {
        let v = load_text(&JOB.replace("batch/v1", version));
        assert!(!v.is_valid(), "{version}: {:?}", v.diagnostics);
        assert_eq!(
            v.diagnostics[0].hint.as_deref(),
            Some("use apiVersion: batch/v1")
        );
    }
    let cron = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '@daily'\n  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}\n";
    let v = load_text(cron);
    assert!(
        v.diagnostics[0]
            .message
            .contains("was removed in Kubernetes 1.25"),
        "{:?}",
        v.diagnostics
    );
    assert_eq!(v.diagnostics[0].field.as_deref(), Some("apiVersion"));
    // A Job of another API group is another kind, and ignored.
    let v = load_text(&JOB.replace("batch/v1", "batch.volcano.sh/v1alpha1"));
    assert!(
        v.is_valid() && v.objects.is_empty() && v.ignored.len() == 1,
        "{v:?}"
    );
    let v = load_text(&JOB.replace("kind: Job", "kind: Jbo"));
    assert_eq!(v.diagnostics[0].hint.as_deref(), Some("did you mean Job?"));
}

#[test]
fn loading_two_revisions_at_once_equals_loading_each() {
    let file = |path: &str, text: &str| SourceFile {
        path: path.into(),
        bytes: text.as_bytes().to_vec(),
    };
    let job_b = JOB.replace("name: a", "name: b");
    let first = [
        file("a.yaml", JOB),
        file("b.yaml", &job_b),
        file("gone.yaml", "kind: ["),
    ];
    // a.yaml is shared; b.yaml now defines `a` too (a duplicate across
    // a shared and a changed file); c.yaml is invalid.
    let second = [
        file("a.yaml", JOB),
        file("b.yaml", JOB),
        file("c.yaml", &JOB.replace("Never", "Sometimes")),
    ];
    let options = Options {
        strict: false,
        now: Timestamp::UNIX_EPOCH,
        allow_secrets: false,
    };
    let (x, y) = load_both(&first, &second, &options);
    for (together, alone) in [(x, load(&first, &options)), (y, load(&second, &options))] {
        let ids = |v: &Validation| v.objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        let said = |v: &Validation| {
            v.diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&together), ids(&alone));
        assert_eq!(said(&together), said(&alone));
        assert_eq!(together.files, alone.files);
        assert!(!said(&alone).is_empty(), "the case has problems to compare");
    }
}
