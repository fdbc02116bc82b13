//! What a target runs besides reconciles while `jobcd serve` runs, and
//! what it is called: the local executor fires CronJobs on schedule; a
//! cluster's own controller does that.

use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::target::kube::KubeTarget;
use crate::target::local::Executor;

/// What a target runs besides reconciles, while the service runs: the
/// local executor fires CronJobs on schedule; a cluster's own controller
/// does that.
pub trait Background {
    /// Which target this is, in words.
    const KIND: &'static str;

    /// Runs until `until` is cancelled.
    fn run_cronjobs(&self, until: CancellationToken) -> impl Future<Output = ()> + Send;
}

impl Background for Executor {
    const KIND: &'static str = "local executor";

    async fn run_cronjobs(&self, until: CancellationToken) {
        if let Err(e) = self.serve(until.cancelled()).await {
            error!("the local executor stopped: {e}");
        }
    }
}

impl Background for KubeTarget {
    const KIND: &'static str = "Kubernetes cluster";

    async fn run_cronjobs(&self, until: CancellationToken) {
        until.cancelled().await;
    }
}
