//! A real browser for the dashboard tests: headless Chromium driven over W3C
//! WebDriver by its chromedriver, through a small synchronous client
//! (ureq and serde_json), plus the axe-core accessibility checker run
//! inside the page.
//!
//! The browser is Debian's `chromium` and `chromium-driver` packages, and
//! axe-core is the npm package pinned in [`AXE_VERSION`]; scripts/test-deps
//! installs all three. Each [`Browser`] is its own chromedriver (in its own
//! process group, on a free loopback port) with one session and a fresh
//! profile; dropping it ends the session, kills whatever is left (the
//! process group, and Chromium's crash handlers, which leave it) and removes
//! the profile.
//!
//! Every method panics on a WebDriver error, with the error that chromedriver
//! answered, so that a test reads as a list of steps:
//!
//! ```ignore
//! let browser = Browser::start();
//! browser.goto(&format!("{base}/"));
//! assert_eq!(browser.text("h1"), "Jobs");
//! browser.wait_for_text("#status", "Succeeded", Duration::from_secs(10));
//! let violations = browser.axe();
//! assert!(serious(&violations).is_empty(), "{}", describe(&serious(&violations)));
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Debian's Chromium (package `chromium`): a launcher script that sources
/// /etc/chromium.d and execs /usr/lib/chromium/chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The axe-core release that scripts/test-deps installs (keep the two in
/// step).
pub const AXE_VERSION: &str = "4.14.1";

/// How long chromedriver may take to say it is ready.
const DRIVER_START: Duration = Duration::from_secs(20);

/// How long page loads and (async) scripts such as an axe run may take,
/// inside the browser. HTTP requests to chromedriver get a little more.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the `wait_*` methods look again.
const POLL: Duration = Duration::from_millis(100);

/// The key of an element reference in WebDriver's JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's code points for special keys, for [`Browser::press`].
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SPACE: &str = "\u{E00D}";
    pub const ARROW_UP: &str = "\u{E013}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// An error that chromedriver answered: the HTTP status and the `value` of
/// its JSON (`error`, `message`; the native stack trace is dropped).
#[derive(Debug, Clone)]
pub struct WebDriverError {
    pub status: u16,
    pub value: Value,
}

impl WebDriverError {
    /// The WebDriver error code, such as "no such element".
    pub fn code(&self) -> &str {
        self.value["error"].as_str().unwrap_or("")
    }
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.value)
    }
}

/// A headless Chromium with one WebDriver session, ended on drop.
pub struct Browser {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver: Child,
    /// False for [`Browser::start_without_javascript`].
    javascript: bool,
    /// The profile (`--user-data-dir`) and chromedriver's output.
    dir: TempDir,
}

impl Browser {
    /// A browser with JavaScript on.
    pub fn start() -> Browser {
        Browser::launch(true)
    }

    /// A browser with JavaScript off for the pages it loads (a content
    /// setting in the profile's preferences), as a user who disabled it
    /// would see them: the page's scripts do not run and `<noscript>` shows.
    /// WebDriver's own scripts still run, so [`Browser::execute`] works,
    /// but the page's timers never fire (see [`Browser::axe`] for how axe
    /// copes).
    pub fn start_without_javascript() -> Browser {
        Browser::launch(false)
    }

    /// Starts chromedriver on a free port (retrying if another process
    /// takes the port first), then a session.
    fn launch(javascript: bool) -> Browser {
        for path in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing; run scripts/test-deps to install Debian's chromium and chromium-driver"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("jobcd-browser-")
            .tempdir()
            .unwrap();
        let profile = dir.path().join("profile");
        fs::create_dir(&profile).unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Never through a proxy from the environment: it is loopback.
            .proxy(None)
            .timeout_global(Some(BROWSER_TIMEOUT + Duration::from_secs(30)))
            .build()
            .into();
        let log = dir.path().join("chromedriver.log");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let out = fs::File::create(&log).unwrap();
            let mut driver = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                // Chromium keeps crash reports under ~/.config/chromium
                // whatever the profile: here, in the temporary directory.
                .env("XDG_CONFIG_HOME", dir.path().join("config"))
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                // Its own process group, so that drop can kill chromedriver
                // and every browser process it started at once.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {CHROMEDRIVER}: {e}; run scripts/test-deps")
                });
            let base = format!("http://127.0.0.1:{port}");
            if wait_ready(&agent, &base, &mut driver, &log) {
                let mut browser = Browser {
                    agent,
                    session: String::new(),
                    driver,
                    javascript,
                    dir,
                };
                browser.session = browser.new_session(&base, &profile);
                return browser;
            }
            // It exited: most likely the port was taken meanwhile.
            eprintln!("chromedriver exited early:\n{}", read_log(&log));
            kill_all(&mut driver, dir.path());
        }
        panic!("chromedriver could not be started on a free port; see the log above");
    }

    /// Creates the session: headless, no sandbox (tests run as root and in
    /// containers), nothing that talks to Google, a fixed window size, the
    /// browser's console kept for [`Browser::console_errors`].
    fn new_session(&self, base: &str, profile: &Path) -> String {
        let timeout = BROWSER_TIMEOUT.as_millis() as u64;
        let prefs = if self.javascript {
            json!({})
        } else {
            json!({"profile.managed_default_content_settings.javascript": 2})
        };
        let capabilities = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"implicit": 0, "pageLoad": timeout, "script": timeout},
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--disable-dev-shm-usage",
                        "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                    "prefs": prefs,
                },
            }},
        });
        let value = request(
            &self.agent,
            "POST",
            &format!("{base}/session"),
            Some(&capabilities),
        )
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver could not start {CHROMIUM}: {e}\n--- chromedriver output ---\n{}",
                self.driver_log()
            )
        });
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in chromedriver's answer: {value}"));
        format!("{base}/session/{id}")
    }

    /// What chromedriver printed.
    fn driver_log(&self) -> String {
        read_log(&self.dir.path().join("chromedriver.log"))
    }

    /// `method` on `path` under the session (`""` for the session
    /// itself): the `value` of the answer, or the error.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        request(
            &self.agent,
            method,
            &format!("{}{path}", self.session),
            body,
        )
    }

    /// The same, panicking on an error.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path} failed: {e}"))
    }

    /// Loads `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.try_call("POST", "/url", Some(&json!({"url": url})))
            .unwrap_or_else(|e| panic!("WebDriver could not load {url}: {e}"));
    }

    /// Loads the current page again.
    pub fn refresh(&self) {
        self.call("POST", "/refresh", Some(&json!({})));
    }

    /// The address of the current page.
    pub fn current_url(&self) -> String {
        string(self.call("GET", "/url", None))
    }

    /// The current page's title.
    pub fn title(&self) -> String {
        string(self.call("GET", "/title", None))
    }

    /// The current page's HTML, as the DOM is now.
    pub fn page_source(&self) -> String {
        string(self.call("GET", "/source", None))
    }

    /// References to the elements that match the CSS selector `css`.
    fn try_find_all(&self, css: &str) -> Result<Vec<String>, WebDriverError> {
        let found = self.try_call(
            "POST",
            "/elements",
            Some(&json!({"using": "css selector", "value": css})),
        )?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| string(e[ELEMENT_KEY].clone()))
            .collect())
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        self.try_find_all(css)
            .unwrap_or_else(|e| panic!("WebDriver could not look for {css:?}: {e}"))
    }

    /// The first element that matches `css`; a panic when none does.
    fn find(&self, css: &str) -> String {
        self.find_all(css).into_iter().next().unwrap_or_else(|| {
            panic!(
                "no element matches {css:?} on {}:\n{}",
                self.current_url(),
                self.page_source()
            )
        })
    }

    fn element_text(&self, element: &str) -> Result<String, WebDriverError> {
        self.try_call("GET", &format!("/element/{element}/text"), None)
            .map(string)
    }

    /// The visible text of the first element that matches `css`.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.element_text(&element)
            .unwrap_or_else(|e| panic!("WebDriver could not read the text of {css:?}: {e}"))
    }

    /// The visible text of every element that matches `css`, in document
    /// order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.find_all(css)
            .iter()
            .map(|element| {
                self.element_text(element)
                    .unwrap_or_else(|e| panic!("WebDriver could not read the text of {css:?}: {e}"))
            })
            .collect()
    }

    /// The attribute `name` of the first element that matches `css`, as in
    /// the markup (`getAttribute`; "true" for a boolean attribute that is
    /// present), or None when it has none.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css);
        self.call("GET", &format!("/element/{element}/attribute/{name}"), None)
            .as_str()
            .map(str::to_owned)
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.find_all(css).len()
    }

    /// Whether any element matches `css`.
    pub fn exists(&self, css: &str) -> bool {
        self.count(css) > 0
    }

    /// Waits until an element that matches `css` has visible text that
    /// contains `needle`, and returns that text. Panics after `timeout`
    /// with what the matching elements said last.
    pub fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            // Elements may be replaced between finding and reading them
            // ("stale element reference"): that is only "not yet".
            let seen: Vec<String> = self
                .try_find_all(css)
                .unwrap_or_default()
                .iter()
                .filter_map(|element| self.element_text(element).ok())
                .collect();
            if let Some(text) = seen.iter().find(|t| t.contains(needle)) {
                return text.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no element matching {css:?} showed {needle:?} within {timeout:?}; last seen: {seen:?}"
            );
            sleep(POLL);
        }
    }

    /// Waits until `script` (a function body, as for [`Browser::execute`])
    /// returns true. Panics after `timeout` with what it returned last.
    pub fn wait_until(&self, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, vec![]);
            if value == true {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{script:?} was not true within {timeout:?}; last returned {value}"
            );
            sleep(POLL);
        }
    }

    /// Runs `script` in the page as the body of a function called with
    /// `args` (`arguments[0]`, ...), and returns what it returns (a
    /// promise is awaited). Element references in `args` or the result
    /// are WebDriver's JSON for them.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` like [`Browser::execute`], with one more argument: a
    /// callback that it calls with its result
    /// (`arguments[arguments.length - 1](value)`), within the session's
    /// script timeout (60 s).
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Clicks the first element that matches `css` (scrolled into view;
    /// an error if something covers it).
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    /// Types `text` into the first element that matches `css` (which gets
    /// the focus). Special keys from [`keys`] may be part of it.
    pub fn send_keys(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// Presses and releases `key` (a character or one of [`keys`]) on
    /// whatever has the focus, as a keyboard would.
    pub fn press(&self, key: &str) {
        self.keyboard(&[key], &[]);
    }

    /// Tab: the focus moves to the next focusable element.
    pub fn press_tab(&self) {
        self.press(keys::TAB);
    }

    /// Shift+Tab: the focus moves to the previous focusable element.
    pub fn press_shift_tab(&self) {
        self.keyboard(&[keys::TAB], &[keys::SHIFT]);
    }

    /// Presses each of `keys` in turn while `held` are held down.
    fn keyboard(&self, keys: &[&str], held: &[&str]) {
        let mut actions = Vec::new();
        actions.extend(held.iter().map(|k| json!({"type": "keyDown", "value": k})));
        for key in keys {
            actions.push(json!({"type": "keyDown", "value": key}));
            actions.push(json!({"type": "keyUp", "value": key}));
        }
        actions.extend(
            held.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        self.call(
            "POST",
            "/actions",
            Some(&json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.call("DELETE", "/actions", None);
    }

    /// The element that has the focus (the body when nothing has).
    fn active_element(&self) -> String {
        string(self.call("GET", "/element/active", None)[ELEMENT_KEY].clone())
    }

    /// The visible text of the element that has the focus.
    pub fn active_element_text(&self) -> String {
        let element = self.active_element();
        self.element_text(&element)
            .unwrap_or_else(|e| panic!("WebDriver could not read the focused element's text: {e}"))
    }

    /// The markup of the element that has the focus (`outerHTML`), to
    /// tell which one it is.
    pub fn active_element_html(&self) -> String {
        let element = self.active_element();
        string(self.call(
            "GET",
            &format!("/element/{element}/property/outerHTML"),
            None,
        ))
    }

    /// Writes a PNG screenshot of the viewport to `path` (creating its
    /// directory).
    pub fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = base64::engine::general_purpose::STANDARD
            .decode(string(self.call("GET", "/screenshot", None)))
            .expect("a screenshot in base64");
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// The browser console's errors (level SEVERE: uncaught exceptions,
    /// `console.error`, failed loads, Content Security Policy violations)
    /// since the last call; chromedriver hands each entry out only once.
    /// Leaves out the failed load of `/favicon.ico`, which Chromium asks
    /// for on its own (some time after the page loaded) when the page
    /// names no icon.
    pub fn console_errors(&self) -> Vec<String> {
        let entries = self.call("POST", "/se/log", Some(&json!({"type": "browser"})));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| {
                let message = e["message"].as_str().unwrap_or_default();
                !(e["source"] == "network" && message.contains("/favicon.ico - "))
            })
            .map(|e| string(e["message"].clone()))
            .collect()
    }

    /// Runs axe-core over the whole current page: its violations, every
    /// impact. Works with JavaScript off too: axe waits on `setTimeout`,
    /// which never fires then, so the page gets a `setTimeout` that runs
    /// callbacks as microtasks before axe is injected (nothing else of the
    /// page's runs anyway).
    pub fn axe(&self) -> Vec<AxeViolation> {
        self.axe_with(Value::Null, json!({}))
    }

    /// Runs axe-core with a `context` (null for the whole document, a CSS
    /// selector, or `{"include": [...], "exclude": [...]}`) and `options`
    /// (such as `{"runOnly": ["wcag2a", "wcag2aa"]}`), as `axe.run` takes
    /// them. Injects axe.min.js into the page first if it is not there.
    pub fn axe_with(&self, context: Value, options: Value) -> Vec<AxeViolation> {
        if self.execute("return typeof window.axe", vec![]) != "object" {
            if !self.javascript {
                self.execute(
                    r#"
                    let next = 1;
                    const cancelled = new Set();
                    window.setTimeout = (f, _ms, ...args) => {
                      const id = next++;
                      Promise.resolve().then(() => {
                        if (!cancelled.delete(id) && typeof f === 'function') f(...args);
                      });
                      return id;
                    };
                    window.clearTimeout = id => { cancelled.add(id); };
                    "#,
                    vec![],
                );
            }
            self.execute(&axe_source(), vec![]);
        }
        let answer = self.execute_async(
            r#"
            const [context, options, done] = arguments;
            axe.run(context === null ? document : context,
                    Object.assign({resultTypes: ['violations']}, options))
              .then(result => done({violations: result.violations.map(v => ({
                  id: v.id, impact: v.impact, description: v.description,
                  help: v.help, helpUrl: v.helpUrl,
                  nodes: v.nodes.map(n => ({
                    target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : String(t)),
                    html: n.html, failureSummary: n.failureSummary || '',
                  })),
                }))}),
                    e => done({error: String(e && e.stack || e)}));
            "#,
            vec![context, options],
        );
        if let Some(error) = answer.get("error") {
            panic!("axe.run failed: {}", string(error.clone()));
        }
        answer["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe.run gave no violations list: {answer}"))
            .iter()
            .map(AxeViolation::from_json)
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Ending the session closes the browser gracefully; killing
            // the group below catches whatever that left behind.
            let _ = self
                .agent
                .delete(&self.session)
                .config()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .call();
            if std::thread::panicking() {
                let log = self.driver_log();
                if !log.trim().is_empty() {
                    eprintln!("--- chromedriver output ---\n{log}");
                }
            }
        }
        kill_all(&mut self.driver, self.dir.path());
    }
}

/// Waits until chromedriver's `/status` says it is ready: false when it
/// exits first, a panic when it takes too long.
fn wait_ready(agent: &ureq::Agent, base: &str, driver: &mut Child, log: &Path) -> bool {
    let deadline = Instant::now() + DRIVER_START;
    loop {
        if driver.try_wait().unwrap().is_some() {
            return false;
        }
        if let Ok(mut response) = agent.get(format!("{base}/status")).call()
            && let Ok(body) = response.body_mut().read_to_string()
            && serde_json::from_str::<Value>(&body).is_ok_and(|v| v["value"]["ready"] == true)
        {
            return true;
        }
        if Instant::now() >= deadline {
            kill_all(driver, log.parent().unwrap());
            panic!(
                "chromedriver was not ready within {DRIVER_START:?}:\n{}",
                read_log(log)
            );
        }
        sleep(Duration::from_millis(50));
    }
}

/// SIGKILL to the process group that `driver` leads (chromedriver and the
/// browser it started) and to any other process whose command line names
/// `dir` (Chromium's crash handlers, which leave the group), then reaps
/// chromedriver and waits briefly until none of them is left.
fn kill_all(driver: &mut Child, dir: &Path) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    let group = driver.id() as i32;
    let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    let _ = driver.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = leftovers(group, dir);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("browser processes still running after SIGKILL: {left:?}");
            return;
        }
        for pid in left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        sleep(Duration::from_millis(20));
    }
}

/// The live processes (not zombies, which their new parent reaps) in
/// process group `group` or with `dir` in their command line.
fn leftovers(group: i32, dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // "PID (COMM) STATE PPID PGRP ...": COMM may hold anything,
            // so the fields are counted from its closing parenthesis.
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, fields)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            if fields.first() == Some(&"Z") {
                return false;
            }
            fields.get(2).and_then(|g| g.parse().ok()) == Some(group)
                || fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

fn read_log(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_default()
}

/// One request to chromedriver: the `value` of its JSON answer, or the
/// error it answered.
fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, WebDriverError> {
    let response = match method {
        "GET" => agent.get(url).call(),
        "DELETE" => agent.delete(url).call(),
        "POST" => agent
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .send(serde_json::to_vec(body.unwrap_or(&json!({}))).unwrap()),
        _ => panic!("unsupported WebDriver method {method}"),
    };
    let mut response =
        response.unwrap_or_else(|e| panic!("chromedriver did not answer {method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .unwrap_or_else(|e| panic!("cannot read chromedriver's answer to {method} {url}: {e}"));
    let mut answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("chromedriver answered {method} {url} with HTTP {status} and no JSON ({e}): {text}")
    });
    let mut value = answer["value"].take();
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        if let Some(fields) = value.as_object_mut() {
            fields.remove("stacktrace");
        }
        Err(WebDriverError { status, value })
    }
}

/// A JSON string's text; other JSON as it is written.
fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Where axe.min.js is: `$JOBCD_AXE_JS`, else where scripts/test-deps
/// installs [`AXE_VERSION`].
pub fn axe_path() -> PathBuf {
    if let Some(path) = std::env::var_os("JOBCD_AXE_JS") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    cache
        .join("jobcd-test")
        .join(format!("axe-core-{AXE_VERSION}"))
        .join("node_modules/axe-core/axe.min.js")
}

fn axe_source() -> String {
    let path = axe_path();
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read axe-core from {}: {e}; run scripts/test-deps to install axe-core {AXE_VERSION} (or set JOBCD_AXE_JS)",
            path.display()
        )
    })
}

/// One rule that axe-core found broken, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxeViolation {
    /// The rule, such as "image-alt" or "color-contrast".
    pub id: String,
    /// "minor", "moderate", "serious" or "critical".
    pub impact: String,
    pub description: String,
    /// What to do, in one line.
    pub help: String,
    /// The rule's documentation at Deque.
    pub help_url: String,
    pub nodes: Vec<AxeNode>,
}

/// An element that breaks an axe-core rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxeNode {
    /// A CSS selector per frame level (the steps into shadow roots joined
    /// by ` >>> `).
    pub target: Vec<String>,
    /// The element's opening markup.
    pub html: String,
    /// What is wrong, and the ways to fix it.
    pub failure_summary: String,
}

impl AxeViolation {
    fn from_json(v: &Value) -> AxeViolation {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        AxeViolation {
            id: text(&v["id"]),
            impact: text(&v["impact"]),
            description: text(&v["description"]),
            help: text(&v["help"]),
            help_url: text(&v["helpUrl"]),
            nodes: v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| AxeNode {
                    target: n["target"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect(),
                    html: text(&n["html"]),
                    failure_summary: text(&n["failureSummary"]),
                })
                .collect(),
        }
    }

    /// Whether its impact is "serious" or "critical".
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

/// The violations of impact "serious" or "critical".
pub fn serious(violations: &[AxeViolation]) -> Vec<&AxeViolation> {
    violations.iter().filter(|v| v.is_serious()).collect()
}

/// `violations` one after the other, for an assertion message.
pub fn describe<V: Borrow<AxeViolation>>(violations: &[V]) -> String {
    if violations.is_empty() {
        return "no accessibility violations".to_owned();
    }
    violations.iter().map(|v| v.borrow().to_string()).collect()
}

impl fmt::Display for AxeViolation {
    /// ```text
    /// image-alt (critical): Images must have alternative text <https://...>
    ///   img[src="/logo.png"]: Fix any of the following:
    ///     Element does not have an alt attribute
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}): {} <{}>",
            self.id, self.impact, self.help, self.help_url
        )?;
        for node in &self.nodes {
            let summary = node.failure_summary.replace('\n', "\n    ");
            writeln!(f, "  {}: {summary}", node.target.join(" "))?;
        }
        Ok(())
    }
}
