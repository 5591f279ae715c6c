//! Promotion: the stable Deployment takes the canary's template, without the canary's own
//! label (and without the controller's hash), as an ordinary rolling update of the stable,
//! recorded with a change-cause; the canary is removed after.
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::TRACK_LABEL;
use super::object::{
    CANARY_OF_ANNOTATION, CanaryObjectError, changed_template, labels_of, name_of, spec_of,
};
use super::selector::{selects, show};
use super::state::CanaryState;
use crate::k8s::rollback::without_hash;

/// The template promotion gives `stable`: `canary`'s without the canary's own label (and
/// without the controller's hash). Refused when `canary` is not `stable`'s canary, or when
/// the template would not match the stable's selector (the API server would refuse it).
pub fn promoted_template(
    stable: &Deployment,
    canary: &Deployment,
) -> Result<PodTemplateSpec, CanaryObjectError> {
    let (stable_name, canary_name) = (name_of(stable), name_of(canary));
    let canary_of = canary
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CANARY_OF_ANNOTATION));
    if canary_of != Some(&stable_name) || canary.metadata.namespace != stable.metadata.namespace {
        return Err(CanaryObjectError::NotTheCanary {
            canary: canary_name,
            stable: stable_name,
        });
    }
    let mut template = without_hash(&spec_of(canary)?.template);
    let mut labels = labels_of(&template);
    labels.remove(TRACK_LABEL);
    if !selects(&spec_of(stable)?.selector, &labels) {
        return Err(CanaryObjectError::SelectorMismatch {
            whose: format!("deploy/{stable_name}'s"),
            labels: show(&labels),
        });
    }
    template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels = (!labels.is_empty()).then_some(labels);
    // the stable as it is now would still give this canary: nobody changed it meanwhile
    // (promoting would silently undo that change)
    let annotations = canary.metadata.annotations.clone().unwrap_or_default();
    let state = CanaryState::decode(&annotations)?;
    if without_track(changed_template(stable, &state)?) != template {
        return Err(CanaryObjectError::StableChanged { name: stable_name });
    }
    Ok(template)
}

/// `t` without the canary's label (and no label map when none is left).
fn without_track(mut t: PodTemplateSpec) -> PodTemplateSpec {
    let mut labels = labels_of(&t);
    labels.remove(TRACK_LABEL);
    t.metadata.get_or_insert_with(ObjectMeta::default).labels =
        (!labels.is_empty()).then_some(labels);
    t
}

#[cfg(test)]
mod tests;
