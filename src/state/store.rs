//! The cluster's objects as last seen, by kind and (namespace, name).
use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};

use crate::event::{Kind, Object, Source};
use crate::model::{Key, key};

#[derive(Debug, Default, Clone)]
pub struct Cluster {
    pub deployments: BTreeMap<Key, Deployment>,
    pub replicasets: BTreeMap<Key, ReplicaSet>,
    /// Boxed: a pod is a large struct, and a map node holds eleven values.
    pub pods: BTreeMap<Key, Box<Pod>>,
    pub hpas: BTreeMap<Key, HorizontalPodAutoscaler>,
    pub events: BTreeMap<Key, Event>,
    pub jobs: BTreeMap<Key, k8s_openapi::api::batch::v1::Job>,
    /// Lower-case text each pod filter matches against (see rows::pod_search_text).
    pub pod_text: HashMap<Key, String>,
    pub max_events: usize,
    /// Pods by the ReplicaSet that owns them, (namespace, ReplicaSet) → pods: a
    /// deployment's pods without a scan of its namespace (the list's HEALTH column reads
    /// every visible deployment's each frame).
    pods_by_rs: HashMap<Key, BTreeSet<Key>>,
    /// Events by the object they are about: (namespace, kind, name) → events.
    events_by_object: HashMap<(String, String, String), BTreeSet<Key>>,
}

/// The ReplicaSet that owns a pod, keyed like the ReplicaSets.
fn owner_rs(p: &Pod) -> Option<Key> {
    let rs = crate::model::pod::owner_replicaset(p)?;
    Some((p.metadata.namespace.clone().unwrap_or_default(), rs.into()))
}

/// The object an event is about.
fn about(e: &Event) -> (String, String, String) {
    (
        e.metadata.namespace.clone().unwrap_or_default(),
        e.involved_object.kind.clone().unwrap_or_default(),
        e.involved_object.name.clone().unwrap_or_default(),
    )
}

fn in_scope(k: &Key, ns: &Option<String>) -> bool {
    ns.as_ref().is_none_or(|n| *n == k.0)
}

impl Cluster {
    pub fn new(max_events: usize) -> Cluster {
        Cluster {
            max_events,
            ..Default::default()
        }
    }

    pub fn apply(&mut self, obj: Object) {
        match obj {
            Object::Deployment(o) => {
                self.deployments.insert(key(&o.metadata), *o);
            }
            Object::ReplicaSet(o) => {
                self.replicasets.insert(key(&o.metadata), *o);
            }
            Object::Pod(o) => {
                let k = key(&o.metadata);
                self.unindex_pod(&k);
                self.pod_text
                    .insert(k.clone(), super::rows::pod_search_text(&o));
                if let Some(rs) = owner_rs(&o) {
                    self.pods_by_rs.entry(rs).or_default().insert(k.clone());
                }
                self.pods.insert(k, o);
            }
            Object::Hpa(o) => {
                self.hpas.insert(key(&o.metadata), *o);
            }
            Object::Job(o) => {
                self.jobs.insert(key(&o.metadata), *o);
            }
            Object::Event(o) => {
                let k = key(&o.metadata);
                self.unindex_event(&k);
                self.events_by_object
                    .entry(about(&o))
                    .or_default()
                    .insert(k.clone());
                self.events.insert(k, *o);
                if self.events.len() > self.event_cap() + self.event_cap() / 8 {
                    self.trim_events();
                }
            }
        }
    }

    fn event_cap(&self) -> usize {
        self.max_events.max(1)
    }

    pub fn delete(&mut self, kind: Kind, k: &Key) {
        match kind {
            Kind::Deployment => drop(self.deployments.remove(k)),
            Kind::ReplicaSet => drop(self.replicasets.remove(k)),
            Kind::Pod => {
                self.unindex_pod(k);
                self.pods.remove(k);
                self.pod_text.remove(k);
            }
            Kind::Hpa => drop(self.hpas.remove(k)),
            Kind::Job => drop(self.jobs.remove(k)),
            Kind::Event => {
                self.unindex_event(k);
                self.events.remove(k);
            }
        }
    }

    fn unindex_pod(&mut self, k: &Key) {
        if let Some(rs) = self.pods.get(k).and_then(|p| owner_rs(p))
            && let Some(set) = self.pods_by_rs.get_mut(&rs)
        {
            set.remove(k);
            if set.is_empty() {
                self.pods_by_rs.remove(&rs);
            }
        }
    }

    fn unindex_event(&mut self, k: &Key) {
        if let Some(obj) = self.events.get(k).map(about)
            && let Some(set) = self.events_by_object.get_mut(&obj)
        {
            set.remove(k);
            if set.is_empty() {
                self.events_by_object.remove(&obj);
            }
        }
    }

    /// The pods the ReplicaSet `rs` (namespace, name) owns.
    pub fn pods_of_rs<'a>(&'a self, rs: &Key) -> impl Iterator<Item = (&'a Key, &'a Pod)> {
        self.pods_by_rs
            .get(rs)
            .into_iter()
            .flatten()
            .filter_map(|k| Some((k, &**self.pods.get(k)?)))
    }

    /// The events about `kind`/`name` in `ns`.
    pub fn events_about<'a>(
        &'a self,
        ns: &str,
        kind: &str,
        name: &str,
    ) -> impl Iterator<Item = (&'a Key, &'a Event)> {
        self.events_by_object
            .get(&(ns.to_string(), kind.to_string(), name.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|k| Some((k, self.events.get(k)?)))
    }

    /// Replaces everything the source covers with a fresh list: objects deleted
    /// while a watch was down do not linger.
    pub fn resync(&mut self, source: &Source, objects: Vec<Object>) {
        let ns = &source.namespace;
        match source.kind {
            Kind::Deployment => self.deployments.retain(|k, _| !in_scope(k, ns)),
            Kind::ReplicaSet => self.replicasets.retain(|k, _| !in_scope(k, ns)),
            Kind::Pod => {
                self.pods.retain(|k, _| !in_scope(k, ns));
                self.pod_text.retain(|k, _| !in_scope(k, ns));
                self.pods_by_rs.retain(|k, _| !in_scope(k, ns));
            }
            Kind::Hpa => self.hpas.retain(|k, _| !in_scope(k, ns)),
            Kind::Job => self.jobs.retain(|k, _| !in_scope(k, ns)),
            Kind::Event => {
                self.events.retain(|k, _| !in_scope(k, ns));
                self.events_by_object
                    .retain(|(n, _, _), _| ns.as_ref().is_none_or(|x| x != n));
            }
        }
        for o in objects {
            if o.kind() == source.kind {
                self.apply(o);
            }
        }
        self.trim_events();
    }

    /// Keeps the newest `max_events`. Applied events may run an eighth over before a trim,
    /// so a stream of them sorts once per `max_events / 8`, not once per event (a list of
    /// 12,000 events sorted 2,000 of them 10,000 times: seconds).
    fn trim_events(&mut self) {
        if self.events.len() <= self.event_cap() {
            return;
        }
        let mut by_time: Vec<(i64, Key)> = self
            .events
            .iter()
            .map(|(k, e)| (super::rows::event_time(e), k.clone()))
            .collect();
        by_time.sort();
        let excess = self.events.len() - self.event_cap();
        for (_, k) in by_time.into_iter().take(excess) {
            self.unindex_event(&k);
            self.events.remove(&k);
        }
    }

    pub fn replicasets_in(&self, ns: &str) -> impl Iterator<Item = &ReplicaSet> {
        let lo = (ns.to_string(), String::new());
        self.replicasets
            .range(lo..)
            .take_while(move |(k, _)| k.0 == ns)
            .map(|(_, v)| v)
    }

    pub fn pods_in(&self, ns: &str) -> impl Iterator<Item = &Pod> {
        let lo = (ns.to_string(), String::new());
        self.pods
            .range(lo..)
            .take_while(move |(k, _)| k.0 == ns)
            .map(|(_, v)| &**v)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, rs: &str) -> Object {
        Object::Pod(Box::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "u"}]}}))
                .unwrap(),
        ))
    }

    fn event(name: &str, about: &str, ts: &str) -> Object {
        Object::Event(Box::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"},
                "involvedObject": {"kind": "Pod", "name": about}, "lastTimestamp": ts}))
            .unwrap(),
        ))
    }

    fn pods_of(c: &Cluster, rs: &str) -> Vec<String> {
        c.pods_of_rs(&("ns".into(), rs.into()))
            .map(|(k, _)| k.1.clone())
            .collect()
    }

    fn events_of(c: &Cluster, pod: &str) -> Vec<String> {
        c.events_about("ns", "Pod", pod)
            .map(|(k, _)| k.1.clone())
            .collect()
    }

    /// The indexes follow every change: apply, a new owner, delete, resync, and the
    /// oldest events trimmed.
    #[test]
    fn the_indexes_follow_the_objects() {
        let mut c = Cluster::new(2);
        c.apply(pod("a", "rs1"));
        c.apply(pod("b", "rs1"));
        assert_eq!(pods_of(&c, "rs1"), ["a", "b"]);
        c.apply(pod("b", "rs2"));
        assert_eq!(
            (pods_of(&c, "rs1"), pods_of(&c, "rs2")),
            (vec!["a".to_string()], vec!["b".to_string()])
        );
        c.delete(Kind::Pod, &("ns".into(), "a".into()));
        assert!(pods_of(&c, "rs1").is_empty());
        let src = Source {
            kind: Kind::Pod,
            namespace: Some("ns".into()),
        };
        c.resync(&src, vec![pod("c", "rs2")]);
        assert_eq!(pods_of(&c, "rs2"), ["c"]);

        c.apply(event("e1", "c", "2026-11-30T01:00:00Z"));
        c.apply(event("e2", "c", "2026-11-30T02:00:00Z"));
        c.apply(event("e3", "c", "2026-11-30T03:00:00Z"));
        // two kept: the oldest went, from the index too
        assert_eq!(events_of(&c, "c"), ["e2", "e3"]);
        c.delete(Kind::Event, &("ns".into(), "e2".into()));
        assert_eq!(events_of(&c, "c"), ["e3"]);
    }

    /// Applied events may run an eighth over the cap before a trim takes the oldest back to
    /// it; a list is trimmed to the cap at once.
    #[test]
    fn events_trim_in_batches_and_keep_the_newest() {
        let at = |i: usize| format!("2026-11-30T{:02}:{:02}:00Z", i / 60, i % 60);
        let mut c = Cluster::new(16);
        for i in 0..18 {
            c.apply(event(&format!("e{i:03}"), "p", &at(i)));
        }
        assert_eq!(c.events.len(), 18);
        c.apply(event("e018", "p", &at(18)));
        assert_eq!(c.events.len(), 16);
        assert_eq!(events_of(&c, "p").first().map(String::as_str), Some("e003"));
        let src = Source {
            kind: Kind::Event,
            namespace: None,
        };
        c.resync(
            &src,
            (0..100)
                .map(|i| event(&format!("f{i:03}"), "p", &at(i)))
                .collect(),
        );
        let kept = events_of(&c, "p");
        assert_eq!(kept.len(), 16);
        assert_eq!((kept[0].as_str(), kept[15].as_str()), ("f084", "f099"));
    }
}
