use std::collections::BTreeMap;

use super::*;
use crate::canary::state::SCHEMA_ANNOTATION;

fn canary(verdict: Option<&str>) -> Deployment {
    let mut a = BTreeMap::from([(CANARY_OF_ANNOTATION.to_string(), "web".to_string())]);
    if let Some(v) = verdict {
        a.insert(VERDICT_ANNOTATION.into(), v.into());
    }
    let mut d = Deployment::default();
    d.metadata.name = Some("web-canary".into());
    d.metadata.namespace = Some("ml".into());
    d.metadata.annotations = Some(a);
    d
}

const FAIL: &str = r#"{"at":"2026-03-01T12:00:00Z","step":0,"verdict":"fail","reasons":["p99<250ms violated: 400.0ms"]}"#;
const PASS: &str = r#"{"at":"2026-03-01T12:01:00Z","step":1,"verdict":"pass","reasons":[],"canary_share":0.3,"canary_p99":0.0049,"stable_p99":0.0051}"#;

#[test]
fn each_new_verdict_marks_the_stable_timeline_once() {
    let at: Timestamp = "2026-03-01T12:00:05Z".parse().unwrap();
    let (k, m) = verdict_marker(&canary(None), &canary(Some(FAIL)), at).unwrap();
    assert_eq!(k, ("ml".to_string(), "web".to_string()));
    assert_eq!(m.kind, MarkerKind::Verdict(Judged::Fail));
    assert_eq!(m.text, "✗ step 1 fail: p99<250ms violated: 400.0ms");
    assert_eq!(m.at, at);
    // the same verdict again (a status update, a lease renewal) marks nothing
    assert!(verdict_marker(&canary(Some(FAIL)), &canary(Some(FAIL)), at).is_none());
    let (_, m) = verdict_marker(&canary(Some(FAIL)), &canary(Some(PASS)), at).unwrap();
    assert_eq!(m.text, "✓ step 2 pass (p99 4.9 vs 5.1 ms)");
    // not a canary, or an unreadable verdict: nothing
    let mut plain = canary(Some(PASS));
    plain
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .remove(CANARY_OF_ANNOTATION);
    assert!(verdict_marker(&canary(None), &plain, at).is_none());
    assert!(verdict_marker(&canary(None), &canary(Some("{")), at).is_none());
}

#[test]
fn a_canary_with_annotations_this_tractor_cannot_read_says_why() {
    let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    let mut s = State::new(
        crate::config::Config::defaults(),
        "ctx".into(),
        "me".into(),
        now,
    );
    let mut d = canary(None);
    d.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(SCHEMA_ANNOTATION.into(), "9".into());
    s.cluster
        .deployments
        .insert(("ml".into(), "web-canary".into()), d);
    let stable = ("ml".to_string(), "web".to_string());
    let e = of(&s, &stable).unwrap().unwrap_err();
    assert!(matches!(e, StateError::UnknownSchema { .. }), "{e}");
    assert!(of(&s, &("ml".to_string(), "api".to_string())).is_none());
}
