//! Canaries as the console's watch sees them: the run saved on each `NAME-canary`
//! Deployment (any console's, so a canary driven elsewhere shows too), and a marker on the
//! stable's timeline for each window's verdict. Pure.
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use tractor_metrics::canary::counters::Judged;

use super::State;
use super::timeline::{Marker, MarkerKind};
use crate::canary::object::CANARY_OF_ANNOTATION;
use crate::canary::state::VERDICT_ANNOTATION;
use crate::canary::{CanaryState, Lease, StateError, VerdictSummary, canary_name};
use crate::model::Key;

/// A canary as its annotations say.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub state: CanaryState,
    pub lease: Option<Lease>,
    /// The canary's desired and ready replicas.
    pub replicas: i32,
    pub ready: i32,
}

fn annotation<'a>(d: &'a Deployment, key: &str) -> Option<&'a String> {
    d.metadata.annotations.as_ref()?.get(key)
}

/// The canary of the stable `stable`, if the watch has one: its run, or why it cannot be
/// read.
pub fn of(s: &State, stable: &Key) -> Option<Result<Seen, StateError>> {
    let d = s
        .cluster
        .deployments
        .get(&(stable.0.clone(), canary_name(&stable.1)))?;
    if annotation(d, CANARY_OF_ANNOTATION) != Some(&stable.1) {
        return None;
    }
    let a = d.metadata.annotations.clone().unwrap_or_default();
    Some(CanaryState::decode(&a).and_then(|state| {
        Ok(Seen {
            state,
            lease: Lease::decode(&a)?,
            replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
            ready: d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        })
    }))
}

/// Marks a canary's new verdict on its stable's timeline, when `new` is a canary whose
/// last window changed since the state's copy.
pub fn on_deployment(s: &mut State, new: &Deployment) {
    let k = crate::model::key(&new.metadata);
    let Some(old) = s.cluster.deployments.get(&k) else {
        return;
    };
    if let Some((stable, m)) = verdict_marker(old, new, s.now) {
        let cap = s.config.general.history_points;
        s.timelines.entry(Some(stable)).or_default().mark(m, cap);
    }
}

/// The marker of a new window's verdict on a canary Deployment, for its stable's timeline.
pub fn verdict_marker(old: &Deployment, new: &Deployment, at: Timestamp) -> Option<(Key, Marker)> {
    let stable = annotation(new, CANARY_OF_ANNOTATION)?;
    let text = annotation(new, VERDICT_ANNOTATION)?;
    if annotation(old, VERDICT_ANNOTATION) == Some(text) {
        return None;
    }
    let v: VerdictSummary = serde_json::from_str(text).ok()?;
    let (sign, word) = match v.verdict {
        Judged::Pass => ("✓", "pass"),
        Judged::Fail => ("✗", "fail"),
        Judged::Inconclusive => ("?", "inconclusive"),
    };
    let why = v
        .reasons
        .first()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let numbers = v.p99s().map(|p| format!(" ({p})")).unwrap_or_default();
    let key = (
        new.metadata.namespace.clone().unwrap_or_default(),
        stable.clone(),
    );
    Some((
        key,
        Marker {
            at,
            kind: MarkerKind::Verdict(v.verdict),
            text: format!("{sign} step {} {word}{numbers}{why}", v.step + 1),
        },
    ))
}

#[cfg(test)]
mod tests;
