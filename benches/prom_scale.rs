//! The Prometheus source at scale: a real Prometheus (from `scripts/dev-cluster build`)
//! scrapes a synthetic target holding N pods' worth of tractor-serve series (every pod's
//! request histogram, counters, means, gauges and model info, labelled `namespace` and
//! `pod`), and the console's round — its three queries and the assembly into per-pod
//! windows — is timed against what the direct source does in the same run: N scrapes, one
//! per pod, 8 at a time, each parsed. Prints a table (and the CPU) for the README.
//!
//!   cargo bench --bench prom_scale -- [PODS...]        (default 100 1000)
//!
//! Needs the prometheus binary: $TRACTOR_PROMETHEUS, or the one `scripts/dev-cluster build`
//! caches. Everything listens on 127.0.0.1 and stops with the bench.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: a failed unwrap is a failed run
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tractor::prom::client::{Endpoint, Prom};
use tractor::prom::queries::{Labels, assemble, queries};

const ROUNDS: usize = 20;
const BUCKETS: [&str; 12] = [
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn prometheus_bin() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("TRACTOR_PROMETHEUS") {
        return Some(p.into());
    }
    let home = std::env::var("HOME").ok()?;
    let cache = std::env::var("TRACTOR_CACHE").unwrap_or_else(|_| format!("{home}/.cache/tractor"));
    let dir = std::path::Path::new(&cache).join("prometheus");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("prometheus"))
        .find(|p| p.exists())
}

/// One pod's exposition as tractor-serve writes it, with counters grown by `ticks`.
fn pod_text(out: &mut String, labels: &str, ticks: u64, i: usize) {
    use std::fmt::Write;
    let route = r#"route="/v2/models/{name}/infer""#;
    let n = ticks * 10 + (i as u64 % 7);
    let _ = writeln!(
        out,
        r#"tractor_model_info{{{labels},model="m",version="v{}"}} 1"#,
        1 + i % 2
    );
    for (k, le) in BUCKETS.iter().enumerate() {
        let c = (n as f64 * ((k + 1) as f64 / BUCKETS.len() as f64)).round();
        let c = if *le == "+Inf" { n as f64 } else { c };
        let _ = writeln!(
            out,
            r#"tractor_http_request_duration_seconds_bucket{{{labels},{route},le="{le}"}} {c}"#
        );
    }
    let _ = writeln!(
        out,
        r#"tractor_http_request_duration_seconds_sum{{{labels},{route}}} {}"#,
        n as f64 * 0.004
    );
    let _ = writeln!(
        out,
        r#"tractor_http_request_duration_seconds_count{{{labels},{route}}} {n}"#
    );
    let _ = writeln!(
        out,
        r#"tractor_http_requests_total{{{labels},{route},status="200"}} {n}"#
    );
    let _ = writeln!(
        out,
        r#"tractor_http_requests_total{{{labels},{route},status="500"}} {}"#,
        ticks / 10
    );
    for base in [
        "tractor_queue_wait_seconds",
        "tractor_inference_duration_seconds",
        "tractor_batch_size",
    ] {
        let _ = writeln!(out, "{base}_sum{{{labels}}} {}", n as f64 * 0.001);
        let _ = writeln!(out, "{base}_count{{{labels}}} {n}");
    }
    let _ = writeln!(out, "tractor_inflight_requests{{{labels}}} {}", i % 3);
    let _ = writeln!(out, "tractor_queue_depth{{{labels}}} 0");
}

/// The synthetic target: `/metrics` holds every pod (labels in the series, scraped with
/// honor_labels); `/pod/I` holds pod I alone, as its own server would (no namespace or pod
/// labels: the direct source knows whom it scraped).
async fn target(pods: usize, started: Instant) -> (u16, Arc<AtomicU64>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let served = Arc::new(AtomicU64::new(0));
    let s2 = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let served = s2.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let Ok(n) = c.read(&mut buf).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let ticks = started.elapsed().as_millis() as u64 / 100;
                let mut body = String::new();
                if let Some(i) = path
                    .strip_prefix("/pod/")
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    pod_text(&mut body, r#"worker="0""#, ticks, i);
                } else {
                    for i in 0..pods {
                        pod_text(
                            &mut body,
                            &format!(r#"namespace="bench",pod="p-{i}""#),
                            ticks,
                            i,
                        );
                    }
                }
                served.fetch_add(1, Ordering::Relaxed);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
                let _ = c.write_all(body.as_bytes()).await;
            });
        }
    });
    (port, served)
}

/// The Prometheus process and its data directory, both gone with it.
struct Server {
    child: Child,
    _data: tempfile::TempDir,
}
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(bin: &std::path::Path, target_port: u16) -> (Server, u16) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: synthetic\n  honor_labels: true\n  static_configs:\n  - targets: ['127.0.0.1:{target_port}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Server { child, _data: dir }, port)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

async fn bench(bin: &std::path::Path, pods: usize) -> String {
    let started = Instant::now();
    let (tport, _) = target(pods, started).await;
    let (_prom, pport) = start_prometheus(bin, tport);
    let http = tractor::tls::http_client(&Default::default(), Duration::from_secs(30)).unwrap();
    let prom = Prom {
        endpoint: Endpoint::Url {
            http: http.clone(),
            base: format!("http://127.0.0.1:{pport}"),
            auth: None,
        },
        timeout: Duration::from_secs(30),
    };
    // wait for every pod's series and a few scrapes of history
    let t0 = Instant::now();
    loop {
        let n = prom.query("count(tractor_model_info)", None).await.ok();
        if n.and_then(|v| v.first().map(|s| s.value as usize)) == Some(pods) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "Prometheus never had {pods} pods"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let labels = Labels {
        namespace: "namespace".into(),
        pod: "pod".into(),
    };
    let q = queries(&labels, Duration::from_secs(4));
    let (mut round_ms, mut assemble_ms) = (Vec::new(), Vec::new());
    let mut series = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let (b, c, g) = tokio::try_join!(
            prom.query(&q.buckets, None),
            prom.query(&q.counters, None),
            prom.query(&q.gauges, None)
        )
        .unwrap();
        let a = Instant::now();
        let windows = assemble(&labels, &b, &c, &g).unwrap();
        assemble_ms.push(a.elapsed().as_secs_f64() * 1000.0);
        round_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(windows.len(), pods);
        series = b.len() + c.len() + g.len();
    }
    // the direct source in the same run: one scrape per pod, 8 at a time, each parsed
    let mut direct_ms = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = Vec::new();
        for i in 0..pods {
            let (http, sem) = (http.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await.unwrap();
                let url = format!("http://127.0.0.1:{tport}/pod/{i}");
                let text = http.get(&url).send().await.unwrap().text().await.unwrap();
                tractor::scrape::parse(&text).unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        direct_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    format!(
        "| {pods} | 3 | {series} | {:.1} | {:.1} | {:.2} | {pods} | {:.1} | {:.1}× |",
        percentile(&mut round_ms.clone(), 0.5),
        percentile(&mut round_ms, 1.0),
        percentile(&mut assemble_ms, 0.5),
        percentile(&mut direct_ms.clone(), 0.5),
        percentile(&mut direct_ms.clone(), 0.5) / percentile(&mut round_ms.clone(), 0.5).max(1e-9),
    )
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if args.is_empty() {
        vec![100, 1000]
    } else {
        args
    };
    let Some(bin) = prometheus_bin() else {
        eprintln!(
            "prom_scale: no prometheus binary: run scripts/dev-cluster build, or set TRACTOR_PROMETHEUS"
        );
        std::process::exit(1);
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "Prometheus source at scale on {} ({} rounds each)",
        cpu(),
        ROUNDS
    );
    println!();
    println!(
        "| pods | queries per round | series answered | round p50 (ms) | round max (ms) | assembly p50 (ms) | direct: scrapes per round | direct round p50 (ms) | direct / Prometheus |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for pods in sizes {
        println!("{}", rt.block_on(bench(&bin, pods)));
    }
}
