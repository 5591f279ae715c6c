//! The rows each view shows, filtered, in display order.
use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};

use super::{State, ViewId};
use crate::model::deployment::{history, images, model_version, rollout_status};
use crate::model::{Key, revision};

/// Case-insensitive substring match over any of the fields; an empty filter matches.
pub fn matches(filter: &str, fields: &[&str]) -> bool {
    if filter.is_empty() {
        return true;
    }
    let f = filter.to_lowercase();
    fields.iter().any(|x| contains_ci(x, &f))
}

/// Does `hay` contain `needle_lower` (already lower case), ignoring ASCII case? No allocation.
pub fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if !needle_lower.is_ascii() {
        return hay.to_lowercase().contains(needle_lower);
    }
    let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// What a pod filter matches against, lower case: names, node, phase, and every
/// container reason. Kept per pod by the store, so filtering 10,000 pods is a scan of
/// prepared strings.
pub fn pod_search_text(p: &Pod) -> String {
    let mut parts: Vec<&str> = vec![
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or(""),
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or(""),
        p.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or(""),
        p.status
            .as_ref()
            .and_then(|s| s.reason.as_deref())
            .unwrap_or(""),
    ];
    if p.metadata.deletion_timestamp.is_some() {
        parts.push("Terminating");
    }
    let statuses = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    for c in statuses.into_iter().flatten() {
        let st = c.state.as_ref();
        parts.extend(
            [
                st.and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref()),
                st.and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.reason.as_deref()),
                c.last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.reason.as_deref()),
            ]
            .into_iter()
            .flatten(),
        );
    }
    parts.join("\u{1f}").to_lowercase()
}

pub fn deployments(s: &State) -> Vec<&Deployment> {
    let f = s.filter(ViewId::Deployments);
    s.cluster
        .deployments
        .values()
        .filter(|d| {
            f.is_empty() || {
                let t = d.spec.as_ref().map(|s| &s.template);
                matches(
                    f,
                    &[
                        d.metadata.namespace.as_deref().unwrap_or(""),
                        d.metadata.name.as_deref().unwrap_or(""),
                        model_version(t).unwrap_or(""),
                        &images(t).unwrap_or_default(),
                        rollout_status(d).state.as_str(),
                    ],
                )
            }
        })
        .collect()
}

pub fn pods(s: &State) -> Vec<&Pod> {
    let f = s.filter(ViewId::Pods);
    let fl = f.to_lowercase();
    s.cluster
        .pods
        .iter()
        .filter(|(k, _)| {
            f.is_empty() || s.cluster.pod_text.get(*k).is_some_and(|t| t.contains(&fl))
        })
        .map(|(_, p)| &**p)
        .collect()
}

pub fn jobs(s: &State) -> Vec<&k8s_openapi::api::batch::v1::Job> {
    let f = s.filter(ViewId::Jobs);
    s.cluster
        .jobs
        .values()
        .filter(|j| {
            matches(
                f,
                &[
                    j.metadata.namespace.as_deref().unwrap_or(""),
                    j.metadata.name.as_deref().unwrap_or(""),
                    crate::model::job::status(j).0.as_str(),
                ],
            )
        })
        .collect()
}

pub fn hpas(s: &State) -> Vec<&HorizontalPodAutoscaler> {
    let f = s.filter(ViewId::Hpas);
    s.cluster
        .hpas
        .values()
        .filter(|h| {
            matches(
                f,
                &[
                    h.metadata.namespace.as_deref().unwrap_or(""),
                    h.metadata.name.as_deref().unwrap_or(""),
                    &crate::model::hpa::target_ref(h),
                ],
            )
        })
        .collect()
}

/// Seconds since the epoch of an event's latest occurrence (0 when unknown).
pub fn event_time(e: &Event) -> i64 {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.first_timestamp.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map(|t| t.as_second())
        .unwrap_or(0)
}

/// Newest first.
pub fn events(s: &State) -> Vec<&Event> {
    let f = s.filter(ViewId::Events);
    let mut v: Vec<&Event> = s
        .cluster
        .events
        .values()
        .filter(|e| {
            matches(
                f,
                &[
                    e.metadata.namespace.as_deref().unwrap_or(""),
                    e.involved_object.name.as_deref().unwrap_or(""),
                    e.involved_object.kind.as_deref().unwrap_or(""),
                    e.reason.as_deref().unwrap_or(""),
                    e.message.as_deref().unwrap_or(""),
                    e.type_.as_deref().unwrap_or(""),
                ],
            )
        })
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    v
}

/// The stable whose canary deployment `d` is (its name is the stable's plus `-canary` and
/// it says so in its annotation), or `None` for any other deployment.
pub fn stable_of(s: &State, d: &Key) -> Option<Key> {
    let dep = s.cluster.deployments.get(d)?;
    let stable = dep
        .metadata
        .annotations
        .as_ref()?
        .get(crate::canary::object::CANARY_OF_ANNOTATION)?;
    (crate::canary::canary_name(stable) == d.1).then(|| (d.0.clone(), stable.clone()))
}

/// The deployment and revision a pod belongs to, through its ReplicaSet.
pub fn owner(s: &State, pod: &Key) -> Option<(Key, Option<i64>)> {
    let p = s.cluster.pods.get(pod)?;
    let rs_name = &p
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "ReplicaSet")?
        .name;
    of_replicaset(s, &pod.0, rs_name)
}

/// As [`owner`], for a pod that may be gone (a window from before the console started):
/// its ReplicaSet by name, as the ReplicaSet controller names its pods `RS-xxxxx`.
pub fn owner_or_by_name(s: &State, pod: &Key) -> Option<(Key, Option<i64>)> {
    if s.cluster.pods.contains_key(pod) {
        return owner(s, pod);
    }
    of_replicaset(s, &pod.0, pod.1.rsplit_once('-')?.0)
}

/// The deployment and revision of ReplicaSet `ns/name`.
fn of_replicaset(s: &State, ns: &str, name: &str) -> Option<(Key, Option<i64>)> {
    let rs = s
        .cluster
        .replicasets
        .get(&(ns.to_string(), name.to_string()))?;
    let d = rs
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "Deployment")?;
    Some(((ns.to_string(), d.name.clone()), revision(&rs.metadata)))
}

/// Everything the detail view of one deployment shows.
pub struct Detail<'a> {
    pub deployment: &'a Deployment,
    /// Newest revision first.
    pub revisions: Vec<&'a ReplicaSet>,
    /// Pods with the revision of the ReplicaSet that owns them.
    pub pods: Vec<(&'a Pod, Option<i64>)>,
    /// Events of the deployment, its ReplicaSets and pods, newest first.
    pub events: Vec<&'a Event>,
}

pub fn detail<'a>(s: &'a State, key: &Key) -> Option<Detail<'a>> {
    let d = s.cluster.deployments.get(key)?;
    let ns = key.0.as_str();
    let revisions = history(d, s.cluster.replicasets_in(ns));
    // through the store's index of pods by ReplicaSet: no scan of the namespace
    let mut owned: Vec<(&Key, &Pod, Option<i64>)> = revisions
        .iter()
        .flat_map(|rs| {
            let rs_key = (ns.to_string(), rs.metadata.name.clone().unwrap_or_default());
            let rev = revision(&rs.metadata);
            s.cluster
                .pods_of_rs(&rs_key)
                .map(move |(k, p)| (k, p, rev))
                .collect::<Vec<_>>()
        })
        .collect();
    owned.sort_by(|a, b| a.0.cmp(b.0));
    let pods: Vec<(&Pod, Option<i64>)> = owned.into_iter().map(|(_, p, r)| (p, r)).collect();
    let mut names: HashSet<(&str, &str)> = HashSet::new();
    names.insert(("Deployment", key.1.as_str()));
    for rs in &revisions {
        names.insert(("ReplicaSet", rs.metadata.name.as_deref().unwrap_or("")));
    }
    for (p, _) in &pods {
        names.insert(("Pod", p.metadata.name.as_deref().unwrap_or("")));
    }
    let mut keyed: Vec<(&Key, &Event)> = names
        .iter()
        .flat_map(|(kind, name)| s.cluster.events_about(ns, kind, name))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut events: Vec<&Event> = keyed.into_iter().map(|(_, e)| e).collect();
    events.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    Some(Detail {
        deployment: d,
        revisions,
        pods,
        events,
    })
}

/// How many rows the current view's cursor moves over.
pub fn count(s: &State) -> usize {
    match &s.view {
        super::View::Deployments => deployments(s).len(),
        super::View::Pods => pods(s).len(),
        super::View::Hpas => hpas(s).len(),
        super::View::Events => events(s).len(),
        super::View::Jobs => jobs(s).len(),
        super::View::Monitor(_) => 0,
        super::View::Logs(_) => s.logs.as_ref().map_or(0, |v| v.ring.len()),
        super::View::Detail(k) => match detail(s, k) {
            Some(d) => match s.section {
                super::Section::Revisions => d.revisions.len(),
                super::Section::Pods => d.pods.len(),
            },
            None => 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::contains_ci;

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_ci("CrashLoopBackOff", "crash"));
        assert!(contains_ci("abc", ""));
        assert!(!contains_ci("ab", "abc"));
        assert!(contains_ci("ÉTÉ Crash", "crash"));
        assert!(contains_ci("ÉTÉ", "été"));
    }
}
