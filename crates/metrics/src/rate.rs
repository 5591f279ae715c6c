//! Counters between two scrapes.

/// A counter's value at a time (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub v: f64,
}

/// The increase of a counter between two scrapes, like Prometheus's `increase()` over
/// exactly these two samples: a value lower than before means the counter was reset
/// (the process restarted), so the increase is the new value itself.
pub fn increase(prev: f64, cur: f64) -> f64 {
    if !prev.is_finite() || !cur.is_finite() {
        return 0.0;
    }
    if cur >= prev {
        cur - prev
    } else {
        cur.max(0.0)
    }
}

/// Per-second rate between two samples; `None` when time did not advance.
pub fn rate(prev: Sample, cur: Sample) -> Option<f64> {
    let dt = cur.t - prev.t;
    (dt > 0.0 && dt.is_finite()).then(|| increase(prev.v, cur.v) / dt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increases_and_rates() {
        // (prev, cur, increase)
        let cases = [
            (10.0, 25.0, 15.0),
            (25.0, 25.0, 0.0),
            // reset: the process restarted and counted 4 since
            (100.0, 4.0, 4.0),
            // reset to exactly zero
            (100.0, 0.0, 0.0),
            (f64::NAN, 5.0, 0.0),
            (5.0, f64::INFINITY, 0.0),
        ];
        for (p, c, want) in cases {
            assert_eq!(increase(p, c), want, "{p} -> {c}");
        }
        let s = |t, v| Sample { t, v };
        assert_eq!(rate(s(0.0, 10.0), s(5.0, 60.0)), Some(10.0));
        assert_eq!(rate(s(0.0, 100.0), s(4.0, 8.0)), Some(2.0));
        assert_eq!(rate(s(5.0, 1.0), s(5.0, 2.0)), None);
        assert_eq!(rate(s(5.0, 1.0), s(4.0, 2.0)), None);
    }
}
