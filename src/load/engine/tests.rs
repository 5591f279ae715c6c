use bytes::Bytes;
use http::Method;

use super::*;
use crate::load::failure::Failure;
use crate::load::profile::Profile;

/// A GET plan to `127.0.0.1:port` in `mode`: the lean client at normal priority (a timing
/// test beside other tests at full CPU: lowered senders would wait for them), no budget,
/// tests set what they measure.
fn plan_to(port: u16, mode: Mode) -> Plan {
    Plan {
        targets: vec![Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap()],
        method: Method::GET,
        body: Bytes::new(),
        content_type: None,
        mode,
        duration: Duration::from_secs(5),
        max_requests: None,
        http2: false,
        http1_client: H1Client::Lean,
        sender_priority: SenderPriority::Normal,
        grpc: false,
        tls: None,
        max_lag: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
    }
}

/// A server that accepts and never answers: every request must end as a timeout,
/// after between 1.0 and 1.1 × the timeout, closed loop and open loop alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_servers_time_out_on_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    for mode in [
        Mode::Closed { concurrency: 2 },
        Mode::Open {
            profile: Profile::Constant(10.0),
            max_in_flight: 100,
        },
    ] {
        let plan = Plan {
            duration: Duration::from_millis(1000),
            max_lag: Duration::from_millis(1),
            timeout: Duration::from_millis(200),
            ..plan_to(port, mode.clone())
        };
        let o = run(plan, None, Duration::from_millis(250)).await.unwrap();
        let timeouts = o
            .stats
            .failures
            .get(&Failure::Timeout)
            .copied()
            .unwrap_or(0);
        assert_eq!(o.stats.answered(), 0, "{mode:?}");
        assert_eq!(timeouts, o.stats.sent, "{mode:?}: every request timed out");
        match mode {
            // 2 workers, each request 200-220 ms: 4 to 5 rounds in 1 s (the last may start at 0.99 s)
            Mode::Closed { .. } => assert!((8..=12).contains(&timeouts), "{timeouts}"),
            Mode::Open { .. } => assert!((9..=11).contains(&timeouts), "{timeouts}"),
        }
        // the run waits for the last request's timeout, not more
        assert!(
            o.elapsed < Duration::from_millis(1300),
            "{mode:?}: {:?}",
            o.elapsed
        );
    }
    hold.abort();
}

/// Nothing listens: every request fails to connect, counted by kind, none answered.
#[tokio::test]
async fn refused_connections_count_as_connect_failures() {
    // bind then drop: the port is free and, for a moment, nobody listens on it
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let plan = Plan {
        max_requests: Some(5),
        timeout: Duration::from_secs(2),
        ..plan_to(port, Mode::Closed { concurrency: 1 })
    };
    let o = run(plan, None, Duration::from_millis(250)).await.unwrap();
    assert_eq!(o.stats.failures.get(&Failure::Connect), Some(&5));
    assert_eq!((o.stats.answered(), o.stats.errors()), (0, 5));
}

/// The priority the senders ran at, in either loop, is what the plan asked for, auto (the
/// default) giving batch only to the lean client's loopback runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_senders_priority_follows_the_plan() {
    let port = super::open_loop::tests::quick_server().await;
    let open = Mode::Open {
        profile: Profile::Constant(1000.0),
        max_in_flight: 10,
    };
    let closed = Mode::Closed { concurrency: 3 };
    let linux = |p| {
        Some(if cfg!(target_os = "linux") {
            p
        } else {
            Applied::Normal
        })
    };
    let (idle, batch) = (linux(Applied::Idle), linux(Applied::Batch));
    let cases = [
        // the default: batch beside a loopback server, in either loop
        (
            open.clone(),
            SenderPriority::default(),
            H1Client::Lean,
            batch,
        ),
        (
            closed.clone(),
            SenderPriority::default(),
            H1Client::Lean,
            batch,
        ),
        (open.clone(), SenderPriority::Batch, H1Client::Hyper, batch),
        (
            open.clone(),
            SenderPriority::Normal,
            H1Client::Lean,
            Some(Applied::Normal),
        ),
        // hyper's client times the read: auto keeps it normal
        (
            open.clone(),
            SenderPriority::Auto,
            H1Client::Hyper,
            Some(Applied::Normal),
        ),
        (
            closed.clone(),
            SenderPriority::Auto,
            H1Client::Hyper,
            Some(Applied::Normal),
        ),
        (open, SenderPriority::Idle, H1Client::Hyper, idle),
        (closed.clone(), SenderPriority::Idle, H1Client::Lean, idle),
        (
            closed,
            SenderPriority::Normal,
            H1Client::Lean,
            Some(Applied::Normal),
        ),
    ];
    for (mode, asked, client, want) in cases {
        let plan = Plan {
            duration: Duration::from_secs(60),
            max_requests: Some(20),
            http1_client: client,
            sender_priority: asked,
            // idle senders beside other tests at full CPU may wait: no timing asserted
            timeout: Duration::from_secs(60),
            ..plan_to(port, mode.clone())
        };
        let o = run(plan, None, Duration::from_millis(250)).await.unwrap();
        assert_eq!(o.stats.answered(), 20, "{mode:?} {asked:?} {client:?}");
        assert_eq!(o.sender_priority, want, "{mode:?} {asked:?} {client:?}");
    }
}

/// The live rate is the answers of each window as they came: steady at a steady rate, not
/// swinging with the lanes' merges of their figures (every 100 ms, so that a 250 ms window
/// held two or three of them: 0.8× or 1.2× the rate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_rate_is_steady_at_a_steady_rate() {
    let port = super::open_loop::tests::quick_server().await;
    let open = Mode::Open {
        profile: Profile::Constant(2000.0),
        max_in_flight: 100,
    };
    let plan = Plan {
        duration: Duration::from_millis(2600),
        ..plan_to(port, open)
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    run(plan, Some(tx), Duration::from_millis(250))
        .await
        .unwrap();
    let mut rates = Vec::new();
    while let Ok(p) = rx.try_recv() {
        rates.push(p.rps);
    }
    assert!(rates.len() >= 8, "{rates:?}");
    // the first window holds the connections' start; the last may end with the run
    let rates = &rates[1..rates.len() - 1];
    // the merges' swing was a fifth either way; a stall of the whole process on a window's
    // edge moves answers between two windows: a quarter of them may be off
    let steady = rates
        .iter()
        .filter(|r| (*r / 2000.0 - 1.0).abs() < 0.15)
        .count();
    assert!(
        steady * 4 >= rates.len() * 3,
        "windows within 15 % of 2000/s: {steady} of {}: {rates:?}",
        rates.len()
    );
}

/// The closed loop's workers count every answer live, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_loop_counts_its_answers_live() {
    let port = super::open_loop::tests::quick_server().await;
    let plan = Arc::new(Plan {
        duration: Duration::from_secs(60),
        max_requests: Some(150),
        ..plan_to(port, Mode::Closed { concurrency: 3 })
    });
    let targets = Arc::new(vec![conn::Prepared::new(&plan, &plan.targets[0]).unwrap()]);
    let tally = live::Tally {
        answered: Arc::new(live::Answered::new(2)),
        ..live::Tally::new()
    };
    let deadline = Instant::now() + plan.duration;
    let stop = Arc::new(AtomicBool::new(false));
    super::closed_loop::run(&plan, &targets, 3, &tally, deadline, &stop)
        .await
        .unwrap();
    assert_eq!(tally.answered.total(), 150);
    assert_eq!(tally.stats.lock().unwrap().answered(), 150);
}

/// A thread that panics holding the run's figures does not blank the live progress: what
/// was recorded before is still shown.
#[test]
fn progress_still_counts_after_a_thread_panicked_holding_the_figures() {
    use crate::load::stats::{Outcome, Stats, held};
    let stats = std::sync::Arc::new(std::sync::Mutex::new(Stats::new()));
    held(&stats).record(Duration::from_millis(2), Outcome::Status(200));
    held(&stats).record(Duration::from_millis(3), Outcome::Status(200));
    let m = stats.clone();
    let _ = std::thread::spawn(move || {
        let _g = m.lock();
        panic!("a load thread failed");
    })
    .join();
    assert!(stats.is_poisoned());
    let plan = plan_to(1, Mode::Closed { concurrency: 1 });
    let second = Duration::from_secs(1);
    let p = progress::snapshot(&stats, &plan, second, second, None);
    assert_eq!(p.answered, 2);
    assert!(p.p50.is_some());
}
