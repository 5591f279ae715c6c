//! The load engine: HTTP/1.1 keep-alive or HTTP/2 connections ([`conn`]), an open loop
//! that sends on schedule, measures latency from each send's start and its own lag
//! against the schedule apart ([`open_loop`]),
//! or a closed loop of N workers ([`closed_loop`]). Always bounded by duration and, if
//! given, a request count; a [`Progress`] is sent every period while it runs.
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

mod arrival;
mod closed_loop;
mod conn;
mod flush;
mod h1;
mod live;
mod open_loop;
mod plan;
mod priority;
mod progress;
#[cfg(test)]
mod tests;
mod timer;

pub use self::closed_loop::ThreadError;
pub use self::conn::PrepareError;
pub use self::h1::WireError;
pub use self::live::Tally;
pub use self::plan::{H1Client, Mode, Outcomes, Plan};
pub use self::priority::{Applied, SenderPriority};
pub use self::progress::{Progress, snapshot};
pub use crate::load::endpoint::{Endpoint, EndpointError};
use crate::load::health;
use crate::load::stats::held;

/// Why a run could not be carried out (requests that fail are counted, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no target URL")]
    NoTargets,
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Threads(#[from] ThreadError),
    /// An https target's handshake failed before the run: a setup error, not a measurement.
    #[error("--url {url}: TLS handshake failed: {reason}")]
    Tls { url: String, reason: String },
}

/// Runs the plan to its end, sending a [`Progress`] every `every` to `progress`.
pub async fn run(
    plan: Plan,
    progress: Option<UnboundedSender<Progress>>,
    every: Duration,
) -> Result<Outcomes, RunError> {
    run_until(plan, progress, every, Arc::new(AtomicBool::new(false))).await
}

/// [`run`], ending early once `stop` is set: nothing new is sent, answers in flight are awaited.
pub async fn run_until(
    plan: Plan,
    progress: Option<UnboundedSender<Progress>>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Result<Outcomes, RunError> {
    run_into(plan, progress, every, stop, live::Tally::new()).await
}

/// [`run_until`], recording into `tally`, which others may read while it runs (a worker of
/// an in-cluster run reports it).
pub async fn run_into(
    plan: Plan,
    progress: Option<UnboundedSender<Progress>>,
    every: Duration,
    stop: Arc<AtomicBool>,
    tally: live::Tally,
) -> Result<Outcomes, RunError> {
    if plan.targets.is_empty() {
        return Err(RunError::NoTargets);
    }
    let targets = Arc::new(
        plan.targets
            .iter()
            .map(|ep| conn::Prepared::new(&plan, ep))
            .collect::<Result<Vec<_>, _>>()?,
    );
    check_tls(&plan).await?;
    let plan = Arc::new(plan);
    let cpu_before = health::cpu_time();
    let start = Instant::now();
    let reporter = progress.map(|tx| spawn_reporter(tx, &tally, &plan, start, every));
    let last_send = match &plan.mode {
        Mode::Open {
            profile,
            max_in_flight,
        } => {
            let (first, last, priority) = open_loop::run(
                &plan,
                &targets,
                profile,
                *max_in_flight,
                &tally,
                start,
                &stop,
            )
            .await;
            Ok((first, last, Some(priority)))
        }
        Mode::Closed { concurrency } => {
            let deadline = start + plan.duration;
            closed_loop::run(&plan, &targets, *concurrency, &tally, deadline, &stop)
                .await
                .map(|(last, priority)| (start, last, Some(priority)))
        }
    };
    if let Some(r) = reporter {
        r.abort();
    }
    let (first_send, last_send, sender_priority) = last_send?;
    let elapsed = start.elapsed();
    let stats = held(&tally.stats).clone();
    Ok(Outcomes {
        stats,
        elapsed,
        send_window: last_send.saturating_duration_since(first_send),
        cpu_cores: health::cores_used(cpu_before, health::cpu_time(), elapsed),
        sender_priority,
    })
}

/// One handshake with each https target before the run: an untrusted certificate is the
/// flags' fault and is said once, by name, instead of counted as thousands of failures. A
/// target that does not answer yet is left to the run, which counts it.
async fn check_tls(plan: &Plan) -> Result<(), RunError> {
    let Some(config) = &plan.tls else {
        return Ok(());
    };
    for ep in plan.targets.iter().filter(|t| t.tls) {
        let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port));
        let Ok(Ok(tcp)) = tokio::time::timeout(plan.timeout, tcp).await else {
            continue;
        };
        let shake = conn::tls_handshake(ep, config, tcp);
        match tokio::time::timeout(plan.timeout, shake).await {
            Ok(Err(crate::load::failure::RequestError::Tls(e))) => {
                return Err(RunError::Tls {
                    url: ep.url.clone(),
                    reason: crate::tls::explain(&e),
                });
            }
            Ok(Err(e)) => {
                return Err(RunError::Tls {
                    url: ep.url.clone(),
                    reason: e.to_string(),
                });
            }
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    Ok(())
}

/// Sends a [`Progress`] every `every` from `start` until aborted or nobody listens.
fn spawn_reporter(
    tx: UnboundedSender<Progress>,
    tally: &live::Tally,
    plan: &Arc<Plan>,
    start: Instant,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let (tally, plan) = (tally.clone(), plan.clone());
    tokio::spawn(async move {
        let mut iv = tokio::time::interval_at(start + every, every);
        // after a stall, one window the length of the stall, not a burst of tiny ones
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = start;
        let mut cpu = health::cpu_time();
        let mut answered = 0;
        loop {
            iv.tick().await;
            // the tick may come late: the CPU is over the time that really passed
            let now = Instant::now();
            // the rate from the answers counted as they came, not from the merged figures
            // (merged every 100 ms per thread: a window held two or three merges), read at
            // the window's end, before the figures' lock is waited for
            let answered_now = tally.answered.total();
            let cpu_now = health::cpu_time();
            let cores = health::cores_used(cpu, cpu_now, now - last);
            let mut p = progress::snapshot(&tally.stats, &plan, now - start, now - last, cores);
            p.rps =
                answered_now.saturating_sub(answered) as f64 / (now - last).as_secs_f64().max(1e-9);
            answered = answered_now;
            last = now;
            cpu = cpu_now;
            if tx.send(p).is_err() {
                return;
            }
        }
    })
}
