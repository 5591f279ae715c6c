//! Watches (not polls) the objects the views need, one task per kind and namespace, each
//! sending owned deltas into the UI's channel. Each task drives one kube-runtime `watcher`
//! for its whole life: after a failure it resumes from the last resource version it saw
//! (with a short backoff), and lists again only when the API server says that version is
//! gone (410). A complete list replaces what the source had, so nothing stale stays.
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::api::ListParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::event::{AppEvent, ClusterDelta, Kind, Object, Source, SourceStatus};

#[cfg(test)]
mod tests;

/// Sees every delta a watch sends, before the UI does (the scrape source keeps its pods so).
pub type Tap = Arc<dyn Fn(&ClusterDelta) + Send + Sync>;

/// Starts a watcher per kind for each namespace (or one per kind for all).
/// With `namespaces` `None` (all), a kind whose cluster-wide list RBAC refuses is
/// watched in `fallback` (the context's namespace) instead, and the refusal is shown.
pub fn spawn_all(
    client: &Client,
    namespaces: Option<&[String]>,
    fallback: Option<&str>,
    tx: &UnboundedSender<AppEvent>,
) -> Vec<JoinHandle<()>> {
    spawn_all_tapped(client, namespaces, fallback, tx, None)
}

/// As [`spawn_all`], and every pod delta is also shown to `pods` first.
pub fn spawn_all_tapped(
    client: &Client,
    namespaces: Option<&[String]>,
    fallback: Option<&str>,
    tx: &UnboundedSender<AppEvent>,
    pods: Option<Tap>,
) -> Vec<JoinHandle<()>> {
    let scopes: Vec<Option<String>> = match namespaces {
        Some(list) => list.iter().map(|n| Some(n.clone())).collect(),
        None => vec![None],
    };
    let mut tasks = Vec::new();
    for ns in scopes {
        let out = |tap: Option<Tap>| Out {
            tx: tx.clone(),
            tap,
            fallback: fallback.map(str::to_string),
        };
        tasks.push(spawn::<Deployment>(
            client,
            ns.clone(),
            Kind::Deployment,
            |o| Object::Deployment(Box::new(o)),
            out(None),
        ));
        tasks.push(spawn::<ReplicaSet>(
            client,
            ns.clone(),
            Kind::ReplicaSet,
            |o| Object::ReplicaSet(Box::new(o)),
            out(None),
        ));
        tasks.push(spawn::<Pod>(
            client,
            ns.clone(),
            Kind::Pod,
            |o| Object::Pod(Box::new(super::slim::pod(o))),
            out(pods.clone()),
        ));
        tasks.push(spawn::<HorizontalPodAutoscaler>(
            client,
            ns.clone(),
            Kind::Hpa,
            |o| Object::Hpa(Box::new(o)),
            out(None),
        ));
        tasks.push(spawn::<k8s_openapi::api::batch::v1::Job>(
            client,
            ns.clone(),
            Kind::Job,
            |o| Object::Job(Box::new(o)),
            out(None),
        ));
        tasks.push(spawn::<KubeEvent>(
            client,
            ns,
            Kind::Event,
            |o| Object::Event(Box::new(o)),
            out(None),
        ));
    }
    tasks
}

/// Where a watch's deltas go.
#[derive(Clone)]
struct Out {
    tx: UnboundedSender<AppEvent>,
    tap: Option<Tap>,
    /// The namespace to watch instead when the cluster-wide list is forbidden.
    fallback: Option<String>,
}

impl Out {
    /// False when the UI has gone.
    fn send(&self, d: ClusterDelta) -> bool {
        if let Some(tap) = &self.tap {
            tap(&d);
        }
        self.tx.send(AppEvent::Kube(d)).is_ok()
    }
}

fn spawn<K>(
    client: &Client,
    namespace: Option<String>,
    kind: Kind,
    wrap: fn(K) -> Object,
    out: Out,
) -> JoinHandle<()>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let api: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let stop_on_forbidden = namespace.is_none() && out.fallback.is_some();
    let source = Source { kind, namespace };
    let client = client.clone();
    tokio::spawn(async move {
        if run(api, source, wrap, &out, stop_on_forbidden).await == Ended::Forbidden
            && let Some(ns) = out.fallback.clone()
        {
            // Listing across namespaces is refused: watch the context's namespace instead.
            tracing::info!(kind = ?kind, namespace = %ns, "cluster-wide list forbidden; watching one namespace");
            let api: Api<K> = Api::namespaced(client, &ns);
            let source = Source {
                kind,
                namespace: Some(ns),
            };
            run(api, source, wrap, &out, false).await;
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The UI has gone.
    Closed,
    /// RBAC refused, and the caller asked to stop on that.
    Forbidden,
}

/// The watcher's error as a status: a Forbidden list is not a reconnect.
pub fn status_of(e: &watcher::Error) -> SourceStatus {
    let inner = match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => Some(k),
        _ => None,
    };
    match (inner, e) {
        (Some(k), _) if super::errors::is_forbidden(k) => SourceStatus::Forbidden(k.to_string()),
        (_, watcher::Error::WatchError(s)) if s.code == 403 => {
            SourceStatus::Forbidden(s.message.clone())
        }
        _ => SourceStatus::Reconnecting(e.to_string()),
    }
}

/// The API server says the resource version is gone (410): only a new list helps.
fn gone(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(s) => s.code == 410,
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 410,
        _ => false,
    }
}

/// Backoff between attempts after a failure: doubles from 250 ms up to 4 s, so the
/// console catches up within seconds of the API server's return.
pub fn backoff(failures: u32) -> Duration {
    let ms = 250u64.saturating_mul(1 << failures.min(4));
    Duration::from_millis(ms.min(4000))
}

/// A refused list is retried this slowly (RBAC rarely changes within seconds).
const FORBIDDEN_PAUSE: Duration = Duration::from_secs(10);
/// Quiet this long past a retry's delay, the watch has most likely resumed: check.
const SETTLE: Duration = Duration::from_millis(500);
/// How long the check that the API server answers again may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The watcher's backoff ([`backoff`] by consecutive failures). The stream resets it on
/// every event; the source resets it too when it finds the watch resumed without one.
#[derive(Debug, Clone, Default)]
pub struct Retry {
    failures: Arc<AtomicU32>,
}

impl Retry {
    /// The delay the last failure got.
    fn last_delay(&self) -> Duration {
        backoff(self.failures.load(Ordering::Relaxed).saturating_sub(1))
    }
}

impl Iterator for Retry {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed);
        Some(backoff(failures))
    }
}

impl kube::runtime::utils::Backoff for Retry {
    fn reset(&mut self) {
        self.failures.store(0, Ordering::Relaxed);
    }
}

fn stream<K>(api: &Api<K>, retry: &Retry) -> BoxStream<'static, watcher::Result<watcher::Event<K>>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api.clone(), watcher::Config::default())
        .backoff(retry.clone())
        .boxed()
}

/// Whether the API server answers a one-item list of this kind again.
async fn answers<K>(api: &Api<K>) -> bool
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let lp = ListParams::default().limit(1);
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, api.list_metadata(&lp)).await,
        Ok(Ok(_))
    )
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Watches until the UI goes away. One watcher for the source's whole life: a failure is
/// reported (Reconnecting or Forbidden) and the watcher resumes from its last resource
/// version after [`backoff`]. A resumed watch says nothing until something changes, so
/// once it has been quiet past its retry the source checks that the API server answers,
/// and reports Live. A new list (first, or after a 410) ends in Resynced, which is Live.
async fn run<K>(
    api: Api<K>,
    source: Source,
    wrap: fn(K) -> Object,
    out: &Out,
    stop_on_forbidden: bool,
) -> Ended
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let status = |status: SourceStatus| {
        out.send(ClusterDelta::Status {
            source: source.clone(),
            status,
        })
    };
    if !status(SourceStatus::Syncing) {
        return Ended::Closed;
    }
    let mut retry = Retry::default();
    let mut events = stream(&api, &retry);
    let mut buffer: Vec<Object> = Vec::new();
    // a list has completed, so a failure is followed by a resumed watch (not a new list)
    let mut listed = false;
    // after a failure: when to check whether the watch is back
    let mut recovering: Option<Instant> = None;
    loop {
        let ev = tokio::select! {
            ev = events.next() => ev,
            () = out.tx.closed() => return Ended::Closed,
            () = sleep_until(recovering) => {
                recovering = if answers(&api).await {
                    tracing::info!(%source, "watch resumed");
                    kube::runtime::utils::Backoff::reset(&mut retry);
                    if !status(SourceStatus::Live) {
                        return Ended::Closed;
                    }
                    None
                } else {
                    Some(Instant::now() + retry.last_delay() + SETTLE)
                };
                continue;
            }
        };
        let sent = match ev {
            // the backoff never gives up, so the stream does not end; if it did, start over
            None => {
                events = stream(&api, &retry);
                true
            }
            Some(Ok(watcher::Event::Init)) => {
                buffer.clear();
                listed = false;
                recovering = None;
                true
            }
            Some(Ok(watcher::Event::InitApply(o))) => {
                buffer.push(wrap(super::slim::object(o)));
                true
            }
            Some(Ok(watcher::Event::InitDone)) => {
                listed = true;
                // Resynced also marks the source live
                out.send(ClusterDelta::Resynced {
                    source: source.clone(),
                    objects: std::mem::take(&mut buffer),
                })
            }
            Some(Ok(watcher::Event::Apply(o))) => {
                (recovering.take().is_none() || status(SourceStatus::Live))
                    && out.send(ClusterDelta::Applied(wrap(super::slim::object(o))))
            }
            Some(Ok(watcher::Event::Delete(o))) => {
                (recovering.take().is_none() || status(SourceStatus::Live))
                    && out.send(ClusterDelta::Deleted(
                        source.kind,
                        (o.namespace().unwrap_or_default(), o.name_any()),
                    ))
            }
            Some(Err(e)) if gone(&e) => {
                // a new watcher lists at once (the old one would first wait out its
                // backoff, or retry a version that is gone)
                tracing::info!(%source, error = %e, "resource version gone; listing again");
                kube::runtime::utils::Backoff::reset(&mut retry);
                events = stream(&api, &retry);
                (listed, recovering) = (false, None);
                status(SourceStatus::Syncing)
            }
            Some(Err(e)) => {
                tracing::warn!(%source, error = %e, "watch failed; retrying with backoff");
                let st = status_of(&e);
                let forbidden = matches!(st, SourceStatus::Forbidden(_));
                if !status(st) {
                    return Ended::Closed;
                }
                if forbidden && stop_on_forbidden {
                    return Ended::Forbidden;
                }
                if forbidden {
                    tokio::time::sleep(FORBIDDEN_PAUSE).await;
                }
                // a list that failed is retried by the watcher and ends in Resynced
                recovering = listed.then(|| Instant::now() + retry.last_delay() + SETTLE);
                true
            }
        };
        if !sent {
            return Ended::Closed; // the UI has gone
        }
    }
}
