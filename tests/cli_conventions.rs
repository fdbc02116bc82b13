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
