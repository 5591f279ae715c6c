//! The end of a run: the summary (table for people, JSON for scripts) and the SLO verdict.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::engine::{Mode, Outcomes, Plan};
use super::failure::Failure;
use super::fleet::merge::WorkerRow;
use super::health::Health;
use super::stats::quantile_ms;

/// Objectives a run must meet; any miss makes `tractor loadtest` exit non-zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slo {
    pub p99_ms: Option<f64>,
    /// Highest fraction of requests that may fail (5xx or no answer).
    pub error_rate: Option<f64>,
}

/// The JSON could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("--json {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--json {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub mode: String,
    pub urls: Vec<String>,
    pub http: &'static str,
    pub duration_s: f64,
    pub sent: u64,
    pub requests: u64,
    pub errors: u64,
    pub target_rate: Option<f64>,
    /// Sends per second over the send window.
    pub achieved_rate: f64,
    /// Answers per second over the whole run.
    pub throughput: f64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Open loop: p50, p99 and p99.9 from the scheduled times (lag included), in ms.
    pub from_schedule: [Option<f64>; 3],
    pub statuses: Vec<(u16, u64)>,
    pub failures: Vec<(Failure, u64)>,
    /// The generator's lag, in-flight waits and CPU over the whole run.
    pub generator: Health,
    /// An in-cluster run's workers (empty for a run from this process).
    pub workers: Vec<WorkerRow>,
}

impl Summary {
    pub fn new(plan: &Plan, o: &Outcomes) -> Summary {
        let s = &o.stats;
        let (mode, target_rate, max_in_flight) = match &plan.mode {
            Mode::Open {
                profile,
                max_in_flight,
            } => {
                let mean_rate = match profile {
                    super::profile::Profile::Constant(r) => Some(*r),
                    _ => None,
                };
                (
                    format!("open loop, {profile}"),
                    mean_rate,
                    Some(*max_in_flight),
                )
            }
            Mode::Closed { concurrency } => {
                (format!("closed loop, {concurrency} workers"), None, None)
            }
        };
        let h = &s.total;
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            mode,
            urls: plan.targets.iter().map(|t| t.url.clone()).collect(),
            http: match (plan.grpc, plan.http2) {
                (true, _) => "gRPC",
                (false, true) => "HTTP/2",
                (false, false) => "HTTP/1.1",
            },
            duration_s: o.elapsed.as_secs_f64(),
            sent: s.sent,
            requests: s.finished(),
            errors: s.errors(),
            target_rate,
            achieved_rate: if o.send_window.as_secs_f64() > 0.0 {
                // n sends span n-1 intervals
                s.sent.saturating_sub(1) as f64 / o.send_window.as_secs_f64()
            } else {
                0.0
            },
            throughput: s.answered() as f64 / o.elapsed.as_secs_f64().max(1e-9),
            p50: s.quantile_ms(0.5),
            p90: s.quantile_ms(0.9),
            p99: s.quantile_ms(0.99),
            p999: s.quantile_ms(0.999),
            max: (!h.is_empty()).then(|| ms(h.max())),
            mean: (!h.is_empty()).then(|| h.mean() / 1000.0),
            from_schedule: [0.5, 0.99, 0.999].map(|q| quantile_ms(&s.from_schedule, q)),
            statuses: s.statuses.iter().map(|(k, v)| (*k, *v)).collect(),
            failures: s.failures.iter().map(|(k, v)| (*k, *v)).collect(),
            generator: Health {
                sender_priority: o.sender_priority,
                ..Health::of(&s.lag, s, plan.max_lag, max_in_flight, o.cpu_cores)
            },
            workers: Vec::new(),
        }
    }

    /// Why the totals are partial: an in-cluster run's worker failed or was lost.
    pub fn partial(&self) -> Option<String> {
        workers::partial(&self.workers)
    }

    /// The summary of an in-cluster run, with its workers.
    pub fn with_workers(mut self, workers: Vec<WorkerRow>) -> Summary {
        self.workers = workers;
        self
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    pub fn to_json(&self, slo: &Slo) -> Value {
        json!({
            "mode": self.mode,
            "urls": self.urls,
            "http": self.http,
            "duration_s": self.duration_s,
            "sent": self.sent,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate(),
            "target_rate": self.target_rate,
            "achieved_rate": self.achieved_rate,
            "throughput": self.throughput,
            "latency_ms": {
                "p50": self.p50, "p90": self.p90, "p99": self.p99, "p999": self.p999,
                "max": self.max, "mean": self.mean,
            },
            "latency_from_schedule_ms": {
                "p50": self.from_schedule[0], "p99": self.from_schedule[1],
                "p999": self.from_schedule[2],
            },
            "statuses": self.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "failures": self.failures.iter().map(|(k, v)| (k.name().to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "slo": {
                "p99_ms": slo.p99_ms,
                "error_rate": slo.error_rate,
                "missed": self.missed(slo),
            },
            "generator": self.generator.to_json(),
            "workers": self.workers,
            "partial": self.partial(),
        })
    }

    /// Writes [`Summary::to_json`] to `path` (`-`: standard output).
    pub fn write_json(&self, slo: &Slo, path: &Path) -> Result<(), JsonError> {
        let text = serde_json::to_string_pretty(&self.to_json(slo)).map_err(|source| {
            JsonError::Encode {
                path: path.to_path_buf(),
                source,
            }
        })?;
        if path.as_os_str() == "-" {
            println!("{text}");
            return Ok(());
        }
        std::fs::write(path, text + "\n").map_err(|source| JsonError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Each objective missed, in words (empty: all met).
    pub fn missed(&self, slo: &Slo) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(limit) = slo.p99_ms {
            match self.p99 {
                Some(p) if p <= limit => {}
                Some(p) => out.push(format!("p99 {p:.1} ms > {limit} ms")),
                None => out.push(format!(
                    "p99: no request was answered (objective {limit} ms)"
                )),
            }
        }
        if let Some(limit) = slo.error_rate
            && self.error_rate() > limit
        {
            out.push(format!(
                "error rate {:.3}% > {:.3}%",
                self.error_rate() * 100.0,
                limit * 100.0
            ));
        }
        out
    }

    /// One line for the console's status bar.
    pub fn line(&self, slo: &Slo) -> String {
        let q = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let missed = self.missed(slo);
        let verdict = if missed.is_empty() {
            if *slo == Slo::default() {
                String::new()
            } else {
                "; SLO met".into()
            }
        } else {
            format!("; SLO missed: {}", missed.join(", "))
        };
        let generator = self
            .generator
            .warning()
            .or_else(|| workers::partial(&self.workers).map(|w| format!("⚠ {w}")))
            .map(|w| format!("; {w}"))
            .unwrap_or_default();
        format!(
            "{} {} requests, {} errors ({:.2}%), {:.1}/s; p50 {} p99 {} p99.9 {} ms{verdict}{generator}",
            self.requests,
            self.http,
            self.errors,
            self.error_rate() * 100.0,
            self.throughput,
            q(self.p50),
            q(self.p99),
            q(self.p999),
        )
    }

    /// The table printed at the end.
    pub fn table(&self) -> String {
        let f = |v: Option<f64>| {
            v.map(|x| format!("{x:.2} ms"))
                .unwrap_or_else(|| "-".into())
        };
        let mut t = String::new();
        let mut row = |k: &str, v: String| t.push_str(&format!("  {k:<14} {v}\n"));
        row("mode", format!("{}, {}", self.mode, self.http));
        row("targets", self.urls.join(", "));
        row("duration", format!("{:.2} s", self.duration_s));
        row(
            "requests",
            format!(
                "{} ({} errors, {:.2}%)",
                self.requests,
                self.errors,
                self.error_rate() * 100.0
            ),
        );
        let target = self
            .target_rate
            .map(|r| {
                format!(
                    " (target {r}/s, {:+.2}%)",
                    (self.achieved_rate / r - 1.0) * 100.0
                )
            })
            .unwrap_or_default();
        row("send rate", format!("{:.1}/s{target}", self.achieved_rate));
        row("throughput", format!("{:.1} answers/s", self.throughput));
        row(
            "latency",
            format!(
                "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                f(self.p50),
                f(self.p90),
                f(self.p99),
                f(self.p999),
                f(self.max)
            ),
        );
        if let [Some(a), Some(b), Some(c)] = self.from_schedule {
            row(
                "from schedule",
                format!(
                    "p50 {}  p99 {}  p99.9 {}  (the generator's lag included, as wrk2 counts)",
                    f(Some(a)),
                    f(Some(b)),
                    f(Some(c))
                ),
            );
        }
        let st: Vec<String> = self
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        row(
            "statuses",
            if st.is_empty() {
                "-".into()
            } else {
                st.join(", ")
            },
        );
        if !self.failures.is_empty() {
            let fl: Vec<String> = self
                .failures
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            row("no answer", fl.join(", "));
        }
        let g = self.generator.figures();
        row("generator", if g.is_empty() { "-".into() } else { g });
        for p in self.generator.problems() {
            row("⚠", p);
        }
        if let Some(w) = workers::partial(&self.workers) {
            row("⚠", w);
        }
        if !self.workers.is_empty() {
            t.push_str(&workers::table(&self.workers));
        }
        t
    }
}

#[cfg(test)]
mod tests;
mod workers;
