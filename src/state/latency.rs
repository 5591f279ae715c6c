//! Latency per revision from the pods' scrapes: for each revision, the pods' bucket
//! deltas between their last two scrapes summed per `le`, then quantiles.
use std::collections::BTreeMap;

use super::{PodScrape, State};
use crate::metrics::histogram::{Bucket, Quantile, deltas, quantile};
use crate::metrics::rate::increase;
use crate::model::Key;
use crate::scrape::SumCount;

#[derive(Debug, Clone, PartialEq)]
pub struct RevisionLatency {
    pub revision: Option<i64>,
    /// Versions the servers report (`tractor_model_info`), comma-separated when mixed.
    pub versions: String,
    pub pods: usize,
    /// Pods whose last scrape failed, with the error of one of them.
    pub failing: usize,
    pub last_error: Option<crate::scrape::ScrapeError>,
    pub requests: f64,
    pub rps: Option<f64>,
    pub errors: f64,
    pub rejected: f64,
    pub p50: Quantile,
    pub p90: Quantile,
    pub p99: Quantile,
}

/// What a group of scrape targets' last windows (the two newest scrapes of each) add up
/// to: bucket deltas summed per `le`, counter increases, and histogram means.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub targets: usize,
    pub buckets: Vec<Bucket>,
    pub requests: f64,
    pub errors: f64,
    pub rejected: f64,
    /// The longest window among the targets, in seconds.
    pub secs: f64,
    pub queue_wait: SumCount,
    pub inference: SumCount,
    pub batch_size: SumCount,
    /// In-flight requests at the last scrapes, summed.
    pub inflight: f64,
    pub versions: Vec<String>,
    pub failing: usize,
    pub last_error: Option<crate::scrape::ScrapeError>,
}

fn delta(a: SumCount, b: SumCount) -> SumCount {
    SumCount {
        sum: increase(a.sum, b.sum),
        count: increase(a.count, b.count),
    }
}

fn plus(x: &mut SumCount, d: SumCount) {
    x.sum += d.sum;
    x.count += d.count;
}

fn mean(sc: SumCount) -> Option<f64> {
    (sc.count > 0.0).then(|| sc.sum / sc.count)
}

impl Window {
    pub fn add(&mut self, sc: &PodScrape) {
        self.targets += 1;
        if let Some(e) = &sc.error {
            self.failing += 1;
            self.last_error = Some(e.clone());
        }
        if let Some((_, m)) = &sc.last {
            self.inflight += m.inflight;
            if let Some(v) = &m.version
                && !self.versions.contains(v)
            {
                self.versions.push(v.clone());
                self.versions.sort();
            }
        }
        if let (Some((t0, a)), Some((t1, b))) = (&sc.prev, &sc.last) {
            self.buckets.extend(deltas(&a.latency, &b.latency));
            self.requests += increase(a.requests, b.requests);
            self.errors += increase(a.errors, b.errors);
            self.rejected += increase(a.rejected, b.rejected);
            plus(&mut self.queue_wait, delta(a.queue_wait, b.queue_wait));
            plus(&mut self.inference, delta(a.inference, b.inference));
            plus(&mut self.batch_size, delta(a.batch_size, b.batch_size));
            let secs = (t1.as_millisecond() - t0.as_millisecond()) as f64 / 1000.0;
            self.secs = self.secs.max(secs);
        }
    }

    /// Adds another group's window (its figures, not its targets' errors or versions).
    pub fn merge(&mut self, o: &Window) {
        self.buckets.extend(o.buckets.iter().copied());
        self.requests += o.requests;
        self.errors += o.errors;
        self.rejected += o.rejected;
        self.secs = self.secs.max(o.secs);
        plus(&mut self.queue_wait, o.queue_wait);
        plus(&mut self.inference, o.inference);
        plus(&mut self.batch_size, o.batch_size);
        self.inflight += o.inflight;
    }

    pub fn of<'a>(scrapes: impl IntoIterator<Item = &'a PodScrape>) -> Window {
        let mut w = Window::default();
        for sc in scrapes {
            w.add(sc);
        }
        w
    }

    /// No traffic in the window is no data, never NaN.
    pub fn quantile(&self, q: f64) -> Quantile {
        if self.buckets.is_empty() {
            Quantile::NoData
        } else {
            quantile(q, &self.buckets)
        }
    }

    pub fn rps(&self) -> Option<f64> {
        (self.secs > 0.0).then(|| self.requests / self.secs)
    }

    /// Share of answers that were 5xx other than 503.
    pub fn error_share(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }

    /// Mean queue wait and mean batch execution, in ms; mean rows per batch.
    pub fn queue_ms(&self) -> Option<f64> {
        mean(self.queue_wait).map(|s| s * 1000.0)
    }
    pub fn inference_ms(&self) -> Option<f64> {
        mean(self.inference).map(|s| s * 1000.0)
    }
    pub fn batch(&self) -> Option<f64> {
        mean(self.batch_size)
    }

    pub fn versions_label(&self) -> String {
        if self.versions.is_empty() {
            "-".into()
        } else {
            self.versions.join(",")
        }
    }
}

/// Newest revision first; only revisions with at least one scraped pod.
pub fn by_revision(s: &State, deployment: &Key) -> Vec<RevisionLatency> {
    match super::rows::detail(s, deployment) {
        Some(det) => of_detail(s, &det),
        None => vec![],
    }
}

/// The same from a detail already gathered (the detail view has one per frame).
pub fn of_detail(s: &State, det: &super::rows::Detail<'_>) -> Vec<RevisionLatency> {
    let mut groups: BTreeMap<std::cmp::Reverse<Option<i64>>, Window> = BTreeMap::new();
    for (p, rev) in &det.pods {
        if let Some(sc) = s.scrapes.get(&crate::model::key(&p.metadata)) {
            groups.entry(std::cmp::Reverse(*rev)).or_default().add(sc);
        }
    }
    groups
        .into_iter()
        .map(|(std::cmp::Reverse(revision), w)| RevisionLatency {
            revision,
            versions: w.versions_label(),
            pods: w.targets,
            failing: w.failing,
            last_error: w.last_error.clone(),
            requests: w.requests,
            rps: w.rps(),
            errors: w.errors,
            rejected: w.rejected,
            p50: w.quantile(0.5),
            p90: w.quantile(0.9),
            p99: w.quantile(0.99),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::PodMetrics;
    use jiff::Timestamp;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn m(requests: f64, q: (f64, f64), batch: (f64, f64), le1: f64, inf: f64) -> PodMetrics {
        PodMetrics {
            version: Some("v1".into()),
            latency: vec![
                Bucket {
                    le: 0.01,
                    count: le1,
                },
                Bucket {
                    le: f64::INFINITY,
                    count: inf,
                },
            ],
            requests,
            queue_wait: SumCount {
                sum: q.0,
                count: q.1,
            },
            batch_size: SumCount {
                sum: batch.0,
                count: batch.1,
            },
            inflight: 2.0,
            ..PodMetrics::default()
        }
    }

    #[test]
    fn window_sums_pods_and_takes_means_of_deltas() {
        // pod a: 100 → 300 requests over 10 s; queue 1 s/100 → 3 s/300 (2 s over 200 = 10 ms)
        let a = PodScrape {
            prev: Some((at(0), m(100.0, (1.0, 100.0), (100.0, 50.0), 100.0, 100.0))),
            last: Some((at(10), m(300.0, (3.0, 300.0), (300.0, 100.0), 300.0, 300.0))),
            error: None,
        };
        // pod b restarted: its counters went down, so the increase is the new value
        let b = PodScrape {
            prev: Some((at(0), m(500.0, (9.0, 500.0), (500.0, 250.0), 500.0, 500.0))),
            last: Some((at(5), m(50.0, (0.5, 50.0), (50.0, 50.0), 40.0, 50.0))),
            error: Some(
                crate::scrape::fetch::FetchError::Timeout(std::time::Duration::from_secs(2)).into(),
            ),
        };
        let w = Window::of([&a, &b]);
        assert_eq!(w.targets, 2);
        assert_eq!(w.requests, 250.0);
        assert_eq!(w.secs, 10.0);
        assert_eq!(w.rps(), Some(25.0));
        // (2 + 0.5) s over (200 + 50) waits = 10 ms
        assert!((w.queue_ms().unwrap() - 10.0).abs() < 1e-9);
        // (200 + 50) rows over (50 + 50) batches
        assert_eq!(w.batch(), Some(2.5));
        assert_eq!(w.inference_ms(), None, "no batches measured: no data");
        assert_eq!(w.inflight, 4.0);
        let last_error = w.last_error.as_ref().map(|e| e.to_string());
        assert_eq!(
            (w.failing, last_error.as_deref()),
            (1, Some("timed out after 2s"))
        );
        // 240 of 250 under 10 ms
        assert!(matches!(w.quantile(0.5), Quantile::Value(v) if v > 0.0 && v <= 0.01));
        assert_eq!(w.versions_label(), "v1");
    }

    #[test]
    fn a_single_scrape_is_no_data() {
        let a = PodScrape {
            prev: None,
            last: Some((at(0), m(100.0, (1.0, 1.0), (1.0, 1.0), 1.0, 1.0))),
            error: None,
        };
        let w = Window::of([&a]);
        assert_eq!(w.quantile(0.99), Quantile::NoData);
        assert_eq!((w.rps(), w.error_share(), w.queue_ms()), (None, None, None));
    }
}
