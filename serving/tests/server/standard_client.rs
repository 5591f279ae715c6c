//! The standard Open Inference Protocol clients — NVIDIA's `tritonclient[http]` and
//! `tritonclient[grpc]`, unchanged — work against tractor-serve. The client lives in the Python environment `scripts/python-env`
//! makes (or `TRACTOR_PYTHON`); without it this test fails with that instruction.

use crate::common;

use common::Served;

/// Run a check script against `host:port`; it prints "all checks passed" when every check held.
fn run_check(script: &str, host: &str) {
    let script = common::workspace()
        .join("serving/tests/clients")
        .join(script);
    let out = std::process::Command::new(common::python())
        .arg(script)
        .arg(host)
        .arg("multi-io")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{host}: tritonclient check failed");
    assert!(stdout.contains("all checks passed"));
}

#[test]
fn tritonclient_http_works_unchanged() {
    let model = common::data("multi-io.onnx");
    let srv = Served::start(&["--model", model.to_str().unwrap()]);
    run_check(
        "tritonclient_check.py",
        srv.base.trim_start_matches("http://"),
    );
}

#[test]
fn tritonclient_grpc_works_unchanged() {
    let model = common::data("multi-io.onnx");
    let port = common::free_port().to_string();
    let srv = Served::start(&["--model", model.to_str().unwrap(), "--grpc-port", &port]);
    let grpc = srv.grpc.clone().expect("gRPC address");
    run_check(
        "tritonclient_grpc_check.py",
        grpc.trim_start_matches("http://"),
    );
}
