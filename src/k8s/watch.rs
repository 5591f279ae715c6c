//! Watches (not polls) the objects the views need, one task per kind and
//! namespace, each sending owned deltas into the UI's channel. Streams resume
//! with backoff; a fresh list replaces what the source had, so nothing stale stays.
use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::runtime::{WatchStreamExt, watcher};
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
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut buffer: Vec<Object> = Vec::new();
    let mut troubled = false;
    while let Some(ev) = stream.next().await {
        let ok = match ev {
            Ok(ev) => {
                if troubled {
                    troubled = false;
                    tracing::info!(%source, "watch resumed");
                    if !send(ClusterDelta::Status {
                        source: source.clone(),
                        status: SourceStatus::Live,
                    }) {
                        return Ended::Closed;
                    }
                }
                match ev {
                    watcher::Event::Init => {
                        buffer.clear();
                        true
                    }
                    watcher::Event::InitApply(o) => {
                        buffer.push(wrap(slim(o)));
                        true
                    }
                    watcher::Event::InitDone => send(ClusterDelta::Resynced {
                        source: source.clone(),
                        objects: std::mem::take(&mut buffer),
                    }),
                    watcher::Event::Apply(o) => send(ClusterDelta::Applied(wrap(slim(o)))),
                    watcher::Event::Delete(o) => send(ClusterDelta::Deleted(
                        source.kind,
                        (o.namespace().unwrap_or_default(), o.name_any()),
                    )),
                }
            }
            Err(e) => {
                tracing::warn!(%source, error = %e, "watch failed; retrying with backoff");
                troubled = true;
                let status = status_of(&e);
                let forbidden = matches!(status, SourceStatus::Forbidden(_));
                let sent = send(ClusterDelta::Status {
                    source: source.clone(),
                    status,
                });
                if forbidden && stop_on_forbidden {
                    return if sent {
                        Ended::Forbidden
                    } else {
                        Ended::Closed
                    };
                }
                sent
            }
        };
        if !ok {
            return Ended::Closed; // the UI has gone
        }
    }
    Ended::Closed
}

/// Drops what no view reads (managed fields are most of an object's size).
fn slim<K: Resource>(mut o: K) -> K {
    o.meta_mut().managed_fields = None;
    o
}
