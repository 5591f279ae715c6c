//! Canaries on the local backend, with real tractor-serve replicas behind the real front
//! port and load through it: a version as fast as the stable is promoted and a slower one
//! (the demo's v3) is rolled back by itself, neither losing a request; a window without
//! traffic is inconclusive and the canary pauses, never promotes; a controller stopped
//! mid-canary (its console gone) loses nothing: a new one brings the canary back from the
//! state directory and another console takes the run up once the lease runs out; read-only
//! is refused.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use tractor::canary::CanaryPlan;
use tractor::canary::backend::CanaryBackend;
use tractor::canary::drive::{self, DriveError, Outcome, Settings};
use tractor::canary::local::LocalCanary;
use tractor::event::AppEvent;
use tractor::load::engine::{Outcomes, run_until};
use tractor::local::Handle;

use super::local::{Seen, config, models, not_answered, settled, steady, target};

/// A medium minimum effect (0.64, not the default small 0.56): on two cores shared with the
/// load and the other tests, a just-started replica of the same model has measured as
/// slower by a small effect (0.576 in one CI run); the slow v3 is far past either.
const STEPS: &str = "--steps 1,100% --interval 4s --slo p50<50ms --slo errors<1% --compare --min-effect 0.64 --progress-deadline 60s";

/// The plan the console's prompt would build from `flags` (scrapes every 500 ms).
fn plan(flags: &str) -> CanaryPlan {
    let words = tractor::load::words::split(flags).unwrap();
    let start = tractor::cli::canary::parse_prompt(&words).unwrap();
    let mut args = start.plan_args();
    args.target = Some("classifier".into());
    CanaryPlan::build(&args, None, Duration::from_millis(500)).unwrap()
}

fn v1_path() -> String {
    models()
        .join("demo-classifier-v1.onnx")
        .display()
        .to_string()
}

fn settings(me: &str, ttl: Duration, read_only: bool) -> Settings {
    Settings {
        me: me.into(),
        lease_ttl: ttl,
        read_only,
        poll: Duration::from_millis(200),
        load_lag: None,
    }
}

/// Each progress report as its JSON line (what `-o json` prints).
type Events = Arc<std::sync::Mutex<Vec<Value>>>;

fn recorder(events: &Events) -> impl FnMut(&drive::Progress) + Send + use<> {
    let events = events.clone();
    move |p| {
        let v = serde_json::to_value(p).unwrap();
        eprintln!("  {}", tractor::canary::lines::line(p));
        events.lock().unwrap().push(v);
    }
}

fn windows(events: &Events) -> Vec<Value> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["event"] == "window")
        .cloned()
        .collect()
}

async fn start(
    b: &LocalCanary,
    h: &Handle,
    flags: &str,
    s: &Settings,
) -> (Result<Outcome, DriveError>, Events) {
    let events = Events::default();
    let mut report = recorder(&events);
    let audit = tractor::canary::local::audit(h, "tester", &target());
    let out = drive::start(b, plan(flags), s, &audit, &mut report).await;
    (out, events)
}

/// Waits until no canary replica is left (all drained and stopped) and the deployment
/// runs its revision on every replica.
async fn canary_gone(h: &Handle) {
    let t0 = Instant::now();
    loop {
        let v = h.canary_view().await.unwrap();
        if v.canary.is_none() && v.live.iter().all(|r| !r.canary) && v.rolled_out() {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{v:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Steady load through the front port until stopped (at most `secs`).
fn load(h: &Handle, secs: u64) -> (Arc<AtomicBool>, tokio::task::JoinHandle<Outcomes>) {
    let stop = Arc::new(AtomicBool::new(false));
    let plan = steady(h.front_port, 100.0, secs);
    let s = stop.clone();
    let task = tokio::spawn(async move {
        run_until(plan, None, Duration::from_millis(250), s)
            .await
            .unwrap()
    });
    (stop, task)
}

/// Stops the load; the requests sent, and those that got no 200 (failures and statuses).
async fn finish(stop: Arc<AtomicBool>, task: tokio::task::JoinHandle<Outcomes>) -> (u64, u64) {
    stop.store(true, Ordering::SeqCst);
    let o = task.await.unwrap();
    let (failures, non_200) = not_answered(&o);
    eprintln!(
        "requests {}, statuses {:?}, failures {:?}",
        o.stats.sent, o.stats.statuses, o.stats.failures
    );
    (o.stats.sent, failures + non_200)
}

async fn started(
    dir: &std::path::Path,
    spec: tractor::local::spec::Spec,
    read_only: bool,
) -> (Arc<Handle>, UnboundedReceiver<AppEvent>) {
    let mut cfg = config(dir);
    cfg.read_only = read_only;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (Arc::new(tractor::local::start(cfg, spec, tx).unwrap()), rx)
}

fn saved(dir: &std::path::Path) -> tractor::local::spec::Spec {
    tractor::local::spec::Store::new(dir)
        .load()
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_canary_promotes_a_good_version_and_rolls_back_a_slow_one_without_failed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tractor::commands::demo::initial_spec(&models());
    spec.autoscale = None; // two replicas throughout: the canary is what is tested
    let (h, mut rx) = started(dir.path(), spec, false).await;
    let mut seen = Seen::default();
    settled(&mut rx, &mut seen, 1, 2).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let s = settings("tester@local/1", Duration::from_secs(30), false);
    let (stop, task) = load(&h, 180);

    // v1.1: v1's file under a new version, as fast as the stable
    let flags = format!("--model v1.1 --path {} {STEPS}", v1_path());
    let (out, events) = start(&b, &h, &flags, &s).await;
    assert_eq!(out.unwrap(), Outcome::Promoted);
    let w = windows(&events);
    assert_eq!(w.len(), 2, "one passing window per step: {w:?}");
    for v in &w {
        assert_eq!(v["verdict"], "pass", "{v}");
        let share = v["canary_share"].as_f64().unwrap();
        assert!(share > 0.1 && share < 0.9, "observed share {share}: {v}");
    }
    println!(
        "promoted v1.1: observed canary shares {:?}",
        w.iter().map(|v| &v["canary_share"]).collect::<Vec<_>>()
    );
    canary_gone(&h).await;
    let spec = saved(dir.path());
    let cur = spec.current_revision().unwrap();
    assert_eq!((spec.current, cur.version.as_str()), (2, "v1.1"));
    assert!(
        cur.change_cause.contains("--model v1.1"),
        "{}",
        cur.change_cause
    );
    assert_eq!(spec.canary, None);

    // v3: some 10 ms more per request; its first window fails and it is rolled back
    let (out, events) = start(&b, &h, &format!("--model v3 {STEPS}"), &s).await;
    let out = out.unwrap();
    assert!(
        matches!(out, Outcome::RolledBack { .. }),
        "{out:?} {:?}",
        events.lock().unwrap()
    );
    let w = windows(&events);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["verdict"], "fail", "{}", w[0]);
    println!("rolled back v3: {}", w[0]["reasons"]);
    canary_gone(&h).await;
    let spec = saved(dir.path());
    assert_eq!(
        spec.current_revision().unwrap().version,
        "v1.1",
        "the stable is untouched"
    );

    let (sent, failed) = finish(stop, task).await;
    println!(
        "requests across both canaries, a promotion and a rollback: {sent} sent, {failed} failed"
    );
    assert!(sent >= 1000, "the load ran: {sent}");
    assert_eq!(failed, 0, "a request was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_canary_pauses_without_traffic_survives_its_controller_and_refuses_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tractor::commands::demo::initial_spec(&models());
    spec.autoscale = None;
    let (h, mut rx) = started(dir.path(), spec, false).await;
    let mut seen = Seen::default();
    settled(&mut rx, &mut seen, 1, 2).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let flags = format!("--model v1.1 --path {} {STEPS}", v1_path());

    // read-only: refused before anything is written
    let ro = settings("ro@local/1", Duration::from_secs(30), true);
    let (out, _) = start(&b, &h, &flags, &ro).await;
    assert!(matches!(out, Err(DriveError::ReadOnly { .. })), "{out:?}");
    assert_eq!(saved(dir.path()).canary, None);

    // no traffic: the window is inconclusive, never a pass, and the canary pauses at its step
    let first = settings("first@local/1", Duration::from_secs(8), false);
    let paused = format!("{flags} --inconclusive-limit 0");
    let (out, events) = start(&b, &h, &paused, &first).await;
    assert!(
        matches!(out, Ok(Outcome::Paused { .. })),
        "{out:?} {:?}",
        events.lock().unwrap()
    );
    let w = windows(&events);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["verdict"], "inconclusive", "{}", w[0]);
    let c = saved(dir.path()).canary.expect("a paused canary stays");
    assert_eq!(c.replicas, 1);
    assert_eq!(saved(dir.path()).current, 1, "the stable is untouched");

    // traffic; a console takes the paused run up and is gone after its first window
    let (stop, task) = load(&h, 60);
    let events = Events::default();
    let (b2, e2) = (
        LocalCanary::new(h.clone(), Duration::from_secs(1)),
        events.clone(),
    );
    let audit = tractor::canary::local::audit(&h, "tester", &target());
    let driver = tokio::spawn(async move {
        let mut report = recorder(&e2);
        drive::resume(&b2, &first, &audit, &mut report, true, false).await
    });
    let t0 = Instant::now();
    while windows(&events).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no window");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver.abort();
    let _ = driver.await;
    assert_eq!(windows(&events)[0]["verdict"], "pass");
    let _ = finish(stop, task).await;
    // the controller goes with its console: every replica stops, the state directory stays
    drop(b);
    let h = Arc::into_inner(h).expect("only the test holds the controller");
    drop(h);
    let spec = saved(dir.path());
    let c = spec.canary.clone().expect("the canary is saved");
    assert!(c.annotations.contains_key("tractor.dev/canary-lease"));

    // a new controller brings the canary's replica back; read-only refuses to touch it
    let (h, _rx) = started(dir.path(), spec.clone(), true).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let view = h.canary_view().await.unwrap();
    assert!(view.canary.is_some());
    let removed = b.remove().await;
    assert!(
        removed
            .as_ref()
            .is_err_and(|e| e.to_string().contains("read-only")),
        "{removed:?}"
    );
    drop(b);
    drop(Arc::into_inner(h).expect("only the test holds the controller"));

    let (h, mut rx) = started(dir.path(), spec, false).await;
    settled(&mut rx, &mut Seen::default(), 1, 2).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let (stop, task) = load(&h, 120);
    let second = settings("second@local/2", Duration::from_secs(30), false);
    let audit = tractor::canary::local::audit(&h, "tester", &target());
    // the first console's lease is still live: refused, naming it
    let events = Events::default();
    let mut report = recorder(&events);
    let held = drive::resume(&b, &second, &audit, &mut report, true, false).await;
    assert!(
        held.as_ref()
            .is_err_and(|e| e.to_string().contains("first@local/1")),
        "{held:?}"
    );
    // once it runs out, the run is taken up where it stood and finished
    let lease = b.load().await.unwrap().unwrap().lease.unwrap();
    let wait = lease
        .expires()
        .duration_since(jiff::Timestamp::now())
        .unsigned_abs();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let out = drive::resume(&b, &second, &audit, &mut report, true, false).await;
    assert_eq!(out.unwrap(), Outcome::Promoted);
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|v| v["event"] == "resumed"),
        "{:?}",
        events.lock().unwrap()
    );
    canary_gone(&h).await;
    assert_eq!(
        saved(dir.path()).current_revision().unwrap().version,
        "v1.1"
    );
    let (sent, failed) = finish(stop, task).await;
    println!("requests across the resumed canary and its promotion: {sent} sent, {failed} failed");
    assert_eq!(failed, 0, "a request was dropped");
}

/// The ends a person meets at 3 a.m.: a canary whose model cannot load is rolled back at its
/// progress deadline; one past its maximum duration is rolled back (exit 3); a person's
/// promote while a console drives it wins and that console stops; and a canary whose saved
/// run was damaged by hand can still be aborted (promote is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_canary_not_ready_max_duration_by_hand_and_a_damaged_run() {
    use tractor_metrics::canary::counters::AbortReason;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tractor::commands::demo::initial_spec(&models());
    spec.autoscale = None;
    let (h, mut rx) = started(dir.path(), spec, false).await;
    settled(&mut rx, &mut Seen::default(), 1, 2).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let s = settings("driver@local/1", Duration::from_secs(30), false);
    let (stop, task) = load(&h, 120);

    // not an ONNX model: the canary's replica never gets ready
    let not_onnx = models().join("generate.py").display().to_string();
    let flags = format!(
        "--model v9 --path {not_onnx} --steps 1 --interval 4s --slo p50<50ms --progress-deadline 5s"
    );
    let (out, _) = start(&b, &h, &flags, &s).await;
    let out = out.unwrap();
    assert_eq!(
        out,
        Outcome::RolledBack {
            reason: AbortReason::NotReady
        }
    );
    assert_eq!(out.exit_code(), tractor::cli::exit::ROLLED_BACK);
    canary_gone(&h).await;
    // its replica crashed at every start, with a growing delay of its own (the stable's
    // ready replicas do not reset it): a handful of starts in the 5 s, not one per 500 ms
    let starts = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("classifier-canary-")
            })
        })
        .count();
    assert!((2..=6).contains(&starts), "{starts} canary starts in 5 s");

    // past its maximum duration (here still waiting for its replica, well inside the
    // progress deadline)
    let flags = format!(
        "--model v9 --path {not_onnx} --steps 1 --interval 4s --slo p50<50ms --progress-deadline 60s --max-duration 5s"
    );
    let (out, _) = start(&b, &h, &flags, &s).await;
    let out = out.unwrap();
    assert_eq!(
        out,
        Outcome::RolledBack {
            reason: AbortReason::MaxDuration
        }
    );
    assert_eq!(out.exit_code(), tractor::cli::exit::TIMEOUT);
    canary_gone(&h).await;

    // a person promotes while a console drives it (after a console that died mid-promotion):
    // the promotion wins, the console stops
    let v11 = format!("--model v1.1 --path {}", v1_path());
    let events = Events::default();
    let (b2, e2, plan_flags) = (
        LocalCanary::new(h.clone(), Duration::from_secs(1)),
        events.clone(),
        format!("{v11} {STEPS}"),
    );
    let (audit, s2) = (
        tractor::canary::local::audit(&h, "tester", &target()),
        s.clone(),
    );
    let driver = tokio::spawn(async move {
        let mut report = recorder(&e2);
        drive::start(&b2, plan(&plan_flags), &s2, &audit, &mut report).await
    });
    let t0 = Instant::now();
    while windows(&events).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no window");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // a console that died while promoting left the stable patched and the canary there:
    // a promotion taken up again does not refuse (the stable already runs its template)
    let deadline = jiff::Timestamp::now() + Duration::from_secs(60);
    b.promote("promoted by a console that then died", deadline)
        .await
        .unwrap();
    b.promote("and again", deadline).await.unwrap();
    let person = settings("alice@local/2", Duration::from_secs(30), false);
    let audit = tractor::canary::local::audit(&h, "alice", &target());
    let mut quiet = |_: &drive::Progress| {};
    let out = drive::by_hand(&b, &person, &audit, &mut quiet, true).await;
    assert_eq!(out.unwrap(), Outcome::Promoted);
    let driven = driver.await.unwrap().unwrap();
    assert!(matches!(driven, Outcome::Lost { .. }), "{driven:?}");
    canary_gone(&h).await;
    assert_eq!(
        saved(dir.path()).current_revision().unwrap().version,
        "v1.1"
    );
    let (sent, failed) = finish(stop, task).await;
    println!(
        "requests across a not-ready canary, a timeout and a promotion by hand: {sent} sent, {failed} failed"
    );
    assert_eq!(failed, 0, "a request was dropped");

    // a paused canary whose saved plan is then damaged by hand (the state file edited while
    // no console runs): promote refuses, abort removes it
    let paused = format!("--model v2 {STEPS} --inconclusive-limit 0");
    let (out, _) = start(&b, &h, &paused, &s).await;
    assert!(matches!(out, Ok(Outcome::Paused { .. })), "{out:?}");
    drop(b);
    drop(Arc::into_inner(h).expect("only the test holds the controller"));
    let mut spec = saved(dir.path());
    if let Some(c) = &mut spec.canary {
        c.annotations
            .insert("tractor.dev/canary-plan".into(), "{not json".into());
    }
    let (h, _rx) = started(dir.path(), spec, false).await;
    let b = LocalCanary::new(h.clone(), Duration::from_secs(1));
    let audit = tractor::canary::local::audit(&h, "alice", &target());
    let r = drive::by_hand(&b, &person, &audit, &mut quiet, true).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("tractor.dev/canary-plan")),
        "{r:?}"
    );
    let out = drive::by_hand(&b, &person, &audit, &mut quiet, false).await;
    assert_eq!(
        out.unwrap(),
        Outcome::RolledBack {
            reason: AbortReason::ByHand
        }
    );
    canary_gone(&h).await;
    assert_eq!(
        saved(dir.path()).current_revision().unwrap().version,
        "v1.1"
    );
}
