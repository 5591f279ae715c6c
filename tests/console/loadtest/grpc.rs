//! `tractor loadtest --grpc`: Open Inference Protocol ModelInfer calls at a rate, counted by
//! the server, refused requests counted as their status, flags that cannot make a call named;
//! and the same run on the monitor screen in tmux.

use std::time::{Duration, Instant};

use super::{Server, body_file, free_port, loadtest, serve_with, served_requests};
use super::{reqwest_free_get, support};

/// gRPC calls counted by the server, by code.
fn served_grpc(s: &Server, code: &str) -> f64 {
    let body = reqwest_free_get(s.port, "/metrics");
    let line = format!("tractor_grpc_requests_total{{method=\"ModelInfer\",code=\"{code}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(line.as_str())?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn grpc_calls_hold_the_rate_and_every_one_is_counted_by_the_server() {
    let s = serve_with("v1", free_port());
    let dir = tempfile::tempdir().unwrap();
    let body = body_file(dir.path());
    // the model from the REST-style path, on the gRPC port
    let url = format!(
        "http://127.0.0.1:{}/v2/models/demo-classifier/infer",
        s.grpc_port
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", s.grpc_port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "no gRPC port");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, v, err) = loadtest(&[
        "--grpc",
        "--url",
        &url,
        "--rate",
        "300",
        "--duration",
        "2s",
        "--body",
        body.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["http"], "gRPC", "{v}");
    assert_eq!(v["requests"], 600, "{v}");
    assert_eq!(v["statuses"]["200"], 600, "{v}");
    let rate = v["achieved_rate"].as_f64().unwrap();
    assert!(
        (rate / 300.0 - 1.0).abs() < 0.02,
        "achieved {rate}/s for 300/s"
    );
    assert_eq!(served_grpc(&s, "OK"), 600.0);
    assert_eq!(served_requests(&s), 0.0, "nothing went over REST");

    // a request the server refuses: every call answered InvalidArgument, counted as 400 (the
    // client's fault, not an error of the run)
    let wrong = dir.path().join("wrong.json");
    let text = std::fs::read_to_string(&body)
        .unwrap()
        .replace("FP32", "FP64");
    std::fs::write(&wrong, text).unwrap();
    let (code, v, err) = loadtest(&[
        "--grpc",
        "--url",
        &url,
        "--concurrency",
        "2",
        "--requests",
        "50",
        "--body",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (v["statuses"]["400"].as_u64(), v["errors"].as_u64()),
        (Some(50), Some(0)),
        "{v}"
    );
    assert_eq!(served_grpc(&s, "InvalidArgument"), 50.0);

    // flags that cannot make a gRPC call are named, exit 2, before anything is sent
    let plain = format!("http://127.0.0.1:{}/", s.grpc_port);
    for (args, words) in [
        (
            vec![
                "--grpc",
                "--url",
                &plain,
                "--rate",
                "10",
                "--body",
                body.to_str().unwrap(),
            ],
            "names no model",
        ),
        (
            vec!["--grpc", "--url", &url, "--rate", "10"],
            "--grpc needs --body",
        ),
    ] {
        let (code, _, err) = loadtest(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

/// `--grpc` on the monitor screen as a person sees it: ModelInfer calls to the gRPC port, the
/// server's own gRPC latency scraped beside the client's, X stops it, and the summary on
/// leaving names the protocol.
#[test]
fn grpc_loadtest_on_the_monitor_screen_in_tmux() {
    let s = serve_with("v1", free_port());
    let dir = tempfile::tempdir().unwrap();
    let body = body_file(dir.path());
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[scrape]\ninterval_ms = 500\n").unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", s.grpc_port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "no gRPC port");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = support::tmux::Tmux::start("monitor-grpc");
    t.line(&format!(
        "{} --config {} --log-file {} loadtest --grpc --url http://127.0.0.1:{}/v2/models/demo-classifier/infer --body {} --rate 40 --duration 120s --scrape http://127.0.0.1:{}/metrics; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        cfg.display(),
        dir.path().join("log").display(),
        s.grpc_port,
        body.display(),
        s.port,
    ));
    let wait = Duration::from_secs(30);
    t.wait_for("● running", wait);
    let start = Instant::now();
    let screen = loop {
        let screen = t.screen();
        if support::tmux::shows_latency(&screen, "v1") && screen.contains("client") {
            break screen;
        }
        assert!(
            start.elapsed() < wait,
            "no server latency from the gRPC histogram:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(screen.contains("--grpc"), "the run's flags:\n{screen}");
    assert!(screen.contains("errors 0"), "{screen}");
    t.keys(&["X"]);
    t.wait_for("■ done", wait);
    t.keys(&["q"]);
    let out = t.wait_for("EXIT=0", wait);
    assert!(
        out.contains("gRPC requests, 0 errors"),
        "the summary names the protocol:\n{out}"
    );
    assert!(served_grpc(&s, "OK") > 0.0, "the server counted the calls");
    assert_eq!(served_requests(&s), 0.0, "nothing went over REST");
}
