//! Test-only pod runner: kwok only pretends pods run, so for each Running pod of a
//! namespace this starts a real `tractor-serve` on the pod's IP (127.1.x.y) and
//! container port, serving the model version the pod's spec names, and stops it
//! when the pod goes away. Traffic to pod IPs then reaches real servers. The pods of an
//! in-cluster load test's Job (labelled `tractor.dev/loadtest-run`) get a real `tractor
//! loadtest-worker` each instead, with the container's args and env, listening on the pod's
//! IP; like a pod with `restartPolicy: Never`, a worker that exits is not started again.
#![allow(dead_code)]
mod addresses;
mod serve;
pub mod spawner;
mod worker;

pub use serve::serve_command;
use worker::start_worker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub ip: String,
    pub port: u16,
    pub version: String,
}

struct Proc {
    child: Child,
    served: Served,
    /// The pod it serves, to start it again if it exits.
    pod: Pod,
    /// Its standard error, to say why it exited.
    log: PathBuf,
}

impl Proc {
    fn addr(&self) -> String {
        format!("{}:{}", self.served.ip, self.served.port)
    }
}

/// `namespace/name/uid`: a pod across every runner of the process (a pod made again under
/// the same name is another pod).
fn key(p: &Pod) -> String {
    format!(
        "{}/{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default(),
        p.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// The resource version of what the watch last said of `p` (etcd's revision: the API server
/// orders every change by it, across namespaces).
fn resource_version(p: &Pod) -> u64 {
    p.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Run `f`, which may wait on other processes, without holding up the test's runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The last lines of a server's standard error, on one line.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(2)..].join(" | ")
}

pub struct PodRunner {
    procs: Procs,
    /// Load workers by pod name.
    workers: Workers,
    task: tokio::task::JoinHandle<()>,
    supervisor: tokio::task::JoinHandle<()>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tractor-serve binary of this workspace (built if missing).
pub fn serve_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("tractor-serve");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // the profile these tests were built with (target/debug or target/release)
        let release = dir.file_name().is_some_and(|n| n == "release");
        let st = Command::new(cargo)
            .args(["build", "-p", "tractor-serve"])
            .args(release.then_some("--release"))
            .status()
            .unwrap();
        assert!(st.success(), "cargo build -p tractor-serve");
    }
    assert!(bin.exists(), "{}", bin.display());
    bin
}

/// What the pod asks to serve: (version, port).
fn wanted(p: &Pod) -> Option<(String, u16)> {
    let c = p.spec.as_ref()?.containers.first()?;
    let version = p
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("tractor.dev/model-version").cloned())
        .or_else(|| {
            c.env
                .as_ref()?
                .iter()
                .find(|e| e.name == "TRACTOR_SERVE_MODEL_VERSION")
                .and_then(|e| e.value.clone())
        })?;
    let port = c
        .ports
        .as_ref()
        .and_then(|ps| ps.first())
        .map(|p| p.container_port as u16)
        .unwrap_or(8080);
    Some((version, port))
}

fn start(p: &Pod, bin: &Path) -> Option<Proc> {
    let ip = p.status.as_ref()?.pod_ip.clone()?;
    // the hard rule: only loopback (or the private namespace's own range), ever
    super::http::assert_allowed(&ip);
    let (version, port) = wanted(p)?;
    let addr = format!("{ip}:{port}");
    let pod = key(p);
    if !blocking(|| addresses::claim(&addr, &pod, resource_version(p))) {
        eprintln!("pod runner: {pod} is not started: {addr} went to a pod seen later");
        return None;
    }
    let model = repo().join(format!("assets/models/demo-classifier-{version}.onnx"));
    let model = if model.exists() {
        model
    } else {
        repo().join("assets/models/demo-classifier-v1.onnx")
    };
    let dir = std::env::temp_dir().join("tractor-e2e-servers");
    let log = dir.join(format!("{}.stderr", pod.replace('/', ".")));
    let mut cmd = serve_command(bin, &model, "demo-classifier", &version, &ip, port, 8081);
    let spawned = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::File::create(&log))
        .and_then(|f| {
            cmd.stderr(f);
            spawner::spawn(cmd)
        });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pod runner: the server of {pod} did not start: {e}");
            addresses::released(&addr, &pod);
            return None;
        }
    };
    if !addresses::serving(&addr, &pod, child.id()) {
        eprintln!("pod runner: {addr} went to a pod seen later while {pod}'s server started");
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(Proc {
        child,
        served: Served { ip, port, version },
        pod: p.clone(),
        log,
    })
}

/// A pod that went away, as a kubelet with a `preStop` sleep retires it: out of
/// [`PodRunner::served`] at once (the endpoints), then SIGTERM a second later, so a request
/// already sent still gets its answer (tractor-serve drains on SIGTERM); killed if it has
/// not exited 10 s after.
fn retire(mut pr: Proc) {
    let addr = pr.addr();
    let pid = pr.child.id();
    addresses::retiring(&addr, &key(&pr.pod), pid);
    std::thread::spawn(move || {
        let exited = |pr: &mut Proc| matches!(pr.child.try_wait(), Ok(Some(_)));
        for _ in 0..10 {
            if exited(&mut pr) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        addresses::sigterm(pid);
        for _ in 0..100 {
            if exited(&mut pr) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = pr.child.kill();
        let _ = pr.child.wait();
        addresses::retired(&addr, pid);
    });
}

/// A load worker goes at once, as a deleted Job's pod does (SIGKILL, then reaped).
fn stop_worker(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

type Procs = Arc<Mutex<HashMap<String, Proc>>>;
type Workers = Arc<Mutex<HashMap<String, Child>>>;

/// Starts or stops what pod `pod` runs, as the watch last saw it (`gone`: deleted or
/// being deleted).
fn on_pod(pod: &Pod, gone: bool, procs: &Procs, workers: &Workers, bin: &Path) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let is_worker = pod
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(tractor::load::fleet::job::RUN_LABEL));
    if is_worker {
        // kwok marks a Job's pods Succeeded as soon as they run: the worker
        // lives until its pod is deleted (or it exits, or is killed)
        let mut ws = workers.lock().unwrap();
        if gone {
            if let Some(c) = ws.remove(&name) {
                stop_worker(c);
            }
        } else if !ws.contains_key(&name)
            && let Some(c) = start_worker(pod)
        {
            ws.insert(name, c);
        }
        return;
    }
    let mut held = procs.lock().unwrap();
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    // a pod made again under the same name: the old one's server goes
    let other = held
        .get(&name)
        .is_some_and(|p| p.pod.metadata.uid != pod.metadata.uid);
    if gone || !running || other {
        if let Some(pr) = held.remove(&name) {
            retire(pr);
        }
        if gone || !running {
            return;
        }
    }
    if held.contains_key(&name) {
        return;
    }
    // a server of this runner still on the pod's address belongs to a pod whose end the
    // watch has not seen: out of the endpoints now (start then makes it go)
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
    let port = wanted(pod).map(|w| w.1);
    let stale: Vec<String> = held
        .iter()
        .filter(|(_, p)| Some(&p.served.ip) == ip.as_ref() && Some(p.served.port) == port)
        .map(|(n, _)| n.clone())
        .collect();
    for n in stale {
        if let Some(pr) = held.remove(&n) {
            retire(pr);
        }
    }
    // the watch is this pod's only starter and the supervisor only restarts what it finds
    // here: starting with the lock released cannot start it twice
    drop(held);
    let Some(pr) = start(pod, bin) else {
        return;
    };
    procs.lock().unwrap().insert(name, pr);
}

/// The pods `running` has that the list `listed` does not.
fn unlisted<V>(running: &HashMap<String, V>, listed: &HashSet<String>) -> Vec<String> {
    running
        .keys()
        .filter(|n| !listed.contains(*n))
        .cloned()
        .collect()
}

/// After a re-list: what this runner runs for a pod the list no longer has (deleted while
/// the watch was down, so no event said so) stops.
fn on_relisted(listed: &HashSet<String>, procs: &Procs, workers: &Workers) {
    let mut ps = procs.lock().unwrap();
    for n in unlisted(&ps, listed) {
        if let Some(pr) = ps.remove(&n) {
            eprintln!("pod runner: {n} left while the watch was down; its server retires");
            retire(pr);
        }
    }
    let mut ws = workers.lock().unwrap();
    for n in unlisted(&ws, listed) {
        if let Some(c) = ws.remove(&n) {
            stop_worker(c);
        }
    }
}

/// As a kubelet restarts a container: the servers that exited while their pod still runs
/// (one that lost the race for its address) start again, unless a newer pod took the
/// address (theirs is gone then, whether or not the watch said so yet).
fn restart_exited(procs: &Procs, bin: &Path) {
    let mut procs = procs.lock().unwrap();
    let exited: Vec<String> = procs
        .iter_mut()
        .filter_map(|(n, p)| matches!(p.child.try_wait(), Ok(Some(_))).then(|| n.clone()))
        .collect();
    for name in exited {
        let Some(mut old) = procs.remove(&name) else {
            continue;
        };
        let status = old.child.try_wait();
        let addr = old.addr();
        if !addresses::owns(&addr, &key(&old.pod)) {
            eprintln!(
                "pod runner: the server of {name} ended ({status:?}); {addr} went to a newer \
                 pod, so it is not started again"
            );
            continue;
        }
        let why = tail(&old.log);
        let holder = if why.contains("in use") {
            // the gRPC port is on the same IP
            let grpc = format!("{}:8081", old.served.ip);
            format!(
                "; listening there: {} / {}",
                addresses::listener(&addr),
                addresses::listener(&grpc)
            )
        } else {
            String::new()
        };
        eprintln!(
            "pod runner: the server of {name} exited ({status:?}): {why}{holder}; starting it again"
        );
        if let Some(pr) = start(&old.pod, bin) {
            procs.insert(name, pr);
        }
    }
}

impl PodRunner {
    pub fn start(client: &kube::Client, namespace: &str) -> PodRunner {
        let bin = serve_bin();
        let procs: Procs = Arc::default();
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let p2 = procs.clone();
        let workers: Workers = Arc::default();
        let w2 = workers.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            // the pods of a list under way (the first, or a re-list after the watch broke)
            let mut listed: Option<HashSet<String>> = None;
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(watcher::Event::Init) => listed = Some(HashSet::new()),
                    Ok(watcher::Event::InitApply(p)) => {
                        if let (Some(l), Some(n)) = (listed.as_mut(), p.metadata.name.clone()) {
                            l.insert(n);
                        }
                        let gone = p.metadata.deletion_timestamp.is_some();
                        on_pod(&p, gone, &p2, &w2, &bin);
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(l) = listed.take() {
                            on_relisted(&l, &p2, &w2);
                        }
                    }
                    Ok(watcher::Event::Apply(p)) => {
                        let gone = p.metadata.deletion_timestamp.is_some();
                        on_pod(&p, gone, &p2, &w2, &bin);
                    }
                    Ok(watcher::Event::Delete(p)) => on_pod(&p, true, &p2, &w2, &bin),
                    Err(_) => {}
                }
            }
        });
        let p3 = procs.clone();
        let supervisor = tokio::spawn(async move {
            let bin = serve_bin();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                restart_exited(&p3, &bin);
            }
        });
        PodRunner {
            procs,
            workers,
            task,
            supervisor,
        }
    }

    /// The load workers started so far, by pod name.
    pub fn workers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.workers.lock().unwrap().keys().cloned().collect();
        v.sort();
        v
    }

    /// Kills pod `name`'s load worker (SIGKILL, as a node lost would): it is not restarted.
    pub fn kill_worker(&self, name: &str) -> bool {
        match self.workers.lock().unwrap().get_mut(name) {
            Some(c) => c.kill().is_ok(),
            None => false,
        }
    }

    /// What pod `name`'s server serves, if it still serves.
    pub fn serving(&self, name: &str) -> Option<Served> {
        self.procs
            .lock()
            .unwrap()
            .get(name)
            .map(|p| p.served.clone())
    }

    /// Pod name → what its server serves.
    pub fn served(&self) -> HashMap<String, Served> {
        self.procs
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.served.clone()))
            .collect()
    }
}

impl Drop for PodRunner {
    fn drop(&mut self) {
        self.task.abort();
        self.supervisor.abort();
        for (_, mut p) in self.procs.lock().unwrap().drain() {
            let _ = p.child.kill();
            let _ = p.child.wait();
            addresses::released(&p.addr(), &key(&p.pod));
        }
        for (_, c) in self.workers.lock().unwrap().drain() {
            stop_worker(c);
        }
    }
}
