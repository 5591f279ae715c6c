//! The monitor charts' y axes, as pure functions: a linear axis with a round top, an
//! integer one (replica counts: no "2.5 replicas" label), and a log axis in decades, so
//! revisions 0.4 ms apart stay apart when another one spikes to 100 ms.

/// How a chart's y values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Whole numbers: the top and the middle label are integers.
    Integer,
    /// Decades (…, 0.1, 1, 10, …); values ≤ 0 sit on the bottom line.
    Log,
}

/// A y axis: what is plotted is `plot(v)` between `bounds`, labelled `labels` (evenly
/// spaced from bottom to top).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub scale: Scale,
    pub bounds: [f64; 2],
    pub labels: Vec<String>,
}

/// At most this many decades on a log axis: below that, values are pinned to the bottom.
const MAX_DECADES: i32 = 5;

impl Axis {
    /// The axis for `values` (any order; non-finite ignored) reaching at least `min_top`.
    pub fn fit(scale: Scale, values: impl IntoIterator<Item = f64>, min_top: f64) -> Axis {
        let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let top = values.iter().copied().fold(min_top, f64::max);
        match scale {
            Scale::Linear => {
                let max = nice_max(top);
                Axis {
                    scale,
                    bounds: [0.0, max],
                    labels: vec!["0".into(), fmt(max / 2.0), fmt(max)],
                }
            }
            Scale::Integer => {
                let mut max = nice_max(top).ceil().max(2.0);
                if max % 2.0 != 0.0 {
                    max += 1.0;
                }
                Axis {
                    scale,
                    bounds: [0.0, max],
                    labels: vec!["0".into(), fmt(max / 2.0), fmt(max)],
                }
            }
            Scale::Log => {
                let hi = decade_above(top);
                let lowest = values
                    .iter()
                    .copied()
                    .filter(|v| *v > 0.0)
                    .fold(f64::INFINITY, f64::min);
                let lo = if lowest.is_finite() {
                    decade_below(lowest).clamp(hi - MAX_DECADES, hi - 1)
                } else {
                    hi - 1
                };
                Axis {
                    scale,
                    bounds: [f64::from(lo), f64::from(hi)],
                    labels: (lo..=hi).map(|d| fmt(10f64.powi(d))).collect(),
                }
            }
        }
    }

    /// Where `v` is drawn on this axis (inside the bounds).
    pub fn plot(&self, v: f64) -> f64 {
        let y = match self.scale {
            Scale::Log if v > 0.0 => v.log10(),
            Scale::Log => self.bounds[0],
            _ => v,
        };
        y.clamp(self.bounds[0], self.bounds[1])
    }
}

/// The exponent of the smallest power of ten ≥ `v` (and > `v` when `v` is one already,
/// so the top value is not drawn on the border).
fn decade_above(v: f64) -> i32 {
    if v <= 0.0 || !v.is_finite() {
        return 0;
    }
    let e = v.log10().floor() as i32 + 1;
    // 10^e is above v; one decade less may still be (v a little below a power of ten)
    if 10f64.powi(e - 1) > v * 1.02 {
        e - 1
    } else {
        e
    }
}

/// The exponent of the largest power of ten ≤ `v`.
fn decade_below(v: f64) -> i32 {
    // a hair of tolerance: 0.1 is 0.1000…01 in binary and must give -1, not -2
    (v.log10() + 1e-9).floor() as i32
}

/// A bound a little above `v`, with a short label.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0] {
        if m * mag >= v * 1.02 {
            return m * mag;
        }
    }
    20.0 * mag
}

/// `150`, `2`, `12.5`, `2.50`, `0.01`.
pub fn fmt(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        // small decades: as many places as it takes (0.01, 0.001)
        let places = (-v.log10()).ceil() as usize;
        format!("{v:.places$}")
    }
}

#[cfg(test)]
mod tests;
