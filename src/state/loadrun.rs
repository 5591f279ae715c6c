//! The load test the console drives: its flags, its client-side points over time
//! (from the engine's progress reports), and how it ended.
use std::collections::VecDeque;

use jiff::Timestamp;

use super::timeline::{Marker, MarkerKind};
use crate::load::engine::Progress;

/// Client-side figures of one progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientPoint {
    pub at: Timestamp,
    /// Answers per second in the report's window.
    pub rps: f64,
    /// The rate the profile asked for then (open loop).
    pub target: Option<f64>,
    /// The window's p50 and p99, in ms.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// Errors (5xx or no answer) per second in the window.
    pub errors_per_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadRun {
    /// The flags, as `tractor loadtest` takes them.
    pub args: String,
    pub started: Timestamp,
    pub duration_s: f64,
    pub points: VecDeque<ClientPoint>,
    pub last: Option<Progress>,
    /// When it ended, and its one-line summary (or why it could not run).
    pub ended: Option<(Timestamp, crate::load::ended::LoadEnded)>,
    /// A stop was asked for and not yet seen through.
    pub stopping: bool,
}

impl LoadRun {
    pub fn new(args: String, started: Timestamp, duration_s: f64) -> LoadRun {
        LoadRun {
            args,
            started,
            duration_s,
            points: VecDeque::new(),
            last: None,
            ended: None,
            stopping: false,
        }
    }

    /// Start and end of the run, for the charts.
    pub fn markers(&self) -> Vec<Marker> {
        let mut v = vec![Marker {
            at: self.started,
            kind: MarkerKind::Load,
            text: "load start".into(),
        }];
        if let Some((at, _)) = &self.ended {
            v.push(Marker {
                at: *at,
                kind: MarkerKind::Load,
                text: "load end".into(),
            });
        }
        v
    }

    pub fn running(&self) -> bool {
        self.ended.is_none()
    }

    /// Adds a progress report taken at `at`; keeps at most `cap` points.
    pub fn progress(&mut self, at: Timestamp, p: Progress, cap: usize) {
        // an in-cluster run's workers starting: their states, no point on the charts yet
        if !p.workers.is_empty() && p.elapsed.is_zero() && p.sent == 0 {
            self.last = Some(p);
            return;
        }
        let secs = match &self.last {
            Some(prev) => p.elapsed.saturating_sub(prev.elapsed).as_secs_f64(),
            None => p.elapsed.as_secs_f64(),
        };
        let new_errors = p
            .errors
            .saturating_sub(self.last.as_ref().map_or(0, |l| l.errors));
        self.points.push_back(ClientPoint {
            at,
            rps: p.rps,
            target: p.target_rate,
            p50: p.window_p50,
            p99: p.window_p99,
            errors_per_s: if secs > 0.0 {
                new_errors as f64 / secs
            } else {
                0.0
            },
        });
        while self.points.len() > cap.max(2) {
            self.points.pop_front();
        }
        self.last = Some(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn error_rate_comes_from_the_difference_of_cumulative_counts() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let mut r = LoadRun::new("--rate 10".into(), t(0), 60.0);
        let p = |secs: u64, errors: u64| Progress {
            elapsed: Duration::from_secs(secs),
            errors,
            rps: 10.0,
            ..Progress::default()
        };
        r.progress(t(1), p(1, 2), 3);
        r.progress(t(3), p(3, 8), 3);
        r.progress(t(4), p(4, 8), 3);
        r.progress(t(5), p(5, 9), 3);
        let rates: Vec<f64> = r.points.iter().map(|c| c.errors_per_s).collect();
        // the first point (2 errors in 1 s) fell out of the cap of 3
        assert_eq!(rates, vec![3.0, 0.0, 1.0]);
        assert!(r.running());
    }
}
