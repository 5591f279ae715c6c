//! Absolute SLO conditions of a canary (`p99<250ms`, `p50<=10ms`, `errors<1%`): parsed,
//! printed back as written, and checked against one window of the canary.
use std::fmt;

use serde::{Serialize, Serializer};

use crate::histogram::{Bucket, Quantile, quantile};
use crate::proportions::Counts;
use crate::revision::Revision;

mod parse;
pub use parse::SloError;

/// A condition on the canary's window; only upper bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slo {
    /// A latency quantile below a bound, e.g. `p99<250ms`.
    Latency {
        percentile: Percentile,
        cmp: Cmp,
        bound: Latency,
    },
    /// The error rate (5xx other than 503, over requests) below a percentage, e.g. `errors<1%`.
    Errors { cmp: Cmp, percent: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Cmp {
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Cmp::Lt => value < bound,
            Cmp::Le => value <= bound,
        }
    }
}

/// A quantile given as a percentile with up to four decimals (`p99`, `p99.95`), kept in
/// parts per million so that the data it needs is computed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percentile {
    ppm: u32,
}

impl Percentile {
    /// 0 < ppm < 1,000,000 (p0 and p100 are not quantiles a window can judge).
    pub fn from_ppm(ppm: u32) -> Option<Self> {
        (ppm > 0 && ppm < 1_000_000).then_some(Percentile { ppm })
    }
    pub fn ppm(self) -> u32 {
        self.ppm
    }
    /// The quantile q, e.g. 0.99 for p99.
    pub fn q(self) -> f64 {
        f64::from(self.ppm) / 1e6
    }
    /// ⌈10 / (1 − q)⌉: the observations for about ten above the quantile (1,000 for p99,
    /// 20 for p50), computed in whole numbers.
    pub fn min_observations(self) -> u64 {
        let above = 1_000_000 - u64::from(self.ppm);
        10_000_000_u64.div_ceil(above)
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.ppm / 10_000, self.ppm % 10_000);
        if frac == 0 {
            write!(f, "p{whole}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "p{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// A latency bound as written: value and unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub value: f64,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Ns,
    Us,
    Ms,
    S,
}

impl TimeUnit {
    const ALL: [(&'static str, TimeUnit); 6] = [
        ("ns", TimeUnit::Ns),
        ("us", TimeUnit::Us),
        ("µs", TimeUnit::Us),
        ("μs", TimeUnit::Us),
        ("ms", TimeUnit::Ms),
        ("s", TimeUnit::S),
    ];
    fn per_second(self) -> f64 {
        match self {
            TimeUnit::Ns => 1e9,
            TimeUnit::Us => 1e6,
            TimeUnit::Ms => 1e3,
            TimeUnit::S => 1.0,
        }
    }
    fn name(self) -> &'static str {
        match self {
            TimeUnit::Ns => "ns",
            TimeUnit::Us => "us",
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
        }
    }
}

impl Latency {
    pub fn seconds(self) -> f64 {
        self.value / self.unit.per_second()
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = |c: &Cmp| match c {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        };
        match self {
            Slo::Latency {
                percentile,
                cmp,
                bound,
            } => write!(
                f,
                "{percentile}{}{}{}",
                op(cmp),
                bound.value,
                bound.unit.name()
            ),
            Slo::Errors { cmp, percent } => write!(f, "errors{}{percent}%", op(cmp)),
        }
    }
}

/// As its text, e.g. `"p99<250ms"`.
impl Serialize for Slo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The value an SLO was checked on: seconds for latency, a fraction for errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Observed {
    /// The estimate (a quantile interpolated inside its bucket, or the error rate).
    Value(f64),
    /// The quantile is above this, the highest finite bucket bound.
    Above(f64),
}

/// Why an SLO could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Unknown {
    NoRequests,
    /// The counts are not counts (see [`Counts::check`]).
    InvalidCounts,
    /// The latency histogram had no observations in the window.
    NoObservations,
    /// The quantile is above the highest finite bucket bound, which is below the SLO's bound.
    AboveHighestBound(f64),
    /// The buckets cannot answer (see [`Quantile::Invalid`]).
    Histogram(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SloOutcome {
    Met { observed: Observed },
    Violated { observed: Observed },
    Unknown { why: Unknown },
}

impl Slo {
    /// The canary's requests a window needs before this condition can be judged.
    pub fn min_requests(&self) -> u64 {
        match self {
            Slo::Latency { percentile, .. } => percentile.min_observations(),
            Slo::Errors { .. } => 1,
        }
    }

    /// The condition on the canary's window: its latency bucket deltas and counts.
    pub fn check(&self, latency: &[Bucket], counts: Counts) -> SloOutcome {
        match *self {
            Slo::Errors { cmp, percent } => {
                if counts.check(Revision::Canary).is_err() {
                    return SloOutcome::Unknown {
                        why: Unknown::InvalidCounts,
                    };
                }
                let Some(rate) = counts.rate() else {
                    return SloOutcome::Unknown {
                        why: Unknown::NoRequests,
                    };
                };
                // errors/requests vs percent/100 without rounding either side
                let observed = Observed::Value(rate);
                if cmp.holds(counts.errors * 100.0, percent * counts.requests) {
                    SloOutcome::Met { observed }
                } else {
                    SloOutcome::Violated { observed }
                }
            }
            Slo::Latency {
                percentile,
                cmp,
                bound,
            } => {
                let bound = bound.seconds();
                match quantile(percentile.q(), latency) {
                    Quantile::Value(v) if cmp.holds(v, bound) => SloOutcome::Met {
                        observed: Observed::Value(v),
                    },
                    Quantile::Value(v) => SloOutcome::Violated {
                        observed: Observed::Value(v),
                    },
                    // the quantile is above `le`: at or past the bound fails either way
                    Quantile::AboveHighestBound(le) if le >= bound => SloOutcome::Violated {
                        observed: Observed::Above(le),
                    },
                    Quantile::AboveHighestBound(le) => SloOutcome::Unknown {
                        why: Unknown::AboveHighestBound(le),
                    },
                    Quantile::NoData => SloOutcome::Unknown {
                        why: Unknown::NoObservations,
                    },
                    Quantile::Invalid(why) => SloOutcome::Unknown {
                        why: Unknown::Histogram(why),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
