//! `tractor demo`: the local backend with two replicas of demo model v1 behind a front
//! port, an autoscaler on in-flight requests, a load profile with a spike through the
//! front port, and the console on the deployment's monitor screen.
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::audit::AuditLog;
use crate::cli::{DemoArgs, exit};
use crate::config::Config;
use crate::local::spec::{Autoscale, Revision, Spec, Store};

pub const NAME: &str = "classifier";
pub const MODEL_NAME: &str = "demo-classifier";

/// Where no tractor-serve binary was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServeBinError {
    #[error("--serve-bin {}: no such file", .0.display())]
    NoSuchFile(PathBuf),
    #[error(
        "tractor-serve not found beside tractor or on PATH: build it (cargo build --release -p tractor-serve) or pass --serve-bin"
    )]
    NotFound,
}

/// tractor-serve: the flag, else beside this binary, else on $PATH.
pub fn serve_bin(flag: Option<&Path>) -> Result<PathBuf, ServeBinError> {
    if let Some(p) = flag {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ServeBinError::NoSuchFile(p.to_path_buf()))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("tractor-serve")));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Ok(p);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("tractor-serve"))
        .find(|p| p.is_file())
        .ok_or(ServeBinError::NotFound)
}

/// The deployment a fresh demo starts with.
pub fn initial_spec(models: &Path) -> Spec {
    Spec {
        name: NAME.into(),
        model_name: MODEL_NAME.into(),
        replicas: 2,
        revisions: vec![Revision {
            number: 1,
            model: models.join("demo-classifier-v1.onnx"),
            version: "v1".into(),
            // no batching wait: each model's own speed shows in its latency
            args: ["--workers", "1", "--max-queue-delay", "0ms"]
                .map(String::from)
                .to_vec(),
            change_cause: "tractor demo: model v1".into(),
            created: jiff::Timestamp::now().to_string(),
            restarted_at: None,
        }],
        current: 1,
        paused: false,
        max_surge: 1,
        max_unavailable: 0,
        autoscale: Some(Autoscale {
            min: 2,
            max: 6,
            target_inflight: 0.25,
        }),
        model_pattern: Some(
            models
                .join("demo-classifier-{version}.onnx")
                .display()
                .to_string(),
        ),
        canary: None,
    }
}

/// A KServe v2 request for the demo model (64 features).
pub fn body() -> String {
    let data: Vec<String> = (0..64)
        .map(|i| format!("{:.3}", (i as f64) / 64.0))
        .collect();
    format!(
        r#"{{"inputs":[{{"name":"features","shape":[1,64],"datatype":"FP32","data":[{}]}}]}}"#,
        data.join(",")
    )
}

/// Runs the demo; its writes are audited in `audit` (the log the subcommands use).
/// Runs the demo; with `read_only` every write is refused (the console's `--read-only`).
pub async fn run(
    a: &DemoArgs,
    audit: AuditLog,
    read_only: bool,
    mut config: Config,
) -> color_eyre::Result<i32> {
    let fail = |e: String| Ok(super::fail(exit::USAGE, &e));
    let bin = match serve_bin(a.serve_bin.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let models = match std::path::absolute(&a.models) {
        Ok(m) => m,
        Err(e) => return fail(format!("--models {}: {e}", a.models.display())),
    };
    for v in ["v1", "v2"] {
        let f = models.join(format!("demo-classifier-{v}.onnx"));
        if !f.is_file() {
            return fail(format!(
                "{} not found: run from the repository, or pass --models DIR",
                f.display()
            ));
        }
    }
    let dir = a
        .state_dir
        .clone()
        .unwrap_or_else(|| crate::config::state_dir().join("demo"));
    let store = Store::new(&dir);
    let spec = match store.load() {
        Ok(Some(s)) => s,
        Ok(None) => initial_spec(&models),
        Err(e) => return fail(format!("{e} (remove it to start the demo afresh)")),
    };
    let port = if a.port == 0 {
        match crate::local::children::free_port() {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        }
    } else {
        a.port
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("{}: {e}", dir.display()));
    }
    let body_path = dir.join("infer.json");
    if let Err(e) = std::fs::write(&body_path, body()) {
        return fail(format!("{}: {e}", body_path.display()));
    }
    // the demo moves fast: sample every second
    config.scrape.interval_ms = config.scrape.interval_ms.min(1000);
    config.general.tick_ms = config.general.tick_ms.min(500);
    let load = (!a.no_load).then(|| {
        format!(
            "--url http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/infer --body {} --profile {} --duration {}ms --max-in-flight 200 --timeout 10s",
            crate::load::words::quote(&body_path.display().to_string()),
            crate::load::words::quote(&a.profile),
            a.duration.as_millis()
        )
    });
    if let Some(line) = &load
        && let Err(e) = crate::load::line::parse(line)
            .and_then(|p| p.engine_plan().map_err(crate::load::line::LineError::from))
    {
        return fail(e.to_string());
    }
    let cfg = crate::local::Config {
        store,
        serve_bin: bin,
        front_port: port,
        scrape_every: Duration::from_millis(config.scrape.interval_ms),
        drain_grace: Duration::from_millis(300),
        stop_timeout: Duration::from_secs(30),
        audit,
        read_only,
    };
    let start = crate::app::Start {
        view: Some(crate::state::View::Monitor(Some((
            crate::local::objects::NAMESPACE.into(),
            NAME.into(),
        )))),
        load,
        ..Default::default()
    };
    let ns = Some(vec![crate::local::objects::NAMESPACE.to_string()]);
    let ended = crate::app::run(crate::app::Cluster::Local(cfg, spec), config, ns, start).await?;
    if let Some(Ok(summary)) = ended {
        eprintln!("load test: {summary}");
    }
    eprintln!(
        "the demo's state (revisions, replica logs) is in {}",
        dir.display()
    );
    Ok(exit::OK)
}
