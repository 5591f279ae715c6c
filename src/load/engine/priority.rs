//! The scheduling priority of the load's sending threads (`--sender-priority`).
//!
//! A load generator beside the server it measures (the same machine, loopback targets)
//! takes CPU the server needs: on a machine of 2 cores, a sending thread that wakes (an
//! answer came, a send is due) takes the core from a running server thread at once, and
//! the server's work waits. At batch priority (Linux `SCHED_BATCH`) the senders keep their
//! fair share of the CPU, but a waking sender waits for the running thread's turn to end
//! instead of preempting it: the server runs its work through, and the sender then handles
//! every answer that came meanwhile in one go. Beside a server on 2 cores that gave the
//! closed loop 16-34 % more answers per second, and at half the server's capacity took
//! the open loop's p99 from 3.5 to 0.6 ms. At idle priority (`SCHED_IDLE`) the senders
//! run only on CPU nobody else wants: the best tails well below the server's capacity, but
//! they starve near it.
//! The senders' own delays are not counted as the server's: a send that starts late shows
//! as lag against the schedule, and the lean client dates an answer read late by the
//! kernel's receive stamp ([`super::arrival`]), not by the read (which is why `auto` lowers
//! the senders for that client only).
use std::io;
use std::net::IpAddr;

use crate::load::endpoint::Endpoint;

/// What `--sender-priority` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SenderPriority {
    /// Batch when every target is on this machine (a loopback address or `localhost`) and
    /// the client dates answers by the kernel's receive stamp, normal otherwise (the
    /// default).
    #[default]
    Auto,
    /// The threads' priority as started: a sender that wakes takes the core from whatever
    /// runs there, a server on this machine included.
    Normal,
    /// Batch scheduling: the senders get their fair share of the CPU, but a sender that
    /// wakes waits for the running thread's turn to end instead of taking its core.
    Batch,
    /// Idle priority: the senders yield the CPU to every other thread (they fall behind
    /// once a server on this machine takes most of the CPU).
    Idle,
}

/// The priority the senders ran at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Normal,
    Batch,
    Idle,
}

impl Applied {
    pub fn name(self) -> &'static str {
        match self {
            Applied::Normal => "normal",
            Applied::Batch => "batch",
            Applied::Idle => "idle",
        }
    }
}

impl SenderPriority {
    /// What the senders of a run to `targets` should run at; `stamped`: the run's client
    /// dates answers by the kernel's receive stamp (the lean HTTP/1.1 client on plain TCP).
    /// Other clients time the read, and a sender that reads late would add its wait to the
    /// server's figures: auto keeps them normal.
    pub fn wanted(self, targets: &[Endpoint], stamped: bool) -> Applied {
        match self {
            SenderPriority::Normal => Applied::Normal,
            SenderPriority::Batch => Applied::Batch,
            SenderPriority::Idle => Applied::Idle,
            SenderPriority::Auto
                if stamped && !targets.is_empty() && targets.iter().all(on_this_machine) =>
            {
                Applied::Batch
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
/// and read by itself ([`spawn_at`]) or from another thread: the one starting the open
/// loop's lanes, at normal priority, rather than the lane itself, which once idle may wait
/// long for a core to say how it went.
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

    /// Puts this thread at `p`. An error says the OS refused batch or idle (or has no such
    /// policy), and the thread stays as it was; normal leaves a thread as it started.
    pub fn set(self, p: Applied) -> io::Result<()> {
        match p {
            Applied::Normal => Ok(()),
            #[cfg(target_os = "linux")]
            Applied::Batch => self.set_policy(libc::SCHED_BATCH),
            #[cfg(target_os = "linux")]
            Applied::Idle => self.set_policy(libc::SCHED_IDLE),
            #[cfg(not(target_os = "linux"))]
            Applied::Batch | Applied::Idle => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "batch and idle scheduling are Linux's SCHED_BATCH and SCHED_IDLE",
            )),
        }
    }

    #[cfg(target_os = "linux")]
    fn set_policy(self, policy: libc::c_int) -> io::Result<()> {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: tid names a thread of this process that is alive (the calling thread, or
        // one its starter holds until told); param is a valid sched_param that outlives the
        // call (SCHED_BATCH and SCHED_IDLE take priority 0). Moving a thread of one's own
        // from SCHED_OTHER to either needs no privilege; from SCHED_IDLE (a process started
        // under `chrt -i`) the OS may refuse, which comes back as the error.
        if unsafe { libc::sched_setscheduler(self.tid, policy, &param) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// This thread's priority as the OS has it (other policies, the real-time ones, count
    /// as normal).
    #[cfg(target_os = "linux")]
    pub fn get(self) -> io::Result<Applied> {
        // SAFETY: tid names a thread of this process that is alive, as above; no pointers.
        match unsafe { libc::sched_getscheduler(self.tid) } {
            -1 => Err(io::Error::last_os_error()),
            libc::SCHED_IDLE => Ok(Applied::Idle),
            libc::SCHED_BATCH => Ok(Applied::Batch),
            _ => Ok(Applied::Normal),
        }
    }

    /// This thread's priority: normal where batch and idle do not exist.
    #[cfg(not(target_os = "linux"))]
    pub fn get(self) -> io::Result<Applied> {
        Ok(Applied::Normal)
    }
}

/// Starts a thread named `name` that puts itself at `p` before it runs `f`, and returns
/// with `f`'s result the priority the OS then gave it (a thread that lowers itself is never
/// waited on; one refused runs as it started).
pub fn spawn_at<T, F>(
    name: String,
    p: Applied,
    f: F,
) -> io::Result<std::thread::JoinHandle<(T, Applied)>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new().name(name).spawn(move || {
        // refused: the thread runs as it started, which the read back says
        let me = SchedThread::current();
        let _ = me.set(p);
        let got = me.get().unwrap_or(Applied::Normal);
        (f(), got)
    })
}

/// The calling thread's priority as the OS has it (tests).
#[cfg(test)]
pub fn of_this_thread() -> io::Result<Applied> {
    SchedThread::current().get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(urls: &[&str]) -> Vec<Endpoint> {
        urls.iter().map(|u| Endpoint::parse(u).unwrap()).collect()
    }

    #[test]
    fn auto_is_batch_only_when_every_target_is_on_this_machine() {
        let cases: &[(&[&str], Applied)] = &[
            (&["http://127.0.0.1:8080/"], Applied::Batch),
            (&["http://127.3.4.5/"], Applied::Batch),
            (&["http://[::1]:8080/v2"], Applied::Batch),
            (&["http://[::ffff:127.0.0.1]/"], Applied::Batch),
            (&["http://localhost:8080/"], Applied::Batch),
            (&["http://LocalHost/"], Applied::Batch),
            (&["https://api.localhost/"], Applied::Batch),
            (&["http://127.0.0.1/", "http://localhost/"], Applied::Batch),
            (&["http://127.0.0.1/", "http://10.0.0.7/"], Applied::Normal),
            (&["http://10.0.0.7:8080/"], Applied::Normal),
            (&["http://0.0.0.0:8080/"], Applied::Batch),
            (&["http://[::]:8080/"], Applied::Batch),
            (&["http://localhost.:8080/"], Applied::Batch),
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
        assert_eq!(SenderPriority::Batch.wanted(&remote, false), Applied::Batch);
        let local = targets(&["http://127.0.0.1/"]);
        assert_eq!(SenderPriority::Normal.wanted(&local, true), Applied::Normal);
        // a client that times the read stays normal unless told
        assert_eq!(SenderPriority::Auto.wanted(&local, false), Applied::Normal);
        assert_eq!(SenderPriority::Idle.wanted(&local, false), Applied::Idle);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_lowered_by_another_runs_at_that_priority_and_others_do_not() {
        for want in [Applied::Idle, Applied::Batch, Applied::Normal] {
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_started_at_a_priority_runs_its_work_at_it() {
        for want in [Applied::Idle, Applied::Batch, Applied::Normal] {
            let t = spawn_at("lowered".into(), want, || of_this_thread().unwrap()).unwrap();
            assert_eq!(t.join().unwrap(), (want, want), "{want:?}");
            assert_eq!(of_this_thread().unwrap(), Applied::Normal);
        }
    }
}
