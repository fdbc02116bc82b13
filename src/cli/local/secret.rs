//! `jobcd local secret create|list|delete`: the local target's Secrets, as
//! `kubectl create secret generic` takes them (`--from-literal`,
//! `--from-file`, `--from-env-file`), stored in the state directory for
//! jobcd's user only. Only names and keys are ever printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::exit::Outcome;
use crate::manifest;
use crate::target::local::secrets::{Data, Store};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Store a Secret, like `kubectl create secret generic` (prefer files to --from-literal: the command line is visible to other users).
    #[command(after_long_help = "Examples:
  jobcd local secret create db -n batch --from-env-file db.env
  jobcd local secret create tls --from-file tls.crt --from-file key=tls.key
  jobcd local secret create token --from-literal TOKEN=…")]
    Create {
        /// The Secret's name.
        name: String,
        /// Its namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
        /// A key and its value.
        #[arg(long = "from-literal", value_name = "KEY=VALUE")]
        literals: Vec<String>,
        /// A file (its name is the key, unless given), or a directory (each file in it).
        #[arg(long = "from-file", value_name = "[KEY=]PATH")]
        files: Vec<String>,
        /// A file of KEY=VALUE lines (`#` comments; a KEY alone takes its value from the environment).
        #[arg(long = "from-env-file", value_name = "PATH")]
        env_files: Vec<PathBuf>,
    },
    /// The stored Secrets: namespace, name, and each key with the size of its value.
    List {
        /// Only this namespace's.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// Delete a Secret.
    Delete {
        /// The Secret's name.
        name: String,
        /// Its namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
    },
}

pub(crate) fn run(command: Command, state_dir: &Path) -> anyhow::Result<Outcome> {
    let store = Store::new(state_dir);
    match command {
        Command::Create {
            name,
            namespace,
            literals,
            files,
            env_files,
        } => {
            let data = data(&literals, &files, &env_files)?;
            store.create(&namespace, &name, &data)?;
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            println!(
                "secret {namespace}/{name} created ({} key{}: {})",
                keys.len(),
                if keys.len() == 1 { "" } else { "s" },
                keys.join(", ")
            );
        }
        Command::List { namespace } => {
            let listed = store.list(namespace.as_deref())?;
            if listed.is_empty() {
                println!(
                    "no secrets; `jobcd local secret create NAME --from-env-file FILE` stores one"
                );
            }
            for secret in listed {
                let keys: Vec<String> = secret
                    .keys
                    .iter()
                    .map(|(k, size)| format!("{k} ({size} bytes)"))
                    .collect();
                println!("{}/{}  {}", secret.namespace, secret.name, keys.join(", "));
            }
        }
        Command::Delete { name, namespace } => {
            if !store.delete(&namespace, &name)? {
                bail!("no secret {namespace}/{name}; `jobcd local secret list` shows them");
            }
            println!("secret {namespace}/{name} deleted");
        }
    }
    Ok(Outcome::Success)
}

/// The Secret's data from the three kinds of source, as kubectl reads them.
fn data(literals: &[String], files: &[String], env_files: &[PathBuf]) -> anyhow::Result<Data> {
    let mut data = Data::new();
    let mut add = |key: String, value: Vec<u8>, from: &str| -> anyhow::Result<()> {
        if data.contains_key(&key) {
            bail!("{from}: key {key:?} is given twice");
        }
        data.insert(key, value);
        Ok(())
    };
    for literal in literals {
        let Some((key, value)) = literal.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!(
                "--from-literal {key:?}: write KEY=VALUE",
                key = literal.split('=').next().unwrap_or_default()
            );
        };
        add(key.to_string(), value.as_bytes().to_vec(), "--from-literal")?;
    }
    for file in files {
        let (key, path) = match file.split_once('=') {
            Some(("", _)) => bail!("--from-file {file:?}: the key before '=' is empty"),
            Some((key, path)) => (Some(key.to_string()), PathBuf::from(path)),
            None => (None, PathBuf::from(file)),
        };
        if path.is_dir() && key.is_none() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for entry in entries {
                let key = entry
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let value = std::fs::read(&entry)
                    .with_context(|| format!("reading {}", entry.display()))?;
                add(key, value, "--from-file")?;
            }
            continue;
        }
        let key = match key {
            Some(key) => key,
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .with_context(|| format!("--from-file {file:?}: no file name to use as the key"))?,
        };
        let value = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        add(key, value, "--from-file")?;
    }
    for env_file in env_files {
        let text = std::fs::read_to_string(env_file)
            .with_context(|| format!("reading {}", env_file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = if n == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                // A key alone: its value from this environment, as kubectl.
                None => (line.to_string(), std::env::var(line).unwrap_or_default()),
            };
            if key.is_empty() {
                bail!(
                    "{}:{}: a line starts with '='; write KEY=VALUE",
                    env_file.display(),
                    n + 1
                );
            }
            add(
                key,
                value.into_bytes(),
                &format!("{}:{}", env_file.display(), n + 1),
            )?;
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_files_and_env_files_as_kubectl_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tls.crt"), "CERT").unwrap();
        let env = dir.path().join("db.env");
        std::fs::write(
            &env,
            "\u{feff}# the database\nUSER=app\n  PASSWORD=a=b\n\nEMPTY=\n",
        )
        .unwrap();
        let data = data(
            &["TOKEN=t0k3n".into()],
            &[
                dir.path().join("tls.crt").display().to_string(),
                format!("key={}", dir.path().join("tls.crt").display()),
            ],
            &[env],
        )
        .unwrap();
        let text: Vec<(String, String)> = data
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            text,
            [
                ("EMPTY".into(), "".into()),
                ("PASSWORD".into(), "a=b".into()),
                ("TOKEN".into(), "t0k3n".into()),
                ("USER".into(), "app".into()),
                ("key".into(), "CERT".into()),
                ("tls.crt".into(), "CERT".into()),
            ]
        );
        assert!(data_err(&["A=1".into(), "A=2".into()]).contains("given twice"));
        assert!(data_err(&["=x".into()]).contains("write KEY=VALUE"));
    }

    fn data_err(literals: &[String]) -> String {
        data(literals, &[], &[]).unwrap_err().to_string()
    }
}
