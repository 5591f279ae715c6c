//! Probes and scrapes: readiness from each starting replica's `/readyz`, and every scrape
//! interval each replica's `/metrics`, sent to the console as the pod's scrape (once it is
//! ready) and kept as the mean requests in flight that the autoscaler follows.
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::super::objects::NAMESPACE;
use super::Ctl;
use crate::event::{AppEvent, ScrapeResult};

/// Mean requests in flight between two scrapes (Little's law): the growth of the
/// request-seconds sum over the time between them.
fn inflight(before: (Instant, f64), now: (Instant, f64)) -> Option<f64> {
    let dt = now.0.duration_since(before.0).as_secs_f64();
    (dt > 0.0).then(|| crate::metrics::rate::increase(before.1, now.1) / dt)
}

impl Ctl {
    /// Marks ready the starting replicas whose `/readyz` answers 2xx.
    pub(super) async fn check_ready(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let checks = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.ready && r.draining.is_none())
            .map(|(i, r)| {
                let (http, url) = (http.clone(), format!("http://127.0.0.1:{}/readyz", r.port));
                async move {
                    let ok = http
                        .get(url)
                        .timeout(Duration::from_millis(300))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (i, ok)
                }
            });
        for (i, ok) in futures::future::join_all(checks).await {
            if ok && let Some(r) = self.replicas.get_mut(i) {
                r.ready = true;
            }
        }
    }

    /// Scrapes every replica not draining, all at once.
    pub(super) async fn scrape(&mut self) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let jobs = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.draining.is_none())
            .map(|(i, r)| {
                let (http, url) = (http.clone(), format!("http://127.0.0.1:{}/metrics", r.port));
                async move {
                    let text = crate::scrape::fetch::fetch_url(&http, &url).await;
                    (i, crate::scrape::scraped(text))
                }
            });
        for (i, result) in futures::future::join_all(jobs).await {
            let Some(r) = self.replicas.get_mut(i) else {
                continue;
            };
            if let Ok(m) = &result {
                let now = (Instant::now(), m.request_seconds.sum);
                if let Some(v) = r.busy.and_then(|before| inflight(before, now)) {
                    r.inflight = Some(v);
                }
                r.busy = Some(now);
            }
            if !r.ready {
                // a replica still loading its model has nothing to show yet
                continue;
            }
            let _ = self.events.send(AppEvent::Scrape(ScrapeResult {
                pod: (NAMESPACE.to_string(), r.name.clone()),
                at: Timestamp::now(),
                result,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::inflight;

    #[test]
    fn inflight_is_busy_seconds_per_second() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(inflight((t0, 10.0), (t1, 13.0)), Some(1.5));
        assert_eq!(inflight((t0, 10.0), (t0, 13.0)), None);
        // a restarted counter counts from zero
        assert_eq!(inflight((t0, 10.0), (t1, 1.0)), Some(0.5));
    }
}
