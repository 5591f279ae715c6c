//! The cluster's objects as last seen, by kind and (namespace, name).
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};

use crate::event::{Kind, Object, Source};
use crate::model::{Key, key};

#[derive(Debug, Default, Clone)]
pub struct Cluster {
    pub deployments: BTreeMap<Key, Deployment>,
    pub replicasets: BTreeMap<Key, ReplicaSet>,
    pub pods: BTreeMap<Key, Pod>,
    pub hpas: BTreeMap<Key, HorizontalPodAutoscaler>,
    pub events: BTreeMap<Key, Event>,
    /// Lower-case text each pod filter matches against (see rows::pod_search_text).
    pub pod_text: HashMap<Key, String>,
    pub max_events: usize,
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
                self.pod_text
                    .insert(k.clone(), super::rows::pod_search_text(&o));
                self.pods.insert(k, *o);
            }
            Object::Hpa(o) => {
                self.hpas.insert(key(&o.metadata), *o);
            }
            Object::Event(o) => {
                self.events.insert(key(&o.metadata), *o);
                self.trim_events();
            }
        }
    }

    pub fn delete(&mut self, kind: Kind, k: &Key) {
        match kind {
            Kind::Deployment => drop(self.deployments.remove(k)),
            Kind::ReplicaSet => drop(self.replicasets.remove(k)),
            Kind::Pod => {
                self.pods.remove(k);
                self.pod_text.remove(k);
            }
            Kind::Hpa => drop(self.hpas.remove(k)),
            Kind::Event => drop(self.events.remove(k)),
        }
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
            }
            Kind::Hpa => self.hpas.retain(|k, _| !in_scope(k, ns)),
            Kind::Event => self.events.retain(|k, _| !in_scope(k, ns)),
        }
        for o in objects {
            if o.kind() == source.kind {
                self.apply(o);
            }
        }
        self.trim_events();
    }

    fn trim_events(&mut self) {
        if self.events.len() <= self.max_events.max(1) {
            return;
        }
        let mut by_time: Vec<(i64, Key)> = self
            .events
            .iter()
            .map(|(k, e)| (super::rows::event_time(e), k.clone()))
            .collect();
        by_time.sort();
        let excess = self.events.len() - self.max_events.max(1);
        for (_, k) in by_time.into_iter().take(excess) {
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
            .map(|(_, v)| v)
    }
}
