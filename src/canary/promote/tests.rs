use super::*;
use crate::canary::object::fixtures::{args, canary, map, stable};
use crate::model::{MODEL_VERSION_LABEL, POD_TEMPLATE_HASH};

#[test]
fn promotion_gives_the_stable_the_canary_template_without_the_canary_label() {
    let stable = stable();
    let mut c = canary(&args()).unwrap();
    // as read back from the API server: the controller's hash on the template is not ours
    c.spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(POD_TEMPLATE_HASH.into(), "5d8f7c9b4".into());
    let t = promoted_template(&stable, &c).unwrap();
    assert_eq!(
        labels_of(&t),
        map(&[("app", "web"), (MODEL_VERSION_LABEL, "v2")])
    );
    assert!(selects(
        &stable.spec.as_ref().unwrap().selector,
        &labels_of(&t)
    ));
    let mut want = c.spec.as_ref().unwrap().template.clone();
    want.metadata.as_mut().unwrap().labels = Some(labels_of(&t));
    assert_eq!(t, want);
    // the change, and only it, against the stable's template
    let mut before = stable.spec.as_ref().unwrap().template.clone();
    before.metadata.as_mut().unwrap().labels = Some(labels_of(&t));
    let (new, old) = (
        &t.spec.as_ref().unwrap().containers,
        &before.spec.as_ref().unwrap().containers,
    );
    assert_eq!(new[1], old[1]);
    assert_ne!(new[0].env, old[0].env);

    // another Deployment, or another namespace's canary, is refused
    let mut other = c.clone();
    other
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(CANARY_OF_ANNOTATION.into(), "api".into());
    assert_eq!(
        promoted_template(&stable, &other).unwrap_err().to_string(),
        "deploy/web-canary is not the canary of deploy/web"
    );
    let mut elsewhere = c.clone();
    elsewhere.metadata.namespace = Some("staging".into());
    assert!(promoted_template(&stable, &elsewhere).is_err());
    // a canary whose labels were edited away from the stable's selector
    let mut edited = c;
    edited
        .spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .remove("app");
    assert!(matches!(
        promoted_template(&stable, &edited),
        Err(CanaryObjectError::SelectorMismatch { .. })
    ));
}

#[test]
fn promotion_is_refused_when_the_stable_changed_since_the_canary_started() {
    let c = canary(&args()).unwrap();
    let mut changed = stable();
    changed
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[1]
        .image = Some("sidecar:2".into());
    assert!(promoted_template(&stable(), &c).is_ok());
    let e = promoted_template(&changed, &c).unwrap_err();
    assert!(matches!(e, CanaryObjectError::StableChanged { .. }), "{e}");
    assert!(
        e.to_string().contains("changed since the canary started"),
        "{e}"
    );
    // a scale or an annotation on the Deployment is not a template change
    let mut scaled = stable();
    scaled.spec.as_mut().unwrap().replicas = Some(9);
    assert!(promoted_template(&scaled, &c).is_ok());
}
