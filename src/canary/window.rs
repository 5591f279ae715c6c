//! One analysis window from two snapshots of every serving pod's metrics, one at its start
//! and one at its end: per revision (canary or stable), the increase of requests and errors
//! and the latency histogram's bucket increases, summed over the pods, and the request share
//! each revision was observed to get (never the intended one).
//!
//! The window is fresh only when every pod of the start is there at the end and every
//! scrape of both snapshots answered: a pod that left took its requests with it, and a
//! missing scrape hides some. A pod that appears during the window (none should: the window
//! starts once the step's pods are ready) counts from zero. Pure.
use serde::Serialize;
use tractor_metrics::canary::judge::{RevisionWindow, WindowInput};
use tractor_metrics::histogram::{Bucket, deltas, normalize};
use tractor_metrics::rate::increase;
use tractor_metrics::revision::Revision;

use crate::scrape::{PodMetrics, ScrapeError};

/// One pod's scrape in a snapshot.
#[derive(Debug, Clone)]
pub struct PodSample {
    pub pod: String,
    pub revision: Revision,
    pub metrics: Result<PodMetrics, ScrapeError>,
}

/// Every serving pod of the stable and the canary, scraped at about one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pods: Vec<PodSample>,
}

impl Snapshot {
    /// Did every pod answer (and is there at least one)?
    pub fn all_answered(&self) -> bool {
        !self.pods.is_empty() && self.pods.iter().all(|p| p.metrics.is_ok())
    }

    /// Pods of `revision` whose scrape answered.
    pub fn answered(&self, revision: Revision) -> usize {
        self.pods
            .iter()
            .filter(|p| p.revision == revision && p.metrics.is_ok())
            .count()
    }
}

/// Why a window is not fresh, a line each (for the verdict's line and the audit log).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Stale {
    /// A pod's scrape failed at the window's start or end.
    Scrape { pod: String, error: String },
    /// A pod of the start was gone at the end.
    Left { pod: String },
    /// A pod changed revision between the snapshots (relabelled by hand).
    Relabelled { pod: String },
    /// A canary pod's server says it loaded another model version than the canary's: its
    /// numbers are not the canary's (an image or path that loads the old model, or a
    /// server left over at a reused address).
    WrongVersion {
        pod: String,
        serves: String,
        expected: String,
    },
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Scrape { pod, error } => write!(f, "pod {pod}: scrape failed: {error}"),
            Stale::Left { pod } => write!(f, "pod {pod} left during the window"),
            Stale::Relabelled { pod } => write!(f, "pod {pod} changed revision"),
            Stale::WrongVersion {
                pod,
                serves,
                expected,
            } => write!(
                f,
                "canary pod {pod} serves model {serves}, not {expected}: not counted"
            ),
        }
    }
}

/// A window measured: the judgement's input, and what was observed beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub input: WindowInput,
    /// The canary's share of the requests both revisions answered (`None`: no requests).
    pub canary_share: Option<f64>,
    /// Pods that answered at the end, per revision.
    pub canary_pods: usize,
    pub stable_pods: usize,
    pub stale: Vec<Stale>,
}

fn empty() -> RevisionWindow {
    RevisionWindow {
        requests: 0.0,
        errors: 0.0,
        latency: Vec::new(),
    }
}

fn add(w: &mut RevisionWindow, start: Option<&PodMetrics>, end: &PodMetrics) {
    let (requests, errors, latency): (f64, f64, &[Bucket]) = match start {
        Some(s) => (s.requests, s.errors, &s.latency),
        None => (0.0, 0.0, &[]),
    };
    w.requests += increase(requests, end.requests);
    w.errors += increase(errors, end.errors);
    w.latency.extend(deltas(latency, &end.latency));
}

/// The window between `start` and `end`; `load_lagging` says whether a load generator
/// this console runs fell behind its schedule during it; `canary_version`, the model
/// version the canary's servers must report (`tractor_model_info`), when known.
pub fn measure(
    start: &Snapshot,
    end: &Snapshot,
    load_lagging: bool,
    canary_version: Option<&str>,
) -> Measured {
    let (mut canary, mut stable) = (empty(), empty());
    let mut stale = Vec::new();
    for s in &start.pods {
        match (&s.metrics, end.pods.iter().find(|e| e.pod == s.pod)) {
            (_, None) => stale.push(Stale::Left { pod: s.pod.clone() }),
            (Err(e), Some(_)) => stale.push(Stale::Scrape {
                pod: s.pod.clone(),
                error: e.to_string(),
            }),
            (Ok(_), Some(e)) if e.revision != s.revision => {
                stale.push(Stale::Relabelled { pod: s.pod.clone() })
            }
            (Ok(_), Some(_)) => {}
        }
    }
    for e in &end.pods {
        let first = start.pods.iter().find(|s| s.pod == e.pod);
        let metrics = match &e.metrics {
            Ok(m) => m,
            Err(err) => {
                stale.push(Stale::Scrape {
                    pod: e.pod.clone(),
                    error: err.to_string(),
                });
                continue;
            }
        };
        if e.revision == Revision::Canary
            && let (Some(serves), Some(expected)) = (&metrics.version, canary_version)
            && serves != expected
        {
            stale.push(Stale::WrongVersion {
                pod: e.pod.clone(),
                serves: serves.clone(),
                expected: expected.into(),
            });
            continue;
        }
        let before = match first.map(|s| (&s.metrics, s.revision)) {
            Some((Ok(m), r)) if r == e.revision => Some(m),
            // the start's failure or relabelling is already counted as stale
            Some(_) => continue,
            None => None,
        };
        let w = match e.revision {
            Revision::Canary => &mut canary,
            Revision::Stable => &mut stable,
        };
        add(w, before, metrics);
    }
    canary.latency = normalize(&canary.latency);
    stable.latency = normalize(&stable.latency);
    let total = canary.requests + stable.requests;
    let canary_share = (total > 0.0).then(|| canary.requests / total);
    Measured {
        canary_pods: end.answered(Revision::Canary),
        stable_pods: end.answered(Revision::Stable),
        input: WindowInput {
            canary,
            stable,
            scrapes_fresh: stale.is_empty(),
            load_lagging,
        },
        canary_share,
        stale,
    }
}

#[cfg(test)]
mod tests;
