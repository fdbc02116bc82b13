//! The API client: kubeconfig (`--kubeconfig`, `--context`, `KUBECONFIG`)
//! or the in-cluster service account, with every request counted by verb
//! so that API economy can be measured and exported.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// Requests sent, by verb (`get`, `list`, `watch`, `create`, `patch`,
/// `update`, `delete`).
#[derive(Debug, Clone, Default)]
pub struct ApiCounts(Arc<Mutex<BTreeMap<&'static str, u64>>>);

impl ApiCounts {
    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Requests that change something.
    pub fn writes(&self) -> u64 {
        let counts = self.snapshot();
        ["create", "patch", "update", "delete"]
            .iter()
            .map(|v| counts.get(v).copied().unwrap_or(0))
            .sum()
    }

    fn count(&self, verb: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(verb).or_default() += 1;
        }
    }
}

/// The Kubernetes verb of a request, from its method, path and query.
pub fn verb(method: &http::Method, path: &str, query: Option<&str>) -> &'static str {
    let watching =
        query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    match *method {
        http::Method::POST => "create",
        http::Method::PATCH => "patch",
        http::Method::PUT => "update",
        http::Method::DELETE => "delete",
        http::Method::GET if watching => "watch",
        http::Method::GET => {
            // /api/v1/... or /apis/GROUP/VERSION/..., then an optional
            // namespaces/NS/, then RESOURCE[/NAME[/SUBRESOURCE]].
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let skip = match parts.first() {
                Some(&"api") => 2,
                Some(&"apis") => 3,
                _ => return "get",
            };
            let mut rest = parts.get(skip..).unwrap_or_default();
            if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
                rest = &rest[2..];
            }
            if rest.len() <= 1 { "list" } else { "get" }
        }
        _ => "other",
    }
}

/// Where the client's configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// A kubeconfig file (else `KUBECONFIG`, `~/.kube/config`, or in-cluster).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// A context of it (else its current context).
    pub context: Option<String>,
}

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused the credentials.
    #[error(
        "the API server at {url} refused jobcd's credentials ({message}): check --kubeconfig/--context, or the token or certificate"
    )]
    Refused {
        /// The server.
        url: String,
        /// What it said.
        message: String,
    },
    /// The server did not answer.
    #[error(
        "cannot reach the API server at {url}; check --kubeconfig/--context and that the server is up"
    )]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// No configuration was found.
    #[error(
        "no Kubernetes configuration; give --kubeconfig, set KUBECONFIG, or run in a pod with a service account"
    )]
    NoConfig(#[source] kube::config::InferConfigError),
    /// The kubeconfig cannot be read or used.
    #[error("the kubeconfig {}", path.as_ref().map_or("(default)".to_string(), |p| p.display().to_string()))]
    Kubeconfig {
        /// The file, when given.
        path: Option<std::path::PathBuf>,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The client cannot be built from the configuration.
    #[error("setting up the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// A client counting its requests into `counts`, and the namespace its
/// configuration defaults to. The server is asked for its version first
/// (a few tries), so that an unreachable or misconfigured server is named
/// at once rather than as a watch that never lists.
pub async fn connect(
    connection: &Connection,
    counts: &ApiCounts,
) -> Result<(Client, String), ConnectError> {
    let (client, namespace, url) = build(connection, counts, None).await?;
    let mut delay = std::time::Duration::from_millis(250);
    for attempt in 1.. {
        match client.apiserver_version().await {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.code == 401 || status.code == 403 => {
                return Err(ConnectError::Refused {
                    url,
                    message: status.message,
                });
            }
            Err(source) if attempt >= 4 => {
                return Err(ConnectError::Unreachable { url, source });
            }
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    Ok((client, namespace))
}

/// A client like [`connect`]'s whose every request impersonates `user`
/// (the `Impersonate-User` header): the API server authorizes each one as
/// that user, and first checks that jobcd may impersonate it.
pub async fn impersonating(
    connection: &Connection,
    counts: &ApiCounts,
    user: &str,
) -> Result<Client, ConnectError> {
    Ok(build(connection, counts, Some(user)).await?.0)
}

async fn build(
    connection: &Connection,
    counts: &ApiCounts,
    impersonate: Option<&str>,
) -> Result<(Client, String, String), ConnectError> {
    let options = KubeConfigOptions {
        context: connection.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = match &connection.kubeconfig {
        Some(path) => {
            from_file(path, &options)
                .await
                .map_err(|source| ConnectError::Kubeconfig {
                    path: Some(path.clone()),
                    source,
                })?
        }
        None if connection.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|source| ConnectError::Kubeconfig { path: None, source })?,
        None => Config::infer().await.map_err(ConnectError::NoConfig)?,
    };
    if let Some(user) = impersonate {
        config.auth_info.impersonate = Some(user.to_string());
        config.auth_info.impersonate_groups = None;
    }
    let namespace = config.default_namespace.clone();
    let url = config.cluster_url.to_string();
    let counter = counts.clone();
    let builder = kube::client::ClientBuilder::try_from(config).map_err(ConnectError::Client)?;
    let client = builder
        .with_layer(&tower::util::MapRequestLayer::new(
            move |request: http::Request<kube::client::Body>| {
                let uri = request.uri();
                counter.count(verb(request.method(), uri.path(), uri.query()));
                request
            },
        ))
        .build();
    Ok((client, namespace, url))
}

async fn from_file(
    path: &Path,
    options: &KubeConfigOptions,
) -> Result<Config, kube::config::KubeconfigError> {
    Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, options).await
}

#[cfg(test)]
mod tests {
    use super::verb;
    use http::Method;

    #[test]
    fn verbs_follow_the_api_path_rules() {
        let get = Method::GET;
        assert_eq!(verb(&get, "/apis/batch/v1/namespaces/a/jobs", None), "list");
        assert_eq!(
            verb(&get, "/apis/batch/v1/namespaces/a/jobs/x", None),
            "get"
        );
        assert_eq!(
            verb(&get, "/apis/batch/v1/namespaces/a/jobs/x/status", None),
            "get"
        );
        assert_eq!(
            verb(
                &get,
                "/apis/batch/v1/namespaces/a/jobs",
                Some("labelSelector=a&watch=true")
            ),
            "watch"
        );
        assert_eq!(verb(&get, "/apis/batch/v1/jobs", None), "list");
        assert_eq!(verb(&get, "/api/v1/namespaces", None), "list");
        assert_eq!(verb(&get, "/api/v1/namespaces/a", None), "get");
        assert_eq!(verb(&get, "/api/v1/namespaces/a/configmaps/l", None), "get");
        assert_eq!(verb(&Method::PATCH, "/x", None), "patch");
        assert_eq!(verb(&Method::DELETE, "/x", None), "delete");
        assert_eq!(verb(&Method::POST, "/x", None), "create");
    }
}
