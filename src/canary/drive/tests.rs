//! The driver against an in-memory backend (`fake`): which calls it makes in which order,
//! what it saves, and how each run ends.
use tractor_metrics::canary::counters::{AbortReason, PauseReason};

use super::*;
use crate::action::Target;
use crate::audit::AuditLog;
use crate::canary::backend::CanaryBackend;
use crate::canary::lease::{Lease, decide_lease};
use crate::canary::plan::{CanaryArgs, CanaryPlan};
use crate::canary::state::CanaryState;

mod fake;
use fake::Fake;

fn plan(extra: impl FnOnce(&mut CanaryArgs)) -> CanaryPlan {
    let mut a = CanaryArgs {
        target: Some("deploy/web".into()),
        model: Some("v2".into()),
        steps: Some("1,50%".into()),
        interval: Some("10s".into()),
        slos: vec!["p99<100ms".into()],
        compare: Some(true),
        ..CanaryArgs::default()
    };
    extra(&mut a);
    CanaryPlan::build(&a, None, Duration::from_secs(1)).unwrap()
}

fn settings(me: &str) -> Settings {
    Settings {
        me: me.into(),
        lease_ttl: Duration::from_secs(60),
        read_only: false,
        poll: Duration::from_secs(1),
        load_lag: None,
    }
}

fn audit(dir: &std::path::Path) -> Audit {
    Audit {
        log: AuditLog::new(dir.join("audit.jsonl")),
        context: "test".into(),
        user: "alice".into(),
        target: Target {
            namespace: "ml".into(),
            name: "web".into(),
        },
    }
}

fn audit_lines(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `start` and collects what it reported.
async fn run_start(b: &Fake, p: CanaryPlan, dir: &std::path::Path) -> (Outcome, Vec<Progress>) {
    let mut seen = Vec::new();
    let mut report = |p: &Progress| seen.push(p.clone());
    let out = start(b, p, &settings("me"), &audit(dir), &mut report)
        .await
        .unwrap();
    (out, seen)
}

fn windows(seen: &[Progress]) -> Vec<(usize, Judged, Action)> {
    seen.iter()
        .filter_map(|p| match p {
            Progress::Window {
                step,
                verdict,
                next,
                ..
            } => Some((*step, Judged::from(&verdict.verdict), *next)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_canary_as_fast_as_the_stable_goes_through_every_step_and_is_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.004, 2000.0);
    let (out, seen) = run_start(&b, plan(|_| {}), dir.path()).await;
    assert_eq!(out, Outcome::Promoted);
    assert_eq!(
        b.calls(),
        [
            "create 1",
            "scale 1",
            "scale 2", // 50% of the stable's 4, resolved when the step starts
            "promote (tractor rollout canary deploy/web -n ml --model v2 --steps 1,50%)",
            "remove"
        ]
    );
    assert_eq!(
        windows(&seen),
        [
            (0, Judged::Pass, Action::AdvanceStep { step: 1 }),
            (1, Judged::Pass, Action::Promote)
        ]
    );
    // the observed share: 1 canary pod beside 4 stable ones, then 2 beside 4
    let shares: Vec<f64> = seen
        .iter()
        .filter_map(|p| match p {
            Progress::Window { canary_share, .. } => *canary_share,
            _ => None,
        })
        .collect();
    assert_eq!(shares, [0.2, 2.0 / 6.0]);
    assert_eq!(b.inner.lock().unwrap().stable_template, "v2");
    let log = audit_lines(dir.path());
    let actions: Vec<&str> = log.iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "canary-start",
            "canary-scale",
            "canary-window",
            "canary-scale",
            "canary-window",
            "canary-promote",
            "canary-remove"
        ]
    );
    // a window's line carries its numbers
    assert_eq!(log[2]["result"], "pass");
    assert_eq!(log[2]["detail"]["numbers"]["canary"]["requests"], 2000.0);
}

#[tokio::test(start_paused = true)]
async fn a_slower_canary_fails_its_window_and_is_removed_with_the_stable_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.08, 2000.0);
    let (out, seen) = run_start(&b, plan(|_| {}), dir.path()).await;
    assert!(
        matches!(
            out,
            Outcome::RolledBack {
                reason: AbortReason::Failures {
                    failures: 1,
                    limit: 0
                }
            }
        ),
        "{out:?}"
    );
    assert_eq!(out.exit_code(), crate::cli::exit::ROLLED_BACK);
    assert_eq!(b.calls(), ["create 1", "scale 1", "remove"]);
    assert_eq!(b.inner.lock().unwrap().stable_template, "v1");
    assert!(matches!(
        windows(&seen)[..],
        [(0, Judged::Fail, Action::Abort { .. })]
    ));
}

#[tokio::test(start_paused = true)]
async fn without_traffic_the_windows_are_inconclusive_and_the_run_pauses_never_promotes() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.004, 0.0);
    let p = plan(|a| a.inconclusive_limit = Some(1));
    let (out, seen) = run_start(&b, p, dir.path()).await;
    assert_eq!(
        out,
        Outcome::Paused {
            reason: PauseReason::Inconclusive {
                inconclusive: 2,
                limit: 1
            }
        }
    );
    assert_eq!(out.exit_code(), crate::cli::exit::PAUSED);
    assert_eq!(
        b.calls(),
        ["create 1", "scale 1"],
        "the canary stays at its step"
    );
    let w = windows(&seen);
    assert!(
        w.iter().all(|(_, j, _)| *j == Judged::Inconclusive),
        "{w:?}"
    );
    // the pause is saved on the canary, for any console to see
    let saved = b.load().await.unwrap().unwrap();
    assert!(matches!(saved.state.run.phase, Phase::Paused { .. }));
    assert_eq!(
        saved.state.last_verdict.map(|v| v.verdict),
        Some(Judged::Inconclusive)
    );
    // and nobody holds it: any console may resume it at once
    let lease = saved.lease.unwrap();
    assert_eq!(lease.holder, "me");
    assert!(!lease.held_at(Timestamp::now()), "{lease:?}");
}

#[tokio::test(start_paused = true)]
async fn a_window_in_which_the_consoles_load_lagged_is_inconclusive_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    // a canary as fast as the stable: it would pass every window
    let b = Fake::new(0.004, 2000.0);
    let lag = crate::load::health::LagSignal::new();
    let bumps = {
        let lag = lag.clone();
        tokio::spawn(async move {
            // 100 sends each report, 5 of them late
            loop {
                lag.add(100, 5);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let s = Settings {
        load_lag: Some(lag),
        ..settings("me")
    };
    let mut seen = Vec::new();
    let mut report = |p: &Progress| seen.push(p.clone());
    let p = plan(|a| a.inconclusive_limit = Some(1));
    let out = start(&b, p, &s, &audit(dir.path()), &mut report)
        .await
        .unwrap();
    bumps.abort();
    assert!(matches!(out, Outcome::Paused { .. }), "{out:?}");
    assert_eq!(b.calls(), ["create 1", "scale 1"], "never promoted");
    let verdicts: Vec<String> = seen
        .iter()
        .filter_map(|p| match p {
            Progress::Window { verdict, .. } => Some(format!("{:?}", verdict.verdict)),
            _ => None,
        })
        .collect();
    assert!(!verdicts.is_empty());
    assert!(
        verdicts.iter().all(|v| v.contains("LoadLagging")),
        "{verdicts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn another_console_cannot_resume_a_held_canary_and_a_resume_after_expiry_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.004, 2000.0);
    // a canary at step 1 whose driver died, its lease still live
    let state = CanaryState::start(plan(|_| {}), Timestamp::now());
    let lease = decide_lease(None, "dead", Timestamp::now(), Duration::from_secs(60)).unwrap();
    b.create(&state, &lease, 1).await.unwrap();
    let mut report = |_: &Progress| {};
    let held = resume(
        &b,
        &settings("me"),
        &audit(dir.path()),
        &mut report,
        false,
        false,
    )
    .await;
    assert!(matches!(held, Err(DriveError::Held(_))), "{held:?}");
    assert_eq!(held.unwrap_err().exit_code(), crate::cli::exit::REFUSED);
    // expired: anyone may take it up
    {
        let mut i = b.inner.lock().unwrap();
        let c = i.canary.as_mut().unwrap();
        c.lease = Some(Lease {
            renewed: Timestamp::now() - jiff::SignedDuration::from_secs(120),
            ..lease.clone()
        });
    }
    let out = resume(
        &b,
        &settings("me"),
        &audit(dir.path()),
        &mut report,
        false,
        false,
    )
    .await
    .unwrap();
    assert_eq!(out, Outcome::Promoted);
    let log = audit_lines(dir.path());
    assert_eq!(log[0]["action"], "canary-resume");
}

#[tokio::test(start_paused = true)]
async fn a_person_aborts_by_hand_and_read_only_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.004, 0.0);
    let state = CanaryState::start(plan(|_| {}), Timestamp::now());
    let lease = decide_lease(None, "driver", Timestamp::now(), Duration::from_secs(60)).unwrap();
    b.create(&state, &lease, 1).await.unwrap();
    let mut report = |_: &Progress| {};
    let mut ro = settings("me");
    ro.read_only = true;
    let a = audit(dir.path());
    for r in [
        by_hand(&b, &ro, &a, &mut report, false).await,
        by_hand(&b, &ro, &a, &mut report, true).await,
        resume(&b, &ro, &a, &mut report, true, true).await,
        start(&b, plan(|_| {}), &ro, &a, &mut report).await,
    ] {
        assert!(matches!(r, Err(DriveError::ReadOnly { .. })), "{r:?}");
    }
    assert_eq!(b.calls(), ["create 1"], "nothing written");

    let out = by_hand(&b, &settings("me"), &a, &mut report, false)
        .await
        .unwrap();
    assert_eq!(
        out,
        Outcome::RolledBack {
            reason: AbortReason::ByHand
        }
    );
    assert_eq!(b.calls(), ["create 1", "remove"]);
    let log = audit_lines(dir.path());
    assert_eq!(log[0]["action"], "canary-abort");
    assert_eq!(log[0]["detail"]["holder"], "driver", "whose lease it broke");
    // nothing left to abort or promote
    let r = by_hand(&b, &settings("me"), &a, &mut report, true).await;
    assert!(matches!(r, Err(DriveError::NoCanary { .. })), "{r:?}");
}

#[tokio::test]
async fn an_abort_removes_a_canary_whose_run_cannot_be_read_but_never_another_deployment() {
    use crate::canary::StateError;
    use crate::canary::state::{PLAN_ANNOTATION, SCHEMA_ANNOTATION};
    let dir = tempfile::tempdir().unwrap();
    let a = audit(dir.path());
    let mut report = |_: &Progress| {};
    let state = CanaryState::start(plan(|_| {}), Timestamp::now());
    let lease = decide_lease(None, "driver", Timestamp::now(), Duration::from_secs(60)).unwrap();

    // a hand-edited plan: promote refuses (nothing of the run is trusted), abort removes it
    let b = Fake::new(0.004, 0.0);
    b.create(&state, &lease, 1).await.unwrap();
    b.inner.lock().unwrap().damaged = Some(StateError::Malformed {
        key: PLAN_ANNOTATION,
        detail: "expected value at line 1 column 1".into(),
    });
    let r = by_hand(&b, &settings("me"), &a, &mut report, true).await;
    assert!(matches!(r, Err(DriveError::Backend(_))), "{r:?}");
    let out = by_hand(&b, &settings("me"), &a, &mut report, false).await;
    assert_eq!(
        out.unwrap(),
        Outcome::RolledBack {
            reason: AbortReason::ByHand
        }
    );
    assert_eq!(b.calls(), ["create 1", "remove"], "removed, nothing saved");
    let log = audit_lines(dir.path());
    let actions: Vec<&str> = log.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["canary-abort", "canary-remove"]);
    assert!(
        log[0]["detail"].as_str().unwrap().contains(PLAN_ANNOTATION),
        "the audit log says why the run was not read: {}",
        log[0]
    );

    // no schema annotation: not a tractor canary (a Deployment that happens to be called
    // NAME-canary) — the abort refuses and leaves it
    let b = Fake::new(0.004, 0.0);
    b.create(&state, &lease, 1).await.unwrap();
    b.inner.lock().unwrap().damaged = Some(StateError::Missing {
        key: SCHEMA_ANNOTATION,
    });
    let r = by_hand(&b, &settings("me"), &a, &mut report, false).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("not a tractor canary")),
        "{r:?}"
    );
    assert_eq!(b.calls(), ["create 1"], "nothing removed");
}

#[tokio::test(start_paused = true)]
async fn a_driver_whose_lease_was_taken_stops_without_touching_the_canary() {
    let dir = tempfile::tempdir().unwrap();
    let b = Fake::new(0.004, 2000.0);
    b.inner.lock().unwrap().steal_at = Some(1);
    let (out, _) = run_start(&b, plan(|_| {}), dir.path()).await;
    match &out {
        Outcome::Lost { why } => assert!(why.contains("driven by bob"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.exit_code(), crate::cli::exit::REFUSED);
    assert_eq!(b.calls(), ["create 1", "scale 1"], "no promote, no remove");
    let lease = b.load().await.unwrap().unwrap().lease.unwrap();
    assert_eq!(lease.holder, "bob", "bob's lease was not overwritten");
}
