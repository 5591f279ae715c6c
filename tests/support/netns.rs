//! An end-to-end test on its own control plane inside a private network namespace
//! (scripts/netns-run): the API server does not proxy to loopback pod IPs, so tests of the
//! pod or service proxy give their cluster pod IPs in a range local to the namespace. The
//! test re-runs itself inside; outside, it starts that run, prints it, and always tears
//! the cluster down.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Whether this process is the run inside the namespace.
pub fn inside() -> bool {
    std::env::var_os("TRACTOR_NETNS").is_some()
}

/// Runs test `test` (its full path) again inside a namespace with cluster `cluster` and pod
/// IPs in `pod_net`.x.y; `env` goes to the inner run. Panics when the inner run did not pass.
pub fn run(test: &str, cluster: &str, pod_net: &str, env: &[(&str, &str)]) {
    let started = Instant::now();
    // built out here: inside, there is no network to build with
    super::pod_runner::serve_bin();
    super::cluster::build_control_plane();
    // a cluster left by an interrupted run would hold its name
    super::cluster::down(cluster);
    let exe = std::env::current_exe().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(repo.join("scripts/netns-run"))
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("TRACTOR_CLUSTER", cluster)
        .env("TRACTOR_POD_NET", pod_net)
        .envs(env.iter().copied())
        .env_remove("TRACTOR_E2E_KUBECONFIG")
        .output()
        .expect("scripts/netns-run runs");
    if !out.status.success() {
        print_control_plane_logs(cluster);
    }
    super::cluster::down(cluster);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("--- inside the private network namespace ---\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the run inside failed: {}",
        out.status
    );
    // the inner run really ran the test (not zero tests by a name mismatch)
    assert!(stdout.contains("1 passed"), "{stdout}");
    super::cluster::record_timing(&format!("{test} (own cluster in a netns)"), started);
}

/// The tail of each control-plane log of `cluster`, for a failed run.
fn print_control_plane_logs(cluster: &str) {
    let logs = super::cluster::workdir_of(cluster).join("logs");
    let Ok(entries) = std::fs::read_dir(&logs) else {
        eprintln!("no control-plane logs at {}", logs.display());
        return;
    };
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        eprintln!("--- {} (last 15 lines) ---\n{tail}", e.path().display());
    }
}
