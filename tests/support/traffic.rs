//! Steady inference traffic to whatever servers the pod runner has started:
//! bounded in time and count, to pod IPs only.
#![allow(dead_code)]
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::pod_runner::PodRunner;

pub struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let body = infer_body();
        let task = {
            let (stop, sent) = (stop.clone(), sent.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(150);
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                    && sent.load(Ordering::Relaxed) < 20_000
                {
                    for s in pods.served().values() {
                        let path = "/v2/models/demo-classifier/infer";
                        if super::http::post(&s.ip, s.port, path, &body).await.is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Traffic { stop, sent, task }
    }

    /// Stops the traffic; how many requests were answered.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.sent.load(Ordering::Relaxed)
    }
}
