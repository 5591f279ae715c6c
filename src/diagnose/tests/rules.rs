//! One fixture per rule: the objects as the API server shows them in that situation, and
//! what the diagnosis must say (the rule, and the words that carry the evidence).
use std::collections::VecDeque;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use serde_json::json;

use super::fixtures::*;
use crate::diagnose::{Facts, diagnose, health};

struct Case {
    name: &'static str,
    d: Deployment,
    rss: Vec<ReplicaSet>,
    pods: Vec<Pod>,
    events: Vec<Event>,
    hpa: Option<HorizontalPodAutoscaler>,
    history: Option<VecDeque<crate::state::ReplicaPoint>>,
    jobs: Vec<k8s_openapi::api::batch::v1::Job>,
    /// The rule of the first finding, and words its text must hold.
    want: Option<(&'static str, Vec<&'static str>)>,
}

fn base(name: &'static str) -> Case {
    Case {
        name,
        d: deployment(json!({})),
        rss: vec![],
        pods: vec![],
        events: vec![],
        hpa: None,
        history: None,
        jobs: vec![],
        want: None,
    }
}

fn cases() -> Vec<Case> {
    let running = json!({"running": {}});
    vec![
        base("healthy"),
        Case {
            pods: vec![pod(
                json!({}),
                cs(
                    json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                    json!({"terminated": {"exitCode": 1, "reason": "Error",
                    "message": "loading /models/v4.onnx\nError: no such file: /models/v4.onnx"}}),
                    false,
                    6,
                ),
            )],
            want: Some((
                "CrashLoopBackOff",
                vec![
                    "code 1 (Error)",
                    "no such file: /models/v4.onnx",
                    "--previous",
                    "restarts: 6",
                    "model that does not load",
                ],
            )),
            ..base("crash loop")
        },
        Case {
            pods: vec![pod(
                json!({"resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}}),
                cs(
                    json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
                    false,
                    3,
                ),
            )],
            want: Some((
                "OOMKilled",
                vec!["memory limit 512Mi, request 256Mi", "above 512Mi"],
            )),
            ..base("oom")
        },
        Case {
            pods: vec![pod(
                json!({}),
                cs(
                    json!({"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"registry.local/serve:v4\": manifest unknown: not found"}}),
                    json!({}),
                    false,
                    0,
                ),
            )],
            want: Some((
                "ImagePullBackOff",
                vec!["tag v4", "imagePullSecrets: none", "tag v4 does not exist"],
            )),
            ..base("image tag")
        },
        Case {
            pods: vec![pod(
                json!({}),
                cs(
                    json!({"waiting": {"reason": "ErrImagePull",
                "message": "failed to pull: 401 Unauthorized"}}),
                    json!({}),
                    false,
                    0,
                ),
            )],
            want: Some((
                "ImagePullBackOff",
                vec!["refused the credentials", "add an imagePullSecret"],
            )),
            ..base("image credentials")
        },
        Case {
            pods: vec![pod(
                json!({}),
                cs(
                    json!({"waiting": {"reason": "CreateContainerConfigError",
                "message": "secret \"model-creds\" not found"}}),
                    json!({}),
                    false,
                    0,
                ),
            )],
            want: Some((
                "CreateContainerConfigError",
                vec![
                    "Secret model-creds it references does not exist",
                    "create the Secret model-creds",
                ],
            )),
            ..base("missing secret")
        },
        Case {
            pods: vec![pod(
                json!({}),
                cs(
                    json!({"waiting": {"reason": "CreateContainerConfigError"}}),
                    json!({}),
                    false,
                    0,
                ),
            )],
            events: vec![event(
                "Pod",
                "web-abc-1",
                "Failed",
                "Error: couldn't find key token in ConfigMap ml/model-config",
            )],
            want: Some((
                "CreateContainerConfigError",
                vec!["ConfigMap ml/model-config has no key token"],
            )),
            ..base("missing key, from the event")
        },
        Case {
            pods: vec![pod(
                json!({}),
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/2 nodes are available: 2 Insufficient cpu."}]}),
            )],
            want: Some((
                "Unschedulable",
                vec!["2 Insufficient cpu", "lower the pod's resource requests"],
            )),
            ..base("unschedulable")
        },
        Case {
            pods: vec![pod(
                json!({"readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080}}}),
                cs(running.clone(), json!({}), false, 0),
            )],
            events: vec![event(
                "Pod",
                "web-abc-1",
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
            )],
            want: Some((
                "NotReady",
                vec!["503 not ready", "GET /v2/health/ready on port 8080"],
            )),
            ..base("readiness")
        },
        Case {
            d: deployment(
                json!({"conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-abc\" has timed out progressing."}]}),
            ),
            rss: vec![rs(json!({"replicas": 1}))],
            want: Some((
                "DeadlineExceeded",
                vec!["revision 4 made no progress for 120s", "roll back"],
            )),
            ..base("progress deadline")
        },
        Case {
            rss: vec![rs(
                json!({"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                "message": "pods \"web-abc-x\" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=3, limited: requests.cpu=4"}]}),
            )],
            want: Some((
                "FailedCreate",
                vec!["ResourceQuota", "exceeded quota: compute", "revision 4"],
            )),
            ..base("quota")
        },
        Case {
            jobs: vec![obj(
                json!({"metadata": {"name": "web-migrate", "namespace": "ml",
                    "annotations": {"helm.sh/hook": "pre-upgrade"}},
                "spec": {"backoffLimit": 2, "template": {"spec": {"containers": []}}},
                "status": {"failed": 3, "conditions": [{"type": "Failed", "status": "True",
                    "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}),
            )],
            want: Some((
                "Job failed",
                vec![
                    "job/web-migrate",
                    "more than backoffLimit (2)",
                    "pre-upgrade hook",
                    "kubectl logs job/web-migrate -n ml",
                ],
            )),
            ..base("failed migration job")
        },
        Case {
            jobs: vec![obj(
                json!({"metadata": {"name": "web-score", "namespace": "ml"},
                "spec": {"activeDeadlineSeconds": 30, "template": {"spec": {"containers": []}}},
                "status": {"conditions": [{"type": "Failed", "status": "True",
                    "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}]}}),
            )],
            want: Some(("Job failed", vec!["activeDeadlineSeconds (30s)"])),
            ..base("job past its deadline")
        },
        Case {
            hpa: Some(hpa(
                json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}),
                json!({"currentReplicas": 5, "desiredReplicas": 5, "currentMetrics": [{"type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 140}}}]}),
            )),
            want: Some((
                "HPA at max",
                vec!["maximum (5)", "raise maxReplicas above 5", "cpu"],
            )),
            ..base("hpa at max")
        },
        Case {
            hpa: Some(hpa(
                json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}),
                json!({"currentReplicas": 2, "desiredReplicas": 2, "conditions": [{"type": "ScalingActive", "status": "False",
                    "reason": "FailedGetResourceMetric", "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container server"}]}),
            )),
            want: Some((
                "HPA blind",
                vec!["missing request for cpu", "set resources.requests"],
            )),
            ..base("hpa cannot read its metric")
        },
        Case {
            hpa: Some(hpa(
                json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 8,
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
                json!({"currentReplicas": 3, "desiredReplicas": 3}),
            )),
            history: Some(points(&[
                (0, 2),
                (10, 4),
                (20, 2),
                (30, 4),
                (40, 2),
                (300, 2),
            ])),
            want: Some((
                "HPA flapping",
                vec!["3 times within 60s", "stabilizationWindowSeconds above 60"],
            )),
            ..base("hpa flapping")
        },
        Case {
            hpa: Some(hpa(
                json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 8,
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
                json!({"currentReplicas": 3, "desiredReplicas": 3}),
            )),
            // up for a load, down when it went: not flapping
            history: Some(points(&[(0, 2), (100, 4), (400, 2)])),
            ..base("hpa following a load")
        },
    ]
}

#[test]
fn each_rule_names_its_evidence_and_first_action() {
    for c in cases() {
        let pods: Vec<(&Pod, Option<i64>)> = c.pods.iter().map(|p| (p, Some(4))).collect();
        let facts = Facts {
            deployment: &c.d,
            replicasets: c.rss.iter().collect(),
            pods,
            events: c.events.iter().collect(),
            hpa: c.hpa.as_ref(),
            hpa_history: c.history.as_ref(),
            jobs: c.jobs.iter().collect(),
            last_words: None,
        };
        let found = diagnose(&facts);
        match &c.want {
            None => assert!(found.is_empty(), "{}: {found:#?}", c.name),
            Some((rule, words)) => {
                let first = found
                    .first()
                    .unwrap_or_else(|| panic!("{}: nothing found", c.name));
                assert_eq!(first.rule, *rule, "{}: {found:#?}", c.name);
                let text = format!(
                    "{} | {} | {} | {} | {}",
                    first.subject,
                    first.symptom,
                    first.cause,
                    first.action,
                    first.evidence.join(" | ")
                );
                for w in words {
                    assert!(text.contains(w), "{}: {w:?} not in {text}", c.name);
                }
                assert_eq!(health(&found).0, *rule);
            }
        }
    }
}
