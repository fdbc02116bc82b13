//! The project's tool scripts (`scripts/*-binary`), which install a tool
//! into the test-tool cache and print where it is, last.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What `scripts/<script>` printed, line by line; it must succeed.
pub fn lines(script: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new(&path).output().unwrap();
    assert!(
        out.status.success(),
        "scripts/{script} failed (run scripts/test-deps first): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The directory `scripts/<script>` printed last.
pub fn dir(script: &str) -> PathBuf {
    let lines = lines(script);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("scripts/{script} printed no directory"));
    PathBuf::from(last.trim())
}
