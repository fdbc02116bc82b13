//! libgit2's network timeouts.
//!
//! libgit2 has no per-operation timeout; an unreachable server would hang a
//! fetch for the operating system's TCP timeout (minutes). Its global
//! connect and read timeouts are the only bound, and git2 exposes them as
//! `unsafe` because they are process-wide settings that must not change
//! while another thread is connecting. jobcd sets them once, before its first
//! network operation, from the first source's timeout.

use std::sync::Once;
use std::time::Duration;

static APPLY: Once = Once::new();

/// Sets libgit2's connect and read timeouts, once per process.
#[allow(unsafe_code)]
pub(crate) fn apply(timeout: Duration) {
    APPLY.call_once(|| {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: called once (std::sync::Once), before any thread of this
        // process starts a libgit2 network operation — `apply` runs at the
        // top of the only path that opens connections — so nothing reads the
        // options while they change.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms);
            let _ = git2::opts::set_server_timeout_in_milliseconds(ms);
        }
    });
}
