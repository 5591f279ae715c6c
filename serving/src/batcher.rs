//! A bounded queue feeding dedicated inference threads, with dynamic batching.
//!
//! The HTTP layer only parses, validates and enqueues a [`Job`]; a full queue is refused at
//! once with a [`Refusal`] (answered 503 + Retry-After) so memory stays bounded. Each worker takes the oldest job, then —
//! for a batchable model — keeps taking jobs until the batch holds `max_batch` rows or the
//! first job has waited `max_delay`, runs them as one batch and splits the outputs back.
//! Jobs whose caller went away (timeout, disconnect) are dropped unrun.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;
use tract_onnx::prelude::{Tensor, TractError};

use crate::metrics::Metrics;
use crate::model::{Model, Runner};

/// Why the queue did not take a job. Every refusal is the server's load, not the caller's
/// fault: the caller may retry (see `From<Refusal> for ApiError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the inference queue is full; retry later")]
    QueueFull,
    /// The workers are gone: the server is draining or stopping.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Why an accepted job got no outputs. Clone: one failure answers every job of its batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InferError {
    #[error("assembling the batch: {0}")]
    Assemble(Arc<TractError>),
    #[error("inference failed: {0}")]
    Run(Arc<TractError>),
    #[error("inference panicked inside the model runtime")]
    Panicked,
    #[error("splitting the batch: {0}")]
    Split(Arc<TractError>),
    /// The reply channel closed unanswered.
    #[error("the inference worker stopped before answering")]
    WorkerGone,
    /// The request's whole time budget (from arrival) ran out.
    #[error("no answer within the {0:?} request timeout")]
    Timeout(Duration),
}

pub type Reply = Result<Vec<Tensor>, InferError>;

pub struct Job {
    /// One tensor per model input, in the model's input order; batch on axis 0.
    pub inputs: Vec<Tensor>,
    pub rows: usize,
    pub enqueued: Instant,
    pub reply: oneshot::Sender<Reply>,
}

#[derive(Clone)]
pub struct BatchHandle {
    tx: Sender<Job>,
}

impl BatchHandle {
    pub fn submit(&self, job: Job) -> Result<(), Refusal> {
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => Refusal::QueueFull,
            TrySendError::Disconnected(_) => Refusal::ShuttingDown,
        })
    }

    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }
}

pub struct Batcher {
    pub handle: BatchHandle,
    workers: Vec<JoinHandle<()>>,
}

pub struct BatchConfig {
    pub workers: usize,
    pub max_batch: usize,
    pub max_delay: Duration,
    pub capacity: usize,
}

impl Batcher {
    pub fn start(
        model: Arc<Model>,
        cfg: BatchConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Batcher> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(cfg.capacity);
        let max_batch = if model.batchable() {
            cfg.max_batch.max(1)
        } else {
            1
        };
        let mut workers = Vec::new();
        for ix in 0..cfg.workers {
            let (model, metrics, rx) = (model.clone(), metrics.clone(), rx.clone());
            let max_delay = cfg.max_delay;
            workers.push(
                std::thread::Builder::new()
                    .name(format!("infer-{ix}"))
                    .spawn(move || worker(&model, &rx, max_batch, max_delay, &metrics))?,
            );
        }
        Ok(Batcher {
            handle: BatchHandle { tx },
            workers,
        })
    }

    /// Close the queue and wait for the workers to finish what was queued.
    pub fn shutdown(self) {
        drop(self.handle);
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn worker(
    model: &Model,
    rx: &Receiver<Job>,
    max_batch: usize,
    max_delay: Duration,
    metrics: &Metrics,
) {
    let mut runner = match model.runner() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("inference worker cannot start: {e:?}");
            return;
        }
    };
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        if first.reply.is_closed() {
            continue;
        }
        let deadline = first.enqueued + max_delay;
        let mut rows = first.rows;
        let mut batch = vec![first];
        while rows < max_batch {
            match rx.recv_deadline(deadline) {
                Ok(j) if j.reply.is_closed() => {}
                Ok(j) if rows + j.rows > max_batch => {
                    carry = Some(j);
                    break;
                }
                Ok(j) => {
                    rows += j.rows;
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        execute(model, &mut runner, batch, rows, metrics);
    }
}

fn execute(
    model: &Model,
    runner: &mut Runner,
    mut batch: Vec<Job>,
    rows: usize,
    metrics: &Metrics,
) {
    let start = Instant::now();
    for j in &batch {
        metrics
            .queue_wait
            .observe(start.duration_since(j.enqueued).as_secs_f64());
    }
    let inputs = if batch.len() == 1 {
        std::mem::take(&mut batch[0].inputs)
    } else {
        let stacked: Result<Vec<Tensor>, InferError> = (0..batch[0].inputs.len())
            .map(|i| {
                Tensor::stack_tensors(0, &batch.iter().map(|j| &j.inputs[i]).collect::<Vec<_>>())
                    .map_err(|e| InferError::Assemble(Arc::new(e)))
            })
            .collect();
        match stacked {
            Ok(s) => s,
            Err(e) => return fail_all(batch, e),
        }
    };
    let result = catch_unwind(AssertUnwindSafe(|| runner.run(inputs)));
    metrics.inference.observe(start.elapsed().as_secs_f64());
    metrics.batch_size.observe(rows as f64);
    let outputs = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return fail_all(batch, InferError::Run(Arc::new(e))),
        Err(_) => {
            // The state may be inconsistent after a panic: start from fresh scratch.
            if let Ok(r) = model.runner() {
                *runner = r;
            }
            return fail_all(batch, InferError::Panicked);
        }
    };
    if batch.len() == 1
        && let Some(j) = batch.pop()
    {
        let _ = j.reply.send(Ok(outputs));
        return;
    }
    let mut offset = 0;
    for j in batch {
        let part: Reply = outputs
            .iter()
            .map(|o| {
                o.slice(0, offset, offset + j.rows)
                    .map_err(|e| InferError::Split(Arc::new(e)))
            })
            .collect();
        offset += j.rows;
        let _ = j.reply.send(part);
    }
}

fn fail_all(batch: Vec<Job>, err: InferError) {
    tracing::error!("{err}");
    for j in batch {
        let _ = j.reply.send(Err(err.clone()));
    }
}
