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
use crate::load::plan::LoadPlan;
use crate::load::report::Summary;

#[derive(Default)]
pub struct LoadRunner {
    stop: Option<Arc<AtomicBool>>,
}

impl LoadRunner {
    pub fn start(&mut self, plan: LoadPlan, tx: UnboundedSender<AppEvent>) {
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = Some(stop.clone());
        tokio::spawn(async move {
            let result = run(&plan, &tx, stop).await;
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
) -> Result<String, LoadError> {
    let plan = checked.engine_plan()?;
    let (ptx, mut prx) = unbounded_channel();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(p) = prx.recv().await {
                if tx.send(AppEvent::Load(LoadEvent::Progress(p))).is_err() {
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
