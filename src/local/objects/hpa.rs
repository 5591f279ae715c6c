//! The local autoscaler as the HPA the views read.
use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus, MetricIdentifier, MetricSpec,
    MetricStatus, MetricTarget, MetricValueStatus, PodsMetricSource, PodsMetricStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::super::spec::Spec;
use super::{HpaView, NAMESPACE};

/// The metric the local autoscaler follows.
const INFLIGHT_METRIC: &str = "tractor_inflight_requests";

/// Milli-units, as Kubernetes writes a fractional quantity.
fn milli(v: f64) -> Quantity {
    Quantity(format!("{}m", (v * 1000.0).round() as i64))
}

pub(super) fn autoscaler(spec: &Spec, h: &HpaView, created: Timestamp) -> HorizontalPodAutoscaler {
    let metric = || MetricIdentifier {
        name: INFLIGHT_METRIC.into(),
        selector: None,
    };
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(NAMESPACE.into()),
            creation_timestamp: Some(Time(created)),
            ..ObjectMeta::default()
        },
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: spec.name.clone(),
            },
            min_replicas: Some(h.min),
            max_replicas: h.max,
            metrics: Some(vec![MetricSpec {
                type_: "Pods".into(),
                pods: Some(PodsMetricSource {
                    metric: metric(),
                    target: MetricTarget {
                        type_: "AverageValue".into(),
                        average_value: Some(milli(h.target_inflight)),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        },
        status: Some(HorizontalPodAutoscalerStatus {
            current_replicas: Some(h.current),
            desired_replicas: h.desired,
            last_scale_time: h.last_scale.map(Time),
            current_metrics: h.inflight.map(|v| {
                vec![MetricStatus {
                    type_: "Pods".into(),
                    pods: Some(PodsMetricStatus {
                        metric: metric(),
                        current: MetricValueStatus {
                            average_value: Some(milli(v)),
                            ..MetricValueStatus::default()
                        },
                    }),
                    ..MetricStatus::default()
                }]
            }),
            conditions: Some(vec![HorizontalPodAutoscalerCondition {
                type_: "ScalingActive".into(),
                status: "True".into(),
                reason: Some("ValidMetricFound".into()),
                ..HorizontalPodAutoscalerCondition::default()
            }]),
            ..HorizontalPodAutoscalerStatus::default()
        }),
    }
}
