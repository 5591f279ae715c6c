//! The scrape source: every interval it scrapes each Running serving pod (one with the
//! model-version label; beyond `scrape.max_pods` only the deployment in view's, see
//! [`super::scope`]) through the pod proxy or at its pod IP, a bounded number at a time,
//! each with a timeout; a round ends before the next starts. One event per pod and scrape. The pods come from the
//! console's own pod watch ([`Pods`], fed by `k8s::watch`); [`spawn`] keeps its own
//! watch, for a process without the console's (tests, tools).
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::fetch::{FetchError, fetch, fetch_url};
use super::proxy_path;
use crate::event::{AppEvent, ClusterDelta, Kind, Object, ScrapeResult};
use crate::model::{Key, MODEL_VERSION_LABEL, key};

use super::scope::{Focus, ScrapeScope, choose};

/// How a pod's metrics are reached: read from the config (`scrape.via`).
pub use crate::config::Via;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub via: Via,
    pub interval: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Beyond this many serving pods, only the deployment in view is scraped.
    pub max_pods: usize,
}

impl From<&crate::config::Scrape> for Settings {
    fn from(c: &crate::config::Scrape) -> Self {
        Settings {
            via: c.via,
            interval: Duration::from_millis(c.interval_ms),
            timeout: Duration::from_millis(c.timeout_ms),
            concurrency: c.concurrency.max(1),
            max_pods: c.max_pods,
        }
    }
}

/// The pod's serving port: the container port named `http`, else the first one, else 8080.
pub fn port(p: &Pod) -> u16 {
    let ports: Vec<&k8s_openapi::api::core::v1::ContainerPort> = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    ports
        .iter()
        .find(|cp| cp.name.as_deref() == Some("http"))
        .or(ports.first())
        .and_then(|cp| u16::try_from(cp.container_port).ok())
        .unwrap_or(8080)
}

/// A serving pod as a scrape needs it.
pub use super::scope::PodTarget;

impl PodTarget {
    /// The pod's target if it is a Running serving pod not being deleted.
    pub fn of(p: &Pod) -> Option<PodTarget> {
        let serving = p
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(MODEL_VERSION_LABEL));
        let running = p.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Running");
        (serving && running && p.metadata.deletion_timestamp.is_none()).then(|| PodTarget {
            port: port(p),
            ip: p.status.as_ref().and_then(|st| st.pod_ip.clone()),
            deployment: deployment(p),
        })
    }
}

/// The Deployment owning the pod through its ReplicaSet.
fn deployment(p: &Pod) -> Option<String> {
    let rs = crate::model::pod::owner_replicaset(p)?;
    let hash = p
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"));
    super::scope::deployment_of(rs, hash.map(String::as_str))
}

/// The pods to scrape, kept from the console's pod watch: give [`Pods::tap`] to
/// `k8s::watch::spawn_all_tapped`.
#[derive(Debug, Clone, Default)]
pub struct Pods(Arc<RwLock<BTreeMap<Key, PodTarget>>>);

impl Pods {
    /// Follows one delta of the pod watch (other kinds are ignored).
    pub fn observe(&self, d: &ClusterDelta) {
        let Ok(mut pods) = self.0.write() else {
            return;
        };
        match d {
            ClusterDelta::Applied(Object::Pod(p)) => {
                let k = key(&p.metadata);
                match PodTarget::of(p) {
                    Some(t) => pods.insert(k, t),
                    None => pods.remove(&k),
                };
            }
            ClusterDelta::Deleted(Kind::Pod, k) => {
                pods.remove(k);
            }
            ClusterDelta::Resynced { source, objects } if source.kind == Kind::Pod => {
                // a complete list replaces what that source had
                pods.retain(|k, _| source.namespace.as_ref().is_some_and(|ns| *ns != k.0));
                for o in objects {
                    if let Object::Pod(p) = o
                        && let Some(t) = PodTarget::of(p)
                    {
                        pods.insert(key(&p.metadata), t);
                    }
                }
            }
            _ => {}
        }
    }

    /// [`Pods::observe`] as a watch's tap.
    pub fn tap(&self) -> crate::k8s::watch::Tap {
        let pods = self.clone();
        Arc::new(move |d| pods.observe(d))
    }

    pub fn targets(&self) -> Vec<(Key, PodTarget)> {
        self.0
            .read()
            .map(|p| p.iter().map(|(k, t)| (k.clone(), t.clone())).collect())
            .unwrap_or_default()
    }
}

/// Scrapes the pods the console's pod watch keeps in `pods`, until the UI goes; beyond
/// `s.max_pods` serving pods, those of the deployment `focus` names (see [`scope`]).
///
/// [`scope`]: super::scope
pub fn spawn_for(
    client: &Client,
    pods: Pods,
    s: Settings,
    focus: Focus,
    tx: &UnboundedSender<AppEvent>,
) -> JoinHandle<()> {
    let (client, tx) = (client.clone(), tx.clone());
    tokio::spawn(async move { scrape(client, || pods.targets(), s, Some(focus), tx).await })
}

/// Watches the serving pods in `namespaces` (all when `None`) itself, and scrapes them:
/// for a process without the console's pod watch. The watch ends with the task.
pub fn spawn(
    client: &Client,
    namespaces: Option<&[String]>,
    s: Settings,
    tx: &UnboundedSender<AppEvent>,
) -> Vec<JoinHandle<()>> {
    let scopes: Vec<Option<String>> = match namespaces {
        Some(list) => list.iter().map(|n| Some(n.clone())).collect(),
        None => vec![None],
    };
    scopes
        .into_iter()
        .map(|ns| {
            let client = client.clone();
            let tx = tx.clone();
            tokio::spawn(async move { watch_and_scrape(client, ns, s, tx).await })
        })
        .collect()
}

async fn watch_and_scrape(
    client: Client,
    namespace: Option<String>,
    s: Settings,
    tx: UnboundedSender<AppEvent>,
) {
    let api: Api<Pod> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store();
    let cfg = watcher::Config::default().labels(MODEL_VERSION_LABEL);
    let watch = reflector(writer, watcher(api, cfg))
        .default_backoff()
        .for_each(|_| async {});
    let targets = move || {
        store
            .state()
            .iter()
            .filter_map(|p| Some((key(&p.metadata), PodTarget::of(p)?)))
            .collect()
    };
    // one task: when it ends (or is aborted), the watch ends with it
    tokio::select! {
        () = watch => {}
        () = scrape(client, targets, s, None, tx) => {}
    }
}

/// A new deployment in view is scraped once the cursor has rested this long.
const FOCUS_SETTLE: Duration = Duration::from_millis(300);

/// Every interval (and when the deployment in view changes), scrapes `targets()`, at
/// most `s.concurrency` at a time: all of them without a `focus`, else as [`choose`]
/// picks, telling the UI what a round covers whenever that changes.
async fn scrape(
    client: Client,
    targets: impl Fn() -> Vec<(Key, PodTarget)>,
    s: Settings,
    mut focus: Option<Focus>,
    tx: UnboundedSender<AppEvent>,
) {
    let http = reqwest::Client::builder().timeout(s.timeout).build().ok();
    let mut tick = tokio::time::interval(s.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_scope = None;
    loop {
        let focus_changed = async {
            match focus.as_mut() {
                Some(f) => f.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tick.tick() => {}
            moved = focus_changed => {
                if !moved {
                    return; // the UI has gone
                }
                // all pods are scraped anyway: the view moving changes nothing
                if !last_scope.is_some_and(|sc: ScrapeScope| sc.limited()) {
                    continue;
                }
                tokio::time::sleep(FOCUS_SETTLE).await;
                // this round stands for the next tick's: the interval starts again
                tick.reset();
            }
        }
        if tx.is_closed() {
            return;
        }
        let round = match focus.as_mut() {
            Some(f) => {
                let (round, scope) = choose(targets(), s.max_pods, &f.borrow_and_update());
                if last_scope != Some(scope) {
                    last_scope = Some(scope);
                    let _ = tx.send(AppEvent::ScrapeScope(scope));
                }
                round
            }
            None => targets(),
        };
        // a round ends before the next begins: rounds slower than the interval do not
        // pile up (10,000 pods a round once queued tasks by the hundred thousand)
        let round = round
            .into_iter()
            .filter(|(_, pod)| s.via != Via::PodIp || pod.ip.is_some());
        futures::stream::iter(round)
            .map(|(k, pod)| {
                let (client, http) = (&client, http.as_ref());
                async move {
                    let result = scrape_pod(client, http, s, &k, &pod).await;
                    ScrapeResult {
                        pod: k,
                        at: Timestamp::now(),
                        result,
                    }
                }
            })
            .buffer_unordered(s.concurrency)
            .for_each(|r| {
                let _ = tx.send(AppEvent::Scrape(r));
                async {}
            })
            .await;
    }
}

/// One scrape of the pod `k`, reached as `s.via` says (`http` for pod IPs).
pub async fn scrape_pod(
    client: &Client,
    http: Option<&reqwest::Client>,
    s: Settings,
    k: &Key,
    pod: &PodTarget,
) -> Result<crate::scrape::PodMetrics, crate::scrape::ScrapeError> {
    let text = match s.via {
        Via::Proxy => fetch(client, &proxy_path(&k.0, &k.1, pod.port), s.timeout).await,
        Via::PodIp => match (&pod.ip, http) {
            (Some(ip), Some(h)) => {
                fetch_url(h, &format!("http://{}/metrics", host_port(ip, pod.port))).await
            }
            (None, _) => Err(FetchError::NoPodIp),
            (_, None) => Err(FetchError::NoClient),
        },
    };
    super::scraped(text)
}

fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::{PodTarget, Pods};
    use crate::event::{ClusterDelta, Kind, Object, Source};

    fn pod(ns: &str, name: &str, phase: &str, serving: bool) -> Object {
        let labels = if serving {
            json!({crate::model::MODEL_VERSION_LABEL: "v1"})
        } else {
            json!({})
        };
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "s", "ports": [{"name": "http", "containerPort": 9000}]}]},
            "status": {"phase": phase, "podIP": "10.0.0.1"},
        }))
        .unwrap();
        Object::Pod(Box::new(p))
    }

    fn names(p: &Pods) -> Vec<String> {
        p.targets()
            .into_iter()
            .map(|(k, _)| format!("{}/{}", k.0, k.1))
            .collect()
    }

    #[test]
    fn pods_follow_the_watch() {
        let pods = Pods::default();
        let source = |ns: &str| Source {
            kind: Kind::Pod,
            namespace: Some(ns.into()),
        };
        pods.observe(&ClusterDelta::Resynced {
            source: source("a"),
            objects: vec![
                pod("a", "one", "Running", true),
                pod("a", "pending", "Pending", true),
                pod("a", "sidecar", "Running", false),
            ],
        });
        pods.observe(&ClusterDelta::Resynced {
            source: source("b"),
            objects: vec![pod("b", "two", "Running", true)],
        });
        assert_eq!(names(&pods), ["a/one", "b/two"]);
        let (_, t) = &pods.targets()[0];
        assert_eq!(
            *t,
            PodTarget {
                port: 9000,
                ip: Some("10.0.0.1".into()),
                deployment: None,
            }
        );
        pods.observe(&ClusterDelta::Applied(pod("a", "pending", "Running", true)));
        pods.observe(&ClusterDelta::Deleted(
            Kind::Pod,
            ("b".into(), "two".into()),
        ));
        assert_eq!(names(&pods), ["a/one", "a/pending"]);
        pods.observe(&ClusterDelta::Applied(pod("a", "one", "Succeeded", true)));
        // a new list of namespace a replaces a's pods only
        pods.observe(&ClusterDelta::Applied(pod("b", "three", "Running", true)));
        pods.observe(&ClusterDelta::Resynced {
            source: source("a"),
            objects: vec![pod("a", "four", "Running", true)],
        });
        assert_eq!(names(&pods), ["a/four", "b/three"]);
        // other kinds are not pods
        pods.observe(&ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Deployment,
                namespace: None,
            },
            objects: vec![],
        });
        assert_eq!(names(&pods).len(), 2);
        // a list across all namespaces replaces everything
        pods.observe(&ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Pod,
                namespace: None,
            },
            objects: vec![],
        });
        assert!(names(&pods).is_empty());
    }
}
