use super::*;
use serde_json::json;

fn hpa(v: serde_json::Value) -> HorizontalPodAutoscaler {
    serde_json::from_value(v).unwrap()
}

#[test]
fn every_metric_type_shows_its_current_value() {
    let h = hpa(json!({
    "metadata":{"name":"web"},
    "spec":{"scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"},
      "minReplicas":2,"maxReplicas":10,
      "metrics":[
        {"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":60}}},
        {"type":"ContainerResource","containerResource":{"container":"server","name":"memory","target":{"type":"AverageValue","averageValue":"512Mi"}}},
        {"type":"Pods","pods":{"metric":{"name":"tractor_inflight_requests"},"target":{"type":"AverageValue","averageValue":"4"}}},
        {"type":"Object","object":{"describedObject":{"kind":"Service","name":"web","apiVersion":"v1"},"metric":{"name":"rps"},"target":{"type":"Value","value":"100"}}},
        {"type":"External","external":{"metric":{"name":"queue_depth"},"target":{"type":"AverageValue","averageValue":"30"}}}
      ]},
    "status":{"currentReplicas":3,"desiredReplicas":5,
      "currentMetrics":[
        {"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":90,"averageValue":"900m"}}},
        {"type":"ContainerResource","containerResource":{"container":"server","name":"memory","current":{"averageValue":"256Mi"}}},
        {"type":"Pods","pods":{"metric":{"name":"tractor_inflight_requests"},"current":{"averageValue":"6"}}},
        {"type":"Object","object":{"describedObject":{"kind":"Service","name":"web","apiVersion":"v1"},"metric":{"name":"rps"},"current":{"value":"150"}}},
        // External with an AverageValue target: the status carries averageValue only
        {"type":"External","external":{"metric":{"name":"queue_depth"},"current":{"averageValue":"45"}}}
      ]}}));
    let rows = metric_rows(&h);
    let shown: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.current.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("cpu", "90%", "60%"),
            ("server/memory", "256Mi", "512Mi (avg)"),
            ("tractor_inflight_requests", "6", "4 (avg)"),
            ("Service/web rps", "150", "100"),
            ("queue_depth", "45", "30 (avg)"),
        ]
    );
    assert!(rows.iter().all(|r| r.metric.is_some()), "{rows:?}");
    let e = crate::autoscale::hpa::recommend(&input(&h, vec![], vec![]));
    // cpu: ceil(3 × 90/60) = 5; memory 0.5 → 2; inflight ceil(3 × 1.5) = 5;
    // rps ceil(3 × 1.5) = 5; queue_depth averages 45 per pod against 30: ceil(3 × 1.5) = 5
    let proposals: Vec<i32> = e.metrics.iter().map(|m| m.proposal).collect();
    assert_eq!(proposals, [5, 2, 5, 5, 5]);
    assert_eq!(e.desired, 5);
    assert_eq!(replicas(&h), (2, 10, 3, 5));
    assert_eq!(target_ref(&h), "Deployment/web");
}

#[test]
fn missing_status_is_a_dash_and_behavior_is_read() {
    let h = hpa(json!({"metadata":{"name":"x"},
        "spec":{"scaleTargetRef":{"kind":"Deployment","name":"x"},"maxReplicas":4,
          "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}],
          "behavior":{"scaleDown":{"stabilizationWindowSeconds":60,"selectPolicy":"Min",
             "policies":[{"type":"Pods","value":1,"periodSeconds":30}]}}}}));
    let rows = metric_rows(&h);
    assert_eq!(rows[0].current, "-");
    assert!(rows[0].metric.is_none());
    let b = behavior(&h);
    assert_eq!(b.scale_down.stabilization_seconds, 60);
    assert_eq!(b.scale_down.select, Select::Min);
    assert_eq!(b.scale_down.policies[0].kind, PolicyKind::Pods);
    assert_eq!(
        b.scale_up,
        crate::autoscale::hpa::Behavior::default().scale_up
    );
}
