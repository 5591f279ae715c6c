//! The C allocator's two knobs that matter for a console holding 10,000 pods (glibc only;
//! elsewhere these do nothing). A complete list arrives as one burst of allocations,
//! most of it freed again once the list is in the store (pages of the response, the
//! events beyond the ones kept); glibc keeps freed memory in per-thread arenas unless
//! asked to give it back.

/// At most two arenas: the watch tasks run on every runtime thread, and each thread's
/// arena otherwise keeps its own share of the freed list pages.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tunable; it is called before other threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives memory freed after a large list back to the system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; it takes the allocator's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
