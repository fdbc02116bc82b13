//! A real Kubernetes control plane for the cluster tests: etcd,
//! kube-apiserver and kube-controller-manager 1.33.13 on loopback
//! (scripts/kube-cluster; binaries built by scripts/test-deps), and a
//! stand-in kubelet. A pod whose command says `fail` fails; one that says
//! `hold` waits while [`Cluster::hold`] is set; every other pod succeeds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a test waits for the cluster to do something.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A control plane in a temporary directory, stopped on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    stop_kubelet: Arc<AtomicBool>,
    /// While set, pods that say `hold` stay Pending.
    pub hold: Arc<AtomicBool>,
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script("kube-cluster"))
            .arg("start")
            .arg(dir.path().join("cluster"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/kube-cluster start failed (run scripts/test-deps first): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kubeconfig = dir.path().join("cluster/kubeconfig");
        let cluster = Cluster {
            dir,
            kubeconfig,
            stop_kubelet: Arc::default(),
            hold: Arc::default(),
        };
        cluster.kubelet();
        cluster
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(super::scripts::dir("kube-binaries").join("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }

    /// Writes to `file` a kubeconfig that authenticates as ServiceAccount
    /// `account` of `namespace` (a token from the TokenRequest API), as a
    /// pod running as it would.
    pub fn account_kubeconfig(&self, namespace: &str, account: &str, file: &Path) {
        let out = self.kubectl(&["-n", namespace, "create", "token", account]);
        assert!(out.status.success(), "create token: {out:?}");
        let token = String::from_utf8(out.stdout).unwrap();
        let admin = self.json(&["config", "view", "--raw"]);
        let server = &admin["clusters"][0]["cluster"];
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {
                "server": server["server"],
                "certificate-authority-data": server["certificate-authority-data"]}}],
            "users": [{"name": account, "user": {"token": token.trim()}}],
            "contexts": [{"name": account, "context": {"cluster": "test", "user": account, "namespace": namespace}}],
            "current-context": account,
        });
        // JSON is YAML: kubectl and jobcd read it as a kubeconfig.
        std::fs::write(file, config.to_string()).unwrap();
    }

    /// What the holder of `kubeconfig` may do in `namespace`, as the API
    /// server's SelfSubjectRulesReview says, as `group/resource[/name]
    /// verb` lines (the self-reviews every user may create left out).
    pub fn allowed(&self, kubeconfig: &Path, namespace: &str) -> BTreeSet<String> {
        let review = kubeconfig.with_file_name(format!("review-{namespace}.json"));
        std::fs::write(
            &review,
            serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": namespace}})
            .to_string(),
        )
        .unwrap();
        let out = self.kubectl(&[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "create",
            // (kubectl's client-side validation would list CRDs, which a
            // ServiceAccount may not.)
            "--validate=false",
            "-f",
            review.to_str().unwrap(),
            "-o",
            "json",
        ]);
        assert!(out.status.success(), "{out:?}");
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(status["status"]["incomplete"], false, "{status}");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let mut rules = BTreeSet::new();
        for rule in status["status"]["resourceRules"].as_array().unwrap() {
            let names = match rule["resourceNames"].as_array() {
                Some(_) => strings(&rule["resourceNames"])
                    .into_iter()
                    .map(|n| format!("/{n}"))
                    .collect(),
                None => vec![String::new()],
            };
            for group in strings(&rule["apiGroups"]) {
                if group == "authorization.k8s.io" || group == "authentication.k8s.io" {
                    continue;
                }
                for resource in strings(&rule["resources"]) {
                    for name in &names {
                        for verb in strings(&rule["verbs"]) {
                            rules.insert(format!("{group}/{resource}{name} {verb}"));
                        }
                    }
                }
            }
        }
        rules
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kubectl(&all);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Plays kubelet: pending pods succeed, fail, or are held.
    fn kubelet(&self) {
        let (stop, hold) = (self.stop_kubelet.clone(), self.hold.clone());
        let kubeconfig = self.kubeconfig.clone();
        let kubectl = super::scripts::dir("kube-binaries").join("kubectl");
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let out = Command::new(&kubectl)
                    .env("KUBECONFIG", &kubeconfig)
                    .args([
                        "get",
                        "pods",
                        "-A",
                        "--field-selector=status.phase=Pending",
                        "-o",
                        "json",
                    ])
                    .output();
                let pods: Value = out
                    .ok()
                    .and_then(|o| serde_json::from_slice(&o.stdout).ok())
                    .unwrap_or(Value::Null);
                for pod in pods["items"].as_array().into_iter().flatten() {
                    let command = pod["spec"]["containers"].to_string();
                    if command.contains("hold") && hold.load(Ordering::SeqCst) {
                        continue;
                    }
                    let (phase, code) = if command.contains("fail") {
                        ("Failed", 1)
                    } else {
                        ("Succeeded", 0)
                    };
                    let status = serde_json::json!({"status": {"phase": phase,
                        "containerStatuses": [{"name": pod["spec"]["containers"][0]["name"],
                            "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                            "state": {"terminated": {"exitCode": code,
                                "reason": if code == 0 { "Completed" } else { "Error" }}}}]}});
                    let _ = Command::new(&kubectl)
                        .env("KUBECONFIG", &kubeconfig)
                        .args([
                            "-n",
                            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
                            "patch",
                            "pod",
                            pod["metadata"]["name"].as_str().unwrap_or_default(),
                            "--subresource=status",
                            "--type=merge",
                            "-p",
                            &status.to_string(),
                        ])
                        .output();
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
    }

    pub fn control(&self, what: &str) {
        let out = Command::new(script("kube-cluster"))
            .arg(what)
            .arg(self.dir.path().join("cluster"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{what}: {out:?}");
    }

    /// jobcd's kube target on this cluster, managing `namespace`.
    pub async fn target(&self, namespace: &str) -> jobcd::target::kube::KubeTarget {
        use jobcd::target::kube::{Connection, KubeTarget, Settings};
        KubeTarget::connect(Settings {
            connection: Connection {
                kubeconfig: Some(self.kubeconfig.clone()),
                context: None,
            },
            namespaces: vec![namespace.into()],
            ..Settings::default()
        })
        .await
        .unwrap()
    }

    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_kubelet.store(true, Ordering::SeqCst);
        let _ = Command::new(script("kube-cluster"))
            .arg("stop")
            .arg(self.dir.path().join("cluster"))
            .output();
    }
}
