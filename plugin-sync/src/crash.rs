//! Test hook: `__PLUGIN_SYNC_CRASH_AT=<point>` aborts the process at that
//! point, as a kill would, so tests can check that every interrupted sync
//! leaves a usable state. Points: `fetched`, `checked-out`, `validated`,
//! `copied`, `generated`, `locked`.

/// Aborts the process if `__PLUGIN_SYNC_CRASH_AT` names `point`.
pub fn point(point: &str) {
    if std::env::var_os("__PLUGIN_SYNC_CRASH_AT").is_some_and(|p| p == point) {
        errln!("crashing at `{point}` as __PLUGIN_SYNC_CRASH_AT asks");
        std::process::abort();
    }
}
