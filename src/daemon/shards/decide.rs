//! What a replica does with the shards in one round, decided from what it
//! observed of the Leases — no I/O here, so every rule is tested directly.
//!
//! Expiry is judged the way client-go's leader election judges it: by how
//! long this replica has seen a Lease's holder and renew time unchanged,
//! measured on its own monotonic clock, never by comparing the renew time
//! written by another machine with this one's wall clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;

use super::{MEMBER_PREFIX, member_key};

/// How a member stamp or a shard Lease was last seen to change.
#[derive(Debug, Clone)]
struct Record {
    /// What was seen (the stamp; the holder and renew time).
    value: String,
    /// When it was first seen as it is.
    since: Instant,
}

/// A shard Lease as observed.
#[derive(Debug, Clone)]
struct Observed {
    holder: Option<String>,
    record: Record,
    duration: Duration,
}

/// What this replica has observed so far, across rounds.
#[derive(Debug, Default)]
pub struct Seen {
    members: HashMap<String, Record>,
    shards: HashMap<u32, Observed>,
    /// The coordination Lease as a leader election uses it: a replica
    /// still running unsharded (during a rollout that turns sharding on)
    /// holds it.
    leader: Option<Observed>,
}

impl Seen {
    /// Notes the coordination Lease (its members, and a leader if one
    /// holds it), at `now`.
    pub fn members(&mut self, lease: &Lease, now: Instant) {
        let stamps: HashMap<&str, &str> = lease
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(key, _)| key.starts_with(MEMBER_PREFIX))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        self.members
            .retain(|key, _| stamps.contains_key(key.as_str()));
        for (key, value) in stamps {
            note(self.members.entry(key.to_string()), value, now);
        }
        self.leader = Some(observe(self.leader.as_ref(), Some(lease), now));
    }

    /// Notes shard `index`'s Lease (None: it does not exist), at `now`.
    pub fn shard(&mut self, index: u32, lease: Option<&Lease>, now: Instant) {
        let observed = observe(self.shards.get(&index), lease, now);
        self.shards.insert(index, observed);
    }

    /// Whether an unsharded leader holds the coordination Lease at `now`.
    fn leader_running(&self, now: Instant) -> bool {
        self.leader
            .as_ref()
            .is_some_and(|o| o.holder.is_some() && now < o.record.since + o.duration)
    }

    /// Since when shard `index` has been free to take, if it is at `now`:
    /// never held or released (since it was seen so), or not renewed for
    /// its duration.
    fn free_since(&self, index: u32, now: Instant) -> Option<Instant> {
        let Some(o) = self.shards.get(&index) else {
            // Not read this round (an error): not free.
            return None;
        };
        if o.holder.is_none() {
            return Some(o.record.since);
        }
        let expires = o.record.since + o.duration;
        (now >= expires).then_some(expires)
    }

    fn holder(&self, index: u32) -> Option<&str> {
        self.shards.get(&index)?.holder.as_deref()
    }
}

/// A Lease as seen at `now`, after it was seen as `before`.
fn observe(before: Option<&Observed>, lease: Option<&Lease>, now: Instant) -> Observed {
    let spec = lease.and_then(|l| l.spec.as_ref());
    let holder = spec
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty());
    let renewed = spec
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let duration = spec
        .and_then(|s| s.lease_duration_seconds)
        .map_or(Duration::ZERO, |d| Duration::from_secs(d.max(0) as u64));
    let value = format!("{}@{renewed}", holder.as_deref().unwrap_or_default());
    let record = match before {
        Some(o) if o.record.value == value => o.record.clone(),
        _ => Record { value, since: now },
    };
    Observed {
        holder,
        record,
        duration,
    }
}

fn note(entry: std::collections::hash_map::Entry<'_, String, Record>, value: &str, now: Instant) {
    let record = entry.or_insert_with(|| Record {
        value: value.to_string(),
        since: now,
    });
    if record.value != value {
        *record = Record {
            value: value.to_string(),
            since: now,
        };
    }
}

/// A shard this replica holds, as the round begins.
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    /// Being given up.
    pub leaving: bool,
    /// Reconciles of its sources in flight.
    pub in_flight: usize,
}

/// What the round decides on.
pub struct Look<'a> {
    /// How many shards there are.
    pub count: u32,
    /// This replica.
    pub identity: &'a str,
    /// What it holds.
    pub holding: &'a HashMap<u32, Holding>,
    /// When the round began.
    pub now: Instant,
    /// How often rounds run (a third of the Lease duration).
    pub period: Duration,
}

/// What to do this round.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// A shard this replica holds that another replica holds now: stop.
    pub lost: Option<u32>,
    /// Shards to renew.
    pub renew: Vec<u32>,
    /// Shards to stop starting reconciles of, to release once idle.
    pub leave: Vec<u32>,
    /// Shards given up and idle: release their Leases.
    pub release: Vec<u32>,
    /// Free shards to take.
    pub take: Vec<u32>,
}

/// A member's stamp: the shard count it splits the sources into, and
/// when it stamped (`3@2026-12-06T20:00:00Z`).
pub fn stamp(count: u32, now: jiff::Timestamp) -> String {
    format!("{count}@{now}")
}

impl Look<'_> {
    /// The other members alive (those whose stamp changed within three
    /// periods, a Lease duration), by their stamps.
    fn others<'s>(&self, seen: &'s Seen) -> impl Iterator<Item = &'s Record> {
        let own = member_key(self.identity);
        seen.members
            .iter()
            .filter(move |(key, r)| {
                **key != own && self.now.duration_since(r.since) < 3 * self.period
            })
            .map(|(_, r)| r)
    }

    /// The members alive, this replica included.
    fn members(&self, seen: &Seen) -> usize {
        self.others(seen).count() + 1
    }

    /// Whether a member alive splits the sources into another number of
    /// shards (a rollout changing `shards`): the same source then maps to
    /// another Lease there, so nothing may be taken until it is gone.
    fn counts_differ(&self, seen: &Seen) -> bool {
        let mine = format!("{}@", self.count);
        self.others(seen).any(|r| !r.value.starts_with(&mine))
    }
}

/// Decides the round.
pub fn decide(look: &Look<'_>, seen: &Seen) -> Plan {
    let mut plan = Plan::default();
    let mut held: Vec<u32> = look.holding.keys().copied().collect();
    held.sort_unstable();
    for &index in &held {
        match seen.holder(index) {
            Some(holder) if holder != look.identity => {
                plan.lost = Some(index);
                return plan;
            }
            _ => {}
        }
    }
    let members = look.members(seen) as u32;
    let share = look.count.div_ceil(members) as usize;
    let mut active: Vec<u32> = held
        .iter()
        .copied()
        .filter(|i| !look.holding[i].leaving)
        .collect();
    while active.len() > share {
        plan.leave.extend(active.pop());
    }
    for &index in &held {
        let h = look.holding[&index];
        if h.leaving && h.in_flight == 0 {
            plan.release.push(index);
        } else {
            plan.renew.push(index);
        }
    }
    // While a replica still runs unsharded (a rollout turning sharding
    // on), it reconciles every source; while one splits them into another
    // number of shards, it maps them to other Leases: take nothing until
    // it is gone.
    if seen.leader_running(look.now) || look.counts_differ(seen) {
        return plan;
    }
    // Leaving shards still count until released: a replica over its share
    // takes only orphans.
    let mut mine = active.len();
    for index in 0..look.count {
        if look.holding.contains_key(&index) {
            continue;
        }
        let Some(since) = seen.free_since(index, look.now) else {
            continue;
        };
        let orphan = look.now.duration_since(since) >= 2 * look.period;
        if mine < share || orphan {
            plan.take.push(index);
            mine += 1;
        }
    }
    plan
}

#[cfg(test)]
mod tests;
