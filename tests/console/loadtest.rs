//! `tractor loadtest` as a user runs it, against real tractor-serve processes on 127.0.0.1:
//! the rate it holds, the request budget, round-robin over targets, HTTP/2, the JSON, SLO
//! exit codes, failures counted (not crashed on), and bad flags named.
use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod grpc;
mod screen;
mod tls;

struct Server {
    child: Child,
    port: u16,
    /// 0: gRPC off.
    grpc_port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve() -> Server {
    serve_version("v1")
}

/// tractor-serve with the demo model `version` (v1 or v2) on a free loopback port.
fn serve_version(version: &str) -> Server {
    serve_with(version, 0)
}

fn serve_with(version: &str, grpc_port: u16) -> Server {
    let port = free_port();
    let model = format!(
        "{}/assets/models/demo-classifier-{version}.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let child = support::pod_runner::serve_command(
        &support::pod_runner::serve_bin(),
        std::path::Path::new(&model),
        "demo-classifier",
        version,
        "127.0.0.1",
        port,
        grpc_port,
    )
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "tractor-serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        port,
        grpc_port,
    }
}

fn body_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("infer.json");
    std::fs::write(&p, support::traffic::infer_body()).unwrap();
    p
}

/// Runs `tractor loadtest ARGS --no-tui --json FILE`: (exit code, JSON or Null, stderr).
fn loadtest(args: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .arg("loadtest")
        .args(args)
        .args(["--no-tui", "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn infer_url(s: &Server) -> String {
    format!(
        "http://127.0.0.1:{}/v2/models/demo-classifier/infer",
        s.port
    )
}

fn served_requests(s: &Server) -> f64 {
    let body = reqwest_free_get(s.port, "/metrics");
    body.lines()
        .filter(|l| l.starts_with("tractor_http_requests_total{route=\"/v2/models/"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn reqwest_free_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn open_loop_holds_the_rate_and_reports_json_over_two_targets() {
    let (a, b) = (serve(), serve());
    let dir = tempfile::tempdir().unwrap();
    let body = body_file(dir.path());
    let (ua, ub) = (infer_url(&a), infer_url(&b));
    let (code, v, err) = loadtest(&[
        "--url",
        &ua,
        "--url",
        &ub,
        "--rate",
        "200",
        "--duration",
        "3s",
        "--body",
        body.to_str().unwrap(),
        "--slo-p99",
        "2s",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["requests"], 600, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    let rate = v["achieved_rate"].as_f64().unwrap();
    assert!(
        (rate / 200.0 - 1.0).abs() < 0.02,
        "achieved {rate}/s for 200/s"
    );
    for q in ["p50", "p90", "p99", "p999"] {
        assert!(v["latency_ms"][q].as_f64().unwrap() > 0.0, "{q}: {v}");
    }
    assert_eq!(v["statuses"]["200"], 600);
    // round-robin: each server answered half
    assert_eq!((served_requests(&a), served_requests(&b)), (300.0, 300.0));
    // the progress line and the table went to stderr
    assert!(
        err.contains("] 1.0/3.0 s") || err.contains("sent "),
        "{err}"
    );
    assert!(err.contains("p99.9") && err.contains("SLO met"), "{err}");
}

#[test]
fn closed_loop_stops_at_the_request_budget_and_speaks_http2() {
    let s = serve();
    let url = format!("http://127.0.0.1:{}/v2/health/live", s.port);
    for extra in [&[][..], &["--http2"][..]] {
        let mut args = vec![
            "--url",
            &url,
            "--concurrency",
            "8",
            "--requests",
            "2000",
            "--duration",
            "60s",
        ];
        args.extend_from_slice(extra);
        let (code, v, err) = loadtest(&args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        assert_eq!(
            (v["requests"].as_u64(), v["errors"].as_u64()),
            (Some(2000), Some(0)),
            "{extra:?}: {v}"
        );
        assert!(
            v["duration_s"].as_f64().unwrap() < 30.0,
            "stopped at the budget: {v}"
        );
        assert_eq!(
            v["http"],
            if extra.is_empty() {
                "HTTP/1.1"
            } else {
                "HTTP/2"
            }
        );
    }
}

#[test]
fn missed_slos_exit_one_and_failures_are_counted_not_fatal() {
    let s = serve();
    let url = format!("http://127.0.0.1:{}/v2/health/live", s.port);
    let (code, v, err) = loadtest(&[
        "--url",
        &url,
        "--rate",
        "100",
        "--duration",
        "1s",
        "--slo-p99",
        "0ms",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SLO missed: p99"), "{err}");
    assert!(
        v["slo"]["missed"][0].as_str().unwrap().starts_with("p99"),
        "{v}"
    );

    // nobody listens there: every request fails to connect, nothing crashes
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let (code, v, err) = loadtest(&[
        "--url",
        &dead,
        "--rate",
        "50",
        "--duration",
        "1s",
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 0, "no SLO given: {err}");
    assert_eq!(v["requests"], 50, "{v}");
    assert_eq!(v["errors"], 50, "{v}");
    assert_eq!(v["failures"]["connect"], 50, "{v}");
    assert!(
        v["latency_ms"]["p99"].is_null(),
        "no answers, no latency: {v}"
    );
    let (code, _, err) = loadtest(&[
        "--url",
        &dead,
        "--rate",
        "50",
        "--duration",
        "1s",
        "--slo-error-rate",
        "1%",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error rate 100.000% > 1.000%"), "{err}");
}

#[test]
fn bad_flags_are_named_with_exit_two() {
    let table: &[(&[&str], &str)] = &[
        (
            &["--url", "ftp://127.0.0.1:1/", "--rate", "5"],
            "or https://HOST:PORT/PATH",
        ),
        (
            &["--url", "127.0.0.1:1", "--rate", "5"],
            "http://HOST:PORT/PATH",
        ),
        (
            &[
                "--url",
                "http://127.0.0.1:1/",
                "--rate",
                "5",
                "--body",
                "/nonexistent/body.json",
            ],
            "--body /nonexistent/body.json",
        ),
        (
            &["--url", "http://127.0.0.1:1/", "--profile", "ramp:5"],
            "ramp:FROM..TO",
        ),
        (&["--url", "http://127.0.0.1:1/"], "needs --rate"),
        (
            &["--url", "http://127.0.0.1:1/", "--rate", "0"],
            "--rate 0 must be more than 0",
        ),
        (
            &["--url", "http://127.0.0.1:1/", "--concurrency", "0"],
            "at least 1",
        ),
        (
            &[
                "--url",
                "http://127.0.0.1:1/",
                "--rate",
                "5",
                "--slo-error-rate",
                "150%",
            ],
            "between 0 and 100%",
        ),
    ];
    for (args, frag) in table {
        let (code, v, err) = loadtest(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(frag), "{args:?}: {err}");
        assert!(v.is_null(), "no JSON on a usage error");
    }
}
