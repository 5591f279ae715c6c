//! A diagnosis of a deployment, the way an experienced on-call engineer reads it: for each
//! problem the symptom, the likely cause, the first action, and the evidence (the event,
//! the exit code, the message). Rules are pure functions over the objects the console
//! already watches (generalised from the seed's troubleshooting table to any model server);
//! the detail view opens with them and the deployments list's HEALTH column points at them.
use std::collections::VecDeque;

pub use crate::logs::{LastWords, RunKey};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};

mod hpa;
mod jobs;
mod pods;
mod rollout;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Serving is broken or about to be: act now.
    Bad,
    /// Degraded or at risk.
    Warn,
}

/// One problem: what is seen, why, what to do first, and what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A short name (`CrashLoopBackOff`, `OOMKilled`, `HPA at max`...).
    pub rule: &'static str,
    /// The object it is about: `pod/NAME`, `deploy/NAME`, `hpa/NAME`, `rs/NAME`.
    pub subject: String,
    pub symptom: String,
    pub cause: String,
    pub action: String,
    pub evidence: Vec<String>,
    /// Log lines that show it (a crashed container's last lines), oldest first.
    pub log: Vec<String>,
}

/// Lines of a previous run shown in a finding at most.
pub const LAST_LINES: usize = 5;

/// Everything the rules read for one deployment.
pub struct Facts<'a> {
    pub deployment: &'a Deployment,
    /// Newest revision first.
    pub replicasets: Vec<&'a ReplicaSet>,
    /// With the revision of the ReplicaSet that owns each.
    pub pods: Vec<(&'a Pod, Option<i64>)>,
    /// Of the deployment, its ReplicaSets and pods, newest first.
    pub events: Vec<&'a Event>,
    /// The HPA that scales it, if any, and its replica history (oldest first).
    pub hpa: Option<&'a HorizontalPodAutoscaler>,
    pub hpa_history: Option<&'a VecDeque<crate::state::ReplicaPoint>>,
    /// Jobs of the same app (the same Helm release, or the same app label).
    pub jobs: Vec<&'a k8s_openapi::api::batch::v1::Job>,
    /// What crash-looping containers printed before they died, as far as read.
    pub last_words: Option<&'a std::collections::BTreeMap<RunKey, LastWords>>,
}

/// Every finding, the worst first (then by rule and subject, so the order is stable).
pub fn diagnose(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(pods::findings(f));
    out.extend(rollout::findings(f));
    out.extend(hpa::findings(f));
    out.extend(jobs::findings(f));
    out.sort_by(|a, b| (a.severity, a.rule, &a.subject).cmp(&(b.severity, b.rule, &b.subject)));
    out
}

/// The one word of the deployments list: `ok`, or the worst finding's rule.
pub fn health(findings: &[Finding]) -> (&'static str, Option<Severity>) {
    match findings.first() {
        None => ("ok", None),
        Some(f) => (f.rule, Some(f.severity)),
    }
}

/// The newest event about `kind`/`name` with `reason`, its message.
fn event<'a>(f: &'a Facts, kind: &str, name: &str, reasons: &[&str]) -> Option<&'a Event> {
    f.events.iter().copied().find(|e| {
        e.involved_object.kind.as_deref() == Some(kind)
            && e.involved_object.name.as_deref() == Some(name)
            && e.reason.as_deref().is_some_and(|r| reasons.contains(&r))
    })
}

fn event_line(e: &Event) -> String {
    let count = e
        .count
        .filter(|c| *c > 1)
        .map(|c| format!(" (x{c})"))
        .unwrap_or_default();
    format!(
        "event {}{count}: {}",
        e.reason.as_deref().unwrap_or("-"),
        e.message.as_deref().unwrap_or("").trim()
    )
}

fn name(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests;
