//! Rollout: how many replicas of which revision. The rolling update's next step
//! (`rolling.rs`, pure) drains old replicas and starts new ones (after a crash, once the
//! restart backoff allows); the autoscaler sets the replica count from the in-flight
//! requests and shows itself as an HPA.
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::super::objects::HpaView;
use super::super::{autoscaler, rolling};
use super::{Ctl, Replica};

/// How often the autoscaler decides.
const AUTOSCALE_EVERY: Duration = Duration::from_secs(3);

/// The mean of the samples, if any.
fn mean(samples: &[f64]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64)
}

impl Ctl {
    /// The replicas in traffic (not draining), as the rolling update sees them.
    fn seen(&self) -> Vec<rolling::Seen> {
        self.replicas
            .iter()
            .filter(|r| r.draining.is_none() && r.canary.is_none())
            .map(|r| rolling::Seen {
                id: r.name.clone(),
                revision: r.revision,
                ready: r.ready,
            })
            .collect()
    }

    /// Takes the rolling update's next step.
    pub(super) fn roll(&mut self) {
        let step = rolling::next(
            &self.seen(),
            self.spec.current,
            self.spec.replicas,
            self.spec.max_surge,
            self.spec.max_unavailable,
        );
        for id in &step.stop {
            if let Some(r) = self.replicas.iter_mut().find(|r| r.name == *id) {
                r.draining = Some(Instant::now());
            }
        }
        if self.restarts.may_start(Instant::now()) {
            for _ in 0..step.start {
                self.start_one();
            }
        }
    }

    /// Every few seconds, sets the replica count from the mean in-flight requests of the
    /// current revision's ready replicas; keeps the HPA view up to date.
    pub(super) fn autoscale(&mut self) {
        let Some(a) = self.spec.autoscale.clone() else {
            self.hpa = None;
            return;
        };
        let live: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|r| {
                r.draining.is_none() && r.canary.is_none() && r.revision == self.spec.current
            })
            .collect();
        let samples: Vec<f64> = live
            .iter()
            .filter(|r| r.ready)
            .filter_map(|r| r.inflight)
            .collect();
        let inflight = mean(&samples);
        let current = self.spec.replicas;
        let mut view = HpaView {
            min: a.min,
            max: a.max,
            current: i32::try_from(live.len()).unwrap_or(i32::MAX),
            desired: current,
            target_inflight: a.target_inflight,
            inflight,
            last_scale: self.hpa.as_ref().and_then(|h| h.last_scale),
        };
        if self.last_autoscale.elapsed() >= AUTOSCALE_EVERY {
            self.last_autoscale = Instant::now();
            let desired = autoscaler::desired(&a, current, inflight, &mut self.recommendations);
            if desired != current {
                tracing::info!(
                    from = current,
                    to = desired,
                    ?inflight,
                    "local autoscaler scales"
                );
                self.spec.replicas = desired;
                if let Err(e) = self.cfg.store.save(&self.spec) {
                    tracing::error!(error = %e, "cannot save the local deployment");
                }
                view.last_scale = Some(Timestamp::now());
            }
            view.desired = desired;
        }
        self.hpa = Some(view);
    }
}

#[cfg(test)]
mod tests {
    use super::mean;

    #[test]
    fn mean_of_none_is_unknown() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
    }
}
