//! Cluster deltas in `update`: watch events into the store, scrapes, and the
//! autoscalers' replica history.
use crate::event::{ClusterDelta, Kind, Object};
use crate::model::{Key, key};
use crate::state::{ReplicaPoint, State, timeline};

pub(super) fn on_delta(s: &mut State, delta: ClusterDelta) {
    match delta {
        ClusterDelta::Applied(obj) => {
            let hpa_key = match &obj {
                Object::Hpa(h) => Some(key(&h.metadata)),
                _ => None,
            };
            if let Object::Deployment(d) = &obj {
                timeline::on_deployment(s, d);
                crate::state::canaries::on_deployment(s, d);
            }
            s.cluster.apply(obj);
            if let Some(k) = hpa_key {
                record_hpa(s, &k);
            }
        }
        ClusterDelta::Deleted(kind, k) => s.cluster.delete(kind, &k),
        ClusterDelta::Resynced { source, objects } => {
            // a backend that publishes whole lists (the local one) still gets its markers
            for o in &objects {
                if let Object::Deployment(d) = o {
                    timeline::on_deployment(s, d);
                    crate::state::canaries::on_deployment(s, d);
                }
            }
            let is_hpa = source.kind == Kind::Hpa;
            s.cluster.resync(&source, objects);
            s.sources.insert(source, crate::event::SourceStatus::Live);
            if is_hpa {
                let keys: Vec<Key> = s.cluster.hpas.keys().cloned().collect();
                for k in keys {
                    record_hpa(s, &k);
                }
            }
        }
        ClusterDelta::Status { source, status } => {
            s.sources.insert(source, status);
        }
    }
}

pub(super) fn on_scrape(s: &mut State, r: crate::event::ScrapeResult) {
    let e = s.scrapes.entry(r.pod).or_default();
    match r.result {
        Ok(m) => {
            e.prev = e.last.take();
            e.last = Some((r.at, m));
            e.error = None;
        }
        Err(err) => e.error = Some(err),
    }
    // pods that are gone take their scrapes with them
    let pods = &s.cluster.pods;
    if s.scrapes.len() > pods.len() + 64 {
        s.scrapes
            .retain(|k, _| pods.contains_key(k) || timeline::is_url_target(k));
    }
}

/// Appends a point to the autoscaler's replica history when its counts change.
fn record_hpa(s: &mut State, k: &Key) {
    let Some(h) = s.cluster.hpas.get(k) else {
        return;
    };
    let (_, _, current, desired) = crate::model::hpa::replicas(h);
    let cap = s.config.general.history_points;
    let hist = s.hpa_history.entry(k.clone()).or_default();
    if hist
        .back()
        .is_some_and(|p| p.current == current && p.desired == desired)
    {
        return;
    }
    hist.push_back(ReplicaPoint {
        at: s.now,
        current,
        desired,
    });
    while hist.len() > cap {
        hist.pop_front();
    }
}
