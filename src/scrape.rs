//! Scraping tractor-serve's `/metrics` through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics`, which needs only RBAC on
//! `pods/proxy`), and what the scrapes say per revision.
pub mod fetch;
pub mod scope;
pub mod source;
pub mod urls;

/// Prometheus text into the numbers shown (the `tractor-metrics` crate).
pub use tractor_metrics::parse;
pub use tractor_metrics::parse::{ParseError, PodMetrics, SumCount, parse};

/// Why one scrape gave no numbers: the endpoint gave no text, or the text was not
/// tractor-serve's metrics. Cheap to clone (it travels in events and stays in the state
/// until the next scrape), shown as its words.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScrapeError {
    #[error(transparent)]
    Fetch(std::sync::Arc<fetch::FetchError>),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// The same failure: the same parse error, or a fetch error with the same words (the
/// state compares scrapes to know whether to redraw).
impl PartialEq for ScrapeError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ScrapeError::Parse(a), ScrapeError::Parse(b)) => a == b,
            (ScrapeError::Fetch(a), ScrapeError::Fetch(b)) => {
                std::sync::Arc::ptr_eq(a, b) || a.to_string() == b.to_string()
            }
            _ => false,
        }
    }
}

impl From<fetch::FetchError> for ScrapeError {
    fn from(e: fetch::FetchError) -> Self {
        ScrapeError::Fetch(std::sync::Arc::new(e))
    }
}

/// Fetches then parses: what one scrape of `text` gives.
pub fn scraped(text: Result<String, fetch::FetchError>) -> Result<PodMetrics, ScrapeError> {
    Ok(parse(&text?)?)
}

/// The proxy path of a pod's metrics endpoint.
pub fn proxy_path(namespace: &str, pod: &str, port: u16) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics")
}
