//! The scheduling priority of the open loop's sending threads (`--sender-priority`).
//!
//! A load generator beside the server it measures (the same machine, loopback targets)
//! takes CPU the server needs: on a machine of 2 cores, a sending thread that holds a core
//! when the server's thread wakes delays that answer, and the delay is counted as the
//! server's. At idle priority (Linux `SCHED_IDLE`) the senders run only on CPU nobody else
//! wants, and a waking server takes the core from them at once. Their own delays are not
//! counted as the server's: a send that starts late shows as lag against the schedule, and
//! the lean client dates an answer read late by the kernel's receive stamp
//! ([`super::arrival`]), not by the read (which is why `auto` is idle for that client only).
use std::io;
use std::net::IpAddr;

use crate::load::endpoint::Endpoint;

/// What `--sender-priority` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SenderPriority {
    /// Idle when every target is on this machine (a loopback address or `localhost`) and
    /// the client dates answers by the kernel's receive stamp, normal otherwise.
    Auto,
    /// The threads' priority as started: they compete with the server for the CPU (the
    /// default: idle senders starve once the server takes most of the CPU).
    #[default]
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
    /// What the senders of a run to `targets` should run at; `stamped`: the run's client
    /// dates answers by the kernel's receive stamp (the lean HTTP/1.1 client on plain TCP).
    /// Other clients time the read, and an idle sender that reads late would add its wait
    /// to the server's figures: auto keeps them normal.
    pub fn wanted(self, targets: &[Endpoint], stamped: bool) -> Applied {
        match self {
            SenderPriority::Normal => Applied::Normal,
            SenderPriority::Idle => Applied::Idle,
            SenderPriority::Auto
                if stamped && !targets.is_empty() && targets.iter().all(on_this_machine) =>
            {
                Applied::Idle
            }
            SenderPriority::Auto => Applied::Normal,
        }
    }
}

/// A target on this machine: a loopback address, `localhost` (RFC 6761: always loopback),
/// or the unspecified address (which Linux connects to this machine).
fn on_this_machine(ep: &Endpoint) -> bool {
    let lower = ep.host.to_ascii_lowercase();
    let host = lower.strip_suffix('.').unwrap_or(&lower);
    let local = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V6(v6) => local(ip) || v6.to_ipv4_mapped().is_some_and(|v4| local(v4.into())),
            IpAddr::V4(_) => local(ip),
        })
}

/// A thread as the scheduler knows it (its TID on Linux), so that its priority can be set
/// from another thread: the one starting the lanes, at normal priority, rather than the
/// lane itself, which once idle may wait long for a core to say how it went.
#[derive(Debug, Clone, Copy)]
pub struct SchedThread {
    #[cfg(target_os = "linux")]
    tid: libc::pid_t,
}

impl SchedThread {
    /// The calling thread.
    pub fn current() -> SchedThread {
        SchedThread {
            // SAFETY: gettid takes no arguments and cannot fail.
            #[cfg(target_os = "linux")]
            tid: unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t,
        }
    }

    /// Puts this thread at `p`. An error says the OS refused idle (or has no such policy),
    /// and the thread stays as it was; normal leaves a thread as it started.
    pub fn set(self, p: Applied) -> io::Result<()> {
        match p {
            Applied::Normal => Ok(()),
            Applied::Idle => self.set_idle(),
        }
    }

    #[cfg(target_os = "linux")]
    fn set_idle(self) -> io::Result<()> {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: tid names a thread of this process that is alive (its starter holds it
        // until told); param is a valid sched_param (SCHED_IDLE takes priority 0). Lowering
        // a thread of one's own needs no privilege.
        if unsafe { libc::sched_setscheduler(self.tid, libc::SCHED_IDLE, &param) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn set_idle(self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "idle scheduling is Linux's SCHED_IDLE",
        ))
    }
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
            (&["http://0.0.0.0:8080/"], Applied::Idle),
            (&["http://[::]:8080/"], Applied::Idle),
            (&["http://localhost.:8080/"], Applied::Idle),
            (&["http://model.ns.svc:8080/"], Applied::Normal),
            (&["http://localhost.example.com/"], Applied::Normal),
            (&[], Applied::Normal),
        ];
        for (urls, want) in cases {
            assert_eq!(
                SenderPriority::Auto.wanted(&targets(urls), true),
                *want,
                "{urls:?}"
            );
        }
        let remote = targets(&["http://10.0.0.7/"]);
        assert_eq!(SenderPriority::Idle.wanted(&remote, true), Applied::Idle);
        let local = targets(&["http://127.0.0.1/"]);
        assert_eq!(SenderPriority::Normal.wanted(&local, true), Applied::Normal);
        // a client that times the read stays normal unless told
        assert_eq!(SenderPriority::Auto.wanted(&local, false), Applied::Normal);
        assert_eq!(SenderPriority::Idle.wanted(&local, false), Applied::Idle);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_put_at_idle_by_another_runs_at_idle_and_others_do_not() {
        for want in [Applied::Idle, Applied::Normal] {
            let (tx, rx) = std::sync::mpsc::channel();
            let (go_tx, go) = std::sync::mpsc::channel::<()>();
            let t = std::thread::spawn(move || {
                tx.send(SchedThread::current()).unwrap();
                go.recv().unwrap();
                of_this_thread().unwrap()
            });
            rx.recv().unwrap().set(want).unwrap();
            go_tx.send(()).unwrap();
            assert_eq!(t.join().unwrap(), want, "{want:?}");
            // the policy is the thread's, not the process's
            assert_eq!(of_this_thread().unwrap(), Applied::Normal);
        }
    }
}
