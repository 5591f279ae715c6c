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
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
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

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The scrape job: serving pods of `ns` (those with the model-version label), at the port
/// named `http`, with `namespace` and `pod` labels.
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
  - source_labels: [__meta_kubernetes_pod_label_tractor_dev_model_version]
    regex: .+
    action: keep
  - source_labels: [__meta_kubernetes_pod_container_port_name]
    regex: http
    action: keep
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
"#,
        kc = kubeconfig.display()
    )
}

impl PromServer {
    /// Starts it and waits until it is ready.
    pub fn start(k: &Cluster, ns: &str) -> PromServer {
        let bin = k.bin.join("prometheus");
        assert!(
            bin.exists(),
            "{} is missing: scripts/dev-cluster build makes it",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config(&k.kubeconfig, ns, "1s")).unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
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
            bin: k.bin.clone(),
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if ready(port) {
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
