//! The container image that `scripts/image` builds, from the binary under
//! test, checked as a registry and a container runtime read it: the OCI
//! layout's digests, sizes and media types; the configuration the Helm
//! chart relies on (entrypoint, user 65532, state directory, port); the one
//! layer's files and owners; and the root filesystem run on its own in a
//! bubblewrap sandbox, read-only as the chart mounts it, with nothing of
//! this machine's file system in sight: jobcd starts, evaluates a CronJob
//! in Europe/Berlin from the image's time zone database, validates
//! manifests, renders an overlay with the image's kustomize, and clones
//! over HTTPS into its state directory trusting the image's CA bundle.
//! Building twice gives the same digests.
//!
//! bubblewrap comes from Debian (`scripts/test-deps`); no container engine
//! is needed.

#[path = "support/git_servers.rs"]
mod git_servers;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use git_servers::{HttpServer, Repo};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TAG: &str = "test";
const STATE_DIR: &str = "/var/lib/jobcd";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// How long one command in the sandbox may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one run of `scripts/image` wrote.
struct Built {
    /// The OCI image layout directory.
    layout: PathBuf,
    /// The oci-archive tarball of it.
    archive: PathBuf,
    /// What the script printed.
    stdout: String,
}

/// Runs `scripts/image` on the test binary into `output`, with
/// SOURCE_DATE_EPOCH unset (every mtime is then 0).
fn build_into(output: &Path) -> Built {
    let out = Command::new(repo_root().join("scripts/image"))
        .args(["--binary", env!("CARGO_BIN_EXE_jobcd"), "--output"])
        .arg(output)
        .args(["--tag", TAG])
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .output()
        .expect("scripts/image runs");
    assert!(
        out.status.success(),
        "scripts/image failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    Built {
        layout: output.join(format!("jobcd-{TAG}")),
        archive: output.join(format!("jobcd-{TAG}.oci.tar")),
        stdout: text(&out.stdout),
    }
}

/// The image most tests look at, built once per test run into the target
/// directory's scratch space (replaced by the next run).
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let output = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image");
        fs::create_dir_all(&output).unwrap();
        build_into(&output)
    })
}

/// An OCI image read back from its layout: every blob checked against
/// the digest and size its descriptor gives.
struct Image {
    index: Value,
    manifest_digest: String,
    manifest: Value,
    config: Value,
    /// The layer blob as stored (gzip).
    layer_blob: Vec<u8>,
    /// The layer uncompressed: the tar a runtime unpacks.
    layer_tar: Vec<u8>,
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()))
}

/// The blob a descriptor points at, after checking its digest, its size
/// and its media type.
fn blob(layout: &Path, descriptor: &Value, media_type: &str) -> Vec<u8> {
    assert_eq!(descriptor["mediaType"], media_type, "{descriptor}");
    let digest = descriptor["digest"].as_str().expect("a digest");
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{digest}: not a sha256 digest"));
    let bytes = fs::read(layout.join("blobs/sha256").join(hex))
        .unwrap_or_else(|e| panic!("blob {digest}: {e}"));
    assert_eq!(
        sha256_hex(&bytes),
        hex,
        "blob {digest} does not match its name"
    );
    assert_eq!(
        descriptor["size"].as_u64(),
        Some(bytes.len() as u64),
        "size of blob {digest}"
    );
    bytes
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(file.path(), bytes).unwrap();
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "gzip -dc: {}", text(&out.stderr));
    out.stdout
}

impl Image {
    fn read(layout: &Path) -> Image {
        assert_eq!(
            read_json(&layout.join("oci-layout")),
            json!({"imageLayoutVersion": "1.0.0"})
        );
        let index = read_json(&layout.join("index.json"));
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        let manifests = index["manifests"].as_array().expect("manifests");
        assert_eq!(manifests.len(), 1, "{index}");
        let manifest_bytes = blob(
            layout,
            &manifests[0],
            "application/vnd.oci.image.manifest.v1+json",
        );
        let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        let config_bytes = blob(
            layout,
            &manifest["config"],
            "application/vnd.oci.image.config.v1+json",
        );
        let config: Value = serde_json::from_slice(&config_bytes).unwrap();
        let layers = manifest["layers"].as_array().expect("layers");
        assert_eq!(layers.len(), 1, "{manifest}");
        let layer_blob = blob(
            layout,
            &layers[0],
            "application/vnd.oci.image.layer.v1.tar+gzip",
        );
        let layer_tar = gunzip(&layer_blob);
        Image {
            manifest_digest: manifests[0]["digest"].as_str().unwrap().to_string(),
            index,
            manifest,
            config,
            layer_blob,
            layer_tar,
        }
    }
}

/// The image of [`built`], read and checked once.
fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| Image::read(&built().layout))
}

/// One member of a tar archive (GNU or ustar format).
#[derive(Debug)]
struct Entry {
    /// As stored: directories end in '/'.
    name: String,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    /// The type flag: b'0' file, b'5' directory, b'2' symbolic link…
    kind: u8,
    link: String,
    data: std::ops::Range<usize>,
}

fn octal(field: &[u8]) -> u64 {
    let digits = String::from_utf8_lossy(field);
    let digits = digits.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(digits, 8).unwrap_or_else(|_| panic!("tar: bad number {digits:?}"))
}

fn c_string(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).expect("a UTF-8 name")
}

/// The members of a tar archive, in order. GNU long names (type 'L') are
/// applied to the member that follows them.
fn tar_entries(tar: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut offset = 0;
    let mut long_name = None;
    while offset + 512 <= tar.len() {
        let header = &tar[offset..offset + 512];
        if header.iter().all(|&b| b == 0) {
            return entries;
        }
        let size = octal(&header[124..136]) as usize;
        let data = offset + 512..offset + 512 + size;
        offset = data.start + size.div_ceil(512) * 512;
        let kind = header[156];
        if kind == b'L' {
            long_name = Some(c_string(&tar[data]));
            continue;
        }
        let mut name = c_string(&header[0..100]);
        if &header[257..263] == b"ustar\0" && header[345] != 0 {
            name = format!("{}/{name}", c_string(&header[345..500]));
        }
        entries.push(Entry {
            name: long_name.take().unwrap_or(name),
            mode: octal(&header[100..108]) as u32,
            uid: octal(&header[108..116]),
            gid: octal(&header[116..124]),
            mtime: octal(&header[136..148]),
            kind,
            link: c_string(&header[157..257]),
            data,
        });
    }
    panic!("tar: no end-of-archive marker");
}

/// The regular files under `dir`, by path relative to it, with contents.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                files.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn the_layout_is_a_valid_oci_image_and_the_archive_holds_it() {
    let built = built();
    let image = image();

    // The layer's diff_id is the digest of the tar a runtime unpacks.
    assert_eq!(
        image.config["rootfs"],
        json!({"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&image.layer_tar))]})
    );
    assert_eq!(&image.layer_blob[..2], b"\x1f\x8b", "the layer is gzip");

    // The platform and the names engines tag it with on load: the chart's
    // default image is jobcd:<appVersion>.
    let arch = image.config["architecture"].as_str().unwrap();
    assert_eq!(image.config["os"], "linux");
    let expected_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(arch, expected_arch);
    let descriptor = &image.index["manifests"][0];
    assert_eq!(
        descriptor["platform"],
        json!({"architecture": arch, "os": "linux"})
    );
    assert_eq!(
        descriptor["annotations"],
        json!({
            "io.containerd.image.name": format!("docker.io/library/jobcd:{TAG}"),
            "org.opencontainers.image.ref.name": TAG,
        })
    );

    // Docker's classic image store loads an archive through manifest.json
    // only: it must name the same config and layer.
    let docker = read_json(&built.layout.join("manifest.json"));
    let blob_path = |descriptor: &Value| {
        let digest = descriptor["digest"].as_str().unwrap();
        format!("blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap())
    };
    assert_eq!(
        docker,
        json!([{
            "Config": blob_path(&image.manifest["config"]),
            "RepoTags": [format!("jobcd:{TAG}")],
            "Layers": [blob_path(&image.manifest["layers"][0])],
        }])
    );

    // Every blob in the layout is one the image uses.
    let blobs: BTreeSet<String> = fs::read_dir(built.layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let used: BTreeSet<String> = [
        image.manifest_digest.as_str(),
        image.manifest["config"]["digest"].as_str().unwrap(),
        image.manifest["layers"][0]["digest"].as_str().unwrap(),
    ]
    .iter()
    .map(|d| d.strip_prefix("sha256:").unwrap().to_string())
    .collect();
    assert_eq!(blobs, used);

    // The archive is the layout, file for file, root-owned, at the epoch.
    let archive = fs::read(&built.archive).unwrap();
    let mut archived = BTreeMap::new();
    for entry in tar_entries(&archive) {
        assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, 0), "{entry:?}");
        match entry.kind {
            b'0' => {
                archived.insert(entry.name.clone(), archive[entry.data].to_vec());
            }
            b'5' => {}
            _ => panic!("unexpected member in the archive: {entry:?}"),
        }
    }
    let on_disk = files_under(&built.layout);
    assert_eq!(
        archived.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>()
    );
    assert!(
        archived == on_disk,
        "the archive's files differ from the layout's"
    );

    // What it tells the person who ran it.
    let archive_path = built.archive.display().to_string();
    for line in [
        format!("manifest {}", image.manifest_digest),
        format!("podman load -i {archive_path}"),
        format!("docker load -i {archive_path}"),
        format!("skopeo copy oci-archive:{archive_path} docker://REGISTRY/jobcd:{TAG}"),
    ] {
        assert!(
            built.stdout.contains(&line),
            "{line:?} in:\n{}",
            built.stdout
        );
    }
}

/// The chart's deployment template.
fn chart_template() -> String {
    fs::read_to_string(repo_root().join("charts/jobcd/templates/deployment.yaml")).unwrap()
}

/// The part of a line of the chart's deployment template after `key: `.
fn chart_value(key: &str) -> String {
    chart_template()
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in the chart's deployment template"))
        .to_string()
}

/// The container's own `args` in the chart's deployment template: the
/// `- ` items after `args:` (the values' extraArgs follow as template code).
fn chart_args() -> Value {
    let template = chart_template();
    let items: Vec<String> = template
        .lines()
        .skip_while(|line| line.trim() != "args:")
        .skip(1)
        .map_while(|line| line.trim().strip_prefix("- ").map(str::to_string))
        .collect();
    assert!(
        !items.is_empty(),
        "no args: list in the chart's deployment template"
    );
    json!(items)
}

#[test]
fn the_config_runs_jobcd_serve_as_the_chart_expects() {
    let image = image();
    let config = &image.config["config"];

    assert_eq!(config["Entrypoint"], json!(["/usr/local/bin/jobcd"]));
    // The chart passes the same arguments; without them the image does the same.
    let chart_args = chart_args();
    assert_eq!(config["Cmd"], chart_args);
    assert_eq!(
        config["Cmd"],
        json!(["serve", "--config", "/etc/jobcd/jobcd.yaml"])
    );
    // The chart's runAsUser and runAsGroup.
    assert_eq!(config["User"], "65532:65532");
    let values = fs::read_to_string(repo_root().join("charts/jobcd/values.yaml")).unwrap();
    assert!(values.contains("runAsUser: 65532") && values.contains("runAsGroup: 65532"));
    assert_eq!(
        config["Env"],
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            format!("JOBCD_STATE_DIR={STATE_DIR}"),
        ])
    );
    assert_eq!(config["WorkingDir"], STATE_DIR);
    let port = chart_value("containerPort");
    assert_eq!(config["ExposedPorts"], json!({format!("{port}/tcp"): {}}));
    assert_eq!(port, "8080");

    let labels = &config["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], "jobcd");
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    // The engines' versions, as the pinned builds report them.
    assert_eq!(labels["dev.jobcd.kustomize.version"], "v5.8.1");
    assert_eq!(labels["dev.jobcd.helm.version"], "v3.22.0");
    let head = Command::new("git")
        .current_dir(repo_root())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    if head.status.success() {
        assert_eq!(
            labels["org.opencontainers.image.revision"],
            text(&head.stdout).trim()
        );
    }

    // SOURCE_DATE_EPOCH was unset: the epoch.
    assert_eq!(image.config["created"], "1970-01-01T00:00:00Z");
}

/// The files `ldd` says the binary loads, by their real paths.
fn needed_libraries(binary: &str) -> BTreeSet<String> {
    let out = Command::new("ldd")
        .arg(binary)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("ldd runs");
    assert!(out.status.success(), "ldd {binary}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [_, "=>", path, ..] if path.starts_with('/') => Some(*path),
                [path, ..] if path.starts_with('/') => Some(*path),
                _ => None,
            }
        })
        .map(|path| {
            let real = fs::canonicalize(path).unwrap();
            real.to_str().unwrap().trim_start_matches('/').to_string()
        })
        .collect()
}

#[test]
fn the_layer_holds_jobcd_its_libraries_time_zones_and_certificates() {
    let image = image();
    let tar = &image.layer_tar;
    let entries = tar_entries(tar);
    let by_name: BTreeMap<&str, &Entry> = entries
        .iter()
        .map(|e| (e.name.trim_end_matches('/'), e))
        .collect();
    let file = |name: &str| -> &[u8] {
        let entry = by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the image"));
        assert_eq!(entry.kind, b'0', "{entry:?}");
        &tar[entry.data.clone()]
    };

    // Reproducible: in name order (directory by directory), all at the
    // epoch, owned by root but for the state directory.
    let components = |e: &Entry| -> Vec<String> {
        e.name
            .trim_end_matches('/')
            .split('/')
            .map(String::from)
            .collect()
    };
    for pair in entries.windows(2) {
        assert!(
            components(&pair[0]) < components(&pair[1]),
            "{} before {}",
            pair[0].name,
            pair[1].name
        );
    }
    for entry in &entries {
        assert_eq!(entry.mtime, 0, "{entry:?}");
        let owner = if entry.name == "var/lib/jobcd/" {
            65532
        } else {
            0
        };
        assert_eq!((entry.uid, entry.gid), (owner, owner), "{entry:?}");
        // Nothing writable by others but /tmp (links carry no mode).
        if entry.kind != b'2' {
            let open = if entry.name == "tmp/" { 0o022 } else { 0 };
            assert_eq!(entry.mode & 0o022, open, "{entry:?}");
        }
    }
    assert_eq!(by_name["tmp"].kind, b'5');
    assert_eq!(by_name["tmp"].mode, 0o1777);
    assert_eq!(by_name["var/lib/jobcd"].kind, b'5');

    let binary = by_name["usr/local/bin/jobcd"];
    assert_eq!((binary.kind, binary.mode), (b'0', 0o755));
    assert_eq!(&file("usr/local/bin/jobcd")[..4], b"\x7fELF");

    // Exactly the libraries the binary loads.
    let libraries: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.kind == b'0' && e.name.contains(".so") && !e.name.starts_with("usr/share/"))
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(libraries, needed_libraries(env!("CARGO_BIN_EXE_jobcd")));
    let programs: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == b'0' && e.mode & 0o111 != 0 && !e.name.contains(".so"))
        .map(|e| e.name.as_str())
        .collect();
    // jobcd, and the rendering engines (static: no libraries of their own).
    assert_eq!(
        programs,
        [
            "usr/local/bin/helm",
            "usr/local/bin/jobcd",
            "usr/local/bin/kustomize"
        ]
    );

    // The user the chart runs as, at home in the state directory.
    let passwd = text(file("etc/passwd"));
    assert!(
        passwd
            .lines()
            .any(|l| l == "nonroot:x:65532:65532:nonroot:/var/lib/jobcd:/sbin/nologin"),
        "{passwd}"
    );
    let group = text(file("etc/group"));
    assert!(group.lines().any(|l| l == "nonroot:x:65532:"), "{group}");

    // The time zone database and the CA bundle, as this machine has them.
    assert_eq!(
        file("usr/share/zoneinfo/Europe/Berlin"),
        fs::read("/usr/share/zoneinfo/Europe/Berlin").unwrap()
    );
    assert_eq!(file(&CA_BUNDLE[1..]), fs::read(CA_BUNDLE).unwrap());
    let localtime = by_name["etc/localtime"];
    assert_eq!(
        (localtime.kind, localtime.link.as_str()),
        (b'2', "/usr/share/zoneinfo/Etc/UTC")
    );
}

/// The image's root filesystem unpacked, run as a container runtime runs
/// it (its Entrypoint, Env, WorkingDir, User, and HOME from its
/// /etc/passwd) in a bubblewrap sandbox: the root is the image alone,
/// mounted read-only, with a fresh /dev, /proc and /tmp and an empty
/// state directory, as the chart's pod has them.
struct Container {
    rootfs: tempfile::TempDir,
    entrypoint: Vec<String>,
    env: Vec<(String, String)>,
    workdir: String,
    uid: String,
    gid: String,
}

impl Container {
    fn unpack(image: &Image) -> Container {
        let rootfs = tempfile::tempdir().unwrap();
        let mut tar = Command::new("tar")
            .args(["-x", "-C"])
            .arg(rootfs.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(tar.stdin.as_mut().unwrap(), &image.layer_tar).unwrap();
        drop(tar.stdin.take());
        assert!(tar.wait().unwrap().success(), "tar -x failed");

        let config = &image.config["config"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let (uid, gid) = config["User"].as_str().unwrap().split_once(':').unwrap();
        let mut env: Vec<(String, String)> = strings(&config["Env"])
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        // runc sets HOME from the image's /etc/passwd.
        let passwd = fs::read_to_string(rootfs.path().join("etc/passwd")).unwrap();
        let home = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() == 7 && f[2] == uid)
            .map(|f| f[5].to_string())
            .unwrap_or_else(|| panic!("no user {uid} in the image's /etc/passwd"));
        env.push(("HOME".into(), home));
        Container {
            entrypoint: strings(&config["Entrypoint"]),
            env,
            workdir: config["WorkingDir"].as_str().unwrap().to_string(),
            uid: uid.to_string(),
            gid: gid.to_string(),
            rootfs,
        }
    }

    /// Copies a host file into the image's file system at `path`.
    fn add_file(&self, from: &Path, path: &str) {
        let dest = self.rootfs.path().join(path.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(from, dest).unwrap();
    }

    /// Runs the entrypoint with `args`; `state` is mounted at the state
    /// directory, `sandbox` are further bubblewrap options (mounts, env).
    fn run(&self, args: &[&str], state: &Path, sandbox: &[&OsStr]) -> Output {
        let mut cmd = Command::new("bwrap");
        // bwrap applies its options in order: --unshare-all before a
        // --share-net, --clearenv before each --setenv, and the image's
        // environment before the one `sandbox` adds.
        cmd.args(["--unshare-all", "--die-with-parent", "--new-session"])
            .args(["--uid", &self.uid, "--gid", &self.gid, "--clearenv"]);
        for (k, v) in &self.env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.arg("--bind")
            .arg(self.rootfs.path())
            .arg("/")
            .args(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"])
            .arg("--bind")
            .arg(state)
            .arg(STATE_DIR)
            .args(sandbox)
            .args(["--remount-ro", "/", "--chdir", &self.workdir, "--"])
            .args(&self.entrypoint)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .expect("bwrap runs (Debian bubblewrap; see scripts/test-deps)");
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > RUN_LIMIT {
                child.kill().unwrap();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "jobcd {args:?} still running after {RUN_LIMIT:?}; stderr:\n{}",
                    text(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

const CRONJOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-report
  namespace: batch
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Berlin
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: busybox:1.36
              command: ["sh", "-c", "echo report"]
"#;

const JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: migrate-001
  namespace: batch
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
          command: ["true"]
"#;

#[test]
fn the_image_runs_on_its_own_with_a_read_only_root() {
    let container = Container::unpack(image());
    let state = tempfile::tempdir().unwrap();
    let no: &[&OsStr] = &[];

    let out = container.run(&["--version"], state.path(), no);
    assert!(out.status.success(), "{}", describe(&out));
    let version = text(&out.stdout);
    assert!(
        version.starts_with(&format!("jobcd {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // This machine's file system is out of sight: its /usr/bin is not there.
    assert!(Path::new("/usr/bin").is_dir());
    let out = container.run(&["validate", "/usr/bin"], state.path(), no);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("No such file or directory"),
        "{}",
        describe(&out)
    );

    // Europe/Berlin from the image's zoneinfo, across the switch to summer
    // time on 29 March 2026 (03:00 CET is 02:00Z, 03:00 CEST is 01:00Z).
    let schedule = [
        "schedule",
        "0 3 * * *",
        "--tz",
        "Europe/Berlin",
        "--from",
        "2026-03-27T12:00:00Z",
        "-c",
        "2",
        "-o",
        "json",
    ];
    let out = container.run(&schedule, state.path(), no);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["next"],
        json!(["2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z"])
    );
    // ... and only from there: with the image's zoneinfo hidden, no zone.
    let hidden: &[&OsStr] = &["--tmpfs".as_ref(), "/usr/share/zoneinfo".as_ref()];
    let out = container.run(&schedule, state.path(), hidden);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("no such zone"),
        "{}",
        describe(&out)
    );

    // Manifests copied into the image validate, a misspelt zone is found
    // by its neighbours in the database.
    let manifests = tempfile::tempdir().unwrap();
    fs::write(manifests.path().join("cron.yaml"), CRONJOB).unwrap();
    fs::write(manifests.path().join("job.yaml"), JOB).unwrap();
    fs::write(
        manifests.path().join("typo.yaml"),
        CRONJOB
            .replace("nightly-report", "typo")
            .replace("Europe/Berlin", "Europe/Berlim"),
    )
    .unwrap();
    container.add_file(&manifests.path().join("cron.yaml"), "/srv/jobs/cron.yaml");
    container.add_file(&manifests.path().join("job.yaml"), "/srv/jobs/job.yaml");
    container.add_file(&manifests.path().join("typo.yaml"), "/srv/typo/typo.yaml");
    let out = container.run(&["validate", "/srv/jobs", "-o", "json"], state.path(), no);
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true, "{report}");
    let objects: BTreeSet<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        objects,
        BTreeSet::from(["CronJob nightly-report".into(), "Job migrate-001".into()])
    );
    let out = container.run(&["validate", "/srv/typo"], state.path(), no);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("did you mean Europe/Berlin?"),
        "{}",
        describe(&out)
    );

    // The engines are on the image's PATH; with no bubblewrap in the image
    // they render unsandboxed, and say so.
    let out = container.run(&["--version"], state.path(), no);
    let version = text(&out.stdout);
    assert!(
        version.contains("\nkustomize v5.8.1 (/usr/local/bin/kustomize, NOT sandboxed)\n")
            && version.contains("\nhelm v3.22.0 (/usr/local/bin/helm, NOT sandboxed)"),
        "{version}"
    );
    // An overlay in a repository renders in the image, from a read-only
    // mount, caching into the state directory.
    let repo = Repo::new();
    repo.commit_and_push(
        &[
            ("base/job.yaml", JOB),
            ("base/kustomization.yaml", "resources: [job.yaml]\n"),
            (
                "overlays/prod/kustomization.yaml",
                "resources: [../../base]\nnamePrefix: prod-\n",
            ),
        ],
        "an overlay",
    );
    let mount: &[&OsStr] = &[
        "--ro-bind".as_ref(),
        repo.bare.as_os_str(),
        "/srv/repo.git".as_ref(),
    ];
    let out = container.run(
        &[
            "validate",
            "--repo",
            "/srv/repo.git",
            "--path",
            "overlays/prod",
            "-o",
            "json",
        ],
        state.path(),
        mount,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objects"][0]["name"], "prod-migrate-001", "{report}");
    assert!(state.path().join("render-cache").is_dir());
}

#[test]
fn git_over_https_trusts_the_image_ca_bundle_and_mirrors_into_the_state_directory() {
    let container = Container::unpack(image());
    let repo = Repo::new();
    repo.commit_and_push(&[("jobs/cron.yaml", CRONJOB)], "nightly report");
    let https = HttpServer::start_tls(&repo, "jobcd", "s3cret-token");
    let url = https.url();
    let args = ["validate", "--repo", url.as_str(), "--path", "jobs"];
    // The server is on this machine's loopback; the credentials as the
    // chart passes them (env here); no SSL_CERT_FILE.
    let net: Vec<&OsStr> = vec![
        "--share-net".as_ref(),
        "--setenv".as_ref(),
        "JOBCD_GIT_USERNAME".as_ref(),
        "jobcd".as_ref(),
        "--setenv".as_ref(),
        "JOBCD_GIT_PASSWORD".as_ref(),
        "s3cret-token".as_ref(),
    ];

    // The image's own bundle does not vouch for the test server...
    let state = tempfile::tempdir().unwrap();
    let out = container.run(&args, state.path(), &net);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("certificate"),
        "{}",
        describe(&out)
    );

    // ... and with the server's certificate in its place, the clone works:
    // git2 reads the bundle at /etc/ssl/certs/ca-certificates.crt.
    let certificate = https.certificate();
    let mut trusted = net.clone();
    trusted.extend([
        "--ro-bind".as_ref(),
        certificate.as_os_str(),
        CA_BUNDLE.as_ref(),
    ]);
    let state = tempfile::tempdir().unwrap();
    let out = container.run(&args, state.path(), &trusted);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text(&out.stdout).contains("valid"), "{}", describe(&out));
    // The mirror went to JOBCD_STATE_DIR, the one writable place.
    assert_ne!(
        fs::read_dir(state.path()).unwrap().count(),
        0,
        "the state directory stayed empty"
    );
}

#[test]
fn building_twice_gives_the_same_image() {
    let first = built();
    let again = tempfile::tempdir().unwrap();
    let second = build_into(again.path());
    assert_eq!(
        read_json(&first.layout.join("index.json"))["manifests"][0]["digest"],
        read_json(&second.layout.join("index.json"))["manifests"][0]["digest"]
    );
    assert!(
        fs::read(&first.archive).unwrap() == fs::read(&second.archive).unwrap(),
        "the two archives differ"
    );
}
