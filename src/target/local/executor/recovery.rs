//! Finding the runs a killed jobcd left behind.
//!
//! A pod's output flows through pipes that jobcd reads, so once jobcd has
//! died a container has lost its log and its supervisor; it cannot be
//! adopted faithfully. Its processes are stopped instead, as the kubelet
//! stops a container (SIGTERM to the group, SIGKILL after the pod's grace
//! period), and the pod is recorded as failed with `DeletionByPodGC`, as
//! Kubernetes records pods of a node that is gone. The Job then resumes and
//! counts that pod as a failed attempt: it retries within its backoffLimit.
//!
//! A pid only names the same process within one boot and while the process
//! keeps its start time; anything else means the process is long gone and
//! the pid now belongs to someone else, who is left alone.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use nix::sys::signal::Signal;

use super::super::job_controller::Phase;
use super::super::job_runner::{DEFAULT_GRACE, Error, REASON_LOST, Runtime};
use super::super::process::{self, signal_group};
use super::super::store::{HostProcess, JobRecord, PodRecord};

/// How often stopped groups are checked for being gone.
const POLL: Duration = Duration::from_millis(20);

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Pods that were running when jobcd died: `(pod, processes stopped)`.
    pub lost_pods: Vec<(String, usize)>,
    /// Unfinished Jobs, to resume.
    pub resume: Vec<JobRecord>,
}

/// Stops the processes of every pod left unfinished, records those pods as
/// lost, settles ledger entries of Jobs that finished just before the
/// crash, and returns the unfinished Jobs.
pub async fn recover(rt: &Runtime) -> Result<Recovery, Error> {
    let (pods, jobs) = rt
        .with_store(|s| Ok((s.unfinished_pods()?, s.live_jobs()?)))
        .await?;
    let boot = super::super::job_runner::boot_id();
    let mut groups = Vec::new();
    let mut recovery = Recovery::default();
    for pod in &pods {
        let grace = jobs
            .iter()
            .find(|j| j.uid == pod.job_uid)
            .map_or(DEFAULT_GRACE, grace_of);
        let mine: Vec<i32> = pod
            .processes
            .iter()
            .filter(|p| pod.boot_id.is_some() && pod.boot_id == boot && still_ours(p))
            .map(|p| p.pid as i32)
            .collect();
        for group in &mine {
            signal_group(*group, Signal::SIGTERM);
        }
        recovery.lost_pods.push((pod.name.clone(), mine.len()));
        groups.extend(mine.into_iter().map(|g| (g, grace)));
    }
    let started = tokio::time::Instant::now();
    while !groups.is_empty() {
        let elapsed = started.elapsed();
        groups.retain(|(group, grace)| {
            if !process::group_alive(*group) {
                return false;
            }
            if elapsed >= *grace {
                signal_group(*group, Signal::SIGKILL);
            }
            true
        });
        tokio::time::sleep(POLL).await;
    }
    let now = rt.clock.now();
    let resume = rt
        .with_store(move |s| {
            for mut pod in pods {
                lost(&mut pod, now);
                s.update_pod(&pod)?;
            }
            // A Job that ended just before the crash has its outcome in its
            // status but not yet in the ledger.
            for entry in s.running_ledger()? {
                let Some(uid) = entry.job_uid.as_deref() else {
                    continue;
                };
                if let Some(job) = s.job(uid)?.filter(|j| j.status.finished()) {
                    s.settle_ledger(&job.uid, outcome_of(&job), now)?;
                }
            }
            Ok(s.live_jobs()?
                .into_iter()
                .filter(|j| !j.status.finished())
                .collect::<Vec<_>>())
        })
        .await?;
    recovery.resume = resume;
    Ok(recovery)
}

/// The ledger's word for how a finished Job ended.
pub fn outcome_of(job: &JobRecord) -> &'static str {
    use super::super::job_controller::ConditionType;
    if job.status.condition(ConditionType::Complete).is_some() {
        "Complete"
    } else {
        "Failed"
    }
}

fn lost(pod: &mut PodRecord, now: Timestamp) {
    pod.phase = Phase::Failed;
    pod.finished_at = Some(now);
    pod.processes.clear();
    pod.reason = Some(REASON_LOST.into());
}

/// Whether the recorded process (or, its leader gone, its group) is still
/// the one jobcd started. A group id cannot be reused while the group has
/// members, so a live group whose leader is gone is still ours; a leader
/// with a different start time means the pid was recycled after our group
/// emptied.
fn still_ours(p: &HostProcess) -> bool {
    match (process::start_ticks(p.pid), p.start_ticks) {
        (Some(now), Some(then)) => now == then,
        (None, _) => process::group_alive(p.pid as i32),
        // Recorded before start times were kept: a pid alone is not proof.
        (Some(_), None) => false,
    }
}

/// The grace period of a Job's pods.
fn grace_of(job: &JobRecord) -> Duration {
    serde_json::from_str::<Job>(&job.manifest)
        .ok()
        .and_then(|j| j.spec?.template.spec?.termination_grace_period_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_ours_only_with_its_recorded_start_time() {
        let me = std::process::id();
        let ticks = process::start_ticks(me);
        assert!(ticks.is_some(), "/proc/self/stat is readable");
        let recorded = |start_ticks| HostProcess {
            container: "main".into(),
            pid: me,
            start_ticks,
        };
        assert!(still_ours(&recorded(ticks)));
        assert!(!still_ours(&recorded(ticks.map(|t| t + 1))), "pid recycled");
        assert!(!still_ours(&recorded(None)), "no start time, no proof");
    }
}
