//! Supervision: replicas start as child processes, exits are reaped, drains move from
//! out-of-traffic to SIGTERM to SIGKILL, and replicas that exit on their own restart
//! with a backoff, so a model that cannot load does not respawn every 200 ms.
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::super::children;
use super::super::spec::Revision;
use super::{Ctl, Replica};

/// Restarts after crashes: 250 ms doubling (from the first crash's 500 ms) to 10 s, until
/// a replica is ready again.
#[derive(Debug, Clone)]
pub(super) struct Restarts {
    /// Replicas that exited on their own since one was last ready.
    crashes: u32,
    next_start: Instant,
}

impl Default for Restarts {
    fn default() -> Self {
        Restarts {
            crashes: 0,
            next_start: Instant::now(),
        }
    }
}

impl Restarts {
    /// The wait before the next start after `crashes` crashes.
    fn backoff(crashes: u32) -> Duration {
        Duration::from_millis(250)
            .saturating_mul(1 << crashes.min(6))
            .min(Duration::from_secs(10))
    }

    fn crashed(&mut self, n: u32, now: Instant) {
        if n > 0 {
            self.crashes = self.crashes.saturating_add(n);
            self.next_start = now + Self::backoff(self.crashes);
        }
    }

    /// A replica is ready: the next crash starts the backoff afresh.
    pub(super) fn ready(&mut self) {
        self.crashes = 0;
    }

    pub(super) fn may_start(&self, now: Instant) -> bool {
        now >= self.next_start
    }
}

impl Ctl {
    /// Exited replicas leave; one that was not asked to stop is a crash.
    pub(super) fn reap(&mut self) {
        // (the deployment's, the canary's)
        let mut crashed = (0, 0);
        self.replicas.retain_mut(|r| match r.child.try_wait() {
            Ok(Some(st)) => {
                if r.draining.is_none() {
                    match r.canary {
                        Some(_) => crashed.1 += 1,
                        None => crashed.0 += 1,
                    }
                    tracing::warn!(replica = %r.name, status = %st, "replica exited");
                }
                false
            }
            _ => true,
        });
        self.restarts.crashed(crashed.0, Instant::now());
        self.canary_restarts.crashed(crashed.1, Instant::now());
    }

    /// Drains: out of traffic for `drain_grace`, then SIGTERM, then SIGKILL past `stop_timeout`.
    pub(super) fn move_drains(&mut self) {
        let (grace, timeout) = (self.cfg.drain_grace, self.cfg.stop_timeout);
        for r in &mut self.replicas {
            if let Some(since) = r.draining {
                match r.term_sent {
                    None if since.elapsed() >= grace => {
                        children::signal(&r.child, libc::SIGTERM);
                        r.term_sent = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() >= timeout => {
                        let _ = r.child.kill();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Starts one replica of the current revision on a free port.
    pub(super) fn start_one(&mut self) {
        let Some(rev) = self.spec.current_revision().cloned() else {
            return;
        };
        self.seq += 1;
        let name = format!("{}-r{}-{}", self.spec.name, rev.number, self.seq);
        self.start_replica(name, rev, None);
    }

    /// Starts one replica of `rev` named `name` on a free port (a canary's when `canary`
    /// names it).
    pub(super) fn start_replica(&mut self, name: String, rev: Revision, canary: Option<String>) {
        let port = match children::free_port() {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot start a replica"),
        };
        let log = self.cfg.store.log_path(&name);
        match children::spawn(&self.cfg.serve_bin, &rev, &self.spec.model_name, port, &log) {
            Ok(child) => self.replicas.push(Replica {
                name,
                revision: rev.number,
                canary,
                port,
                child,
                started: Timestamp::now(),
                ready: false,
                draining: None,
                term_sent: None,
                inflight: None,
                busy: None,
            }),
            Err(e) => tracing::error!(error = %e, "cannot start a replica"),
        }
    }

    /// Out of traffic, SIGTERM to all, then wait for each (SIGKILL past the timeout).
    pub(super) fn stop_all(&mut self) {
        if let Ok(mut set) = self.ready_set.write() {
            set.clear();
        }
        for r in &self.replicas {
            children::signal(&r.child, libc::SIGTERM);
        }
        for r in &mut self.replicas {
            children::stop(&mut r.child, self.cfg.stop_timeout);
        }
        self.replicas.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Restarts;

    #[test]
    fn restarts_back_off_to_ten_seconds_until_one_is_ready() {
        let ms: Vec<u128> = (1..8).map(|c| Restarts::backoff(c).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
        let mut r = Restarts::default();
        let now = Instant::now();
        assert!(r.may_start(now));
        r.crashed(0, now);
        assert!(r.may_start(now));
        r.crashed(1, now);
        assert!(!r.may_start(now));
        assert!(r.may_start(now + Duration::from_millis(500)));
        r.crashed(2, now);
        assert!(!r.may_start(now + Duration::from_millis(1999)));
        r.ready();
        r.crashed(1, now);
        assert!(r.may_start(now + Duration::from_millis(500)));
    }
}
