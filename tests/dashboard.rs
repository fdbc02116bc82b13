//! The dashboard of `jobcd serve`, in a real browser: Debian's Chromium
//! driven over WebDriver (tests/support/browser.rs) against the real
//! binary syncing a real git repository to the local executor. Every page
//! is rendered with known data, screenshotted, checked by DOM assertions
//! and by axe-core (no serious or critical violation), read with
//! JavaScript off, and followed live over Server-Sent Events.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::civil::date;
use jiff::tz::TimeZone;
use support::browser::{Browser, serious};
use support::http::request;
use support::jobs_repo::JobsRepo;
use support::served::Served;

const WAIT: Duration = Duration::from_secs(60);

fn config(dir: &Path, repo: &Path, extra: &str) -> PathBuf {
    let config = dir.join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\n{extra}sources:\n  - name: jobs\n    repo: {}\n    path: jobs\n    interval: 0s\n",
            repo.display()
        ),
    )
    .unwrap();
    config
}

fn job(name: &str, script: &str, backoff: u32) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  backoffLimit: {backoff}\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, '{script}']}}]\n"
    )
}

fn cronjob(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  schedule: '{schedule}'\n  timeZone: Europe/Berlin\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo tick']}}]\n"
    )
}

/// The day in March of the next spring-forward in Berlin (the last
/// Sunday of March, 02:00 CET to 03:00 CEST) after now, its year, and
/// the first later year in which 02:30 on that day of March exists: where
/// a `30 2 <day> 3 *` CronJob fires next.
fn spring_forward() -> (i8, i16, String) {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let now = jiff::Timestamp::now();
    let mut year = now.to_zoned(berlin.clone()).year();
    loop {
        let last_sunday = (25..=31)
            .rev()
            .find(|d| date(year, 3, *d).weekday() == jiff::civil::Weekday::Sunday)
            .unwrap();
        let change = date(year, 3, last_sunday)
            .at(2, 0, 0, 0)
            .to_zoned(berlin.clone())
            .unwrap();
        if change.timestamp() > now {
            let exists = |y: i16| {
                let wall = date(y, 3, last_sunday).at(2, 30, 0, 0);
                wall.to_zoned(berlin.clone()).unwrap().datetime() == wall
            };
            let next = (year..year + 12).find(|y| exists(*y)).unwrap();
            let fire = date(next, 3, last_sunday)
                .at(2, 30, 0, 0)
                .to_zoned(berlin.clone())
                .unwrap();
            return (
                last_sunday,
                year,
                fire.strftime("%a %Y-%m-%d %H:%M %Z").to_string(),
            );
        }
        year += 1;
    }
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots the page, and asserts axe-core finds nothing serious.
fn check_page(browser: &Browser, name: &str) {
    let path = shots().join(format!("{name}.png"));
    browser.screenshot(&path);
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    let violations = browser.axe();
    let bad = serious(&violations);
    assert!(
        bad.is_empty(),
        "{name}: axe-core found serious violations:\n{}",
        bad.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_dashboard_shows_sources_timelines_runs_logs_and_commits_and_follows_them_live() {
    let (day, year, next_fire) = spring_forward();
    let repo = JobsRepo::new();
    let first = repo.commit(&[
        (
            "jobs/broken.yaml",
            Some(&job("broken", "echo about to fail; exit 3", 0)),
        ),
        (
            "jobs/hello.yaml",
            Some(&job("hello", "echo hello from the dashboard test", 0)),
        ),
        (
            "jobs/spring.yaml",
            Some(&cronjob("spring", &format!("30 2 {day} 3 *"))),
        ),
    ]);
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path(), &repo.path(), "");
    let served = Served::start(root.path(), &config, &[]);
    served.wait_log("Job ops/broken: Failed");
    served.wait_log("Job ops/hello: Complete");
    let ui = format!("{}/ui/", served.base);

    let browser = Browser::start();

    // Overview: the source at the commit it read, and the runs.
    browser.goto(&ui);
    // One of its Jobs failed: the sync says so, and why.
    browser.wait_for_text("#source-jobs .state", "failed", WAIT);
    assert!(
        browser
            .text("#source-jobs .why")
            .contains("2 Job run(s), 1 failed"),
        "{}",
        browser.text("#source-jobs")
    );
    assert_eq!(browser.text("#source-jobs .revision .sha"), &first[..7]);
    assert_eq!(
        browser.attr("#source-jobs .revision .sha", "href").unwrap(),
        format!("/ui/commits/jobs/{first}")
    );
    check_page(&browser, "overview");
    // The keyboard reaches the skip link first, then the navigation.
    browser.press_tab();
    assert_eq!(browser.active_element_text(), "Skip to content");
    browser.press_tab();
    browser.press_tab();
    assert_eq!(browser.active_element_text(), "Overview");
    let csp = browser.execute_async(
        "const done = arguments[arguments.length - 1]; fetch('/ui/').then(r => done(r.headers.get('content-security-policy')))",
        vec![],
    );
    assert!(csp.as_str().unwrap().contains("script-src 'self'"), "{csp}");

    // Runs: the failed one with its reason.
    browser.goto(&format!("{ui}runs"));
    let rows = browser.texts("tbody tr");
    let broken = rows.iter().find(|r| r.contains("ops/broken")).unwrap();
    assert!(
        broken.contains("failed") && broken.contains("BackoffLimitExceeded"),
        "{broken}"
    );
    assert!(
        broken.contains(&first[..7]),
        "the commit it came from: {broken}"
    );
    check_page(&browser, "runs");

    // The failed run: its condition, its pod, and the pod's log.
    let broken_page = browser.execute(
        "return [...document.querySelectorAll('tbody tr')].find(r => r.textContent.includes('ops/broken')).querySelector('th a').href",
        vec![],
    );
    browser.goto(broken_page.as_str().unwrap());
    let conditions = browser.texts("section[aria-labelledby='conditions-title'] tbody tr");
    assert!(
        conditions
            .iter()
            .any(|c| c.contains("Failed") && c.contains("BackoffLimitExceeded")),
        "{conditions:?}"
    );
    let pods = browser.text("section[aria-labelledby='pods-title'] tbody");
    assert!(pods.contains("main: exit 3"), "{pods}");
    check_page(&browser, "run");
    let logs = browser
        .attr("section[aria-labelledby='pods-title'] tbody a", "href")
        .unwrap();
    browser.goto(&format!("{}{logs}", served.base));
    assert!(browser.text("pre.log").contains("about to fail"));
    check_page(&browser, "logs");

    // The CronJob: its next fire in Europe/Berlin skips the day whose
    // 02:30 does not exist, and the clock change is listed.
    browser.goto(&format!("{ui}cronjobs"));
    let row = browser.text("#cronjob-ops-spring");
    assert!(row.contains(&next_fire), "next fire {next_fire}: {row}");
    check_page(&browser, "cronjobs");
    browser.goto(&format!("{ui}cronjobs/ops/spring?window=7d"));
    assert_eq!(browser.text("dd.next"), next_fire);
    let dst = browser.text("ul.dst");
    assert!(
        dst.contains(&format!("{year}-03-{day:02}")) && dst.contains("02:30 does not exist"),
        "{dst}"
    );
    assert_eq!(
        browser.attr(".window a[aria-current]", "href").as_deref(),
        Some("?window=7d")
    );
    assert!(browser.exists("figure.timeline svg title"));
    check_page(&browser, "cronjob");

    // The commit: the statuses jobcd reported on it.
    browser.goto(&format!("{ui}commits/jobs/{first}"));
    let statuses = browser.text("table.statuses tbody");
    assert!(statuses.contains("jobcd/sync"), "{statuses}");
    assert!(statuses.contains("jobcd/job/ops/broken"), "{statuses}");
    check_page(&browser, "commit");

    // Live: a new commit's Job appears on the open overview, and its row
    // turns complete when it ends, all without a reload; its log is
    // followed as the container writes it.
    browser.goto(&ui);
    browser.wait_for_text("#live", "Live", WAIT);
    browser.execute("window.stillHere = true", vec![]);
    let second = repo.commit(&[(
        "jobs/slow.yaml",
        Some(&job(
            "slow",
            "echo first line; sleep 6; echo second line; sleep 4",
            0,
        )),
    )]);
    let row = browser.wait_for_text("tbody[data-live-runs] tr", "ops/slow", WAIT);
    assert!(row.contains("running"), "{row}");
    assert_eq!(
        browser.execute("return window.stillHere === true", vec![]),
        true
    );
    browser.wait_for_text("#source-jobs .revision .sha", &second[..7], WAIT);
    let run_page = browser
        .execute(
            "return [...document.querySelectorAll('tbody tr')].find(r => r.textContent.includes('ops/slow')).querySelector('th a').href",
            vec![],
        )
        .as_str()
        .unwrap()
        .to_string();
    browser.goto(&run_page);
    let logs = browser
        .attr("section[aria-labelledby='pods-title'] tbody a", "href")
        .unwrap();
    browser.goto(&format!("{}{logs}", served.base));
    let at_load = browser.text("pre.log");
    assert!(
        !at_load.contains("second line"),
        "the log was read before its second line: {at_load:?}"
    );
    browser.wait_for_text("pre.log", "second line", WAIT);
    browser.goto(&run_page);
    browser.execute("window.stillHere = true", vec![]);
    let ended = browser.wait_for_text("tbody tr.run", "complete", WAIT);
    assert!(ended.contains("ops/slow"), "{ended}");
    assert_eq!(
        browser.execute("return window.stillHere === true", vec![]),
        true
    );
    drop(browser);

    // JavaScript off: the same facts, server-rendered.
    let static_browser = Browser::start_without_javascript();
    static_browser.goto(&ui);
    assert_eq!(
        static_browser.text("#source-jobs .revision .sha"),
        &second[..7]
    );
    assert!(static_browser.text("table.runs").contains("ops/broken"));
    assert_eq!(static_browser.text("#live"), "");
}

#[test]
fn the_dashboard_asks_for_credentials_and_never_frames_or_inlines() {
    let repo = JobsRepo::new();
    repo.commit(&[("jobs/hello.yaml", Some(&job("hello", "echo hi", 0)))]);
    let root = tempfile::tempdir().unwrap();
    let password = root.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let extra = format!(
        "dashboard: {{username: ops, passwordFile: {}, tokenEnv: DASH_TOKEN}}\n",
        password.display()
    );
    let config = config(root.path(), &repo.path(), &extra);
    let served = Served::start(root.path(), &config, &[("DASH_TOKEN", "t0ken")]);
    let ui = format!("{}/ui/", served.base);
    let basic = |pair: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };

    let (status, _) = request("GET", &ui, &[], b"");
    assert_eq!(status, 401);
    let (status, _) = request("GET", &ui, &[("authorization", basic("ops:wrong"))], b"");
    assert_eq!(status, 401);
    let (status, body) = request("GET", &ui, &[("authorization", basic("ops:s3cret"))], b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("id=\"source-jobs\""), "{body}");
    let (status, _) = request("GET", &ui, &[("authorization", "Bearer t0ken".into())], b"");
    assert_eq!(status, 200);
    // The events stream and the assets are behind it too; health is not.
    let (status, _) = request("GET", &format!("{ui}events"), &[], b"");
    assert_eq!(status, 401);
    let (status, _) = request("GET", &format!("{ui}assets/dashboard.js"), &[], b"");
    assert_eq!(status, 401);
    assert_eq!(
        request("GET", &format!("{}/healthz", served.base), &[], b"").0,
        200
    );
    // No inline script or style anywhere: the policy allows none.
    assert!(
        !body.contains("<script>") && !body.contains("style=\""),
        "{body}"
    );
    assert!(!body.contains("s3cret") && !body.contains("t0ken"));
    // A path that could leave the pods' directory is refused.
    let (status, _) = request(
        "GET",
        &format!("{ui}pods/..%2F..%2Fetc/logs"),
        &[("authorization", "Bearer t0ken".into())],
        b"",
    );
    assert_eq!(status, 404);
}
