//! Why a request got no answer. The engine's connections return a [`RequestError`] (with
//! its cause, after oha's `ClientError`); the stats count its [`Failure`] kind, whose name
//! is what the report and the JSON show (`connect`, `timeout`, ...).
use std::fmt;

/// A request that ended without an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The TCP connection could not be opened.
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The TLS handshake failed (an untrusted certificate, no common protocol, ...).
    #[error("tls: {0}")]
    Tls(#[source] std::io::Error),
    /// The HTTP/1.1 or HTTP/2 handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[source] hyper::Error),
    /// The connection closed before it could take the request.
    #[error("connection closed: {0}")]
    Closed(#[source] hyper::Error),
    /// Sending the request or reading the answer failed.
    #[error("io: {0}")]
    Io(#[source] hyper::Error),
    /// An exchange of the plain HTTP/1.1 client (`engine::h1`).
    #[error("{0}")]
    Wire(#[source] crate::load::engine::WireError),
    /// No whole answer within the timeout.
    #[error("no answer within the timeout")]
    Timeout,
}

impl RequestError {
    /// The kind counted in the stats.
    pub fn failure(&self) -> Failure {
        match self {
            RequestError::Connect(_) => Failure::Connect,
            RequestError::Tls(_) => Failure::Tls,
            RequestError::Handshake(_) => Failure::Handshake,
            RequestError::Closed(_) => Failure::Closed,
            RequestError::Io(_) => Failure::Io,
            RequestError::Wire(crate::load::engine::WireError::ClosedBeforeAnswer) => {
                Failure::Closed
            }
            RequestError::Wire(_) => Failure::Io,
            RequestError::Timeout => Failure::Timeout,
        }
    }
}

/// The kind of a request without an answer, as counted. Ordered by name, the order the
/// report lists them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    Closed,
    Connect,
    Handshake,
    Io,
    Timeout,
    Tls,
}

impl Failure {
    pub const ALL: [Failure; 6] = [
        Failure::Closed,
        Failure::Connect,
        Failure::Handshake,
        Failure::Io,
        Failure::Timeout,
        Failure::Tls,
    ];

    /// The name in the report's "no answer" row and the JSON's `failures` object.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Closed => "closed",
            Failure::Connect => "connect",
            Failure::Handshake => "handshake",
            Failure::Io => "io",
            Failure::Timeout => "timeout",
            Failure::Tls => "tls",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_listed_in_the_order_of_their_names() {
        let names: Vec<&str> = Failure::ALL.iter().map(|f| f.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let mut by_ord = Failure::ALL.to_vec();
        by_ord.sort();
        assert_eq!(by_ord, Failure::ALL);
    }

    #[test]
    fn errors_name_their_kind() {
        let e = RequestError::Connect(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(e.failure(), Failure::Connect);
        assert!(e.to_string().starts_with("connect: "), "{e}");
        assert_eq!(RequestError::Timeout.failure().to_string(), "timeout");
    }
}
