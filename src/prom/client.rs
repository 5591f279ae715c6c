//! Reaching a Prometheus-compatible HTTP API: at a URL (http or https with a custom CA, a
//! bearer token or basic auth read from an environment variable or a file — never from the
//! config file itself), or through the API server's service proxy with the kubeconfig's
//! own credentials (`get` on `services/proxy` in its namespace). GET requests only, so the
//! proxy needs nothing more.
use std::time::Duration;

use jiff::Timestamp;

use super::response::{self, AnswerError, Sample, Series};

/// Credentials sent with every request.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(…)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, …)"),
        }
    }
}

/// Where the API is.
#[derive(Clone)]
pub enum Endpoint {
    Url {
        http: reqwest::Client,
        /// Without a trailing slash: `https://prometheus.example:9090`.
        base: String,
        auth: Option<Auth>,
    },
    ServiceProxy {
        client: kube::Client,
        namespace: String,
        service: String,
        /// A port number or name.
        port: String,
    },
}

/// Why a query gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("{at}: cannot be reached: {cause}")]
    Unreachable { at: String, cause: String },
    #[error(
        "{at}: HTTP {status}: the credentials were refused (metrics.bearer_token_env / _file, or basic auth)"
    )]
    Unauthorized { at: String, status: u16 },
    #[error("{at}: HTTP {status}: {body}")]
    Status {
        at: String,
        status: u16,
        body: String,
    },
    #[error("{at}: no answer within {timeout:?}")]
    Timeout { at: String, timeout: Duration },
    #[error("{at}: {source}")]
    Answer { at: String, source: AnswerError },
}

impl PromError {
    /// The one word a status line starts with.
    pub fn kind(&self) -> &'static str {
        match self {
            PromError::Unreachable { .. } | PromError::Timeout { .. } => "unreachable",
            PromError::Unauthorized { .. } => "unauthorized",
            PromError::Status { .. } | PromError::Answer { .. } => "failing",
        }
    }
}

#[derive(Clone)]
pub struct Prom {
    pub endpoint: Endpoint,
    pub timeout: Duration,
}

/// A time as the API takes it: unix seconds, with milliseconds.
fn unix(t: Timestamp) -> String {
    format!("{:.3}", t.as_millisecond() as f64 / 1000.0)
}

impl std::fmt::Debug for Prom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prom({}, timeout {:?})", self.describe(), self.timeout)
    }
}

impl Prom {
    /// What the status line calls it: the URL, or `svc/NAME:PORT -n NS (service proxy)`.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::Url { base, .. } => base.clone(),
            Endpoint::ServiceProxy {
                namespace,
                service,
                port,
                ..
            } => format!("svc/{service}:{port} -n {namespace} (service proxy)"),
        }
    }

    /// GET `path` (`/api/v1/query`) with these parameters; the body of a 2xx answer. A 4xx
    /// answer with the API's JSON (a refused query) is handed on to be read as such.
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<String, PromError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let at = self.describe();
        let fut = async {
            match &self.endpoint {
                Endpoint::Url { http, base, auth } => {
                    let url = format!("{base}{path}?{query}");
                    let mut req = http.get(&url);
                    match auth {
                        Some(Auth::Bearer(t)) => req = req.bearer_auth(t),
                        Some(Auth::Basic { user, password }) => {
                            req = req.basic_auth(user, Some(password))
                        }
                        None => {}
                    }
                    let resp = req.send().await.map_err(|e| PromError::Unreachable {
                        at: at.clone(),
                        cause: crate::tls::explain(&e),
                    })?;
                    let status = resp.status().as_u16();
                    let body = resp.text().await.map_err(|e| PromError::Unreachable {
                        at: at.clone(),
                        cause: crate::tls::explain(&e),
                    })?;
                    answer(&at, status, body)
                }
                Endpoint::ServiceProxy {
                    client,
                    namespace,
                    service,
                    port,
                } => {
                    let p = format!(
                        "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}?{query}"
                    );
                    let req = http::Request::get(p).body(Vec::new()).map_err(|e| {
                        PromError::Unreachable {
                            at: at.clone(),
                            cause: e.to_string(),
                        }
                    })?;
                    match client.request_text(req).await {
                        Ok(body) => Ok(body),
                        Err(kube::Error::Api(st)) => {
                            answer(&at, st.code, format!("{} ({})", st.message, st.reason))
                        }
                        Err(e) => Err(PromError::Unreachable {
                            at: at.clone(),
                            cause: e.to_string(),
                        }),
                    }
                }
            }
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(PromError::Timeout {
                at: self.describe(),
                timeout: self.timeout,
            }),
        }
    }

    fn read<T>(&self, r: Result<T, AnswerError>) -> Result<T, PromError> {
        r.map_err(|source| PromError::Answer {
            at: self.describe(),
            source,
        })
    }

    /// An instant query at `at` (now when `None`).
    pub async fn query(&self, q: &str, at: Option<Timestamp>) -> Result<Vec<Sample>, PromError> {
        let time = at.map(unix);
        let mut params = vec![("query", q)];
        if let Some(t) = &time {
            params.push(("time", t));
        }
        let body = self.get("/api/v1/query", &params).await?;
        self.read(response::vector(&body))
    }

    /// A range query from `start` to `end` every `step`.
    pub async fn query_range(
        &self,
        q: &str,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<Series>, PromError> {
        let (s, e, st) = (unix(start), unix(end), format!("{:.3}", step.as_secs_f64()));
        let params = [("query", q), ("start", &s), ("end", &e), ("step", &st)];
        let body = self.get("/api/v1/query_range", &params).await?;
        self.read(response::matrix(&body))
    }

    /// The server's global scrape interval, from its configuration
    /// (`/api/v1/status/config`), when it says.
    pub async fn scrape_interval(&self) -> Option<Duration> {
        let body = self.get("/api/v1/status/config", &[]).await.ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        global_scrape_interval(v.pointer("/data/yaml")?.as_str()?)
    }
}

/// A 2xx body; a 401/403 is the credentials; a 4xx/5xx with the API's JSON is handed on
/// (a refused query says why in it); anything else is its status and the start of its body.
fn answer(at: &str, status: u16, body: String) -> Result<String, PromError> {
    match status {
        200..=299 => Ok(body),
        401 | 403 => Err(PromError::Unauthorized {
            at: at.into(),
            status,
        }),
        400 | 422 | 503 if body.trim_start().starts_with('{') => Ok(body),
        _ => Err(PromError::Status {
            at: at.into(),
            status,
            body: body.chars().take(200).collect(),
        }),
    }
}

/// `scrape_interval` under `global:` in Prometheus's YAML configuration (`15s`, `1m`).
pub fn global_scrape_interval(yaml: &str) -> Option<Duration> {
    let mut in_global = false;
    for line in yaml.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_global = line.trim_end() == "global:";
            continue;
        }
        if in_global && let Some(v) = line.trim().strip_prefix("scrape_interval:") {
            return prom_duration(v.trim());
        }
    }
    None
}

/// A Prometheus duration: `15s`, `1m`, `1m30s`, `500ms`, `2h`.
pub fn prom_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            _ => return None,
        };
    }
    (!total.is_zero()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_scrape_interval_is_read_from_the_config() {
        let yaml = "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\nscrape_configs:\n- job_name: pods\n  scrape_interval: 5s\n";
        assert_eq!(global_scrape_interval(yaml), Some(Duration::from_secs(15)));
        assert_eq!(global_scrape_interval("scrape_configs: []\n"), None);
        assert_eq!(prom_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(prom_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(prom_duration("15x"), None);
        assert_eq!(prom_duration("0s"), None);
    }

    #[test]
    fn statuses_are_named() {
        assert!(answer("p", 200, "{}".into()).is_ok());
        assert!(matches!(
            answer("p", 401, String::new()),
            Err(PromError::Unauthorized { status: 401, .. })
        ));
        // a refused query's JSON is read as the API's answer
        assert!(answer("p", 400, r#"{"status":"error"}"#.into()).is_ok());
        let e = answer("p", 502, "<html>bad gateway</html>".into()).unwrap_err();
        assert_eq!(e.to_string(), "p: HTTP 502: <html>bad gateway</html>");
        assert_eq!(e.kind(), "failing");
    }
}
