//! The local target on real container engines: every scenario runs on
//! Podman and on a Docker daemon of the test's own (tests/support/engines.rs),
//! through `jobcd local apply --runtime …`, and is checked by the pods'
//! logs, `jobcd local runs`, and what the engine has left.

mod support;

use std::path::Path;
use std::process::Output;

use support::engines::{ECHO_IMAGE, Engine, Kind, NONROOT_IMAGE, Registry};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `scenario` on each engine.
fn on_both(scenario: impl Fn(&Engine)) {
    for engine in [Engine::podman(), Engine::docker()] {
        scenario(&engine);
        // A pod's supervisor removes its containers just after it records
        // the pod's end.
        let started = std::time::Instant::now();
        while !engine.containers().is_empty()
            && started.elapsed() < std::time::Duration::from_secs(30)
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(
            engine.containers(),
            Vec::<String>::new(),
            "{:?}: every container of a finished pod is removed",
            engine.kind
        );
    }
}

/// Writes `manifest` and applies it; the output and exit code.
fn apply(engine: &Engine, state: &Path, manifest: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    engine
        .jobcd(state)
        .args(extra)
        .args(["local", "apply"])
        .arg(dir.path())
        .output()
        .unwrap()
}

/// What `jobcd local COMMAND` printed (`runs`, `status`).
fn local(engine: &Engine, state: &Path, command: &str) -> String {
    text(
        &engine
            .jobcd(state)
            .args(["local", command])
            .output()
            .unwrap(),
    )
}

/// What ran, for a failure's message: `local runs` and every pod's logs.
fn ran(engine: &Engine, state: &Path) -> String {
    let mut all = local(engine, state, "runs");
    for pod in std::fs::read_dir(state.join("pods")).into_iter().flatten() {
        let pod = pod.unwrap().path();
        for file in std::fs::read_dir(pod.join("logs")).into_iter().flatten() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            all.push_str(&format!("\n== {}\n{text}", file.display()));
        }
        let complaints = std::fs::read_to_string(pod.join("supervisor.log")).unwrap_or_default();
        all.push_str(&complaints);
    }
    all
}

/// Asserts that `out` succeeded; what ran says why when it did not.
fn succeeded(engine: &Engine, state: &Path, out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}: {}\n{}",
        engine.kind,
        text(out),
        ran(engine, state)
    );
}

/// The log of container `container` of the Job's only pod.
fn log(state: &Path, container: &str) -> String {
    let pods = std::fs::read_dir(state.join("pods")).unwrap();
    let pod = pods.map(|e| e.unwrap().path()).next().expect("a pod ran");
    std::fs::read_to_string(pod.join("logs").join(format!("{container}.log"))).unwrap_or_default()
}

/// The line of [`job`]'s manifest to add Job fields after.
const BACKOFF: &str = "  backoffLimit: 0\n";

fn job(name: &str, pod_spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    metadata: {{labels: {{team: data}}}}\n    spec:\n      restartPolicy: Never\n{}",
        pod_spec
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    )
}

#[test]
fn command_and_args_override_entrypoint_and_cmd_as_on_a_node() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"containers:
- name: image-default
  image: {ECHO_IMAGE}
- name: args-only
  image: {ECHO_IMAGE}
  args: ["hello", "$(NAME)"]
  env: [{{name: NAME, value: world}}]
- name: command-only
  image: {ECHO_IMAGE}
  command: ["/bin/echo", "just", "the", "command"]
- name: both
  image: {ECHO_IMAGE}
  workingDir: /tmp
  command: ["/bin/sh", "-c"]
  args: ["echo $0 in $(pwd) on $(hostname)", "shell"]
"#
        );
        let out = apply(engine, state.path(), &job("entry", &spec), &[]);
        succeeded(engine, state.path(), &out);
        let status = local(engine, state.path(), "status");
        assert!(
            status.starts_with(&format!("containers run on {} ", engine.kind.runtime())),
            "{status}"
        );
        assert_eq!(log(state.path(), "image-default"), "from image\n");
        assert_eq!(log(state.path(), "args-only"), "hello world\n");
        assert_eq!(
            log(state.path(), "command-only"),
            "just the command\n",
            "command drops the image's CMD"
        );
        let both = log(state.path(), "both");
        assert!(both.starts_with("shell in /tmp on entry-"), "{both}");
    });
}

#[test]
fn config_maps_secrets_and_the_downward_api_reach_env_and_files() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let created = engine
            .jobcd(state.path())
            .args(["local", "secret", "create", "db", "--from-literal"])
            .arg("password=correct-horse")
            .output()
            .unwrap();
        assert_eq!(created.status.code(), Some(0), "{}", text(&created));
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata:\n  MODE: nightly\n  app.conf: |\n    retries=3\n---\n{}",
            job(
                "reader",
                &format!(
                    r#"containers:
- name: main
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c"]
  args:
  - >-
    echo "mode=$MODE password=$PASSWORD";
    cat /etc/app/app.conf;
    stat -c '%a' /etc/app/app.conf /secrets/password;
    cat /secrets/password; echo;
    cat /pod/labels; echo;
    cat /pod/name
  envFrom: [{{configMapRef: {{name: settings}}}}]
  env:
  - name: PASSWORD
    valueFrom: {{secretKeyRef: {{name: db, key: password}}}}
  volumeMounts:
  - {{name: config, mountPath: /etc/app}}
  - {{name: secret, mountPath: /secrets}}
  - {{name: pod, mountPath: /pod}}
volumes:
- name: config
  configMap:
    name: settings
    items: [{{key: app.conf, path: app.conf, mode: 0640}}]
- name: secret
  secret: {{secretName: db, defaultMode: 0400}}
- name: pod
  downwardAPI:
    items:
    - {{path: labels, fieldRef: {{fieldPath: "metadata.labels['team']"}}}}
    - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
"#
                )
            )
        );
        let out = apply(engine, state.path(), &manifest, &[]);
        succeeded(engine, state.path(), &out);
        assert!(!text(&out).contains("correct-horse"), "{}", text(&out));
        let log = log(state.path(), "main");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[0], "mode=nightly password=correct-horse", "{log}");
        assert_eq!(lines[1], "retries=3", "{log}");
        assert_eq!(
            &lines[2..4],
            ["640", "400"],
            "item mode and defaultMode: {log}"
        );
        assert_eq!(lines[4], "correct-horse", "{log}");
        assert_eq!(lines[5], "data", "{log}");
        assert!(lines[6].starts_with("reader-"), "{log}");
        let runs = local(engine, state.path(), "runs");
        assert!(!runs.contains("correct-horse"), "{runs}");
    });
}

#[test]
fn an_init_container_fills_an_empty_dir_and_containers_share_localhost() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"initContainers:
- name: fill
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "echo prepared > /work/input"]
  volumeMounts: [{{name: work, mountPath: /work}}]
containers:
- name: server
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "cat /work/input | nc -l -p 7070"]
  volumeMounts: [{{name: work, mountPath: /work}}]
- name: client
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "until nc 127.0.0.1 7070 > /tmp/got 2>/dev/null && test -s /tmp/got; do sleep 0.1; done; cat /tmp/got"]
- name: memory
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f3"]
  volumeMounts: [{{name: scratch, mountPath: /scratch}}]
volumes:
- name: work
  emptyDir: {{}}
- name: scratch
  emptyDir: {{medium: Memory, sizeLimit: 8Mi}}
"#
        );
        let out = apply(engine, state.path(), &job("share", &spec), &[]);
        succeeded(engine, state.path(), &out);
        assert_eq!(log(state.path(), "client"), "prepared\n");
        assert_eq!(
            log(state.path(), "memory"),
            "tmpfs\n",
            "medium: Memory is a tmpfs"
        );
    });
}

#[test]
fn a_memory_hungry_container_is_killed_and_the_pod_failure_policy_decides() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"containers:
- name: hungry
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"]
  resources: {{limits: {{memory: 16Mi}}}}
"#
        );
        let manifest = job("hungry", &spec).replace(
            "  backoffLimit: 0\n",
            "  backoffLimit: 5\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes: {operator: In, values: [137]}\n",
        );
        let out = apply(engine, state.path(), &manifest, &[]);
        let all = text(&out);
        let ran = ran(engine, state.path());
        assert_eq!(out.status.code(), Some(1), "{:?}: {all}", engine.kind);
        assert!(
            all.contains("Failed (PodFailurePolicy"),
            "{:?}: {all}\n{ran}",
            engine.kind
        );
        let runs = local(engine, state.path(), "runs");
        assert!(runs.contains("1 failed"), "one pod, no retries: {runs}");
        // Docker says why; Podman 4.3's conmon does not notice an OOM kill
        // on these machines' cgroup v1 hierarchy, and reports plain 137.
        let reason = if engine.kind == Kind::Docker {
            "hungry=137 (OOMKilled)"
        } else {
            "hungry=137"
        };
        assert!(runs.contains(reason), "{runs}");
    });
}

#[test]
fn security_context_user_and_run_as_non_root() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"securityContext: {{runAsNonRoot: true}}
containers:
- name: image-user
  image: {NONROOT_IMAGE}
- name: pod-user
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "id -u; id -g; touch /x 2>/dev/null || echo read-only"]
  securityContext: {{runAsUser: 4242, runAsGroup: 4343, readOnlyRootFilesystem: true}}
"#
        );
        let out = apply(engine, state.path(), &job("users", &spec), &[]);
        succeeded(engine, state.path(), &out);
        assert_eq!(log(state.path(), "image-user"), "1000\n");
        assert_eq!(log(state.path(), "pod-user"), "4242\n4343\nread-only\n");

        // A root image under runAsNonRoot never starts: the pod waits, as
        // on a node, until the Job's deadline.
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            "securityContext: {{runAsNonRoot: true}}\ncontainers:\n- name: root\n  image: {ECHO_IMAGE}\n"
        );
        let manifest =
            job("root", &spec).replace(BACKOFF, &format!("{BACKOFF}  activeDeadlineSeconds: 3\n"));
        let out = apply(engine, state.path(), &manifest, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("DeadlineExceeded"), "{all}");
        assert!(
            all.contains(
                "CreateContainerConfigError: container has runAsNonRoot and image will run as root"
            ),
            "the reason is shown: {all}"
        );
        assert_eq!(log(state.path(), "root"), "", "it never ran");
    });
}

#[test]
fn host_paths_and_privileged_containers_need_the_configuration_to_allow_them() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("data.txt"), "from the host\n").unwrap();
        let spec = format!(
            "containers:\n- name: main\n  image: {ECHO_IMAGE}\n  command: [/bin/cat, /host/data.txt]\n  volumeMounts: [{{name: host, mountPath: /host, readOnly: true}}]\nvolumes:\n- name: host\n  hostPath: {{path: {}, type: Directory}}\n",
            host.path().display()
        );
        let out = apply(engine, state.path(), &job("host", &spec), &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("volumes[0].hostPath.path")
                && all.contains("--allow-host-path DIR")
                && all.contains("target.hostPaths"),
            "{all}"
        );
        let allow = host.path().to_str().unwrap();
        let out = apply(
            engine,
            state.path(),
            &job("host", &spec),
            &["--allow-host-path", allow],
        );
        succeeded(engine, state.path(), &out);
        assert_eq!(log(state.path(), "main"), "from the host\n");

        let spec = format!(
            "containers:\n- name: main\n  image: {ECHO_IMAGE}\n  securityContext: {{privileged: true}}\n"
        );
        let out = apply(engine, state.path(), &job("privileged", &spec), &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("--allow-privileged"), "{all}");
    });
}

#[test]
fn the_process_runtime_refuses_volumes_and_an_engine_that_is_not_there_is_named() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        job(
            "vol",
            "containers:\n- name: main\n  image: busybox\n  command: [\"true\"]\n  volumeMounts: [{name: w, mountPath: /w}]\nvolumes:\n- {name: w, emptyDir: {}}\n",
        ),
    )
    .unwrap();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jobcd"))
            .arg("--state-dir")
            .arg(state.path())
            .args(extra)
            .args(["local", "apply"])
            .arg(dir.path())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = run(&[], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("containers[0].volumeMounts[0]") && all.contains("--runtime podman or docker"),
        "{all}"
    );
    let out = run(
        &["--runtime", "docker"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let all = text(&out);
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("does not work here") && all.contains("--runtime"),
        "{all}"
    );
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(state.path())
        .args(["--runtime", "docker", "local", "status"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let first = text(&status);
    assert!(
        first.starts_with("containers cannot run: ") && first.contains("does not work here"),
        "local status says the engine does not answer: {first}"
    );
    let out = run(&["--runtime", "rkt"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("use process, podman or docker"),
        "{}",
        text(&out)
    );
}

/// The pids of the processes whose command line holds all of `words`.
fn pids_with(words: &[&str]) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            words.iter().all(|w| cmdline.contains(w))
        })
        .collect()
}

#[test]
fn a_killed_jobcd_leaves_no_container_running_after_the_next_start() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec = format!(
            "containers:\n- name: main\n  image: {ECHO_IMAGE}\n  command: [/bin/sh, -c, 'echo up; sleep 300']\n"
        );
        std::fs::write(dir.path().join("m.yaml"), job("sleeper", &spec)).unwrap();
        let mut jobcd = engine
            .jobcd(state.path())
            .args(["local", "apply"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let running = || {
            let out = engine.client(&["ps", "--format", "{{.Names}}"]);
            String::from_utf8_lossy(&out.stdout).contains("_main")
        };
        while !running() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{:?}: the container never ran",
                engine.kind
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // jobcd and the pod's supervisor die at once, as in a power cut of
        // jobcd's processes; the container, under the engine, goes on.
        let state_path = state.path().to_str().unwrap();
        let supervisors = pids_with(&["supervise", state_path]);
        assert!(!supervisors.is_empty(), "a supervisor runs the pod");
        let kill = |pid: i32| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        };
        kill(jobcd.id() as i32);
        supervisors.into_iter().for_each(kill);
        let _ = jobcd.wait();
        assert!(running(), "{:?}: the container outlived jobcd", engine.kind);

        let out = engine
            .jobcd(state.path())
            .args(["local", "delete", "job/sleeper"])
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{:?}: {all}", engine.kind);
        assert!(
            all.contains("recovered: removed")
                && all.contains("_sleeper-")
                && all.contains("_main"),
            "{:?}: {all}",
            engine.kind
        );
        assert!(
            !running(),
            "{:?}: no container runs after the next start",
            engine.kind
        );
    });
}

#[test]
fn images_are_pulled_as_their_policy_says_with_the_pods_pull_secrets() {
    on_both(|engine| {
        let mut registry = Registry::start();
        engine.trust(&registry);
        let image = registry.push(engine, ECHO_IMAGE, "jobcd/echo:1");
        let state = tempfile::tempdir().unwrap();
        let pulling = |name: &str, policy: &str, secrets: &str| {
            let spec = format!(
                "{secrets}containers:\n- name: main\n  image: {image}\n  imagePullPolicy: {policy}\n  args: [pulled, {name}]\n"
            );
            job(name, &spec).replace(BACKOFF, &format!("{BACKOFF}  activeDeadlineSeconds: 4\n"))
        };
        // Not in the store, no credentials: the pull is refused, and the
        // container waits until the deadline.
        let out = apply(
            engine,
            state.path(),
            &pulling("anonymous", "IfNotPresent", ""),
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{:?}: {all}", engine.kind);
        assert!(
            all.contains("container main waiting: ErrImagePull"),
            "{all}"
        );
        assert!(all.contains("DeadlineExceeded"), "{all}");

        // With the pod's pull secret, from `local secret create`.
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(config.path(), registry.docker_config()).unwrap();
        let created = engine
            .jobcd(state.path())
            .args(["local", "secret", "create", "regcred", "--from-file"])
            .arg(format!(".dockerconfigjson={}", config.path().display()))
            .output()
            .unwrap();
        assert_eq!(created.status.code(), Some(0), "{}", text(&created));
        let secrets = "imagePullSecrets: [{name: regcred}]\n";
        let out = apply(
            engine,
            state.path(),
            &pulling("authorized", "IfNotPresent", secrets),
            &[],
        );
        succeeded(engine, state.path(), &out);
        assert!(!text(&out).contains(registry.password), "{}", text(&out));

        // In the store now: IfNotPresent and Never run it without the
        // registry; Always goes to the registry every time.
        registry.stop();
        let out = apply(
            engine,
            state.path(),
            &pulling("cached", "IfNotPresent", ""),
            &[],
        );
        succeeded(engine, state.path(), &out);
        let out = apply(engine, state.path(), &pulling("never", "Never", ""), &[]);
        succeeded(engine, state.path(), &out);
        let out = apply(
            engine,
            state.path(),
            &pulling("always", "Always", secrets),
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("container main waiting: ErrImagePull"),
            "{all}"
        );

        // Never, and not in the store: it waits, never pulling.
        let missing = format!("{}/jobcd/absent:1", registry.host);
        let spec =
            format!("containers:\n- name: main\n  image: {missing}\n  imagePullPolicy: Never\n");
        let manifest = job("absent", &spec)
            .replace(BACKOFF, &format!("{BACKOFF}  activeDeadlineSeconds: 3\n"));
        let out = apply(engine, state.path(), &manifest, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("container main waiting: ErrImageNeverPull"),
            "{all}"
        );
    });
}

#[test]
fn termination_messages_come_from_their_file_or_the_logs_tail() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"containers:
- name: file
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "echo 'migrated 42 rows' > /dev/termination-log"]
- name: custom
  image: {NONROOT_IMAGE}
  args: ["echo done > /tmp/why"]
  terminationMessagePath: /tmp/why
- name: fallback
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "for i in $(seq 1 100); do echo line $i; done; exit 3"]
  terminationMessagePolicy: FallbackToLogsOnError
"#
        );
        let out = apply(engine, state.path(), &job("messages", &spec), &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let runs = local(engine, state.path(), "runs");
        assert!(
            runs.contains("file terminated with message \"migrated 42 rows\""),
            "{runs}"
        );
        assert!(
            runs.contains("custom terminated with message \"done\""),
            "a non-root user writes its own path: {runs}"
        );
        // The last 80 lines of the log, as the kubelet takes them.
        assert!(
            runs.contains("fallback terminated with message \"line 21\\nline 22")
                && runs.contains("line 100\""),
            "{runs}"
        );
        assert!(!runs.contains("line 20\\n"), "{runs}");
    });
}

#[test]
fn capabilities_cpu_limits_and_privileged_when_allowed() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let caps = "grep CapEff /proc/self/status | cut -f2";
        // Docker grants a privileged container every capability there is,
        // and these machines' own bounding set lacks CAP_SYS_RESOURCE, so
        // runc refuses it here ("unable to apply caps"); Podman grants
        // those of its bounding set.
        let privileged = if engine.kind == Kind::Podman {
            format!(
                "- name: privileged\n  image: {ECHO_IMAGE}\n  command: [\"/bin/sh\", \"-c\", \"{caps}\"]\n  securityContext: {{privileged: true}}\n"
            )
        } else {
            String::new()
        };
        let spec = format!(
            r#"containers:
- name: dropped
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "{caps}"]
  securityContext: {{capabilities: {{drop: [ALL]}}}}
{privileged}- name: quota
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us"]
  resources: {{limits: {{cpu: 500m}}}}
"#
        );
        let out = apply(
            engine,
            state.path(),
            &job("caps", &spec),
            &["--allow-privileged"],
        );
        succeeded(engine, state.path(), &out);
        assert_eq!(log(state.path(), "dropped"), "0000000000000000\n");
        if engine.kind == Kind::Podman {
            let all = log(state.path(), "privileged");
            let own = std::fs::read_to_string("/proc/self/status").unwrap();
            let bounding = own
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .unwrap()
                .trim()
                .to_string();
            assert_eq!(
                all.trim(),
                bounding,
                "a privileged container has every capability this machine has"
            );
        }
        let quota = log(state.path(), "quota");
        assert!(
            quota.trim() == "50000" || quota.starts_with("50000 "),
            "half a CPU is a 50 ms quota per 100 ms: {quota}"
        );
    });
}

#[test]
fn a_stop_sends_sigterm_then_sigkill_after_the_grace_period_and_on_failure_restarts() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"terminationGracePeriodSeconds: 2
containers:
- name: polite
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo up; while :; do sleep 0.1; done"]
- name: stubborn
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"]
"#
        );
        let manifest = job("stopped", &spec)
            .replace(BACKOFF, &format!("{BACKOFF}  activeDeadlineSeconds: 3\n"));
        let out = apply(engine, state.path(), &manifest, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("DeadlineExceeded"), "{all}");
        assert_eq!(log(state.path(), "polite"), "up\ngot TERM\n");
        let runs = local(engine, state.path(), "runs");
        assert!(
            runs.contains("polite=0") && runs.contains("stubborn=137"),
            "SIGTERM ended one; SIGKILL the other after 2 s: {runs}"
        );

        // OnFailure: the container starts again in the same pod, which
        // keeps its emptyDir; the second start succeeds.
        let state = tempfile::tempdir().unwrap();
        let spec = format!(
            r#"restartPolicy: OnFailure
containers:
- name: flaky
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "if test -e /work/tried; then echo second; else touch /work/tried; echo first; exit 1; fi"]
  volumeMounts: [{{name: work, mountPath: /work}}]
volumes:
- {{name: work, emptyDir: {{}}}}
"#
        );
        let manifest = job("flaky", &spec)
            .replace("      restartPolicy: Never\n", "")
            .replace("  backoffLimit: 0\n", "  backoffLimit: 2\n");
        let out = apply(engine, state.path(), &manifest, &[]);
        succeeded(engine, state.path(), &out);
        assert_eq!(log(state.path(), "flaky"), "first\nsecond\n");
        let runs = local(engine, state.path(), "runs");
        assert!(
            runs.contains("Succeeded restarts 1 exits [flaky=0]"),
            "{runs}"
        );
    });
}

#[test]
fn a_claim_outlives_its_pods_and_sub_paths_and_host_network_work() {
    on_both(|engine| {
        let state = tempfile::tempdir().unwrap();
        let writer = format!(
            r#"containers:
- name: main
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "mkdir -p /data/reports && echo kept > /data/reports/latest"]
  volumeMounts: [{{name: data, mountPath: /data}}]
volumes:
- {{name: data, persistentVolumeClaim: {{claimName: reports}}}}
"#
        );
        let out = apply(engine, state.path(), &job("writer", &writer), &[]);
        succeeded(engine, state.path(), &out);
        let reader = format!(
            r#"hostNetwork: true
containers:
- name: main
  image: {ECHO_IMAGE}
  command: ["/bin/sh", "-c", "cat /reports/latest; hostname"]
  volumeMounts: [{{name: data, mountPath: /reports, subPath: reports, readOnly: true}}]
volumes:
- {{name: data, persistentVolumeClaim: {{claimName: reports}}}}
"#
        );
        let state = tempfile::tempdir().unwrap();
        let out = apply(engine, state.path(), &job("reader", &reader), &[]);
        succeeded(engine, state.path(), &out);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(
            log(state.path(), "main"),
            format!("kept\n{}", host),
            "the claim's data, through a subPath; the host's name on its network"
        );
        let volumes = engine.client(&["volume", "ls", "--format", "{{.Name}}"]);
        assert!(
            String::from_utf8_lossy(&volumes.stdout).contains("jobcd-pvc-default-reports"),
            "the claim's volume is kept"
        );
    });
}
