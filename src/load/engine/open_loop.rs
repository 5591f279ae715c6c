//! The open loop: sends on the profile's schedule whatever the answers, and measures
//! latency from the *scheduled* time, so a slow server cannot hide queueing (no
//! coordinated omission).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::conn::{Conn, Prepared, one};
use super::plan::Plan;
use crate::load::failure::Failure;
use crate::load::profile::{Profile, Schedule};
use crate::load::stats::{Outcome, Stats};

/// Idle connections per target, shared by the requests in flight.
type Pools = Arc<Vec<Mutex<Vec<Conn>>>>;

/// What each request task needs.
#[derive(Clone)]
struct Shared {
    plan: Arc<Plan>,
    targets: Arc<Vec<Prepared>>,
    pools: Pools,
    slots: Arc<Semaphore>,
    stats: Arc<Mutex<Stats>>,
    finished: Arc<AtomicU64>,
    all_done: Arc<Notify>,
}

/// Sends on schedule; returns when the last request has finished; the last send time.
/// The schedule runs on its own thread with the OS's precise sleeps (tokio's timer ticks in
/// milliseconds, which would add up to 1 ms of our own lag to every latency); each request
/// runs as a task on the runtime, on a pooled connection.
pub async fn run(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    profile: &Profile,
    max_in_flight: usize,
    stats: &Arc<Mutex<Stats>>,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> Instant {
    let shared = Shared {
        plan: plan.clone(),
        targets: targets.clone(),
        pools: Arc::new(targets.iter().map(|_| Mutex::new(Vec::new())).collect()),
        slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
        stats: stats.clone(),
        finished: Arc::new(AtomicU64::new(0)),
        all_done: Arc::new(Notify::new()),
    };
    let (finished, all_done) = (shared.finished.clone(), shared.all_done.clone());
    let handle = tokio::runtime::Handle::current();
    let std_start = start.into_std();
    let schedule = Schedule::new(profile.clone(), plan.duration.as_secs_f64());
    let stop = stop.clone();
    let dispatcher =
        std::thread::spawn(move || dispatch(schedule, shared, &handle, std_start, &stop));
    // the dispatcher blocks in sleeps: join it off the runtime's workers
    let (sent, last) = tokio::task::spawn_blocking(move || dispatcher.join())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or((0, std_start));
    while finished.load(Ordering::Acquire) < sent {
        all_done.notified().await;
    }
    Instant::from_std(last)
}

/// The dispatcher thread: sleeps until each send is due and spawns its request; the
/// number sent and the last send time.
fn dispatch(
    mut schedule: Schedule,
    shared: Shared,
    handle: &tokio::runtime::Handle,
    std_start: std::time::Instant,
    stop: &AtomicBool,
) -> (u64, std::time::Instant) {
    let mut n: u64 = 0;
    let mut last = std_start;
    let n_targets = shared.targets.len().max(1) as u64;
    while let Some(due) = schedule.next_due() {
        if shared.plan.max_requests.is_some_and(|m| n >= m) {
            break;
        }
        let at = std_start + Duration::from_secs_f64(due);
        // sleep in slices so that a stop is seen within 50 ms even at low rates
        loop {
            if stop.load(Ordering::Relaxed) {
                return (n, last);
            }
            let now = std::time::Instant::now();
            if at <= now {
                break;
            }
            std::thread::sleep((at - now).min(Duration::from_millis(50)));
        }
        let i = (n % n_targets) as usize;
        n += 1;
        last = std::time::Instant::now();
        if let Ok(mut s) = shared.stats.lock() {
            s.sent += 1;
        }
        handle.spawn(request(shared.clone(), i, at));
    }
    (n, last)
}

/// One scheduled request to target `i`, due at `at`, recorded when it ends.
async fn request(sh: Shared, i: usize, at: std::time::Instant) {
    // waiting for a free slot counts: latency runs from the scheduled time
    let outcome = match sh.slots.acquire().await {
        Ok(_permit) => {
            let mut slot = sh.pools[i].lock().ok().and_then(|mut p| p.pop());
            let o = one(&sh.plan, &sh.targets[i], &mut slot).await;
            if let (Some(c), Ok(mut p)) = (slot, sh.pools[i].lock()) {
                p.push(c);
            }
            o
        }
        // the semaphore is never closed; if it were, nothing could be sent
        Err(_) => Outcome::Failed(Failure::Closed),
    };
    let latency = at.elapsed();
    if let Ok(mut s) = sh.stats.lock() {
        s.record(latency, outcome);
    }
    sh.finished.fetch_add(1, Ordering::Release);
    sh.all_done.notify_one();
}
