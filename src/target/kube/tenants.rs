//! Sources confined on a cluster: the namespaces each may write to (a
//! subset of the target's), and the identity its API calls are made as —
//! a ServiceAccount impersonated, so that the API server's RBAC, not only
//! jobcd, decides what a source may do. The shared watches that feed the
//! caches stay jobcd's own; every write of a source, the reads that decide
//! one (is this name free, is the deleted Job gone) and its run-once ledger
//! go through its client.

use std::collections::{BTreeMap, HashMap};

use kube::Client;

use super::Error;
use super::client::{self, ApiCounts, Connection};
use crate::target::Desired;

/// What one source may do on the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenant {
    /// The namespaces its objects may be in; None: all of the target's.
    pub namespaces: Option<Vec<String>>,
    /// The user its API calls are made as
    /// (`system:serviceaccount:<namespace>:<name>`); None: jobcd's own.
    pub impersonate: Option<String>,
}

/// Every confined source, with its client.
#[derive(Clone)]
pub(super) struct Tenants {
    /// jobcd's own client.
    own: Client,
    namespaces: HashMap<String, Vec<String>>,
    clients: HashMap<String, Client>,
    /// The user each impersonating source acts as.
    users: HashMap<String, String>,
}

impl Tenants {
    /// The clients of `tenants`, built from `connection` (one per
    /// impersonated account), counting into `counts`.
    pub(super) async fn connect(
        own: Client,
        connection: &Connection,
        counts: &ApiCounts,
        tenants: &BTreeMap<String, Tenant>,
    ) -> Result<Tenants, Error> {
        let mut clients = HashMap::new();
        let mut namespaces = HashMap::new();
        let mut users = HashMap::new();
        for (source, tenant) in tenants {
            if let Some(user) = &tenant.impersonate {
                let client = client::impersonating(connection, counts, user)
                    .await
                    .map_err(|e| Error::Connect(std::sync::Arc::new(e)))?;
                clients.insert(source.clone(), client);
                users.insert(source.clone(), user.clone());
            }
            if let Some(allowed) = &tenant.namespaces {
                namespaces.insert(source.clone(), allowed.clone());
            }
        }
        Ok(Tenants {
            own,
            namespaces,
            clients,
            users,
        })
    }

    /// jobcd's own client.
    pub(super) fn own(&self) -> &Client {
        &self.own
    }

    /// The client `source`'s calls are made with.
    pub(super) fn client(&self, source: &str) -> &Client {
        self.clients.get(source).unwrap_or(&self.own)
    }

    /// `e`, from a call made as `source`: a refusal of an impersonating
    /// source's call is its account's, not jobcd's, to fix.
    pub(super) fn explain(&self, source: &str, e: Error) -> Error {
        match (e, self.users.get(source)) {
            (
                Error::Api {
                    action,
                    object,
                    message,
                    code: Some(403),
                    ..
                },
                Some(user),
            ) => Error::Api {
                action,
                object,
                message,
                hint: format!(
                    "; source {source:?} acts as {user}, whose RBAC lacks this permission: grant it in that account's Role, or keep the source to namespaces it may write to"
                ),
                code: Some(403),
            },
            (e, _) => e,
        }
    }

    /// Refuses an object outside its source's namespaces.
    pub(super) fn check(&self, d: &Desired) -> Result<(), Error> {
        let Some(allowed) = self.namespaces.get(&d.source) else {
            return Ok(());
        };
        let id = &d.object.id;
        if allowed.contains(&id.namespace) {
            return Ok(());
        }
        Err(Error::NamespaceNotAllowedForSource {
            object: id.to_string(),
            at: d.object.location.to_string(),
            namespace: id.namespace.clone(),
            source_name: d.source.clone(),
            allowed: allowed.join(", "),
        })
    }
}
