//! What a worker reports over HTTP: its counters and HDR histograms since its start
//! (cumulative, so a read that is lost on the way costs nothing: the next one holds it),
//! and its state. A histogram travels as its non-empty buckets (each bucket's highest
//! equivalent value and its count): recorded again on the console's side with the same
//! bounds they land in the same buckets, so merging is exact.
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::load::failure::Failure;
use crate::load::stats::{Stats, histogram};

/// Where a worker is in its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    /// Up, waiting for its start.
    Waiting,
    /// Sending (or waiting for the agreed instant).
    Running,
    /// Its share of the schedule is sent and answered (or timed out).
    Done,
    /// Could not run: the words say why.
    Failed { reason: String },
}

/// One worker's report, cumulative since its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Its index in the Job (`JOB_COMPLETION_INDEX`).
    pub index: u32,
    #[serde(flatten)]
    pub state: WorkerState,
    /// Since its start (0 before).
    pub elapsed_ms: u64,
    /// From its first send to its last (once done).
    pub send_window_ms: u64,
    /// CPU it used since its start, in seconds.
    pub cpu_s: f64,
    pub sent: u64,
    pub late: u64,
    pub slot_waits: u64,
    pub statuses: BTreeMap<u16, u64>,
    /// Requests without an answer by kind name (`connect`, `timeout`, ...).
    pub failures: BTreeMap<String, u64>,
    pub latency_us: Vec<(u64, u64)>,
    pub lag_us: Vec<(u64, u64)>,
    pub from_schedule_us: Vec<(u64, u64)>,
    /// How long answers waited to be read (absent from a worker of an older version).
    #[serde(default)]
    pub read_wait_us: Vec<(u64, u64)>,
    /// Answers counted as they came (absent from a worker of an older version): the live
    /// rate comes from these, not from the merged figures above.
    #[serde(default)]
    pub answered_live: Option<u64>,
    /// When `answered_live` was read, in ms since the run began (0 before), on one clock
    /// also once the run is done (unlike `elapsed_ms`, which is then the engine's own).
    #[serde(default)]
    pub live_ms: Option<u64>,
}

/// Why a report cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a worker report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown failure kind {0:?} in a worker report (a worker of another version?)")]
    FailureKind(String),
    #[error(
        "a histogram bucket of {value} µs is outside the bounds (a worker of another version?)"
    )]
    Bucket { value: u64 },
}

fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn refill(h: &mut Histogram<u64>, b: &[(u64, u64)]) -> Result<(), WireError> {
    for &(value, count) in b {
        h.record_n(value, count)
            .map_err(|_| WireError::Bucket { value })?;
    }
    Ok(())
}

impl Report {
    /// The report of `stats` (the worker's totals; its live windows are not sent).
    pub fn of(index: u32, state: WorkerState, stats: &Stats) -> Report {
        Report {
            index,
            state,
            elapsed_ms: 0,
            send_window_ms: 0,
            cpu_s: 0.0,
            sent: stats.sent,
            late: stats.late,
            slot_waits: stats.slot_waits,
            statuses: stats.statuses.clone(),
            failures: stats
                .failures
                .iter()
                .map(|(f, n)| (f.name().to_string(), *n))
                .collect(),
            latency_us: buckets(&stats.total),
            lag_us: buckets(&stats.lag),
            from_schedule_us: buckets(&stats.from_schedule),
            read_wait_us: buckets(&stats.read_wait),
            answered_live: None,
            live_ms: None,
        }
    }

    pub fn parse(body: &[u8]) -> Result<Report, WireError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// Its totals as [`Stats`] (the live windows empty).
    pub fn stats(&self) -> Result<Stats, WireError> {
        let mut s = Stats::new();
        refill(&mut s.total, &self.latency_us)?;
        refill(&mut s.lag, &self.lag_us)?;
        refill(&mut s.from_schedule, &self.from_schedule_us)?;
        refill(&mut s.read_wait, &self.read_wait_us)?;
        s.sent = self.sent;
        s.late = self.late;
        s.slot_waits = self.slot_waits;
        s.statuses = self.statuses.clone();
        for (name, n) in &self.failures {
            let kind = Failure::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| WireError::FailureKind(name.clone()))?;
            s.failures.insert(kind, *n);
        }
        Ok(s)
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms)
    }
}

/// What was added between two cumulative histograms of one worker (`now` minus `before`;
/// empty if `before` is not a part of `now`, as after a worker restarted).
pub fn since(now: &Histogram<u64>, before: &Histogram<u64>) -> Histogram<u64> {
    let mut d = now.clone();
    if d.subtract(before).is_err() {
        return histogram();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::Outcome;

    fn sample(seed: u64) -> Stats {
        let mut s = Stats::new();
        let ms = Duration::from_millis(5);
        for i in 0..2_000u64 {
            // a spread over four decades: 10 µs .. 100 ms
            let us = 10 + (i * 7919 + seed * 104_729) % 100_000;
            s.started(Duration::from_micros(us / 50), ms, i % 97 == 0);
            s.record(Duration::from_micros(us), Outcome::Status(200));
            s.answered_since_due(Duration::from_micros(us + us / 50));
            s.waited_to_be_read(Duration::from_micros(us / 100));
        }
        s.record(Duration::ZERO, Outcome::Status(503));
        s.record(Duration::ZERO, Outcome::Failed(Failure::Timeout));
        s
    }

    #[test]
    fn a_report_round_trips_to_the_same_buckets() {
        let s = sample(1);
        let r = Report::of(3, WorkerState::Running, &s);
        let json = serde_json::to_vec(&r).unwrap();
        let back = Report::parse(&json).unwrap();
        assert_eq!(back, r);
        let t = back.stats().unwrap();
        // the same histograms, bucket for bucket, not only the same quantiles
        assert_eq!(t.total, s.total);
        assert_eq!(t.lag, s.lag);
        assert_eq!(t.from_schedule, s.from_schedule);
        assert_eq!(t.read_wait, s.read_wait);
        assert!(!t.read_wait.is_empty());
        assert_eq!(
            (t.sent, t.late, t.slot_waits),
            (s.sent, s.late, s.slot_waits)
        );
        assert_eq!(
            (t.statuses, t.failures),
            (s.statuses.clone(), s.failures.clone())
        );
        let state = b"\"state\":\"running\"";
        assert!(json.windows(state.len()).any(|w| w == state), "{json:?}");
    }

    #[test]
    fn merged_reports_equal_one_run_of_all_requests() {
        let (a, b) = (sample(1), sample(2));
        let mut both = a.clone();
        both.merge(&b);
        let mut merged = Report::of(0, WorkerState::Done, &a).stats().unwrap();
        merged.merge(&Report::of(1, WorkerState::Done, &b).stats().unwrap());
        assert_eq!(merged.total, both.total);
        for q in [0.5, 0.99, 0.999, 1.0] {
            assert_eq!(merged.quantile_ms(q), both.quantile_ms(q), "q {q}");
        }
        assert_eq!(merged.finished(), a.finished() + b.finished());
    }

    #[test]
    fn the_difference_of_two_reads_is_what_came_between() {
        let mut s = sample(1);
        let before = Report::of(0, WorkerState::Running, &s).stats().unwrap();
        s.record(Duration::from_millis(40), Outcome::Status(200));
        s.record(Duration::from_millis(41), Outcome::Status(200));
        let now = Report::of(0, WorkerState::Running, &s).stats().unwrap();
        let d = since(&now.total, &before.total);
        assert_eq!(d.len(), 2);
        assert!((40_000..41_100).contains(&d.max()), "{}", d.max());
        // a worker that started over: nothing negative, nothing at all
        assert!(since(&before.total, &now.total).is_empty());
    }

    #[test]
    fn bad_reports_say_what_is_wrong() {
        let e = Report::parse(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(e.to_string().starts_with("not a worker report"), "{e}");
        let mut r = Report::of(0, WorkerState::Waiting, &Stats::new());
        r.failures.insert("dns".into(), 1);
        let e = r.stats().unwrap_err();
        assert!(e.to_string().contains("\"dns\""), "{e}");
        let mut r = Report::of(0, WorkerState::Waiting, &Stats::new());
        r.latency_us.push((u64::MAX, 1));
        assert!(matches!(r.stats(), Err(WireError::Bucket { .. })));
        let failed = WorkerState::Failed {
            reason: "connect refused".into(),
        };
        let json = serde_json::to_string(&Report::of(0, failed, &Stats::new())).unwrap();
        assert!(
            json.contains(r#""state":"failed","reason":"connect refused""#),
            "{json}"
        );
    }
}
