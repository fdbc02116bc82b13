//! The `jobcd` binary: parse arguments, run, map the outcome to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = jobcd::cli::Cli::parse();
    match jobcd::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(jobcd::cli::EXIT_ERROR)
        }
    }
}
