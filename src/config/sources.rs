//! `sources`: each repository to keep in sync, how to reach it, how its
//! manifests are rendered, and what it is trusted with.

use std::collections::HashSet;
use std::path::PathBuf;

use super::read::{Map, Problems};
use super::{DEFAULT_INTERVAL, Source, Target, secret, trust};

pub(super) fn read_sources(top: &Map<'_>, target: &Target, p: &mut Problems<'_>) -> Vec<Source> {
    let Some(node) = top.get("sources") else {
        p.add(
            0,
            "sources",
            "sources is required: at least one repository to sync",
            None,
        );
        return Vec::new();
    };
    let crate::yaml::Value::Seq(items) = &node.value else {
        p.add(
            node.line,
            "sources",
            format!("expected a list of sources, found {}", node.type_name()),
            None,
        );
        return Vec::new();
    };
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("sources[{i}]");
        let Some(m) = Map::of(item, &at, p) else {
            continue;
        };
        m.only(
            &[
                "name",
                "repo",
                "ref",
                "path",
                "interval",
                "username",
                "passwordFile",
                "passwordEnv",
                "sshKeyFile",
                "sshPassphraseFile",
                "sshPassphraseEnv",
                "knownHostsFile",
                "allowCleartextPassword",
                "webhookSecretFile",
                "webhookSecretEnv",
                "render",
                "helmValues",
                "helmSet",
                "helmRelease",
                "helmNamespace",
                "allowSecrets",
                "verify",
                "namespaces",
                "serviceAccount",
            ],
            p,
        );
        let name = m.required("name", p);
        if let Some(name) = &name {
            let valid = !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !name.starts_with('-')
                && !name.ends_with('-');
            let line = m.get("name").map_or(item.line, |n| n.line);
            if !valid {
                p.add(line, &m.path_of("name"), format!("{name:?} is not a valid source name"), Some("lower-case letters, digits and '-', at most 63, as a Kubernetes label value"));
            } else if !names.insert(name.clone()) {
                p.add(
                    line,
                    &m.path_of("name"),
                    format!("source {name:?} is defined twice"),
                    Some("each source needs its own name"),
                );
            }
        }
        let repo = m.required("repo", p);
        if let Some(repo) = &repo
            && let Err(e) = crate::source::Location::parse(repo)
        {
            let line = m.get("repo").map_or(item.line, |n| n.line);
            p.add(line, &m.path_of("repo"), e.to_string(), None);
        }
        let source = Source {
            name: name.unwrap_or_default(),
            repo: repo.unwrap_or_default(),
            reference: m.string("ref", p),
            path: m.string("path", p).unwrap_or_default(),
            interval: m.duration("interval", p).unwrap_or(DEFAULT_INTERVAL),
            username: m.string("username", p),
            password: secret(&m, "password", &at, p, false),
            ssh_key: m.string("sshKeyFile", p).map(PathBuf::from),
            ssh_passphrase: secret(&m, "sshPassphrase", &at, p, false),
            known_hosts: m.string("knownHostsFile", p).map(PathBuf::from),
            allow_cleartext_password: m.boolean("allowCleartextPassword", p).unwrap_or(false),
            webhook_secret: secret(&m, "webhookSecret", &at, p, false),
            render: match m.string("render", p).map(|r| r.parse()) {
                None => crate::source::render::Render::default(),
                Some(Ok(render)) => render,
                Some(Err(e)) => {
                    let line = m.get("render").map_or(item.line, |n| n.line);
                    p.add(line, &m.path_of("render"), e, None);
                    crate::source::render::Render::default()
                }
            },
            helm: crate::source::render::HelmValues {
                files: m.strings("helmValues", p).unwrap_or_default(),
                set: m.strings("helmSet", p).unwrap_or_default(),
                release: m.string("helmRelease", p),
                namespace: m.string("helmNamespace", p),
            },
            allow_secrets: m.boolean("allowSecrets", p).unwrap_or(false),
            verify: trust::read_verify(&m, p),
            tenancy: trust::read_tenancy(&m, target, p),
        };
        out.push(source);
    }
    if items.is_empty() {
        p.add(
            node.line,
            "sources",
            "sources is empty: at least one repository to sync",
            None,
        );
    }
    out
}
