//! Scraping tractor-serve's `/metrics` through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics`, which needs only RBAC on
//! `pods/proxy`), and what the scrapes say per revision.
pub mod source;
pub mod urls;

/// Prometheus text into the numbers shown (the `tractor-metrics` crate).
pub use tractor_metrics::parse;
pub use tractor_metrics::parse::{PodMetrics, SumCount, parse};

/// The proxy path of a pod's metrics endpoint.
pub fn proxy_path(namespace: &str, pod: &str, port: u16) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics")
}
