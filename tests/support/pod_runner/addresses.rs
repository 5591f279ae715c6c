//! Who serves on each pod address (`ip:port`), for every pod runner of the process. The
//! tests share one cluster and kwok gives a new pod the IP of a pod that just left, maybe in
//! another test's namespace, whose runner may not have seen it leave yet (or ever, if its
//! watch re-listed meanwhile). So the address, not the runner, decides: the pod seen on it
//! at the latest resource version owns it (kwok hands an IP on only once its pod is deleted,
//! so every event of the pod that had it is older), a server of an older pod there is told
//! to go, and an older pod's late event cannot take the address back.
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A pod seen on an address: `namespace/name/uid`, the resource version of the event that
/// put it there, its server's pid once started.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    pod: String,
    version: u64,
    pid: Option<u32>,
}

#[derive(Default)]
struct Book {
    owner: HashMap<String, Holder>,
    /// Servers retiring (their pod went away), by address: their pid.
    retiring: HashMap<String, u32>,
}

static BOOK: LazyLock<Mutex<Book>> = LazyLock::new(Mutex::default);

fn book() -> MutexGuard<'static, Book> {
    BOOK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Process `pid`'s state letter and parent, from `/proc` (None once it is gone).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name is in parentheses and may hold spaces: the rest follows the last ')'
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Whether process `pid` has ended (gone, or a zombie: its sockets are closed either way).
fn ended(pid: u32) -> bool {
    stat(pid).is_none_or(|(state, _)| matches!(state, 'Z' | 'X'))
}

/// Signal `pid` only while it is a live child of this process: a pid already reaped may
/// belong to someone else by now.
fn signal(pid: u32, sig: libc::c_int) {
    let ours = stat(pid)
        .is_some_and(|(state, parent)| parent == std::process::id() && !matches!(state, 'Z' | 'X'));
    if ours && let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, sig) };
    }
}

pub fn sigterm(pid: u32) {
    signal(pid, libc::SIGTERM);
}

/// Before starting `pod`'s server on `addr` (`version`: the resource version of the event
/// that showed the pod there): false if a pod seen there later holds it (this one is gone).
/// Otherwise the address is reserved for `pod`, and a retiring server there or the server of
/// an older pod is told to go, killed if it still runs 2 s later (an idle keep-alive
/// connection can hold a drain), and waited for (at most 10 s).
pub fn claim(addr: &str, pod: &str, version: u64) -> bool {
    let holders: Vec<u32> = {
        let mut b = book();
        let mut pids: Vec<u32> = b.retiring.get(addr).copied().into_iter().collect();
        match b.owner.get(addr).cloned() {
            Some(h) if h.pod == pod => {}
            Some(h) if h.version > version => return false,
            Some(h) => {
                eprintln!(
                    "pod runner: {pod} takes {addr} from {}, a pod that is gone",
                    h.pod
                );
                pids.extend(h.pid);
            }
            None => {}
        }
        let pid = b
            .owner
            .get(addr)
            .filter(|h| h.pod == pod)
            .and_then(|h| h.pid);
        b.owner.insert(
            addr.to_string(),
            Holder {
                pod: pod.to_string(),
                version,
                pid,
            },
        );
        pids
    };
    for &pid in &holders {
        sigterm(pid);
    }
    let start = Instant::now();
    let mut killed = false;
    while !holders.iter().all(|&pid| ended(pid)) && start.elapsed() < Duration::from_secs(10) {
        if !killed && start.elapsed() >= Duration::from_secs(2) {
            for &pid in &holders {
                signal(pid, libc::SIGKILL);
            }
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// `pod`'s server (`pid`) now serves on `addr`; false if a newer pod took the address while
/// it started (the caller stops it).
pub fn serving(addr: &str, pod: &str, pid: u32) -> bool {
    match book().owner.get_mut(addr) {
        Some(h) if h.pod == pod => {
            h.pid = Some(pid);
            true
        }
        _ => false,
    }
}

/// Whether `addr` is still `pod`'s: false once a newer pod took it.
pub fn owns(addr: &str, pod: &str) -> bool {
    book().owner.get(addr).is_some_and(|h| h.pod == pod)
}

/// `pod`'s server (`pid`) on `addr` starts retiring: its address is no longer its own.
pub fn retiring(addr: &str, pod: &str, pid: u32) {
    let mut b = book();
    if b.owner.get(addr).is_some_and(|h| h.pod == pod) {
        b.owner.remove(addr);
    }
    b.retiring.insert(addr.to_string(), pid);
}

/// The retiring server `pid` on `addr` has ended.
pub fn retired(addr: &str, pid: u32) {
    let mut b = book();
    if b.retiring.get(addr) == Some(&pid) {
        b.retiring.remove(addr);
    }
}

/// `pod` no longer serves on `addr` (its runner ended, or its server could not start).
pub fn released(addr: &str, pod: &str) {
    let mut b = book();
    if b.owner.get(addr).is_some_and(|h| h.pod == pod) {
        b.owner.remove(addr);
    }
}

/// What listens on `addr` now, as `ss` tells it (for a server that could not bind there).
pub fn listener(addr: &str) -> String {
    std::process::Command::new("ss")
        .args(["-Hltnp", "src", addr])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    /// A stand-in server: a child that runs until signalled.
    fn sleeper() -> Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    #[test]
    fn a_newer_pod_takes_the_address_and_an_older_pods_late_event_cannot() {
        let addr = "127.9.9.9:1";
        let mut old = sleeper();
        assert!(claim(addr, "ns-a/old/1", 10));
        assert!(serving(addr, "ns-a/old/1", old.id()));
        assert!(owns(addr, "ns-a/old/1"));
        let mut new = sleeper();
        assert!(claim(addr, "ns-b/new/2", 20));
        assert!(!owns(addr, "ns-a/old/1"));
        // told to go (SIGTERM ends sleep at once), not left running
        assert!(
            old.try_wait().unwrap().is_some(),
            "the old server still runs"
        );
        // the old pod's server, had it been starting meanwhile, learns it lost the address
        assert!(!serving(addr, "ns-a/old/1", old.id()));
        assert!(serving(addr, "ns-b/new/2", new.id()));
        // a late event of the old pod (an older version) does not take the address back,
        // nor does its runner retiring it late
        assert!(!claim(addr, "ns-a/old/1", 12));
        retiring(addr, "ns-a/old/1", old.id());
        assert!(owns(addr, "ns-b/new/2"));
        assert!(
            new.try_wait().unwrap().is_none(),
            "the new server was signalled"
        );
        retired(addr, old.id());
        released(addr, "ns-b/new/2");
        assert!(!owns(addr, "ns-b/new/2"));
        let _ = new.kill();
        let _ = new.wait();
    }

    #[test]
    fn a_process_that_ran_has_ended_and_this_one_has_not() {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        assert!(ended(pid));
        assert!(!ended(std::process::id()));
        // this process is not its own child: never signalled
        assert!(stat(std::process::id()).is_some_and(|(_, p)| p != std::process::id()));
    }
}
