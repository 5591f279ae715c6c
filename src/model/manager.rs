//! Who manages a workload besides the people at the console: a Helm release, an Argo CD
//! application or a Flux Kustomization / HelmRelease, read from the labels and annotations
//! each puts on what it applies. A direct change to such a Deployment (a `set model`, an
//! undo, a canary's promotion) is reverted at the manager's next upgrade or sync; the
//! preview says so and names what to do instead. Pure.
//!
//! Read in this order, the most specific first: Flux's helm-controller also installs with
//! Helm (so its objects carry Helm's annotations too, and `helm rollback` would be undone);
//! Argo CD's tracking annotation; then Helm's own. Argo CD's label tracking uses
//! `app.kubernetes.io/instance`, which many Helm charts set as well: that label alone says
//! nothing and is not read (its custom label `argocd.argoproj.io/instance` is).
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub const HELM_MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const HELM_RELEASE_NAME: &str = "meta.helm.sh/release-name";
pub const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";
pub const ARGOCD_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
pub const ARGOCD_INSTANCE_LABEL: &str = "argocd.argoproj.io/instance";
pub const FLUX_KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
pub const FLUX_HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
pub const FLUX_HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    Helm { release: String, namespace: String },
    ArgoCd { app: String },
    FluxKustomization { name: String, namespace: String },
    FluxHelmRelease { name: String, namespace: String },
}

/// The manager of the object with metadata `m`, if its labels or annotations name one.
/// `m`'s own namespace stands in for one they leave out.
pub fn of(m: &ObjectMeta) -> Option<Manager> {
    let label = |k: &str| m.labels.as_ref()?.get(k).filter(|v| !v.is_empty());
    let annotation = |k: &str| m.annotations.as_ref()?.get(k).filter(|v| !v.is_empty());
    let own_ns = || m.namespace.clone().unwrap_or_default();
    if let Some(name) = label(FLUX_HELM_NAME) {
        return Some(Manager::FluxHelmRelease {
            name: name.clone(),
            namespace: label(FLUX_HELM_NAMESPACE).cloned().unwrap_or_else(own_ns),
        });
    }
    if let Some(name) = label(FLUX_KUSTOMIZE_NAME) {
        return Some(Manager::FluxKustomization {
            name: name.clone(),
            namespace: label(FLUX_KUSTOMIZE_NAMESPACE)
                .cloned()
                .unwrap_or_else(own_ns),
        });
    }
    // `APP:group/Kind:namespace/name`; the application is what comes before the first `:`
    if let Some(id) = annotation(ARGOCD_TRACKING_ID)
        && let Some(app) = id.split(':').next().filter(|a| !a.is_empty())
    {
        return Some(Manager::ArgoCd { app: app.into() });
    }
    if let Some(app) = label(ARGOCD_INSTANCE_LABEL) {
        return Some(Manager::ArgoCd { app: app.clone() });
    }
    // `app.kubernetes.io/managed-by: Helm` without the release annotation: a chart rendered
    // by `helm template` and applied by something else, which tractor cannot name
    annotation(HELM_RELEASE_NAME).map(|release| Manager::Helm {
        release: release.clone(),
        namespace: annotation(HELM_RELEASE_NAMESPACE)
            .cloned()
            .unwrap_or_else(own_ns),
    })
}

impl Manager {
    /// One word and the name, for a list's column: `helm:web`, `argocd:ml`, `flux:apps`.
    pub fn short(&self) -> String {
        match self {
            Manager::Helm { release, .. } => format!("helm:{release}"),
            Manager::ArgoCd { app } => format!("argocd:{app}"),
            Manager::FluxKustomization { name, .. } | Manager::FluxHelmRelease { name, .. } => {
                format!("flux:{name}")
            }
        }
    }

    /// Who it is, in words.
    pub fn describe(&self) -> String {
        match self {
            Manager::Helm { release, namespace } => {
                format!("Helm release {release} (namespace {namespace})")
            }
            Manager::ArgoCd { app } => format!("Argo CD application {app}"),
            Manager::FluxKustomization { name, namespace } => {
                format!("Flux Kustomization {namespace}/{name}")
            }
            Manager::FluxHelmRelease { name, namespace } => {
                format!("Flux HelmRelease {namespace}/{name}")
            }
        }
    }

    /// What a write's preview says: the change will not last, and what to do instead.
    pub fn warning(&self) -> String {
        let who = self.describe();
        match self {
            Manager::Helm { release, namespace } => format!(
                "managed by {who}: the next `helm upgrade` puts its own template back; to roll back the release instead: helm history {release} -n {namespace}, then helm rollback {release} REVISION -n {namespace}"
            ),
            Manager::ArgoCd { app } => format!(
                "managed by {who}: with automated sync it reverts a direct change (self-heal) or shows the app OutOfSync; change the app's source in git, or `argocd app rollback {app}`; to act here first, turn automated sync off (`argocd app set {app} --sync-policy none`)"
            ),
            Manager::FluxKustomization { name, namespace } => format!(
                "managed by {who}: its next reconciliation reverts a direct change; change the source in git, or suspend it first: flux suspend kustomization {name} -n {namespace}"
            ),
            Manager::FluxHelmRelease { name, namespace } => format!(
                "managed by {who}: its next reconciliation reverts a direct change (a `helm rollback` too); change its values in git, or suspend it first: flux suspend helmrelease {name} -n {namespace}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ObjectMeta {
            name: Some("web".into()),
            namespace: Some("ml".into()),
            labels: map(labels),
            annotations: map(annotations),
            ..ObjectMeta::default()
        }
    }

    fn helm(r: &str, ns: &str) -> Option<Manager> {
        Some(Manager::Helm {
            release: r.into(),
            namespace: ns.into(),
        })
    }

    #[test]
    fn each_manager_is_read_from_what_it_writes() {
        let release = [(HELM_RELEASE_NAME, "web"), (HELM_RELEASE_NAMESPACE, "apps")];
        let cases: Vec<(&str, ObjectMeta, Option<Manager>)> = vec![
            ("nothing", meta(&[], &[]), None),
            (
                "helm install",
                meta(&[(HELM_MANAGED_BY_LABEL, "Helm")], &release),
                helm("web", "apps"),
            ),
            (
                "release without its namespace: the object's",
                meta(&[], &[(HELM_RELEASE_NAME, "web")]),
                helm("web", "ml"),
            ),
            (
                "a chart's label alone (helm template | kubectl apply)",
                meta(&[(HELM_MANAGED_BY_LABEL, "Helm")], &[]),
                None,
            ),
            (
                "argo cd's instance label is a chart's label too: not read",
                meta(&[("app.kubernetes.io/instance", "web")], &[]),
                None,
            ),
            (
                "argo cd, annotation tracking",
                meta(
                    &[("app.kubernetes.io/instance", "web")],
                    &[(ARGOCD_TRACKING_ID, "ml-prod:apps/Deployment:ml/web")],
                ),
                Some(Manager::ArgoCd {
                    app: "ml-prod".into(),
                }),
            ),
            (
                "argo cd, a tracking id without its application",
                meta(&[], &[(ARGOCD_TRACKING_ID, ":apps/Deployment:ml/web")]),
                None,
            ),
            (
                "argo cd, custom label tracking",
                meta(&[(ARGOCD_INSTANCE_LABEL, "ml-prod")], &[]),
                Some(Manager::ArgoCd {
                    app: "ml-prod".into(),
                }),
            ),
            (
                "argo cd deploying a helm chart (rendered, not installed)",
                meta(
                    &[(HELM_MANAGED_BY_LABEL, "Helm")],
                    &[(ARGOCD_TRACKING_ID, "ml-prod:apps/Deployment:ml/web")],
                ),
                Some(Manager::ArgoCd {
                    app: "ml-prod".into(),
                }),
            ),
            (
                "flux kustomization",
                meta(
                    &[
                        (FLUX_KUSTOMIZE_NAME, "apps"),
                        (FLUX_KUSTOMIZE_NAMESPACE, "flux-system"),
                    ],
                    &[],
                ),
                Some(Manager::FluxKustomization {
                    name: "apps".into(),
                    namespace: "flux-system".into(),
                }),
            ),
            (
                "flux helm-controller installs with helm: flux first",
                meta(
                    &[
                        (HELM_MANAGED_BY_LABEL, "Helm"),
                        (FLUX_HELM_NAME, "web"),
                        (FLUX_HELM_NAMESPACE, "flux-system"),
                    ],
                    &release,
                ),
                Some(Manager::FluxHelmRelease {
                    name: "web".into(),
                    namespace: "flux-system".into(),
                }),
            ),
            (
                "empty values say nothing",
                meta(&[(FLUX_HELM_NAME, "")], &[(HELM_RELEASE_NAME, "")]),
                None,
            ),
        ];
        for (what, m, want) in cases {
            assert_eq!(of(&m), want, "{what}");
        }
    }

    #[test]
    fn the_warning_names_what_to_do_instead() {
        let h = helm("web", "apps").unwrap();
        assert_eq!(h.short(), "helm:web");
        let w = h.warning();
        assert!(
            w.contains("helm rollback web REVISION -n apps") && w.contains("helm history web"),
            "{w}"
        );
        let a = Manager::ArgoCd { app: "ml".into() };
        assert!(
            a.warning().contains("argocd app rollback ml"),
            "{}",
            a.warning()
        );
        let k = Manager::FluxKustomization {
            name: "apps".into(),
            namespace: "flux-system".into(),
        };
        assert!(
            k.warning()
                .contains("flux suspend kustomization apps -n flux-system"),
            "{}",
            k.warning()
        );
        let r = Manager::FluxHelmRelease {
            name: "web".into(),
            namespace: "flux-system".into(),
        };
        assert!(
            r.warning().contains("flux suspend helmrelease web"),
            "{}",
            r.warning()
        );
        assert_eq!(r.short(), "flux:web");
    }
}
