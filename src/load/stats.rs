//! What a load run measured: exact latency histograms (HDR, microseconds, 3 significant
//! digits), outcomes by status and error kind, and snapshots for live display.
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::failure::Failure;

/// Latencies up to an hour are recorded exactly (to 3 significant digits); longer saturate.
const MAX_US: u64 = 3_600_000_000;

#[derive(Debug, Clone)]
pub struct Stats {
    /// Every answered request's latency (in open loop from the moment its send started,
    /// a wait for an in-flight slot included; the lag before that is [`Stats::lag`]).
    pub total: Histogram<u64>,
    /// Since the last snapshot: the live window.
    pub window: Histogram<u64>,
    /// Requests started.
    pub sent: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer, by kind (connect, timeout, io, ...).
    pub failures: BTreeMap<Failure, u64>,
    /// Answers in the live window (for its rate).
    pub window_done: u64,
    /// Open loop: how late each send started against its schedule (the generator's own
    /// delay, kept out of the latency above), all of them and the live window.
    pub lag: Histogram<u64>,
    pub lag_window: Histogram<u64>,
    /// Open loop: answered requests' latency from their *scheduled* time (lag included),
    /// as `oha --latency-correction` and wrk2 count it, for comparing with them (it ends,
    /// as the latency does, when the answer came, where the kernel stamped it).
    pub from_schedule: Histogram<u64>,
    /// Open loop: sends that found every `--max-in-flight` slot taken (their wait for one
    /// counts in their latency).
    pub slot_waits: u64,
    /// Open loop: sends that started later than `--max-lag` after their scheduled time.
    pub late: u64,
    /// How long answers waited on this machine before the generator read them (from the
    /// kernel's receive stamp to the read, lean client only): the generator's own delay,
    /// kept out of the latency above as the lag is.
    pub read_wait: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

/// The value behind `m`, also after a thread panicked holding it: figures recorded before
/// stay counted (figures are only ever added to, so they are whole between calls).
pub fn held<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// [`held`] if nobody holds `m` right now, none if somebody does.
pub fn try_held<T>(m: &std::sync::Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

pub fn histogram() -> Histogram<u64> {
    // bounds are constants that hdrhistogram accepts (1 ≤ low, high ≥ 2·low, sigfig ≤ 5)
    Histogram::new_with_bounds(1, MAX_US, 3).unwrap_or_else(|_| unreachable!())
}

/// The outcome of one request: an answer with its status, or no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Failed(Failure),
}

impl Outcome {
    /// Whether it counts as an error: a 5xx answer or none. 4xx are the client's fault and
    /// counted apart; 503 is the server's backpressure, an error all the same for an SLO.
    pub fn is_error(self) -> bool {
        match self {
            Outcome::Status(code) => code >= 500,
            Outcome::Failed(_) => true,
        }
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            total: histogram(),
            window: histogram(),
            sent: 0,
            statuses: BTreeMap::new(),
            failures: BTreeMap::new(),
            window_done: 0,
            lag: histogram(),
            lag_window: histogram(),
            from_schedule: histogram(),
            slot_waits: 0,
            late: 0,
            read_wait: histogram(),
        }
    }

    /// Records that a send started `lag` after its scheduled time (open loop), whether that
    /// was past `max_lag`, and whether it had to wait for an in-flight slot.
    pub fn started(&mut self, lag: Duration, max_lag: Duration, waited_for_slot: bool) {
        self.sent += 1;
        self.late += u64::from(lag > max_lag);
        let us = (lag.as_micros() as u64).clamp(1, MAX_US);
        self.lag.saturating_record(us);
        self.lag_window.saturating_record(us);
        self.slot_waits += u64::from(waited_for_slot);
    }

    /// Back to no data, keeping the histograms' memory (only those that hold counts are
    /// zeroed: a closed-loop worker flushing every few milliseconds does not pay for the
    /// open loop's).
    pub fn clear(&mut self) {
        for h in [
            &mut self.total,
            &mut self.window,
            &mut self.lag,
            &mut self.lag_window,
            &mut self.from_schedule,
            &mut self.read_wait,
        ] {
            if !h.is_empty() {
                h.reset();
            }
        }
        self.sent = 0;
        self.late = 0;
        self.slot_waits = 0;
        self.window_done = 0;
        self.statuses.clear();
        self.failures.clear();
    }

    /// Records an answered open-loop request's latency from its scheduled time.
    pub fn answered_since_due(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_US);
        self.from_schedule.saturating_record(us);
    }

    /// Records how long an answer waited on this machine before it was read.
    pub fn waited_to_be_read(&mut self, wait: Duration) {
        let us = (wait.as_micros() as u64).clamp(1, MAX_US);
        self.read_wait.saturating_record(us);
    }

    /// Records one finished request. Latency counts answered requests only.
    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        match outcome {
            Outcome::Status(code) => {
                let us = (latency.as_micros() as u64).clamp(1, MAX_US);
                self.total.saturating_record(us);
                self.window.saturating_record(us);
                *self.statuses.entry(code).or_default() += 1;
                self.window_done += 1;
            }
            Outcome::Failed(kind) => *self.failures.entry(kind).or_default() += 1,
        }
    }

    /// Adds another worker's stats (and its window) into this one.
    pub fn merge(&mut self, other: &Stats) {
        // same bounds on both sides: add cannot fail; an add walks the whole histogram,
        // so empty ones (the closed loop has no lag) are left out
        for (to, from) in [
            (&mut self.total, &other.total),
            (&mut self.window, &other.window),
            (&mut self.lag, &other.lag),
            (&mut self.lag_window, &other.lag_window),
            (&mut self.from_schedule, &other.from_schedule),
            (&mut self.read_wait, &other.read_wait),
        ] {
            if !from.is_empty() {
                let _ = to.add(from);
            }
        }
        self.slot_waits += other.slot_waits;
        self.late += other.late;
        self.sent += other.sent;
        self.window_done += other.window_done;
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &other.failures {
            *self.failures.entry(*k).or_default() += v;
        }
    }

    /// Answered requests (any status).
    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Errors: the requests whose [`Outcome::is_error`] holds.
    pub fn errors(&self) -> u64 {
        let statuses = self.statuses.iter().map(|(c, n)| (Outcome::Status(*c), *n));
        let failures = self.failures.iter().map(|(f, n)| (Outcome::Failed(*f), *n));
        statuses
            .chain(failures)
            .filter(|(o, _)| o.is_error())
            .map(|(_, n)| n)
            .sum()
    }

    pub fn finished(&self) -> u64 {
        self.answered() + self.failures.values().sum::<u64>()
    }

    /// The `q` quantile of all answered requests, in milliseconds (`None` before any).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.total, q)
    }

    /// Takes the live window: its latencies, answered count and send lags, and starts a
    /// new one.
    pub fn take_window(&mut self) -> (Histogram<u64>, u64, Histogram<u64>) {
        let w = std::mem::replace(&mut self.window, histogram());
        let n = std::mem::take(&mut self.window_done);
        let lag = std::mem::replace(&mut self.lag_window, histogram());
        (w, n, lag)
    }
}

pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_exact_to_three_digits() {
        let mut s = Stats::new();
        // 1..=1000 ms, one each
        for ms in 1..=1000u64 {
            s.record(Duration::from_millis(ms), Outcome::Status(200));
        }
        let table = [
            (0.5, 500.0),
            (0.9, 900.0),
            (0.99, 990.0),
            (0.999, 999.0),
            (1.0, 1000.0),
        ];
        for (q, want) in table {
            let got = s.quantile_ms(q).unwrap();
            assert!((got - want).abs() / want < 1e-3, "p{q}: {got} vs {want}");
        }
    }

    #[test]
    fn errors_and_answers_are_counted_apart() {
        let mut s = Stats::new();
        assert_eq!(s.quantile_ms(0.99), None, "no data is not 0");
        s.record(Duration::from_millis(5), Outcome::Status(200));
        s.record(Duration::from_millis(5), Outcome::Status(404));
        s.record(Duration::from_millis(5), Outcome::Status(503));
        s.record(Duration::from_millis(5), Outcome::Status(500));
        s.record(Duration::from_secs(30), Outcome::Failed(Failure::Timeout));
        assert_eq!((s.answered(), s.errors(), s.finished()), (4, 3, 5));
        // a request without an answer has no latency
        assert_eq!(s.total.len(), 4);
    }

    #[test]
    fn merge_adds_and_the_window_restarts() {
        let mut a = Stats::new();
        let mut b = Stats::new();
        a.record(Duration::from_millis(1), Outcome::Status(200));
        b.record(Duration::from_millis(3), Outcome::Status(200));
        b.record(Duration::from_millis(3), Outcome::Failed(Failure::Connect));
        b.sent = 2;
        a.merge(&b);
        assert_eq!(
            (a.answered(), a.sent, a.failures[&Failure::Connect]),
            (2, 2, 1)
        );
        let ms = Duration::from_millis(1);
        a.started(Duration::from_micros(40), ms, false);
        b.started(Duration::from_millis(3), ms, true);
        a.merge(&b);
        assert_eq!((a.lag.len(), a.slot_waits, a.late), (2, 1, 1));
        // to HDR's three significant digits
        let max = quantile_ms(&a.lag, 1.0).unwrap();
        assert!((3.0..3.01).contains(&max), "{max}");
        let (w, n, lag) = a.take_window();
        assert_eq!((w.len(), n, lag.len()), (3, 3, 2));
        assert_eq!(a.lag_window.len(), 0);
        assert_eq!((a.window.len(), a.window_done), (0, 0));
        assert_eq!(a.total.len(), 3);
        a.clear();
        assert_eq!(
            (a.total.len(), a.lag.len(), a.sent, a.late, a.finished()),
            (0, 0, 0, 0, 0)
        );
    }
}
