//! Finding the runs a killed jobcd left behind.
//!
//! A pod runs under a supervisor of its own ([`super::super::supervisor`]),
//! which outlives jobcd: a pod whose supervisor still runs is adopted — the
//! resumed Job follows it to its end — and a pod that ended while jobcd was
//! away is recorded with the outcome its supervisor left. Only a pod whose
//! supervisor died too (killed with jobcd, or the machine rebooted) is lost:
//! whatever is left of its processes is stopped, as the kubelet stops a
//! container (SIGTERM to the group, SIGKILL after the pod's grace period),
//! and the pod is recorded as failed with `DeletionByPodGC`, as Kubernetes
//! records pods of a node that is gone. The Job then resumes and counts
//! that pod as a failed attempt: it retries within its backoffLimit.
//!
//! A pid only names the same process within one boot and while the process
//! keeps its start time; anything else means the process is long gone and
//! the pid now belongs to someone else, who is left alone.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use nix::sys::signal::Signal;

use super::super::job_runner::{self, DEFAULT_GRACE, Error, REASON_LOST, Runtime};
use super::super::process::signal_group;
use super::super::procfs;
use super::super::store::{HostProcess, JobRecord, PodRecord};
use super::super::supervisor::{self, Files};

/// How often stopped groups are checked for being gone.
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for groups after SIGKILL before giving up on them.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Pods adopted from their supervisors.
    pub adopted: Vec<(String, Adopted)>,
    /// Pods jobcd created but had not handed to a supervisor yet: nothing
    /// of theirs ran, so they are removed, as if never created (they do
    /// not count as failed attempts).
    pub unstarted: Vec<String>,
    /// Pods that were running when jobcd died and lost their supervisor
    /// too: `(pod, process groups stopped)`.
    pub lost_pods: Vec<(String, usize)>,
    /// Process groups still alive after SIGKILL (uninterruptible sleep,
    /// or another user's): reported, not waited for.
    pub unstoppable: Vec<i32>,
    /// Unfinished Jobs, to resume.
    pub resume: Vec<JobRecord>,
    /// Containers left on the engine by pods that no longer run (their
    /// supervisor died with jobcd), removed.
    pub containers_removed: Vec<String>,
    /// Why the engine could not be swept, if it could not.
    pub sweep_failed: Option<String>,
}

/// What an adopted pod was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopted {
    /// Still running: its run follows it.
    Running,
    /// It ended while jobcd was away; its run records how.
    Ended,
}

impl Recovery {
    /// What was recovered, a sentence each, for the log (or stderr: never
    /// stdout, which may carry JSON).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (pod, adopted) in &self.adopted {
            lines.push(match adopted {
                Adopted::Running => format!(
                    "recovered: pod {pod} was running when jobcd last stopped; adopted from its supervisor"
                ),
                Adopted::Ended => format!(
                    "recovered: pod {pod} ended while jobcd was stopped; its supervisor recorded how"
                ),
            });
        }
        for pod in &self.unstarted {
            lines.push(format!(
                "recovered: pod {pod} had not started when jobcd last stopped; removed, as if never created"
            ));
        }
        for (pod, groups) in &self.lost_pods {
            lines.push(format!(
                "recovered: pod {pod} was running when jobcd last stopped and lost its supervisor; {groups} process group(s) stopped, pod recorded as failed ({REASON_LOST})"
            ));
        }
        for group in &self.unstoppable {
            lines.push(format!(
                "warning: process group {group} of a lost pod survived SIGKILL (uninterruptible, or not ours); not waiting for it"
            ));
        }
        if !self.containers_removed.is_empty() {
            lines.push(format!(
                "recovered: removed {} container(s) that pods no longer running left on the engine: {}",
                self.containers_removed.len(),
                self.containers_removed.join(", ")
            ));
        }
        if let Some(why) = &self.sweep_failed {
            lines.push(format!(
                "warning: could not look for containers that lost pods left on the engine: {why}"
            ));
        }
        for job in &self.resume {
            lines.push(format!(
                "recovered: Job {}/{} resumes",
                job.namespace, job.name
            ));
        }
        lines
    }
}

/// Sorts the pods left unfinished into those to adopt, those that never
/// started (removed) and those lost; stops the processes of the lost ones
/// and records them as lost, settles
/// ledger entries of Jobs that finished just before the crash, and returns
/// the unfinished Jobs (their runs adopt the other pods).
///
/// A lost pod's processes are the groups recorded for it, and any group
/// whose processes carry its `HOSTNAME` (its supervisor's too): a container
/// started just before the crash may not have had its pid saved yet.
pub async fn recover(rt: &Runtime) -> Result<Recovery, Error> {
    let (unfinished, jobs) = rt
        .with_store(|s| Ok((s.unfinished_pods()?, s.live_jobs()?)))
        .await?;
    let boot = job_runner::boot_id();
    let mut recovery = Recovery::default();
    let pods_dir = rt.pods_dir.clone();
    let boot_now = boot.clone();
    let fates: Vec<(Fate, PodRecord)> = tokio::task::spawn_blocking(move || {
        unfinished
            .into_iter()
            .map(|pod| (fate(&pods_dir, &pod, boot_now.as_deref()), pod))
            .collect()
    })
    .await
    .expect("looking at files does not panic");
    let mut pods = Vec::new();
    let mut unstarted = Vec::new();
    for (fate, pod) in fates {
        match fate {
            Fate::Adopt(how) => recovery.adopted.push((pod.name, how)),
            Fate::Unstarted => unstarted.push(pod),
            Fate::Lost => pods.push(pod),
        }
    }
    recovery.unstarted = unstarted.iter().map(|p| p.name.clone()).collect();
    if let Some(engine) = &rt.engine {
        // A pod's containers outlive its supervisor: all but those of the
        // pods still running go, first, so that their clients (among the
        // groups stopped below) end with them.
        let keep: HashSet<String> = recovery
            .adopted
            .iter()
            .filter(|(_, how)| *how == Adopted::Running)
            .map(|(pod, _)| pod.clone())
            .collect();
        match engine.sweep(&keep).await {
            Ok(removed) => recovery.containers_removed = removed,
            Err(e) => recovery.sweep_failed = Some(e.to_string()),
        }
    }
    // What is left of a lost pod's processes is stopped; so is anything
    // an unstarted pod's name is found on (a supervisor waiting for the
    // plan it will never get).
    let this_boot: Vec<&PodRecord> = pods
        .iter()
        .chain(&unstarted)
        .filter(|p| of_this_boot(p, boot.as_deref()))
        .collect();
    let names: HashSet<String> = this_boot.iter().map(|p| p.name.clone()).collect();
    let by_env = procfs::groups_by_env("HOSTNAME", &names);
    let live = procfs::live_groups();
    let mut groups: HashMap<i32, Duration> = HashMap::new();
    for pod in &this_boot {
        let grace = jobs
            .iter()
            .find(|j| j.uid == pod.job_uid)
            .map_or(DEFAULT_GRACE, grace_of);
        let mut mine: HashSet<i32> = pod
            .processes
            .iter()
            .filter(|p| still_ours(p, &live))
            .map(|p| p.pid as i32)
            .collect();
        // A supervisor that is alive but was not adoptable has another
        // start time: its pid is someone else's now. (The HOSTNAME search
        // finds one that was never recorded.)
        mine.extend(by_env.get(&pod.name).into_iter().flatten());
        for group in &mine {
            signal_group(*group, Signal::SIGTERM);
            groups.insert(*group, grace);
        }
        if !recovery.unstarted.contains(&pod.name) {
            recovery.lost_pods.push((pod.name.clone(), mine.len()));
        }
    }
    for pod in pods.iter().filter(|p| !names.contains(&p.name)) {
        recovery.lost_pods.push((pod.name.clone(), 0));
    }
    let started = tokio::time::Instant::now();
    while !groups.is_empty() {
        let live = procfs::live_groups();
        let elapsed = started.elapsed();
        groups.retain(|group, grace| {
            if !live.contains(group) {
                return false;
            }
            if elapsed >= *grace + KILL_WAIT {
                recovery.unstoppable.push(*group);
                return false;
            }
            if elapsed >= *grace {
                signal_group(*group, Signal::SIGKILL);
            }
            true
        });
        if !groups.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    let now = rt.clock.now();
    let pods_dir = rt.pods_dir.clone();
    let resume = rt
        .with_store(move |s| {
            for mut pod in pods {
                job_runner::lost(&mut pod, now);
                s.update_pod(&pod)?;
            }
            for pod in unstarted {
                s.delete_pod(pod.id)?;
                let _ = std::fs::remove_dir_all(pods_dir.join(&pod.name));
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
    match job.status.terminal().map(|c| c.kind) {
        Some(ConditionType::Complete) => "Complete",
        _ => "Failed",
    }
}

/// What becomes of a pod left unfinished.
enum Fate {
    /// Its supervisor left an outcome (whatever the boot), or still runs
    /// (this boot).
    Adopt(Adopted),
    /// No supervisor ever got its plan: it never ran.
    Unstarted,
    /// Its supervisor died with the pod unfinished.
    Lost,
}

fn fate(pods_dir: &std::path::Path, pod: &PodRecord, boot: Option<&str>) -> Fate {
    let files = Files::new(&pods_dir.join(&pod.name));
    if files.outcome().exists() {
        return Fate::Adopt(Adopted::Ended);
    }
    if of_this_boot(pod, boot) && pod.supervisor.is_some_and(supervisor::alive) {
        return Fate::Adopt(Adopted::Running);
    }
    // A supervisor creates the events file as soon as it has its plan,
    // before it starts anything.
    if !files.events().exists() {
        return Fate::Unstarted;
    }
    Fate::Lost
}

/// Whether `pod`'s processes were recorded in this boot (`boot`): pids of
/// another boot name nothing.
fn of_this_boot(pod: &PodRecord, boot: Option<&str>) -> bool {
    pod.boot_id.is_some() && pod.boot_id.as_deref() == boot
}

/// Whether the recorded process (or, its leader gone, its group) is still
/// the one jobcd started. A group id cannot be reused while the group has
/// members, so a live group whose leader is gone is still ours; a leader
/// with a different start time means the pid was recycled after our group
/// emptied.
fn still_ours(p: &HostProcess, live_groups: &HashSet<i32>) -> bool {
    match (procfs::start_ticks(p.pid), p.start_ticks) {
        (Some(now), Some(then)) => now == then,
        (None, _) => live_groups.contains(&(p.pid as i32)),
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
        let ticks = procfs::start_ticks(me);
        let live = HashSet::new();
        assert!(ticks.is_some(), "/proc/self/stat is readable");
        let recorded = |start_ticks| HostProcess {
            container: "main".into(),
            pid: me,
            start_ticks,
        };
        assert!(still_ours(&recorded(ticks), &live));
        assert!(
            !still_ours(&recorded(ticks.map(|t| t + 1)), &live),
            "pid recycled"
        );
        assert!(
            !still_ours(&recorded(None), &live),
            "no start time, no proof"
        );
    }
}
