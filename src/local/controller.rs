//! The local controller: one long-lived thread (children are spawned from it, see
//! `children.rs`) with its own runtime. Every 200 ms it reaps exited replicas and moves
//! drains along (`supervise.rs`), checks readiness (`probe.rs`), takes the rolling
//! update's next step and autoscales (`rollout.rs`), and sends the objects to the console
//! when they changed; every scrape interval it scrapes the replicas (`probe.rs`). Actions
//! arrive as commands and are answered with the same results as the Kubernetes runner's.
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use super::objects::{HpaView, NAMESPACE, Objects, ReplicaView, objects};
use super::spec::{Spec, Store};
use super::{actions, front};
use crate::action::{Action, Target};
use crate::audit::AuditLog;
use crate::event::{AppEvent, ClusterDelta, EffectResult, Kind, Source};
use crate::failure::Failure;

mod canary;
mod probe;
mod rollout;
mod supervise;

pub use canary::{CanaryView, LiveReplica};

#[derive(Debug, Clone)]
pub struct Config {
    pub store: Store,
    pub serve_bin: PathBuf,
    /// The front port (0: any free one).
    pub front_port: u16,
    pub scrape_every: Duration,
    /// Out of traffic this long before SIGTERM (in-flight requests reach the replica).
    pub drain_grace: Duration,
    /// SIGKILL after this long past SIGTERM.
    pub stop_timeout: Duration,
    /// Where writes are audited (the same log as the Kubernetes runner's).
    pub audit: AuditLog,
    /// Refuse every write (the console's `--read-only`).
    pub read_only: bool,
}

/// A call on the controller's own state (the canary's calls), run between two reconciles.
type Call = Box<dyn FnOnce(&mut Ctl) + Send>;

enum Command {
    Prepare(Action, oneshot::Sender<EffectResult>),
    Execute(Action, oneshot::Sender<EffectResult>),
    With(Call),
    Shutdown,
}

/// The console's side: actions in, results out. Dropping it stops every replica.
pub struct Handle {
    tx: UnboundedSender<Command>,
    pub front_port: u16,
    pub name: String,
    /// Where writes are audited.
    pub audit: AuditLog,
    pub read_only: bool,
    /// The replicas' log files are `logs_dir/POD.log`.
    pub logs_dir: std::path::PathBuf,
    ready: front::ReadySet,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    async fn ask(
        &self,
        t: &Target,
        make: impl FnOnce(oneshot::Sender<EffectResult>) -> Command,
        a: Action,
    ) -> EffectResult {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(make(reply)).is_err() {
            return EffectResult::failed(t, a, Failure::Stopped);
        }
        rx.await
            .unwrap_or_else(|_| EffectResult::failed(t, a, Failure::Stopped))
    }

    pub async fn prepare(&self, t: &Target, a: Action) -> EffectResult {
        let c = a.clone();
        self.ask(t, |r| Command::Prepare(c, r), a).await
    }

    pub async fn execute(&self, t: &Target, a: Action) -> EffectResult {
        let c = a.clone();
        self.ask(t, |r| Command::Execute(c, r), a).await
    }

    /// Runs `f` on the controller's state, then reconciles; `Failure::Stopped` when the
    /// controller is gone.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ctl) -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let (reply, rx) = oneshot::channel();
        let call: Call = Box::new(move |c: &mut Ctl| {
            let _ = reply.send(f(c));
        });
        self.tx
            .send(Command::With(call))
            .map_err(|_| Failure::Stopped)?;
        rx.await.map_err(|_| Failure::Stopped)
    }

    /// Waits until a replica takes traffic through the front port; false after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.ready.read().is_ok_and(|r| !r.is_empty()) {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drains and stops every replica, then returns.
    pub fn shutdown(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Replica {
    name: String,
    revision: i64,
    /// A canary replica: the canary's `created` stamp (a replica of an earlier canary is
    /// told from the current one's by it).
    canary: Option<String>,
    port: u16,
    child: Child,
    started: Timestamp,
    ready: bool,
    draining: Option<Instant>,
    term_sent: Option<Instant>,
    /// Mean requests in flight over the last scrape interval (Little's law: the growth of
    /// the request-seconds sum over the time between two scrapes).
    inflight: Option<f64>,
    busy: Option<(Instant, f64)>,
}

/// Why the local controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spec is invalid.
    #[error(transparent)]
    Spec(#[from] super::spec::SpecError),
    /// The spec cannot be saved.
    #[error(transparent)]
    Store(#[from] super::spec::StoreError),
    #[error("local controller: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Front(#[from] front::FrontError),
    #[error("the local controller did not start")]
    Gone,
}

/// Starts the controller for `spec` (saved first); its events go to `events`.
pub fn start(
    cfg: Config,
    spec: Spec,
    events: UnboundedSender<AppEvent>,
) -> Result<Handle, StartError> {
    spec.validate()?;
    // a read-only console writes nothing, not even the spec it was given
    if !cfg.read_only {
        cfg.store.save(&spec)?;
    }
    let (tx, rx) = unbounded_channel();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let name = spec.name.clone();
    let audit = cfg.audit.clone();
    let read_only = cfg.read_only;
    let logs_dir = cfg.store.log_path("x").with_file_name("");
    let ready: front::ReadySet = Arc::new(RwLock::new(Vec::new()));
    let ready_set = ready.clone();
    let thread = std::thread::Builder::new()
        .name("local-controller".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = port_tx.send(Err(StartError::Runtime(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let (port, front_task) = match front::start(cfg.front_port, ready.clone()).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = port_tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = port_tx.send(Ok(port));
                run(cfg, spec, events, rx, ready).await;
                front_task.abort();
            });
        })
        .map_err(StartError::Runtime)?;
    let front_port = port_rx.recv().map_err(|_| StartError::Gone)??;
    Ok(Handle {
        tx,
        front_port,
        name,
        audit,
        read_only,
        logs_dir,
        ready: ready_set,
        thread: Some(thread),
    })
}

struct Ctl {
    cfg: Config,
    spec: Spec,
    replicas: Vec<Replica>,
    ready_set: front::ReadySet,
    events: UnboundedSender<AppEvent>,
    http: Option<reqwest::Client>,
    created: Timestamp,
    /// What the console was last sent.
    last_sent: Option<Objects>,
    seq: u64,
    hpa: Option<HpaView>,
    last_autoscale: Instant,
    recommendations: Vec<(Instant, i32)>,
    restarts: supervise::Restarts,
    /// The canary's replicas back off on their own: a canary that cannot load neither
    /// restarts every reconcile (the stable's ready replicas would reset a shared backoff)
    /// nor delays the stable's starts.
    canary_restarts: supervise::Restarts,
}

async fn run(
    cfg: Config,
    spec: Spec,
    events: UnboundedSender<AppEvent>,
    mut rx: UnboundedReceiver<Command>,
    ready_set: front::ReadySet,
) {
    let mut c = Ctl {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(1500))
            .build()
            .ok(),
        cfg,
        spec,
        replicas: Vec::new(),
        ready_set,
        events,
        created: Timestamp::now(),
        last_sent: None,
        seq: 0,
        hpa: None,
        last_autoscale: Instant::now(),
        recommendations: Vec::new(),
        restarts: supervise::Restarts::default(),
        canary_restarts: supervise::Restarts::default(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut scrape = tokio::time::interval(c.cfg.scrape_every);
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Prepare(a, reply)) => {
                    let _ = reply.send(actions::prepare(&c.spec, a));
                }
                Some(Command::Execute(a, reply)) if c.cfg.read_only => {
                    let verb = a.verb();
                    let t = Target {
                        namespace: super::objects::NAMESPACE.into(),
                        name: c.spec.name.clone(),
                    };
                    let _ = reply.send(EffectResult::failed(&t, a, Failure::ReadOnly { verb }));
                }
                Some(Command::Execute(a, reply)) => {
                    let r = actions::execute(&mut c.spec, &c.cfg.store, &c.cfg.audit, a);
                    let _ = reply.send(r);
                    c.reconcile().await;
                }
                Some(Command::With(f)) => {
                    f(&mut c);
                    c.reconcile().await;
                }
                Some(Command::Shutdown) | None => break,
            },
            _ = tick.tick() => c.reconcile().await,
            _ = scrape.tick() => c.scrape().await,
        }
    }
    c.stop_all();
}

impl Ctl {
    async fn reconcile(&mut self) {
        self.reap();
        self.check_ready().await;
        if self.replicas.iter().any(|r| r.ready && r.canary.is_none()) {
            self.restarts.ready();
        }
        if self.replicas.iter().any(|r| r.ready && r.canary.is_some()) {
            self.canary_restarts.ready();
        }
        self.move_drains();
        self.autoscale();
        if !self.spec.paused {
            self.roll();
        }
        self.roll_canary();
        let ports: Vec<u16> = self
            .replicas
            .iter()
            .filter(|r| r.ready && r.draining.is_none())
            .map(|r| r.port)
            .collect();
        if let Ok(mut set) = self.ready_set.write() {
            *set = ports;
        }
        self.publish();
    }

    /// Sends each kind whose objects changed since the last time (all, the first time)
    /// as a complete list.
    fn publish(&mut self) {
        let views: Vec<ReplicaView> = self
            .replicas
            .iter()
            .map(|r| ReplicaView {
                name: r.name.clone(),
                revision: r.revision,
                canary: r.canary.is_some(),
                port: r.port,
                ready: r.ready,
                draining: r.draining.is_some(),
                started: r.started,
            })
            .collect();
        let objs = objects(&self.spec, &views, self.hpa.as_ref(), self.created);
        for kind in Kind::ALL {
            if self.last_sent.as_ref().is_some_and(|l| l.same(&objs, kind)) {
                continue;
            }
            let _ = self.events.send(AppEvent::Kube(ClusterDelta::Resynced {
                source: Source {
                    kind,
                    namespace: Some(NAMESPACE.to_string()),
                },
                objects: objs.of_kind(kind),
            }));
        }
        self.last_sent = Some(objs);
    }
}
