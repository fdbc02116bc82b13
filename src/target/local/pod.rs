//! A pod on this machine: its init containers one after another, then its
//! containers together, as the kubelet runs them.
//!
//! With `restartPolicy: Never` a container that fails fails the pod. With
//! `OnFailure` the kubelet restarts a failed container in place after a
//! CrashLoopBackOff delay (10 s, doubling, at most 5 minutes) and the pod
//! only ends when every container has succeeded; the Job controller decides
//! from the restart count when to give up. Every container runs in its own
//! process group; stopping the pod stops them all.
//!
//! On a container engine ([`Plan::engine`]) the pod's shared namespaces are
//! made first and removed at the end, each container's process is the
//! engine's client running it attached, a container whose image cannot be
//! had waits (`ErrImagePull`, retried with the same back-off as a crash),
//! and how a container ended is the engine's word (an OOM kill included).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::container::Process;
use super::engine::OnEngine;
use super::isolation::Sandbox;
use super::process::{self, Exit, Placement, Running};

/// First CrashLoopBackOff delay.
pub const CRASH_BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Longest CrashLoopBackOff delay.
pub const CRASH_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// What to run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// Init containers, run in order.
    pub init: Vec<Process>,
    /// Containers, run together.
    pub containers: Vec<Process>,
    /// `restartPolicy: OnFailure`.
    pub restart_on_failure: bool,
    /// `terminationGracePeriodSeconds`.
    pub grace: Duration,
    /// Holds `logs/<container>.log`.
    pub dir: PathBuf,
    /// The working directory of containers that set none (outside jobcd's
    /// state directory, shared by the pod's containers).
    pub scratch: PathBuf,
    /// The sandbox each container runs in, where there is one.
    pub sandbox: Option<Sandbox>,
    /// Bytes of output kept per container.
    pub log_cap: u64,
    /// First CrashLoopBackOff delay (tests scale it down).
    pub crash_backoff: Duration,
    /// The container engine the pod runs on; None for host processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<OnEngine>,
}

/// What happens while a pod runs, for the executor to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Event {
    /// A container process started.
    Started {
        /// Container name.
        container: String,
        /// Process id (and process group).
        pid: u32,
    },
    /// A container process ended.
    Exited {
        /// Container name.
        container: String,
        /// How.
        exit: Exit,
    },
    /// A container cannot start yet (its image cannot be had, or its
    /// configuration is refused); it is tried again after `after`.
    Waiting {
        /// Container name.
        container: String,
        /// The kubelet's reason (`ErrImagePull`, …).
        reason: String,
        /// What went wrong.
        message: String,
        /// When it is tried again.
        after: Duration,
    },
    /// A failed container will start again (OnFailure) after `after`.
    Restarting {
        /// Container name.
        container: String,
        /// Restarts so far, this one included.
        restarts: i32,
        /// The CrashLoopBackOff delay.
        after: Duration,
    },
}

/// How the pod ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Every container exited 0.
    pub succeeded: bool,
    /// It was stopped on request (not a failure of its own).
    pub stopped: bool,
    /// Last exit of each container that ran: (container, exit).
    pub exits: Vec<(String, Exit)>,
    /// Container restarts (OnFailure).
    pub restarts: i32,
    /// The termination message of each container that left one, from its
    /// last run: (container, message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<(String, String)>,
}

/// Runs `plan` until it ends or `stop` turns true.
pub async fn run(
    plan: &Plan,
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<Outcome> {
    if let Some(on) = &plan.engine
        && let Err(e) = on.create().await
    {
        clean_up(plan, true).await;
        return Err(e);
    }
    run_containers(plan, events, stop).await
}

/// Removes what the pod left on its engine (its shared namespaces, tmpfs
/// volumes, and the containers the engine does not remove as they end:
/// those with a memory limit, or all of them when the pod did not end by
/// itself), once its end is recorded: the next pod need not wait for it,
/// and what a crash leaves here the next start's recovery removes.
pub async fn clean_up(plan: &Plan, all: bool) {
    let Some(on) = &plan.engine else {
        return;
    };
    let containers: Vec<&str> = plan
        .init
        .iter()
        .chain(&plan.containers)
        .filter(|p| all || p.image.as_ref().is_some_and(|i| !i.removed_as_it_ends()))
        .map(|p| p.name.as_str())
        .collect();
    on.remove(&containers).await;
}

/// Runs the init containers, then the containers.
async fn run_containers(
    plan: &Plan,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Outcome> {
    let mut outcome = Outcome {
        succeeded: false,
        stopped: false,
        exits: Vec::new(),
        restarts: 0,
        messages: Vec::new(),
    };
    for init in &plan.init {
        if !run_to_success(plan, init, &events, &mut stop, &mut outcome).await? {
            return Ok(outcome);
        }
    }
    // All containers at once; each follows the restart policy on its own.
    // The tasks belong to this set and are all awaited below.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, container) in plan.containers.iter().cloned().enumerate() {
        let (plan, events, mut stop) = (plan.clone(), events.clone(), stop.clone());
        tasks.spawn(async move {
            let mut own = Outcome {
                succeeded: false,
                stopped: false,
                exits: Vec::new(),
                restarts: 0,
                messages: Vec::new(),
            };
            let ok = run_to_success(&plan, &container, &events, &mut stop, &mut own).await;
            (i, ok.map(|ok| (ok, own)))
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(std::io::Error::other)?);
    }
    // Report exits in the containers' order, whatever order they ended in.
    results.sort_by_key(|(i, _)| *i);
    let results = results.into_iter().map(|(_, r)| r);
    let mut all_ok = true;
    for result in results {
        let (ok, own) = result?;
        all_ok &= ok;
        outcome.stopped |= own.stopped;
        outcome.restarts += own.restarts;
        outcome.exits.extend(own.exits);
        outcome.messages.extend(own.messages);
    }
    outcome.succeeded = all_ok && !outcome.stopped;
    Ok(outcome)
}

/// Runs one container until it succeeds, fails for good (Never), or the pod
/// is stopped. True when it succeeded.
async fn run_to_success(
    plan: &Plan,
    process: &Process,
    events: &mpsc::UnboundedSender<Event>,
    stop: &mut watch::Receiver<bool>,
    outcome: &mut Outcome,
) -> std::io::Result<bool> {
    let placement = Placement {
        scratch_dir: plan.scratch.clone(),
        log_path: plan.dir.join("logs").join(format!("{}.log", process.name)),
        log_cap: plan.log_cap,
        sandbox: plan.sandbox.clone(),
    };
    let mut restarts = 0;
    loop {
        if *stop.borrow() {
            outcome.stopped = true;
            return Ok(false);
        }
        // An image to pull every time, or to check for runAsNonRoot, is
        // got ready first; otherwise the container starts at once, and
        // only a start that fails for want of the image waits for it (one
        // client call fewer per container).
        let on_engine = plan.engine.as_ref().zip(process.image.as_ref());
        let prepared = on_engine.is_some_and(|(_, image)| OnEngine::must_prepare(image));
        if let Some((on, image)) = on_engine
            && prepared
            && !ready(plan, on, process, image, events, stop).await
        {
            outcome.stopped = true;
            return Ok(false);
        }
        if restarts > 0
            && let Some(on) = &plan.engine
        {
            on.forget(process).await?;
        }
        let log_before = match on_engine {
            Some((on, _)) => {
                on.empty_message(process).await?;
                log_length(&placement.log_path).await
            }
            None => 0,
        };
        let exit = match start(plan, process, &placement).await {
            Ok(mut running) => {
                let _ = events.send(Event::Started {
                    container: process.name.clone(),
                    pid: running.pid(),
                });
                let exit = tokio::select! {
                    exit = running.wait() => exit?,
                    () = stopped(stop) => {
                        outcome.stopped = true;
                        match &plan.engine {
                            Some(on) => {
                                on.stop(process, plan.grace).await?;
                                running.wait().await?
                            }
                            None => process::stop(&mut running, plan.grace).await?,
                        }
                    }
                };
                match &plan.engine {
                    Some(on) => on.ended(process, exit).await?,
                    None => exit,
                }
            }
            // A command that cannot start is the container failing, as a
            // missing executable fails a container on a node: it says why
            // in its log and exits 127 (126 when not executable).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                let note = format!(
                    "jobcd: cannot start {:?}: {e}\n",
                    process.argv.first().map_or("", String::as_str)
                );
                tokio::fs::create_dir_all(placement.log_path.parent().unwrap_or(&plan.dir)).await?;
                tokio::fs::write(&placement.log_path, note).await?;
                Exit::Code(code)
            }
            Err(e) => return Err(e),
        };
        if let Some((on, image)) = on_engine
            && !prepared
            && exit == Exit::Code(125)
            && !on.engine.has_image(&image.reference).await?
        {
            // The client's complaint about the missing image is not the
            // container's output.
            truncate_log(&placement.log_path, log_before).await?;
            if !ready(plan, on, process, image, events, stop).await {
                outcome.stopped = true;
                return Ok(false);
            }
            continue;
        }
        if let Some((on, image)) = on_engine {
            let message = on
                .message(process, image, exit, &placement.log_path, log_before)
                .await;
            outcome.messages.retain(|(name, _)| *name != process.name);
            outcome
                .messages
                .extend(message.map(|m| (process.name.clone(), m)));
        }
        let _ = events.send(Event::Exited {
            container: process.name.clone(),
            exit,
        });
        outcome.exits.retain(|(name, _)| *name != process.name);
        outcome.exits.push((process.name.clone(), exit));
        if outcome.stopped {
            return Ok(false);
        }
        if exit.success() {
            return Ok(true);
        }
        if !plan.restart_on_failure {
            return Ok(false);
        }
        restarts += 1;
        outcome.restarts += 1;
        let after = plan
            .crash_backoff
            .saturating_mul(1 << (restarts - 1).min(16))
            .min(CRASH_BACKOFF_CAP);
        let _ = events.send(Event::Restarting {
            container: process.name.clone(),
            restarts,
            after,
        });
        tokio::select! {
            () = tokio::time::sleep(after) => {}
            () = stopped(stop) => {
                outcome.stopped = true;
                return Ok(false);
            }
        }
    }
}

/// Starts `process`: a host process, or the engine's client running its
/// container.
async fn start(plan: &Plan, process: &Process, placement: &Placement) -> std::io::Result<Running> {
    match (&plan.engine, &process.image) {
        (Some(on), Some(image)) => Running::spawn(on.run_command(process, image), placement).await,
        _ => Running::start(process, placement).await,
    }
}

/// Waits until `process`'s image is ready on the engine, retrying with
/// the crash back-off while it is not (as the kubelet's ImagePullBackOff);
/// false when the pod was stopped first.
async fn ready(
    plan: &Plan,
    on: &OnEngine,
    process: &Process,
    image: &super::image::Image,
    events: &mpsc::UnboundedSender<Event>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let mut tries: u32 = 0;
    loop {
        let waiting = tokio::select! {
            ready = on.prepare(image) => match ready {
                Ok(()) => return true,
                Err(waiting) => waiting,
            },
            () = stopped(stop) => return false,
        };
        let after = plan
            .crash_backoff
            .saturating_mul(1 << tries.min(16))
            .min(CRASH_BACKOFF_CAP);
        tries += 1;
        let _ = events.send(Event::Waiting {
            container: process.name.clone(),
            reason: waiting.reason.into(),
            message: waiting.message,
            after,
        });
        tokio::select! {
            () = tokio::time::sleep(after) => {}
            () = stopped(stop) => return false,
        }
    }
}

/// The length of the log at `path` (0 when there is none yet).
async fn log_length(path: &std::path::Path) -> u64 {
    tokio::fs::metadata(path).await.map_or(0, |m| m.len())
}

/// Cuts the log at `path` back to `length` bytes.
async fn truncate_log(path: &std::path::Path, length: u64) -> std::io::Result<()> {
    let file = tokio::fs::OpenOptions::new().write(true).open(path).await?;
    file.set_len(length).await
}

/// Resolves once a stop is requested; never, if the requester is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow guard ends inside this function, so callers stay Send.
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests;
