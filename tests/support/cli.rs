//! The real `tractor` binary, as a user runs it.
#![allow(dead_code)]
use std::path::Path;
use std::process::Command;

/// Runs `tractor --kubeconfig KC ARGS` with its audit log and log file in `dir`:
/// (exit code, stdout, stderr).
pub fn tractor_cmd(kubeconfig: &Path, args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--audit-log")
        .arg(dir.join("cli-audit.jsonl"))
        .arg("--log-file")
        .arg(dir.join("cli.log"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
