//! A real Prometheus (built from its Go module by `scripts/dev-cluster build`) for the
//! tests: Kubernetes service discovery against the dev cluster (role pod, one namespace),
//! scraping the pod runner's real servers at their loopback pod IPs every second, with the
//! labels Prometheus's own Kubernetes example writes (`namespace`, `pod`). Its API listens
//! on 127.0.0.1; it is killed with the guard.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::Cluster;

pub struct PromServer {
    child: Child,
    pub url: String,
    /// Where it listens.
    pub port: u16,
    pub bin: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /-/ready` answers 200.
fn ready(host: &str, port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect((host, port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /-/ready HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

fn free_port(host: &str) -> u16 {
    let l = std::net::TcpListener::bind((host, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// The scrape job of Prometheus's Kubernetes example: the pods of `ns` whose
/// `prometheus.io/scrape` annotation is true, at the `prometheus.io/port` and
/// `prometheus.io/path` they name (as serving/deploy's manifests set them), with
/// `namespace` and `pod` labels.
fn config(kubeconfig: &std::path::Path, ns: &str, interval: &str) -> String {
    format!(
        r#"global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
scrape_configs:
- job_name: tractor-serve
  kubernetes_sd_configs:
  - role: pod
    kubeconfig_file: {kc}
    namespaces: {{names: [{ns}]}}
  relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    regex: "true"
    action: keep
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
    regex: (.+)
    target_label: __metrics_path__
  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
    target_label: __address__
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
"#,
        kc = kubeconfig.display()
    )
}

impl PromServer {
    /// Starts it on 127.0.0.1 and waits until it is ready.
    pub fn start(k: &Cluster, ns: &str) -> PromServer {
        PromServer::start_on(k, ns, "127.0.0.1")
    }

    /// Starts it listening on `host` (loopback, or inside scripts/netns-run an address of
    /// the private namespace's local range) and waits until it is ready.
    pub fn start_on(k: &Cluster, ns: &str, host: &str) -> PromServer {
        PromServer::start_at(k, ns, host, free_port(host))
    }

    /// The same, on this port.
    pub fn start_at(k: &Cluster, ns: &str, host: &str, port: u16) -> PromServer {
        super::http::assert_allowed(host);
        let bin = k.bin.join("prometheus");
        assert!(
            bin.exists(),
            "{} is missing: scripts/dev-cluster build makes it",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config(&k.kubeconfig, ns, "1s")).unwrap();
        let url = format!("http://{host}:{port}");
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={host}:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("prometheus.log")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let s = PromServer {
            child,
            url,
            port,
            bin: k.bin.clone(),
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if ready(host, port) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "prometheus did not become ready: {}",
                std::fs::read_to_string(s._dir.path().join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Its log so far (for a failure's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// A client of its API, as the console builds one.
    pub fn client(&self) -> tractor::prom::Prom {
        tractor::prom::Prom {
            endpoint: tractor::prom::client::Endpoint::Url {
                http: tractor::tls::http_client(
                    &tractor::tls::TlsArgs::default(),
                    Duration::from_secs(5),
                )
                .unwrap(),
                base: self.url.clone(),
                auth: None,
            },
            timeout: Duration::from_secs(5),
        }
    }
}
