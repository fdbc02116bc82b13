//! The executor's run history as the dashboard reads it: the newest runs
//! and one run by uid, each with its pods, off the async runtime.

use super::{AppliedObject, Error, Executor, Kind, Run};

impl Executor {
    /// The newest `limit` Job runs (removed ones included), oldest first,
    /// with their pods.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, Error> {
        self.runtime
            .with_store(move |s| {
                s.recent_jobs(limit)?
                    .into_iter()
                    .map(|job| {
                        Ok(Run {
                            pods: s.pods_of(&job.uid)?,
                            job,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// The run of Job instance `uid`, with its pods.
    pub async fn run_by_uid(&self, uid: &str) -> Result<Option<Run>, Error> {
        let uid = uid.to_string();
        self.runtime
            .with_store(move |s| {
                let Some(job) = s.job(&uid)? else {
                    return Ok(None);
                };
                Ok(Some(Run {
                    pods: s.pods_of(&job.uid)?,
                    job,
                }))
            })
            .await
    }

    /// The Jobs applied from sources, as last applied: which source and
    /// commit a run of that name and spec came from.
    pub async fn applied_jobs(&self) -> Result<Vec<AppliedObject>, Error> {
        self.runtime
            .with_store(|s| {
                let mut objects = s.objects()?;
                objects.retain(|o| o.kind == Kind::Job);
                Ok(objects)
            })
            .await
    }
}
