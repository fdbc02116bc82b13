//! The real tools the chart tests run: helm (scripts/helm-binary) and
//! kubeconform with the Kubernetes JSON schemas laid out offline
//! (scripts/kubeconform-binary), both built by scripts/test-deps into
//! ~/.cache/jobcd-test. The chart is rendered as release `jobcd` in
//! namespace `jobcd-system` for Kubernetes 1.33.13, the version of the test
//! control plane.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The release name every test renders or installs.
pub const RELEASE: &str = "jobcd";
/// The release namespace.
pub const NAMESPACE: &str = "jobcd-system";
/// The Kubernetes version `helm template` renders for (the test cluster's).
pub const KUBE_VERSION: &str = "1.33.13";

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/jobcd")
}

/// A values file shipped with the chart (`ci/NAME`).
pub fn ci_values(name: &str) -> PathBuf {
    chart_dir().join("ci").join(name)
}

/// Where the tools are.
pub struct Tools {
    pub helm: PathBuf,
    pub kubeconform: PathBuf,
    /// kubeconform's -schema-location for the offline schemas.
    pub schema_location: String,
}

/// The tools, installed (or found in the cache) once per test process.
pub fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let helm = crate::support::scripts::lines("helm-binary");
        let kubeconform = crate::support::scripts::lines("kubeconform-binary");
        let [.., location, bin] = kubeconform.as_slice() else {
            panic!("scripts/kubeconform-binary printed {kubeconform:?}");
        };
        Tools {
            helm: Path::new(helm.last().expect("a bin dir")).join("helm"),
            kubeconform: Path::new(bin).join("kubeconform"),
            schema_location: location.clone(),
        }
    })
}

/// `helm ARGS`, with helm's own cache, configuration and data kept out of
/// the user's home.
pub fn helm(args: &[&str]) -> Command {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helm-home");
    let mut command = Command::new(&tools().helm);
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .args(args);
    command
}

/// `helm install` (or `upgrade`, as `verb` says) of the chart as RELEASE
/// into NAMESPACE of the cluster `kubeconfig` names, with `values` and
/// `set`; it must succeed.
pub fn install(verb: &str, kubeconfig: &Path, values: &Path, set: &[&str]) {
    let mut command = helm(&[verb, RELEASE]);
    command
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE, "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--values")
        .arg(values);
    for s in set {
        command.args(["--set", s]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "helm {verb}: {}", text(&out));
}

/// Its stdout and stderr together.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `helm template` of the chart with `values` files and `--set` pairs.
pub fn template(values: &[&Path], set: &[&str]) -> Output {
    let chart = chart_dir();
    let mut command = helm(&["template", RELEASE]);
    command
        .arg(&chart)
        .args(["--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]);
    for file in values {
        command.arg("--values").arg(file);
    }
    for pair in set {
        command.args(["--set", pair]);
    }
    command.output().unwrap()
}

/// The chart rendered: its text and its objects.
pub struct Rendered {
    pub text: String,
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Renders the chart; it must render.
    pub fn of(values: &[&Path], set: &[&str]) -> Rendered {
        let out = template(values, set);
        assert!(
            out.status.success(),
            "helm template {values:?} {set:?}: {}",
            text(&out)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let objects = super::chart_yaml::documents(&text);
        Rendered { text, objects }
    }

    /// Every object of `kind`.
    pub fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of `kind` named `name`.
    pub fn one(&self, kind: &str, name: &str) -> &Value {
        let found: Vec<_> = self
            .all(kind)
            .into_iter()
            .filter(|o| o["metadata"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{kind} {name}: {found:?}");
        found[0]
    }

    /// jobcd.yaml, as the chart's ConfigMap holds it.
    pub fn config_text(&self) -> String {
        self.one("ConfigMap", RELEASE)["data"]["jobcd.yaml"]
            .as_str()
            .expect("the ConfigMap holds jobcd.yaml")
            .to_string()
    }

    /// jobcd.yaml as a value.
    pub fn config(&self) -> Value {
        let mut docs = super::chart_yaml::documents(&self.config_text());
        assert_eq!(docs.len(), 1, "jobcd.yaml is one document");
        docs.remove(0)
    }
}

/// `kubeconform -strict -summary` of `manifests` against the offline
/// schemas of the test cluster's Kubernetes version, and for the
/// Prometheus Operator's kinds (ServiceMonitor, PrometheusRule) the schemas
/// vendored in tests/schemas (scripts/vendor-crd-schemas).
pub fn kubeconform(manifests: &str) -> Output {
    let tools = tools();
    let vendored = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json");
    let mut child = Command::new(&tools.kubeconform)
        .args(["-strict", "-summary", "-schema-location"])
        .arg(&tools.schema_location)
        .arg("-schema-location")
        .arg(vendored)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifests.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
