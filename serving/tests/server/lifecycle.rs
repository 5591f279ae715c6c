//! The real binary as an orchestrator runs it: configuration from env vars, failure to load,
//! graceful drain on SIGTERM, a bounded queue under overload, timeouts, dynamic batching.

use crate::common;

use std::time::Duration;

use common::{Served, sample as metric};
use serde_json::{Value, json};

fn squeezenet() -> String {
    common::shared_models()
        .join("squeezenet-light.onnx")
        .display()
        .to_string()
}

fn image_request(rows: usize) -> Value {
    json!({"inputs": [{"name": "data_0", "shape": [rows, 3, 224, 224], "datatype": "FP32", "data": common::det(rows * 3 * 224 * 224)}]})
}

#[test]
fn a_model_tract_cannot_load_exits_non_zero_naming_file_and_node() {
    let bad = common::data("bad-op.onnx");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tractor-serve"))
        .args(["--model", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad-op.onnx") && err.contains("broken_node") && err.contains("NoSuchOp"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tractor-serve"))
        .args(["--model", "/no/such/model.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/model.onnx"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tractor-serve"))
        .env_remove("TRACTOR_SERVE_MODEL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model given"));
}

#[tokio::test]
async fn every_setting_comes_from_env_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, "max_batch_size = 4\nmodel_version = \"from-file\"\n").unwrap();
    let model = common::demo(2);
    let srv = Served::start_env(
        &[],
        &[
            ("TRACTOR_SERVE_MODEL", model.to_str().unwrap()),
            ("TRACTOR_SERVE_NAME", "classifier"),
            ("TRACTOR_SERVE_MODEL_VERSION", "7"),
            ("TRACTOR_SERVE_CONFIG", cfg.to_str().unwrap()),
        ],
    );
    let m: Value = reqwest::get(srv.url("/v2/models/classifier"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["versions"], json!(["7"]), "env beats the file");
    let text = srv.metrics().await;
    assert!(
        text.contains("tractor_model_info{model=\"classifier\",version=\"7\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readiness_off_then_drains_every_open_request_and_exits_zero() {
    let model = squeezenet();
    let mut srv = Served::start(&[
        "--model",
        &model,
        "--input-shape",
        "N,3,224,224",
        "--workers",
        "1",
        "--max-batch-size",
        "4",
        "--batch-tuning",
        "false",
        "--shutdown-delay",
        "1s",
        "--drain-timeout",
        "30s",
    ]);
    let client = reqwest::Client::new();
    // Binary bodies of 4 images (~100 ms of inference each): cheap to send, slow to serve.
    let (head_len, body) = binary_image_request(4);
    let body = bytes::Bytes::from(body);
    let infer = srv.url("/v2/models/squeezenet-light/infer");
    let want: Value = common::post_binary(&client, &infer, head_len, body.clone())
        .await
        .json()
        .await
        .unwrap();
    // 12 requests at once: one worker runs them one by one, so most are queued at SIGTERM.
    let open = common::spawn_binary(12, &client, &infer, head_len, &body);
    // Wait until the server has them all in hand (queued or running), then stop it.
    srv.wait_for_metric(
        &client,
        "tractor_inflight_requests",
        12.0,
        Duration::from_secs(30),
    )
    .await;
    srv.sigterm();
    // Readiness is false at once while the process still answers (the shutdown delay).
    let mut saw_unready = false;
    for _ in 0..50 {
        match client.get(srv.url("/v2/health/ready")).send().await {
            Ok(r) if r.status() == 503 => {
                saw_unready = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(saw_unready, "readiness did not turn false after SIGTERM");
    let live = client.get(srv.url("/v2/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200, "still live while draining");
    for h in open {
        let resp = h.await.expect("open request was answered");
        assert_eq!(resp.status(), 200);
        let got: Value = resp.json().await.unwrap();
        assert_eq!(got["outputs"], want["outputs"], "real answers, not errors");
    }
    let status = srv.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

/// A binary-extension request body: cheap for the client to send, so it can outpace the server.
fn binary_image_request(rows: usize) -> (usize, Vec<u8>) {
    let n = rows * 3 * 224 * 224;
    let head = json!({"inputs": [{"name": "data_0", "shape": [rows, 3, 224, 224], "datatype": "FP32", "parameters": {"binary_data_size": n * 4}}]}).to_string();
    let mut body = head.clone().into_bytes();
    body.extend(common::det(n).iter().flat_map(|v| v.to_le_bytes()));
    (head.len(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after_and_memory_stays_bounded() {
    let model = squeezenet();
    let srv = Served::start(&[
        "--model",
        &model,
        "--input-shape",
        "N,3,224,224",
        "--workers",
        "1",
        "--max-batch-size",
        "4",
        "--queue-capacity",
        "2",
    ]);
    let client = reqwest::Client::new();
    let (head_len, body) = binary_image_request(4);
    let body = bytes::Bytes::from(body);
    let all = common::spawn_binary(
        16,
        &client,
        &srv.url("/v2/models/squeezenet-light/infer"),
        head_len,
        &body,
    );
    let (mut ok, mut busy) = (0, 0);
    for h in all {
        let r = h.await.unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                let e: Value = r.json().await.unwrap();
                assert!(e["error"].as_str().unwrap().contains("queue is full"));
                busy += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    let text = client
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&text, "tractor_rejected_requests_total"),
        busy as f64
    );
    // Overload passed; the server serves again.
    assert_eq!(
        client
            .post(srv.url("/predict"))
            .json(&json!(vec![vec![vec![vec![0.0f32; 224]; 224]; 3]]))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_request_past_its_timeout_gets_504() {
    let model = squeezenet();
    let srv = Served::start(&[
        "--model",
        &model,
        "--input-shape",
        "N,3,224,224",
        "--workers",
        "1",
        "--request-timeout",
        "1ms",
    ]);
    let r = reqwest::Client::new()
        .post(srv.url("/v2/models/squeezenet-light/infer"))
        .json(&image_request(4))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("request timeout"),
        "{e}"
    );
}

#[tokio::test]
async fn concurrent_requests_are_batched_and_each_gets_its_own_rows() {
    let model = common::demo(1);
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        "--workers",
        "1",
        "--max-batch-size",
        "8",
        "--batch-tuning",
        "false",
        "--max-queue-delay",
        "200ms",
    ]);
    let client = reqwest::Client::new();
    let url = srv.url("/v2/models/demo-classifier-v1/infer");
    let req = |v: f32| json!({"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": vec![v; 64]}]});
    let mut hs = Vec::new();
    for i in 0..8 {
        let (c, u, b) = (client.clone(), url.clone(), req(i as f32 / 10.0));
        hs.push(tokio::spawn(async move {
            c.post(u)
                .json(&b)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut answers = Vec::new();
    for h in hs {
        answers.push(h.await.unwrap());
    }
    let text = client
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batches = metric(&text, "tractor_batch_size_count");
    assert_eq!(metric(&text, "tractor_batch_size_sum"), 8.0);
    assert!(
        batches < 8.0,
        "8 concurrent requests ran in {batches} batches: batching did not happen"
    );
    // Each caller got the rows of its own input: compare with the same inputs sent alone.
    for (i, got) in answers.iter().enumerate() {
        let alone: Value = client
            .post(&url)
            .json(&req(i as f32 / 10.0))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let a: Vec<f64> = serde_json::from_value(got["outputs"][0]["data"].clone()).unwrap();
        let b: Vec<f64> = serde_json::from_value(alone["outputs"][0]["data"].clone()).unwrap();
        common::assert_close(&a, &b, 1e-6, 1e-5, &format!("request {i} batched vs alone"));
    }
}
