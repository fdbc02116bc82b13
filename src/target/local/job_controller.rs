//! The Job controller's decisions, as a pure function of a Job's spec, its
//! status, its pods and the time (docs/kubernetes-semantics.md §1, which follows the
//! controller's code where its documentation differs).
//!
//! Each [`sync`] looks at the pods as they are now and says which to create
//! and which to delete, updating the status: pods that finished since the
//! last sync are counted once (the controller's finalizer tracking), the
//! pod-failure policy is applied to failures, then in order: a FailJob
//! match, the backoff limit, the active deadline, and finally the pod count
//! (`manageJob`). Ending is two-step, as since Kubernetes 1.31: an interim
//! condition (`FailureTarget` or `SuccessCriteriaMet`) is set and the
//! remaining pods deleted; the terminal `Failed` or `Complete`, with the
//! same reason and message, follows once no pod is left.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::saturating::shifted;
use k8s_openapi::api::batch::v1::JobSpec;

/// `backoffLimit` when unset.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
/// First delay before re-creating pods after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Longest such delay: `MaxJobPodFailureBackOff` in the controller's code
/// (its documentation still says six minutes).
pub const BACKOFF_CAP: Duration = Duration::from_secs(600);

/// The parts of a Job spec the controller acts on, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Successful pods (or indexes) needed; None: a work queue, done at the first success.
    pub completions: Option<i32>,
    /// Pods at once.
    pub parallelism: i32,
    /// `completionMode: Indexed`.
    pub indexed: bool,
    /// Retries before the Job fails.
    pub backoff_limit: i32,
    /// `restartPolicy: OnFailure` (containers restart in place) rather than Never.
    pub on_failure_restart: bool,
    /// `activeDeadlineSeconds`.
    pub active_deadline: Option<i64>,
    /// `suspend`.
    pub suspend: bool,
    /// `podFailurePolicy` rules.
    pub failure_rules: Vec<FailureRule>,
    /// Base of the retry delay (10 s; tests may scale it down).
    pub backoff_base: Duration,
}

/// What a matching pod-failure rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Fail the whole Job now.
    FailJob,
    /// Do not count the failure.
    Ignore,
    /// Count it as usual.
    Count,
}

/// A `podFailurePolicy` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRule {
    /// Its index among the policy's rules.
    pub index: usize,
    /// What to do on a match.
    pub action: RuleAction,
    /// What a failed pod must show to match.
    pub on: Matcher,
}

/// What a `podFailurePolicy` rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// `onExitCodes`: a container (any, or the named one) that exited with
    /// a code `In` (or `NotIn`) the list.
    ExitCodes {
        container: Option<String>,
        in_values: bool,
        values: Vec<i32>,
    },
    /// `onPodConditions`: a condition the pod has, as (type, status). The
    /// only condition a local pod can have is `DisruptionTarget=True`: jobcd
    /// stopped it at shutdown (`TerminationByKubelet`) or lost it
    /// (`DeletionByPodGC`), as a node's shutdown or the pod garbage
    /// collector would.
    Conditions(Vec<(String, String)>),
}

impl Spec {
    /// Reads a Job spec, applying the API server's defaults (§1.1). Fails on
    /// what the local executor does not do, naming the field.
    pub fn from_job(spec: &JobSpec) -> Result<Spec, String> {
        if spec.backoff_limit_per_index.is_some() {
            return Err("spec.backoffLimitPerIndex: per-index backoff is not supported by the local executor yet".into());
        }
        if spec.success_policy.is_some() {
            return Err(
                "spec.successPolicy: success policies are not supported by the local executor yet"
                    .into(),
            );
        }
        let (completions, parallelism) = match (spec.completions, spec.parallelism) {
            (None, None) => (Some(1), 1),
            (c, p) => (c, p.unwrap_or(1)),
        };
        let mut failure_rules = Vec::new();
        for (i, rule) in spec
            .pod_failure_policy
            .iter()
            .flat_map(|p| &p.rules)
            .enumerate()
        {
            let action = match rule.action.as_str() {
                "FailJob" => RuleAction::FailJob,
                "Ignore" => RuleAction::Ignore,
                "Count" => RuleAction::Count,
                other => {
                    return Err(format!(
                        "spec.podFailurePolicy.rules[{i}].action: {other} is not supported by the local executor"
                    ));
                }
            };
            let on = match (&rule.on_exit_codes, &rule.on_pod_conditions) {
                (Some(codes), _) => Matcher::ExitCodes {
                    container: codes.container_name.clone(),
                    in_values: codes.operator == "In",
                    values: codes.values.clone(),
                },
                (None, Some(patterns)) => Matcher::Conditions(
                    patterns
                        .iter()
                        .map(|p| {
                            let status = if p.status.is_empty() {
                                "True"
                            } else {
                                p.status.as_str()
                            };
                            (p.type_.clone(), status.to_owned())
                        })
                        .collect(),
                ),
                (None, None) => continue,
            };
            failure_rules.push(FailureRule {
                index: i,
                action,
                on,
            });
        }
        let restart = spec
            .template
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref());
        Ok(Spec {
            completions,
            parallelism,
            indexed: spec.completion_mode.as_deref() == Some("Indexed"),
            backoff_limit: spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT),
            on_failure_restart: restart == Some("OnFailure"),
            active_deadline: spec.active_deadline_seconds,
            suspend: spec.suspend.unwrap_or(false),
            failure_rules,
            backoff_base: BACKOFF_BASE,
        })
    }
}

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// Created, containers not all started.
    Pending,
    /// Containers running (with OnFailure, possibly restarting).
    Running,
    /// All containers exited 0.
    Succeeded,
    /// A container failed (with Never), or the pod was lost.
    Failed,
}

/// A pod of the Job as the executor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Unique id of the pod.
    pub id: u64,
    /// `namespace/name`, for messages.
    pub name: String,
    /// Completion index (Indexed Jobs).
    pub index: Option<i32>,
    /// Phase.
    pub phase: Phase,
    /// Container restarts so far (OnFailure).
    pub restarts: i32,
    /// Exit codes of terminated containers: (container, code).
    pub exits: Vec<(String, i32)>,
    /// When it finished.
    pub finished: Option<Timestamp>,
    /// Being stopped by the executor at the controller's request (such pods
    /// are never counted as failures).
    pub terminating: bool,
    /// It has the condition `DisruptionTarget=True`: stopped at jobcd's
    /// shutdown, or lost with its supervisor.
    pub disrupted: bool,
}

/// Condition types, named as Kubernetes names them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ConditionType {
    /// Interim: the Job will fail once its pods are gone.
    FailureTarget,
    /// Interim: the Job will complete once its pods are gone.
    SuccessCriteriaMet,
    /// Terminal failure.
    Failed,
    /// Terminal success.
    Complete,
    /// Suspended (true) or resumed.
    Suspended,
}

/// A status condition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Condition {
    /// Which.
    pub kind: ConditionType,
    /// True or false.
    pub status: bool,
    /// CamelCase reason, e.g. `BackoffLimitExceeded`.
    pub reason: String,
    /// Human message.
    pub message: String,
    /// Last transition.
    pub at: Timestamp,
}

/// A Job's status as the controller keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Set on the first unsuspended sync, reset on resume.
    pub start_time: Option<Timestamp>,
    /// Set on Complete.
    pub completion_time: Option<Timestamp>,
    /// Pods not finished.
    pub active: i32,
    /// Succeeded pods (distinct succeeded indexes for Indexed Jobs).
    pub succeeded: i32,
    /// Failed pods counted against the backoff limit.
    pub failed: i32,
    /// Succeeded indexes of an Indexed Job.
    pub completed_indexes: BTreeSet<i32>,
    /// Conditions, in the order they were added.
    pub conditions: Vec<Condition>,
    /// Pods already counted (the controller's tracking finalizer).
    pub counted: BTreeSet<u64>,
    /// Failures since the last success, for the retry delay. The controller
    /// keeps it in memory, so its restart forgets it; here it is stored with
    /// the status and survives jobcd's restart (a wait never cut short).
    pub failures_after_success: u32,
    /// When the latest counted failure happened.
    pub last_failure: Option<Timestamp>,
}

impl Status {
    /// The condition of a type, if true.
    pub fn condition(&self, kind: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind && c.status)
    }

    /// The terminal condition (Complete or Failed), once there is one.
    pub fn terminal(&self) -> Option<&Condition> {
        self.condition(ConditionType::Complete)
            .or_else(|| self.condition(ConditionType::Failed))
    }

    /// Whether the Job has finished (Complete or Failed).
    pub fn finished(&self) -> bool {
        self.terminal().is_some()
    }

    /// Marks the Job failed for a reason of jobcd's own (its run could
    /// not go on), as the Job controller marks a Job failed.
    pub(crate) fn fail(&mut self, reason: &str, message: &str, now: Timestamp) {
        self.set(ConditionType::Failed, true, reason, message, now);
    }

    fn set(
        &mut self,
        kind: ConditionType,
        status: bool,
        reason: &str,
        message: &str,
        now: Timestamp,
    ) {
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(c) if c.status == status => {}
            Some(c) => {
                *c = Condition {
                    kind,
                    status,
                    reason: reason.into(),
                    message: message.into(),
                    at: now,
                };
            }
            None => self.conditions.push(Condition {
                kind,
                status,
                reason: reason.into(),
                message: message.into(),
                at: now,
            }),
        }
    }
}

/// What the executor must do after a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    /// Pods to create: one per entry, with its completion index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    /// Pods to stop and delete (never counted as failures).
    pub delete: Vec<u64>,
    /// Sync again at this time even if no pod changes (a retry delay or a deadline).
    pub requeue_at: Option<Timestamp>,
}

/// Pods the Job controller creates in one sync, at most
/// (`maxPodCreateDeletePerSync` in its code): `parallelism: 2147483647`
/// asks for more than any machine can start at once.
pub const MAX_CREATE_PER_SYNC: usize = 500;

/// One sync of a Job.
pub fn sync(spec: &Spec, status: &mut Status, pods: &[Pod], now: Timestamp) -> Actions {
    let mut actions = Actions::default();
    if status.finished() {
        return actions;
    }
    let fail_job = count_finished(spec, status, pods);
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|p| matches!(p.phase, Phase::Pending | Phase::Running))
        .collect();
    status.active = live.iter().filter(|p| !p.terminating).count() as i32;
    if !spec.suspend {
        // Resuming restarts the deadline clock, before the deadline is checked.
        if status.condition(ConditionType::Suspended).is_some() {
            status.set(
                ConditionType::Suspended,
                false,
                "JobResumed",
                "Job resumed",
                now,
            );
            status.start_time = Some(now);
        }
        status.start_time.get_or_insert(now);
    }

    // Failure and success criteria, in the controller's order.
    let interim_set = status.condition(ConditionType::FailureTarget).is_some()
        || status
            .condition(ConditionType::SuccessCriteriaMet)
            .is_some();
    if !interim_set {
        if let Some(message) = fail_job {
            status.set(
                ConditionType::FailureTarget,
                true,
                "PodFailurePolicy",
                &message,
                now,
            );
        } else if exceeds_backoff_limit(spec, status, &live) {
            status.set(
                ConditionType::FailureTarget,
                true,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            );
        } else if past_deadline(spec, status, now) {
            status.set(
                ConditionType::FailureTarget,
                true,
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
                now,
            );
        }
    }

    let finishing = status.condition(ConditionType::FailureTarget).is_some()
        || status
            .condition(ConditionType::SuccessCriteriaMet)
            .is_some();
    if !finishing {
        manage(spec, status, &live, now, &mut actions);
    }
    if complete(spec, status, &live) && status.condition(ConditionType::FailureTarget).is_none() {
        status.set(
            ConditionType::SuccessCriteriaMet,
            true,
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        );
    }
    let finishing_now = [
        ConditionType::FailureTarget,
        ConditionType::SuccessCriteriaMet,
    ]
    .into_iter()
    .find_map(|k| status.condition(k).cloned());
    if let Some(interim) = finishing_now {
        actions.create.clear();
        actions.requeue_at = None;
        actions.delete = live
            .iter()
            .filter(|p| !p.terminating)
            .map(|p| p.id)
            .collect();
        if live.is_empty() {
            let terminal = match interim.kind {
                ConditionType::FailureTarget => ConditionType::Failed,
                _ => ConditionType::Complete,
            };
            status.set(terminal, true, &interim.reason, &interim.message, now);
            if terminal == ConditionType::Complete {
                status.completion_time = Some(now);
            }
        }
    }
    actions
}

/// Counts pods that finished since the last sync; returns the FailJob
/// message if a rule says so.
fn count_finished(spec: &Spec, status: &mut Status, pods: &[Pod]) -> Option<String> {
    let mut fail_job = None;
    let mut new_failures: Vec<Timestamp> = Vec::new();
    let mut latest_success: Option<Timestamp> = None;
    for pod in pods {
        if !matches!(pod.phase, Phase::Succeeded | Phase::Failed)
            || pod.terminating
            || status.counted.contains(&pod.id)
        {
            continue;
        }
        status.counted.insert(pod.id);
        let at = pod.finished.unwrap_or(Timestamp::UNIX_EPOCH);
        if pod.phase == Phase::Succeeded {
            match (spec.indexed, pod.index) {
                (true, Some(i)) => {
                    status.completed_indexes.insert(i);
                    status.succeeded = status.completed_indexes.len() as i32;
                }
                _ => status.succeeded += 1,
            }
            latest_success = latest_success.max(Some(at));
            continue;
        }
        match matching_rule(spec, pod) {
            Some((RuleAction::Ignore, _)) => continue,
            Some((RuleAction::FailJob, Matched::ExitCode(i, container, code))) => {
                fail_job.get_or_insert(format!(
                    "Container {container} for pod {} failed with exit code {code} matching FailJob rule at index {i}",
                    pod.name
                ));
            }
            Some((RuleAction::FailJob, Matched::Condition(i))) => {
                fail_job.get_or_insert(format!(
                    "Pod {} has condition DisruptionTarget matching FailJob rule at index {i}",
                    pod.name
                ));
            }
            _ => {}
        }
        status.failed += 1;
        new_failures.push(at);
    }
    if let Some(success) = latest_success {
        // A success resets the count to the failures that came after it.
        status.failures_after_success =
            new_failures.iter().filter(|t| **t > success).count() as u32;
    } else {
        status.failures_after_success += new_failures.len() as u32;
    }
    if let Some(latest) = new_failures.iter().max() {
        status.last_failure = status.last_failure.max(Some(*latest));
    }
    fail_job
}

/// The first rule matching a failed pod: (action, (rule index, container, code)).
fn matching_rule<'p>(spec: &Spec, pod: &'p Pod) -> Option<(RuleAction, Matched<'p>)> {
    for rule in &spec.failure_rules {
        match &rule.on {
            Matcher::ExitCodes {
                container: only,
                in_values,
                values,
            } => {
                // Only containers that exited non-zero are considered, even
                // by NotIn.
                for (container, code) in pod.exits.iter().filter(|(_, code)| *code != 0) {
                    if only.as_deref().is_some_and(|c| c != container) {
                        continue;
                    }
                    if values.contains(code) == *in_values {
                        return Some((
                            rule.action,
                            Matched::ExitCode(rule.index, container.as_str(), *code),
                        ));
                    }
                }
            }
            Matcher::Conditions(patterns) => {
                let disruption = patterns
                    .iter()
                    .any(|(kind, status)| kind == "DisruptionTarget" && status == "True");
                if pod.disrupted && disruption {
                    return Some((rule.action, Matched::Condition(rule.index)));
                }
            }
        }
    }
    None
}

/// Why a rule matched, for the FailJob message.
#[derive(Debug, Clone, Copy)]
enum Matched<'p> {
    /// (rule index, container, exit code).
    ExitCode(usize, &'p str, i32),
    /// (rule index): the pod's DisruptionTarget condition.
    Condition(usize),
}

fn exceeds_backoff_limit(spec: &Spec, status: &Status, live: &[&Pod]) -> bool {
    if status.failed > spec.backoff_limit {
        return true;
    }
    if spec.on_failure_restart {
        // Restarts of running containers count too; note ≥ here, not >.
        let restarts: i32 = live.iter().map(|p| p.restarts).sum();
        return if spec.backoff_limit == 0 {
            restarts > 0
        } else {
            restarts >= spec.backoff_limit
        };
    }
    false
}

fn past_deadline(spec: &Spec, status: &Status, now: Timestamp) -> bool {
    match (spec.active_deadline, status.start_time) {
        (Some(secs), Some(start)) if !spec.suspend => {
            now.duration_since(start) >= SignedDuration::from_secs(secs)
        }
        _ => false,
    }
}

fn complete(spec: &Spec, status: &Status, live: &[&Pod]) -> bool {
    match (spec.completions, spec.indexed) {
        (None, _) => status.succeeded > 0 && live.is_empty(),
        (Some(c), true) => (0..c).all(|i| status.completed_indexes.contains(&i)),
        (Some(c), false) => status.succeeded >= c && live.is_empty(),
    }
}

/// `manageJob`: suspend, start time, surplus pods, missing pods, retry delay.
fn manage(spec: &Spec, status: &mut Status, live: &[&Pod], now: Timestamp, actions: &mut Actions) {
    if spec.suspend {
        if status.condition(ConditionType::Suspended).is_none() {
            status.set(
                ConditionType::Suspended,
                true,
                "JobSuspended",
                "Job suspended",
                now,
            );
        }
        actions.delete = live
            .iter()
            .filter(|p| !p.terminating)
            .map(|p| p.id)
            .collect();
        return;
    }
    if let (Some(secs), Some(start)) = (spec.active_deadline, status.start_time) {
        actions.requeue_at = Some(shifted(start, SignedDuration::from_secs(secs)));
    }
    let running: Vec<&&Pod> = live.iter().filter(|p| !p.terminating).collect();
    let want = match (spec.completions, spec.indexed) {
        // A work queue: once one pod has succeeded no new pods start, and
        // the running ones are left to finish.
        (None, _) if status.succeeded > 0 => return,
        (None, _) => spec.parallelism,
        (Some(c), true) => spec
            .parallelism
            .min(c - status.completed_indexes.len() as i32),
        (Some(c), false) => spec.parallelism.min(c - status.succeeded),
    }
    .max(0);
    let have = running.len() as i32;
    if have > want {
        // Surplus: the newest (least advanced) go first.
        let mut ids: Vec<u64> = running.iter().map(|p| p.id).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        actions
            .delete
            .extend(ids.into_iter().take((have - want) as usize));
        return;
    }
    if have == want {
        return;
    }
    if status.failures_after_success > 0
        && let Some(last) = status.last_failure
    {
        let exponent = status.failures_after_success.saturating_sub(1).min(20);
        let delay = spec
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(BACKOFF_CAP);
        let ready = shifted(
            last,
            SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX),
        );
        if now < ready {
            actions.requeue_at = Some(actions.requeue_at.map_or(ready, |r| r.min(ready)));
            return;
        }
    }
    // The controller creates at most this many pods per sync
    // (maxPodCreateDeletePerSync); the next sync creates more.
    let missing = ((want - have) as usize).min(MAX_CREATE_PER_SYNC);
    if spec.indexed {
        let busy: BTreeSet<i32> = running.iter().filter_map(|p| p.index).collect();
        let completions = spec.completions.unwrap_or(0);
        actions.create = (0..completions)
            .filter(|i| !status.completed_indexes.contains(i) && !busy.contains(i))
            .take(missing)
            .map(Some)
            .collect();
    } else {
        actions.create = vec![None; missing];
    }
}

#[cfg(test)]
mod tests;
