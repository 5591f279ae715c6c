//! What every protocol does around an inference: check the model named, count the request in
//! flight, enqueue it and wait for its answer within its time budget. REST (`http`) and gRPC
//! (`grpc`) differ only in how they read requests and write answers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tract_onnx::prelude::Tensor;

use crate::batcher::{InferError, Job};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::Shared;

/// The model a request names must be the one served (and its version, when given).
pub fn check_model(st: &Shared, name: &str, version: Option<&str>) -> Result<(), ApiError> {
    if name != st.name {
        return Err(ApiError::not_found(format!(
            "unknown model {name:?}; this server serves {:?}",
            st.name
        )));
    }
    if let Some(v) = version
        && v != st.version
    {
        return Err(ApiError::not_found(format!(
            "model {name:?} has no version {v:?}; this server serves version {:?}",
            st.version
        )));
    }
    Ok(())
}

/// Counts a request in flight for as long as it lives.
pub struct InFlight(Arc<Metrics>);

impl InFlight {
    pub fn new(m: &Arc<Metrics>) -> Self {
        m.inflight.fetch_add(1, Ordering::Relaxed);
        InFlight(m.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Enqueue and wait for the answer. `budget` is the whole time the request may take from
/// `arrived` (the server's request timeout, or less when the client set a deadline).
pub async fn run_job(
    st: &Shared,
    inputs: Vec<Tensor>,
    rows: usize,
    arrived: Instant,
    budget: Duration,
) -> Result<Vec<Tensor>, ApiError> {
    let (tx, rx) = oneshot::channel();
    let job = Job {
        inputs,
        rows,
        enqueued: Instant::now(),
        reply: tx,
    };
    st.batcher.submit(job).inspect_err(|_| {
        // Every refusal counts: tractor_rejected_requests_total is "answered 503 at the queue".
        st.metrics.rejected.fetch_add(1, Ordering::Relaxed);
    })?;
    let left = budget.saturating_sub(arrived.elapsed());
    let reply = tokio::time::timeout(left, rx)
        .await
        .map_err(|_| InferError::Timeout(budget))?
        .map_err(|_| InferError::WorkerGone)?;
    Ok(reply?)
}
