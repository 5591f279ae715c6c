//! Prometheus as the source of the model servers' figures, instead of scraping each pod:
//! any server that speaks Prometheus's HTTP API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics). [`queries`] says what is asked (three queries per interval, whatever
//! the number of pods) and turns the answers into the per-pod figures a direct scrape
//! gives, so every view and the per-revision math stay the same; [`client`] reaches the
//! API (a URL with its credentials and CA, or the API server's service proxy); [`source`]
//! picks the window, backfills the time axis and asks every interval; [`setup`] builds it
//! all from the `[metrics]` config.
pub mod client;
pub mod events;
pub mod queries;
pub mod response;
pub mod setup;
pub mod source;

pub use client::{Prom, PromError};
pub use events::PromEvent;
