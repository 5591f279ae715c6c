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
pub fn spawn_all(
    client: &Client,
    namespaces: Option<&[String]>,
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
            tx,
        ));
        tasks.push(spawn::<ReplicaSet>(
            client,
            ns.clone(),
            Kind::ReplicaSet,
            |o| Object::ReplicaSet(Box::new(o)),
            tx,
        ));
        tasks.push(spawn::<Pod>(
            client,
            ns.clone(),
            Kind::Pod,
            |o| Object::Pod(Box::new(o)),
            tx,
        ));
        tasks.push(spawn::<HorizontalPodAutoscaler>(
            client,
            ns.clone(),
            Kind::Hpa,
            |o| Object::Hpa(Box::new(o)),
            tx,
        ));
        tasks.push(spawn::<KubeEvent>(
            client,
            ns,
            Kind::Event,
            |o| Object::Event(Box::new(o)),
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
    let source = Source { kind, namespace };
    let tx = tx.clone();
    tokio::spawn(async move { run(api, source, wrap, tx).await })
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

async fn run<K>(api: Api<K>, source: Source, wrap: fn(K) -> Object, tx: UnboundedSender<AppEvent>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let send = |d: ClusterDelta| tx.send(AppEvent::Kube(d)).is_ok();
    if !send(ClusterDelta::Status {
        source: source.clone(),
        status: SourceStatus::Syncing,
    }) {
        return;
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
                        return;
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
                send(ClusterDelta::Status {
                    source: source.clone(),
                    status: status_of(&e),
                })
            }
        };
        if !ok {
            return; // the UI has gone
        }
    }
}

/// Drops what no view reads (managed fields are most of an object's size).
fn slim<K: Resource>(mut o: K) -> K {
    o.meta_mut().managed_fields = None;
    o
}
