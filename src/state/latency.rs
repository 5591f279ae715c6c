//! Latency per revision from the pods' scrapes: for each revision, the pods' bucket
//! deltas between their last two scrapes summed per `le`, then quantiles.
use std::collections::BTreeMap;

use super::State;
use crate::metrics::histogram::{Bucket, Quantile, deltas, quantile};
use crate::metrics::rate::increase;
use crate::model::Key;

#[derive(Debug, Clone, PartialEq)]
pub struct RevisionLatency {
    pub revision: Option<i64>,
    /// Versions the servers report (`tractor_model_info`), comma-separated when mixed.
    pub versions: String,
    pub pods: usize,
    /// Pods whose last scrape failed, with the error of one of them.
    pub failing: usize,
    pub last_error: Option<String>,
    pub requests: f64,
    pub rps: Option<f64>,
    pub errors: f64,
    pub rejected: f64,
    pub p50: Quantile,
    pub p90: Quantile,
    pub p99: Quantile,
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
    let mut groups: BTreeMap<std::cmp::Reverse<Option<i64>>, Vec<&Key>> = BTreeMap::new();
    let keys: Vec<(Key, Option<i64>)> = det
        .pods
        .iter()
        .map(|(p, rev)| (crate::model::key(&p.metadata), *rev))
        .collect();
    for (k, rev) in &keys {
        if s.scrapes.contains_key(k) {
            groups.entry(std::cmp::Reverse(*rev)).or_default().push(k);
        }
    }
    groups
        .into_iter()
        .map(|(std::cmp::Reverse(revision), pods)| {
            let mut window: Vec<Bucket> = Vec::new();
            let (mut requests, mut errors, mut rejected, mut secs) = (0.0, 0.0, 0.0, 0.0f64);
            let mut versions: Vec<String> = Vec::new();
            let (mut failing, mut last_error) = (0, None);
            for k in &pods {
                let sc = &s.scrapes[*k];
                if let Some(e) = &sc.error {
                    failing += 1;
                    last_error = Some(e.clone());
                }
                if let Some((_, m)) = &sc.last
                    && let Some(v) = &m.version
                    && !versions.contains(v)
                {
                    versions.push(v.clone());
                }
                if let (Some((t0, a)), Some((t1, b))) = (&sc.prev, &sc.last) {
                    window.extend(deltas(&a.latency, &b.latency));
                    requests += increase(a.requests, b.requests);
                    errors += increase(a.errors, b.errors);
                    rejected += increase(a.rejected, b.rejected);
                    secs = secs.max((t1.as_millisecond() - t0.as_millisecond()) as f64 / 1000.0);
                }
            }
            versions.sort();
            let q = |x| {
                if window.is_empty() {
                    Quantile::NoData
                } else {
                    quantile(x, &window)
                }
            };
            RevisionLatency {
                revision,
                versions: if versions.is_empty() {
                    "-".into()
                } else {
                    versions.join(",")
                },
                pods: pods.len(),
                failing,
                last_error,
                requests,
                rps: (secs > 0.0).then(|| requests / secs),
                errors,
                rejected,
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
            }
        })
        .collect()
}
