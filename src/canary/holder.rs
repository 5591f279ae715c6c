//! Who holds a canary's lease, and for how long by default.
use std::time::Duration;

/// This console as a lease holder, `USER@HOST/PID`: unique per process, so two consoles of
/// one person do not share a lease.
pub fn me(user: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}/{}", std::process::id())
}

/// Twice the window, at least 30s: the driver renews every quarter of it, so a console
/// that stops frees its canary within one ttl.
pub fn default_ttl(interval: Duration) -> Duration {
    interval.saturating_mul(2).max(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_names_user_and_process_and_the_ttl_covers_two_windows() {
        let me = me("alice");
        assert!(me.starts_with("alice@"), "{me}");
        assert!(me.ends_with(&format!("/{}", std::process::id())), "{me}");
        assert_eq!(
            default_ttl(Duration::from_secs(60)),
            Duration::from_secs(120)
        );
        assert_eq!(default_ttl(Duration::from_secs(4)), Duration::from_secs(30));
    }
}
