//! Two scrapes of a pod's /metrics (any bytes, split at the first NUL) through the parser and
//! the window math the latency views use. Nothing may panic, and a quantile is a number or
//! says why not: never NaN, never negative.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tractor_metrics::histogram::{Quantile, quantile, window};
use tractor_metrics::parse::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\0').unwrap_or((&text, ""));
    let (Ok(prev), cur) = (parse(a), parse(b)) else {
        return;
    };
    let cur = cur.unwrap_or_default();
    for (p, c) in [(&prev, &cur), (&cur, &prev), (&prev, &prev)] {
        let w = window([(p.latency.as_slice(), c.latency.as_slice())]);
        for b in &w {
            assert!(!(b.count < 0.0), "negative bucket delta {b:?}");
        }
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            match quantile(q, &w) {
                Quantile::Value(v) | Quantile::AboveHighestBound(v) => {
                    assert!(!v.is_nan(), "NaN quantile {q} of {w:?}");
                }
                _ => {}
            }
        }
    }
});
