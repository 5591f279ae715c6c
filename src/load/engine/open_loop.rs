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

use super::conn::{Conn, Prepared, one};
use super::plan::Plan;
use crate::load::failure::Failure;
use crate::load::profile::{Profile, Schedule};
use crate::load::stats::{Outcome, Stats};

/// Idle connections per lane and target, shared by the lane's requests in flight.
type Pools = Arc<Vec<Vec<Mutex<Vec<Conn>>>>>;

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
/// milliseconds) and a timer slack of a microsecond (Linux lets a sleep overrun by 50 µs
/// by default, a quarter of the gap between sends at 5,000 req/s); each request runs as a
/// task on one of the lanes, a single-threaded runtime per core (the sends go round-robin),
/// on a pooled connection of that lane: a request and its connection's task then run on the
/// same thread, with no cross-thread wake-ups or work stealing per request.
pub async fn run(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    profile: &Profile,
    max_in_flight: usize,
    stats: &Arc<Mutex<Stats>>,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> Instant {
    let lanes = Lanes::start();
    let shared = Shared {
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
        stats: stats.clone(),
        finished: Arc::new(AtomicU64::new(0)),
        all_done: Arc::new(Notify::new()),
    };
    let (finished, all_done) = (shared.finished.clone(), shared.all_done.clone());
    let handles = lanes.handles.clone();
    let std_start = start.into_std();
    let schedule = Schedule::new(profile.clone(), plan.duration.as_secs_f64());
    let stop = stop.clone();
    let dispatcher =
        std::thread::spawn(move || dispatch(schedule, shared, &handles, std_start, &stop));
    // the dispatcher blocks in sleeps: join it off the runtime's workers
    let (sent, last) = tokio::task::spawn_blocking(move || dispatcher.join())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or((0, std_start));
    while finished.load(Ordering::Acquire) < sent {
        all_done.notified().await;
    }
    // the lanes' threads end once told; joined off the runtime's workers
    let _ = tokio::task::spawn_blocking(move || lanes.close()).await;
    Instant::from_std(last)
}

/// The open loop's request runtimes: one single-threaded runtime per core, each on its own
/// thread until closed; the caller's runtime alone when threads cannot be started.
struct Lanes {
    handles: Vec<tokio::runtime::Handle>,
    close: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Lanes {
    fn start() -> Lanes {
        let mut lanes = Lanes {
            handles: Vec::new(),
            close: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..crate::load::health::cores() {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                break;
            };
            let handle = rt.handle().clone();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(format!("load-lane-{i}"))
                .spawn(move || {
                    let _ = rt.block_on(rx);
                });
            if let Ok(t) = spawned {
                lanes.handles.push(handle);
                lanes.close.push(tx);
                lanes.threads.push(t);
            }
        }
        if lanes.handles.is_empty() {
            lanes.handles.push(tokio::runtime::Handle::current());
        }
        lanes
    }

    /// Ends the lanes' runtimes (their idle connections close) and waits for the threads.
    fn close(self) {
        for tx in self.close {
            let _ = tx.send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The dispatcher thread: sleeps until each send is due and spawns its request; the
/// number sent and the last send time.
fn dispatch(
    mut schedule: Schedule,
    shared: Shared,
    lanes: &[tokio::runtime::Handle],
    std_start: std::time::Instant,
    stop: &AtomicBool,
) -> (u64, std::time::Instant) {
    let mut n: u64 = 0;
    let mut last = std_start;
    let n_targets = shared.targets.len().max(1) as u64;
    precise_sleeps();
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
        let lane = (n % lanes.len().max(1) as u64) as usize;
        n += 1;
        last = std::time::Instant::now();
        if let Some(h) = lanes.get(lane) {
            h.spawn(request(shared.clone(), lane, i, at));
        }
    }
    (n, last)
}

/// Asks the kernel to wake this thread's sleeps within a microsecond of their deadline
/// (the default slack is 50 µs); without it (not Linux, or refused) sleeps are as they are.
fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a value in nanoseconds and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
    }
}

/// One scheduled request to target `i`, due at `at`, recorded when it ends.
async fn request(sh: Shared, lane: usize, i: usize, at: std::time::Instant) {
    let began = std::time::Instant::now();
    // waiting for a free slot counts: latency runs from the send's start
    let (permit, waited) = match sh.slots.try_acquire() {
        Ok(p) => (Ok(p), false),
        Err(_) => (sh.slots.acquire().await, true),
    };
    if let Ok(mut s) = sh.stats.lock() {
        s.started(began.saturating_duration_since(at), sh.plan.max_lag, waited);
    }
    let outcome = match permit {
        Ok(_permit) => {
            let mut slot = sh.pools[lane][i].lock().ok().and_then(|mut p| p.pop());
            let o = one(&sh.plan, &sh.targets[i], &mut slot).await;
            if let (Some(c), Ok(mut p)) = (slot, sh.pools[lane][i].lock()) {
                p.push(c);
            }
            o
        }
        // the semaphore is never closed; if it were, nothing could be sent
        Err(_) => Outcome::Failed(Failure::Closed),
    };
    let ended = std::time::Instant::now();
    if let Ok(mut s) = sh.stats.lock() {
        s.record(ended - began, outcome);
        if matches!(outcome, Outcome::Status(_)) {
            s.answered_since_due(ended.saturating_duration_since(at));
        }
    }
    sh.finished.fetch_add(1, Ordering::Release);
    sh.all_done.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::endpoint::Endpoint;
    use crate::load::engine::Mode;
    use crate::load::stats::quantile_ms;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on loopback that answers every read with an empty 200 at once.
    async fn quick_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = sock.read(&mut buf).await {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if n == 0 || sock.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    fn shared(port: u16, slots: usize) -> Shared {
        let plan = Arc::new(Plan {
            targets: vec![Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap()],
            method: http::Method::GET,
            body: bytes::Bytes::new(),
            content_type: None,
            mode: Mode::Open {
                profile: Profile::Constant(1.0),
                max_in_flight: slots,
            },
            duration: Duration::from_secs(1),
            max_requests: None,
            http2: false,
            timeout: Duration::from_secs(5),
            max_lag: Duration::from_millis(1),
            tls: None,
        });
        let targets = Arc::new(vec![Prepared::new(&plan, &plan.targets[0]).unwrap()]);
        Shared {
            pools: Arc::new(vec![vec![Mutex::new(Vec::new())]]),
            plan,
            targets,
            slots: Arc::new(Semaphore::new(slots)),
            stats: Arc::new(Mutex::new(Stats::new())),
            finished: Arc::new(AtomicU64::new(0)),
            all_done: Arc::new(Notify::new()),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_start_is_the_generators_lag_not_the_servers_latency() {
        let sh = shared(quick_server().await, 10);
        // the send was due 300 ms ago: the generator is late, the server is not
        let due = std::time::Instant::now() - Duration::from_millis(300);
        request(sh.clone(), 0, 0, due).await;
        let s = sh.stats.lock().unwrap();
        assert_eq!(
            (s.sent, s.statuses.get(&200), s.slot_waits),
            (1, Some(&1), 0)
        );
        assert!(
            quantile_ms(&s.lag, 1.0).unwrap() >= 300.0,
            "{:?}",
            s.lag.max()
        );
        assert!(s.quantile_ms(1.0).unwrap() < 300.0, "{:?}", s.total.max());
        // counted from the schedule, as wrk2 does, the lag is in
        assert!(quantile_ms(&s.from_schedule, 1.0).unwrap() >= 300.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_for_an_in_flight_slot_counts_in_the_latency() {
        let sh = shared(quick_server().await, 1);
        let held = sh.slots.clone().acquire_owned().await.unwrap();
        let task = tokio::spawn(request(sh.clone(), 0, 0, std::time::Instant::now()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(held);
        task.await.unwrap();
        let s = sh.stats.lock().unwrap();
        assert_eq!((s.statuses.get(&200), s.slot_waits), (Some(&1), 1));
        assert!(s.quantile_ms(1.0).unwrap() >= 190.0, "{:?}", s.total.max());
        assert!(
            quantile_ms(&s.lag, 1.0).unwrap() < 200.0,
            "{:?}",
            s.lag.max()
        );
    }
}
