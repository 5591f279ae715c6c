use std::time::Duration;

use jiff::Timestamp;
use tractor_metrics::canary::counters::{AbortReason, PauseReason};
use tractor_metrics::canary::judge::{RevisionWindow, WindowInput, judge};
use tractor_metrics::histogram::Bucket;

use super::*;
use crate::canary::lease::decide_lease;
use crate::canary::plan::{CanaryArgs, CanaryPlan};
use crate::canary::state::CanaryState;

fn plan() -> CanaryPlan {
    let a = CanaryArgs {
        target: Some("web".into()),
        model: Some("v2".into()),
        steps: Some("1,50%".into()),
        interval: Some("30s".into()),
        slos: vec!["p99<100ms".into()],
        ..CanaryArgs::default()
    };
    CanaryPlan::build(&a, None, Duration::from_secs(5)).unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn window(latency: f64) -> RevisionWindow {
    RevisionWindow {
        requests: 2000.0,
        errors: 0.0,
        latency: vec![
            Bucket {
                le: latency,
                count: 2000.0,
            },
            Bucket {
                le: f64::INFINITY,
                count: 2000.0,
            },
        ],
    }
}

#[test]
fn a_failed_window_reads_with_its_numbers_share_reasons_and_next_step() {
    let input = WindowInput {
        canary: window(0.2),
        stable: window(0.005),
        scrapes_fresh: true,
        load_lagging: false,
    };
    let verdict = judge(&input, &plan().to_analysis());
    let p = Progress::Window {
        step: 0,
        at: "2026-03-01T12:00:00Z".into(),
        canary_share: Some(0.25),
        canary_pods: 1,
        stable_pods: 3,
        stale: vec![],
        verdict: Box::new(verdict),
        next: Action::Abort {
            reason: AbortReason::Failures {
                failures: 1,
                limit: 0,
            },
        },
    };
    let text = line(&p);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("window at step 1: FAIL · canary 25% of requests (1 pods, stable 3)"),
        "{text}"
    );
    assert!(first.contains("canary 2000 req, p50 "), "{text}");
    assert!(
        first.ends_with("next: roll back (1 failed windows, more than the failure limit of 0)"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with("p99<100ms violated"),
        "{text}"
    );
}

#[test]
fn status_says_where_the_run_is_who_drives_it_and_what_the_last_window_said() {
    let mut state = CanaryState::start(plan(), at("2026-03-01T12:00:00Z"));
    state.run.step = 1;
    state.run.phase = Phase::Paused {
        reason: PauseReason::Inconclusive {
            inconclusive: 4,
            limit: 3,
        },
    };
    state.last_verdict = Some(VerdictSummary {
        at: at("2026-03-01T12:03:00Z"),
        step: 1,
        verdict: Judged::Inconclusive,
        reasons: vec!["canary: 12 requests, 1000 needed".into()],
        canary_share: Some(0.01),
        canary_p99: None,
        stable_p99: None,
    });
    let lease = decide_lease(
        None,
        "alice@box/42",
        at("2026-03-01T12:03:00Z"),
        Duration::from_secs(60),
    )
    .unwrap();
    let l = Loaded {
        state,
        lease: Some(lease),
        replicas: 2,
        version: "7".into(),
    };
    let held = status("web", "web-canary", &l, 4, at("2026-03-01T12:03:30Z"));
    let text = held.join("\n");
    for want in [
        "deploy/web-canary: canary of deploy/web, model v2",
        "step 2/2 (1,50%): 2 canary replicas beside 4 stable; 0/1 passing windows",
        "phase: paused: 4 inconclusive windows, more than the limit of 3",
        "driven by alice@box/42 (lease until 2026-03-01T12:04:00Z)",
        "last window at step 2, ended 2026-03-01T12:03:00Z: INCONCLUSIVE · canary 1% of requests",
        "    canary: 12 requests, 1000 needed",
        "waiting for a person: resume, promote or abort",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let free = status("web", "web-canary", &l, 4, at("2026-03-01T12:05:00Z")).join("\n");
    assert!(
        free.contains("nobody drives it: alice@box/42's lease ran out at 2026-03-01T12:04:00Z"),
        "{free}"
    );
}
