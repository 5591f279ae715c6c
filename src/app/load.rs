//! Runs the console's load test: parses the flags, drives the engine, forwards its
//! progress into the event channel, and reports the end (writing `--json` if given).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::event::{AppEvent, LoadEvent};
use crate::load::engine::run_until;
use crate::load::report::Summary;

#[derive(Default)]
pub struct LoadRunner {
    stop: Option<Arc<AtomicBool>>,
}

impl LoadRunner {
    pub fn start(&mut self, line: String, tx: UnboundedSender<AppEvent>) {
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = Some(stop.clone());
        tokio::spawn(async move {
            let result = run(&line, &tx, stop).await;
            tracing::info!(?result, "load test ended");
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
    line: &str,
    tx: &UnboundedSender<AppEvent>,
    stop: Arc<AtomicBool>,
) -> Result<String, String> {
    let args = crate::cli::parse_load_line(line)?;
    if args.json.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Err("--json -: standard output is the screen here; give a file".into());
    }
    let plan = crate::commands::loadtest::plan(&args)?;
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
    tracing::info!(%line, "load test started");
    let outcomes = run_until(plan.clone(), Some(ptx), Duration::from_millis(250), stop).await;
    let _ = forward.await;
    let outcomes = outcomes?;
    let summary = Summary::new(&plan, &outcomes);
    let slo = crate::commands::loadtest::slo(&args);
    if let Some(path) = &args.json {
        crate::commands::loadtest::write_json(&summary, &slo, path)?;
    }
    Ok(summary.line(&slo))
}
