//! Crash points for the crash-safety tests: with `RELANCE_FAILPOINT=<name>` in the
//! environment the process aborts at that point, as a `kill -9` would stop it. Unset (always,
//! in production), a point is one comparison.

use std::sync::OnceLock;

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Aborts the process if `RELANCE_FAILPOINT` names this point.
pub fn hit(name: &str) {
    let armed = ARMED.get_or_init(|| std::env::var("RELANCE_FAILPOINT").ok());
    if armed.as_deref() == Some(name) {
        eprintln!("relance: failpoint {name} reached, aborting");
        std::process::abort();
    }
}
