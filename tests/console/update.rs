//! The update function: keys, watch deltas and effect results in, state and
//! effects out, with no I/O. Navigation and leaving here; writes in `update_writes`,
//! watch deltas in `update_cluster`.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, state, typed};
use tractor::event::AppEvent;
use tractor::state::{Mode, View, ViewId, update};

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
