//! Fresh identifiers for Job instances and pods: a hash of the seed, a
//! per-process counter, the process id and the time, so two calls never
//! collide within a run and practically never across runs.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// 32 bytes never returned before by this process for any seed.
pub(crate) fn fresh(seed: &str) -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = jiff::Timestamp::now().as_nanosecond();
    Sha256::digest(format!("{seed}/{n}/{}/{now}", std::process::id())).into()
}

/// `bytes` (16 or more) as a Kubernetes uid: 8-4-4-4-12 hex digits.
pub(crate) fn uid(bytes: &[u8]) -> String {
    let hex = crate::hex::hex(&bytes[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_seed_gives_different_ids() {
        assert_ne!(super::fresh("a"), super::fresh("a"));
    }

    #[test]
    fn a_uid_has_kubernetes_shape() {
        assert_eq!(
            super::uid(&[0xab; 32]),
            "abababab-abab-abab-abab-abababababab"
        );
    }
}
