use std::time::Duration;

use tractor_metrics::canary::counters::{AbortReason, Event, Judged, PauseReason, Phase};

use super::*;
use crate::canary::plan::{CanaryArgs, Field};
use crate::model::MODEL_VERSION_LABEL;

fn plan() -> CanaryPlan {
    let args = CanaryArgs {
        target: Some("deploy/web".into()),
        model: Some("v2".into()),
        path: Some("/models/v2.onnx".into()),
        images: vec!["server=img:2".into()],
        steps: Some("1,25%,50%".into()),
        interval: Some("2m".into()),
        slos: vec!["p99<250ms".into(), "errors<1%".into()],
        compare: Some(true),
        windows_per_step: Some(2),
        failure_limit: Some(1),
        ..CanaryArgs::default()
    };
    CanaryPlan::build(&args, None, Duration::from_secs(5)).unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn state() -> CanaryState {
    let mut run = plan().to_counters_plan().map(Run::new).unwrap();
    run.on(Event::Window(Judged::Pass));
    run.on(Event::Window(Judged::Pass));
    run.on(Event::Window(Judged::Fail));
    CanaryState {
        plan: plan(),
        run: *run.state(),
        started_at: at("2026-03-01T12:00:00Z"),
        last_verdict: Some(VerdictSummary {
            at: at("2026-03-01T12:06:00Z"),
            step: 1,
            verdict: Judged::Fail,
            reasons: vec!["errors<1% violated: 5.00%".into()],
            canary_share: Some(0.2),
            canary_p99: Some(0.25),
            stable_p99: Some(0.1),
        }),
    }
}

#[test]
fn the_state_round_trips_through_its_annotations() {
    let s = state();
    assert_eq!((s.run.step, s.run.failures), (1, 1));
    let a = s.annotations().unwrap();
    assert_eq!(
        a.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "tractor.dev/canary-last-verdict",
            "tractor.dev/canary-plan",
            "tractor.dev/canary-run",
            "tractor.dev/canary-schema",
            "tractor.dev/canary-started-at",
        ]
    );
    // under the prefix the crate's labels use
    let prefix = MODEL_VERSION_LABEL.split('/').next().unwrap();
    assert!(a.keys().all(|k| k.starts_with(&format!("{prefix}/"))));
    assert_eq!(a[SCHEMA_ANNOTATION], "1");
    assert_eq!(a[STARTED_ANNOTATION], "2026-03-01T12:00:00Z");
    // written as a person writes the flags
    let saved = &a[PLAN_ANNOTATION];
    for part in [
        r#""steps":"1,25%,50%""#,
        r#""interval":"2m""#,
        r#""slos":["p99<250ms","errors<1%"]"#,
        r#""images":["server=img:2"]"#,
        r#""compare":{"confidence":0.95,"min_effect":0.56}"#,
    ] {
        assert!(saved.contains(part), "{part} in {saved}");
    }
    assert_eq!(CanaryState::decode(&a), Ok(s.clone()));

    // no verdict yet: no annotation, and none read back
    let fresh = CanaryState::start(plan(), at("2026-03-01T12:00:00Z"));
    let a = fresh.annotations().unwrap();
    assert!(!a.contains_key(VERDICT_ANNOTATION));
    assert_eq!(CanaryState::decode(&a), Ok(fresh));
}

#[test]
fn every_phase_is_saved_as_the_metrics_crate_writes_it_and_read_back() {
    let phases = [
        Phase::Running,
        Phase::Promoted,
        Phase::Paused {
            reason: PauseReason::Inconclusive {
                inconclusive: 4,
                limit: 3,
            },
        },
        Phase::Paused {
            reason: PauseReason::ScrapeErrors {
                consecutive: 5,
                limit: 4,
            },
        },
        Phase::Aborted {
            reason: AbortReason::Failures {
                failures: 1,
                limit: 0,
            },
        },
        Phase::Aborted {
            reason: AbortReason::NotReady,
        },
        Phase::Aborted {
            reason: AbortReason::MaxDuration,
        },
    ];
    for phase in phases {
        let mut s = state();
        s.run.phase = phase;
        let a = s.annotations().unwrap();
        // the mirror writes what the audit log writes
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&a[RUN_ANNOTATION]).unwrap(),
            serde_json::to_value(s.run).unwrap(),
            "{phase:?}"
        );
        assert_eq!(CanaryState::decode(&a).map(|d| d.run), Ok(s.run));
    }
}

fn with(key: &str, value: Option<&str>) -> BTreeMap<String, String> {
    let mut a = state().annotations().unwrap();
    match value {
        Some(v) => a.insert(key.into(), v.into()),
        None => a.remove(key),
    };
    a
}

#[test]
fn what_is_missing_or_unreadable_is_named() {
    for key in [
        SCHEMA_ANNOTATION,
        PLAN_ANNOTATION,
        RUN_ANNOTATION,
        STARTED_ANNOTATION,
    ] {
        assert_eq!(
            CanaryState::decode(&with(key, None)),
            Err(StateError::Missing { key }),
            "{key}"
        );
    }
    assert_eq!(
        CanaryState::decode(&BTreeMap::new())
            .unwrap_err()
            .to_string(),
        "annotation tractor.dev/canary-schema is missing: the Deployment is not a tractor canary, or was edited"
    );
    for key in [PLAN_ANNOTATION, RUN_ANNOTATION, VERDICT_ANNOTATION] {
        let e = CanaryState::decode(&with(key, Some("{not json"))).unwrap_err();
        assert!(
            matches!(&e, StateError::Malformed { key: k, .. } if *k == key),
            "{key}: {e}"
        );
    }
    let e = CanaryState::decode(&with(STARTED_ANNOTATION, Some("yesterday"))).unwrap_err();
    assert!(
        matches!(
            e,
            StateError::Malformed {
                key: STARTED_ANNOTATION,
                ..
            }
        ),
        "{e}"
    );
    // a field the schema does not have is not skipped
    let mut run = serde_json::to_value(state().run).unwrap();
    run["retries"] = 1.into();
    let e = CanaryState::decode(&with(RUN_ANNOTATION, Some(&run.to_string()))).unwrap_err();
    assert!(e.to_string().contains("unknown field `retries`"), "{e}");
}

#[test]
fn an_unknown_schema_version_is_refused_not_guessed() {
    let e = CanaryState::decode(&with(SCHEMA_ANNOTATION, Some("2"))).unwrap_err();
    assert_eq!(e, StateError::UnknownSchema { found: "2".into() });
    assert_eq!(
        e.to_string(),
        "annotation tractor.dev/canary-schema is \"2\": this tractor reads version 1 only; use the tractor that started the canary (or a newer one)"
    );
}

#[test]
fn a_saved_plan_or_step_that_cannot_run_is_refused() {
    let mut bad = serde_json::to_value(plan()).unwrap();
    bad["slos"] = serde_json::json!([]);
    bad["compare"] = serde_json::Value::Null;
    let e = CanaryState::decode(&with(PLAN_ANNOTATION, Some(&bad.to_string()))).unwrap_err();
    assert_eq!(e, StateError::Plan(PlanError::NothingToJudge));

    let mut bad = serde_json::to_value(plan()).unwrap();
    bad["windows_per_step"] = 0.into();
    let e = CanaryState::decode(&with(PLAN_ANNOTATION, Some(&bad.to_string()))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "annotation tractor.dev/canary-plan: the saved plan's windows_per_step: must be more than 0"
    );
    assert!(matches!(
        e,
        StateError::Plan(PlanError::Bad {
            at: crate::canary::plan::At::Saved(Field::WindowsPerStep),
            ..
        })
    ));

    let mut s = state();
    s.run.step = 3;
    let e = CanaryState::decode(&s.annotations().unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "annotation tractor.dev/canary-run: the saved state is at step 4 of a plan with 3"
    );
}

#[test]
fn a_resumed_run_continues_where_it_stopped() {
    let s = CanaryState::decode(&state().annotations().unwrap()).unwrap();
    let mut run = s.resume().unwrap();
    // step 1 had no pass yet: two more advance to the last step
    run.on(Event::Window(Judged::Pass));
    assert_eq!(
        run.on(Event::Window(Judged::Pass)),
        tractor_metrics::canary::Action::AdvanceStep { step: 2 }
    );
    // one failure already counted: the second is more than the limit of 1
    assert_eq!(s.run.failures, 1);
    assert!(matches!(
        run.on(Event::Window(Judged::Fail)),
        tractor_metrics::canary::Action::Abort { .. }
    ));
}
