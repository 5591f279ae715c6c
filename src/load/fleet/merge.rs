//! The console's side of the workers' reports: the latest report of each, merged into the
//! run's totals, the live window (what each added since the last read) and one row per
//! worker. Pure: the coordinator feeds it reports and reads it out.
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::wire::{Report, WorkerState, since};
use crate::load::stats::{Stats, histogram, quantile_ms};

/// The shortest window a worker's live rate is taken over, in ms of its clock.
const MIN_WINDOW_MS: u64 = 100;

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
    /// Its live answer count and its clock (ms since its run began) at the last read the
    /// rate was taken at.
    prev_live: (u64, u64),
    /// Answers per second between its last two reads, on its own clock (0 before any);
    /// none from a worker that does not count live.
    pub rate: Option<f64>,
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
            prev_live: (0, 0),
            rate: Some(0.0),
        }
    }

    /// A report read: it replaces the last one (reports are cumulative).
    pub fn read(&mut self, report: Report, stats: Stats) {
        // differences on the worker's clock: how long the read took on the way does not
        // matter, and a read missed in between only widens the window
        match (report.answered_live, report.live_ms) {
            (Some(n), Some(t)) => {
                let (n0, t0) = self.prev_live;
                if t < t0 + MIN_WINDOW_MS {
                    // too short a window to divide by (a read right after the last, or the
                    // first before the run began): the last rate stands
                    if t == 0 {
                        self.rate = Some(0.0);
                    }
                } else {
                    self.rate = Some(n.saturating_sub(n0) as f64 / ((t - t0) as f64 / 1000.0));
                    self.prev_live = (n, t);
                }
            }
            _ => self.rate = None,
        }
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

    /// Not read this time because it has ended: it answers nothing more.
    pub fn idle(&mut self) {
        self.rate = Some(0.0);
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

/// The run's live rate: the sum of the workers' (a worker whose read failed counts at its
/// last rate, one not read yet at none), or none when a worker's report has no live count
/// (an older worker: the merged figures are used).
pub fn live_rate(workers: &[Tracked]) -> Option<f64> {
    workers.iter().map(|w| w.rate).sum()
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

    /// Worker `w` read at `live_ms` on its clock with `live` answers counted live.
    fn read_live(ws: &mut [Tracked], w: usize, state: WorkerState, live_ms: u64, live: u64) {
        let (mut r, st) = report(w as u32, state, &[1]);
        r.live_ms = Some(live_ms);
        r.answered_live = Some(live);
        ws[w].read(r, st);
    }

    #[test]
    fn the_live_rate_is_each_workers_live_answers_over_its_own_clock() {
        let mut ws = vec![Tracked::new(0, "p0".into()), Tracked::new(1, "p1".into())];
        assert_eq!(live_rate(&ws), Some(0.0), "nothing read yet");
        read_live(&mut ws, 0, WorkerState::Waiting, 0, 0);
        read_live(&mut ws, 1, WorkerState::Waiting, 0, 0);
        assert_eq!(live_rate(&ws), Some(0.0), "waiting");
        // first reads while running: since each worker's run began
        read_live(&mut ws, 0, WorkerState::Running, 1000, 500);
        read_live(&mut ws, 1, WorkerState::Running, 1250, 375);
        assert_eq!(live_rate(&ws), Some(800.0));
        // a read 50 ms after the last is too short a window: the last rate stands
        read_live(&mut ws, 1, WorkerState::Running, 1300, 400);
        assert_eq!(live_rate(&ws), Some(800.0));
        // worker 1's read is lost: it counts at its last rate
        read_live(&mut ws, 0, WorkerState::Running, 2000, 1500);
        ws[1].missed("timed out".into(), 3);
        assert_eq!(live_rate(&ws), Some(1300.0));
        // its next read spans both windows, on its own clock
        read_live(&mut ws, 1, WorkerState::Running, 3250, 975);
        assert_eq!(live_rate(&ws), Some(1300.0));
        // worker 0 ends: its last window on the same clock, then nothing
        read_live(&mut ws, 0, WorkerState::Done, 3000, 1900);
        assert_eq!(live_rate(&ws), Some(700.0));
        ws[0].idle();
        assert_eq!(live_rate(&ws), Some(300.0));
        // worker 1 stops answering: its last rate for three reads, then it is lost
        for _ in 0..3 {
            assert_eq!(live_rate(&ws), Some(300.0));
            ws[1].missed("timed out".into(), 3);
        }
        assert!(ws[1].ended());
        ws[1].idle();
        assert_eq!(live_rate(&ws), Some(0.0));
        // a worker of an older version counts nothing live: the merged figures are used
        let (old, st) = report(1, WorkerState::Running, &[1]);
        ws[1].read(old, st);
        assert_eq!(live_rate(&ws), None);
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
