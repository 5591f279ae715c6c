//! The local backend with real tractor-serve processes on 127.0.0.1: a rollout and an undo
//! under steady load through the front port lose no request; and no replica outlives the
//! console, whether it quits, crashes (SIGABRT) or is killed (SIGKILL).
use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use support::tmux::Tmux;
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
        timeout: Duration::from_secs(10),
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
    let failures: u64 = o.stats.failures.values().sum();
    let non_200: u64 = o
        .stats
        .statuses
        .iter()
        .filter(|(s, _)| **s != 200)
        .map(|(_, n)| n)
        .sum();
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

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn children_of(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Starts `tractor demo` (no load) in tmux and waits for its two replicas to be ready.
fn demo(tag: &str, dir: &std::path::Path) -> (Tmux, u32, Vec<u32>) {
    let t = Tmux::start(tag);
    t.line(&format!(
        "{} --log-file {} demo --no-load --state-dir {} --serve-bin {} --models {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.join("log").display(),
        dir.join("state").display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    t.wait_for("ready 2/2", Duration::from_secs(60));
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    assert_eq!(replicas.len(), 2, "two replicas: {replicas:?}");
    (t, console, replicas)
}

fn all_gone(replicas: &[u32]) {
    let start = Instant::now();
    while replicas.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "replicas left behind: {:?}",
            replicas.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_replica_outlives_the_console() {
    let dir = tempfile::tempdir().unwrap();
    // quit
    let (t, _, replicas) = demo("quit", dir.path());
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);
    // a crash: abort, no unwinding, no destructor runs
    let (_t, console, replicas) = demo("abort", dir.path());
    // SAFETY: signalling the console under test.
    unsafe { libc::kill(console as i32, libc::SIGABRT) };
    all_gone(&replicas);
    // SIGKILL
    let (_t, console, replicas) = demo("kill", dir.path());
    // SAFETY: as above.
    unsafe { libc::kill(console as i32, libc::SIGKILL) };
    all_gone(&replicas);
}

/// Polls the screen until `ok` holds; panics with the screen after 60 s.
fn wait_screen(t: &Tmux, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let s = t.screen();
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a person does with `tractor demo`: watch v1 serve under load, roll out v2 with
/// `m`, see revision 2's latency and the rollout marker, roll back with `u`, quit; the
/// state directory holds the history and no replica is left.
#[test]
fn demo_rollout_and_rollback_with_keys() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let t = Tmux::start("demo");
    t.line(&format!(
        "{} --log-file {} demo --state-dir {} --serve-bin {} --models {} --profile step:50 --duration 120s; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.path().join("log").display(),
        state.display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    wait_screen(&t, "v1's latency under load", |s| {
        support::tmux::shows_latency(s, "r1 v1")
            && s.contains("● running")
            && s.contains("ready 2/2")
    });
    // m: the prompt holds the current version; replace it with v2
    t.keys(&["m"]);
    t.wait_for("model version: v1", Duration::from_secs(10));
    t.keys(&["BSpace", "BSpace"]);
    t.keys(&["-l", "v2"]);
    t.keys(&["Enter"]);
    t.wait_for("+ model version: v2", Duration::from_secs(10));
    t.keys(&["y"]);
    wait_screen(&t, "revision 2 serving v2", |s| {
        support::tmux::shows_latency(s, "r2 v2")
            && s.contains("rollout → rev 2 (v2)")
            && !s.contains("r1 v1 p50")
    });
    // u: back to v1, as revision 3
    t.keys(&["u"]);
    t.wait_for("+ model version: v1", Duration::from_secs(10));
    t.keys(&["y"]);
    let screen = wait_screen(&t, "revision 3 serving v1", |s| {
        support::tmux::shows_latency(s, "r3 v1")
            && s.contains("rollout → rev 3 (v1)")
            && s.contains("ready 2/2")
    });
    let load = screen.lines().find(|l| l.starts_with("load")).unwrap_or("");
    assert!(load.contains("errors 0"), "no request failed: {load}");
    let saved = tractor::local::spec::Store::new(&state)
        .load()
        .unwrap()
        .unwrap();
    let revs: Vec<(i64, &str)> = saved
        .revisions
        .iter()
        .map(|r| (r.number, r.version.as_str()))
        .collect();
    assert_eq!((saved.current, revs), (3, vec![(2, "v2"), (3, "v1")]));
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);

    // a new console on the same state directory: revision 3 runs, and undo still knows v2
    t.line("clear");
    t.line(&format!(
        "{} --log-file {} demo --no-load --state-dir {} --serve-bin {} --models {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.path().join("log").display(),
        state.display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    // (no load now: the latency figures stay "-", the revision's label shows)
    wait_screen(&t, "revision 3 back", |s| {
        s.contains("server  r3 v1 p50") && s.contains("ready 2/2")
    });
    t.keys(&["u"]);
    t.wait_for("+ model version: v2", Duration::from_secs(10));
    t.keys(&["y"]);
    wait_screen(&t, "revision 4 running v2", |s| {
        s.contains("server  r4 v2 p50") && s.contains("rollout → rev 4 (v2)")
    });
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);
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
