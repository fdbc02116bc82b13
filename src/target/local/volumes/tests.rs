//! Volumes made as the kubelet makes them, checked on the files and
//! refusals they come to.

use super::*;
use k8s_openapi::api::core::v1::Container;

fn spec(volumes: serde_json::Value) -> PodSpec {
    serde_json::from_value(
        serde_json::json!({"containers": [{"name": "main"}], "volumes": volumes}),
    )
    .unwrap()
}

fn facts() -> downward::Pod {
    downward::Pod {
        name: "job-abcde".into(),
        namespace: "batch".into(),
        labels: [("team".to_string(), "data".to_string())].into(),
        ..downward::Pod::default()
    }
}

struct Fixture {
    facts: downward::Pod,
    containers: Vec<Container>,
    maps: BTreeMap<String, Data>,
    secrets: BTreeMap<String, Data>,
    allowed: Vec<PathBuf>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            facts: facts(),
            containers: vec![Container {
                name: "main".into(),
                ..Container::default()
            }],
            maps: [(
                "settings".to_string(),
                [
                    ("a.conf".to_string(), b"a=1".to_vec()),
                    ("b.conf".to_string(), b"b=2".to_vec()),
                ]
                .into(),
            )]
            .into(),
            secrets: [(
                "db".to_string(),
                [("password".to_string(), b"hunter2".to_vec())].into(),
            )]
            .into(),
            allowed: Vec::new(),
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            facts: &self.facts,
            containers: &self.containers,
            files_dir: Path::new("/state/pods/p/volumes"),
            scratch_dir: Path::new("/scratch/p"),
            config_maps: Some(&self.maps),
            secrets: Some(&self.secrets),
            host_paths: &self.allowed,
        }
    }
}

#[test]
fn config_map_items_and_modes_become_files() {
    let f = Fixture::new();
    let p = prepare(
        &spec(serde_json::json!([
            {"name": "all", "configMap": {"name": "settings"}},
            {"name": "one", "configMap": {"name": "settings", "defaultMode": 0o600,
                "items": [{"key": "b.conf", "path": "sub/b", "mode": 0o640}, {"key": "a.conf", "path": "a"}]}}
        ])),
        f.ctx(),
    )
    .unwrap();
    let files: Vec<(String, &[u8], u32)> = p
        .files
        .iter()
        .map(|f| (f.path.display().to_string(), f.bytes.as_slice(), f.mode))
        .collect();
    assert_eq!(
        files,
        [
            (
                "/state/pods/p/volumes/all/a.conf".into(),
                &b"a=1"[..],
                0o644
            ),
            (
                "/state/pods/p/volumes/all/b.conf".into(),
                &b"b=2"[..],
                0o644
            ),
            ("/state/pods/p/volumes/one/sub/b".into(), &b"b=2"[..], 0o640),
            ("/state/pods/p/volumes/one/a".into(), &b"a=1"[..], 0o600),
        ]
    );
    assert!(p.volumes.iter().all(|v| v.read_only));
}

#[test]
fn a_missing_source_or_key_waits_unless_optional() {
    let f = Fixture::new();
    let missing = prepare(
        &spec(serde_json::json!([{"name": "s", "secret": {"secretName": "nope"}}])),
        f.ctx(),
    )
    .unwrap_err();
    assert!(missing.missing, "{missing:?}");
    assert_eq!(missing.field, "volumes[0].secret");
    assert!(
        missing.problem.contains("secret \"nope\" not found"),
        "{}",
        missing.problem
    );
    let key = prepare(
        &spec(serde_json::json!([{"name": "c", "configMap": {"name": "settings", "items": [{"key": "z", "path": "z"}]}}])),
        f.ctx(),
    )
    .unwrap_err();
    assert!(key.problem.contains("has no key \"z\""), "{}", key.problem);
    let optional = prepare(
        &spec(serde_json::json!([
            {"name": "s", "secret": {"secretName": "nope", "optional": true}},
            {"name": "c", "configMap": {"name": "settings", "optional": true, "items": [{"key": "z", "path": "z"}]}}
        ])),
        f.ctx(),
    )
    .unwrap();
    assert!(
        optional.files.is_empty(),
        "optional and missing: empty volumes"
    );
    assert_eq!(optional.volumes.len(), 2);
}

#[test]
fn projected_sources_share_a_directory_and_tokens_are_refused() {
    let f = Fixture::new();
    let p = prepare(
        &spec(serde_json::json!([{"name": "all", "projected": {"defaultMode": 0o444, "sources": [
            {"configMap": {"name": "settings", "items": [{"key": "a.conf", "path": "a"}]}},
            {"secret": {"name": "db"}},
            {"downwardAPI": {"items": [{"path": "team", "fieldRef": {"fieldPath": "metadata.labels['team']"}}]}}
        ]}}])),
        f.ctx(),
    )
    .unwrap();
    let files: Vec<(String, String, u32)> = p
        .files
        .iter()
        .map(|f| {
            let name = f.path.strip_prefix("/state/pods/p/volumes/all").unwrap();
            (
                name.display().to_string(),
                String::from_utf8_lossy(&f.bytes).into_owned(),
                f.mode,
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("a".to_string(), "a=1".to_string(), 0o444),
            ("password".to_string(), "hunter2".to_string(), 0o444),
            ("team".to_string(), "data".to_string(), 0o444),
        ]
    );
    let token = prepare(
        &spec(serde_json::json!([{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}])),
        f.ctx(),
    )
    .unwrap_err();
    assert_eq!(
        token.field,
        "volumes[0].projected.sources[0].serviceAccountToken"
    );
}

#[test]
fn empty_dirs_claims_and_other_types() {
    let f = Fixture::new();
    let p = prepare(
        &spec(serde_json::json!([
            {"name": "work", "emptyDir": {}},
            {"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "pg", "readOnly": true}}
        ])),
        f.ctx(),
    )
    .unwrap();
    assert_eq!(
        p.dirs,
        [
            (PathBuf::from("/state/pods/p/volumes"), 0o700),
            (PathBuf::from("/scratch/p/volumes"), 0o700),
            (PathBuf::from("/scratch/p/volumes/work"), 0o777)
        ],
        "the pod's volume directories are its own; an emptyDir is anyone's in the pod"
    );
    assert_eq!(
        p.volumes[0].source,
        Source::Bind("/scratch/p/volumes/work".into())
    );
    assert_eq!(
        p.volumes[1].source,
        Source::Memory {
            name: "jobcd_batch_job-abcde_fast".into(),
            size: Some(64 << 20)
        }
    );
    assert_eq!(
        p.volumes[2].source,
        Source::Named("jobcd-pvc-batch-pg".into())
    );
    assert!(p.volumes[2].read_only);
    let nfs = prepare(
        &spec(serde_json::json!([{"name": "share", "nfs": {"server": "nas", "path": "/x"}}])),
        f.ctx(),
    )
    .unwrap_err();
    assert!(
        nfs.problem.contains("run this Job on a cluster"),
        "{}",
        nfs.problem
    );
}

#[test]
fn host_paths_only_under_allowed_directories_and_of_their_type() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(allowed.path().join("file"), "x").unwrap();
    // A symlink inside that leads outside does not get out.
    std::os::unix::fs::symlink(outside.path(), allowed.path().join("escape")).unwrap();
    let mut f = Fixture::new();
    f.allowed = vec![allowed.path().to_path_buf()];
    let host = |path: &Path, kind: &str| {
        spec(serde_json::json!([{"name": "h", "hostPath": {"path": path, "type": kind}}]))
    };
    let refused = prepare(&host(outside.path(), ""), f.ctx()).unwrap_err();
    assert_eq!(refused.field, "volumes[0].hostPath.path");
    assert!(
        refused.problem.contains("--allow-host-path"),
        "{}",
        refused.problem
    );
    assert!(
        prepare(
            &host(&allowed.path().join("escape/new"), "DirectoryOrCreate"),
            f.ctx()
        )
        .is_err()
    );
    let created = prepare(
        &host(&allowed.path().join("new/dir"), "DirectoryOrCreate"),
        f.ctx(),
    )
    .unwrap();
    assert_eq!(created.host_paths, [(allowed.path().join("new/dir"), true)]);
    assert!(
        !allowed.path().join("new").exists(),
        "nothing is made before the pod runs"
    );
    write(&created).unwrap();
    assert!(allowed.path().join("new/dir").is_dir());
    let wrong = prepare(&host(&allowed.path().join("file"), "Directory"), f.ctx()).unwrap_err();
    assert_eq!(wrong.field, "volumes[0].hostPath.type");
    assert!(prepare(&host(&allowed.path().join("file"), "File"), f.ctx()).is_ok());
    assert!(prepare(&host(&allowed.path().join("file"), "Socket"), f.ctx()).is_err());
}

#[test]
fn files_are_written_with_their_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let prepared = Prepared {
        dirs: vec![(dir.path().join("v"), 0o755)],
        files: vec![File {
            path: dir.path().join("v/sub/key"),
            bytes: b"value".to_vec(),
            mode: 0o400,
        }],
        ..Prepared::default()
    };
    write(&prepared).unwrap();
    let meta = std::fs::metadata(dir.path().join("v/sub/key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o400);
    assert_eq!(
        std::fs::read(dir.path().join("v/sub/key")).unwrap(),
        b"value"
    );
}
