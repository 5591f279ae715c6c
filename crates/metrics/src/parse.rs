//! Prometheus text from tractor-serve into the few numbers the console shows.
//! Malformed text is an error naming what was wrong; it never panics.
use prometheus_parse::{Scrape, Value};

use crate::histogram::Bucket;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodMetrics {
    /// `tractor_model_info{version}`: the model version the server really loaded.
    pub version: Option<String>,
    /// Cumulative buckets of `tractor_http_request_duration_seconds` over the inference
    /// routes (`…/infer`, `/predict`) and of `tractor_grpc_request_duration_seconds` for
    /// `ModelInfer`, summed: a revision's latency whichever protocol its clients use.
    pub latency: Vec<Bucket>,
    /// Inference requests answered, and of them 5xx other than 503, and 503s (backpressure).
    pub requests: f64,
    pub errors: f64,
    pub rejected: f64,
    pub inflight: f64,
    pub queue_depth: f64,
    /// `_sum` and `_count` of the queue-wait, batch-execution and batch-size histograms.
    pub queue_wait: SumCount,
    pub inference: SumCount,
    pub batch_size: SumCount,
    /// `_sum` and `_count` of the request-duration histogram over the inference routes: by
    /// Little's law Δsum/Δt is the mean number of requests in flight over a window.
    pub request_seconds: SumCount,
}

/// A histogram's `_sum` and `_count`: the mean over a window is Δsum / Δcount.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SumCount {
    pub sum: f64,
    pub count: f64,
}

fn is_inference(route: &str) -> bool {
    route.ends_with("/infer") || route == "/predict"
}

/// The request families by protocol: REST's (by route, status) and gRPC's (by method, code),
/// as the one family the console reads: whether a sample is an inference's, and its outcome.
fn request_family(metric: &str, labels: &prometheus_parse::Labels) -> Option<(&'static str, bool)> {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| metric.strip_suffix(s))
        .unwrap_or(metric);
    match base {
        "tractor_http_request_duration_seconds" | "tractor_http_requests_total" => Some((
            if base.ends_with("_total") {
                "requests"
            } else {
                "seconds"
            },
            is_inference(labels.get("route").unwrap_or("")),
        )),
        "tractor_grpc_request_duration_seconds" | "tractor_grpc_requests_total" => Some((
            if base.ends_with("_total") {
                "requests"
            } else {
                "seconds"
            },
            labels.get("method") == Some("ModelInfer"),
        )),
        _ => None,
    }
}

fn outcome(labels: &prometheus_parse::Labels) -> (bool, bool) {
    outcome_of(labels.get("status"), labels.get("code"))
}

/// A REST `status` or a gRPC `code` label as (rejected: backpressure, error: the server
/// failed): 503 / `Unavailable` is backpressure; other 5xx and the codes that mean the same
/// (`Internal`, `Unknown`, `DeadlineExceeded`, ...) are errors; the rest (2xx, 4xx, `OK`,
/// `InvalidArgument`, `NotFound`, ...) neither.
pub fn outcome_of(status: Option<&str>, code: Option<&str>) -> (bool, bool) {
    if let Some(status) = status {
        return (status == "503", status.starts_with('5') && status != "503");
    }
    match code.unwrap_or("") {
        "Unavailable" => (true, false),
        "Unknown" | "DeadlineExceeded" | "Unimplemented" | "Internal" | "DataLoss" => (false, true),
        _ => (false, false),
    }
}

/// prometheus-parse 0.2 cuts a label set at the first `}`, even inside a quoted value
/// such as tractor-serve's `route="/v2/models/{name}/infer"`. Braces inside quotes are
/// swapped for look-alikes before parsing (and only `route` is read, by suffix).
fn protect_quoted_braces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let (mut quoted, mut escaped) = (false, false);
    for c in line.chars() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                out.push(c);
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '{' if quoted => {
                out.push('⦃');
                escaped = false;
                continue;
            }
            '}' if quoted => {
                out.push('⦄');
                escaped = false;
                continue;
            }
            _ => {}
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// Why a `/metrics` text gave no numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The text is not the Prometheus exposition format (the parser's words).
    NotPrometheus(String),
    /// Well-formed, but without a single sample.
    NoSamples,
    /// Samples, but neither `tractor_model_info` nor the request histogram.
    NotTractorServe,
    /// A latency bucket with a NaN bound or a negative or non-finite count.
    BadBucket { le: f64, count: f64 },
    /// A `_sum` or `_count` that is negative or not finite.
    BadValue { name: String, value: f64 },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::NotPrometheus(e) => write!(f, "not Prometheus text: {e}"),
            ParseError::NoSamples => write!(f, "no samples in the exposition"),
            ParseError::NotTractorServe => write!(
                f,
                "no tractor_model_info and no request histogram: is this tractor-serve?"
            ),
            ParseError::BadBucket { le, count } => write!(f, "bad bucket le={le} count={count}"),
            ParseError::BadValue { name, value } => write!(f, "bad value {value} for {name}"),
        }
    }
}

impl std::error::Error for ParseError {}

pub fn parse(text: &str) -> Result<PodMetrics, ParseError> {
    let lines = text.lines().map(|l| Ok(protect_quoted_braces(l)));
    let scrape = Scrape::parse(lines).map_err(|e| ParseError::NotPrometheus(e.to_string()))?;
    if scrape.samples.is_empty() {
        return Err(ParseError::NoSamples);
    }
    let mut m = PodMetrics::default();
    let mut seen_latency = false;
    for s in &scrape.samples {
        let family = request_family(&s.metric, &s.labels);
        let inference = family.is_some_and(|(_, infer)| infer);
        match (
            family.map(|(f, _)| f).unwrap_or(s.metric.as_str()),
            &s.value,
        ) {
            _ if family.is_some() && !inference => {}
            ("tractor_model_info", _) => m.version = s.labels.get("version").map(str::to_string),
            ("seconds", Value::Histogram(hs)) => {
                seen_latency = true;
                for h in hs {
                    if !h.count.is_finite() || h.count < 0.0 || h.less_than.is_nan() {
                        return Err(ParseError::BadBucket {
                            le: h.less_than,
                            count: h.count,
                        });
                    }
                    match m.latency.iter_mut().find(|b| b.le == h.less_than) {
                        Some(b) => b.count += h.count,
                        None => m.latency.push(Bucket {
                            le: h.less_than,
                            count: h.count,
                        }),
                    }
                }
            }
            ("requests", Value::Counter(v) | Value::Untyped(v)) => {
                let (rejected, error) = outcome(&s.labels);
                m.requests += v;
                if rejected {
                    m.rejected += v;
                } else if error {
                    m.errors += v;
                }
            }
            ("tractor_inflight_requests", Value::Gauge(v) | Value::Untyped(v)) => m.inflight += v,
            ("tractor_queue_depth", Value::Gauge(v) | Value::Untyped(v)) => m.queue_depth += v,
            (_, Value::Untyped(v) | Value::Counter(v)) => {
                let name = s.metric.as_str();
                let (field, sum) = match name.strip_suffix("_sum") {
                    Some(base) => (base, true),
                    None => match name.strip_suffix("_count") {
                        Some(base) => (base, false),
                        None => continue,
                    },
                };
                let sc = match field {
                    "tractor_http_request_duration_seconds"
                    | "tractor_grpc_request_duration_seconds" => &mut m.request_seconds,
                    "tractor_queue_wait_seconds" => &mut m.queue_wait,
                    "tractor_inference_duration_seconds" => &mut m.inference,
                    "tractor_batch_size" => &mut m.batch_size,
                    _ => continue,
                };
                if !v.is_finite() || *v < 0.0 {
                    return Err(ParseError::BadValue {
                        name: name.to_string(),
                        value: *v,
                    });
                }
                if sum {
                    sc.sum += v;
                } else {
                    sc.count += v;
                }
            }
            _ => {}
        }
    }
    if m.version.is_none() && !seen_latency {
        return Err(ParseError::NotTractorServe);
    }
    m.latency.sort_by(|a, b| a.le.total_cmp(&b.le));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP tractor_model_info The model this server serves.
# TYPE tractor_model_info gauge
tractor_model_info{model="demo-classifier",version="v2",sha256="abc"} 1
# TYPE tractor_http_requests_total counter
tractor_http_requests_total{route="/v2/models/{name}/infer",status="200"} 90
tractor_http_requests_total{route="/v2/models/{name}/infer",status="500"} 2
tractor_http_requests_total{route="/v2/models/{name}/infer",status="503"} 3
tractor_http_requests_total{route="/metrics",status="200"} 7
# TYPE tractor_http_request_duration_seconds histogram
tractor_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",le="0.001"} 50
tractor_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",le="0.01"} 90
tractor_http_request_duration_seconds_bucket{route="/v2/models/{name}/infer",le="+Inf"} 95
tractor_http_request_duration_seconds_sum{route="/v2/models/{name}/infer"} 0.5
tractor_http_request_duration_seconds_count{route="/v2/models/{name}/infer"} 95
tractor_http_request_duration_seconds_bucket{route="/predict",le="0.001"} 1
tractor_http_request_duration_seconds_bucket{route="/predict",le="0.01"} 2
tractor_http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 2
tractor_http_request_duration_seconds_bucket{route="/metrics",le="0.001"} 7
tractor_http_request_duration_seconds_bucket{route="/metrics",le="0.01"} 7
tractor_http_request_duration_seconds_bucket{route="/metrics",le="+Inf"} 7
# TYPE tractor_inflight_requests gauge
tractor_inflight_requests 3
# TYPE tractor_queue_depth gauge
tractor_queue_depth 1
# TYPE tractor_queue_wait_seconds histogram
tractor_queue_wait_seconds_bucket{le="0.001"} 4
tractor_queue_wait_seconds_bucket{le="+Inf"} 5
tractor_queue_wait_seconds_sum 0.25
tractor_queue_wait_seconds_count 5
# TYPE tractor_batch_size histogram
tractor_batch_size_bucket{le="1"} 2
tractor_batch_size_bucket{le="+Inf"} 3
tractor_batch_size_sum 6
tractor_batch_size_count 3
"#;

    #[test]
    fn reads_version_latency_and_counts() {
        let m = parse(TEXT).unwrap();
        assert_eq!(m.version.as_deref(), Some("v2"));
        // infer + predict summed per le; /metrics left out
        assert_eq!(
            m.latency,
            vec![
                Bucket {
                    le: 0.001,
                    count: 51.0
                },
                Bucket {
                    le: 0.01,
                    count: 92.0
                },
                Bucket {
                    le: f64::INFINITY,
                    count: 97.0
                }
            ]
        );
        assert_eq!((m.requests, m.errors, m.rejected), (95.0, 2.0, 3.0));
        assert_eq!((m.inflight, m.queue_depth), (3.0, 1.0));
        assert_eq!(
            m.queue_wait,
            SumCount {
                sum: 0.25,
                count: 5.0
            }
        );
        assert_eq!(
            m.batch_size,
            SumCount {
                sum: 6.0,
                count: 3.0
            }
        );
        assert_eq!(m.inference, SumCount::default());
        // infer (0.5 s over 95) and predict (no _sum line here); /metrics left out
        assert_eq!(
            m.request_seconds,
            SumCount {
                sum: 0.5,
                count: 95.0
            }
        );
    }

    const GRPC: &str = r#"# TYPE tractor_grpc_requests_total counter
tractor_grpc_requests_total{method="ModelInfer",code="OK"} 10
tractor_grpc_requests_total{method="ModelInfer",code="Unavailable"} 1
tractor_grpc_requests_total{method="ModelInfer",code="Internal"} 1
tractor_grpc_requests_total{method="ModelInfer",code="InvalidArgument"} 2
tractor_grpc_requests_total{method="ServerReady",code="OK"} 40
# TYPE tractor_grpc_request_duration_seconds histogram
tractor_grpc_request_duration_seconds_bucket{method="ModelInfer",le="0.001"} 5
tractor_grpc_request_duration_seconds_bucket{method="ModelInfer",le="0.01"} 14
tractor_grpc_request_duration_seconds_bucket{method="ModelInfer",le="+Inf"} 14
tractor_grpc_request_duration_seconds_sum{method="ModelInfer"} 0.1
tractor_grpc_request_duration_seconds_count{method="ModelInfer"} 14
tractor_grpc_request_duration_seconds_bucket{method="ServerReady",le="0.001"} 40
tractor_grpc_request_duration_seconds_bucket{method="ServerReady",le="0.01"} 40
tractor_grpc_request_duration_seconds_bucket{method="ServerReady",le="+Inf"} 40
tractor_grpc_request_duration_seconds_sum{method="ServerReady"} 0.01
tractor_grpc_request_duration_seconds_count{method="ServerReady"} 40
"#;

    #[test]
    fn grpc_inference_counts_with_rest_and_health_calls_do_not() {
        let m = parse(&format!("{TEXT}{GRPC}")).unwrap();
        let counts: Vec<f64> = m.latency.iter().map(|b| b.count).collect();
        assert_eq!(counts, [51.0 + 5.0, 92.0 + 14.0, 97.0 + 14.0]);
        // Unavailable is backpressure like 503, Internal an error like 500, InvalidArgument
        // the client's like 400
        assert_eq!((m.requests, m.errors, m.rejected), (95.0 + 14.0, 3.0, 4.0));
        assert_eq!(
            m.request_seconds,
            SumCount {
                sum: 0.6,
                count: 95.0 + 14.0
            }
        );
        // a server answering only gRPC is tractor-serve too
        let only = parse(&format!("tractor_model_info{{version=\"3\"}} 1\n{GRPC}")).unwrap();
        assert_eq!(only.requests, 14.0);
    }

    #[test]
    fn braces_inside_label_values() {
        assert_eq!(
            protect_quoted_braces(r#"m{route="/a/{x}/b"} 1"#),
            r#"m{route="/a/⦃x⦄/b"} 1"#
        );
        assert_eq!(
            protect_quoted_braces(r#"m{v="q\"{"} 1"#),
            r#"m{v="q\"⦃"} 1"#
        );
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in [
            "",
            "\u{0}\u{1}garbage{{{",
            "<html>502 Bad Gateway</html>",
            "node_cpu_seconds_total 5\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
