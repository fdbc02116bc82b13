//! From `jobcd serve`'s configuration to the parts it runs: each source's
//! git access and credentials, its status reporters, and secrets read from
//! files or the environment.

use std::path::Path;

use anyhow::Context;
use jiff::Timestamp;

use crate::config::{self, Config, SecretRef};
use crate::report::notes::GitNotes;
use crate::report::outbox::{Outbox, SourceReport};
use crate::report::record::Recorder;
use crate::report::{Reporter, forge};
use crate::source::{Credentials, HostKeyCheck, Location, RefName, Secret, Source};

pub(super) fn read_secret(r: &SecretRef) -> anyhow::Result<Secret> {
    match r {
        SecretRef::File(path) => Ok(Secret::from_file(path)?),
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            _ => anyhow::bail!("the environment variable {var} is not set"),
        },
    }
}

pub(super) fn source_of(s: &config::Source, state_dir: &Path) -> anyhow::Result<Source> {
    Ok(Source {
        location: Location::parse(&s.repo)?,
        reference: RefName::parse(s.reference.as_deref()),
        path: s.path.clone(),
        credentials: Credentials {
            username: s.username.clone(),
            password: s.password.as_ref().map(read_secret).transpose()?,
            ssh_key: s.ssh_key.clone(),
            ssh_passphrase: s.ssh_passphrase.as_ref().map(read_secret).transpose()?,
            known_hosts: s.known_hosts.clone(),
            host_key_check: HostKeyCheck::Strict,
        },
        state_dir: state_dir.to_path_buf(),
        timeout: crate::source::DEFAULT_TIMEOUT,
        uncommitted: false,
    })
}

pub(super) fn recorder_of(
    config: &Config,
    s: &config::Source,
    source: &Source,
    state_dir: &Path,
) -> anyhow::Result<Option<Recorder>> {
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if config.reporters.notes {
        reporters.push(Box::new(GitNotes::new(source.notes_repo())));
    }
    let mut forge_config = None;
    if let Some(f) = &config.reporters.forge {
        let remote = (!matches!(source.location, Location::Local(_))).then_some(s.repo.as_str());
        let reporter = forge::for_source(
            Some(f.kind),
            remote,
            f.url.as_deref(),
            f.project.as_deref(),
            read_secret(&f.token)?,
        )
        .map_err(anyhow::Error::msg)?;
        forge_config = Some(reporter.config());
        reporters.push(Box::new(reporter));
    }
    if reporters.is_empty() {
        return Ok(None);
    }
    let outbox = Outbox::open(state_dir).context("opening the status outbox")?;
    outbox.set_source(
        &s.name,
        &SourceReport {
            notes_repo: source.notes_repo(),
            forge: forge_config,
        },
        Timestamp::now(),
    )?;
    Ok(Some(Recorder::new(outbox, reporters)))
}
