//! The console's side of the workers' reports: the latest report of each, merged into the
//! run's totals, the live window (what each added since the last read) and one row per
//! worker. Pure: the coordinator feeds it reports and reads it out.
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::wire::{Report, WorkerState, since};
use crate::load::stats::{Stats, histogram, quantile_ms};

/// A worker as the console sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerRow {
    pub index: u32,
    pub pod: String,
    /// `waiting`, `running`, `done`, `failed: WHY` or `lost: WHY`.
    pub state: String,
    pub sent: u64,
    pub errors: u64,
    /// Its sends' lag against the schedule, p99 over its run, in ms.
    pub lag_p99_ms: Option<f64>,
    /// Cores it used over its run.
    pub cpu_cores: Option<f64>,
}

/// One worker's latest report and what the console concluded.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub index: u32,
    pub pod: String,
    pub report: Option<Report>,
    pub stats: Stats,
    /// Its totals at the previous window's end.
    prev_total: Histogram<u64>,
    prev_lag: Histogram<u64>,
    /// Reads that failed in a row, and the last failure.
    pub misses: u32,
    pub last_miss: Option<String>,
    /// Given up on: its last counts stay in the totals.
    pub lost: Option<String>,
}

impl Tracked {
    pub fn new(index: u32, pod: String) -> Tracked {
        Tracked {
            index,
            pod,
            report: None,
            stats: Stats::new(),
            prev_total: histogram(),
            prev_lag: histogram(),
            misses: 0,
            last_miss: None,
            lost: None,
        }
    }

    /// A report read: it replaces the last one (reports are cumulative).
    pub fn read(&mut self, report: Report, stats: Stats) {
        self.report = Some(report);
        self.stats = stats;
        self.misses = 0;
    }

    /// A read that failed; after `give_up` in a row the worker is lost.
    pub fn missed(&mut self, why: String, give_up: u32) {
        self.misses += 1;
        if self.misses >= give_up && self.lost.is_none() && !self.ended() {
            self.lost = Some(format!("no report for {} reads: {why}", self.misses));
        }
        self.last_miss = Some(why);
    }

    pub fn lose(&mut self, why: String) {
        if self.lost.is_none() && !self.ended() {
            self.lost = Some(why);
        }
    }

    fn state(&self) -> Option<&WorkerState> {
        self.report.as_ref().map(|r| &r.state)
    }

    /// Done, failed or lost: nothing more will come.
    pub fn ended(&self) -> bool {
        self.lost.is_some()
            || matches!(
                self.state(),
                Some(WorkerState::Done | WorkerState::Failed { .. })
            )
    }

    pub fn failed(&self) -> Option<String> {
        match (&self.lost, self.state()) {
            (Some(why), _) => Some(format!("lost: {why}")),
            (None, Some(WorkerState::Failed { reason })) => Some(format!("failed: {reason}")),
            _ => None,
        }
    }

    pub fn row(&self) -> WorkerRow {
        let state = match (self.failed(), self.state()) {
            (Some(f), _) => f,
            (None, Some(WorkerState::Running)) => "running".into(),
            (None, Some(WorkerState::Done)) => "done".into(),
            (None, _) => "waiting".into(),
        };
        let cpu = self
            .report
            .as_ref()
            .and_then(|r| (r.elapsed_ms > 0).then(|| r.cpu_s / (r.elapsed_ms as f64 / 1000.0)));
        WorkerRow {
            index: self.index,
            pod: self.pod.clone(),
            state,
            sent: self.stats.sent,
            errors: self.stats.errors(),
            lag_p99_ms: quantile_ms(&self.stats.lag, 0.99),
            cpu_cores: cpu,
        }
    }
}

/// The run's totals with the window since the last call (latency, answers and lag).
pub fn merged(workers: &mut [Tracked]) -> Stats {
    let mut all = Stats::new();
    for w in workers.iter_mut() {
        all.merge(&w.stats);
        let window = since(&w.stats.total, &w.prev_total);
        all.window_done += window.len();
        let _ = all.window.add(&window);
        let _ = all.lag_window.add(since(&w.stats.lag, &w.prev_lag));
        w.prev_total = w.stats.total.clone();
        w.prev_lag = w.stats.lag.clone();
    }
    all
}

/// The longest of the workers' runs and send windows.
pub fn elapsed(workers: &[Tracked]) -> (Duration, Duration) {
    let of = |f: fn(&Report) -> u64| {
        workers
            .iter()
            .filter_map(|w| w.report.as_ref().map(f))
            .max()
            .map_or(Duration::ZERO, Duration::from_millis)
    };
    (of(|r| r.elapsed_ms), of(|r| r.send_window_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::Outcome;

    fn report(index: u32, state: WorkerState, answers: &[u64]) -> (Report, Stats) {
        let mut s = Stats::new();
        for &ms in answers {
            s.started(Duration::from_micros(50), Duration::from_millis(5), false);
            s.record(Duration::from_millis(ms), Outcome::Status(200));
        }
        let r = Report::of(index, state, &s);
        let st = r.stats().unwrap();
        (r, st)
    }

    #[test]
    fn the_window_holds_what_each_worker_added_since_the_last_merge() {
        let mut ws = vec![Tracked::new(0, "p0".into()), Tracked::new(1, "p1".into())];
        let (r, s) = report(0, WorkerState::Running, &[1, 2]);
        ws[0].read(r, s);
        let (r, s) = report(1, WorkerState::Running, &[3]);
        ws[1].read(r, s);
        let first = merged(&mut ws);
        assert_eq!(
            (first.sent, first.window_done, first.total.len()),
            (3, 3, 3)
        );
        // worker 0 answered two more, worker 1's read was lost this time
        let (r, s) = report(0, WorkerState::Running, &[1, 2, 7, 8]);
        ws[0].read(r, s);
        ws[1].missed("503 from the proxy".into(), 3);
        let second = merged(&mut ws);
        assert_eq!((second.sent, second.total.len()), (5, 5));
        assert_eq!(second.window_done, 2);
        assert!(
            (7_000..=8_010).contains(&second.window.min()),
            "{}",
            second.window.min()
        );
        // one missed read is not yet a loss: the row still shows its last state
        assert_eq!(ws[1].row().state, "running");
    }

    #[test]
    fn a_worker_that_stops_answering_is_lost_and_keeps_its_counts() {
        let mut ws = vec![Tracked::new(0, "p0".into()), Tracked::new(1, "p1".into())];
        let (r, s) = report(0, WorkerState::Done, &[1]);
        ws[0].read(r, s);
        let (r, s) = report(1, WorkerState::Running, &[2, 2]);
        ws[1].read(r, s);
        for _ in 0..3 {
            ws[1].missed("connection refused".into(), 3);
        }
        assert!(ws.iter().all(Tracked::ended));
        let row = ws[1].row();
        assert!(
            row.state
                .starts_with("lost: no report for 3 reads: connection refused"),
            "{}",
            row.state
        );
        assert_eq!(row.sent, 2);
        assert_eq!(
            merged(&mut ws).sent,
            3,
            "the lost worker's sends still count"
        );
        // a done worker is not lost by missing reads after its end
        ws[0].missed("gone".into(), 1);
        assert_eq!(ws[0].row().state, "done");
        let failed = WorkerState::Failed {
            reason: "bad flag".into(),
        };
        let (r, s) = report(2, failed, &[]);
        let mut w = Tracked::new(2, "p2".into());
        w.read(r, s);
        assert_eq!(w.failed().as_deref(), Some("failed: bad flag"));
    }
}
