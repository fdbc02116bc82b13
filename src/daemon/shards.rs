//! Sources sharded across `jobcd serve` replicas: when one leader is not
//! enough, `leaderElection.shards: N` splits the sources into N shards by a
//! stable hash of their names, each shard guarded by its own
//! `coordination.k8s.io/v1` Lease (`<leaseName>-shard-<i>`). A replica
//! reconciles the sources of the shards it holds, and nothing else.
//!
//! Kubernetes does the coordination: every change to a shard Lease is a
//! merge patch carrying the `resourceVersion` it was decided on, so of two
//! replicas deciding at once one gets 409 Conflict and looks again. Each
//! replica also stamps itself as a member on the coordination Lease
//! (`<leaseName>`, annotation `member.jobcd.dev/<identity>`, renewed like a
//! Lease), so every replica knows how many share the work and takes its
//! fair share, ⌈N / members⌉:
//!
//! - a replica renews what it holds every third of the Lease duration;
//! - it takes a free shard (never held, released, or not renewed for the
//!   Lease's duration as this replica observed it — clocks are not
//!   compared) while it holds less than its share, and any free shard
//!   nobody under their share took for two renewal periods;
//! - it gives a shard up when it holds more than its share: no new
//!   reconcile of the shard's sources starts, the ones in flight finish,
//!   then the Lease is released;
//! - a replica that cannot renew a shard before the Lease would expire
//!   stops at once, as a leader that loses its Lease does.

mod decide;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::decide::{Holding, Look, Seen};
use super::leader::Relay;
use crate::config::LeaderElection;

/// Annotations of the coordination Lease naming the members.
pub const MEMBER_PREFIX: &str = "member.jobcd.dev/";
/// The label on shard Leases naming their coordination Lease.
pub const SHARDS_OF: &str = "jobcd.dev/shards-of";

/// The shard of source `name` among `shards`: FNV-1a of the name, so that
/// every replica and every version of jobcd agrees.
pub fn shard_of(name: &str, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

/// The name of shard `index`'s Lease.
pub fn lease_name(coordination: &str, index: u32) -> String {
    format!("{coordination}-shard-{index}")
}

/// How the shard loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Asked to stop; the shards held were released.
    Stopped,
    /// A shard could not be renewed in time (another replica may hold
    /// it now): this replica must stop applying at once.
    Lost(u32),
}

/// A shard this replica holds.
#[derive(Debug)]
struct Held {
    /// Until when the hold is good, by this machine's clock: the start of
    /// the last successful renewal plus the Lease duration.
    until: Instant,
    /// Reconciles of its sources in flight.
    in_flight: usize,
    /// Being given up: no new reconcile starts.
    leaving: bool,
}

/// This replica's part in the sharding.
pub struct Shards {
    api: Api<Lease>,
    coordination: String,
    count: u32,
    identity: String,
    duration: Duration,
    held: Mutex<HashMap<u32, Held>>,
    taken: watch::Sender<BTreeSet<u32>>,
    /// Where the Leases are, for messages.
    pub namespace: String,
}

/// A reconcile of a source of a held shard; the shard is not released
/// while it lives.
pub struct InFlight<'a> {
    shards: &'a Shards,
    shard: u32,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.shards.lock().get_mut(&self.shard) {
            held.in_flight = held.in_flight.saturating_sub(1);
        }
    }
}

impl Shards {
    /// This replica (`identity`) in the sharding `settings` describe, its
    /// Leases in `namespace`.
    pub fn new(client: Client, namespace: &str, settings: &LeaderElection, identity: &str) -> Self {
        Shards {
            api: Api::namespaced(client, namespace),
            coordination: settings.lease_name.clone(),
            count: settings.shards.max(1),
            identity: identity.to_string(),
            duration: Duration::from_secs(settings.lease_duration),
            held: Mutex::new(HashMap::new()),
            taken: watch::channel(BTreeSet::new()).0,
            namespace: namespace.to_string(),
        }
    }

    /// The relay of pushes through the coordination Lease, to the replica
    /// holding the source's shard.
    pub fn relay(&self) -> Relay {
        Relay::on(self.api.clone(), &self.coordination)
    }

    /// How often a round runs: as often as a leader renews its Lease.
    fn period(&self) -> Duration {
        Duration::from_secs(super::leader::grace(self.duration.as_secs()))
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this replica reconciles source `name` now.
    pub fn owns(&self, name: &str) -> bool {
        let shard = shard_of(name, self.count);
        self.lock()
            .get(&shard)
            .is_some_and(|h| !h.leaving && Instant::now() < h.until)
    }

    /// Whether this replica holds any shard.
    pub fn holds_any(&self) -> bool {
        self.lock()
            .values()
            .any(|h| !h.leaving && Instant::now() < h.until)
    }

    /// Starts a reconcile of source `name`, if this replica owns it.
    pub fn begin(&self, name: &str) -> Option<InFlight<'_>> {
        let shard = shard_of(name, self.count);
        let mut held = self.lock();
        let h = held.get_mut(&shard)?;
        if h.leaving || Instant::now() >= h.until {
            return None;
        }
        h.in_flight += 1;
        Some(InFlight {
            shards: self,
            shard,
        })
    }

    /// The shards taken so far; changes each time one is taken or given
    /// up, to reconcile a taken shard's sources at once.
    pub fn taken(&self) -> watch::Receiver<BTreeSet<u32>> {
        self.taken.subscribe()
    }

    /// Takes part until `until` is cancelled (then releases what it holds)
    /// or a shard is lost.
    pub async fn run(&self, until: CancellationToken) -> Ended {
        let period = self.period();
        let mut seen = Seen::default();
        loop {
            if let Some(lost) = self.round(&mut seen).await {
                self.lock().clear();
                return Ended::Lost(lost);
            }
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = until.cancelled() => {
                    self.release_all().await;
                    return Ended::Stopped;
                }
            }
        }
    }

    /// One round: stamp membership, renew, give up, take. A shard lost
    /// for good is returned.
    async fn round(&self, seen: &mut Seen) -> Option<u32> {
        let started = Instant::now();
        match self.stamp().await {
            Ok(lease) => seen.members(&lease, started),
            Err(e) => warn!(lease = %self.coordination, "stamping membership: {e}"),
        }
        let mut leases = HashMap::new();
        for index in 0..self.count {
            match self
                .api
                .get_opt(&lease_name(&self.coordination, index))
                .await
            {
                Ok(lease) => {
                    seen.shard(index, lease.as_ref(), started);
                    leases.insert(index, lease);
                }
                Err(e) => warn!(shard = index, "reading its Lease: {e}"),
            }
        }
        let holding: HashMap<u32, Holding> = self
            .lock()
            .iter()
            .map(|(&i, h)| {
                (
                    i,
                    Holding {
                        leaving: h.leaving,
                        in_flight: h.in_flight,
                    },
                )
            })
            .collect();
        let look = Look {
            count: self.count,
            identity: &self.identity,
            holding: &holding,
            now: started,
            period: self.period(),
        };
        let plan = decide::decide(&look, seen);
        if let Some(lost) = plan.lost {
            return Some(lost);
        }
        for &index in &plan.renew {
            let Some(Some(lease)) = leases.get(&index) else {
                if self.expired(index) {
                    return Some(index);
                }
                continue;
            };
            match self.hold(index, lease, false).await {
                Ok(()) => self.held_until(index, started + self.duration),
                Err(e) if is_conflict(&e) => return Some(index),
                Err(e) => {
                    warn!(shard = index, "renewing its Lease: {e}");
                    if self.expired(index) {
                        return Some(index);
                    }
                }
            }
        }
        for &index in &plan.leave {
            if let Some(h) = self.lock().get_mut(&index) {
                h.leaving = true;
            }
            info!(
                shard = index,
                "giving the shard up: more replicas share the work now"
            );
        }
        for &index in &plan.release {
            if let Some(Some(lease)) = leases.get(&index)
                && let Err(e) = self.let_go(index, lease).await
            {
                warn!(shard = index, "releasing its Lease: {e}");
            }
            self.lock().remove(&index);
            self.taken.send_modify(|t| {
                t.remove(&index);
            });
            info!(shard = index, "gave the shard up");
        }
        for &index in &plan.take {
            let lease = leases.get(&index).and_then(Option::as_ref);
            let taken = match lease {
                Some(lease) => self.hold(index, lease, true).await,
                None => self.create(index).await,
            };
            match taken {
                Ok(()) => {
                    self.lock().insert(
                        index,
                        Held {
                            until: started + self.duration,
                            in_flight: 0,
                            leaving: false,
                        },
                    );
                    self.taken.send_modify(|t| {
                        t.insert(index);
                    });
                    info!(
                        shard = index,
                        identity = %self.identity,
                        "took shard {index} of {}: this replica reconciles its sources",
                        self.count
                    );
                }
                // Another replica was quicker.
                Err(e) if is_conflict(&e) => {}
                Err(e) => warn!(shard = index, "taking its Lease: {e}"),
            }
        }
        None
    }

    fn expired(&self, index: u32) -> bool {
        self.lock()
            .get(&index)
            .is_none_or(|h| Instant::now() >= h.until)
    }

    fn held_until(&self, index: u32, until: Instant) {
        if let Some(h) = self.lock().get_mut(&index) {
            h.until = until;
        }
    }

    /// Stamps this replica on the coordination Lease (creating it), and
    /// returns the Lease as it is now.
    async fn stamp(&self) -> Result<Lease, kube::Error> {
        let key = member_key(&self.identity);
        let stamp = decide::stamp(self.count, Timestamp::now());
        let patch = serde_json::json!({
            "metadata": {"annotations": {key.clone(): stamp.clone()}}
        });
        match self.patch_coordination(&patch).await {
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.coordination.clone()),
                        labels: Some(labels(None)),
                        annotations: Some([(key, stamp)].into_iter().collect()),
                        ..ObjectMeta::default()
                    },
                    spec: None,
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Err(e) if is_conflict(&e) => self.api.get(&self.coordination).await,
                    created => created,
                }
            }
            patched => patched,
        }
    }

    /// Creates shard `index`'s Lease held by this replica.
    async fn create(&self, index: u32) -> Result<(), kube::Error> {
        let now = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(lease_name(&self.coordination, index)),
                labels: Some(labels(Some(&self.coordination))),
                ..ObjectMeta::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(self.duration.as_secs() as i32),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        self.api.create(&PostParams::default(), &lease).await?;
        Ok(())
    }

    /// Renews (or, `take`, takes) shard `index`'s Lease, as it was read.
    async fn hold(&self, index: u32, lease: &Lease, take: bool) -> Result<(), kube::Error> {
        let now = serde_json::to_value(MicroTime(Timestamp::now())).unwrap_or_default();
        let mut spec = serde_json::json!({
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration.as_secs(),
            "renewTime": now,
        });
        if take {
            let transitions = lease
                .spec
                .as_ref()
                .and_then(|s| s.lease_transitions)
                .unwrap_or(0);
            spec["acquireTime"] = now;
            spec["leaseTransitions"] = (transitions + 1).into();
        }
        self.patch_guarded(index, lease, spec).await
    }

    /// Releases shard `index`'s Lease, as it was read.
    async fn let_go(&self, index: u32, lease: &Lease) -> Result<(), kube::Error> {
        let spec = serde_json::json!({"holderIdentity": null, "renewTime": null});
        self.patch_guarded(index, lease, spec).await
    }

    /// A merge patch of `spec` that applies only if the Lease is still as
    /// it was read (its resourceVersion): 409 Conflict otherwise.
    async fn patch_guarded(
        &self,
        index: u32,
        lease: &Lease,
        spec: serde_json::Value,
    ) -> Result<(), kube::Error> {
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": spec,
        });
        self.api
            .patch(
                &lease_name(&self.coordination, index),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        Ok(())
    }

    /// At shutdown: gives every held shard up, so others take over at once.
    async fn release_all(&self) {
        let held: Vec<u32> = self.lock().drain().map(|(i, _)| i).collect();
        for index in held {
            let name = lease_name(&self.coordination, index);
            match self.api.get(&name).await {
                Ok(lease)
                    if lease
                        .spec
                        .as_ref()
                        .and_then(|s| s.holder_identity.as_deref())
                        == Some(self.identity.as_str()) =>
                {
                    if let Err(e) = self.let_go(index, &lease).await {
                        warn!(shard = index, "releasing its Lease: {e}");
                    }
                }
                Ok(_) => {}
                Err(e) => warn!(shard = index, "releasing its Lease: {e}"),
            }
        }
        let key = member_key(&self.identity);
        let patch = serde_json::json!({"metadata": {"annotations": {key: null}}});
        if let Err(e) = self.patch_coordination(&patch).await {
            warn!(lease = %self.coordination, "leaving the members: {e}");
        }
    }

    /// A merge patch of the coordination Lease's annotations.
    async fn patch_coordination(&self, patch: &serde_json::Value) -> Result<Lease, kube::Error> {
        self.api
            .patch(
                &self.coordination,
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
    }
}

/// The labels of a Lease: a shard's name its coordination Lease.
fn labels(shard_of: Option<&str>) -> std::collections::BTreeMap<String, String> {
    let mut labels = std::collections::BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "jobcd".to_string(),
    )]);
    if let Some(coordination) = shard_of {
        labels.insert(SHARDS_OF.to_string(), coordination.to_string());
    }
    labels
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The annotation naming member `identity`: the name part of a key is at
/// most 63 characters of `[A-Za-z0-9._-]`, beginning and ending
/// alphanumeric; a pod name always fits.
pub fn member_key(identity: &str) -> String {
    let mut name: String = identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    while name.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        name.pop();
    }
    let name = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let name = if name.is_empty() { "member" } else { name };
    format!("{MEMBER_PREFIX}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_always_lands_in_the_same_shard() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published vector).
        let fnv_a: u64 = 0xaf63_dc4c_8601_ec8c;
        assert_eq!(
            shard_of("a", u32::MAX),
            (fnv_a % u64::from(u32::MAX)) as u32
        );
        assert_eq!(shard_of("a", 7), (fnv_a % 7) as u32);
        assert_eq!(shard_of("payments", 1), 0);
        let spread: BTreeSet<u32> = (0..100).map(|i| shard_of(&format!("s{i}"), 3)).collect();
        assert_eq!(spread, BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn member_keys_are_valid_annotation_keys() {
        assert_eq!(
            member_key("jobcd-7d9f-abcde"),
            "member.jobcd.dev/jobcd-7d9f-abcde"
        );
        assert_eq!(member_key("host:1/2"), "member.jobcd.dev/host-1-2");
        assert_eq!(member_key("--"), "member.jobcd.dev/member");
        let long = "x".repeat(80) + "-";
        assert_eq!(member_key(&long).len(), MEMBER_PREFIX.len() + 63);
    }
}
