//! The update function's writes: preview, confirmation, read-only refusals, prompts,
//! and load tests started and stopped from the console.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, now, state, typed};
use tractor::action::{Action, Target};
use tractor::event::{AppEvent, EffectResult};
use tractor::state::{Effect, Level, Mode, PromptKind, View, update};

fn classifier() -> Target {
    Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    }
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
            args: Box::new(tractor::load::line::parse(line).unwrap())
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

/// `u` on a Helm release's Deployment asks for `helm rollback` when the helm binary is
/// there, a direct undo (with the preview's warning) when it is not; read-only refuses it.
#[test]
fn undo_on_a_helm_release_is_helm_rollback_when_helm_is_there() {
    let mut s = state();
    update(&mut s, key('/'));
    typed(&mut s, "ranker");
    update(&mut s, code(KeyCode::Enter));
    let ranker = Target {
        namespace: "staging".into(),
        name: "ranker".into(),
    };
    let fx = update(&mut s, key('u'));
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: ranker.clone(),
            action: Action::Undo { to_revision: None }
        }]
    );
    s.mode = Mode::Normal;
    s.helm = true;
    let fx = update(&mut s, key('u'));
    assert_eq!(
        fx,
        vec![Effect::Prepare {
            target: ranker,
            action: Action::HelmRollback {
                release: "ranker".into(),
                revision: None
            }
        }]
    );
    s.mode = Mode::Normal;
    s.read_only = true;
    assert!(update(&mut s, key('u')).is_empty());
    // another deployment, not Helm's: a direct undo as before
    s.read_only = false;
    update(&mut s, code(KeyCode::Esc));
    let fx = update(&mut s, key('u'));
    assert!(
        matches!(
            &fx[..],
            [Effect::Prepare {
                action: Action::Undo { .. },
                ..
            }]
        ),
        "{fx:?}"
    );
}
