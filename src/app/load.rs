//! Runs the console's load test: reads the checked plan's body, drives the engine,
//! forwards its progress into the event channel, and reports the end (writing `--json`
//! if given).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::event::{AppEvent, LoadEvent};
use crate::load::ended::{LoadEnded, LoadError};
use crate::load::engine::run_until;
use crate::load::health::LagSignal;
use crate::load::plan::LoadPlan;
use crate::load::report::Summary;

pub struct LoadRunner {
    stop: Option<Arc<AtomicBool>>,
    /// Told of each progress report whose generator lagged.
    lag: LagSignal,
}

impl LoadRunner {
    pub fn new(lag: LagSignal) -> LoadRunner {
        LoadRunner { stop: None, lag }
    }

    pub fn start(&mut self, plan: LoadPlan, tx: UnboundedSender<AppEvent>) {
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = Some(stop.clone());
        let lag = self.lag.clone();
        tokio::spawn(async move {
            let result = run(&plan, &tx, stop, lag).await;
            tracing::info!(?result, "load test ended");
            let result: LoadEnded = result.map_err(Into::into);
            let _ = tx.send(AppEvent::Load(LoadEvent::Finished(result)));
        });
    }

    pub fn stop(&self) {
        if let Some(s) = &self.stop {
            s.store(true, Ordering::Relaxed);
        }
    }
}

async fn run(
    checked: &LoadPlan,
    tx: &UnboundedSender<AppEvent>,
    stop: Arc<AtomicBool>,
    lag: LagSignal,
) -> Result<String, LoadError> {
    let plan = checked.engine_plan()?;
    let (ptx, mut prx) = unbounded_channel::<crate::load::engine::Progress>();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
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
        })
    };
    tracing::info!(?checked, "load test started");
    let outcomes = run_until(plan.clone(), Some(ptx), Duration::from_millis(250), stop).await;
    let _ = forward.await;
    let summary = Summary::new(&plan, &outcomes?);
    if let Some(path) = &checked.json {
        summary.write_json(&checked.slo, path)?;
    }
    Ok(summary.line(&checked.slo))
}
