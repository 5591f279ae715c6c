//! The generator's own health beside the server's latency: how late sends started against
//! the schedule (open loop), whether the run was held at its in-flight cap, and how much
//! CPU the process used. A run whose sends lagged says so wherever its figures are shown,
//! since a late generator sends bursts the schedule did not ask for; and the canaries of
//! the same console count its lagging reports ([`LagSignal`]) to call a window
//! inconclusive instead of judging a revision on them.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::stats::{Stats, quantile_ms};

/// The lag above which a run is said to have lagged, unless `--max-lag` says otherwise.
/// The lag is kept out of the latency, so what it spoils is the arrival pattern: 5 ms late
/// at p99 is a burst of 25 sends at 5,000 req/s, enough to move a server's queue. A
/// millisecond was tried first: the demo (servers, console and load on 2 cores) lagged
/// 1.1 ms at p99 at 600 req/s, and its canary windows were then never judged.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_millis(5);

/// Share of sends that may wait for an in-flight slot before the run is called saturated.
const SATURATED_SHARE: f64 = 0.01;

/// Share of the machine's cores above which the generator's CPU is called the limit.
const CPU_BOUND_SHARE: f64 = 0.9;

/// What the generator says of itself, for a whole run or one progress window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// p99 and maximum of the sends' lag against the schedule, in ms (open loop only).
    pub lag_p99_ms: Option<f64>,
    pub lag_max_ms: Option<f64>,
    /// The lag's p99 above which the run lagged, in ms.
    pub max_lag_ms: f64,
    /// p99 and maximum of how long answers waited on this machine before the generator
    /// read them, in ms (the lean client's, from the kernel's receive stamp; kept out of
    /// the latency).
    pub read_wait_p99_ms: Option<f64>,
    pub read_wait_max_ms: Option<f64>,
    /// Sends that waited for one of `max_in_flight` slots, of `sent`.
    pub slot_waits: u64,
    pub sent: u64,
    pub max_in_flight: Option<usize>,
    /// CPU the whole process used, in cores (user + system time over wall time: in the
    /// console that includes its screen and watches), and the cores the machine has.
    pub cpu_cores: Option<f64>,
    pub cores: usize,
    /// The priority the sending threads ran at (a whole run's; none for a progress window
    /// and in-cluster runs).
    pub sender_priority: Option<crate::load::engine::Applied>,
}

impl Health {
    /// The health of sends whose lags are `lag` (a window's or the run's), with the run's
    /// in-flight waits and sends from `s`, against `max_lag` and `max_in_flight` (open loop),
    /// with the process's CPU over the same time.
    pub fn of(
        lag: &hdrhistogram::Histogram<u64>,
        s: &Stats,
        max_lag: Duration,
        max_in_flight: Option<usize>,
        cpu_cores: Option<f64>,
    ) -> Health {
        Health {
            lag_p99_ms: quantile_ms(lag, 0.99),
            lag_max_ms: quantile_ms(lag, 1.0),
            max_lag_ms: max_lag.as_secs_f64() * 1000.0,
            read_wait_p99_ms: quantile_ms(&s.read_wait, 0.99),
            read_wait_max_ms: quantile_ms(&s.read_wait, 1.0),
            slot_waits: s.slot_waits,
            sent: s.sent,
            max_in_flight,
            cpu_cores,
            cores: cores(),
            sender_priority: None,
        }
    }

    /// Did sends start later than the schedule asked, beyond `--max-lag` at p99?
    pub fn lagged(&self) -> bool {
        self.lag_p99_ms.is_some_and(|p| p > self.max_lag_ms)
    }

    /// Was the run held at its in-flight cap (more than 1 % of sends waited for a slot)?
    pub fn saturated(&self) -> bool {
        self.sent > 0 && self.slot_waits as f64 / self.sent as f64 > SATURATED_SHARE
    }

    /// Did the process use nearly every core (its own lag then likely comes from there)?
    pub fn cpu_bound(&self) -> bool {
        self.cpu_cores
            .is_some_and(|c| self.cores > 0 && c >= CPU_BOUND_SHARE * self.cores as f64)
    }

    /// `gen lag p99 0.05 ms · read wait p99 0.02 ms · cpu 0.41/2`: the figures, short,
    /// for a status line.
    pub fn figures(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.lag_p99_ms {
            parts.push(format!("gen lag p99 {p:.2} ms"));
        }
        if let Some(p) = self.read_wait_p99_ms {
            parts.push(format!("read wait p99 {p:.2} ms"));
        }
        if let Some(c) = self.cpu_cores {
            parts.push(format!("cpu {c:.2}/{}", self.cores));
        }
        if let Some(p) = self.sender_priority {
            parts.push(format!("senders at {} priority", p.name()));
        }
        parts.join(" · ")
    }

    /// The first thing wrong, short, for a status line: `⚠ generator lagged: p99 2.50 ms late`.
    pub fn warning(&self) -> Option<String> {
        if self.lagged() {
            Some(format!(
                "⚠ generator lagged: p99 {:.2} ms late",
                self.lag_p99_ms.unwrap_or(0.0)
            ))
        } else if self.saturated() {
            Some("⚠ generator at its in-flight cap".into())
        } else if self.cpu_bound() {
            Some("⚠ generator CPU-bound".into())
        } else {
            None
        }
    }

    /// Each thing wrong with the generator, in words that say what to do (empty: none).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.lagged() {
            // lowered senders give way to the server: on a busy machine they can fall behind
            let idle = match self.sender_priority {
                Some(crate::load::engine::Applied::Idle) => {
                    " (the senders ran at idle priority, yielding the CPU to everything \
                     else on this machine: --sender-priority normal (or batch) lets them \
                     compete for it, their CPU then taken from the server's)"
                }
                Some(crate::load::engine::Applied::Batch) => {
                    " (the senders ran at batch priority, waiting when they wake for the \
                     running thread's turn to end: --sender-priority normal lets them take \
                     the core at once, from the server's threads)"
                }
                _ => "",
            };
            out.push(format!(
                "the generator lagged: sends started {:.2} ms late at p99 (max {:.2} ms, \
                 limit {:.2} ms); the server saw bursts the schedule did not ask for: \
                 lower the rate, or send from a machine with cores to spare{idle}",
                self.lag_p99_ms.unwrap_or(0.0),
                self.lag_max_ms.unwrap_or(0.0),
                self.max_lag_ms
            ));
        }
        if self.saturated() {
            out.push(format!(
                "the generator was at its in-flight cap: {} of {} sends waited for one of \
                 --max-in-flight {} slots (the wait counts in their latency): the server \
                 answers slower than the rate asks; raise --max-in-flight to queue at the \
                 server instead",
                self.slot_waits,
                self.sent,
                self.max_in_flight.unwrap_or(0)
            ));
        }
        if self.cpu_bound() {
            out.push(format!(
                "the process used {:.2} of {} cores: the machine may be the limit, not \
                 the server",
                self.cpu_cores.unwrap_or(0.0),
                self.cores
            ));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "lag_ms": { "p99": self.lag_p99_ms, "max": self.lag_max_ms },
            // without a schedule (closed loop) there is no lag to hold against a limit
            "max_lag_ms": self.lag_p99_ms.map(|_| self.max_lag_ms),
            // answers that waited to be read: the generator's delay, not in the latency
            "read_wait_ms": { "p99": self.read_wait_p99_ms, "max": self.read_wait_max_ms },
            "lagged": self.lagged(),
            "slot_waits": self.slot_waits,
            "max_in_flight": self.max_in_flight,
            "saturated": self.saturated(),
            "cpu_cores": self.cpu_cores,
            "cores": self.cores,
            "cpu_bound": self.cpu_bound(),
            "sender_priority": self.sender_priority.map(|p| p.name()),
            "problems": self.problems(),
        })
    }
}

/// The cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// User plus system CPU time this process has used so far (`None` if the OS will not say).
pub fn cpu_time() -> Option<Duration> {
    // SAFETY: getrusage writes into the struct we own; a zeroed rusage is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to an rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// CPU used between two readings over `wall`, in cores.
pub fn cores_used(
    before: Option<Duration>,
    after: Option<Duration>,
    wall: Duration,
) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (!wall.is_zero()).then(|| used.as_secs_f64() / wall.as_secs_f64())
}

/// Fewer sends than this in a canary window say nothing of the generator's lag.
const MIN_SENDS: u64 = 100;

/// The sends of this console's load tests, and those that started past `--max-lag`
/// (counted as the progress reports come, every 250 ms): a canary window in which more
/// than 1 % of at least 100 sends were late (the lag's p99 past its limit) is not judged
/// on that traffic.
#[derive(Debug, Clone, Default)]
pub struct LagSignal(Arc<(AtomicU64, AtomicU64)>);

/// A reading of a [`LagSignal`]: sends and late sends so far.
pub type LagReading = (u64, u64);

impl LagSignal {
    pub fn new() -> LagSignal {
        LagSignal::default()
    }

    /// `sends` more sends, `late` of them past the limit.
    pub fn add(&self, sends: u64, late: u64) {
        self.0.0.fetch_add(sends, Ordering::Relaxed);
        self.0.1.fetch_add(late, Ordering::Relaxed);
    }

    pub fn reading(&self) -> LagReading {
        (
            self.0.0.load(Ordering::Relaxed),
            self.0.1.load(Ordering::Relaxed),
        )
    }

    /// Did the sends between two readings lag (over 1 % late, of at least 100)?
    pub fn lagged_between(a: LagReading, b: LagReading) -> bool {
        let sends = b.0.saturating_sub(a.0);
        let late = b.1.saturating_sub(a.1);
        sends >= MIN_SENDS && late as f64 > LATE_SHARE * sends as f64
    }
}

/// The share of late sends that puts the lag's p99 past its limit.
const LATE_SHARE: f64 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;

    fn health(lag_p99: Option<f64>, waits: u64, cpu: Option<f64>) -> Health {
        Health {
            lag_p99_ms: lag_p99,
            lag_max_ms: lag_p99.map(|p| p * 2.0),
            max_lag_ms: 1.0,
            slot_waits: waits,
            read_wait_p99_ms: None,
            read_wait_max_ms: None,
            sent: 1000,
            max_in_flight: Some(50),
            cpu_cores: cpu,
            cores: 2,
            sender_priority: None,
        }
    }

    #[test]
    fn each_problem_is_said_past_its_limit_only() {
        type Row<'a> = (Option<f64>, u64, Option<f64>, &'a [&'a str]);
        let table: &[Row] = &[
            (Some(0.05), 0, Some(0.4), &[]),
            (Some(1.0), 10, Some(1.79), &[]),
            (None, 0, None, &[]),
            (
                Some(1.01),
                0,
                None,
                &["the generator lagged: sends started 1.01 ms late"],
            ),
            (
                Some(0.2),
                11,
                None,
                &["11 of 1000 sends waited for one of --max-in-flight 50"],
            ),
            (Some(0.2), 0, Some(1.8), &["used 1.80 of 2 cores"]),
            (
                Some(3.0),
                500,
                Some(2.0),
                &["lagged", "in-flight cap", "used 2.00 of 2"],
            ),
        ];
        for (lag, waits, cpu, want) in table {
            let h = health(*lag, *waits, *cpu);
            let got = h.problems();
            assert_eq!(got.len(), want.len(), "{lag:?} {waits} {cpu:?}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.contains(w), "{g} vs {w}");
            }
            assert_eq!(h.to_json()["lagged"], h.lagged());
        }
    }

    #[test]
    fn a_lag_at_a_lowered_priority_names_the_way_out_and_only_then() {
        use crate::load::engine::Applied;
        let mut h = health(Some(3.0), 0, None);
        let hint = "--sender-priority normal";
        assert!(!h.problems()[0].contains(hint));
        h.sender_priority = Some(Applied::Normal);
        assert!(!h.problems()[0].contains(hint));
        for (p, said) in [
            (Applied::Idle, "ran at idle priority"),
            (Applied::Batch, "ran at batch priority"),
        ] {
            h.sender_priority = Some(p);
            let got = &h.problems()[0];
            assert!(got.contains(hint) && got.contains(said), "{p:?}: {got}");
            assert_eq!(h.to_json()["sender_priority"], p.name());
        }
        // no lag, nothing said, whatever the priority
        let mut quiet = health(Some(0.05), 0, None);
        quiet.sender_priority = Some(crate::load::engine::Applied::Idle);
        assert!(quiet.problems().is_empty());
    }

    #[test]
    fn cores_used_is_cpu_over_wall() {
        let s = Duration::from_secs;
        assert_eq!(cores_used(Some(s(1)), Some(s(4)), s(2)), Some(1.5));
        assert_eq!(cores_used(None, Some(s(4)), s(2)), None);
        assert_eq!(cores_used(Some(s(1)), Some(s(4)), Duration::ZERO), None);
        // a clock that went back is no reading
        assert_eq!(cores_used(Some(s(5)), Some(s(4)), s(2)), None);
        assert!(cpu_time().is_some());
    }

    #[test]
    fn a_window_lagged_when_over_one_percent_of_enough_sends_were_late() {
        let a = LagSignal::new();
        let b = a.clone();
        let r0 = b.reading();
        a.add(99, 50);
        // too few sends to say
        assert!(!LagSignal::lagged_between(r0, b.reading()));
        let r1 = b.reading();
        a.add(1000, 10);
        assert!(
            !LagSignal::lagged_between(r1, b.reading()),
            "1 % is the p99"
        );
        let r2 = b.reading();
        a.add(1000, 11);
        assert!(LagSignal::lagged_between(r2, b.reading()));
        assert_eq!(b.reading(), (2099, 71));
    }
}
