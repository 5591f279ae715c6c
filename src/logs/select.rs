//! Which containers' logs to read for a deployment: its pods (through the ReplicaSets it
//! owns), all of them, one revision's or one pod; a container once it has started (the API
//! server has no log before). A container that restarted is a new stream (its restart count
//! is part of the key), so a crash loop shows each run's output.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use crate::model::deployment::owns;
use crate::model::revision;

/// Which of the deployment's pods and containers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Only the pods of this revision.
    pub revision: Option<i64>,
    /// Only this pod.
    pub pod: Option<String>,
    /// Only this container (default: every container of the pod).
    pub container: Option<String>,
}

/// One container's stream: its pod, its name, and the run (restart count) it shows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: i32,
    /// The pod's revision, for the view's prefix.
    pub revision: Option<i64>,
    /// The pod has this one container (the prefix need not name it).
    pub alone: bool,
}

/// Why nothing can be selected: the words name what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("deploy/{deployment} has no revision {revision} (its revisions: {known})")]
    NoRevision {
        deployment: String,
        revision: i64,
        known: String,
    },
    #[error("pod {pod} is not one of deploy/{deployment}'s pods (its pods: {known})")]
    NoPod {
        deployment: String,
        pod: String,
        known: String,
    },
    #[error("pod {pod} has no container {container} (its containers: {known})")]
    NoContainer {
        pod: String,
        container: String,
        known: String,
    },
}

/// The containers to read now. `previous`: those that have a terminated run to show.
pub fn streams<'a>(
    d: &Deployment,
    replicasets: impl Iterator<Item = &'a ReplicaSet>,
    pods: impl Iterator<Item = &'a Pod>,
    f: &Filter,
    previous: bool,
) -> Result<BTreeSet<StreamKey>, SelectError> {
    let name = d.metadata.name.clone().unwrap_or_default();
    let revs: BTreeMap<String, Option<i64>> = replicasets
        .filter(|rs| owns(d, rs))
        .map(|rs| {
            (
                rs.metadata.name.clone().unwrap_or_default(),
                revision(&rs.metadata),
            )
        })
        .collect();
    if let Some(r) = f.revision
        && !revs.values().any(|v| *v == Some(r))
    {
        let mut known: Vec<String> = revs.values().flatten().map(|r| r.to_string()).collect();
        known.sort();
        return Err(SelectError::NoRevision {
            deployment: name,
            revision: r,
            known: list(known),
        });
    }
    let mine: Vec<(&Pod, Option<i64>)> = pods
        .filter(|p| p.metadata.namespace == d.metadata.namespace)
        .filter_map(|p| {
            let rs = crate::model::pod::owner_replicaset(p)?;
            revs.get(rs).map(|r| (p, *r))
        })
        .collect();
    if let Some(want) = &f.pod
        && !mine
            .iter()
            .any(|(p, _)| p.metadata.name.as_deref() == Some(want))
    {
        let known = mine
            .iter()
            .filter_map(|(p, _)| p.metadata.name.clone())
            .collect();
        return Err(SelectError::NoPod {
            deployment: name,
            pod: want.clone(),
            known: list(known),
        });
    }
    let mut out = BTreeSet::new();
    for (p, rev) in mine {
        let pod = p.metadata.name.clone().unwrap_or_default();
        if f.revision.is_some_and(|r| rev != Some(r)) || f.pod.as_ref().is_some_and(|w| *w != pod) {
            continue;
        }
        let names: Vec<String> = p
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
            .collect();
        if let Some(c) = &f.container
            && !names.contains(c)
            && f.pod.is_some()
        {
            return Err(SelectError::NoContainer {
                pod,
                container: c.clone(),
                known: list(names),
            });
        }
        for st in p
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
        {
            if f.container.as_ref().is_some_and(|c| *c != st.name) {
                continue;
            }
            let state = st.state.as_ref();
            let has_previous = st
                .last_state
                .as_ref()
                .is_some_and(|s| s.terminated.is_some());
            // waiting to restart (a crash loop), the log is the last run's
            let started = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
                || has_previous;
            if (previous && !has_previous) || (!previous && !started) {
                continue;
            }
            out.insert(StreamKey {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                pod: pod.clone(),
                container: st.name.clone(),
                restarts: st.restart_count,
                revision: rev,
                alone: names.len() == 1,
            });
        }
    }
    Ok(out)
}

fn list(v: Vec<String>) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests;
