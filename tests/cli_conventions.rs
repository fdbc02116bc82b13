//! Conventions kubectl and Flux users expect of a command line, checked on
//! the real binary.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn jobcd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(args)
        .output()
        .expect("the jobcd binary runs")
}

#[test]
fn bash_completes_commands_and_subcommands_from_jobcd_completion() {
    let out = jobcd(&["completion", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let script = String::from_utf8(out.stdout).unwrap();
    // Sourced by a real bash, asked as bash asks on Tab.
    let complete = |words: &[&str]| {
        let line = words.join(" ");
        let probe = format!(
            "source /dev/stdin; COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE={line:?}; COMP_POINT={}; _jobcd jobcd {} {}; echo \"${{COMPREPLY[@]}}\"",
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let mut child = Command::new("bash")
            .args(["-c", &probe])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete(&["jobcd", "lo"]), "local");
    assert_eq!(complete(&["jobcd", "local", "a"]), "apply");
    assert!(complete(&["jobcd", "diff", "--corr"]).contains("--correct-drift"));
}

#[test]
fn completion_scripts_exist_for_every_shell_kubectl_supports_and_more() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = jobcd(&["completion", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("jobcd") && script.contains("preview"),
            "{shell}"
        );
    }
    let out = jobcd(&["completion", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn every_json_report_is_also_there_as_yaml_with_the_same_content() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    for args in [
        vec!["validate", examples],
        vec![
            "schedule",
            "0 3 * * 1-5",
            "--tz",
            "Europe/Berlin",
            "-c",
            "3",
            "--from",
            "2026-03-27T00:00:00Z",
        ],
    ] {
        let report = |format: &str| {
            let out = jobcd(&[&args[..], &["-o", format]].concat());
            assert_eq!(out.status.code(), Some(0), "{args:?} -o {format}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
        let yaml = support::yaml_json::parse(&report("yaml"));
        assert_eq!(yaml, json, "{args:?}");
    }
}

/// `text` split as a shell splits it (single quotes only, as the examples
/// use them).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for c in text.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => (word, any) = (word + &c.to_string(), true),
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn every_example_in_the_long_help_parses() {
    use clap::Parser;
    let mut examples = 0;
    for command in [
        &["validate"][..],
        &["schedule"],
        &["diff"],
        &["sync"],
        &["preview"],
        &["status"],
        &["serve"],
        &["local", "apply"],
    ] {
        let out = jobcd(&[command, &["--help"]].concat());
        let help = String::from_utf8(out.stdout).unwrap();
        let listed = help
            .split_once("Examples:\n")
            .unwrap_or_else(|| panic!("{command:?} --help has examples:\n{help}"))
            .1;
        for line in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            // The jobcd part of a line (after a pipe, without variables).
            let call = line.rsplit("| ").next().unwrap();
            let words: Vec<String> = shell_words(call)
                .into_iter()
                .skip_while(|w| w.contains('='))
                .collect();
            assert_eq!(words[0], "jobcd", "{line}");
            assert_eq!(&words[1..=command.len()], command, "{line}");
            if let Err(e) = jobcd::cli::Cli::try_parse_from(&words) {
                panic!("{line}: {e}");
            }
            examples += 1;
        }
    }
    assert!(examples >= 16, "{examples} examples");
}

/// jobcd on a state directory of its own; stdout and stderr kept apart.
fn jobcd_on(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("the jobcd binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn job(name: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: main\n          image: busybox\n          command: [sh, -c, \"{script}\"]\n"
    )
}

const HELLO: &str = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: hello\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - name: main\n              image: busybox\n              command: [\"true\"]\n";

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = jobcd(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    let version = stdout(&out);
    let root = env!("CARGO_MANIFEST_DIR");
    let head = Command::new("git")
        .args(["-C", root, "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success() && Path::new(root).join(".git").exists())
        .map_or("unknown".to_owned(), |o| stdout(&o).trim().to_owned());
    let mut lines = version.lines();
    let first = format!("jobcd {} (commit {head})", env!("CARGO_PKG_VERSION"));
    assert_eq!(lines.next(), Some(first.as_str()), "{version}");
    // `--version` also names the rendering engines, found or not; `-V` is
    // the one line.
    let engines: Vec<&str> = lines.collect();
    assert_eq!(engines.len(), 2, "{version}");
    assert!(engines[0].starts_with("kustomize"), "{version}");
    assert!(engines[1].starts_with("helm"), "{version}");
    let short = jobcd(&["-V"]);
    assert_eq!(stdout(&short).trim(), first);
}

#[test]
fn quiet_prints_only_problems_and_verbose_lists_everything() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fine.yaml"), job("fine", "true")).unwrap();
    std::fs::write(dir.path().join("cron.yaml"), HELLO).unwrap();
    let manifests = dir.path().to_str().unwrap();

    // validate: nothing at all when valid; only the problem when not.
    let out = jobcd_on(state.path(), &["validate", "-q", manifests]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: Bad_Name\n",
    )
    .unwrap();
    let out = jobcd_on(state.path(), &["-q", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("bad.yaml:4"), "{}", stderr(&out));
    std::fs::remove_file(&bad).unwrap();

    // local apply: a Job that completes says nothing; one that fails says so on stderr.
    let out = jobcd_on(state.path(), &["local", "apply", "-q", manifests]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    std::fs::write(dir.path().join("broken.yaml"), job("broken", "exit 3")).unwrap();
    let out = jobcd_on(state.path(), &["local", "apply", "-q", manifests]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "");
    let problems = stderr(&out);
    assert!(
        problems.contains("Job default/broken: Failed (BackoffLimitExceeded"),
        "{problems}"
    );
    assert!(
        !problems.contains("fine") && !problems.contains("hello"),
        "{problems}"
    );

    // Without -q the same apply reports everything, and -v adds nothing a
    // reader would miss.
    let out = jobcd_on(state.path(), &["local", "apply", manifests]);
    let said = stdout(&out);
    assert!(
        said.contains("Job default/fine: already ran with this spec"),
        "{said}"
    );
    assert!(said.contains("CronJob default/hello: recorded"), "{said}");

    let out = jobcd_on(state.path(), &["validate", "-q", "-v", manifests]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "-q and -v together are a usage error"
    );
}

#[test]
fn diff_quiet_keeps_the_exit_code_and_verbose_lists_unchanged_objects() {
    let state = tempfile::tempdir().unwrap();
    let repo = support::jobs_repo::JobsRepo::new();
    let fine = job("fine", "true");
    repo.commit(&[("fine.yaml", Some(&fine)), ("cron.yaml", Some(HELLO))]);
    let path = repo.path();
    let on_repo = |command: &str, flags: &[&str]| {
        let args = [
            &[command, "--repo", path.to_str().unwrap(), "--path", "jobs"][..],
            flags,
        ];
        jobcd_on(state.path(), &args.concat())
    };
    let out = on_repo("diff", &["-q"]);
    assert_eq!(out.status.code(), Some(1), "changes: {out:?}");
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    let out = on_repo("sync", &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "");
    let out = on_repo("diff", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("2 unchanged (-v lists them)"),
        "{}",
        stdout(&out)
    );
    let out = on_repo("diff", &["-v"]);
    let listed = stdout(&out);
    assert!(listed.contains("Job default/fine: unchanged"), "{listed}");
    assert!(
        listed.contains("CronJob default/hello: unchanged"),
        "{listed}"
    );
}

#[test]
fn log_format_and_verbosity_are_accepted_by_every_command() {
    let state = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    for args in [
        &["validate", examples][..],
        &["schedule", "@daily", "-c", "1"],
        &["local", "status"],
        &["status", "--repo", env!("CARGO_MANIFEST_DIR")],
    ] {
        for flags in [
            &["--log-format", "json", "-vv"][..],
            &["--log-format", "text", "-q"],
        ] {
            let out = jobcd_on(state.path(), &[args, flags].concat());
            assert!(out.status.success(), "{args:?} {flags:?}: {out:?}");
        }
    }
    let out = jobcd_on(state.path(), &["validate", examples, "--log-format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["validate", examples])
        .env("JOBCD_LOG", "jobcd=loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("JOBCD_LOG=\"jobcd=loud\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn objects_are_named_as_kubectl_names_them() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pi.yaml"), job("pi", "true")).unwrap();
    std::fs::write(dir.path().join("cron.yaml"), HELLO).unwrap();
    let manifests = dir.path().to_str().unwrap();
    let out = jobcd_on(state.path(), &["local", "apply", manifests]);
    assert!(out.status.success(), "{out:?}");

    let out = jobcd_on(state.path(), &["local", "run-now", "cronjob/hello"]);
    assert!(out.status.success(), "{out:?}");
    let out = jobcd_on(state.path(), &["local", "runs", "cj/hello"]);
    assert!(stdout(&out).contains("default/hello-"), "{out:?}");
    let out = jobcd_on(state.path(), &["local", "run-now", "job/pi"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("names a Job; this command takes a CronJob"),
        "{out:?}"
    );

    // One unknown object deletes nothing; kubectl's spellings delete.
    let out = jobcd_on(
        state.path(),
        &["local", "delete", "job/pi", "deployment/web"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("\"deployment\" is not a kind jobcd manages"),
        "{out:?}"
    );
    let out = jobcd_on(state.path(), &["local", "delete", "job/pi", "job/nope"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("no Job default/nope has been applied (nothing was deleted)"),
        "{out:?}"
    );
    let out = jobcd_on(
        state.path(),
        &["local", "delete", "job/pi", "cronjobs.batch/hello"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "Job default/pi: deleted\nCronJob default/hello: deleted\n"
    );
    let out = jobcd_on(state.path(), &["local", "apply", manifests]);
    assert!(out.status.success(), "{out:?}");
    let out = jobcd_on(
        state.path(),
        &["local", "delete", "cronjob", "hello", "-n", "default"],
    );
    assert_eq!(stdout(&out), "CronJob default/hello: deleted\n", "{out:?}");
}

/// Every command's help, by its path: `jobcd`, `jobcd local`, `jobcd local delete`…
fn every_help() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&jobcd(&args));
        let commands = help
            .split("Commands:\n")
            .nth(1)
            .map(|rest| rest.split("\n\n").next().unwrap_or_default())
            .unwrap_or_default();
        for line in commands.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && name != "help" {
                todo.push([path.clone(), vec![name.to_owned()]].concat());
            }
        }
        found.push((path.join(" "), help));
    }
    found
}

#[test]
fn dash_n_is_a_namespace_in_every_command() {
    let helps = every_help();
    assert!(
        helps.len() > 15,
        "{:?}",
        helps.iter().map(|h| &h.0).collect::<Vec<_>>()
    );
    let mut with_n = Vec::new();
    for (command, help) in &helps {
        for line in help.lines().map(str::trim_start) {
            if line.starts_with("-n,") {
                assert!(
                    line.starts_with("-n, --namespace"),
                    "jobcd {command}: {line}"
                );
                with_n.push(command.clone());
            }
        }
    }
    for command in ["diff", "sync", "local delete", "local run-now"] {
        assert!(
            with_n.iter().any(|c| c == command),
            "jobcd {command} has -n: {with_n:?}"
        );
    }
}
