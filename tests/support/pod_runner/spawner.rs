//! Children that die with the test process, not with the thread that asked for them.
//!
//! A child started with `PR_SET_PDEATHSIG` gets its signal when the *thread* that forked it
//! ends. The pod runner starts servers from tokio tasks, and a runtime thread that ran
//! `block_in_place` may be handed to the blocking pool and end there after 10 idle seconds,
//! killing every server it had started. So every start goes through one thread kept for the
//! whole process.
use std::io;
use std::process::{Child, Command};
use std::sync::{OnceLock, mpsc};

type Request = (Command, mpsc::Sender<io::Result<Child>>);

/// Marks `cmd` to be killed (SIGKILL) when the thread that starts it ends: with [`spawn`],
/// when the test process ends, so no server outlives the test.
pub fn die_with_starter(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only this (forked) process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Starts `cmd` from the process's one starter thread and waits for the outcome.
pub fn spawn(cmd: Command) -> io::Result<Child> {
    static STARTER: OnceLock<io::Result<mpsc::Sender<Request>>> = OnceLock::new();
    let starter = STARTER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("pod-runner-starter".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| tx)
    });
    let tx = starter
        .as_ref()
        .map_err(|e| io::Error::other(format!("the starter thread did not start: {e}")))?;
    let (reply, answer) = mpsc::channel();
    tx.send((cmd, reply))
        .map_err(|_| io::Error::other("the starter thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the starter thread gave no answer"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn sleeper() -> Command {
        let mut c = Command::new("sleep");
        c.arg("30");
        die_with_starter(&mut c);
        c
    }

    /// Whether `c` is still running after `within` (it is reaped if not).
    fn alive_after(c: &mut Child, within: Duration) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if c.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    #[test]
    fn a_child_started_here_outlives_the_thread_that_asked_for_it() {
        // the mechanism: started by a thread that then ends, the child is killed
        let mut direct = std::thread::spawn(|| sleeper().spawn().unwrap())
            .join()
            .unwrap();
        assert!(
            !alive_after(&mut direct, Duration::from_secs(5)),
            "a child started directly dies with its thread"
        );
        // through the starter it lives on
        let mut kept = std::thread::spawn(|| spawn(sleeper()).unwrap())
            .join()
            .unwrap();
        assert!(alive_after(&mut kept, Duration::from_secs(1)));
        kept.kill().unwrap();
        kept.wait().unwrap();
    }
}
