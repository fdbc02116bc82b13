//! Plain HTTP requests to a server under test, webhook signatures, and
//! Prometheus' promtool over a metrics exposition.

use std::io::Write;
use std::process::{Command, Stdio};

/// (status, body) of `method url` with `headers` and `body` (ignored for
/// GET). Error statuses are answers, not failures.
pub fn request(method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = if method == "GET" {
        let mut r = agent.get(url);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.call()
    } else {
        let mut r = agent.post(url);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.send(body)
    };
    let mut response = response.unwrap();
    (
        response.status().as_u16(),
        // Whatever its size: ureq stops at 10 MB by default, and the
        // metrics of 50,000 CronJobs are 38 MB.
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .unwrap_or_default(),
    )
}

/// HMAC-SHA256 of `body` under `secret`, in hex: a webhook signature as
/// GitHub (after `sha256=`) and Gitea send it.
pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `promtool check metrics` over `text`: its exit code (0 clean, 3 lint
/// problems, 1 a parse error) and what it said.
pub fn promtool(text: &str) -> (Option<i32>, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool: {e}; run scripts/test-deps"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The status of `GET url`, or None when nothing answers (yet).
pub fn try_get(url: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent.get(url).call().ok().map(|r| r.status().as_u16())
}
