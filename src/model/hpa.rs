//! autoscaling/v2 HorizontalPodAutoscalers: metrics against targets, conditions,
//! and the input of the HPA algorithm for the explainer.
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget,
    MetricValueStatus,
};

use super::quantity;
use crate::autoscale::hpa::{self, Metric, Policy, PolicyKind, Rules, Select, Target};

/// One metric as the HPA view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    pub kind: String,
    /// e.g. `cpu`, `server/cpu`, `tractor_inflight_requests`.
    pub name: String,
    pub current: String,
    pub target: String,
    /// The numbers for the algorithm, when both sides are known.
    pub metric: Option<Metric>,
}

pub fn target_ref(h: &HorizontalPodAutoscaler) -> String {
    Some(&h.spec)
        .map(|s| format!("{}/{}", s.scale_target_ref.kind, s.scale_target_ref.name))
        .unwrap_or_else(|| "-".into())
}

/// `MetricSpec` and `MetricStatus` name their sources with the same fields; the
/// identity (type, name) and the per-source value are read the same way from both.
macro_rules! identity {
    ($m:expr) => {{
        let m = $m;
        let name = if let Some(r) = &m.resource {
            r.name.clone()
        } else if let Some(c) = &m.container_resource {
            format!("{}/{}", c.container, c.name)
        } else if let Some(p) = &m.pods {
            p.metric.name.clone()
        } else if let Some(o) = &m.object {
            format!(
                "{}/{} {}",
                o.described_object.kind, o.described_object.name, o.metric.name
            )
        } else if let Some(e) = &m.external {
            e.metric.name.clone()
        } else {
            "-".into()
        };
        (m.type_.clone(), name)
    }};
}

macro_rules! per_source {
    ($m:expr, $field:ident) => {{
        let m = $m;
        m.resource
            .as_ref()
            .map(|r| &r.$field)
            .or(m.container_resource.as_ref().map(|c| &c.$field))
            .or(m.pods.as_ref().map(|p| &p.$field))
            .or(m.object.as_ref().map(|o| &o.$field))
            .or(m.external.as_ref().map(|e| &e.$field))
    }};
}

fn identity(m: &MetricSpec) -> (String, String) {
    identity!(m)
}

fn status_identity(m: &MetricStatus) -> (String, String) {
    identity!(m)
}

fn spec_target(m: &MetricSpec) -> Option<&MetricTarget> {
    per_source!(m, target)
}

fn status_value(m: &MetricStatus) -> Option<&MetricValueStatus> {
    per_source!(m, current)
}

/// The metrics of the spec, each with its current value from the status.
pub fn metric_rows(h: &HorizontalPodAutoscaler) -> Vec<MetricRow> {
    let specs = Some(&h.spec).and_then(|s| s.metrics.as_ref());
    let statuses = h.status.as_ref().and_then(|s| s.current_metrics.as_ref());
    let mut rows = Vec::new();
    for (i, m) in specs.into_iter().flatten().enumerate() {
        let id = identity(m);
        let st = statuses.and_then(|all| {
            all.iter()
                .find(|s| status_identity(s) == id)
                .or_else(|| all.get(i).filter(|s| s.type_ == id.0))
        });
        let cur = st.and_then(status_value);
        let total = matches!(id.0.as_str(), "Object" | "External");
        let (target, current, metric) = match spec_target(m) {
            Some(t) => describe(t, cur, total, &id.1),
            None => ("-".into(), "-".into(), None),
        };
        rows.push(MetricRow {
            kind: id.0,
            name: id.1,
            current,
            target,
            metric,
        });
    }
    rows
}

/// (target text, current text, numbers for the algorithm). The current side shows
/// whichever value the status carries, so a metric that has one never reads `<unknown>`.
fn describe(
    t: &MetricTarget,
    cur: Option<&MetricValueStatus>,
    total: bool,
    name: &str,
) -> (String, String, Option<Metric>) {
    let cur_util = cur.and_then(|c| c.average_utilization);
    let cur_avg = cur
        .and_then(|c| c.average_value.as_ref())
        .map(|q| q.0.as_str());
    let cur_val = cur.and_then(|c| c.value.as_ref()).map(|q| q.0.as_str());
    let any_current = || {
        cur_util
            .map(|u| format!("{u}%"))
            .or(cur_avg.map(|v| format!("{v} (avg)")))
            .or(cur_val.map(str::to_string))
            .unwrap_or_else(|| "-".into())
    };
    let mk = |target: Target, current: Option<f64>| {
        current.map(|current| Metric {
            name: name.to_string(),
            target,
            current,
            total,
        })
    };
    match t.type_.as_str() {
        "Utilization" => {
            let tv = t.average_utilization.unwrap_or(0);
            let current = cur_util
                .map(|u| format!("{u}%"))
                .unwrap_or_else(any_current);
            let metric = mk(Target::Utilization(f64::from(tv)), cur_util.map(f64::from));
            (format!("{tv}%"), current, metric)
        }
        "AverageValue" => {
            let tq = t
                .average_value
                .as_ref()
                .map(|q| q.0.clone())
                .unwrap_or_else(|| "-".into());
            let current = cur_avg.map(str::to_string).unwrap_or_else(any_current);
            // The controller reports a per-pod average for every AverageValue target;
            // a bare total (Object/External) is divided over the replicas by the algorithm.
            let metric =
                quantity::parse(&tq).and_then(|tv| match cur_avg.and_then(quantity::parse) {
                    Some(avg) => mk(Target::AverageValue(tv), Some(avg))
                        .map(|m| Metric { total: false, ..m }),
                    None if total => {
                        mk(Target::AverageValue(tv), cur_val.and_then(quantity::parse))
                    }
                    None => None,
                });
            (format!("{tq} (avg)"), current, metric)
        }
        "Value" => {
            let tq = t
                .value
                .as_ref()
                .map(|q| q.0.clone())
                .unwrap_or_else(|| "-".into());
            let current = cur_val.map(str::to_string).unwrap_or_else(any_current);
            let metric = quantity::parse(&tq)
                .and_then(|tv| mk(Target::Value(tv), cur_val.and_then(quantity::parse)));
            (tq, current, metric)
        }
        other => (format!("{other}?"), any_current(), None),
    }
}

fn rules(r: Option<&HPAScalingRules>, default: Rules) -> Rules {
    let Some(r) = r else { return default };
    let policies = match &r.policies {
        Some(p) => p
            .iter()
            .map(|p| Policy {
                kind: if p.type_ == "Pods" {
                    PolicyKind::Pods
                } else {
                    PolicyKind::Percent
                },
                value: p.value,
                period_seconds: i64::from(p.period_seconds),
            })
            .collect(),
        None => default.policies,
    };
    Rules {
        stabilization_seconds: r
            .stabilization_window_seconds
            .map(i64::from)
            .unwrap_or(default.stabilization_seconds),
        select: match r.select_policy.as_deref() {
            Some("Min") => Select::Min,
            Some("Disabled") => Select::Disabled,
            _ => Select::Max,
        },
        policies,
    }
}

pub fn behavior(h: &HorizontalPodAutoscaler) -> hpa::Behavior {
    let d = hpa::Behavior::default();
    let b = Some(&h.spec).and_then(|s| s.behavior.as_ref());
    hpa::Behavior {
        scale_up: rules(b.and_then(|b| b.scale_up.as_ref()), d.scale_up),
        scale_down: rules(b.and_then(|b| b.scale_down.as_ref()), d.scale_down),
    }
}

pub fn replicas(h: &HorizontalPodAutoscaler) -> (i32, i32, i32, i32) {
    let spec = Some(&h.spec);
    let st = h.status.as_ref();
    (
        spec.and_then(|s| s.min_replicas).unwrap_or(1),
        spec.map(|s| s.max_replicas).unwrap_or(0),
        st.and_then(|s| s.current_replicas).unwrap_or(0),
        st.map(|s| s.desired_replicas).unwrap_or(0),
    )
}

/// The algorithm's input from the object and what the console saw this session.
pub fn input(
    h: &HorizontalPodAutoscaler,
    recommendations: Vec<hpa::Past>,
    scale_events: Vec<hpa::Past>,
) -> hpa::Input {
    let (min, max, cur, _) = replicas(h);
    hpa::Input {
        current_replicas: cur,
        min_replicas: min,
        max_replicas: max,
        metrics: metric_rows(h)
            .into_iter()
            .filter_map(|r| r.metric)
            .collect(),
        behavior: behavior(h),
        tolerance: 0.1,
        recommendations,
        scale_events,
    }
}

#[cfg(test)]
mod tests;
