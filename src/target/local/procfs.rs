//! What `/proc` says about processes: when one started, which process
//! groups still have a live member, and which groups belong to a pod by its
//! environment. Recovery after a crash relies on it (Linux only; elsewhere
//! every answer is "nothing known").

use std::collections::{HashMap, HashSet};

/// A process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// Process group.
    group: i32,
    /// `R`, `S`, `Z` (zombie), …
    state: char,
    /// Start time in clock ticks since boot.
    start_ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything,
    // so fields are counted from the last closing parenthesis: field 3
    // (state) follows it.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let group = fields.nth(1)?.parse().ok()?; // field 5
    let start_ticks = fields.nth(22 - 6)?.parse().ok()?; // field 22
    Some(Stat {
        group,
        state,
        start_ticks,
    })
}

fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
}

/// When process `pid` started, in clock ticks since boot.
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_ticks)
}

/// Whether process `pid` is alive (not a zombie) and, when `start_ticks`
/// is known, is still the process that started then (a pid is reused once
/// its process is gone).
pub fn alive(pid: u32, start_ticks: Option<u64>) -> bool {
    stat(pid).is_some_and(|s| {
        !matches!(s.state, 'Z' | 'X' | 'x') && start_ticks.is_none_or(|t| t == s.start_ticks)
    })
}

/// Process groups with at least one member that is not a zombie. A zombie
/// is already dead; only its parent (often init, for orphans) can reap it,
/// and waiting for that could take forever.
pub fn live_groups() -> HashSet<i32> {
    pids()
        .filter_map(stat)
        .filter(|s| !matches!(s.state, 'Z' | 'X' | 'x'))
        .map(|s| s.group)
        .collect()
}

/// For each value of `values`, the process groups of processes whose
/// environment has `name=value` (processes of other users are not
/// readable and so not found).
pub fn groups_by_env(name: &str, values: &HashSet<String>) -> HashMap<String, HashSet<i32>> {
    let prefix = format!("{name}=");
    let mut found: HashMap<String, HashSet<i32>> = HashMap::new();
    if values.is_empty() {
        return found;
    }
    for pid in pids() {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let value = environ
            .split(|b| *b == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok())
            .find_map(|entry| entry.strip_prefix(prefix.as_str()));
        if let Some(value) = value.filter(|v| values.contains(*v))
            && let Some(s) = stat(pid).filter(|s| !matches!(s.state, 'Z' | 'X' | 'x'))
        {
            found.entry(value.to_string()).or_default().insert(s.group);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    #[test]
    fn a_child_is_found_by_its_environment_and_its_group_is_live_until_it_dies() {
        let marker = format!("procfs-test-{}", std::process::id());
        let mut child = Command::new("sleep")
            .arg("30")
            .env("JOBCD_PROCFS_TEST", &marker)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let group = pid as i32;
        let found = groups_by_env("JOBCD_PROCFS_TEST", &HashSet::from([marker.clone()]));
        assert_eq!(found.get(&marker), Some(&HashSet::from([group])));
        assert!(live_groups().contains(&group));
        let started = start_ticks(pid);
        assert!(started.is_some());
        assert!(alive(pid, started));
        assert!(
            !alive(pid, started.map(|t| t + 1)),
            "another start time is another process"
        );
        child.kill().unwrap();
        // Dead but not yet reaped: a zombie is not a live member.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(stat(pid).map(|s| s.state), Some('Z'));
        assert!(!live_groups().contains(&group));
        assert!(!alive(pid, started), "a zombie is not alive");
        child.wait().unwrap();
        assert!(start_ticks(pid).is_none());
    }
}
