//! Helpers shared by the serving integration tests: paths, the real binary, and input formulas
//! that match scripts/make-reference.py exactly.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// `../shared/models` beside the project (CI has the same layout). Missing is a failure, not a skip.
pub fn shared_models() -> PathBuf {
    let dir = std::env::var_os("TRACTOR_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace()
                .parent()
                .expect("parent")
                .join("shared")
                .join("models")
        });
    assert!(
        dir.join("SHA256SUMS").is_file(),
        "reference models not found at {} (set TRACTOR_SHARED_MODELS)",
        dir.display()
    );
    dir
}

pub fn demo(version: u32) -> PathBuf {
    workspace().join(format!("assets/models/demo-classifier-v{version}.onnx"))
}

/// The Python of the environment `scripts/python-env` makes (or `TRACTOR_PYTHON`), where the
/// standard clients and schemathesis live; a test without it fails with that instruction.
pub fn python() -> PathBuf {
    let python = std::env::var("TRACTOR_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").expect("HOME");
        format!("{home}/.cache/tractor/venv/bin/python")
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} not found: run scripts/python-env first"
    );
    PathBuf::from(python)
}

pub fn data(name: &str) -> PathBuf {
    workspace().join("serving/tests/data").join(name)
}

/// Resolve a model name from reference.json: repo-relative or `shared:FILE`.
pub fn model_path(name: &str) -> PathBuf {
    match name.strip_prefix("shared:") {
        Some(f) => shared_models().join(f),
        None => workspace().join(name),
    }
}

/// Element i = f32((i * 7919 % 1000) / 1000 - 0.5), as in scripts/make-reference.py.
pub fn det(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as i64 * 7919) % 1000) as f64 / 1000.0 - 0.5) as f32)
        .collect()
}

/// Magika v3 features of a file's bytes, as in scripts/make-reference.py.
pub fn magika_features(content: &[u8]) -> Vec<i32> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let head = &content[..content.len().min(4096)];
    let start = head.iter().position(|b| !ws(b)).unwrap_or(head.len());
    let beg: Vec<i32> = head[start..].iter().take(1024).map(|b| *b as i32).collect();
    let tail = &content[content.len().saturating_sub(4096)..];
    let stop = tail
        .iter()
        .rposition(|b| !ws(b))
        .map(|p| p + 1)
        .unwrap_or(0);
    let tail = &tail[..stop];
    let end: Vec<i32> = tail[tail.len().saturating_sub(1024)..]
        .iter()
        .map(|b| *b as i32)
        .collect();
    let mut f = beg.clone();
    f.resize(1024, 256);
    f.extend(std::iter::repeat_n(256, 1024 - end.len()));
    f.extend(end);
    f
}

/// Every element within abs + rel * |want|.
pub fn assert_close(got: &[f64], want: &[f64], abs: f64, rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= abs + rel * w.abs(),
            "{what}: element {i}: got {g}, onnxruntime {w}"
        );
        worst = worst.max(err);
    }
    eprintln!(
        "{what}: {} elements, worst abs error {worst:.2e}",
        got.len()
    );
}

/// A running tractor-serve process on 127.0.0.1 with an ephemeral port.
pub struct Served {
    pub child: Child,
    pub base: String,
    /// `http://HOST:PORT` of the gRPC port, when the test turned it on (`--grpc-port`).
    pub grpc: Option<String>,
    pub stderr_rest: std::sync::mpsc::Receiver<String>,
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tractor-serve"));
        cmd.args(["--port", "0"]);
        // gRPC's default port is fixed (8081): off unless the test asks for it
        if !args.contains(&"--grpc-port") {
            cmd.args(["--grpc-port", "0"]);
        }
        cmd.args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tractor-serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line
                        .split("addr=")
                        .nth(1)
                        .filter(|_| line.contains(" ready "))
                    {
                        let addr = addr.split_whitespace().next().expect("addr");
                        let grpc = line
                            .split("grpc=")
                            .nth(1)
                            .and_then(|g| g.split_whitespace().next())
                            .filter(|g| *g != "off")
                            .map(|g| format!("http://{g}"));
                        return Served {
                            child,
                            base: format!("http://{addr}"),
                            grpc,
                            stderr_rest: rx,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "tractor-serve {args:?} did not become ready: {:?}",
                        child.wait()
                    );
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = reqwest::get(self.url("/metrics"))
            .await
            .expect("GET /metrics");
        r.text().await.expect("metrics text")
    }

    /// Read `/metrics` through `client` (its connection kept alive between reads) until
    /// `series` is at least `at_least`, failing after `within`; the last text read.
    pub async fn wait_for_metric(
        &self,
        client: &reqwest::Client,
        series: &str,
        at_least: f64,
        within: Duration,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = client
                .get(self.url("/metrics"))
                .send()
                .await
                .expect("GET /metrics")
                .text()
                .await
                .expect("metrics text");
            if sample(&text, series) >= at_least {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{series} never reached {at_least}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn sigterm(&self) {
        // SAFETY: sending a signal to our own child process by pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Wait for exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "tractor-serve did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The value of one series in a `/metrics` text: `series` is its name with its labels, as
/// written (`tractor_queue_depth`, `x_total{reason="a"}`).
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} not in metrics:\n{text}"))
}

/// A port nothing listens on now (bound, read and released: gRPC's port 0 means "off").
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POST JSON and read the JSON answer, whatever the status.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    client
        .post(url)
        .json(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON answer")
}

/// POST a binary-extension body (JSON header of `head_len` bytes, then raw tensors).
pub async fn post_binary(
    client: &reqwest::Client,
    url: &str,
    head_len: usize,
    body: bytes::Bytes,
) -> reqwest::Response {
    client
        .post(url)
        .header("inference-header-content-length", head_len)
        .body(body)
        .send()
        .await
        .expect("send")
}

/// Send the same binary-extension request `n` times at once; the answers in order.
pub fn spawn_binary(
    n: usize,
    client: &reqwest::Client,
    url: &str,
    head_len: usize,
    body: &bytes::Bytes,
) -> Vec<tokio::task::JoinHandle<reqwest::Response>> {
    (0..n)
        .map(|_| {
            let (c, u, b) = (client.clone(), url.to_owned(), body.clone());
            tokio::spawn(async move { post_binary(&c, &u, head_len, b).await })
        })
        .collect()
}
