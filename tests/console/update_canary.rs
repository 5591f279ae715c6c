//! The canary in the console: `c` opens the prompt with the subcommand's flags, Enter asks
//! for the preview, `y` starts it; progress comes back as lines; `a`/`P` abort or promote
//! after a confirmation; read-only refuses; each window's verdict marks the stable's
//! timeline and the monitor shows the canary as its annotations say.
use crate::support;

use std::time::Duration;

use crossterm::event::KeyCode;
use support::{code, key, now, render, state, typed};
use tractor::action::Target;
use tractor::canary::drive::Progress;
use tractor::canary::{CanaryArgs, CanaryPlan, CanaryState, canary_deployment, decide_lease};
use tractor::event::{AppEvent, CanaryEvent, ClusterDelta, Object};
use tractor::state::timeline::MarkerKind;
use tractor::state::update::CanaryEffect;
use tractor::state::{CanaryWrite, Effect, Mode, State, View, update};
use tractor_metrics::canary::counters::Judged;

fn classifier() -> Target {
    Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    }
}

fn plan() -> CanaryPlan {
    let a = CanaryArgs {
        target: Some("classifier".into()),
        model: Some("v9".into()),
        steps: Some("1,50%".into()),
        interval: Some("30s".into()),
        slos: vec!["p99<250ms".into()],
        ..CanaryArgs::default()
    };
    CanaryPlan::build(&a, None, Duration::from_secs(5)).unwrap()
}

/// The canary Deployment of `plan` as the watch would deliver it.
fn canary_object(s: &State, verdict: Option<&str>) -> AppEvent {
    let stable = s
        .cluster
        .deployments
        .get(&("ml".to_string(), "classifier".to_string()))
        .unwrap();
    let state = CanaryState::start(plan(), now());
    let lease = decide_lease(None, "bob@box/7", now(), Duration::from_secs(120)).unwrap();
    let mut d = canary_deployment(stable, &state, &lease, 1).unwrap();
    if let Some(v) = verdict {
        d.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert("tractor.dev/canary-last-verdict".into(), v.into());
    }
    AppEvent::Kube(ClusterDelta::Applied(Object::Deployment(Box::new(d))))
}

#[test]
fn c_prompts_with_the_subcommand_flags_previews_then_starts_on_y() {
    let mut s = state();
    assert!(update(&mut s, key('c')).is_empty());
    let Mode::CanaryPrompt { target, input } = s.mode.clone() else {
        panic!("{:?}", s.mode)
    };
    assert_eq!(target, classifier());
    assert!(input.starts_with("--model "), "{input}");
    assert!(
        input.contains("--steps 1,50%") && input.contains("--compare"),
        "{input}"
    );
    // replace the prompt's text: the model, two steps and one SLO
    for _ in 0..input.chars().count() {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(
        &mut s,
        "--model v9 --steps 1,50% --interval 30s --slo 'p99<250ms'",
    );
    let fx = update(&mut s, code(KeyCode::Enter));
    let [
        Effect::Canary(CanaryEffect::Prepare {
            target,
            args,
            analysis,
        }),
    ] = &fx[..]
    else {
        panic!("{fx:?}")
    };
    assert_eq!(*target, classifier());
    assert_eq!(args.target.as_deref(), Some("classifier"));
    assert_eq!(args.model.as_deref(), Some("v9"));
    assert_eq!(args.slos, ["p99<250ms"]);
    assert_eq!(*analysis, None);
    assert!(matches!(s.mode, Mode::CanaryPreparing { .. }));
    // keys wait while the plan is built
    assert!(update(&mut s, key('c')).is_empty());

    update(
        &mut s,
        AppEvent::Canary(CanaryEvent::Prepared {
            target: classifier(),
            plan: Box::new(plan()),
            lines: vec!["canary replicas per step 1 → 1 beside 2 stable".into()],
        }),
    );
    assert!(matches!(
        s.mode,
        Mode::CanaryConfirm {
            write: CanaryWrite::Start(_),
            ..
        }
    ));
    let screen = render(&s, 120, 30);
    assert!(screen.contains("Confirm canary"), "{screen}");
    assert!(
        screen.contains("canary replicas per step 1 → 1 beside 2 stable"),
        "{screen}"
    );
    let fx = update(&mut s, key('y'));
    assert!(
        matches!(&fx[..], [Effect::Canary(CanaryEffect::Start { target, plan: p })] if *target == classifier() && **p == plan()),
        "{fx:?}"
    );
    assert_eq!(s.mode, Mode::Normal);

    // progress, then the end, as the driver reports them
    let key_ = ("ml".to_string(), "classifier".to_string());
    update(
        &mut s,
        AppEvent::Canary(CanaryEvent::Progress {
            target: classifier(),
            progress: Progress::Step {
                step: 0,
                steps: 2,
                replicas: 1,
                stable_replicas: 2,
            },
        }),
    );
    assert_eq!(
        s.canary_runs[&key_].lines.back().unwrap(),
        "step 1/2: 1 canary replicas beside 2 stable"
    );
    update(
        &mut s,
        AppEvent::Canary(CanaryEvent::Ended {
            target: classifier(),
            text: "promoted".into(),
            promoted: true,
            failed: false,
            lost: false,
        }),
    );
    // the driver a person overrode ends later: it does not hide how the run ended
    update(
        &mut s,
        AppEvent::Canary(CanaryEvent::Ended {
            target: classifier(),
            text: "stopped driving: deploy/classifier-canary was removed".into(),
            promoted: false,
            failed: false,
            lost: true,
        }),
    );
    assert_eq!(s.canary_runs[&key_].ended.as_deref(), Some("promoted"));
    assert!(s.flash.as_ref().unwrap().text.contains("promoted"));
    // the prompt remembers the last flags
    update(&mut s, key('c'));
    assert!(matches!(&s.mode, Mode::CanaryPrompt { input, .. } if input.contains("--model v9")));
}

#[test]
fn bad_flags_say_what_is_wrong_and_send_nothing() {
    let mut s = state();
    update(&mut s, key('c'));
    typed(&mut s, " --no-such-flag");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    let text = &s.flash.as_ref().unwrap().text;
    assert!(
        text.starts_with("canary: ") && text.contains("--no-such-flag"),
        "{text}"
    );
    update(&mut s, key('c'));
    typed(&mut s, " 'unclosed");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert!(s.flash.as_ref().unwrap().text.contains("unclosed"));
    // a preview refused by the runner goes back to normal with its words
    update(&mut s, key('c'));
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(fx.len(), 1);
    update(
        &mut s,
        AppEvent::Canary(CanaryEvent::Refused {
            target: classifier(),
            message: "--steps: no steps".into(),
        }),
    );
    assert_eq!(s.mode, Mode::Normal);
    assert!(s.flash.as_ref().unwrap().text.contains("--steps: no steps"));
}

#[test]
fn read_only_refuses_the_canary_and_a_promote_or_abort() {
    let mut s = state();
    s.read_only = true;
    assert!(update(&mut s, key('c')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("read-only: canary refused")
    );
    let ev = canary_object(&s, None);
    update(&mut s, ev);
    s.view = View::Monitor(Some(("ml".into(), "classifier".into())));
    for k in ['a', 'P'] {
        assert!(update(&mut s, key(k)).is_empty());
        assert_eq!(s.mode, Mode::Normal);
        assert!(s.flash.as_ref().unwrap().text.starts_with("read-only"));
    }
}

#[test]
fn the_monitor_shows_the_canary_its_verdict_markers_and_a_b_abort() {
    let mut s = state();
    s.view = View::Monitor(Some(("ml".into(), "classifier".into())));
    // no canary: a and P say so
    assert!(update(&mut s, key('a')).is_empty());
    assert!(s.flash.as_ref().unwrap().text.contains("has no canary"));

    let ev = canary_object(&s, None);
    update(&mut s, ev);
    let verdict = r#"{"at":"2026-03-01T12:00:00Z","step":0,"verdict":"pass","reasons":[],"canary_share":0.34}"#;
    let ev = canary_object(&s, Some(verdict));
    update(&mut s, ev);
    let tl = &s.timelines[&Some(("ml".to_string(), "classifier".to_string()))];
    let m = tl.markers.back().unwrap();
    assert_eq!(m.kind, MarkerKind::Verdict(Judged::Pass));
    assert_eq!(m.text, "✓ step 1 pass");

    s.flash = None;
    let screen = render(&s, 160, 48);
    let line = screen
        .lines()
        .find(|l| l.contains("canary  v9"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("step 1/2"), "{line}");
    assert!(line.contains("running"), "{line}");
    assert!(
        line.contains("last window PASS (canary 34% of requests)"),
        "{line}"
    );
    assert!(line.contains("driven by bob@box/7"), "{line}");
    assert!(
        screen.contains("abort canary") && screen.contains("promote canary"),
        "{screen}"
    );

    // a: the dialog says what abort does; y sends it
    update(&mut s, key('a'));
    let Mode::CanaryConfirm { write, lines, .. } = s.mode.clone() else {
        panic!("{:?}", s.mode)
    };
    assert_eq!(write, CanaryWrite::ByHand { promote: false });
    assert!(
        lines
            .join("\n")
            .contains("deploy/classifier is not changed")
    );
    let fx = update(&mut s, key('y'));
    assert_eq!(
        fx,
        vec![Effect::Canary(CanaryEffect::ByHand {
            target: classifier(),
            promote: false
        })]
    );
    // P: promote, cancelled with n
    update(&mut s, key('P'));
    assert!(matches!(
        &s.mode,
        Mode::CanaryConfirm {
            write: CanaryWrite::ByHand { promote: true },
            ..
        }
    ));
    assert!(update(&mut s, key('n')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
}

#[test]
fn c_on_a_deployment_with_a_canary_offers_to_take_its_run_up() {
    let mut s = state();
    let ev = canary_object(&s, None);
    update(&mut s, ev);
    assert!(update(&mut s, key('c')).is_empty());
    let Mode::CanaryConfirm {
        target,
        write,
        lines,
    } = s.mode.clone()
    else {
        panic!("{:?}", s.mode)
    };
    assert_eq!((target, write), (classifier(), CanaryWrite::Resume));
    let text = lines.join("\n");
    assert!(text.contains("resume deploy/classifier-canary"), "{text}");
    assert!(text.contains("step 1/2"), "{text}");
    // bob's lease is live: resuming would be refused until it runs out, and it says so
    assert!(text.contains("bob@box/7 holds its lease"), "{text}");
    let fx = update(&mut s, key('y'));
    assert_eq!(
        fx,
        vec![Effect::Canary(CanaryEffect::Resume {
            target: classifier()
        })]
    );
    // while this console drives it, c says so and sends nothing
    assert!(update(&mut s, key('c')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    let text = &s.flash.as_ref().unwrap().text;
    assert!(
        text.contains("this console drives deploy/classifier-canary"),
        "{text}"
    );
}
