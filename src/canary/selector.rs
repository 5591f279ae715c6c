//! Label selectors read as the API server reads them, for the checks the API server would
//! otherwise make after the write: a Deployment's selector must select its template's labels.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Does `selector` select pods labelled `labels` (`matchLabels` and `matchExpressions`)?
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let listed = || value.is_some_and(|v| e.values.iter().flatten().any(|x| x == v));
        match e.operator.as_str() {
            "In" => listed(),
            "NotIn" => !listed(),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// Does `selector` name `key` at all (in a label or an expression)?
pub fn names_label(selector: &LabelSelector, key: &str) -> bool {
    selector
        .match_labels
        .iter()
        .flatten()
        .any(|(k, _)| k == key)
        || selector
            .match_expressions
            .iter()
            .flatten()
            .any(|e| e.key == key)
}

/// `k=v,k=v`, for messages.
pub fn show(labels: &BTreeMap<String, String>) -> String {
    let v: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.join(",")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::canary::object::fixtures::map;

    #[test]
    fn selectors_are_read_as_the_api_server_reads_them() {
        let labels = map(&[("app", "web"), ("tier", "gpu")]);
        let req = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        };
        let sel = |exprs: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(map(&[("app", "web")])),
            match_expressions: Some(exprs),
        };
        for (exprs, want) in [
            (vec![], true),
            (vec![req("tier", "In", &["gpu", "cpu"])], true),
            (vec![req("tier", "In", &["cpu"])], false),
            (vec![req("tier", "NotIn", &["cpu"])], true),
            (vec![req("zone", "NotIn", &["a"])], true),
            (vec![req("tier", "Exists", &[])], true),
            (vec![req("zone", "Exists", &[])], false),
            (vec![req("zone", "DoesNotExist", &[])], true),
            (vec![req("tier", "Gt", &["1"])], false),
        ] {
            assert_eq!(selects(&sel(exprs.clone()), &labels), want, "{exprs:?}");
        }
        assert!(!selects(
            &LabelSelector {
                match_labels: Some(map(&[("app", "api")])),
                match_expressions: None
            },
            &labels
        ));
        // an empty selector selects everything
        assert!(selects(&LabelSelector::default(), &labels));
    }
}
