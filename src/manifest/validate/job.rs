//! A Job's spec, standalone or as a CronJob's `jobTemplate.spec`
//! (docs/kubernetes-semantics.md §1.2).

use k8s_openapi::api::batch::v1::{JobSpec, PodFailurePolicy, SuccessPolicy};

use std::collections::BTreeMap;

use super::{At, Findings, pod, selector};

/// Limit on parallelism of Indexed Jobs and on maxFailedIndexes.
const INDEXED_MAX: i32 = 100_000;
/// Rules allowed in podFailurePolicy and successPolicy.
const MAX_RULES: usize = 20;

/// Whose spec this is; a CronJob's template has stricter selector rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner<'a> {
    /// A Job, with its name.
    Job(&'a str),
    CronJob,
}

/// The labels the API server puts on a Job's pods, whose values it chooses
/// (the Job's uid, the Job's name).
const UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];
const NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];

pub(super) fn spec(f: &mut Findings<'_>, spec: &JobSpec, base: &str, owner: Owner<'_>) {
    let at = |field: &str| format!("{base}.{field}");
    f.non_negative(At(base, "parallelism"), spec.parallelism.map(i64::from));
    f.non_negative(At(base, "completions"), spec.completions.map(i64::from));
    f.non_negative(
        At(base, "activeDeadlineSeconds"),
        spec.active_deadline_seconds,
    );
    f.non_negative(At(base, "backoffLimit"), spec.backoff_limit.map(i64::from));
    f.non_negative(
        At(base, "ttlSecondsAfterFinished"),
        spec.ttl_seconds_after_finished.map(i64::from),
    );
    f.non_negative(
        At(base, "backoffLimitPerIndex"),
        spec.backoff_limit_per_index.map(i64::from),
    );
    f.non_negative(
        At(base, "maxFailedIndexes"),
        spec.max_failed_indexes.map(i64::from),
    );
    f.one_of(
        At(base, "completionMode"),
        spec.completion_mode.as_deref(),
        &["NonIndexed", "Indexed"],
    );
    f.one_of(
        At(base, "podReplacementPolicy"),
        spec.pod_replacement_policy.as_deref(),
        &["Failed", "TerminatingOrFailed"],
    );

    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if indexed {
        match spec.completions {
            None => f.error(
                at("completions"),
                "required when completionMode is Indexed",
                Some("set completions to the number of indexes"),
            ),
            Some(c) => {
                if let Some(m) = spec.max_failed_indexes.filter(|m| *m > c) {
                    f.error(
                        at("maxFailedIndexes"),
                        format!("{m} is more than completions ({c})"),
                        None,
                    );
                }
            }
        }
        if let Some(p) = spec.parallelism.filter(|p| *p > INDEXED_MAX) {
            f.error(
                at("parallelism"),
                format!("{p} is more than {INDEXED_MAX}, the limit for Indexed Jobs"),
                None,
            );
        }
        if let Some(m) = spec.max_failed_indexes.filter(|m| *m > INDEXED_MAX) {
            f.error(
                at("maxFailedIndexes"),
                format!("{m} is more than {INDEXED_MAX}"),
                None,
            );
        }
    } else {
        for (field, set) in [
            (
                "backoffLimitPerIndex",
                spec.backoff_limit_per_index.is_some(),
            ),
            ("maxFailedIndexes", spec.max_failed_indexes.is_some()),
            ("successPolicy", spec.success_policy.is_some()),
        ] {
            if set {
                f.error(
                    at(field),
                    "only allowed when completionMode is Indexed",
                    Some("set completionMode: Indexed or remove the field"),
                );
            }
        }
    }
    if spec.max_failed_indexes.is_some() && spec.backoff_limit_per_index.is_none() {
        f.error(
            at("maxFailedIndexes"),
            "requires backoffLimitPerIndex",
            None,
        );
    }

    let restart = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref());
    if let Some(policy) = &spec.pod_failure_policy {
        let containers: Vec<&str> = spec
            .template
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .map(|c| c.name.as_str())
            .collect();
        pod_failure_policy(
            f,
            policy,
            &at("podFailurePolicy"),
            spec.backoff_limit_per_index.is_some(),
            &containers,
        );
        if restart.is_some_and(|r| r != "Never") {
            f.error(
                at("template.spec.restartPolicy"),
                "must be Never when podFailurePolicy is set",
                None,
            );
        }
        if spec.pod_replacement_policy.as_deref() == Some("TerminatingOrFailed") {
            f.error(
                at("podReplacementPolicy"),
                "must be Failed when podFailurePolicy is set",
                None,
            );
        }
    }
    if spec.backoff_limit_per_index.is_some() && restart.is_some_and(|r| r != "Never") {
        f.error(
            at("template.spec.restartPolicy"),
            "must be Never when backoffLimitPerIndex is set",
            None,
        );
    }
    if let Some(policy) = &spec.success_policy {
        success_policy(f, policy, &at("successPolicy"), spec.completions);
    }

    match owner {
        Owner::CronJob => {
            if spec.selector.is_some() {
                f.error(
                    at("selector"),
                    "not allowed in a CronJob's jobTemplate",
                    Some("remove it; the Job controller generates the selector"),
                );
            }
            if spec.manual_selector == Some(true) {
                f.error(
                    at("manualSelector"),
                    "may not be true in a CronJob's jobTemplate",
                    None,
                );
            }
        }
        Owner::Job(_) if spec.manual_selector == Some(true) => manual_selector(f, spec, base),
        Owner::Job(name) => generated_selector(f, spec, base, name),
    }
    if let Some(manager) = spec.managed_by.as_deref()
        && manager != "kubernetes.io/job-controller"
    {
        f.warning(
            at("managedBy"),
            format!("managed by {manager:?}: on a cluster the built-in Job controller leaves it to that controller; jobcd's local executor runs it itself"),
            None,
        );
    }
    pod::template(f, &spec.template, &at("template"));
}

fn manual_selector(f: &mut Findings<'_>, spec: &JobSpec, base: &str) {
    let Some(selector) = &spec.selector else {
        f.error(
            format!("{base}.selector"),
            "required when manualSelector is true",
            None,
        );
        return;
    };
    let labels = template_labels(spec);
    if !selector::selects(selector, &labels) {
        f.error(
            format!("{base}.template.metadata.labels"),
            "`selector` does not match template `labels`",
            Some(
                "with manualSelector: true, give the pod template the labels the selector selects",
            ),
        );
    }
}

/// Without manualSelector, the API server adds the uid to the selector and
/// the uid and name labels to the template: a selector of its own may only
/// select those, and the template may not give them other values.
fn generated_selector(f: &mut Findings<'_>, spec: &JobSpec, base: &str, name: &str) {
    let labels = template_labels(spec);
    for key in NAME_LABELS {
        if let Some(value) = labels.get(key).filter(|v| *v != name) {
            f.error(
                crate::manifest::path::join_key(&format!("{base}.template.metadata.labels"), key),
                format!("{key}={value:?} must be the Job's name, {name:?}"),
                Some("remove the label: the API server sets it"),
            );
        }
    }
    for key in UID_LABELS {
        if labels.contains_key(key) {
            f.error(
                crate::manifest::path::join_key(&format!("{base}.template.metadata.labels"), key),
                format!("{key} must be the Job's uid, which the API server chooses"),
                Some("remove the label: the API server sets it"),
            );
        }
    }
    let Some(selector) = &spec.selector else {
        return;
    };
    // The uid is unknown before creation: no value given here can be it.
    let generated: BTreeMap<String, String> = UID_LABELS
        .iter()
        .map(|k| ((*k).to_owned(), "\0uid".to_owned()))
        .chain(
            NAME_LABELS
                .iter()
                .map(|k| ((*k).to_owned(), name.to_owned())),
        )
        .collect();
    if !selector::selects(selector, &generated) {
        f.error(
            format!("{base}.selector"),
            "`selector` not auto-generated: without manualSelector it may select only the job-name and controller-uid labels the API server sets",
            Some("remove the selector (the API server generates one from the Job's uid), or set manualSelector: true"),
        );
    }
}

fn template_labels(spec: &JobSpec) -> BTreeMap<String, String> {
    spec.template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn pod_failure_policy(
    f: &mut Findings<'_>,
    policy: &PodFailurePolicy,
    base: &str,
    per_index: bool,
    containers: &[&str],
) {
    if policy.rules.len() > MAX_RULES {
        f.error(
            format!("{base}.rules"),
            format!(
                "{} rules; at most {MAX_RULES} are allowed",
                policy.rules.len()
            ),
            None,
        );
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let at = format!("{base}.rules[{i}]");
        f.one_of(
            At(&at, "action"),
            Some(&rule.action),
            &["FailJob", "Ignore", "Count", "FailIndex"],
        );
        if rule.action == "FailIndex" && !per_index {
            f.error(
                format!("{at}.action"),
                "FailIndex requires backoffLimitPerIndex",
                None,
            );
        }
        match (&rule.on_exit_codes, &rule.on_pod_conditions) {
            (Some(_), Some(_)) | (None, None) => f.error(
                at.clone(),
                "exactly one of onExitCodes and onPodConditions must be set",
                None,
            ),
            (Some(codes), None) => {
                let at = format!("{at}.onExitCodes");
                if let Some(name) = codes.container_name.as_deref()
                    && !containers.contains(&name)
                {
                    f.error(
                        format!("{at}.containerName"),
                        format!("{name:?} must be one of the container or initContainer names in the pod template"),
                        Some(&format!("the pod has: {}", containers.join(", "))),
                    );
                }
                f.one_of(At(&at, "operator"), Some(&codes.operator), &["In", "NotIn"]);
                let values = &codes.values;
                if values.is_empty() || values.len() > 255 {
                    f.error(
                        format!("{at}.values"),
                        "must list between 1 and 255 exit codes",
                        None,
                    );
                }
                if !values.windows(2).all(|w| w[0] < w[1]) {
                    f.error(
                        format!("{at}.values"),
                        "must be unique and in ascending order",
                        None,
                    );
                }
                if codes.operator == "In" && values.contains(&0) {
                    f.error(
                        format!("{at}.values"),
                        "may not contain 0 with operator In",
                        Some("a container that exits 0 succeeded"),
                    );
                }
            }
            (None, Some(patterns)) => {
                if patterns.is_empty() || patterns.len() > MAX_RULES {
                    f.error(
                        format!("{at}.onPodConditions"),
                        format!("must list between 1 and {MAX_RULES} patterns"),
                        None,
                    );
                }
            }
        }
    }
}

fn success_policy(
    f: &mut Findings<'_>,
    policy: &SuccessPolicy,
    base: &str,
    completions: Option<i32>,
) {
    if policy.rules.is_empty() || policy.rules.len() > MAX_RULES {
        f.error(
            format!("{base}.rules"),
            format!("must have between 1 and {MAX_RULES} rules"),
            None,
        );
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        let at = format!("{base}.rules[{i}]");
        if rule.succeeded_count.is_none() && rule.succeeded_indexes.is_none() {
            f.error(
                at.clone(),
                "set succeededIndexes, succeededCount or both",
                None,
            );
        }
        let mut listed = None;
        if let Some(indexes) = &rule.succeeded_indexes {
            match interval_count(indexes, completions.unwrap_or(i32::MAX)) {
                Ok(n) => listed = Some(n),
                Err(e) => f.error(
                    format!("{at}.succeededIndexes"),
                    e,
                    Some("write ascending indexes and ranges such as \"0,2-4\""),
                ),
            }
        }
        if let Some(count) = rule.succeeded_count {
            let most = listed.or(completions.map(i64::from)).unwrap_or(i64::MAX);
            if count < 1 || i64::from(count) > most {
                f.error(
                    format!("{at}.succeededCount"),
                    format!("must be between 1 and {most}"),
                    None,
                );
            }
        }
    }
}

/// Counts the indexes of an interval list such as `1,3-5`, checking they are
/// ascending, disjoint and below `completions`.
fn interval_count(text: &str, completions: i32) -> Result<i64, String> {
    let mut previous: Option<i64> = None;
    let mut count = 0;
    for part in text.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("{part:?} is not an index or range"))
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || previous.is_some_and(|p| a <= p) {
            return Err(format!("{part:?} is out of order or overlaps"));
        }
        if b >= i64::from(completions) {
            return Err(format!(
                "index {b} is not below completions ({completions})"
            ));
        }
        previous = Some(b);
        count += b - a + 1;
    }
    Ok(count)
}
