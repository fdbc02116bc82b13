//! Giving freed memory back to the system after a reconcile.
//!
//! A reconcile of a large source allocates tens of megabytes for a moment
//! (1,000 CronJobs: about 29 MB at its peak, measured with heaptrack) and
//! frees nearly all of it (under 3 MB stays live). glibc keeps the freed
//! pages: the heap can only shrink from its top, and a few allocations that
//! outlive the reconcile pin the rest, so an idle `jobcd serve` held about
//! 27 MB of anonymous memory it no longer used (`benches/serve.rs`).
//! `malloc_trim(0)` returns every free page, wherever it is in the heap.

use std::time::Duration;

/// How long after a reconcile the work it set off (the local executor's
/// pass over its CronJobs, status deliveries) has surely ended.
const SETTLED: Duration = Duration::from_secs(2);

/// After a reconcile: free pages go back now, and again once the work it
/// set off in other tasks has settled.
pub fn after_work() {
    release_free_memory();
    tokio::spawn(async {
        tokio::time::sleep(SETTLED).await;
        release_free_memory();
    });
}

/// Returns the allocator's free pages to the system (glibc only; elsewhere
/// nothing to do).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no
    // pointers and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
