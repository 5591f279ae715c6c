//! The server's Prometheus metrics and their text exposition (format 0.0.4).
//!
//! Histograms are lock-free (atomic bucket counters); per-route families sit behind one short
//! mutex holding a small map.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Seconds: sub-millisecond to tens of seconds, roughly 1-2.5-5 per decade.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn observe(&self, v: f64) {
        if let Some(ix) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[ix].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = f64::from_bits(self.sum_bits.load(Ordering::Relaxed));
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// Requests counted by what they asked for (a route, a gRPC method) and how they ended (an
/// HTTP status, a gRPC code), with a duration histogram per route or method.
#[derive(Default)]
struct RequestFamilies {
    requests: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Arc<Histogram>>,
}

/// How one protocol's families are named in the exposition.
struct Naming {
    prefix: &'static str,
    what: &'static str,
    outcome: &'static str,
    counted: &'static str,
    timed: &'static str,
}

impl RequestFamilies {
    fn count(&mut self, what: &str, outcome: String) -> Arc<Histogram> {
        *self.requests.entry((what.to_owned(), outcome)).or_default() += 1;
        self.durations
            .entry(what.to_owned())
            .or_insert_with(|| Arc::new(Histogram::new(LATENCY_BUCKETS)))
            .clone()
    }

    fn render(&self, out: &mut String, n: &Naming) {
        let total = format!("{}_requests_total", n.prefix);
        help(out, &total, "counter", n.counted);
        for ((what, outcome), count) in &self.requests {
            let _ = writeln!(
                out,
                "{total}{{{}=\"{}\",{}=\"{}\"}} {count}",
                n.what,
                escape(what),
                n.outcome,
                escape(outcome)
            );
        }
        let duration = format!("{}_request_duration_seconds", n.prefix);
        help(out, &duration, "histogram", n.timed);
        for (what, h) in &self.durations {
            h.render(out, &duration, &format!("{}=\"{}\"", n.what, escape(what)));
        }
    }
}

const HTTP_NAMING: Naming = Naming {
    prefix: "tractor_http",
    what: "route",
    outcome: "status",
    counted: "HTTP requests by route and status code.",
    timed: "Time from request arrival to response, by route.",
};

const GRPC_NAMING: Naming = Naming {
    prefix: "tractor_grpc",
    what: "method",
    outcome: "code",
    counted: "gRPC calls by method and status code.",
    timed: "Time from call arrival to response, by method.",
};

pub struct Metrics {
    model: String,
    version: String,
    sha256: String,
    http: Mutex<RequestFamilies>,
    grpc: Mutex<RequestFamilies>,
    pub queue_wait: Histogram,
    pub inference: Histogram,
    pub batch_size: Histogram,
    pub inflight: AtomicI64,
    pub rejected: AtomicU64,
    /// Open client connections.
    pub connections: AtomicI64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections closed because no whole request header arrived in time (idle ones too).
    pub header_timeouts: AtomicU64,
    /// Connections closed because no request was in flight for `idle_timeout`.
    pub idle_closed: AtomicU64,
}

impl Metrics {
    pub fn new(model: &str, version: &str, sha256: &str) -> Self {
        Metrics {
            model: escape(model),
            version: escape(version),
            sha256: escape(sha256),
            http: Mutex::default(),
            grpc: Mutex::default(),
            queue_wait: Histogram::new(LATENCY_BUCKETS),
            inference: Histogram::new(LATENCY_BUCKETS),
            batch_size: Histogram::new(BATCH_BUCKETS),
            inflight: AtomicI64::new(0),
            rejected: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            header_timeouts: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
        }
    }

    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        let hist = {
            let mut f = self.http.lock().unwrap_or_else(|p| p.into_inner());
            f.count(route, status.to_string())
        };
        hist.observe(seconds);
    }

    /// A gRPC call: its method's short name (`ModelInfer`) and its status code's name (`OK`).
    pub fn observe_grpc(&self, method: &str, code: &str, seconds: f64) {
        let hist = {
            let mut f = self.grpc.lock().unwrap_or_else(|p| p.into_inner());
            f.count(method, code.to_owned())
        };
        hist.observe(seconds);
    }

    /// Exposition text. `queue_depth` and `ready` are read by the caller at scrape time.
    pub fn render(
        &self,
        queue_depth: usize,
        ready: bool,
        plan_cache: Option<crate::model::PlanCacheStats>,
    ) -> String {
        let mut out = String::with_capacity(8192);
        help(
            &mut out,
            "tractor_model_info",
            "gauge",
            "The model this process serves (always 1).",
        );
        let _ = writeln!(
            out,
            "tractor_model_info{{model=\"{}\",version=\"{}\",sha256=\"{}\"}} 1",
            self.model, self.version, self.sha256
        );
        scalar(
            &mut out,
            "tractor_ready",
            "gauge",
            "1 when the model is warm and the server is not draining.",
            u8::from(ready),
        );
        self.http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .render(&mut out, &HTTP_NAMING);
        self.grpc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .render(&mut out, &GRPC_NAMING);
        help(
            &mut out,
            "tractor_queue_wait_seconds",
            "histogram",
            "Time a request waited in the queue before its batch ran.",
        );
        self.queue_wait
            .render(&mut out, "tractor_queue_wait_seconds", "");
        help(
            &mut out,
            "tractor_inference_duration_seconds",
            "histogram",
            "Model execution time per batch.",
        );
        self.inference
            .render(&mut out, "tractor_inference_duration_seconds", "");
        help(
            &mut out,
            "tractor_batch_size",
            "histogram",
            "Rows per executed batch.",
        );
        self.batch_size.render(&mut out, "tractor_batch_size", "");
        for (name, kind, text, value) in [
            (
                "tractor_inflight_requests",
                "gauge",
                "Inference requests received and not yet answered.",
                self.inflight.load(Ordering::Relaxed),
            ),
            (
                "tractor_queue_depth",
                "gauge",
                "Requests waiting in the queue.",
                queue_depth as i64,
            ),
            (
                "tractor_rejected_requests_total",
                "counter",
                "Requests refused with 503 because the queue was full.",
                self.rejected.load(Ordering::Relaxed) as i64,
            ),
            (
                "tractor_open_connections",
                "gauge",
                "Client connections open now.",
                self.connections.load(Ordering::Relaxed),
            ),
        ] {
            scalar(&mut out, name, kind, text, value);
        }
        help(
            &mut out,
            "tractor_connections_closed_total",
            "counter",
            "Connections the server closed: refused beyond max_connections, no whole request header within header_read_timeout, or no request in flight for idle_timeout.",
        );
        let _ = writeln!(
            out,
            "tractor_connections_closed_total{{reason=\"max_connections\"}} {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "tractor_connections_closed_total{{reason=\"header_timeout\"}} {}",
            self.header_timeouts.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "tractor_connections_closed_total{{reason=\"idle_timeout\"}} {}",
            self.idle_closed.load(Ordering::Relaxed)
        );
        // only for a model served with a plan per input shape
        if let Some(p) = plan_cache {
            for (name, kind, text, value) in [
                (
                    "tractor_plan_cache_hits_total",
                    "counter",
                    "Requests whose input shapes had a plan built already.",
                    p.hits as f64,
                ),
                (
                    "tractor_plan_cache_compiles_total",
                    "counter",
                    "Plans built for a new input shape (a request waited for each, or --warm-shapes).",
                    p.compiles as f64,
                ),
                (
                    "tractor_plan_compile_seconds_total",
                    "counter",
                    "Time spent building those plans.",
                    p.compile_seconds,
                ),
                (
                    "tractor_plan_cache_plans",
                    "gauge",
                    "Plans held now.",
                    p.plans as f64,
                ),
                (
                    "tractor_plan_cache_capacity",
                    "gauge",
                    "Plans held at most (--plan-cache-size).",
                    p.capacity as f64,
                ),
            ] {
                scalar(&mut out, name, kind, text, value);
            }
        }
        out
    }
}

/// A family's `# HELP` and `# TYPE` lines.
fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// A family of one unlabelled sample: its help lines and its value.
fn scalar(out: &mut String, name: &str, kind: &str, text: &str, value: impl std::fmt::Display) {
    help(out, name, kind, text);
    let _ = writeln!(out, "{name} {value}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_le_inclusive() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 2.0] {
            h.observe(v);
        }
        let mut s = String::new();
        h.render(&mut s, "x", "");
        assert!(s.contains("x_bucket{le=\"0.1\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"1\"} 3\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"+Inf\"} 4\n"), "{s}");
        assert!(s.contains("x_sum 2.65\n"), "{s}");
        assert!(s.contains("x_count 4\n"), "{s}");
    }

    #[test]
    fn render_has_every_family_and_escapes_labels() {
        let m = Metrics::new("m\"x", "2", "abc");
        m.observe_request("/predict", 200, 0.003);
        m.observe_request("/predict", 400, 0.001);
        let s = m.render(3, true, None);
        assert!(
            !s.contains("tractor_plan_cache"),
            "only for models served per shape"
        );
        assert!(
            s.contains("tractor_model_info{model=\"m\\\"x\",version=\"2\",sha256=\"abc\"} 1"),
            "{s}"
        );
        assert!(s.contains("tractor_http_requests_total{route=\"/predict\",status=\"400\"} 1"));
        assert!(s.contains("tractor_http_request_duration_seconds_count{route=\"/predict\"} 2"));
        assert!(s.contains("tractor_queue_depth 3"));
        m.observe_grpc("ModelInfer", "OK", 0.002);
        m.observe_grpc("ModelInfer", "InvalidArgument", 0.001);
        let s = m.render(0, true, None);
        assert!(
            s.contains("tractor_grpc_requests_total{method=\"ModelInfer\",code=\"OK\"} 1"),
            "{s}"
        );
        assert!(s.contains("tractor_grpc_request_duration_seconds_count{method=\"ModelInfer\"} 2"));
        assert!(s.contains("# TYPE tractor_grpc_request_duration_seconds histogram"));
        for fam in [
            "tractor_queue_wait_seconds_bucket",
            "tractor_inference_duration_seconds_sum",
            "tractor_batch_size_count",
            "tractor_inflight_requests 0",
        ] {
            assert!(s.contains(fam), "{fam} missing");
        }
    }
}
