//! The next 24 hours of the rescheduled CronJobs as a Mermaid `gantt`
//! chart, which GitHub, GitLab and Gitea draw in comments.
//!
//! One section per CronJob, one row per side (before, after) and run. A side
//! with more than a few runs in the day becomes a single bar from its first
//! to its last run, labelled with the count, and at most [`MAX_CRONJOBS`]
//! CronJobs are drawn, so the chart stays readable whatever the change.
//! Times are written as UTC wall-clock times without a zone: Mermaid reads
//! and draws them in the same (viewer's) zone, so the axis shows UTC.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};

use super::CronJobStory;
use super::timing::Timing;

/// CronJobs drawn at most.
pub const MAX_CRONJOBS: usize = 12;
/// Runs per side drawn one by one; more become one bar.
const MAX_MILESTONES: usize = 3;
/// How far ahead the chart looks.
const HOURS: i64 = 24;

/// The chart, or None when no drawn CronJob runs in the next 24 hours;
/// also how many CronJobs were left out.
pub fn chart(stories: &[CronJobStory], now: Timestamp) -> Option<(String, usize)> {
    let end = now.saturating_add(SignedDuration::from_hours(HOURS)).ok()?;
    let retimed: Vec<&CronJobStory> = stories.iter().filter(|s| s.timing_changed).collect();
    let mut sections = Vec::new();
    for story in &retimed {
        let rows: Vec<String> = [("before", &story.before), ("after", &story.after)]
            .into_iter()
            .filter_map(|(side, timing)| Some((side, timing.as_ref()?)))
            .flat_map(|(side, timing)| rows(side, timing, now, end))
            .collect();
        if !rows.is_empty() {
            sections.push((format!("{}/{}", story.id.namespace, story.id.name), rows));
        }
    }
    if sections.is_empty() {
        return None;
    }
    let left_out = sections.len().saturating_sub(MAX_CRONJOBS);
    let mut out = String::new();
    out.push_str("gantt\n");
    let _ = writeln!(
        out,
        "    title Next {HOURS} hours from {} UTC",
        now.strftime("%Y-%m-%d %H:%M")
    );
    out.push_str("    dateFormat YYYY-MM-DDTHH:mm\n");
    out.push_str("    axisFormat %H:%M\n");
    out.push_str("    todayMarker off\n");
    for (name, rows) in sections.iter().take(MAX_CRONJOBS) {
        let _ = writeln!(out, "    section {}", label(name));
        for row in rows {
            let _ = writeln!(out, "    {row}");
        }
    }
    Some((out, left_out))
}

/// The rows of one side: one milestone per run, or one bar for many.
fn rows(side: &str, timing: &Timing, now: Timestamp, end: Timestamp) -> Vec<String> {
    let fires = timing.fires(now, end, 24 * 60 * 60);
    if fires.is_empty() || (timing.suspend && side == "after") {
        return Vec::new();
    }
    if fires.len() <= MAX_MILESTONES {
        return fires
            .iter()
            .map(|t| {
                format!(
                    "{side} {} :milestone, {}, 0m",
                    // A colon would end the task name: Mermaid's entity for it.
                    t.strftime("%H#58;%M"),
                    t.strftime("%Y-%m-%dT%H:%M")
                )
            })
            .collect();
    }
    let (first, last) = (fires[0], fires[fires.len() - 1]);
    let minutes = ((last.as_second() - first.as_second()) / 60).max(1);
    vec![format!(
        "{side} {} runs :{}, {minutes}m",
        fires.len(),
        first.strftime("%Y-%m-%dT%H:%M")
    )]
}

/// A section name Mermaid reads back as written: only letters, digits and
/// `. _ / -` (object names are DNS labels and subdomains; anything else
/// becomes `-`).
fn label(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}
