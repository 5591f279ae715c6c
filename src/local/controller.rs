//! The local controller: one long-lived thread (children are spawned from it, see
//! `children.rs`) with its own runtime. Every 200 ms it reaps exited replicas, checks
//! readiness, moves drains along, takes the rolling update's next step, autoscales, and
//! sends the objects to the console when they changed; every scrape interval it scrapes
//! the replicas. Actions arrive as commands and are answered with the same results as the
//! Kubernetes runner's.
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use super::objects::{HpaView, NAMESPACE, ReplicaView, objects};
use super::spec::{Spec, Store};
use super::{actions, children, front, rolling};
use crate::action::{Action, Target};
use crate::audit::AuditLog;
use crate::event::{AppEvent, ClusterDelta, EffectResult, Kind, Object, ScrapeResult, Source};
use crate::failure::Failure;

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
}

enum Command {
    Prepare(Action, oneshot::Sender<EffectResult>),
    Execute(Action, oneshot::Sender<EffectResult>),
    Shutdown,
}

/// The console's side: actions in, results out. Dropping it stops every replica.
pub struct Handle {
    tx: UnboundedSender<Command>,
    pub front_port: u16,
    pub name: String,
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
    port: u16,
    child: Child,
    started: String,
    ready: bool,
    draining: Option<Instant>,
    term_sent: Option<Instant>,
    /// Mean requests in flight over the last scrape interval (Little's law: the growth of
    /// the request-seconds sum over the time between two scrapes).
    inflight: Option<f64>,
    busy: Option<(Instant, f64)>,
}

/// Starts the controller for `spec` (saved first); its events go to `events`.
pub fn start(cfg: Config, spec: Spec, events: UnboundedSender<AppEvent>) -> Result<Handle, String> {
    spec.validate()?;
    cfg.store.save(&spec)?;
    let (tx, rx) = unbounded_channel();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let name = spec.name.clone();
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
                    let _ = port_tx.send(Err(format!("local controller: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let (port, front_task) = match front::start(cfg.front_port, ready.clone()).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = port_tx.send(Err(e));
                        return;
                    }
                };
                let _ = port_tx.send(Ok(port));
                run(cfg, spec, events, rx, ready).await;
                front_task.abort();
            });
        })
        .map_err(|e| format!("local controller: {e}"))?;
    let front_port = port_rx
        .recv()
        .map_err(|_| "the local controller did not start".to_string())??;
    Ok(Handle {
        tx,
        front_port,
        name,
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
    created: String,
    last_sent: String,
    seq: u64,
    hpa: Option<HpaView>,
    last_autoscale: Instant,
    recommendations: Vec<(Instant, i32)>,
    /// Replicas that exited on their own since one was last ready, and when the next
    /// start may happen: a model that cannot load must not respawn every 200 ms.
    crashes: u32,
    next_start: Instant,
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
        created: Timestamp::now().to_string(),
        last_sent: String::new(),
        seq: 0,
        hpa: None,
        last_autoscale: Instant::now(),
        recommendations: Vec::new(),
        crashes: 0,
        next_start: Instant::now(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut scrape = tokio::time::interval(c.cfg.scrape_every);
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Prepare(a, reply)) => {
                    let _ = reply.send(actions::prepare(&c.spec, a));
                }
                Some(Command::Execute(a, reply)) => {
                    let r = actions::execute(&mut c.spec, &c.cfg.store, &c.cfg.audit, a);
                    let _ = reply.send(r);
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
    fn seen(&self) -> Vec<rolling::Seen> {
        self.replicas
            .iter()
            .filter(|r| r.draining.is_none())
            .map(|r| rolling::Seen {
                id: r.name.clone(),
                revision: r.revision,
                ready: r.ready,
            })
            .collect()
    }

    async fn reconcile(&mut self) {
        // reap: exited replicas leave; one that was not asked to stop is a crash, and
        // restarts back off (250 ms doubling to 10 s) until a replica is ready again
        let mut crashed = 0;
        self.replicas.retain_mut(|r| match r.child.try_wait() {
            Ok(Some(st)) => {
                if r.draining.is_none() {
                    crashed += 1;
                    tracing::warn!(replica = %r.name, status = %st, "replica exited");
                }
                false
            }
            _ => true,
        });
        if crashed > 0 {
            self.crashes = self.crashes.saturating_add(crashed);
            let backoff = Duration::from_millis(250)
                .saturating_mul(1 << self.crashes.min(6))
                .min(Duration::from_secs(10));
            self.next_start = Instant::now() + backoff;
        }
        self.check_ready().await;
        if self.replicas.iter().any(|r| r.ready) {
            self.crashes = 0;
        }
        // drains: out of traffic for drain_grace, then SIGTERM, then SIGKILL
        let (grace, timeout) = (self.cfg.drain_grace, self.cfg.stop_timeout);
        for r in &mut self.replicas {
            if let Some(since) = r.draining {
                match r.term_sent {
                    None if since.elapsed() >= grace => {
                        children::signal(&r.child, libc::SIGTERM);
                        r.term_sent = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() >= timeout => {
                        let _ = r.child.kill();
                    }
                    _ => {}
                }
            }
        }
        self.autoscale();
        if !self.spec.paused {
            let step = rolling::next(
                &self.seen(),
                self.spec.current,
                self.spec.replicas,
                self.spec.max_surge,
                self.spec.max_unavailable,
            );
            for id in &step.stop {
                if let Some(r) = self.replicas.iter_mut().find(|r| r.name == *id) {
                    r.draining = Some(Instant::now());
                }
            }
            if Instant::now() >= self.next_start {
                for _ in 0..step.start {
                    self.start_one();
                }
            }
        }
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

    fn start_one(&mut self) {
        let Some(rev) = self.spec.current_revision().cloned() else {
            return;
        };
        self.seq += 1;
        let name = format!("{}-r{}-{}", self.spec.name, rev.number, self.seq);
        let port = match children::free_port() {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot start a replica"),
        };
        let log = self.cfg.store.log_path(&name);
        match children::spawn(&self.cfg.serve_bin, &rev, &self.spec.model_name, port, &log) {
            Ok(child) => self.replicas.push(Replica {
                name,
                revision: rev.number,
                port,
                child,
                started: Timestamp::now().to_string(),
                ready: false,
                draining: None,
                term_sent: None,
                inflight: None,
                busy: None,
            }),
            Err(e) => tracing::error!(error = %e, "cannot start a replica"),
        }
    }

    async fn check_ready(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let checks = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.ready && r.draining.is_none())
            .map(|(i, r)| {
                let (http, url) = (http.clone(), format!("http://127.0.0.1:{}/readyz", r.port));
                async move {
                    let ok = http
                        .get(url)
                        .timeout(Duration::from_millis(300))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (i, ok)
                }
            });
        for (i, ok) in futures::future::join_all(checks).await {
            if ok && let Some(r) = self.replicas.get_mut(i) {
                r.ready = true;
            }
        }
    }

    async fn scrape(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let jobs = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.draining.is_none())
            .map(|(i, r)| {
                let (http, url) = (http.clone(), format!("http://127.0.0.1:{}/metrics", r.port));
                async move {
                    let text = crate::scrape::source::fetch_url(&http, &url).await;
                    (
                        i,
                        text.map_err(|e| e.to_string())
                            .and_then(|t| crate::scrape::parse(&t)),
                    )
                }
            });
        for (i, result) in futures::future::join_all(jobs).await {
            let Some(r) = self.replicas.get_mut(i) else {
                continue;
            };
            if let Ok(m) = &result {
                let now = Instant::now();
                let sum = m.request_seconds.sum;
                if let Some((t0, s0)) = r.busy {
                    let dt = now.duration_since(t0).as_secs_f64();
                    if dt > 0.0 {
                        r.inflight = Some(crate::metrics::rate::increase(s0, sum) / dt);
                    }
                }
                r.busy = Some((now, sum));
            }
            if !r.ready {
                // a replica still loading its model has nothing to show yet
                continue;
            }
            let _ = self.events.send(AppEvent::Scrape(ScrapeResult {
                pod: (NAMESPACE.to_string(), r.name.clone()),
                at: Timestamp::now(),
                result,
            }));
        }
    }

    fn autoscale(&mut self) {
        let Some(a) = self.spec.autoscale.clone() else {
            self.hpa = None;
            return;
        };
        let live: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|r| r.draining.is_none() && r.revision == self.spec.current)
            .collect();
        let samples: Vec<f64> = live
            .iter()
            .filter(|r| r.ready)
            .filter_map(|r| r.inflight)
            .collect();
        let inflight =
            (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64);
        let current = self.spec.replicas;
        let mut view = HpaView {
            min: a.min,
            max: a.max,
            current: live.len() as i32,
            desired: current,
            target_inflight: a.target_inflight,
            inflight,
            last_scale: self.hpa.as_ref().and_then(|h| h.last_scale.clone()),
        };
        if self.last_autoscale.elapsed() >= Duration::from_secs(3) {
            self.last_autoscale = Instant::now();
            let desired =
                super::autoscaler::desired(&a, current, inflight, &mut self.recommendations);
            if desired != current {
                tracing::info!(
                    from = current,
                    to = desired,
                    ?inflight,
                    "local autoscaler scales"
                );
                self.spec.replicas = desired;
                if let Err(e) = self.cfg.store.save(&self.spec) {
                    tracing::error!(error = %e, "cannot save the local deployment");
                }
                view.last_scale = Some(Timestamp::now().to_string());
            }
            view.desired = desired;
        }
        self.hpa = Some(view);
    }

    fn publish(&mut self) {
        let views: Vec<ReplicaView> = self
            .replicas
            .iter()
            .map(|r| ReplicaView {
                name: r.name.clone(),
                revision: r.revision,
                port: r.port,
                ready: r.ready,
                draining: r.draining.is_some(),
                started: r.started.clone(),
            })
            .collect();
        let objs = objects(&self.spec, &views, self.hpa.as_ref(), &self.created);
        let fingerprint = format!("{objs:?}");
        if fingerprint == self.last_sent {
            return;
        }
        self.last_sent = fingerprint;
        for kind in Kind::ALL {
            let of_kind: Vec<Object> = objs.iter().filter(|o| o.kind() == kind).cloned().collect();
            let _ = self.events.send(AppEvent::Kube(ClusterDelta::Resynced {
                source: Source {
                    kind,
                    namespace: Some(NAMESPACE.to_string()),
                },
                objects: of_kind,
            }));
        }
    }

    /// Out of traffic, SIGTERM to all, then wait for each (SIGKILL past the timeout).
    fn stop_all(&mut self) {
        if let Ok(mut set) = self.ready_set.write() {
            set.clear();
        }
        for r in &self.replicas {
            children::signal(&r.child, libc::SIGTERM);
        }
        for r in &mut self.replicas {
            children::stop(&mut r.child, self.cfg.stop_timeout);
        }
        self.replicas.clear();
    }
}
