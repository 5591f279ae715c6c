//! Test-only pod runner: kwok only pretends pods run, so for each Running pod of a
//! namespace this starts a real `tractor-serve` on the pod's IP (127.1.x.y) and
//! container port, serving the model version the pod's spec names, and stops it
//! when the pod goes away. Traffic to pod IPs then reaches real servers. The pods of an
//! in-cluster load test's Job (labelled `tractor.dev/loadtest-run`) get a real `tractor
//! loadtest-worker` each instead, with the container's args and env, listening on the pod's
//! IP; like a pod with `restartPolicy: Never`, a worker that exits is not started again.
#![allow(dead_code)]
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
}

pub struct PodRunner {
    procs: Arc<Mutex<HashMap<String, Proc>>>,
    /// Load workers by pod name.
    workers: Arc<Mutex<HashMap<String, Child>>>,
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

fn start(p: &Pod, bin: &Path, retiring: &Retiring) -> Option<Proc> {
    let ip = p.status.as_ref()?.pod_ip.clone()?;
    // the hard rule: only loopback (or the private namespace's own range), ever
    super::http::assert_allowed(&ip);
    let (version, port) = wanted(p)?;
    free_address(&format!("{ip}:{port}"), retiring);
    let model = repo().join(format!("assets/models/demo-classifier-{version}.onnx"));
    let model = if model.exists() {
        model
    } else {
        repo().join("assets/models/demo-classifier-v1.onnx")
    };
    let child = spawn_serve(bin, &model, "demo-classifier", &version, &ip, port, 8081).ok()?;
    Some(Proc {
        child,
        served: Served { ip, port, version },
        pod: p.clone(),
    })
}

/// A real tractor-serve on `host:port` (one worker, no batch tuning: quick to start).
pub fn spawn_serve(
    bin: &Path,
    model: &Path,
    name: &str,
    version: &str,
    host: &str,
    port: u16,
    grpc_port: u16,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    super::http::assert_allowed(host);
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
        .stdout(Stdio::null())
        .stderr(Stdio::null());
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
    cmd.spawn()
}

/// A real `tractor loadtest-worker` for a pod of a load test's Job: the container's args
/// with `--listen` on the pod's IP, its env, and the index the Job controller gave the pod.
fn start_worker(p: &Pod) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    let labels = p.metadata.labels.as_ref()?;
    labels.get(tractor::load::fleet::job::RUN_LABEL)?;
    let ip = p.status.as_ref()?.pod_ip.clone()?;
    super::http::assert_allowed(&ip);
    let c = p.spec.as_ref()?.containers.first()?;
    let index = p
        .metadata
        .annotations
        .as_ref()?
        .get(tractor::load::fleet::pods::INDEX_ANNOTATION)?
        .clone();
    let mut args = c.args.clone()?;
    if let Some(w) = args.windows(2).position(|w| w[0] == "--listen") {
        args[w + 1] = format!("{ip}:{}", tractor::load::fleet::job::PORT);
    }
    let name = p.metadata.name.clone()?;
    let dir = std::env::temp_dir().join("tractor-e2e-workers");
    std::fs::create_dir_all(&dir).ok()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tractor"));
    cmd.arg("--log-file")
        .arg(dir.join(format!("{name}.log")))
        .args(&args)
        .env("JOB_COMPLETION_INDEX", &index)
        .env_remove(tractor::load::fleet::worker::BODY_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.stderr"))).ok()?);
    for e in c.env.iter().flatten() {
        // HOME stays the test's: the pod's /tmp volume is not here
        if e.name != "HOME"
            && let Some(v) = &e.value
        {
            cmd.env(&e.name, v);
        }
    }
    // SAFETY: prctl is async-signal-safe and touches only this (forked) process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().ok()
}

/// Servers retiring, by `ip:port`: their pid.
type Retiring = Arc<Mutex<HashMap<String, u32>>>;

/// One map for every pod runner of the process: the tests share the cluster, and kwok may
/// give a pod of one test the IP of another test's pod that just left.
fn retiring_everywhere() -> Retiring {
    static ALL: std::sync::LazyLock<Retiring> = std::sync::LazyLock::new(Retiring::default);
    ALL.clone()
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// A pod that went away, as a kubelet with a `preStop` sleep retires it: out of
/// [`PodRunner::served`] at once (the endpoints), then SIGTERM a second later, so a request
/// already sent still gets its answer (tractor-serve drains on SIGTERM); killed if it has
/// not exited 10 s after.
fn retire(mut pr: Proc, retiring: &Retiring) {
    let addr = format!("{}:{}", pr.served.ip, pr.served.port);
    let pid = pr.child.id();
    retiring.lock().unwrap().insert(addr.clone(), pid);
    let retiring = retiring.clone();
    std::thread::spawn(move || {
        let exited = |pr: &mut Proc| matches!(pr.child.try_wait(), Ok(Some(_)));
        for _ in 0..10 {
            if exited(&mut pr) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        sigterm(pid);
        for _ in 0..100 {
            if exited(&mut pr) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = pr.child.kill();
        let _ = pr.child.wait();
        let mut r = retiring.lock().unwrap();
        if r.get(&addr) == Some(&pid) {
            r.remove(&addr);
        }
    });
}

/// kwok gives a new pod the IP of one that just left: before serving there, the retiring
/// server on that address is told to go now (it has been out of the traffic since its pod
/// went away), killed if it is still draining 2 s later (an idle keep-alive connection can
/// hold a drain), and waited for.
fn free_address(addr: &str, retiring: &Retiring) {
    let Some(pid) = retiring.lock().unwrap().get(addr).copied() else {
        return;
    };
    sigterm(pid);
    for i in 0..200 {
        if !retiring.lock().unwrap().contains_key(addr) {
            return;
        }
        if i == 40 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl PodRunner {
    pub fn start(client: &kube::Client, namespace: &str) -> PodRunner {
        let bin = serve_bin();
        let procs: Arc<Mutex<HashMap<String, Proc>>> = Arc::default();
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let p2 = procs.clone();
        let workers: Arc<Mutex<HashMap<String, Child>>> = Arc::default();
        let w2 = workers.clone();
        let retiring = retiring_everywhere();
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(ev) = stream.next().await {
                let (pod, gone) = match ev {
                    Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => {
                        let gone = p.metadata.deletion_timestamp.is_some();
                        (p, gone)
                    }
                    Ok(watcher::Event::Delete(p)) => (p, true),
                    _ => continue,
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                let is_worker = pod
                    .metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(tractor::load::fleet::job::RUN_LABEL));
                if is_worker {
                    // kwok marks a Job's pods Succeeded as soon as they run: the worker
                    // lives until its pod is deleted (or it exits, or is killed)
                    let mut ws = w2.lock().unwrap();
                    if gone {
                        if let Some(mut c) = ws.remove(&name) {
                            let _ = c.kill();
                            let _ = c.wait();
                        }
                    } else if !ws.contains_key(&name)
                        && let Some(c) = start_worker(&pod)
                    {
                        ws.insert(name, c);
                    }
                    continue;
                }
                let mut procs = p2.lock().unwrap();
                let running =
                    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                if gone || !running {
                    if let Some(pr) = procs.remove(&name) {
                        retire(pr, &retiring);
                    }
                } else if !procs.contains_key(&name)
                    && let Some(pr) = {
                        // a server still on this pod's address belongs to a pod whose end the
                        // watch did not see (it re-listed meanwhile): kwok reuses IPs
                        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
                        let port = wanted(&pod).map(|w| w.1);
                        let stale: Vec<String> = procs
                            .iter()
                            .filter(|(_, p)| {
                                Some(&p.served.ip) == ip.as_ref() && Some(p.served.port) == port
                            })
                            .map(|(n, _)| n.clone())
                            .collect();
                        for n in stale {
                            if let Some(pr) = procs.remove(&n) {
                                retire(pr, &retiring);
                            }
                        }
                        start(&pod, &bin, &retiring)
                    }
                {
                    procs.insert(name, pr);
                }
            }
        });
        // as a kubelet restarts a container: a server that exited while its pod still runs
        // (it lost the race for its address to one still draining there) starts again
        let p3 = procs.clone();
        let supervisor = tokio::spawn(async move {
            let bin = serve_bin();
            let retiring = retiring_everywhere();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                let mut procs = p3.lock().unwrap();
                let exited: Vec<String> = procs
                    .iter_mut()
                    .filter_map(|(n, p)| {
                        matches!(p.child.try_wait(), Ok(Some(_))).then(|| n.clone())
                    })
                    .collect();
                for name in exited {
                    let Some(mut old) = procs.remove(&name) else {
                        continue;
                    };
                    eprintln!(
                        "pod runner: the server of {name} exited ({:?}); starting it again",
                        old.child.try_wait()
                    );
                    if let Some(pr) = start(&old.pod, &bin, &retiring) {
                        procs.insert(name, pr);
                    }
                }
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
        }
        for (_, mut c) in self.workers.lock().unwrap().drain() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
