//! Watches (not polls) the objects the views need, one task per kind and
//! namespace, each sending owned deltas into the UI's channel. Streams resume
//! with backoff; a fresh list replaces what the source had, so nothing stale stays.
use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::event::{AppEvent, ClusterDelta, Kind, Object, Source, SourceStatus};

/// Starts a watcher per kind for each namespace (or one per kind for all).
/// With `namespaces` `None` (all), a kind whose cluster-wide list RBAC refuses is
/// watched in `fallback` (the context's namespace) instead, and the refusal is shown.
pub fn spawn_all(
    client: &Client,
    namespaces: Option<&[String]>,
    fallback: Option<&str>,
    tx: &UnboundedSender<AppEvent>,
) -> Vec<JoinHandle<()>> {
    let scopes: Vec<Option<String>> = match namespaces {
        Some(list) => list.iter().map(|n| Some(n.clone())).collect(),
        None => vec![None],
    };
    let mut tasks = Vec::new();
    for ns in scopes {
        tasks.push(spawn::<Deployment>(
            client,
            ns.clone(),
            Kind::Deployment,
            |o| Object::Deployment(Box::new(o)),
            fallback,
            tx,
        ));
        tasks.push(spawn::<ReplicaSet>(
            client,
            ns.clone(),
            Kind::ReplicaSet,
            |o| Object::ReplicaSet(Box::new(o)),
            fallback,
            tx,
        ));
        tasks.push(spawn::<Pod>(
            client,
            ns.clone(),
            Kind::Pod,
            |o| Object::Pod(Box::new(o)),
            fallback,
            tx,
        ));
        tasks.push(spawn::<HorizontalPodAutoscaler>(
            client,
            ns.clone(),
            Kind::Hpa,
            |o| Object::Hpa(Box::new(o)),
            fallback,
            tx,
        ));
        tasks.push(spawn::<KubeEvent>(
            client,
            ns,
            Kind::Event,
            |o| Object::Event(Box::new(o)),
            fallback,
            tx,
        ));
    }
    tasks
}

fn spawn<K>(
    client: &Client,
    namespace: Option<String>,
    kind: Kind,
    wrap: fn(K) -> Object,
    fallback: Option<&str>,
    tx: &UnboundedSender<AppEvent>,
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
    let all_namespaces = namespace.is_none();
    let fallback = fallback.map(str::to_string);
    let source = Source { kind, namespace };
    let tx = tx.clone();
    let client = client.clone();
    tokio::spawn(async move {
        let stop_on_forbidden = all_namespaces && fallback.is_some();
        if run(api, source, wrap, tx.clone(), stop_on_forbidden).await == Ended::Forbidden
            && let Some(ns) = fallback
        {
            // Listing across namespaces is refused: watch the context's namespace instead.
            tracing::info!(kind = ?kind, namespace = %ns, "cluster-wide list forbidden; watching one namespace");
            let api: Api<K> = Api::namespaced(client, &ns);
            let source = Source {
                kind,
                namespace: Some(ns),
            };
            run(api, source, wrap, tx, false).await;
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

/// Backoff between attempts after a failure: doubles from 250 ms up to 4 s, so the
/// console catches up within seconds of the API server's return.
pub fn backoff(failures: u32) -> std::time::Duration {
    let ms = 250u64.saturating_mul(1 << failures.min(4));
    std::time::Duration::from_millis(ms.min(4000))
}

/// Watches until the UI goes away. After any failure the stream is dropped and,
/// after a backoff, started again with a fresh list: the list's end is the proof
/// that the source is live again, and it replaces whatever went stale meanwhile.
async fn run<K>(
    api: Api<K>,
    source: Source,
    wrap: fn(K) -> Object,
    tx: UnboundedSender<AppEvent>,
    stop_on_forbidden: bool,
) -> Ended
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let send = |d: ClusterDelta| tx.send(AppEvent::Kube(d)).is_ok();
    if !send(ClusterDelta::Status {
        source: source.clone(),
        status: SourceStatus::Syncing,
    }) {
        return Ended::Closed;
    }
    let mut failures: u32 = 0;
    loop {
        let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
        let mut buffer: Vec<Object> = Vec::new();
        while let Some(ev) = stream.next().await {
            let ok = match ev {
                Ok(watcher::Event::Init) => {
                    buffer.clear();
                    true
                }
                Ok(watcher::Event::InitApply(o)) => {
                    buffer.push(wrap(slim(o)));
                    true
                }
                Ok(watcher::Event::InitDone) => {
                    if failures > 0 {
                        tracing::info!(%source, "watch resumed");
                    }
                    failures = 0;
                    // Resynced also marks the source live
                    send(ClusterDelta::Resynced {
                        source: source.clone(),
                        objects: std::mem::take(&mut buffer),
                    })
                }
                Ok(watcher::Event::Apply(o)) => send(ClusterDelta::Applied(wrap(slim(o)))),
                Ok(watcher::Event::Delete(o)) => send(ClusterDelta::Deleted(
                    source.kind,
                    (o.namespace().unwrap_or_default(), o.name_any()),
                )),
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%source, error = %e, "watch failed; retrying with backoff");
                    let status = status_of(&e);
                    let forbidden = matches!(status, SourceStatus::Forbidden(_));
                    if !send(ClusterDelta::Status {
                        source: source.clone(),
                        status,
                    }) {
                        return Ended::Closed;
                    }
                    if forbidden && stop_on_forbidden {
                        return Ended::Forbidden;
                    }
                    break;
                }
            };
            if !ok {
                return Ended::Closed; // the UI has gone
            }
        }
        // the stream failed (or ended): wait, then list and watch again
        let wait = if matches!(failures, 0) {
            backoff(0)
        } else {
            backoff(failures - 1)
        };
        let forbidden_pause = std::time::Duration::from_secs(10);
        tokio::time::sleep(if failures > 8 {
            forbidden_pause.max(wait)
        } else {
            wait
        })
        .await;
        if tx.is_closed() {
            return Ended::Closed;
        }
    }
}

/// Drops what no view reads (managed fields are most of an object's size).
fn slim<K: Resource>(mut o: K) -> K {
    o.meta_mut().managed_fields = None;
    o
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_to_four_seconds() {
        let ms: Vec<u128> = (0..7).map(|f| backoff(f).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(backoff(u32::MAX), Duration::from_millis(4000));
    }
}
