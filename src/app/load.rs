//! Runs the console's load test: reads the checked plan's body, drives the engine,
//! forwards its progress into the event channel, and reports the end (writing `--json`
//! if given). An in-cluster run goes to [`coordinator`] instead, with the same events.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use crate::event::{AppEvent, LoadEvent};
use crate::load::ended::{LoadEnded, LoadError};
use crate::load::engine::{Progress, run_until};
use crate::load::fleet::coordinator::{self, FleetCluster, FleetError, delete_job};
use crate::load::fleet::job::job_name;
use crate::load::health::LagSignal;
use crate::load::plan::{FleetPlan, LoadPlan};
use crate::load::report::Summary;

pub struct LoadRunner {
    stop: Option<Arc<AtomicBool>>,
    /// Told of each progress report whose generator lagged.
    lag: LagSignal,
    /// Where an in-cluster run's Job goes (`None`: no cluster in this console).
    fleet: Option<FleetCluster>,
    /// A read-only console starts no in-cluster run (it creates a Job).
    read_only: bool,
    /// The run in progress, awaited on quit so an in-cluster run deletes its Job.
    task: Option<(JoinHandle<()>, Option<RunJob>)>,
}

/// An in-cluster run's Job: where it is, to delete it on quit if the run is slow to.
struct RunJob {
    cluster: FleetCluster,
    name: String,
}

/// How long quitting waits for an in-cluster run to stop its workers and delete its Job;
/// past it, the console deletes the Job itself (within `DELETE_WITHIN`).
const FINISH_WITHIN: Duration = Duration::from_secs(15);
const DELETE_WITHIN: Duration = Duration::from_secs(10);

impl LoadRunner {
    pub fn new(lag: LagSignal, fleet: Option<FleetCluster>, read_only: bool) -> LoadRunner {
        LoadRunner {
            stop: None,
            lag,
            fleet,
            read_only,
            task: None,
        }
    }

    pub fn start(&mut self, plan: LoadPlan, tx: UnboundedSender<AppEvent>) {
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = Some(stop.clone());
        let lag = self.lag.clone();
        let cluster = self.fleet.clone();
        let id = coordinator::run_id();
        let job = match (&plan.fleet, &cluster) {
            (Some(_), Some(c)) if !self.read_only => Some(RunJob {
                cluster: c.clone(),
                name: job_name(&id),
            }),
            _ => None,
        };
        let read_only = self.read_only;
        let task = tokio::spawn(async move {
            let result = match (&plan.fleet, cluster) {
                (None, _) => run(&plan, &tx, stop, lag).await,
                (Some(_), _) if read_only => Err(FleetError::ReadOnly.into()),
                (Some(f), Some(c)) => run_fleet(&c, &plan, f, id, &tx, stop, lag).await,
                (Some(_), None) => Err(FleetError::NoCluster.into()),
            };
            tracing::info!(?result, "load test ended");
            let result: LoadEnded = result.map_err(Into::into);
            let _ = tx.send(AppEvent::Load(LoadEvent::Finished(result)));
        });
        self.task = Some((task, job));
    }

    pub fn stop(&self) {
        if let Some(s) = &self.stop {
            s.store(true, Ordering::Relaxed);
        }
    }

    /// After [`LoadRunner::stop`]: waits (boundedly) for an in-cluster run to stop its
    /// workers and delete its Job, and deletes the Job itself when the run is slower than
    /// that (workers still draining requests in flight); a run from this process just ends
    /// with it.
    pub async fn finish(&mut self) {
        let Some((mut task, Some(job))) = self.task.take() else {
            return;
        };
        if task.is_finished() {
            return;
        }
        eprintln!("stopping the load workers and deleting their Job…");
        if tokio::time::timeout(FINISH_WITHIN, &mut task).await.is_ok() {
            return;
        }
        // ended here, so that it cannot create the Job after the delete below
        task.abort();
        let (name, ns) = (&job.name, &job.cluster.namespace);
        eprintln!(
            "the workers did not stop within {}s (requests still in flight): deleting Job {name} now",
            FINISH_WITHIN.as_secs()
        );
        match tokio::time::timeout(DELETE_WITHIN, delete_job(&job.cluster, name)).await {
            Ok(Ok(true)) => eprintln!("deleted Job {name} in {ns}, and its worker pods with it"),
            Ok(Ok(false)) => eprintln!("Job {name} in {ns} was already gone"),
            Ok(Err(e)) => eprintln!(
                "{e}: its deadline and TTL remove it; `kubectl delete job {name} -n {ns}` does now"
            ),
            Err(_) => eprintln!(
                "the API server did not answer the delete of Job {name} within {}s: its deadline and TTL remove it; `kubectl delete job {name} -n {ns}` does now",
                DELETE_WITHIN.as_secs()
            ),
        }
    }
}

/// Forwards the engine's progress into the event channel, telling `lag` of late sends.
fn forward(
    tx: &UnboundedSender<AppEvent>,
    lag: LagSignal,
) -> (UnboundedSender<Progress>, JoinHandle<()>) {
    let (ptx, mut prx) = unbounded_channel::<Progress>();
    let tx = tx.clone();
    let task = tokio::spawn(async move {
        let (mut sent, mut late) = (0u64, 0u64);
        while let Some(p) = prx.recv().await {
            lag.add(p.sent.saturating_sub(sent), p.late.saturating_sub(late));
            (sent, late) = (p.sent, p.late);
            if tx
                .send(AppEvent::Load(LoadEvent::Progress(Box::new(p))))
                .is_err()
            {
                return;
            }
        }
    });
    (ptx, task)
}

async fn run(
    checked: &LoadPlan,
    tx: &UnboundedSender<AppEvent>,
    stop: Arc<AtomicBool>,
    lag: LagSignal,
) -> Result<String, LoadError> {
    let plan = checked.engine_plan()?;
    let (ptx, forwarding) = forward(tx, lag);
    tracing::info!(?checked, "load test started");
    let outcomes = run_until(plan.clone(), Some(ptx), Duration::from_millis(250), stop).await;
    let _ = forwarding.await;
    written(checked, Summary::new(&plan, &outcomes?))
}

/// The summary line, once `--json` (if asked for) is written.
fn written(checked: &LoadPlan, summary: Summary) -> Result<String, LoadError> {
    if let Some(path) = &checked.json {
        summary.write_json(&checked.slo, path)?;
    }
    Ok(summary.line(&checked.slo))
}

async fn run_fleet(
    cluster: &FleetCluster,
    checked: &LoadPlan,
    fleet: &FleetPlan,
    id: String,
    tx: &UnboundedSender<AppEvent>,
    stop: Arc<AtomicBool>,
    lag: LagSignal,
) -> Result<String, LoadError> {
    let plan = checked.engine_plan()?;
    let (ptx, forwarding) = forward(tx, lag);
    tracing::info!(?checked, namespace = %cluster.namespace, "in-cluster load test started");
    let ran = coordinator::run(cluster, checked, fleet, id, Some(ptx), stop).await;
    let _ = forwarding.await;
    let o = ran?;
    let line = written(
        checked,
        Summary::new(&plan, &o.outcomes).with_workers(o.workers),
    )?;
    let cleanup = o.cleanup.map(|c| format!("; ⚠ {c}")).unwrap_or_default();
    Ok(format!("{line}{cleanup}"))
}
