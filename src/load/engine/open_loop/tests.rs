use super::*;
use crate::load::endpoint::Endpoint;
use crate::load::engine::Mode;
use crate::load::engine::plan::H1Client;
use crate::load::stats::quantile_ms;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server on loopback that answers every read with an empty 200 at once.
pub(crate) async fn quick_server() -> u16 {
    counting_server().await.0
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
        sender_priority: Default::default(),
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
        answered: Arc::new(Answered::new(1)),
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
        // a timing test: beside other tests at full CPU, idle senders would wait for them
        plan.sender_priority = crate::load::engine::SenderPriority::Normal;
        let plan = Arc::new(plan);
        let began = Instant::now();
        let stats = Arc::new(Mutex::new(Stats::new()));
        let tally = Tally {
            stats: stats.clone(),
            answered: Arc::new(Answered::new(2)),
        };
        let (first, last, priority) = run(
            &plan,
            &sh.targets,
            &Profile::Constant(400.0),
            100,
            &tally,
            began,
            &Arc::new(AtomicBool::new(false)),
        )
        .await;
        // the live count saw every answer, once
        assert_eq!(tally.answered.total(), want, "{budget:?}");
        let s = stats.lock().unwrap();
        assert_eq!(
            (s.sent, s.statuses.get(&200)),
            (want, Some(&want)),
            "{budget:?}"
        );
        // on schedule: 400 sends take the second, 101 a quarter of it
        let took = (last - first).as_secs_f64();
        assert!(first >= began);
        let due = (want - 1) as f64 / 400.0;
        assert!(
            (took - due).abs() < 0.1,
            "{budget:?}: last send at {took:.3} s, due {due:.3}"
        );
        assert!(quantile_ms(&s.lag, 0.5).unwrap() < 5.0, "{:?}", s.lag.max());
        assert_eq!(priority, Applied::Normal);
    }
}

/// The lanes' threads run at the priority asked for, and only they do.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lanes_run_at_the_priority_asked_for() {
    use crate::load::engine::priority::of_this_thread;
    for want in [Applied::Idle, Applied::Batch, Applied::Normal] {
        let lanes = Lanes::start(want);
        assert_eq!(lanes.priority, want);
        assert_eq!(lanes.handles.len(), crate::load::health::cores());
        for h in &lanes.handles {
            let got = h.spawn(async { of_this_thread().unwrap() }).await.unwrap();
            assert_eq!(got, want);
        }
        // the caller's threads are left as they were
        assert_eq!(of_this_thread().unwrap(), Applied::Normal);
        tokio::task::spawn_blocking(move || lanes.close())
            .await
            .unwrap();
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
            answered: sh.answered.clone(),
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

#[test]
fn connections_are_opened_for_20_ms_of_the_peak_rate_within_the_in_flight_cap() {
    // (peak req/s, max in flight, lanes, targets) -> each lane's to each target
    let cases = [
        ((20_000.0, 1000, 2, 1), 200),
        ((5_000.0, 1000, 2, 1), 50),
        ((5_000.0, 1000, 2, 2), 25),
        ((1.0, 1000, 2, 1), 1),
        ((1e9, 1000, 2, 1), 500),
        ((20_000.0, 10, 1, 1), 10),
        ((f64::NAN, 1000, 2, 1), 1),
        ((0.0, 0, 0, 0), 1),
    ];
    for ((peak, cap, lanes, targets), want) in cases {
        assert_eq!(
            warm_count(peak, cap, lanes, targets),
            want,
            "{peak}/s, cap {cap}, {lanes} lanes, {targets} targets"
        );
    }
}

/// [`quick_server`], and the count of the connections it accepted.
async fn counting_server() -> (u16, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
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
    (port, accepted)
}

/// Waits (boundedly) until `accepted` reaches `n`; what it reached.
async fn settled(accepted: &AtomicU64, n: u64) -> u64 {
    for _ in 0..200 {
        if accepted.load(Ordering::SeqCst) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    accepted.load(Ordering::SeqCst)
}

/// A lane opens its connections into its pool before the first send, and they carry the
/// run's requests: a stall then finds them open instead of opening one per send it held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_opens_connections_for_a_stall_ahead_into_each_lanes_pool() {
    let (port, accepted) = counting_server().await;
    let sh = shared(port, 1000);
    warm(sh.clone(), 0, 50, Duration::from_secs(5)).await;
    let pooled = sh.pools[0][0].lock().unwrap().len();
    assert_eq!(pooled, 50);
    assert_eq!(settled(&accepted, 50).await, 50);

    // a whole run: the ones opened ahead, and at 1,000/s against an instant server hardly
    // one more (a stall of the machine longer than 20 ms could add some)
    let (port, accepted) = counting_server().await;
    let sh = shared(port, 1000);
    let mut plan = (*sh.plan).clone();
    plan.duration = Duration::from_millis(200);
    plan.sender_priority = crate::load::engine::SenderPriority::Normal;
    let plan = Arc::new(plan);
    let stats = Arc::new(Mutex::new(Stats::new()));
    let tally = Tally {
        stats: stats.clone(),
        answered: Arc::new(Answered::new(2)),
    };
    let lanes = crate::load::health::cores();
    let ahead = (warm_count(1_000.0, 1000, lanes, 1) * lanes) as u64;
    run(
        &plan,
        &sh.targets,
        &Profile::Constant(1_000.0),
        1000,
        &tally,
        Instant::now(),
        &Arc::new(AtomicBool::new(false)),
    )
    .await;
    assert!(settled(&accepted, ahead).await >= ahead);
    assert_eq!(stats.lock().unwrap().statuses.get(&200), Some(&200));
}

/// Opening stops at a target that refuses, and the run is left to count it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_ahead_stops_at_a_refusing_target() {
    // a port nothing listens on: bound, then closed
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sh = shared(port, 1000);
    let began = Instant::now();
    warm(sh.clone(), 0, 50, Duration::from_secs(5)).await;
    assert_eq!(sh.pools[0][0].lock().unwrap().len(), 0);
    assert!(began.elapsed() < Duration::from_secs(1));
}
