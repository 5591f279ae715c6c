//! A real `tractor-serve` process, as the pod runner and the console's tests start it.
use std::path::Path;
use std::process::{Command, Stdio};

/// A real tractor-serve on `host:port` (one worker, no batch tuning: quick to start), its
/// standard error still to choose.
pub fn serve_command(
    bin: &Path,
    model: &Path,
    name: &str,
    version: &str,
    host: &str,
    port: u16,
    grpc_port: u16,
) -> Command {
    use std::os::unix::process::CommandExt;
    super::super::http::assert_allowed(host);
    let mut cmd = Command::new(bin);
    cmd.arg("--model")
        .arg(model)
        .args(["--name", name, "--model-version", version, "--host", host])
        .args([
            "--port",
            &port.to_string(),
            "--grpc-port",
            &grpc_port.to_string(),
            "--workers",
            "1",
            "--batch-tuning",
            "false",
        ])
        .stdout(Stdio::null());
    // no server outlives the test: SIGKILL when the thread that started it ends (the test's
    // runtime), even if the test process exits with servers still retiring
    // SAFETY: prctl is async-signal-safe and touches only this (forked) process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}
