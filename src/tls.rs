//! https for the URLs a person gives (`loadtest --url`, `--scrape`): one rustls client
//! configuration (ring, as kube's own client uses) for the load engine's connections and for
//! reqwest's. It trusts the system's roots plus `--cacert`; `--insecure` turns the
//! certificate check off, and only when asked.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// How https URLs are checked; the same flags as curl and oha.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct TlsArgs {
    /// https URLs: also trust the CA certificate(s) in this PEM file (beside the system's).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// https URLs: do not check the server's certificate at all (a test server's
    /// self-signed one). Never the default.
    #[arg(long)]
    pub insecure: bool,
}

/// The TLS settings cannot be built; the words name the flag.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--cacert {}: {source}", path.display())]
    ReadCa {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("--cacert {}: no PEM certificate in it (a CA file holds -----BEGIN CERTIFICATE----- blocks)", path.display())]
    NoCa { path: PathBuf },
    #[error("--cacert {}: {source}", path.display())]
    BadCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS setup: {0}")]
    Setup(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// The protocols offered in the handshake (ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    Http1,
    Http2,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration `args` describe, offering `alpn`.
pub fn client_config(args: &TlsArgs, alpn: Alpn) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCheck(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(args.cacert.as_deref())?)
            .with_no_client_auth()
    };
    config.alpn_protocols = match alpn {
        Alpn::Http1 => vec![b"http/1.1".to_vec()],
        Alpn::Http2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(config))
}

/// The system's roots (those it cannot read are skipped), then the `--cacert` file's.
fn roots(cacert: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("system root certificates: {e}");
    }
    store.add_parsable_certificates(native.certs);
    if let Some(path) = cacert {
        let read = |source| TlsError::ReadCa {
            path: path.to_path_buf(),
            source,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(read)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read)?;
        if certs.is_empty() {
            return Err(TlsError::NoCa {
                path: path.to_path_buf(),
            });
        }
        for c in certs {
            store.add(c).map_err(|source| TlsError::BadCa {
                path: path.to_path_buf(),
                source,
            })?;
        }
    }
    Ok(store)
}

/// An HTTP client for `/metrics` URLs (http or https as `args` say) with this timeout.
pub fn http_client(
    args: &TlsArgs,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, TlsError> {
    let config = client_config(args, Alpn::Http1)?;
    reqwest::Client::builder()
        .timeout(timeout)
        .use_preconfigured_tls(Arc::unwrap_or_clone(config))
        .build()
        .map_err(|e| TlsError::Client(e.to_string()))
}

/// What a failed handshake means for the person who typed the URL: an untrusted
/// certificate names the two flags; anything else is the error's own words.
pub fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(rustls::Error::InvalidCertificate(c)) = err.downcast_ref::<rustls::Error>() {
            return format!(
                "the server's certificate is not trusted ({c:?}): pass --cacert FILE with the CA that signed it, or --insecure to skip the check"
            );
        }
        cur = cause(err);
    }
    chain(e)
}

/// The next cause; an `io::Error` wrapping another error gives that one (its own
/// `source()` skips it).
fn cause<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return Some(inner);
    }
    e.source()
}

/// An error and its causes, joined by ": " (reqwest's own words name only the first).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = cause(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = cause(err);
    }
    out
}

/// `--insecure`: any certificate is taken; the handshake's signatures are still checked
/// (so the keys match), only the chain of trust and the name are not.
#[derive(Debug)]
struct NoCheck(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_cacert_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.pem");
        for (path, frag) in [
            (&empty, "no PEM certificate"),
            (&garbage, "--cacert"),
            (&missing, "missing.pem"),
        ] {
            let args = TlsArgs {
                cacert: Some(path.clone()),
                insecure: false,
            };
            let e = client_config(&args, Alpn::Http1).unwrap_err().to_string();
            assert!(e.contains(frag), "{}: {e}", path.display());
            assert!(e.contains("--cacert"), "{e}");
        }
    }

    #[test]
    fn alpn_follows_the_protocol() {
        let c = client_config(&TlsArgs::default(), Alpn::Http2).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
        let c = client_config(&TlsArgs::default(), Alpn::Http1).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn an_untrusted_certificate_names_the_flags() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let text = explain(&io);
        assert!(text.contains("UnknownIssuer"), "{text}");
        assert!(
            text.contains("--cacert FILE") && text.contains("--insecure"),
            "{text}"
        );
        let other = std::io::Error::other("connection reset");
        assert_eq!(explain(&other), "connection reset");
    }
}
