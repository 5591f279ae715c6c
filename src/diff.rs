//! The preview before a write: what changes in the Deployment's spec and pod
//! template (image, env, args, resources, labels, replicas), as path → before/after.
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Fields the API server or controllers manage; a write never "changes" them.
fn ignored(path: &str) -> bool {
    path.starts_with("metadata.") && !path.starts_with("metadata.annotations")
        || path.contains("pod-template-hash")
        || path.contains("deployment.kubernetes.io/")
        || path.contains("last-applied-configuration")
}

/// Differences between two Deployments (JSON), limited to metadata.annotations and spec.
pub fn deployment(before: &Value, after: &Value) -> Vec<Change> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    for (src, dst) in [(before, &mut a), (after, &mut b)] {
        if let Some(v) = src.pointer("/metadata/annotations") {
            flatten("metadata.annotations", v, dst);
        }
        if let Some(v) = src.get("spec") {
            flatten("spec", v, dst);
        }
    }
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| !ignored(k))
        .filter_map(|k| {
            let (x, y) = (a.get(k), b.get(k));
            (x != y).then(|| Change {
                path: k.clone(),
                before: x.cloned(),
                after: y.cloned(),
            })
        })
        .collect()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Objects become `a.b`, lists of named objects `containers[server]`, lists of
/// scalars one joined value (args, command).
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Array(items) if items.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let s: Vec<String> = items.iter().map(scalar).collect();
            out.insert(prefix.to_string(), format!("[{}]", s.join(" ")));
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                let label = x
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string());
                flatten(&format!("{prefix}[{label}]"), x, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), scalar(other));
        }
    }
}

/// `-`/`+` lines for a terminal.
pub fn render(changes: &[Change]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in changes {
        let path = c.path.strip_prefix("spec.template.").unwrap_or(&c.path);
        match (&c.before, &c.after) {
            (Some(b), Some(a)) => {
                lines.push(format!("- {path}: {b}"));
                lines.push(format!("+ {path}: {a}"));
            }
            (Some(b), None) => lines.push(format!("- {path}: {b}")),
            (None, Some(a)) => lines.push(format!("+ {path}: {a}")),
            (None, None) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_changes_by_container_and_env_name() {
        let before = json!({"metadata":{"name":"web","resourceVersion":"1","annotations":{"deployment.kubernetes.io/revision":"1"}},
            "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web","tractor.dev/model-version":"v1"}},
            "spec":{"containers":[{"name":"server","image":"serve:1","args":["--port","8080"],
              "env":[{"name":"TRACTOR_SERVE_MODEL_VERSION","value":"v1"},{"name":"KEEP","value":"x"}],
              "resources":{"limits":{"cpu":"1"}}}]}}}});
        let after = json!({"metadata":{"name":"web","resourceVersion":"2","annotations":{"deployment.kubernetes.io/revision":"2","kubernetes.io/change-cause":"tractor set model"}},
            "spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web","tractor.dev/model-version":"v2"}},
            "spec":{"containers":[{"name":"server","image":"serve:1","args":["--port","9090"],
              "env":[{"name":"TRACTOR_SERVE_MODEL_VERSION","value":"v2"},{"name":"KEEP","value":"x"}],
              "resources":{"limits":{"cpu":"2"}}}]}}}});
        let c = deployment(&before, &after);
        let paths: Vec<&str> = c.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "metadata.annotations.kubernetes.io/change-cause",
                "spec.template.metadata.labels.tractor.dev/model-version",
                "spec.template.spec.containers[server].args",
                "spec.template.spec.containers[server].env[TRACTOR_SERVE_MODEL_VERSION].value",
                "spec.template.spec.containers[server].resources.limits.cpu",
            ]
        );
        let lines = render(&c);
        assert!(
            lines.contains(&"- spec.containers[server].args: [--port 8080]".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"+ spec.containers[server].args: [--port 9090]".to_string()));
    }

    #[test]
    fn no_change_is_empty_and_removals_show() {
        let a = json!({"spec":{"replicas":1}});
        assert!(deployment(&a, &a).is_empty());
        let b = json!({"spec":{"replicas":1,"paused":true}});
        let c = deployment(&b, &a);
        assert_eq!(
            c,
            vec![Change {
                path: "spec.paused".into(),
                before: Some("true".into()),
                after: None
            }]
        );
        assert_eq!(render(&c), ["- spec.paused: true"]);
    }
}
