//! The live view of a run: a [`Progress`] taken from the shared stats every period.
use std::sync::Mutex;
use std::time::Duration;

use super::plan::{Mode, Plan};
use crate::load::health::Health;
use crate::load::stats::{Stats, held, quantile_ms};

/// A live view of the run, sent every `every` while it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    pub sent: u64,
    pub answered: u64,
    pub errors: u64,
    /// Answers per second over the last window.
    pub rps: f64,
    /// The rate the profile asks for now (open loop).
    pub target_rate: Option<f64>,
    /// Cumulative p50, p90, p99, p99.9 in ms (`None` before the first answer).
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    /// p50 and p99 of the last window alone.
    pub window_p50: Option<f64>,
    pub window_p99: Option<f64>,
    /// Open loop: sends so far that started past `--max-lag` (of `sent`).
    pub late: u64,
    /// The generator's lag and CPU over the last window; its slot waits over the run.
    pub health: Health,
    /// An in-cluster run's workers (empty for a run from this process).
    pub workers: Vec<crate::load::fleet::merge::WorkerRow>,
}

impl Progress {
    /// `12.3/30.0 s  sent 6150  498/s (target 500)  p50 1.20 p90 2.01 p99 3.10 p99.9 5.00 ms
    /// gen lag p99 0.04 ms · cpu 0.31/2`
    pub fn figures(&self, total_s: f64) -> String {
        let q = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let target = self
            .target_rate
            .map(|r| format!(" (target {r:.0})"))
            .unwrap_or_default();
        let health = self.health.figures();
        let health = if health.is_empty() {
            health
        } else {
            format!("  {health}")
        };
        format!(
            "{:.1}/{total_s:.1} s  sent {}  {:.0}/s{target}  p50 {} p90 {} p99 {} p99.9 {} ms{health}",
            self.elapsed.as_secs_f64(),
            self.sent,
            self.rps,
            q(self.p50),
            q(self.p90),
            q(self.p99),
            q(self.p999),
        )
    }
}

/// The progress `elapsed` into the run; takes the stats' live window (`window` long, in
/// which the process used `cpu_cores`).
pub fn snapshot(
    stats: &Mutex<Stats>,
    plan: &Plan,
    elapsed: Duration,
    window: Duration,
    cpu_cores: Option<f64>,
) -> Progress {
    let mut s = held(stats);
    let (w, n, lag) = s.take_window();
    let (target_rate, max_in_flight) = match &plan.mode {
        Mode::Open {
            profile,
            max_in_flight,
        } => (
            Some(profile.rate_at(elapsed.as_secs_f64(), plan.duration.as_secs_f64())),
            Some(*max_in_flight),
        ),
        Mode::Closed { .. } => (None, None),
    };
    // the window's lags; the cap's waits are counted for the whole run, a share of it
    let health = Health::of(&lag, &s, plan.max_lag, max_in_flight, cpu_cores);
    Progress {
        elapsed,
        sent: s.sent,
        answered: s.answered(),
        errors: s.errors(),
        rps: n as f64 / window.as_secs_f64().max(1e-9),
        target_rate,
        p50: s.quantile_ms(0.5),
        p90: s.quantile_ms(0.9),
        p99: s.quantile_ms(0.99),
        p999: s.quantile_ms(0.999),
        window_p50: quantile_ms(&w, 0.5),
        window_p99: quantile_ms(&w, 0.99),
        late: s.late,
        health,
        workers: Vec::new(),
    }
}
