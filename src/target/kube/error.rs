//! What went wrong talking to the API server, named for the person who
//! must act: the object, what the server said, and what to do.

/// An error of the Kubernetes target.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The client could not be set up.
    #[error(transparent)]
    Connect(std::sync::Arc<super::client::ConnectError>),
    /// An object could not be put in the form the API takes.
    #[error("{what}: {source}")]
    Encode {
        /// What was being built.
        what: String,
        /// Why.
        source: std::sync::Arc<serde_json::Error>,
    },
    /// The API server refused or failed a request about an object.
    #[error("{action} {object}: {message}{hint}")]
    Api {
        /// What jobcd was doing (`apply`, `delete`, …).
        action: &'static str,
        /// The object, or what else the request was about.
        object: String,
        /// What the server said.
        message: String,
        /// What to do, starting with "; ".
        hint: String,
        /// The HTTP status, when the server answered.
        code: Option<u16>,
    },
    /// An object in a namespace jobcd is not allowed to manage.
    #[error(
        "{object} ({at}) is in namespace {namespace:?}, which jobcd does not manage ({allowed}); move it to one of those, or allow the namespace with --namespace {namespace}"
    )]
    NamespaceNotAllowed {
        /// The object.
        object: String,
        /// Its file and line.
        at: String,
        /// Its namespace.
        namespace: String,
        /// The allowed ones, listed.
        allowed: String,
    },
    /// An object in a namespace its source may not write to.
    #[error(
        "{object} ({at}) is in namespace {namespace:?}, where source {source_name:?} may not write (its namespaces: {allowed}); move it to one of those, or add the namespace to the source's namespaces in jobcd's configuration"
    )]
    NamespaceNotAllowedForSource {
        /// The object.
        object: String,
        /// Its file and line.
        at: String,
        /// Its namespace.
        namespace: String,
        /// The source.
        source_name: String,
        /// The namespaces it may write to, listed.
        allowed: String,
    },
    /// Objects of the revision whose names objects jobcd does not manage
    /// already hold.
    #[error("{0}")]
    Conflicts(String),
    /// Waiting for the server took too long.
    #[error("{0}")]
    Timeout(String),
}

impl Error {
    /// The error of a failed request about `object`.
    pub fn api(action: &'static str, object: impl std::fmt::Display, e: kube::Error) -> Error {
        let object = object.to_string();
        match e {
            kube::Error::Api(status) => Error::status(action, object, &status),
            other => Error::Api {
                action,
                object,
                message: other.to_string(),
                hint: "; is the API server reachable? check --kubeconfig/--context and the network; retried with backoff".into(),
                code: None,
            },
        }
    }

    /// The error of a request about `object` the server answered with
    /// `status`.
    pub fn status(action: &'static str, object: String, status: &kube::core::Status) -> Error {
        let code = status.code;
        let reason = status.reason.clone();
        let hint = match (code, reason.as_str()) {
            (401, _) => {
                "; the credentials were refused: check --kubeconfig/--context (an expired token or certificate?)"
            }
            (403, _) => {
                "; jobcd's user or service account lacks this permission: grant it with RBAC (the Helm chart's Role lists what jobcd needs)"
            }
            (404, _) if action == "apply" => {
                "; does the namespace exist? jobcd does not create namespaces"
            }
            (409, "Conflict") if action == "apply" => {
                "; another field manager owns these fields: change them back there, or let jobcd take them back (sync --correct-drift; serve's correctDrift)"
            }
            (409, "AlreadyExists") => {
                "; an object of this name exists and jobcd does not manage it: rename yours or delete that one"
            }
            (422, _) => "; the API server rejected the manifest: fix it in git",
            (400, _) if status.message.contains("admission webhook") => {
                "; an admission webhook refused it: see its message"
            }
            (429, _) | (500..=599, _) => {
                "; the API server is overloaded or failing; retried with backoff"
            }
            _ => "",
        };
        Error::Api {
            action,
            object,
            message: status.message.clone(),
            hint: hint.into(),
            code: Some(code),
        }
    }

    /// The error a watch of `what` met, if waiting will not cure it: the
    /// server refused the credentials (401), the permission (403), or knows
    /// no such namespace (404). Other errors the watch retries with backoff.
    pub fn of_watch(what: &str, e: &kube::runtime::watcher::Error) -> Option<Error> {
        use kube::runtime::watcher::Error as W;
        let status = match e {
            W::InitialListFailed(kube::Error::Api(s))
            | W::WatchStartFailed(kube::Error::Api(s))
            | W::WatchFailed(kube::Error::Api(s)) => s.as_ref(),
            W::WatchError(s) => s.as_ref(),
            _ => return None,
        };
        matches!(status.code, 401 | 403 | 404)
            .then(|| Error::status("list", what.to_string(), status))
    }

    /// Whether trying again may help: the server did not answer, or said
    /// it is busy or failing.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Api { code: None, .. } => true,
            Error::Api { code: Some(c), .. } => *c == 429 || (500..=599).contains(c),
            _ => false,
        }
    }
}
