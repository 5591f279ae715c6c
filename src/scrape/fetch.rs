//! One fetch of a `/metrics` text: over HTTP from a URL, or through the API server's pod
//! proxy; and why it gave no text.
use std::time::Duration;

use kube::Client;

/// Why a metrics endpoint gave no text.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no HTTP client")]
    NoClient,
    /// Scraping by pod IP, and the pod has none yet.
    #[error("the pod has no IP yet")]
    NoPodIp,
    /// The request failed before an answer (connection, TLS, body): the client's cause.
    #[error("{url}: {source}")]
    Http {
        url: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: http::StatusCode,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("forbidden: get pods/proxy ({0})")]
    Forbidden(String),
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Request(#[from] http::Error),
}

pub async fn fetch_url(http: &reqwest::Client, url: &str) -> Result<String, FetchError> {
    // reqwest's own words stop at "error sending request": the causes say what failed
    let failed = |source: reqwest::Error| FetchError::Http {
        url: url.to_string(),
        source: crate::tls::explain(&source).into(),
    };
    let resp = http.get(url).send().await.map_err(failed)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status,
        });
    }
    resp.text().await.map_err(failed)
}

pub async fn fetch(client: &Client, path: &str, timeout: Duration) -> Result<String, FetchError> {
    let req = http::Request::get(path).body(Vec::new())?;
    match tokio::time::timeout(timeout, client.request_text(req)).await {
        Err(_) => Err(FetchError::Timeout(timeout)),
        Ok(Err(kube::Error::Api(st))) if st.code == 403 => Err(FetchError::Forbidden(st.message)),
        Ok(r) => Ok(r?),
    }
}
