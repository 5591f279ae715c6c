//! What the monitor screen plots: every scrape interval, one sample per watched
//! deployment (its pods grouped by ReplicaSet revision) and one for the explicit scrape
//! URLs (grouped by the version the servers report); markers where a rollout or a scale
//! happened. Built in `update`, without I/O.
use std::collections::{BTreeMap, HashMap, VecDeque};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;

use super::State;
use super::latency::Window;
use crate::model::{Key, key, revision};

/// What a monitor screen is about: a deployment, or the explicit scrape URLs (`None`).
pub type Subject = Option<Key>;

/// One revision's (or, for URL targets, one version's) figures in a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPoint {
    /// `r3 v2`, or `v2` for URL targets.
    pub label: String,
    /// Sort key: the revision (newest first), or `None` for URL groups.
    pub revision: Option<i64>,
    /// Milliseconds.
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub rps: Option<f64>,
    pub error_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: Timestamp,
    pub groups: Vec<GroupPoint>,
    pub rps: Option<f64>,
    /// 5xx other than 503, per second; and 503s (backpressure) per second.
    pub errors_per_s: Option<f64>,
    pub rejected_per_s: Option<f64>,
    pub queue_ms: Option<f64>,
    pub inference_ms: Option<f64>,
    pub batch: Option<f64>,
    pub inflight: f64,
    /// Deployment replicas: ready, and wanted (spec); the autoscaler's current and desired.
    pub ready: Option<i32>,
    pub wanted: Option<i32>,
    pub hpa_current: Option<i32>,
    pub hpa_desired: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Rollout,
    Scale,
    Load,
    /// A canary window's verdict, on its stable's timeline.
    Verdict(tractor_metrics::canary::counters::Judged),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: Timestamp,
    pub kind: MarkerKind,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub samples: VecDeque<Sample>,
    pub markers: VecDeque<Marker>,
}

impl Timeline {
    fn push(&mut self, s: Sample, cap: usize) {
        self.samples.push_back(s);
        while self.samples.len() > cap.max(2) {
            self.samples.pop_front();
        }
    }

    pub fn mark(&mut self, m: Marker, cap: usize) {
        self.markers.push_back(m);
        while self.markers.len() > cap.max(2) {
            self.markers.pop_front();
        }
    }
}

/// A sample's groups: newest revision first (then by version for URL targets).
/// The group of a stable's canary pods is `(None, CANARY_GROUP)`, after its revisions.
type Groups = BTreeMap<(std::cmp::Reverse<Option<i64>>, String), Window>;

/// The group key of a canary's pods on its stable's timeline.
const CANARY_GROUP: &str = "canary";

/// Is this scrape target an explicit URL rather than a pod? (Pods always have a namespace.)
pub fn is_url_target(k: &Key) -> bool {
    k.0.is_empty()
}

/// Is it time for the next sample?
pub fn due(s: &State) -> bool {
    let every = i64::try_from(s.config.scrape.interval_ms).unwrap_or(i64::MAX);
    match s.last_sample {
        None => true,
        Some(t) => s.now.as_millisecond() - t.as_millisecond() >= every,
    }
}

/// Takes one sample for every deployment with scraped pods (and the one on screen), and
/// one for the URL targets if there are any.
pub fn sample(s: &mut State) {
    let now = s.now;
    let samples = samples_of(s, &s.scrapes, now, true);
    let cap = s.config.general.history_points;
    for (subject, sample) in samples {
        s.timelines.entry(subject).or_default().push(sample, cap);
    }
    s.last_sample = Some(now);
}

/// Samples from before the console started (a Prometheus source's backfill), oldest
/// first: each step's scrapes sampled at its time, put before the samples taken since.
pub fn backfill(
    s: &mut State,
    from: Timestamp,
    steps: &[(Timestamp, HashMap<Key, super::PodScrape>)],
) {
    let mut older: HashMap<Subject, Vec<Sample>> = HashMap::new();
    for (at, scrapes) in steps {
        for (subject, sample) in samples_of(s, scrapes, *at, false) {
            older.entry(subject).or_default().push(sample);
        }
    }
    let cap = s.config.general.history_points;
    for (subject, mut samples) in older {
        let first_live = s
            .timelines
            .get(&subject)
            .and_then(|tl| tl.samples.front())
            .map(|x| x.at);
        samples.retain(|x| first_live.is_none_or(|f| x.at < f));
        samples.sort_by_key(|x| x.at);
        let past = match &subject {
            Some(k) if !samples.is_empty() => {
                past_rollouts(s, k, from, first_live.unwrap_or(s.now))
            }
            _ => Vec::new(),
        };
        let tl = s.timelines.entry(subject).or_default();
        for x in samples.into_iter().rev() {
            tl.samples.push_front(x);
        }
        while tl.samples.len() > cap.max(2) {
            tl.samples.pop_front();
        }
        for m in past.into_iter().rev() {
            if !tl.markers.iter().any(|o| o.text == m.text) {
                tl.markers.push_front(m);
            }
        }
        while tl.markers.len() > cap.max(2) {
            tl.markers.pop_front();
        }
    }
}

/// Rollout markers for the history a backfill brought back: each ReplicaSet of deployment
/// `k` created in `[from, to)`, at its creation time, oldest first. An undo that went back
/// to an older ReplicaSet keeps that one's creation time, so it gets no marker here.
fn past_rollouts(s: &State, k: &Key, from: Timestamp, to: Timestamp) -> Vec<Marker> {
    let Some(d) = s.cluster.deployments.get(k) else {
        return Vec::new();
    };
    let mut out: Vec<Marker> = crate::model::deployment::history(d, s.cluster.replicasets_in(&k.0))
        .into_iter()
        .filter_map(|rs| {
            let at = crate::model::created(&rs.metadata)?;
            let template = rs.spec.as_ref().and_then(|sp| sp.template.as_ref());
            let rev = revision(&rs.metadata)?;
            (from..to)
                .contains(&at)
                .then(|| rollout_marker(at, rev, template))
        })
        .collect();
    out.sort_by_key(|m| m.at);
    out
}

/// The marker of a rollout to revision `rev` with pod template `template`, at `at`.
fn rollout_marker(
    at: Timestamp,
    rev: i64,
    template: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>,
) -> Marker {
    let version = crate::model::deployment::model_version(template)
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    Marker {
        at,
        kind: MarkerKind::Rollout,
        text: format!("rollout → rev {rev}{version}"),
    }
}

/// One sample per subject of `scrapes` at `at`; `on_screen`: also one (maybe empty) for
/// the monitor on screen.
fn samples_of(
    s: &State,
    scrapes: &HashMap<Key, super::PodScrape>,
    at: Timestamp,
    on_screen: bool,
) -> Vec<(Subject, Sample)> {
    let stale_ms = i64::try_from(s.config.scrape.interval_ms.saturating_mul(3)).unwrap_or(i64::MAX);
    let now = at;
    let mut groups: HashMap<Subject, Groups> = HashMap::new();
    for (k, sc) in scrapes {
        // a target that stopped answering long ago is not part of the present
        let fresh = sc
            .last
            .as_ref()
            .is_some_and(|(t, _)| now.as_millisecond() - t.as_millisecond() <= stale_ms);
        if !fresh && sc.error.is_none() {
            continue;
        }
        let (subject, group) = if is_url_target(k) {
            let v = sc
                .last
                .as_ref()
                .and_then(|(_, m)| m.version.clone())
                .unwrap_or_else(|| "-".into());
            (None, (std::cmp::Reverse(None), v))
        } else {
            let owner = if on_screen {
                super::rows::owner(s, k)
            } else {
                super::rows::owner_or_by_name(s, k)
            };
            match owner {
                Some((d, rev)) => {
                    // a canary's pods are also drawn on its stable's screen, beside the
                    // stable's revisions (they share its traffic)
                    if let Some(stable) = super::rows::stable_of(s, &d) {
                        groups
                            .entry(Some(stable))
                            .or_default()
                            .entry((std::cmp::Reverse(None), CANARY_GROUP.to_string()))
                            .or_default()
                            .add(sc);
                    }
                    (Some(d), (std::cmp::Reverse(rev), String::new()))
                }
                None => continue,
            }
        };
        groups
            .entry(subject)
            .or_default()
            .entry(group)
            .or_default()
            .add(sc);
    }
    if on_screen && let super::View::Monitor(subject) = &s.view {
        groups.entry(subject.clone()).or_default();
    }
    groups
        .into_iter()
        .map(|(subject, by_group)| {
            let sample = build(s, &subject, by_group, at);
            (subject, sample)
        })
        .collect()
}

fn build(s: &State, subject: &Subject, by_group: Groups, at: Timestamp) -> Sample {
    let mut all = Window::default();
    let mut points = Vec::new();
    for ((std::cmp::Reverse(rev), version), w) in by_group {
        let label = match rev {
            None if subject.is_some() && version == CANARY_GROUP => {
                format!("{CANARY_GROUP} {}", w.versions_label())
            }
            Some(r) => format!("r{r} {}", w.versions_label()),
            None if subject.is_some() => format!("r? {}", w.versions_label()),
            None => version,
        };
        let ms = |q: f64| w.quantile(q).value().map(|v| v * 1000.0);
        points.push(GroupPoint {
            label,
            revision: rev,
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            rps: w.rps(),
            error_share: w.error_share(),
        });
        all.merge(&w);
    }
    let per_s = |x: f64| (all.secs > 0.0).then(|| x / all.secs);
    let d = subject.as_ref().and_then(|k| s.cluster.deployments.get(k));
    let hpa = subject.as_ref().and_then(|k| {
        s.cluster.hpas.values().find(|h| {
            h.metadata.namespace.as_deref() == Some(k.0.as_str())
                && h.spec.scale_target_ref.kind == "Deployment"
                && h.spec.scale_target_ref.name == k.1
        })
    });
    let hpa_counts = hpa.map(crate::model::hpa::replicas);
    Sample {
        at,
        groups: points,
        rps: all.rps(),
        errors_per_s: per_s(all.errors),
        rejected_per_s: per_s(all.rejected),
        queue_ms: all.queue_ms(),
        inference_ms: all.inference_ms(),
        batch: all.batch(),
        inflight: all.inflight,
        ready: d.map(|d| {
            d.status
                .as_ref()
                .and_then(|st| st.ready_replicas)
                .unwrap_or(0)
        }),
        wanted: d.and_then(|d| d.spec.as_ref()?.replicas),
        hpa_current: hpa_counts.map(|c| c.2),
        hpa_desired: hpa_counts.map(|c| c.3),
    }
}

/// Markers for what changed between two versions of a deployment: a new revision
/// (a rollout, an undo, a restart) or a new replica count (a scale, by hand or by HPA).
pub fn changes(old: &Deployment, new: &Deployment, at: Timestamp) -> Vec<Marker> {
    let mut out = Vec::new();
    let (r0, r1) = (revision(&old.metadata), revision(&new.metadata));
    if let Some(rev) = r1
        && r1 != r0
    {
        out.push(rollout_marker(
            at,
            rev,
            new.spec.as_ref().map(|s| &s.template),
        ));
    }
    let replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);
    if let (Some(a), Some(b)) = (replicas(old), replicas(new))
        && a != b
    {
        out.push(Marker {
            at,
            kind: MarkerKind::Scale,
            text: format!("scale {a} → {b}"),
        });
    }
    out
}

/// Records the markers of a deployment update into its timeline.
pub fn on_deployment(s: &mut State, new: &Deployment) {
    let k = key(&new.metadata);
    let Some(old) = s.cluster.deployments.get(&k) else {
        return;
    };
    let marks = changes(old, new, s.now);
    if marks.is_empty() {
        return;
    }
    let cap = s.config.general.history_points;
    let tl = s.timelines.entry(Some(k)).or_default();
    for m in marks {
        tl.mark(m, cap);
    }
}

#[cfg(test)]
mod tests;
