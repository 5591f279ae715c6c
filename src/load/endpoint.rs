//! A target URL, checked and split into what a request needs.

/// One target URL, resolved into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
    /// `https://`: TLS on the connection, the host its server name.
    pub tls: bool,
}

/// Why a `--url` cannot be a target; the words name the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("--url {url:?} is not a URL: {reason}")]
    NotAUrl { url: String, reason: String },
    #[error("--url {0:?}: write http://HOST:PORT/PATH or https://HOST:PORT/PATH")]
    NotHttp(String),
    #[error("--url {0:?} has no host")]
    NoHost(String),
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let uri: http::Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| EndpointError::NotAUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(EndpointError::NotHttp(url.to_string())),
        };
        let auth = uri
            .authority()
            .ok_or_else(|| EndpointError::NoHost(url.to_string()))?;
        Ok(Endpoint {
            url: url.to_string(),
            host: auth.host().trim_matches(['[', ']']).to_string(),
            port: auth.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: auth.to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_what_is_wrong() {
        let e = Endpoint::parse("http://127.0.0.1:8080/v2/models/m/infer?x=1").unwrap();
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.authority.as_str(),
                e.path.as_str()
            ),
            (
                "127.0.0.1",
                8080,
                "127.0.0.1:8080",
                "/v2/models/m/infer?x=1"
            )
        );
        let e = Endpoint::parse("http://[::1]/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("::1", 80, false));
        let e = Endpoint::parse("https://localhost/metrics").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("localhost", 443, true));
        for (bad, frag) in [
            ("ftp://127.0.0.1/", "http://HOST:PORT/PATH"),
            ("127.0.0.1:8080", "http://HOST:PORT/PATH"),
            ("http://", "not a URL"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(frag), "{bad}: {err}");
        }
    }
}
