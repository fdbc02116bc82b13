//! Generated Jobs, CronJobs and ConfigMaps for the validation oracle
//! (tests/validate_oracle.rs): pod templates shaped like real ones (the
//! Kubernetes docs' examples, popular charts' migration and backup Jobs),
//! each with one field changed at random — to a value that may or may not
//! be valid — in one rule family of the API server's pod validation. The
//! API server decides which are valid; the generator only makes sure every
//! family is tried with both kinds of value.

use serde_json::{Value, json};

use super::rng::Rng;

/// One generated document.
#[derive(Debug, Clone)]
pub struct Case {
    /// The rule family its change belongs to.
    pub family: &'static str,
    /// What was changed, for messages.
    pub change: String,
    /// The Job or CronJob.
    pub doc: Value,
}

/// `n` cases from `seed`.
pub fn cases(seed: u64, n: usize) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| case(&mut rng, i)).collect()
}

fn case(rng: &mut Rng, i: usize) -> Case {
    let mut pod = if rng.percent(30) { minimal() } else { rich() };
    let (family, mutate) = *rng.pick(FAMILIES);
    let change = mutate(rng, &mut pod);
    let name = format!("case-{i}");
    if family == "configMap" {
        let (change, doc) = config_map(rng, &name);
        return Case {
            family,
            change,
            doc,
        };
    }
    let doc = if rng.percent(80) {
        let mut spec = json!({"backoffLimit": 2, "template": {"spec": pod}});
        if family == "podFailurePolicy" {
            policy(rng, &mut spec);
        }
        if family == "selector" {
            selector(rng, &mut spec, &name);
        }
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})
    } else {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}})
    };
    Case {
        family,
        change,
        doc,
    }
}

/// The smallest valid pod template: the docs' `pi` Job.
fn minimal() -> Value {
    json!({
        "restartPolicy": "Never",
        "containers": [{"name": "pi", "image": "perl:5.34.0",
            "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
    })
}

/// A migration Job as charts write them: volumes of several sources, an
/// init container, env from Secrets and fields, resources, probes,
/// security contexts, scheduling constraints.
fn rich() -> Value {
    json!({
        "restartPolicy": "OnFailure",
        "serviceAccountName": "migrator",
        "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"}},
        "imagePullSecrets": [{"name": "regcred"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "node-role", "operator": "In", "values": ["batch"]}]}]}}},
        "volumes": [
            {"name": "config", "configMap": {"name": "app-config", "defaultMode": 420,
                "items": [{"key": "app.conf", "path": "app.conf", "mode": 256}]}},
            {"name": "db-creds", "secret": {"secretName": "db-creds", "defaultMode": 256}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        ],
        "initContainers": [{"name": "wait-for-db", "image": "busybox:1.36",
            "command": ["sh", "-c", "until nc -z db 5432; do sleep 1; done"],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
        "containers": [{
            "name": "migrate",
            "image": "registry.example.com/app:1.2.3",
            "imagePullPolicy": "IfNotPresent",
            "command": ["/app/migrate"],
            "args": ["--to", "latest"],
            "env": [
                {"name": "DB_HOST", "value": "db"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "MEMORY_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "app-env"}}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "ports": [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/app"},
                {"name": "db-creds", "mountPath": "/etc/secret", "readOnly": true},
                {"name": "scratch", "mountPath": "/tmp"},
                {"name": "data", "mountPath": "/data", "subPath": "migrations"},
            ],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 10, "failureThreshold": 3},
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": {"drop": ["ALL"]}},
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}},
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }],
    })
}

type Mutation = fn(&mut Rng, &mut Value) -> String;

/// Every rule family with its mutation.
const FAMILIES: &[(&str, Mutation)] = &[
    ("volumes", volumes),
    ("mounts", mounts),
    ("resources", resources),
    ("ports", ports),
    ("probes", probes),
    ("securityContext", security),
    ("tolerations", tolerations),
    ("names", names),
    ("env", env),
    ("affinity", affinity),
    ("dns", dns),
    ("containers", containers),
    ("podFailurePolicy", |_, _| "a podFailurePolicy rule".into()),
    ("selector", |_, _| "a selector or template labels".into()),
    ("gates", gates),
    ("extras", extras),
    ("configMap", |_, _| "a ConfigMap".into()),
];

/// A ConfigMap like the ones Jobs read (a settings map, a properties
/// file), with one thing changed: its name, a key of any shape, a key in
/// both `data` and `binaryData`, a value that is not a string, or values
/// around the 1 MiB limit.
fn config_map(rng: &mut Rng, case: &str) -> (String, Value) {
    let mut doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": case},
        "data": {"MODE": "prod", "app.properties": "level=3\nurl=http://db:5432\n"}});
    let change = match rng.below(5) {
        0 => {
            // Each valid name once in a tree (two would be duplicates):
            // the case's own name, in a shape of `name`'s pool.
            let name = name(rng);
            let unique = match name.as_str() {
                "" => String::new(),
                long if long.len() > 60 => format!("{case}{}", &long[case.len()..]),
                shape => format!("{}{case}{}", &shape[..1], &shape[1..]),
            };
            doc["metadata"]["name"] = json!(unique);
            format!("metadata.name = {unique:?}")
        }
        1 => {
            let key = if rng.percent(10) {
                "k".repeat(rng.range(250, 256) as usize)
            } else {
                (*rng.pick(&[
                    "LOG_LEVEL",
                    "a-b_c.d",
                    ".env",
                    "..",
                    ".",
                    "a/b",
                    "with space",
                    "é",
                    "a:b",
                    "..hidden",
                    "-dash",
                    "x=y",
                ]))
                .to_owned()
            };
            let bag = if rng.percent(30) {
                "binaryData"
            } else {
                "data"
            };
            let value = if bag == "data" {
                json!("v")
            } else {
                json!("eA==")
            };
            doc[bag][&key] = value;
            format!("{bag}[{key:?}]")
        }
        2 => {
            let key = *rng.pick(&["MODE", "other"]);
            doc["binaryData"] = json!({key: "eA=="});
            format!("binaryData[{key:?}] beside data")
        }
        3 => {
            let value = rng
                .pick(&[json!(true), json!(3), json!(null), json!("3"), json!("")])
                .clone();
            doc["data"]["FLAG"] = value.clone();
            format!("data.FLAG = {value}")
        }
        _ => {
            // Around 1 MiB in all, split over data and binaryData.
            let total = 1_048_576 + rng.range(-2, 3);
            let binary = rng.range(0, 9);
            let text = total - binary - 3;
            doc["data"] = json!({"big": "x".repeat(text as usize), "MODE": "pro"});
            let bytes: Vec<u8> = vec![b'y'; binary as usize];
            doc["binaryData"] = json!({"blob": k8s_openapi::ByteString(bytes)});
            format!("{total} bytes of values")
        }
    };
    (change, doc)
}

/// The first container (there is always one).
fn main(pod: &mut Value) -> &mut Value {
    &mut pod["containers"][0]
}

/// Names of every shape: valid DNS labels, subdomains, upper case, too
/// long, with `_`, `.`, placeholders, empty.
fn name(rng: &mut Rng) -> String {
    let pool = [
        "data",
        "app-config",
        "a",
        "a1",
        "1a",
        "my.config",
        "My-Config",
        "config_v2",
        "-config",
        "config-",
        "${VOLUME}",
        "",
        "x--y",
    ];
    if rng.percent(10) {
        return "v".repeat(rng.range(60, 66) as usize);
    }
    if rng.percent(5) {
        return format!("a.{}", "b".repeat(rng.range(250, 254) as usize));
    }
    (*rng.pick(&pool)).to_owned()
}

/// File modes: valid ones (0–0777) and a few outside.
fn mode(rng: &mut Rng) -> Value {
    json!(*rng.pick(&[0, 256, 292, 384, 420, 493, 511, 512, 1023, -1, 4096]))
}

/// Quantities in every notation the parser knows and some it refuses.
fn quantity(rng: &mut Rng) -> Value {
    let pool = [
        "1",
        "0",
        "250m",
        "0.5",
        "1.5",
        "2Gi",
        "512Mi",
        "1G",
        "100M",
        "1e3",
        "1E3",
        "1.5Gi",
        "1Ki",
        "1k",
        "128974848",
        "129e6",
        "123Mi",
        "0.1m",
        "1n",
        "1u",
        "100Ei",
        "+1",
        "-1",
        "256MB",
        "1GiB",
        "1.2.3",
        "",
        "1 Gi",
        "e3",
        "1e",
        "0x10",
        "1gi",
        "12.5%",
        ".5",
        "5.",
        "1m0",
        "9223372036854775807",
        "99999999999999999999",
    ];
    if rng.percent(10) {
        return json!(rng.range(-2, 4));
    }
    json!(*rng.pick(&pool))
}

fn volumes(rng: &mut Rng, pod: &mut Value) -> String {
    if pod["volumes"].is_null() {
        pod["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
        main(pod)["volumeMounts"] = json!([{"name": "scratch", "mountPath": "/tmp"}]);
    }
    let vols = pod["volumes"].as_array_mut().unwrap();
    let i = rng.below(vols.len() as u64) as usize;
    match rng.below(11) {
        0 => {
            let n = name(rng);
            vols[i]["name"] = json!(n);
            format!("volumes[{i}].name = {n:?}")
        }
        1 => {
            let dup = vols[0].clone();
            vols.push(dup);
            "a volume named twice".into()
        }
        2 => {
            let m = mode(rng);
            let source = *rng.pick(&["configMap", "secret", "downwardAPI", "projected"]);
            let mut volume = json!({"name": "moded"});
            volume[source] = match source {
                "configMap" => json!({"name": "c"}),
                "secret" => json!({"secretName": "s"}),
                _ => json!({}),
            };
            volume[source]["defaultMode"] = m.clone();
            vols.push(volume);
            format!("{source}.defaultMode = {m}")
        }
        3 => {
            let m = mode(rng);
            vols.push(json!({"name": "listed", "configMap": {"name": "c",
                "items": [{"key": "k", "path": "k.conf", "mode": m.clone()}]}}));
            format!("configMap.items[0].mode = {m}")
        }
        4 => {
            let q = quantity(rng);
            vols.push(json!({"name": "cache", "emptyDir": {"sizeLimit": q.clone()}}));
            format!("emptyDir.sizeLimit = {q}")
        }
        5 => {
            vols.push(json!({"name": "two", "emptyDir": {}, "secret": {"secretName": "s"}}));
            "a volume with two sources".into()
        }
        6 => {
            vols.push(json!({"name": "none"}));
            "a volume with no source".into()
        }
        7 => {
            let n = name(rng);
            vols.push(json!({"name": "cm", "configMap": {"name": n.clone()}}));
            format!("configMap.name = {n:?}")
        }
        8 => {
            let path = rng
                .pick(&["/var/log", "var/log", "", "/a/../b", "/data"])
                .to_string();
            vols.push(json!({"name": "host", "hostPath": {"path": path.clone(),
                "type": rng.pick(&["Directory", "DirectoryOrCreate", "", "Dir", "File"]).to_string()}}));
            format!("hostPath.path = {path:?}")
        }
        9 => {
            let path = rng
                .pick(&[
                    "app.conf",
                    "/app.conf",
                    "../app.conf",
                    "a/../b",
                    "",
                    "conf/..data",
                ])
                .to_string();
            vols.push(json!({"name": "proj", "projected": {"sources": [
                {"configMap": {"name": "c", "items": [{"key": "k", "path": path.clone()}]}},
                {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            ]}}));
            format!("projected item path {path:?}")
        }
        _ => {
            let claim = name(rng);
            vols.push(
                json!({"name": "pvc", "persistentVolumeClaim": {"claimName": claim.clone()}}),
            );
            format!("persistentVolumeClaim.claimName = {claim:?}")
        }
    }
}

fn mounts(rng: &mut Rng, pod: &mut Value) -> String {
    let c = main(pod);
    if c["volumeMounts"].is_null() {
        c["volumeMounts"] = json!([]);
    }
    let mounts = c["volumeMounts"].as_array_mut().unwrap();
    match rng.below(6) {
        0 => {
            mounts.push(json!({"name": "missing", "mountPath": "/missing"}));
            "a mount of a volume that does not exist".into()
        }
        1 if !mounts.is_empty() => {
            let path = rng
                .pick(&["/etc/app", "etc/app", "", "/etc/app/"])
                .to_string();
            mounts[0]["mountPath"] = json!(path.clone());
            format!("mountPath = {path:?}")
        }
        2 if !mounts.is_empty() => {
            let sub = rng
                .pick(&["migrations", "/migrations", "../x", "a/../b", "a/..b"])
                .to_string();
            mounts[0]["subPath"] = json!(sub.clone());
            format!("subPath = {sub:?}")
        }
        3 if mounts.len() > 1 => {
            let path = mounts[0]["mountPath"].clone();
            mounts[1]["mountPath"] = path;
            "two mounts at one path".into()
        }
        4 if !mounts.is_empty() => {
            let prop = rng
                .pick(&["None", "HostToContainer", "Bidirectional", "Private"])
                .to_string();
            mounts[0]["mountPropagation"] = json!(prop.clone());
            format!("mountPropagation = {prop:?}")
        }
        _ => {
            let path = rng.pick(&["/work", "/work:ro", "C:\\work"]).to_string();
            mounts.push(json!({"name": "scratch", "mountPath": path.clone()}));
            if pod["volumes"].is_null() {
                pod["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
            }
            format!("a second mount at {path:?}")
        }
    }
}

fn resources(rng: &mut Rng, pod: &mut Value) -> String {
    let c = main(pod);
    let (kind, resource) = (
        *rng.pick(&["requests", "limits"]),
        *rng.pick(&[
            "cpu",
            "memory",
            "ephemeral-storage",
            "nvidia.com/gpu",
            "gpu",
            "hugepages-2Mi",
            "storage",
            "example.com/foo_bar",
        ]),
    );
    if rng.percent(25) {
        // Requests above limits, in different notations.
        let (req, lim) = *rng.pick(&[
            ("2", "1"),
            ("1000m", "1"),
            ("1Gi", "1G"),
            ("1G", "1Gi"),
            ("0.5", "500m"),
            ("600Mi", "512Mi"),
        ]);
        c["resources"] = json!({"requests": {"cpu": req, "memory": "64Mi"}, "limits": {"cpu": lim, "memory": "64Mi"}});
        return format!("requests.cpu {req} vs limits.cpu {lim}");
    }
    let q = quantity(rng);
    if c["resources"].is_null() {
        c["resources"] = json!({});
    }
    c["resources"][kind] = json!({resource: q.clone()});
    format!("resources.{kind}.{resource} = {q}")
}

/// IANA service names and other port names.
fn port_name(rng: &mut Rng) -> String {
    (*rng.pick(&[
        "http",
        "metrics",
        "http-alt",
        "h2c",
        "8080",
        "web1",
        "Http",
        "http_alt",
        "-http",
        "http-",
        "a--b",
        "abcdefghijklmnop",
        "abcdefghijklmno",
        "",
        "grpc-web",
    ]))
    .to_owned()
}

fn ports(rng: &mut Rng, pod: &mut Value) -> String {
    let c = main(pod);
    let port = json!(*rng.pick(&[80, 1, 65535, 0, -1, 65536, 8080]));
    match rng.below(5) {
        0 => {
            c["ports"] = json!([{"containerPort": port.clone()}]);
            format!("containerPort = {port}")
        }
        1 => {
            let n = port_name(rng);
            c["ports"] = json!([{"name": n.clone(), "containerPort": 8080}]);
            format!("port name {n:?}")
        }
        2 => {
            let p = rng
                .pick(&["TCP", "UDP", "SCTP", "tcp", "HTTP", ""])
                .to_string();
            c["ports"] = json!([{"containerPort": 8080, "protocol": p.clone()}]);
            format!("protocol {p:?}")
        }
        3 => {
            c["ports"] = json!([{"name": "web", "containerPort": 8080}, {"name": "web", "containerPort": 8081}]);
            "a port name used twice".into()
        }
        _ => {
            c["ports"] = json!([{"containerPort": 8080, "hostPort": port.clone()}]);
            if rng.percent(50) {
                pod["hostNetwork"] = json!(true);
            }
            format!("hostPort = {port}")
        }
    }
}

fn probes(rng: &mut Rng, pod: &mut Value) -> String {
    let which = *rng.pick(&["livenessProbe", "readinessProbe", "startupProbe"]);
    let handler = match rng.below(6) {
        0 => {
            json!({"httpGet": {"path": "/", "port": *rng.pick(&[json!(8080), json!(0), json!(70000), json!("metrics"), json!("Metrics"), json!("8080"), json!("")])}})
        }
        1 => json!({"tcpSocket": {"port": *rng.pick(&[json!(5432), json!(-1), json!("db")])}}),
        2 => json!({"exec": {"command": ["true"]}}),
        3 => json!({"grpc": {"port": *rng.pick(&[9090, 0, 65536])}}),
        4 => json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": 1}}),
        _ => json!({}),
    };
    let mut probe = handler;
    for field in [
        "periodSeconds",
        "timeoutSeconds",
        "failureThreshold",
        "successThreshold",
        "initialDelaySeconds",
    ] {
        if rng.percent(20) {
            probe[field] = json!(rng.range(-1, 3));
        }
    }
    if rng.percent(10) {
        probe["terminationGracePeriodSeconds"] = json!(rng.range(-1, 2));
    }
    let text = format!("{which}: {probe}");
    if rng.percent(20) && pod["initContainers"].is_array() {
        pod["initContainers"][0][which] = probe;
        return format!("initContainers[0].{text}");
    }
    main(pod)[which] = probe;
    text
}

fn security(rng: &mut Rng, pod: &mut Value) -> String {
    let id = json!(*rng.pick(&[0i64, 1000, -1, 2147483647, 2147483648, 4294967296]));
    match rng.below(8) {
        0 => {
            pod["securityContext"]["runAsUser"] = id.clone();
            format!("pod runAsUser = {id}")
        }
        1 => {
            main(pod)["securityContext"]["runAsGroup"] = id.clone();
            format!("container runAsGroup = {id}")
        }
        2 => {
            pod["securityContext"]["fsGroup"] = id.clone();
            format!("fsGroup = {id}")
        }
        3 => {
            pod["securityContext"]["supplementalGroups"] = json!([id.clone()]);
            format!("supplementalGroups = [{id}]")
        }
        4 => {
            let t = rng
                .pick(&[
                    "RuntimeDefault",
                    "Unconfined",
                    "Localhost",
                    "runtime/default",
                    "",
                ])
                .to_string();
            main(pod)["securityContext"]["seccompProfile"] = json!({"type": t.clone()});
            format!("seccompProfile.type = {t:?}")
        }
        5 => {
            main(pod)["securityContext"]["privileged"] = json!(true);
            main(pod)["securityContext"]["allowPrivilegeEscalation"] = json!(rng.percent(50));
            "privileged with allowPrivilegeEscalation".into()
        }
        6 => {
            let name = rng
                .pick(&[
                    "net.ipv4.ip_local_port_range",
                    "kernel.shm_rmid_forced",
                    "net/ipv4/tcp_syncookies",
                    "Net.IPv4",
                    "a..b",
                    "",
                ])
                .to_string();
            pod["securityContext"]["sysctls"] = json!([{"name": name.clone(), "value": "1"}]);
            format!("sysctl {name:?}")
        }
        _ => {
            let p = rng.pick(&["Default", "Unmasked", "default"]).to_string();
            main(pod)["securityContext"]["procMount"] = json!(p.clone());
            format!("procMount = {p:?}")
        }
    }
}

fn tolerations(rng: &mut Rng, pod: &mut Value) -> String {
    let mut t = json!({"key": *rng.pick(&["dedicated", "node.kubernetes.io/unreachable", "", "Bad Key", "example.com/x"])});
    if rng.percent(80) {
        t["operator"] = json!(*rng.pick(&["Equal", "Exists", "exists", "In"]));
    }
    if rng.percent(60) {
        t["value"] = json!(*rng.pick(&["batch", "", "bad value!"]));
    }
    if rng.percent(80) {
        t["effect"] = json!(*rng.pick(&[
            "NoSchedule",
            "PreferNoSchedule",
            "NoExecute",
            "",
            "noschedule"
        ]));
    }
    if rng.percent(30) {
        t["tolerationSeconds"] = json!(rng.range(-5, 300));
    }
    pod["tolerations"] = json!([t.clone()]);
    format!("toleration {t}")
}

fn names(rng: &mut Rng, pod: &mut Value) -> String {
    let n = name(rng);
    let field = *rng.pick(&[
        "serviceAccountName",
        "hostname",
        "subdomain",
        "schedulerName",
        "imagePullSecrets",
        "nodeName",
        "runtimeClassName",
    ]);
    if field == "imagePullSecrets" {
        pod[field] = json!([{"name": n.clone()}]);
    } else {
        pod[field] = json!(n.clone());
    }
    format!("{field} = {n:?}")
}

fn env(rng: &mut Rng, pod: &mut Value) -> String {
    let c = main(pod);
    let name = rng
        .pick(&[
            "DB_HOST",
            "db.host",
            "1DB",
            "DB-HOST",
            "DB HOST",
            "DB=HOST",
            "",
            "Ünïcode",
        ])
        .to_string();
    match rng.below(6) {
        0 => {
            c["env"] = json!([{"name": name.clone(), "value": "x"}]);
            format!("env name {name:?}")
        }
        1 => {
            c["env"] = json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]);
            "an env var defined twice".into()
        }
        2 => {
            let key = rng
                .pick(&["password", "pass word", "", "a/b", ".env", "..", "a_b-c.d"])
                .to_string();
            c["env"] = json!([{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": key.clone()}}}]);
            format!("secretKeyRef.key = {key:?}")
        }
        3 => {
            let path = rng
                .pick(&[
                    "metadata.name",
                    "metadata.namespace",
                    "spec.nodeName",
                    "status.podIP",
                    "metadata.labels['app']",
                    "metadata.labels",
                    "spec.containers",
                    "status.hostIPs",
                ])
                .to_string();
            c["env"] =
                json!([{"name": "F", "valueFrom": {"fieldRef": {"fieldPath": path.clone()}}}]);
            format!("fieldRef.fieldPath = {path:?}")
        }
        4 => {
            c["env"] = json!([{"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}, "configMapKeyRef": {"name": "c", "key": "k"}}}]);
            "valueFrom with two sources".into()
        }
        _ => {
            let prefix = rng.pick(&["APP_", "1_", "app.", "", "A B"]).to_string();
            c["envFrom"] = json!([{"prefix": prefix.clone(), "secretRef": {"name": name.to_ascii_lowercase().replace('_', "-")}}]);
            format!("envFrom prefix {prefix:?}, secretRef {name:?}")
        }
    }
}

fn affinity(rng: &mut Rng, pod: &mut Value) -> String {
    match rng.below(4) {
        0 => {
            let op = rng
                .pick(&[
                    "In",
                    "NotIn",
                    "Exists",
                    "DoesNotExist",
                    "Gt",
                    "Lt",
                    "in",
                    "Equals",
                ])
                .to_string();
            let values = match rng.below(3) {
                0 => json!([]),
                1 => json!(["batch"]),
                _ => json!(["1", "2"]),
            };
            pod["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "node-role", "operator": op.clone(), "values": values.clone()}]}]}}});
            format!("node affinity {op} {values}")
        }
        1 => {
            let skew = rng.range(-1, 2);
            let when = rng
                .pick(&["DoNotSchedule", "ScheduleAnyway", "Maybe"])
                .to_string();
            let key = rng
                .pick(&["kubernetes.io/hostname", "", "topology.kubernetes.io/zone"])
                .to_string();
            pod["topologySpreadConstraints"] = json!([{"maxSkew": skew, "topologyKey": key.clone(), "whenUnsatisfiable": when.clone(),
                "labelSelector": {"matchLabels": {"app": "x"}}}]);
            format!("topology spread maxSkew {skew} {when} {key:?}")
        }
        2 => {
            let key = rng
                .pick(&["kubernetes.io/os", "Bad Key", "example.com/", "a/b/c"])
                .to_string();
            let value = rng.pick(&["linux", "", "bad value", "-x"]).to_string();
            pod["nodeSelector"] = json!({key.clone(): value.clone()});
            format!("nodeSelector {key:?}: {value:?}")
        }
        _ => {
            let weight = rng.range(-1, 101);
            pod["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": weight, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app": "x"}}}}]}});
            format!("pod anti-affinity weight {weight}")
        }
    }
}

fn dns(rng: &mut Rng, pod: &mut Value) -> String {
    let policy = rng
        .pick(&[
            "ClusterFirst",
            "ClusterFirstWithHostNet",
            "Default",
            "None",
            "none",
        ])
        .to_string();
    pod["dnsPolicy"] = json!(policy.clone());
    if rng.percent(60) {
        let servers = match rng.below(4) {
            0 => json!(["1.1.1.1"]),
            1 => json!(["1.1.1.1", "8.8.8.8", "9.9.9.9", "8.8.4.4"]),
            2 => json!(["not-an-ip"]),
            _ => json!([]),
        };
        let options = if rng.percent(30) {
            json!([{"name": "ndots", "value": "2"}, {"name": ""}])
        } else {
            json!([])
        };
        pod["dnsConfig"] = json!({"nameservers": servers.clone(), "searches": ["svc.cluster.local"], "options": options});
        return format!("dnsPolicy {policy:?}, nameservers {servers}");
    }
    format!("dnsPolicy {policy:?}")
}

fn containers(rng: &mut Rng, pod: &mut Value) -> String {
    match rng.below(6) {
        0 => {
            let n = name(rng);
            main(pod)["name"] = json!(n.clone());
            format!("container name {n:?}")
        }
        1 => {
            let image = rng
                .pick(&[
                    "busybox",
                    " busybox",
                    "busybox ",
                    "",
                    "registry:5000/a/b:c@sha256:abc",
                ])
                .to_string();
            main(pod)["image"] = json!(image.clone());
            format!("image {image:?}")
        }
        2 => {
            let p = rng
                .pick(&["File", "FallbackToLogsOnError", "file", ""])
                .to_string();
            main(pod)["terminationMessagePolicy"] = json!(p.clone());
            format!("terminationMessagePolicy {p:?}")
        }
        3 => {
            let policy = rng.pick(&["Always", "Never", "OnFailure"]).to_string();
            if rng.percent(50) && pod["initContainers"].is_array() {
                pod["initContainers"][0]["restartPolicy"] = json!(policy.clone());
                return format!("init container restartPolicy {policy:?}");
            }
            main(pod)["restartPolicy"] = json!(policy.clone());
            format!("container restartPolicy {policy:?}")
        }
        4 => {
            let mut extra = main(pod).clone();
            extra["name"] = json!(if rng.percent(50) {
                "migrate"
            } else {
                "sidecar"
            });
            extra["ports"] = json!([{"name": "metrics", "containerPort": 9090}]);
            pod["containers"].as_array_mut().unwrap().push(extra);
            "a second container (same name or same port)".into()
        }
        _ => {
            let dir = rng.pick(&["/app", "app", ""]).to_string();
            main(pod)["workingDir"] = json!(dir.clone());
            format!("workingDir {dir:?}")
        }
    }
}

/// A `podFailurePolicy` on the Job spec naming a container that may not
/// exist.
fn policy(rng: &mut Rng, spec: &mut Value) {
    let container = *rng.pick(&["migrate", "pi", "wait-for-db", "sidecar", ""]);
    spec["template"]["spec"]["restartPolicy"] = json!("Never");
    let mut codes = json!({"operator": "In", "values": [42]});
    if !container.is_empty() {
        codes["containerName"] = json!(container);
    }
    spec["podFailurePolicy"] = json!({"rules": [{"action": "FailJob", "onExitCodes": codes}]});
}

/// A Job's own selector and its template's labels, with and without
/// manualSelector.
fn selector(rng: &mut Rng, spec: &mut Value, name: &str) {
    let manual = rng.percent(30);
    if manual {
        spec["manualSelector"] = json!(true);
    }
    let (selector, labels) = match rng.below(8) {
        0 => (json!({"matchLabels": {"job-name": name}}), json!(null)),
        1 => (
            json!({"matchLabels": {"batch.kubernetes.io/job-name": name}}),
            json!(null),
        ),
        2 => (json!({"matchLabels": {"app": "x"}}), json!({"app": "x"})),
        3 => (json!({"matchLabels": {"app": "x"}}), json!({"app": "y"})),
        4 => (
            json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}),
            json!(null),
        ),
        5 => (
            json!({"matchExpressions": [{"key": "job-name", "operator": "In", "values": [name, "other"]}]}),
            json!({"app": "x"}),
        ),
        6 => (json!(null), json!({"job-name": "someone-else"})),
        _ => (json!(null), json!({"controller-uid": "1234"})),
    };
    if !selector.is_null() {
        spec["selector"] = selector;
    }
    if !labels.is_null() {
        spec["template"]["metadata"] = json!({"labels": labels});
    }
}

/// Scheduling and readiness gates, host aliases, the OS, and ephemeral
/// containers.
fn gates(rng: &mut Rng, pod: &mut Value) -> String {
    match rng.below(5) {
        0 => {
            let name = rng
                .pick(&[
                    "example.com/wait-for-quota",
                    "gate",
                    "Bad Gate",
                    "example.com/",
                ])
                .to_string();
            let twice = rng.percent(30);
            pod["schedulingGates"] = if twice {
                json!([{"name": name.clone()}, {"name": name.clone()}])
            } else {
                json!([{"name": name.clone()}])
            };
            format!("scheduling gate {name:?} (twice: {twice})")
        }
        1 => {
            let kind = rng
                .pick(&["example.com/ready", "Ready", "bad type!"])
                .to_string();
            pod["readinessGates"] = json!([{"conditionType": kind.clone()}]);
            format!("readiness gate {kind:?}")
        }
        2 => {
            let ip = rng
                .pick(&["10.0.0.1", "::1", "not-an-ip", "10.0.0.256"])
                .to_string();
            let host = rng.pick(&["db.internal", "DB", "db_1"]).to_string();
            pod["hostAliases"] = json!([{"ip": ip.clone(), "hostnames": [host.clone()]}]);
            format!("host alias {ip} {host}")
        }
        3 => {
            let os = rng.pick(&["linux", "Linux", "darwin", ""]).to_string();
            pod["os"] = json!({"name": os.clone()});
            format!("os {os:?}")
        }
        _ => {
            if rng.percent(50) {
                pod["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
                "an ephemeral container".into()
            } else {
                "no ephemeral container".into()
            }
        }
    }
}

/// Pod overhead, AppArmor profiles and in-place resize policies.
fn extras(rng: &mut Rng, pod: &mut Value) -> String {
    match rng.below(3) {
        0 => {
            let name = *rng.pick(&["cpu", "memory", "gpu", "example.com/x"]);
            let q = quantity(rng);
            pod["overhead"] = json!({name: q.clone()});
            format!("overhead {name} = {q}")
        }
        1 => {
            let t = rng
                .pick(&["RuntimeDefault", "Unconfined", "Localhost", "localhost", ""])
                .to_string();
            let mut profile = json!({"type": t.clone()});
            if rng.percent(50) {
                profile["localhostProfile"] =
                    json!(*rng.pick(&["k8s-apparmor-example", " padded", ""]));
            }
            let text = format!("appArmorProfile {profile}");
            if rng.percent(50) {
                pod["securityContext"]["appArmorProfile"] = profile;
            } else {
                main(pod)["securityContext"]["appArmorProfile"] = profile;
            }
            text
        }
        _ => {
            let resource = rng.pick(&["cpu", "memory", "storage", ""]).to_string();
            let policy = rng
                .pick(&["NotRequired", "RestartContainer", "Always"])
                .to_string();
            main(pod)["resizePolicy"] =
                json!([{"resourceName": resource.clone(), "restartPolicy": policy.clone()}]);
            format!("resizePolicy {resource:?} {policy:?}")
        }
    }
}
