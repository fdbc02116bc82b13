//! Conventions kubectl and Flux users expect of a command line, checked on
//! the real binary.

mod support;

use std::process::Command;

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
            "-n",
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
