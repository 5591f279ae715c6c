//! The real control plane for end-to-end tests: started once per test binary by
//! `scripts/dev-cluster up` (or given by TRACTOR_E2E_KUBECONFIG). A cluster that
//! cannot start fails the tests; they never skip.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub bin: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dev_cluster(args: &[&str]) -> String {
    let out = Command::new(repo().join("scripts/dev-cluster"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/dev-cluster runs");
    assert!(
        out.status.success(),
        "scripts/dev-cluster {args:?} failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubeconfig_line(out: &str) -> PathBuf {
    out.lines()
        .find_map(|l| l.strip_prefix("KUBECONFIG="))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no KUBECONFIG= line in {out:?}"))
}

/// Builds the control plane's binaries (a no-op when they are built), once per test binary:
/// for a run that starts its cluster where there is no network to build with.
pub fn build_control_plane() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        dev_cluster(&["build"]);
    });
}

pub fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let kubeconfig = match std::env::var_os("TRACTOR_E2E_KUBECONFIG") {
            Some(p) => PathBuf::from(p),
            None => {
                // one build per test binary, also when a netns test asks for it at once
                build_control_plane();
                kubeconfig_line(&dev_cluster(&["up"]))
            }
        };
        let bin = PathBuf::from(dev_cluster(&["bin"]).trim());
        Cluster { kubeconfig, bin }
    })
}

impl Cluster {
    /// Runs kubectl as the admin; panics on failure with its output.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl with another kubeconfig (a user's): (success, stdout, stderr).
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs helm (built by scripts/dev-cluster) against the cluster; panics on failure.
    pub fn helm(&self, args: &[&str]) -> String {
        let out = Command::new(self.bin.join("helm"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("helm runs");
        assert!(
            out.status.success(),
            "helm {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, yaml: &str) {
        self.kubectl_stdin(&["apply", "-f", "-"], Some(yaml));
    }

    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    /// A kubeconfig for `user` with a certificate from the cluster's CA.
    pub fn user_kubeconfig(&self, user: &str) -> PathBuf {
        kubeconfig_line(&dev_cluster(&["user", user]))
    }

    /// The control plane's working directory (pids, logs).
    pub fn workdir(&self) -> PathBuf {
        let name = std::env::var("TRACTOR_CLUSTER").unwrap_or_else(|_| "tractor".into());
        workdir_of(&name)
    }
}

/// The working directory (pids, logs) of the control plane of cluster `name`.
pub fn workdir_of(name: &str) -> PathBuf {
    let cache = std::env::var_os("TRACTOR_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cache/tractor"));
    cache.join("kwok/clusters").join(name)
}

/// `scripts/dev-cluster down` for cluster `name` (whatever TRACTOR_CLUSTER says here).
pub fn down(name: &str) {
    let out = Command::new(repo().join("scripts/dev-cluster"))
        .arg("down")
        .env("TRACTOR_CLUSTER", name)
        .output()
        .expect("scripts/dev-cluster runs");
    assert!(out.status.success(), "dev-cluster down: {out:?}");
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    tractor::k8s::client::connect(Some(kubeconfig), None)
        .await
        .expect("kubeconfig connects")
        .client
}

/// A namespace for one test, deleted (without waiting) when dropped.
pub struct Namespace<'a> {
    pub name: String,
    cluster: &'a Cluster,
}

impl<'a> Namespace<'a> {
    pub fn new(cluster: &'a Cluster, name: &str) -> Namespace<'a> {
        let _ = Command::new(cluster.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args([
                "delete",
                "namespace",
                name,
                "--wait=true",
                "--ignore-not-found",
                "--timeout=60s",
            ])
            .output();
        cluster.kubectl(&["create", "namespace", name]);
        Namespace {
            name: name.into(),
            cluster,
        }
    }
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.cluster.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.cluster.kubeconfig)
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .output();
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// As [`eventually`], and on timeout the panic shows what `show` says of the last state,
/// so a failure in CI names what was missing.
pub async fn eventually_shown<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    show: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?}: {what}\nlast seen: {}", show());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Appends a test's duration to the timings file that .ci/run prints.
pub fn record_timing(test: &str, started: Instant) {
    use std::io::Write;
    let line = format!("{test}: {:.1} s\n", started.elapsed().as_secs_f64());
    let path = std::env::var_os("TRACTOR_E2E_TIMINGS").map(PathBuf::from);
    if let Some(p) = path
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    {
        let _ = f.write_all(line.as_bytes());
    }
    eprint!("{line}");
}
