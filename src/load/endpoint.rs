//! A target URL, checked and split into what a request needs.

/// One target URL, resolved into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
}

/// Why a `--url` cannot be a target; the words name the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("--url {url:?} is not a URL: {reason}")]
    NotAUrl { url: String, reason: String },
    #[error("--url {0:?}: https is not supported by the load generator (plain HTTP only)")]
    Https(String),
    #[error("--url {0:?}: write http://HOST:PORT/PATH")]
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
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(EndpointError::Https(url.to_string())),
            _ => return Err(EndpointError::NotHttp(url.to_string())),
        }
        let auth = uri
            .authority()
            .ok_or_else(|| EndpointError::NoHost(url.to_string()))?;
        Ok(Endpoint {
            url: url.to_string(),
            host: auth.host().trim_matches(['[', ']']).to_string(),
            port: auth.port_u16().unwrap_or(80),
            authority: auth.to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
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
        assert_eq!((e.host.as_str(), e.port), ("::1", 80));
        for (bad, frag) in [
            ("https://127.0.0.1/", "https is not supported"),
            ("127.0.0.1:8080", "http://HOST:PORT/PATH"),
            ("http://", "not a URL"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(frag), "{bad}: {err}");
        }
    }
}
