//! `tractor loadtest` over https: a TLS front with the test's own CA, trusted with `--cacert`,
//! refused by name without it, `--insecure` only when asked; and `--scrape` through it.

use std::time::Duration;

use super::{loadtest, serve, serve_version};
use crate::support;

/// https through a TLS front (the CA made for the test): trusted with `--cacert`, over
/// HTTP/1.1 and HTTP/2 (ALPN); refused by name without it, before anything is measured;
/// taken with `--insecure` only when asked.
#[test]
fn https_targets_with_a_custom_ca_or_insecure() {
    let s = serve();
    let front = support::tls::front(s.port);
    let url = format!("https://127.0.0.1:{}/v2/health/live", front.port);
    let ca = front.ca.to_str().unwrap();
    let budget = [
        "--concurrency",
        "4",
        "--requests",
        "300",
        "--duration",
        "60s",
    ];
    for extra in [
        &["--cacert", ca][..],
        &["--cacert", ca, "--http2"][..],
        &["--insecure"][..],
    ] {
        let mut args = vec!["--url", url.as_str()];
        args.extend_from_slice(&budget);
        args.extend_from_slice(extra);
        let (code, v, err) = loadtest(&args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        assert_eq!(
            (
                v["requests"].as_u64(),
                v["errors"].as_u64(),
                v["statuses"]["200"].as_u64()
            ),
            (Some(300), Some(0), Some(300)),
            "{extra:?}: {v}"
        );
        let http = if extra.contains(&"--http2") {
            "HTTP/2"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(v["http"], http, "{extra:?}");
    }
    // without the CA: one clear error naming both ways out, exit 2, nothing measured
    let mut args = vec!["--url", url.as_str()];
    args.extend_from_slice(&budget);
    let (code, v, err) = loadtest(&args);
    assert_eq!(code, 2, "{err}");
    assert!(v.is_null(), "no JSON for a run that did not start: {v}");
    for want in [
        "TLS handshake failed",
        "not trusted",
        "--cacert FILE",
        "--insecure",
        &url,
    ] {
        assert!(err.contains(want), "{want:?} missing: {err}");
    }
    // a CA file that is not one is named before anything is sent
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let mut args = vec!["--url", url.as_str(), "--cacert", bad.to_str().unwrap()];
    args.extend_from_slice(&budget);
    let (code, _, err) = loadtest(&args);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--cacert") && err.contains("no PEM certificate"),
        "{err}"
    );
}

/// `--scrape https://…`: the console's scraper reads the server's metrics through the TLS
/// front with the test's CA; without it, the scrape error says why and what to pass.
#[test]
fn scrape_urls_speak_https() {
    let s = serve_version("v2");
    let front = support::tls::front(s.port);
    let url = format!("https://localhost:{}/metrics", front.port);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = |tls: tractor::tls::TlsArgs| {
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tractor::scrape::urls::spawn(
                vec![url.clone()],
                &tls,
                Duration::from_millis(200),
                Duration::from_secs(5),
                &tx,
            )
            .unwrap();
            let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .unwrap()
                .unwrap();
            task.abort();
            match ev {
                tractor::event::AppEvent::Scrape(r) => r.result,
                other => panic!("not a scrape: {other:?}"),
            }
        })
    };
    let trusted = tractor::tls::TlsArgs {
        cacert: Some(front.ca.clone()),
        insecure: false,
    };
    let m = first(trusted).unwrap();
    assert_eq!(m.version.as_deref(), Some("v2"));
    let e = first(tractor::tls::TlsArgs::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&url) && e.contains("not trusted") && e.contains("--cacert FILE"),
        "{e}"
    );
}
