//! The scrape source: keeps the serving pods (those with the model-version label) by
//! watching them, and every interval scrapes each Running pod through the pod proxy,
//! a bounded number at a time, each with a timeout. One event per pod and scrape.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc::UnboundedSender};
use tokio::task::JoinHandle;

use super::{parse, proxy_path};
use crate::event::{AppEvent, ScrapeResult};
use crate::model::{MODEL_VERSION_LABEL, key};

/// How a pod's metrics are reached: read from the config (`scrape.via`).
pub use crate::config::Via;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub via: Via,
    pub interval: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
}

impl From<&crate::config::Scrape> for Settings {
    fn from(c: &crate::config::Scrape) -> Self {
        Settings {
            via: c.via,
            interval: Duration::from_millis(c.interval_ms),
            timeout: Duration::from_millis(c.timeout_ms),
            concurrency: c.concurrency.max(1),
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
            tokio::spawn(async move { run(client, ns, s, tx).await })
        })
        .collect()
}

async fn run(
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
    tokio::spawn(watch);
    let gate = Arc::new(Semaphore::new(s.concurrency));
    let http = reqwest::Client::builder().timeout(s.timeout).build().ok();
    let mut tick = tokio::time::interval(s.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tx.is_closed() {
            return;
        }
        for pod in store.state() {
            let running = pod.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Running");
            if !running || pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let k = key(&pod.metadata);
            let target = match s.via {
                Via::Proxy => Target::Proxy(proxy_path(&k.0, &k.1, port(&pod))),
                Via::PodIp => match pod.status.as_ref().and_then(|st| st.pod_ip.clone()) {
                    Some(ip) => {
                        Target::Url(format!("http://{}/metrics", host_port(&ip, port(&pod))))
                    }
                    None => continue,
                },
            };
            let (client, tx, gate, http) = (client.clone(), tx.clone(), gate.clone(), http.clone());
            tokio::spawn(async move {
                let Ok(_permit) = gate.acquire_owned().await else {
                    return;
                };
                let text = match target {
                    Target::Proxy(path) => fetch(&client, &path, s.timeout).await,
                    Target::Url(url) => match http {
                        Some(h) => fetch_url(&h, &url).await,
                        None => Err("no HTTP client".into()),
                    },
                };
                let result = text.and_then(|text| parse(&text));
                let _ = tx.send(AppEvent::Scrape(ScrapeResult {
                    pod: k,
                    at: Timestamp::now(),
                    result,
                }));
            });
        }
    }
}

enum Target {
    Proxy(String),
    Url(String),
}

fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

pub async fn fetch_url(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    resp.text().await.map_err(|e| format!("{url}: {e}"))
}

async fn fetch(client: &Client, path: &str, timeout: Duration) -> Result<String, String> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.request_text(req)).await {
        Err(_) => Err(format!("timed out after {timeout:?}")),
        Ok(Err(kube::Error::Api(st))) if st.code == 403 => {
            Err(format!("forbidden: get pods/proxy ({})", st.message))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(text)) => Ok(text),
    }
}
