//! tractor-serve: an HTTP inference server on tract-onnx.
//!
//! [`Server::load`] loads, optimizes and warms the model and starts the inference workers;
//! [`Server::serve`] answers HTTP until the shutdown future resolves, then drains: readiness
//! turns false at once, queued and in-flight requests get their real answers, and it returns
//! within the drain deadline.

pub mod batcher;
pub mod config;
pub mod cpu;
pub mod dtype;
pub mod error;
pub mod grpc;
pub mod http;
pub mod infer;
pub mod listen;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod rewrite;
pub mod state;
pub mod units;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;

use batcher::{BatchConfig, Batcher};
use config::Config;
use metrics::Metrics;
use model::{LoadError, Model, ModelError};
use state::{AppState, Shared};

pub struct Server {
    pub config: Config,
    pub model: Arc<Model>,
    /// (batch size, ms per batch, kept) for each size timed at load; empty without tuning.
    pub batch_timings: Vec<(usize, f64, bool)>,
    pub state: AppState,
    batcher: Batcher,
}

/// Let one inference use `n` threads (tract-linalg's multithreaded matrix products). Process-wide.
pub fn set_intra_op_threads(n: usize) {
    if n > 1 {
        tract_linalg::multithread::set_default_executor(
            tract_linalg::multithread::Executor::multithread(n),
        );
    }
}

/// How a drain ended.
#[derive(Debug, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every accepted request was answered.
    Complete,
    /// The drain deadline passed with requests still open; they were cut off.
    DeadlineReached,
}

impl Server {
    /// Load and warm the model, start the workers. Not ready yet: `serve` makes it ready.
    pub fn load(config: Config) -> Result<Server, LoadError> {
        set_intra_op_threads(config.intra_op_threads);
        let mut model = Model::load_with(
            &config.model,
            &config.input_shapes,
            config.max_batch_size,
            config.rewrites,
            config.conv_lowering,
        )?;
        if let Some(plans) = &model.shapes {
            plans.set_capacity(config.plan_cache_size);
            model
                .warm_shapes(&config.warm_shapes)
                .map_err(|e| LoadError {
                    path: config.model.clone(),
                    source: e,
                })?;
            tracing::info!(
                warmed = config.warm_shapes.len(),
                cache = config.plan_cache_size,
                "inputs with free dimensions: a plan per input shape, built on first use"
            );
        }
        let mut batch_timings = Vec::new();
        if config.batch_tuning {
            batch_timings = model.tune_batch_sizes().map_err(|e| LoadError {
                path: config.model.clone(),
                source: ModelError::Tuning(e),
            })?;
            for &(size, ms, kept) in &batch_timings {
                tracing::info!(
                    size,
                    ms_per_batch = ms,
                    ms_per_row = ms / size as f64,
                    kept,
                    "batch size timed"
                );
            }
        }
        let model = Arc::new(model);
        let metrics = Arc::new(Metrics::new(
            &config.name,
            &config.model_version,
            &model.sha256,
        ));
        let batcher = Batcher::start(
            model.clone(),
            BatchConfig {
                workers: config.workers,
                max_batch: config.max_batch_size,
                max_delay: config.max_queue_delay,
                capacity: config.queue_capacity,
            },
            metrics.clone(),
        )
        .map_err(|e| LoadError {
            path: config.model.clone(),
            source: ModelError::Workers(e),
        })?;
        let state = AppState {
            inner: Arc::new(Shared {
                name: config.name.clone(),
                version: config.model_version.clone(),
                inputs: model.inputs.clone(),
                outputs: model.outputs.clone(),
                batchable: model.batchable(),
                batcher: batcher.handle.clone(),
                metrics,
                max_body: config.max_body_size,
                plan_cache: model.shapes.clone(),
                request_timeout: config.request_timeout,
                ready: AtomicBool::new(false),
            }),
        };
        Ok(Server {
            config,
            model,
            state,
            batcher,
            batch_timings,
        })
    }

    pub fn router(&self) -> axum::Router {
        http::app(self.state.clone())
    }

    /// Serve REST on `listener` (and gRPC on `grpc`, when given) until `shutdown` resolves,
    /// then drain both.
    pub async fn serve(
        self,
        listener: TcpListener,
        grpc: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainOutcome> {
        let Server {
            config,
            state,
            batcher,
            ..
        } = self;
        let app = http::app(state.clone());
        let (grpc_app, health) = grpc::app(state.clone());
        let delay = config.shutdown_delay;
        let deadline = config.drain_timeout;
        let (began_tx, began_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let drain_state = state.clone();
        let drain_health = health.clone();
        let graceful = async move {
            shutdown.await;
            drain_state.inner.ready.store(false, Ordering::SeqCst);
            grpc::set_health(&drain_health, false).await;
            tracing::info!(?delay, ?deadline, "draining: readiness is now false");
            let _ = began_tx.send(());
            tokio::time::sleep(delay).await;
            tracing::info!("no longer accepting connections; finishing open requests");
            grpc::end_health_watches(&drain_health).await;
            let _ = stop_tx.send(true);
        };
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        state.inner.ready.store(true, Ordering::SeqCst);
        grpc::set_health(&health, true).await;
        let grpc_addr = match &grpc {
            Some(l) => l.local_addr()?.to_string(),
            None => "off".to_owned(),
        };
        tracing::info!(addr = %listener.local_addr()?, grpc = %grpc_addr, model = %config.name, version = %config.model_version, "ready");
        let limits = listen::Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        };
        let metrics = state.inner.metrics.clone();
        // one cap for both ports: --max-connections is how many the process holds
        let slots = listen::slots(&limits);
        let rest = listen::serve(
            listener,
            app,
            limits,
            slots.clone(),
            metrics.clone(),
            stopped(),
        );
        let grpc_served = async move {
            if let Some(l) = grpc {
                listen::serve(l, grpc_app, limits, slots, metrics, stopped()).await;
            }
        };
        let server = async move {
            tokio::join!(graceful, rest, grpc_served);
        };
        let forced = async move {
            if began_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(delay + deadline).await;
        };
        let outcome = tokio::select! {
            () = server => DrainOutcome::Complete,
            _ = forced => DrainOutcome::DeadlineReached,
        };
        match outcome {
            DrainOutcome::Complete => {
                // Every HTTP request has been answered, so the queue is empty. Drop the last
                // queue senders (held by the state) so the workers see it closed, then join them.
                drop(state);
                let _ = tokio::task::spawn_blocking(move || batcher.shutdown()).await;
                tracing::info!("drained");
            }
            DrainOutcome::DeadlineReached => {
                let open = state.inner.metrics.inflight.load(Ordering::Relaxed);
                tracing::warn!(open, "drain deadline reached with requests still open");
            }
        }
        Ok(outcome)
    }
}
