use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use super::*;

const PERIOD: Duration = Duration::from_secs(5);

fn lease(holder: Option<&str>, renewed: i64) -> Lease {
    Lease {
        metadata: ObjectMeta::default(),
        spec: Some(LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..LeaseSpec::default()
        }),
    }
}

fn coordination(members: &[(&str, &str)]) -> Lease {
    let annotations: BTreeMap<String, String> = members
        .iter()
        .map(|(who, stamp)| (member_key(who), format!("3@{stamp}")))
        .collect();
    Lease {
        metadata: ObjectMeta {
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: None,
    }
}

fn holding(shards: &[(u32, bool, usize)]) -> HashMap<u32, Holding> {
    shards
        .iter()
        .map(|&(i, leaving, in_flight)| (i, Holding { leaving, in_flight }))
        .collect()
}

fn look<'a>(identity: &'a str, holding: &'a HashMap<u32, Holding>, now: Instant) -> Look<'a> {
    Look {
        count: 3,
        identity,
        holding,
        now,
        period: PERIOD,
    }
}

#[test]
fn the_first_replica_takes_every_free_shard() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1")]), t0);
    for i in 0..3 {
        seen.shard(i, None, t0);
    }
    let none = holding(&[]);
    let plan = decide(&look("a", &none, t0), &seen);
    assert_eq!(plan.take, vec![0, 1, 2]);
    assert!(plan.renew.is_empty() && plan.leave.is_empty() && plan.lost.is_none());
}

#[test]
fn a_replica_over_its_share_gives_the_highest_up_and_releases_once_idle() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1"), ("b", "1"), ("c", "1")]), t0);
    for i in 0..3 {
        seen.shard(i, Some(&lease(Some("a"), 100)), t0);
    }
    let all = holding(&[(0, false, 0), (1, false, 0), (2, false, 2)]);
    let plan = decide(&look("a", &all, t0), &seen);
    assert_eq!(plan.leave, vec![2, 1]);
    assert_eq!(plan.renew, vec![0, 1, 2]);
    assert!(plan.take.is_empty());
    // Next round: shard 1 is idle and released, shard 2 still has
    // reconciles in flight and stays held.
    let later = holding(&[(0, false, 0), (1, true, 0), (2, true, 1)]);
    let plan = decide(&look("a", &later, t0 + PERIOD), &seen);
    assert_eq!(plan.release, vec![1]);
    assert_eq!(plan.renew, vec![0, 2]);
    assert!(plan.leave.is_empty());
}

#[test]
fn a_lease_held_by_another_is_taken_only_after_it_stopped_changing_for_its_duration() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1"), ("b", "1")]), t0);
    seen.shard(0, Some(&lease(Some("a"), 100)), t0);
    seen.shard(1, Some(&lease(Some("a"), 100)), t0);
    seen.shard(2, Some(&lease(Some("b"), 100)), t0);
    let mine = holding(&[(2, false, 0)]);
    assert!(decide(&look("b", &mine, t0), &seen).take.is_empty());
    // a renews shard 0 but not shard 1 (its clock is not compared: what
    // counts is that b saw no renewal for 15 s).
    let t1 = t0 + Duration::from_secs(14);
    seen.members(&coordination(&[("a", "2"), ("b", "2")]), t1);
    seen.shard(0, Some(&lease(Some("a"), 114)), t1);
    seen.shard(1, Some(&lease(Some("a"), 100)), t1);
    seen.shard(2, Some(&lease(Some("b"), 114)), t1);
    assert!(decide(&look("b", &mine, t1), &seen).take.is_empty());
    let t2 = t0 + Duration::from_secs(15);
    let plan = decide(&look("b", &mine, t2), &seen);
    // Two members, a share of 2: b holds 1 and takes the expired one.
    assert_eq!(plan.take, vec![1]);
    assert_eq!(plan.renew, vec![2]);
}

#[test]
fn a_dead_members_shards_go_to_the_survivors() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1"), ("b", "1"), ("c", "1")]), t0);
    for (i, who) in ["a", "b", "c"].iter().enumerate() {
        seen.shard(i as u32, Some(&lease(Some(who), 100)), t0);
    }
    // c stops stamping and renewing; a and b go on.
    let mut now = t0;
    for round in 1..=3 {
        now = t0 + PERIOD * round;
        let stamp = round.to_string();
        seen.members(
            &coordination(&[("a", &stamp), ("b", &stamp), ("c", "1")]),
            now,
        );
        seen.shard(0, Some(&lease(Some("a"), 100 + i64::from(round))), now);
        seen.shard(1, Some(&lease(Some("b"), 100 + i64::from(round))), now);
        seen.shard(2, Some(&lease(Some("c"), 100)), now);
    }
    let a = holding(&[(0, false, 0)]);
    let plan = decide(&look("a", &a, now), &seen);
    // Two members alive: a share of 2 each, and c's shard is free.
    assert_eq!(plan.take, vec![2]);
    // While c was alive, the share was 1 and a took nothing.
    let mut early = Seen::default();
    early.members(&coordination(&[("a", "1"), ("b", "1"), ("c", "1")]), t0);
    early.shard(2, Some(&lease(None, 100)), t0);
    assert!(decide(&look("a", &a, t0), &early).take.is_empty());
}

#[test]
fn a_replica_at_its_share_takes_only_an_orphan() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1"), ("b", "1"), ("c", "1")]), t0);
    seen.shard(0, Some(&lease(Some("a"), 100)), t0);
    seen.shard(1, Some(&lease(Some("b"), 100)), t0);
    seen.shard(2, Some(&lease(None, 100)), t0);
    let a = holding(&[(0, false, 0)]);
    assert!(decide(&look("a", &a, t0), &seen).take.is_empty());
    // Still free two periods later: nobody under their share took it.
    let plan = decide(&look("a", &a, t0 + 2 * PERIOD), &seen);
    assert_eq!(plan.take, vec![2]);
}

#[test]
fn a_held_shard_another_replica_holds_now_is_lost() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    seen.members(&coordination(&[("a", "1")]), t0);
    seen.shard(0, Some(&lease(Some("b"), 100)), t0);
    let a = holding(&[(0, false, 0)]);
    let plan = decide(&look("a", &a, t0), &seen);
    assert_eq!(plan.lost, Some(0));
    assert!(plan.renew.is_empty() && plan.take.is_empty());
}

#[test]
fn nothing_is_taken_while_an_unsharded_leader_holds_the_coordination_lease() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    let mut coordination = coordination(&[("a", "1")]);
    coordination.spec = lease(Some("old-leader"), 100).spec;
    seen.members(&coordination, t0);
    seen.shard(0, None, t0);
    let none = holding(&[]);
    assert!(decide(&look("a", &none, t0), &seen).take.is_empty());
    // The old leader is gone once its Lease is no longer renewed.
    seen.members(&coordination, t0 + Duration::from_secs(15));
    let plan = decide(&look("a", &none, t0 + Duration::from_secs(15)), &seen);
    assert_eq!(plan.take, vec![0]);
}

#[test]
fn nothing_is_taken_while_a_member_splits_the_sources_otherwise() {
    let t0 = Instant::now();
    let mut seen = Seen::default();
    let mut lease = coordination(&[("a", "1")]);
    lease
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(member_key("old"), "2@1".into());
    seen.members(&lease, t0);
    for i in 0..3 {
        seen.shard(i, None, t0);
    }
    let none = holding(&[]);
    assert!(decide(&look("a", &none, t0), &seen).take.is_empty());
    // The old replica stops stamping: once it is no longer alive, take.
    let later = t0 + 3 * PERIOD;
    seen.members(&lease, later);
    assert_eq!(decide(&look("a", &none, later), &seen).take, vec![0, 1, 2]);
    assert_eq!(
        stamp(3, Timestamp::from_second(0).unwrap()),
        "3@1970-01-01T00:00:00Z"
    );
}
