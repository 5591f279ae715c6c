//! The open loop: sends on the profile's schedule whatever the answers. Each send's
//! latency runs from the moment its task starts, waiting for an in-flight slot included,
//! so a slow server cannot hide queueing (no coordinated omission); how late that start
//! was against the schedule is the generator's own delay, recorded apart as its lag
//! (and said when it passes `--max-lag`) instead of being added to the server's latency.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::conn::{Conn, Prepared, ended, one, open_lean, senders_priority};
use super::flush::{flush, flush_every};
use super::live::{Answered, Tally};
use super::plan::Plan;
use super::priority::Applied;
use super::timer::PreciseTimer;
use crate::load::failure::Failure;
use crate::load::profile::{Profile, Schedule};
use crate::load::stats::{Outcome, Stats, held};
use lanes::Lanes;

mod lanes;

/// Idle connections per lane and target, shared by the lane's requests in flight.
type Pools = Arc<Vec<Vec<Mutex<Vec<Conn>>>>>;

/// What each request task needs (behind one Arc: one count per send, not one per field).
struct Shared {
    plan: Arc<Plan>,
    targets: Arc<Vec<Prepared>>,
    pools: Pools,
    slots: Arc<Semaphore>,
    /// Each lane's own figures (only its thread takes them), merged into the run's by
    /// [`flush_every`] on the lane.
    locals: Vec<Arc<Mutex<Stats>>>,
    /// Answers as they come, each lane on its own counter.
    answered: Arc<Answered>,
    finished: Arc<AtomicU64>,
    all_done: Arc<Notify>,
}

/// Sends on schedule; returns when the last request has finished; when the schedule began
/// (`start`, or later by the connections opened first), the last send time and the priority
/// the lanes ran at.
/// The sends are shared by the lanes, a single-threaded runtime per core, each claiming the
/// next one in turn ([`LaneSchedule`]), sleeping to the microsecond on a timerfd in its
/// own event loop (tokio's timer ticks in milliseconds) until it is due, and spawning its
/// request there on a pooled connection of that lane. A send then costs one wake-up of one
/// thread, shared with the answers that arrive meanwhile: no schedule thread handing each
/// send to a runtime (that hand-off was two wake-ups of two threads per send, the
/// generator's share of the tail on a machine whose cores it shares with the server), no
/// work stealing. The lanes' threads run at the plan's sender priority ([`super::priority`]):
/// batch beside a server on this machine unless told, so that a waking lane does not take
/// a core from the server; idle on request, so that they never hold it off one.
pub async fn run(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    profile: &Profile,
    max_in_flight: usize,
    tally: &Tally,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> (Instant, Instant, Applied) {
    let lanes = Lanes::start(senders_priority(plan, targets));
    let priority = lanes.priority;
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        targets: targets.clone(),
        pools: Arc::new(
            lanes
                .handles
                .iter()
                .map(|_| targets.iter().map(|_| Mutex::new(Vec::new())).collect())
                .collect(),
        ),
        slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
        locals: lanes
            .handles
            .iter()
            .map(|_| Arc::new(Mutex::new(Stats::new())))
            .collect(),
        answered: tally.answered.clone(),
        finished: Arc::new(AtomicU64::new(0)),
        all_done: Arc::new(Notify::new()),
    });
    let (finished, all_done) = (shared.finished.clone(), shared.all_done.clone());
    let locals = shared.locals.clone();
    // on the caller's runtime, not the lanes': a lane at idle priority must never hold the
    // run's figures, which the progress display waits for
    let flushers: Vec<_> = locals
        .iter()
        .map(|local| tokio::spawn(flush_every(local.clone(), tally.stats.clone())))
        .collect();
    let per = warm_count(
        profile.peak(),
        max_in_flight,
        lanes.handles.len(),
        targets.len(),
    );
    let within = plan.timeout.min(WARM_WITHIN);
    let warming: Vec<_> = (lanes.handles.iter().enumerate())
        .map(|(k, h)| h.spawn(warm(shared.clone(), k, per, within)))
        .collect();
    for w in warming {
        let _ = w.await;
    }
    // the schedule begins once they are open
    let std_start = start.into_std().max(std::time::Instant::now());
    let claim = Arc::new(AtomicU64::new(0));
    let mut schedules = Vec::new();
    for (k, h) in lanes.handles.iter().enumerate() {
        let schedule = Schedule::new(profile.clone(), plan.duration.as_secs_f64());
        let lane = LaneSchedule {
            schedule,
            lane: k,
            claim: claim.clone(),
            start: std_start,
        };
        schedules.push(h.spawn(lane.run(shared.clone(), stop.clone())));
    }
    drop(shared);
    let (mut sent, mut last) = (0, std_start);
    for s in schedules {
        if let Ok((n, l)) = s.await {
            sent += n;
            last = last.max(l);
        }
    }
    while finished.load(Ordering::Acquire) < sent {
        all_done.notified().await;
    }
    for (f, local) in flushers.into_iter().zip(&locals) {
        f.abort();
        flush(&tally.stats, local);
    }
    // the lanes' threads end once told; joined off the runtime's workers
    let _ = tokio::task::spawn_blocking(move || lanes.close()).await;
    (
        Instant::from_std(std_start),
        Instant::from_std(last),
        priority,
    )
}

/// How long the sends of the profile's peak rate are that connections are opened for before
/// the first send. A stall of the machine holds up every send due meanwhile, and each of them
/// then needs a connection at once: opened then, hundreds of them together overflow a
/// server's accept queue (128 by tokio's default), and each SYN it drops is sent again only
/// a second later, a second counted in that request's latency as the server's. This many
/// open ahead cover a stall of 20 ms, the length of the longest seen on this project's
/// machines at 20,000 req/s.
const WARM_SPAN: f64 = 0.020;
/// Connections a lane opens at once while warming.
const WARM_AT_ONCE: usize = 32;
/// The longest the opening may take (a target that does not answer is left to the run).
const WARM_WITHIN: Duration = Duration::from_secs(1);

/// Connections each lane opens to each target before the first send: the sends of
/// [`WARM_SPAN`] at `peak` per second, at least one, at most `max_in_flight` in all.
fn warm_count(peak: f64, max_in_flight: usize, lanes: usize, targets: usize) -> usize {
    let wanted = if peak.is_finite() && peak > 0.0 {
        (peak * WARM_SPAN).ceil() as usize
    } else {
        1
    };
    let total = wanted.clamp(1, max_in_flight.max(1));
    total.div_ceil(lanes.max(1) * targets.max(1))
}

/// Opens `per` connections of lane `lane` to each lean target into its pool, a few at a
/// time, for at most `within`; stops at the first that fails (the run will count it).
async fn warm(shared: Arc<Shared>, lane: usize, per: usize, within: Duration) {
    let open = async {
        'targets: for (i, t) in shared.targets.iter().enumerate() {
            let mut opened = 0;
            while opened < per {
                let n = WARM_AT_ONCE.min(per - opened);
                let batch = futures::future::join_all((0..n).map(|_| open_lean(t))).await;
                for c in batch {
                    match c {
                        // not a lean target: it connects on first use
                        None => continue 'targets,
                        Some(Err(_)) => return,
                        Some(Ok(c)) => {
                            if let Ok(mut pool) = shared.pools[lane][i].lock() {
                                pool.push(c);
                            }
                        }
                    }
                }
                opened += n;
            }
        }
    };
    let _ = tokio::time::timeout(within, open).await;
}

/// One lane's part of the schedule: each lane claims the next send (a counter shared by
/// the lanes), sleeps until it is due and spawns it on its own runtime (no hand-off between
/// threads per send). In step, the lanes take turns; a lane the scheduler holds off its CPU
/// holds up the one send it claimed, not every other one (as dealing the sends round-robin
/// did: a lane stalled for 5 ms then sent its share of those 5 ms in one burst).
struct LaneSchedule {
    schedule: Schedule,
    lane: usize,
    /// The next send no lane has claimed yet, shared by the lanes.
    claim: Arc<AtomicU64>,
    start: std::time::Instant,
}

/// Consecutive sends spawned without yielding when the lane is behind its schedule.
const BURST: u32 = 64;

impl LaneSchedule {
    /// Sends the sends this lane claims until the schedule ends or `stop`; the number sent
    /// and the last send time.
    async fn run(
        mut self,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> (u64, std::time::Instant) {
        let mut timer = PreciseTimer::new();
        let (mut index, mut sent, mut last) = (0u64, 0u64, self.start);
        let n_targets = shared.targets.len().max(1) as u64;
        let mut burst = 0u32;
        loop {
            let i = self.claim.fetch_add(1, Ordering::Relaxed);
            if shared.plan.max_requests.is_some_and(|m| i >= m) {
                break;
            }
            // this lane's copy of the schedule, moved on to the claimed send
            let Some(due) = (loop {
                let Some(due) = self.schedule.next_due() else {
                    break None;
                };
                index += 1;
                if index > i {
                    break Some(due);
                }
            }) else {
                break;
            };
            let at = self.start + Duration::from_secs_f64(due);
            loop {
                if stop.load(Ordering::Relaxed) {
                    return (sent, last);
                }
                let now = std::time::Instant::now();
                if at <= now {
                    break;
                }
                // slices of 50 ms, so that a stop is seen at low rates too
                timer
                    .sleep_until(at.min(now + Duration::from_millis(50)))
                    .await;
                burst = 0;
            }
            burst += 1;
            if burst >= BURST {
                tokio::task::yield_now().await;
                burst = 0;
            }
            sent += 1;
            last = std::time::Instant::now();
            tokio::task::spawn(request(
                shared.clone(),
                self.lane,
                (i % n_targets) as usize,
                at,
            ));
        }
        (sent, last)
    }
}

/// One scheduled request to target `i`, due at `at`, recorded when it ends.
async fn request(sh: Arc<Shared>, lane: usize, i: usize, at: std::time::Instant) {
    let began = std::time::Instant::now();
    // waiting for a free slot counts: latency runs from the send's start
    let (permit, waited) = match sh.slots.try_acquire() {
        Ok(p) => (Ok(p), false),
        Err(_) => (sh.slots.acquire().await, true),
    };
    let local = &sh.locals[lane];
    held(local).started(began.saturating_duration_since(at), sh.plan.max_lag, waited);
    let (outcome, arrived) = match permit {
        Ok(_permit) => {
            let mut slot = sh.pools[lane][i].lock().ok().and_then(|mut p| p.pop());
            let o = one(&sh.plan, &sh.targets[i], &mut slot).await;
            if let (Some(c), Ok(mut p)) = (slot, sh.pools[lane][i].lock()) {
                p.push(c);
            }
            o
        }
        // the semaphore is never closed; if it were, nothing could be sent
        Err(_) => (Outcome::Failed(Failure::Closed), None),
    };
    let now = std::time::Instant::now();
    // the answer's arrival, not its read: a lane off the CPU is not the server's delay
    let (ended, read_wait) = ended(began, arrived, now);
    {
        let mut s = held(local);
        s.record(ended - began, outcome);
        if matches!(outcome, Outcome::Status(_)) {
            s.answered_since_due(ended.saturating_duration_since(at));
        }
        if let Some(w) = read_wait {
            s.waited_to_be_read(w);
        }
    }
    if matches!(outcome, Outcome::Status(_)) {
        sh.answered.add(lane);
    }
    sh.finished.fetch_add(1, Ordering::Release);
    sh.all_done.notify_one();
}

#[cfg(test)]
pub(super) mod tests;
