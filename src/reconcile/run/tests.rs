//! The step against targets whose event stream misbehaves: a reader that
//! falls behind, and a stream that closes.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::broadcast;

use super::*;
use crate::manifest::{self, SourceFile};
use crate::plan::{Ledger, Live, Operation};
use crate::target::{Applied, Outcome, RunResult};

const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: x, command: ['true']}]\n";

fn validation() -> Validation {
    let files = [SourceFile {
        path: "once.yaml".into(),
        bytes: JOB.as_bytes().to_vec(),
    }];
    let options = manifest::Options {
        strict: false,
        now: "2026-01-01T00:00:00Z".parse().expect("a valid time"),
        allow_secrets: false,
    };
    manifest::load(&files, &options)
}

fn ended(uid: &str) -> Outcome {
    Outcome {
        uid: uid.into(),
        namespace: "default".into(),
        name: "once".into(),
        cronjob: None,
        result: RunResult::Complete,
        reason: Some("CompletionsReached".into()),
        message: None,
        failed: 0,
        succeeded: 1,
    }
}

/// A target whose applies start a run and then (`flood`) send more events
/// than a reader keeps, the run's end among the lost ones, or (`close`)
/// drop the stream.
struct Misbehaving {
    events: Mutex<Option<broadcast::Sender<RunEvent>>>,
    flood: bool,
}

impl Misbehaving {
    fn new(flood: bool) -> Misbehaving {
        Misbehaving {
            events: Mutex::new(Some(broadcast::Sender::new(4))),
            flood,
        }
    }
}

impl Target for Misbehaving {
    type Error = std::io::Error;

    async fn live(&self) -> Result<Vec<Live>, Self::Error> {
        Ok(Vec::new())
    }

    async fn live_for(&self, _: &str, _: &[ObjectRef]) -> Result<Vec<Live>, Self::Error> {
        Ok(Vec::new())
    }

    async fn ledger(&self, _: &str) -> Result<Ledger, Self::Error> {
        Ok(Ledger::default())
    }

    async fn apply(&self, _: &Operation) -> Result<Applied, Self::Error> {
        let mut events = self.events.lock().expect("not poisoned");
        if self.flood {
            let sender = events.as_ref().expect("open");
            let _ = sender.send(RunEvent::Ended(ended("u1")));
            for n in 0..16 {
                let _ = sender.send(RunEvent::Ended(ended(&format!("other-{n}"))));
            }
        } else {
            events.take();
        }
        Ok(Applied::RunStarted { uid: "u1".into() })
    }

    async fn outcome(&self, job: &JobRef) -> Result<Option<Outcome>, Self::Error> {
        Ok((job.uid == "u1").then(|| ended("u1")))
    }

    fn events(&self) -> broadcast::Receiver<RunEvent> {
        match &*self.events.lock().expect("not poisoned") {
            Some(sender) => sender.subscribe(),
            None => broadcast::Sender::new(1).subscribe(),
        }
    }

    fn in_flight(&self) -> Vec<JobRef> {
        Vec::new()
    }

    async fn settle(&self) -> Result<(), Self::Error> {
        Ok(())
    }
}

async fn reconcile(target: &Misbehaving) -> Reconciled<std::io::Error> {
    let validation = validation();
    let policy = Policy::default();
    let request = Request {
        source: "s",
        sha: "abc",
        validation: &validation,
        policy: &policy,
        mode: Mode::Apply,
        rendered: None,
    };
    let mut on = |_: Event<'_>| {};
    let run = run(target, request, None, &mut on, std::future::pending());
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the reconcile ends")
}

#[tokio::test]
async fn a_reader_that_fell_behind_asks_the_target_how_its_runs_ended() {
    let Reconciled::Applied(synced) = reconcile(&Misbehaving::new(true)).await else {
        panic!("applied")
    };
    assert_eq!(synced.interrupted, None);
    assert_eq!(synced.runs.len(), 1);
    assert_eq!(
        (synced.runs[0].uid.as_str(), synced.runs[0].result),
        ("u1", RunResult::Complete)
    );
}

#[tokio::test]
async fn a_closed_stream_ends_the_following_instead_of_spinning() {
    let Reconciled::Applied(synced) = reconcile(&Misbehaving::new(false)).await else {
        panic!("applied")
    };
    assert_eq!(synced.interrupted, Some(Stop::Shutdown));
    assert!(synced.runs.is_empty());
    assert!(
        synced.summary.ends_with("1 Job run(s) still going"),
        "{}",
        synced.summary
    );
}
