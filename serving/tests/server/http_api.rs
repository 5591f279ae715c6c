//! The HTTP API in-process (`Router::oneshot`), on the demo model and a multi-input,
//! multi-datatype model: every route, the binary extension both ways, and every bad-input case.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::Digest;
use tower::ServiceExt;
use tractor_serve::Server;
use tractor_serve::config::Config;

fn server(model: std::path::PathBuf, tweak: impl FnOnce(&mut Config)) -> axum::Router {
    let mut cfg = Config::for_model(model).expect("config");
    cfg.workers = 1;
    tweak(&mut cfg);
    let s = Server::load(cfg).expect("load");
    s.state
        .inner
        .ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let r = s.router();
    // Keep the workers alive for the whole test.
    std::mem::forget(s);
    r
}

async fn call(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.expect("body").to_bytes().to_vec(),
    )
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Value) {
    let (s, _, b) = call(app, Request::get(path).body(Body::empty()).unwrap()).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn post_json(app: &axum::Router, path: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, b) = call(app, req).await;
    (
        s,
        serde_json::from_slice(&b)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&b))),
    )
}

fn row(v: f32) -> Vec<f32> {
    vec![v; 64]
}

#[tokio::test]
async fn health_metadata_and_versions() {
    let app = server(common::demo(1), |c| c.model_version = "3".into());
    assert_eq!(get(&app, "/v2/health/live").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/v2/health/ready").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
    let (s, v) = get(&app, "/v2").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "binary_tensor_data")
    );
    let (s, m) = get(&app, "/v2/models/demo-classifier-v1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        m["inputs"][0],
        json!({"name": "features", "datatype": "FP32", "shape": [-1, 64]})
    );
    assert_eq!(
        m["outputs"][0],
        json!({"name": "probabilities", "datatype": "FP32", "shape": [-1, 8]})
    );
    assert_eq!(m["versions"], json!(["3"]));
    assert_eq!(
        get(&app, "/v2/models/demo-classifier-v1/versions/3")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/v2/models/demo-classifier-v1/versions/3/ready")
            .await
            .0,
        StatusCode::OK
    );
    let (s, e) = get(&app, "/v2/models/demo-classifier-v1/versions/4").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        e["error"].as_str().unwrap().contains("no version \"4\""),
        "{e}"
    );
    let (s, e) = get(&app, "/v2/models/resnet").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown model \"resnet\""),
        "{e}"
    );
    let (s, e) = post_json(&app, "/v2/models/resnet/infer", &json!({"inputs": []})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, doc) = get(&app, "/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v2/models/{name}/infer"]["post"].is_object());
    assert!(doc["paths"]["/predict"]["post"].is_object());
    // every status seen above is one the document gives for its route
    for (path, route, method) in [
        ("/v2/models/resnet", "/v2/models/{name}", "get"),
        (
            "/v2/models/demo-classifier-v1/versions/4",
            "/v2/models/{name}/versions/{version}",
            "get",
        ),
        ("/v2/models/resnet/ready", "/v2/models/{name}/ready", "get"),
        (
            "/v2/models/demo-classifier-v1/versions/4/ready",
            "/v2/models/{name}/versions/{version}/ready",
            "get",
        ),
        ("/v2/models/resnet/infer", "/v2/models/{name}/infer", "post"),
    ] {
        let status = if method == "get" {
            get(&app, path).await.0
        } else {
            post_json(&app, path, &json!({"inputs": []})).await.0
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            doc["paths"][route][method]["responses"]["404"].is_object(),
            "{route} does not document the 404 it answers"
        );
    }
}

#[tokio::test]
async fn infer_flat_and_nested_agree_and_predict_matches() {
    let app = server(common::demo(1), |_| {});
    let flat: Vec<f32> = [row(0.1), row(-0.3)].concat();
    let req = json!({"id": "req-7", "inputs": [{"name": "features", "shape": [2, 64], "datatype": "FP32", "data": flat}]});
    let (s, a) = post_json(&app, "/v2/models/demo-classifier-v1/infer", &req).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["id"], "req-7");
    assert_eq!(a["model_name"], "demo-classifier-v1");
    assert_eq!(a["outputs"][0]["shape"], json!([2, 8]));
    let probs: Vec<f64> = serde_json::from_value(a["outputs"][0]["data"].clone()).unwrap();
    assert!(
        (probs[..8].iter().sum::<f64>() - 1.0).abs() < 1e-5,
        "softmax rows sum to 1"
    );
    assert_ne!(probs[..8], probs[8..], "different rows, different answers");
    let nested = json!({"inputs": [{"name": "features", "shape": [2, 64], "datatype": "FP32", "data": [row(0.1), row(-0.3)]}]});
    let (_, b) = post_json(
        &app,
        "/v2/models/demo-classifier-v1/versions/1/infer",
        &nested,
    )
    .await;
    assert_eq!(a["outputs"], b["outputs"]);
    let (s, p) = post_json(&app, "/predict", &json!([row(0.1), row(-0.3)])).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let pred: Vec<Vec<f64>> = serde_json::from_value(p["prediction"].clone()).unwrap();
    assert_eq!(pred.concat(), probs);
    // One example without the batch axis is accepted too.
    let (s, p1) = post_json(&app, "/predict", &json!(row(0.1))).await;
    assert_eq!(s, StatusCode::OK);
    // A batch of 1 runs another plan (other kernels) than a batch of 2: equal up to rounding.
    let single: Vec<Vec<f64>> = serde_json::from_value(p1["prediction"].clone()).unwrap();
    common::assert_close(&single[0], &pred[0], 1e-6, 1e-5, "batch 1 vs batch 2");
}

#[tokio::test]
async fn several_inputs_datatypes_and_requested_outputs() {
    let app = server(common::data("multi-io.onnx"), |_| {});
    let req = json!({"inputs": [
        {"name": "b", "shape": [2, 4], "datatype": "INT64", "data": [1, 2, 3, 4, -5, 6, 7, 9007199254740993i64]},
        {"name": "a", "shape": [2, 4], "datatype": "FP32", "data": [0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]}
    ]});
    let (s, r) = post_json(&app, "/v2/models/multi-io/infer", &req).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["outputs"][0]["name"], "sum");
    assert_eq!(r["outputs"][0]["datatype"], "FP32");
    assert_eq!(
        r["outputs"][0]["data"].as_array().unwrap()[..7],
        json!([1.5, 2.5, 3.5, 4.5, -4.0, 7.0, 8.0])
            .as_array()
            .unwrap()[..]
    );
    assert_eq!(r["outputs"][1]["datatype"], "INT64");
    assert_eq!(
        r["outputs"][1]["data"],
        json!([2, 4, 6, 8, -10, 12, 14, 18014398509481986i64]),
        "int64 stays exact"
    );
    let only = json!({"inputs": req["inputs"], "outputs": [{"name": "doubled"}]});
    let (_, r2) = post_json(&app, "/v2/models/multi-io/infer", &only).await;
    assert_eq!(r2["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(r2["outputs"][0]["name"], "doubled");
    let (s, e) = post_json(&app, "/predict", &json!([[1, 2, 3, 4]])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().contains("single-input"), "{e}");
}

#[tokio::test]
async fn binary_tensor_data_both_ways() {
    let app = server(common::data("multi-io.onnx"), |_| {});
    let a: Vec<f32> = vec![0.25, 1.0, 2.0, 3.0];
    let b: Vec<i64> = vec![10, 20, 30, 40];
    let head = json!({
        "inputs": [
            {"name": "a", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
            {"name": "b", "shape": [1, 4], "datatype": "INT64", "parameters": {"binary_data_size": 32}}
        ],
        "outputs": [{"name": "sum", "parameters": {"binary_data": true}}, {"name": "doubled", "parameters": {"binary_data": false}}]
    })
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend(a.iter().flat_map(|v| v.to_le_bytes()));
    body.extend(b.iter().flat_map(|v| v.to_le_bytes()));
    let req = Request::post("/v2/models/multi-io/infer")
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", head.len())
        .body(Body::from(body))
        .unwrap();
    let (s, h, resp) = call(&app, req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&resp));
    let n: usize = h["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let json_part: Value = serde_json::from_slice(&resp[..n]).unwrap();
    assert_eq!(
        json_part["outputs"][0]["parameters"]["binary_data_size"],
        16
    );
    assert_eq!(json_part["outputs"][1]["data"], json!([20, 40, 60, 80]));
    let sum: Vec<f32> = resp[n..]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(sum, vec![10.25, 21.0, 32.0, 43.0]);

    // A binary tail that does not add up is refused with a reason.
    let mut short = head.clone().into_bytes();
    short.extend([0u8; 40]);
    let req = Request::post("/v2/models/multi-io/infer")
        .header("inference-header-content-length", head.len())
        .body(Body::from(short))
        .unwrap();
    let (s, _, e) = call(&app, req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&e).contains("binary_data_size 32 runs past the end"),
        "{}",
        String::from_utf8_lossy(&e)
    );
    let req = Request::post("/v2/models/multi-io/infer")
        .header("inference-header-content-length", "9999")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(call(&app, req).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_serving_goes_on() {
    let app = server(common::demo(1), |c| c.max_body_size = 64 * 1024);
    let url = "/v2/models/demo-classifier-v1/infer";
    let inp = |shape: Value, dt: &str, data: Value| json!({"inputs": [{"name": "features", "shape": shape, "datatype": dt, "data": data}]});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            inp(json!([1, 63]), "FP32", json!(vec![0.0; 63])),
            StatusCode::BAD_REQUEST,
            "dimension 1 must be 64",
        ),
        (
            inp(json!([64]), "FP32", json!(vec![0.0; 64])),
            StatusCode::BAD_REQUEST,
            "rank 1",
        ),
        (
            inp(json!([1, 64]), "FP64", json!(vec![0.0; 64])),
            StatusCode::BAD_REQUEST,
            "FP64 does not match the model's FP32",
        ),
        (
            inp(json!([1, 64]), "FLOAT", json!(vec![0.0; 64])),
            StatusCode::BAD_REQUEST,
            "unsupported datatype \"FLOAT\"",
        ),
        (
            inp(json!([1, 64]), "FP32", json!(vec![0.0; 60])),
            StatusCode::BAD_REQUEST,
            "needs 64 elements but data has 60",
        ),
        (
            inp(json!([0, 64]), "FP32", json!([])),
            StatusCode::BAD_REQUEST,
            "must be positive",
        ),
        (
            inp(json!([4611686018427387904u64, 64]), "FP32", json!([0.0])),
            StatusCode::BAD_REQUEST,
            "more elements than fit in memory",
        ),
        (
            inp(json!([1, 64]), "FP32", json!(vec!["x"; 64])),
            StatusCode::BAD_REQUEST,
            "input \"features\": invalid data: invalid type: string",
        ),
        (
            json!({"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": vec![0.0; 64]}]}),
            StatusCode::BAD_REQUEST,
            "unknown input \"pixels\"",
        ),
        (
            json!({"inputs": []}),
            StatusCode::BAD_REQUEST,
            "missing input \"features\"",
        ),
        (
            json!({"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32"}]}),
            StatusCode::BAD_REQUEST,
            "neither \"data\"",
        ),
        (
            json!({"inputs": inp(json!([1, 64]), "FP32", json!(vec![0.0; 64]))["inputs"], "outputs": [{"name": "logits"}]}),
            StatusCode::BAD_REQUEST,
            "unknown output \"logits\"",
        ),
        (
            json!({"input": []}),
            StatusCode::BAD_REQUEST,
            "unknown field `input`",
        ),
    ];
    for (body, status, needle) in cases {
        let (s, e) = post_json(&app, url, &body).await;
        assert_eq!(s, status, "{body} -> {e}");
        let msg = e["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
    }
    let raw = |ct: &str, body: &str| {
        Request::post(url)
            .header("content-type", ct)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (s, _, e) = call(&app, raw("application/json", "{\"inputs\": [")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&e).contains("line 1 column"),
        "{}",
        String::from_utf8_lossy(&e)
    );
    let (s, _, e) = call(&app, raw("text/plain", "{}")).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(String::from_utf8_lossy(&e).contains("text/plain"));
    let big = format!("[{}0]", "0,".repeat(40_000));
    let (s, _, e) = call(
        &app,
        Request::post("/predict")
            .header("content-type", "application/json")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&e).contains("65536-byte limit"));
    // Chunked (no content-length) bodies are limited too.
    let stream = futures_stream(vec![vec![b' '; 40_000], vec![b' '; 40_000]]);
    let (s, _, _) = call(
        &app,
        Request::post("/predict")
            .header("content-type", "application/json")
            .body(stream)
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // After all that, a good request still works.
    let (s, _) = post_json(&app, url, &inp(json!([1, 64]), "FP32", json!(row(0.2)))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, e) = call(
        &app,
        Request::get("/v3/anything").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&e).contains("\"error\""));
}

fn futures_stream(chunks: Vec<Vec<u8>>) -> Body {
    let items = chunks
        .into_iter()
        .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::from(c)));
    Body::from_stream(futures_util::stream::iter(items))
}

#[tokio::test]
async fn metrics_expose_every_family_and_the_model_identity() {
    let path = common::demo(1);
    let app = server(path.clone(), |c| c.model_version = "1".into());
    let inp = json!({"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": row(0.5)}]});
    for _ in 0..3 {
        assert_eq!(
            post_json(&app, "/v2/models/demo-classifier-v1/infer", &inp)
                .await
                .0,
            StatusCode::OK
        );
    }
    post_json(&app, "/predict", &json!([1, 2])).await;
    let (s, h, body) = call(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(body).unwrap();
    let sha = format!("{:x}", sha2::Sha256::digest(std::fs::read(&path).unwrap()));
    assert!(
        text.contains(&format!(
            "tractor_model_info{{model=\"demo-classifier-v1\",version=\"1\",sha256=\"{sha}\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "tractor_http_requests_total{route=\"/v2/models/{name}/infer\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("tractor_http_requests_total{route=\"/predict\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(text.contains(
        "tractor_http_request_duration_seconds_count{route=\"/v2/models/{name}/infer\"} 3"
    ));
    assert!(text.contains("tractor_inference_duration_seconds_count 3"));
    assert!(text.contains("tractor_queue_wait_seconds_count 3"));
    assert!(text.contains("tractor_batch_size_sum 3"));
    assert!(text.contains("tractor_inflight_requests 0"));
    assert!(text.contains("tractor_queue_depth 0"));
    assert!(
        text.contains("le=\"0.0001\"") && text.contains("le=\"60\""),
        "buckets span 100us..60s"
    );
}
