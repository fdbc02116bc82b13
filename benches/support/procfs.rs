//! What /proc says of a process the benches run: its memory and the CPU
//! time it spent. Each bench uses part of it.
#![allow(dead_code)]

/// Resident memory of a process, MiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: all of it.
    pub rss: f64,
    /// VmHWM: the peak so far.
    pub peak: f64,
    /// RssAnon: the heap and stacks.
    pub anon: f64,
    /// RssFile: file-backed pages (the binary's own, mostly).
    pub file: f64,
}

impl std::fmt::Display for Memory {
    /// `RSS 30.4 MiB (8.6 anonymous, 21.8 file-backed)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB ({:.1} anonymous, {:.1} file-backed)",
            self.rss, self.anon, self.file
        )
    }
}

/// `/proc/<pid>/status`'s VmRSS, VmHWM, RssAnon and RssFile (zero once it
/// is gone).
pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or_default()
            / 1024.0
    };
    Memory {
        rss: field("VmRSS:"),
        peak: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

/// CPU seconds of `pid` (utime and stime of /proc/<pid>/stat) and, with
/// `children`, of its waited-for children (cutime, cstime); clock ticks
/// of 1/100 s.
pub fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // After the command: state is field 3, utime field 14 (index 11 here).
    let end = if children { 15 } else { 13 };
    fields.get(11..end).map_or(0.0, |f| f.iter().sum::<f64>()) / 100.0
}
