//! The deployment files in serving/deploy agree with the server: the kustomize ConfigMap's
//! TOML and the chart's `server` values are settings tractor-serve accepts, the grace period
//! covers preStop plus drain, and the Grafana dashboard queries only metrics the server
//! really exposes.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tractor_serve::Server;
use tractor_serve::config::{Cli, Config};

fn deploy(path: &str) -> std::path::PathBuf {
    common::workspace().join("serving/deploy").join(path)
}

fn demo_model() -> std::path::PathBuf {
    common::workspace().join("assets/models/demo-classifier-v1.onnx")
}

fn resolve_with(config: std::path::PathBuf) -> Config {
    Config::resolve(Cli {
        config: Some(config.clone()),
        model: Some(demo_model()),
        ..Cli::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", config.display()))
}

fn yaml(path: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kustomize_config_is_accepted_and_the_grace_period_covers_the_drain() {
    let cfg = resolve_with(deploy("k8s/base/config.toml"));
    assert_eq!(cfg.drain_timeout, Duration::from_secs(25));
    assert_eq!(cfg.shutdown_delay, Duration::ZERO);
    assert_eq!((cfg.max_batch_size, cfg.queue_capacity), (8, 256));

    let d = yaml("k8s/base/deployment.yaml");
    let spec = &d["spec"]["template"]["spec"];
    let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap();
    let c = &spec["containers"][0];
    let pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace >= pre_stop + cfg.drain_timeout.as_secs(),
        "grace {grace}s < preStop {pre_stop}s + drain {:?}",
        cfg.drain_timeout
    );
    // the probes point at routes the server has, on the port it listens on
    for (probe, path) in [
        ("readinessProbe", "/v2/health/ready"),
        ("livenessProbe", "/v2/health/live"),
        ("startupProbe", "/v2/health/live"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some(path), "{probe}");
    }
    let env: Vec<(String, String)> = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
        .collect();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("TRACTOR_SERVE_PORT").as_deref(), Some("8080"));
    // gRPC: the env the server reads, the container's named port and the Service's agree
    let grpc_port = get("TRACTOR_SERVE_GRPC_PORT").expect("TRACTOR_SERVE_GRPC_PORT");
    let named = |ports: &serde_yaml::Value, name: &str| {
        ports
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("no port named {name}"))
    };
    let container_grpc = named(&c["ports"], "grpc");
    assert_eq!(
        container_grpc["containerPort"]
            .as_u64()
            .map(|p| p.to_string()),
        Some(grpc_port)
    );
    let svc = yaml("k8s/base/service.yaml");
    let svc_grpc = named(&svc["spec"]["ports"], "grpc");
    assert_eq!(svc_grpc["targetPort"].as_str(), Some("grpc"));
    assert_eq!(svc_grpc["appProtocol"].as_str(), Some("kubernetes.io/h2c"));
    assert_eq!(
        get("TRACTOR_SERVE_MODEL_VERSION").as_deref(),
        d["spec"]["template"]["metadata"]["labels"]["tractor.dev/model-version"].as_str(),
        "the version label and env agree"
    );
}

#[test]
fn chart_server_values_are_settings_the_server_accepts() {
    let values = yaml("chart/values.yaml");
    let server = values["server"].as_mapping().unwrap();
    let mut toml = String::new();
    for (k, v) in server {
        let k = k.as_str().unwrap();
        match v {
            serde_yaml::Value::Number(n) => toml.push_str(&format!("{k} = {n}\n")),
            serde_yaml::Value::String(s) => toml.push_str(&format!("{k} = {s:?}\n")),
            other => panic!("server.{k}: {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &toml).unwrap();
    let cfg = resolve_with(path);
    let drain = cfg.drain_timeout.as_secs();
    let pre_stop = values["preStopSeconds"].as_u64().unwrap();
    assert!(drain > 0 && pre_stop > 0, "{toml}");

    // and an unknown key is refused, so the check above means something
    std::fs::write(dir.path().join("bad.toml"), "max_batch = 8\n").unwrap();
    let err = Config::resolve(Cli {
        config: Some(dir.path().join("bad.toml")),
        model: Some(demo_model()),
        ..Cli::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("max_batch"), "{err}");
}

#[tokio::test]
async fn dashboard_queries_only_metrics_the_server_exposes() {
    let text = std::fs::read_to_string(deploy("grafana/tractor-serve.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");
    let wanted: BTreeSet<String> = exprs
        .iter()
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("tractor_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();

    let mut cfg = Config::for_model(demo_model()).unwrap();
    cfg.workers = 1;
    let s = Server::load(cfg).unwrap();
    s.state
        .inner
        .ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let app = s.router();
    let body = serde_json::json!({"inputs": [{"name": "features", "shape": [1, 64],
        "datatype": "FP32", "data": vec![0.1f32; 64]}]});
    let resp = app
        .clone()
        .oneshot(
            Request::post("/v2/models/demo-classifier-v1/infer")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.status());
    let resp = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let metrics = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let exposed: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let missing: Vec<_> = wanted
        .iter()
        .filter(|m| !exposed.contains(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, which /metrics does not expose: {exposed:?}"
    );
    // the labels the dashboard groups by
    assert!(metrics.contains("tractor_model_info{model=\"demo-classifier-v1\",version="));
    assert!(metrics.contains("tractor_http_requests_total{route="));
    assert!(metrics.contains("status=\"200\""));
    drop(s);
}
