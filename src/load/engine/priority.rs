//! The scheduling priority of the open loop's sending threads (`--sender-priority`).
//!
//! A load generator beside the server it measures (the same machine, loopback targets)
//! takes CPU the server needs: on a machine of 2 cores, a sending thread that holds a core
//! when the server's thread wakes delays that answer, and the delay is counted as the
//! server's. At idle priority (Linux `SCHED_IDLE`) the senders run only on CPU nobody else
//! wants, and a waking server takes the core from them at once. Their own delays are not
//! lost: a send that starts late shows as lag against the schedule, and an answer read late
//! is dated by the kernel's receive stamp ([`super::arrival`]), not by the read.
use std::io;
use std::net::IpAddr;

use crate::load::endpoint::Endpoint;

/// What `--sender-priority` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SenderPriority {
    /// Idle when every target is on this machine (a loopback address or `localhost`),
    /// normal otherwise.
    #[default]
    Auto,
    /// The threads' priority as started: they compete with the server for the CPU.
    Normal,
    /// Idle priority: the senders yield the CPU to every other thread.
    Idle,
}

/// The priority the senders ran at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Normal,
    Idle,
}

impl Applied {
    pub fn name(self) -> &'static str {
        match self {
            Applied::Normal => "normal",
            Applied::Idle => "idle",
        }
    }
}

impl SenderPriority {
    /// What the senders of a run to `targets` should run at.
    pub fn wanted(self, targets: &[Endpoint]) -> Applied {
        match self {
            SenderPriority::Normal => Applied::Normal,
            SenderPriority::Idle => Applied::Idle,
            SenderPriority::Auto if !targets.is_empty() && targets.iter().all(on_this_machine) => {
                Applied::Idle
            }
            SenderPriority::Auto => Applied::Normal,
        }
    }
}

/// A target on this machine: a loopback address, or `localhost` (RFC 6761: always loopback).
fn on_this_machine(ep: &Endpoint) -> bool {
    let host = ep.host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            IpAddr::V4(v4) => v4.is_loopback(),
        })
}

/// Puts the calling thread at `p`. At idle, an error says the OS refused (or has no such
/// policy), and the thread stays as it was.
pub fn apply_to_this_thread(p: Applied) -> io::Result<()> {
    match p {
        // threads start at the normal policy of their process
        Applied::Normal => Ok(()),
        Applied::Idle => set_idle(),
    }
}

#[cfg(target_os = "linux")]
fn set_idle() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; param is a valid sched_param (SCHED_IDLE takes
    // priority 0). Lowering one's own policy needs no privilege.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_idle() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "idle scheduling is Linux's SCHED_IDLE",
    ))
}

/// The calling thread's priority as the OS has it (tests).
#[cfg(all(test, target_os = "linux"))]
pub fn of_this_thread() -> io::Result<Applied> {
    // SAFETY: pid 0 is the calling thread; no pointers.
    match unsafe { libc::sched_getscheduler(0) } {
        -1 => Err(io::Error::last_os_error()),
        libc::SCHED_IDLE => Ok(Applied::Idle),
        _ => Ok(Applied::Normal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(urls: &[&str]) -> Vec<Endpoint> {
        urls.iter().map(|u| Endpoint::parse(u).unwrap()).collect()
    }

    #[test]
    fn auto_is_idle_only_when_every_target_is_on_this_machine() {
        let cases: &[(&[&str], Applied)] = &[
            (&["http://127.0.0.1:8080/"], Applied::Idle),
            (&["http://127.3.4.5/"], Applied::Idle),
            (&["http://[::1]:8080/v2"], Applied::Idle),
            (&["http://[::ffff:127.0.0.1]/"], Applied::Idle),
            (&["http://localhost:8080/"], Applied::Idle),
            (&["http://LocalHost/"], Applied::Idle),
            (&["https://api.localhost/"], Applied::Idle),
            (&["http://127.0.0.1/", "http://localhost/"], Applied::Idle),
            (&["http://127.0.0.1/", "http://10.0.0.7/"], Applied::Normal),
            (&["http://10.0.0.7:8080/"], Applied::Normal),
            (&["http://0.0.0.0:8080/"], Applied::Normal),
            (&["http://model.ns.svc:8080/"], Applied::Normal),
            (&["http://localhost.example.com/"], Applied::Normal),
            (&[], Applied::Normal),
        ];
        for (urls, want) in cases {
            assert_eq!(
                SenderPriority::Auto.wanted(&targets(urls)),
                *want,
                "{urls:?}"
            );
        }
        let remote = targets(&["http://10.0.0.7/"]);
        assert_eq!(SenderPriority::Idle.wanted(&remote), Applied::Idle);
        let local = targets(&["http://127.0.0.1/"]);
        assert_eq!(SenderPriority::Normal.wanted(&local), Applied::Normal);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_put_at_idle_runs_at_idle_and_others_do_not() {
        let idle =
            std::thread::spawn(|| apply_to_this_thread(Applied::Idle).map(|()| of_this_thread()))
                .join()
                .unwrap()
                .unwrap()
                .unwrap();
        assert_eq!(idle, Applied::Idle);
        // the policy is the thread's, not the process's
        assert_eq!(of_this_thread().unwrap(), Applied::Normal);
        let normal =
            std::thread::spawn(|| apply_to_this_thread(Applied::Normal).map(|()| of_this_thread()))
                .join()
                .unwrap()
                .unwrap()
                .unwrap();
        assert_eq!(normal, Applied::Normal);
    }
}
