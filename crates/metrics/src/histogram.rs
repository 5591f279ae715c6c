//! Quantiles of Prometheus histograms, computed exactly as
//! `histogram_quantile(q, sum by (le) (increase(metric_bucket[…])))` over two scrapes.
use std::collections::BTreeMap;

use serde::Serialize;

use super::rate::increase;

/// One cumulative bucket: observations ≤ `le`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub le: f64,
    pub count: f64,
}

/// Serialized as `{"kind": "value", "value": 0.012}`, `{"kind": "no_data"}`, …
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Quantile {
    /// Linear interpolation inside the bucket holding the rank.
    Value(f64),
    /// The rank fell in the `+Inf` bucket: the answer is the highest finite bound, and
    /// the true value is above it.
    AboveHighestBound(f64),
    /// No observations in the window (never NaN).
    NoData,
    /// The buckets cannot answer (no `+Inf` bucket, fewer than two buckets, q outside 0..=1).
    Invalid(&'static str),
}

impl Quantile {
    /// The number to plot, if any.
    pub fn value(self) -> Option<f64> {
        match self {
            Quantile::Value(v) | Quantile::AboveHighestBound(v) => Some(v),
            _ => None,
        }
    }
}

/// The quantile `q` of cumulative `buckets` (any order; duplicates summed).
pub fn quantile(q: f64, buckets: &[Bucket]) -> Quantile {
    if !(0.0..=1.0).contains(&q) {
        return Quantile::Invalid("q must be within 0..=1");
    }
    let bs = normalize(buckets);
    if bs.len() < 2 {
        return Quantile::Invalid("fewer than two buckets");
    }
    if bs.last().map(|b| b.le) != Some(f64::INFINITY) {
        return Quantile::Invalid("no +Inf bucket");
    }
    let total = bs[bs.len() - 1].count;
    if total <= 0.0 {
        return Quantile::NoData;
    }
    let rank = q * total;
    let i = bs
        .iter()
        .position(|b| b.count >= rank)
        .unwrap_or(bs.len() - 1);
    if i == bs.len() - 1 {
        return Quantile::AboveHighestBound(bs[bs.len() - 2].le);
    }
    if i == 0 && bs[0].le <= 0.0 {
        return Quantile::Value(bs[0].le);
    }
    let (start, below) = if i == 0 {
        (0.0, 0.0)
    } else {
        (bs[i - 1].le, bs[i - 1].count)
    };
    let end = bs[i].le;
    let in_bucket = bs[i].count - below;
    // a bucket above a `le="-Inf"` one has no finite start to interpolate from: its upper
    // bound is the only sound answer (interpolating gives -Inf + Inf·x = NaN)
    if in_bucket <= 0.0 || !start.is_finite() {
        return Quantile::Value(end);
    }
    Quantile::Value(start + (end - start) * ((rank - below) / in_bucket))
}

/// Buckets as the quantile and the canary's rank test read them: summed per `le` (NaN
/// bounds dropped, non-finite counts as 0), sorted by `le`, and cumulative counts made
/// non-decreasing (scrapes taken mid-update can break that; Prometheus's ensureMonotonic).
pub fn normalize(buckets: &[Bucket]) -> Vec<Bucket> {
    let mut merged: BTreeMap<OrdF64, f64> = BTreeMap::new();
    for b in buckets {
        if b.le.is_nan() {
            continue;
        }
        *merged.entry(OrdF64(b.le)).or_insert(0.0) +=
            if b.count.is_finite() { b.count } else { 0.0 };
    }
    let mut max = 0.0f64;
    merged
        .into_iter()
        .map(|(le, count)| {
            max = max.max(count);
            Bucket {
                le: le.0,
                count: max,
            }
        })
        .collect()
}

/// Per-`le` deltas between two scrapes of one series (resets handled like counters).
pub fn deltas(prev: &[Bucket], cur: &[Bucket]) -> Vec<Bucket> {
    cur.iter()
        .map(|c| {
            let p = prev
                .iter()
                .find(|p| p.le == c.le)
                .map(|p| p.count)
                .unwrap_or(0.0);
            Bucket {
                le: c.le,
                count: increase(p, c.count),
            }
        })
        .collect()
}

/// Sum over series (pods) per `le` of each series' deltas: the window's histogram.
pub fn window<'a>(series: impl IntoIterator<Item = (&'a [Bucket], &'a [Bucket])>) -> Vec<Bucket> {
    series.into_iter().flat_map(|(p, c)| deltas(p, c)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

#[cfg(test)]
mod tests;
