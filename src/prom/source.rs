//! The Prometheus source: when the console starts it reads the server's scrape interval,
//! picks the window, and backfills the monitor's time axis with range queries over the
//! minutes before; then, every interval, the same three queries at the present. One event
//! per round (not per pod): the number of queries does not grow with the pods.
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::client::{Prom, PromError};
use super::events::{History, Pods, PromEvent, PromFailure};
use super::queries::{Labels, Queries, assemble, by_time, queries};
use crate::event::AppEvent;

/// Prometheus's own default, when its configuration does not say.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct Settings {
    pub labels: Labels,
    /// How often the console asks (`scrape.interval_ms`).
    pub interval: Duration,
    /// The window of `increase`; `None`: from the server's scrape interval.
    pub window: Option<Duration>,
    /// How far before the start the time axis is filled.
    pub backfill: Duration,
}

/// The window the console asks for: four of the server's scrape intervals, so that it
/// always holds at least three samples of each series (`increase` needs two, and a window
/// of barely two jumps as samples enter and leave it), and never shorter than two of the
/// console's own intervals (consecutive windows then overlap instead of leaving gaps).
pub fn window_for(scrape_interval: Duration, interval: Duration) -> Duration {
    let w = (scrape_interval * 4).max(interval * 2);
    Duration::from_secs(w.as_secs_f64().ceil() as u64)
}

/// The three queries at `at` (now when `None`), assembled.
pub async fn round(
    prom: &Prom,
    q: &Queries,
    labels: &Labels,
    at: Option<Timestamp>,
) -> Result<Pods, PromFailure> {
    let (b, c, g) = tokio::try_join!(
        prom.query(&q.buckets, at),
        prom.query(&q.counters, at),
        prom.query(&q.gauges, at),
    )?;
    Ok(assemble(labels, &b, &c, &g)?)
}

/// The same three as range queries, cut per step.
pub async fn backfill(
    prom: &Prom,
    q: &Queries,
    labels: &Labels,
    start: Timestamp,
    end: Timestamp,
    step: Duration,
) -> Result<Vec<(Timestamp, Pods)>, PromError> {
    let (b, c, g) = tokio::try_join!(
        prom.query_range(&q.buckets, start, end, step),
        prom.query_range(&q.counters, start, end, step),
        prom.query_range(&q.gauges, start, end, step),
    )?;
    let (b, c, g) = (by_time(&b), by_time(&c), by_time(&g));
    let mut times: Vec<i64> = b.keys().chain(c.keys()).chain(g.keys()).copied().collect();
    times.sort_unstable();
    times.dedup();
    let empty = Vec::new();
    Ok(times
        .into_iter()
        .filter_map(|t| {
            let pods = assemble(
                labels,
                b.get(&t).unwrap_or(&empty),
                c.get(&t).unwrap_or(&empty),
                g.get(&t).unwrap_or(&empty),
            )
            .ok()?;
            Some((Timestamp::from_millisecond(t).ok()?, pods))
        })
        .collect())
}

pub fn spawn(prom: Prom, settings: Settings, tx: UnboundedSender<AppEvent>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let send = |e: PromEvent| tx.send(AppEvent::Prom(e)).is_ok();
        let scrape_interval = prom.scrape_interval().await;
        let window = settings.window.unwrap_or_else(|| {
            window_for(
                scrape_interval.unwrap_or(DEFAULT_SCRAPE_INTERVAL),
                settings.interval,
            )
        });
        let q = queries(&settings.labels, window);
        if !send(PromEvent::Started {
            at: prom.describe(),
            scrape_interval,
            window,
        }) {
            return;
        }
        let end = Timestamp::now();
        if let Ok(back) = jiff::SignedDuration::try_from(settings.backfill)
            && let Ok(start) = end.checked_sub(back)
            && !settings.backfill.is_zero()
        {
            let steps = backfill(&prom, &q, &settings.labels, start, end, settings.interval).await;
            let sent = match steps {
                Ok(steps) => send(PromEvent::Backfill(History {
                    from: start,
                    window,
                    steps,
                })),
                Err(e) => send(PromEvent::Failed {
                    at: prom.describe(),
                    why: std::sync::Arc::new(e.into()),
                }),
            };
            if !sent {
                return;
            }
        }
        let mut tick = tokio::time::interval(settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let at = Timestamp::now();
            let ev = match round(&prom, &q, &settings.labels, Some(at)).await {
                Ok(pods) => PromEvent::Window { at, window, pods },
                Err(e) => PromEvent::Failed {
                    at: prom.describe(),
                    why: std::sync::Arc::new(e),
                },
            };
            if !send(ev) {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_four_scrape_intervals_and_at_least_two_of_the_consoles() {
        let s = Duration::from_secs;
        assert_eq!(window_for(s(15), s(5)), s(60));
        assert_eq!(window_for(s(5), s(5)), s(20));
        assert_eq!(window_for(s(1), s(5)), s(10));
        assert_eq!(window_for(Duration::from_millis(2500), s(1)), s(10));
        assert_eq!(
            window_for(Duration::from_millis(300), Duration::from_millis(500)),
            s(2)
        );
    }
}
