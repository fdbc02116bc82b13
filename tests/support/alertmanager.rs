//! A real Alertmanager (Debian's prometheus-alertmanager, installed by
//! scripts/test-deps) on loopback, routing every alert at once to a
//! webhook with its resolution (`send_resolved`), so that a test sees both
//! as Alertmanager itself tells them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Alertmanager {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Alertmanager {
    /// Starts it in `dir`, notifying `webhook` of each group of alerts
    /// within a second of a change.
    pub fn start(dir: &Path, webhook: &str) -> Alertmanager {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: capture\n  group_by: [alertname, namespace, name]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: capture\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No gossip: one instance, no cluster port.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus-alertmanager: {e}; run scripts/test-deps"));
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while super::http::try_get(&format!("{}/-/ready", am.url)) != Some(200) {
            assert!(Instant::now() < deadline, "alertmanager never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        am
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
