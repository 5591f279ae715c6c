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

use super::conn::{Conn, Prepared, ended, one};
use super::flush::{flush, flush_every};
use super::plan::Plan;
use super::timer::PreciseTimer;
use crate::load::failure::Failure;
use crate::load::profile::{Profile, Schedule};
use crate::load::stats::{Outcome, Stats};

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
    finished: Arc<AtomicU64>,
    all_done: Arc<Notify>,
}

/// Sends on schedule; returns when the last request has finished; the last send time.
/// The sends are shared by the lanes, a single-threaded runtime per core, each claiming the
/// next one in turn ([`LaneSchedule`]), sleeping to the microsecond on a timerfd in its
/// own event loop (tokio's timer ticks in milliseconds) until it is due, and spawning its
/// request there on a pooled connection of that lane. A send then costs one wake-up of one
/// thread, shared with the answers that arrive meanwhile: no schedule thread handing each
/// send to a runtime (that hand-off was two wake-ups of two threads per send, the
/// generator's share of the tail on a machine whose cores it shares with the server), no
/// work stealing.
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
        finished: Arc::new(AtomicU64::new(0)),
        all_done: Arc::new(Notify::new()),
    });
    let (finished, all_done) = (shared.finished.clone(), shared.all_done.clone());
    let locals = shared.locals.clone();
    let flushers: Vec<_> = lanes
        .handles
        .iter()
        .zip(&locals)
        .map(|(h, local)| h.spawn(flush_every(local.clone(), stats.clone())))
        .collect();
    let std_start = start.into_std();
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
        flush(stats, local);
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
    if let Ok(mut s) = local.lock() {
        s.started(began.saturating_duration_since(at), sh.plan.max_lag, waited);
    }
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
    if let Ok(mut s) = local.lock() {
        s.record(ended - began, outcome);
        if matches!(outcome, Outcome::Status(_)) {
            s.answered_since_due(ended.saturating_duration_since(at));
        }
        if let Some(w) = read_wait {
            s.waited_to_be_read(w);
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
    use crate::load::engine::plan::H1Client;
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

    fn shared(port: u16, slots: usize) -> Arc<Shared> {
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
            http1_client: Default::default(),
            grpc: false,
            timeout: Duration::from_secs(5),
            max_lag: Duration::from_millis(1),
            tls: None,
        });
        let targets = Arc::new(vec![Prepared::new(&plan, &plan.targets[0]).unwrap()]);
        Arc::new(Shared {
            pools: Arc::new(vec![vec![Mutex::new(Vec::new())]]),
            plan,
            targets,
            slots: Arc::new(Semaphore::new(slots)),
            locals: vec![Arc::new(Mutex::new(Stats::new()))],
            finished: Arc::new(AtomicU64::new(0)),
            all_done: Arc::new(Notify::new()),
        })
    }

    /// The whole schedule goes out once, shared by the lanes, and a request budget holds
    /// across them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_lane_sends_its_part_and_the_budget_holds_across_lanes() {
        let port = quick_server().await;
        for (budget, want) in [(None, 400), (Some(101), 101)] {
            let sh = shared(port, 100);
            let mut plan = (*sh.plan).clone();
            plan.max_requests = budget;
            let plan = Arc::new(plan);
            let began = Instant::now();
            let stats = Arc::new(Mutex::new(Stats::new()));
            let last = run(
                &plan,
                &sh.targets,
                &Profile::Constant(400.0),
                100,
                &stats,
                began,
                &Arc::new(AtomicBool::new(false)),
            )
            .await;
            let s = stats.lock().unwrap();
            assert_eq!(
                (s.sent, s.statuses.get(&200)),
                (want, Some(&want)),
                "{budget:?}"
            );
            // on schedule: 400 sends take the second, 101 a quarter of it
            let took = (last - began).as_secs_f64();
            let due = (want - 1) as f64 / 400.0;
            assert!(
                (took - due).abs() < 0.1,
                "{budget:?}: last send at {took:.3} s, due {due:.3}"
            );
            assert!(quantile_ms(&s.lag, 0.5).unwrap() < 5.0, "{:?}", s.lag.max());
        }
    }

    /// A lane held off its CPU holds up only the send it claimed: the other lane takes the
    /// rest on schedule (dealt round-robin, half of them would wait for the stalled lane).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_lane_holds_up_only_the_send_it_claimed() {
        let sh = shared(quick_server().await, 100);
        let claim = Arc::new(AtomicU64::new(0));
        let start = std::time::Instant::now();
        let lane = |k: usize| LaneSchedule {
            schedule: Schedule::new(Profile::Constant(200.0), 1.0),
            lane: k,
            claim: claim.clone(),
            start,
        };
        // the stalled lane claims its first send (the one at 0 s) and goes no further
        let stalled = lane(1);
        assert_eq!(stalled.claim.fetch_add(1, Ordering::Relaxed), 0);
        let (sent, last) = lane(0)
            .run(sh.clone(), Arc::new(AtomicBool::new(false)))
            .await;
        // 200 sends are due in the second; the running lane sent every one but the claimed
        assert_eq!(sent, 199);
        let took = (last - start).as_secs_f64();
        assert!(
            (took - 199.0 / 200.0).abs() < 0.1,
            "last send at {took:.3} s"
        );
        while sh.finished.load(Ordering::Acquire) < sent {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let s = sh.locals[0].lock().unwrap();
        assert_eq!(s.statuses.get(&200), Some(&199));
        // on time
        assert!(quantile_ms(&s.lag, 0.5).unwrap() < 5.0, "{:?}", s.lag.max());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_start_is_the_generators_lag_not_the_servers_latency() {
        let sh = shared(quick_server().await, 10);
        // the send was due 300 ms ago: the generator is late, the server is not
        let due = std::time::Instant::now() - Duration::from_millis(300);
        request(sh.clone(), 0, 0, due).await;
        let s = sh.locals[0].lock().unwrap();
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

    /// The wait to be read is known only from the kernel's stamp (the lean client's): a
    /// client without one leaves it unmeasured rather than counting zero.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wait_to_be_read_is_measured_only_where_the_kernel_stamped() {
        #[cfg(target_os = "linux")]
        let _on = crate::load::engine::arrival::tests::stamping_on().await;
        let port = quick_server().await;
        for (client, stamped) in [
            (H1Client::Lean, cfg!(target_os = "linux")),
            (H1Client::Hyper, false),
        ] {
            let sh = shared(port, 10);
            let mut plan = (*sh.plan).clone();
            plan.http1_client = client;
            let targets = Arc::new(vec![Prepared::new(&plan, &plan.targets[0]).unwrap()]);
            let sh = Arc::new(Shared {
                plan: Arc::new(plan),
                targets,
                pools: sh.pools.clone(),
                slots: sh.slots.clone(),
                locals: sh.locals.clone(),
                finished: sh.finished.clone(),
                all_done: sh.all_done.clone(),
            });
            for _ in 0..20 {
                request(sh.clone(), 0, 0, std::time::Instant::now()).await;
            }
            let s = sh.locals[0].lock().unwrap();
            assert_eq!(s.statuses.get(&200), Some(&20), "{client:?}");
            assert_eq!(
                s.read_wait.len(),
                if stamped { 20 } else { 0 },
                "{client:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_for_an_in_flight_slot_counts_in_the_latency() {
        let sh = shared(quick_server().await, 1);
        let held = sh.slots.clone().acquire_owned().await.unwrap();
        let task = tokio::spawn(request(sh.clone(), 0, 0, std::time::Instant::now()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(held);
        task.await.unwrap();
        let s = sh.locals[0].lock().unwrap();
        assert_eq!((s.statuses.get(&200), s.slot_waits), (Some(&1), 1));
        assert!(s.quantile_ms(1.0).unwrap() >= 190.0, "{:?}", s.total.max());
        assert!(
            quantile_ms(&s.lag, 1.0).unwrap() < 200.0,
            "{:?}",
            s.lag.max()
        );
    }
}
