//! The closed loop: N workers, each with its own connection, each sending its next request
//! when the last one answered.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::conn::{Conn, Prepared, attempt, ended, outcome, senders_priority};
use super::flush::{flush, flush_every};
use super::live::{Answered, Tally};
use super::plan::Plan;
use super::priority::{Applied, spawn_at};
use crate::load::failure::RequestError;
use crate::load::stats::{Outcome, Stats, held};

/// The closed loop's threads could not be started or joined.
#[derive(Debug, thiserror::Error)]
pub enum ThreadError {
    #[error("cannot start a load thread: {0}")]
    Start(#[source] std::io::Error),
    #[error("load threads: {0}")]
    Join(#[source] tokio::task::JoinError),
}

/// What every worker shares.
#[derive(Clone)]
struct Shared {
    plan: Arc<Plan>,
    targets: Arc<Vec<Prepared>>,
    answered: Arc<Answered>,
    /// Requests claimed so far, against the plan's budget.
    claimed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// `concurrency` workers until the deadline or the request budget; the last send time and
/// the priority the threads ran at.
/// The workers are spread over one single-threaded runtime per core (as wrk spreads its
/// connections over threads): a worker and its connection's task then always run on the
/// same thread, with no cross-thread wake-ups or work stealing per request. The threads run
/// at the plan's sender priority ([`super::priority`]): batch beside a server on this
/// machine unless told, so that an answer's arrival does not take a core from the server.
pub async fn run(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    concurrency: usize,
    tally: &Tally,
    deadline: Instant,
    stop: &Arc<AtomicBool>,
) -> Result<(Instant, Applied), ThreadError> {
    let concurrency = concurrency.max(1);
    let wanted = senders_priority(plan, targets);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(concurrency);
    let shared = Shared {
        plan: plan.clone(),
        targets: targets.clone(),
        answered: tally.answered.clone(),
        claimed: Arc::new(AtomicU64::new(0)),
        stop: stop.clone(),
    };
    // each thread's workers record in its own figures; a task on the caller's runtime, not
    // the thread's, merges them into the run's every 100 ms (a merge walks whole
    // histograms: once per thread, not once per worker), so that a thread at a lowered
    // priority never holds the run's figures, which the progress display waits for
    let locals: Vec<_> = (0..threads)
        .map(|_| Arc::new(Mutex::new(Stats::new())))
        .collect();
    let flushers: Vec<_> = locals
        .iter()
        .map(|local| tokio::spawn(flush_every(local.clone(), tally.stats.clone())))
        .collect();
    let mut handles = Vec::with_capacity(threads);
    let mut failed = None;
    for (i, local) in locals.iter().enumerate() {
        let shared = shared.clone();
        let local = local.clone();
        // the runtime is built on its thread: one that cannot start then drops nothing
        // that must not be dropped inside async code
        let spawned = spawn_at(
            format!("load-{i}"),
            wanted,
            move || -> std::io::Result<Option<Instant>> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                Ok(rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for w in (i..concurrency).step_by(threads) {
                        set.spawn(worker(w, i, shared.clone(), local.clone(), deadline));
                    }
                    let mut last: Option<Instant> = None;
                    while let Some(r) = set.join_next().await {
                        if let Ok(t) = r {
                            last = Some(last.map_or(t, |l| l.max(t)));
                        }
                    }
                    last
                }))
            },
        );
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                // the threads started already end at once, and are joined below
                failed = Some(e);
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    // the threads block: join them off the runtime's workers
    let joined = tokio::task::spawn_blocking(move || {
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    })
    .await;
    for f in flushers {
        f.abort();
    }
    // what each thread recorded since its last merge, a thread that panicked included
    for local in &locals {
        flush(&tally.stats, local);
    }
    let joined = joined.map_err(ThreadError::Join)?;
    let mut lasts = None;
    let mut applied = wanted;
    for j in joined {
        match j {
            Ok((Ok(last), got)) => {
                lasts = lasts.max(last);
                // a thread refused: the run says so (though the others keep theirs)
                if got != wanted {
                    applied = got;
                }
            }
            Ok((Err(e), _)) => {
                failed.get_or_insert(e);
            }
            // a thread that panicked: what it recorded before is merged above
            Err(_) => {}
        }
    }
    if let Some(e) = failed {
        return Err(ThreadError::Start(e));
    }
    Ok((lasts.unwrap_or_else(Instant::now), applied))
}

/// One closed-loop worker: its own connection, the next request when the last answered,
/// recorded in its thread's `local` figures.
async fn worker(
    w: usize,
    thread: usize,
    sh: Shared,
    local: Arc<Mutex<Stats>>,
    deadline: Instant,
) -> Instant {
    let t = &sh.targets[w % sh.targets.len().max(1)];
    let mut conn = None;
    let mut timer = Deadline::new(sh.plan.timeout);
    let mut last = Instant::now();
    while Instant::now() < deadline && !sh.stop.load(Ordering::Relaxed) {
        if sh
            .plan
            .max_requests
            .is_some_and(|m| sh.claimed.fetch_add(1, Ordering::Relaxed) >= m)
        {
            break;
        }
        let sent = Instant::now();
        last = sent;
        let (outcome, arrived) = one_within(&sh.plan, t, &mut conn, &mut timer).await;
        let now = Instant::now();
        let (ended, read_wait) = ended(sent.into_std(), arrived, now.into_std());
        // only this thread takes it (its workers and its flusher): never contended
        {
            let mut s = held(&local);
            s.sent += 1;
            s.record(ended - sent.into_std(), outcome);
            if let Some(w) = read_wait {
                s.waited_to_be_read(w);
            }
        }
        if matches!(outcome, Outcome::Status(_)) {
            sh.answered.add(thread);
        }
    }
    last
}

/// A closed-loop worker's timeout. A timer armed per request costs a timer-wheel update
/// per request; this one is moved only when fewer than `timeout` remain, about ten times
/// per timeout. A request without an answer fails after between 1.0 and 1.1 × `timeout`.
struct Deadline {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl Deadline {
    fn new(timeout: Duration) -> Deadline {
        Deadline {
            sleep: Box::pin(tokio::time::sleep(timeout + timeout / 10)),
            timeout,
        }
    }

    fn arm(&mut self) {
        let now = Instant::now();
        if self.sleep.deadline() < now + self.timeout {
            let at = now + self.timeout + self.timeout / 10;
            self.sleep.as_mut().reset(at);
        }
    }
}

/// One request (see [`attempt`]) under a worker's shared [`Deadline`].
async fn one_within(
    plan: &Plan,
    t: &Prepared,
    slot: &mut Option<Conn>,
    deadline: &mut Deadline,
) -> (Outcome, Option<std::time::Instant>) {
    deadline.arm();
    let work = attempt(plan, t, slot);
    let result = tokio::select! {
        biased;
        r = work => r,
        // the connection may hold a half-read answer: it is dropped with `work`
        _ = deadline.sleep.as_mut() => Err(RequestError::Timeout),
    };
    outcome(result)
}
