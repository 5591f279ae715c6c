//! What the console keeps of a watched object: the fields no view, diagnosis or action
//! reads are dropped on the way in. At 10,000 pods the kept objects are most of the
//! console's memory, and a pod's managed fields, service-account token volume and mounts
//! are a large share of each.
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;

/// Any object: managed fields go (often the largest part of an object).
pub fn object<K: Resource>(mut o: K) -> K {
    o.meta_mut().managed_fields = None;
    o
}

/// A pod: also its volumes and volume mounts (the projected service-account token every
/// pod carries), and the plural IP lists that repeat `podIP` and `hostIP`. The lists kept
/// are cut to their length: deserializing grows a list to 4, 8, ... elements, and a
/// container or a container status is a large struct, so one container took the room of
/// four (most of a pod's memory at 10,000 pods).
pub fn pod(p: Pod) -> Pod {
    let mut p = object(p);
    if let Some(o) = p.metadata.owner_references.as_mut() {
        o.shrink_to_fit();
    }
    if let Some(spec) = p.spec.as_mut() {
        spec.volumes = None;
        spec.containers.shrink_to_fit();
        shrink(&mut spec.init_containers);
        shrink(&mut spec.tolerations);
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            c.volume_mounts = None;
            c.volume_devices = None;
            shrink(&mut c.ports);
            shrink(&mut c.env);
            shrink(&mut c.args);
            shrink(&mut c.command);
        }
    }
    if let Some(st) = p.status.as_mut() {
        st.pod_ips = None;
        st.host_ips = None;
        shrink(&mut st.conditions);
        shrink(&mut st.container_statuses);
        shrink(&mut st.init_container_statuses);
        for cs in st
            .container_statuses
            .iter_mut()
            .flatten()
            .chain(st.init_container_statuses.iter_mut().flatten())
        {
            cs.volume_mounts = None;
        }
    }
    p
}

fn shrink<T>(v: &mut Option<Vec<T>>) {
    if let Some(v) = v.as_mut() {
        v.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_keeps_what_the_views_read_and_loses_its_volumes() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {"app": "web"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u"}]},
            "spec": {"nodeName": "n1", "tolerations": [{"key": "k", "operator": "Exists"}],
                "volumes": [{"name": "kube-api-access", "projected": {"sources": []}}],
                "initContainers": [{"name": "init", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                "containers": [{"name": "server", "image": "img", "ports": [{"containerPort": 8080}],
                    "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets"}]}]},
            "status": {"phase": "Running", "podIP": "127.1.0.5", "podIPs": [{"ip": "127.1.0.5"}],
                "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
                "containerStatuses": [{"name": "server", "ready": true, "restartCount": 2, "image": "img", "imageID": "",
                    "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets"}]}]}
        }))
        .unwrap();
        let s = pod(p);
        assert!(s.metadata.managed_fields.is_none());
        assert_eq!(s.metadata.owner_references.as_ref().map(Vec::len), Some(1));
        let spec = s.spec.as_ref().unwrap();
        assert!(spec.volumes.is_none());
        assert!(spec.containers[0].volume_mounts.is_none());
        assert!(
            spec.init_containers.as_ref().unwrap()[0]
                .volume_mounts
                .is_none()
        );
        assert_eq!(
            spec.containers[0].ports.as_ref().unwrap()[0].container_port,
            8080
        );
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(1));
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        let st = s.status.as_ref().unwrap();
        assert!(st.pod_ips.is_none() && st.host_ips.is_none());
        assert_eq!(st.pod_ip.as_deref(), Some("127.1.0.5"));
        let cs = &st.container_statuses.as_ref().unwrap()[0];
        assert!(cs.volume_mounts.is_none());
        assert_eq!((cs.restart_count, cs.ready), (2, true));
        assert_eq!(spec.containers.capacity(), 1, "the list cut to its length");
        assert_eq!(st.container_statuses.as_ref().unwrap().capacity(), 1);
    }
}
