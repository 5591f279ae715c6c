//! Steady inference traffic to whatever servers the pod runner has started:
//! bounded in time and count, to pod IPs only.
#![allow(dead_code)]
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pod_runner::PodRunner;

pub struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A KServe v2 request for the demo classifier (64 features).
pub fn infer_body() -> String {
    format!(
        r#"{{"inputs":[{{"name":"features","shape":[1,64],"datatype":"FP32","data":[{}]}}]}}"#,
        vec!["0.1"; 64].join(",")
    )
}

impl Traffic {
    /// One request to every served pod each round, a round every 20 ms; stops by
    /// itself after 150 s or 20,000 answered requests.
    pub fn start(pods: Arc<PodRunner>) -> Traffic {
        Traffic::bounded(pods, Duration::from_secs(150), 20_000)
    }

    /// As [`Traffic::start`], bounded by `limit` and `max` answered requests. A pod gets
    /// traffic once its readiness endpoint answered, as a load balancer's probe would
    /// have it; after that, every request that gets no 200 is a failure, recorded.
    pub fn bounded(pods: Arc<PodRunner>, limit: Duration, max: u64) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let body = infer_body();
        let task = {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            tokio::spawn(async move {
                let mut ready: HashSet<String> = HashSet::new();
                let deadline = Instant::now() + limit;
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                    && sent.load(Ordering::Relaxed) < max
                {
                    let served = pods.served();
                    ready.retain(|pod| served.contains_key(pod));
                    for pod in served.into_keys() {
                        // the pod may have left since the round began
                        let Some(s) = pods.serving(&pod) else {
                            continue;
                        };
                        if !ready.contains(&pod) {
                            if super::http::get(&s.ip, s.port, "/v2/health/ready")
                                .await
                                .is_ok()
                            {
                                ready.insert(pod);
                            }
                            continue;
                        }
                        let path = "/v2/models/demo-classifier/infer";
                        match super::http::post(&s.ip, s.port, path, &body).await {
                            Ok(a) if a.starts_with("HTTP/1.1 200") => {
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(a) => failed
                                .lock()
                                .unwrap()
                                .push(format!("{pod}: {}", a.lines().next().unwrap_or(""))),
                            Err(e) => failed.lock().unwrap().push(format!("{pod}: {e}")),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Traffic {
            stop,
            sent,
            failed,
            task,
        }
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The failures so far, newest last (at most the last 5).
    pub fn failures(&self) -> Vec<String> {
        let f = self.failed.lock().unwrap();
        f[f.len().saturating_sub(5)..].to_vec()
    }

    /// Whether the traffic has stopped by itself (its time or count bound reached).
    pub fn finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the traffic; how many requests were answered.
    pub async fn stop(self) -> u64 {
        self.finish().await.0
    }

    /// Stops the traffic: the requests answered, and each failure (pod: why).
    pub async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let failed = self.failed.lock().unwrap().clone();
        (self.sent.load(Ordering::Relaxed), failed)
    }
}
