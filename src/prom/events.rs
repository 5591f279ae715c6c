//! What the Prometheus source reports to the console (through its one event channel).
use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use super::client::PromError;
use super::queries::Missing;
use crate::model::Key;
use crate::scrape::PodMetrics;

/// One round's figures, per pod.
pub type Pods = BTreeMap<Key, PodMetrics>;

/// What the source reports.
#[derive(Debug, Clone)]
pub enum PromEvent {
    /// Where it asks, the server's scrape interval (if it said) and the window chosen.
    Started {
        at: String,
        scrape_interval: Option<Duration>,
        window: Duration,
    },
    /// The minutes before the console started.
    Backfill(History),
    /// The present window.
    Window {
        at: Timestamp,
        window: Duration,
        pods: Pods,
    },
    /// The round gave no figures: why (what was expected, when it was missing).
    Failed {
        at: String,
        why: std::sync::Arc<PromFailure>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PromFailure {
    #[error(transparent)]
    Query(#[from] PromError),
    #[error(
        "no tractor-serve series (tractor_model_info, tractor_http_requests_total…): is Prometheus scraping the model servers?"
    )]
    NoSeries,
    #[error(
        "the series have no `{namespace}` and `{pod}` labels: relabel __meta_kubernetes_namespace and __meta_kubernetes_pod_name to them, or set metrics.namespace_label / pod_label"
    )]
    NoLabels { namespace: String, pod: String },
}

impl PromFailure {
    /// The word the header starts with.
    pub fn kind(&self) -> &'static str {
        match self {
            PromFailure::Query(e) => e.kind(),
            PromFailure::NoSeries => "no series",
            PromFailure::NoLabels { .. } => "other labels",
        }
    }
}

impl From<Missing> for PromFailure {
    fn from(m: Missing) -> Self {
        match m {
            Missing::NoSeries => PromFailure::NoSeries,
            Missing::NoLabels { namespace, pod } => PromFailure::NoLabels { namespace, pod },
        }
    }
}

/// A range query's answer: one entry per step that had data, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The start asked for (the first step with data may come later).
    pub from: Timestamp,
    /// The `increase` window each step's figures cover.
    pub window: Duration,
    pub steps: Vec<(Timestamp, Pods)>,
}
