//! A pod's health the way an operator reads it.
use k8s_openapi::api::core::v1::Pod;

/// The name of the ReplicaSet that owns the pod, if one does.
pub fn owner_replicaset(p: &Pod) -> Option<&str> {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ReplicaSet")
        .map(|o| o.name.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodHealth {
    /// kubectl's STATUS column: a waiting or terminated reason wins over the phase.
    pub status: String,
    pub ready: u32,
    pub containers: u32,
    pub restarts: i32,
    /// The last termination reason of any container (OOMKilled, Error, ...).
    pub last_termination: Option<String>,
    /// A waiting reason (CrashLoopBackOff, ImagePullBackOff, ...).
    pub waiting: Option<String>,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub pod_template_hash: Option<String>,
    pub owner_replicaset: Option<String>,
}

/// Reasons that mean the pod needs attention.
pub fn is_bad_reason(r: &str) -> bool {
    matches!(
        r,
        "CrashLoopBackOff"
            | "ImagePullBackOff"
            | "ErrImagePull"
            | "CreateContainerConfigError"
            | "CreateContainerError"
            | "InvalidImageName"
            | "OOMKilled"
            | "Error"
            | "Failed"
            | "Evicted"
    )
}

pub fn health(p: &Pod) -> PodHealth {
    let spec = p.spec.as_ref();
    let st = p.status.as_ref();
    let statuses = st.and_then(|s| s.container_statuses.as_ref());
    let containers = spec.map(|s| s.containers.len()).unwrap_or(0) as u32;
    let mut h = PodHealth {
        containers,
        node: spec.and_then(|s| s.node_name.clone()),
        ip: st.and_then(|s| s.pod_ip.clone()),
        pod_template_hash: p
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(super::POD_TEMPLATE_HASH).cloned()),
        owner_replicaset: p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "ReplicaSet")
            .map(|o| o.name.clone()),
        ..Default::default()
    };
    let mut reason: Option<String> = None;
    for c in statuses.into_iter().flatten() {
        if c.ready {
            h.ready += 1;
        }
        h.restarts = h.restarts.saturating_add(c.restart_count);
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            && let Some(r) = &t.reason
        {
            h.last_termination = Some(r.clone());
        }
        if let Some(state) = &c.state {
            if let Some(w) = &state.waiting
                && let Some(r) = w.reason.as_ref().filter(|r| !r.is_empty())
            {
                h.waiting = Some(r.clone());
                if reason.is_none() || r != "ContainerCreating" {
                    reason = Some(r.clone());
                }
            } else if let Some(t) = &state.terminated {
                let r = t.reason.clone().unwrap_or_else(|| match t.exit_code {
                    0 => "Completed".into(),
                    code => format!("ExitCode:{code}"),
                });
                if reason.is_none() {
                    reason = Some(r);
                }
            }
        }
    }
    let phase = st.and_then(|s| s.phase.clone());
    let pod_reason = st.and_then(|s| s.reason.clone());
    h.status = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".into()
    } else if let Some(r) = pod_reason {
        r
    } else if let Some(r) = reason {
        r
    } else {
        phase.unwrap_or_else(|| "Pending".into())
    };
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reasons_win_over_phase() {
        let p = pod(
            json!({"metadata":{"name":"p","labels":{"pod-template-hash":"abc"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-abc","uid":"x"}]},
            "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
            "status":{"phase":"Running","podIP":"127.1.0.5","containerStatuses":[
                {"name":"a","ready":true,"restartCount":0,"image":"i","imageID":"","state":{"running":{}}},
                {"name":"b","ready":false,"restartCount":4,"image":"i","imageID":"",
                 "state":{"waiting":{"reason":"CrashLoopBackOff"}},
                 "lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]}}),
        );
        let h = health(&p);
        assert_eq!(h.status, "CrashLoopBackOff");
        assert_eq!((h.ready, h.containers, h.restarts), (1, 2, 4));
        assert_eq!(h.last_termination.as_deref(), Some("OOMKilled"));
        assert_eq!(h.waiting.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(h.node.as_deref(), Some("n1"));
        assert_eq!(h.ip.as_deref(), Some("127.1.0.5"));
        assert_eq!(h.owner_replicaset.as_deref(), Some("web-abc"));
        assert_eq!(h.pod_template_hash.as_deref(), Some("abc"));
    }

    #[test]
    fn empty_pod_is_pending_and_terminating_wins() {
        let h = health(&pod(json!({"metadata":{"name":"p"}})));
        assert_eq!(h.status, "Pending");
        assert_eq!((h.ready, h.containers, h.restarts), (0, 0, 0));
        let h = health(&pod(
            json!({"metadata":{"name":"p","deletionTimestamp":"2026-01-01T00:00:00Z"},
            "status":{"phase":"Running"}}),
        ));
        assert_eq!(h.status, "Terminating");
        let h = health(&pod(
            json!({"metadata":{"name":"p"},"status":{"phase":"Failed","reason":"Evicted"}}),
        ));
        assert_eq!(h.status, "Evicted");
        let h = health(&pod(
            json!({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending",
            "containerStatuses":[{"name":"a","ready":false,"restartCount":0,"image":"i","imageID":"",
            "state":{"waiting":{"reason":"ImagePullBackOff"}}}]}}),
        ));
        assert_eq!(h.status, "ImagePullBackOff");
    }
}
