//! What the console asks a Prometheus each interval — three queries, whatever the number of
//! pods — and how their answers become the same per-pod figures a direct scrape gives.
//!
//! 1. the latency buckets: `increase` of `tractor_http_request_duration_seconds_bucket` over
//!    the inference routes and of `tractor_grpc_request_duration_seconds_bucket` for
//!    `ModelInfer` (both protocols' inferences), summed per pod and `le`;
//! 2. the counters and the histograms' `_sum`/`_count`: `increase` per pod, each part named
//!    by a `tractor_part` label (one request: the parts joined with `or`);
//! 3. the gauges (in flight, queue depth) and `tractor_model_info`'s version, per pod.
//!
//! A pod's window then reads as if it had been scraped twice, `window` apart: nothing at
//! the start and the increases at the end, so the per-revision sums and the quantiles are
//! computed by the very code the direct scrapes go through (`state::latency`).
use std::collections::BTreeMap;
use std::time::Duration;

use super::response::{Sample, Series};
use crate::metrics::histogram::Bucket;
use crate::model::Key;
use crate::scrape::{PodMetrics, SumCount};
use tractor_metrics::parse::outcome_of;

/// The label names that carry a series' pod and namespace (what the scrape job's
/// relabelling wrote: `pod` and `namespace` in Prometheus's own Kubernetes example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub namespace: String,
    pub pod: String,
}

/// The three queries of one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    pub buckets: String,
    pub counters: String,
    pub gauges: String,
}

impl Queries {
    pub fn all(&self) -> [&str; 3] {
        [&self.buckets, &self.counters, &self.gauges]
    }
}

/// The inference routes, as the direct scrape counts them (anchored, as PromQL does).
const INFERENCE: &str = r#"route=~".*/infer|/predict""#;

/// gRPC's inference method.
const GRPC_INFERENCE: &str = r#"method="ModelInfer""#;

/// The label that names each part of the counters query.
pub const PART: &str = "tractor_part";

/// `increase(...[window])` per pod of these parts; the name is the part's. Those marked
/// `true` are REST's request histogram (`tractor_http_…`) over the inference routes, joined
/// with gRPC's (`tractor_grpc_…`) for ModelInfer.
const COUNTER_PARTS: &[(&str, &str, bool)] = &[
    (
        "request_seconds_sum",
        "tractor_http_request_duration_seconds_sum",
        true,
    ),
    (
        "request_seconds_count",
        "tractor_http_request_duration_seconds_count",
        true,
    ),
    ("queue_wait_sum", "tractor_queue_wait_seconds_sum", false),
    (
        "queue_wait_count",
        "tractor_queue_wait_seconds_count",
        false,
    ),
    (
        "inference_sum",
        "tractor_inference_duration_seconds_sum",
        false,
    ),
    (
        "inference_count",
        "tractor_inference_duration_seconds_count",
        false,
    ),
    ("batch_size_sum", "tractor_batch_size_sum", false),
    ("batch_size_count", "tractor_batch_size_count", false),
];

/// A PromQL range: whole seconds (`60s`).
pub fn range(window: Duration) -> String {
    format!("{}s", window.as_secs().max(1))
}

pub fn queries(l: &Labels, window: Duration) -> Queries {
    let (ns, pod, w) = (&l.namespace, &l.pod, range(window));
    let by = format!("{ns}, {pod}");
    let named =
        |part: &str, expr: String| format!(r#"label_replace({expr}, "{PART}", "{part}", "", "")"#);
    // REST's series and gRPC's have different labels (route, status / method, code), so `or`
    // keeps both and the sums add them
    let both = |http: &str, grpc: &str| {
        format!("increase({http}{{{INFERENCE}}}[{w}]) or increase({grpc}{{{GRPC_INFERENCE}}}[{w}])")
    };
    let mut counters = vec![named(
        "requests",
        format!(
            "sum by ({by}, status) (increase(tractor_http_requests_total{{{INFERENCE}}}[{w}])) or sum by ({by}, code) (increase(tractor_grpc_requests_total{{{GRPC_INFERENCE}}}[{w}]))"
        ),
    )];
    for (part, metric, inference) in COUNTER_PARTS {
        let expr = match inference {
            true => both(
                metric,
                &metric.replacen("tractor_http_", "tractor_grpc_", 1),
            ),
            false => format!("increase({metric}{{}}[{w}])"),
        };
        counters.push(named(part, format!("sum by ({by}) ({expr})")));
    }
    Queries {
        buckets: format!(
            "sum by ({by}, le) ({})",
            both(
                "tractor_http_request_duration_seconds_bucket",
                "tractor_grpc_request_duration_seconds_bucket"
            )
        ),
        counters: counters.join(" or "),
        gauges: [
            named(
                "inflight",
                format!("sum by ({by}) (tractor_inflight_requests)"),
            ),
            named(
                "queue_depth",
                format!("sum by ({by}) (tractor_queue_depth)"),
            ),
            named(
                "info",
                format!("max by ({by}, version) (tractor_model_info)"),
            ),
        ]
        .join(" or "),
    }
}

/// Why the answers give no figures for a pod: what the console looked for and did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No series at all: nothing scrapes the model servers, or under other names.
    NoSeries,
    /// Series, but none with both labels.
    NoLabels { namespace: String, pod: String },
}

/// Per pod (namespace, name): its window's increases and its gauges, as [`PodMetrics`].
pub fn assemble(
    l: &Labels,
    buckets: &[Sample],
    counters: &[Sample],
    gauges: &[Sample],
) -> Result<BTreeMap<Key, PodMetrics>, Missing> {
    let mut out: BTreeMap<Key, PodMetrics> = BTreeMap::new();
    let key = |s: &Sample| -> Option<Key> {
        Some((
            s.labels.get(&l.namespace)?.clone(),
            s.labels.get(&l.pod)?.clone(),
        ))
    };
    let total = buckets.len() + counters.len() + gauges.len();
    let mut labelled = 0;
    for s in buckets {
        let (Some(k), Some(le)) = (key(s), s.labels.get("le")) else {
            continue;
        };
        labelled += 1;
        let le = match le.as_str() {
            "+Inf" | "Inf" => f64::INFINITY,
            x => match x.parse() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        if !s.value.is_finite() || s.value < 0.0 {
            continue;
        }
        let m = out.entry(k).or_default();
        match m.latency.iter_mut().find(|b| b.le == le) {
            Some(b) => b.count += s.value,
            None => m.latency.push(Bucket { le, count: s.value }),
        }
    }
    for s in counters.iter().chain(gauges) {
        let Some(k) = key(s) else {
            continue;
        };
        labelled += 1;
        let m = out.entry(k).or_default();
        let v = if s.value.is_finite() { s.value } else { 0.0 };
        match s.labels.get(PART).map(String::as_str) {
            Some("requests") => {
                let label = |k: &str| s.labels.get(k).map(String::as_str);
                let (rejected, error) = outcome_of(label("status"), label("code"));
                m.requests += v;
                if rejected {
                    m.rejected += v;
                } else if error {
                    m.errors += v;
                }
            }
            Some("inflight") => m.inflight += v,
            Some("queue_depth") => m.queue_depth += v,
            Some("info") => m.version = s.labels.get("version").cloned(),
            Some(part) => {
                if let Some((sc, sum)) = sum_count(m, part) {
                    if sum {
                        sc.sum += v;
                    } else {
                        sc.count += v;
                    }
                }
            }
            None => {}
        }
    }
    for m in out.values_mut() {
        m.latency.sort_by(|a, b| a.le.total_cmp(&b.le));
    }
    if out.is_empty() {
        return Err(if total > 0 && labelled == 0 {
            Missing::NoLabels {
                namespace: l.namespace.clone(),
                pod: l.pod.clone(),
            }
        } else {
            Missing::NoSeries
        });
    }
    Ok(out)
}

/// The `_sum` or `_count` (true: sum) a counters part names.
fn sum_count<'a>(m: &'a mut PodMetrics, part: &str) -> Option<(&'a mut SumCount, bool)> {
    let (base, sum) = match part.strip_suffix("_sum") {
        Some(b) => (b, true),
        None => (part.strip_suffix("_count")?, false),
    };
    let field = match base {
        "request_seconds" => &mut m.request_seconds,
        "queue_wait" => &mut m.queue_wait,
        "inference" => &mut m.inference,
        "batch_size" => &mut m.batch_size,
        _ => return None,
    };
    Some((field, sum))
}

/// A range query's series cut into instant vectors, one per timestamp (milliseconds).
pub fn by_time(series: &[Series]) -> BTreeMap<i64, Vec<Sample>> {
    let mut out: BTreeMap<i64, Vec<Sample>> = BTreeMap::new();
    for s in series {
        for (t, v) in &s.points {
            out.entry((t * 1000.0).round() as i64)
                .or_default()
                .push(Sample {
                    labels: s.labels.clone(),
                    value: *v,
                });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            namespace: "namespace".into(),
            pod: "pod".into(),
        }
    }

    fn s(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn three_queries_whatever_the_pods_with_the_configured_labels_and_window() {
        let q = queries(
            &Labels {
                namespace: "kubernetes_namespace".into(),
                pod: "kubernetes_pod_name".into(),
            },
            Duration::from_secs(60),
        );
        assert_eq!(
            q.buckets,
            r#"sum by (kubernetes_namespace, kubernetes_pod_name, le) (increase(tractor_http_request_duration_seconds_bucket{route=~".*/infer|/predict"}[60s]) or increase(tractor_grpc_request_duration_seconds_bucket{method="ModelInfer"}[60s]))"#
        );
        assert!(q.counters.starts_with(r#"label_replace(sum by (kubernetes_namespace, kubernetes_pod_name, status) (increase(tractor_http_requests_total{route=~".*/infer|/predict"}[60s])) or sum by (kubernetes_namespace, kubernetes_pod_name, code) (increase(tractor_grpc_requests_total{method="ModelInfer"}[60s])), "tractor_part", "requests", "", "") or "#));
        // the parts, and inside three of them (requests, request_seconds_*) REST's or gRPC's
        assert_eq!(q.counters.matches(" or ").count(), COUNTER_PARTS.len() + 3);
        assert!(q.counters.contains(r#"sum by (kubernetes_namespace, kubernetes_pod_name) (increase(tractor_http_request_duration_seconds_sum{route=~".*/infer|/predict"}[60s]) or increase(tractor_grpc_request_duration_seconds_sum{method="ModelInfer"}[60s]))"#));
        assert!(
            q.counters
                .contains(r#"increase(tractor_queue_wait_seconds_sum{}[60s])"#)
        );
        assert!(q.gauges.contains(
            "max by (kubernetes_namespace, kubernetes_pod_name, version) (tractor_model_info)"
        ));
        assert_eq!(range(Duration::from_millis(500)), "1s");
    }

    #[test]
    fn answers_become_each_pods_window() {
        let w1 = [("namespace", "ml"), ("pod", "web-1")];
        let buckets = vec![
            s(&[w1[0], w1[1], ("le", "0.01")], 90.0),
            s(&[w1[0], w1[1], ("le", "+Inf")], 100.0),
            s(&[w1[0], w1[1], ("le", "0.001")], 50.0),
            // no pod label: not a pod's
            s(&[("namespace", "ml"), ("le", "+Inf")], 7.0),
        ];
        let part = |p: &'static str| (PART, p);
        let counters = vec![
            s(&[w1[0], w1[1], part("requests"), ("status", "200")], 95.0),
            s(&[w1[0], w1[1], part("requests"), ("status", "500")], 2.0),
            s(&[w1[0], w1[1], part("requests"), ("status", "503")], 3.0),
            // gRPC's calls, by code: Unavailable is backpressure, Internal an error
            s(&[w1[0], w1[1], part("requests"), ("code", "OK")], 10.0),
            s(
                &[w1[0], w1[1], part("requests"), ("code", "Unavailable")],
                1.0,
            ),
            s(&[w1[0], w1[1], part("requests"), ("code", "Internal")], 1.0),
            s(&[w1[0], w1[1], part("queue_wait_sum")], 0.5),
            s(&[w1[0], w1[1], part("queue_wait_count")], 100.0),
            s(&[w1[0], w1[1], part("request_seconds_sum")], 1.5),
            s(&[w1[0], w1[1], part("request_seconds_count")], f64::NAN),
        ];
        let gauges = vec![
            s(&[w1[0], w1[1], part("inflight")], 4.0),
            s(&[w1[0], w1[1], part("info"), ("version", "v2")], 1.0),
            s(
                &[
                    ("namespace", "ml"),
                    ("pod", "web-2"),
                    part("info"),
                    ("version", "v1"),
                ],
                1.0,
            ),
        ];
        let out = assemble(&labels(), &buckets, &counters, &gauges).unwrap();
        let m = &out[&("ml".to_string(), "web-1".to_string())];
        let les: Vec<f64> = m.latency.iter().map(|b| b.le).collect();
        assert_eq!(les, [0.001, 0.01, f64::INFINITY]);
        assert_eq!((m.requests, m.errors, m.rejected), (112.0, 3.0, 4.0));
        assert_eq!((m.queue_wait.sum, m.queue_wait.count), (0.5, 100.0));
        assert_eq!((m.request_seconds.sum, m.request_seconds.count), (1.5, 0.0));
        assert_eq!((m.inflight, m.version.as_deref()), (4.0, Some("v2")));
        // a pod with only its info: no traffic in the window
        let m2 = &out[&("ml".to_string(), "web-2".to_string())];
        assert!(m2.latency.is_empty() && m2.requests == 0.0);
    }

    #[test]
    fn no_figures_say_what_was_missing() {
        assert_eq!(assemble(&labels(), &[], &[], &[]), Err(Missing::NoSeries));
        let unlabelled = [s(&[("instance", "10.0.0.1:8080"), (PART, "info")], 1.0)];
        assert_eq!(
            assemble(&labels(), &[], &[], &unlabelled),
            Err(Missing::NoLabels {
                namespace: "namespace".into(),
                pod: "pod".into()
            })
        );
    }

    #[test]
    fn a_matrix_is_cut_by_time() {
        let series = vec![
            Series {
                labels: [("pod".to_string(), "a".to_string())].into(),
                points: vec![(100.0, 1.0), (105.0, 2.0)],
            },
            Series {
                labels: [("pod".to_string(), "b".to_string())].into(),
                points: vec![(105.0, 3.0)],
            },
        ];
        let t = by_time(&series);
        assert_eq!(t.keys().copied().collect::<Vec<_>>(), [100_000, 105_000]);
        assert_eq!(t[&105_000].len(), 2);
    }
}
