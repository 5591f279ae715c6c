//! Real HTTP against the real binary: outputs match onnxruntime's, computed once by
//! scripts/make-reference.py and committed in tests/data/reference.json, within the tolerance
//! stated there (|tract - ort| <= 1e-4 + 1e-3 * |ort|).

use crate::common;

use common::Served;
use serde_json::{Value, json};

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(common::data("reference.json")).expect("reference.json"))
        .expect("json")
}

fn tolerance(r: &Value) -> (f64, f64) {
    (
        r["tolerance"]["abs"].as_f64().unwrap(),
        r["tolerance"]["rel"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn shared_models_are_the_documented_bytes() {
    let dir = common::shared_models();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    for line in sums.lines().filter(|l| l.contains(".onnx")) {
        let (hash, file) = line.split_once(char::is_whitespace).unwrap();
        let bytes = std::fs::read(dir.join(file.trim().trim_start_matches('*'))).unwrap();
        use sha2::Digest;
        assert_eq!(
            format!("{:x}", sha2::Sha256::digest(&bytes)),
            hash,
            "{file}"
        );
    }
}

#[tokio::test]
async fn outputs_match_onnxruntime_over_v2_and_predict() {
    let r = reference();
    let (abs, rel) = tolerance(&r);
    let client = reqwest::Client::new();
    for case in r["cases"].as_array().unwrap() {
        let model = common::model_path(case["model"].as_str().unwrap());
        let mut args = vec![
            "--model".to_string(),
            model.display().to_string(),
            "--name".into(),
            "m".into(),
        ];
        if let Some(s) = case["input_shape"].as_str() {
            args.extend(["--input-shape".into(), s.into()]);
        }
        let srv = Served::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let shape: Vec<usize> = serde_json::from_value(case["input"]["shape"].clone()).unwrap();
        let data = common::det(shape.iter().product());
        let req = json!({"inputs": [{"name": case["input"]["name"], "shape": shape, "datatype": "FP32", "data": data}]});
        let resp = common::post_json(&client, &srv.url("/v2/models/m/infer"), &req).await;
        let out = &resp["outputs"][0];
        assert_eq!(out["name"], case["output"]["name"], "{resp}");
        assert_eq!(out["shape"], case["output"]["shape"]);
        let got: Vec<f64> = serde_json::from_value(out["data"].clone()).unwrap();
        let want: Vec<f64> = serde_json::from_value(case["output"]["data"].clone()).unwrap();
        common::assert_close(&got, &want, abs, rel, &format!("{} via v2", case["model"]));
        // The pipeline's /predict: the same numbers, nested.
        let body = nest(&data, &shape);
        let p = common::post_json(&client, &srv.url("/predict"), &body).await;
        let flat = flatten(&p["prediction"]);
        common::assert_close(
            &flat,
            &want,
            abs,
            rel,
            &format!("{} via /predict", case["model"]),
        );
    }
}

#[tokio::test]
async fn magika_labels_real_files_like_onnxruntime() {
    let r = reference();
    let (abs, rel) = tolerance(&r);
    let labels: Vec<String> = serde_json::from_value(r["magika"]["labels"].clone()).unwrap();
    let model = common::shared_models().join("magika-standard-v3_3.onnx");
    let srv = Served::start(&["--model", model.to_str().unwrap(), "--name", "magika"]);
    let client = reqwest::Client::new();
    let files = r["magika"]["files"].as_array().unwrap();
    // All files in one request, the way a batch client would send them.
    let mut feats = Vec::new();
    for f in files {
        let bytes = std::fs::read(common::data(f["file"].as_str().unwrap())).unwrap();
        feats.extend(common::magika_features(&bytes));
    }
    let req = json!({"inputs": [{"name": "bytes", "shape": [files.len(), 2048], "datatype": "INT32", "data": feats}]});
    let resp = common::post_json(&client, &srv.url("/v2/models/magika/infer"), &req).await;
    let out: Vec<f64> = serde_json::from_value(resp["outputs"][0]["data"].clone())
        .unwrap_or_else(|_| panic!("{resp}"));
    for (f, probs) in files.iter().zip(out.chunks(labels.len())) {
        let want: Vec<f64> = serde_json::from_value(f["output"].clone()).unwrap();
        common::assert_close(probs, &want, abs, rel, f["file"].as_str().unwrap());
        let best = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(labels[best], f["label"].as_str().unwrap(), "{}", f["file"]);
    }
    let name_of = |f: &str| {
        files.iter().find(|x| x["file"] == f).unwrap()["label"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(name_of("magika/sample.py"), "python");
    assert_eq!(name_of("magika/sample.rs"), "rust");
    assert_eq!(name_of("magika/sample.sh"), "shell");
}

fn nest(data: &[f32], shape: &[usize]) -> Value {
    match shape {
        [] => json!(data[0]),
        [_] => json!(data),
        [n, rest @ ..] => {
            let stride = data.len() / n;
            Value::Array(data.chunks(stride).map(|c| nest(c, rest)).collect())
        }
    }
}

fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flatten).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("unexpected {other}"),
    }
}
