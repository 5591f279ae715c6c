//! `tractor loadtest` as a user runs it, against real tractor-serve processes on 127.0.0.1:
//! the rate it holds, the request budget, round-robin over targets, HTTP/2, the JSON, SLO
//! exit codes, failures counted (not crashed on), and bad flags named.
use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod grpc;

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
    let child = support::pod_runner::spawn_serve(
        &support::pod_runner::serve_bin(),
        std::path::Path::new(&model),
        "demo-classifier",
        version,
        "127.0.0.1",
        port,
        grpc_port,
    )
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

/// `NO_COLOR=1`: the monitor screen of a running load test, as tmux holds it, has no colour
/// at all but keeps its bold; the same screen without it is coloured.
#[test]
fn no_color_is_honoured_on_the_screen() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_tractor");
    let url = format!("http://127.0.0.1:{}/v2/health/live", s.port);
    let metrics = format!("http://127.0.0.1:{}/metrics", s.port);
    // an SGR sequence that sets a foreground or background colour
    let coloured = |screen: &str| {
        screen.split("\x1b[").skip(1).any(|seq| {
            let params = seq.split('m').next().unwrap_or("");
            params.split(';').any(|p| {
                matches!(
                    p.parse::<u16>(),
                    Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
                )
            })
        })
    };
    for no_color in ["1", ""] {
        let t = support::tmux::Tmux::start(if no_color.is_empty() {
            "colour"
        } else {
            "nocolour"
        });
        t.line(&format!(
            "NO_COLOR={no_color} {bin} --log-file {} loadtest --url {url} --rate 20 --duration 60s --scrape {metrics}",
            dir.path().join("log").display(),
        ));
        t.wait_for("● running", Duration::from_secs(30));
        t.wait_for("latency ms", Duration::from_secs(30));
        let screen = t.screen_escaped();
        assert!(screen.contains("\x1b[1m"), "bold stays:\n{screen}");
        if no_color.is_empty() {
            assert!(coloured(&screen), "coloured without NO_COLOR:\n{screen}");
        } else {
            assert!(!coloured(&screen), "a colour under NO_COLOR:\n{screen}");
        }
        t.keys(&["q"]);
        t.wait_for("load test", Duration::from_secs(30));
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

/// The monitor screen as a person sees it: `tractor loadtest` on a terminal, two servers
/// (v1 and v2) scraped by URL; the client's and each version's latency appear, X stops
/// the run early, L starts the next one from the prompt, q leaves with the summary.
#[test]
fn loadtest_on_the_monitor_screen_in_tmux() {
    let (a, b) = (serve_version("v1"), serve_version("v2"));
    let dir = tempfile::tempdir().unwrap();
    let body = body_file(dir.path());
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[scrape]\ninterval_ms = 500\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_tractor");
    let url = |s: &Server, path: &str| format!("http://127.0.0.1:{}{path}", s.port);
    let infer = "/v2/models/demo-classifier/infer";
    let t = support::tmux::Tmux::start("monitor");
    t.line(&format!(
        "{bin} --config {} --log-file {} loadtest --url {} --url {} --body {} --rate 40 --duration 120s --scrape {} --scrape {}; echo EXIT=$?",
        cfg.display(),
        dir.path().join("log").display(),
        url(&a, infer),
        url(&b, infer),
        body.display(),
        url(&a, "/metrics"),
        url(&b, "/metrics"),
    ));
    let wait = Duration::from_secs(30);
    t.wait_for("● running", wait);
    // both versions' server-side latency, with numbers (not "-")
    let start = Instant::now();
    let screen = loop {
        let s = t.screen();
        let has = |v: &str| support::tmux::shows_latency(&s, v);
        if has("v1") && has("v2") && s.contains("client") {
            break s;
        }
        assert!(
            start.elapsed() < wait,
            "no server latency per version:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for want in [
        "monitor the --scrape URLs",
        "Scrape URLs [2]",
        "load start",
        "latency ms",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
    // X stops it long before its 120 s
    t.keys(&["X"]);
    let done = t.wait_for("■ done", wait);
    let sent: u64 = done
        .lines()
        .find(|l| l.starts_with("load"))
        .and_then(|l| l.split("■ done").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count:\n{done}"));
    assert!(sent > 0 && sent < 40 * 60, "stopped early: {sent} requests");
    assert!(done.contains("load end"));
    // L offers the last flags; enter starts a new run; X stops it too
    t.keys(&["L"]);
    let prompt = t.wait_for("load test flags:", wait);
    assert!(prompt.contains("--rate 40"), "{prompt}");
    t.keys(&["Enter"]);
    t.wait_for("● running", wait);
    t.keys(&["X"]);
    t.wait_for("■ done", wait);
    t.keys(&["q"]);
    // (the typed command line holds `EXIT=$?`: wait for the value)
    let out = t.wait_for("EXIT=0", wait);
    assert!(
        out.contains("load test: "),
        "the summary is printed on leaving:\n{out}"
    );
}
