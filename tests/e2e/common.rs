//! What the end-to-end tests share: the shipped classifier manifest, a runner, and
//! the console's view of a deployment's rollout and history.
use crate::support;
use std::path::Path;
use std::time::Duration;

use support::cluster::eventually;
use support::console::Console;
use tractor::action::{Action, Target};
use tractor::audit::AuditLog;
use tractor::event::EffectResult;
use tractor::k8s::runner::Runner;
use tractor::model::deployment::{RolloutState, model_version, rollout_status};
use tractor::model::{CHANGE_CAUSE_ANNOTATION, annotation, revision};
use tractor::state::rows;

pub const MANIFEST: &str = include_str!("classifier.yaml");
pub const T: Duration = Duration::from_secs(60);
/// A console config that scrapes by pod IP (the API server does not proxy to loopback
/// pods) once a second, for the canary's windows.
pub const POD_IP_SCRAPE: &str =
    "[scrape]\nvia = \"pod-ip\"\ninterval_ms = 1000\ntimeout_ms = 1000\n";

pub fn target(ns: &str) -> Target {
    Target {
        namespace: ns.into(),
        name: "classifier".into(),
    }
}

pub fn runner(client: kube::Client, audit: &Path) -> Runner {
    Runner {
        client,
        context: "e2e".into(),
        user: "e2e".into(),
        audit: AuditLog::new(audit),
        read_only: false,
        container: None,
        observe_timeout: Duration::from_secs(10),
        kubeconfig: None,
    }
}

/// The classifier's manifest with kwok's CPU usage annotation (`150m`) on its pods, added to
/// the template's one annotations map: a second `annotations:` key would replace the first.
pub fn manifest_with_cpu(usage: &str) -> String {
    let at = "annotations: {prometheus.io/scrape";
    assert_eq!(MANIFEST.matches(at).count(), 1, "{MANIFEST}");
    MANIFEST.replace(
        at,
        &format!("annotations: {{kwok.x-k8s.io/usage-cpu: {usage}, prometheus.io/scrape"),
    )
}

/// `set model v2` on the classifier, previewed then written; it must make revision 2.
pub async fn set_model_v2(r: &Runner, ns: &str) {
    let res = act(
        r,
        &target(ns),
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
    )
    .await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(2),
                ..
            }
        ),
        "{res:?}"
    );
}

/// Preview then write, as the TUI does after `y`.
pub async fn act(r: &Runner, t: &Target, a: Action) -> EffectResult {
    let resolved = match r.prepare(t, a).await {
        EffectResult::Prepared { action, .. } => action,
        other => return other,
    };
    r.execute(t, resolved).await
}

/// (revision, model version, change-cause) of each ReplicaSet, oldest first, as the console shows them.
pub fn history(c: &Console, ns: &str) -> Vec<(i64, String, String)> {
    c.with(|s| {
        let Some(d) = rows::detail(s, &(ns.to_string(), "classifier".to_string())) else {
            return vec![];
        };
        let mut v: Vec<_> = d
            .revisions
            .iter()
            .map(|rs| {
                (
                    revision(&rs.metadata).unwrap_or(0),
                    model_version(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
                        .unwrap_or("-")
                        .to_string(),
                    annotation(&rs.metadata, CHANGE_CAUSE_ANNOTATION)
                        .unwrap_or("-")
                        .to_string(),
                )
            })
            .collect();
        v.reverse();
        v
    })
}

/// The deployment's (state, revision, model version) in the console.
pub fn rollout(c: &Console, ns: &str) -> Option<(RolloutState, i64, String)> {
    c.with(|s| {
        let d = s
            .cluster
            .deployments
            .get(&(ns.to_string(), "classifier".to_string()))?;
        Some((
            rollout_status(d).state,
            revision(&d.metadata).unwrap_or(0),
            model_version(d.spec.as_ref().map(|s| &s.template))
                .unwrap_or("-")
                .to_string(),
        ))
    })
}

pub async fn wait_complete(c: &Console, ns: &str, rev: i64, version: &str) {
    eventually(
        T,
        &format!("rollout of revision {rev} ({version}) complete in the console"),
        || {
            (rollout(c, ns) == Some((RolloutState::Complete, rev, version.to_string())))
                .then_some(())
        },
    )
    .await;
}
