//! The `jobcd` binary: parse arguments, run, map the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

/// Exit status of a process whose output pipe was closed (128 + SIGPIPE),
/// as `jobcd … | head` expects.
const EXIT_BROKEN_PIPE: i32 = 141;

fn main() -> ExitCode {
    // A pod's supervisor is started once per pod and must start fast:
    // `jobcd supervise DIR` goes straight to it, without building the whole
    // command line's parser (the parsed `supervise` command ends the same).
    if let Some(dir) = supervisor_dir() {
        return jobcd::cli::supervise(&dir);
    }
    quiet_on_broken_pipe();
    let cli = jobcd::cli::parse();
    match jobcd::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(jobcd::cli::EXIT_ERROR)
        }
    }
}

/// `DIR` when the arguments are exactly `supervise DIR`.
fn supervisor_dir() -> Option<std::path::PathBuf> {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next(), args.next()) {
        (Some(command), Some(dir), None) if command == "supervise" && dir != "--help" => {
            Some(dir.into())
        }
        _ => None,
    }
}

/// Rust ignores SIGPIPE, so `println!` to a closed pipe panics. Reader gone
/// is not an error worth a backtrace: exit as a process killed by SIGPIPE
/// would. (Restoring SIGPIPE instead would need unsafe code and would also
/// let a closed socket kill the daemon.)
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info);
    }));
}
