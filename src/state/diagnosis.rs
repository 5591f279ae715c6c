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
    let pod_labels = det
        .deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let jobs = s
        .cluster
        .jobs
        .range((k.0.clone(), String::new())..)
        .take_while(|(jk, _)| jk.0 == k.0)
        .map(|(_, j)| j)
        .filter(|j| crate::model::job::same_app(&j.metadata, &det.deployment.metadata, pod_labels))
        .collect();
    let facts = Facts {
        jobs,
        deployment: det.deployment,
        replicasets: det.revisions,
        pods: det.pods,
        events: det.events,
        hpa: hpa.map(|(_, h)| h),
        hpa_history: hpa.and_then(|(hk, _)| s.hpa_history.get(hk)),
        last_words: Some(&s.last_words),
    };
    diagnose(&facts)
}
