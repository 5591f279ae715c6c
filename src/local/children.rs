//! tractor-serve replicas as child processes. Each gets its own process group (a Ctrl-C in
//! the terminal reaches the console, which drains them, not the replicas directly) and a
//! parent-death signal (SIGKILL when the console dies, even by SIGKILL), so no replica
//! outlives the console. Spawn only from a thread that lives as long as the replicas: the
//! parent-death signal fires when the spawning *thread* ends.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::spec::Revision;

/// Why a replica could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Its log file (or the log directory).
    #[error("{}: {source}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {}: {source}", bin.display())]
    Start {
        bin: PathBuf,
        source: std::io::Error,
    },
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(#[source] std::io::Error),
}

/// Starts one replica of `rev` on 127.0.0.1:`port`, its output appended to `log`.
pub fn spawn(
    bin: &Path,
    rev: &Revision,
    model_name: &str,
    port: u16,
    log: &Path,
) -> Result<Child, SpawnError> {
    let log_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SpawnError::Log { path, source }
    };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(log_error(dir))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(log_error(log))?;
    let err = out.try_clone().map_err(log_error(log))?;
    let parent = std::process::id();
    let mut cmd = Command::new(bin);
    cmd.arg("--model")
        .arg(&rev.model)
        .args(["--name", model_name, "--model-version", &rev.version])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    // replicas share one address: gRPC's fixed default port would collide, so it is off
    // unless the revision's own arguments choose a port
    if !rev
        .args
        .iter()
        .any(|a| a == "--grpc-port" || a.starts_with("--grpc-port="))
    {
        cmd.args(["--grpc-port", "0"]);
    }
    cmd.args(&rev.args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls: prctl, getppid, _exit.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // the console died between fork and prctl: the signal will never come
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| SpawnError::Start {
        bin: bin.to_path_buf(),
        source,
    })
}

/// Sends `sig` to the replica.
pub fn signal(child: &Child, sig: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// SIGTERM (tractor-serve drains queued and in-flight requests), then SIGKILL after `grace`.
/// Blocks until the process is gone.
pub fn stop(child: &mut Child, grace: Duration) {
    signal(child, libc::SIGTERM);
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if start.elapsed() >= grace => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A free port on 127.0.0.1 (the OS picks; a replica binds it right after).
pub fn free_port() -> Result<u16, SpawnError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(SpawnError::NoPort)
}
