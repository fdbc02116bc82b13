//! The executor's run history as the dashboard reads it: the newest runs
//! and one run by uid, each with its pods and the Job object last applied
//! under its name (which says its source and commit), off the async
//! runtime.

use super::store::Store;
use super::{AppliedObject, Error, Executor, Kind, Run, store};

/// A run, and the Job applied under its name, if one is.
pub type Recorded = (Run, Option<AppliedObject>);

impl Executor {
    /// The newest `limit` Job runs (removed ones included), oldest first.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<Recorded>, Error> {
        self.runtime
            .with_store(move |s| {
                s.recent_jobs(limit)?
                    .into_iter()
                    .map(|job| recorded(s, job))
                    .collect()
            })
            .await
    }

    /// The run of Job instance `uid`.
    pub async fn run_by_uid(&self, uid: &str) -> Result<Option<Recorded>, Error> {
        let uid = uid.to_string();
        self.runtime
            .with_store(move |s| s.job(&uid)?.map(|job| recorded(s, job)).transpose())
            .await
    }
}

fn recorded(s: &Store, job: store::JobRecord) -> Result<Recorded, store::Error> {
    let applied = s.object(Kind::Job, &job.namespace, &job.name)?;
    Ok((
        Run {
            pods: s.pods_of(&job.uid)?,
            job,
        },
        applied,
    ))
}
