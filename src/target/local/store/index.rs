//! The scheduling states and Job records of a pass, indexed once by the
//! CronJob they belong to: both the scheduler and the health look go
//! through every CronJob, and 50,000 of them searched one by one took
//! minutes per pass.

use std::collections::HashMap;

use super::{CronState, JobRecord};

/// A CronJob's namespace and name.
pub type Key<'a> = (&'a str, &'a str);

/// Each CronJob's scheduling state.
pub fn states_by_cronjob(states: &[CronState]) -> HashMap<Key<'_>, &CronState> {
    states
        .iter()
        .map(|s| ((s.namespace.as_str(), s.name.as_str()), s))
        .collect()
}

/// The Jobs each CronJob made.
pub fn jobs_by_cronjob(jobs: &[JobRecord]) -> HashMap<Key<'_>, Vec<&JobRecord>> {
    let mut made: HashMap<Key<'_>, Vec<&JobRecord>> = HashMap::new();
    for job in jobs {
        if let Some(owner) = job.owner_cronjob.as_deref() {
            made.entry((job.namespace.as_str(), owner))
                .or_default()
                .push(job);
        }
    }
    made
}
