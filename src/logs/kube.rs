//! Reading containers' logs through the API server (`pods/log`, which needs that RBAC
//! verb): one task per container, its lines with the API server's timestamps; and
//! `tractor logs`' own watch of the deployment's pods and ReplicaSets, so pods that start
//! join and pods that go leave.
use std::collections::BTreeMap;

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::streams::Streams;
use super::{Filter, LastWords, Line, LogEvent, Options, RunKey, StreamKey};

/// Reads one container's log into `tx` until it ends (or, following, until stopped).
pub fn spawn_read(
    client: Client,
    key: StreamKey,
    opts: Options,
    first: bool,
    tx: UnboundedSender<LogEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(client, &key.namespace);
        let lp = LogParams {
            container: Some(key.container.clone()),
            follow: opts.follow && !opts.previous,
            previous: opts.previous,
            since_seconds: opts.since.map(|d| d.as_secs().max(1) as i64),
            tail_lines: if first { opts.tail } else { None },
            timestamps: true,
            ..LogParams::default()
        };
        let reader = match api.log_stream(&key.pod, &lp).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(LogEvent::Failed {
                    stream: key,
                    message: message(&e),
                });
                return;
            }
        };
        let _ = tx.send(LogEvent::Opened(key.clone()));
        let mut lines = reader.lines();
        while let Some(line) = lines.next().await {
            match line {
                Ok(raw) => {
                    let (at, text) = super::text::split_timestamp(&raw);
                    let line = Line {
                        stream: key.clone(),
                        at,
                        text: text.to_string(),
                    };
                    if tx.send(LogEvent::Line(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(LogEvent::Failed {
                        stream: key.clone(),
                        message: e.to_string(),
                    });
                    return;
                }
            }
        }
        let _ = tx.send(LogEvent::Closed(key));
    })
}

/// The API server's words for a failed log request; a 403 names the verb to grant.
/// The last `n` lines of a container's previous run (what it printed before it died).
pub async fn last_words(client: Client, run: &RunKey, n: i64) -> LastWords {
    let api: Api<Pod> = Api::namespaced(client, &run.namespace);
    let lp = LogParams {
        container: Some(run.container.clone()),
        previous: true,
        tail_lines: Some(n),
        ..LogParams::default()
    };
    match api.logs(&run.pod, &lp).await {
        Ok(text) => LastWords::Read(
            text.lines()
                .map(super::text::clean)
                .filter(|l| !l.trim().is_empty())
                .collect(),
        ),
        Err(e) => LastWords::Failed(message(&e)),
    }
}

fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("forbidden: get pods/log ({})", s.message)
        }
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Why `tractor logs` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("deploy/{name} not found in namespace {namespace}")]
    NotFound { namespace: String, name: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error(transparent)]
    Select(#[from] super::select::SelectError),
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// Reads the deployment's containers as `f` and `opts` say into `tx`: with `opts.follow`
/// until `tx` closes, pods joining and leaving as the watch sees them; without, once each,
/// and returns when all are read.
pub async fn deployment_logs(
    client: Client,
    namespace: &str,
    name: &str,
    f: &Filter,
    opts: &Options,
    tx: UnboundedSender<LogEvent>,
) -> Result<(), FollowError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = match deployments.get_opt(name).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err(FollowError::NotFound {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        Err(kube::Error::Api(s)) if s.code == 403 => return Err(FollowError::Forbidden(s.message)),
        Err(e) => return Err(e.into()),
    };
    let labels = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(crate::canary::selector::show)
        .unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let lp = kube::api::ListParams::default().labels(&labels);
    let mut streams = Streams::default();
    let open = |streams: &mut Streams,
                rss: &BTreeMap<String, ReplicaSet>,
                pods: &BTreeMap<String, Pod>|
     -> Result<(), FollowError> {
        let want = super::select::streams(&d, rss.values(), pods.values(), f, opts.previous)?;
        let gone = streams.reconcile(&want, |k, first| {
            spawn_read(client.clone(), k.clone(), opts.clone(), first, tx.clone())
        });
        for k in gone {
            let _ = tx.send(LogEvent::Closed(k));
        }
        Ok(())
    };
    if !opts.follow {
        let rss = by_name(rs_api.list(&lp).await?.items);
        let pods = by_name(pods_api.list(&lp).await?.items);
        open(&mut streams, &rss, &pods)?;
        while !streams.all_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        return Ok(());
    }
    let config = watcher::Config::default().labels(&labels);
    let mut rs_events = watcher(rs_api, config.clone()).default_backoff().boxed();
    let mut pod_events = watcher(pods_api, config).default_backoff().boxed();
    let (mut rss, mut pods) = (BTreeMap::new(), BTreeMap::new());
    // the first lists (both) come before anything is opened: a pod is read once its
    // ReplicaSet is known
    let (mut rs_ready, mut pods_ready) = (false, false);
    loop {
        tokio::select! {
            ev = rs_events.try_next() => {
                rs_ready |= apply(&mut rss, ev);
            }
            ev = pod_events.try_next() => {
                pods_ready |= apply(&mut pods, ev);
            }
            () = tx.closed() => return Ok(()),
        }
        if rs_ready && pods_ready {
            open(&mut streams, &rss, &pods)?;
        }
    }
}

fn by_name<K: kube::Resource>(items: Vec<K>) -> BTreeMap<String, K> {
    items
        .into_iter()
        .map(|o| (o.meta().name.clone().unwrap_or_default(), o))
        .collect()
}

/// Applies one watch event to `objects`; whether a list has completed.
fn apply<K: kube::Resource + Clone>(
    objects: &mut BTreeMap<String, K>,
    ev: Result<Option<watcher::Event<K>>, watcher::Error>,
) -> bool {
    let name = |o: &K| o.meta().name.clone().unwrap_or_default();
    match ev {
        Ok(Some(watcher::Event::Apply(o))) => {
            objects.insert(name(&o), o);
        }
        Ok(Some(watcher::Event::Delete(o))) => {
            objects.remove(&name(&o));
        }
        Ok(Some(watcher::Event::Init)) => objects.clear(),
        Ok(Some(watcher::Event::InitApply(o))) => {
            objects.insert(name(&o), o);
        }
        Ok(Some(watcher::Event::InitDone)) => return true,
        // the watcher retries with backoff; an ended stream cannot happen with it
        Ok(None) | Err(_) => {}
    }
    false
}
