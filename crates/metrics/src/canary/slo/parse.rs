//! SLO texts (`p99<250ms`, `p50<=10ms`, `errors<1%`) into [`Slo`]s, with errors naming
//! what was wrong.
use std::fmt;
use std::str::FromStr;

use super::{Cmp, Latency, Percentile, Slo, TimeUnit};

/// What was wrong with an SLO's text; each names the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SloError {
    Empty,
    /// No `<` or `<=` (a `>` or `=` bound is not an SLO on latency or errors).
    NoUpperBound {
        slo: String,
    },
    /// Neither `errors` nor a percentile like `p99`.
    UnknownMetric {
        slo: String,
        metric: String,
    },
    /// `p` followed by something other than a number in 0 < n < 100 with ≤ 4 decimals.
    BadPercentile {
        slo: String,
        percentile: String,
    },
    BadNumber {
        slo: String,
        number: String,
    },
    /// A latency bound without one of ns, us (µs), ms, s.
    LatencyUnit {
        slo: String,
        unit: String,
    },
    /// An error bound without `%`.
    ErrorsUnit {
        slo: String,
        unit: String,
    },
    /// A negative bound, one no window can meet (`<0`), or an error rate above 100%.
    OutOfRange {
        slo: String,
        why: &'static str,
    },
}

impl fmt::Display for SloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SloError::Empty => f.write_str("empty SLO (write e.g. p99<250ms or errors<1%)"),
            SloError::NoUpperBound { slo } => {
                write!(f, "SLO {slo:?}: needs an upper bound with < or <=")
            }
            SloError::UnknownMetric { slo, metric } => write!(
                f,
                "SLO {slo:?}: unknown metric {metric:?} (a percentile like p99, or errors)"
            ),
            SloError::BadPercentile { slo, percentile } => write!(
                f,
                "SLO {slo:?}: bad percentile {percentile:?} (p followed by a number between 0 and 100, at most 4 decimals)"
            ),
            SloError::BadNumber { slo, number } => {
                write!(f, "SLO {slo:?}: bad number {number:?}")
            }
            SloError::LatencyUnit { slo, unit } => write!(
                f,
                "SLO {slo:?}: latency unit {unit:?} is not one of ns, us, µs, ms, s"
            ),
            SloError::ErrorsUnit { slo, unit } => write!(
                f,
                "SLO {slo:?}: an error bound is a percentage (e.g. errors<1%), not {unit:?}"
            ),
            SloError::OutOfRange { slo, why } => write!(f, "SLO {slo:?}: {why}"),
        }
    }
}

impl std::error::Error for SloError {}

fn parse_percentile(slo: &str, text: &str) -> Result<Percentile, SloError> {
    let bad = || SloError::BadPercentile {
        slo: slo.to_string(),
        percentile: text.to_string(),
    };
    let digits = text.strip_prefix('p').ok_or_else(bad)?;
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 2 || !all_digits(whole) {
        return Err(bad());
    }
    if frac.len() > 4 || !all_digits(frac) || (digits.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<4}").parse().map_err(|_| bad())?;
    Percentile::from_ppm(whole * 10_000 + frac).ok_or_else(bad)
}

impl FromStr for Slo {
    type Err = SloError;

    fn from_str(text: &str) -> Result<Self, SloError> {
        let slo = text.trim();
        if slo.is_empty() {
            return Err(SloError::Empty);
        }
        let no_bound = || SloError::NoUpperBound {
            slo: slo.to_string(),
        };
        let at = slo.find(['<', '>', '=', '≤', '≥']).ok_or_else(no_bound)?;
        let (metric, rest) = (slo[..at].trim().to_ascii_lowercase(), &slo[at..]);
        let (cmp, rest) = if let Some(r) = rest.strip_prefix("<=") {
            (Cmp::Le, r)
        } else if let Some(r) = rest.strip_prefix('≤') {
            (Cmp::Le, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Cmp::Lt, r)
        } else {
            return Err(no_bound());
        };
        let percentile = match metric.as_str() {
            "errors" => None,
            m if m.starts_with('p') => Some(parse_percentile(slo, m)?),
            _ => {
                return Err(SloError::UnknownMetric {
                    slo: slo.to_string(),
                    metric,
                });
            }
        };
        let rest = rest.trim();
        let split = rest
            .find(|c: char| c.is_alphabetic() || c == '%')
            .unwrap_or(rest.len());
        let (number, unit) = (rest[..split].trim(), rest[split..].trim());
        let value = number
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| SloError::BadNumber {
                slo: slo.to_string(),
                number: number.to_string(),
            })?;
        let out_of_range = |why| SloError::OutOfRange {
            slo: slo.to_string(),
            why,
        };
        if value < 0.0 {
            return Err(out_of_range("a bound is not negative"));
        }
        if cmp == Cmp::Lt && value == 0.0 {
            return Err(out_of_range("no window is below 0"));
        }
        let Some(percentile) = percentile else {
            if unit != "%" {
                return Err(SloError::ErrorsUnit {
                    slo: slo.to_string(),
                    unit: unit.to_string(),
                });
            }
            if value > 100.0 {
                return Err(out_of_range("an error rate is at most 100%"));
            }
            return Ok(Slo::Errors {
                cmp,
                percent: value,
            });
        };
        let unit = TimeUnit::ALL
            .iter()
            .find(|(name, _)| unit.eq_ignore_ascii_case(name))
            .map(|&(_, u)| u)
            .ok_or_else(|| SloError::LatencyUnit {
                slo: slo.to_string(),
                unit: unit.to_string(),
            })?;
        Ok(Slo::Latency {
            percentile,
            cmp,
            bound: Latency { value, unit },
        })
    }
}
