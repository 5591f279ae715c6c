//! The update function: keys, watch deltas and effect results in, state and
//! effects out, with no I/O.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, now, objects, render, state, state_from, typed};
use tractor::action::{Action, Target};
use tractor::event::{AppEvent, ClusterDelta, EffectResult, Kind, Object, Source, SourceStatus};
use tractor::state::{Effect, Level, Mode, PromptKind, View, ViewId, update};

fn classifier() -> Target {
    Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    }
}

#[test]
fn navigation_drill_down_and_back() {
    let mut s = state();
    assert_eq!(s.selected(ViewId::Deployments), 0);
    update(&mut s, key('j'));
    update(&mut s, code(KeyCode::Down));
    assert_eq!(s.selected(ViewId::Deployments), 2);
    update(&mut s, key('G'));
    assert_eq!(
        s.selected(ViewId::Deployments),
        3,
        "4 deployments: last is 3"
    );
    update(&mut s, key('j'));
    assert_eq!(s.selected(ViewId::Deployments), 3, "stays on the last row");
    update(&mut s, key('g'));
    update(&mut s, key('j')); // ml/embedder
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Detail(("ml".into(), "embedder".into())));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.view, View::Deployments);
    // :command jumps; unknown views are reported
    typed(&mut s, ":hpa");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Hpas);
    typed(&mut s, ":nodes");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Hpas);
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("unknown view \"nodes\"")
    );
    // Enter on an HPA opens its target deployment
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Detail(("ml".into(), "classifier".into())));
}

#[test]
fn filter_narrows_and_esc_clears() {
    let mut s = state();
    typed(&mut s, "/stag");
    assert!(matches!(s.mode, Mode::Filter(_)));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(tractor::state::rows::deployments(&s).len(), 2);
    // the filter also matches rollout state and model version
    typed(&mut s, "/");
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Backspace));
    typed(&mut s, "paused");
    update(&mut s, code(KeyCode::Enter));
    let names: Vec<_> = tractor::state::rows::deployments(&s)
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["ranker"]);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(tractor::state::rows::deployments(&s).len(), 4);
}

#[test]
fn undo_goes_through_preview_and_confirmation() {
    let mut s = state();
    let fx = update(&mut s, key('u'));
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: classifier(),
            action: Action::Undo { to_revision: None }
        }]
    );
    assert!(matches!(s.mode, Mode::Preparing { .. }));
    // keys other than quit do nothing while the dry run runs
    assert!(update(&mut s, key('u')).is_empty());
    let resolved = Action::Undo {
        to_revision: Some(2),
    };
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Prepared {
            target: classifier(),
            action: resolved.clone(),
            changes: vec![],
            notes: vec![],
        }),
    );
    assert!(matches!(s.mode, Mode::Confirm { .. }));
    // n cancels with nothing sent
    assert!(update(&mut s, key('n')).is_empty());
    assert_eq!(s.mode, Mode::Normal);
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("nothing was changed")
    );

    // again, confirmed this time: the resolved revision is executed
    update(&mut s, key('u'));
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Prepared {
            target: classifier(),
            action: resolved.clone(),
            changes: vec![],
            notes: vec![],
        }),
    );
    let fx = update(&mut s, key('y'));
    assert_eq!(
        fx,
        vec![Effect::Execute {
            target: classifier(),
            action: resolved.clone()
        }]
    );
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Done {
            target: classifier(),
            action: resolved,
            message: "rolled back".into(),
            revision_before: Some(3),
            revision_after: Some(4),
        }),
    );
    assert_eq!(s.mode, Mode::Normal);
    assert_eq!(s.follow.as_ref().unwrap().revision_before, Some(3));
    assert_eq!(s.flash.as_ref().unwrap().level, Level::Ok);
}

#[test]
fn undo_in_detail_targets_the_selected_revision() {
    let mut s = state();
    update(&mut s, code(KeyCode::Enter)); // ml/classifier
    update(&mut s, key('j'));
    update(&mut s, key('j')); // revision 1 (newest first: 3, 2, 1)
    let fx = update(&mut s, key('u'));
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: classifier(),
            action: Action::Undo {
                to_revision: Some(1)
            }
        }]
    );
}

#[test]
fn read_only_refuses_before_any_effect() {
    let mut s = state();
    s.read_only = true;
    for k in ['u', 'r', 'p', 's', 'm', 'i'] {
        let fx = update(&mut s, key(k));
        assert!(fx.is_empty(), "{k}");
        assert_eq!(s.mode, Mode::Normal, "{k}");
        let f = s.flash.take().unwrap();
        assert_eq!(f.level, Level::Warn);
        assert!(
            f.text.starts_with("read-only:") && f.text.contains("nothing was sent"),
            "{}",
            f.text
        );
    }
    // the config can make a context read-only
    let mut cfg = tractor::config::Config::defaults();
    cfg.general.read_only_contexts = vec!["prod-*".into()];
    let s = tractor::state::State::new(cfg, "prod-eu".into(), "bob".into(), now());
    assert!(s.read_only);
}

#[test]
fn scale_prompt_validates_input() {
    let mut s = state();
    update(&mut s, key('s'));
    match &s.mode {
        Mode::Prompt {
            kind: PromptKind::Scale,
            input,
            ..
        } => assert_eq!(input, "4"),
        other => panic!("{other:?}"),
    }
    update(&mut s, code(KeyCode::Backspace));
    typed(&mut s, "x");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert_eq!(s.flash.as_ref().unwrap().level, Level::Error);
    update(&mut s, key('s'));
    update(&mut s, code(KeyCode::Backspace));
    typed(&mut s, "7");
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: classifier(),
            action: Action::Scale { replicas: 7 }
        }]
    );
}

#[test]
fn pause_key_toggles_and_model_prompt_prefills() {
    let mut s = state();
    typed(&mut s, "/ranker");
    update(&mut s, code(KeyCode::Enter));
    let fx = update(&mut s, key('p'));
    let t = Target {
        namespace: "staging".into(),
        name: "ranker".into(),
    };
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: t.clone(),
            action: Action::Resume
        }]
    );
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Failed {
            target: t,
            action: Action::Resume,
            failure: tractor::failure::Failure::Forbidden {
                user: "alice".into(),
                call: Box::new(tractor::failure::Call {
                    verb: "patch".into(),
                    resource: "deployments.apps".into(),
                    namespace: "staging".into(),
                    name: "ranker".into(),
                }),
                detail: String::new(),
            },
        }),
    );
    assert_eq!(s.mode, Mode::Normal);
    assert!(s.flash.as_ref().unwrap().text.starts_with("forbidden"));
    update(&mut s, key('m'));
    match &s.mode {
        Mode::Prompt {
            kind: PromptKind::SetModel,
            input,
            ..
        } => assert_eq!(input, "r-2026-11"),
        other => panic!("{other:?}"),
    }
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.mode, Mode::Normal);
}

#[test]
fn resync_drops_objects_deleted_while_disconnected() {
    let mut s = state();
    assert_eq!(s.cluster.pods.len(), 7);
    let keep: Vec<Object> = support::fixture("cluster.yaml")
        .into_iter()
        .filter(
            |o| matches!(o, Object::Pod(p) if p.metadata.namespace.as_deref() == Some("staging")),
        )
        .collect();
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Pod,
                namespace: None,
            },
            objects: keep,
        }),
    );
    assert_eq!(s.cluster.pods.len(), 1);
    // a namespaced source only replaces its namespace
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Deployment,
                namespace: Some("ml".into()),
            },
            objects: vec![],
        }),
    );
    let left: Vec<_> = s.cluster.deployments.keys().map(|k| k.1.clone()).collect();
    assert_eq!(left, ["broken", "ranker"]);
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Deleted(
            Kind::Deployment,
            ("staging".into(), "broken".into()),
        )),
    );
    assert_eq!(s.cluster.deployments.len(), 1);
}

#[test]
fn watch_trouble_shows_in_the_header() {
    let mut s = state();
    let src = Source {
        kind: Kind::Pod,
        namespace: None,
    };
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: src.clone(),
            status: SourceStatus::Reconnecting("connection refused".into()),
        }),
    );
    assert!(
        render(&s, 160, 48)
            .lines()
            .next()
            .unwrap()
            .contains("reconnecting (1 watch)")
    );
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: src.clone(),
            status: SourceStatus::Live,
        }),
    );
    assert!(
        render(&s, 160, 48)
            .lines()
            .next()
            .unwrap()
            .contains("● live")
    );
    let secret = Source {
        kind: Kind::Pod,
        namespace: Some("kube-system".into()),
    };
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Status {
            source: secret,
            status: SourceStatus::Forbidden("pods is forbidden".into()),
        }),
    );
    let head = render(&s, 160, 48);
    assert!(
        head.lines()
            .next()
            .unwrap()
            .contains("no access: list pods in namespace kube-system"),
        "{head}"
    );
    // the rest keeps working
    assert!(head.contains("classifier"));
}

#[test]
fn hpa_history_records_changes_only() {
    let mut s = state();
    let k = ("ml".to_string(), "classifier".to_string());
    assert_eq!(s.hpa_history[&k].len(), 1);
    let mut h = s.cluster.hpas[&k].clone();
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Applied(Object::Hpa(Box::new(h.clone())))),
    );
    assert_eq!(s.hpa_history[&k].len(), 1, "same counts: no new point");
    h.status.as_mut().unwrap().current_replicas = Some(6);
    update(
        &mut s,
        AppEvent::Tick(
            now()
                .checked_add(jiff::SignedDuration::from_secs(30))
                .unwrap(),
        ),
    );
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Applied(Object::Hpa(Box::new(h)))),
    );
    let hist = &s.hpa_history[&k];
    assert_eq!(hist.len(), 2);
    assert_eq!((hist[1].current, hist[1].desired), (6, 6));
    assert_eq!(hist[1].at.as_second() - hist[0].at.as_second(), 30);
}

#[test]
fn events_are_capped() {
    let mut cfg = tractor::config::Config::defaults();
    cfg.general.max_events = 2;
    let mut s = tractor::state::State::new(cfg, "c".into(), "u".into(), now());
    let evs: Vec<Object> = support::fixture("cluster.yaml")
        .into_iter()
        .filter(|o| o.kind() == Kind::Event)
        .collect();
    assert_eq!(evs.len(), 4);
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Resynced {
            source: Source {
                kind: Kind::Event,
                namespace: None,
            },
            objects: evs,
        }),
    );
    let reasons: Vec<_> = tractor::state::rows::events(&s)
        .iter()
        .map(|e| e.reason.clone().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["BackOff", "SuccessfulRescale"],
        "the newest two stay"
    );
}

#[test]
fn odd_objects_render_as_dashes_without_panicking() {
    let odd = objects(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare, namespace: x}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: orphan, namespace: x, annotations: {deployment.kubernetes.io/revision: "not-a-number"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
status: {containerStatuses: [{name: a, ready: false, restartCount: 2147483647, image: "", imageID: "", state: {terminated: {exitCode: 3}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: x}
status: {containerStatuses: [{name: a, ready: false, restartCount: 2147483647, image: "", imageID: ""}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h, namespace: x}
spec: {scaleTargetRef: {kind: Deployment, name: bare}, maxReplicas: 0, metrics: [{type: Weird}, {type: Resource, resource: {name: cpu, target: {type: Utilization}}}]}
status: {desiredReplicas: 0, currentMetrics: [{type: Resource}]}
---
apiVersion: v1
kind: Event
metadata: {name: e, namespace: x}
involvedObject: {}
"#,
    );
    let mut s = state_from(odd);
    for view in [":deploy", ":pods", ":hpa", ":events"] {
        typed(&mut s, view);
        update(&mut s, code(KeyCode::Enter));
        for (w, h) in [(160, 48), (80, 24), (20, 6)] {
            let out = render(&s, w, h);
            assert!(!out.is_empty());
        }
    }
    typed(&mut s, ":deploy");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Detail(("x".into(), "bare".into())));
    let out = render(&s, 160, 48);
    assert!(out.contains("revision: -"), "{out}");
    // the p pod: exit code shown, restarts summed without overflow
    typed(&mut s, ":pods");
    update(&mut s, code(KeyCode::Enter));
    let out = render(&s, 160, 48);
    assert!(out.contains("ExitCode:3"), "{out}");
    // the deployment vanishes while its detail is open
    update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Deleted(
            Kind::Deployment,
            ("x".into(), "bare".into()),
        )),
    );
    typed(&mut s, ":deploy");
    update(&mut s, code(KeyCode::Enter));
    assert!(render(&s, 80, 24).contains("Deployments [0]"));
}

#[test]
fn quitting() {
    let mut s = state();
    update(&mut s, key('?'));
    assert_eq!(s.mode, Mode::Help);
    update(&mut s, key('q'));
    assert!(!s.quit, "q closes help first");
    update(&mut s, key('q'));
    assert!(s.quit);
    let mut s = state();
    update(&mut s, key('s'));
    use crossterm::event::{Event, KeyEvent, KeyModifiers};
    update(
        &mut s,
        AppEvent::Input(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        ))),
    );
    assert!(s.quit, "ctrl-c quits from any mode");
}

#[test]
fn load_tests_start_stop_and_refuse_from_the_console() {
    use tractor::event::LoadEvent;
    let mut s = state();
    // the monitor key opens the selected deployment's monitor, esc goes back
    update(&mut s, key('l'));
    assert_eq!(
        s.view,
        View::Monitor(Some(("ml".into(), "classifier".into())))
    );
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.view, View::Deployments);

    // bad flags are named, nothing starts, and the prompt keeps what was typed
    update(&mut s, key('L'));
    assert!(matches!(s.mode, Mode::LoadPrompt(_)));
    for _ in 0..100 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "--rate 10");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    let flash = s.flash.clone().unwrap();
    assert_eq!(flash.level, Level::Error);
    assert!(flash.text.contains("--url"), "{}", flash.text);
    assert!(s.load.is_none());
    update(&mut s, key('L'));
    assert_eq!(s.mode, Mode::LoadPrompt("--rate 10".into()));
    typed(&mut s, " --url http://127.0.0.1:9/ --duration 0s");
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert!(s.flash.clone().unwrap().text.contains("--duration"));

    // good flags start it, on the monitor of the selected deployment
    update(&mut s, key('L'));
    for _ in 0..100 {
        update(&mut s, code(KeyCode::Backspace));
    }
    let line = "--url http://127.0.0.1:9/ --rate 5 --duration 10s";
    typed(&mut s, line);
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Effect::StartLoad {
            args: tractor::load::line::parse(line).unwrap()
        }]
    );
    assert_eq!(
        s.view,
        View::Monitor(Some(("ml".into(), "classifier".into())))
    );
    assert!(s.load.as_ref().unwrap().running());
    // one at a time
    update(&mut s, key('L'));
    assert_eq!(s.mode, Mode::Normal);
    assert!(s.flash.clone().unwrap().text.contains("stop it first"));
    // stop, then the end arrives
    assert_eq!(update(&mut s, key('X')), vec![Effect::StopLoad]);
    assert!(s.load.as_ref().unwrap().stopping);
    update(
        &mut s,
        AppEvent::Load(LoadEvent::Finished(Ok("50 requests, 0 errors".into()))),
    );
    let run = s.load.as_ref().unwrap();
    assert!(!run.running() && !run.stopping);
    assert!(s.flash.clone().unwrap().text.contains("50 requests"));
    assert!(update(&mut s, key('X')).is_empty(), "nothing left to stop");

    // read-only refuses to start one
    let mut ro = state();
    ro.read_only = true;
    update(&mut ro, key('L'));
    assert_eq!(ro.mode, Mode::Normal);
    assert!(ro.flash.clone().unwrap().text.contains("read-only"));
}

#[test]
fn writes_work_from_the_monitor_screen() {
    let mut s = state();
    typed(&mut s, ":monitor");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        s.view,
        View::Monitor(Some(("ml".into(), "classifier".into())))
    );
    typed(&mut s, ":urls");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Monitor(None));
    update(&mut s, code(KeyCode::Esc));
    // undo in one key, through the same preview as everywhere
    assert_eq!(
        update(&mut s, key('u')),
        vec![Effect::Prepare {
            target: classifier(),
            action: Action::Undo { to_revision: None },
        }]
    );
}
