//! The local autoscaler: the same HPA algorithm as the explainer (`autoscale/hpa.rs`), on
//! the average in-flight requests per replica scraped from the replicas, with a short
//! scale-down stabilization window (30 s) so that a demo shows it within minutes.
use std::time::{Duration, Instant};

use super::spec::Autoscale;
use crate::autoscale::hpa::{Behavior, Input, Metric, Past, Target, recommend};

/// How long recommendations are kept (the longest window).
const KEEP: Duration = Duration::from_secs(60);

fn behavior() -> Behavior {
    let mut b = Behavior::default();
    b.scale_down.stabilization_seconds = 30;
    b
}

/// The replica count to run now; records this recommendation in `recs`.
pub fn desired(
    a: &Autoscale,
    current: i32,
    inflight: Option<f64>,
    recs: &mut Vec<(Instant, i32)>,
) -> i32 {
    let Some(value) = inflight else {
        // no reading yet: only the bounds apply
        return current.clamp(a.min, a.max);
    };
    let now = Instant::now();
    recs.retain(|(t, _)| now.duration_since(*t) < KEEP);
    let input = Input {
        current_replicas: current.max(1),
        min_replicas: a.min,
        max_replicas: a.max,
        metrics: vec![Metric {
            name: "tractor_inflight_requests".into(),
            target: Target::AverageValue(a.target_inflight),
            current: value,
            total: false,
        }],
        behavior: behavior(),
        tolerance: 0.1,
        recommendations: recs
            .iter()
            .map(|(t, r)| Past {
                age_seconds: now.duration_since(*t).as_secs() as i64,
                replicas: *r,
            })
            .collect(),
        scale_events: vec![],
    };
    let e = recommend(&input);
    recs.push((now, e.proposal.clamp(a.min, a.max)));
    e.desired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_up_at_once_and_down_only_after_the_window() {
        let a = Autoscale {
            min: 2,
            max: 6,
            target_inflight: 1.0,
        };
        let mut recs = Vec::new();
        assert_eq!(desired(&a, 2, None, &mut recs), 2, "no reading: stay");
        assert_eq!(desired(&a, 1, None, &mut recs), 2, "but within bounds");
        // 3 in flight per replica against a target of 1: 2 → 6
        assert_eq!(desired(&a, 2, Some(3.0), &mut recs), 6);
        // within the tolerance: stay
        assert_eq!(desired(&a, 6, Some(1.05), &mut recs), 6);
        // the load is gone, but the window still holds the high recommendation
        assert_eq!(desired(&a, 6, Some(0.0), &mut recs), 6);
        // once the old recommendations are older than the window, down to min
        for r in &mut recs {
            r.0 = r.0.checked_sub(Duration::from_secs(31)).unwrap();
        }
        assert_eq!(desired(&a, 6, Some(0.0), &mut recs), 2);
    }
}
