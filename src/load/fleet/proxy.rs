//! A worker's HTTP API through the API server's pod proxy: one request, the health wait
//! before the start, a report read.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use kube::Client;
use tokio::time::Instant;

use super::error::{FleetError, api_error};
use super::job::PORT;
use super::pods::WorkerPod;
use super::wire::{Report, WireError};

/// Where the Job goes.
#[derive(Clone)]
pub struct FleetCluster {
    pub client: Client,
    pub namespace: String,
}

/// How long one proxied request may take.
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// One request to a worker through the pod proxy; its body.
pub(super) async fn proxied(
    cluster: &FleetCluster,
    method: http::Method,
    pod: &str,
    path_and_query: &str,
) -> Result<String, FleetError> {
    let ns = &cluster.namespace;
    let uri = format!("/api/v1/namespaces/{ns}/pods/{pod}:{PORT}/proxy/{path_and_query}");
    let verb = format!("{method} {path_and_query} on pod {pod}");
    let req = http::Request::builder()
        .method(method)
        .uri(&uri)
        .body(Vec::new())
        .map_err(|e| FleetError::Unreachable {
            pod: pod.to_string(),
            why: e.to_string(),
        })?;
    match tokio::time::timeout(READ_TIMEOUT, cluster.client.request_text(req)).await {
        Ok(r) => r.map_err(|e| api_error(&verb, ns, e)),
        Err(_) => Err(FleetError::Unreachable {
            pod: pod.to_string(),
            why: format!("no answer within {READ_TIMEOUT:?}"),
        }),
    }
}

/// Each pod answers `/healthz` through the proxy (the readiness a kubelet would probe).
pub(super) async fn wait_healthy(
    cluster: &FleetCluster,
    pods: &[WorkerPod],
    stop: &AtomicBool,
) -> Result<(), FleetError> {
    let checks = pods.iter().map(|p| async move {
        let began = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(FleetError::Stopped);
            }
            match proxied(cluster, http::Method::GET, &p.name, "healthz").await {
                Ok(_) => return Ok(()),
                Err(e @ FleetError::Forbidden { .. }) => return Err(e),
                Err(e) if began.elapsed() > Duration::from_secs(30) => {
                    return Err(FleetError::Unreachable {
                        pod: p.name.clone(),
                        why: e.to_string(),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
    join_all(checks).await.into_iter().collect()
}

/// Why one read of a worker's report gave nothing: the proxy, or the report itself.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    #[error(transparent)]
    Proxy(#[from] FleetError),
    #[error(transparent)]
    Report(#[from] WireError),
}

/// A worker's report since the start, and its histograms as stats.
pub(super) async fn read(
    cluster: &FleetCluster,
    pod: &str,
) -> Result<(Report, crate::load::stats::Stats), ReadError> {
    let body = proxied(cluster, http::Method::GET, pod, "report").await?;
    let report = Report::parse(body.as_bytes())?;
    let stats = report.stats()?;
    Ok((report, stats))
}
