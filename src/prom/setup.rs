//! The Prometheus source as the `[metrics]` config (and `--prometheus URL`) describe it:
//! where it is, with which credentials (read from the environment or a file here, once,
//! so a missing one stops the console before it starts, with the key's name).
use std::path::PathBuf;
use std::time::Duration;

use super::client::{Auth, Endpoint, Prom};
use super::queries::Labels;
use super::source::Settings;
use crate::config::{Metrics, PromVia};

/// Why the source cannot be built; each names the config key to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "metrics.source = \"prometheus\" needs metrics.url (or --prometheus URL), or via = \"service-proxy\""
    )]
    NoUrl,
    #[error("metrics.url {0:?}: not an http:// or https:// URL")]
    BadUrl(String),
    #[error("metrics.{key}: the environment variable {name} is not set")]
    NoEnv { key: &'static str, name: String },
    #[error("metrics.{key}: {}: {source}", path.display())]
    ReadFile {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metrics.{key}: {} is empty", path.display())]
    EmptyFile { key: &'static str, path: PathBuf },
    #[error("metrics.basic_user is set but neither basic_password_env nor basic_password_file")]
    NoPassword,
    #[error("metrics: set a bearer token or basic auth, not both")]
    TwoAuths,
    #[error("metrics.{0} is empty")]
    EmptyLabel(&'static str),
    #[error("metrics: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A secret from the environment variable or the file named (at most one of them set).
fn secret(
    env_key: &'static str,
    env: &str,
    file_key: &'static str,
    file: &str,
) -> Result<Option<String>, SetupError> {
    if !env.is_empty() {
        return std::env::var(env).map(Some).map_err(|_| SetupError::NoEnv {
            key: env_key,
            name: env.into(),
        });
    }
    if !file.is_empty() {
        let path = PathBuf::from(file);
        let text = std::fs::read_to_string(&path).map_err(|source| SetupError::ReadFile {
            key: file_key,
            path: path.clone(),
            source,
        })?;
        let t = text.trim().to_string();
        if t.is_empty() {
            return Err(SetupError::EmptyFile {
                key: file_key,
                path,
            });
        }
        return Ok(Some(t));
    }
    Ok(None)
}

fn auth(m: &Metrics) -> Result<Option<Auth>, SetupError> {
    let bearer = secret(
        "bearer_token_env",
        &m.bearer_token_env,
        "bearer_token_file",
        &m.bearer_token_file,
    )?;
    let basic = if m.basic_user.is_empty() {
        None
    } else {
        let password = secret(
            "basic_password_env",
            &m.basic_password_env,
            "basic_password_file",
            &m.basic_password_file,
        )?
        .ok_or(SetupError::NoPassword)?;
        Some(Auth::Basic {
            user: m.basic_user.clone(),
            password,
        })
    };
    match (bearer, basic) {
        (Some(_), Some(_)) => Err(SetupError::TwoAuths),
        (Some(t), None) => Ok(Some(Auth::Bearer(t))),
        (None, b) => Ok(b),
    }
}

/// The client and the source's settings; `tls` is the command line's `--cacert` /
/// `--insecure` (the config's `cacert` wins over `--cacert`).
pub fn build(
    m: &Metrics,
    kube: &kube::Client,
    tls: &crate::tls::TlsArgs,
    interval: Duration,
    timeout: Duration,
) -> Result<(Prom, Settings), SetupError> {
    for (key, v) in [
        ("namespace_label", &m.namespace_label),
        ("pod_label", &m.pod_label),
    ] {
        if v.trim().is_empty() {
            return Err(SetupError::EmptyLabel(key));
        }
    }
    let endpoint = match m.via {
        PromVia::ServiceProxy => Endpoint::ServiceProxy {
            client: kube.clone(),
            namespace: m.namespace.clone(),
            service: m.service.clone(),
            port: m.port.clone(),
        },
        PromVia::Url => {
            let url = m.url.trim().trim_end_matches('/').to_string();
            if url.is_empty() {
                return Err(SetupError::NoUrl);
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SetupError::BadUrl(url));
            }
            let mut tls = tls.clone();
            if !m.cacert.is_empty() {
                tls.cacert = Some(PathBuf::from(&m.cacert));
            }
            Endpoint::Url {
                http: crate::tls::http_client(&tls, timeout)?,
                base: url,
                auth: auth(m)?,
            }
        }
    };
    let settings = Settings {
        labels: Labels {
            namespace: m.namespace_label.trim().into(),
            pod: m.pod_label.trim().into(),
        },
        interval,
        window: (m.window_s > 0).then(|| Duration::from_secs(m.window_s)),
        backfill: Duration::from_secs(m.backfill_min.saturating_mul(60)),
    };
    Ok((Prom { endpoint, timeout }, settings))
}

/// The source if the config (or `--prometheus URL`, which sets source and url) asks for
/// one; its interval and timeout are the `[scrape]` ones.
pub fn from_cli(
    config: &crate::config::Config,
    url: Option<&str>,
    kube: &kube::Client,
    tls: &crate::tls::TlsArgs,
) -> Result<Option<(Prom, Settings)>, SetupError> {
    let mut m = config.metrics.clone();
    if let Some(u) = url {
        m.source = crate::config::MetricsSource::Prometheus;
        m.via = PromVia::Url;
        m.url = u.to_string();
    }
    if m.source != crate::config::MetricsSource::Prometheus {
        return Ok(None);
    }
    let interval = Duration::from_millis(config.scrape.interval_ms.max(100));
    let timeout = Duration::from_millis(config.scrape.timeout_ms.max(100));
    build(&m, kube, tls, interval, timeout).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        crate::config::Config::defaults().metrics
    }

    #[test]
    fn credentials_come_from_the_environment_or_a_file_and_are_named_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret\n").unwrap();
        let mut m = metrics();
        m.bearer_token_file = token.display().to_string();
        assert_eq!(auth(&m).unwrap(), Some(Auth::Bearer("s3cret".into())));

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        m.bearer_token_file = empty.display().to_string();
        assert!(matches!(
            auth(&m),
            Err(SetupError::EmptyFile {
                key: "bearer_token_file",
                ..
            })
        ));

        let mut m = metrics();
        m.bearer_token_env = "TRACTOR_TEST_NO_SUCH_VARIABLE".into();
        assert_eq!(
            auth(&m).unwrap_err().to_string(),
            "metrics.bearer_token_env: the environment variable TRACTOR_TEST_NO_SUCH_VARIABLE is not set"
        );

        let mut m = metrics();
        m.basic_user = "grafana".into();
        assert!(matches!(auth(&m), Err(SetupError::NoPassword)));
        m.basic_password_file = token.display().to_string();
        assert_eq!(
            auth(&m).unwrap(),
            Some(Auth::Basic {
                user: "grafana".into(),
                password: "s3cret".into()
            })
        );
        m.bearer_token_file = token.display().to_string();
        assert!(matches!(auth(&m), Err(SetupError::TwoAuths)));
        // the token never shows in a debug print
        assert_eq!(format!("{:?}", Auth::Bearer("s3cret".into())), "Bearer(…)");
    }
}
