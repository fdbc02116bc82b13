//! From a manifest's container to what runs: a host process (the process
//! runtime), or an image on a container engine ([`super::image`]).
//!
//! The process runtime does not use images, so a container must say what to
//! run with `command`; the image's entrypoint is unknown there, and volumes
//! need a container runtime. `$(VAR)` references in command, args and env
//! values expand as the kubelet expands them: to variables defined earlier
//! in the container's env (or by Kubernetes itself), `$$` escapes a `$`,
//! and unknown references stay as written. The environment itself is made
//! as the kubelet makes it (see [`super::environment`]); a host process
//! also gets a container-like `PATH` and `HOME` where the container sets
//! none (an image would give them), and never inherits jobcd's own
//! environment (which may hold credentials).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};

use super::engine::ContainerRuntime;
use super::image::Image;

/// `PATH` of a host process whose container sets none, as most images set it.
pub const DEFAULT_PATH: &str = crate::programs::DEFAULT_PATH;

/// A container ready to start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Process {
    /// The container's name.
    pub name: String,
    /// `command` followed by `args`, expanded (the process runtime; empty
    /// for an image, whose [`Image`] has them apart).
    pub argv: Vec<String>,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// `workingDir`, if set.
    pub working_dir: Option<PathBuf>,
    /// The image it runs from, on a container runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
}

/// Something in a container the process runtime cannot do, or a
/// ConfigMap it needs that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Unsupported {
    /// Field path, e.g. `spec.template.spec.containers[0].command`.
    pub field: String,
    /// What cannot be done, and what to do instead.
    pub problem: String,
    /// A ConfigMap or key is missing (`CreateContainerConfigError`): the
    /// container could start once it is there.
    pub missing_config: bool,
}

pub use super::environment::Pod;

/// Resolves `container` (at field path `path`) for `pod` on `runtime`;
/// `security` is the pod's `securityContext`.
pub fn resolve(
    container: &Container,
    path: &str,
    pod: Pod<'_>,
    runtime: ContainerRuntime,
    security: Option<&PodSecurityContext>,
) -> Result<Process, Unsupported> {
    let unsupported = |field: &str, problem: String| Unsupported {
        field: format!("{path}.{field}"),
        problem,
        missing_config: false,
    };
    let command = container.command.as_ref().filter(|c| !c.is_empty());
    if runtime == ContainerRuntime::Process {
        if command.is_none() {
            return Err(unsupported(
                "command",
                format!(
                    "container {:?} has no command; the local process runtime does not run images, so it cannot use the image's entrypoint — set command (e.g. [\"sh\", \"-c\", \"...\"]), or run images with --runtime podman or docker",
                    container.name
                ),
            ));
        }
        if let Some(mount) = container.volume_mounts.iter().flatten().next() {
            return Err(unsupported(
                "volumeMounts[0]",
                format!(
                    "container {:?} mounts volume {:?}; the local process runtime cannot mount volumes — run it with --runtime podman or docker (target.runtime in the serve configuration)",
                    container.name, mount.name
                ),
            ));
        }
    }
    let mut env = super::environment::of(container, pod).map_err(|e| Unsupported {
        field: format!("{path}.{}", e.field),
        problem: e.problem,
        missing_config: e.missing,
    })?;
    let expand_all = |list: &Vec<String>| list.iter().map(|a| expand(a, &env)).collect::<Vec<_>>();
    if runtime == ContainerRuntime::Process {
        let argv = command
            .into_iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .map(|a| expand(a, &env))
            .collect();
        for (name, value) in [("PATH", DEFAULT_PATH), ("HOME", "/root")]
            .into_iter()
            .rev()
        {
            if !env.iter().any(|(n, _)| n == name) {
                env.insert(0, (name.into(), value.into()));
            }
        }
        return Ok(Process {
            name: container.name.clone(),
            argv,
            env,
            working_dir: container.working_dir.as_ref().map(PathBuf::from),
            image: None,
        });
    }
    if container.image.as_deref().is_none_or(str::is_empty) {
        return Err(unsupported(
            "image",
            format!("container {:?} names no image", container.name),
        ));
    }
    let args = container
        .args
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(&expand_all);
    let image = Image::of(container, security, command.map(&expand_all), args);
    Ok(Process {
        name: container.name.clone(),
        argv: Vec::new(),
        env,
        working_dir: container.working_dir.as_ref().map(PathBuf::from),
        image: Some(image),
    })
}

/// Expands `$(NAME)` from `env`; `$$` is a literal `$`; anything else stays.
pub(crate) fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match env.iter().find(|(n, _)| n == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource};

    fn container(command: Option<Vec<&str>>, args: Vec<&str>, env: Vec<(&str, &str)>) -> Container {
        Container {
            name: "main".into(),
            command: command.map(|c| c.into_iter().map(String::from).collect()),
            args: Some(args.into_iter().map(String::from).collect()),
            env: Some(
                env.into_iter()
                    .map(|(n, v)| EnvVar {
                        name: n.into(),
                        value: Some(v.into()),
                        value_from: None,
                    })
                    .collect(),
            ),
            ..Container::default()
        }
    }

    use crate::target::local::downward;

    const PROCESS: ContainerRuntime = ContainerRuntime::Process;

    fn pod(provided: &[(String, String)]) -> Pod<'_> {
        static FACTS: std::sync::OnceLock<downward::Pod> = std::sync::OnceLock::new();
        Pod {
            provided,
            facts: FACTS.get_or_init(|| downward::Pod {
                name: "pi-abc".into(),
                namespace: "batch".into(),
                ..downward::Pod::default()
            }),
            containers: &[],
            config_maps: None,
            secrets: None,
        }
    }

    #[test]
    fn command_args_and_env_expand_like_the_kubelet() {
        let c = container(
            Some(vec!["sh", "-c"]),
            vec!["echo $(GREETING) $(MISSING) $$(GREETING) $HOME"],
            vec![("NAME", "world"), ("GREETING", "hello $(NAME)")],
        );
        let provided = [("HOSTNAME".into(), "pi-abc".into())];
        let p = resolve(
            &c,
            "spec.template.spec.containers[0]",
            pod(&provided),
            PROCESS,
            None,
        )
        .unwrap();
        assert_eq!(
            p.argv,
            ["sh", "-c", "echo hello world $(MISSING) $(GREETING) $HOME"]
        );
        assert!(p.env.contains(&("HOSTNAME".into(), "pi-abc".into())));
        assert!(p.env.iter().any(|(n, v)| n == "PATH" && v == DEFAULT_PATH));
        assert!(
            !p.env.iter().any(|(n, _)| n == "JOBCD_GIT_PASSWORD"),
            "jobcd's own environment is not inherited"
        );
    }

    #[test]
    fn no_command_is_a_clear_error() {
        let err = resolve(
            &container(None, vec!["--flag"], vec![]),
            "spec.template.spec.containers[0]",
            pod(&[]),
            PROCESS,
            None,
        )
        .unwrap_err();
        assert_eq!(err.field, "spec.template.spec.containers[0].command");
        assert!(
            err.problem.contains("does not run images"),
            "{}",
            err.problem
        );
    }

    #[test]
    fn on_an_engine_command_and_args_stay_apart_and_no_host_base_is_added() {
        let c = container(None, vec!["--date", "$(DAY)"], vec![("DAY", "monday")]);
        let c = Container {
            image: Some("tools:1".into()),
            ..c
        };
        let p = resolve(
            &c,
            "spec.template.spec.containers[0]",
            pod(&[]),
            ContainerRuntime::Podman,
            None,
        )
        .unwrap();
        let image = p.image.expect("an image to run");
        assert_eq!(image.command, None, "the image's ENTRYPOINT runs");
        assert_eq!(image.args, Some(vec!["--date".into(), "monday".into()]));
        assert!(p.argv.is_empty());
        assert!(
            !p.env.iter().any(|(n, _)| n == "PATH" || n == "HOME"),
            "the image gives PATH and HOME: {:?}",
            p.env
        );
        // An empty args list is no args: the image's CMD runs.
        let c = Container {
            args: Some(vec![]),
            ..c
        };
        let p = resolve(&c, "x", pod(&[]), ContainerRuntime::Docker, None).unwrap();
        assert_eq!(p.image.unwrap().args, None);
        // No image at all cannot run on an engine.
        let c = Container { image: None, ..c };
        let err = resolve(&c, "x", pod(&[]), ContainerRuntime::Docker, None).unwrap_err();
        assert_eq!(err.field, "x.image");
    }

    #[test]
    fn the_downward_api_resolves_and_later_variables_expand_it() {
        let mut c = container(Some(vec!["true"]), vec![], vec![]);
        c.env = Some(vec![
            EnvVar {
                name: "POD".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                        field_path: "metadata.namespace".into(),
                        api_version: Some("v1".into()),
                    }),
                    ..EnvVarSource::default()
                }),
            },
            EnvVar {
                name: "WHERE".into(),
                value: Some("in $(POD)".into()),
                value_from: None,
            },
        ]);
        let p = resolve(
            &c,
            "spec.template.spec.containers[0]",
            pod(&[]),
            PROCESS,
            None,
        )
        .unwrap();
        assert!(
            p.env.contains(&("POD".into(), "batch".into())),
            "{:?}",
            p.env
        );
        assert!(
            p.env.contains(&("WHERE".into(), "in batch".into())),
            "{:?}",
            p.env
        );
    }
}
