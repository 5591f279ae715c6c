//! The local backend with real tractor-serve processes on 127.0.0.1: a rollout and an undo
//! under steady load through the front port lose no request; the autoscaler adds replicas
//! under load; crashing replicas restart with a backoff. (`demo_tmux` drives the binary.)
use crate::support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use tractor::action::{Action, Target};
use tractor::event::{AppEvent, ClusterDelta, EffectResult, Object};
use tractor::load::engine::{Endpoint, Mode, Plan, run};
use tractor::load::profile::Profile;

pub(crate) fn models() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models")
}

pub(crate) fn target() -> Target {
    Target {
        namespace: "local".into(),
        name: "classifier".into(),
    }
}

/// The deployment as the controller last published it: (revision, replicas, updated, ready, total live).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Seen {
    revision: i64,
    want: i32,
    updated: i32,
    ready: i32,
    live: i32,
}

fn drain(rx: &mut UnboundedReceiver<AppEvent>, seen: &mut Seen) {
    while let Ok(ev) = rx.try_recv() {
        if let AppEvent::Kube(ClusterDelta::Resynced { objects, .. }) = ev {
            for o in objects {
                // the deployment itself, not its canary
                if let Object::Deployment(d) = o
                    && d.metadata.name.as_deref() == Some("classifier")
                {
                    let st = d.status.clone().unwrap_or_default();
                    *seen = Seen {
                        revision: tractor::model::revision(&d.metadata).unwrap_or(0),
                        want: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                        updated: st.updated_replicas.unwrap_or(0),
                        ready: st.ready_replicas.unwrap_or(0),
                        live: st.replicas.unwrap_or(0),
                    };
                }
            }
        }
    }
}

/// Waits until revision `rev` runs alone on `want` replicas, all ready.
pub(crate) async fn settled(
    rx: &mut UnboundedReceiver<AppEvent>,
    seen: &mut Seen,
    rev: i64,
    want: i32,
) {
    let start = Instant::now();
    loop {
        drain(rx, seen);
        if seen.revision == rev
            && seen.want == want
            && seen.updated == seen.want
            && seen.ready == seen.want
            && seen.live == seen.want
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "revision {rev} did not settle: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn config(dir: &std::path::Path) -> tractor::local::Config {
    tractor::local::Config {
        store: tractor::local::spec::Store::new(dir),
        serve_bin: support::pod_runner::serve_bin(),
        front_port: 0,
        scrape_every: Duration::from_millis(500),
        drain_grace: Duration::from_millis(300),
        stop_timeout: Duration::from_secs(20),
        audit: tractor::audit::AuditLog::new(dir.join("audit.jsonl")),
        read_only: false,
    }
}

/// The requests of a load run that failed, and those answered with a status other than 200.
pub(crate) fn not_answered(o: &tractor::load::engine::Outcomes) -> (u64, u64) {
    let failures = o.stats.failures.values().sum();
    let non_200 = o
        .stats
        .statuses
        .iter()
        .filter(|(s, _)| **s != 200)
        .map(|(_, n)| n)
        .sum();
    (failures, non_200)
}

/// Open-loop inference requests through the front port at `rate`/s for `secs` seconds.
pub(crate) fn steady(front_port: u16, rate: f64, secs: u64) -> Plan {
    support::http::assert_allowed("127.0.0.1");
    let url = format!("http://127.0.0.1:{front_port}/v2/models/demo-classifier/infer");
    Plan {
        targets: vec![Endpoint::parse(&url).unwrap()],
        method: http::Method::POST,
        body: Bytes::from(tractor::commands::demo::body()),
        content_type: Some("application/json".into()),
        mode: Mode::Open {
            profile: Profile::Constant(rate),
            max_in_flight: 100,
        },
        duration: Duration::from_secs(secs),
        max_requests: None,
        http2: false,
        http1_client: Default::default(),
        sender_priority: Default::default(),
        grpc: false,
        timeout: Duration::from_secs(10),
        max_lag: tractor::load::health::DEFAULT_MAX_LAG,
        tls: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_and_undo_under_load_drop_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tractor::commands::demo::initial_spec(&models());
    spec.autoscale = None; // two replicas throughout: the rollout is what is tested
    let cfg = config(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tractor::local::start(cfg, spec, tx).unwrap();
    let mut seen = Seen::default();
    settled(&mut rx, &mut seen, 1, 2).await;

    // steady load through the front port for the whole test: 100 requests/s, 25 s at most
    let plan = steady(handle.front_port, 100.0, 25);
    let load = tokio::spawn(run(plan, None, Duration::from_millis(250)));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let set_v2 = Action::SetModel {
        container: None,
        version: "v2".into(),
        path: None,
    };
    let p = handle.prepare(&target(), set_v2.clone()).await;
    assert!(matches!(p, EffectResult::Prepared { .. }), "{p:?}");
    let done = handle.execute(&target(), set_v2).await;
    assert!(
        matches!(
            done,
            EffectResult::Done {
                revision_before: Some(1),
                revision_after: Some(2),
                ..
            }
        ),
        "{done:?}"
    );
    let rolling = Instant::now();
    settled(&mut rx, &mut seen, 2, 2).await;
    let rollout_s = rolling.elapsed().as_secs_f64();
    let rolled = Instant::now();
    let undo = handle
        .execute(&target(), Action::Undo { to_revision: None })
        .await;
    assert!(
        matches!(
            undo,
            EffectResult::Done {
                revision_after: Some(3),
                ..
            }
        ),
        "{undo:?}"
    );
    settled(&mut rx, &mut seen, 3, 2).await;
    // scale up and down (the surplus drains out of traffic), then a restart: still under load
    for (action, rev, want) in [
        (Action::Scale { replicas: 3 }, 3, 3),
        (Action::Scale { replicas: 1 }, 3, 1),
        (Action::Restart, 4, 1),
    ] {
        let r = handle.execute(&target(), action.clone()).await;
        assert!(matches!(r, EffectResult::Done { .. }), "{action:?}: {r:?}");
        settled(&mut rx, &mut seen, rev, want).await;
    }
    eprintln!(
        "rollout to v2 took {rollout_s:.1} s, undo to v1 {:.1} s",
        rolled.elapsed().as_secs_f64()
    );
    let o = load.await.unwrap().unwrap();
    let (failures, non_200) = not_answered(&o);
    eprintln!(
        "requests {}, answered 200: {}, other statuses: {:?}, failures: {:?}",
        o.stats.sent,
        o.stats.statuses.get(&200).copied().unwrap_or(0),
        o.stats.statuses,
        o.stats.failures
    );
    assert!(o.stats.sent >= 2000, "the load ran: {}", o.stats.sent);
    assert_eq!((failures, non_200), (0, 0), "a request was dropped");
    // history survives: the state directory holds revisions 2 (v2) and 3 (v1), 3 current
    let saved = tractor::local::spec::Store::new(dir.path())
        .load()
        .unwrap()
        .unwrap();
    let revs: Vec<(i64, &str)> = saved
        .revisions
        .iter()
        .map(|r| (r.number, r.version.as_str()))
        .collect();
    // the restart made revision 4: the same model, a new template
    assert_eq!(
        (saved.current, revs),
        (4, vec![(2, "v2"), (3, "v1"), (4, "v1")])
    );
    drop(handle);
}

/// The autoscaler on real replicas: load raises the replicas' mean requests in flight above
/// the target, and the deployment grows within the bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscaler_adds_replicas_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tractor::commands::demo::initial_spec(&models());
    spec.replicas = 1;
    spec.autoscale = Some(tractor::local::spec::Autoscale {
        min: 1,
        max: 3,
        target_inflight: 0.02,
    });
    let cfg = config(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tractor::local::start(cfg, spec, tx).unwrap();
    let mut seen = Seen::default();
    settled(&mut rx, &mut seen, 1, 1).await;
    let plan = steady(handle.front_port, 200.0, 20);
    let load = tokio::spawn(run(plan, None, Duration::from_millis(250)));
    let start = Instant::now();
    loop {
        drain(&mut rx, &mut seen);
        if seen.want > 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(18),
            "no scale-up under load: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.want <= 3, "within max: {seen:?}");
    eprintln!(
        "scaled 1 → {} after {:.1} s",
        seen.want,
        start.elapsed().as_secs_f64()
    );
    let o = load.await.unwrap().unwrap();
    assert_eq!(o.stats.errors(), 0, "{:?}", o.stats.failures);
    drop(handle);
}

/// A replica that dies at start (here a binary that exits at once) is restarted with a
/// growing delay, not every reconcile: a model that cannot load costs little.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_replicas_restart_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.serve_bin = "/bin/false".into();
    let spec = tractor::commands::demo::initial_spec(&models());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tractor::local::start(cfg, spec, tx).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let starts = std::fs::read_dir(dir.path().join("logs")).unwrap().count();
    drop(handle);
    // without backoff: 2 replicas every 200 ms, about 30 starts; with it, a handful
    assert!((2..=10).contains(&starts), "{starts} starts in 3 s");
}
