//! The Mann–Whitney U test between the canary's and the stable's latencies in one window,
//! known only as histogram buckets.
//!
//! All observations in one bucket are tied: each bucket's observations, from both revisions,
//! share the mid-rank of the bucket's rank range. The statistic, the tie correction and the
//! normal approximation with continuity correction are those of
//! `scipy.stats.mannwhitneyu(canary, stable, method='asymptotic', use_continuity=True)`
//! (checked against it in the tests, on samples expanded from the same buckets).
use std::fmt;

use serde::Serialize;

use crate::histogram::{Bucket, normalize};
use crate::normal;
use crate::revision::Revision;

/// The test's numbers when both revisions had observations in at least two distinct buckets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankTest {
    pub n_canary: f64,
    pub n_stable: f64,
    /// The canary's U: pairs (canary, stable) where the canary's latency is higher, a tie
    /// counting ½. scipy's `statistic` with x = canary.
    pub u: f64,
    /// `u / (n_canary · n_stable)`: P(canary slower) + P(tie)/2, the common-language effect
    /// size (probability of superiority, Vargha–Delaney A). 0.5: no difference.
    pub effect: f64,
    /// The standardized U for "the canary is slower", tie- and continuity-corrected.
    pub z: f64,
    /// One-sided p-value, alternative: the canary's latencies are stochastically greater.
    pub p_greater: f64,
    /// Two-sided p-value.
    pub p_two_sided: f64,
}

/// What the buckets allow to say.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MannWhitney {
    Tested(RankTest),
    /// Every observation of both revisions fell in one bucket (upper bound `le`; `null` in
    /// JSON for +Inf): no variance, no difference the buckets can show. U is n₁n₂/2 and the
    /// effect 0.5; scipy answers p = 1 here.
    AllTied {
        n_canary: f64,
        n_stable: f64,
        le: f64,
    },
    /// A revision had no observations in the window (the flag is true for it).
    Empty {
        canary: bool,
        stable: bool,
    },
}

/// Buckets that cannot be compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum BucketsError {
    /// No `+Inf` bucket (or no buckets): the total count is unknown.
    NoInfBucket { revision: Revision },
    /// The two revisions' bucket bounds differ (e.g. the new version changed its histogram).
    BoundsDiffer { canary: Vec<f64>, stable: Vec<f64> },
    /// A bucket count that is not a whole number (counts of observations are).
    FractionalCount {
        revision: Revision,
        le: f64,
        count: f64,
    },
    /// More observations than f64 counts exactly (2⁵³): not a real window.
    TooManyObservations { revision: Revision, count: f64 },
}

impl fmt::Display for BucketsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketsError::NoInfBucket { revision } => {
                write!(f, "the {revision}'s latency histogram has no +Inf bucket")
            }
            BucketsError::BoundsDiffer { canary, stable } => write!(
                f,
                "the revisions' latency buckets differ: canary le={canary:?}, stable le={stable:?}"
            ),
            BucketsError::FractionalCount {
                revision,
                le,
                count,
            } => write!(
                f,
                "the {revision}'s latency bucket le={le} counts {count}, not a whole number"
            ),
            BucketsError::TooManyObservations { revision, count } => write!(
                f,
                "the {revision}'s latency histogram counts {count} observations, more than 2^53"
            ),
        }
    }
}

impl std::error::Error for BucketsError {}

/// 2⁵³: every whole number up to it is an f64.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Observations per bucket (not cumulative): `(le, count)`, sorted by `le`, ending at +Inf.
fn per_bucket(buckets: &[Bucket], revision: Revision) -> Result<Vec<(f64, f64)>, BucketsError> {
    let bs = normalize(buckets);
    if bs.last().map(|b| b.le) != Some(f64::INFINITY) {
        return Err(BucketsError::NoInfBucket { revision });
    }
    let total = bs.last().map_or(0.0, |b| b.count);
    if total > MAX_EXACT {
        return Err(BucketsError::TooManyObservations {
            revision,
            count: total,
        });
    }
    let mut below = 0.0;
    let mut out = Vec::with_capacity(bs.len());
    for b in bs {
        if b.count.fract() != 0.0 {
            return Err(BucketsError::FractionalCount {
                revision,
                le: b.le,
                count: b.count,
            });
        }
        out.push((b.le, b.count - below));
        below = b.count;
    }
    Ok(out)
}

/// The test of "the canary is slower than the stable" on one window's cumulative buckets
/// (bucket deltas, e.g. from [`crate::histogram::window`]; any order, duplicates summed, as
/// [`crate::histogram::quantile`] reads them). The two must have the same bounds.
pub fn mann_whitney(canary: &[Bucket], stable: &[Bucket]) -> Result<MannWhitney, BucketsError> {
    let c = per_bucket(canary, Revision::Canary)?;
    let s = per_bucket(stable, Revision::Stable)?;
    if c.len() != s.len() || c.iter().zip(&s).any(|(a, b)| a.0 != b.0) {
        return Err(BucketsError::BoundsDiffer {
            canary: c.iter().map(|b| b.0).collect(),
            stable: s.iter().map(|b| b.0).collect(),
        });
    }
    let n1: f64 = c.iter().map(|b| b.1).sum();
    let n2: f64 = s.iter().map(|b| b.1).sum();
    if n1 <= 0.0 || n2 <= 0.0 {
        return Ok(MannWhitney::Empty {
            canary: n1 <= 0.0,
            stable: n2 <= 0.0,
        });
    }
    let mut used = c.iter().zip(&s).filter(|(a, b)| a.1 + b.1 > 0.0);
    if let (Some((only, _)), None) = (used.next(), used.next()) {
        return Ok(MannWhitney::AllTied {
            n_canary: n1,
            n_stable: n2,
            le: only.0,
        });
    }
    // U₁ = R₁ − n₁(n₁+1)/2 = Σ cᵢ·(stable below bucket i + sᵢ/2): the same number as from
    // the mid-ranks, without subtracting two large sums.
    // The tie-corrected variance n₁n₂/12·((n+1) − Σ(tᵢ³−tᵢ)/(n(n−1))) equals
    // n₁n₂/12·(n³ − Σtᵢ³)/(n(n−1)), and n³ − Σtᵢ³ = Σ 3·Pᵢ·tᵢ·(Pᵢ+tᵢ) with Pᵢ the count of
    // both revisions below bucket i: a sum of non-negative terms, zero only when all tie.
    let (mut u, mut stable_below, mut all_below, mut spread) = (0.0, 0.0, 0.0, 0.0);
    for ((_, ci), (_, si)) in c.iter().zip(&s) {
        u += ci * (stable_below + si / 2.0);
        let t = ci + si;
        spread += 3.0 * all_below * t * (all_below + t);
        stable_below += si;
        all_below += t;
    }
    let n = n1 + n2;
    let sd = (n1 * n2 / 12.0 * spread / (n * (n - 1.0))).sqrt();
    let mu = n1 * n2 / 2.0;
    // scipy subtracts the continuity correction ½ in both directions (its p is always an
    // upper tail); the two-sided statistic is max(U₁, U₂) = mu + |U₁ − mu|.
    let z = (u - mu - 0.5) / sd;
    let z_two = ((u - mu).abs() - 0.5) / sd;
    Ok(MannWhitney::Tested(RankTest {
        n_canary: n1,
        n_stable: n2,
        u,
        effect: u / (n1 * n2),
        z,
        p_greater: normal::sf(z).clamp(0.0, 1.0),
        p_two_sided: (2.0 * normal::sf(z_two)).clamp(0.0, 1.0),
    }))
}

#[cfg(test)]
mod tests;
