//! A standard Open Inference Protocol client — NVIDIA's `tritonclient[http]`, unchanged — works
//! against tractor-serve. The client lives in the Python environment `scripts/python-env`
//! makes (or `TRACTOR_PYTHON`); without it this test fails with that instruction.

use crate::common;

use common::Served;

#[test]
fn tritonclient_http_works_unchanged() {
    let python = std::env::var("TRACTOR_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").expect("HOME");
        format!("{home}/.cache/tractor/venv/bin/python")
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} not found: run scripts/python-env first"
    );
    let model = common::data("multi-io.onnx");
    let srv = Served::start(&["--model", model.to_str().unwrap()]);
    let script = common::workspace().join("serving/tests/clients/tritonclient_check.py");
    let host = srv.base.trim_start_matches("http://").to_owned();
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&host)
        .arg("multi-io")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tritonclient check failed");
    assert!(stdout.contains("all checks passed"));
}
