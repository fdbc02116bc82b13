//! Storage faults are jobcd's, not the Job's: with jobcd's state directory
//! on a full disk (a small tmpfs), a Job's pod keeps its true state, its
//! end is recorded once there is room again, and no failure is charged to
//! the Job; jobcd's own failure to record says so and runs nothing.
//!
//! Needs root (it mounts a tmpfs), as the other real-server tests here do.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::crash_scene::*;

/// A small tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes until the disk is full.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // What a 16 KiB chunk left.
        while file.write_all(&[0]).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn job(name: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, '{script}']}}]\n"
    )
}

/// `jobcd local apply DIR` on `state`, to its end: (exit code, output).
fn apply(state: &Path, manifests: &Path) -> (Option<i32>, String) {
    let mut jobcd = Jobcd::spawn(
        state,
        &["local", "apply", manifests.to_str().unwrap()],
        true,
    );
    let status = jobcd.finish();
    (status.code(), jobcd.output())
}

#[test]
fn a_full_disk_when_recording_a_job_is_jobcds_error_and_runs_nothing() {
    let disk = Tmpfs::mount("4m");
    let (manifests, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = work.path().join("log");
    std::fs::write(manifests.path().join("warmup.yaml"), job("warmup", "true")).unwrap();
    let (code, out) = apply(disk.path(), manifests.path());
    assert_eq!(code, Some(0), "{out}");

    std::fs::write(
        manifests.path().join("once.yaml"),
        job("once", &format!("echo ran >> {}", log.display())),
    )
    .unwrap();
    disk.fill();
    let (code, out) = apply(disk.path(), manifests.path());
    assert_eq!(code, Some(2), "jobcd's own error:\n{out}");
    assert!(
        out.contains("its disk is full: free some space")
            || out.contains("No space left on device"),
        "the error says why:\n{out}"
    );
    assert!(!log.exists(), "nothing ran:\n{out}");

    disk.free();
    let (code, out) = apply(disk.path(), manifests.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Job default/once: Complete (CompletionsReached")
            && out.contains("1 succeeded, 0 failed"),
        "the Job ran once, no failure charged:\n{out}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
}

#[test]
fn a_pod_that_ends_on_a_full_disk_keeps_its_true_state_until_there_is_room() {
    let disk = Tmpfs::mount("4m");
    let (manifests, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (go, log) = (work.path().join("go"), work.path().join("log"));
    std::fs::write(
        manifests.path().join("slow.yaml"),
        job(
            "slow",
            &format!(
                "while [ ! -e {} ]; do sleep 0.05; done; echo ran >> {}",
                go.display(),
                log.display()
            ),
        ),
    )
    .unwrap();
    let mut jobcd = Jobcd::spawn(
        disk.path(),
        &["local", "apply", manifests.path().to_str().unwrap()],
        true,
    );
    jobcd.wait_for("Job default/slow: pod slow-");
    let runs = || {
        let mut runs = Jobcd::spawn(disk.path(), &["local", "runs", "slow"], true);
        runs.finish();
        runs.output()
    };
    wait_until("the pod is recorded running", || {
        runs().contains(" Running ")
    });

    disk.fill();
    std::fs::write(&go, "").unwrap();
    wait_until("the container has ended", || log.exists());
    // The supervisor cannot write the pod's end; the pod is not failed for
    // that, and jobcd waits.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let during = runs();
    assert!(during.contains(" Running "), "{during}");
    assert!(!during.contains("Failed"), "{during}");

    disk.free();
    let status = jobcd.finish();
    let out = jobcd.output();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        out.contains("Job default/slow: Complete (CompletionsReached")
            && out.contains("1 succeeded, 0 failed"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "ran\n",
        "it ran once"
    );
}
