//! The diagnosis of a deployment from what the console holds: its detail (ReplicaSets,
//! pods, events), the HPA that scales it and that HPA's replica history.
use crate::diagnose::{Facts, Finding, diagnose};
use crate::model::Key;
use crate::state::{State, rows};

pub fn of(s: &State, k: &Key) -> Vec<Finding> {
    let Some(det) = rows::detail(s, k) else {
        return Vec::new();
    };
    let hpa = s.cluster.hpas.iter().find(|(hk, h)| {
        hk.0 == k.0
            && h.spec.scale_target_ref.kind == "Deployment"
            && h.spec.scale_target_ref.name == k.1
    });
    let facts = Facts {
        deployment: det.deployment,
        replicasets: det.revisions,
        pods: det.pods,
        events: det.events,
        hpa: hpa.map(|(_, h)| h),
        hpa_history: hpa.and_then(|(hk, _)| s.hpa_history.get(hk)),
    };
    diagnose(&facts)
}
