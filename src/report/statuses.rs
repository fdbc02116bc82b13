//! The one owner of the status outbox while jobcd runs: every status is
//! queued through [`Statuses`], and delivered by a thread of its own, so a
//! forge that takes seconds to answer (or times out) never holds up the
//! async runtime — health checks, webhooks, other sources' reconciles.
//!
//! Two parts, each with its own outbox connection (SQLite in WAL mode
//! serves both): a task that queues statuses and answers questions about
//! them (quick local writes and reads, each off the runtime on the blocking
//! pool), and a delivery thread that does the slow part — git notes
//! commits and forge requests — and retries on its own schedule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use super::forge::{self, Forge};
use super::notes::GitNotes;
use super::outbox::{Delivery, Outbox, SourceReport};
use super::{Reporter, State, Status};
use crate::db::Error;

/// Requests a busy queue holds before a sender waits.
const QUEUE: usize = 1024;

/// How often the delivery thread retries what failed, at the most.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// Tells what could not be delivered yet (it is retried later).
pub type Undelivered = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a source's statuses go.
pub struct Route {
    /// The source.
    pub source: String,
    /// Its reporters (git notes, a forge).
    pub reporters: Vec<Box<dyn Reporter>>,
    /// Where later runs (a CronJob's) of this source report, remembered in
    /// the outbox for the commands that start them (`local serve`,
    /// `run-now`).
    pub remember: Option<SourceReport>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.reporters.iter().map(|r| r.name()).collect();
        f.debug_struct("Route")
            .field("source", &self.source)
            .field("reporters", &names)
            .finish()
    }
}

/// Why the reporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The outbox cannot be opened.
    #[error(transparent)]
    Outbox(#[from] Error),
    /// The delivery thread cannot be started.
    #[error("cannot start the status delivery thread")]
    Thread(#[source] std::io::Error),
}

/// A handle on the status reporter: cheap to clone, usable from any task.
#[derive(Debug, Clone)]
pub struct Statuses {
    requests: mpsc::Sender<Request>,
}

/// What the queueing task is asked.
enum Request {
    Record {
        source: String,
        status: Status,
    },
    Succeeded {
        source: String,
        sha: String,
        context: String,
        reply: oneshot::Sender<bool>,
    },
    Backlog {
        reply: oneshot::Sender<i64>,
    },

    Drain {
        grace: Option<Duration>,
        reply: oneshot::Sender<i64>,
    },
}

/// What the delivery thread is told.
enum Kick {
    /// A source's statuses are waiting.
    Due(String),
    /// A source reports from now on, to these reporters.
    Add(String, Vec<Box<dyn Reporter>>),
    /// Deliver everything now; with a grace, retry what fails (whatever
    /// its backoff) until the outbox is empty or the grace is over.
    Drain {
        grace: Option<Duration>,
        reply: oneshot::Sender<()>,
    },
}

/// The queueing side's state, handed to the blocking pool and back.
struct Queue {
    outbox: Outbox,
    state_dir: PathBuf,
    /// Reporter names by source; None: the source reports nowhere.
    routes: HashMap<String, Option<Vec<String>>>,
}

impl Statuses {
    /// Starts the reporter for `routes` (sources not among them report
    /// where the outbox remembers, if anywhere). Returns the handle and the
    /// task, which ends once every handle is dropped and all was tried.
    pub fn start(
        state_dir: &Path,
        routes: Vec<Route>,
        undelivered: Undelivered,
    ) -> Result<(Statuses, tokio::task::JoinHandle<()>), StartError> {
        let outbox = Outbox::open(state_dir)?;
        let now = Timestamp::now();
        let mut names = HashMap::new();
        let mut deliverer = Deliverer {
            outbox: Outbox::open(state_dir)?,
            routes: HashMap::new(),
        };
        for route in routes {
            if let Some(report) = &route.remember {
                outbox.set_source(&route.source, report, now)?;
            }
            let list = route.reporters.iter().map(|r| r.name().to_string());
            names.insert(route.source.clone(), Some(list.collect()));
            deliverer.routes.insert(route.source, route.reporters);
        }
        let (kicks, kicked) = std_mpsc::channel();
        let deliverer = {
            let undelivered = undelivered.clone();
            std::thread::Builder::new()
                .name("jobcd-statuses".into())
                .spawn(move || deliver_loop(deliverer, kicked, undelivered))
                .map_err(StartError::Thread)?
        };
        let queue = Queue {
            outbox,
            state_dir: state_dir.to_path_buf(),
            routes: names,
        };
        let (requests, received) = mpsc::channel(QUEUE);
        let task = tokio::spawn(async move {
            serve_requests(queue, received, kicks.clone(), undelivered).await;
            // Every handle is gone: the thread delivers what is due once
            // more and ends.
            let (reply, done) = oneshot::channel();
            let _ = kicks.send(Kick::Drain { grace: None, reply });
            drop(kicks);
            let _ = done.await;
            let _ = tokio::task::spawn_blocking(move || deliverer.join()).await;
        });
        Ok((Statuses { requests }, task))
    }

    /// Queues `status` of `source`'s commit for every reporter of the
    /// source. Waits only while the queue is full.
    pub async fn record(&self, source: &str, status: Status) {
        let request = Request::Record {
            source: source.to_string(),
            status,
        };
        let _ = self.requests.send(request).await;
    }

    /// Whether every reporter of `source` already has (or is about to get)
    /// a success for `context` on `sha`.
    pub async fn succeeded(&self, source: &str, sha: &str, context: &str) -> bool {
        let (reply, answer) = oneshot::channel();
        let request = Request::Succeeded {
            source: source.into(),
            sha: sha.into(),
            context: context.into(),
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// How many statuses wait to be delivered.
    pub async fn backlog(&self) -> i64 {
        let (reply, answer) = oneshot::channel();
        if self
            .requests
            .send(Request::Backlog { reply })
            .await
            .is_err()
        {
            return 0;
        }
        answer.await.unwrap_or(0)
    }

    /// Delivers what is queued now and waits for it: once (`grace` None:
    /// what fails waits for its retry), or retrying everything left until
    /// the outbox is empty or `grace` is over. Returns how many statuses
    /// are left (kept for a later start).
    pub async fn drain(&self, grace: Option<Duration>) -> i64 {
        let (reply, answer) = oneshot::channel();
        if self
            .requests
            .send(Request::Drain { grace, reply })
            .await
            .is_err()
        {
            return 0;
        }
        answer.await.unwrap_or(0)
    }
}

/// The queueing task: each request's SQLite work runs on the blocking
/// pool, one at a time, in the order the requests came.
async fn serve_requests(
    mut queue: Queue,
    mut received: mpsc::Receiver<Request>,
    kicks: std_mpsc::Sender<Kick>,
    undelivered: Undelivered,
) {
    // Drains under way: their answers wait for the delivery thread, and
    // the queue goes on meanwhile.
    let mut draining = tokio::task::JoinSet::new();
    loop {
        let request = tokio::select! {
            request = received.recv() => request,
            Some(_) = draining.join_next() => continue,
        };
        let Some(request) = request else { break };
        let (kicks, told) = (kicks.clone(), undelivered.clone());
        let work = move || {
            let answer = queue.handle(request, &kicks, &told);
            (queue, answer)
        };
        let (back, answer) = match tokio::task::spawn_blocking(work).await {
            Ok(done) => done,
            Err(e) => {
                undelivered(&format!("status outbox: {e}"));
                return;
            }
        };
        queue = back;
        if let Some(answer) = answer {
            draining.spawn(answer);
        }
    }
    draining.join_all().await;
}

/// A reply that waits for the delivery thread.
type Later = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Queue {
    fn handle(
        &mut self,
        request: Request,
        kicks: &std_mpsc::Sender<Kick>,
        undelivered: &Undelivered,
    ) -> Option<Later> {
        match request {
            Request::Record { source, status } => {
                if let Err(e) = self.record(&source, &status, kicks, undelivered) {
                    undelivered(&format!("status outbox: {e}"));
                }
                None
            }
            Request::Succeeded {
                source,
                sha,
                context,
                reply,
            } => {
                let answer = self.succeeded(&source, &sha, &context);
                let _ = reply.send(answer.unwrap_or(false));
                None
            }
            Request::Backlog { reply } => {
                let _ = reply.send(self.outbox.backlog().unwrap_or(0));
                None
            }

            Request::Drain { grace, reply } => {
                let (done, delivered) = oneshot::channel();
                let _ = kicks.send(Kick::Drain { grace, reply: done });
                let outbox = Outbox::open(&self.state_dir);
                Some(Box::pin(async move {
                    let _ = delivered.await;
                    let left = tokio::task::spawn_blocking(move || {
                        outbox.and_then(|o| o.backlog()).unwrap_or(0)
                    })
                    .await
                    .unwrap_or(0);
                    let _ = reply.send(left);
                }))
            }
        }
    }

    /// The reporter names of `source`, learning a source this process was
    /// not configured with from what the outbox remembers of it.
    fn names(
        &mut self,
        source: &str,
        kicks: &std_mpsc::Sender<Kick>,
        undelivered: &Undelivered,
    ) -> Result<Option<&Vec<String>>, Error> {
        if !self.routes.contains_key(source) {
            let learned = match self.outbox.source(source)? {
                Some(report) => {
                    let reporters = remembered(&report, undelivered);
                    let names = reporters.iter().map(|r| r.name().to_string()).collect();
                    let _ = kicks.send(Kick::Add(source.to_string(), reporters));
                    Some(names)
                }
                None => None,
            };
            self.routes.insert(source.to_string(), learned);
        }
        Ok(self.routes.get(source).and_then(Option::as_ref))
    }

    fn record(
        &mut self,
        source: &str,
        status: &Status,
        kicks: &std_mpsc::Sender<Kick>,
        undelivered: &Undelivered,
    ) -> Result<(), Error> {
        let Some(names) = self.names(source, kicks, undelivered)?.cloned() else {
            return Ok(());
        };
        let now = Timestamp::now();
        for name in &names {
            self.outbox.enqueue(name, status, now)?;
        }
        let _ = kicks.send(Kick::Due(source.to_string()));
        Ok(())
    }

    fn succeeded(&mut self, source: &str, sha: &str, context: &str) -> Result<bool, Error> {
        let Some(names) = self.routes.get(source).and_then(Option::as_ref) else {
            return Ok(false);
        };
        for name in names {
            if self.outbox.latest(name, sha, context)? != Some(State::Success) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The reporters of a source this process was not configured with: git
/// notes in the repository it last synced from, and its forge (with the
/// token from the environment) if it reported to one.
fn remembered(report: &SourceReport, undelivered: &Undelivered) -> Vec<Box<dyn Reporter>> {
    let mut reporters: Vec<Box<dyn Reporter>> =
        vec![Box::new(GitNotes::new(report.notes_repo.clone()))];
    if let Some(config) = &report.forge {
        match forge::token(None) {
            Ok(token) => reporters.push(Box::new(Forge::from_config(config, token))),
            Err(e) => undelivered(&format!(
                "{} {}: {e}; statuses go to git notes only",
                config.api, config.project
            )),
        }
    }
    reporters
}

/// The delivery thread's side: one outbox connection for every source (a
/// SQLite connection keeps a page cache of its own; one per source held
/// about 90 KB each, 87 MB with 1,000 sources, heaptrack over
/// `benches/fleet.rs`), and each source's reporters.
struct Deliverer {
    outbox: Outbox,
    routes: HashMap<String, Vec<Box<dyn Reporter>>>,
}

impl Deliverer {
    /// Delivers what is due for `source`'s reporters at `now`.
    fn deliver(&self, source: &str, now: Timestamp) -> Option<Result<Delivery, Error>> {
        let reporters: Vec<&dyn Reporter> =
            self.routes.get(source)?.iter().map(AsRef::as_ref).collect();
        Some(self.outbox.deliver_due(&reporters, now))
    }

    /// Delivers what is due for every source at `now`.
    fn deliver_all(&self, now: Timestamp, tell: &impl Fn(Result<Delivery, Error>)) {
        for source in self.routes.keys() {
            if let Some(delivery) = self.deliver(source, now) {
                tell(delivery);
            }
        }
    }
}

/// The delivery thread: delivers a source's statuses when told they are
/// due, retries what failed every [`RETRY_EVERY`], and drains when asked.
/// Ends when the queueing side hangs up.
fn deliver_loop(
    mut deliverer: Deliverer,
    kicked: std_mpsc::Receiver<Kick>,
    undelivered: Undelivered,
) {
    let tell = |delivery: Result<Delivery, Error>| match delivery {
        Ok(delivery) => {
            for failure in &delivery.failed {
                undelivered(failure);
            }
        }
        Err(e) => undelivered(&format!("status outbox: {e}")),
    };
    // Retries are due every RETRY_EVERY whatever else comes: a busy source
    // never starves another's retries.
    let mut next_retry = Instant::now() + RETRY_EVERY;
    loop {
        let wait = next_retry.saturating_duration_since(Instant::now());
        match kicked.recv_timeout(wait) {
            Ok(Kick::Due(source)) => {
                if let Some(delivery) = deliverer.deliver(&source, Timestamp::now()) {
                    tell(delivery);
                }
            }
            Ok(Kick::Add(source, reporters)) => {
                deliverer.routes.insert(source, reporters);
            }
            Ok(Kick::Drain { grace, reply }) => {
                deliverer.deliver_all(Timestamp::now(), &tell);
                if let Some(grace) = grace {
                    drain(&deliverer, grace, &undelivered);
                }
                let _ = reply.send(());
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if Instant::now() >= next_retry {
            deliverer.deliver_all(Timestamp::now(), &tell);
            next_retry = Instant::now() + RETRY_EVERY;
        }
    }
}

/// Retries everything left, whatever its backoff, until nothing is left or
/// `grace` is over.
fn drain(deliverer: &Deliverer, grace: Duration, undelivered: &Undelivered) {
    let deadline = Instant::now() + grace;
    loop {
        // Everything counts as due: a year from now.
        let later = Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
        deliverer.deliver_all(later, &|delivery| {
            if let Err(e) = delivery {
                undelivered(&format!("status outbox: {e}"));
            }
        });
        let left = match deliverer.outbox.backlog() {
            Ok(n) => n,
            Err(e) => {
                undelivered(&format!("status outbox: {e}"));
                return;
            }
        };
        if left == 0 || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(500).min(deadline - Instant::now()));
    }
}
