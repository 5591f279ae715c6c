//! A stable Deployment as the API server returns it, and a plan for a canary beside it.
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{CanaryObjectError, canary_deployment, labels_of};
use crate::canary::lease::{Lease, decide_lease};
use crate::canary::plan::{CanaryArgs, CanaryPlan};
use crate::canary::state::CanaryState;
use crate::model::{
    CHANGE_CAUSE_ANNOTATION, MODEL_PATH_ENV, MODEL_VERSION_ENV, MODEL_VERSION_LABEL,
    REVISION_ANNOTATION,
};

pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// A stable Deployment as the API server returns it: two containers, the model in env and
/// label, the controller's fields filled in.
pub(crate) fn stable() -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("ml".into()),
            uid: Some("0b1c-stable".into()),
            resource_version: Some("4242".into()),
            generation: Some(7),
            labels: Some(map(&[
                ("app", "web"),
                ("app.kubernetes.io/instance", "prod"),
            ])),
            annotations: Some(map(&[
                (REVISION_ANNOTATION, "3"),
                (
                    CHANGE_CAUSE_ANNOTATION,
                    "tractor set model deploy/web -n ml v1",
                ),
                ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(4),
            min_ready_seconds: Some(5),
            revision_history_limit: Some(5),
            progress_deadline_seconds: Some(600),
            selector: LabelSelector {
                match_labels: Some(map(&[("app", "web")])),
                match_expressions: None,
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(map(&[("app", "web"), (MODEL_VERSION_LABEL, "v1")])),
                    annotations: Some(map(&[("prometheus.io/scrape", "true")])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![
                        Container {
                            name: "server".into(),
                            image: Some("ghcr.io/acme/tractor-serve:0.1".into()),
                            env: Some(vec![
                                env(MODEL_VERSION_ENV, "v1"),
                                env(MODEL_PATH_ENV, "/models/v1.onnx"),
                                EnvVar {
                                    name: "POD_IP".into(),
                                    value_from: Some(EnvVarSource {
                                        field_ref: Some(ObjectFieldSelector {
                                            field_path: "status.podIP".into(),
                                            ..ObjectFieldSelector::default()
                                        }),
                                        ..EnvVarSource::default()
                                    }),
                                    ..EnvVar::default()
                                },
                            ]),
                            ports: Some(vec![ContainerPort {
                                name: Some("http".into()),
                                container_port: 8080,
                                ..ContainerPort::default()
                            }]),
                            ..Container::default()
                        },
                        Container {
                            name: "proxy".into(),
                            image: Some("envoyproxy/envoy:v1.30".into()),
                            ..Container::default()
                        },
                    ],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: Some(DeploymentStatus {
            replicas: Some(4),
            ready_replicas: Some(4),
            ..DeploymentStatus::default()
        }),
    }
}

pub(crate) fn args() -> CanaryArgs {
    CanaryArgs {
        target: Some("deploy/web".into()),
        model: Some("v2".into()),
        path: Some("/models/v2.onnx".into()),
        container: Some("server".into()),
        steps: Some("1,25%,50%".into()),
        slos: vec!["p99<250ms".into()],
        progress_deadline: Some("5m".into()),
        ..CanaryArgs::default()
    }
}

pub(crate) fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

pub(crate) fn state(a: &CanaryArgs) -> CanaryState {
    let plan = CanaryPlan::build(a, None, Duration::from_secs(5)).unwrap();
    CanaryState::start(plan, now())
}

pub(crate) fn lease() -> Lease {
    decide_lease(None, "alice@laptop/4242", now(), Duration::from_secs(30)).unwrap()
}

pub(crate) fn canary(a: &CanaryArgs) -> Result<Deployment, CanaryObjectError> {
    canary_deployment(&stable(), &state(a), &lease(), 1)
}

pub(crate) fn template_labels(d: &Deployment) -> BTreeMap<String, String> {
    labels_of(&d.spec.as_ref().unwrap().template)
}

pub(crate) fn container<'d>(d: &'d Deployment, name: &str) -> &'d Container {
    let spec = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    spec.containers.iter().find(|c| c.name == name).unwrap()
}

pub(crate) fn env_of(c: &Container) -> BTreeMap<String, Option<String>> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}
