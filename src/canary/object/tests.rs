use k8s_openapi::api::core::v1::EnvVarSource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

use super::fixtures::*;
use super::*;
use crate::canary::lease::LEASE_ANNOTATION;
use crate::canary::plan::CanaryArgs;
use crate::decide::Refusal;
use crate::model::REVISION_ANNOTATION;

#[test]
fn the_canary_is_the_stable_template_with_the_change_and_a_label_of_its_own() {
    let a = CanaryArgs {
        images: vec!["proxy=envoyproxy/envoy:v1.31".into()],
        ..args()
    };
    let c = canary(&a).unwrap();
    let meta = &c.metadata;
    assert_eq!(meta.name.as_deref(), Some("web-canary"));
    assert_eq!(meta.namespace.as_deref(), Some("ml"));
    assert_eq!(meta.labels, Some(map(&[(TRACK_LABEL, CANARY_TRACK)])));
    // a new object: nothing of the stable's identity, no owner, no status
    assert_eq!(
        (
            &meta.uid,
            &meta.resource_version,
            &meta.generation,
            &meta.owner_references
        ),
        (&None, &None, &None, &None)
    );
    assert_eq!(c.status, None);

    let spec = c.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.progress_deadline_seconds, Some(300));
    let stable_spec = stable().spec.unwrap();
    assert_eq!(spec.strategy, stable_spec.strategy);
    assert_eq!(spec.min_ready_seconds, Some(5));
    assert_eq!(spec.revision_history_limit, Some(5));
    assert_eq!(
        spec.selector.match_labels,
        Some(map(&[("app", "web"), (TRACK_LABEL, CANARY_TRACK)]))
    );
    assert_eq!(
        template_labels(&c),
        map(&[
            ("app", "web"),
            (MODEL_VERSION_LABEL, "v2"),
            (TRACK_LABEL, CANARY_TRACK)
        ])
    );
    // the template's own annotations stay
    let tmeta = spec.template.metadata.as_ref().unwrap();
    assert_eq!(
        tmeta.annotations,
        Some(map(&[("prometheus.io/scrape", "true")]))
    );

    let server = container(&c, "server");
    assert_eq!(
        server.image.as_deref(),
        Some("ghcr.io/acme/tractor-serve:0.1")
    );
    assert_eq!(
        env_of(server),
        BTreeMap::from([
            ("POD_IP".to_string(), None),
            (
                MODEL_PATH_ENV.to_string(),
                Some("/models/v2.onnx".to_string())
            ),
            (MODEL_VERSION_ENV.to_string(), Some("v2".to_string())),
        ])
    );
    assert_eq!(
        server.ports,
        stable_spec.template.spec.as_ref().unwrap().containers[0].ports
    );
    assert_eq!(
        container(&c, "proxy").image.as_deref(),
        Some("envoyproxy/envoy:v1.31")
    );
}

#[test]
fn the_selectors_overlap_one_way_only() {
    let c = canary(&args()).unwrap();
    let stable = stable();
    let stable_spec = stable.spec.as_ref().unwrap();
    let canary_spec = c.spec.as_ref().unwrap();
    // the stable's selector (and a Service selecting app=web) also matches the canary's pods
    assert!(selects(&stable_spec.selector, &template_labels(&c)));
    // the canary's selector never matches the stable's pods
    assert!(!selects(
        &canary_spec.selector,
        &labels_of(&stable_spec.template)
    ));
    assert!(selects(&canary_spec.selector, &template_labels(&c)));
}

#[test]
fn the_run_the_lease_and_the_cause_are_on_the_canary_and_nothing_of_the_stable() {
    let s = state(&args());
    let c = canary_deployment(&stable(), &s, &lease(), 1).unwrap();
    let a = c.metadata.annotations.clone().unwrap();
    assert_eq!(CanaryState::decode(&a), Ok(s.clone()));
    assert_eq!(Lease::decode(&a), Ok(Some(lease())));
    assert_eq!(a[CANARY_OF_ANNOTATION], "web");
    assert_eq!(
        a[CHANGE_CAUSE_ANNOTATION],
        "tractor rollout canary deploy/web -n ml --model v2 --path /models/v2.onnx --container server --steps 1,25%,50%"
    );
    assert!(a.contains_key(LEASE_ANNOTATION));
    assert!(!a.contains_key(REVISION_ANNOTATION));
    assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert_eq!(a.len(), s.annotations().unwrap().len() + 3);
}

#[test]
fn a_value_from_is_replaced_by_the_model_version() {
    let mut d = stable();
    let spec = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    spec.containers[0].env = Some(vec![EnvVar {
        name: MODEL_VERSION_ENV.into(),
        value_from: Some(EnvVarSource::default()),
        ..EnvVar::default()
    }]);
    let c = canary_deployment(&d, &state(&args()), &lease(), 2).unwrap();
    let server = container(&c, "server");
    let version = server
        .env
        .iter()
        .flatten()
        .find(|e| e.name == MODEL_VERSION_ENV)
        .unwrap();
    assert_eq!(
        (version.value.as_deref(), &version.value_from),
        (Some("v2"), &None)
    );
    assert_eq!(c.spec.unwrap().replicas, Some(2));
}

#[test]
fn refusals_say_what_is_wrong_before_anything_is_sent() {
    // the write rules' own refusal: two containers, none named
    let e = canary(&CanaryArgs {
        container: None,
        ..args()
    })
    .unwrap_err();
    assert_eq!(
        e,
        CanaryObjectError::Refused(Refusal::AmbiguousContainer {
            name: "web".into(),
            names: "server, proxy".into()
        })
    );
    let e = canary(&CanaryArgs {
        container: Some("gpu".into()),
        ..args()
    })
    .unwrap_err();
    assert!(
        matches!(e, CanaryObjectError::Refused(Refusal::NoContainer { .. })),
        "{e}"
    );

    // the same model and no image: nothing to compare
    let same = CanaryArgs {
        model: Some("v1".into()),
        path: Some("/models/v1.onnx".into()),
        ..args()
    };
    assert_eq!(
        canary(&same).unwrap_err().to_string(),
        "deploy/web already runs model v1 with these images: the canary would be compared with itself"
    );
    // the same model with a new image is a change
    let image = CanaryArgs {
        images: vec!["server=ghcr.io/acme/tractor-serve:0.2".into()],
        ..same
    };
    assert!(canary(&image).is_ok());

    assert_eq!(
        canary_deployment(&stable(), &state(&args()), &lease(), 0),
        Err(CanaryObjectError::BadReplicas(0))
    );

    let s = state(&args());
    let with = |f: &dyn Fn(&mut Deployment)| {
        let mut d = stable();
        f(&mut d);
        canary_deployment(&d, &s, &lease(), 1).unwrap_err()
    };
    let e = with(&|d| {
        let labels = d
            .spec
            .as_mut()
            .unwrap()
            .template
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut();
        labels
            .unwrap()
            .insert(TRACK_LABEL.into(), CANARY_TRACK.into());
    });
    assert_eq!(e, CanaryObjectError::IsCanary { name: "web".into() });
    let e = with(&|d| {
        d.spec.as_mut().unwrap().selector.match_expressions =
            Some(vec![LabelSelectorRequirement {
                key: TRACK_LABEL.into(),
                operator: "DoesNotExist".into(),
                values: None,
            }]);
    });
    assert_eq!(e, CanaryObjectError::TrackInSelector { name: "web".into() });
    // a selector pinned to the model version cannot select the new version's pods
    let e = with(&|d| {
        let sel = d
            .spec
            .as_mut()
            .unwrap()
            .selector
            .match_labels
            .as_mut()
            .unwrap();
        sel.insert(MODEL_VERSION_LABEL.into(), "v1".into());
    });
    assert!(
        matches!(e, CanaryObjectError::SelectorMismatch { .. }),
        "{e}"
    );
    assert!(e.to_string().contains(MODEL_VERSION_LABEL), "{e}");
    let e = with(&|d| d.spec.as_mut().unwrap().min_ready_seconds = Some(300));
    assert_eq!(
        e.to_string(),
        "the progress deadline (300s) must be longer than deploy/web's minReadySeconds (300s)"
    );
    let e = with(&|d| d.metadata.name = Some("api".into()));
    assert_eq!(e.to_string(), "the plan is for deploy/web, not deploy/api");
    let e = with(&|d| d.spec = None);
    assert_eq!(e.to_string(), "deploy/web has no spec");
    let long = "w".repeat(250);
    let a = CanaryArgs {
        target: Some(long.clone()),
        ..args()
    };
    let mut d = stable();
    d.metadata.name = Some(long);
    let e = canary_deployment(&d, &state(&a), &lease(), 1).unwrap_err();
    assert!(matches!(e, CanaryObjectError::NameTooLong { .. }), "{e}");
}
