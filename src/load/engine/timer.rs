//! A sleep precise to microseconds inside a tokio runtime (tokio's own timer ticks in
//! milliseconds): a `timerfd` registered with the runtime's I/O driver, so a lane that
//! waits for its next send sleeps in the same `epoll_wait` as its connections: one wake-up
//! serves both, and no other thread is involved. Where `timerfd` is missing (not Linux, or
//! refused) it falls back to tokio's timer, a millisecond late at most.
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

pub struct PreciseTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<linux::TimerFd>>,
}

impl PreciseTimer {
    /// Must be called inside a runtime with I/O and time enabled (the lanes' and the
    /// console's runtimes are).
    pub fn new() -> PreciseTimer {
        PreciseTimer {
            #[cfg(target_os = "linux")]
            fd: linux::TimerFd::new().ok().and_then(|t| {
                // SAFETY: the TimerFd owns its descriptor, which stays open and the same
                // until the AsyncFd (its only owner) drops it.
                unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        t,
                        tokio::io::Interest::READABLE,
                    )
                }
                .ok()
            }),
        }
    }

    /// Whether sleeps are precise (`timerfd`) rather than tokio's milliseconds.
    #[cfg(test)]
    pub fn is_precise(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.fd.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Returns at `at` or just after it (at once when `at` has passed).
    pub async fn sleep_until(&mut self, at: Instant) {
        let now = Instant::now();
        if at <= now {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd
            && fd.get_ref().arm(at - now).is_ok()
        {
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    break;
                };
                match fd.get_ref().expirations() {
                    Ok(_) => {
                        // read: the next sleep must wait for a new edge, not see this one
                        ready.clear_ready();
                        return;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => ready.clear_ready(),
                    Err(_) => break,
                }
            }
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    /// A non-blocking one-shot `CLOCK_MONOTONIC` timerfd (the clock of `Instant`).
    pub struct TimerFd(OwnedFd);

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            // SAFETY: timerfd_create takes two integer flags and returns a new descriptor.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd was just created and is owned by nothing else.
            Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        /// Expires once, `after` from now (at least a nanosecond: zero would disarm it).
        pub fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: spec is a valid itimerspec; the old value is not asked for (null).
            let r = unsafe {
                libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Reads the expiration count (WouldBlock before the timer fired).
        pub fn expirations(&self) -> io::Result<u64> {
            let mut buf = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a buffer of 8.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            if n == 8 {
                Ok(u64::from_ne_bytes(buf))
            } else if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Err(io::Error::from(io::ErrorKind::UnexpectedEof))
            }
        }
    }

    impl AsRawFd for TimerFd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_raw_fd()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sleeps_are_precise_to_well_under_a_millisecond() {
        let mut t = PreciseTimer::new();
        assert!(t.is_precise(), "no timerfd on this machine");
        let mut late = Vec::new();
        for _ in 0..50 {
            let at = Instant::now() + Duration::from_micros(300);
            t.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woke before its time");
            let over = now - at;
            late.push(over);
        }
        late.sort();
        // tokio's timer would be up to a millisecond late on every one
        assert!(
            late[25] < Duration::from_micros(500),
            "median overshoot {:?}",
            late[25]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_past_deadline_returns_at_once_and_the_timer_is_reusable() {
        let mut t = PreciseTimer::new();
        let began = Instant::now();
        t.sleep_until(began - Duration::from_millis(5)).await;
        t.sleep_until(began + Duration::from_millis(20)).await;
        let took = began.elapsed();
        assert!(
            took >= Duration::from_millis(20) && took < Duration::from_millis(500),
            "{took:?}"
        );
    }
}
