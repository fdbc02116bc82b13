//! A forge API on loopback for the reporters' and the preview poster's
//! tests (no forge is reachable here): it records every request and answers
//! through a handler, and GitHub's published OpenAPI description
//! (@octokit/openapi, installed by scripts/test-deps) to check requests
//! against.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// One request the fake forge received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body as it came, byte for byte (what a signature covers).
    pub raw: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = self.path.split_once('?')?.1;
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// What the forge answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    /// `code` with a JSON body.
    pub fn json(code: u16, body: &Value) -> Reply {
        Reply {
            code,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
}

/// A forge on loopback.
pub struct FakeForge {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeForge {
    /// Serves every request with `handler`.
    pub fn start(handler: impl FnMut(&Request) -> Reply + Send + 'static) -> FakeForge {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let mut handler = handler;
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let reply = handler(&request);
                seen.lock().unwrap().push(request);
                let mut response = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\nContent-Type: application/json\r\n",
                    reply.code,
                    reply.body.len()
                );
                for (k, v) in reply.headers {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&reply.body);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        FakeForge { url, requests }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body,
    })
}

/// GitHub's OpenAPI description (dereferenced), from the test cache.
pub fn github_openapi() -> Value {
    let default = PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/jobcd-test/octokit-openapi-23.0.2");
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(|c| PathBuf::from(c).join("jobcd-test/octokit-openapi-23.0.2"))
        .filter(|p| p.exists())
        .unwrap_or(default);
    let file = base.join("node_modules/@octokit/openapi/generated/api.github.com.deref.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-deps", file.display()));
    serde_json::from_str(&text).unwrap()
}

/// Checks a JSON request body against an operation's request schema:
/// required properties present, no undocumented ones, strings where
/// strings are documented.
pub fn check_body(operation: &Value, body: &Value) {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "the operation documents a JSON body");
    let body = body.as_object().expect("a JSON object");
    for required in schema["required"].as_array().into_iter().flatten() {
        assert!(
            body.contains_key(required.as_str().unwrap()),
            "{required} in {body:?}"
        );
    }
    for (key, value) in body {
        let property = &schema["properties"][key];
        assert!(property.is_object(), "{key} is a documented property");
        match value {
            Value::Null => assert_eq!(property["nullable"], true, "{key} may be null"),
            Value::String(s) => {
                assert_eq!(property["type"], "string", "{key}");
                if let Some(allowed) = property["enum"].as_array() {
                    assert!(allowed.contains(value), "{key}={s} not in {allowed:?}");
                }
                if let Some(max) = property["maxLength"].as_u64() {
                    assert!(s.chars().count() as u64 <= max, "{key} too long");
                }
            }
            other => panic!("{key} is {other}"),
        }
    }
}

/// Checks that every query parameter of `request` is documented for
/// `operation`.
pub fn check_query(operation: &Value, request: &Request) {
    let Some((_, query)) = request.path.split_once('?') else {
        return;
    };
    let documented: Vec<&str> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str())
        .collect();
    for (name, _) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        assert!(
            documented.contains(&name),
            "query parameter {name} is not documented ({documented:?})"
        );
    }
}
