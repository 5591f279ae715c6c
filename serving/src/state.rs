//! What the REST handlers and the gRPC service share: the model's description, the queue, the
//! metrics, the limits and readiness. Cheap to clone.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::batcher::BatchHandle;
use crate::metrics::Metrics;
use crate::model::TensorSpec;

/// What the handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Shared>,
}

pub struct Shared {
    pub name: String,
    pub version: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub batchable: bool,
    pub batcher: BatchHandle,
    pub metrics: Arc<Metrics>,
    pub max_body: usize,
    /// A model served per input shape: its plan cache (for the metrics).
    pub plan_cache: Option<Arc<crate::model::ShapePlans>>,
    pub request_timeout: Duration,
    /// False until warm, and again from the moment a drain starts.
    pub ready: AtomicBool,
}
