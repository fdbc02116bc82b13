//! `--target kube` for `diff` and `sync`: how to reach the cluster, and
//! the API request counts a cluster sync prints.

use std::path::PathBuf;

use anyhow::Context;

use crate::target::kube::{self as cluster, KubeTarget};

/// How to reach a cluster (`--target kube`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KubeArgs {
    /// kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: its current context).
    #[arg(long)]
    context: Option<String>,
    /// Namespaces jobcd manages, comma-separated or repeated (default: the context's namespace); objects elsewhere are refused.
    #[arg(
        short = 'n',
        long = "namespace",
        value_delimiter = ',',
        env = "JOBCD_NAMESPACES"
    )]
    namespaces: Vec<String>,
    /// Namespace of the run-once ledgers (default: the context's namespace).
    #[arg(long, env = "JOBCD_LEDGER_NAMESPACE")]
    ledger_namespace: Option<String>,
}

impl KubeArgs {
    /// Refuses these flags on the local target, where they would be
    /// silently ignored: a user who gave them meant a cluster.
    pub(super) fn refuse_on_local(&self) -> anyhow::Result<()> {
        let given: Vec<&str> = [
            (self.kubeconfig.is_some(), "--kubeconfig"),
            (self.context.is_some(), "--context"),
            (
                !self.namespaces.is_empty(),
                "--namespace (or JOBCD_NAMESPACES)",
            ),
            (
                self.ledger_namespace.is_some(),
                "--ledger-namespace (or JOBCD_LEDGER_NAMESPACE)",
            ),
        ]
        .into_iter()
        .filter_map(|(given, flag)| given.then_some(flag))
        .collect();
        if given.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "{} only apply to a cluster, and the target is the local executor; add --target kube, or leave them out",
            given.join(", ")
        )
    }

    pub(super) async fn connect(&self, dry_run: bool) -> anyhow::Result<KubeTarget> {
        KubeTarget::connect(cluster::Settings {
            connection: cluster::Connection {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
            },
            namespaces: self.namespaces.clone(),
            ledger_namespace: self.ledger_namespace.clone(),
            dry_run,
            tenants: Default::default(),
        })
        .await
        .context("connecting to the Kubernetes API server")
    }
}

/// The API requests a sync made, by verb, for people.
pub(super) fn api_requests(cluster: &KubeTarget) -> String {
    let counts = cluster.api_counts().snapshot();
    let list: Vec<String> = counts
        .iter()
        .map(|(verb, n)| format!("{verb} {n}"))
        .collect();
    format!("API requests: {}", list.join(", "))
}
