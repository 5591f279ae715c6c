//! `/openapi.json` is exact: schemathesis (from `scripts/requirements.txt`), driven only by the
//! document, runs every check it has against the real binary — no undocumented status, content
//! type or header, no schema-valid request refused, no schema-violating one accepted, no 5xx —
//! on a multi-input model (the v2 routes) and a single-input one (`/predict` too). The number
//! of examples is bounded; the seed is random and printed, so a failure can be replayed.

use crate::common;

use common::Served;

/// The schemathesis installed beside the tests' Python.
fn schemathesis() -> std::path::PathBuf {
    common::python().with_file_name("schemathesis")
}

async fn conforms(model: &std::path::Path) {
    let srv = Served::start(&["--model", model.to_str().unwrap()]);
    let scratch = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(schemathesis())
        .current_dir(scratch.path())
        .args(["run", &format!("{}/openapi.json", srv.base)])
        .args(["--checks", "all", "--max-examples", "40", "--workers", "1"])
        .args(["--generation-database", "none", "--no-color"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{}: schemathesis found a mismatch",
        model.display()
    );
    assert!(stdout.contains("No issues found"), "{stdout}");
    // The document let the tester through to inference on both routes, not only to 4xx.
    let metrics = srv.metrics().await;
    for route in [
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    ] {
        let series = format!("tractor_http_requests_total{{route=\"{route}\",status=\"200\"}}");
        assert!(common::sample(&metrics, &series) >= 1.0, "{series}");
    }
}

#[tokio::test]
async fn schemathesis_finds_the_document_exact_for_a_multi_input_model() {
    conforms(&common::data("multi-io.onnx")).await;
}

#[tokio::test]
async fn schemathesis_finds_the_document_exact_for_a_single_input_model_and_predict() {
    conforms(&common::demo(1)).await;
}
