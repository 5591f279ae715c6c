//! Explicit scrape targets: `/metrics` URLs given on the command line (servers the
//! cluster does not know, or local replicas). Every interval each is fetched with a
//! timeout; one event per URL and scrape, keyed by an empty namespace and the URL.
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::event::{AppEvent, ScrapeResult};

/// A `--scrape` value that is not a metrics URL.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("--scrape {url:?} is not a URL ({reason}): write http://HOST:PORT/metrics")]
    NotAUrl { url: String, reason: String },
    #[error("--scrape {0:?}: write http://HOST:PORT/metrics")]
    NotHttp(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Checks each URL: `http://` or `https://` with a host; and, when one is https, that the
/// TLS flags can be used (the `--cacert` file reads).
pub fn check(urls: &[String], tls: &crate::tls::TlsArgs) -> Result<(), UrlError> {
    for u in urls {
        let uri: http::Uri = u
            .parse()
            .map_err(|e: http::uri::InvalidUri| UrlError::NotAUrl {
                url: u.clone(),
                reason: e.to_string(),
            })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(UrlError::NotHttp(u.clone()));
        }
        if uri.scheme_str() == Some("https") {
            crate::tls::client_config(tls, crate::tls::Alpn::Http1)?;
        }
    }
    Ok(())
}

pub fn spawn(
    urls: Vec<String>,
    tls: &crate::tls::TlsArgs,
    interval: Duration,
    timeout: Duration,
    tx: &UnboundedSender<AppEvent>,
) -> Option<JoinHandle<()>> {
    if urls.is_empty() {
        return None;
    }
    let tx = tx.clone();
    let client = crate::tls::http_client(tls, timeout);
    Some(tokio::spawn(async move {
        let http = match client {
            Ok(h) => h,
            Err(e) => {
                for u in urls {
                    let failed = super::fetch::FetchError::Http {
                        url: u.clone(),
                        source: format!("no HTTP client: {e}").into(),
                    };
                    let _ = tx.send(event(u, Err(failed.into())));
                }
                return;
            }
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            for u in &urls {
                let (http, tx, u) = (http.clone(), tx.clone(), u.clone());
                tokio::spawn(async move {
                    let result = super::scraped(super::fetch::fetch_url(&http, &u).await);
                    let _ = tx.send(event(u, result));
                });
            }
        }
    }))
}

fn event(url: String, result: Result<super::PodMetrics, super::ScrapeError>) -> AppEvent {
    AppEvent::Scrape(ScrapeResult {
        pod: (String::new(), url),
        at: Timestamp::now(),
        result,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_checked_with_a_reason() {
        let tls = crate::tls::TlsArgs::default();
        assert!(super::check(&["http://127.0.0.1:8080/metrics".into()], &tls).is_ok());
        assert!(super::check(&["https://127.0.0.1:8443/metrics".into()], &tls).is_ok());
        let missing = crate::tls::TlsArgs {
            cacert: Some("/nonexistent/ca.pem".into()),
            insecure: false,
        };
        // the CA file matters only when a URL is https
        assert!(super::check(&["http://127.0.0.1:8080/metrics".into()], &missing).is_ok());
        let e = super::check(&["https://127.0.0.1:8443/metrics".into()], &missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--cacert /nonexistent/ca.pem"), "{e}");
        for (bad, why) in [
            ("127.0.0.1:8080/metrics", "write http://"),
            ("ftp://h/metrics", "write http://"),
            ("http://", "not a URL"),
        ] {
            let e = super::check(&[bad.into()], &tls).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
