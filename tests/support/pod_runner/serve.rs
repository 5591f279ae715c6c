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
    // no server outlives the test: killed when the thread that starts it ends (the pod
    // runner starts through `spawner::spawn`, whose thread ends with the test process)
    super::spawner::die_with_starter(&mut cmd);
    cmd
}
