//! A model whose inputs leave H and W free (ppocr-mobile-v2-cls: `-1,3,-1,-1`), served as it
//! is, without --input-shape: a plan per input shape built on first use, kept in a bounded
//! cache, --warm-shapes built before ready, counted in the metrics, and the answers
//! onnxruntime's.

use crate::common;

use common::{Served, sample as metric};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_spatial_dimensions_get_a_plan_per_shape_in_a_bounded_cache() {
    let model = common::shared_models().join("ppocr-mobile-v2-cls.onnx");
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        "--name",
        "m",
        "--warm-shapes",
        "2,3,48,192",
        "--plan-cache-size",
        "2",
    ]);
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let (client, url) = (client.clone(), srv.url(path));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let meta: Value = serde_json::from_str(&get("/v2/models/m").await).unwrap();
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 3, -1, -1]), "{meta}");
    let text = srv.metrics().await;
    assert_eq!(
        metric(&text, "tractor_plan_cache_compiles_total"),
        1.0,
        "warmed before ready"
    );
    assert_eq!(metric(&text, "tractor_plan_cache_capacity"), 2.0);

    // the warmed shape: no build, and onnxruntime's answer
    let r: Value =
        serde_json::from_slice(&std::fs::read(common::data("reference.json")).unwrap()).unwrap();
    let case = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == "shared:ppocr-mobile-v2-cls.onnx")
        .unwrap();
    assert_eq!(case["input"]["shape"], json!([2, 3, 48, 192]));
    let infer = |w: usize| {
        let (client, url) = (client.clone(), srv.url("/v2/models/m/infer"));
        async move {
            let shape = [2, 3, 48, w];
            let data = common::det(shape.iter().product());
            let req = json!({"inputs": [{"name": "x", "shape": shape, "datatype": "FP32", "data": data}]});
            common::post_json(&client, &url, &req).await
        }
    };
    let out = infer(192).await;
    let got: Vec<f64> = serde_json::from_value(out["outputs"][0]["data"].clone()).unwrap();
    let want: Vec<f64> = serde_json::from_value(case["output"]["data"].clone()).unwrap();
    let (abs, rel) = (
        r["tolerance"]["abs"].as_f64().unwrap(),
        r["tolerance"]["rel"].as_f64().unwrap(),
    );
    common::assert_close(&got, &want, abs, rel, "ppocr served per shape");

    // two new widths: each built once; the cache holds 2, so the oldest (192) goes
    for w in [320, 256, 320] {
        let out = infer(w).await;
        assert_eq!(
            out["outputs"][0]["shape"],
            json!([2, 2]),
            "width {w}: {out}"
        );
    }
    let text = srv.metrics().await;
    assert_eq!(
        metric(&text, "tractor_plan_cache_compiles_total"),
        3.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "tractor_plan_cache_hits_total"),
        2.0,
        "{text}"
    );
    assert_eq!(metric(&text, "tractor_plan_cache_plans"), 2.0);
    assert!(metric(&text, "tractor_plan_compile_seconds_total") > 0.0);
    let again = infer(192).await;
    let again: Vec<f64> = serde_json::from_value(again["outputs"][0]["data"].clone()).unwrap();
    assert_eq!(again, got, "rebuilt after eviction, the same answer");
    assert_eq!(
        metric(&srv.metrics().await, "tractor_plan_cache_compiles_total"),
        4.0
    );

    // a shape that cannot fit the model's fixed dimension is the client's mistake
    let bad = json!({"inputs": [{"name": "x", "shape": [1, 4, 48, 192], "datatype": "FP32", "data": common::det(4 * 48 * 192)}]});
    let e = common::post_json(&client, &srv.url("/v2/models/m/infer"), &bad).await;
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("dimension 1 must be 3"),
        "{e}"
    );
}

#[test]
fn a_warm_shape_that_does_not_fit_is_refused_by_name() {
    let model = common::shared_models().join("ppocr-mobile-v2-cls.onnx");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tractor-serve"))
        .args([
            "--model",
            model.to_str().unwrap(),
            "--grpc-port",
            "0",
            "--warm-shapes",
            "1,4,48,192",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--warm-shapes \"1,4,48,192\"") && err.contains("does not fit input \"x\""),
        "{err}"
    );
}
