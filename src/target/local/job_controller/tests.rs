//! Scenarios from the Job controller's rules, driven through a small world
//! that creates and deletes pods as the controller asks and lets each test
//! say how pods end and how time passes.

use super::*;

struct World {
    spec: Spec,
    status: Status,
    pods: Vec<Pod>,
    now: Timestamp,
    next_id: u64,
    created: Vec<Option<i32>>,
    max_active: usize,
    last: Actions,
}

impl World {
    fn new(spec: Spec) -> World {
        World {
            spec,
            status: Status::default(),
            pods: Vec::new(),
            now: "2026-01-01T00:00:00Z".parse().unwrap(),
            next_id: 1,
            created: Vec::new(),
            max_active: 0,
            last: Actions::default(),
        }
    }

    /// Syncs and carries out the actions: new pods start running, deleted
    /// pods disappear at once.
    fn sync(&mut self) -> &Actions {
        self.last = sync(&self.spec, &mut self.status, &self.pods, self.now);
        self.pods.retain(|p| !self.last.delete.contains(&p.id));
        for index in self.last.create.clone() {
            self.pods.push(Pod {
                id: self.next_id,
                name: format!("default/pi-{}", self.next_id),
                index,
                phase: Phase::Running,
                restarts: 0,
                exits: Vec::new(),
                finished: None,
                terminating: false,
                disrupted: false,
            });
            self.next_id += 1;
            self.created.push(index);
        }
        let active = self
            .pods
            .iter()
            .filter(|p| p.phase == Phase::Running)
            .count();
        self.max_active = self.max_active.max(active);
        &self.last
    }

    fn running(&self) -> Vec<u64> {
        self.pods
            .iter()
            .filter(|p| p.phase == Phase::Running)
            .map(|p| p.id)
            .collect()
    }

    fn finish(&mut self, id: u64, code: i32) {
        let now = self.now;
        let pod = self
            .pods
            .iter_mut()
            .find(|p| p.id == id)
            .expect("the pod exists");
        pod.phase = if code == 0 {
            Phase::Succeeded
        } else {
            Phase::Failed
        };
        pod.exits = vec![("main".into(), code)];
        pod.finished = Some(now);
    }

    fn advance(&mut self, secs: i64) {
        self.now += SignedDuration::from_secs(secs);
    }

    fn terminal(&self) -> Option<(ConditionType, &str)> {
        [ConditionType::Complete, ConditionType::Failed]
            .into_iter()
            .find_map(|k| self.status.condition(k).map(|c| (k, c.reason.as_str())))
    }
}

fn spec() -> Spec {
    Spec {
        completions: Some(1),
        parallelism: 1,
        indexed: false,
        backoff_limit: DEFAULT_BACKOFF_LIMIT,
        on_failure_restart: false,
        active_deadline: None,
        suspend: false,
        failure_rules: Vec::new(),
        backoff_base: BACKOFF_BASE,
    }
}

#[test]
fn backoff_limit_two_means_three_attempts_then_backoff_limit_exceeded() {
    let mut w = World::new(Spec {
        backoff_limit: 2,
        ..spec()
    });
    w.sync();
    let mut delays = Vec::new();
    for _ in 0..10 {
        let Some(&id) = w.running().first() else {
            break;
        };
        w.finish(id, 1);
        let requeue = w.sync().requeue_at;
        if w.terminal().is_some() {
            break;
        }
        let ready = requeue.expect("a retry delay is pending");
        delays.push(ready.duration_since(w.now).as_secs());
        w.now = ready;
        w.sync();
    }
    assert_eq!(w.created.len(), 3, "backoffLimit 2 = 3 attempts");
    assert_eq!(delays, [10, 20], "10 s, then doubling");
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "BackoffLimitExceeded"))
    );
    assert_eq!(w.status.failed, 3);
    let failed = w.status.condition(ConditionType::Failed).unwrap();
    assert_eq!(
        failed.message,
        "Job has reached the specified backoff limit"
    );
}

#[test]
fn no_pod_is_created_before_the_retry_delay_is_over() {
    let mut w = World::new(spec());
    w.sync();
    w.finish(1, 1);
    w.sync();
    assert!(w.running().is_empty());
    w.advance(9);
    assert!(w.sync().create.is_empty(), "9 s < 10 s");
    w.advance(1);
    assert_eq!(w.sync().create.len(), 1);
}

#[test]
fn the_retry_delay_is_capped_at_ten_minutes() {
    let mut w = World::new(Spec {
        backoff_limit: 20,
        ..spec()
    });
    w.sync();
    for _ in 0..8 {
        let id = w.running()[0];
        w.finish(id, 1);
        let ready = w.sync().requeue_at.unwrap();
        let delay = ready.duration_since(w.now).as_secs();
        assert!(delay <= 600, "{delay}");
        w.now = ready;
        w.sync();
    }
    assert_eq!(w.status.failures_after_success, 8);
    let id = w.running()[0];
    w.finish(id, 1);
    let ready = w.sync().requeue_at.unwrap();
    assert_eq!(
        ready.duration_since(w.now).as_secs(),
        600,
        "10 s x 2^8 capped at 600 s"
    );
}

#[test]
fn completions_five_parallelism_two() {
    let mut w = World::new(Spec {
        completions: Some(5),
        parallelism: 2,
        ..spec()
    });
    w.sync();
    while w.terminal().is_none() {
        let id = w.running()[0];
        w.finish(id, 0);
        w.sync();
    }
    assert_eq!(w.max_active, 2, "never more than parallelism");
    assert_eq!(w.created.len(), 5);
    assert_eq!(w.status.succeeded, 5);
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Complete, "CompletionsReached"))
    );
    assert!(
        w.status
            .condition(ConditionType::SuccessCriteriaMet)
            .is_some(),
        "the interim condition comes first"
    );
    assert!(w.status.completion_time.is_some());
}

#[test]
fn indexed_runs_each_index_until_it_succeeds() {
    let mut w = World::new(Spec {
        completions: Some(3),
        parallelism: 3,
        indexed: true,
        ..spec()
    });
    w.sync();
    assert_eq!(w.created, [Some(0), Some(1), Some(2)]);
    let by_index = |w: &World, i| {
        w.pods
            .iter()
            .find(|p| p.index == Some(i) && p.phase == Phase::Running)
            .unwrap()
            .id
    };
    let (zero, one, two) = (by_index(&w, 0), by_index(&w, 1), by_index(&w, 2));
    w.finish(zero, 0);
    w.finish(one, 1);
    w.sync();
    w.advance(10);
    w.sync();
    assert_eq!(
        w.created.last(),
        Some(&Some(1)),
        "the failed index is run again"
    );
    w.finish(two, 0);
    let again = by_index(&w, 1);
    w.finish(again, 0);
    w.sync();
    assert_eq!(
        w.status
            .completed_indexes
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Complete, "CompletionsReached"))
    );
}

#[test]
fn active_deadline_stops_the_pods_and_fails_the_job() {
    let mut w = World::new(Spec {
        active_deadline: Some(30),
        completions: Some(2),
        parallelism: 2,
        ..spec()
    });
    let requeue = w.sync().requeue_at;
    assert_eq!(requeue, Some(w.now + SignedDuration::from_secs(30)));
    w.advance(30);
    let actions = w.sync().clone();
    assert_eq!(actions.delete.len(), 2, "running pods are stopped");
    assert!(
        w.terminal().is_none(),
        "Failed waits until the pods are gone"
    );
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "DeadlineExceeded"))
    );
    assert_eq!(w.status.failed, 0, "stopped pods are not failures");
}

#[test]
fn the_terminal_condition_waits_for_terminating_pods() {
    let mut w = World::new(Spec {
        active_deadline: Some(5),
        ..spec()
    });
    w.sync();
    w.advance(5);
    w.pods[0].terminating = true;
    w.last = sync(&w.spec, &mut w.status, &w.pods, w.now);
    assert!(w.status.condition(ConditionType::FailureTarget).is_some());
    assert!(w.terminal().is_none(), "a pod is still terminating");
    w.pods.clear();
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "DeadlineExceeded"))
    );
}

#[test]
fn on_failure_counts_container_restarts_with_greater_or_equal() {
    let mut w = World::new(Spec {
        backoff_limit: 2,
        on_failure_restart: true,
        ..spec()
    });
    w.sync();
    w.pods[0].restarts = 1;
    w.sync();
    assert!(w.terminal().is_none());
    w.pods[0].restarts = 2;
    assert_eq!(w.sync().delete.len(), 1, "the restarting pod is stopped");
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "BackoffLimitExceeded")),
        "2 restarts reach backoffLimit 2"
    );
}

#[test]
fn pod_failure_policy_ignore_and_fail_job() {
    let rules = vec![
        FailureRule {
            index: 0,
            action: RuleAction::Ignore,
            on: Matcher::ExitCodes {
                container: None,
                in_values: true,
                values: vec![42],
            },
        },
        FailureRule {
            // A pod-condition rule is rule 1, so this one is rule 2.
            index: 2,
            action: RuleAction::FailJob,
            on: Matcher::ExitCodes {
                container: Some("main".into()),
                in_values: true,
                values: vec![3],
            },
        },
    ];
    let mut w = World::new(Spec {
        backoff_limit: 0,
        failure_rules: rules,
        ..spec()
    });
    w.sync();
    w.finish(1, 42);
    w.sync();
    assert_eq!(w.status.failed, 0, "Ignore: not counted");
    assert_eq!(w.created.len(), 2, "replaced at once (no backoff either)");
    w.finish(2, 3);
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "PodFailurePolicy"))
    );
    let message = &w.status.condition(ConditionType::Failed).unwrap().message;
    assert!(
        message.starts_with(
            "Container main for pod default/pi-2 failed with exit code 3 matching FailJob rule at index 2"
        ),
        "{message}"
    );
}

#[test]
fn not_in_never_matches_a_successful_container() {
    let rules = vec![FailureRule {
        index: 0,
        action: RuleAction::FailJob,
        on: Matcher::ExitCodes {
            container: None,
            in_values: false,
            values: vec![1],
        },
    }];
    let mut w = World::new(Spec {
        failure_rules: rules,
        backoff_limit: 5,
        ..spec()
    });
    w.sync();
    let pod = &mut w.pods[0];
    pod.phase = Phase::Failed;
    pod.exits = vec![("sidecar".into(), 0), ("main".into(), 1)];
    pod.finished = Some(w.now);
    w.sync();
    assert!(
        w.terminal().is_none(),
        "exit 1 is in the NotIn list and exit 0 is never matched"
    );
    assert_eq!(w.status.failed, 1);
}

#[test]
fn suspend_deletes_pods_without_counting_and_resume_restarts_the_clock() {
    let mut w = World::new(Spec {
        completions: Some(2),
        parallelism: 2,
        active_deadline: Some(100),
        ..spec()
    });
    w.sync();
    let started = w.status.start_time;
    w.spec.suspend = true;
    w.advance(50);
    let actions = w.sync().clone();
    assert_eq!(actions.delete.len(), 2);
    assert_eq!(w.status.failed, 0);
    assert_eq!(
        w.status.condition(ConditionType::Suspended).unwrap().reason,
        "JobSuspended"
    );
    w.advance(500);
    w.sync();
    assert!(
        w.terminal().is_none(),
        "the deadline does not run while suspended"
    );
    w.spec.suspend = false;
    w.sync();
    assert_ne!(w.status.start_time, started, "resuming resets startTime");
    assert_eq!(w.running().len(), 2);
    let resumed = w
        .status
        .conditions
        .iter()
        .find(|c| c.kind == ConditionType::Suspended)
        .unwrap();
    assert_eq!(
        (resumed.status, resumed.reason.as_str()),
        (false, "JobResumed")
    );
}

#[test]
fn a_work_queue_stops_creating_pods_after_the_first_success() {
    let mut w = World::new(Spec {
        completions: None,
        parallelism: 3,
        ..spec()
    });
    w.sync();
    assert_eq!(w.running().len(), 3);
    w.finish(1, 0);
    w.sync();
    assert!(w.last.create.is_empty());
    assert!(w.terminal().is_none(), "the others are left to finish");
    w.finish(2, 0);
    w.finish(3, 0);
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Complete, "CompletionsReached"))
    );
}

#[test]
fn a_finished_job_never_runs_again() {
    let mut w = World::new(spec());
    w.sync();
    w.finish(1, 0);
    w.sync();
    assert!(w.terminal().is_some());
    w.advance(3600);
    assert_eq!(w.sync(), &Actions::default());
}

#[test]
fn defaults_follow_the_api_server() {
    let job: JobSpec = serde_json::from_value(serde_json::json!({
        "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "b"}]}}
    }))
    .unwrap();
    let s = Spec::from_job(&job).unwrap();
    assert_eq!(
        (
            s.completions,
            s.parallelism,
            s.backoff_limit,
            s.on_failure_restart
        ),
        (Some(1), 1, 6, true)
    );
    let job: JobSpec = serde_json::from_value(serde_json::json!({
        "parallelism": 4,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "b"}]}}
    }))
    .unwrap();
    assert_eq!(
        Spec::from_job(&job).unwrap().completions,
        None,
        "parallelism alone: a work queue"
    );
}

#[test]
fn durations_and_counts_at_their_extremes_never_panic() {
    // activeDeadlineSeconds is an int64 the API server only bounds below.
    let mut w = World::new(Spec {
        active_deadline: Some(i64::MAX),
        ..spec()
    });
    let requeue = w.sync().requeue_at;
    assert_eq!(requeue, Some(Timestamp::MAX), "as good as never");
    w.advance(3600);
    w.sync();
    assert!(w.terminal().is_none(), "no deadline passes in an hour");
    // backoffLimit and parallelism at int32's top, completions at 1.
    let mut w = World::new(Spec {
        backoff_limit: i32::MAX,
        parallelism: i32::MAX,
        completions: Some(1),
        ..spec()
    });
    w.sync();
    assert_eq!(w.running().len(), 1, "one completion wants one pod");
    // A work queue with int32's top parallelism: pods come 500 a sync.
    let mut w = World::new(Spec {
        parallelism: i32::MAX,
        completions: None,
        ..spec()
    });
    assert_eq!(w.sync().create.len(), MAX_CREATE_PER_SYNC);
    assert_eq!(
        w.sync().create.len(),
        MAX_CREATE_PER_SYNC,
        "more the next sync"
    );
}

#[test]
fn the_docs_pod_failure_policy_ignores_disruptions_and_fails_on_exit_42() {
    // The Kubernetes docs' example policy: FailJob on exit code 42 of
    // `main`, Ignore on DisruptionTarget — a pod jobcd stopped at shutdown
    // (or lost) does not count against the backoff limit.
    let rules = vec![
        FailureRule {
            index: 0,
            action: RuleAction::FailJob,
            on: Matcher::ExitCodes {
                container: Some("main".into()),
                in_values: true,
                values: vec![42],
            },
        },
        FailureRule {
            index: 1,
            action: RuleAction::Ignore,
            on: Matcher::Conditions(vec![("DisruptionTarget".into(), "True".into())]),
        },
    ];
    let mut w = World::new(Spec {
        backoff_limit: 0,
        failure_rules: rules,
        ..spec()
    });
    w.sync();
    // Stopped at jobcd's shutdown: SIGTERM, exit 143, DisruptionTarget.
    w.finish(1, 143);
    w.pods[0].disrupted = true;
    w.sync();
    assert_eq!(w.status.failed, 0, "a disruption is ignored");
    assert_eq!(w.terminal(), None);
    assert_eq!(w.created.len(), 2, "and the pod replaced");
    // The same exit without the condition counts (backoffLimit 0: fails).
    w.finish(2, 143);
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "BackoffLimitExceeded"))
    );

    // A condition rule that FailJobs names the pod and the rule.
    let mut w = World::new(Spec {
        failure_rules: vec![FailureRule {
            index: 3,
            action: RuleAction::FailJob,
            on: Matcher::Conditions(vec![("DisruptionTarget".into(), "True".into())]),
        }],
        ..spec()
    });
    w.sync();
    w.finish(1, 137);
    w.pods[0].disrupted = true;
    w.sync();
    assert_eq!(
        w.terminal(),
        Some((ConditionType::Failed, "PodFailurePolicy"))
    );
    let message = &w.status.condition(ConditionType::Failed).unwrap().message;
    assert!(
        message.starts_with(
            "Pod default/pi-1 has condition DisruptionTarget matching FailJob rule at index 3"
        ),
        "{message}"
    );
}
